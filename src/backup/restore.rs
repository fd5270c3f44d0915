//! `db restore`: streams a backup (gzip read with `MultiGzDecoder`, or plain `.sql`) and
//! executes it in ONE transaction on one connection: statements one by one, `COPY ... FROM
//! stdin` blocks through `copy_in_raw`. Any failure rolls the whole restore back, so the
//! target is left as it was, and the error names the line of the file that failed.
//!
//! A reader thread decompresses and splits (`split.rs`); the async side only executes.
//! Into an empty database with `jobs` > 1, tables load in parallel instead (`parallel.rs`).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{Context as _, bail};
use flate2::read::MultiGzDecoder;
use sqlx::PgConnection;
use sqlx::postgres::PgDatabaseError;
use tokio::sync::mpsc;

use super::clean;
use super::split::{Item, Splitter};

/// COPY data is sent to the server in chunks of about this size.
const SEND_CHUNK: usize = 1 << 20;
/// The first and last lines of a backup of ours: a file that has the first must have the last.
pub const FIRST_LINE_MARK: &str = "-- migrated backup: plain SQL.";
pub const END_MARK: &str = "-- migrated: end of backup";

#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// Drop every user object of the target first (in the same transaction).
    pub clean: bool,
    /// Connections loading tables at once into an empty target; 1 for one transaction.
    pub jobs: usize,
}

/// What a restore did.
#[derive(Debug, Clone, Default)]
pub struct RestoreReport {
    pub statements: u64,
    pub tables: u64,
    pub rows: u64,
}

/// What the reader thread hands to the executor.
pub(crate) enum Op {
    Statement { sql: String, line: usize },
    Copy { sql: String, line: usize },
    Data(Vec<u8>),
    CopyEnd,
}

/// Restores `file` into the database at `url`.
pub async fn restore(
    url: &str,
    file: &Path,
    options: &RestoreOptions,
) -> anyhow::Result<RestoreReport> {
    let input = open(file)?;
    let mut conn = crate::db::connect(&crate::config::DatabaseUrl::new(url))
        .await
        .context("connecting to the target database")?;
    let found = clean::user_objects(&mut conn, 5).await?;
    if !found.is_empty() && !options.clean {
        bail!(crate::error::UsageError(format!(
            "the target database is not empty (it has {}); restore into an empty database, \
             or pass --clean to drop every object in it first",
            found.join(", ")
        )));
    }
    // Parallel only where a failure can be undone without a transaction: an empty target.
    let parallel = options.jobs > 1 && found.is_empty();
    let (tx, mut rx) = mpsc::channel(64);
    let path = file.to_path_buf();
    let reader = tokio::task::spawn_blocking(move || read_script(input, &path, &tx));
    let executed = if parallel {
        super::parallel::execute(url, &mut conn, &mut rx, options.jobs).await
    } else {
        serial(&mut conn, &mut rx, options.clean).await
    };
    drop(rx);
    let read = reader.await.context("BUG: restore reader panicked")?;
    // A broken file explains an executor that ran out of input, so it is reported first;
    // a reader that stopped because the executor failed has nothing to add.
    let outcome = match read {
        Err(e) if !e.is::<Stopped>() => Err(e),
        _ => executed,
    };
    let Err(e) = outcome else {
        return outcome;
    };
    let undone = if parallel {
        // Dropping the leader's socket ends whatever transaction it holds (a ROLLBACK
        // outside one would only warn); undoing waits for its locks.
        drop(conn);
        undo_parallel(url).await
    } else {
        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut conn).await;
        "nothing was changed in the target database".to_owned()
    };
    Err(e.context(format!("restoring {} failed; {undone}", file.display())))
}

/// One transaction: clean (if asked), every statement and COPY, commit.
async fn serial(
    conn: &mut PgConnection,
    rx: &mut mpsc::Receiver<Op>,
    clean: bool,
) -> anyhow::Result<RestoreReport> {
    sqlx::raw_sql("BEGIN")
        .execute(&mut *conn)
        .await
        .context("starting the restore transaction")?;
    if clean {
        clean::drop_user_objects(conn).await?;
    }
    let report = execute(conn, rx).await?;
    sqlx::raw_sql("COMMIT")
        .execute(&mut *conn)
        .await
        .context("committing the restore")?;
    Ok(report)
}

