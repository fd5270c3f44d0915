//! The shadow databases the tool owns: `<db>_shadow` holds the desired state (the models,
//! loaded incrementally), `<db>_shadow_head` the head state (the migrations, replayed and
//! cached by what was applied). Under `shadow_database_url` the desired shadow is that
//! database and the head shadow `<its name>_head`. They never hold user data: they are
//! dropped and rebuilt whenever their bookkeeping does not match.

pub mod cache;
pub mod desired;
pub mod head;
mod vacuum;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use sqlx::PgConnection;
use sqlx::postgres::PgDatabaseError;

use crate::config::{Config, DatabaseUrl};
use crate::core::render::quote_ident;
use crate::db::snapshot::Snapshot;
use crate::error::UsageError;

/// One shadow database and the server connection used to create or drop it.
#[derive(Debug, Clone)]
pub struct Shadow {
    pub name: String,
    pub url: DatabaseUrl,
    admin: DatabaseUrl,
    /// Connections handed back after a clean use (`release`), for the next `connect`: a new
    /// backend reads every catalog it plans against from disk again, and a connection kept
    /// between the watcher's passes also keeps its prepared statements and their plans.
    /// Shared by clones.
    idle: Arc<Mutex<Vec<PgConnection>>>,
    /// The newest snapshot of this shadow this process read.
    memo: Arc<Mutex<Option<Memo>>>,
    /// Whether this process has used the shadow (`connect`): only then does `settle` run.
    used: Arc<AtomicBool>,
}

/// A snapshot a process keeps of a shadow, with the cache key it belongs under and whether
/// the shadow's own cache still lacks it (`Shadows::settle` stores it).
#[derive(Debug, Clone)]
pub struct Memo {
    pub key: String,
    pub snapshot: Snapshot,
    pub unsaved: bool,
}

/// Settings of every session on a shadow: it holds nothing worth a WAL flush per commit; its
/// catalog queries (the snapshots' digests, introspection) run on both cores already, as the
/// two shadows are read at once: parallel workers made generate 10% slower at 1000 tables;
/// and each process plans them anew on new backends, so the planner keeps the join order
/// they are written in instead of searching for one: at 100 tables that cut the server's CPU
/// per one-column `generate` from 194 to 177 ms (15 alternating runs), with no change at
/// 1000 tables (478 ms either way), where execution dominates.
const SESSION: &[(&str, &str)] = &[
    ("synchronous_commit", "off"),
    ("max_parallel_workers_per_gather", "0"),
    ("join_collapse_limit", "1"),
    ("from_collapse_limit", "1"),
];

/// Idle connections kept per shadow (a pass uses one or two at a time).
const IDLE_KEPT: usize = 2;

/// The two shadows of a project.
#[derive(Debug, Clone)]
pub struct Shadows {
    pub desired: Shadow,
    pub head: Shadow,
    /// `shadow_keep`: keep them between runs (the fast path) or drop them after each run.
    pub keep: bool,
    /// A process that plans again and again (the watcher): the snapshots it keeps in memory
    /// are the next pass's (an exact head snapshot is used as is, not read again). Every
    /// process writes them to the shadows' caches after its pass (`settle`), not on the way.
    pub long_lived: bool,
}

impl Shadows {
    /// The shadows for the configured database (or `shadow_database_url`).
    pub fn from_config(config: &Config) -> Result<Self, UsageError> {
        Self::new(
            config.database_url.as_ref(),
            config.shadow_database_url.as_ref(),
            config.shadow_keep,
        )
    }

    /// `<db>_shadow` and `<db>_shadow_head` beside `database`, or `shadow` and
    /// `<shadow>_head` when a shadow url is given.
    pub fn new(
        database: Option<&DatabaseUrl>,
        shadow: Option<&DatabaseUrl>,
        keep: bool,
    ) -> Result<Self, UsageError> {
        let (desired, desired_name) = match (shadow, database) {
            (Some(url), _) => {
                let name = database_name(url)?;
                (
                    Shadow::new(url.clone(), &name, url.with_database("postgres")?),
                    name,
                )
            }
            (None, Some(url)) => {
                let name = format!("{}_shadow", database_name(url)?);
                (
                    Shadow::new(url.with_database(&name)?, &name, url.clone()),
                    name,
                )
            }
            (None, None) => {
                return Err(UsageError(
                    "no database configured for the shadow: set DATABASE_URL (or --database-url), or shadow_database_url"
                        .to_owned(),
                ));
            }
        };
        let head_name = format!("{desired_name}_head");
        let head = Shadow::new(
            desired.url.with_database(&head_name)?,
            &head_name,
            desired.admin.clone(),
        );
        Ok(Self {
            desired,
            head,
            keep,
            long_lived: false,
        })
    }

    /// Writes the snapshots kept in memory to the shadows' caches and vacuums the shadows
    /// where dead rows piled up, both shadows at once (best effort): what the next pass or
    /// process starts from.
    pub async fn settle(&self) {
        tokio::join!(self.desired.settle(), self.head.settle());
    }

