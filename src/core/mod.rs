//! The pure core: schema model, diff, ordering, rendering, hazards, migration bookkeeping.
//!
//! Nothing here performs I/O or reads the clock or the environment: no tokio, sqlx, notify,
//! flate2, std::fs, std::env or `now()`. Callers pass data (and `now`) in. A test in the suite
//! (`tests/core_is_pure.rs`) enforces this.

pub mod ddl;
pub mod diff;
pub mod generate;
pub mod hazard;
pub mod hints;
pub mod lint;
pub mod migration;
pub mod models;
pub mod order;
pub mod render;
pub mod schema;
