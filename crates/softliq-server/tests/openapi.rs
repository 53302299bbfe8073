//! The OpenAPI document is valid OpenAPI 3.1 by an independent validator
//! (`openapi-spec-validator`, which this test installs with pip when Python lacks it), and
//! Swagger UI is served from the binary and reads it.

mod common;

use common::*;

/// Installs `openapi-spec-validator` when `python3` cannot import it: pip, then pip past
/// Debian's externally-managed marker, then Debian's package.
fn ensure_validator() {
    let have = || {
        std::process::Command::new("python3")
            .args(["-c", "import openapi_spec_validator"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if have() {
        return;
    }
    for cmd in [
        "python3 -m pip install -q openapi-spec-validator",
        "python3 -m pip install -q --break-system-packages openapi-spec-validator",
        "apt-get install -y -qq python3-openapi-spec-validator",
    ] {
        let _ = std::process::Command::new("sh").args(["-c", cmd]).status();
        if have() {
            return;
        }
    }
    panic!("install the validator: pip install openapi-spec-validator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_validates_and_swagger_ui_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let doc = s
        .http
        .get(format!("{}/openapi.json", s.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    ensure_validator();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &doc).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("python3 runs (the validator needs it: pip install openapi-spec-validator)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !said.contains("No module named"),
        "install the validator: pip install openapi-spec-validator ({said})"
    );
    assert!(out.status.success(), "the document is invalid: {said}");
    assert!(said.contains("OK"), "{said}");

    let (st, page) = s.get("/docs/").await;
    assert_eq!(st, 200);
    assert!(page.as_str().unwrap().contains("swagger-ui"), "{page}");
    let (st, init) = s.get("/docs/swagger-initializer.js").await;
    assert_eq!(st, 200);
    assert!(init.as_str().unwrap().contains("/openapi.json"), "{init}");
    s.stop().await;
}
