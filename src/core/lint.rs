//! Hazards of migration SQL, hand-written or generated: squawk's linter (embedded as a library,
//! `squawk-linter`) with the rules that match the hazards of DESIGN.md, each mapped onto a
//! `HazardKind` (renames and transaction mistakes have none: they break running code or the
//! migration itself rather than the data or the locks). Pure: text in, findings out.

use squawk_linter::{Linter, Rule};

use crate::core::hazard::HazardKind;

/// One finding in one script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based line and column in the script.
    pub line: usize,
    pub column: usize,
    /// squawk's rule name, e.g. `ban-drop-column`.
    pub rule: String,
    pub hazard: Option<HazardKind>,
    pub message: String,
    pub help: Option<String>,
}

/// The rules checked, with the hazard each one is.
const RULES: &[(Rule, Option<HazardKind>)] = &[
    (Rule::BanDropTable, Some(HazardKind::DataLoss)),
    (Rule::BanDropColumn, Some(HazardKind::DataLoss)),
    (Rule::BanDropSchema, Some(HazardKind::DataLoss)),
    (Rule::BanDropDatabase, Some(HazardKind::DataLoss)),
    (Rule::BanTruncateCascade, Some(HazardKind::DataLoss)),
    (Rule::ChangingColumnType, Some(HazardKind::TableRewrite)),
    (Rule::AddingFieldWithDefault, Some(HazardKind::TableRewrite)),
    (
        Rule::AddingSerialPrimaryKeyField,
        Some(HazardKind::AccessExclusiveLock),
    ),
    (
        Rule::AddingRequiredField,
        Some(HazardKind::AccessExclusiveLock),
    ),
    (
        Rule::AddingNotNullableField,
        Some(HazardKind::ValidationScan),
    ),
    (
        Rule::ConstraintMissingNotValid,
        Some(HazardKind::ValidationScan),
    ),
    (
        Rule::AddingForeignKeyConstraint,
        Some(HazardKind::ValidationScan),
    ),
    (
        Rule::DisallowedUniqueConstraint,
        Some(HazardKind::IndexBuild),
    ),
    (
        Rule::RequireConcurrentIndexCreation,
        Some(HazardKind::IndexBuild),
    ),
    (
        Rule::RequireConcurrentIndexDeletion,
        Some(HazardKind::AccessExclusiveLock),
    ),
    (Rule::RenamingColumn, None),
    (Rule::RenamingTable, None),
    (Rule::BanConcurrentIndexCreationInTransaction, None),
];

/// Lints one migration script. `in_transaction` says whether it runs in a transaction (every
/// migration does unless its first line is `-- no-transaction`).
pub fn lint(sql: &str, in_transaction: bool) -> Vec<Finding> {
    let parse = squawk_syntax::SourceFile::parse(sql);
    let mut linter = Linter::from(RULES.iter().map(|(rule, _)| *rule));
    linter.settings.assume_in_transaction = in_transaction;
    let lines = line_starts(sql);
    let mut findings: Vec<Finding> = linter
        .lint(&parse, sql)
        .into_iter()
        .filter_map(|v| {
            let hazard = RULES.iter().find(|(r, _)| *r == v.code).map(|(_, h)| *h)?;
            let (line, column) = position(sql, &lines, u32::from(v.text_range.start()) as usize);
            Some(Finding {
                line,
                column,
                rule: v.code.to_string(),
                hazard,
                message: v.message,
                help: v.help,
            })
        })
        .collect();
    findings.sort_by(|a, b| (a.line, a.column, &a.rule).cmp(&(b.line, b.column, &b.rule)));
    findings
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

fn position(text: &str, starts: &[usize], offset: usize) -> (usize, usize) {
    let line = starts.partition_point(|&s| s <= offset).max(1);
    let start = starts[line - 1];
    let column = text.get(start..offset).map_or(1, |s| s.chars().count() + 1);
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<(usize, Option<HazardKind>)> {
        lint(sql, true)
            .into_iter()
            .map(|f| (f.line, f.hazard))
            .collect()
    }

    #[test]
    fn lint_drop_column_and_table_are_data_loss() {
        let found = kinds("ALTER TABLE users DROP COLUMN email;\nDROP TABLE posts;\n");
        assert_eq!(
            found,
            [
                (1, Some(HazardKind::DataLoss)),
                (2, Some(HazardKind::DataLoss))
            ]
        );
    }

    #[test]
    fn lint_type_change_rewrites_and_not_valid_is_clean() {
        assert_eq!(
            kinds("ALTER TABLE users ALTER COLUMN id TYPE bigint;"),
            [(1, Some(HazardKind::TableRewrite))]
        );
        assert!(kinds("ALTER TABLE users ADD CONSTRAINT c CHECK (id > 0) NOT VALID;").is_empty());
        assert!(
            kinds("ALTER TABLE users ADD CONSTRAINT c CHECK (id > 0);")
                .contains(&(1, Some(HazardKind::ValidationScan)))
        );
    }

    #[test]
    fn lint_index_on_existing_table_needs_concurrently() {
        assert_eq!(
            kinds("CREATE INDEX users_email ON users (email);"),
            [(1, Some(HazardKind::IndexBuild))]
        );
        assert!(kinds("CREATE TABLE t (a int);\nCREATE INDEX t_a ON t (a);").is_empty());
        assert!(lint("CREATE INDEX CONCURRENTLY i ON users (email);", false).is_empty());
    }

    #[test]
    fn lint_set_not_null_and_rename_are_reported() {
        let found = lint(
            "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\nALTER TABLE users RENAME COLUMN a TO b;",
            true,
        );
        let rules: Vec<&str> = found.iter().map(|f| f.rule.as_str()).collect();
        assert!(rules.contains(&"adding-not-nullable-field"), "{rules:?}");
        assert!(rules.contains(&"renaming-column"), "{rules:?}");
    }
}
