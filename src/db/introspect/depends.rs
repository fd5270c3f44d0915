//! Dependencies between modelled objects, from `pg_depend` normal dependencies, rolled up to
//! the owning object: a column default, a constraint or a view's rewrite rule counts as its
//! table or view, a table row type as its table, an array type as its element type.
//! Only CHECK constraints count: keys and foreign keys are created after all tables. A
//! view's dependency on a primary key or unique constraint (GROUP BY relying on it) is kept
//! as `ObjectRef::Constraint`.

use std::collections::BTreeSet;

use sqlx::PgConnection;

use super::{Builder, fetch, get};
use crate::core::schema::ObjectRef;

pub(super) async fn load_depends(conn: &mut PgConnection, b: &mut Builder) -> anyhow::Result<()> {
    let sql = "-- dependencies: normal pg_depend edges between user objects (oid >= 16384),
        -- each side mapped to a relation (r), type (t) or function (f)
        SELECT CASE WHEN d.classid = 'pg_proc'::regclass THEN 'f'
                    WHEN d.classid = 'pg_type'::regclass THEN 't'
                    WHEN d.classid = 'pg_constraint'::regclass AND con.conrelid = 0 THEN 't'
                    ELSE 'r' END AS from_kind,
               coalesce(ad.adrelid, nullif(con.conrelid, 0), nullif(con.contypid, 0),
                        rw.ev_class, d.objid)::int8 AS from_oid,
               CASE WHEN d.refclassid = 'pg_proc'::regclass THEN 'f'
                    WHEN d.refclassid = 'pg_constraint'::regclass THEN 'c'
                    WHEN d.refclassid = 'pg_class'::regclass THEN 'r'
                    WHEN coalesce(nullif(et.typrelid, 0), nullif(rt.typrelid, 0)) IS NOT NULL THEN 'r'
                    ELSE 't' END AS to_kind,
               coalesce(nullif(et.typrelid, 0), et.oid, nullif(rt.typrelid, 0), refcon.conrelid,
                        d.refobjid)::int8 AS to_oid,
               refcon.conname::text AS to_constraint
        FROM pg_depend d
        LEFT JOIN pg_attrdef ad ON d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid
        LEFT JOIN pg_constraint con ON d.classid = 'pg_constraint'::regclass AND con.oid = d.objid
        LEFT JOIN pg_rewrite rw ON d.classid = 'pg_rewrite'::regclass AND rw.oid = d.objid
        LEFT JOIN pg_type rt ON d.refclassid = 'pg_type'::regclass AND rt.oid = d.refobjid
        LEFT JOIN pg_type et ON et.oid = rt.typelem AND rt.typcategory = 'A'
        LEFT JOIN pg_constraint refcon
          ON d.refclassid = 'pg_constraint'::regclass AND refcon.oid = d.refobjid
        WHERE d.deptype = 'n' AND d.objid >= 16384 AND d.refobjid >= 16384
          AND (con.oid IS NULL OR con.contype = 'c')
          AND d.classid IN ('pg_class'::regclass, 'pg_attrdef'::regclass, 'pg_constraint'::regclass,
                            'pg_rewrite'::regclass, 'pg_proc'::regclass, 'pg_type'::regclass)
          AND (d.refclassid IN ('pg_class'::regclass, 'pg_type'::regclass, 'pg_proc'::regclass)
               OR (d.refclassid = 'pg_constraint'::regclass AND d.classid = 'pg_rewrite'::regclass))"
        .to_owned();
    let mut edges = BTreeSet::new();
    for row in fetch(conn, "dependencies", sql).await? {
        let from = resolve(
            b,
            &get::<String>(&row, "from_kind")?,
            get(&row, "from_oid")?,
        );
        let to = match get::<Option<String>>(&row, "to_constraint")? {
            // A key of a table (to_oid is the table's).
            Some(name) => b
                .tables
                .get(&get::<i64>(&row, "to_oid")?)
                .map(|table| ObjectRef::Constraint(table.clone(), name)),
            None => resolve(b, &get::<String>(&row, "to_kind")?, get(&row, "to_oid")?),
        };
        if let (Some(from), Some(to)) = (from, to)
            && from != to
            && (matches!(from, ObjectRef::View(_)) || !matches!(to, ObjectRef::Constraint(..)))
        {
            edges.insert((from, to));
        }
    }
    for (from, to) in edges {
        if let Some(list) = depends_list(b, &from) {
            list.push(to);
        }
    }
    Ok(())
}

fn resolve(b: &Builder, kind: &str, oid: i64) -> Option<ObjectRef> {
    match kind {
        "f" => b.functions.get(&oid).cloned().map(ObjectRef::Function),
        "t" => b.types.get(&oid).cloned().map(ObjectRef::Type),
        _ => b.relation_ref(oid),
    }
}

/// The `depends_on` list of an object that records one (edges arrive sorted, so the lists
/// come out sorted).
fn depends_list<'a>(b: &'a mut Builder, object: &ObjectRef) -> Option<&'a mut Vec<ObjectRef>> {
    let schema = &mut b.schema;
    match object {
        ObjectRef::Table(name) => schema.tables.get_mut(name).map(|t| &mut t.depends_on),
        ObjectRef::View(name) => schema.views.get_mut(name).map(|v| &mut v.depends_on),
        ObjectRef::Function(key) => schema.functions.get_mut(key).map(|f| &mut f.depends_on),
        ObjectRef::Type(name) => {
            if let Some(domain) = schema.domains.get_mut(name) {
                Some(&mut domain.depends_on)
            } else {
                schema.composites.get_mut(name).map(|c| &mut c.depends_on)
            }
        }
        ObjectRef::Schema(_)
        | ObjectRef::Extension(_)
        | ObjectRef::Sequence(_)
        | ObjectRef::Constraint(..) => None,
    }
}
