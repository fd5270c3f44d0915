//! The generation pipeline: load the models, bring the desired shadow to them, replay the
//! committed migrations in the head shadow, introspect both, diff, verify the plan on the head
//! shadow (inside a transaction that is rolled back), and write the migration files and the
//! sum. Used by `generate`, `check`, `diff`, the watcher (`plan` + `write_draft`) and `--once`
//! in development mode.

mod verify;
mod write;

use std::path::{Path, PathBuf};

use std::time::Instant;

use anyhow::Context as _;
use sqlx::PgConnection;

use crate::config::Config;
use crate::core::diff::{Plan, diff};
use crate::core::models::ModelSet;
use crate::core::schema::Schema;
use crate::db::snapshot::{self, Snapshot};
use crate::models::{self, Origin};
use crate::shadow::{Memo, Shadow, Shadows, cache, desired, head};

pub use verify::verify;
pub use write::{DRAFT_SLUG, draft_files, write_draft, write_empty, write_migration, write_sum};

/// The difference between the head state and the models, with both schemas (as snapshots
/// of the shadows, the bases of verification's incremental reads).
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: Plan,
    /// The head state (committed migrations replayed).
    pub head: Snapshot,
    /// The desired state (the models loaded).
    pub desired: Snapshot,
    pub models: ModelSet,
}

/// What `generate` did.
#[derive(Debug, Clone)]
pub enum Generated {
    NoChanges,
    Written {
        up: PathBuf,
        down: PathBuf,
        plan: Plan,
    },
}

/// Loads the models and both shadows and diffs them; writes nothing. Model errors are
/// reported before any statement runs on a database (sessions open meanwhile).
pub async fn plan(config: &Config, cwd: &Path, shadows: &Shadows) -> anyhow::Result<Planned> {
    let clock = Instant::now();
    let sessions = [shadows.desired.preconnect(), shadows.head.preconnect()];
    let models = match models::load(&Origin::from_config(config, cwd)).await {
        Ok(models) => models,
        Err(err) => {
            sessions.iter().for_each(tokio::task::JoinHandle::abort);
            return Err(err);
        }
    };
    for session in sessions {
        // A session that failed to open is the update's to report.
        let _ = session.await;
    }
    let loaded_ms = clock.elapsed().as_millis();
    let files = head::committed(&config.migrations_dir)?;
    let head_key = cache::key(&files);
    // The two shadows are separate databases: each brought forward and read on its own.
    let ((loaded, desired, desired_ms), (replayed, head, head_ms)) = tokio::try_join!(
        async {
            let loaded = desired::update(&shadows.desired, &models).await?;
            let snapshot = cached_snapshot(&shadows.desired, cache::DESIRED).await?;
            anyhow::Ok((loaded, snapshot, clock.elapsed().as_millis()))
        },
        async {
            let replayed = head::update(&shadows.head, &files).await?;
            let snapshot = head_snapshot(&shadows.head, &head_key, shadows.long_lived).await?;
            anyhow::Ok((replayed, snapshot, clock.elapsed().as_millis()))
        },
    )?;
    let introspect_ms = clock.elapsed().as_millis();
    let plan = diff(&head.schema, &desired.schema, &models.hints)?;
    tracing::debug!(
        statements = models.statements.len(),
        shadow_rebuilt = loaded.rebuilt,
        shadow_ran = loaded.ran,
        head_rebuilt = replayed.rebuilt,
        head_applied = replayed.applied,
        loaded_ms,
        desired_ms,
        head_ms,
        introspect_ms,
        diff_ms = clock.elapsed().as_millis(),
        "planned (cumulative times)"
    );
    Ok(Planned {
        plan,
        head,
        desired,
        models,
    })
}

/// The head shadow's schema: from its cache when it holds exactly this state, else read
/// (incrementally from its newest cached snapshot). A predicted entry is settled first: read
/// incrementally from it. A `long_lived` process keeps the snapshot in memory; any other
/// reads an exact entry again (`reread`). What was read is kept in memory until
/// `Shadows::settle` stores it.
async fn head_snapshot(shadow: &Shadow, key: &str, long_lived: bool) -> anyhow::Result<Snapshot> {
    if long_lived && let Some(memo) = shadow.memo_take() {
        let hit = (memo.key == key).then(|| memo.snapshot.clone());
        shadow.memo_put(memo);
        if let Some(snapshot) = hit {
            return Ok(snapshot);
        }
    }
    let mut conn = shadow.connect().await?;
    let (snapshot, unsaved) = if let Some(exact) = cache::load(&mut conn, key).await {
        if long_lived {
            (exact, false)
        } else {
            // A process that plans once: the read costs little beside the desired shadow's
            // update and read, which run meanwhile, and leaves this connection with the
            // catalog queries planned, which verification runs on it after the up script
            // (cold, their planning was a third of verification: 25 ms at 100 tables). It
            // also catches a head shadow changed since its entry was stored.
            let snapshot =
                reread(&mut conn, shadow, &exact, "cached head snapshot confirmed").await?;
            (snapshot, false)
        }
    } else if let Some(predicted) = cache::load(&mut conn, &cache::predicted(key)).await {
        let snapshot = reread(
            &mut conn,
            shadow,
            &predicted,
            "predicted head snapshot settled",
        )
        .await?;
        (snapshot, true)
    } else {
        (read_latest(&mut conn, shadow).await?, true)
    };
    shadow.release(conn);
    keep(shadow, key, &snapshot, unsaved);
    Ok(snapshot)
}

