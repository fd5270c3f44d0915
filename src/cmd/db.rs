//! `migrated db backup|restore|reset`.

use super::Context;
use crate::cli::{BackupArgs, ResetArgs, RestoreArgs};
use crate::error::not_implemented;

pub async fn backup(_ctx: &Context, _args: &BackupArgs) -> anyhow::Result<()> {
    Err(not_implemented("db backup"))
}

pub async fn restore(_ctx: &Context, _args: &RestoreArgs) -> anyhow::Result<()> {
    Err(not_implemented("db restore"))
}

pub async fn reset(_ctx: &Context, _args: &ResetArgs) -> anyhow::Result<()> {
    Err(not_implemented("db reset"))
}
