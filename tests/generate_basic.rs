//! `migrated generate`: verified pairs, no changes, syntax errors before any database.

mod common;

use common::Project;

fn migration_files(p: &Project) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(p.path("migrations"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.retain(|n| {
        std::path::Path::new(n)
            .extension()
            .is_some_and(|e| e == "sql")
    });
    names.sort();
    names
}

#[tokio::test]
async fn generate_new_table_writes_verified_pair_with_header() {
    let p = Project::new("gennew").await;
    p.write(
        "models/users.sql",
        "CREATE TABLE users (\n  id bigint PRIMARY KEY,\n  email text NOT NULL\n);\n",
    );
    let run = p.run(&["generate", "-m", "create users"]).success();
    let files = migration_files(&p);
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files[0].ends_with("_create_users.down.sql") && files[1].ends_with("_create_users.up.sql")
    );
    assert!(
        run.stdout.contains(&files[1]) && run.stdout.contains(&files[0]),
        "{}",
        run.stdout
    );
    let up = p.read(format!("migrations/{}", files[1]));
    assert!(up.starts_with("-- create users (up)"), "{up}");
    assert!(up.contains("-- changes:\n"), "{up}");
    assert!(up.contains("CREATE TABLE"), "{up}");
    let down = p.read(format!("migrations/{}", files[0]));
    assert!(down.contains("DROP TABLE"), "{down}");
    // The head now matches the models: nothing more to generate.
    p.run(&["generate"]).success().stdout_has("no changes");
    assert_eq!(migration_files(&p).len(), 2);
}

#[tokio::test]
async fn generate_no_models_changes_writes_nothing() {
    let p = Project::new("gennone").await;
    p.write("models/.keep", "");
    p.run(&["generate"]).success().stdout_has("no changes");
    assert!(migration_files(&p).is_empty());
}

#[tokio::test]
async fn generate_one_column_change_writes_alter_with_hazard() {
    let p = Project::new("gencol").await;
    p.write(
        "models/users.sql",
        "CREATE TABLE users (id bigint PRIMARY KEY, nick text);\n",
    );
    p.run(&["generate", "-m", "users"]).success();
    p.write(
        "models/users.sql",
        "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
    );
    let run = p
        .run(&["generate", "-m", "email instead of nick"])
        .success();
    let files = migration_files(&p);
    assert_eq!(files.len(), 4, "{files:?}\n{}", run.stderr);
    let up = p.read(format!("migrations/{}", files[3]));
    assert!(up.contains("data-loss"), "{up}");
    assert!(up.contains("ADD COLUMN email"), "{up}");
}

/// The head shadow caches its schema by the exact migrations it holds: a committed
/// migration edited after the fact changes the head state the next diff starts from.
#[tokio::test]
async fn generate_after_a_committed_migration_is_edited_diffs_from_the_edited_head() {
    let p = Project::new("gencache").await;
    p.write("models/t.sql", "CREATE TABLE t (id bigint PRIMARY KEY);\n");
    p.run(&["generate", "-m", "t"]).success();
    p.write(
        "models/t.sql",
        "CREATE TABLE t (id bigint PRIMARY KEY, name text);\n",
    );
    p.run(&["generate", "-m", "name"]).success();
    // Unchanged models, warm cache: nothing to do.
    let again = p.run(&["generate", "-m", "nothing"]).success();
    assert!(again.stdout.contains("no changes"), "{}", again.stdout);
    assert_eq!(migration_files(&p).len(), 4);

    let name_up = format!("migrations/{}", migration_files(&p)[3]);
    let edited = p.read(&name_up).replace("name text", "name varchar(10)");
    assert!(edited.contains("varchar(10)"), "{edited}");
    p.write(&name_up, edited);
    let run = p.run(&["generate", "-m", "back to text"]).success();
    let files = migration_files(&p);
    assert_eq!(files.len(), 6, "{files:?}\n{}{}", run.stdout, run.stderr);
    let up = p.read(format!("migrations/{}", files[5]));
    assert!(up.contains("TYPE text"), "{up}");
}

