//! Introspection of a database holding every object kind the engine models (plus some it
//! does not): what comes back, field by field where the diff relies on it.

mod common;
mod diff_support;
mod engine_common;

use std::fmt::Write as _;

use common::TestDb;
use engine_common::{assert_same_schema, introspect_db};
use migrated::core::schema::{
    ConstraintKind, FkAction, FkMatch, FunctionKey, FunctionKind, IdentityGeneration, ObjectRef,
    PolicyCommand, QualifiedName, Schema, TriggerKey,
};

const RICH: &str = include_str!("fixtures/engine/rich.sql");
const UNSUPPORTED: &str = include_str!("fixtures/engine/unsupported.sql");

fn app(name: &str) -> QualifiedName {
    QualifiedName::new("app", name)
}

/// The objects introspection reports as unsupported, by kind and name.
fn unsupported_kinds_and_names(s: &Schema) -> Vec<(&str, &str)> {
    s.unsupported
        .iter()
        .map(|u| (u.kind.as_str(), u.name.as_str()))
        .collect()
}

async fn rich_schema() -> (TestDb, Schema) {
    let db = TestDb::new("engintro").await;
    db.exec(RICH).await;
    db.exec(UNSUPPORTED).await;
    let schema = introspect_db(&db).await;
    (db, schema)
}

#[tokio::test]
async fn introspect_rich_schema_reads_every_kind() {
    let (_db, s) = rich_schema().await;
    assert_eq!(
        s.schemas.keys().collect::<Vec<_>>(),
        ["Other Schema", "app", "public"]
    );
    assert_eq!(
        s.schemas["app"].comment.as_deref(),
        Some("application objects")
    );
    assert!(s.extensions.contains_key("pg_trgm") && s.extensions.contains_key("btree_gist"));
    assert_eq!(s.extensions["pg_trgm"].schema, "public");
    assert_eq!(s.enums[&app("mood")].values, ["sad", "ok", "happy"]);
    assert_eq!(
        s.enums[&app("mood")].comment.as_deref(),
        Some("how it feels")
    );

    let posint = &s.domains[&app("posint")];
    assert_eq!(posint.base_type, "integer");
    assert_eq!(posint.default.as_deref(), Some("1"));
    assert!(posint.not_null);
    let checks: Vec<_> = posint
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.validated))
        .collect();
    assert_eq!(checks, [("posint_check", true), ("posint_small", false)]);
    assert_eq!(
        s.domains[&app("short_text")].collation,
        Some(QualifiedName::new("pg_catalog", "C"))
    );

    let addr = &s.composites[&app("addr")];
    let attributes: Vec<_> = addr
        .attributes
        .iter()
        .map(|a| (a.name.as_str(), a.data_type.as_str()))
        .collect();
    assert_eq!(
        attributes,
        [
            ("street", "text"),
            ("zip", "character varying(10)"),
            ("tags", "text[]")
        ]
    );
    assert_eq!(addr.attributes[1].comment.as_deref(), Some("postal code"));

    let counter = &s.sequences[&app("counter")];
    assert_eq!(
        (
            counter.options.data_type.as_str(),
            counter.options.start,
            counter.options.increment
        ),
        ("integer", 10, 5)
    );
    assert!(counter.options.cycle && counter.owned_by.is_none());
    assert_eq!(
        s.sequences[&app("orders_id_seq")].owned_by,
        Some((app("orders"), "id".to_owned()))
    );
    assert!(
        !s.sequences.contains_key(&app("users_id_seq")),
        "identity sequences live on the column"
    );
}

