//! Verification of a plan before it is written: on the head shadow, inside a transaction that
//! is always rolled back, the up script must give exactly the desired schema and the down
//! script must then give back the head state. Equality is judged by the diff itself, so the
//! error names the first object that still differs.

use sqlx::PgConnection;

use super::Planned;
use crate::core::diff::{Plan, diff};
use crate::core::generate::transactional;
use crate::core::hints::RenameHints;
use crate::core::schema::Schema;
use crate::shadow::{Shadow, describe, execute};

/// Verifies `planned.plan` on the head shadow; nothing it does is kept.
pub async fn verify(head: &Shadow, planned: &Planned) -> anyhow::Result<()> {
    let mut conn = head.connect().await?;
    execute(&mut conn, "BEGIN")
        .await
        .map_err(|e| anyhow::anyhow!("verification: {}", describe(&e)))?;
    let result = verify_in_transaction(&mut conn, planned).await;
    let _ = execute(&mut conn, "ROLLBACK").await;
    result
}

async fn verify_in_transaction(conn: &mut PgConnection, planned: &Planned) -> anyhow::Result<()> {
    let plan = &planned.plan;
    for step in &plan.steps {
        run(conn, &step.up, &step.summary, "up").await?;
    }
    let after_up = crate::db::introspect::introspect(conn).await?;
    if let Some(object) = first_difference(&after_up, &planned.desired)? {
        anyhow::bail!(
            "verification failed, the migration was not written: after the up script, {object} still differs from the models"
        );
    }
    for step in plan.steps.iter().rev() {
        run(conn, &step.down, &step.summary, "down").await?;
    }
    let after_down = crate::db::introspect::introspect(conn).await?;
    if let Some(object) = first_difference(&after_down, &planned.head)? {
        anyhow::bail!(
            "verification failed, the migration was not written: after the down script, {object} differs from the head state"
        );
    }
    Ok(())
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
