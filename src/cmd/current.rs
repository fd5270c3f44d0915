//! `migrated current`.

use super::Context;
use crate::error::not_implemented;

pub async fn current(_ctx: &Context) -> anyhow::Result<()> {
    Err(not_implemented("current"))
}
