//! Test harness: a real PostgreSQL for every test, each test its own database, and a builder
//! that runs the built binary in a temporary project folder.
//!
//! The server is `TEST_DATABASE_URL` when set (a URL to a database on a server where the
//! user may create databases); otherwise a private throwaway cluster started from the
//! system's PostgreSQL binaries, shared by every test process of this build (started once,
//! under a file lock, in the target directory). No test ever skips for want of a database:
//! if none can be had, the test fails and says how to provide one.

#![allow(dead_code, unreachable_pub, unused_imports)]
// The harness is the test process's I/O edge: it reads TEST_DATABASE_URL and the environment.
#![allow(clippy::disallowed_methods, clippy::needless_pass_by_value)]

pub mod cluster;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection as _, PgConnection, PgPool};
use tempfile::TempDir;

pub use cluster::PrivateCluster;

/// The server every test uses, as an admin URL (a database that always exists).
pub fn server_url() -> String {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
            return url;
        }
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pg-shared");
        match cluster::shared(&dir) {
            Ok(url) => url,
            Err(e) => panic!(
                "no PostgreSQL for the tests: TEST_DATABASE_URL is not set and a private cluster could not be started ({e:#}).\n\
                 Set TEST_DATABASE_URL=postgres://user@host:port/postgres (the user must be allowed to create databases), \
                 or install the PostgreSQL server binaries (apt-get install postgresql)."
            ),
        }
    })
    .clone()
}

/// `url` with its database name replaced.
pub fn url_with_database(url: &str, db: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("valid TEST_DATABASE_URL");
    parsed
        .path_segments_mut()
        .expect("url with a path")
        .clear()
        .push(db);
    parsed.into()
}

/// One test's own database, dropped (with every database named after it, such as the
/// shadow) when the value is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new(label: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let label: String = label
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(24)
            .collect();
        let name = format!(
            "mt_{}_{}_{n}",
            label.to_ascii_lowercase(),
            std::process::id()
        );
        let admin = server_url();
        let mut conn = PgConnection::connect(&admin)
            .await
            .expect("connect to the test server");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE \"{name}\" TEMPLATE template0"
        )))
        .execute(&mut conn)
        .await
        .expect("create test database");
        let url = url_with_database(&admin, &name);
        Self { name, url }
    }

    pub async fn pool(&self) -> PgPool {
        PgPool::connect(&self.url)
            .await
            .expect("connect to the test database")
    }

    pub async fn conn(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .expect("connect to the test database")
    }

    /// Runs a script (several statements allowed) on the test database.
    pub async fn exec(&self, sql: &str) {
        let mut conn = self.conn().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("running {sql:?}: {e}"));
    }

    /// The first column of every row of a query, as text.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        let mut conn = self.conn().await;
        sqlx::query_scalar::<_, Option<String>>(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("running {sql:?}: {e}"))
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect()
    }

    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        let mut conn = self.conn().await;
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("running {sql:?}: {e}"))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = server_url();
        let prefix = self.name.clone();
        // Drop runs outside any runtime guarantee: use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let Ok(mut conn) = PgConnection::connect(&admin).await else { return };
                let names: Vec<String> =
                    sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname = $1 OR datname LIKE $1 || '\\_%'")
                        .bind(&prefix)
                        .fetch_all(&mut conn)
                        .await
                        .unwrap_or_default();
                for name in names {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await;
                }
            });
        })
        .join();
    }
}

/// A temporary project folder with its own database, and the built binary to run in it.
pub struct Project {
    pub dir: TempDir,
    pub db: TestDb,
}

/// What a run of the binary printed, and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from_output(out: Output) -> Self {
        Self {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(
            self.code,
            Some(0),
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(self, needle: &str) -> Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(self, needle: &str) -> Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// The built binary.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_migrated")
}

impl Project {
    pub async fn new(label: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("migrated-test-")
            .tempdir()
            .expect("temp dir");
        let db = TestDb::new(label).await;
        Self { dir, db }
    }

    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file (creating its folders).
    pub fn write(&self, rel: impl AsRef<Path>, content: impl AsRef<[u8]>) -> &Self {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        self
    }

    pub fn read(&self, rel: impl AsRef<Path>) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    /// The binary, in the project folder, with `DATABASE_URL` set to the test database and
    /// no `MIGRATED_*` variables inherited from the caller.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(binary());
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("DATABASE_URL", &self.db.url);
        for (key, _) in std::env::vars() {
            if key.starts_with("MIGRATED_") || key == "RUST_LOG" {
                cmd.env_remove(key);
            }
        }
        cmd
    }

    /// Runs the binary to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from_output(
            self.command(args)
                .output()
                .expect("run the migrated binary"),
        )
    }

    /// Writes `migrations/<version>_<slug>.up.sql` and its `.down.sql`.
    pub fn migration(&self, version: &str, slug: &str, up: &str, down: Option<&str>) -> &Self {
        self.write(format!("migrations/{version}_{slug}.up.sql"), up);
        if let Some(down) = down {
            self.write(format!("migrations/{version}_{slug}.down.sql"), down);
        }
        self
    }
}

/// Copies a folder tree (skipping `__pycache__`), for tests that start from a checked-in project.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "__pycache__" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The text of a gzip file (a backup), through the system's gunzip.
pub fn gunzip(path: &Path) -> String {
    let out = Command::new("gunzip").arg("-c").arg(path).output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// Restores a gzip backup with no tool of ours: `gunzip -c FILE | psql`, stopping at the
/// first error.
pub fn psql_restore(file: &Path, url: &str) {
    let script = format!(
        "set -o pipefail; gunzip -c '{}' | psql -X -q -v ON_ERROR_STOP=1 -d '{url}' >/dev/null",
        file.display()
    );
    let out = Command::new("bash").args(["-c", &script]).output().unwrap();
    assert!(
        out.status.success(),
        "psql restore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
