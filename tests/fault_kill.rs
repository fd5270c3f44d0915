//! Crash safety: SIGKILL `migrated up` at pseudo-random moments (fixed seed) while it applies
//! 20 migrations, 50 times. After every kill the database is exactly at a migration boundary
//! (each migration's table exists if and only if its state row does, and the applied ones are
//! a prefix), no advisory lock is left behind, and the next `up` completes.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Project;

const MIGRATIONS: i64 = 20;
const TRIALS: usize = 50;

/// xorshift64*: a fixed-seed pseudo-random sequence, so a failing trial can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, max: u64) -> u64 {
        self.next() % max.max(1)
    }
}

async fn reset(p: &Project) {
    p.db.exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        .await;
}

/// (versions recorded, tables present), both as sorted numbers.
async fn state(p: &Project) -> (Vec<i64>, Vec<i64>) {
    let has_state =
        p.db.scalar_i64("SELECT count(*) FROM pg_class WHERE relname = '_sqlx_migrations'")
            .await
            == 1;
    let rows = if has_state {
        p.db.strings("SELECT version::text FROM _sqlx_migrations WHERE success ORDER BY version")
            .await
    } else {
        Vec::new()
    };
    let tables = p.db.strings(
        "SELECT substr(relname, 3) FROM pg_class WHERE relkind = 'r' AND relname ~ '^t_[0-9]+$' \
         AND relnamespace = 'public'::regnamespace",
    )
    .await;
    let mut tables: Vec<i64> = tables.iter().map(|t| t.parse().unwrap()).collect();
    tables.sort_unstable();
    let mut rows: Vec<i64> = rows.iter().map(|v| v.parse().unwrap()).collect();
    rows.sort_unstable();
    (rows, tables)
}

async fn advisory_locks(p: &Project) -> i64 {
    p.db.scalar_i64(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .await
}

/// The server notices a killed client when it next reads from the socket; wait (bounded)
/// for that backend to go away.
async fn wait_for_no_advisory_lock(p: &Project, trial: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while advisory_locks(p).await > 0 {
        assert!(
            Instant::now() < deadline,
            "trial {trial}: an advisory lock outlived the killed process"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn sigkill_during_up_leaves_database_at_a_migration_boundary() {
    let p = Project::new("fault_kill").await;
    for i in 1..=MIGRATIONS {
        p.migration(
            &i.to_string(),
            &format!("step_{i}"),
            &format!(
                "CREATE TABLE t_{i} (id int PRIMARY KEY);\n\
                 INSERT INTO t_{i} SELECT generate_series(1, 300);\n\
                 SELECT pg_sleep(0.002);\n"
            ),
            Some(&format!("DROP TABLE t_{i};\n")),
        );
    }
    // Calibrate: how long a whole run takes on this machine right now.
    let started = Instant::now();
    p.run(&["up"]).success();
    let full = started.elapsed();
    let window = u64::try_from(full.as_micros()).unwrap() * 11 / 10;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut partial = 0;
    let mut outcomes = Vec::new();
    for trial in 0..TRIALS {
        reset(&p).await;
        let delay = Duration::from_micros(rng.below(window));
        let mut child = p
            .command(&["up"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(delay).await;
        let _ = child.kill(); // SIGKILL on Unix; an error means it had already exited
        let _ = child.wait().unwrap();
        wait_for_no_advisory_lock(&p, trial).await;
        let (rows, tables) = state(&p).await;
        assert_eq!(
            rows, tables,
            "trial {trial} (kill after {delay:?}): state rows and schema disagree"
        );
        let prefix: Vec<i64> = (1..=i64::try_from(rows.len()).unwrap()).collect();
        assert_eq!(
            rows, prefix,
            "trial {trial}: applied versions are not a prefix"
        );
        if !rows.is_empty() {
            let events =
                p.db.scalar_i64(
                    "SELECT count(*) FROM migrated_events WHERE success AND direction = 'up'",
                )
                .await;
            assert_eq!(
                events,
                i64::try_from(rows.len()).unwrap(),
                "trial {trial}: events disagree with rows"
            );
        }
        if (1..MIGRATIONS).contains(&i64::try_from(rows.len()).unwrap()) {
            partial += 1;
        }
        outcomes.push(rows.len());
        p.run(&["up"]).success();
        let (rows, tables) = state(&p).await;
        assert_eq!(
            rows.len(),
            usize::try_from(MIGRATIONS).unwrap(),
            "trial {trial}: the next up did not complete"
        );
        assert_eq!(rows, tables);
    }
    eprintln!("full run {full:?}; migrations applied when killed: {outcomes:?}");
    assert!(
        partial > 0,
        "no kill landed in the middle of a run: {outcomes:?}"
    );
}
