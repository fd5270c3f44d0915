//! CREATE / DROP for schema-level objects other than tables: schemas, extensions, enum,
//! domain and composite types, sequences, functions and procedures, views.

use std::fmt::Write as _;

use super::{comment_if, trim_statement, with_options};
use crate::core::render::{quote_ident, quote_literal};
use crate::core::schema::{
    CompositeType, Domain, EnumType, Extension, Function, FunctionKind, QualifiedName, SchemaDef,
    Sequence, SequenceOptions, View,
};

/// `CREATE SCHEMA` plus its comment.
pub fn create_schema(schema: &SchemaDef) -> Vec<String> {
    let target = quote_ident(&schema.name);
    let mut out = vec![format!("CREATE SCHEMA {target}")];
    out.extend(comment_if("SCHEMA", &target, schema.comment.as_ref()));
    out
}

pub fn drop_schema(name: &str) -> String {
    format!("DROP SCHEMA {}", quote_ident(name))
}

/// `CREATE EXTENSION IF NOT EXISTS ... WITH SCHEMA ...` plus its comment (the version is
/// left to the server's default, as pg_dump does).
pub fn create_extension(extension: &Extension) -> Vec<String> {
    let name = quote_ident(&extension.name);
    let mut out = vec![format!(
        "CREATE EXTENSION IF NOT EXISTS {name} WITH SCHEMA {}",
        quote_ident(&extension.schema)
    )];
    out.extend(comment_if("EXTENSION", &name, extension.comment.as_ref()));
    out
}

pub fn drop_extension(name: &str) -> String {
    format!("DROP EXTENSION {}", quote_ident(name))
}

pub fn create_enum(t: &EnumType) -> Vec<String> {
    let values: Vec<String> = t.values.iter().map(|v| quote_literal(v)).collect();
    let mut out = vec![format!(
        "CREATE TYPE {} AS ENUM ({})",
        t.name,
        values.join(", ")
    )];
    out.extend(comment_if("TYPE", &t.name.to_string(), t.comment.as_ref()));
    out
}

pub fn drop_enum(name: &QualifiedName) -> String {
    format!("DROP TYPE {name}")
}

/// `CREATE DOMAIN` with its validated checks inline; checks added NOT VALID follow as
/// `ALTER DOMAIN ... ADD CONSTRAINT` (they cannot be declared inline).
pub fn create_domain(d: &Domain) -> Vec<String> {
    let mut sql = format!("CREATE DOMAIN {} AS {}", d.name, d.base_type);
    if let Some(collation) = &d.collation {
        let _ = write!(sql, " COLLATE {collation}");
    }
    if let Some(default) = &d.default {
        let _ = write!(sql, " DEFAULT {default}");
    }
    if d.not_null {
        sql.push_str(" NOT NULL");
    }
    for check in d.checks.iter().filter(|c| c.validated) {
        let _ = write!(
            sql,
            " CONSTRAINT {} {}",
            quote_ident(&check.name),
            check.definition
        );
    }
    let mut out = vec![sql];
    for check in d.checks.iter().filter(|c| !c.validated) {
        out.push(format!(
            "ALTER DOMAIN {} ADD CONSTRAINT {} {}",
            d.name,
            quote_ident(&check.name),
            check.definition
        ));
    }
    out.extend(comment_if(
        "DOMAIN",
        &d.name.to_string(),
        d.comment.as_ref(),
    ));
    for check in &d.checks {
        let target = format!("{} ON DOMAIN {}", quote_ident(&check.name), d.name);
        out.extend(comment_if("CONSTRAINT", &target, check.comment.as_ref()));
    }
    out
}

pub fn drop_domain(name: &QualifiedName) -> String {
    format!("DROP DOMAIN {name}")
}

pub fn create_composite(t: &CompositeType) -> Vec<String> {
    let attributes: Vec<String> = t
        .attributes
        .iter()
        .map(|a| {
            let collation = a
                .collation
                .as_ref()
                .map(|c| format!(" COLLATE {c}"))
                .unwrap_or_default();
            format!("{} {}{collation}", quote_ident(&a.name), a.data_type)
        })
        .collect();
    let mut out = vec![format!(
        "CREATE TYPE {} AS ({})",
        t.name,
        attributes.join(", ")
    )];
    out.extend(comment_if("TYPE", &t.name.to_string(), t.comment.as_ref()));
    for a in &t.attributes {
        let target = format!("{}.{}", t.name, quote_ident(&a.name));
        out.extend(comment_if("COLUMN", &target, a.comment.as_ref()));
    }
    out
}

pub fn drop_composite(name: &QualifiedName) -> String {
    format!("DROP TYPE {name}")
}

/// The option list shared by `CREATE SEQUENCE` and identity columns (without `AS type`).
pub(super) fn sequence_options(o: &SequenceOptions) -> String {
    format!(
        "START WITH {} INCREMENT BY {} MINVALUE {} MAXVALUE {} CACHE {}{}",
        o.start,
        o.increment,
        o.min_value,
        o.max_value,
        o.cache,
        if o.cycle { " CYCLE" } else { " NO CYCLE" }
    )
}

/// `CREATE SEQUENCE` plus its comment; OWNED BY comes separately (`sequence_owned_by`),
/// once the owning table exists.
pub fn create_sequence(s: &Sequence) -> Vec<String> {
    let unlogged = if s.unlogged { "UNLOGGED " } else { "" };
    let mut out = vec![format!(
        "CREATE {unlogged}SEQUENCE {} AS {} {}",
        s.name,
        s.options.data_type,
        sequence_options(&s.options)
    )];
    out.extend(comment_if(
        "SEQUENCE",
        &s.name.to_string(),
        s.comment.as_ref(),
    ));
    out
}

