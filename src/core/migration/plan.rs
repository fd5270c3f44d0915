//! What to do, decided from data: the files (`MigrationSet`) and the rows of
//! `_sqlx_migrations` (`AppliedMigration`). Targets are parsed here, problems with the
//! recorded state are found here, and the I/O layer only carries the plans out.
//!
//! Like sqlx, `up` applies every version that has no row, older ones included, in version
//! order. Any problem with an applied row (failed, file missing, file changed) blocks `up`
//! and `down`: the state must be understood before it is changed.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::checksum::checksum_matches;
use super::{MigrationError, MigrationSet};

/// A row of `_sqlx_migrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: i64,
    pub description: String,
    pub installed_on: DateTime<Utc>,
    pub success: bool,
    pub checksum: Vec<u8>,
    /// Nanoseconds; -1 when not measured (stamped, or sqlx's interrupted update).
    pub execution_time: i64,
}

/// Which way a plan moves the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// Versions to apply (ascending) or revert (descending), in the order to run them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub direction: Direction,
    pub versions: Vec<i64>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }
}

/// A bad `up`/`down`/`stamp` argument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid target {input:?}: expected {expected}")]
pub struct TargetError {
    pub input: String,
    pub expected: &'static str,
}

/// `up [head|+N|VERSION]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpTarget {
    Head,
    Next(usize),
    Version(i64),
}

/// `down [-N|VERSION|base]`: back N, back to (keeping) VERSION, or everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownTarget {
    Back(usize),
    Version(i64),
    Base,
}

/// `stamp VERSION|head|base`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StampTarget {
    Version(i64),
    Head,
    Base,
}

fn count(s: &str) -> Option<usize> {
    s.parse().ok().filter(|n| *n > 0)
}

fn version(s: &str) -> Option<i64> {
    s.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| s.parse().ok())
        .flatten()
}

impl FromStr for UpTarget {
    type Err = TargetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = match s {
            "head" => Some(Self::Head),
            _ => match s.strip_prefix('+') {
                Some(n) => count(n).map(Self::Next),
                None => version(s).map(Self::Version),
            },
        };
        parsed.ok_or_else(|| TargetError {
            input: s.to_owned(),
            expected: "head, +N (N >= 1) or a version",
        })
    }
}

impl FromStr for DownTarget {
    type Err = TargetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = match s {
            "base" | "0" => Some(Self::Base),
            _ => match s.strip_prefix('-') {
                Some(n) => count(n).map(Self::Back),
                None => version(s).map(Self::Version),
            },
        };
        parsed.ok_or_else(|| TargetError {
            input: s.to_owned(),
            expected: "-N (N >= 1), a version, or base",
        })
    }
}

impl FromStr for StampTarget {
    type Err = TargetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = match s {
            "head" => Some(Self::Head),
            "base" => Some(Self::Base),
            _ => version(s).map(Self::Version),
        };
        parsed.ok_or_else(|| TargetError {
            input: s.to_owned(),
            expected: "a version, head or base",
        })
    }
}

/// Every problem with the recorded state, in version order: failed rows, applied versions
/// whose file is gone, applied files that changed.
pub fn problems(set: &MigrationSet, applied: &[AppliedMigration]) -> Vec<MigrationError> {
    let mut out = Vec::new();
    for row in applied {
        if !row.success {
            out.push(MigrationError::Failed {
                version: row.version,
                description: row.description.clone(),
            });
            continue;
        }
        match set.get(row.version) {
            None => out.push(MigrationError::AppliedMissing {
                version: row.version,
                description: row.description.clone(),
            }),
            Some(m) if !checksum_matches(&row.checksum, m.up.sql.as_bytes()) => {
                out.push(MigrationError::ChecksumMismatch {
                    version: row.version,
                    file: m.up.file.clone(),
                });
            }
            Some(_) => {}
        }
    }
    out
}