/// The shadow's schema now, read incrementally from `base`.
async fn reread(
    conn: &mut PgConnection,
    shadow: &Shadow,
    base: &Snapshot,
    what: &str,
) -> anyhow::Result<Snapshot> {
    let (snapshot, read) = snapshot::since(conn, base)
        .await
        .with_context(|| format!("reading the schema of {}", shadow.name))?;
    tracing::debug!(shadow = %shadow.name, ?read, "{what}");
    Ok(snapshot)
}

/// A shadow's schema read incrementally from its newest snapshot (in memory, else cached;
/// in full when it has none), kept in memory under `key` until `Shadows::settle` stores it.
async fn cached_snapshot(shadow: &Shadow, key: &str) -> anyhow::Result<Snapshot> {
    let mut conn = shadow.connect().await?;
    let snapshot = read_latest(&mut conn, shadow).await?;
    shadow.release(conn);
    keep(shadow, key, &snapshot, true);
    Ok(snapshot)
}

/// Keeps `snapshot` in memory under `key`; an `unsaved` one waits for `Shadows::settle` to
/// store it (a 1.3 MB entry at 1000 tables), after the migration is verified and written,
/// beside the head shadow's store, rather than on the way.
fn keep(shadow: &Shadow, key: &str, snapshot: &Snapshot, unsaved: bool) {
    shadow.memo_put(Memo {
        key: key.to_owned(),
        snapshot: snapshot.clone(),
        unsaved,
    });
}

/// The shadow's schema read incrementally from its newest snapshot (in memory, else cached;
/// in full when it has none).
async fn read_latest(conn: &mut PgConnection, shadow: &Shadow) -> anyhow::Result<Snapshot> {
    let clock = Instant::now();
    let base = match shadow.memo_take() {
        Some(memo) => Some(memo.snapshot),
        None => cache::newest(conn).await,
    };
    let cache_ms = clock.elapsed().as_millis();
    let snapshot = match base {
        Some(base) => reread(conn, shadow, &base, "read incrementally").await?,
        None => snapshot::take(conn)
            .await
            .with_context(|| format!("reading the schema of {}", shadow.name))?,
    };
    tracing::debug!(shadow = %shadow.name, cache_ms, read_ms = clock.elapsed().as_millis(), "schema read (cumulative times)");
    Ok(snapshot)
}

/// The schema of a shadow.
pub async fn introspect(shadow: &Shadow) -> anyhow::Result<Schema> {
    let mut conn = shadow.connect().await?;
    let schema = crate::db::introspect::introspect(&mut conn)
        .await
        .with_context(|| format!("reading the schema of {}", shadow.name))?;
    shadow.release(conn);
    Ok(schema)
}

/// `migrated generate`: a verified migration from the head state to the models, written with
/// the sum; `NoChanges` writes nothing. `version` is UTC now as `YYYYMMDDHHMMSS`.
pub async fn generate(
    config: &Config,
    cwd: &Path,
    version: i64,
    message: Option<&str>,
) -> anyhow::Result<Generated> {
    if let Some((up, _)) = draft_files(&config.migrations_dir)? {
        anyhow::bail!(
            "a draft migration exists ({}): name it with `migrated commit -m MSG` or delete it first",
            up.display()
        );
    }
    let shadows = Shadows::from_config(config)?;
    let result = generate_with(config, cwd, &shadows, version, message).await;
    shadows.finish().await?;
    result
}

async fn generate_with(
    config: &Config,
    cwd: &Path,
    shadows: &Shadows,
    version: i64,
    message: Option<&str>,
) -> anyhow::Result<Generated> {
    let planned = plan(config, cwd, shadows).await?;
    if planned.plan.is_empty() {
        return Ok(Generated::NoChanges);
    }
    refuse_unsupported(&planned.plan)?;
    let clock = Instant::now();
    let after_up = verify(shadows, &planned).await?;
    tracing::debug!(verify_ms = clock.elapsed().as_millis(), "verified");
    let (up, down) = write_migration(&config.migrations_dir, version, message, &planned.plan)?;
    write_sum(&config.migrations_dir)?;
    // The next pass replays this migration into the head shadow, which then holds what
    // verification saw after the up script: cache it as that state's prediction.
    let next = head::committed(&config.migrations_dir)?;
    let mut conn = shadows.head.connect().await?;
    cache::store(&mut conn, &cache::predicted(&cache::key(&next)), &after_up).await;
    shadows.head.release(conn);
    Ok(Generated::Written {
        up,
        down,
        plan: planned.plan,
    })
}

/// A plan that touches objects the engine cannot model cannot be written.
pub fn refuse_unsupported(plan: &Plan) -> anyhow::Result<()> {
    if plan.unsupported.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "the models differ from the head state in objects migrated cannot model (write this migration by hand with `migrated generate --empty`): {}",
        plan.unsupported.join(", ")
    )
}
