//! The harness itself: a database per test, the binary runs, errors have the right codes.

mod common;

use common::{Project, TestDb};

#[tokio::test]
async fn harness_gives_each_test_its_own_database() {
    let a = TestDb::new("harness_a").await;
    let b = TestDb::new("harness_b").await;
    assert_ne!(a.name, b.name);
    a.exec("CREATE TABLE only_in_a (id int)").await;
    assert_eq!(
        b.scalar_i64("SELECT count(*) FROM pg_class WHERE relname = 'only_in_a'")
            .await,
        0
    );
}

#[tokio::test]
async fn cli_help_lists_every_command() {
    let p = Project::new("help").await;
    let run = p.run(&["--help"]).success();
    for cmd in [
        "init",
        "watch",
        "generate",
        "commit",
        "diff",
        "up",
        "down",
        "status",
        "history",
        "current",
        "stamp",
        "check",
        "lint",
        "validate",
        "repair",
        "db",
        "--once",
        "--config",
        "--database-url",
        "--log-format",
    ] {
        assert!(
            run.stdout.contains(cmd),
            "--help lacks {cmd}:\n{}",
            run.stdout
        );
    }
    let run = p.run(&["db", "--help"]).success();
    for cmd in ["backup", "restore", "reset"] {
        assert!(run.stdout.contains(cmd), "db --help lacks {cmd}");
    }
}

#[tokio::test]
async fn config_unknown_key_exits_2_naming_it() {
    let p = Project::new("cfgkey").await;
    p.write("config/migrated.toml", "[watch]\ndebounce = 5\n");
    p.run(&["status"])
        .code(2)
        .stderr_has("debounce")
        .stderr_has("config/migrated.toml");
}

#[tokio::test]
async fn password_never_appears_in_help_or_errors() {
    let p = Project::new("secret").await;
    let url = "postgres://alice:hunter2secret@127.0.0.1:1/nodb?connect_timeout=1";
    let run = p
        .command(&["--help"])
        .env("DATABASE_URL", url)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&run.stdout).contains("hunter2secret"));
    let run = p
        .command(&["status"])
        .env("DATABASE_URL", url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!stderr.contains("hunter2secret"), "{stderr}");
    assert_ne!(run.status.code(), Some(0));
}
