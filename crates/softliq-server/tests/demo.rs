//! The demo over two whole passes of its crash windows, in accelerated time, with the keeper:
//! every posted WETH and WBTC price stays within the range real prices took, and liquidations
//! keep coming in the second pass (borrowers borrow again while prices recover), so the demo
//! can run for hours and still look like a market.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::Value;
use softliq_demo::{self as demo, DemoConfig};
use softliq_server::Server;
use softliq_server::app::ServerConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_demo_cycles_stay_real_and_keep_liquidating() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig::new(
        dir.path().to_path_buf(),
        "127.0.0.1:0".parse().unwrap(),
        tokens(),
    );
    let server = Server::bind(&config).await.unwrap();
    let url = format!("http://{}", server.addr);
    let state = server.state.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async move {
        let _ = stop_rx.await;
    }));
    let demo_config = DemoConfig {
        borrowers: 300,
        bar: Duration::from_millis(8),
        perp_traders: 0,
        cycles: Some(2),
        // Three prices a bar (the extremes and the close): the walk is the same, shorter.
        steps_per_leg: 1,
        ..DemoConfig::default()
    };
    let v = |x: &str| softliq_core::money::Value::parse("v", x).unwrap();
    let keeper = softliq_keeper::KeeperConfig {
        url: url.clone(),
        token: LIQUIDATOR.into(),
        account: None,
        cost: softliq_core::liquidation::CostModel {
            min_profit: v("0"),
            fee_per_call: v("0"),
            depth_per_pct: v("10000000"),
        },
        interval: Duration::from_millis(20),
        perp_margin: softliq_core::money::Value::ZERO,
    };
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let keeping = tokio::spawn(softliq_keeper::run(keeper, async move {
        let _ = done_rx.await;
    }));
    let started = std::time::Instant::now();
    let starts = demo::run(Arc::clone(&state), demo_config).await.unwrap();
    let _ = done_tx.send(());
    let stats = keeping.await.unwrap().unwrap();
    eprintln!(
        "two cycles in {:.1} s; keeper {stats:?}",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(starts.len(), 2, "{starts:?}");

    let client = reqwest::Client::new();
    let (mut since, mut entries) = (0u64, Vec::<Value>::new());
    loop {
        let page: Value = client
            .get(format!("{url}/v1/events?since={since}&limit=1000"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let got = page["entries"].as_array().unwrap().clone();
        let Some(last) = got.last() else { break };
        since = last["seq"].as_u64().unwrap();
        entries.extend(got);
    }
    let replay = demo::replay::Replay::new(demo::replay::crash_windows().unwrap(), 60, 1).unwrap();
    let (lo, hi) = replay.bounds();
    let (mut prices, mut liquidations) = (0usize, [0usize; 2]);
    for e in &entries {
        let seq = e["seq"].as_u64().unwrap();
        for ev in e["events"].as_array().unwrap() {
            if let Some(p) = ev.get("price_accepted") {
                let x: f64 = p["price"].as_str().unwrap().parse().unwrap();
                let (l, h) = match p["asset"].as_u64().unwrap() {
                    2 => (lo.eth, hi.eth),
                    3 => (lo.btc, hi.btc),
                    _ => continue,
                };
                prices += 1;
                assert!(
                    x >= l * 0.999_999 && x <= h * 1.000_001,
                    "seq {seq}: {p} outside {l}..{h}"
                );
            }
            if ev.get("liquidated").is_some() {
                liquidations[usize::from(seq >= starts[1])] += 1;
            }
        }
    }
    eprintln!("{prices} prices of WETH and WBTC, liquidations per cycle {liquidations:?}");
    assert!(prices > 2 * 4_000, "{prices}");
    assert!(liquidations[0] >= 50, "{liquidations:?}");
    // Measured: the second pass liquidates about 0.38 of the first (the seeded population
    // meets its first crash in pass one); a demo that stops liquidating gives 0.
    assert!(
        liquidations[1] * 4 >= liquidations[0],
        "the second cycle liquidates a quarter as much as the first at least: {liquidations:?}"
    );
    let _ = stop_tx.send(());
    serving.await.unwrap().unwrap();
}
