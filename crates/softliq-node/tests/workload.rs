//! The synthetic workload through the engine: invariants after every command (audit mode),
//! the detection index against a full scan after every price or time change, and durable runs
//! whose recovery equals a replay from empty.

use std::collections::{BTreeMap, BTreeSet};

use softliq_engine::{CommandBody, Engine, EngineConfig, Event};
use softliq_node as store;
use softliq_node::workload::Workload;
use softliq_node::{NodeConfig, SqliteStore};

fn audited() -> EngineConfig {
    EngineConfig { audit: true }
}

/// An engine with `w`'s setup applied.
fn set_up(w: &mut Workload, config: EngineConfig) -> Engine {
    let mut engine = Engine::new(config);
    for cmd in w.setup() {
        engine
            .apply(&cmd)
            .unwrap_or_else(|r| panic!("setup {cmd:?}: {r}"));
    }
    engine
}

/// After a market-wide change (a price or a time step), checks that every flag equals the exact
/// check of a full scan; returns whether it checked.
fn flags_match_scan(engine: &mut Engine, body: &CommandBody, i: usize) -> bool {
    if !matches!(
        body,
        CommandBody::AdvanceTime | CommandBody::PostPrice { .. }
    ) {
        return false;
    }
    let flagged: BTreeSet<_> = engine.state().flagged.iter().collect();
    assert_eq!(flagged, engine.scan_liquidatable(), "after command {i}");
    true
}

/// A market large enough that the detection queues merge their fresh heaps into their runs
/// (and compact) many times, each merge spread over many commands by a small slice: the
/// flagged set still equals a full scan after every market-wide change, including those that
/// land while merges are half done.
#[test]
fn detection_matches_full_scan_across_queue_merges() {
    let mut w = Workload::new(17, 3_000, 50).volatile();
    let mut engine = set_up(&mut w, EngineConfig { audit: false });
    engine.set_merge_slice(16);
    let merges_after_setup = engine.detection_stats().merges;
    let (mut crossings, mut checks, mut checks_mid_merge) = (0, 0, 0);
    for i in 0..50_000 {
        let cmd = w.next_command_for(engine.state());
        let Ok(events) = engine.apply(&cmd) else {
            continue;
        };
        crossings += events
            .iter()
            .filter(|e| matches!(e, Event::BecameLiquidatable { .. }))
            .count();
        let mid_merge = engine.detection_stats().merging > 0;
        let checked = flags_match_scan(&mut engine, &cmd.body, i);
        checks += usize::from(checked);
        checks_mid_merge += usize::from(checked && mid_merge);
    }
    let merges = engine.detection_stats().merges - merges_after_setup;
    assert!(merges >= 5, "only {merges} queue merges after the setup");
    assert!(
        checks_mid_merge > 200,
        "only {checks_mid_merge} checks while a merge was half done"
    );
    assert!(crossings > 20, "only {crossings} crossings");
    assert!(checks > 1_000, "only {checks} detection checks");
}

#[test]
fn workload_keeps_invariants_and_detection_matches_full_scan() {
    let mut w = Workload::new(7, 300, 50).volatile();
    let mut engine = set_up(&mut w, audited());
    let mut accepted: BTreeMap<&str, u32> = BTreeMap::new();
    let (mut liquidations, mut crossings, mut checks) = (0, 0, 0);
    for i in 0..30_000 {
        let cmd = w.next_command_for(engine.state());
        let result = engine.apply(&cmd);
        if let Err(r) = &result {
            assert!(
                !matches!(
                    r.code,
                    softliq_engine::Code::InvariantBroken | softliq_engine::Code::Halted
                ),
                "command {i}: {r}"
            );
            continue;
        }
        *accepted.entry(cmd.body.kind()).or_default() += 1;
        let events = result.unwrap_or_default();
        liquidations += events
            .iter()
            .filter(|e| matches!(e, Event::Liquidated(_)))
            .count();
        crossings += events
            .iter()
            .filter(|e| matches!(e, Event::BecameLiquidatable { .. }))
            .count();
        // After every market-wide change, every flag equals the exact check.
        checks += usize::from(flags_match_scan(&mut engine, &cmd.body, i));
        if i % 2_000 == 0 {
            engine.audit_full().expect("full audit");
        }
    }
    engine.audit_full().expect("full audit");
    // The run must exercise what it claims to test.
    assert!(liquidations > 20, "only {liquidations} liquidations");
    assert!(crossings > 20, "only {crossings} crossings");
    assert!(checks > 1_000, "only {checks} detection checks");
    for kind in [
        "deposit",
        "withdraw",
        "borrow",
        "repay",
        "post_price",
        "advance_time",
    ] {
        assert!(
            accepted.get(kind).copied().unwrap_or(0) > 100,
            "{kind}: {accepted:?}"
        );
    }
}

