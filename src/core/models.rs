//! Model files as data: split into statements with PostgreSQL's own parser (pg_query),
//! what each statement creates and references, a dependency order that does not depend on the
//! order of the files, and the rename hints the files carry.
//!
//! Pure: the caller reads the files (or runs the models command) and passes their text in.
//! Nothing here touches a database; a syntax error is reported as `file:line:column: message`
//! before anything else happens.

mod hints;
pub mod incremental;
mod objects;
mod order;
mod split;

use std::fmt;

use crate::core::hints::RenameHints;

pub use objects::{ObjectKind, ObjectName};

/// One model file (or the output of the models command), by the name errors show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    pub text: String,
}

/// One statement of the models, with where it comes from and what it touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The file it was read from, as given in `Source::name`.
    pub file: String,
    /// 1-based line and column of its first token in that file.
    pub line: usize,
    pub column: usize,
    /// The statement as written (no trailing `;`), or rewritten when an FK was split out.
    pub sql: String,
    /// Identity of the statement: equal for reformatting and comments, different for any
    /// change of names or constants (pg_query's own fingerprint ignores constants, so it is
    /// not used).
    pub fingerprint: String,
    /// The objects it creates.
    pub creates: Vec<ObjectName>,
    /// The objects it modifies without creating them (`ALTER TABLE t`, `COMMENT ON`, triggers).
    pub alters: Vec<ObjectName>,
    /// The objects it needs to exist before it runs.
    pub references: Vec<ObjectName>,
    /// The tables of `references` that a `CREATE TABLE` needs only for its foreign keys:
    /// the desired shadow can recreate them without recreating this table (it detaches and
    /// reattaches the keys).
    pub foreign_keys: Vec<ObjectName>,
}

impl Statement {
    /// `file:line`, for messages.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// Whether undoing it is known: it creates or alters named objects.
    pub fn is_undoable(&self) -> bool {
        !self.creates.is_empty() || !self.alters.is_empty()
    }
}

/// The models, loaded: statements in dependency order and the rename hints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelSet {
    pub statements: Vec<Statement>,
    pub hints: RenameHints,
}

/// Why the models cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}:{line}: {message}")]
    Hint {
        file: String,
        line: usize,
        message: String,
    },
    #[error("the models have a dependency cycle that cannot be broken: {0}")]
    Cycle(Cycle),
}

/// The statements of a dependency cycle, in order (`file:line` and what they create).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle(pub Vec<String>);

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" -> "))
    }
}

/// Splits, analyzes and orders every source. Sources are taken in name order, so the result
/// does not depend on the order the caller listed them in.
pub fn load(sources: &[Source]) -> Result<ModelSet, ModelError> {
    let mut sorted: Vec<&Source> = sources.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut parsed = Vec::new();
    let mut hints = RenameHints::default();
    for source in sorted {
        let statements = split::split(source)?;
        let found = hints::extract(source, &statements)?;
        hints.tables.extend(found.tables);
        hints.columns.extend(found.columns);
        parsed.extend(statements);
    }
    let statements = order::order(parsed)?;
    Ok(ModelSet { statements, hints })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(name: &str, text: &str) -> Source {
        Source {
            name: name.to_owned(),
            text: text.to_owned(),
        }
    }

    fn creates(set: &ModelSet) -> Vec<String> {
        set.statements
            .iter()
            .map(|s| {
                s.creates
                    .first()
                    .map_or_else(|| s.sql.clone(), ToString::to_string)
            })
            .collect()
    }

    #[test]
    fn load_file_order_reversed_same_statement_order() {
        let a = source(
            "a.sql",
            "CREATE TABLE posts (id int PRIMARY KEY, author int REFERENCES users (id));",
        );
        let b = source("b.sql", "CREATE TABLE users (id int PRIMARY KEY);");
        let one = load(&[a.clone(), b.clone()]).unwrap();
        let two = load(&[b, a]).unwrap();
        assert_eq!(one, two);
        assert_eq!(
            creates(&one),
            ["relation public.users", "relation public.posts"]
        );
    }

    #[test]
    fn load_syntax_error_reports_file_line_column() {
        let err = load(&[source(
            "models/users.sql",
            "CREATE TABLE a (id int);\n\n-- note\nCREATE TABL b (id int);\n",
        )])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "models/users.sql:4:8: syntax error at or near \"TABL\""
        );
    }

    #[test]
    fn load_error_at_end_of_input_points_past_the_statement() {
        let err = load(&[source("m.sql", "CREATE TABLE a (\n  id int,\n")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("m.sql:2:10: syntax error at end of input"),
            "{err}"
        );
    }

    #[test]
    fn load_fk_cycle_is_split_into_alter_table() {
        let set = load(&[source(
            "m.sql",
            "CREATE TABLE a (id int PRIMARY KEY, b_id int REFERENCES b (id));\n\
             CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a (id));\n",
        )])
        .unwrap();
        let sqls: Vec<&str> = set.statements.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(sqls.len(), 4, "{sqls:#?}");
        assert!(sqls[0].starts_with("CREATE TABLE a") && !sqls[0].contains("REFERENCES"));
        assert!(sqls[1].starts_with("CREATE TABLE b") && !sqls[1].contains("REFERENCES"));
        assert!(
            sqls[2].starts_with("ALTER TABLE a ADD CONSTRAINT") || sqls[2].contains("ALTER TABLE")
        );
        assert!(
            sqls[2..].iter().all(|s| s.contains("FOREIGN KEY")),
            "{sqls:#?}"
        );
    }

    #[test]
    fn load_view_cycle_is_an_error_naming_it() {
        let err = load(&[source(
            "v.sql",
            "CREATE VIEW a AS SELECT * FROM b;\nCREATE VIEW b AS SELECT * FROM a;\n",
        )])
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("v.sql:1") && text.contains("v.sql:2"),
            "{text}"
        );
    }

    #[test]
    fn load_fingerprint_ignores_format_not_constants() {
        let fp = |sql: &str| {
            load(&[source("f.sql", sql)]).unwrap().statements[0]
                .fingerprint
                .clone()
        };
        assert_eq!(
            fp("CREATE TABLE a (id int DEFAULT 1)"),
            fp("CREATE TABLE a (\n  id  int DEFAULT 1 -- note\n)")
        );
        assert_ne!(
            fp("CREATE TABLE a (id int DEFAULT 1)"),
            fp("CREATE TABLE a (id int DEFAULT 2)")
        );
    }
}
