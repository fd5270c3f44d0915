//! Rotation: keep the newest `backup.keep` of the tool's own complete backup files for one
//! database; never touch files of another database, partial files, or anything else.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::file::{SUFFIX, file_stem};

/// The order of one of our backup files of `database` (its timestamp, then the counter that
/// `file::free_path` adds to a second backup within the same second), or `None` if the name
/// is not one of ours.
fn timestamp_of<'a>(name: &'a str, database: &str) -> Option<(&'a str, u32)> {
    let rest = name.strip_prefix(&file_stem(database))?.strip_prefix('-')?;
    let rest = rest.strip_suffix(SUFFIX)?;
    let (stamp, reason) = (rest.get(..16)?, rest.get(16..)?);
    let b = stamp.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let is_stamp = digits(0..8) && b[8] == b'T' && digits(9..15) && b[15] == b'Z';
    (is_stamp && reason.len() > 1 && reason.starts_with('-')).then(|| (stamp, counter(reason)))
}

/// `N` of a reason ending in `-N` with N below 1000 (a version is longer), else 1.
fn counter(reason: &str) -> u32 {
    reason
        .rsplit_once('-')
        .map(|(_, n)| n)
        .filter(|n| (1..=3).contains(&n.len()))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// The names to delete so that only the newest `keep` backups of `database` remain.
pub fn expired(names: &[String], database: &str, keep: usize) -> Vec<String> {
    let mut ours: Vec<((&str, u32), &String)> = names
        .iter()
        .filter_map(|n| timestamp_of(n, database).map(|t| (t, n)))
        .collect();
    ours.sort_by(|a, b| b.cmp(a));
    ours.into_iter()
        .skip(keep)
        .map(|(_, n)| n.clone())
        .collect()
}

/// Deletes the expired backups of `database` in `dir`; returns what it deleted.
pub fn rotate(dir: &Path, database: &str, keep: usize) -> anyhow::Result<Vec<PathBuf>> {
    let names: Vec<String> = fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut removed = Vec::new();
    for name in expired(&names, database, keep) {
        let path = dir.join(&name);
        fs::remove_file(&path)
            .with_context(|| format!("removing old backup {}", path.display()))?;
        removed.push(path);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn expired_keeps_newest_of_this_database_only() {
        let all = names(&[
            "app-20261121T090000Z-manual.sql.gz",
            "app-20261121T100000Z-pre-20261121095900.sql.gz",
            "app-20261121T080000Z-manual.sql.gz",
            "app-20261121T100000Z-pre-20261121095900-2.sql.gz",
            "app-2-20261121T070000Z-manual.sql.gz",
            "app-20261121T060000Z-manual.sql.gz.partial",
            "app-notes.sql.gz",
            "other-20261121T050000Z-manual.sql.gz",
        ]);
        assert_eq!(
            expired(&all, "app", 2),
            names(&[
                "app-20261121T090000Z-manual.sql.gz",
                "app-20261121T080000Z-manual.sql.gz"
            ])
        );
        assert_eq!(
            expired(&all, "app-2", 0),
            names(&["app-2-20261121T070000Z-manual.sql.gz"])
        );
    }

    #[test]
    fn expired_keep_more_than_present_deletes_nothing() {
        let all = names(&["app-20261121T090000Z-manual.sql.gz"]);
        assert!(expired(&all, "app", 10).is_empty());
    }
}
