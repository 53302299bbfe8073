//! What `softliq serve` and `softliq keeper` say when started wrongly: each message names the
//! input and the form expected, the process exits non-zero, and nothing is left behind.

use std::process::Command;

fn softliq() -> Command {
    Command::new(env!("CARGO_BIN_EXE_softliq"))
}

fn fails_saying(cmd: &mut Command, needles: &[&str]) {
    let out = cmd.output().expect("runs");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exit 0: {said}");
    for n in needles {
        assert!(said.contains(n), "lacks {n:?}: {said}");
    }
}

#[test]
fn a_port_in_use_is_named_and_creates_no_data_directory() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fails_saying(
        softliq()
            .args(["serve", "--listen", &addr, "--data"])
            .arg(&data),
        &["address is in use", "--listen"],
    );
    assert!(!data.exists(), "the data directory was created");
}

#[test]
fn a_host_name_listens_and_a_missing_port_is_explained() {
    fails_saying(
        softliq().args(["serve", "--listen", "localhost"]),
        &["has no port", "localhost:8080"],
    );
    // A name resolves: `localhost:0` gets as far as the data directory (unwritable here).
    fails_saying(
        softliq().args([
            "serve",
            "--listen",
            "localhost:0",
            "--data",
            "/proc/softliq-none",
        ]),
        &["/proc/softliq-none"],
    );
}

#[test]
fn a_keeper_url_without_a_scheme_shows_the_form_expected() {
    fails_saying(
        softliq().args(["keeper", "--url", "127.0.0.1:8080", "--token", "t"]),
        &["--url", "http://127.0.0.1:8080"],
    );
}
