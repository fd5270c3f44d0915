//! Parallel restore into an EMPTY database (`jobs` > 1, no `--clean`): the statements before
//! the first COPY (pre-data) run in one transaction; the COPY blocks are fed to `jobs`
//! connections at once, each block (a table, or a piece of a large one) its own transaction,
//! the pieces of one table on one connection (a backup interleaves the pieces of its
//! largest tables, so that every connection has work from the start: `pieces::interleave`);
//! the statements after them (post-data: keys, indexes, constraints, sequence values) run
//! in file order on one connection once every COPY has finished, except index builds, which
//! `jobs` more connections run as soon as their own table is loaded (`post_data`).
//!
//! Not one transaction, so a failure is undone differently: the target was empty, so every
//! object is dropped again (`clean::drop_all`) and the target is left as it was. Only a
//! process killed mid-way leaves a partly restored database (the single-transaction restore
//! is used whenever the target is not empty, i.e. with `--clean`).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use sqlx::PgConnection;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::classify::{copy_target, index_build_target};
use super::post_data::{Builders, Loading, raise_maintenance_work_mem};
use super::restore::{Op, RestoreReport, located};

/// COPY chunks (about 1 MiB each) queued per worker: bounds memory while letting the reader
/// run ahead of a slow table.
const QUEUE: usize = 96;

/// What a worker connection is told.
enum Work {
    Copy {
        sql: String,
        line: usize,
        table: String,
    },
    Data(Vec<u8>),
    End,
}

struct Worker {
    tx: mpsc::Sender<Work>,
    handle: JoinHandle<anyhow::Result<(u64, u64)>>,
}

/// The executor's state: the main connection and, during the data section, the workers.
struct Parallel<'a> {
    url: &'a str,
    jobs: usize,
    main: &'a mut PgConnection,
    /// `SET` / `set_config` statements seen so far, replayed on every worker connection.
    session: Vec<String>,
    workers: Vec<Worker>,
    /// The worker that loads each table seen so far.
    lanes: HashMap<String, usize>,
    in_transaction: bool,
    /// Whether a COPY was seen (index builds before it are pre-data, run in order).
    after_data: bool,
    loading: Arc<Loading>,
    /// The index builders at work since the last other post-data statement.
    builders: Option<Builders>,
    /// Their connections between two such statements.
    idle_builders: Vec<PgConnection>,
    report: RestoreReport,
}

/// Runs the script's operations; the caller undoes everything on error.
pub(crate) async fn execute(
    url: &str,
    main: &mut PgConnection,
    rx: &mut mpsc::Receiver<Op>,
    jobs: usize,
) -> anyhow::Result<RestoreReport> {
    let mut p = Parallel {
        url,
        jobs,
        main,
        session: Vec::new(),
        workers: Vec::new(),
        lanes: HashMap::new(),
        in_transaction: false,
        after_data: false,
        loading: Arc::new(Loading::default()),
        builders: None,
        idle_builders: Vec::new(),
        report: RestoreReport::default(),
    };
    let result = p.run(rx).await;
    // A worker's own error is the cause of a main loop that found it gone.
    let loaded = p.join_workers().await;
    let built = p.join_builders().await;
    loaded?;
    built?;
    result?;
    p.commit().await?;
    Ok(p.report)
}

