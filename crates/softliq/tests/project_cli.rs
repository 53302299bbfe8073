//! `softliq project`: a data directory's log into PostgreSQL (the machine's, database `test`,
//! a schema of the test's own), then again from where it stopped, writing nothing twice.

mod common;

use common::softliq;
use softliq_history::{History, HistoryConfig};

fn postgres() -> String {
    std::env::var("SOFTLIQ_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".into())
}

fn drive(dir: &std::path::Path, count: u32) {
    let out = softliq()
        .args(["drive", "--seed", "5", "--borrowers", "40", "--count"])
        .arg(count.to_string())
        .arg("--data")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn project(dir: &std::path::Path, schema: &str) -> String {
    let out = softliq()
        .args([
            "project",
            "--postgres",
            &postgres(),
            "--pg-schema",
            schema,
            "--data",
        ])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn project_writes_the_log_once_and_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let schema = format!("cli_{}", std::process::id());
    drive(dir.path(), 300);
    let first = project(dir.path(), &schema);
    let n: u64 = first
        .split("..=")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{first}"));
    assert!(first.starts_with("project: entries 1..="), "{first}");
    let again = project(dir.path(), &schema);
    assert!(again.contains(&format!("(position {n})")), "{again}");
    assert!(
        again.starts_with(&format!("project: entries {}..={n}", n + 1)),
        "{again}"
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let h = History::connect(&HistoryConfig {
            url: postgres(),
            schema: schema.clone(),
        })
        .await
        .unwrap();
        assert_eq!(h.position().await.unwrap(), n);
        let rows: i64 = h
            .client()
            .query_one(&format!("SELECT count(*) FROM {schema}.entries"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(u64::try_from(rows).unwrap(), n, "each entry once");
        h.client()
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
    });

    // A directory without a log is named.
    let empty = tempfile::tempdir().unwrap();
    let out = softliq()
        .args(["project", "--postgres", &postgres(), "--data"])
        .arg(empty.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no softliq.db"));
}
