//! Settings: `ConfigFile` (the raw TOML, serde) resolved into `Config` with the precedence
//! defaults < file < environment (`MIGRATED_<SECTION>_<KEY>`, `DATABASE_URL`) < flags.
//!
//! Pure: the caller passes the file text, the environment map and the working directory in,
//! so every rule here is testable without files or a process environment. Secrets never
//! leave this module unredacted: `DatabaseUrl` prints as `postgres://user:***@host/db`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cli::{GlobalArgs, LogFormat};
use crate::error::UsageError;

/// The default config file, relative to the working directory.
pub const DEFAULT_CONFIG_PATH: &str = "config/migrated.toml";

/// Whether anything may be generated or auto-applied without review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Development,
    Production,
}

/// The config file as written. Every field is optional; `deny_unknown_fields` makes a typo an
/// error that names the key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub mode: Option<Mode>,
    pub database_url: Option<String>,
    pub shadow_database_url: Option<String>,
    #[serde(default)]
    pub paths: PathsFile,
    #[serde(default)]
    pub models: ModelsFile,
    #[serde(default)]
    pub apply: ApplyFile,
    #[serde(default)]
    pub watch: WatchFile,
    #[serde(default)]
    pub backup: BackupFile,
    #[serde(default)]
    pub shadow: ShadowFile,
    #[serde(default)]
    pub once: OnceFile,
    #[serde(default)]
    pub log: LogFile,
}

