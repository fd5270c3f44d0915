//! Functions and procedures, triggers, and row-level security policies.

use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use super::{Builder, USER_NAMESPACE, fetch, fetch_scoped, get, not_extension_or_internal};
use crate::core::schema::{
    Function, FunctionKey, FunctionKind, Policy, PolicyCommand, Trigger, TriggerKey,
};

pub(super) async fn load_functions(conn: &mut PgConnection, b: &mut Builder) -> anyhow::Result<()> {
    if !b.present.functions {
        return Ok(());
    }
    let sql = format!(
        "-- functions: plain, window functions and procedures in user schemas (not aggregates)
        SELECT p.oid::int8 AS oid, n.nspname::text AS schema, p.proname::text AS name,
               pg_get_function_identity_arguments(p.oid) AS identity_args,
               p.prokind::text AS kind, pg_get_functiondef(p.oid) AS definition,
               pg_get_function_arguments(p.oid) AS arguments,
               CASE WHEN p.prokind <> 'p' THEN pg_get_function_result(p.oid) END AS result,
               l.lanname::text AS language, d.description AS comment
        FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        JOIN pg_language l ON l.oid = p.prolang
        LEFT JOIN pg_description d
          ON d.classoid = 'pg_proc'::regclass AND d.objoid = p.oid AND d.objsubid = 0
        WHERE p.prokind IN ('f', 'p', 'w') AND {USER_NAMESPACE} AND {}",
        not_extension_or_internal("pg_proc", "p.oid")
    );
    for row in fetch(conn, "functions", sql).await? {
        let function = function(&row)?;
        b.functions.insert(get(&row, "oid")?, function.key.clone());
        b.schema.functions.insert(function.key.clone(), function);
    }
    Ok(())
}

fn function(row: &PgRow) -> anyhow::Result<Function> {
    let key = FunctionKey::new(
        get::<String>(row, "schema")?,
        get::<String>(row, "name")?,
        get::<String>(row, "identity_args")?,
    );
    let kind = match get::<String>(row, "kind")?.as_str() {
        "p" => FunctionKind::Procedure,
        "w" => FunctionKind::Window,
        _ => FunctionKind::Function,
    };
    Ok(Function {
        key,
        kind,
        definition: get(row, "definition")?,
        arguments: get(row, "arguments")?,
        return_type: get(row, "result")?,
        language: get(row, "language")?,
        comment: get(row, "comment")?,
        depends_on: Vec::new(),
    })
}

pub(super) async fn load_triggers(conn: &mut PgConnection, b: &mut Builder) -> anyhow::Result<()> {
    if !b.present.triggers {
        return Ok(());
    }
    let sql = format!(
        "-- triggers: user triggers on user tables and views (not internal, not partition clones)
        SELECT t.tgrelid::int8 AS relid, t.tgname::text AS name,
               pg_get_triggerdef(t.oid, false) AS definition,
               fn.nspname::text AS function_schema, f.proname::text AS function_name,
               pg_get_function_identity_arguments(f.oid) AS function_args,
               t.tgenabled::text AS enabled, t.tgconstraint <> 0 AS is_constraint,
               d.description AS comment
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_proc f ON f.oid = t.tgfoid
        JOIN pg_namespace fn ON fn.oid = f.pronamespace
        LEFT JOIN pg_description d
          ON d.classoid = 'pg_trigger'::regclass AND d.objoid = t.oid AND d.objsubid = 0
        WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND {USER_NAMESPACE} AND {scope}",
        scope = b.in_scope("t.tgrelid"),
    );
    for row in fetch_scoped(conn, b, "triggers", sql).await? {
        let relid: i64 = get(&row, "relid")?;
        let Some(table) = b.tables.get(&relid).or_else(|| b.views.get(&relid)) else {
            continue;
        };
        let trigger = Trigger {
            table: table.clone(),
            name: get(&row, "name")?,
            definition: get(&row, "definition")?,
            function: FunctionKey::new(
                get::<String>(&row, "function_schema")?,
                get::<String>(&row, "function_name")?,
                get::<String>(&row, "function_args")?,
            ),
            enabled: get(&row, "enabled")?,
            constraint: get(&row, "is_constraint")?,
            comment: get(&row, "comment")?,
        };
        let key = TriggerKey {
            table: trigger.table.clone(),
            name: trigger.name.clone(),
        };
        b.schema.triggers.insert(key, trigger);
    }
    Ok(())
}

pub(super) async fn load_policies(conn: &mut PgConnection, b: &mut Builder) -> anyhow::Result<()> {
    if !b.present.policies {
        return Ok(());
    }
    let sql = format!(
        "-- policies: row-level security policies on user tables, roles by name
        SELECT p.polrelid::int8 AS relid, p.polname::text AS name,
               p.polpermissive AS permissive, p.polcmd::text AS command,
               ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END
                     FROM unnest(p.polroles) r ORDER BY 1) AS roles,
               pg_get_expr(p.polqual, p.polrelid) AS using_expr,
               pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr,
               d.description AS comment
        FROM pg_policy p
        JOIN pg_class c ON c.oid = p.polrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_description d
          ON d.classoid = 'pg_policy'::regclass AND d.objoid = p.oid AND d.objsubid = 0
        WHERE {USER_NAMESPACE} AND {scope}",
        scope = b.in_scope("p.polrelid"),
    );
    for row in fetch_scoped(conn, b, "policies", sql).await? {
        let relid: i64 = get(&row, "relid")?;
        let Some(table) = b.tables.get(&relid) else {
            continue;
        };
        let policy = Policy {
            name: get(&row, "name")?,
            permissive: get(&row, "permissive")?,
            command: match get::<String>(&row, "command")?.as_str() {
                "r" => PolicyCommand::Select,
                "a" => PolicyCommand::Insert,
                "w" => PolicyCommand::Update,
                "d" => PolicyCommand::Delete,
                _ => PolicyCommand::All,
            },
            roles: get(&row, "roles")?,
            using: get(&row, "using_expr")?,
            with_check: get(&row, "check_expr")?,
            comment: get(&row, "comment")?,
        };
        let table = b.schema.tables.get_mut(table).expect("BUG: table map");
        table.policies.insert(policy.name.clone(), policy);
    }
    Ok(())
}
