//! Incremental introspection: a schema plus what it takes to tell, with two cheap catalog
//! queries, which of its tables and views changed since, so that only those are read again.
//!
//! A `Snapshot` keeps, per table and view (`pg_class` oid), a digest of the catalog rows its
//! model is read from (the relation's own row without statistics, its columns and defaults,
//! constraints, indexes, triggers, policies, rules, comments, inheritance, partitioning and
//! owned sequences: definitions by oid, since redefining one gives it a new oid, and what can
//! change in place by value; for a foreign key also the names of the columns it references),
//! the relations its views, policies and triggers depend on, and the name of every user object
//! by catalog and oid. `since` re-reads the relations whose digest changed or which depend on
//! one that changed (a renamed column changes how a view over it renders; a foreign key to it
//! changes its own digest, so editing a table many others reference re-reads one table, not
//! all of them), drops the ones gone, and reads every object that is not a table or view in
//! full (`introspect_relations`). A renamed object of any kind (the server renders names, not
//! oids) or a change to most relations makes it read everything.
//!
//! Used wherever the same database is read again and again: the shadows between passes and
//! inside verification's transactions, and the dev database under the watcher.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use super::introspect::{
    NOT_TOOL_TABLE, USER_NAMESPACE, introspect, introspect_relations, not_extension_member,
};
use crate::core::schema::{QualifiedName, Schema};

/// A schema and the digests that tell what changed since it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub schema: Schema,
    relations: BTreeMap<i64, Relation>,
    /// `<catalog letter><oid>` of every user schema, relation, type, function, collation,
    /// operator class and operator, with its namespace oid and name.
    names: BTreeMap<String, String>,
}

/// What a snapshot knows of one table or view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Relation {
    name: QualifiedName,
    digest: String,
    /// Oids of the relations its view rules, policies and triggers depend on.
    refs: Vec<i64>,
}

/// What `since` read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Everything.
    Full,
    /// Only this many tables and views (plus every other kind of object).
    Relations(usize),
}

/// Reads the whole schema with its digests.
pub async fn take(conn: &mut PgConnection) -> anyhow::Result<Snapshot> {
    let names = names(conn).await?;
    let relations = relations(conn).await?;
    let schema = introspect(conn).await?;
    Ok(Snapshot {
        schema,
        relations,
        names,
    })
}

/// The schema now, reading again only what changed since `base` was taken (from the same
/// database).
pub async fn since(conn: &mut PgConnection, base: &Snapshot) -> anyhow::Result<(Snapshot, Read)> {
    let clock = std::time::Instant::now();
    let names = names(conn).await?;
    let names_ms = clock.elapsed().as_millis();
    let renamed = names
        .iter()
        .any(|(key, name)| base.names.get(key).is_some_and(|old| old != name));
    if renamed {
        return Ok((take(conn).await?, Read::Full));
    }
    let relations = relations(conn).await?;
    let changed = changed_relations(base, &relations);
    tracing::debug!(
        names_ms,
        digests_ms = clock.elapsed().as_millis(),
        changed = changed.len(),
        "relation digests read"
    );
    if changed.len() * 2 > relations.len().max(16) {
        return Ok((take(conn).await?, Read::Full));
    }
    let partial = introspect_relations(conn, &changed).await?;
    // Relations to take from the partial read rather than from `base`: the changed ones
    // (under their old and new names) and the ones gone.
    let mut replaced: BTreeSet<&QualifiedName> = BTreeSet::new();
    for (oid, relation) in &base.relations {
        if changed.contains(oid) || !relations.contains_key(oid) {
            replaced.insert(&relation.name);
        }
    }
    for oid in &changed {
        if let Some(relation) = relations.get(oid) {
            replaced.insert(&relation.name);
        }
    }
    let schema = merge(&base.schema, partial, &replaced);
    let read = Read::Relations(changed.len());
    Ok((
        Snapshot {
            schema,
            relations,
            names,
        },
        read,
    ))
}

