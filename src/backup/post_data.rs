//! Index builds of a parallel restore's post-data. A statement that builds an index or key
//! of a table (`classify::index_build_target`) goes to a pool of builder connections as soon
//! as it is read, and runs once every COPY block of its table has loaded, while the blocks of
//! other tables may still be loading (as pg_restore overlaps them). Builds do not depend on
//! each other (two on one table just wait for each other's lock). Any other post-data
//! statement is a barrier: the caller drains the pool and the loads first.
//!
//! The builders run with a larger `maintenance_work_mem` (never lowering the server's), as
//! index builds after a bulk load are sort-bound.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use sqlx::PgConnection;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use super::restore::located;

/// `maintenance_work_mem` for the builders, in kB, unless the server's is larger.
const MAINTENANCE_WORK_MEM_KB: i64 = 256 * 1024;

/// COPY blocks still loading, per table (as `classify` keys it).
#[derive(Default)]
pub(crate) struct Loading {
    counts: Mutex<HashMap<String, usize>>,
    failed: AtomicBool,
    changed: Notify,
}

impl Loading {
    /// A block of `table` was handed to a loader.
    pub(crate) fn start(&self, table: &str) {
        *self
            .counts
            .lock()
            .expect("BUG: loading poisoned")
            .entry(table.to_owned())
            .or_default() += 1;
    }

    /// A block of `table` is loaded (committed).
    pub(crate) fn done(&self, table: &str) {
        if let Some(n) = self
            .counts
            .lock()
            .expect("BUG: loading poisoned")
            .get_mut(table)
        {
            *n = n.saturating_sub(1);
        }
        self.changed.notify_waiters();
    }

    /// A loader stopped on an error: nothing waits for loads any more.
    pub(crate) fn fail(&self) {
        self.failed.store(true, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    /// Waits until every block of `table` handed out so far is loaded; false if a loader
    /// failed.
    async fn wait(&self, table: &str) -> bool {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.failed.load(Ordering::SeqCst) {
                return false;
            }
            let pending = self
                .counts
                .lock()
                .expect("BUG: loading poisoned")
                .get(table)
                .copied()
                .unwrap_or(0);
            if pending == 0 {
                return true;
            }
            changed.await;
        }
    }
}

/// One index build.
struct Build {
    table: String,
    sql: String,
    line: usize,
}

type BuilderResult = (PgConnection, anyhow::Result<u64>);

/// The builder connections at work, each taking builds off one shared queue.
pub(crate) struct Builders {
    tx: mpsc::UnboundedSender<Build>,
    handles: Vec<JoinHandle<BuilderResult>>,
}

impl Builders {
    /// Starts a builder task on each connection.
    pub(crate) fn start(conns: Vec<PgConnection>, loading: &Arc<Loading>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let stop = Arc::new(AtomicBool::new(false));
        let handles = conns
            .into_iter()
            .map(|conn| {
                let (rx, loading, stop) = (Arc::clone(&rx), Arc::clone(loading), Arc::clone(&stop));
                tokio::spawn(build_loop(conn, rx, loading, stop))
            })
            .collect();
        Self { tx, handles }
    }

    /// Queues a build of `table`'s index.
    pub(crate) fn push(&self, table: String, sql: String, line: usize) -> anyhow::Result<()> {
        self.tx
            .send(Build { table, sql, line })
            .map_err(|_| anyhow::anyhow!("BUG: the index builders are gone"))
    }

    /// Waits for every queued build; returns the connections (for the next builds), how many
    /// statements ran, and the first error.
    pub(crate) async fn finish(self) -> (Vec<PgConnection>, u64, Option<anyhow::Error>) {
        drop(self.tx);
        let (mut conns, mut ran, mut first) = (Vec::new(), 0, None);
        for handle in self.handles {
            match handle.await {
                Ok((conn, result)) => {
                    conns.push(conn);
                    match result {
                        Ok(n) => ran += n,
                        Err(e) => first = first.or(Some(e)),
                    }
                }
                Err(e) => {
                    first =
                        first.or_else(|| Some(anyhow::anyhow!("BUG: index builder panicked: {e}")));
                }
            }
        }
        (conns, ran, first)
    }
}

async fn build_loop(
    mut conn: PgConnection,
    rx: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Build>>>,
    loading: Arc<Loading>,
    stop: Arc<AtomicBool>,
) -> BuilderResult {
    let mut ran = 0;
    loop {
        let Some(build) = rx.lock().await.recv().await else {
            return (conn, Ok(ran));
        };
        // A failed load or build is reported by whoever failed; take no more work.
        if stop.load(Ordering::SeqCst) || !loading.wait(&build.table).await {
            return (conn, Ok(ran));
        }
        let done = sqlx::raw_sql(sqlx::AssertSqlSafe(build.sql.clone()))
            .execute(&mut conn)
            .await;
        if let Err(e) = done {
            stop.store(true, Ordering::SeqCst);
            return (conn, Err(located(&e, &build.sql, build.line, None)));
        }
        ran += 1;
    }
}

/// Raises the connection's `maintenance_work_mem` for the index builds of a restore.
pub(crate) async fn raise_maintenance_work_mem(conn: &mut PgConnection) -> anyhow::Result<()> {
    sqlx::query(
        "SELECT pg_catalog.set_config('maintenance_work_mem',
                greatest(setting::int8, $1)::text, false)
           FROM pg_catalog.pg_settings WHERE name = 'maintenance_work_mem'",
    )
    .bind(MAINTENANCE_WORK_MEM_KB)
    .execute(conn)
    .await
    .context("raising maintenance_work_mem for the restore")?;
    Ok(())
}
