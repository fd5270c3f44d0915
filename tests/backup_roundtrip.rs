//! Round trip: a database with many object kinds and awkward data, backed up by
//! `migrated db backup`, restored both by `gunzip -c | psql -v ON_ERROR_STOP=1` (no tool of
//! ours) and by `migrated db restore`, gives the same schema, rows and sequence values.

mod common;

use std::process::Command;

use common::{Project, TestDb, psql_restore};
use sqlx::Connection as _;

const SCHEMA_AND_DATA: &str = r#"
CREATE SCHEMA app;
CREATE SCHEMA "Mixed Case";
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN app.posint AS integer CHECK (VALUE > 0);
CREATE TYPE app.pair AS (a integer, b text);
CREATE SEQUENCE app.standalone START 100;
SELECT nextval('app.standalone'), nextval('app.standalone');
CREATE SEQUENCE app.unused;

CREATE TABLE app.people (
    id serial PRIMARY KEY,
    name text NOT NULL,
    mood app.mood,
    score app.posint,
    created timestamptz NOT NULL DEFAULT '2026-01-01 00:00:00+00'
);
COMMENT ON TABLE app.people IS 'people; with ''quotes'' and \backslash';
COMMENT ON COLUMN app.people.name IS 'the name';

CREATE TABLE app.awkward (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id integer REFERENCES app.people (id) ON DELETE CASCADE,
    t text,
    b bytea,
    arr text[],
    iarr integer[],
    j jsonb,
    n numeric(40, 20),
    f float8,
    r real,
    ts timestamptz,
    d date,
    iv interval,
    pr app.pair,
    big text,
    twice bigint GENERATED ALWAYS AS (id * 2) STORED,
    CONSTRAINT t_not_x CHECK (t IS DISTINCT FROM 'x')
);
CREATE INDEX awkward_t_idx ON app.awkward (t);
CREATE INDEX awkward_lower_idx ON app.awkward (lower(t)) WHERE t IS NOT NULL;
CREATE INDEX awkward_j_idx ON app.awkward USING gin (j);

