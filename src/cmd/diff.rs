//! `migrated diff --from SRC --to SRC [--down]`: print the SQL that turns one schema into
//! another. SRC is a `postgres://` URL (introspected directly), `migrations:DIR` (replayed
//! into a temporary shadow) or a models directory (loaded into a temporary shadow).
//! Temporary shadows are dropped afterwards; nothing is written.

use std::path::{Path, PathBuf};

use super::Context;
use crate::cli::DiffArgs;
use crate::config::DatabaseUrl;
use crate::core::diff::diff as diff_schemas;
use crate::core::hints::RenameHints;
use crate::core::render::{render_down, render_up};
use crate::core::schema::Schema;
use crate::error::UsageError;
use crate::models::{self, Origin};
use crate::pipeline;
use crate::shadow::{Shadow, Shadows, desired, head};

/// Where a schema comes from.
#[derive(Debug, Clone)]
enum Src {
    Url(DatabaseUrl),
    Migrations(PathBuf),
    Models(PathBuf),
}

fn parse_src(text: &str, cwd: &Path) -> Src {
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        Src::Url(DatabaseUrl::new(text))
    } else if let Some(dir) = text.strip_prefix("migrations:") {
        Src::Migrations(cwd.join(dir))
    } else {
        Src::Models(cwd.join(text))
    }
}

pub async fn diff(ctx: &Context, args: &DiffArgs) -> anyhow::Result<()> {
    let from = parse_src(&args.from, &ctx.cwd);
    let to = parse_src(&args.to, &ctx.cwd);
    let (from_schema, _) = schema_of(ctx, &from, &[&from, &to]).await?;
    let (to_schema, hints) = schema_of(ctx, &to, &[&from, &to]).await?;
    let plan = diff_schemas(&from_schema, &to_schema, &hints)?;
    if plan.is_empty() {
        println!("-- no changes");
        return Ok(());
    }
    for object in &plan.unsupported {
        println!("-- unsupported (write it by hand): {object}");
    }
    for suggestion in &plan.suggestions {
        println!("-- suggestion: {suggestion}");
    }
    let sql = if args.down {
        render_down(&plan)
    } else {
        render_up(&plan)
    };
    print!("{sql}");
    Ok(())
}

/// The schema of one SRC, with the rename hints of models.
async fn schema_of(
    ctx: &Context,
    src: &Src,
    all: &[&Src],
) -> anyhow::Result<(Schema, RenameHints)> {
    match src {
        Src::Url(url) => {
            let mut conn = crate::db::connect(url).await?;
            let schema = crate::db::introspect::introspect(&mut conn).await?;
            Ok((schema, RenameHints::default()))
        }
        Src::Models(dir) => {
            let set = models::load(&Origin::Dir {
                dir: dir.clone(),
                base: ctx.cwd.clone(),
            })
            .await?;
            let shadow = temporary_shadow(ctx, all)?;
            let schema = read_loaded(shadow, async |s: &Shadow| {
                desired::update(s, &set).await.map(|_| ())
            })
            .await?;
            Ok((schema, set.hints))
        }
        Src::Migrations(dir) => {
            if !dir.is_dir() {
                return Err(UsageError(format!(
                    "migrations directory {} does not exist",
                    dir.display()
                ))
                .into());
            }
            let set = head::committed(dir)?;
            let shadow = temporary_shadow(ctx, all)?;
            let schema = read_loaded(shadow, async |s: &Shadow| {
                head::update(s, &set).await.map(|_| ())
            })
            .await?;
            Ok((schema, RenameHints::default()))
        }
    }
}

/// Loads a throwaway shadow with `load`, reads its schema, and drops it whatever happened.
async fn read_loaded(
    shadow: Shadow,
    load: impl AsyncFnOnce(&Shadow) -> anyhow::Result<()>,
) -> anyhow::Result<Schema> {
    let result = async {
        load(&shadow).await?;
        pipeline::introspect(&shadow).await
    }
    .await;
    shadow.drop_database().await?;
    result
}

/// A throwaway database on the shadow server (the configured database's, or the first URL
/// given as a SRC).
fn temporary_shadow(ctx: &Context, all: &[&Src]) -> anyhow::Result<Shadow> {
    let first_url = all.iter().find_map(|s| match s {
        Src::Url(url) => Some(url),
        _ => None,
    });
    let database = ctx.config.database_url.as_ref().or(first_url);
    let shadows = Shadows::new(database, ctx.config.shadow_database_url.as_ref(), false)?;
    shadows.desired.temporary()
}
