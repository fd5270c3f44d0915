//! Helpers shared by the engine's integration tests: introspect a test database, load a
//! dump into another, and explain where two schemas differ.

#![allow(dead_code, unreachable_pub, clippy::many_single_char_names)]

use migrated::core::ddl::dump_ddl;
use migrated::core::schema::Schema;
use migrated::db::introspect::introspect;

use crate::common::TestDb;

pub async fn introspect_db(db: &TestDb) -> Schema {
    let mut conn = db.conn().await;
    introspect(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("introspecting {}: {e:#}", db.name))
}

/// Runs `dump_ddl(schema)` (pre-data then post-data) statement by statement on `db`, on one
/// connection, failing with the statement that broke.
pub async fn load_dump(db: &TestDb, schema: &Schema) {
    let dump = dump_ddl(schema);
    let mut conn = db.conn().await;
    for statement in dump.pre_data.iter().chain(&dump.post_data) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.clone()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("dump statement failed: {e}\n{statement}"));
    }
}

/// Fails with the JSON paths where `left` and `right` differ (the whole `assert_eq!` output
/// of two large schemas is unreadable).
#[track_caller]
pub fn assert_same_schema(left: &Schema, right: &Schema, what: &str) {
    if left == right {
        return;
    }
    let l = serde_json::to_value(left).unwrap();
    let r = serde_json::to_value(right).unwrap();
    let mut diffs = Vec::new();
    json_diff("", &l, &r, &mut diffs);
    let shown: Vec<&String> = diffs.iter().take(40).collect();
    panic!(
        "{what}: schemas differ in {} places (first 40):\n{}",
        diffs.len(),
        shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn json_diff(path: &str, l: &serde_json::Value, r: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match (l, r) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => json_diff(&format!("{path}/{k}"), v, w, out),
                    None => out.push(format!("{path}/{k}: only in the original")),
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("{path}/{k}: only in the copy"));
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                json_diff(&format!("{path}/{i}"), v, w, out);
            }
        }
        _ if l == r => {}
        _ => out.push(format!("{path}: {l} != {r}")),
    }
}
