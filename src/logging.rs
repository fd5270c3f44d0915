//! Diagnostics: tracing to stderr (text or JSON), plus `logs/migrated.log` for the daemon.
//!
//! Returns the appender's guard: the caller keeps it alive for the life of the process and
//! drops it before `exec` (exec runs no destructors, so an undropped guard loses the tail of
//! the log). The file writer is built with `lossy(false)`: migration logs must not drop lines.

use std::path::Path;

use anyhow::Context as _;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _, fmt};

use crate::cli::LogFormat;

/// Where diagnostics go.
pub struct LogTargets<'a> {
    pub format: LogFormat,
    /// Default filter directive (`info`); `MIGRATED_LOG` or `RUST_LOG` in the env map win.
    pub level: &'a str,
    /// The daemon's log folder; `None` for one-shot commands.
    pub file_dir: Option<&'a Path>,
    /// The daemon's events are its output: they go to stdout. Other commands keep stdout
    /// for results and log to stderr.
    pub to_stdout: bool,
}

/// Installs the global subscriber. Call once.
pub fn init(
    targets: &LogTargets<'_>,
    env_filter: Option<&str>,
) -> anyhow::Result<Option<WorkerGuard>> {
    let filter = || {
        EnvFilter::try_new(env_filter.unwrap_or(targets.level))
            .unwrap_or_else(|_| EnvFilter::new("info"))
    };
    let json = targets.format == LogFormat::Json;
    let writer = if targets.to_stdout {
        BoxMakeWriter::new(std::io::stdout)
    } else {
        BoxMakeWriter::new(std::io::stderr)
    };
    let console = fmt::layer().with_target(false).with_writer(writer);
    let console = if json {
        console.json().flatten_event(true).boxed()
    } else {
        console.boxed()
    };
    let registry = tracing_subscriber::registry().with(console.with_filter(filter()));
    let Some(dir) = targets.file_dir else {
        registry
            .try_init()
            .context("installing the log subscriber")?;
        return Ok(None);
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating log folder {}", dir.display()))?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("migrated")
        .filename_suffix("log")
        .latest_symlink("migrated.log")
        .max_log_files(14)
        .build(dir)
        .with_context(|| format!("opening the log file in {}", dir.display()))?;
    let (writer, guard) = NonBlockingBuilder::default().lossy(false).finish(appender);
    let file = fmt::layer()
        .with_writer(writer)
        .with_ansi(false)
        .with_target(false);
    let file = if json {
        file.json().flatten_event(true).boxed()
    } else {
        file.boxed()
    };
    registry
        .with(file.with_filter(filter()))
        .try_init()
        .context("installing the log subscriber")?;
    Ok(Some(guard))
}
