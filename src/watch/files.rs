//! File events -> the daemon's channel. notify (inotify, or polling for bind mounts whose
//! host-side edits raise no event) behind notify-debouncer-full.
//!
//! A debounced batch is only a trigger: the daemon re-scans the whole models tree, because
//! notify misses files created right after their folder (measured, notes/crates.md §3).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use globset::{Glob, GlobSet, GlobSetBuilder};
use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{PollWatcher, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, NoCache, RecommendedCache};
use tokio::sync::mpsc::UnboundedSender;

use super::Msg;

/// What to watch and how.
pub struct WatchSpec {
    pub models_dir: PathBuf,
    pub migrations_dir: PathBuf,
    /// Extra globs (`models.watch`), relative to `base`.
    pub globs: Vec<String>,
    pub base: PathBuf,
    pub debounce: Duration,
    /// `Some(interval)` switches to polling.
    pub poll: Option<Duration>,
}

/// Which side of the project a changed path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Models,
    Migrations,
}

/// Keeps the debouncer (and its thread) alive; dropping it stops watching.
pub enum FileWatcher {
    Native(Debouncer<RecommendedWatcher, RecommendedCache>),
    Poll(Debouncer<PollWatcher, NoCache>),
}

/// Classifies paths against the watched roots and globs.
pub struct Classifier {
    models_dir: PathBuf,
    migrations_dir: PathBuf,
    globs: GlobSet,
    base: PathBuf,
}

impl Classifier {
    pub fn new(spec: &WatchSpec) -> anyhow::Result<Self> {
        let mut builder = GlobSetBuilder::new();
        for glob in &spec.globs {
            builder.add(
                Glob::new(glob).with_context(|| format!("models.watch: invalid glob {glob:?}"))?,
            );
        }
        Ok(Self {
            models_dir: spec.models_dir.clone(),
            migrations_dir: spec.migrations_dir.clone(),
            globs: builder.build().context("models.watch globs")?,
            base: spec.base.clone(),
        })
    }

    /// The side a path belongs to, or `None` for files nobody watches (editor swap files,
    /// `__pycache__`, unrelated files under a glob root).
    pub fn side(&self, path: &Path) -> Option<Side> {
        let name = path.file_name()?.to_string_lossy();
        if name.starts_with('.')
            || name.ends_with('~')
            || name.ends_with(".swp")
            || name.ends_with(".tmp")
        {
            return None;
        }
        if path.starts_with(&self.migrations_dir) {
            return Some(Side::Migrations);
        }
        if path.starts_with(&self.models_dir) {
            return Some(Side::Models);
        }
        let rel = path.strip_prefix(&self.base).unwrap_or(path);
        self.globs.is_match(rel).then_some(Side::Models)
    }
}

/// The folders to watch recursively: the models and migrations folders, and the fixed
/// prefix of each glob (`app/**/*.py` -> `app`).
pub fn roots(spec: &WatchSpec) -> Vec<PathBuf> {
    let mut roots = vec![spec.models_dir.clone(), spec.migrations_dir.clone()];
    for glob in &spec.globs {
        let fixed: PathBuf = Path::new(glob)
            .components()
            .take_while(|c| {
                !c.as_os_str()
                    .to_string_lossy()
                    .contains(['*', '?', '[', '{'])
            })
            .collect();
        roots.push(spec.base.join(fixed));
    }
    roots.sort();
    roots.dedup();
    roots
}

/// Whether an event changes a file. Opening and reading one is reported too (inotify's
/// `IN_OPEN`, `IN_CLOSE_NOWRITE`): counting those, every pass that reads the models would
/// trigger the next one, forever.
fn is_change(kind: EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// Starts watching; batches of changed paths arrive as `Msg::Files` (an empty batch of
/// events that only read files is not sent).
pub fn start(spec: &WatchSpec, tx: UnboundedSender<Msg>) -> anyhow::Result<FileWatcher> {
    let handler = move |result: DebounceEventResult| {
        let msg = match result {
            Ok(events) => {
                let paths: Vec<PathBuf> = events
                    .into_iter()
                    .filter(|e| is_change(e.event.kind))
                    .flat_map(|e| e.event.paths)
                    .collect();
                if paths.is_empty() {
                    return;
                }
                Msg::Files(paths)
            }
            Err(errors) => Msg::WatchError(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        };
        let _ = tx.send(msg);
    };
    let mut watcher = match spec.poll {
        None => FileWatcher::Native(notify_debouncer_full::new_debouncer(
            spec.debounce,
            None,
            handler,
        )?),
        Some(interval) => FileWatcher::Poll(notify_debouncer_full::new_debouncer_opt::<
            _,
            PollWatcher,
            NoCache,
        >(
            spec.debounce,
            None,
            handler,
            NoCache,
            notify::Config::default()
                .with_poll_interval(interval)
                .with_compare_contents(false),
        )?),
    };
    for root in roots(spec) {
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        let result = match &mut watcher {
            FileWatcher::Native(d) => d.watch(&root, RecursiveMode::Recursive),
            FileWatcher::Poll(d) => d.watch(&root, RecursiveMode::Recursive),
        };
        result.with_context(|| format!("watching {}", root.display()))?;
    }
    Ok(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_change_ignores_reads_and_keeps_writes() {
        use notify::event::{CreateKind, ModifyKind, RemoveKind};
        assert!(!is_change(EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!is_change(EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(is_change(EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(is_change(EventKind::Create(CreateKind::File)));
        assert!(is_change(EventKind::Modify(ModifyKind::Any)));
        assert!(is_change(EventKind::Remove(RemoveKind::File)));
    }

    fn spec() -> WatchSpec {
        WatchSpec {
            models_dir: "/p/models".into(),
            migrations_dir: "/p/migrations".into(),
            globs: vec!["app/**/*.py".into()],
            base: "/p".into(),
            debounce: Duration::from_millis(100),
            poll: None,
        }
    }

    #[test]
    fn classifier_sorts_paths_by_side() {
        let c = Classifier::new(&spec()).unwrap();
        assert_eq!(c.side(Path::new("/p/models/users.sql")), Some(Side::Models));
        assert_eq!(
            c.side(Path::new("/p/migrations/1_a.up.sql")),
            Some(Side::Migrations)
        );
        assert_eq!(
            c.side(Path::new("/p/app/models/user.py")),
            Some(Side::Models)
        );
        assert_eq!(c.side(Path::new("/p/app/models/user.pyc")), None);
        assert_eq!(c.side(Path::new("/p/models/.users.sql.swp")), None);
        assert_eq!(c.side(Path::new("/p/README.md")), None);
    }

    #[test]
    fn roots_take_the_fixed_prefix_of_globs() {
        assert_eq!(
            roots(&spec()),
            [
                PathBuf::from("/p/app"),
                "/p/migrations".into(),
                "/p/models".into()
            ]
        );
    }
}
