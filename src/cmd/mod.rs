//! Command dispatch: one file per subcommand, each arm of the dispatch one call.
//!
//! This is the I/O edge: it reads the process environment and the config file, installs
//! logging, builds the runtime, and hands each command its resolved `Config`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::cli::{Cli, Command, DbCommand, GlobalArgs};
use crate::config::{Config, DEFAULT_CONFIG_PATH, Sources};
use crate::error::UsageError;
use crate::logging::{self, LogTargets};

pub mod check;
pub mod commit;
pub mod current;
pub mod db;
pub mod diff;
pub mod down;
pub mod generate;
pub mod history;
pub mod init;
pub mod lint;
pub mod repair;
pub mod stamp;
pub mod status;
pub mod up;
pub mod validate;
pub mod watch;

/// Everything a command may need from the process, read once at the edge.
pub struct Context {
    pub config: Config,
    /// The global flags, for re-resolving the config (the watcher's SIGHUP).
    pub flags: GlobalArgs,
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
}

/// Runs the parsed command line to completion.
pub fn main(cli: Cli) -> anyhow::Result<()> {
    if cli.once && cli.command.is_some() {
        return Err(UsageError(
            "--once runs on its own: it takes no command (put the app command after --)".into(),
        )
        .into());
    }
    if !cli.once && !cli.exec.is_empty() {
        return Err(UsageError("a command after -- is only used with --once".into()).into());
    }
    #[allow(clippy::disallowed_methods)] // the one place the process environment is read
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let cwd = std::env::current_dir().context("reading the working directory")?;
    let config = load_config(&cli.global, &env, &cwd)?;
    let is_daemon = !cli.once && matches!(cli.command, None | Some(Command::Watch));
    let guard = logging::init(
        &LogTargets {
            format: config.log_format,
            level: &config.log_level,
            file_dir: is_daemon.then_some(config.logs_dir.as_path()),
            to_stdout: is_daemon,
        },
        env.get("MIGRATED_LOG")
            .or_else(|| env.get("RUST_LOG"))
            .map(String::as_str),
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let ctx = Context {
        config,
        flags: cli.global.clone(),
        env,
        cwd,
    };
    let result = runtime.block_on(dispatch(cli, ctx, guard));
    // Let background tasks (connections, copy streams) wind down without blocking forever.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}

/// Reads `--config FILE`, or `config/migrated.toml` when it exists, and resolves the settings.
pub fn load_config(
    flags: &GlobalArgs,
    env: &BTreeMap<String, String>,
    cwd: &Path,
) -> anyhow::Result<Config> {
    let (path, required) = match &flags.config {
        Some(path) => (cwd.join(path), true),
        None => (cwd.join(DEFAULT_CONFIG_PATH), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => None,
        Err(e) => {
            return Err(UsageError(format!("reading config file {}: {e}", path.display())).into());
        }
    };
    let sources = Sources {
        file: text.as_deref().map(|t| (path.as_path(), t)),
        env,
        flags,
        cwd,
    };
    Ok(Config::resolve(&sources)?)
}

async fn dispatch(
    cli: Cli,
    ctx: Context,
    guard: Option<tracing_appender::non_blocking::WorkerGuard>,
) -> anyhow::Result<()> {
    if cli.once {
        return crate::once::once(&ctx, cli.wait_timeout, &cli.exec, guard).await;
    }
    match cli.command.unwrap_or(Command::Watch) {
        Command::Init(args) => init::init(&ctx, &args).await,
        Command::Watch => watch::watch(&ctx).await,
        Command::Generate(args) => generate::generate(&ctx, &args).await,
        Command::Commit(args) => commit::commit(&ctx, &args).await,
        Command::Diff(args) => diff::diff(&ctx, &args).await,
        Command::Up(args) => up::up(&ctx, &args).await,
        Command::Down(args) => down::down(&ctx, &args).await,
        Command::Status(args) => status::status(&ctx, &args).await,
        Command::History(args) => history::history(&ctx, &args).await,
        Command::Current => current::current(&ctx).await,
        Command::Stamp(args) => stamp::stamp(&ctx, &args).await,
        Command::Check => check::check(&ctx).await,
        Command::Lint(args) => lint::lint(&ctx, &args).await,
        Command::Validate => validate::validate(&ctx).await,
        Command::Repair => repair::repair(&ctx).await,
        Command::Db(DbCommand::Backup(args)) => db::backup(&ctx, &args).await,
        Command::Db(DbCommand::Restore(args)) => db::restore(&ctx, &args).await,
        Command::Db(DbCommand::Reset(args)) => db::reset(&ctx, &args).await,
    }
}