    /// Settles both shadows if they are kept, else drops them.
    pub async fn finish(&self) -> anyhow::Result<()> {
        if self.keep {
            self.settle().await;
        } else {
            self.desired.drop_database().await?;
            self.head.drop_database().await?;
        }
        Ok(())
    }
}

fn database_name(url: &DatabaseUrl) -> Result<String, UsageError> {
    url.database_name()
        .ok_or_else(|| UsageError(format!("the database url {url} names no database")))
}

impl Shadow {
    fn new(url: DatabaseUrl, name: &str, admin: DatabaseUrl) -> Self {
        Self {
            name: name.to_owned(),
            url,
            admin,
            idle: Arc::default(),
            memo: Arc::default(),
            used: Arc::default(),
        }
    }

    /// A throwaway database beside this one (`<name>_tmp<pid>_<n>`), for one-off loads such
    /// as `diff --from models/`. The caller drops it.
    pub fn temporary(&self) -> anyhow::Result<Self> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}_tmp{}_{n}", self.name, std::process::id());
        Ok(Self::new(
            self.url.with_database(&name)?,
            &name,
            self.admin.clone(),
        ))
    }

    /// A throwaway copy of this database (`CREATE DATABASE ... TEMPLATE`): same objects,
    /// same oids. The caller drops it.
    pub async fn copy(&self) -> anyhow::Result<Self> {
        // A template must have no other sessions.
        self.close_idle().await;
        let copy = self.temporary()?;
        let mut admin = self.admin().await?;
        let sql = format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quote_ident(&copy.name),
            quote_ident(&self.name)
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .map_err(|err| {
                anyhow::anyhow!(
                    "copying the shadow database {}: {}",
                    self.name,
                    describe(&err)
                )
            })?;
        Ok(copy)
    }

    /// A connection: an idle one that still answers, else a new one (creating the database
    /// first when it does not exist).
    pub async fn connect(&self) -> anyhow::Result<PgConnection> {
        Ok(self.connect_or_create().await?.0)
    }

    /// Opens a session on this shadow in the background for the next `connect`, unless one
    /// is idle already or the database does not exist (a failure is left to that `connect`
    /// to report). Used while the models load: a new backend's startup (4-5 ms) overlaps
    /// the parse, and a session that runs nothing changes nothing, so a model error still
    /// comes before any statement reaches a database.
    pub fn preconnect(&self) -> tokio::task::JoinHandle<()> {
        let shadow = self.clone();
        tokio::spawn(async move {
            if !locked(&shadow.idle).is_empty() {
                return;
            }
            if let Ok(conn) = shadow.connect_existing().await {
                shadow.release(conn);
            }
        })
    }

    /// Hands a connection back for the next `connect`. Only for a connection outside any
    /// transaction, with no session state changed: one whose use failed midway is dropped
    /// instead.
    pub fn release(&self, conn: PgConnection) {
        let mut idle = locked(&self.idle);
        if idle.len() < IDLE_KEPT {
            idle.push(conn);
        }
    }

    /// Stores the snapshot kept in memory if the cache lacks it, then vacuums the tables
    /// with many dead rows (`vacuum`), if this process used the shadow (a model error ends
    /// a pass before any statement runs: nothing to store, and nothing may be touched).
    /// Best effort: failures are logged.
    async fn settle(&self) {
        if !self.used.load(Ordering::Relaxed) {
            return;
        }
        let mut conn = match self.connect().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::debug!(shadow = %self.name, error = %format!("{e:#}"), "not settled");
                return;
            }
        };
        if let Some(mut memo) = self.memo_take() {
            if memo.unsaved {
                cache::store(&mut conn, &memo.key, &memo.snapshot).await;
                memo.unsaved = false;
            }
            self.memo_put(memo);
        }
        if vacuum::vacuum(&mut conn, &self.name).await {
            self.release(conn);
        }
    }

    /// The snapshot kept in memory, taken out (put it back with `memo_put`).
    pub fn memo_take(&self) -> Option<Memo> {
        locked(&self.memo).take()
    }

    pub fn memo_put(&self, memo: Memo) {
        *locked(&self.memo) = Some(memo);
    }

    fn take_idle(&self) -> Option<PgConnection> {
        locked(&self.idle).pop()
    }

    /// Closes the idle connections (before the database is dropped, recreated or copied).
    async fn close_idle(&self) {
        use sqlx::Connection as _;
        while let Some(conn) = self.take_idle() {
            let _ = conn.close().await;
        }
    }

    /// Connects (reusing an idle connection that still answers), creating the database first
    /// when it does not exist; says whether it did (a database just created is empty: no need
    /// to recreate it).
    pub async fn connect_or_create(&self) -> anyhow::Result<(PgConnection, bool)> {
        use sqlx::Connection as _;
        self.used.store(true, Ordering::Relaxed);
        while let Some(mut conn) = self.take_idle() {
            if conn.ping().await.is_ok() {
                return Ok((conn, false));
            }
        }
        match crate::db::connect::connect_raw_with(&self.url, SESSION).await {
            Ok(conn) => Ok((conn, false)),
            Err(err) if is_missing_database(&err) => {
                self.create_database().await?;
                Ok((self.connect_existing().await?, true))
            }
            Err(err) => Err(connect_error(&self.url, &err)),
        }
    }

    async fn connect_existing(&self) -> anyhow::Result<PgConnection> {
        crate::db::connect::connect_raw_with(&self.url, SESSION)
            .await
            .map_err(|err| connect_error(&self.url, &err))
    }

    /// Drops and creates the database again, empty, and connects to it.
    pub async fn recreate(&self) -> anyhow::Result<PgConnection> {
        self.close_idle().await;
        self.memo_take();
        if self.exists().await? {
            self.drop_database().await?;
        }
        self.create_database().await?;
        self.connect_existing().await
    }

    async fn admin(&self) -> anyhow::Result<PgConnection> {
        crate::db::connect::connect_raw(&self.admin)
            .await
            .map_err(|err| connect_error(&self.admin, &err))
    }

    async fn exists(&self) -> anyhow::Result<bool> {
        let mut admin = self.admin().await?;
        // pg_database: whether a database of this name exists.
        let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(&self.name)
            .fetch_optional(&mut admin)
            .await
            .map_err(|err| {
                anyhow::anyhow!("looking up database {}: {}", self.name, describe(&err))
            })?;
        Ok(found.is_some())
    }

    async fn create_database(&self) -> anyhow::Result<()> {
        let mut admin = self.admin().await?;
        let sql = format!(
            "CREATE DATABASE {} TEMPLATE template0",
            quote_ident(&self.name)
        );
        match sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
        {
            Ok(_) => Ok(()),
            // Another process created it meanwhile: fine.
            Err(err) if sqlstate(&err) == Some("42P04") => Ok(()),
            Err(err) => Err(anyhow::anyhow!(
                "creating the shadow database {}: {}",
                self.name,
                describe(&err)
            )),
        }
    }

    /// Drops the database if it exists (forcing other sessions off it).
    pub async fn drop_database(&self) -> anyhow::Result<()> {
        self.close_idle().await;
        self.memo_take();
        let mut admin = self.admin().await?;
        let sql = format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&self.name)
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .map(|_| ())
            .map_err(|err| {
                anyhow::anyhow!(
                    "dropping the shadow database {}: {}",
                    self.name,
                    describe(&err)
                )
            })
    }
}