CREATE TABLE app.events (
    id integer NOT NULL,
    at date NOT NULL,
    payload text,
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE TABLE app.events_2025 PARTITION OF app.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE app.events_2026 PARTITION OF app.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');

CREATE TABLE "Mixed Case"."Odd;Name" ("Col ""quoted""" text, "select" integer UNIQUE);
CREATE TABLE app.empty ();
CREATE UNLOGGED TABLE app.scratch (k text PRIMARY KEY, v integer);

CREATE FUNCTION app.fill_t() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.t := coalesce(NEW.t, 'filled; by trigger');
    RETURN NEW;
END
$$;
CREATE TRIGGER awkward_fill BEFORE INSERT ON app.awkward FOR EACH ROW EXECUTE FUNCTION app.fill_t();
CREATE VIEW app.people_moods AS SELECT name, mood FROM app.people WHERE mood IS NOT NULL;
CREATE MATERIALIZED VIEW app.people_count AS SELECT count(*) AS n FROM app.people;

INSERT INTO app.people (name, mood, score) VALUES
    ('alice', 'sad', 1), ('bob', NULL, 2), (E'tab\there', 'happy', 3), ('gone', 'ok', 4);
DELETE FROM app.people WHERE name = 'gone';

INSERT INTO app.awkward (person_id, t, b, arr, iarr, j, n, f, r, ts, d, iv, pr, big) VALUES
    (1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (2, '', '\x00ff5c0a0d09'::bytea, ARRAY['a,b', 'c"d', NULL, '', E'back\\slash', '{x}'], '{1,2,3}',
     '{"k": "v\n", "u": "é☃🎉", "n": null, "nested": {"a": [1, 2.5, "\\"]}}',
     12345678901234567890.12345678901234567890, 0.1::float8 + 0.2::float8, 3.4028235e38,
     'infinity', 'infinity', '1 year 2 mons 3 days 04:05:06.789', ROW(1, 'a,b)'), NULL),
    (3, E'line1\nline2\r\n\\N tab\t back\\slash \\. end', NULL, '{}', '{}', '[]',
     -0.00000000000000000001, 'NaN', '-Infinity', '-infinity', '-infinity', '-1 day',
     ROW(NULL, NULL), repeat('0123456789abcdef', 65536)),
    (NULL, E'\\.', '\x'::bytea, NULL, NULL, '"just a string"', 0, -0.0, 1.5e-38,
     '2026-11-21 10:00:00.123456+05:30', '0044-03-15 BC', '0', NULL, 'ünïcödé 日本語 🎉'),
    (1, 'single '' quote and "double"', NULL, NULL, NULL, NULL, NULL, 1e308, NULL, NULL,
     NULL, NULL, NULL, E'\\\\N');
DELETE FROM app.awkward WHERE t = '';

INSERT INTO app.events
SELECT i, DATE '2025-06-01' + (i % 400), 'payload ' || i FROM generate_series(1, 2000) AS i;
INSERT INTO "Mixed Case"."Odd;Name" VALUES ('a;b', 1), (NULL, 2);
INSERT INTO app.scratch VALUES ('k', 1);
REFRESH MATERIALIZED VIEW app.people_count;
"#;

/// Every user table of the database with a checksum of its rows.
const ROW_CHECKSUMS: &str = "
SELECT c.oid::regclass::text, n.nspname, c.relname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_toast%'
 ORDER BY 1";

async fn row_checksums(url: &str) -> Vec<(String, String)> {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let tables: Vec<(String, String, String)> = sqlx::query_as(ROW_CHECKSUMS)
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let mut out = Vec::new();
    for (name, schema, table) in tables {
        let quoted = format!(
            "\"{}\".\"{}\"",
            schema.replace('"', "\"\""),
            table.replace('"', "\"\"")
        );
        let sql = format!(
            "SELECT count(*)::text || ' ' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM {quoted} t"
        );
        let sum: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        out.push((name, sum));
    }
    out
}

async fn sequence_values(url: &str) -> Vec<(String, Option<i64>)> {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_as(
        "SELECT schemaname || '.' || sequencename, last_value FROM pg_sequences ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

/// The schema as the engine models it.
async fn schema_of(url: &str) -> migrated::core::schema::Schema {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    migrated::db::introspect::introspect(&mut conn)
        .await
        .unwrap()
}

/// `pg_dump --schema-only`, without the lines that differ between databases.
fn pg_dump_schema(url: &str) -> String {
    let out = Command::new("pg_dump")
        .args(["--schema-only", "--no-owner", "--no-privileges", "-d", url])
        .output()
        .expect("run pg_dump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn assert_same_database(source: &str, copy: &str, how: &str) {
    assert_eq!(
        schema_of(source).await,
        schema_of(copy).await,
        "schema after {how}"
    );
    assert_eq!(
        pg_dump_schema(source),
        pg_dump_schema(copy),
        "pg_dump -s after {how}"
    );
    assert_eq!(
        row_checksums(source).await,
        row_checksums(copy).await,
        "rows after {how}"
    );
    assert_eq!(
        sequence_values(source).await,
        sequence_values(copy).await,
        "sequences after {how}"
    );
}

#[tokio::test]
async fn backup_awkward_database_restores_identically_with_psql_and_restore() {
    let p = Project::new("bkround").await;
    p.db.exec(SCHEMA_AND_DATA).await;
    p.run(&["db", "backup", "-o", "out/full.sql.gz"]).success();
    let file = p.path("out/full.sql.gz");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    let by_psql = TestDb::new(&format!("{}_psql", p.db.name)).await;
    psql_restore(&file, &by_psql.url);
    assert_same_database(&p.db.url, &by_psql.url, "gunzip | psql").await;

    // Parallel tables into the empty target (the default), then one transaction (jobs = 1).
    for jobs in ["2", "1"] {
        let by_tool = TestDb::new(&format!("{}_tool{jobs}", p.db.name)).await;
        let out = p
            .command(&["db", "restore", "out/full.sql.gz"])
            .env("DATABASE_URL", &by_tool.url)
            .env("MIGRATED_BACKUP_JOBS", jobs)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_same_database(&p.db.url, &by_tool.url, &format!("db restore, jobs {jobs}")).await;
    }
}

#[tokio::test]
async fn backup_header_lists_versions_and_row_counts() {
    let p = Project::new("bkheader").await;
    p.db.exec("CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 7);")
        .await;
    let run = p.run(&["db", "backup"]).success();
    let path = std::path::PathBuf::from(run.stdout.trim());
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with(&format!("{}-", p.db.name)), "{name}");
    assert!(name.ends_with("-manual.sql.gz"), "{name}");
    assert_eq!(path.parent().unwrap(), p.path("backups"));
    let out = Command::new("gunzip")
        .arg("-c")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("-- tool: migrated "), "{text}");
    assert!(text.contains("-- server: PostgreSQL 1"), "{text}");
    assert!(
        text.contains(&format!("-- database: {}\n", p.db.name)),
        "{text}"
    );
    assert!(text.contains("-- complete: yes\n"), "{text}");
    assert!(text.contains("--   public.t 7\n"), "{text}");
}
