//! The migrations directory on disk: read every file (for `core::migration` to judge), and
//! write `migrated.sum`. Whoever writes a migration file calls `write_sum` afterwards (the
//! generator, `commit`, `repair`), so the sum always pins the directory's content.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::core::migration::{
    MigrationSet, SUM_FILE_NAME, SourceFile, SumProblem, check_sum, sum_file_contents,
};

/// Every regular file of the directory (names and bytes), sorted by name. A missing
/// directory is an error that says how to create one.
#[allow(clippy::case_sensitive_file_extension_comparisons)] // sqlx matches `.sql` exactly
pub fn read_dir(dir: &Path) -> anyhow::Result<Vec<SourceFile>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
            "migrations directory {} does not exist (run `migrated init`, or set paths.migrations in config/migrated.toml)",
            dir.display()
        ),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("reading migrations directory {}", dir.display()));
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry =
            entry.with_context(|| format!("reading migrations directory {}", dir.display()))?;
        let path = entry.path();
        // The entry's type costs no extra stat on most file systems; follow symlinks only.
        let is_file = match entry.file_type() {
            Ok(t) if t.is_symlink() => path.is_file(),
            Ok(t) => t.is_file(),
            Err(_) => path.is_file(),
        };
        if !is_file {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".sql") {
            continue;
        }
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        files.push(SourceFile { name, bytes });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// The migrations of a directory, checked (names, duplicates, pairs).
pub fn load(dir: &Path) -> anyhow::Result<MigrationSet> {
    let files = read_dir(dir)?;
    set_of(dir, &files)
}

/// The migrations of a directory and every problem with its `migrated.sum`, from one read
/// of the directory.
pub fn load_with_sum(dir: &Path) -> anyhow::Result<(MigrationSet, Vec<SumProblem>)> {
    let files = read_dir(dir)?;
    Ok((set_of(dir, &files)?, problems_of(dir, &files)?))
}

fn set_of(dir: &Path, files: &[SourceFile]) -> anyhow::Result<MigrationSet> {
    MigrationSet::from_files(files).with_context(|| format!("in {}", dir.display()))
}

/// Rewrites `<dir>/migrated.sum` from the files in the directory (atomically: a temporary
/// file renamed over it). Returns its path.
pub fn write_sum(dir: &Path) -> anyhow::Result<PathBuf> {
    let files = read_dir(dir)?;
    let path = dir.join(SUM_FILE_NAME);
    let tmp = dir.join(format!(".{SUM_FILE_NAME}.partial"));
    std::fs::write(&tmp, sum_file_contents(&files))
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Every problem with `<dir>/migrated.sum` (missing, stale, tampered).
pub fn sum_problems(dir: &Path) -> anyhow::Result<Vec<SumProblem>> {
    problems_of(dir, &read_dir(dir)?)
}

fn problems_of(dir: &Path, files: &[SourceFile]) -> anyhow::Result<Vec<SumProblem>> {
    let path = dir.join(SUM_FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(check_sum(&text, files)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![SumProblem::Missing {
            path: path.display().to_string(),
        }]),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}
