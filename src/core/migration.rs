//! Migration files as data: names <-> versions, checksums, the sum file, and the plan of what
//! is pending or applied. Pure: the caller lists the directory, reads the files and the state
//! table, and hands the bytes and rows in; this module decides, `db::apply` acts.
//!
//! Compatible with sqlx-cli: `<version>_<slug>.up.sql` / `.down.sql` (or a plain
//! `<version>_<slug>.sql`, up only), the description is the slug with `_` turned into spaces,
//! the checksum is SHA-384 of the exact file bytes, and a file whose very first bytes are
//! `-- no-transaction` runs outside a transaction.
//!
//! - `file`: file names, scripts, the set of migrations in a directory.
//! - `checksum`: SHA-384, and the CRLF-tolerant comparison with a recorded checksum.
//! - `plan`: targets (`head`, `+N`, `-N`, a version, `base`) and what to apply or revert.
//! - `sum`: `migrations/migrated.sum` (its format is documented there).
//! - `offline`: the SQL of a plan for `--sql`, state-table statements included.
//! - `statement`: splitting a script into statements and mapping error positions to lines.

mod checksum;
mod file;
mod offline;
mod plan;
mod statement;
mod sum;

pub use checksum::{checksum, checksum_matches, normalize_newlines};
pub use file::{
    FileKind, FileName, Migration, MigrationSet, NO_TRANSACTION_DIRECTIVE, Script, SourceFile,
    file_names, parse_file_name, slugify, version_at,
};
pub use offline::{StateTable, offline_sql};
pub use plan::{
    AppliedMigration, Direction, DownTarget, Plan, RepairPlan, StampPlan, StampTarget, TargetError,
    UpTarget, current_version, pending, plan_down, plan_repair, plan_stamp, plan_up, problems,
    verify,
};
pub use statement::{Statement, line_at, locate, split_statements};
pub use sum::{SumProblem, check_sum, sum_file_contents};

/// The file in the migrations directory that pins every migration file's hash.
pub const SUM_FILE_NAME: &str = "migrated.sum";

/// Everything that can be wrong with migration files or their recorded state. Each message
/// names the file or version it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MigrationError {
    #[error(
        "malformed migration file name {file:?}: {reason} (expected <version>_<slug>.up.sql, .down.sql or .sql)"
    )]
    MalformedName { file: String, reason: String },
    #[error("duplicate migration version {version}: {first} and {second}")]
    DuplicateVersion {
        version: i64,
        first: String,
        second: String,
    },
    #[error("down file {file} has no matching up file")]
    OrphanDown { file: String },
    #[error("migration file {file} is not valid UTF-8")]
    NotUtf8 { file: String },
    #[error("migration {version} has no down file (expected {expected})")]
    MissingDownFile { version: i64, expected: String },
    #[error(
        "migration {version} ({description}) is applied but its file is missing from the migrations directory"
    )]
    AppliedMissing { version: i64, description: String },
    #[error(
        "migration {version} was applied but its file changed: {file} (checksum mismatch; restore the file, or run `migrated repair` if the edit was deliberate)"
    )]
    ChecksumMismatch { version: i64, file: String },
    #[error(
        "migration {version} ({description}) is recorded as failed (success = false): check the database by hand, then run `migrated repair` to remove the entry"
    )]
    Failed { version: i64, description: String },
    #[error("unknown migration version {version}: no file and no applied entry has it")]
    UnknownVersion { version: i64 },
    #[error("cannot go back {requested} migrations: only {applied} are applied")]
    NotEnoughApplied { requested: usize, applied: usize },
}
