//! `migrated lint`.

use super::Context;
use crate::error::not_implemented;

pub async fn lint(_ctx: &Context, _args: &crate::cli::LintArgs) -> anyhow::Result<()> {
    Err(not_implemented("lint"))
}