#[test]
fn durable_run_recovers_to_the_replayed_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = Workload::new(11, 100, 20).volatile();
    let mut commands = w.setup();
    commands.extend((0..3_000).map(|_| w.next_command()));

    let mut memory = Engine::new(audited());
    for cmd in &commands {
        let _ = memory.apply(cmd);
    }

    let config = NodeConfig {
        snapshot_every: 700,
        ..NodeConfig::default()
    };
    let engine = Engine::new(audited());
    let node = store::spawn(engine, SqliteStore::open(dir.path()).expect("open"), config);
    let receivers: Vec<_> = commands.iter().map(|c| node.submit(c.clone())).collect();
    let acked = receivers
        .into_iter()
        .filter(|rx| matches!(rx.recv(), Ok(Ok(_))))
        .count();
    node.shutdown();
    assert!(acked > 2_000, "acked {acked}");

    let mut db = SqliteStore::open(dir.path()).expect("reopen");
    let (recovered, report) = store::recover(&mut db, audited()).expect("recover");
    assert!(report.snapshot_seq > 0, "a snapshot was used: {report:?}");
    assert!(report.replayed > 0 && report.replayed < 700, "{report:?}");
    let replayed = store::replay_all(&mut db, audited()).expect("replay");
    assert_eq!(recovered.state().hash(), replayed.state().hash());
    assert_eq!(recovered.state().hash(), memory.state().hash());
    assert_eq!(recovered.state().seq as usize, acked);
}

#[test]
fn dutch_workload_keeps_invariants_and_auctions_run_their_course() {
    use softliq_core::liquidation::auction::Step;
    let mut w = Workload::new(13, 200, 50).volatile().dutch();
    let mut engine = Engine::new(audited());
    let mut commands = w.setup();
    for cmd in &commands {
        engine
            .apply(cmd)
            .unwrap_or_else(|r| panic!("setup {cmd:?}: {r}"));
    }
    let mut steps: BTreeMap<&str, u32> = BTreeMap::new();
    let mut refused: BTreeMap<String, u32> = BTreeMap::new();
    for i in 0..20_000 {
        let cmd = w.next_command_for(engine.state());
        commands.push(cmd.clone());
        let events = match engine.apply(&cmd) {
            Ok(events) => events,
            Err(r) => {
                assert!(
                    !matches!(
                        r.code,
                        softliq_engine::Code::InvariantBroken | softliq_engine::Code::Halted
                    ),
                    "command {i}: {r}"
                );
                if matches!(
                    cmd.body,
                    CommandBody::Bark { .. } | CommandBody::Take { .. }
                ) {
                    *refused.entry(format!("{:?}", r.code)).or_default() += 1;
                }
                continue;
            }
        };
        for e in events.iter() {
            if let Event::Auction { step, .. } = e {
                let kind = match **step {
                    Step::Started { .. } => "started",
                    Step::Taken { .. } => "taken",
                    Step::Reset { .. } => "reset",
                    Step::Finished { .. } => "finished",
                };
                *steps.entry(kind).or_default() += 1;
            }
        }
        if matches!(
            cmd.body,
            CommandBody::AdvanceTime | CommandBody::PostPrice { .. }
        ) {
            let flagged: BTreeSet<_> = engine.state().flagged.iter().collect();
            assert_eq!(flagged, engine.scan_liquidatable(), "after command {i}");
        }
        if i % 2_000 == 0 {
            engine.audit_full().expect("full audit");
        }
    }
    engine.audit_full().expect("full audit");
    eprintln!("dutch workload: steps {steps:?}, refused {refused:?}");
    // The run must exercise what it claims to test.
    for (kind, least) in [
        ("started", 20),
        ("taken", 40),
        ("reset", 5),
        ("finished", 10),
    ] {
        assert!(
            steps.get(kind).copied().unwrap_or(0) >= least,
            "{kind}: {steps:?} (refused: {refused:?})"
        );
    }
    // Snapshots carry the auctions exactly, and a replay from empty reaches the same state.
    let state = engine.state();
    assert_eq!(
        &softliq_engine::State::decode(&state.encode()).expect("decode"),
        state
    );
    let mut replay = Engine::new(EngineConfig::default());
    for cmd in &commands {
        let _ = replay.apply(cmd);
    }
    assert_eq!(replay.state().hash(), engine.state().hash());
}

