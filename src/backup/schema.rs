//! The schema part of a backup, from the engine: `db::introspect::introspect` on the
//! snapshot connection, rendered by `core::ddl::dump_ddl` into pre-data (objects, before the
//! rows) and post-data (indexes, constraints, triggers, after them). No DDL is rendered here.
//!
//! TEMPORARY until the engine lands in main: pg_dump reads the same exported snapshot.

use anyhow::Context as _;

use super::snapshot::Leader;

/// The schema DDL of the snapshot, split as pg_dump splits it.
#[derive(Debug, Default)]
pub struct SchemaDdl {
    pub pre_data: Vec<String>,
    pub post_data: Vec<String>,
    /// Objects the engine cannot model (`kind name`): the backup would not capture them.
    pub unsupported: Vec<String>,
}

/// Reads the schema inside the leader's snapshot.
pub async fn schema_ddl(leader: &mut Leader, url: &str) -> anyhow::Result<SchemaDdl> {
    let _ = &mut leader.conn;
    Ok(SchemaDdl {
        pre_data: pg_dump_section(url, &leader.info.id, "pre-data").await?,
        post_data: pg_dump_section(url, &leader.info.id, "post-data").await?,
        unsupported: Vec::new(),
    })
}

async fn pg_dump_section(url: &str, snapshot: &str, section: &str) -> anyhow::Result<Vec<String>> {
    let out = tokio::process::Command::new("pg_dump")
        .args([
            "--schema-only",
            "--no-owner",
            "--no-privileges",
            "--section",
            section,
        ])
        .arg(format!("--snapshot={snapshot}"))
        .arg(format!("--dbname={url}"))
        .output()
        .await
        .context("running pg_dump")?;
    anyhow::ensure!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text: String = String::from_utf8(out.stdout)?
        .lines()
        .filter(|l| {
            !l.starts_with('\\')
                && !l.starts_with("SET ")
                && !l.starts_with("SELECT pg_catalog.set_config")
        })
        .fold(String::new(), |acc, l| acc + l + "\n");
    let text = text.trim().trim_end_matches(';').to_owned();
    Ok(if text.is_empty() {
        Vec::new()
    } else {
        vec![text]
    })
}
