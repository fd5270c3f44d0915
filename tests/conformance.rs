//! Conformance of the diff engine against cases nobody on this project wrote
//! (`../shared/corpus`: sqldef, migra and pg-schema-diff test cases; see its README.md).
//!
//! For every case: load `current` and `desired` into two fresh databases, introspect both,
//! diff desired-vs-current, apply the up steps to the current database and compare its
//! introspected schema with the desired one (first difference is reported), then apply the
//! down steps and compare with the original. Column *positions* are not compared:
//! PostgreSQL cannot move a column without rebuilding the table, so a plan appends new
//! columns (as every migration tool does) and a down script re-adds a dropped one last.
//! Cases whose own files do not apply on this server (`both_apply != yes` in the corpus's
//! `validation.tsv`) are skipped *with their reason*: counted, listed in the report, never
//! silent.
//!
//! Results go to `target/conformance-report.tsv` (case, status, category, detail) and a
//! summary line `conformance: N passed, M failed, K skipped (P%)` with failures by category.
//!
//! - `cargo test --test conformance` runs a fixed sample (every 10th case) and asserts the
//!   pass-rate floor measured for it.
//! - `CONFORMANCE=full cargo test --release --test conformance -- --nocapture` runs every
//!   case (1,280 listed, 1,221 that apply; 15 minutes with 4 cases at a time on 2 busy
//!   cores). Measured 2026-11-22: 1192 passed, 29 failed (97.6%). Failing categories:
//!   partition index/constraint attachment and naming (pg-schema-diff `partitioned_index`,
//!   `partitioned_table`, `local_partition_index`: 18), partition-key changes (reported as
//!   unsupported, the table must be recreated: 9), a collation object (unsupported kind:
//!   1), identity options below the sequence's current value (1).
//! - `CONFORMANCE_FILTER=<substring>[,<substring>...]` runs only the matching cases (e.g.
//!   `views/`).

// The test is an I/O edge: it reads its options from the environment.
#![allow(clippy::disallowed_methods)]

mod common;
mod diff_support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use diff_support::{apply, compare, introspect, run_script};
use futures_util::StreamExt as _;
use migrated::core::diff::diff;
use migrated::core::hints::RenameHints;
use migrated::core::schema::Schema;
use sqlx::{Connection as _, PgConnection};

/// Pass rate (percent of the cases that apply cleanly) the sample must reach. Measured
/// 2026-11-21: sample 121 of 123 (98.4%), full run 1192 of 1221 (97.6%).
const SAMPLE_FLOOR_PERCENT: f64 = 95.0;
const CONCURRENCY: usize = 4;
const CASE_TIMEOUT: Duration = Duration::from_mins(2);

fn corpus_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus"));
    assert!(
        dir.join("README.md").is_file(),
        "conformance corpus missing at {}: it is expected next to the repository as ../shared/corpus",
        dir.display()
    );
    dir
}

/// One corpus case: where its files are, or why it is skipped.
#[derive(Debug, Clone)]
struct Case {
    id: String,
    current: PathBuf,
    desired: PathBuf,
    /// Load both sides with `search_path = foo, public` (sqldef's `psqldef_user`).
    foo_search_path: bool,
    skip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Pass,
    Fail { category: String, detail: String },
    Skip { reason: String },
}

fn read_tsv(path: &Path) -> Vec<Vec<String>> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

/// Every case of the three diff-test sources, in a fixed order.
fn collect_cases(corpus: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    for (source, current, desired) in [
        ("sqldef", "current.sql", "desired.sql"),
        ("migra", "a.sql", "b.sql"),
        ("pg-schema-diff", "current.sql", "desired.sql"),
    ] {
        for row in read_tsv(&corpus.join(source).join("validation.tsv")) {
            let dir = corpus.join(source).join(&row[0]);
            let skip = (row.get(3).map(String::as_str) != Some("yes")).then(|| {
                let note = row.get(4).cloned().unwrap_or_default();
                let err = row.get(5).cloned().unwrap_or_default();
                format!("files do not apply on this server: {note} {err}")
                    .trim()
                    .to_owned()
            });
            let foo_search_path = std::fs::read_to_string(dir.join("meta.json"))
                .is_ok_and(|m| m.contains("\"psqldef_user\""));
            cases.push(Case {
                id: format!("{source}/{}", row[0]),
                current: dir.join(current),
                desired: dir.join(desired),
                foo_search_path,
                skip,
            });
        }
    }
    cases
}

