//! `migrated stamp`.

use super::Context;
use crate::error::not_implemented;

pub async fn stamp(_ctx: &Context, _args: &crate::cli::StampArgs) -> anyhow::Result<()> {
    Err(not_implemented("stamp"))
}