/// The sections of the file: an env name `MIGRATED_<SECTION>_<KEY>` maps onto them.
const SECTIONS: &[&str] = &[
    "paths", "models", "apply", "watch", "backup", "shadow", "once", "log",
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathsFile {
    pub models: Option<PathBuf>,
    pub migrations: Option<PathBuf>,
    pub backups: Option<PathBuf>,
    pub logs: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelsFile {
    pub command: Option<Vec<String>>,
    pub watch: Option<Vec<String>>,
    pub command_timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyFile {
    pub lock_timeout_ms: Option<u64>,
    pub lock_retries: Option<u32>,
    pub advisory_lock_timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchFile {
    pub debounce_ms: Option<u64>,
    pub poll: Option<bool>,
    pub poll_interval_ms: Option<u64>,
    pub auto_generate: Option<bool>,
    pub auto_apply: Option<bool>,
    pub allow_destructive: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupFile {
    pub before_apply: Option<bool>,
    pub keep: Option<usize>,
    pub rollback_on_fail: Option<bool>,
    pub level: Option<u32>,
    pub jobs: Option<usize>,
    pub split_mb: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShadowFile {
    pub keep: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnceFile {
    pub wait_timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogFile {
    pub format: Option<LogFormat>,
    pub level: Option<String>,
}

/// A database URL whose password is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL with its password, for connecting only. Never log or format this.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with the password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }

    /// The database name in the URL's path, if any.
    pub fn database_name(&self) -> Option<String> {
        let parsed = url::Url::parse(&self.0).ok()?;
        let name = parsed.path().trim_start_matches('/');
        (!name.is_empty()).then(|| {
            percent_encoding::percent_decode_str(name)
                .decode_utf8_lossy()
                .into_owned()
        })
    }

    /// The same server and credentials with another database name.
    pub fn with_database(&self, name: &str) -> Result<Self, UsageError> {
        let mut parsed = url::Url::parse(&self.0)
            .map_err(|e| UsageError(format!("invalid database url {}: {e}", self.redacted())))?;
        parsed
            .path_segments_mut()
            .map_err(|()| {
                UsageError(format!(
                    "invalid database url {}: it has no path",
                    self.redacted()
                ))
            })?
            .clear()
            .push(name);
        Ok(Self(parsed.into()))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Replaces the password of a URL (and any `password=` query parameter) with `***`.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(raw) else {
        return "<unparsable database url>".to_owned();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    if pairs.iter().any(|(k, _)| k == "password") {
        let mut query = parsed.query_pairs_mut();
        query.clear();
        for (k, v) in &pairs {
            query.append_pair(k, if k == "password" { "***" } else { v });
        }
    }
    parsed.into()
}

/// Every setting, resolved. Paths are absolute (joined onto the working directory).
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Option<Mode>,
    pub database_url: Option<DatabaseUrl>,
    pub shadow_database_url: Option<DatabaseUrl>,
    pub config_file: Option<PathBuf>,
    pub models_dir: PathBuf,
    pub migrations_dir: PathBuf,
    pub backups_dir: PathBuf,
    pub logs_dir: PathBuf,
    pub models_command: Option<Vec<String>>,
    pub models_watch: Vec<String>,
    pub models_command_timeout: Duration,
    pub lock_timeout: Duration,
    pub lock_retries: u32,
    pub advisory_lock_timeout: Duration,
    pub watch: WatchConfig,
    pub backup: BackupConfig,
    pub shadow_keep: bool,
    pub wait_timeout: Duration,
    pub log_format: LogFormat,
    pub log_level: String,
}

#[derive(Debug, Clone)]
pub struct WatchConfig {
    pub debounce: Duration,
    pub poll: bool,
    pub poll_interval: Duration,
    pub auto_generate: bool,
    pub auto_apply: bool,
    pub allow_destructive: bool,
}

#[derive(Debug, Clone)]
pub struct BackupConfig {
    pub before_apply: bool,
    pub keep: usize,
    pub rollback_on_fail: bool,
    pub level: u32,
    pub jobs: usize,
    /// Tables larger than this many MiB are dumped in pieces of about this size, read and
    /// restored in parallel (PostgreSQL 14+); 0 keeps every table whole.
    pub split_mb: u32,
}

/// Where the settings came from: the file (path and text) if one was read.
pub struct Sources<'a> {
    pub file: Option<(&'a Path, &'a str)>,
    pub env: &'a BTreeMap<String, String>,
    pub flags: &'a GlobalArgs,
    pub cwd: &'a Path,
}

impl Config {
    /// Resolves defaults < file < env < flags.
    pub fn resolve(sources: &Sources<'_>) -> Result<Self, UsageError> {
        let mut table = match sources.file {
            Some((path, text)) => parse_file_table(path, text)?,
            None => toml::Table::new(),
        };
        let env_table = env_overrides(sources.env)?;
        merge_tables(&mut table, env_table);
        let file: ConfigFile =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| {
                    UsageError(format!("invalid configuration: {}", e.message()))
                })?;
        Ok(Self::from_file(file, sources))
    }

    fn from_file(file: ConfigFile, sources: &Sources<'_>) -> Self {
        let cwd = sources.cwd;
        let path =
            |p: Option<PathBuf>, default: &str| cwd.join(p.unwrap_or_else(|| default.into()));
        let database_url = sources
            .flags
            .database_url
            .clone()
            .or_else(|| sources.env.get("DATABASE_URL").cloned())
            .or(file.database_url)
            .map(DatabaseUrl::new);
        Self {
            mode: file.mode,
            database_url,
            shadow_database_url: file.shadow_database_url.map(DatabaseUrl::new),
            config_file: sources.file.map(|(p, _)| p.to_path_buf()),
            models_dir: path(file.paths.models, "models"),
            migrations_dir: path(file.paths.migrations, "migrations"),
            backups_dir: path(file.paths.backups, "backups"),
            logs_dir: path(file.paths.logs, "logs"),
            models_command: file.models.command,
            models_watch: file.models.watch.unwrap_or_default(),
            models_command_timeout: Duration::from_secs(
                file.models.command_timeout_secs.unwrap_or(60),
            ),
            lock_timeout: Duration::from_millis(file.apply.lock_timeout_ms.unwrap_or(5_000)),
            lock_retries: file.apply.lock_retries.unwrap_or(3),
            advisory_lock_timeout: Duration::from_secs(
                file.apply.advisory_lock_timeout_secs.unwrap_or(300),
            ),
            watch: WatchConfig {
                debounce: Duration::from_millis(file.watch.debounce_ms.unwrap_or(50)),
                poll: file.watch.poll.unwrap_or(false),
                poll_interval: Duration::from_millis(file.watch.poll_interval_ms.unwrap_or(500)),
                auto_generate: file.watch.auto_generate.unwrap_or(true),
                auto_apply: file.watch.auto_apply.unwrap_or(true),
                allow_destructive: file.watch.allow_destructive.unwrap_or(false),
            },
            backup: BackupConfig {
                before_apply: file.backup.before_apply.unwrap_or(false),
                keep: file.backup.keep.unwrap_or(10),
                rollback_on_fail: file.backup.rollback_on_fail.unwrap_or(false),
                // Level 6 (gzip's and pg_dump's): level 2 compresses about 2.5x faster with
                // zlib-rs, but files were 4% larger on the pgbench benchmark and 18% on the
                // mixed dump of the crate notes (§5), past the 1.1x of pg_dump's size allowed.
                level: file.backup.level.unwrap_or(6),
                jobs: file.backup.jobs.unwrap_or(2),
                split_mb: file.backup.split_mb.unwrap_or(64),
            },
            shadow_keep: file.shadow.keep.unwrap_or(true),
            wait_timeout: Duration::from_secs(file.once.wait_timeout_secs.unwrap_or(60)),
            log_format: sources
                .flags
                .log_format
                .or(file.log.format)
                .unwrap_or(LogFormat::Text),
            log_level: file.log.level.unwrap_or_else(|| "info".to_owned()),
        }
    }

    /// The database URL, or a usage error saying how to provide one.
    pub fn require_database_url(&self) -> Result<&DatabaseUrl, UsageError> {
        self.database_url.as_ref().ok_or_else(|| {
            UsageError(
                "no database configured: set DATABASE_URL, pass --database-url, or set database_url in the config file"
                    .to_owned(),
            )
        })
    }

    /// `migrations/migrated.sum`.
    pub fn sum_file(&self) -> PathBuf {
        self.migrations_dir
            .join(crate::core::migration::SUM_FILE_NAME)
    }
}

fn parse_file_table(path: &Path, text: &str) -> Result<toml::Table, UsageError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        UsageError(format!("{}: {}", path.display(), e.to_string().trim_end()))
    })?;
    // Deserialize the file alone first so an unknown key is reported against the file.
    let _: ConfigFile = toml::Value::Table(table.clone())
        .try_into()
        .map_err(|e: toml::de::Error| UsageError(format!("{}: {}", path.display(), e.message())))?;
    Ok(table)
}

/// Maps `MIGRATED_<SECTION>_<KEY>` (and `MIGRATED_<KEY>` for top-level keys) onto a table.
/// Values are read as TOML when they parse (`true`, `200`, `["a"]`), else as strings.
fn env_overrides(env: &BTreeMap<String, String>) -> Result<toml::Table, UsageError> {
    let mut table = toml::Table::new();
    for (name, raw) in env {
        let Some(rest) = name.strip_prefix("MIGRATED_") else {
            continue;
        };
        // `MIGRATED_LOG` is the log filter (like RUST_LOG), read by cmd::main, not a key.
        if name == "MIGRATED_LOG" {
            continue;
        }
        let rest = rest.to_ascii_lowercase();
        let value = parse_env_value(raw);
        let section = SECTIONS.iter().find(|s| {
            rest.strip_prefix(*s).is_some_and(|k| k.starts_with('_')) && !is_top_level_key(&rest)
        });
        let mut single = toml::Table::new();
        match section {
            Some(section) => {
                let key = rest[section.len() + 1..].to_owned();
                let mut inner = toml::Table::new();
                inner.insert(key, value);
                single.insert((*section).to_owned(), toml::Value::Table(inner));
            }
            None => {
                single.insert(rest, value);
            }
        }
        let _: ConfigFile =
            toml::Value::Table(single.clone())
                .try_into()
                .map_err(|e: toml::de::Error| {
                    UsageError(format!("environment variable {name}: {}", e.message()))
                })?;
        merge_tables(&mut table, single);
    }
    Ok(table)
}

fn is_top_level_key(key: &str) -> bool {
    matches!(key, "mode" | "database_url" | "shadow_database_url")
}

fn parse_env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn merge_tables(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge_tables(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(
        file: Option<&str>,
        env: &[(&str, &str)],
        flags: &GlobalArgs,
    ) -> Result<Config, UsageError> {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let path = Path::new("config/migrated.toml");
        Config::resolve(&Sources {
            file: file.map(|t| (path, t)),
            env: &env,
            flags,
            cwd: Path::new("/p"),
        })
    }

    #[test]
    fn defaults_are_the_project_layout() {
        let c = resolve(None, &[], &GlobalArgs::default()).unwrap();
        assert_eq!(c.models_dir, Path::new("/p/models"));
        assert_eq!(c.migrations_dir, Path::new("/p/migrations"));
        assert_eq!(c.backup.keep, 10);
        assert!(c.database_url.is_none());
    }

    #[test]
    fn precedence_is_defaults_file_env_flags() {
        let file = "database_url = \"postgres://file/db\"\n[watch]\ndebounce_ms = 50\nauto_apply = false\n";
        let c = resolve(
            Some(file),
            &[("MIGRATED_WATCH_DEBOUNCE_MS", "75")],
            &GlobalArgs::default(),
        )
        .unwrap();
        assert_eq!(c.watch.debounce, Duration::from_millis(75));
        assert!(!c.watch.auto_apply);
        assert_eq!(c.database_url.unwrap().expose(), "postgres://file/db");
        let c = resolve(
            Some(file),
            &[("DATABASE_URL", "postgres://env/db")],
            &GlobalArgs::default(),
        )
        .unwrap();
        assert_eq!(c.database_url.unwrap().expose(), "postgres://env/db");
        let flags = GlobalArgs {
            database_url: Some("postgres://flag/db".into()),
            ..GlobalArgs::default()
        };
        let c = resolve(Some(file), &[("DATABASE_URL", "postgres://env/db")], &flags).unwrap();
        assert_eq!(c.database_url.unwrap().expose(), "postgres://flag/db");
    }

    #[test]
    fn env_names_for_docker_compose() {
        let env = [
            ("MIGRATED_WATCH_AUTO_GENERATE", "false"),
            ("MIGRATED_BACKUP_BEFORE_APPLY", "true"),
            ("MIGRATED_MODE", "production"),
            ("MIGRATED_SHADOW_DATABASE_URL", "postgres://s/shadow"),
            ("MIGRATED_SHADOW_KEEP", "false"),
        ];
        let c = resolve(None, &env, &GlobalArgs::default()).unwrap();
        assert!(!c.watch.auto_generate);
        assert!(c.backup.before_apply);
        assert_eq!(c.mode, Some(Mode::Production));
        assert_eq!(
            c.shadow_database_url.unwrap().expose(),
            "postgres://s/shadow"
        );
        assert!(!c.shadow_keep);
    }

    #[test]
    fn unknown_file_key_is_an_error_naming_it() {
        let err =
            resolve(Some("[watch]\ndebounce = 5\n"), &[], &GlobalArgs::default()).unwrap_err();
        assert!(err.0.contains("debounce"), "{err}");
        assert!(err.0.contains("config/migrated.toml"), "{err}");
    }

    #[test]
    fn migrated_log_is_the_log_filter_not_a_config_key() {
        resolve(None, &[("MIGRATED_LOG", "debug")], &GlobalArgs::default()).unwrap();
    }

    #[test]
    fn unknown_env_key_is_an_error_naming_it() {
        let err = resolve(
            None,
            &[("MIGRATED_WATCH_DEBOUNCE", "5")],
            &GlobalArgs::default(),
        )
        .unwrap_err();
        assert!(err.0.contains("MIGRATED_WATCH_DEBOUNCE"), "{err}");
    }

    #[test]
    fn password_is_redacted_everywhere() {
        let url =
            DatabaseUrl::new("postgres://alice:s3cret@db:5432/app?password=s3cret&sslmode=disable");
        for shown in [url.to_string(), format!("{url:?}"), url.redacted()] {
            assert!(!shown.contains("s3cret"), "{shown}");
        }
        let c = resolve(
            None,
            &[("DATABASE_URL", url.expose())],
            &GlobalArgs::default(),
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn database_name_and_swap() {
        let url = DatabaseUrl::new("postgres://u:p@h/app_dev");
        assert_eq!(url.database_name().as_deref(), Some("app_dev"));
        let shadow = url.with_database("app_dev_migrated_shadow").unwrap();
        assert_eq!(shadow.expose(), "postgres://u:p@h/app_dev_migrated_shadow");
    }
}