/// Oids of the relations that are new, whose digest changed, or that depend on a relation
/// that changed or is gone.
fn changed_relations(base: &Snapshot, now: &BTreeMap<i64, Relation>) -> BTreeSet<i64> {
    let mut changed: BTreeSet<i64> = now
        .iter()
        .filter(|(oid, r)| base.relations.get(oid).is_none_or(|b| b.digest != r.digest))
        .map(|(oid, _)| *oid)
        .collect();
    let gone: BTreeSet<i64> = base
        .relations
        .keys()
        .filter(|oid| !now.contains_key(oid))
        .copied()
        .collect();
    let pointing: Vec<i64> = now
        .iter()
        .filter(|(oid, r)| {
            !changed.contains(oid)
                && r.refs
                    .iter()
                    .any(|to| changed.contains(to) || gone.contains(to))
        })
        .map(|(oid, _)| *oid)
        .collect();
    changed.extend(pointing);
    changed
}

/// `partial` (every kind of object in full, tables and views only where they changed) with
/// the tables and views of `base` that are not `replaced`, and their triggers.
fn merge(base: &Schema, mut partial: Schema, replaced: &BTreeSet<&QualifiedName>) -> Schema {
    for (name, table) in &base.tables {
        if !replaced.contains(name) {
            partial
                .tables
                .entry(name.clone())
                .or_insert_with(|| table.clone());
        }
    }
    for (name, view) in &base.views {
        if !replaced.contains(name) {
            partial
                .views
                .entry(name.clone())
                .or_insert_with(|| view.clone());
        }
    }
    for (key, trigger) in &base.triggers {
        if !replaced.contains(&key.table) {
            partial
                .triggers
                .entry(key.clone())
                .or_insert_with(|| trigger.clone());
        }
    }
    partial
}

/// The catalogs whose names other objects' definitions render: key letter, catalog, its
/// namespace column and its name column.
const NAMED: [(&str, &str, &str, &str); 6] = [
    ("c", "pg_class", "relnamespace", "relname"),
    ("t", "pg_type", "typnamespace", "typname"),
    ("p", "pg_proc", "pronamespace", "proname"),
    ("l", "pg_collation", "collnamespace", "collname"),
    ("k", "pg_opclass", "opcnamespace", "opcname"),
    ("o", "pg_operator", "oprnamespace", "oprname"),
];

/// The name of every user object that other objects' definitions render by name.
async fn names(conn: &mut PgConnection) -> anyhow::Result<BTreeMap<String, String>> {
    let mut sql = format!(
        "-- names: every user schema, relation, type, function, collation, operator class and
        -- operator by oid (a rename changes how the objects using it render)
        SELECT 'n' || n.oid AS key, n.nspname::text AS name FROM pg_namespace n WHERE {USER_NAMESPACE}"
    );
    for (key, catalog, namespace, name) in NAMED {
        let _ = write!(
            sql,
            " UNION ALL SELECT '{key}' || x.oid, x.{namespace} || '.' || x.{name} FROM {catalog} x \
             JOIN pg_namespace n ON n.oid = x.{namespace} WHERE {USER_NAMESPACE}"
        );
    }
    let rows: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(conn)
        .await
        .context("reading object names from pg_catalog")?;
    Ok(rows.into_iter().collect())
}

