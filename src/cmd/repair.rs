//! `migrated repair`.

use super::Context;
use crate::error::not_implemented;

pub async fn repair(_ctx: &Context) -> anyhow::Result<()> {
    Err(not_implemented("repair"))
}