/// `ALTER SEQUENCE ... OWNED BY table.column` for a serial sequence.
pub fn sequence_owned_by(s: &Sequence) -> Option<String> {
    s.owned_by.as_ref().map(|(table, column)| {
        format!(
            "ALTER SEQUENCE {} OWNED BY {table}.{}",
            s.name,
            quote_ident(column)
        )
    })
}

pub fn drop_sequence(name: &QualifiedName) -> String {
    format!("DROP SEQUENCE {name}")
}

fn function_word(kind: FunctionKind) -> &'static str {
    match kind {
        FunctionKind::Procedure => "PROCEDURE",
        FunctionKind::Function | FunctionKind::Window => "FUNCTION",
    }
}

/// The server's `CREATE OR REPLACE FUNCTION|PROCEDURE` plus the comment.
pub fn create_function(f: &Function) -> Vec<String> {
    let mut out = vec![trim_statement(&f.definition).to_owned()];
    out.extend(comment_if(
        function_word(f.kind),
        &f.key.to_string(),
        f.comment.as_ref(),
    ));
    out
}

pub fn drop_function(f: &Function) -> String {
    format!("DROP {} {}", function_word(f.kind), f.key)
}

/// `CREATE [MATERIALIZED] VIEW`, comments on it and its columns. A materialized view is
/// created `WITH NO DATA` when `populate` is false (a dump refreshes it after the data).
pub fn create_view(v: &View, populate: bool) -> Vec<String> {
    let query = trim_statement(&v.definition);
    let options = with_options(&v.options);
    let (word, sql) = if v.materialized {
        let data = if populate { "" } else { "\nWITH NO DATA" };
        (
            "MATERIALIZED VIEW",
            format!(
                "CREATE MATERIALIZED VIEW {}{options} AS\n{query}{data}",
                v.name
            ),
        )
    } else {
        (
            "VIEW",
            format!("CREATE VIEW {}{options} AS\n{query}", v.name),
        )
    };
    let mut out = vec![sql.trim_end().to_owned()];
    out.extend(comment_if(word, &v.name.to_string(), v.comment.as_ref()));
    for (column, comment) in &v.column_comments {
        let target = format!("{}.{}", v.name, quote_ident(column));
        out.extend(comment_if("COLUMN", &target, Some(comment)));
    }
    out
}

pub fn drop_view(v: &View) -> String {
    let word = if v.materialized {
        "MATERIALIZED VIEW"
    } else {
        "VIEW"
    };
    format!("DROP {word} {}", v.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::schema::DomainCheck;

    fn name(n: &str) -> QualifiedName {
        QualifiedName::new("app", n)
    }

    #[test]
    fn create_enum_quotes_values_in_order() {
        let t = EnumType {
            name: name("mood"),
            values: vec!["sad".into(), "it's ok".into()],
            comment: Some("feels".into()),
        };
        assert_eq!(
            create_enum(&t),
            [
                "CREATE TYPE app.mood AS ENUM ('sad', 'it''s ok')",
                "COMMENT ON TYPE app.mood IS 'feels'"
            ]
        );
    }

    #[test]
    fn create_domain_not_valid_check_is_added_after() {
        let d = Domain {
            name: name("posint"),
            base_type: "integer".into(),
            default: Some("1".into()),
            not_null: true,
            collation: None,
            checks: vec![
                DomainCheck {
                    name: "a".into(),
                    definition: "CHECK ((VALUE > 0))".into(),
                    validated: true,
                    comment: None,
                },
                DomainCheck {
                    name: "b".into(),
                    definition: "CHECK ((VALUE < 9)) NOT VALID".into(),
                    validated: false,
                    comment: None,
                },
            ],
            comment: None,
            depends_on: vec![],
        };
        assert_eq!(
            create_domain(&d),
            [
                "CREATE DOMAIN app.posint AS integer DEFAULT 1 NOT NULL CONSTRAINT a CHECK ((VALUE > 0))",
                "ALTER DOMAIN app.posint ADD CONSTRAINT b CHECK ((VALUE < 9)) NOT VALID"
            ]
        );
    }

    #[test]
    fn create_sequence_renders_every_option() {
        let s = Sequence {
            name: name("counter"),
            options: SequenceOptions {
                data_type: "integer".into(),
                start: 10,
                increment: 5,
                min_value: 5,
                max_value: 100,
                cache: 3,
                cycle: true,
            },
            owned_by: Some((name("orders"), "id".into())),
            unlogged: false,
            comment: None,
        };
        assert_eq!(
            create_sequence(&s),
            [
                "CREATE SEQUENCE app.counter AS integer START WITH 10 INCREMENT BY 5 MINVALUE 5 MAXVALUE 100 CACHE 3 CYCLE"
            ]
        );
        assert_eq!(
            sequence_owned_by(&s).unwrap(),
            "ALTER SEQUENCE app.counter OWNED BY app.orders.id"
        );
    }

    #[test]
    fn create_view_materialized_without_data() {
        let v = View {
            name: name("counts"),
            materialized: true,
            definition: " SELECT 1 AS n;".into(),
            options: vec![],
            indexes: std::collections::BTreeMap::new(),
            column_comments: std::collections::BTreeMap::new(),
            comment: None,
            depends_on: vec![],
        };
        assert_eq!(
            create_view(&v, false),
            ["CREATE MATERIALIZED VIEW app.counts AS\nSELECT 1 AS n\nWITH NO DATA"]
        );
        assert_eq!(drop_view(&v), "DROP MATERIALIZED VIEW app.counts");
    }
}
