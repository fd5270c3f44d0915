//! Writing migration files: a generated pair `<version>_<slug>.up.sql` / `.down.sql`, an empty
//! pair for hand-written SQL, the watcher's draft (`<version>_draft`), and `migrated.sum`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::core::diff::Plan;
use crate::core::generate::{default_message, free_version, migration_texts};

/// The slug of the draft migration.
pub const DRAFT_SLUG: &str = "draft";

/// Writes a generated migration; returns the (up, down) paths. The version is bumped by a
/// second while another migration has it.
pub fn write_migration(
    dir: &Path,
    version: i64,
    message: Option<&str>,
    plan: &Plan,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let title = message.map_or_else(|| default_message(plan), ToOwned::to_owned);
    let version = free_version(version, &taken_versions(dir)?);
    let (up, down) = migration_texts(plan, &title);
    write_pair(dir, version, &slugify(&title), &up, &down)
}

/// Writes an empty pair to fill in by hand.
pub fn write_empty(
    dir: &Path,
    version: i64,
    message: Option<&str>,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let title = message.unwrap_or("migration");
    let version = free_version(version, &taken_versions(dir)?);
    let up = format!("-- {title} (up): written by hand\n\n");
    let down = format!("-- {title} (down): undo the up script\n\n");
    write_pair(dir, version, &slugify(title), &up, &down)
}

/// The draft's files, if there is a draft.
pub fn draft_files(dir: &Path) -> anyhow::Result<Option<(PathBuf, PathBuf)>> {
    let suffix = format!("_{DRAFT_SLUG}.up.sql");
    Ok(file_names(dir)?
        .into_iter()
        .find(|name| name.ends_with(&suffix) && name.split('_').next().is_some_and(is_version))
        .map(|up| {
            let down = up.replace(".up.sql", ".down.sql");
            (dir.join(up), dir.join(down))
        }))
}

/// Writes (or rewrites) the draft for `plan`, keeping the version of an existing draft so it
/// stays the same migration; an empty plan removes the draft. Returns the paths written.
pub fn write_draft(
    dir: &Path,
    version: i64,
    plan: &Plan,
) -> anyhow::Result<Option<(PathBuf, PathBuf)>> {
    let existing = draft_files(dir)?;
    let version = match &existing {
        Some((up, _)) => version_of(up).unwrap_or(version),
        None => free_version(version, &taken_versions(dir)?),
    };
    if let Some((up, down)) = &existing {
        remove_if_exists(up)?;
        remove_if_exists(down)?;
    }
    if plan.is_empty() {
        return Ok(None);
    }
    let (up, down) = migration_texts(plan, DRAFT_SLUG);
    write_pair(dir, version, DRAFT_SLUG, &up, &down).map(Some)
}

fn write_pair(
    dir: &Path,
    version: i64,
    slug: &str,
    up: &str,
    down: &str,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let up_path = dir.join(format!("{version}_{slug}.up.sql"));
    let down_path = dir.join(format!("{version}_{slug}.down.sql"));
    std::fs::write(&up_path, up).with_context(|| format!("writing {}", up_path.display()))?;
    std::fs::write(&down_path, down).with_context(|| format!("writing {}", down_path.display()))?;
    Ok((up_path, down_path))
}

fn remove_if_exists(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// File names in the migrations directory (none when it does not exist).
fn file_names(dir: &Path) -> anyhow::Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

fn is_version(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn version_of(path: &Path) -> Option<i64> {
    let name = path.file_name()?.to_str()?;
    name.split('_')
        .next()
        .filter(|v| is_version(v))?
        .parse()
        .ok()
}

fn taken_versions(dir: &Path) -> anyhow::Result<BTreeSet<i64>> {
    Ok(file_names(dir)?
        .iter()
        .filter_map(|n| version_of(Path::new(n)))
        .collect())
}

/// A file-name slug: lowercase ASCII words joined by `_`, at most 60 characters.
fn slugify(message: &str) -> String {
    let words: Vec<String> = message
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let mut slug = String::new();
    for word in words {
        if slug.len() + word.len() + 1 > 60 && !slug.is_empty() {
            break;
        }
        if !slug.is_empty() {
            slug.push('_');
        }
        slug.push_str(&word);
    }
    if slug.is_empty() {
        "migration".to_owned()
    } else {
        slug
    }
}

/// Rewrites `migrated.sum` for the files now in the directory.
pub fn write_sum(dir: &Path) -> anyhow::Result<()> {
    crate::migrations::write_sum(dir).map(|_| ())
}
