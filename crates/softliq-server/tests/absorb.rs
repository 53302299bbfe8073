//! Protocol absorb over HTTP: a keeper whose calls do not pay has the protocol absorb the
//! account instead, and the storefront sells the treasury's collateral.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use softliq_core::liquidation::{Absorb, Policy};
use softliq_core::money::{Ratio, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keeper_has_an_unprofitable_account_absorbed_and_the_storefront_sells() {
    use softliq_keeper::{KeeperConfig, run};
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let m = seed(&s).await;
    // Absorb below HF 0.95; WETH 2,000 → 1,800: HF 18,000 · 0.825 / 16,000 ≈ 0.928.
    let policy = Policy {
        absorb: Some(Absorb {
            hf_max: Ratio::parse("hf_max", "0.95").unwrap(),
            ..Absorb::preset()
        }),
        ..Policy::soft()
    };
    s.ok(
        "/v1/policy",
        ADMIN,
        json!({"policy": serde_json::to_value(policy).unwrap(), "liquidation_price": "spot"}),
    )
    .await;
    let storefront = json!({"buyer": m.liquidator, "asset": 1, "pay_asset": 0,
                            "max_pay": "1000", "min_out": "0"});
    let (st, e) = s
        .post("/v1/storefront", LIQUIDATOR, storefront.clone())
        .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (409, Some("asset")),
        "{e}"
    );
    for p in ["1900", "1800"] {
        tokio::time::sleep(Duration::from_millis(150)).await;
        s.ok("/v1/prices", ORACLE, json!({"asset": 1, "price": p}))
            .await;
    }
    // A keeper that wants a million USD of profit per call never liquidates.
    let v = |x: &str| Value::parse("v", x).unwrap();
    let config = KeeperConfig {
        url: s.url.clone(),
        token: LIQUIDATOR.into(),
        account: Some(m.liquidator),
        cost: softliq_core::liquidation::CostModel {
            min_profit: v("1000000"),
            fee_per_call: v("0"),
            depth_per_pct: v("1000000000"),
        },
        interval: Duration::from_millis(100),
        perp_margin: softliq_core::money::Value::ZERO,
    };
    let stats = run(config, tokio::time::sleep(Duration::from_secs(2)))
        .await
        .unwrap();
    assert_eq!(stats.liquidations, 0, "{stats:?}");
    assert_eq!(stats.absorbs, 1, "{stats:?}");
    assert!(!owes_debt(&s, m.alice).await, "absorbed");
    // 1,000 USDC buy WETH at 1,800 · 0.975 = 1,755: 0.569800569800569800 WETH.
    let out = s.ok("/v1/storefront", LIQUIDATOR, storefront).await;
    let sale = &out["events"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|e| e.get("collateral_bought"))
        .expect("a sale")["sale"];
    assert_eq!(sale["amount"], "569800569800569800", "{out}");
    s.stop().await;
}
