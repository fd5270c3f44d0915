//! Everything that talks to PostgreSQL: connecting (with retry), the state and audit tables,
//! the advisory lock, applying migrations, and introspection.

pub mod introspect;
pub mod nodelay;
