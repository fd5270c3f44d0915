//! `migrated commit -m MSG`: names the draft. Its files are renamed to `<version>_<slug>`
//! (the header's title becomes MSG), the sum is rewritten, and when the draft is applied in
//! the configured database its `_sqlx_migrations` row gets the new description and checksum.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::Context;
use crate::cli::CommitArgs;
use crate::core::migration::{checksum, slugify};
use crate::pipeline::{self, DRAFT_SLUG};

pub async fn commit(ctx: &Context, args: &CommitArgs) -> anyhow::Result<()> {
    let dir = &ctx.config.migrations_dir;
    let Some((up, down)) = pipeline::draft_files(dir)? else {
        anyhow::bail!("there is no draft migration to commit in {}", dir.display());
    };
    let version = version_of(&up)?;
    let slug = slugify(&args.message);
    // Under the migration lock when the database is reachable: a watcher applying committed
    // migrations (it reads them under the same lock) must not see the renamed files before
    // the state row follows them.
    let name = async |conn: Option<&mut sqlx::PgConnection>| {
        let new_up = rename(
            &up,
            &dir.join(format!("{version}_{slug}.up.sql")),
            &args.message,
        )?;
        let new_down = rename(
            &down,
            &dir.join(format!("{version}_{slug}.down.sql")),
            &args.message,
        )?;
        pipeline::write_sum(dir)?;
        if let Some(conn) = conn {
            realign_applied(conn, version, &slug, &new_up.1).await?;
        }
        anyhow::Ok((new_up, new_down))
    };
    let (new_up, new_down) = match connect(ctx).await {
        Some(mut conn) => {
            crate::db::lock::with_lock(
                &mut conn,
                ctx.config.advisory_lock_timeout,
                async |conn: &mut sqlx::PgConnection| name(Some(conn)).await,
            )
            .await?
        }
        None => name(None).await?,
    };
    println!("{}\n{}", new_up.0.display(), new_down.0.display());
    Ok(())
}

fn version_of(path: &Path) -> anyhow::Result<i64> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    name.split('_')
        .next()
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("BUG: draft file {} has no version", path.display()))
}

/// Writes the file under its new name with its title replaced, removes the draft file.
/// Returns the new path and bytes.
fn rename(from: &Path, to: &Path, title: &str) -> anyhow::Result<(PathBuf, Vec<u8>)> {
    let text = match std::fs::read_to_string(from) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", from.display())),
    };
    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = text.replacen(&format!("-- {DRAFT_SLUG} ("), &format!("-- {title} ("), 1);
    std::fs::write(to, &text).with_context(|| format!("writing {}", to.display()))?;
    if from != to {
        std::fs::remove_file(from).with_context(|| format!("removing {}", from.display()))?;
    }
    Ok((to.to_path_buf(), text.into_bytes()))
}

/// Updates the draft's row in the configured database, if it is applied there.
/// The configured database, if it can be reached (a commit without one only renames files).
async fn connect(ctx: &Context) -> Option<sqlx::PgConnection> {
    let url = ctx.config.database_url.as_ref()?;
    match crate::db::connect(url).await {
        Ok(conn) => Some(conn),
        Err(err) => {
            tracing::warn!("the draft's state row was not updated: {err:#}");
            None
        }
    }
}

async fn realign_applied(
    conn: &mut sqlx::PgConnection,
    version: i64,
    slug: &str,
    up: &[u8],
) -> anyhow::Result<()> {
    let applied = crate::db::history::read(conn).await?.unwrap_or_default();
    if applied.iter().any(|a| a.version == version) {
        crate::db::history::realign(conn, version, &slug.replace('_', " "), &checksum(up))
            .await
            .with_context(|| format!("updating the state row of migration {version}"))?;
    }
    Ok(())
}
