//! Backup files: their names, their header, and writing them so that a file with the final
//! name is always complete: everything goes to `<file>.partial` (mode 0600), which is
//! fsynced, renamed, and its folder fsynced. Stale partials of earlier, killed runs are
//! removed by the next backup of the same database.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use super::compress::Extent;

/// The suffix of every complete backup file.
pub const SUFFIX: &str = ".sql.gz";
/// The suffix of a backup being written.
pub const PARTIAL: &str = ".partial";

/// The database name as it appears in file names: anything but `[A-Za-z0-9_.-]` becomes `_`.
pub fn file_stem(database: &str) -> String {
    database
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `<db>-<UTC timestamp YYYYMMDDTHHMMSSZ>-<reason>.sql.gz`.
pub fn file_name(database: &str, now: DateTime<Utc>, reason: &str) -> String {
    format!(
        "{}-{}-{reason}{SUFFIX}",
        file_stem(database),
        now.format("%Y%m%dT%H%M%SZ")
    )
}

/// `path` unless it exists, else the first free `<stem>-<reason>-N.sql.gz` beside it, so
/// that two backups in the same second never overwrite each other.
pub fn free_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let Some(base) = name.as_deref().and_then(|n| n.strip_suffix(SUFFIX)) else {
        return path.to_path_buf();
    };
    let mut candidate = path.to_path_buf();
    let mut n = 2;
    while candidate.exists() {
        candidate = path.with_file_name(format!("{base}-{n}{SUFFIX}"));
        n += 1;
    }
    candidate
}

/// What the header says about the backup.
pub struct Header<'a> {
    pub tool_version: &'a str,
    pub server_version: &'a str,
    pub database: &'a str,
    pub snapshot_time: &'a str,
    /// Qualified table names with their row counts, in file order.
    pub tables: Vec<(String, u64)>,
    /// Objects the backup does not capture (only with `--allow-incomplete`).
    pub incomplete: &'a [String],
}

/// Session settings at the top of every backup, as pg_dump writes them, so that `psql` reads
/// the file the way it was written whatever the target's defaults.
pub const SETTINGS: &str = "SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;
";

/// The comment block that opens the file.
pub fn render_header(h: &Header<'_>) -> String {
    let mut out = String::from("--\n-- migrated backup: plain SQL.\n");
    out.push_str("-- Restore into an empty database with `migrated db restore FILE`, or with\n");
    out.push_str("-- `gunzip -c FILE | psql -v ON_ERROR_STOP=1 -d DATABASE`.\n--\n");
    for (key, value) in [
        ("tool", format!("migrated {}", h.tool_version)),
        ("server", format!("PostgreSQL {}", h.server_version)),
        ("database", h.database.replace('\n', " ")),
        ("snapshot", h.snapshot_time.to_owned()),
    ] {
        let _ = writeln!(out, "-- {key}: {value}");
    }
    if h.incomplete.is_empty() {
        out.push_str("-- complete: yes\n");
    } else {
        out.push_str("-- complete: NO (taken with --allow-incomplete); not captured:\n");
        for object in h.incomplete {
            let _ = writeln!(out, "--   {}", object.replace('\n', " "));
        }
    }
    let _ = writeln!(out, "-- tables ({}), rows:", h.tables.len());
    for (name, rows) in &h.tables {
        let _ = writeln!(out, "--   {} {rows}", name.replace('\n', " "));
    }
    out.push_str("--\n\n");
    out.push_str(SETTINGS);
    out
}

/// The pieces of a finished backup, in file order.
pub struct Parts {
    /// Header, settings and pre-data, one gzip member.
    pub head: Vec<u8>,
    /// One member per table piece, in the spools.
    pub tables: Vec<Extent>,
    pub spools: Vec<File>,
    /// Post-data and sequence values, one gzip member.
    pub tail: Vec<u8>,
}