/// Roles the upstream harnesses create before loading (cluster-wide, so created once).
fn harness_roles(corpus: &Path) -> Vec<String> {
    let mut roles = vec!["schemainspect_test_role".to_owned()];
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(corpus.join("sqldef/harness_roles.json")).unwrap(),
    )
    .unwrap();
    for r in json["roles"].as_array().unwrap() {
        roles.push(format!("\"{}\"", r.as_str().unwrap().replace('"', "\"\"")));
    }
    for case in collect_cases(corpus)
        .iter()
        .filter(|c| c.id.starts_with("pg-schema-diff/"))
    {
        let meta = case.current.with_file_name("meta.json");
        let Ok(text) = std::fs::read_to_string(meta) else {
            continue;
        };
        let meta: serde_json::Value = serde_json::from_str(&text).unwrap();
        for r in meta["roles"].as_array().into_iter().flatten() {
            roles.push(r.as_str().unwrap().to_owned());
        }
    }
    roles.sort();
    roles.dedup();
    roles
}

async fn create_roles(roles: &[String]) {
    let mut conn = PgConnection::connect(&common::server_url()).await.unwrap();
    for role in roles {
        // Concurrent test processes may create the same role: "already exists" is fine.
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE ROLE {role}")))
            .execute(&mut conn)
            .await;
    }
}

/// The object kind of a difference (`table ...: ...` -> `table`), for categories.
fn diff_kind(detail: &str) -> String {
    detail
        .split(' ')
        .next()
        .unwrap_or("?")
        .trim_end_matches(':')
        .to_owned()
}

fn fail(category: &str, kind: &str, detail: impl AsRef<str>) -> Outcome {
    Outcome::Fail {
        category: format!("{category}:{kind}"),
        detail: detail.as_ref().replace(['\n', '\t'], " "),
    }
}

/// A fresh database for one side of a case, loaded from its file.
async fn load(db: &common::TestDb, file: &Path, schema_foo: bool) -> Result<PgConnection, String> {
    let sql = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut conn = db.conn().await;
    let mut setup = String::from("SET statement_timeout = '60s'; SET lock_timeout = '20s';");
    if schema_foo {
        setup.push_str("CREATE SCHEMA foo; SET search_path = foo, public;");
    }
    run_script(&mut conn, &setup).await?;
    run_script(&mut conn, &sql).await?;
    run_script(&mut conn, "RESET search_path").await?;
    Ok(conn)
}

async fn run_case(case: Case) -> Outcome {
    if let Some(reason) = &case.skip {
        return Outcome::Skip {
            reason: reason.clone(),
        };
    }
    match tokio::time::timeout(CASE_TIMEOUT, run_loaded(&case)).await {
        Ok(outcome) => outcome,
        Err(_) => fail("timeout", "case", format!("over {CASE_TIMEOUT:?}")),
    }
}

async fn run_loaded(case: &Case) -> Outcome {
    let cur_db = common::TestDb::new("conf").await;
    let want_db = common::TestDb::new("conf").await;
    let mut cur = match load(&cur_db, &case.current, case.foo_search_path).await {
        Ok(c) => c,
        Err(e) => return fail("load", "current", e),
    };
    let mut want = match load(&want_db, &case.desired, case.foo_search_path).await {
        Ok(c) => c,
        Err(e) => return fail("load", "desired", e),
    };
    let (from, to) = match (introspect(&mut cur).await, introspect(&mut want).await) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return fail("introspect", "schema", e),
    };
    check_plan(&mut cur, &from, &to).await
}

