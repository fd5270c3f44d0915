//! Error kinds that decide the exit code. Everything else is an `anyhow::Error` with context.
//!
//! Exit codes are a contract (DESIGN.md): 0 ok, 1 failure or differences found, 2 usage or
//! configuration error. `main` looks for `UsageError` anywhere in the chain.

/// A usage or configuration error: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// `check` (and friends) found differences: exit code 1 after printing them, with no
/// further error line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DifferencesFound(pub String);

/// The exit code for an error, by its kind.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err.chain().any(<dyn std::error::Error>::is::<UsageError>) {
        2
    } else {
        1
    }
}

/// A usage error for a command that another issue builds.
pub fn not_implemented(command: &str) -> anyhow::Error {
    UsageError(format!("`migrated {command}` is not implemented yet")).into()
}
