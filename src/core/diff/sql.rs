//! Statement fragments the diff needs for ALTERs (column definitions, constraint and index
//! statements, comments, sequence options). Whole-object DDL lives in `core::ddl`; names go
//! through `core::render`'s quoting helpers only.

use std::fmt::Write as _;

use crate::core::render::{quote_ident, quote_literal};
use crate::core::schema::{
    Column, Constraint, Identity, IdentityGeneration, Index, QualifiedName, SequenceOptions, Table,
};

/// `name type [COLLATE c] [GENERATED ...] [DEFAULT d] [NOT NULL]`, as in CREATE TABLE and
/// ADD COLUMN.
pub(crate) fn column_definition(column: &Column) -> String {
    let mut out = format!("{} {}", quote_ident(&column.name), column.data_type);
    if let Some(collation) = &column.collation {
        let _ = write!(out, " COLLATE {collation}");
    }
    if let Some(expr) = &column.generated {
        let _ = write!(out, " GENERATED ALWAYS AS ({expr}) STORED");
    }
    if let Some(identity) = &column.identity {
        let _ = write!(out, " {}", identity_clause(identity));
    }
    if let Some(default) = &column.default {
        let _ = write!(out, " DEFAULT {default}");
    }
    if column.not_null {
        out.push_str(" NOT NULL");
    }
    out
}

/// `GENERATED {ALWAYS|BY DEFAULT} AS IDENTITY (SEQUENCE NAME ... options)`.
pub(crate) fn identity_clause(identity: &Identity) -> String {
    format!(
        "GENERATED {} AS IDENTITY (SEQUENCE NAME {} {})",
        generation(identity.generation),
        identity.sequence,
        sequence_options(&identity.options, false)
    )
}

pub(crate) fn generation(generation: IdentityGeneration) -> &'static str {
    match generation {
        IdentityGeneration::Always => "ALWAYS",
        IdentityGeneration::ByDefault => "BY DEFAULT",
    }
}

/// Sequence parameters as CREATE/ALTER SEQUENCE and identity options spell them.
pub(crate) fn sequence_options(options: &SequenceOptions, with_type: bool) -> String {
    let mut out = String::new();
    if with_type {
        let _ = write!(out, "AS {} ", options.data_type);
    }
    let _ = write!(
        out,
        "START WITH {} INCREMENT BY {} MINVALUE {} MAXVALUE {} CACHE {} {}",
        options.start,
        options.increment,
        options.min_value,
        options.max_value,
        options.cache,
        if options.cycle { "CYCLE" } else { "NO CYCLE" }
    );
    out
}

pub(crate) fn alter_table(table: &QualifiedName, action: &str) -> String {
    format!("ALTER TABLE {table} {action}")
}

pub(crate) fn alter_column(table: &QualifiedName, column: &str, action: &str) -> String {
    format!(
        "ALTER TABLE {table} ALTER COLUMN {} {action}",
        quote_ident(column)
    )
}

pub(crate) fn add_constraint(table: &QualifiedName, c: &Constraint) -> Vec<String> {
    let mut out = vec![alter_table(
        table,
        &format!("ADD CONSTRAINT {} {}", quote_ident(&c.name), c.definition),
    )];
    if let Some(comment) = &c.comment {
        out.push(format!(
            "COMMENT ON CONSTRAINT {} ON {table} IS {}",
            quote_ident(&c.name),
            quote_literal(comment)
        ));
    }
    out
}

pub(crate) fn drop_constraint(table: &QualifiedName, c: &Constraint) -> Vec<String> {
    vec![alter_table(
        table,
        &format!("DROP CONSTRAINT {}", quote_ident(&c.name)),
    )]
}

/// The index's own definition, made recursive on a partitioned table (`ON ONLY` would leave
/// the partitions without it).
pub(crate) fn create_index(table: &QualifiedName, index: &Index) -> Vec<String> {
    let mut out = vec![index.definition.replacen(" ON ONLY ", " ON ", 1)];
    if let Some(comment) = &index.comment {
        out.push(format!(
            "COMMENT ON INDEX {} IS {}",
            QualifiedName::new(&table.schema, &index.name),
            quote_literal(comment)
        ));
    }
    out
}

pub(crate) fn drop_index(table: &QualifiedName, index: &Index) -> Vec<String> {
    vec![format!(
        "DROP INDEX {}",
        QualifiedName::new(&table.schema, &index.name)
    )]
}

/// `COMMENT ON <what> IS '...'` or `IS NULL`.
pub(crate) fn comment(what: &str, text: Option<&str>) -> String {
    format!(
        "COMMENT ON {what} IS {}",
        text.map_or_else(|| "NULL".to_owned(), quote_literal)
    )
}

/// `CREATE TABLE` with the columns declared on the table itself (partitions and inherited
/// columns come from the parent); constraints and indexes are separate parts.
pub(crate) fn create_table(table: &Table) -> String {
    let name = &table.name;
    let unlogged = if table.unlogged { "UNLOGGED " } else { "" };
    let mut out = if let Some(p) = &table.partition_of {
        format!(
            "CREATE {unlogged}TABLE {name} PARTITION OF {} {}",
            p.parent, p.bound
        )
    } else {
        let columns: Vec<String> = table
            .columns
            .iter()
            .filter(|c| c.is_local)
            .map(column_definition)
            .collect();
        let mut out = format!("CREATE {unlogged}TABLE {name} ({})", columns.join(", "));
        if !table.inherits.is_empty() {
            let parents: Vec<String> = table.inherits.iter().map(ToString::to_string).collect();
            let _ = write!(out, " INHERITS ({})", parents.join(", "));
        }
        out
    };
    if let Some(key) = &table.partition_key {
        let _ = write!(out, " PARTITION BY {key}");
    }
    if !table.options.is_empty() {
        let _ = write!(out, " WITH ({})", table.options.join(", "));
    }
    out
}

pub(crate) fn drop_table(table: &Table) -> String {
    format!("DROP TABLE {}", table.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column() -> Column {
        Column {
            name: "Email".into(),
            data_type: "character varying(40)".into(),
            not_null: true,
            default: Some("'x'::character varying".into()),
            identity: None,
            generated: None,
            collation: Some(QualifiedName::new("pg_catalog", "C")),
            is_local: true,
            inherited: false,
            comment: None,
        }
    }

    #[test]
    fn column_definition_renders_every_property() {
        assert_eq!(
            column_definition(&column()),
            "\"Email\" character varying(40) COLLATE pg_catalog.\"C\" DEFAULT 'x'::character varying NOT NULL"
        );
    }

    #[test]
    fn comment_none_renders_null() {
        assert_eq!(comment("TABLE t", None), "COMMENT ON TABLE t IS NULL");
        assert_eq!(
            comment("TABLE t", Some("it's")),
            "COMMENT ON TABLE t IS 'it''s'"
        );
    }
}
