//! `migrated init [DIR]`: scaffold a project: `config/migrated.toml` with every key
//! commented out at its default, `models/`, and `migrations/` with its `migrated.sum`.
//! Never overwrites an existing file.

use std::path::Path;

use anyhow::Context as _;

use super::Context;
use crate::cli::InitArgs;
use crate::core::migration::SUM_FILE_NAME;
use crate::migrations;

/// The scaffolded config: every key, commented, at its default.
const CONFIG: &str = r#"# migrated settings. Every key is optional; the values shown are the defaults.
# Every key has an environment override MIGRATED_<SECTION>_<KEY> (MIGRATED_<KEY> at the top),
# e.g. MIGRATED_WATCH_POLL=true. The database comes from DATABASE_URL or --database-url:
# never commit a password here.

# "development" (the watcher generates and applies) or "production" (only committed
# migrations are applied; `watch` refuses to start). Unset: `watch` acts as development,
# `--once` as production.
# mode = "development"
# database_url = "postgres://user@localhost:5432/app"
# Where the scratch databases live (default: <db>_shadow on the same server).
# shadow_database_url = "postgres://user@localhost:5432/app_shadow"

[paths]
# models = "models"
# migrations = "migrations"
# backups = "backups"
# logs = "logs"

[models]
# Instead of models/*.sql: a command that prints the desired schema's DDL (an ORM dump).
# command = ["python", "-m", "app.dump_schema"]
# Files whose change re-runs the command.
# watch = ["app/models"]
# command_timeout_secs = 60

[apply]
# lock_timeout for migration statements, and how often a statement that hit it is retried.
# lock_timeout_ms = 5000
# lock_retries = 3
# How long to wait for another migrator's advisory lock.
# advisory_lock_timeout_secs = 300

[watch]
# debounce_ms = 50
# Poll instead of inotify (Docker bind mounts on macOS/Windows).
# poll = false
# poll_interval_ms = 500
# auto_generate = true
# auto_apply = true
# Apply data-loss steps without review.
# allow_destructive = false

[backup]
# before_apply = false
# keep = 10
# rollback_on_fail = false
# level = 6
# jobs = 2
# split_mb = 64

[shadow]
# keep = true

[once]
# wait_timeout_secs = 60

[log]
# format = "text"
# level = "info"
"#;

pub async fn init(ctx: &Context, args: &InitArgs) -> anyhow::Result<()> {
    let root = args
        .dir
        .as_ref()
        .map_or_else(|| ctx.cwd.clone(), |d| ctx.cwd.join(d));
    create_file(&root.join("config/migrated.toml"), CONFIG)?;
    create_dir(&root.join("models"))?;
    let migrations = root.join("migrations");
    create_dir(&migrations)?;
    if migrations.join(SUM_FILE_NAME).exists() {
        println!("exists  {}", migrations.join(SUM_FILE_NAME).display());
    } else {
        let sum = migrations::write_sum(&migrations)?;
        println!("created {}", sum.display());
    }
    Ok(())
}

fn create_dir(path: &Path) -> anyhow::Result<()> {
    if path.is_dir() {
        println!("exists  {}/", path.display());
        return Ok(());
    }
    std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
    println!("created {}/", path.display());
    Ok(())
}

fn create_file(path: &Path, text: &str) -> anyhow::Result<()> {
    if path.exists() {
        println!("exists  {}", path.display());
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    println!("created {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_template_every_key_parses_when_uncommented() {
        let uncommented: String = CONFIG
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") => rest,
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let file: crate::config::ConfigFile = toml::from_str(&uncommented).unwrap();
        assert_eq!(file.apply.lock_retries, Some(3));
        assert!(file.models.command.is_some());
        let none: crate::config::ConfigFile = toml::from_str(CONFIG).unwrap();
        assert!(none.mode.is_none());
    }
}
