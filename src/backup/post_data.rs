//! Index builds of a parallel restore's post-data: consecutive statements that build an
//! index or key of a table (`classify::index_build_target`) are gathered by table, and the
//! tables' builds run at once on several connections, largest table first; the statements
//! of one table stay in file order on one connection. Any other statement is a barrier:
//! everything gathered before it finishes first, so the file's order is kept wherever one
//! statement could depend on another.
//!
//! The connections build with a larger `maintenance_work_mem` (never lowering the
//! server's), as index builds after a bulk load are sort-bound.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use anyhow::Context as _;
use sqlx::PgConnection;

use super::restore::located;

/// `maintenance_work_mem` for a restore's connections, in kB, unless the server's is larger.
const MAINTENANCE_WORK_MEM_KB: i64 = 256 * 1024;

/// Statements of one table, in file order.
struct Group {
    weight: u64,
    statements: Vec<(String, usize)>,
}

/// The index builds gathered since the last barrier.
#[derive(Default)]
pub(crate) struct IndexBuilds {
    groups: Vec<Group>,
    by_table: HashMap<String, usize>,
}

impl IndexBuilds {
    /// Adds a statement that builds an index of `table`; `weight` (the bytes loaded into the
    /// table) orders the tables, largest first.
    pub(crate) fn push(&mut self, table: String, weight: u64, sql: String, line: usize) {
        let index = *self.by_table.entry(table).or_insert_with(|| {
            self.groups.push(Group {
                weight,
                statements: Vec::new(),
            });
            self.groups.len() - 1
        });
        self.groups[index].statements.push((sql, line));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Runs every gathered statement on `conns` at once (each in its own transaction);
    /// returns how many ran. On an error the other connections finish the table they are on
    /// and take no other, and the first error is returned.
    pub(crate) async fn run(&mut self, conns: Vec<&mut PgConnection>) -> anyhow::Result<u64> {
        self.by_table.clear();
        let mut groups = std::mem::take(&mut self.groups);
        groups.sort_by_key(|g| std::cmp::Reverse(g.weight));
        let queue = Mutex::new(VecDeque::from(groups));
        let failed: Mutex<Option<anyhow::Error>> = Mutex::new(None);
        let ran = futures_util::future::join_all(
            conns
                .into_iter()
                .map(|conn| build_groups(conn, &queue, &failed)),
        )
        .await;
        if let Some(e) = failed
            .into_inner()
            .expect("BUG: index build error poisoned")
        {
            return Err(e);
        }
        Ok(ran.into_iter().sum())
    }
}

/// One connection's share: takes tables off the queue until it is empty or a build failed.
async fn build_groups(
    conn: &mut PgConnection,
    queue: &Mutex<VecDeque<Group>>,
    failed: &Mutex<Option<anyhow::Error>>,
) -> u64 {
    let mut ran = 0;
    loop {
        let next = {
            let stopped = failed.lock().expect("BUG: poisoned").is_some();
            let mut queue = queue.lock().expect("BUG: index build queue poisoned");
            if stopped { None } else { queue.pop_front() }
        };
        let Some(group) = next else {
            return ran;
        };
        for (sql, line) in group.statements {
            let done = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut *conn)
                .await;
            if let Err(e) = done {
                let mut failed = failed.lock().expect("BUG: poisoned");
                failed.get_or_insert_with(|| located(&e, &sql, line, None));
                return ran;
            }
            ran += 1;
        }
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