#[tokio::test]
async fn introspect_rich_schema_reads_columns() {
    let (_db, s) = rich_schema().await;
    let users = &s.tables[&app("users")];
    let id = users.column("id").unwrap();
    let identity = id.identity.as_ref().unwrap();
    assert_eq!(identity.generation, IdentityGeneration::Always);
    assert_eq!(
        (identity.options.start, identity.options.increment),
        (100, 2)
    );
    assert_eq!(identity.sequence, app("users_id_seq"));
    assert_eq!(
        users.column("email").unwrap().data_type,
        "character varying(255)"
    );
    assert_eq!(
        users.column("email").unwrap().comment.as_deref(),
        Some("login")
    );
    assert_eq!(
        users.column("name").unwrap().collation,
        Some(QualifiedName::new("pg_catalog", "C"))
    );
    assert_eq!(
        users.column("mood").unwrap().default.as_deref(),
        Some("'ok'::app.mood")
    );
    assert_eq!(users.column("scores").unwrap().data_type, "integer[]");
    assert_eq!(
        users.column("price2").unwrap().generated.as_deref(),
        Some("(price * (2)::numeric)")
    );
    assert_eq!(
        users.column("created_at").unwrap().data_type,
        "timestamp(3) with time zone"
    );
    assert_eq!(
        users.column("span").unwrap().data_type,
        "interval day to second(2)"
    );
    assert_eq!(users.comment.as_deref(), Some("people"));
    assert!(users.rls_enabled && users.rls_forced);
    for kind in [
        ObjectRef::Type(app("mood")),
        ObjectRef::Type(app("posint")),
        ObjectRef::Type(app("addr")),
    ] {
        assert!(
            users.depends_on.contains(&kind),
            "users should depend on {kind:?}"
        );
    }
    let mixed = &s.tables[&QualifiedName::new("Other Schema", "Mixed Case")];
    assert!(mixed.unlogged);
    assert_eq!(
        mixed
            .column("Id")
            .unwrap()
            .identity
            .as_ref()
            .unwrap()
            .generation,
        IdentityGeneration::ByDefault
    );
    assert_eq!(s.tables[&app("orders")].options, ["fillfactor=70"]);
}

#[tokio::test]
async fn introspect_rich_schema_reads_constraints_and_indexes() {
    let (_db, s) = rich_schema().await;
    let users = &s.tables[&app("users")];
    let email = &users.constraints["users_email_key"];
    assert_eq!(email.kind, ConstraintKind::Unique);
    assert!(email.nulls_not_distinct);
    assert_eq!(email.index.as_deref(), Some("users_email_key"));
    assert_eq!(email.comment.as_deref(), Some("one account per address"));
    assert!(users.constraints["users_name_check"].no_inherit);
    assert_eq!(users.primary_key().unwrap().columns, ["id"]);

    let orders = &s.tables[&app("orders")];
    let fk = &orders.constraints["orders_user_fk"];
    let target = fk.foreign_key.as_ref().unwrap();
    assert_eq!(
        (target.table.clone(), target.columns.clone()),
        (app("users"), vec!["id".to_owned()])
    );
    assert_eq!(
        (target.on_delete, target.on_update),
        (FkAction::Cascade, FkAction::SetNull)
    );
    assert!(fk.deferrable && fk.initially_deferred);
    let self_fk = &orders.constraints["orders_self_fk"];
    assert!(!self_fk.validated);
    assert_eq!(
        self_fk.foreign_key.as_ref().unwrap().match_type,
        FkMatch::Full
    );
    let exclusion = &orders.constraints["orders_no_overlap"];
    assert_eq!(exclusion.kind, ConstraintKind::Exclusion);
    assert_eq!(
        exclusion.definition,
        "EXCLUDE USING gist (room WITH =, period WITH &&)"
    );

    let lower = &users.indexes["users_lower_email_idx"];
    assert_eq!(lower.keys.len(), 1);
    let key = &lower.keys[0];
    assert!(!key.is_column && key.descending && !key.nulls_first);
    assert_eq!(key.expression, "lower(email::text)");
    assert_eq!(key.opclass.as_deref(), Some("text_pattern_ops"));
    assert_eq!(lower.include, ["name"]);
    assert_eq!(lower.predicate.as_deref(), Some("(email IS NOT NULL)"));
    assert_eq!(users.indexes["users_data_gin"].method, "gin");
    assert_eq!(
        users.indexes["users_data_gin"].comment.as_deref(),
        Some("json lookups")
    );
    assert_eq!(
        users.indexes["users_name_trgm"].keys[0].opclass.as_deref(),
        Some("public.gin_trgm_ops")
    );
    assert_eq!(
        users.indexes["users_pkey"].constraint.as_deref(),
        Some("users_pkey")
    );
}

