//! `migrated generate`.

use super::Context;
use crate::error::not_implemented;

pub async fn generate(_ctx: &Context, _args: &crate::cli::GenerateArgs) -> anyhow::Result<()> {
    Err(not_implemented("generate"))
}
