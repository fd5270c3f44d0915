//! Objects of kinds the model does not describe, by kind, name and the server's own
//! rendering where one exists, so that a difference in them is reported, never ignored.

use sqlx::PgConnection;

use super::{Builder, USER_NAMESPACE, fetch, get, not_extension_member, not_extension_or_internal};
use crate::core::schema::UnsupportedObject;

/// One branch per kind of the unsupported objects' query: a cheap test whether the database
/// may hold an object the branch reports (a superset of the branch's own condition, see
/// `present`), and the branch, whose `{name}` placeholders `load_unsupported` fills in.
/// Planning the whole union cost a new session 8 ms (10 cold; the partial read of 100 tables
/// took 30), and most schemas have none of these objects: a branch runs only where its test
/// holds.
pub(super) const BRANCHES: [(&str, &str); 17] = [
    (
        "EXISTS (SELECT FROM pg_rewrite r WHERE r.ev_class >= 16384 AND r.rulename <> '_RETURN')",
        "SELECT 'rule', format('%s ON %s.%s', r.rulename, n.nspname, c.relname),
               pg_get_ruledef(r.oid), pg_get_ruledef(r.oid)
        FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE r.rulename <> '_RETURN' AND {ns} AND {rule_ext}",
    ),
    (
        "EXISTS (SELECT FROM pg_aggregate a WHERE a.aggfnoid >= 16384)",
        "SELECT 'aggregate', format('%s.%s(%s)', n.nspname, p.proname,
                                   pg_get_function_identity_arguments(p.oid)),
               format('sfunc=%s stype=%s finalfunc=%s initcond=%s', a.aggtransfn,
                      format_type(a.aggtranstype, NULL), a.aggfinalfn, a.agginitval),
               CASE WHEN a.aggkind = 'n' AND a.aggcombinefn = 0 AND a.aggserialfn = 0
                         AND a.aggmtransfn = 0 AND a.aggsortop = 0 AND NOT a.aggfinalextra
                         AND a.aggtransspace = 0 THEN
                 format('CREATE AGGREGATE %s.%s(%s) (SFUNC = %s, STYPE = %s%s%s)',
                        quote_ident(n.nspname), quote_ident(p.proname),
                        pg_get_function_identity_arguments(p.oid), a.aggtransfn::regproc,
                        format_type(a.aggtranstype, NULL),
                        CASE WHEN a.aggfinalfn <> 0 THEN ', FINALFUNC = ' || a.aggfinalfn::regproc END,
                        CASE WHEN a.agginitval IS NOT NULL THEN ', INITCOND = ' || quote_literal(a.agginitval) END)
               END
        FROM pg_proc p JOIN pg_aggregate a ON a.aggfnoid = p.oid
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE {ns} AND {proc_ext}",
    ),
    (
        "EXISTS (SELECT FROM pg_operator o WHERE o.oid >= 16384)",
        "SELECT 'operator', format('%s.%s(%s, %s)', n.nspname, o.oprname,
                                  format_type(o.oprleft, NULL), format_type(o.oprright, NULL)),
               format('function=%s', o.oprcode),
               format('CREATE OPERATOR %s.%s (FUNCTION = %s%s%s%s%s%s%s%s%s)',
                      quote_ident(n.nspname), o.oprname, o.oprcode::regproc,
                      CASE WHEN o.oprleft <> 0 THEN ', LEFTARG = ' || format_type(o.oprleft, NULL) END,
                      CASE WHEN o.oprright <> 0 THEN ', RIGHTARG = ' || format_type(o.oprright, NULL) END,
                      (SELECT format(', COMMUTATOR = OPERATOR(%s.%s)', quote_ident(cn.nspname), c.oprname)
                       FROM pg_operator c JOIN pg_namespace cn ON cn.oid = c.oprnamespace
                       WHERE c.oid = o.oprcom),
                      (SELECT format(', NEGATOR = OPERATOR(%s.%s)', quote_ident(cn.nspname), c.oprname)
                       FROM pg_operator c JOIN pg_namespace cn ON cn.oid = c.oprnamespace
                       WHERE c.oid = o.oprnegate),
                      CASE WHEN o.oprrest <> 0 THEN ', RESTRICT = ' || o.oprrest::regproc END,
                      CASE WHEN o.oprjoin <> 0 THEN ', JOIN = ' || o.oprjoin::regproc END,
                      CASE WHEN o.oprcanhash THEN ', HASHES' END,
                      CASE WHEN o.oprcanmerge THEN ', MERGES' END)
        FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
        WHERE {ns} AND {op_ext}",
    ),
    (
        "EXISTS (SELECT FROM pg_cast k WHERE k.oid >= 16384)",
        "SELECT 'cast', format('(%s AS %s)', format_type(k.castsource, NULL),
                              format_type(k.casttarget, NULL)),
               format('function=%s context=%s method=%s', k.castfunc::regprocedure,
                      k.castcontext, k.castmethod), NULL
        FROM pg_cast k WHERE k.oid >= 16384 AND {cast_ext}",
    ),
    (
        "EXISTS (SELECT FROM pg_class c WHERE c.oid >= 16384 AND (c.relkind = 'f' OR c.reloftype <> 0))",
        "SELECT CASE c.relkind WHEN 'f' THEN 'foreign table' ELSE 'typed table' END,
               format('%s.%s', n.nspname, c.relname),
               coalesce(array_to_string(ft.ftoptions, ','), format_type(c.reloftype, NULL)), NULL
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
        WHERE (c.relkind = 'f' OR c.reloftype <> 0) AND {ns} AND {class_ext}",
    ),
    (
        "EXISTS (SELECT FROM pg_foreign_server s)",
        "SELECT 'foreign server', s.srvname::text, coalesce(array_to_string(s.srvoptions, ','), ''), NULL
        FROM pg_foreign_server s WHERE {srv_ext}",
    ),
    (
        "EXISTS (SELECT FROM pg_foreign_data_wrapper w)",
        "SELECT 'foreign data wrapper', w.fdwname::text, '', NULL
        FROM pg_foreign_data_wrapper w WHERE {fdw_ext}",
    ),
    (
        "EXISTS (SELECT FROM pg_publication p)",
        "SELECT 'publication', p.pubname::text,
               format('all_tables=%s insert=%s update=%s delete=%s truncate=%s', p.puballtables,
                      p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate), NULL
        FROM pg_publication p",
    ),
    (
        "EXISTS (SELECT FROM pg_statistic_ext s)",
        "SELECT 'statistics', format('%s.%s', n.nspname, s.stxname),
               pg_get_statisticsobjdef(s.oid), pg_get_statisticsobjdef(s.oid)
        FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
        WHERE {ns}",
    ),
    (
        "EXISTS (SELECT FROM pg_collation co WHERE co.oid >= 16384)",
        "SELECT 'collation', format('%s.%s', n.nspname, co.collname),
               format('provider=%s collate=%s ctype=%s deterministic=%s', co.collprovider,
                      co.collcollate, co.collctype, co.collisdeterministic),
               CASE co.collprovider
                 WHEN 'c' THEN format('CREATE COLLATION %s.%s (provider = libc, lc_collate = %L, lc_ctype = %L%s)',
                                      quote_ident(n.nspname), quote_ident(co.collname),
                                      co.collcollate, co.collctype,
                                      CASE WHEN NOT co.collisdeterministic THEN ', deterministic = false' END)
                 WHEN 'i' THEN format('CREATE COLLATION %s.%s (provider = icu, locale = %L%s)',
                                      quote_ident(n.nspname), quote_ident(co.collname), {icu_locale},
                                      CASE WHEN NOT co.collisdeterministic THEN ', deterministic = false' END)
               END
        FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace
        WHERE {ns} AND {coll_ext}",
    ),
    (
        "EXISTS (SELECT FROM pg_type t WHERE t.oid >= 16384 AND t.typtype IN ('r', 'b', 'p') AND t.typcategory <> 'A')",
        "SELECT CASE t.typtype WHEN 'r' THEN 'range type' WHEN 'p' THEN 'pseudo type'
                              ELSE 'base type' END,
               format('%s.%s', n.nspname, t.typname),
               CASE WHEN t.typtype = 'r' THEN format_type(rg.rngsubtype, NULL)
                    ELSE format('input=%s output=%s', t.typinput, t.typoutput) END, NULL
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        LEFT JOIN pg_range rg ON rg.rngtypid = t.oid
        WHERE t.typtype IN ('r', 'b', 'p') AND t.typcategory <> 'A' AND {ns} AND {type_ext}",
    ),
    (
        "EXISTS (SELECT FROM pg_ts_config cfg WHERE cfg.oid >= 16384)",
        "SELECT 'text search configuration', format('%s.%s', n.nspname, cfg.cfgname),
               cfg.cfgparser::regproc::text, NULL
        FROM pg_ts_config cfg JOIN pg_namespace n ON n.oid = cfg.cfgnamespace
        WHERE {ns} AND {cfg_ext}",
    ),
    (
        "EXISTS (SELECT FROM pg_ts_dict dict WHERE dict.oid >= 16384)",
        "SELECT 'text search dictionary', format('%s.%s', n.nspname, dict.dictname),
               coalesce(dict.dictinitoption, ''), NULL
        FROM pg_ts_dict dict JOIN pg_namespace n ON n.oid = dict.dictnamespace
        WHERE {ns} AND {dict_ext}",
    ),
    (
        "EXISTS (SELECT FROM pg_opclass oc WHERE oc.oid >= 16384)",
        "SELECT 'operator class', format('%s.%s', n.nspname, oc.opcname),
               format('type=%s default=%s', format_type(oc.opcintype, NULL), oc.opcdefault), NULL
        FROM pg_opclass oc JOIN pg_namespace n ON n.oid = oc.opcnamespace
        WHERE {ns} AND {opc_ext}",
    ),
    (
        "EXISTS (SELECT FROM pg_opfamily f WHERE f.oid >= 16384)",
        "SELECT 'operator family', format('%s.%s', n.nspname, f.opfname), '', NULL
        FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace
        WHERE {ns} AND {opf_ext}",
    ),
    (
        "EXISTS (SELECT FROM pg_language l WHERE l.oid >= 16384)",
        "SELECT 'language', l.lanname::text, format('handler=%s', l.lanplcallfoid::regproc), NULL
        FROM pg_language l WHERE l.oid >= 16384 AND {lang_ext}",
    ),
    (
        "EXISTS (SELECT FROM pg_event_trigger e)",
        "SELECT 'event trigger', e.evtname::text,
               format('%s %s %s', e.evtevent, e.evtfoid::regproc, e.evtenabled), NULL
        FROM pg_event_trigger e WHERE {evt_ext}",
    ),
];