/// The first problem with the recorded state, if any.
pub fn verify(set: &MigrationSet, applied: &[AppliedMigration]) -> Result<(), MigrationError> {
    problems(set, applied)
        .into_iter()
        .next()
        .map_or(Ok(()), Err)
}

/// Versions with no row at all, ascending.
pub fn pending(set: &MigrationSet, applied: &[AppliedMigration]) -> Vec<i64> {
    let recorded: BTreeMap<i64, &AppliedMigration> =
        applied.iter().map(|r| (r.version, r)).collect();
    set.migrations
        .keys()
        .filter(|v| !recorded.contains_key(v))
        .copied()
        .collect()
}

/// The newest successfully applied version.
pub fn current_version(applied: &[AppliedMigration]) -> Option<i64> {
    applied
        .iter()
        .filter(|r| r.success)
        .map(|r| r.version)
        .max()
}

/// What `up TARGET` applies, after checking the recorded state.
pub fn plan_up(
    set: &MigrationSet,
    applied: &[AppliedMigration],
    target: UpTarget,
) -> Result<Plan, MigrationError> {
    verify(set, applied)?;
    let pending = pending(set, applied);
    let versions = match target {
        UpTarget::Head => pending,
        UpTarget::Next(n) => pending.into_iter().take(n).collect(),
        UpTarget::Version(v) => {
            if set.get(v).is_none() {
                return Err(MigrationError::UnknownVersion { version: v });
            }
            pending.into_iter().filter(|p| *p <= v).collect()
        }
    };
    Ok(Plan {
        direction: Direction::Up,
        versions,
    })
}

/// What `down TARGET` reverts (newest first), after checking the recorded state and that
/// every one of them has a down file.
pub fn plan_down(
    set: &MigrationSet,
    applied: &[AppliedMigration],
    target: DownTarget,
) -> Result<Plan, MigrationError> {
    verify(set, applied)?;
    let mut newest_first: Vec<i64> = applied.iter().map(|r| r.version).collect();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    let versions: Vec<i64> = match target {
        DownTarget::Base => newest_first,
        DownTarget::Back(n) if n > newest_first.len() => {
            return Err(MigrationError::NotEnoughApplied {
                requested: n,
                applied: newest_first.len(),
            });
        }
        DownTarget::Back(n) => newest_first.into_iter().take(n).collect(),
        DownTarget::Version(v) => {
            if set.get(v).is_none() && !newest_first.contains(&v) {
                return Err(MigrationError::UnknownVersion { version: v });
            }
            newest_first.into_iter().filter(|a| *a > v).collect()
        }
    };
    for v in &versions {
        let m = set
            .get(*v)
            .expect("BUG: verify() checked every applied file exists");
        if m.down.is_none() {
            return Err(MigrationError::MissingDownFile {
                version: *v,
                expected: m.down_file_name(),
            });
        }
    }
    Ok(Plan {
        direction: Direction::Down,
        versions,
    })
}

/// What `stamp` changes: rows to insert (files at or below the target without a successful
/// row) and rows to delete (everything above the target, and failed rows being replaced).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StampPlan {
    pub insert: Vec<i64>,
    pub delete: Vec<i64>,
}

pub fn plan_stamp(
    set: &MigrationSet,
    applied: &[AppliedMigration],
    target: StampTarget,
) -> Result<StampPlan, MigrationError> {
    let limit = match target {
        StampTarget::Base => None,
        StampTarget::Head => set.head(),
        StampTarget::Version(v) if set.get(v).is_none() => {
            return Err(MigrationError::UnknownVersion { version: v });
        }
        StampTarget::Version(v) => Some(v),
    };
    let keep = |v: i64| limit.is_some_and(|l| v <= l);
    let delete: Vec<i64> = applied
        .iter()
        .filter(|r| !keep(r.version) || (!r.success && set.get(r.version).is_some()))
        .map(|r| r.version)
        .collect();
    let insert = set
        .migrations
        .keys()
        .filter(|v| keep(**v))
        .filter(|v| !applied.iter().any(|r| r.version == **v && r.success))
        .copied()
        .collect();
    Ok(StampPlan { insert, delete })
}

