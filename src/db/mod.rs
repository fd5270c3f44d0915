//! Everything that talks to PostgreSQL: connecting (with retry), the state and audit tables,
//! the advisory lock, applying migrations, and introspection.

pub mod apply;
pub mod connect;
pub mod events;
pub mod history;
pub mod introspect;
pub mod lock;
pub mod nodelay;
pub mod snapshot;

pub use connect::{close, connect, connect_with_retry};