/// Empties the target again after a failed parallel restore (it was empty before).
async fn undo_parallel(url: &str) -> String {
    let undone = async {
        let mut conn = crate::db::connect(&crate::config::DatabaseUrl::new(url)).await?;
        clean::drop_all(&mut conn).await
    }
    .await;
    match undone {
        Ok(()) => "the target database was emptied again, as it was before".to_owned(),
        Err(e) => format!(
            "emptying the target database again ALSO failed ({e:#}): it holds a partial restore"
        ),
    }
}

/// Opens the file, through `MultiGzDecoder` when it starts with the gzip magic bytes.
fn open(file: &Path) -> anyhow::Result<Box<dyn BufRead + Send>> {
    let mut f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut magic = [0_u8; 2];
    let n = f
        .read(&mut magic)
        .with_context(|| format!("reading {}", file.display()))?;
    let f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    Ok(if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::with_capacity(
            1 << 20,
            MultiGzDecoder::new(BufReader::with_capacity(1 << 20, f)),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, f))
    })
}

/// Reads and splits the script, sending statements and COPY data to the executor.
fn read_script(
    mut input: Box<dyn BufRead + Send>,
    path: &Path,
    tx: &mpsc::Sender<Op>,
) -> anyhow::Result<()> {
    let mut splitter = Splitter::new();
    let mut line = Vec::with_capacity(4096);
    let mut data: Vec<u8> = Vec::with_capacity(DATA_CAPACITY);
    let (mut ours, mut last_text) = (false, String::new());
    let send = |op: Op| tx.blocking_send(op).map_err(|_| Stopped);
    loop {
        if splitter.in_copy() && copy_run_into(&mut input, &mut splitter, &mut data, path)? {
            send_full(&mut data, &send)?;
            continue;
        }
        line.clear();
        let n = input.read_until(b'\n', &mut line).with_context(|| {
            format!(
                "reading {} near line {}",
                path.display(),
                splitter.line() + 1
            )
        })?;
        if n == 0 {
            break;
        }
        if splitter.in_copy() {
            if matches!(splitter.copy_line(&line), Item::CopyEnd) {
                send(Op::Data(std::mem::take(&mut data)))?;
                send(Op::CopyEnd)?;
            } else {
                data.extend_from_slice(&line);
                send_full(&mut data, &send)?;
            }
            continue;
        }
        let text = std::str::from_utf8(&line).with_context(|| {
            format!(
                "{} line {}: not valid UTF-8",
                path.display(),
                splitter.line() + 1
            )
        })?;
        ours |= splitter.line() < 3 && text.trim_end() == FIRST_LINE_MARK;
        if !text.trim().is_empty() {
            text.trim_end().clone_into(&mut last_text);
        }
        for item in splitter.sql_line(text)? {
            match item {
                Item::Statement { sql, line } => send(Op::Statement { sql, line })?,
                Item::CopyStart { sql, line } => send(Op::Copy { sql, line })?,
                Item::CopyData | Item::CopyEnd => {}
            }
        }
    }
    splitter.finish()?;
    if ours && last_text != END_MARK {
        bail!(
            "{} is truncated: it lacks its last line `{END_MARK}`",
            path.display()
        );
    }
    Ok(())
}

/// Moves the whole COPY data lines at the front of the reader's buffer into `data` at once
/// (much cheaper than line by line); false when the buffer starts with the end line or with
/// a line longer than itself, which the caller reads as a line.
fn copy_run_into(
    input: &mut Box<dyn BufRead + Send>,
    splitter: &mut Splitter,
    data: &mut Vec<u8>,
    path: &Path,
) -> anyhow::Result<bool> {
    let buf = input.fill_buf().with_context(|| {
        format!(
            "reading {} near line {}",
            path.display(),
            splitter.line() + 1
        )
    })?;
    let run = super::split::copy_run(buf);
    if run.len == 0 {
        return Ok(false);
    }
    data.extend_from_slice(&buf[..run.len]);
    input.consume(run.len);
    splitter.copy_lines(run.lines);
    Ok(true)
}

/// A COPY data buffer's capacity: a send chunk and the run or line that crosses it.
const DATA_CAPACITY: usize = SEND_CHUNK + 65536;

