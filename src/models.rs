//! Reading the models: every `*.sql` file under the models directory (any depth, any order),
//! or the standard output of the configured models command (an ORM's DDL dump), then handing
//! the text to the pure loader (`core::models`). I/O only: splitting, ordering and hints live
//! in the core.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;

use crate::config::Config;
use crate::core::models::{ModelSet, Source};

/// Where the models come from.
#[derive(Debug, Clone)]
pub enum Origin {
    /// `*.sql` files under a directory; names in errors are relative to `base`.
    Dir { dir: PathBuf, base: PathBuf },
    /// A command whose stdout is the DDL, run in `cwd`, killed after `timeout`.
    Command {
        argv: Vec<String>,
        cwd: PathBuf,
        timeout: Duration,
    },
}

impl Origin {
    /// The project's models: the command when one is configured, else the directory.
    pub fn from_config(config: &Config, cwd: &Path) -> Self {
        match &config.models_command {
            Some(argv) if !argv.is_empty() => Self::Command {
                argv: argv.clone(),
                cwd: cwd.to_path_buf(),
                timeout: config.models_command_timeout,
            },
            _ => Self::Dir {
                dir: config.models_dir.clone(),
                base: cwd.to_path_buf(),
            },
        }
    }
}

/// Reads and loads the models. Errors name the file, line and column (or the command).
pub async fn load(origin: &Origin) -> anyhow::Result<ModelSet> {
    let sources = read(origin).await?;
    Ok(crate::core::models::load(&sources)?)
}

/// The text of every model source.
pub async fn read(origin: &Origin) -> anyhow::Result<Vec<Source>> {
    match origin {
        Origin::Dir { dir, base } => read_dir(dir, base),
        Origin::Command { argv, cwd, timeout } => Ok(vec![run_command(argv, cwd, *timeout).await?]),
    }
}

/// Every `*.sql` file under `dir`, sorted by path. Hidden files and folders (editor swap
/// files, `.git`) are skipped.
pub fn read_dir(dir: &Path, base: &Path) -> anyhow::Result<Vec<Source>> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading model file {}", path.display()))?;
            let name = path
                .strip_prefix(base)
                .unwrap_or(&path)
                .display()
                .to_string();
            Ok(Source { name, text })
        })
        .collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading the models directory {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry
            .file_type()
            .with_context(|| format!("reading {}", path.display()))?;
        if kind.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "sql") {
            files.push(path);
        }
    }
    Ok(())
}

/// Runs the models command; its stdout is one source named after the command.
async fn run_command(argv: &[String], cwd: &Path, timeout: Duration) -> anyhow::Result<Source> {
    let name = argv.join(" ");
    let (program, args) = argv.split_first().context("the models command is empty")?;
    let child = tokio::process::Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("models command `{name}`: cannot start it"))?;
    let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(output) => output.with_context(|| format!("models command `{name}`"))?,
        Err(_) => anyhow::bail!(
            "models command `{name}`: timed out after {}s (models_command_timeout)",
            timeout.as_secs_f64()
        ),
    };
    if !output.status.success() {
        let code = output
            .status
            .code()
            .map_or_else(|| "a signal".to_owned(), |c| c.to_string());
        let stderr = String::from_utf8_lossy(&output.stderr);
        anyhow::bail!(
            "models command `{name}`: exited with code {code}: {}",
            stderr.trim()
        );
    }
    let text = String::from_utf8(output.stdout)
        .map_err(|_| anyhow::anyhow!("models command `{name}`: its output is not UTF-8"))?;
    Ok(Source { name, text })
}
