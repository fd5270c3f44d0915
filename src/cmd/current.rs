//! `migrated current`: the newest applied version, alone on a line (`base` when nothing is
//! applied), for scripts.

use super::Context;
use crate::core::migration::current_version;
use crate::db::{self, history};

pub async fn current(ctx: &Context) -> anyhow::Result<()> {
    let url = ctx.config.require_database_url()?;
    let mut conn = db::connect(url).await?;
    let applied = history::read(&mut conn).await?.unwrap_or_default();
    db::close(conn).await;
    match current_version(&applied) {
        Some(v) => println!("{v}"),
        None => println!("base"),
    }
    Ok(())
}
