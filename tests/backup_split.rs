//! Large tables dumped in pieces (ctid ranges read in the one exported snapshot): the file is
//! still plain SQL that `gunzip -c | psql` restores, `db restore` loads the pieces and builds
//! the indexes on several connections, and no row is lost or read twice, even while the
//! table is being written to.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use common::{Project, TestDb, gunzip, psql_restore};

/// A table of about 6 MB spread over many pages, with holes (deleted rows) and moved rows
/// (updated ones), an inheritance child whose rows must not be read with the parent's, a
/// generated column, keys, indexes and a foreign key for the post-data.
const DATA: &str = "
CREATE TABLE accounts (
    id integer PRIMARY KEY,
    owner text NOT NULL,
    balance bigint NOT NULL,
    note text,
    doubled bigint GENERATED ALWAYS AS (balance * 2) STORED
);
INSERT INTO accounts (id, owner, balance, note)
SELECT i, 'owner ' || (i % 977), 1000, repeat(md5(i::text), 1 + i % 3)
  FROM generate_series(1, 50000) AS i;
DELETE FROM accounts WHERE id % 7 = 0;
UPDATE accounts SET note = 'moved ' || id WHERE id % 11 = 0;
CREATE INDEX accounts_owner_idx ON accounts (owner);
CREATE UNIQUE INDEX accounts_note_idx ON accounts (note, id);
COMMENT ON INDEX accounts_owner_idx IS 'by owner';
CREATE TABLE transfers (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account integer NOT NULL REFERENCES accounts (id),
    amount bigint
);
INSERT INTO transfers (account, amount)
SELECT id, id % 100 FROM accounts WHERE id % 3 = 0;
CREATE INDEX transfers_account_idx ON transfers (account);
CREATE TABLE accounts_archive (archived date) INHERITS (accounts);
INSERT INTO accounts_archive (id, owner, balance, note, archived)
VALUES (-1, 'old', 5, 'archived', '2026-01-01');
";

/// Per table of `public`: its name, row count and a checksum of its own rows.
async fn checksums(db: &TestDb) -> Vec<String> {
    let mut out = Vec::new();
    for table in db
        .strings("SELECT relname::text FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY 1")
        .await
    {
        let sql = format!(
            "SELECT '{table} ' || count(*) || ' ' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM ONLY public.{table} t"
        );
        out.extend(db.strings(&sql).await);
    }
    out
}

fn restore(p: &Project, file: &str, target: &TestDb, jobs: &str) -> std::process::Output {
    p.command(&["db", "restore", file])
        .env("DATABASE_URL", &target.url)
        .env("MIGRATED_BACKUP_JOBS", jobs)
        .output()
        .unwrap()
}

/// The indexes and constraints of `public`, by name and definition.
async fn keys(db: &TestDb) -> Vec<String> {
    db.strings(
        "SELECT indexrelid::regclass::text || ' ' || pg_get_indexdef(indexrelid) FROM pg_index
          WHERE indrelid::regclass::text NOT LIKE 'pg\\_%' ORDER BY 1",
    )
    .await
    .into_iter()
    .chain(
        db.strings(
            "SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
              WHERE connamespace = 'public'::regnamespace ORDER BY 1",
        )
        .await,
    )
    .collect()
}

#[tokio::test]
async fn backup_split_table_restores_identically_with_psql_and_restore() {
    let p = Project::new("bksplit").await;
    p.db.exec(DATA).await;
    p.command(&["db", "backup", "-o", "split.sql.gz"])
        .env("MIGRATED_BACKUP_SPLIT_MB", "1")
        .status()
        .unwrap()
        .success()
        .then_some(())
        .expect("backup failed");
    let text = gunzip(&p.path("split.sql.gz"));
    let parts = text.matches("-- Data for public.accounts (part ").count();
    assert!(parts >= 4, "accounts was cut into {parts} pieces");
    assert_eq!(
        text.matches("COPY public.accounts (id, owner, balance, note) FROM stdin;")
            .count(),
        parts
    );
    // Laid out for a restore on backup.jobs (2) connections: the other tables' data comes
    // before the second piece of accounts, so that both connections have work at once.
    let second = text.find("-- Data for public.accounts (part 2 ").unwrap();
    assert!(text[..second].contains("-- Data for public.transfers"));
    let rows = p.db.scalar_i64("SELECT count(*) FROM ONLY accounts").await;
    assert!(
        text.contains(&format!("--   public.accounts {rows}\n")),
        "{rows}"
    );

    let source = checksums(&p.db).await;
    let by_psql = TestDb::new(&format!("{}_psql", p.db.name)).await;
    psql_restore(&p.path("split.sql.gz"), &by_psql.url);
    assert_eq!(checksums(&by_psql).await, source, "after psql");
    assert_eq!(keys(&by_psql).await, keys(&p.db).await, "keys after psql");
    for jobs in ["3", "1"] {
        let target = TestDb::new(&format!("{}_j{jobs}", p.db.name)).await;
        let out = restore(&p, "split.sql.gz", &target, jobs);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(checksums(&target).await, source, "jobs {jobs}");
        assert_eq!(keys(&target).await, keys(&p.db).await, "keys, jobs {jobs}");
        assert_eq!(
            target
                .strings("SELECT obj_description('accounts_owner_idx'::regclass)")
                .await,
            ["by owner"]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_split_while_rows_move_reads_each_row_once_in_one_snapshot() {
    let p = Project::new("bksplitlive").await;
    p.db.exec(DATA).await;
    // Transfers between accounts keep the total; updates move rows to other pages.
    let total =
        p.db.scalar_i64("SELECT sum(balance)::int8 FROM ONLY accounts")
            .await;
    let count = p.db.scalar_i64("SELECT count(*) FROM ONLY accounts").await;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU32::new(0));
    let writer = {
        let (stop, done, url) = (Arc::clone(&stop), Arc::clone(&done), p.db.url.clone());
        tokio::spawn(async move {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            let mut n = 0_i32;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let (from, to) = (1 + (n * 7919) % 49_000, 1 + (n * 104_729) % 49_000);
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "BEGIN;
                     UPDATE accounts SET balance = balance - 5 WHERE id BETWEEN {from} AND {from} + 40;
                     UPDATE accounts SET balance = balance + 5 * (SELECT count(*) FROM ONLY accounts
                            WHERE id BETWEEN {from} AND {from} + 40) WHERE id = (SELECT min(id)
                            FROM ONLY accounts WHERE id >= {to});
                     COMMIT;"
                )))
                .execute(&mut conn)
                .await
                .unwrap();
                done.store(n.cast_unsigned(), Ordering::Relaxed);
            }
        })
    };
    while done.load(Ordering::Relaxed) < 10 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let before = done.load(Ordering::Relaxed);
    let mut backups = Vec::new();
    for i in 0..3 {
        let file = format!("live{i}.sql.gz");
        let status = p
            .command(&["db", "backup", "-o", &file])
            .env("MIGRATED_BACKUP_SPLIT_MB", "1")
            .env("MIGRATED_BACKUP_JOBS", "3")
            .status()
            .unwrap();
        assert!(status.success());
        backups.push(file);
    }
    let during = done.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    assert!(
        during > 10,
        "only {during} transfers ran during the backups"
    );
    for file in &backups {
        let target = TestDb::new(&format!("{}_t", p.db.name)).await;
        let out = restore(&p, file, &target, "2");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = target
            .scalar_i64(
                "SELECT (sum(balance) * 1000000 + count(*) * 1000 + count(*) - count(DISTINCT id))::int8 FROM ONLY accounts",
            )
            .await;
        assert_eq!(got, total * 1_000_000 + count * 1000, "{file}");
    }
}

