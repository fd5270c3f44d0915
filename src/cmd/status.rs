//! `migrated status`.

use super::Context;
use crate::error::not_implemented;

pub async fn status(_ctx: &Context, _args: &crate::cli::JsonArgs) -> anyhow::Result<()> {
    Err(not_implemented("status"))
}
