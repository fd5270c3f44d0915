//! `migrated`: schema migrations for PostgreSQL.
//!
//! `core` is pure (data in, data out); everything that touches a database, the file system,
//! the clock or the process lives outside it (`db`, `shadow`, `backup`, `watch`, `once`, `cmd`).

pub mod backup;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod core;
pub mod db;
pub mod error;
pub mod logging;
pub mod migrations;
pub mod models;
pub mod once;
pub mod pipeline;
pub mod shadow;
pub mod watch;
