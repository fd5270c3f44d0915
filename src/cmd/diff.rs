//! `migrated diff`.

use super::Context;
use crate::error::not_implemented;

pub async fn diff(_ctx: &Context, _args: &crate::cli::DiffArgs) -> anyhow::Result<()> {
    Err(not_implemented("diff"))
}
