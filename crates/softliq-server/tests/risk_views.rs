//! The risk manager's views over the API: totals, debt liquidatable by price drop, insolvent
//! accounts apart from the at-risk list, liquidation prices only where they lie ahead, and an
//! activity history that survives a restart.

mod common;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totals_price_drops_and_insolvent_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let m = seed(&s).await;

    // Alice: 10 WETH at 2,000 (LT 0.825) against 16,000 USDC: liquidatable when WETH falls
    // to 16,000 / 8.25 = 1,939.39, 3.03% down; USDC falling makes nobody liquidatable.
    let (_, risk) = s.get("/v1/risk").await;
    assert_eq!(risk["drops_pct"], json!([5, 10, 20, 30]));
    let drops = |symbol: &str| {
        risk["price_drops"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["asset"] == symbol)
            .unwrap()
            .clone()
    };
    assert_eq!(drops("WETH")["accounts"], json!([1, 1, 1, 1]), "{risk}");
    let weth_debt: f64 = drops("WETH")["debt_value"][0]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((weth_debt - 16_000.0).abs() < 1.0, "{weth_debt}");
    assert_eq!(drops("USDC")["accounts"], json!([0, 0, 0, 0]));
    let t = &risk["totals"];
    assert_eq!(
        (t["accounts"].as_u64(), t["liquidatable_accounts"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(
        t["near_debt_value"], t["debt_value"],
        "HF 1.03 is near the line: {t}"
    );
    assert_eq!(t["insolvent_accounts"], 0);

    // WETH at 1,500: collateral 15,000 below 16,000 of debt: insolvent, 1,000 short.
    next_second().await;
    s.ok(
        "/v1/prices",
        ORACLE,
        json!({"asset": "WETH", "price": "1500"}),
    )
    .await;
    let (_, risk) = s.get("/v1/risk").await;
    let t = &risk["totals"];
    assert_eq!(
        (
            t["insolvent_accounts"].as_u64(),
            t["liquidatable_accounts"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let shortfall: f64 = t["shortfall_value"].as_str().unwrap().parse().unwrap();
    assert!((shortfall - 1_000.0).abs() < 1.0, "{t}");
    assert_eq!(
        risk["price_drops"][1]["accounts"],
        json!([0, 0, 0, 0]),
        "liquidatable already"
    );
    let (_, insolvent) = s.get("/v1/accounts?insolvent=true").await;
    assert_eq!(insolvent["accounts"][0]["account"], m.alice);
    assert!(insolvent["accounts"][0]["shortfall_value"].is_string());
    let (_, solvent) = s.get("/v1/accounts?insolvent=false").await;
    assert_eq!(solvent["accounts"], json!([]), "{solvent}");
    // Liquidatable: no liquidation price lies ahead, so none is shown (not the recovery price
    // on the wrong side).
    let (_, acct) = s.get(&format!("/v1/accounts/{}", m.alice)).await;
    assert_eq!(acct["report"]["liquidatable"], true);
    assert_eq!(acct["report"]["liquidation_prices"], json!([]), "{acct}");
    assert_eq!(
        acct["report"]["pair_liquidation_price"],
        serde_json::Value::Null
    );
    let (_, list) = s.get("/v1/accounts").await;
    assert_eq!(
        list["accounts"][0]["nearest_liquidation_price"],
        serde_json::Value::Null
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_counts_liquidations_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let m = seed(&s).await;
    let (quote, _) = crash_and_liquidate(&s, &m, "1900").await;
    let repaid: f64 = quote["quote"]["repaid_value"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let check = |a: &serde_json::Value| {
        assert_eq!(a["totals"]["liquidations"], 1, "{a}");
        let r = a["totals"]["repaid_usd"].as_f64().unwrap();
        assert!((r - repaid).abs() < 1e-6, "{r} vs {repaid}");
        let series: u64 = a["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["liquidations"].as_u64().unwrap())
            .sum();
        assert_eq!(series, 1);
    };
    let (_, a) = s.get("/v1/activity").await;
    check(&a);
    s.stop().await;

    // A restart counts the log written before it (in the background: wait for `complete`).
    let s = TestServer::start(dir.path()).await;
    let mut a = serde_json::Value::Null;
    for _ in 0..100 {
        a = s.get("/v1/activity").await.1;
        if a["complete"] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(a["complete"], true, "{a}");
    check(&a);
    let (st, e) = s.get("/v1/activity?spans=0").await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (422, Some("spans")),
        "{e}"
    );
    s.stop().await;
}

/// The liquidatable list is read from the engine's flagged set at each request, not from the
/// risk board: with the board cached for an hour, an account that a price fall made
/// liquidatable is listed at once (and leaves the list once it recovers).
#[tokio::test]
async fn the_liquidatable_list_is_current_while_the_board_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(dir.path(), |c| {
        c.risk_refresh = std::time::Duration::from_secs(3600);
    })
    .await;
    let m = seed(&s).await;
    let (_, board) = s.get("/v1/accounts").await;
    assert_eq!(board["accounts"][0]["account"], m.alice, "{board}");
    assert_eq!(board["accounts"][0]["liquidatable"], false, "{board}");

    next_second().await;
    s.ok(
        "/v1/prices",
        ORACLE,
        json!({"asset": "WETH", "price": "1900"}),
    )
    .await;
    let (status, listed) = s.get("/v1/accounts?liquidatable=true").await;
    assert_eq!(status, 200, "{listed}");
    let accounts = listed["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 1, "{listed}");
    assert_eq!(accounts[0]["account"], m.alice);
    assert_eq!(accounts[0]["liquidatable"], true);
    let hf: f64 = accounts[0]["health_factor"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(hf < 1.0, "{listed}");
    assert!(listed["seq"].as_u64() > board["seq"].as_u64(), "{listed}");
    // The board itself is still the cached one.
    let (_, cached) = s.get("/v1/accounts").await;
    assert_eq!(cached["seq"], board["seq"]);

    next_second().await;
    s.ok(
        "/v1/prices",
        ORACLE,
        json!({"asset": "WETH", "price": "2000"}),
    )
    .await;
    let (_, listed) = s.get("/v1/accounts?liquidatable=true").await;
    assert_eq!(
        listed["accounts"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );
    s.stop().await;
}
