//! `migrated lint [VERSION...]`: the hazards of migrations (every one, or the given versions),
//! hand-written or generated, from their up scripts. Prints one line per finding
//! (`file:line:column: hazard (rule): message`) and exits 1 when there is any.

use super::Context;
use crate::cli::LintArgs;
use crate::core::lint::lint as lint_sql;
use crate::error::{DifferencesFound, UsageError};

pub async fn lint(ctx: &Context, args: &LintArgs) -> anyhow::Result<()> {
    let dir = &ctx.config.migrations_dir;
    let set = crate::migrations::load(dir)?;
    let mut wanted = Vec::new();
    for text in &args.versions {
        let version: i64 = text
            .parse()
            .map_err(|_| UsageError(format!("not a migration version: {text}")))?;
        if set.get(version).is_none() {
            return Err(UsageError(format!("no migration has version {version}")).into());
        }
        wanted.push(version);
    }
    let mut count = 0;
    for migration in set.iter() {
        if !wanted.is_empty() && !wanted.contains(&migration.version) {
            continue;
        }
        let script = &migration.up;
        let path = dir.join(&script.file);
        let shown = path.strip_prefix(&ctx.cwd).unwrap_or(&path).display();
        for finding in lint_sql(&script.sql, !script.no_transaction) {
            count += 1;
            let kind = finding.hazard.map_or("warning", |h| h.as_str());
            println!(
                "{}:{}:{}: {kind} ({}): {}",
                shown, finding.line, finding.column, finding.rule, finding.message
            );
            if let Some(help) = finding.help {
                println!("  help: {help}");
            }
        }
    }
    if count == 0 {
        println!("no hazards");
        return Ok(());
    }
    Err(DifferencesFound(format!("{count} hazard(s) found")).into())
}
