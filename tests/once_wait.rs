//! `--once` waiting for its database: a server that comes up late is waited for, one that
//! never answers fails after `--wait-timeout` with a clear message, and SIGTERM or SIGINT
//! while waiting ends the run at once without starting the command.

mod common;
mod once_support;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{PrivateCluster, Project};
use once_support::{add_migration, once_args, read_stderr_until, record_pid, wait_bounded};

/// A TCP port on which nothing listens.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn one_migration(p: &Project) {
    add_migration(
        p,
        "20260101000000",
        "create_a",
        "CREATE TABLE a (id int);\n",
        "DROP TABLE a;\n",
    );
}

#[tokio::test]
async fn once_database_up_late_is_waited_for_then_command_runs() {
    let p = Project::new("once_late").await;
    one_migration(&p);
    let cluster_dir = tempfile::Builder::new()
        .prefix("migrated-once-late-")
        .tempdir()
        .unwrap();
    let cluster = PrivateCluster::start(cluster_dir.path()).expect("start a private cluster");
    cluster.stop_server().expect("stop it");

    let pid_file = p.path("app.pid");
    let mut a = once_args(&record_pid(&pid_file));
    a.splice(1..1, ["--wait-timeout".to_owned(), "60".to_owned()]);
    let mut child = p
        .command(&args(&a))
        .env("DATABASE_URL", cluster.url())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // It is waiting (it logged a retry) before the server comes back.
    let (seen, rest) = read_stderr_until(&mut child, "retrying");
    std::thread::sleep(Duration::from_secs(3));
    cluster.start_server().expect("start the server again");

    let status = wait_bounded(&mut child, Duration::from_secs(90));
    let stderr = seen + &rest.join().unwrap();
    assert!(status.success(), "{status}\n{stderr}");
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        pid.to_string()
    );
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&cluster.url())
        .await
        .unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(applied, 1);
}

#[tokio::test]
async fn once_unreachable_database_fails_after_wait_timeout_with_clear_message() {
    let p = Project::new("once_unreachable").await;
    one_migration(&p);
    let url = format!(
        "postgres://postgres:secret@127.0.0.1:{}/app?sslmode=disable",
        closed_port()
    );
    let run = p
        .command(&["--once", "--wait-timeout", "2", "--", "touch", "started"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{stderr}");
    assert!(last.contains("127.0.0.1"), "names the server: {last}");
    assert!(last.to_lowercase().contains("refused"), "says why: {last}");
    assert!(
        !stderr.contains("secret"),
        "never prints the password: {stderr}"
    );
    assert!(!p.path("started").exists(), "the command must not start");
}

fn signal_while_waiting(signal: &str) {
    let p = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(Project::new("once_signal"));
    one_migration(&p);
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/app?sslmode=disable",
        closed_port()
    );
    let mut child = p
        .command(&["--once", "--wait-timeout", "300", "--", "touch", "started"])
        .env("DATABASE_URL", &url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (seen, rest) = read_stderr_until(&mut child, "retrying");
    let killed = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // Far below the 300 s wait: the signal ended the wait, not the timeout.
    let status = wait_bounded(&mut child, Duration::from_secs(30));
    let stderr = seen + &rest.join().unwrap();
    assert!(!status.success(), "must exit non-zero: {status}\n{stderr}");
    assert!(stderr.contains(&format!("SIG{signal}")), "{stderr}");
    assert!(!p.path("started").exists(), "the command must not start");
}

#[test]
fn once_sigterm_while_waiting_exits_promptly_without_command() {
    signal_while_waiting("TERM");
}

#[test]
fn once_sigint_while_waiting_exits_promptly_without_command() {
    signal_while_waiting("INT");
}

#[tokio::test]
async fn once_sigterm_while_applying_finishes_migration_then_exits_without_command() {
    let p = Project::new("once_sig_apply").await;
    add_migration(
        &p,
        "20260101000000",
        "slow",
        "CREATE TABLE slow_a (id int);\nSELECT pg_sleep(1.5);\n",
        "DROP TABLE slow_a;\n",
    );
    let mut child = p
        .command(&["--once", "--", "touch", "started"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the migration is running on the server, then signal.
    let mut running = false;
    for _ in 0..500 {
        let n =
            p.db.scalar_i64(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND query LIKE '%pg_sleep(1.5)%' \
                 AND pid <> pg_backend_pid()",
            )
            .await;
        if n > 0 {
            running = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(running, "the migration never started");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_bounded(&mut child, Duration::from_secs(30));
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("received SIGTERM while applying migrations"),
        "{stderr}"
    );
    // The migration in flight completed and is recorded; the command was not started.
    assert_eq!(
        p.db.scalar_i64("SELECT count(*) FROM _sqlx_migrations WHERE success")
            .await,
        1
    );
    assert!(!p.path("started").exists(), "the command must not start");
}