impl Parallel<'_> {
    async fn run(&mut self, rx: &mut mpsc::Receiver<Op>) -> anyhow::Result<()> {
        while let Some(op) = rx.recv().await {
            match op {
                Op::Statement { sql, line } => self.statement(sql, line).await?,
                Op::Copy { sql, line } => self.copy(rx, sql, line).await?,
                Op::Data(_) | Op::CopyEnd => bail!("BUG: COPY data outside a COPY"),
            }
        }
        Ok(())
    }

    async fn statement(&mut self, sql: String, line: usize) -> anyhow::Result<()> {
        if let Some(table) = index_build_target(&sql).filter(|_| self.after_data) {
            // What came before it must be visible to the builders.
            self.commit().await?;
            self.builders().await?.push(table, sql, line)?;
            self.report.statements += 1;
            return Ok(());
        }
        // Any other post-data statement needs every table loaded and indexed.
        self.join_workers().await?;
        self.join_builders().await?;
        if !self.in_transaction {
            sqlx::raw_sql("BEGIN").execute(&mut *self.main).await?;
            self.in_transaction = true;
        }
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut *self.main)
            .await
            .map_err(|e| located(&e, &sql, line, None))?;
        if is_session_setting(&sql) {
            for conn in &mut self.idle_builders {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| located(&e, &sql, line, None))?;
            }
            self.session.push(sql);
        }
        self.report.statements += 1;
        Ok(())
    }

    /// The running index builders, started on `jobs` connections (kept from the last
    /// ones, or opened) if there are none.
    async fn builders(&mut self) -> anyhow::Result<&Builders> {
        if self.builders.is_none() {
            let mut conns = std::mem::take(&mut self.idle_builders);
            while conns.len() < self.jobs {
                let mut conn = self.connect_worker().await?;
                raise_maintenance_work_mem(&mut conn).await?;
                conns.push(conn);
            }
            self.builders = Some(Builders::start(conns, &self.loading));
        }
        self.builders
            .as_ref()
            .context("BUG: no index builders after starting them")
    }

    /// Waits for every index build queued; the first error wins.
    async fn join_builders(&mut self) -> anyhow::Result<()> {
        let Some(builders) = self.builders.take() else {
            return Ok(());
        };
        let (conns, _, error) = builders.finish().await;
        self.idle_builders = conns;
        error.map_or(Ok(()), Err)
    }

    async fn copy(
        &mut self,
        rx: &mut mpsc::Receiver<Op>,
        sql: String,
        line: usize,
    ) -> anyhow::Result<()> {
        // The tables must be visible to the workers' connections.
        self.commit().await?;
        self.after_data = true;
        if self.workers.is_empty() {
            for _ in 0..self.jobs {
                let conn = self.connect_worker().await?;
                let (tx, wrx) = mpsc::channel(QUEUE);
                let handle = tokio::spawn(work(conn, wrx, Arc::clone(&self.loading)));
                self.workers.push(Worker { tx, handle });
            }
        }
        // The pieces of a table go to the worker that has its first: two connections
        // loading one table contend for its relation extension lock (5 pieces of a 260 MB
        // table over 2 connections: restore 2.92 s against 2.75 s by table, PostgreSQL 15).
        // Unless that worker has work queued while another has none: an idle connection
        // costs more than the contention. A new table goes to the least busy worker.
        let table = copy_target(&sql).unwrap_or_default();
        let idle = |w: &Worker| w.tx.capacity() == w.tx.max_capacity();
        let least_busy = (0..self.workers.len())
            .max_by_key(|&i| self.workers[i].tx.capacity())
            .context("BUG: no restore worker")?;
        let index = match self.lanes.get(&table) {
            Some(&index) if idle(&self.workers[index]) || !idle(&self.workers[least_busy]) => index,
            _ => least_busy,
        };
        self.lanes.insert(table.clone(), index);
        let worker = &self.workers[index];
        let gone = || anyhow::anyhow!("a restore worker stopped");
        self.loading.start(&table);
        worker
            .tx
            .send(Work::Copy { sql, line, table })
            .await
            .map_err(|_| gone())?;
        loop {
            match rx.recv().await {
                Some(Op::Data(bytes)) => worker
                    .tx
                    .send(Work::Data(bytes))
                    .await
                    .map_err(|_| gone())?,
                Some(Op::CopyEnd) => break,
                Some(_) => bail!("BUG: statement inside COPY"),
                None => bail!("the input ended inside the COPY data that starts on line {line}"),
            }
        }
        worker.tx.send(Work::End).await.map_err(|_| gone())?;
        Ok(())
    }

    async fn connect_worker(&self) -> anyhow::Result<PgConnection> {
        let mut conn = crate::db::connect(&crate::config::DatabaseUrl::new(self.url))
            .await
            .context("connecting a restore worker")?;
        for sql in &self.session {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut conn)
                .await
                .context("setting up a restore worker")?;
        }
        Ok(conn)
    }

    /// Waits for every COPY in flight; the first worker error wins.
    async fn join_workers(&mut self) -> anyhow::Result<()> {
        self.lanes.clear();
        let mut first = None;
        for worker in self.workers.drain(..) {
            drop(worker.tx);
            match worker
                .handle
                .await
                .context("BUG: restore worker panicked")?
            {
                Ok((tables, rows)) => {
                    self.report.tables += tables;
                    self.report.rows += rows;
                }
                Err(e) => first = first.or(Some(e)),
            }
        }
        first.map_or(Ok(()), Err)
    }

    async fn commit(&mut self) -> anyhow::Result<()> {
        if self.in_transaction {
            sqlx::raw_sql("COMMIT")
                .execute(&mut *self.main)
                .await
                .context("committing the restore")?;
            self.in_transaction = false;
        }
        Ok(())
    }
}

/// One worker connection: runs the COPY blocks it is given, one after the other, and says
/// when each is loaded (or that it failed, so that no index build waits for it).
async fn work(
    conn: PgConnection,
    rx: mpsc::Receiver<Work>,
    loading: Arc<Loading>,
) -> anyhow::Result<(u64, u64)> {
    let result = load(conn, rx, &loading).await;
    if result.is_err() {
        loading.fail();
    }
    result
}

async fn load(
    mut conn: PgConnection,
    mut rx: mpsc::Receiver<Work>,
    loading: &Loading,
) -> anyhow::Result<(u64, u64)> {
    let (mut tables, mut rows) = (0, 0);
    while let Some(Work::Copy { sql, line, table }) = rx.recv().await {
        let mut copy = conn
            .copy_in_raw(&sql)
            .await
            .map_err(|e| located(&e, &sql, line, None))?;
        loop {
            match rx.recv().await {
                Some(Work::Data(bytes)) => {
                    copy.send(bytes)
                        .await
                        .map_err(|e| located(&e, &sql, line, Some(line)))?;
                }
                Some(Work::End) => break,
                Some(Work::Copy { .. }) | None => {
                    let _ = copy.abort("the restore stopped").await;
                    bail!("the restore stopped inside the COPY that starts on line {line}");
                }
            }
        }
        rows += copy
            .finish()
            .await
            .map_err(|e| located(&e, &sql, line, Some(line)))?;
        loading.done(&table);
        tables += 1;
    }
    Ok((tables, rows))
}

/// `SET ...` or `SELECT pg_catalog.set_config(...)`: session state the workers need too.
fn is_session_setting(sql: &str) -> bool {
    let lower = super::split::strip_comments(sql).to_ascii_lowercase();
    (lower.starts_with("set ") && !lower.starts_with("set constraints"))
        || lower.starts_with("select pg_catalog.set_config(")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_session_setting_recognizes_set_and_set_config() {
        assert!(is_session_setting("SET client_encoding = 'UTF8'"));
        assert!(is_session_setting(
            "SELECT pg_catalog.set_config('search_path', '', false)"
        ));
        assert!(!is_session_setting("SELECT 1"));
        assert!(!is_session_setting("CREATE TABLE settings (x int)"));
    }
}
