//! Rename hints: a comment `-- migrated:renamed from=<old>` on the line of `CREATE TABLE`
//! renames the table, on a column's line renames the column. The old name is written as in
//! SQL: bare names are folded to lower case, `from="Old Name"` keeps its spelling.

use pg_query::NodeEnum;
use pg_query::protobuf::Token;

use super::split::{LineIndex, Parsed};
use super::{ModelError, Source};
use crate::core::hints::{ColumnRename, RenameHints, TableRename};

const MARKER: &str = "migrated:renamed";

/// Every hint in one source, attached to the statement it sits in.
pub(super) fn extract(source: &Source, statements: &[Parsed]) -> Result<RenameHints, ModelError> {
    let mut hints = RenameHints::default();
    if !source.text.contains(MARKER) {
        return Ok(hints);
    }
    let index = LineIndex::new(&source.text);
    let Ok(scan) = pg_query::scan(&source.text) else {
        return Ok(hints);
    };
    for token in &scan.tokens {
        let is_comment =
            token.token == Token::SqlComment as i32 || token.token == Token::CComment as i32;
        let (start, end) = (offset(token.start), offset(token.end));
        let Some(text) = source
            .text
            .get(start..end)
            .filter(|t| is_comment && t.contains(MARKER))
        else {
            continue;
        };
        let line = index.position(start).0;
        let error = |message: String| ModelError::Hint {
            file: source.name.clone(),
            line,
            message,
        };
        let from = parse_from(text).map_err(error)?;
        let owner = statements.iter().rev().find(|p| p.offset <= start);
        let placed = owner.is_some_and(|p| attach(p, &index, line, &from, &mut hints));
        if !placed {
            return Err(error(format!(
                "the hint `{}` must be on the line of a CREATE TABLE or of one of its columns",
                text.trim()
            )));
        }
    }
    Ok(hints)
}

fn offset(position: i32) -> usize {
    usize::try_from(position).unwrap_or(0)
}

/// Adds the hint for the table or column on `line`; false when neither is there.
fn attach(
    p: &Parsed,
    index: &LineIndex<'_>,
    line: usize,
    from: &str,
    hints: &mut RenameHints,
) -> bool {
    let NodeEnum::CreateStmt(table) = &p.node else {
        return false;
    };
    let Some(rv) = &table.relation else {
        return false;
    };
    let schema = if rv.schemaname.is_empty() {
        "public"
    } else {
        &rv.schemaname
    };
    let line_of = |location: i32| index.position(offset(location)).0;
    if line == p.statement.line || line == line_of(rv.location) {
        hints.tables.push(TableRename {
            schema: schema.to_owned(),
            from: from.to_owned(),
            to: rv.relname.clone(),
        });
        return true;
    }
    let column = table.table_elts.iter().find_map(|e| match &e.node {
        Some(NodeEnum::ColumnDef(c)) if line_of(c.location) == line => Some(c.colname.clone()),
        _ => None,
    });
    column.is_some_and(|to| {
        hints.columns.push(ColumnRename {
            schema: schema.to_owned(),
            table: rv.relname.clone(),
            from: from.to_owned(),
            to,
        });
        true
    })
}

/// The old name in `.. migrated:renamed from=<name>`.
fn parse_from(comment: &str) -> Result<String, String> {
    let rest = comment
        .split(MARKER)
        .nth(1)
        .unwrap_or_default()
        .trim_start();
    let Some(value) = rest.strip_prefix("from=") else {
        return Err(format!(
            "a rename hint needs `from=<old name>`: {}",
            comment.trim()
        ));
    };
    if let Some(quoted) = value.strip_prefix('"') {
        let mut name = String::new();
        let mut chars = quoted.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    name.push('"');
                    chars.next();
                }
                '"' => return Ok(name),
                c => name.push(c),
            }
        }
        return Err(format!(
            "unterminated quoted name in rename hint: {}",
            comment.trim()
        ));
    }
    let bare: String = value
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
        .collect();
    if bare.is_empty() {
        return Err(format!(
            "a rename hint needs `from=<old name>`: {}",
            comment.trim()
        ));
    }
    Ok(bare.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::super::{Source, load};
    use super::*;

    fn hints(text: &str) -> Result<RenameHints, ModelError> {
        load(&[Source {
            name: "m.sql".into(),
            text: text.into(),
        }])
        .map(|set| set.hints)
    }

    #[test]
    fn hint_on_create_table_line_renames_table() {
        let h = hints("CREATE TABLE app.people ( -- migrated:renamed from=Users\n  id int\n);")
            .unwrap();
        assert_eq!(
            h.tables,
            [TableRename {
                schema: "app".into(),
                from: "users".into(),
                to: "people".into()
            }]
        );
        assert!(h.columns.is_empty());
    }

    #[test]
    fn hint_on_column_line_renames_column_quoted_name_kept() {
        let h = hints(
            "CREATE TABLE t (\n  id int,\n  email text -- migrated:renamed from=\"E Mail\"\n);",
        )
        .unwrap();
        assert_eq!(
            h.columns,
            [ColumnRename {
                schema: "public".into(),
                table: "t".into(),
                from: "E Mail".into(),
                to: "email".into()
            }]
        );
    }

    #[test]
    fn hint_elsewhere_is_an_error_with_its_line() {
        let err = hints(
            "CREATE TABLE t (id int);\n\n-- migrated:renamed from=x\nCREATE VIEW v AS SELECT 1;",
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("m.sql:3: "), "{err}");
    }

    #[test]
    fn hint_inside_string_is_not_a_hint() {
        let h =
            hints("CREATE TABLE t (id int);\nCOMMENT ON TABLE t IS '-- migrated:renamed from=x';")
                .unwrap();
        assert_eq!(h, RenameHints::default());
    }
}