/// Sends the COPY data gathered so far once it reaches a chunk, with a fresh buffer.
fn send_full(data: &mut Vec<u8>, send: &impl Fn(Op) -> Result<(), Stopped>) -> Result<(), Stopped> {
    if data.len() >= SEND_CHUNK {
        send(Op::Data(std::mem::replace(
            data,
            Vec::with_capacity(DATA_CAPACITY),
        )))?;
    }
    Ok(())
}

/// The executor stopped reading (it failed and reports why itself).
#[derive(Debug, thiserror::Error)]
#[error("the restore stopped")]
struct Stopped;

async fn execute(
    conn: &mut PgConnection,
    rx: &mut mpsc::Receiver<Op>,
) -> anyhow::Result<RestoreReport> {
    let mut report = RestoreReport::default();
    while let Some(op) = rx.recv().await {
        match op {
            Op::Statement { sql, line } => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| located(&e, &sql, line, None))?;
                report.statements += 1;
            }
            Op::Copy { sql, line } => {
                report.rows += copy(conn, rx, &sql, line).await?;
                report.tables += 1;
            }
            Op::Data(_) | Op::CopyEnd => bail!("BUG: COPY data outside a COPY"),
        }
    }
    Ok(report)
}

/// Feeds one COPY block; returns its row count.
async fn copy(
    conn: &mut PgConnection,
    rx: &mut mpsc::Receiver<Op>,
    sql: &str,
    line: usize,
) -> anyhow::Result<u64> {
    let mut copy = conn
        .copy_in_raw(sql)
        .await
        .map_err(|e| located(&e, sql, line, None))?;
    loop {
        match rx.recv().await {
            Some(Op::Data(bytes)) => {
                if let Err(e) = copy.send(bytes).await {
                    return Err(located(&e, sql, line, Some(line)));
                }
            }
            Some(Op::CopyEnd) => break,
            Some(Op::Statement { .. } | Op::Copy { .. }) => bail!("BUG: statement inside COPY"),
            None => {
                let _ = copy.abort("the restore input ended inside COPY data").await;
                bail!("the input ended inside the COPY data that starts on line {line}");
            }
        }
    }
    copy.finish()
        .await
        .map_err(|e| located(&e, sql, line, Some(line)))
}

/// An error that names the line of the file it comes from.
pub(crate) fn located(
    err: &sqlx::Error,
    sql: &str,
    line: usize,
    copy_line: Option<usize>,
) -> anyhow::Error {
    let first = sql.lines().next().unwrap_or_default();
    let snippet: String = first.chars().take(120).collect();
    let Some(db) = err
        .as_database_error()
        .and_then(|e| e.try_downcast_ref::<PgDatabaseError>())
    else {
        return anyhow::anyhow!("line {line}: {err}\n  statement: {snippet}");
    };
    let at = copy_line.map_or_else(
        || statement_line(sql, line, db.position().as_ref()),
        |start| start + copy_data_line(db.r#where()).unwrap_or(0),
    );
    let mut msg = format!("line {at}: {}", db.message());
    if let Some(detail) = db.detail() {
        let _ = write!(msg, "\n  detail: {detail}");
    }
    if let Some(context) = db.r#where() {
        let _ = write!(msg, "\n  context: {context}");
    }
    let _ = write!(msg, "\n  statement (line {line}): {snippet}");
    anyhow::anyhow!(msg)
}

/// The file line of a position (1-based, in characters) inside a statement.
fn statement_line(
    sql: &str,
    line: usize,
    position: Option<&sqlx::postgres::PgErrorPosition<'_>>,
) -> usize {
    let Some(&sqlx::postgres::PgErrorPosition::Original(pos)) = position else {
        return line;
    };
    let lead = sql.len() - super::split::strip_comments(sql).len();
    let newlines = |s: &str| s.matches('\n').count();
    let upto: String = sql.chars().take(pos.saturating_sub(1)).collect();
    line + newlines(&upto).saturating_sub(newlines(&sql[..lead]))
}

/// `N` from a COPY error context such as `COPY t, line 3, column b: "x"`.
fn copy_data_line(context: Option<&str>) -> Option<usize> {
    let context = context?;
    let rest = &context[context.find(", line ")? + 7..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_data_line_reads_the_line_from_the_context() {
        assert_eq!(
            copy_data_line(Some("COPY t, line 3, column b: \"x\"")),
            Some(3)
        );
        assert_eq!(copy_data_line(Some("SQL function f")), None);
        assert_eq!(copy_data_line(None), None);
    }
}
