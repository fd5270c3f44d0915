//! Migration file names and contents: `<version>_<slug>.up.sql` / `.down.sql`, or sqlx's
//! plain `<version>_<slug>.sql` (up only, irreversible). Groups a directory's files into one
//! `Migration` per version and rejects anything ambiguous before a database is touched.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::MigrationError;
use super::checksum::checksum;

/// A file whose very first bytes are this runs outside a transaction (sqlx's directive).
pub const NO_TRANSACTION_DIRECTIVE: &str = "-- no-transaction";

/// Which half of a migration a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    /// `.up.sql`
    Up,
    /// `.down.sql`
    Down,
    /// `.sql`: sqlx's irreversible single file.
    Simple,
}

impl FileKind {
    fn suffix(self) -> &'static str {
        match self {
            Self::Up => ".up.sql",
            Self::Down => ".down.sql",
            Self::Simple => ".sql",
        }
    }
}

/// A parsed migration file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName {
    pub version: i64,
    /// As written in the name, `_` included.
    pub slug: String,
    /// The slug with `_` turned into spaces: what sqlx stores in `description`.
    pub description: String,
    pub kind: FileKind,
}

/// Parses a file name in the migrations directory. `Ok(None)` for files that are not
/// migrations at all (no `.sql` suffix, hidden files); an error for a `.sql` file whose
/// name is not `<version>_<slug>`, because a silently ignored migration is never applied.
#[allow(clippy::case_sensitive_file_extension_comparisons)] // sqlx matches `.sql` exactly
pub fn parse_file_name(name: &str) -> Result<Option<FileName>, MigrationError> {
    if name.starts_with('.') || !name.ends_with(".sql") {
        return Ok(None);
    }
    let kind = [FileKind::Up, FileKind::Down]
        .into_iter()
        .find(|k| name.ends_with(k.suffix()))
        .unwrap_or(FileKind::Simple);
    let stem = &name[..name.len() - kind.suffix().len()];
    let malformed = |reason: &str| MigrationError::MalformedName {
        file: name.to_owned(),
        reason: reason.to_owned(),
    };
    let (version, slug) = stem
        .split_once('_')
        .ok_or_else(|| malformed("no `_` between version and slug"))?;
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed("the version is not a number"));
    }
    let version: i64 = version
        .parse()
        .map_err(|_| malformed("the version does not fit in a 64-bit integer"))?;
    if version <= 0 {
        return Err(malformed("the version must be greater than zero"));
    }
    if slug.is_empty() {
        return Err(malformed("the slug is empty"));
    }
    Ok(Some(FileName {
        version,
        slug: slug.to_owned(),
        description: slug.replace('_', " "),
        kind,
    }))
}

/// A file as read from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// One file's SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub file: String,
    pub sql: String,
    /// SHA-384 of the exact bytes.
    pub checksum: Vec<u8>,
    pub no_transaction: bool,
}

impl Script {
    fn new(file: &str, bytes: &[u8]) -> Result<Self, MigrationError> {
        let sql = std::str::from_utf8(bytes)
            .map_err(|_| MigrationError::NotUtf8 {
                file: file.to_owned(),
            })?
            .to_owned();
        Ok(Self {
            file: file.to_owned(),
            no_transaction: sql.starts_with(NO_TRANSACTION_DIRECTIVE),
            checksum: checksum(bytes),
            sql,
        })
    }
}

/// One version: its up script and, when reversible, its down script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    pub description: String,
    pub slug: String,
    pub up: Script,
    pub down: Option<Script>,
    /// `.up.sql` (a down file is expected) rather than a plain `.sql`.
    pub reversible: bool,
}

impl Migration {
    /// The name the down file has, or would have.
    pub fn down_file_name(&self) -> String {
        format!("{}_{}{}", self.version, self.slug, FileKind::Down.suffix())
    }
}

/// Every migration of a directory, by version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationSet {
    pub migrations: BTreeMap<i64, Migration>,
}

impl MigrationSet {
    /// Groups the files of a directory (any order; non-migration files are skipped).
    pub fn from_files(files: &[SourceFile]) -> Result<Self, MigrationError> {
        let mut ups: BTreeMap<i64, (FileName, &SourceFile)> = BTreeMap::new();
        let mut downs: BTreeMap<i64, (FileName, &SourceFile)> = BTreeMap::new();
        for file in files {
            let Some(parsed) = parse_file_name(&file.name)? else {
                continue;
            };
            let slot = if parsed.kind == FileKind::Down {
                &mut downs
            } else {
                &mut ups
            };
            if let Some((_, other)) = slot.get(&parsed.version) {
                return Err(duplicate(parsed.version, &other.name, &file.name));
            }
            slot.insert(parsed.version, (parsed, file));
        }
        let mut migrations = BTreeMap::new();
        for (version, (name, up)) in ups {
            let down = downs.remove(&version);
            migrations.insert(version, migration(name, up, down)?);
        }
        if let Some((_, (_, orphan))) = downs.into_iter().next() {
            return Err(MigrationError::OrphanDown {
                file: orphan.name.clone(),
            });
        }
        Ok(Self { migrations })
    }

    pub fn get(&self, version: i64) -> Option<&Migration> {
        self.migrations.get(&version)
    }

