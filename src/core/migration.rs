//! Migration files as data: names <-> versions, checksums, the sum file, and the plan of what
//! is pending or applied. Pure: the caller lists the directory and reads the files.

/// The file in the migrations directory that pins every migration file's hash.
pub const SUM_FILE_NAME: &str = "migrated.sum";