/// `<path>.partial`.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(PARTIAL);
    PathBuf::from(name)
}

/// Writes the backup to `<path>.partial`, fsyncs it, renames it to `path`, fsyncs the folder.
pub fn write_atomically(path: &Path, parts: &mut Parts) -> anyhow::Result<()> {
    let partial = partial_path(path);
    let mut out = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    let written = write_parts(&mut out, parts).and_then(|()| {
        out.set_permissions(fs::Permissions::from_mode(0o600))?;
        out.sync_all()
    });
    if let Err(e) = written {
        let _ = fs::remove_file(&partial);
        return Err(e).with_context(|| format!("writing {}", partial.display()));
    }
    fs::rename(&partial, path)
        .with_context(|| format!("renaming {} to {}", partial.display(), path.display()))?;
    sync_dir(path)
}

fn write_parts(out: &mut File, parts: &mut Parts) -> io::Result<()> {
    out.write_all(&parts.head)?;
    for extent in &parts.tables {
        let spool = &mut parts.spools[extent.spool];
        spool.seek(SeekFrom::Start(extent.offset))?;
        let copied = io::copy(&mut (&mut *spool).take(extent.len), out)?;
        if copied != extent.len {
            return Err(io::Error::other("BUG: spool file shorter than its members"));
        }
    }
    out.write_all(&parts.tail)
}

fn sync_dir(path: &Path) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing folder {}", dir.display()))
}

/// Removes `<db>-*.sql.gz.partial` files in `dir` last written before `started`: leftovers of
/// killed runs (a backup still running keeps touching its own partial).
pub fn remove_stale_partials(dir: &Path, database: &str, started: SystemTime) -> Vec<PathBuf> {
    let prefix = format!("{}-", file_stem(database));
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with(&prefix) && name.ends_with(&format!("{SUFFIX}{PARTIAL}"));
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < started);
        if ours && stale && fs::remove_file(entry.path()).is_ok() {
            removed.push(entry.path());
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn file_name_has_db_utc_timestamp_and_reason() {
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 9, 3, 7).unwrap();
        assert_eq!(
            file_name("app", now, "manual"),
            "app-20261121T090307Z-manual.sql.gz"
        );
        assert_eq!(
            file_name("my db/x", now, "pre-20261121090000"),
            "my_db_x-20261121T090307Z-pre-20261121090000.sql.gz"
        );
    }

    #[test]
    fn free_path_existing_file_gets_a_counter() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db-20261121T090307Z-manual.sql.gz");
        assert_eq!(free_path(&path), path);
        fs::write(&path, "x").unwrap();
        assert_eq!(
            free_path(&path),
            dir.path().join("db-20261121T090307Z-manual-2.sql.gz")
        );
    }

    #[test]
    fn render_header_incomplete_lists_objects() {
        let header = render_header(&Header {
            tool_version: "0.1.0",
            server_version: "15.18",
            database: "app",
            snapshot_time: "2026-11-21T09:03:07Z",
            tables: vec![("public.users".into(), 3)],
            incomplete: &["large objects (2)".to_owned()],
        });
        assert!(header.contains("-- complete: NO"));
        assert!(header.contains("--   large objects (2)\n"));
        assert!(header.contains("--   public.users 3\n"));
        assert!(header.contains("SET standard_conforming_strings = on;"));
    }

    #[test]
    fn remove_stale_partials_keeps_other_databases_and_complete_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "app-20261121T090307Z-manual.sql.gz.partial",
            "app-20261121T090307Z-manual.sql.gz",
            "other-20261121T090307Z-manual.sql.gz.partial",
        ] {
            fs::write(dir.path().join(name), "x").unwrap();
        }
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        let removed = remove_stale_partials(dir.path(), "app", later);
        assert_eq!(
            removed,
            vec![
                dir.path()
                    .join("app-20261121T090307Z-manual.sql.gz.partial")
            ]
        );
    }
}
