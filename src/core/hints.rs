//! Rename hints: what the models say was renamed (`-- migrated:renamed from=<old>`), so the
//! diff renames instead of dropping and adding. Produced by model loading, consumed by diff.

/// A table that the models say was called `from` before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRename {
    pub schema: String,
    pub from: String,
    pub to: String,
}

/// A column of table `schema.table` (its new name) that was called `from` before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnRename {
    pub schema: String,
    pub table: String,
    pub from: String,
    pub to: String,
}

/// Every rename hint found in the models.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenameHints {
    pub tables: Vec<TableRename>,
    pub columns: Vec<ColumnRename>,
}
