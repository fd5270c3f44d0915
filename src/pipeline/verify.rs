//! Verification of a plan before it is written, inside transactions that are always rolled
//! back: on the head shadow the up script must give exactly the desired schema, and on the
//! desired shadow (which holds what up gives) the down script must give back the head state.
//! The two run at once, each on its own database, and each transaction takes only its own
//! direction's locks (a plan creating a thousand tables would exhaust the server's lock table
//! if up and down shared one). Equality is judged by the diff itself, so the error names the
//! first object that still differs.

use sqlx::PgConnection;

use super::Planned;
use crate::core::diff::{Plan, diff};
use crate::core::generate::transactional;
use crate::core::hints::RenameHints;
use crate::core::schema::Schema;
use crate::db::snapshot::{self, Snapshot};
use crate::shadow::{Shadow, Shadows, describe, execute};

/// Plans with more steps than this (about 250 new tables) are verified in a copy of the head
/// shadow, statement by statement, rather than in two concurrent transactions: creating and
/// dropping a thousand tables (7 locks each: table, TOAST table and index, key and other
/// indexes) takes more locks than a default server's lock table holds
/// (`max_locks_per_transaction` 64 x 100 connections). Copying costs more than verifying a
/// smaller plan in place.
const LARGE_PLAN: usize = 1000;

/// Verifies `planned.plan` on both shadows; nothing it does is kept. Returns the head
/// shadow's snapshot after the up script (what the head state becomes once the migration is
/// committed).
pub async fn verify(shadows: &Shadows, planned: &Planned) -> anyhow::Result<Snapshot> {
    if planned.plan.steps.len() > LARGE_PLAN {
        return verify_in_copy(&shadows.head, planned).await;
    }
    // Both run to the end, so that when both fail the up script's error is the one reported.
    let (after_up, down) = tokio::join!(
        rolled_back(&shadows.head, async |conn: &mut PgConnection| {
            verify_up(conn, planned).await
        }),
        rolled_back(&shadows.desired, async |conn: &mut PgConnection| {
            // Serializes with updates of the desired shadow by other processes.
            crate::shadow::desired::lock(conn)
                .await
                .map_err(|e| anyhow::anyhow!("verification: {}", describe(&e)))?;
            verify_down(conn, planned, &planned.desired).await
        }),
    );
    let after_up = after_up?;
    down?;
    Ok(after_up)
}

/// Up, then down, in a throwaway copy of the head shadow, each statement committed on its own.
async fn verify_in_copy(head: &Shadow, planned: &Planned) -> anyhow::Result<Snapshot> {
    let copy = head.copy().await?;
    let result = async {
        let mut conn = copy.connect().await?;
        let after_up = verify_up(&mut conn, planned).await?;
        verify_down(&mut conn, planned, &after_up).await?;
        Ok(after_up)
    }
    .await;
    copy.drop_database().await?;
    result
}

/// Runs `check` on a connection to `shadow` inside a transaction that is rolled back.
async fn rolled_back<T>(
    shadow: &Shadow,
    check: impl AsyncFnOnce(&mut PgConnection) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let mut conn = shadow.connect().await?;
    execute(&mut conn, "BEGIN")
        .await
        .map_err(|e| anyhow::anyhow!("verification: {}", describe(&e)))?;
    let result = check(&mut conn).await;
    if execute(&mut conn, "ROLLBACK").await.is_ok() {
        shadow.release(conn);
    }
    result
}

async fn verify_up(conn: &mut PgConnection, planned: &Planned) -> anyhow::Result<Snapshot> {
    for step in &planned.plan.steps {
        run(conn, &step.up, &step.summary, "up").await?;
    }
    let (after_up, difference) = read_and_compare(conn, &planned.head, &planned.desired).await?;
    if let Some(object) = difference {
        anyhow::bail!(
            "verification failed, the migration was not written: after the up script, {object} still differs from the models"
        );
    }
    Ok(after_up)
}

/// Runs the down script on a database in the desired state (`base` its snapshot): it must
/// give back the head state.
async fn verify_down(
    conn: &mut PgConnection,
    planned: &Planned,
    base: &Snapshot,
) -> anyhow::Result<()> {
    for step in planned.plan.steps.iter().rev() {
        run(conn, &step.down, &step.summary, "down").await?;
    }
    let (_, difference) = read_and_compare(conn, base, &planned.head).await?;
    if let Some(object) = difference {
        anyhow::bail!(
            "verification failed, the migration was not written: after the down script, {object} differs from the head state"
        );
    }
    Ok(())
}

/// Reads the schema incrementally since `base` and compares it with `expected`. A
/// difference is confirmed by a full read before it is reported, so that a fault of the
/// incremental read can never fail a correct plan.
async fn read_and_compare(
    conn: &mut PgConnection,
    base: &Snapshot,
    expected: &Snapshot,
) -> anyhow::Result<(Snapshot, Option<String>)> {
    let (now, read) = snapshot::since(conn, base).await?;
    let Some(difference) = first_difference(&now.schema, &expected.schema)? else {
        return Ok((now, None));
    };
    if read == snapshot::Read::Full {
        return Ok((now, Some(difference)));
    }
    let full = snapshot::take(conn).await?;
    let difference = first_difference(&full.schema, &expected.schema)?;
    Ok((full, difference))
}

async fn run(
    conn: &mut PgConnection,
    statements: &[String],
    summary: &str,
    direction: &str,
) -> anyhow::Result<()> {
    for statement in statements {
        execute(conn, &transactional(statement)).await.map_err(|e| {
            anyhow::anyhow!(
                "verification failed, the migration was not written: the {direction} statement of `{summary}` fails: {}: {statement}",
                describe(&e)
            )
        })?;
    }
    Ok(())
}

/// The first object that differs between two schemas, as the diff names it.
fn first_difference(actual: &Schema, expected: &Schema) -> anyhow::Result<Option<String>> {
    let left: Plan = diff(actual, expected, &RenameHints::default())?;
    Ok(left
        .steps
        .first()
        .map(|s| s.summary.clone())
        .or_else(|| left.unsupported.first().cloned()))
}
