//! `migrated up`.

use super::Context;
use crate::error::not_implemented;

pub async fn up(_ctx: &Context, _args: &crate::cli::UpArgs) -> anyhow::Result<()> {
    Err(not_implemented("up"))
}
