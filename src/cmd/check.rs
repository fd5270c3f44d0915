//! `migrated check`: the CI gate. Fails (exit 1) with a readable report when the models differ
//! from the head state (the migrations replayed), when `migrated.sum` is missing or stale, or
//! when a draft migration exists; passes silently otherwise (prints `ok`).

use std::fmt::Write as _;

use super::Context;
use crate::core::render::render_up;
use crate::error::DifferencesFound;
use crate::pipeline;
use crate::shadow::{Shadows, head};

pub async fn check(ctx: &Context) -> anyhow::Result<()> {
    let dir = &ctx.config.migrations_dir;
    let mut problems: Vec<String> = Vec::new();
    if let Some((up, _)) = pipeline::draft_files(dir)? {
        problems.push(format!(
            "a draft migration exists: {} (name it with `migrated commit -m MSG`)",
            up.display()
        ));
    }
    if !head::committed(dir)?.migrations.is_empty() {
        problems.extend(
            crate::migrations::sum_problems(dir)?
                .iter()
                .map(ToString::to_string),
        );
    }
    let shadows = Shadows::from_config(&ctx.config)?;
    let planned = pipeline::plan(&ctx.config, &ctx.cwd, &shadows).await;
    shadows.finish().await?;
    let plan = planned?.plan;
    if !plan.is_empty() {
        let mut text =
            String::from("the models differ from the head state (run `migrated generate`):\n");
        for step in &plan.steps {
            let _ = writeln!(text, "  {}", step.summary);
        }
        for object in &plan.unsupported {
            let _ = writeln!(text, "  {object} (not modelled: write it by hand)");
        }
        let _ = write!(
            text,
            "the migration that would fix it:\n{}",
            render_up(&plan)
        );
        problems.push(text);
    }
    if problems.is_empty() {
        println!("ok");
        return Ok(());
    }
    for problem in &problems {
        println!("{}", problem.trim_end());
    }
    Err(DifferencesFound(format!("check failed: {} problem(s)", problems.len())).into())
}