#[tokio::test]
async fn introspect_rich_schema_reads_partitions_and_inheritance() {
    let (_db, s) = rich_schema().await;
    assert_eq!(
        s.tables[&app("events")].partition_key.as_deref(),
        Some("RANGE (created_at)")
    );
    let old = &s.tables[&app("events_old")];
    let partition = old.partition_of.as_ref().unwrap();
    assert_eq!(partition.parent, app("events"));
    assert_eq!(
        partition.bound,
        "FOR VALUES FROM (MINVALUE) TO ('2026-01-01')"
    );
    assert_eq!(
        old.indexes["events_old_kind_idx"].parent_index,
        Some(app("events_kind_idx"))
    );
    assert!(old.constraints["events_kind_check"].inherited);
    assert_eq!(
        s.tables[&app("events_default")]
            .partition_of
            .as_ref()
            .unwrap()
            .bound,
        "DEFAULT"
    );
    let child = &s.tables[&app("child")];
    assert_eq!(child.inherits, [app("base")]);
    let note = child.column("note").unwrap();
    assert!(note.is_local && note.inherited);
}

#[tokio::test]
async fn introspect_rich_schema_reads_views_functions_triggers_policies() {
    let (_db, s) = rich_schema().await;
    let active = &s.views[&app("active_users")];
    assert!(!active.materialized);
    assert!(
        active.definition.contains("FROM app.users"),
        "{}",
        active.definition
    );
    assert_eq!(active.column_comments["email"], "their email");
    assert!(active.depends_on.contains(&ObjectRef::Table(app("users"))));
    assert_eq!(
        s.views[&app("active_emails")].options,
        ["security_barrier=true"]
    );
    assert_eq!(
        s.views[&app("active_emails")].depends_on,
        [ObjectRef::View(app("active_users"))]
    );
    assert!(
        s.views[&app("user_orders")]
            .depends_on
            .contains(&ObjectRef::Constraint(app("users"), "users_pkey".into()))
    );
    let counts = &s.views[&app("order_counts")];
    assert!(counts.materialized);
    assert!(counts.indexes.contains_key("order_counts_user"));

    let add = &s.functions[&FunctionKey::new("app", "add", "a integer, b integer")];
    assert_eq!(add.arguments, "a integer, b integer DEFAULT 1");
    assert_eq!(add.return_type.as_deref(), Some("integer"));
    assert_eq!(add.language, "sql");
    assert!(
        add.definition
            .starts_with("CREATE OR REPLACE FUNCTION app.add")
    );
    let noop = &s.functions[&FunctionKey::new("app", "noop", "IN x text")];
    assert_eq!(noop.kind, FunctionKind::Procedure);
    assert_eq!(
        s.functions[&FunctionKey::new("app", "touch", "")]
            .comment
            .as_deref(),
        Some("sets updated_at")
    );
    assert!(
        !s.functions.keys().any(|k| k.name.starts_with("float_")),
        "a range type's constructors are internal"
    );

    let trigger = &s.triggers[&TriggerKey {
        table: app("users"),
        name: "users_touch".into(),
    }];
    assert_eq!(trigger.function, FunctionKey::new("app", "touch", ""));
    assert_eq!(trigger.enabled, "O");
    assert_eq!(trigger.comment.as_deref(), Some("keeps updated_at"));
    assert!(
        trigger
            .definition
            .starts_with("CREATE TRIGGER users_touch BEFORE UPDATE ON app.users")
    );

    let users = &s.tables[&app("users")];
    let own = &users.policies["users_self"];
    assert!(own.permissive);
    assert_eq!(own.command, PolicyCommand::Select);
    assert_eq!(own.roles, ["public"]);
    assert_eq!(own.comment.as_deref(), Some("see yourself"));
    let insert = &users.policies["users_insert"];
    assert!(!insert.permissive);
    assert!(insert.with_check.is_some() && insert.using.is_none());
}

#[tokio::test]
async fn introspect_lists_unsupported_objects_and_skips_tool_tables() {
    let (_db, s) = rich_schema().await;
    let unsupported = unsupported_kinds_and_names(&s);
    assert_eq!(
        unsupported,
        [
            ("aggregate", "app.total(integer)"),
            ("collation", "app.german"),
            ("range type", "app.float_range"),
            ("rule", "orders_no_delete ON app.base"),
            ("statistics", "app.users_stats"),
        ]
    );
    for name in ["_sqlx_migrations", "migrated_events", "_migrated_state"] {
        assert!(
            !s.tables.contains_key(&QualifiedName::new("public", name)),
            "{name} is the tool's"
        );
    }
    assert!(
        s.sequences
            .keys()
            .all(|k| k.name != "migrated_events_id_seq")
    );
    // Extension members (pg_trgm's functions) are not the user's objects.
    assert!(!s.functions.keys().any(|k| k.name == "similarity"));
}

