//! The SQLAlchemy / SQLModel adapter: `models.command` runs `scripts/sqlalchemy_ddl.py` on
//! the FastAPI example's Python models (examples/fastapi-sqlmodel).
//!
//! Needs a Python with sqlalchemy, sqlmodel, alembic and psycopg2: `TEST_PYTHON`, or
//! `target/py-venv/bin/python` (which `.ci/run` creates:
//! `python3 -m venv target/py-venv && target/py-venv/bin/pip install sqlalchemy sqlmodel alembic psycopg2-binary`).
//! Without one the tests fail and say so; they never skip.

#![allow(clippy::disallowed_methods)] // the test reads TEST_PYTHON

mod common;
mod watch_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Project, TestDb, copy_dir};
use migrated::core::schema::Schema;
use watch_support::{Daemon, eventually};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    let python = std::env::var_os("TEST_PYTHON")
        .map_or_else(|| repo().join("target/py-venv/bin/python"), PathBuf::from);
    let ok = Command::new(&python)
        .args(["-c", "import sqlalchemy, sqlmodel, alembic, psycopg2"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "no Python with sqlalchemy, sqlmodel, alembic and psycopg2 at {}: run \
         `python3 -m venv target/py-venv && target/py-venv/bin/pip install sqlalchemy sqlmodel alembic psycopg2-binary` \
         or set TEST_PYTHON",
        python.display()
    );
    python
}

/// A project holding the example's Python package, with the command pointing at this
/// checkout's adapter and the test's Python.
async fn example(label: &str) -> Project {
    let p = Project::new(label).await;
    copy_dir(
        &repo().join("examples/fastapi-sqlmodel/app"),
        &p.path("app"),
    );
    let config = format!(
        "mode = \"development\"\n[models]\ncommand = [{:?}, {:?}, \"app.models\"]\nwatch = [\"app/**/*.py\"]\ncommand_timeout_secs = 60\n[watch]\ndebounce_ms = 100\n",
        python().display().to_string(),
        repo()
            .join("scripts/sqlalchemy_ddl.py")
            .display()
            .to_string(),
    );
    p.write("config/migrated.toml", config);
    std::fs::create_dir_all(p.path("migrations")).unwrap();
    p
}

async fn schema_of(db: &TestDb) -> Schema {
    let mut conn = db.conn().await;
    migrated::db::introspect::introspect(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn orm_example_models_generate_and_apply() {
    let p = example("orm_generate").await;
    p.run(&["generate", "-m", "users and blogs"]).success();
    p.run(&["up"]).success();
    let tables = p.db.strings("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('users', 'blogs') ORDER BY 1").await;
    assert_eq!(tables, ["blogs", "users"]);
    let gin =
        p.db.strings("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_blogs_tags_gin'")
            .await;
    assert!(gin[0].contains("USING gin (tags)"), "{gin:?}");
    let fk = p.db.strings("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'blogs'::regclass AND contype = 'f'").await;
    assert!(fk[0].contains("ON DELETE CASCADE"), "{fk:?}");
    p.run(&["generate"]).success();
    assert_eq!(
        std::fs::read_dir(p.path("migrations")).unwrap().count(),
        3,
        "no changes writes nothing"
    );
}

#[tokio::test]
async fn orm_python_syntax_error_names_file_and_line_and_touches_nothing() {
    let p = example("orm_syntax").await;
    let user = p.read("app/models/user.py");
    p.write(
        "app/models/user.py",
        user.replacen(
            "class UserDB(SQLModel, table=True):",
            "class UserDB(SQLModel, table=True)",
            1,
        ),
    );
    let run = p.run(&["generate"]).code(1);
    assert!(run.stderr.contains("user.py:"), "{}", run.stderr);
    let line = user
        .lines()
        .position(|l| l.starts_with("class UserDB"))
        .unwrap()
        + 1;
    assert!(
        run.stderr.contains(&format!("user.py:{line}")),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_dir(p.path("migrations")).unwrap().count(), 0);
    assert_eq!(
        p.db.scalar_i64("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            .await,
        0
    );
}

#[tokio::test]
async fn orm_daemon_follows_an_edit_to_a_python_model() {
    let p = example("orm_watch").await;
    let d = Daemon::spawn(p.command(&["watch"]));
    let columns = || async {
        p.db.strings("SELECT column_name::text FROM information_schema.columns WHERE table_name = 'users' ORDER BY ordinal_position").await
    };
    eventually("users table", &d, || async { columns().await.len() == 20 }).await;
    let user = p.read("app/models/user.py");
    let edited = user.replacen(
        "    country: Optional[str]",
        "    nickname: Optional[str] = Field(default=None, max_length=40)\n    country: Optional[str]",
        1,
    );
    assert_ne!(edited, user);
    p.write("app/models/user.py", edited);
    eventually("nickname column", &d, || async {
        columns().await.contains(&"nickname".to_owned())
    })
    .await;
}

#[tokio::test]
async fn orm_migrated_and_alembic_autogenerate_build_the_same_database() {
    let p = example("orm_alembic").await;
    p.run(&["generate", "-m", "init"]).success();
    p.run(&["up"]).success();

    let alembic_db = TestDb::new("orm_alembic_ref").await;
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &repo().join("examples/fastapi-sqlmodel/app"),
        &dir.path().join("app"),
    );
    let venv_bin = python().parent().unwrap().to_path_buf();
    let alembic = |args: &[&str]| {
        let out = Command::new(venv_bin.join("alembic"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "alembic {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    alembic(&["init", "alembic"]);
    // SQLModel's string type renders as `sqlmodel.sql.sqltypes.AutoString` in autogenerated
    // scripts: the template must import sqlmodel (the usual SQLModel + Alembic setup).
    let mako = dir.path().join("alembic/script.py.mako");
    let template = std::fs::read_to_string(&mako).unwrap().replacen(
        "import sqlalchemy as sa",
        "import sqlalchemy as sa\nimport sqlmodel",
        1,
    );
    std::fs::write(&mako, template).unwrap();
    let url = alembic_db
        .url
        .replacen("postgres://", "postgresql+psycopg2://", 1);
    let ini = std::fs::read_to_string(dir.path().join("alembic.ini")).unwrap();
    let ini: String = ini
        .lines()
        .map(|l| {
            if l.starts_with("sqlalchemy.url") {
                format!("sqlalchemy.url = {}", url.replace('%', "%%"))
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.path().join("alembic.ini"), ini).unwrap();
    let env_py = std::fs::read_to_string(dir.path().join("alembic/env.py")).unwrap().replacen(
        "target_metadata = None",
        "import sys; sys.path.insert(0, '.')\nimport app.models\nfrom sqlmodel import SQLModel\ntarget_metadata = SQLModel.metadata",
        1,
    );
    std::fs::write(dir.path().join("alembic/env.py"), env_py).unwrap();
    alembic(&["revision", "--autogenerate", "-m", "init"]);
    alembic(&["upgrade", "head"]);
    alembic_db.exec("DROP TABLE alembic_version").await;

    let ours = schema_of(&p.db).await;
    let theirs = schema_of(&alembic_db).await;
    assert!(!ours.tables.is_empty());
    assert_eq!(
        ours, theirs,
        "migrated and Alembic built different databases"
    );
}
