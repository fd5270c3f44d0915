//! `migrated commit`.

use super::Context;
use crate::error::not_implemented;

pub async fn commit(_ctx: &Context, _args: &crate::cli::CommitArgs) -> anyhow::Result<()> {
    Err(not_implemented("commit"))
}
