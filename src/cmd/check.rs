//! `migrated check`.

use super::Context;
use crate::error::not_implemented;

pub async fn check(_ctx: &Context) -> anyhow::Result<()> {
    Err(not_implemented("check"))
}
