//! `--once` in several replicas started together: the advisory lock makes each migration run
//! exactly once, every replica then execs its command, and the command keeps the PID of the
//! process that was started.

mod common;
mod once_support;

use std::process::{Child, Stdio};
use std::time::Duration;

use common::Project;
use once_support::{add_migration, once_args, record_pid, wait_bounded};

const REPLICAS: usize = 8;

fn migrations(p: &Project) {
    add_migration(
        p,
        "20260101000000",
        "create_applied_log",
        "CREATE TABLE applied_log (version bigint NOT NULL, backend_pid int NOT NULL);\n\
         INSERT INTO applied_log VALUES (20260101000000, pg_backend_pid());\n",
        "DROP TABLE applied_log;\n",
    );
    // Slow enough that the replicas really overlap on the lock.
    add_migration(
        p,
        "20260101000001",
        "slow_step",
        "SELECT pg_sleep(0.3);\nINSERT INTO applied_log VALUES (20260101000001, pg_backend_pid());\n",
        "DELETE FROM applied_log WHERE version = 20260101000001;\n",
    );
    add_migration(
        p,
        "20260101000002",
        "create_items",
        "CREATE TABLE items (id bigint PRIMARY KEY);\n\
         INSERT INTO applied_log VALUES (20260101000002, pg_backend_pid());\n",
        "DROP TABLE items;\n",
    );
}

#[tokio::test]
async fn once_eight_replicas_started_together_apply_each_migration_exactly_once() {
    let p = Project::new("once_replicas").await;
    migrations(&p);
    let children: Vec<(Child, std::path::PathBuf)> = (0..REPLICAS)
        .map(|i| {
            let pid_file = p.path(format!("replica-{i}.pid"));
            let child = p
                .command(
                    &once_args(&record_pid(&pid_file))
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>(),
                )
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start migrated --once");
            (child, pid_file)
        })
        .collect();

    for (mut child, pid_file) in children {
        let pid = child.id();
        let status = wait_bounded(&mut child, Duration::from_mins(2));
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        assert!(status.success(), "replica failed: {status}\n{stderr}");
        let recorded = std::fs::read_to_string(&pid_file)
            .unwrap_or_else(|e| panic!("command of pid {pid} did not run ({e})\n{stderr}"));
        assert_eq!(
            recorded.trim(),
            pid.to_string(),
            "the command must run with the PID of the process that was started"
        );
    }

    assert_eq!(
        p.db.scalar_i64("SELECT count(*) FROM _sqlx_migrations WHERE success")
            .await,
        3
    );
    let per_version =
        p.db.strings(
            "SELECT version::text || ':' || count(*)::text FROM applied_log \
             GROUP BY version ORDER BY version",
        )
        .await;
    assert_eq!(
        per_version,
        ["20260101000000:1", "20260101000001:1", "20260101000002:1"]
    );
}
