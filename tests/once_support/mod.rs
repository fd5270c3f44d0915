//! Helpers shared by the `once_*` tests: migration folders with a valid `migrated.sum`, and
//! waiting for a child process without hanging the suite.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, ExitStatus, Output};
use std::time::{Duration, Instant};

use migrated::core::migration::{SUM_FILE_NAME, SourceFile, sum_file_contents};

use crate::common::Project;

/// Fails with the process's stderr unless it exited 0.
#[track_caller]
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes `migrations/<version>_<slug>.up.sql` (+ down) and rewrites `migrated.sum`.
pub fn add_migration(p: &Project, version: &str, slug: &str, up: &str, down: &str) {
    p.migration(version, slug, up, Some(down));
    write_sum(p);
}

/// Rewrites `migrations/migrated.sum` for the files on disk, as `migrated` would.
pub fn write_sum(p: &Project) {
    let dir = p.path("migrations");
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<SourceFile> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != SUM_FILE_NAME)
        .map(|e| SourceFile {
            name: e.file_name().into_string().unwrap(),
            bytes: std::fs::read(e.path()).unwrap(),
        })
        .collect();
    std::fs::write(dir.join(SUM_FILE_NAME), sum_file_contents(&files)).unwrap();
}

/// `sh -c 'echo $$ > FILE'`: the command records the PID it runs as.
pub fn record_pid(file: &Path) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!("echo $$ > '{}'", file.display()),
    ]
}

/// `--once -- <cmd>` as arguments.
pub fn once_args(cmd: &[String]) -> Vec<String> {
    let mut args = vec!["--once".to_owned()];
    if !cmd.is_empty() {
        args.push("--".to_owned());
        args.extend(cmd.iter().cloned());
    }
    args
}

/// Waits for `child` at most `limit` (a bound against hanging the suite, not a timing
/// assertion); kills it and panics past that.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads the child's stderr until a line contains `needle`; returns what was read, and a
/// thread that reads the rest (so the child never blocks on a full pipe).
pub fn read_stderr_until(
    child: &mut Child,
    needle: &str,
) -> (String, std::thread::JoinHandle<String>) {
    let stderr = child.stderr.take().expect("stderr piped");
    let mut reader = BufReader::new(stderr);
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).unwrap();
        assert!(n > 0, "stderr ended before {needle:?}:\n{seen}");
        seen.push_str(&line);
        if line.contains(needle) {
            break;
        }
    }
    let rest = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut reader, &mut rest);
        rest
    });
    (seen, rest)
}
