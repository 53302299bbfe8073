//! The `aave_v3` profile over HTTP: set by name, the account view carries Aave v3.6's account
//! data, and a liquidation is priced and settled by Aave's rules.

mod common;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aave_v3_market_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let m = seed(&s).await;
    s.ok(
        "/v1/policy",
        ADMIN,
        json!({"mechanism": "aave_v3", "liquidation_price": "spot"}),
    )
    .await;
    let (_, markets) = s.get("/v1/markets").await;
    assert_eq!(markets["policy"], "aave_v3");
    // Alice: 10 WETH at 2,000 against 16,000 USDC: Aave's HF = 20,000 · 8,250 / 16,000 / 10^4.
    let (_, acct) = s.get(&format!("/v1/accounts/{}", m.alice)).await;
    let aave = &acct["aave_v3"];
    assert_eq!(aave["total_collateral_usd"], "20000", "{acct}");
    assert_eq!(aave["health_factor"], "1.03125");
    assert_eq!(aave["liquidatable"], false);
    // WETH to 1,900: HF 0.98 > 0.95, so Aave's close factor caps the call at half the debt.
    let (quote, out) = crash_and_liquidate(&s, &m, "1900").await;
    // Half of the debt's base value (16,000.00000036 USD after seconds of interest, rounded up
    // to 8 decimals), back to USDC rounded down: exactly 8,000.
    assert_eq!(quote["quote"]["bound"], "PolicyCap", "{quote}");
    assert_eq!(quote["quote"]["repaid"], "8000000000", "{quote}");
    let liquidated = out["events"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|e| e.get("liquidated"))
        .expect("a liquidation event");
    assert_eq!(liquidated["policy"], "aave_v3", "{out}");
    assert_eq!(liquidated["quote"]["repaid"], "8000000000", "{out}");
    // A market whose asset Aave could not list refuses the profile, naming the field.
    let (st, err) = s
        .post(
            "/v1/assets",
            ADMIN,
            json!({"symbol": "LINK", "params": params("LINK")}),
        )
        .await;
    assert_eq!(st, 422, "{err}");
    assert_eq!(err["error"]["field"], "params.borrow_weight", "{err}");
}
