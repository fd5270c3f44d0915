//! Whole-object DDL: CREATE / DROP / COMMENT statements for every object kind of the schema
//! model, and the dump of a whole schema split like pg_dump's sections (`dump_ddl`).
//!
//! Statements carry no trailing `;`. Every identifier goes through `core::render`'s quoting
//! helpers; definitions the server rendered (`pg_get_*def`, `pg_get_expr`, `format_type`)
//! are emitted verbatim. Pure: data in, SQL text out. The diff reuses these for whole-object
//! adds and drops; backup uses `dump_ddl`.

mod dump;
mod objects;
mod table;

pub use dump::{DumpDdl, create_statements, dump_ddl};
pub use objects::{
    create_composite, create_domain, create_enum, create_extension, create_function, create_schema,
    create_sequence, create_view, drop_composite, drop_domain, drop_enum, drop_extension,
    drop_function, drop_schema, drop_sequence, drop_view, sequence_owned_by,
};
pub use table::{
    add_constraint, attach_partition, create_index, create_policy, create_table, create_trigger,
    drop_constraint, drop_index, drop_policy, drop_table, drop_trigger, enable_rls,
    trigger_enabled_state,
};

use crate::core::render::quote_literal;

/// `COMMENT ON <kind> <target> IS '<text>'` (or `IS NULL` to remove a comment).
/// `target` is already quoted (a `QualifiedName`'s Display, `col ON table`, ...).
pub fn comment_on(kind: &str, target: &str, comment: Option<&str>) -> String {
    let value = comment.map_or_else(|| "NULL".to_owned(), quote_literal);
    format!("COMMENT ON {kind} {target} IS {value}")
}

/// The comment statement for an object that has one, none otherwise (for creation, where
/// "no comment" needs no statement).
fn comment_if(kind: &str, target: &str, comment: Option<&String>) -> Option<String> {
    comment.map(|c| comment_on(kind, target, Some(c)))
}

/// Server-rendered definitions end with `;` or a newline; statements here carry neither.
fn trim_statement(text: &str) -> &str {
    text.trim().trim_end_matches(';').trim_end()
}

/// `reloptions` entries (`fillfactor=70`) as a `WITH (...)` clause, empty when none.
fn with_options(options: &[String]) -> String {
    if options.is_empty() {
        return String::new();
    }
    let items: Vec<String> = options
        .iter()
        .map(|option| match option.split_once('=') {
            Some((key, value)) => format!("{key}={}", quote_literal(value)),
            None => option.clone(),
        })
        .collect();
    format!(" WITH ({})", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_on_quotes_text_and_removes_with_null() {
        assert_eq!(
            comment_on("TABLE", "public.t", Some("it's")),
            "COMMENT ON TABLE public.t IS 'it''s'"
        );
        assert_eq!(
            comment_on("TABLE", "public.t", None),
            "COMMENT ON TABLE public.t IS NULL"
        );
    }

    #[test]
    fn trim_statement_drops_semicolon_and_whitespace() {
        assert_eq!(trim_statement(" SELECT 1;\n"), "SELECT 1");
    }

    #[test]
    fn with_options_quotes_values() {
        assert_eq!(
            with_options(&["fillfactor=70".to_owned()]),
            " WITH (fillfactor='70')"
        );
        assert_eq!(with_options(&[]), "");
    }
}
