//! `migrated generate`: a verified migration from the head state to the models (or an empty
//! pair with `--empty`). Prints the paths written, or `no changes`.

use super::Context;
use crate::cli::GenerateArgs;
use crate::pipeline::{self, Generated};

pub async fn generate(ctx: &Context, args: &GenerateArgs) -> anyhow::Result<()> {
    let version = now_version();
    if args.empty {
        let (up, down) =
            pipeline::write_empty(&ctx.config.migrations_dir, version, args.message.as_deref())?;
        pipeline::write_sum(&ctx.config.migrations_dir)?;
        println!("{}\n{}", up.display(), down.display());
        return Ok(());
    }
    match pipeline::generate(&ctx.config, &ctx.cwd, version, args.message.as_deref()).await? {
        Generated::NoChanges => println!("no changes"),
        Generated::Written { up, down, plan } => {
            for hazard in plan.hazards() {
                tracing::warn!(kind = hazard.kind.as_str(), object = %hazard.object, "{}", hazard.detail);
            }
            for suggestion in &plan.suggestions {
                tracing::warn!("{suggestion}");
            }
            println!("{}\n{}", up.display(), down.display());
        }
    }
    Ok(())
}

/// UTC now as a migration version, `YYYYMMDDHHMMSS`.
pub(crate) fn now_version() -> i64 {
    #[allow(clippy::disallowed_methods)] // the command is the I/O edge: it reads the clock
    let now = chrono::Utc::now();
    now.format("%Y%m%d%H%M%S")
        .to_string()
        .parse()
        .expect("BUG: a formatted timestamp is a number")
}
