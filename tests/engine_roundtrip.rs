//! Round trip: a database holding every modelled object kind, introspected, rendered with
//! `dump_ddl` into a fresh database and introspected again, gives the same `Schema`.

mod common;
mod engine_common;

use common::TestDb;
use engine_common::{assert_same_schema, introspect_db, load_dump};

const RICH: &str = include_str!("fixtures/engine/rich.sql");
const UNSUPPORTED: &str = include_str!("fixtures/engine/unsupported.sql");

#[tokio::test]
async fn dump_ddl_of_rich_schema_roundtrips_to_equal_schema() {
    let original = TestDb::new("engrt_orig").await;
    original.exec(RICH).await;
    let schema = introspect_db(&original).await;
    assert!(schema.unsupported.is_empty(), "{:?}", schema.unsupported);

    let copy = TestDb::new("engrt_copy").await;
    load_dump(&copy, &schema).await;
    let again = introspect_db(&copy).await;
    assert_same_schema(&schema, &again, "rich.sql round trip");
}

#[tokio::test]
async fn dump_ddl_recreates_rules_statistics_and_aggregates() {
    let original = TestDb::new("engrt_unsup").await;
    original.exec(RICH).await;
    original.exec(UNSUPPORTED).await;
    let schema = introspect_db(&original).await;
    let copy = TestDb::new("engrt_unsup_copy").await;
    load_dump(&copy, &schema).await;
    let again = introspect_db(&copy).await;
    let recreated: Vec<_> = schema
        .unsupported
        .iter()
        .filter(|u| u.ddl.is_some())
        .collect();
    let kinds: Vec<&str> = recreated.iter().map(|u| u.kind.as_str()).collect();
    assert_eq!(kinds, ["aggregate", "collation", "rule", "statistics"]);
    for object in recreated {
        assert!(
            again.unsupported.contains(object),
            "{object:?} not recreated"
        );
    }
}

#[tokio::test]
async fn dump_ddl_puts_keys_and_indexes_after_data() {
    let db = TestDb::new("engrt_split").await;
    db.exec(RICH).await;
    let schema = introspect_db(&db).await;
    let dump = migrated::core::ddl::dump_ddl(&schema);
    let pre = dump.pre_data.join("\n");
    let post = dump.post_data.join("\n");
    assert!(pre.contains("CREATE TABLE app.users"));
    assert!(!pre.contains("PRIMARY KEY"), "keys belong to post-data");
    assert!(post.contains("ADD CONSTRAINT users_pkey PRIMARY KEY (id)"));
    assert!(post.contains("CREATE INDEX users_data_gin"));
    assert!(post.contains("CREATE TRIGGER users_touch"));
    assert!(post.contains("CREATE POLICY users_self"));
    // Types before the tables that use them, views after the tables they read.
    let position = |needle: &str| {
        pre.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing"))
    };
    assert!(position("CREATE TYPE app.mood") < position("CREATE TABLE app.users"));
    assert!(position("CREATE TABLE app.users") < position("CREATE VIEW app.active_users"));
    assert!(position("CREATE VIEW app.active_users") < position("CREATE VIEW app.active_emails"));
    // A view grouping by a primary key waits for it, and so does a view reading that view.
    let late = |needle: &str| {
        post.find(needle)
            .unwrap_or_else(|| panic!("{needle} not in post-data"))
    };
    assert!(late("ADD CONSTRAINT users_pkey") < late("CREATE VIEW app.user_orders"));
    assert!(late("CREATE VIEW app.user_orders") < late("CREATE VIEW app.busy_users"));
}