#[tokio::test]
async fn backup_split_zero_keeps_tables_whole() {
    let p = Project::new("bknosplit").await;
    p.db.exec(DATA).await;
    p.command(&["db", "backup", "-o", "whole.sql.gz"])
        .env("MIGRATED_BACKUP_SPLIT_MB", "0")
        .status()
        .unwrap()
        .success()
        .then_some(())
        .expect("backup failed");
    let text = gunzip(&p.path("whole.sql.gz"));
    assert!(!text.contains("(part "), "a table was split");
    assert_eq!(text.matches("COPY public.accounts ").count(), 1);
    let target = TestDb::new(&format!("{}_t", p.db.name)).await;
    let out = restore(&p, "whole.sql.gz", &target, "2");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(checksums(&target).await, checksums(&p.db).await);
}

/// A project holding `DATA` and the text of its backup with 1 MB pieces.
async fn split_backup(label: &str) -> (Project, String) {
    let p = Project::new(label).await;
    p.db.exec(DATA).await;
    let status = p
        .command(&["db", "backup", "-o", "ok.sql.gz"])
        .env("MIGRATED_BACKUP_SPLIT_MB", "1")
        .status()
        .unwrap();
    assert!(status.success(), "backup failed");
    let text = gunzip(&p.path("ok.sql.gz"));
    (p, text)
}

/// Where the data of the last piece in a backup's text starts.
fn last_piece_data(text: &str) -> usize {
    let last_part = text.rfind("(part ").unwrap();
    text[last_part..].find("FROM stdin;\n").unwrap() + last_part + 12
}

/// Restores `text` (gzipped as `name`) into an empty database with 2 jobs: it must fail,
/// naming one of `needles`, and leave the target empty again.
async fn assert_restore_fails_and_empties(p: &Project, name: &str, text: &str, needles: &[&str]) {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
    p.write(name, gz.finish().unwrap());
    let target = TestDb::new(&format!("{}_t", p.db.name)).await;
    let out = restore(p, name, &target, "2");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(needles.iter().any(|n| stderr.contains(n)), "{stderr}");
    assert!(stderr.contains("emptied again"), "{stderr}");
    assert_eq!(
        target
            .scalar_i64("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace")
            .await,
        0
    );
}

#[tokio::test]
async fn restore_split_failing_index_build_empties_the_target_again() {
    let (p, text) = split_backup("bksplitfail").await;
    // A row of the first piece repeated in the last: every COPY succeeds, the post-data's
    // unique index builds fail; which of the two on accounts fails first depends on which
    // builder gets there first.
    let first = text
        .find("COPY public.accounts (id, owner, balance, note) FROM stdin;\n")
        .unwrap();
    let data_start = text[first..].find('\n').unwrap() + first + 1;
    let dup_line = text[data_start..].lines().next().unwrap().to_owned();
    let last_copy = last_piece_data(&text);
    let broken = format!("{}{dup_line}\n{}", &text[..last_copy], &text[last_copy..]);
    let needles = ["\"accounts_pkey\"", "\"accounts_note_idx\""];
    assert_restore_fails_and_empties(&p, "dup.sql.gz", &broken, &needles).await;
}

#[tokio::test]
async fn restore_split_failing_copy_piece_stops_waiting_builds_and_empties_the_target() {
    let (p, text) = split_backup("bksplitcopy").await;
    // The first row of the last piece of accounts gets an id that is not a number: that COPY
    // fails while the builds of the tables loaded before it are queued or running.
    let last_copy = last_piece_data(&text);
    let tab = text[last_copy..].find('\t').unwrap() + last_copy;
    let broken = format!("{}not-a-number{}", &text[..last_copy], &text[tab..]);
    assert_restore_fails_and_empties(&p, "bad.sql.gz", &broken, &["not-a-number"]).await;
}
