//! `migrated validate`: applied checksums against the files (failed rows, applied files that
//! are missing or changed), and `migrations/migrated.sum` against the directory (missing,
//! stale, tampered). Exit 1 with one line naming every problem; reads only.

use super::Context;
use crate::core::migration::problems;
use crate::db::{self, history};
use crate::error::DifferencesFound;
use crate::migrations;

pub async fn validate(ctx: &Context) -> anyhow::Result<()> {
    let dir = &ctx.config.migrations_dir;
    let (set, sum) = migrations::load_with_sum(dir)?;
    let mut found: Vec<String> = sum.iter().map(ToString::to_string).collect();
    let applied = match &ctx.config.database_url {
        Some(url) => {
            let mut conn = db::connect(url).await?;
            let applied = history::read(&mut conn).await?.unwrap_or_default();
            db::close(conn).await;
            found.extend(problems(&set, &applied).iter().map(ToString::to_string));
            Some(applied.len())
        }
        None => None,
    };
    if !found.is_empty() {
        return Err(DifferencesFound(format!(
            "validate found {} problem(s): {}",
            found.len(),
            found.join("; ")
        ))
        .into());
    }
    match applied {
        Some(n) => println!(
            "ok: {n} applied migration(s) match their files; migrated.sum matches {} migration(s)",
            set.migrations.len()
        ),
        None => println!(
            "ok: migrated.sum matches {} migration(s) (no database configured: applied checksums not checked)",
            set.migrations.len()
        ),
    }
    Ok(())
}
