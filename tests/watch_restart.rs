//! PostgreSQL restarted under the daemon (a private cluster): the outage is an event, not a
//! crash; the daemon reconnects with backoff and applies the edit made meanwhile.

mod common;
mod watch_support;

use common::{PrivateCluster, Project, url_with_database};
use watch_support::{Daemon, eventually};

#[tokio::test]
async fn watch_survives_a_postgres_restart() {
    let dir = tempfile::Builder::new()
        .prefix("migrated-pg-")
        .tempdir()
        .unwrap();
    let cluster = PrivateCluster::start(dir.path()).expect("private cluster");
    let admin = cluster.url();
    let status = std::process::Command::new("psql")
        .args([admin.as_str(), "-Xqc", "CREATE DATABASE app"])
        .status()
        .unwrap();
    assert!(status.success());
    let url = url_with_database(&admin, "app");
    let columns = || {
        let url = url.clone();
        async move {
            let out = std::process::Command::new("psql")
                .args([url.as_str(), "-XAtc", "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'users'"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        }
    };

    let p = Project::new("watch_restart").await;
    p.write(
        "models/users.sql",
        "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
    );
    std::fs::create_dir_all(p.path("migrations")).unwrap();
    let mut cmd = p.command(&["watch"]);
    cmd.env("DATABASE_URL", &url);
    let d = Daemon::spawn(cmd);
    eventually("users table", &d, || async {
        columns().await == "id,email"
    })
    .await;

    cluster.stop_server().unwrap();
    p.write(
        "models/users.sql",
        "CREATE TABLE users (id bigint PRIMARY KEY, email text, name text);\n",
    );
    d.wait_for(&["database.unavailable"], 1);
    cluster.start_server().unwrap();
    eventually("column added after the restart", &d, || async {
        columns().await == "id,email,name"
    })
    .await;
    assert_eq!(d.count(&["panicked"]), 0, "{}", d.output());
}
