//! `migrated validate`.

use super::Context;
use crate::error::not_implemented;

pub async fn validate(_ctx: &Context) -> anyhow::Result<()> {
    Err(not_implemented("validate"))
}