/// A snapshot by time alone: with the count never reached, a node whose last snapshot is older
/// than `snapshot_interval` writes one after its next command, so a restart replays only what
/// came after it.
#[test]
fn a_snapshot_is_written_on_time_when_the_count_is_not_reached() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = Workload::new(12, 50, 20).volatile();
    let setup = w.setup();
    let config = NodeConfig {
        snapshot_every: u64::MAX,
        snapshot_interval: std::time::Duration::from_millis(200),
        ..NodeConfig::default()
    };
    let node = store::spawn(
        Engine::new(audited()),
        SqliteStore::open(dir.path()).expect("open"),
        config,
    );
    let wait = |rx: std::sync::mpsc::Receiver<_>| {
        let _ = rx.recv();
    };
    for cmd in setup {
        wait(node.submit(cmd));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    // The first command after the interval takes the snapshot; ten more follow it.
    for _ in 0..11 {
        wait(node.submit(w.next_command()));
    }
    node.shutdown();
    let mut db = SqliteStore::open(dir.path()).expect("reopen");
    let (_, report) = store::recover(&mut db, audited()).expect("recover");
    assert!(report.snapshot_seq > 0, "a snapshot by time: {report:?}");
    assert!(report.replayed <= 10, "{report:?}");
}

/// The realistic mix: after a stretch of the stress mix, every oracle round (one per 400 ms
/// of offered time: 4,000 commands at 10,000/s) posts each asset once, one engine second after
/// the last round, with moves within real 400 ms volatility; the rest are user commands in the
/// stress mix's proportions, and the engine accepts every price.
#[test]
fn realistic_mix_posts_every_asset_once_per_round_with_small_moves() {
    let mut w = Workload::new(21, 200, 50);
    let mut engine = set_up(&mut w, EngineConfig { audit: false });
    for _ in 0..2_000 {
        let _ = engine.apply(&w.next_command_for(engine.state()));
    }
    let mut w = w.realistic(10_000);
    let mut kinds: BTreeMap<&str, u32> = BTreeMap::new();
    let mut rounds: BTreeMap<u64, Vec<softliq_core::asset::AssetId>> = BTreeMap::new();
    let (mut user_seconds, total) = (BTreeSet::new(), 40_000);
    for i in 0..total {
        let cmd = w.next_command_for(engine.state());
        *kinds.entry(cmd.body.kind()).or_default() += 1;
        let before = engine.state().oracles.clone();
        let result = engine.apply(&cmd);
        if let CommandBody::PostPrice { asset, .. } = &cmd.body {
            result.unwrap_or_else(|r| panic!("price {i} refused: {r}"));
            rounds.entry(cmd.timestamp_s).or_default().push(*asset);
            let (was, now) = (
                before[asset.index()].price.expect("listed").raw(),
                engine.state().oracles[asset.index()]
                    .price
                    .expect("posted")
                    .raw(),
            );
            // ±158 ppm at most, plus a thousandth of a gap of a few percent.
            let moved_ppm = was.abs_diff(now) * 1_000_000 / was;
            assert!(moved_ppm <= 220, "price {i} moved {moved_ppm} ppm");
        } else {
            user_seconds.insert(cmd.timestamp_s);
        }
    }
    assert!((9..=10).contains(&rounds.len()), "{} rounds", rounds.len());
    let seconds: Vec<u64> = rounds.keys().copied().collect();
    assert!(
        seconds.windows(2).all(|p| p[1] == p[0] + 1),
        "rounds not one second apart"
    );
    for (second, assets) in &rounds {
        assert_eq!(assets.len(), 3, "round at {second}: {assets:?}");
    }
    assert!(
        user_seconds.len() <= 11,
        "user commands over {user_seconds:?}"
    );
    assert_eq!(kinds.get("advance_time"), None);
    let share = |k: &str| f64::from(kinds.get(k).copied().unwrap_or(0)) * 82.0 / total as f64;
    for (kind, parts) in [
        ("deposit", 25.0),
        ("withdraw", 10.0),
        ("borrow", 20.0),
        ("repay", 20.0),
        ("liquidate", 7.0),
    ] {
        assert!(
            (share(kind) - parts).abs() < 1.0,
            "{kind}: {:.2} parts in 82, {kinds:?}",
            share(kind)
        );
    }
}
