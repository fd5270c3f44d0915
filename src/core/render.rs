//! Changes -> SQL. Holds the project's only identifier and literal quoting helpers: every
//! name that reaches SQL text goes through `quote_ident` / `qualified`, every literal through
//! `quote_literal`.

use crate::core::diff::{Plan, Step};

/// Words that must be quoted as identifiers even when lowercase (PostgreSQL's reserved
/// keywords plus the type/column-name keywords that cannot stand as a bare column name).
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "json",
    "json_array",
    "json_arrayagg",
    "json_exists",
    "json_object",
    "json_objectagg",
    "json_query",
    "json_scalar",
    "json_serialize",
    "json_table",
    "json_value",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "merge_action",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// Quotes an identifier when PostgreSQL would not read it back unchanged bare.
pub fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
        && !RESERVED.contains(&name);
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `schema.name`, each part quoted as needed.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// A string literal: `'it''s'`, or `E'...'` when it holds a backslash.
pub fn quote_literal(value: &str) -> String {
    let escaped = value.replace('\'', "''");
    if escaped.contains('\\') {
        format!("E'{}'", escaped.replace('\\', "\\\\"))
    } else {
        format!("'{escaped}'")
    }
}

/// The up script of a plan: every statement of every step, in order, each ending `;`.
/// A step that must run outside a transaction puts `-- no-transaction` on the first line
/// (the runner's directive), so callers that need one file per such step can split on it.
pub fn render_up(plan: &Plan) -> String {
    script(plan.steps.iter().map(|s| (s, &s.up)))
}

/// The down script: the `down` statements of every step, steps in reverse order.
pub fn render_down(plan: &Plan) -> String {
    script(plan.steps.iter().rev().map(|s| (s, &s.down)))
}

fn script<'a>(steps: impl Iterator<Item = (&'a Step, &'a Vec<String>)>) -> String {
    let mut out = String::new();
    let mut no_transaction = false;
    for (step, statements) in steps {
        no_transaction |= step.no_transaction && !statements.is_empty();
        for statement in statements {
            out.push_str(statement.trim_end().trim_end_matches(';'));
            out.push_str(";\n");
        }
    }
    if no_transaction {
        out.insert_str(0, "-- no-transaction\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_ident_leaves_plain_names_bare() {
        assert_eq!(quote_ident("users"), "users");
        assert_eq!(quote_ident("user_id2"), "user_id2");
    }

    #[test]
    fn quote_ident_quotes_mixed_case_reserved_and_odd_names() {
        assert_eq!(quote_ident("Users"), "\"Users\"");
        assert_eq!(quote_ident("user"), "\"user\"");
        assert_eq!(quote_ident("order"), "\"order\"");
        assert_eq!(quote_ident("a b"), "\"a b\"");
        assert_eq!(quote_ident("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quote_ident("1abc"), "\"1abc\"");
        assert_eq!(quote_ident(""), "\"\"");
    }

    #[test]
    fn quote_literal_escapes_quotes_and_backslashes() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("a\\b"), "E'a\\\\b'");
    }

    #[test]
    fn qualified_quotes_each_part() {
        assert_eq!(qualified("public", "Order Items"), "public.\"Order Items\"");
    }

    #[test]
    fn render_down_reverses_steps() {
        let plan = Plan {
            steps: vec![
                Step::new(
                    "a",
                    vec!["CREATE TABLE a ()".into()],
                    vec!["DROP TABLE a".into()],
                ),
                Step::new(
                    "b",
                    vec!["CREATE TABLE b ()".into()],
                    vec!["DROP TABLE b".into()],
                ),
            ],
            ..Plan::default()
        };
        assert_eq!(render_up(&plan), "CREATE TABLE a ();\nCREATE TABLE b ();\n");
        assert_eq!(render_down(&plan), "DROP TABLE b;\nDROP TABLE a;\n");
    }
}
