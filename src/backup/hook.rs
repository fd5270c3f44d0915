//! Backups around `up`: the backup taken before pending migrations are applied
//! (`backup.before_apply`), and the restore offered when a `-- no-transaction` migration
//! fails half-way (`backup.rollback_on_fail`): such a file cannot be rolled back by the
//! server, so the CLI prints the exact command that brings the database back to the backup.
//!
//! With `rollback_on_fail` and no `before_apply`, a backup is still taken when a pending
//! migration is `-- no-transaction` (the only case where the restore is ever offered).

use std::path::{Path, PathBuf};

use sqlx::PgConnection;

use crate::config::{Config, DatabaseUrl};
use crate::core::migration::{MigrationSet, UpTarget, plan_up};
use crate::db::apply::ApplyError;
use crate::db::history;

/// Takes the pre-apply backup when the config asks for one and something is pending;
/// returns its path (for the events table and the restore hint).
pub async fn before_up(
    config: &Config,
    url: &DatabaseUrl,
    conn: &mut PgConnection,
    set: &MigrationSet,
    target: UpTarget,
) -> anyhow::Result<Option<PathBuf>> {
    if !config.backup.before_apply && !config.backup.rollback_on_fail {
        return Ok(None);
    }
    let applied = history::read(conn).await?.unwrap_or_default();
    let plan = plan_up(set, &applied, target)?;
    let Some(first) = plan.versions.first() else {
        return Ok(None);
    };
    let risky = plan
        .versions
        .iter()
        .filter_map(|v| set.migrations.get(v))
        .any(|m| m.up.no_transaction);
    if !config.backup.before_apply && !risky {
        return Ok(None);
    }
    let path = super::backup_before_apply(config, url, &first.to_string()).await?;
    Ok(Some(path))
}

/// The restore command to print when `err` is a failed `-- no-transaction` migration and a
/// backup was taken before the run (only with `backup.rollback_on_fail`).
pub fn restore_hint(config: &Config, err: &anyhow::Error, backup: Option<&Path>) -> Option<String> {
    let backup = backup?;
    let failed = err.downcast_ref::<ApplyError>()?;
    if !config.backup.rollback_on_fail || failed.no_transaction_progress.is_none() {
        return None;
    }
    Some(format!(
        "migration {} ran without a transaction and stopped half-way; to bring the database \
         back to its state before this run:\n  migrated db restore --clean {}",
        failed.version,
        shell_quote(&backup.display().to_string())
    ))
}

/// Single-quotes a word for a POSIX shell when it needs it.
fn shell_quote(word: &str) -> String {
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | ':' | '+'));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_quotes_only_when_needed() {
        assert_eq!(shell_quote("/b/db-1.sql.gz"), "/b/db-1.sql.gz");
        assert_eq!(shell_quote("/my b/it's.gz"), "'/my b/it'\\''s.gz'");
    }
}
