//! What must never go wrong with backups: an incomplete backup taken silently, a killed
//! backup that looks complete, a failed restore that leaves half a database, a restore over
//! existing objects, rotation touching files that are not ours.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Project, TestDb, gunzip};

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn backup_uncapturable_object_without_flag_is_refused_and_writes_nothing() {
    let p = Project::new("bkincomplete").await;
    p.db.exec("CREATE TABLE t (id int); SELECT lo_create(0);")
        .await;
    p.run(&["db", "backup"])
        .code(1)
        .stderr_has("cannot be captured")
        .stderr_has("large objects (1)")
        .stderr_has("--allow-incomplete");
    assert!(files_in(&p.path("backups")).is_empty());

    let run = p.run(&["db", "backup", "--allow-incomplete"]).success();
    let text = gunzip(Path::new(run.stdout.trim()));
    assert!(text.contains("-- complete: NO"), "{text}");
    assert!(text.contains("--   large objects (1)\n"), "{text}");
}

#[tokio::test]
async fn restore_nonempty_target_without_clean_is_refused_with_clean_replaced() {
    let p = Project::new("bkrefuse").await;
    p.db.exec("CREATE TABLE kept (id int); INSERT INTO kept VALUES (1), (2);")
        .await;
    p.run(&["db", "backup", "-o", "b.sql.gz"]).success();
    let target = TestDb::new(&format!("{}_target", p.db.name)).await;
    target
        .exec("CREATE TABLE other (x int); INSERT INTO other VALUES (9);")
        .await;
    let run = |args: &[&str]| {
        p.command(args)
            .env("DATABASE_URL", &target.url)
            .output()
            .unwrap()
    };
    let refused = run(&["db", "restore", "b.sql.gz"]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("not empty") && stderr.contains("public.other"),
        "{stderr}"
    );
    assert!(stderr.contains("--clean"), "{stderr}");
    assert_eq!(target.strings("SELECT x::text FROM other").await, ["9"]);

    let cleaned = run(&["db", "restore", "b.sql.gz", "--clean"]);
    assert!(
        cleaned.status.success(),
        "{}",
        String::from_utf8_lossy(&cleaned.stderr)
    );
    assert_eq!(
        target
            .strings("SELECT to_regclass('public.other')::text")
            .await,
        [""]
    );
    assert_eq!(target.scalar_i64("SELECT count(*) FROM kept").await, 2);
}

#[tokio::test]
async fn restore_corrupted_file_leaves_target_as_it_was() {
    let p = Project::new("bkcorrupt").await;
    p.db.exec(
        "CREATE TABLE big (id int PRIMARY KEY, t text);
         INSERT INTO big SELECT i, md5(i::text) FROM generate_series(1, 50000) i;",
    )
    .await;
    p.run(&["db", "backup", "-o", "b.sql.gz"]).success();
    let bytes = std::fs::read(p.path("b.sql.gz")).unwrap();
    p.write("cut.sql.gz", &bytes[..bytes.len() * 2 / 3]);
    let target = TestDb::new(&format!("{}_target", p.db.name)).await;
    target
        .exec("CREATE TABLE before (x int); INSERT INTO before VALUES (1);")
        .await;

    let out = p
        .command(&["db", "restore", "cut.sql.gz", "--clean"])
        .env("DATABASE_URL", &target.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert_eq!(target.strings("SELECT x::text FROM before").await, ["1"]);
    assert_eq!(
        target
            .strings("SELECT to_regclass('public.big')::text")
            .await,
        [""]
    );
}

#[tokio::test]
async fn restore_failing_statement_and_copy_row_are_reported_with_their_file_lines() {
    let p = Project::new("bklines").await;
    p.write(
        "bad.sql",
        "-- a hand-written script\nCREATE TABLE a (x int);\n\nINSERT INTO a\n  VALUES (1),\n  (nope);\n",
    );
    p.write(
        "badcopy.sql",
        "CREATE TABLE a (x int);\nCOPY public.a (x) FROM stdin;\n1\n2\nthree\n\\.\n",
    );
    p.run(&["db", "restore", "bad.sql"])
        .code(1)
        .stderr_has("line 6: column \"nope\" does not exist")
        .stderr_has("statement (line 4): INSERT INTO a");
    p.run(&["db", "restore", "badcopy.sql"])
        .code(1)
        .stderr_has("line 5: invalid input syntax for type integer: \"three\"");
    assert_eq!(
        p.db.strings("SELECT to_regclass('public.a')::text").await,
        [""]
    );
}

#[tokio::test]
async fn backup_rotation_keeps_newest_of_this_database_and_removes_stale_partials() {
    let p = Project::new("bkrotate").await;
    p.db.exec("CREATE TABLE t (id int);").await;
    let stem = &p.db.name;
    let old = [
        format!("{stem}-20200101T000000Z-manual.sql.gz"),
        format!("{stem}-20200102T000000Z-pre-20200101000000.sql.gz"),
    ];
    let foreign = [
        "otherdb-20200101T000000Z-manual.sql.gz".to_owned(),
        "notes.txt".to_owned(),
        format!("{stem}-20200103T000000Z-manual.sql.gz.partial"),
    ];
    for name in old.iter().chain(&foreign) {
        p.write(format!("backups/{name}"), "x");
    }
    let stale = p.path(format!("backups/{}", foreign[2]));
    let touched = Command::new("touch")
        .args(["-d", "2020-01-03"])
        .arg(&stale)
        .status();
    assert!(touched.unwrap().success());

    let mut ours = Vec::new();
    for _ in 0..3 {
        let run = p
            .command(&["db", "backup"])
            .env("MIGRATED_BACKUP_KEEP", "2")
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let path = String::from_utf8(run.stdout).unwrap();
        ours.push(
            Path::new(path.trim())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
        );
    }
    let mut expected = vec![
        foreign[0].clone(),
        foreign[1].clone(),
        ours[1].clone(),
        ours[2].clone(),
    ];
    expected.sort();
    assert_eq!(files_in(&p.path("backups")), expected);
}

#[tokio::test]
async fn backup_killed_midway_leaves_no_complete_looking_file() {
    let p = Project::new("bkkill").await;
    p.db.exec(
        "CREATE TABLE big AS SELECT i, md5(i::text) || repeat('x', 200) AS t
           FROM generate_series(1, 400000) AS i;",
    )
    .await;
    let mut child = p
        .command(&["db", "backup"])
        .env("MIGRATED_BACKUP_JOBS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the COPY of the big table is running, then kill the backup.
    let deadline = Instant::now() + Duration::from_mins(2);
    loop {
        let copying =
            p.db.scalar_i64(&format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' \
                 AND query LIKE 'COPY %public.big%' AND state = 'active'",
                p.db.name
            ))
            .await;
        if copying > 0 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backup finished before it was killed"
        );
        assert!(
            Instant::now() < deadline,
            "the backup never started copying"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let left = files_in(&p.path("backups"));
    assert!(
        left.iter().all(|n| n.ends_with(".partial")),
        "a killed backup left {left:?}"
    );
    let run = p.run(&["db", "backup"]).success();
    let done = files_in(&p.path("backups"));
    assert_eq!(done.len(), 1, "{done:?}");
    assert!(run.stdout.trim().ends_with(&done[0]));
    assert!(gunzip(&p.path(format!("backups/{}", done[0]))).contains("--   public.big 400000\n"));
}
