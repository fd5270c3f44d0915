//! This repository's own example project (models/, migrations/, config/ at the root): its
//! committed migrations are exactly what the models say (`migrated check`, as CI runs it),
//! and they apply and revert.

mod common;

use std::path::Path;

use common::{Project, copy_dir};

#[tokio::test]
async fn example_project_check_passes_and_migrations_apply() {
    let p = Project::new("example_project").await;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["config", "models", "migrations"] {
        copy_dir(&repo.join(dir), &p.path(dir));
    }
    p.run(&["check"]).success();
    p.run(&["validate"]).success();
    p.run(&["up"]).success();
    let tables = p.db.strings("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('users', 'blogs') ORDER BY 1").await;
    assert_eq!(tables, ["blogs", "users"]);
    p.run(&["down", "base"]).success();
    assert_eq!(
        p.db.scalar_i64("SELECT count(*) FROM pg_tables WHERE tablename IN ('users', 'blogs')")
            .await,
        0
    );
}