async fn check_plan(cur: &mut PgConnection, from: &Schema, to: &Schema) -> Outcome {
    let plan = match diff(from, to, &RenameHints::default()) {
        Ok(p) => p,
        Err(e) => return fail("diff-error", "plan", e.to_string()),
    };
    if !plan.unsupported.is_empty() {
        return fail("unsupported", "plan", plan.unsupported.join(", "));
    }
    if let Err(e) = apply(cur, &plan, true).await {
        return fail("up-apply", &step_kind(&e), e);
    }
    let after_up = match introspect(cur).await {
        Ok(s) => s,
        Err(e) => return fail("introspect", "after-up", e),
    };
    if let Some(d) = compare(&after_up, to) {
        return fail("up-mismatch", &diff_kind(&d), d);
    }
    if let Err(e) = apply(cur, &plan, false).await {
        return fail("down-apply", &step_kind(&e), e);
    }
    let after_down = match introspect(cur).await {
        Ok(s) => s,
        Err(e) => return fail("introspect", "after-down", e),
    };
    match compare(&after_down, from) {
        Some(d) => fail("down-mismatch", &diff_kind(&d), d),
        None => Outcome::Pass,
    }
}

/// `[add column public.t.c] ...` -> `add column`: the verb of the failing step.
fn step_kind(error: &str) -> String {
    let summary = error
        .strip_prefix('[')
        .and_then(|s| s.split(']').next())
        .unwrap_or("");
    let words: Vec<&str> = summary.split_whitespace().collect();
    match words.len() {
        0 => "?".into(),
        1 => words[0].into(),
        _ => format!("{} {}", words[0], words[1]),
    }
}

fn select_cases(all: Vec<Case>) -> Vec<Case> {
    let filter = std::env::var("CONFORMANCE_FILTER").ok();
    let full = std::env::var("CONFORMANCE").is_ok_and(|v| v == "full");
    all.into_iter()
        .enumerate()
        .filter(|(i, c)| match &filter {
            Some(f) => f.split(',').any(|f| c.id.contains(f)),
            None => full || i % 10 == 0,
        })
        .map(|(_, c)| c)
        .collect()
}

fn write_report(results: &[(Case, Outcome)]) -> (usize, usize, usize, String) {
    let (mut pass, mut failed, mut skipped) = (0, 0, 0);
    let mut by_category: BTreeMap<String, usize> = BTreeMap::new();
    let mut tsv = String::from("case\tstatus\tcategory\tdetail\n");
    for (case, outcome) in results {
        match outcome {
            Outcome::Pass => {
                pass += 1;
                let _ = writeln!(tsv, "{}\tpass\t\t", case.id);
            }
            Outcome::Fail { category, detail } => {
                failed += 1;
                *by_category.entry(category.clone()).or_default() += 1;
                let _ = writeln!(tsv, "{}\tfail\t{category}\t{detail}", case.id);
            }
            Outcome::Skip { reason } => {
                skipped += 1;
                let reason = reason.replace(['\n', '\t'], " ");
                let _ = writeln!(tsv, "{}\tskip\t\t{reason}", case.id);
            }
        }
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/conformance-report.tsv");
    std::fs::write(&path, tsv).unwrap();
    let mut categories: Vec<_> = by_category.into_iter().collect();
    categories.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut summary = String::new();
    for (category, n) in categories {
        let _ = writeln!(summary, "  {n:4} {category}");
    }
    (pass, failed, skipped, summary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_corpus_cases_round_trip() {
    let corpus = corpus_dir();
    create_roles(&harness_roles(&corpus)).await;
    let cases = select_cases(collect_cases(&corpus));
    let results: Vec<(Case, Outcome)> = futures_util::stream::iter(cases)
        .map(|case| async move {
            let outcome = run_case(case.clone()).await;
            (case, outcome)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut results = results;
    results.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    let (pass, failed, skipped, categories) = write_report(&results);
    #[allow(clippy::cast_precision_loss)]
    let rate = 100.0 * pass as f64 / ((pass + failed).max(1)) as f64;
    println!(
        "conformance: {pass} passed, {failed} failed, {skipped} skipped ({rate:.1}% of the cases that apply)\nfailures by category:\n{categories}report: target/conformance-report.tsv"
    );
    let sampled =
        std::env::var("CONFORMANCE").is_err() && std::env::var("CONFORMANCE_FILTER").is_err();
    assert!(
        !sampled || rate >= SAMPLE_FLOOR_PERCENT,
        "conformance pass rate {rate:.1}% is below the floor {SAMPLE_FLOOR_PERCENT}%"
    );
}
