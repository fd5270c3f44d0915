//! The container files: `docker-compose.dev.yml` validates with the compose tool installed
//! here (`docker compose` or Debian's `docker-compose`), the entrypoint script is valid sh
//! that execs `migrated --once --`, and the Dockerfile has the shape production relies on.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

/// `docker compose` (the v2 plugin) when it works, else `docker-compose` (v1, Debian).
fn compose() -> Command {
    let plugin = Command::new("docker")
        .args(["compose", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if plugin {
        let mut cmd = Command::new("docker");
        cmd.arg("compose");
        cmd
    } else {
        Command::new("docker-compose")
    }
}

#[test]
fn compose_dev_file_config_validates() {
    let out = compose()
        .args(["-f", "docker-compose.dev.yml", "config", "-q"])
        .current_dir(root())
        .env_remove("MIGRATED_WATCH_POLL")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "no compose tool: {e}. Install the docker compose plugin or `apt-get install docker-compose`"
            )
        });
    assert!(
        out.status.success(),
        "docker-compose.dev.yml does not validate:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn compose_dev_file_wires_watcher_and_app() {
    let text = read("docker-compose.dev.yml");
    for needle in [
        "MIGRATED_WATCH_AUTO_GENERATE",
        "MIGRATED_WATCH_AUTO_APPLY",
        "MIGRATED_BACKUP_BEFORE_APPLY",
        "MIGRATED_WATCH_DEBOUNCE_MS",
        "MIGRATED_WATCH_POLL",
        "./models:/app/models",
        "./migrations:/app/migrations",
        "./backups:/app/backups",
        "./logs:/app/logs",
        "condition: service_healthy",
        "healthcheck:",
        r#"entrypoint: ["migrated", "--once", "--"]"#,
    ] {
        assert!(
            text.contains(needle),
            "docker-compose.dev.yml lacks {needle:?}"
        );
    }
}

#[test]
fn entrypoint_script_is_valid_sh_and_execs_once() {
    let path = root().join("scripts/docker-entrypoint.sh");
    let out = Command::new("sh").arg("-n").arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = read("scripts/docker-entrypoint.sh");
    assert!(text.contains(r#"exec migrated --once -- "$@""#), "{text}");
    let mode = std::fs::metadata(&path).unwrap();
    assert!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o111 != 0,
        "the entrypoint must be executable"
    );
}

#[test]
fn dockerfile_builds_with_libclang_and_runs_as_non_root() {
    let text = read("Dockerfile");
    assert!(
        text.contains("libclang-dev"),
        "pg_query's bindgen needs libclang"
    );
    assert!(text.contains("-slim"), "a small runtime image");
    assert!(
        text.contains("ENTRYPOINT [\"/usr/local/bin/migrated\"]"),
        "the binary is the entrypoint"
    );
    let user = text
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .next_back()
        .expect("a USER line");
    assert!(
        !user.starts_with("root") && !user.starts_with('0'),
        "{user}"
    );
    // Every local path the Dockerfile copies exists and is not excluded by .dockerignore.
    let ignored = read(".dockerignore");
    for line in text
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from="))
    {
        let words: Vec<&str> = line.split_whitespace().skip(1).collect();
        for src in &words[..words.len() - 1] {
            if src.starts_with("--") || *src == "." {
                continue;
            }
            assert!(
                Path::new(&root().join(src)).exists(),
                "COPY source {src} is missing"
            );
            let top = src.trim_end_matches('/');
            assert!(
                !ignored.lines().any(|l| l.trim() == top),
                "COPY source {src} is excluded by .dockerignore"
            );
        }
    }
}
