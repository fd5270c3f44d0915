//! Connections over TLS go through `db::nodelay` (TCP_NODELAY on a socket sqlx cannot reach):
//! the relay must keep TLS end to end, and `--once` must work against a server that
//! requires it. A loopback address under the default `sslmode=prefer` is connected without
//! TLS unless the server refuses that. (Latency is measured by `scripts/bench-once.sh` and
//! `scripts/bench-generate.sh`, not asserted here.)

mod common;
mod once_support;

use std::path::Path;
use std::process::Command;

use common::{PrivateCluster, Project};
use once_support::{add_migration, assert_success, once_args, record_pid};
use sqlx::Connection as _;

/// A private cluster with `ssl = on` and a throwaway self-signed certificate.
async fn tls_cluster(dir: &Path) -> PrivateCluster {
    let cluster = PrivateCluster::start(dir).expect("start a private cluster");
    let data = dir.join("data");
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .arg("-keyout")
        .arg(data.join("server.key"))
        .arg("-out")
        .arg(data.join("server.crt"))
        .output()
        .expect("openssl (apt-get install openssl)");
    assert_success(&out);
    let chown = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "chmod 0600 '{0}/server.key' && if [ \"$(id -u)\" = 0 ]; then chown postgres: '{0}/server.key' '{0}/server.crt'; fi",
            data.display()
        ))
        .status()
        .unwrap();
    assert!(chown.success());
    let mut admin = sqlx::PgConnection::connect(&cluster.url()).await.unwrap();
    for sql in [
        "ALTER SYSTEM SET ssl = on",
        "ALTER SYSTEM SET ssl_cert_file = 'server.crt'",
        "ALTER SYSTEM SET ssl_key_file = 'server.key'",
        "SELECT pg_reload_conf()",
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    // The reload is asynchronous: wait until a new session sees it.
    for _ in 0..100 {
        let mut c = sqlx::PgConnection::connect(&cluster.url()).await.unwrap();
        let ssl: String = sqlx::query_scalar("SHOW ssl")
            .fetch_one(&mut c)
            .await
            .unwrap();
        if ssl == "on" {
            return cluster;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("ssl did not turn on after pg_reload_conf()");
}

fn tls_url(cluster: &PrivateCluster, mode: &str) -> String {
    format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode={mode}",
        cluster.port
    )
}

/// Whether the session `url` gives (through `db::nodelay`) is encrypted.
async fn connects_with_tls(url: &str) -> bool {
    let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    let mut conn = migrated::db::nodelay::connect(&options).await.unwrap();
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    ssl
}

#[tokio::test]
async fn nodelay_connect_over_tls_keeps_tls_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = tls_cluster(dir.path()).await;
    assert!(
        connects_with_tls(&tls_url(&cluster, "require")).await,
        "sslmode=require must still encrypt through the relay"
    );
    assert!(
        !connects_with_tls(&tls_url(&cluster, "prefer")).await,
        "sslmode=prefer to a loopback address connects in plain TCP when the server allows it"
    );
}

#[tokio::test]
async fn nodelay_connect_prefer_on_loopback_falls_back_to_tls_when_required() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = tls_cluster(dir.path()).await;
    // TCP connections only with TLS from now on (this session, opened before, reloads).
    let mut admin = sqlx::PgConnection::connect(&cluster.url()).await.unwrap();
    std::fs::write(
        dir.path().join("data/pg_hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
    )
    .unwrap();
    sqlx::query("SELECT pg_reload_conf()")
        .execute(&mut admin)
        .await
        .unwrap();
    let plain = tls_url(&cluster, "disable");
    for _ in 0..100 {
        let refused = sqlx::PgConnection::connect(&plain).await.is_err();
        if refused {
            assert!(
                connects_with_tls(&tls_url(&cluster, "prefer")).await,
                "refused in plain TCP, sslmode=prefer must retry with TLS"
            );
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("pg_hba.conf with hostssl lines only was not loaded");
}

#[tokio::test]
async fn once_over_required_tls_applies_and_execs() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = tls_cluster(dir.path()).await;
    let p = Project::new("once_tls").await;
    add_migration(
        &p,
        "20260101000000",
        "create_a",
        "CREATE TABLE tls_a (id int);\n",
        "DROP TABLE tls_a;\n",
    );
    let pid_file = p.path("app.pid");
    let args = once_args(&record_pid(&pid_file));
    let out = p
        .command(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .env("DATABASE_URL", tls_url(&cluster, "require"))
        .output()
        .unwrap();
    assert_success(&out);
    assert!(pid_file.exists());
}