/// A shadow's shared state, locked: a panic elsewhere while holding it leaves nothing half
/// done (a vector push or an option swap), so a poisoned lock is used as is.
fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn is_missing_database(err: &sqlx::Error) -> bool {
    sqlstate(err) == Some("3D000")
}

/// The SQLSTATE of a server error.
pub(crate) fn sqlstate(err: &sqlx::Error) -> Option<&str> {
    match err {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<PgDatabaseError>()
            .map(PgDatabaseError::code),
        _ => None,
    }
}

/// A sqlx error on one line, without the server's C source location.
pub(crate) fn describe(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => match db.try_downcast_ref::<PgDatabaseError>() {
            Some(pg) => {
                let detail = pg.detail().map(|d| format!(" ({d})")).unwrap_or_default();
                let hint = pg
                    .hint()
                    .map(|h| format!("; hint: {h}"))
                    .unwrap_or_default();
                format!("{}{detail}{hint}", pg.message())
            }
            None => db.message().to_owned(),
        },
        other => other.to_string(),
    }
}

fn connect_error(url: &DatabaseUrl, err: &sqlx::Error) -> anyhow::Error {
    anyhow::anyhow!("connecting to {url}: {}", describe(err))
}

/// Runs one script (one or more statements) on a connection.
pub(crate) async fn execute(conn: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(conn)
        .await
        .map(|_| ())
}

/// The line of a server error inside a statement that starts on `first_line`.
pub(crate) fn error_line(sql: &str, first_line: usize, err: &sqlx::Error) -> usize {
    let position = match err {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<PgDatabaseError>()
            .and_then(PgDatabaseError::position),
        _ => None,
    };
    match position {
        Some(sqlx::postgres::PgErrorPosition::Original(chars)) => {
            first_line
                + sql
                    .chars()
                    .take(chars.saturating_sub(1))
                    .filter(|&c| c == '\n')
                    .count()
        }
        _ => first_line,
    }
}

/// Adds "while ..." context without losing the cause.
pub(crate) fn context<T>(result: Result<T, sqlx::Error>, what: &str) -> anyhow::Result<T> {
    result
        .map_err(|err| anyhow::anyhow!(describe(&err)))
        .with_context(|| what.to_owned())
}