#[tokio::test]
async fn generate_syntax_error_reports_position_and_touches_no_database() {
    let p = Project::new("gensyntax").await;
    p.write(
        "models/users.sql",
        "CREATE TABLE users (\n  id bigint PRIMARY KEY,\n  email txt NOT NULL,\n  CONSTRAINT\n);\n",
    );
    p.run(&["generate"])
        .code(1)
        .stderr_has("models/users.sql:5:1: syntax error at or near \")\"");
    assert!(migration_files(&p).is_empty());
    let shadows =
        p.db.strings(&format!(
            "SELECT datname::text FROM pg_database WHERE datname LIKE '{}\\_%'",
            p.db.name
        ))
        .await;
    assert!(shadows.is_empty(), "{shadows:?}");
}

#[tokio::test]
async fn generate_unknown_type_names_model_file_and_line() {
    let p = Project::new("gentype").await;
    p.write(
        "models/users.sql",
        "CREATE TABLE users (\n  id bigint PRIMARY KEY,\n  mood feeling\n);\n",
    );
    p.run(&["generate"])
        .code(1)
        .stderr_has("models/users.sql:3: type \"feeling\" does not exist");
    assert!(migration_files(&p).is_empty());
}

#[tokio::test]
async fn generate_empty_writes_hand_written_pair() {
    let p = Project::new("genempty").await;
    let run = p
        .run(&["generate", "--empty", "-m", "backfill emails"])
        .success();
    let files = migration_files(&p);
    assert_eq!(files.len(), 2, "{}", run.stderr);
    assert!(files[1].ends_with("_backfill_emails.up.sql"));
}

#[tokio::test]
async fn generate_pair_is_applied_by_up_and_reverted_by_down() {
    let p = Project::new("genupdown").await;
    p.write(
        "models/shop.sql",
        "CREATE TYPE status AS ENUM ('new', 'paid');\n\
         CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer int NOT NULL REFERENCES customers (id), state status NOT NULL DEFAULT 'new');\n\
         CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL UNIQUE);\n\
         CREATE INDEX orders_customer ON orders (customer);\n\
         CREATE VIEW paid_orders AS SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer WHERE o.state = 'paid';\n",
    );
    p.run(&["generate", "-m", "shop"]).success();
    assert!(p.read("migrations/migrated.sum").contains("_shop.up.sql"));
    p.run(&["up"]).success();
    let tables = p
        .db
        .strings("SELECT relname::text FROM pg_class WHERE relname IN ('orders', 'customers', 'paid_orders', 'orders_customer') ORDER BY 1")
        .await;
    assert_eq!(
        tables,
        ["customers", "orders", "orders_customer", "paid_orders"]
    );
    p.run(&["down"]).success();
    let left = p
        .db
        .strings("SELECT relname::text FROM pg_class WHERE relname IN ('orders', 'customers', 'paid_orders')")
        .await;
    assert!(left.is_empty(), "{left:?}");
    let types =
        p.db.strings("SELECT typname::text FROM pg_type WHERE typname = 'status'")
            .await;
    assert!(types.is_empty(), "{types:?}");
    // Up again: the pair round-trips.
    p.run(&["up"]).success();
    p.run(&["generate"]).success().stdout_has("no changes");
}

#[tokio::test]
async fn generate_unsupported_object_refuses_naming_it() {
    let p = Project::new("genunsup").await;
    p.write(
        "models/stats.sql",
        "CREATE TABLE users (id int PRIMARY KEY, email text, name text);\n\
         CREATE COLLATION german (provider = libc, locale = 'C');\n",
    );
    let run = p.run(&["generate"]).code(1);
    assert!(run.stderr.contains("german"), "{}", run.stderr);
    assert!(migration_files(&p).is_empty());
}
