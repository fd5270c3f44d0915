//! `migrated init`.

use super::Context;
use crate::error::not_implemented;

pub async fn init(_ctx: &Context, _args: &crate::cli::InitArgs) -> anyhow::Result<()> {
    Err(not_implemented("init"))
}
