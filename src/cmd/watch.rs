//! `migrated watch`.

use super::Context;
use crate::error::not_implemented;

pub async fn watch(_ctx: &Context) -> anyhow::Result<()> {
    Err(not_implemented("watch"))
}
