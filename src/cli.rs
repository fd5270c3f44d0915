//! The command line: clap derive structs whose doc comments are the `--help` text.
//!
//! Owns argument parsing only. It never reads the environment or the config file: that is
//! `config.rs`, which takes these structs as the last (strongest) layer of settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Schema migrations for PostgreSQL: a watcher for development, a safe entrypoint for
/// production, and the operator's CLI.
///
/// With no command, `migrated` runs the watcher (`migrated watch`).
#[derive(Debug, Parser)]
#[command(name = "migrated", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    /// One production pass: wait for the database, lock, validate, back up if configured,
    /// apply pending migrations, then exec the command given after `--`.
    #[arg(long)]
    pub once: bool,

    /// With --once: how long to wait for the database to accept connections, in seconds.
    #[arg(long, value_name = "SECONDS", requires = "once")]
    pub wait_timeout: Option<u64>,

    /// With --once: the application command to exec after migrating (same PID).
    #[arg(last = true, value_name = "CMD")]
    pub exec: Vec<String>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every command accepts.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// The config file [default: config/migrated.toml when it exists].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The database to manage. Overrides DATABASE_URL and the config file.
    #[arg(long, global = true, value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// How diagnostics are written to stderr (and to logs/migrated.log by the daemon).
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
}

/// Diagnostic output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scaffold config/, models/ and migrations/ in DIR (default: the working directory).
    Init(InitArgs),
    /// The development daemon: watch models and migrations, generate, apply.
    Watch,
    /// Generate a verified migration from the difference between the models and the head state.
    Generate(GenerateArgs),
    /// Give the draft migration its name.
    Commit(CommitArgs),
    /// Print the SQL that turns one schema into another.
    Diff(DiffArgs),
    /// Apply pending migrations.
    Up(UpArgs),
    /// Revert applied migrations.
    Down(DownArgs),
    /// Current version, pending migrations, draft and drift.
    Status(JsonArgs),
    /// Applied migrations and the audit trail.
    History(JsonArgs),
    /// Print the current version.
    Current,
    /// Record a version as applied (or `base`: nothing applied) without running any SQL.
    Stamp(StampArgs),
    /// CI gate: models equal the head state, migrated.sum is valid, no draft exists.
    Check,
    /// Report the hazards of migrations (all of them, or the given versions).
    Lint(LintArgs),
    /// Compare applied checksums with the files and check migrations/migrated.sum.
    Validate,
    /// Realign checksums of deliberately edited files and remove failed entries.
    Repair,
    /// Backups: take, restore, reset.
    #[command(subcommand)]
    Db(DbCommand),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The project folder to scaffold.
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What the migration does; becomes the file name's slug.
    #[arg(short, long, value_name = "MSG")]
    pub message: Option<String>,
    /// Write an empty migration pair to fill in by hand.
    #[arg(long)]
    pub empty: bool,
}

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// What the migration does; becomes the file name's slug.
    #[arg(short, long, value_name = "MSG")]
    pub message: String,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Where to start: a postgres:// URL, a models directory, or migrations:DIR (its head state).
    #[arg(long, value_name = "SRC")]
    pub from: String,
    /// Where to end, in the same forms as --from.
    #[arg(long, value_name = "SRC")]
    pub to: String,
    /// Print the reverse migration (to -> from) instead.
    #[arg(long)]
    pub down: bool,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// `head` (default), `+N` for the next N, or a version to stop at.
    #[arg(value_name = "TARGET", default_value = "head")]
    pub target: String,
    /// Print the SQL that would run instead of running it.
    #[arg(long)]
    pub sql: bool,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// `-1` (default), `-N` for the last N, a version to go back to, or `base` for all.
    #[arg(
        value_name = "TARGET",
        default_value = "-1",
        allow_hyphen_values = true
    )]
    pub target: String,
    /// Print the SQL that would run instead of running it.
    #[arg(long)]
    pub sql: bool,
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StampArgs {
    /// A version, `head` or `base`.
    #[arg(value_name = "VERSION")]
    pub target: String,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Versions to lint (default: every migration).
    #[arg(value_name = "VERSION")]
    pub versions: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Take a consistent, compressed, plain-SQL backup.
    Backup(BackupArgs),
    /// Restore a backup taken by `db backup` (or any plain SQL gzip).
    Restore(RestoreArgs),
    /// Drop every managed object and reapply all migrations.
    Reset(ResetArgs),
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the backup [default: backups/<db>-<UTC timestamp>-manual.sql.gz].
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Proceed even when some objects cannot be captured; they are listed in the file header.
    #[arg(long)]
    pub allow_incomplete: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file (.sql.gz or .sql).
    pub file: PathBuf,
    /// Drop every object in the target database first.
    #[arg(long)]
    pub clean: bool,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Confirm that every object in the database may be dropped.
    #[arg(long)]
    pub yes: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn once_takes_trailing_command() {
        let cli = Cli::try_parse_from([
            "migrated", "--once", "--", "uvicorn", "app:app", "--port", "8000",
        ])
        .unwrap();
        assert!(cli.once);
        assert_eq!(cli.exec, ["uvicorn", "app:app", "--port", "8000"]);
        assert!(cli.command.is_none());
    }

    #[test]
    fn down_accepts_negative_target() {
        let cli = Cli::try_parse_from(["migrated", "down", "-3"]).unwrap();
        let Some(Command::Down(args)) = cli.command else {
            panic!("not down")
        };
        assert_eq!(args.target, "-3");
    }
}