/// Every table and view with its digest and the relations it points at.
async fn relations(conn: &mut PgConnection) -> anyhow::Result<BTreeMap<i64, Relation>> {
    let sql = format!(
        "-- relation digests: per table and view, an md5 of what its model is read from. A
        -- default, constraint, index, trigger or rule redefined gets a new oid, so oids stand
        -- for definitions, plus the few attributes changed in place (names, validation,
        -- deferrability, enabled state, options, comments); policies and view rules change in
        -- place and are hashed whole. pg_class leaves out statistics and the has-rules /
        -- triggers / subclass flags VACUUM clears lazily; internal triggers (a foreign key's
        -- on the table it references) are not modelled.
        WITH rel AS (
          SELECT c.oid, n.nspname::text AS schema, c.relname::text AS name,
                 concat_ws('|', c.relname, c.relnamespace, c.reltype, c.reloftype, c.relam,
                           c.reltablespace, c.relpersistence, c.relkind, c.relnatts, c.relchecks,
                           c.relrowsecurity, c.relforcerowsecurity, c.relreplident, c.relispartition,
                           c.reloptions::text, c.relpartbound::text, c.relacl::text) AS own
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p', 'v', 'm') AND {USER_NAMESPACE} AND {NOT_TOOL_TABLE}
            AND {not_member}
        ),
        att AS (
          SELECT a.attrelid AS oid,
                 string_agg(concat_ws(',', a.attnum, a.attname, a.atttypid, a.atttypmod,
                                      a.attndims, a.attnotnull, a.attidentity, a.attgenerated,
                                      a.attisdropped, a.attislocal, a.attinhcount, a.attcollation,
                                      a.attstorage, a.attcompression, a.attoptions::text, ad.oid),
                            ';' ORDER BY a.attnum) AS x
          FROM pg_attribute a JOIN rel ON rel.oid = a.attrelid
          LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
          WHERE a.attnum > 0 GROUP BY a.attrelid
        ),
        con AS (
          SELECT co.conrelid AS oid,
                 string_agg(concat_ws(',', co.oid, co.conname, co.convalidated, co.condeferrable,
                                      co.condeferred, co.coninhcount, co.conislocal,
                                      co.connoinherit, co.conparentid, d.description,
                                      (SELECT string_agg(fa.attname, ',' ORDER BY fa.attnum)
                                         FROM pg_attribute fa WHERE fa.attrelid = co.confrelid
                                          AND fa.attnum = ANY (co.confkey))),
                            ';' ORDER BY co.oid) AS x
          FROM pg_constraint co JOIN rel ON rel.oid = co.conrelid
          LEFT JOIN pg_description d ON d.classoid = 'pg_constraint'::regclass
           AND d.objoid = co.oid AND d.objsubid = 0
          GROUP BY co.conrelid
        ),
        idx AS (
          SELECT i.indrelid AS oid,
                 string_agg(concat_ws(',', i.indexrelid, ic.relname, ic.reltablespace,
                                      ic.reloptions::text, i.indisvalid, ih.inhparent,
                                      d.description),
                            ';' ORDER BY i.indexrelid) AS x
          FROM pg_index i JOIN rel ON rel.oid = i.indrelid
          JOIN pg_class ic ON ic.oid = i.indexrelid
          LEFT JOIN pg_inherits ih ON ih.inhrelid = i.indexrelid
          LEFT JOIN pg_description d ON d.classoid = 'pg_class'::regclass
           AND d.objoid = i.indexrelid AND d.objsubid = 0
          GROUP BY i.indrelid
        ),
        trg AS (
          SELECT t.tgrelid AS oid,
                 string_agg(concat_ws(',', t.oid, t.tgname, t.tgenabled, d.description),
                            ';' ORDER BY t.oid) AS x
          FROM pg_trigger t JOIN rel ON rel.oid = t.tgrelid
          LEFT JOIN pg_description d ON d.classoid = 'pg_trigger'::regclass
           AND d.objoid = t.oid AND d.objsubid = 0
          WHERE NOT t.tgisinternal
          GROUP BY t.tgrelid
        ),
        pol AS (
          SELECT p.polrelid AS oid,
                 string_agg(p::text || '/' || coalesce(d.description, ''), ';' ORDER BY p.oid) AS x
          FROM pg_policy p JOIN rel ON rel.oid = p.polrelid
          LEFT JOIN pg_description d ON d.classoid = 'pg_policy'::regclass
           AND d.objoid = p.oid AND d.objsubid = 0
          GROUP BY p.polrelid
        ),
        rul AS (
          SELECT r.ev_class AS oid, string_agg(r::text, ';' ORDER BY r.oid) AS x
          FROM pg_rewrite r JOIN rel ON rel.oid = r.ev_class GROUP BY r.ev_class
        ),
        dsc AS (
          SELECT d.objoid AS oid, string_agg(d.objsubid || ':' || d.description, ';' ORDER BY d.objsubid) AS x
          FROM pg_description d JOIN rel ON rel.oid = d.objoid
          WHERE d.classoid = 'pg_class'::regclass GROUP BY d.objoid
        ),
        inh AS (
          SELECT rel.oid, string_agg(ih.inhrelid || '>' || ih.inhparent || '#' || ih.inhseqno, ';'
                                     ORDER BY ih.inhrelid, ih.inhparent) AS x
          FROM rel JOIN pg_inherits ih ON ih.inhrelid = rel.oid OR ih.inhparent = rel.oid
          GROUP BY rel.oid
        ),
        prt AS (
          SELECT pt.partrelid AS oid, pt::text AS x
          FROM pg_partitioned_table pt JOIN rel ON rel.oid = pt.partrelid
        ),
        seq AS (
          SELECT dep.refobjid AS oid,
                 string_agg(s::text || '/' || sc.relname, ';' ORDER BY s.seqrelid) AS x
          FROM pg_depend dep JOIN rel ON rel.oid = dep.refobjid
          JOIN pg_sequence s ON s.seqrelid = dep.objid
          JOIN pg_class sc ON sc.oid = s.seqrelid
          WHERE dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_class'::regclass
            AND dep.deptype IN ('a', 'i')
          GROUP BY dep.refobjid
        ),
        ref AS (
          SELECT x.oid, array_agg(DISTINCT x.ref::int8) AS refs FROM (
            SELECT coalesce(r.ev_class, p.polrelid, t.tgrelid) AS oid, d.refobjid AS ref
            FROM pg_depend d
            LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
            LEFT JOIN pg_policy p ON d.classid = 'pg_policy'::regclass AND p.oid = d.objid
            LEFT JOIN pg_trigger t ON d.classid = 'pg_trigger'::regclass AND t.oid = d.objid
             AND NOT t.tgisinternal
            WHERE d.classid IN ('pg_rewrite'::regclass, 'pg_policy'::regclass, 'pg_trigger'::regclass)
              AND d.refclassid = 'pg_class'::regclass
          ) x JOIN rel ON rel.oid = x.oid WHERE x.ref <> x.oid GROUP BY x.oid
        )
        SELECT rel.oid::int8 AS oid, rel.schema, rel.name,
               md5(concat_ws('|', rel.own, coalesce(att.x, ''), coalesce(con.x, ''),
                             coalesce(idx.x, ''), coalesce(trg.x, ''), coalesce(pol.x, ''),
                             coalesce(rul.x, ''), coalesce(dsc.x, ''), coalesce(inh.x, ''),
                             coalesce(prt.x, ''), coalesce(seq.x, ''))) AS digest,
               coalesce(ref.refs, '{{}}') AS refs
        FROM rel
        LEFT JOIN att USING (oid) LEFT JOIN con USING (oid) LEFT JOIN idx USING (oid)
        LEFT JOIN trg USING (oid) LEFT JOIN pol USING (oid) LEFT JOIN rul USING (oid)
        LEFT JOIN dsc USING (oid) LEFT JOIN inh USING (oid) LEFT JOIN prt USING (oid)
        LEFT JOIN seq USING (oid) LEFT JOIN ref USING (oid)",
        not_member = not_extension_member("pg_class", "c.oid"),
    );
    let rows: Vec<(i64, String, String, String, Vec<i64>)> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(conn)
            .await
            .context("reading relation digests from pg_catalog")?;
    Ok(rows
        .into_iter()
        .map(|(oid, schema, name, digest, refs)| {
            let name = QualifiedName::new(schema, name);
            (oid, Relation { name, digest, refs })
        })
        .collect())
}
