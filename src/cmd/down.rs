//! `migrated down`.

use super::Context;
use crate::error::not_implemented;

pub async fn down(_ctx: &Context, _args: &crate::cli::DownArgs) -> anyhow::Result<()> {
    Err(not_implemented("down"))
}