pub(super) async fn load_unsupported(
    conn: &mut PgConnection,
    b: &mut Builder,
    version: i32,
) -> anyhow::Result<()> {
    // PostgreSQL 15 moved an ICU collation's locale to its own column.
    let icu_locale = if version >= 150_000 {
        "co.colliculocale"
    } else {
        "co.collcollate"
    };
    let fill = fill(icu_locale);
    let selected: Vec<String> = BRANCHES
        .iter()
        .zip(&b.present.unsupported)
        .filter(|(_, present)| **present)
        .map(|((_, branch), _)| fill_in(branch, &fill))
        .collect();
    if !selected.is_empty() {
        let sql = format!(
            "-- unsupported: rules, aggregates, operators, casts, foreign tables and servers,
            -- publications, statistics objects, collations, range and base types, text search
            -- objects, operator classes/families, languages and event triggers made by users
            SELECT * FROM ({}) AS u (kind, name, detail, ddl) ORDER BY 1, 2",
            selected.join("\n            UNION ALL\n")
        );
        for row in fetch(conn, "objects of unsupported kinds", sql).await? {
            b.schema.unsupported.push(UnsupportedObject {
                kind: get(&row, "kind")?,
                name: get(&row, "name")?,
                detail: get::<Option<String>>(&row, "detail")?.unwrap_or_default(),
                ddl: get::<Option<String>>(&row, "ddl")?
                    .map(|ddl| ddl.trim().trim_end_matches(';').to_owned()),
            });
        }
    }
    b.schema.unsupported.sort();
    Ok(())
}