#[tokio::test]
async fn introspect_reports_every_unsupported_kind_and_none_without_them() {
    let db = TestDb::new("engintro_unsup").await;
    db.exec("CREATE TABLE plain (id bigint PRIMARY KEY); CREATE VIEW v AS SELECT id FROM plain")
        .await;
    assert_eq!(introspect_db(&db).await.unsupported, []);
    db.exec(include_str!("fixtures/engine/unsupported_all.sql"))
        .await;
    let s = introspect_db(&db).await;
    let unsupported = unsupported_kinds_and_names(&s);
    assert_eq!(
        unsupported,
        [
            ("aggregate", "app.total(integer)"),
            ("base type", "app.word"),
            ("cast", "(app.pair AS integer)"),
            ("collation", "app.c_copy"),
            ("event trigger", "app_ddl"),
            ("foreign data wrapper", "app_fdw"),
            ("foreign server", "app_server"),
            ("foreign table", "app.remote"),
            ("language", "app_lang"),
            ("operator", "app.===(integer, integer)"),
            ("operator class", "app.int4_hash"),
            ("operator family", "app.fam"),
            ("pseudo type", "app.shell"),
            ("publication", "app_pub"),
            ("range type", "app.float_range"),
            ("rule", "base_no_delete ON app.base"),
            ("statistics", "app.base_stats"),
            ("text search configuration", "app.cfg"),
            ("text search dictionary", "app.dict"),
            ("typed table", "app.pairs"),
        ]
    );
}

#[tokio::test]
async fn introspect_restores_the_session_search_path() {
    let db = TestDb::new("engintro_path").await;
    let mut conn = db.conn().await;
    sqlx::query("SET search_path = app, public")
        .execute(&mut conn)
        .await
        .unwrap();
    migrated::db::introspect::introspect(&mut conn)
        .await
        .unwrap();
    let path: String = sqlx::query_scalar("SELECT current_setting('search_path')")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(path, "app, public");
}

#[tokio::test]
async fn rich_schema_snapshot_survives_the_schema_cache_format() {
    let (db, schema) = rich_schema().await;
    let mut conn = db.conn().await;
    let snapshot = migrated::db::snapshot::take(&mut conn).await.unwrap();
    assert_same_schema(&snapshot.schema, &schema, "snapshot");
    assert!(!schema.tables.is_empty() && !schema.functions.is_empty());
    let bytes = migrated::shadow::cache::encode(&snapshot).unwrap();
    let back = migrated::shadow::cache::decode(&bytes).unwrap();
    assert_same_schema(&back.schema, &schema, "decoded cache entry");
    assert_eq!(back, snapshot);
    // Nothing changed: the incremental read re-reads no table or view and gives the same.
    let (again, read) = migrated::db::snapshot::since(&mut conn, &back)
        .await
        .unwrap();
    assert_eq!(read, migrated::db::snapshot::Read::Relations(0));
    assert_same_schema(&again.schema, &schema, "incremental read");
}

/// Changes that keep every object's oid (comments rewritten, a referenced column renamed, a
/// trigger disabled, index options set, a constraint validated, an identity altered) are seen
/// by the incremental read, which re-reads only the tables they touch (plus the foreign key's
/// holder, whose definition names the renamed column) and gives what a full read gives.
#[tokio::test]
async fn incremental_read_sees_changes_that_keep_oids() {
    let (db, _) = rich_schema().await;
    let mut conn = db.conn().await;
    let base = migrated::db::snapshot::take(&mut conn).await.unwrap();
    db.exec(
        "COMMENT ON COLUMN app.users.email IS 'sign-in address';
         COMMENT ON CONSTRAINT users_email_key ON app.users IS 'one per address';
         COMMENT ON POLICY users_self ON app.users IS 'yourself only';
         ALTER TABLE app.users RENAME COLUMN id TO user_id;
         ALTER TABLE app.users DISABLE TRIGGER users_touch;
         ALTER INDEX app.users_data_gin SET (fastupdate = off);
         ALTER TABLE app.users VALIDATE CONSTRAINT users_score_check;
         ALTER TABLE app.users ALTER COLUMN user_id SET INCREMENT BY 3;",
    )
    .await;
    let (now, read) = migrated::db::snapshot::since(&mut conn, &base)
        .await
        .unwrap();
    let full = introspect_db(&db).await;
    assert_same_schema(
        &now.schema,
        &full,
        "incremental read after in-place changes",
    );
    // users; orders (its foreign key names users' renamed key column); the views over
    // either, whose definitions render the renamed column (active_users, user_orders,
    // order_counts). Not the views over those views: their own columns did not change.
    assert_eq!(read, migrated::db::snapshot::Read::Relations(5));
    let fk = &now.schema.tables[&app("orders")].constraints["orders_user_fk"];
    assert!(
        fk.definition.contains("REFERENCES app.users(user_id)"),
        "the foreign key renders the renamed column: {}",
        fk.definition
    );
}

