//! Dutch auctions over HTTP: a start with the assets chosen by the server, the public view of
//! running auctions, refusals with their codes, a take that ends the auction, and its history.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use softliq_core::liquidation::auction::Curve;
use softliq_core::liquidation::{Policy, Rule};

fn dutch_policy(buf: &str, tau_s: u64) -> serde_json::Value {
    let mut p = Policy::dutch();
    if let Rule::Dutch(d) = &mut p.rule {
        d.curve = Curve::Linear { tau_s };
        d.buf = softliq_core::money::Ratio::parse("buf", buf).unwrap();
    }
    serde_json::to_value(p).unwrap()
}

/// The dutch policy set, and WETH 2000 → 1800 in two moves within the breaker: HF = 18,000 ·
/// 0.825 / 16,000 ≈ 0.93.
async fn crash_into_dutch(s: &TestServer, policy: serde_json::Value) {
    s.ok(
        "/v1/policy",
        ADMIN,
        json!({"policy": policy, "liquidation_price": "spot"}),
    )
    .await;
    for p in ["1900", "1800"] {
        tokio::time::sleep(Duration::from_millis(150)).await;
        s.ok("/v1/prices", ORACLE, json!({"asset": 1, "price": p}))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auction_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let m = seed(&s).await;
    let (st, doc) = s.get("/openapi.json").await;
    assert_eq!(st, 200);
    assert!(doc["paths"]["/v1/auctions/{id}/take"]["post"].is_object());

    crash_into_dutch(&s, dutch_policy("1.2", 3_600)).await;
    // Calls are refused in an auction market.
    let (st, e) = s
        .post(
            "/v1/liquidations",
            LIQUIDATOR,
            json!({"liquidator": m.liquidator, "borrower": m.alice, "debt_asset": 0,
                   "collateral_asset": 1, "max_repay": "1000", "min_collateral_out": "0"}),
        )
        .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (409, Some("wrong_mechanism")),
        "{e}"
    );
    // Only a liquidator token, for a keeper account it owns.
    let bark = json!({"keeper": m.liquidator, "borrower": m.alice});
    let (st, _) = s.post("/v1/auctions", ALICE, bark.clone()).await;
    assert_eq!(st, 403);
    let out = s.ok("/v1/auctions", LIQUIDATOR, bark).await;
    let started = out["events"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|e| e["auction"]["step"]["started"].as_object().cloned())
        .unwrap_or_else(|| panic!("a start: {out}"));
    assert_eq!(started["debt_asset"], 0, "USDC, the only debt");
    assert_eq!(started["collateral_asset"], 1, "WETH, the only collateral");
    assert_eq!(started["top"], "2160", "1800 · 1.2");

    let (st, list) = s.get("/v1/auctions").await;
    assert_eq!(st, 200);
    assert_eq!(list["policy"], "dutch");
    let row = &list["auctions"][0];
    assert_eq!(
        (row["id"].as_u64(), row["borrower"].as_u64()),
        (Some(1), Some(m.alice))
    );
    assert_eq!(row["collateral_symbol"], "WETH");
    assert_eq!(row["lot"], "10", "all of alice's WETH");
    assert_eq!(row["needs_reset"], false);
    let price: f64 = row["price"].as_str().unwrap().parse().unwrap();
    assert!((2_100.0..=2_160.0).contains(&price), "{price}");
    assert!(row["take_all"]["value"].is_string());

    let take = |amount: &str, max: &str| json!({"keeper": m.liquidator, "amount": amount, "max_price": max});
    let (st, e) = s
        .post("/v1/auctions/1/take", LIQUIDATOR, take("1", "1000"))
        .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (409, Some("price_above_max")),
        "{e}"
    );
    assert_eq!(e["error"]["field"], "max_price");
    let (st, e) = s
        .post("/v1/auctions/9/take", LIQUIDATOR, take("1", "3000"))
        .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (404, Some("unknown_auction")),
        "{e}"
    );
    let (st, e) = s
        .post(
            "/v1/auctions/1/redo",
            LIQUIDATOR,
            json!({"keeper": m.liquidator}),
        )
        .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (409, Some("auction_running")),
        "{e}"
    );

    // Buying everything pays the tab (≈ 16,000 · 1.13 = 18,080 of the ≈ 21,500 lot): the
    // auction ends and the leftover WETH goes back to alice.
    let out = s
        .ok("/v1/auctions/1/take", LIQUIDATOR, take("100", "3000"))
        .await;
    let steps: Vec<_> = out["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["auction"]["step"].as_object())
        .collect();
    assert!(
        steps.len() == 2 && steps[1].contains_key("finished"),
        "{out}"
    );
    let (_, list) = s.get("/v1/auctions").await;
    assert_eq!(list["auctions"].as_array().unwrap().len(), 0);
    let (st, detail) = s.get("/v1/auctions/1").await;
    assert_eq!(st, 200);
    assert!(detail["status"].is_null());
    assert_eq!(detail["history"].as_array().unwrap().len(), 3);
    let (_, acct) = s.get(&format!("/v1/accounts/{}", m.alice)).await;
    let weth_left = acct["report"]["positions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["asset"] == "WETH" && p["side"] == "supply");
    assert!(weth_left, "leftover returned: {acct}");
    let (st, _) = s.get("/v1/auctions/7").await;
    assert_eq!(st, 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keeper_starts_and_buys_an_auction_when_it_pays() {
    use softliq_keeper::{KeeperConfig, run};
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let m = seed(&s).await;
    // The auction starts at the oracle price (buf 1) and falls 1/600 a second: after a few
    // engine seconds the lot is worth more at the oracle than it costs.
    crash_into_dutch(&s, dutch_policy("1", 600)).await;
    let v = |x: &str| softliq_core::money::Value::parse("v", x).unwrap();
    let config = KeeperConfig {
        url: s.url.clone(),
        token: LIQUIDATOR.into(),
        account: Some(m.liquidator),
        cost: softliq_core::liquidation::CostModel {
            min_profit: v("1"),
            fee_per_call: v("0"),
            depth_per_pct: v("1000000000"),
        },
        interval: Duration::from_millis(100),
        perp_margin: softliq_core::money::Value::ZERO,
    };
    let stats = run(config, tokio::time::sleep(Duration::from_secs(3)))
        .await
        .unwrap();
    assert!(stats.auctions_started >= 1 && stats.takes >= 1, "{stats:?}");
    let (_, list) = s.get("/v1/auctions").await;
    assert_eq!(list["auctions"].as_array().unwrap().len(), 0, "{list}");
    let (_, detail) = s.get("/v1/auctions/1").await;
    let history = detail["history"].as_array().unwrap();
    assert!(
        history.last().unwrap().get("finished").is_some(),
        "{detail}"
    );
    assert!(!owes_debt(&s, m.alice).await, "the tab was paid");
    s.stop().await;
}