/// The values of `BRANCHES`' placeholders.
fn fill(icu_locale: &str) -> [(&'static str, String); 17] {
    [
        ("{ns}", USER_NAMESPACE.to_owned()),
        ("{icu_locale}", icu_locale.to_owned()),
        ("{rule_ext}", not_extension_member("pg_rewrite", "r.oid")),
        ("{proc_ext}", not_extension_or_internal("pg_proc", "p.oid")),
        ("{op_ext}", not_extension_member("pg_operator", "o.oid")),
        ("{cast_ext}", not_extension_or_internal("pg_cast", "k.oid")),
        ("{class_ext}", not_extension_member("pg_class", "c.oid")),
        (
            "{srv_ext}",
            not_extension_member("pg_foreign_server", "s.oid"),
        ),
        (
            "{fdw_ext}",
            not_extension_member("pg_foreign_data_wrapper", "w.oid"),
        ),
        ("{coll_ext}", not_extension_member("pg_collation", "co.oid")),
        ("{type_ext}", not_extension_member("pg_type", "t.oid")),
        ("{cfg_ext}", not_extension_member("pg_ts_config", "cfg.oid")),
        ("{dict_ext}", not_extension_member("pg_ts_dict", "dict.oid")),
        ("{opc_ext}", not_extension_member("pg_opclass", "oc.oid")),
        ("{opf_ext}", not_extension_member("pg_opfamily", "f.oid")),
        ("{lang_ext}", not_extension_member("pg_language", "l.oid")),
        (
            "{evt_ext}",
            not_extension_member("pg_event_trigger", "e.oid"),
        ),
    ]
}

/// `branch` with its placeholders replaced by their values (`fill`).
fn fill_in(branch: &str, values: &[(&str, String)]) -> String {
    values.iter().fold(branch.to_owned(), |sql, (name, value)| {
        sql.replace(name, value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_of_every_branch_is_filled() {
        for (gate, branch) in BRANCHES {
            let filled = fill_in(branch, &fill("co.colliculocale"));
            assert!(!filled.contains('{'), "{gate}: {filled}");
            assert!(!gate.contains('{'), "{gate}");
        }
    }
}