/// A snapshot taken by a transaction that has written cannot tell that transaction's later
/// writes from its earlier ones (they share its id): an incremental read in the same
/// transaction reads everything, and still sees a second change to the same catalog row.
#[tokio::test]
async fn incremental_read_within_the_writing_transaction_reads_everything() {
    let (db, _) = rich_schema().await;
    let mut conn = db.conn().await;
    diff_support::exec(&mut conn, "BEGIN").await.unwrap();
    diff_support::exec(&mut conn, "COMMENT ON TABLE app.users IS 'first'")
        .await
        .unwrap();
    let base = migrated::db::snapshot::take(&mut conn).await.unwrap();
    diff_support::exec(&mut conn, "COMMENT ON TABLE app.users IS 'second'")
        .await
        .unwrap();
    let (now, read) = migrated::db::snapshot::since(&mut conn, &base)
        .await
        .unwrap();
    assert_eq!(read, migrated::db::snapshot::Read::Full);
    assert_eq!(
        now.schema.tables[&app("users")].comment.as_deref(),
        Some("second")
    );
    diff_support::exec(&mut conn, "ROLLBACK").await.unwrap();
    // After the rollback the snapshot's own writes are gone: read incrementally, the table
    // that held them is read again (with the two views over it) and the comment is back to
    // the committed one.
    let (after, read) = migrated::db::snapshot::since(&mut conn, &base)
        .await
        .unwrap();
    assert_eq!(read, migrated::db::snapshot::Read::Relations(3));
    assert_eq!(
        after.schema.tables[&app("users")].comment.as_deref(),
        Some("people")
    );
}

/// When most tables and views changed, the incremental read reads everything, and gives what
/// a full read gives.
#[tokio::test]
async fn incremental_read_of_mostly_changed_tables_reads_everything() {
    let db = TestDb::new("engintro_most").await;
    let statements = |count: usize, each: &str| -> String {
        let mut sql = String::new();
        for i in 0..count {
            let _ = writeln!(sql, "{};", each.replace("{i}", &i.to_string()));
        }
        sql
    };
    db.exec(&statements(20, "CREATE TABLE t{i} (id bigint PRIMARY KEY)"))
        .await;
    let mut conn = db.conn().await;
    let base = migrated::db::snapshot::take(&mut conn).await.unwrap();
    db.exec(&statements(15, "ALTER TABLE t{i} ADD COLUMN note text"))
        .await;
    let (now, read) = migrated::db::snapshot::since(&mut conn, &base)
        .await
        .unwrap();
    assert_eq!(read, migrated::db::snapshot::Read::Full);
    assert_same_schema(&now.schema, &introspect_db(&db).await, "mostly changed");
    // The names and digests it kept are this state's: nothing changed since.
    let (again, read) = migrated::db::snapshot::since(&mut conn, &now)
        .await
        .unwrap();
    assert_eq!(read, migrated::db::snapshot::Read::Relations(0));
    assert_eq!(again, now);
}

/// An enum value renamed writes no row of the tables and views that use it, yet changes how
/// their defaults and definitions render: the incremental read sees it as a rename and reads
/// everything.
#[tokio::test]
async fn incremental_read_sees_an_enum_value_renamed() {
    let (db, _) = rich_schema().await;
    let mut conn = db.conn().await;
    let base = migrated::db::snapshot::take(&mut conn).await.unwrap();
    db.exec("ALTER TYPE app.mood RENAME VALUE 'ok' TO 'fine'")
        .await;
    let (now, read) = migrated::db::snapshot::since(&mut conn, &base)
        .await
        .unwrap();
    assert_eq!(read, migrated::db::snapshot::Read::Full);
    let full = introspect_db(&db).await;
    assert_same_schema(
        &now.schema,
        &full,
        "incremental read after an enum value rename",
    );
    let mood = now.schema.tables[&app("users")].column("mood").unwrap();
    assert_eq!(mood.default.as_deref(), Some("'fine'::app.mood"));
}