/// What `repair` changes (Flyway semantics): applied rows realigned with their edited file
/// (checksum and description), failed rows removed. Applied versions whose file is missing
/// are listed, never deleted: restoring the file is the fix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairPlan {
    pub realign: Vec<i64>,
    pub remove_failed: Vec<i64>,
    pub missing: Vec<i64>,
}

impl RepairPlan {
    pub fn is_empty(&self) -> bool {
        self.realign.is_empty() && self.remove_failed.is_empty()
    }
}

pub fn plan_repair(set: &MigrationSet, applied: &[AppliedMigration]) -> RepairPlan {
    let mut plan = RepairPlan::default();
    for row in applied {
        match (row.success, set.get(row.version)) {
            (false, _) => plan.remove_failed.push(row.version),
            (true, None) => plan.missing.push(row.version),
            (true, Some(m)) => {
                let changed = !checksum_matches(&row.checksum, m.up.sql.as_bytes());
                if changed || row.description != m.description {
                    plan.realign.push(row.version);
                }
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::super::{SourceFile, checksum};
    use super::*;

    fn set(specs: &[(&str, &str)]) -> MigrationSet {
        let files: Vec<SourceFile> = specs
            .iter()
            .map(|(n, s)| SourceFile {
                name: (*n).to_owned(),
                bytes: s.as_bytes().to_vec(),
            })
            .collect();
        MigrationSet::from_files(&files).unwrap()
    }

    fn row(set: &MigrationSet, v: i64) -> AppliedMigration {
        let m = set.get(v).unwrap();
        AppliedMigration {
            version: v,
            description: m.description.clone(),
            installed_on: DateTime::<Utc>::UNIX_EPOCH,
            success: true,
            checksum: m.up.checksum.clone(),
            execution_time: 1,
        }
    }

    fn three() -> MigrationSet {
        set(&[
            ("1_a.up.sql", "A"),
            ("1_a.down.sql", "a"),
            ("2_b.up.sql", "B"),
            ("2_b.down.sql", "b"),
            ("3_c.up.sql", "C"),
            ("3_c.down.sql", "c"),
        ])
    }

    #[test]
    fn targets_parse_ok_and_reject_garbage() {
        assert_eq!("head".parse(), Ok(UpTarget::Head));
        assert_eq!("+2".parse(), Ok(UpTarget::Next(2)));
        assert_eq!(
            "20260101000000".parse(),
            Ok(UpTarget::Version(20_260_101_000_000))
        );
        assert!("+0".parse::<UpTarget>().is_err());
        assert!("-1".parse::<UpTarget>().is_err());
        assert_eq!("-3".parse(), Ok(DownTarget::Back(3)));
        assert_eq!("base".parse(), Ok(DownTarget::Base));
        assert_eq!("7".parse(), Ok(DownTarget::Version(7)));
        assert!("head".parse::<DownTarget>().is_err());
        assert_eq!("head".parse(), Ok(StampTarget::Head));
        assert!(
            "x".parse::<StampTarget>()
                .unwrap_err()
                .to_string()
                .contains("\"x\"")
        );
    }

    #[test]
    fn plan_up_targets_select_pending() {
        let s = three();
        let applied = [row(&s, 1)];
        assert_eq!(
            plan_up(&s, &applied, UpTarget::Head).unwrap().versions,
            [2, 3]
        );
        assert_eq!(
            plan_up(&s, &applied, UpTarget::Next(1)).unwrap().versions,
            [2]
        );
        assert_eq!(
            plan_up(&s, &applied, UpTarget::Version(2))
                .unwrap()
                .versions,
            [2]
        );
        assert!(
            plan_up(&s, &[row(&s, 1), row(&s, 2), row(&s, 3)], UpTarget::Head)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            plan_up(&s, &applied, UpTarget::Version(9)),
            Err(MigrationError::UnknownVersion { version: 9 })
        );
    }

    #[test]
    fn plan_up_older_pending_applied_in_version_order() {
        let s = three();
        assert_eq!(
            plan_up(&s, &[row(&s, 2)], UpTarget::Head).unwrap().versions,
            [1, 3]
        );
    }

    #[test]
    fn plan_up_checksum_mismatch_error() {
        let s = three();
        let mut r = row(&s, 1);
        r.checksum = checksum(b"old");
        assert_eq!(
            plan_up(&s, &[r], UpTarget::Head),
            Err(MigrationError::ChecksumMismatch {
                version: 1,
                file: "1_a.up.sql".into()
            })
        );
    }

    #[test]
    fn plan_up_applied_missing_and_failed_errors() {
        let s = three();
        let mut gone = row(&s, 1);
        gone.version = 0;
        assert!(matches!(
            plan_up(&s, &[gone], UpTarget::Head),
            Err(MigrationError::AppliedMissing { version: 0, .. })
        ));
        let mut failed = row(&s, 1);
        failed.success = false;
        assert!(matches!(
            plan_up(&s, &[failed], UpTarget::Head),
            Err(MigrationError::Failed { version: 1, .. })
        ));
    }

    #[test]
    fn plan_down_targets_newest_first() {
        let s = three();
        let applied = [row(&s, 1), row(&s, 2), row(&s, 3)];
        assert_eq!(
            plan_down(&s, &applied, DownTarget::Back(1))
                .unwrap()
                .versions,
            [3]
        );
        assert_eq!(
            plan_down(&s, &applied, DownTarget::Back(2))
                .unwrap()
                .versions,
            [3, 2]
        );
        assert_eq!(
            plan_down(&s, &applied, DownTarget::Version(1))
                .unwrap()
                .versions,
            [3, 2]
        );
        assert_eq!(
            plan_down(&s, &applied, DownTarget::Base).unwrap().versions,
            [3, 2, 1]
        );
        assert_eq!(
            plan_down(&s, &applied, DownTarget::Back(4)),
            Err(MigrationError::NotEnoughApplied {
                requested: 4,
                applied: 3
            })
        );
    }

    #[test]
    fn plan_down_missing_down_file_error() {
        let s = set(&[("1_a.up.sql", "A"), ("2_b.sql", "B")]);
        let applied = [row(&s, 1), row(&s, 2)];
        assert_eq!(
            plan_down(&s, &applied, DownTarget::Back(1)),
            Err(MigrationError::MissingDownFile {
                version: 2,
                expected: "2_b.down.sql".into()
            })
        );
    }

    #[test]
    fn plan_stamp_inserts_and_deletes() {
        let s = three();
        let applied = [row(&s, 1), row(&s, 3)];
        let p = plan_stamp(&s, &applied, StampTarget::Version(2)).unwrap();
        assert_eq!((p.insert, p.delete), (vec![2], vec![3]));
        let p = plan_stamp(&s, &applied, StampTarget::Base).unwrap();
        assert_eq!((p.insert, p.delete), (vec![], vec![1, 3]));
        let p = plan_stamp(&s, &applied, StampTarget::Head).unwrap();
        assert_eq!((p.insert, p.delete), (vec![2], vec![]));
    }

    #[test]
    fn plan_repair_realigns_and_removes_failed() {
        let s = three();
        let mut edited = row(&s, 1);
        edited.checksum = checksum(b"old");
        let mut failed = row(&s, 2);
        failed.success = false;
        let mut gone = row(&s, 3);
        gone.version = 4;
        let p = plan_repair(&s, &[edited, failed, gone]);
        assert_eq!(
            (p.realign, p.remove_failed, p.missing),
            (vec![1], vec![2], vec![4])
        );
    }

    #[test]
    fn current_version_ignores_failed() {
        let s = three();
        let mut failed = row(&s, 3);
        failed.success = false;
        assert_eq!(current_version(&[row(&s, 1), failed]), Some(1));
        assert_eq!(current_version(&[]), None);
    }
}
