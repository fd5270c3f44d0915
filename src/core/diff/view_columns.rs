//! The output column names of a view's query, read with PostgreSQL's own parser, so a view
//! that only gains columns at the end can be replaced in place (`CREATE OR REPLACE VIEW`)
//! instead of dropped with its dependents.

use pg_query::NodeEnum;
use pg_query::protobuf::SelectStmt;

/// Output names of `query` (`pg_get_viewdef` text), or None when one cannot be told
/// without the catalog (an unnamed expression).
pub(crate) fn output_names(query: &str) -> Option<Vec<String>> {
    let parsed = pg_query::parse(
        query.trim().trim_end_matches(';'),
        pg_query::ParserOptions::DEFAULT,
    )
    .ok()?;
    let stmt = parsed
        .protobuf
        .stmts
        .first()?
        .stmt
        .as_ref()?
        .node
        .as_ref()?;
    let NodeEnum::SelectStmt(select) = stmt else {
        return None;
    };
    names(select)
}

fn names(select: &SelectStmt) -> Option<Vec<String>> {
    if let Some(left) = &select.larg {
        return names(left);
    }
    select
        .target_list
        .iter()
        .map(|node| {
            let NodeEnum::ResTarget(target) = node.node.as_ref()? else {
                return None;
            };
            if !target.name.is_empty() {
                return Some(target.name.clone());
            }
            let NodeEnum::ColumnRef(column) = target.val.as_ref()?.node.as_ref()? else {
                return None;
            };
            match column.fields.last()?.node.as_ref()? {
                NodeEnum::String(s) => Some(s.sval.clone()),
                _ => None,
            }
        })
        .collect()
}

/// Whether `new` keeps every output column of `old`, in order, and adds some at the end.
pub(crate) fn only_appends(old: &str, new: &str) -> bool {
    match (output_names(old), output_names(new)) {
        (Some(a), Some(b)) => a.len() < b.len() && b.starts_with(&a),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_reads_columns_and_aliases() {
        assert_eq!(
            output_names(" SELECT users.id,\n    upper(users.name) AS name\n   FROM users;"),
            Some(vec!["id".to_owned(), "name".to_owned()])
        );
    }

    #[test]
    fn only_appends_requires_the_old_columns_first() {
        let old = "SELECT t.a, t.b FROM t";
        assert!(only_appends(old, "SELECT t.a, t.b, t.c FROM t"));
        assert!(!only_appends(old, "SELECT t.b, t.a, t.c FROM t"));
        assert!(!only_appends(old, "SELECT t.a, t.b FROM t WHERE t.a > 0"));
    }
}
