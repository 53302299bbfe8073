//! `softliq soak`: every regime runs (calm, crash-prone, Dutch auctions), every command kind
//! the workload makes is applied, invariants are checked after every command, and none breaks.

use std::process::Command;

fn count(out: &str, kind: &str) -> u64 {
    out.lines()
        .find_map(|l| {
            let mut parts = l.split_whitespace();
            (parts.next() == Some(kind)).then(|| parts.next()?.parse().ok())?
        })
        .unwrap_or(0)
}

#[test]
fn a_short_soak_covers_every_regime_and_breaks_nothing() {
    let run = Command::new(env!("CARGO_BIN_EXE_softliq"))
        .args([
            "soak",
            "--commands",
            "45000",
            "--lane",
            "15000",
            "--audit",
            "--seed",
            "3",
        ])
        .output()
        .expect("softliq runs");
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(out.starts_with("soak: 45000 commands in 3 lanes"), "{out}");
    assert!(out.contains("audit after every command"), "{out}");
    assert!(out.contains("invariant breaks: 0"), "{out}");
    for kind in [
        "deposit",
        "withdraw",
        "borrow",
        "repay",
        "post_price",
        "advance_time",
        "liquidate",
        "bark",
        "take",
        "redo",
    ] {
        assert!(count(&out, kind) > 0, "no accepted {kind}:\n{out}");
    }
    // Prices crossed the line: accounts became liquidatable and were liquidated.
    assert!(count(&out, "became_liquidatable") > 10, "{out}");
    assert!(count(&out, "liquidated") > 10, "{out}");
}
