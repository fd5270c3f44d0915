//! Times `migrated::db::introspect::introspect` against a database (the harness of
//! `scripts/bench-introspect.sh`), or prints the introspected schema as JSON.
//!
//! `cargo run --release --example bench_introspect -- URL [RUNS]` prints one line per run
//! (`introspect_ms=<ms>`) and the median; `... -- URL json` prints the schema instead.
//! With `BENCH_TRACE=1`, each catalog query's time goes to stderr.

#![allow(clippy::disallowed_methods)] // an I/O edge: reads the clock to time runs

use std::time::Instant;

use sqlx::Connection as _;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: bench_introspect URL [RUNS|json]"))?;
    let mode = args.next().unwrap_or_else(|| "5".to_owned());
    if std::env::var_os("BENCH_TRACE").is_some() {
        // Per-query timings from db::introspect's debug events.
        tracing_subscriber::fmt()
            .with_env_filter("migrated::db::introspect=debug")
            .with_writer(std::io::stderr)
            .init();
    }
    let mut conn = sqlx::PgConnection::connect(&url).await?;
    if mode == "json" {
        let schema = migrated::db::introspect::introspect(&mut conn).await?;
        println!("{}", serde_json::to_string_pretty(&schema)?);
        return Ok(());
    }
    let runs: usize = mode.parse()?;
    // One warm-up run: the first query on a connection pays for catalog cache loading.
    migrated::db::introspect::introspect(&mut conn).await?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let schema = migrated::db::introspect::introspect(&mut conn).await?;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        println!("introspect_ms={ms:.1} tables={}", schema.tables.len());
        times.push(ms);
    }
    times.sort_by(f64::total_cmp);
    println!("median_ms={:.1}", times[times.len() / 2]);
    Ok(())
}
