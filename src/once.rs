//! The production entrypoint `migrated --once [-- CMD ARGS...]`: wait for the database, lock,
//! validate, back up if configured, apply pending migrations, unlock, then exec CMD.

use tracing_appender::non_blocking::WorkerGuard;

use crate::cmd::Context;
use crate::error::not_implemented;

pub async fn once(
    _ctx: &Context,
    _wait_timeout: Option<u64>,
    _exec: &[String],
    _guard: Option<WorkerGuard>,
) -> anyhow::Result<()> {
    Err(not_implemented("--once"))
}
