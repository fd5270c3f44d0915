//! Table data: `COPY ... TO STDOUT` on worker connections that share the leader's snapshot,
//! each piece of a table (see `pieces`) written as a `COPY ... FROM stdin;` block ending in
//! `\.`, one gzip member per piece, compressed on a blocking thread per worker.
//!
//! Workers take the largest remaining piece first (to finish together); the file order is
//! decided elsewhere (`pieces::interleave`), so it never depends on which worker was faster.
//! A COPY stream is always read to its end: on an error the connection is dropped, never
//! reused.

use std::collections::VecDeque;
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use futures_util::TryStreamExt as _;
use indicatif::ProgressBar;
use sqlx::PgConnection;
use tokio::sync::mpsc;

use super::catalog::DataTable;
use super::compress::{Extent, Spool};
use super::pieces::Piece;
use super::snapshot;
use crate::core::render::qualified;

/// Bytes of COPY rows gathered before they go to the compressor (copy_out yields one row per
/// chunk: far too small to compress or send one by one).
const CHUNK: usize = 256 * 1024;

/// One piece's dumped block.
#[derive(Debug, Clone, Copy)]
pub struct DumpedPiece {
    pub extent: Extent,
    pub rows: u64,
}

/// Everything the workers share.
#[derive(Clone)]
pub struct DumpPlan {
    pub url: String,
    pub snapshot_id: String,
    pub tables: Arc<Vec<DataTable>>,
    pub pieces: Arc<Vec<Piece>>,
    pub jobs: usize,
    pub level: u32,
    pub spool_dir: PathBuf,
    pub progress: ProgressBar,
}

/// The spool files (indexed by `Extent::spool`) and each piece's block, in `pieces` order.
pub struct Dumped {
    pub spools: Vec<File>,
    pub pieces: Vec<DumpedPiece>,
}

/// Dumps every piece of the plan with `jobs` workers.
pub async fn dump_tables(plan: DumpPlan) -> anyhow::Result<Dumped> {
    let mut order: Vec<usize> = (0..plan.pieces.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(plan.pieces[i].size(&plan.tables)));
    let queue = Arc::new(Mutex::new(VecDeque::from(order)));
    let jobs = plan.jobs.clamp(1, plan.pieces.len().max(1));
    let workers: Vec<_> = (0..jobs)
        .map(|id| tokio::spawn(worker(id, plan.clone(), Arc::clone(&queue))))
        .collect();
    let mut spools = Vec::with_capacity(jobs);
    let mut slots: Vec<Option<DumpedPiece>> = vec![None; plan.pieces.len()];
    for handle in workers {
        let (file, done) = handle.await.context("BUG: backup worker panicked")??;
        spools.push(file);
        for (index, piece) in done {
            slots[index] = Some(piece);
        }
    }
    let pieces = slots
        .into_iter()
        .map(|t| t.context("BUG: a piece was not dumped by any worker"))
        .collect::<anyhow::Result<_>>()?;
    Ok(Dumped { spools, pieces })
}

/// What goes from a worker's connection to its compressor thread.
enum Chunk {
    Start(usize, Vec<u8>),
    Data(Vec<u8>),
    End(u64),
}

type WorkerResult = anyhow::Result<(File, Vec<(usize, DumpedPiece)>)>;

async fn worker(id: usize, plan: DumpPlan, queue: Arc<Mutex<VecDeque<usize>>>) -> WorkerResult {
    let mut conn = snapshot::join(&plan.url, &plan.snapshot_id).await?;
    let spool = Spool::create(id, &plan.spool_dir)
        .with_context(|| format!("creating a spool file in {}", plan.spool_dir.display()))?;
    let (tx, rx) = mpsc::channel::<Chunk>(8);
    let level = plan.level;
    let compressor = tokio::task::spawn_blocking(move || compress_loop(spool, rx, level));
    let copied = async {
        while let Some(index) = next_piece(&queue) {
            tracing::debug!(worker = id, piece = index, "dumping");
            let rows = copy_piece(&mut conn, &plan, index, &tx).await?;
            tx.send(Chunk::End(rows))
                .await
                .map_err(|_| anyhow::anyhow!("the compressor stopped"))?;
        }
        anyhow::Ok(())
    }
    .await;
    drop(tx);
    let compressed = compressor.await.context("BUG: compressor panicked")?;
    // A copy error explains a compressor that stopped early, so it is reported first.
    copied?;
    let result = compressed.context("compressing the backup")?;
    // Dropping closes the socket (sqlx's close_hard waits on a shutdown that can hang).
    drop(conn);
    Ok(result)
}

fn next_piece(queue: &Mutex<VecDeque<usize>>) -> Option<usize> {
    queue
        .lock()
        .expect("BUG: backup queue poisoned")
        .pop_front()
}

/// Streams one piece into the compressor; returns its row count.
async fn copy_piece(
    conn: &mut PgConnection,
    plan: &DumpPlan,
    index: usize,
    tx: &mpsc::Sender<Chunk>,
) -> anyhow::Result<u64> {
    let piece = &plan.pieces[index];
    let table = &plan.tables[piece.table];
    let name = qualified(&table.schema, &table.name);
    let closed = || anyhow::anyhow!("the compressor stopped");
    tx.send(Chunk::Start(index, piece.copy_header(table).into_bytes()))
        .await
        .map_err(|_| closed())?;
    let sql = piece.copy_out_sql(table);
    let mut stream = conn
        .copy_out_raw(&sql)
        .await
        .with_context(|| format!("reading table {name}"))?;
    let (mut rows, mut buf) = (0_u64, Vec::with_capacity(CHUNK + 4096));
    while let Some(bytes) = stream
        .try_next()
        .await
        .with_context(|| format!("reading table {name}"))?
    {
        buf.extend_from_slice(&bytes);
        if buf.len() >= CHUNK {
            rows += count_lines(&buf);
            plan.progress.inc(buf.len() as u64);
            let full = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK + 4096));
            tx.send(Chunk::Data(full)).await.map_err(|_| closed())?;
        }
    }
    rows += count_lines(&buf);
    plan.progress.inc(buf.len() as u64);
    buf.extend_from_slice(b"\\.\n\n");
    tx.send(Chunk::Data(buf)).await.map_err(|_| closed())?;
    Ok(rows)
}

/// Rows in a chunk of COPY text: every row ends in a newline (newlines inside values are
/// escaped as `\n`).
fn count_lines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

fn compress_loop(
    mut spool: Spool,
    mut rx: mpsc::Receiver<Chunk>,
    level: u32,
) -> anyhow::Result<(File, Vec<(usize, DumpedPiece)>)> {
    let mut done = Vec::new();
    while let Some(Chunk::Start(index, header)) = rx.blocking_recv() {
        let mut member = spool.member(level);
        member.write(&header)?;
        let rows = loop {
            match rx.blocking_recv() {
                Some(Chunk::Data(bytes)) => member.write(&bytes)?,
                Some(Chunk::End(rows)) => break rows,
                // The worker stopped on an error it reports itself.
                Some(Chunk::Start(..)) | None => anyhow::bail!("table dump interrupted"),
            }
        };
        done.push((
            index,
            DumpedPiece {
                extent: member.finish()?,
                rows,
            },
        ));
    }
    Ok((spool.into_file()?, done))
}