    /// The newest version, if any.
    pub fn head(&self) -> Option<i64> {
        self.migrations.keys().next_back().copied()
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Migration> {
        self.migrations.values()
    }
}

fn duplicate(version: i64, a: &str, b: &str) -> MigrationError {
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    MigrationError::DuplicateVersion {
        version,
        first: first.to_owned(),
        second: second.to_owned(),
    }
}

fn migration(
    name: FileName,
    up: &SourceFile,
    down: Option<(FileName, &SourceFile)>,
) -> Result<Migration, MigrationError> {
    let down = match down {
        Some((down_name, file)) if down_name.slug != name.slug || name.kind == FileKind::Simple => {
            return Err(duplicate(name.version, &up.name, &file.name));
        }
        Some((_, file)) => Some(Script::new(&file.name, &file.bytes)?),
        None => None,
    };
    Ok(Migration {
        version: name.version,
        description: name.description,
        slug: name.slug,
        up: Script::new(&up.name, &up.bytes)?,
        down,
        reversible: name.kind == FileKind::Up,
    })
}

/// The version for a migration written at `now`: UTC `YYYYMMDDHHMMSS`.
pub fn version_at(now: DateTime<Utc>) -> i64 {
    now.format("%Y%m%d%H%M%S")
        .to_string()
        .parse()
        .expect("BUG: a formatted timestamp is a number")
}

/// A file-name slug from a message: lowercase ASCII letters and digits joined by `_`.
pub fn slugify(message: &str) -> String {
    let mut slug = String::new();
    for word in message
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !slug.is_empty() {
            slug.push('_');
        }
        slug.push_str(&word.to_ascii_lowercase());
    }
    if slug.is_empty() {
        "migration".to_owned()
    } else {
        slug
    }
}

/// The up and down file names of a new migration.
pub fn file_names(version: i64, slug: &str) -> (String, String) {
    (
        format!("{version}_{slug}{}", FileKind::Up.suffix()),
        format!("{version}_{slug}{}", FileKind::Down.suffix()),
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn file(name: &str, sql: &str) -> SourceFile {
        SourceFile {
            name: name.to_owned(),
            bytes: sql.as_bytes().to_vec(),
        }
    }

    #[test]
    fn parse_file_name_up_down_simple_ok() {
        let up = parse_file_name("20260101000000_create_users.up.sql")
            .unwrap()
            .unwrap();
        assert_eq!(up.version, 20_260_101_000_000);
        assert_eq!(up.description, "create users");
        assert_eq!(up.kind, FileKind::Up);
        let down = parse_file_name("1_x.down.sql").unwrap().unwrap();
        assert_eq!(down.kind, FileKind::Down);
        let simple = parse_file_name("2_add_thing.sql").unwrap().unwrap();
        assert_eq!(
            (simple.kind, simple.description.as_str()),
            (FileKind::Simple, "add thing")
        );
    }

    #[test]
    fn parse_file_name_not_sql_ignored() {
        assert_eq!(parse_file_name("migrated.sum").unwrap(), None);
        assert_eq!(parse_file_name("README.md").unwrap(), None);
        assert_eq!(parse_file_name(".1_x.up.sql.swp").unwrap(), None);
    }

    #[test]
    fn parse_file_name_bad_names_error_naming_file() {
        for bad in [
            "create_users.up.sql",
            "20260101.up.sql",
            "1_.up.sql",
            "0_x.sql",
            "99999999999999999999_x.sql",
        ] {
            let err = parse_file_name(bad).unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn from_files_pairs_up_and_down() {
        let set = MigrationSet::from_files(&[
            file("2_b.up.sql", "B"),
            file("1_a.down.sql", "drop a"),
            file("1_a.up.sql", "-- no-transaction\nA"),
            file("migrated.sum", "x"),
        ])
        .unwrap();
        assert_eq!(set.migrations.len(), 2);
        let a = set.get(1).unwrap();
        assert!(a.up.no_transaction);
        assert_eq!(a.down.as_ref().unwrap().sql, "drop a");
        assert!(set.get(2).unwrap().down.is_none());
        assert_eq!(set.head(), Some(2));
    }

    #[test]
    fn from_files_duplicate_version_error() {
        let err = MigrationSet::from_files(&[file("1_a.up.sql", ""), file("1_b.up.sql", "")])
            .unwrap_err();
        assert_eq!(
            err,
            MigrationError::DuplicateVersion {
                version: 1,
                first: "1_a.up.sql".into(),
                second: "1_b.up.sql".into()
            }
        );
        let err =
            MigrationSet::from_files(&[file("1_a.sql", ""), file("1_a.up.sql", "")]).unwrap_err();
        assert!(matches!(
            err,
            MigrationError::DuplicateVersion { version: 1, .. }
        ));
        let err = MigrationSet::from_files(&[file("1_a.up.sql", ""), file("1_b.down.sql", "")])
            .unwrap_err();
        assert!(matches!(
            err,
            MigrationError::DuplicateVersion { version: 1, .. }
        ));
    }

    #[test]
    fn from_files_orphan_down_error() {
        let err = MigrationSet::from_files(&[file("1_a.down.sql", "")]).unwrap_err();
        assert_eq!(
            err,
            MigrationError::OrphanDown {
                file: "1_a.down.sql".into()
            }
        );
    }

    #[test]
    fn from_files_not_utf8_error() {
        let bad = SourceFile {
            name: "1_a.up.sql".into(),
            bytes: vec![0xff, 0xfe],
        };
        let err = MigrationSet::from_files(&[bad]).unwrap_err();
        assert_eq!(
            err,
            MigrationError::NotUtf8 {
                file: "1_a.up.sql".into()
            }
        );
    }

    #[test]
    fn version_at_is_utc_timestamp() {
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 9, 30, 5).unwrap();
        assert_eq!(version_at(now), 20_261_121_093_005);
    }

    #[test]
    fn slugify_message_ok() {
        assert_eq!(slugify("Add users' e-mail!"), "add_users_e_mail");
        assert_eq!(slugify("  "), "migration");
        assert_eq!(file_names(1, "a").0, "1_a.up.sql");
    }
}
