//! Perpetual markets over HTTP: an admin lists WETH-PERP, a maker quotes post-only (and may
//! not take), a trader opens 9x long, the index falls until detection flags the wallet, the
//! liquidation queue lists it, a liquidator runs a step, and every read (markets, book,
//! wallet with liquidation price, queue, ADL ranking) answers with the engine's figures.

mod common;

use common::*;
use serde_json::{Value, json};

/// Runs the keeper into `liquidator` for two seconds with `perp_margin` USD of perp margin.
async fn run_keeper(
    s: &TestServer,
    liquidator: u64,
    perp_margin: &str,
) -> softliq_keeper::KeeperStats {
    let v = |x: &str| softliq_core::money::Value::parse("v", x).unwrap();
    let config = softliq_keeper::KeeperConfig {
        url: s.url.clone(),
        token: LIQUIDATOR.into(),
        account: Some(liquidator),
        cost: softliq_core::liquidation::CostModel {
            min_profit: v("1"),
            fee_per_call: v("0"),
            depth_per_pct: v("1000000"),
        },
        interval: std::time::Duration::from_millis(100),
        perp_margin: v(perp_margin),
    };
    softliq_keeper::run(
        config,
        tokio::time::sleep(std::time::Duration::from_secs(2)),
    )
    .await
    .unwrap()
}

/// Every `perp_liquidated` event in the log, oldest first.
async fn perp_steps(s: &TestServer) -> Vec<Value> {
    let (_, log) = s.get("/v1/events?limit=1000").await;
    log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["events"].as_array().unwrap().iter())
        .filter_map(|e| e.get("perp_liquidated").cloned())
        .collect()
}

fn has_event(out: &Value, name: &str) -> bool {
    out["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e.get(name).is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_perp_market_from_listing_to_a_liquidation_step() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let m = seed(&s).await;
    let body = json!({"symbol": "WETH-PERP", "params": perp_params()});
    let (st, _) = s.post("/v1/perps", ALICE, body.clone()).await;
    assert_eq!(st, 403);
    let out = s.ok("/v1/perps", ADMIN, body).await;
    assert!(has_event(&out, "perp_market_listed"), "{out}");
    let fund = json!({"amount": "2500.5"});
    let (st, _) = s.post("/v1/perps/0/insurance", ALICE, fund.clone()).await;
    assert_eq!(st, 403);
    let out = s.ok("/v1/perps/0/insurance", ADMIN, fund).await;
    assert!(has_event(&out, "perp_insurance_funded"), "{out}");

    let maker = opened(&s.ok("/v1/accounts", MAKER, json!({})).await);
    s.ok(
        &format!("/v1/accounts/{maker}/perp/deposit"),
        MAKER,
        json!({"amount": "1000000"}),
    )
    .await;
    s.ok(
        &format!("/v1/accounts/{}/perp/deposit", m.alice),
        ALICE,
        json!({"amount": "2500"}),
    )
    .await;
    // Another token's account: 403 naming the id.
    let (st, e) = s
        .post(
            &format!("/v1/accounts/{}/perp/deposit", m.alice),
            BOB,
            json!({"amount": "1"}),
        )
        .await;
    assert_eq!((st, e["error"]["field"].as_str()), (403, Some("id")), "{e}");

    // The maker quotes; a maker token may not take liquidity.
    let quote = |side: &str, price: &str| json!({"account": maker, "side": side, "price": price, "size": "10", "tif": "post_only"});
    s.ok("/v1/perps/0/orders", MAKER, quote("sell", "2001"))
        .await;
    s.ok("/v1/perps/0/orders", MAKER, quote("buy", "1999"))
        .await;
    let (st, e) = s
        .post(
            "/v1/perps/0/orders",
            MAKER,
            json!({"account": maker, "side": "buy", "size": "1"}),
        )
        .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (403, Some("tif")),
        "{e}"
    );
    // Sizes off the lot and unknown markets are named.
    let (st, e) = s
        .post(
            "/v1/perps/0/orders",
            ALICE,
            json!({"account": m.alice, "side": "buy", "size": "0.0001"}),
        )
        .await;
    assert_eq!(st, 422, "{e}");
    let (st, e) = s
        .post(
            "/v1/perps/7/orders",
            ALICE,
            json!({"account": m.alice, "side": "buy", "size": "1"}),
        )
        .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (404, Some("market")),
        "{e}"
    );

    // Alice buys 9 at market (about 18,000 USD on 2,500 of margin).
    let out = s
        .ok(
            "/v1/perps/0/orders",
            ALICE,
            json!({"account": m.alice, "side": "buy", "size": "9"}),
        )
        .await;
    let fills = out["events"][0]["order_placed"]["fills"]
        .as_array()
        .unwrap();
    assert_eq!(fills.len(), 1, "{out}");

    let (st, markets) = s.get("/v1/perps").await;
    assert_eq!(st, 200);
    let weth = &markets["markets"][0];
    assert_eq!(weth["symbol"], "WETH-PERP");
    assert_eq!(weth["open_interest"], "9");
    assert_eq!(weth["index"], "2000");
    assert_eq!(weth["best_bid"], "1999");
    assert_eq!(weth["insurance_fund"], "2500.5");
    let (st, book) = s.get("/v1/perps/0/book?depth=5").await;
    assert_eq!(st, 200);
    assert_eq!(book["asks"][0]["price"], "2001");
    assert_eq!(book["asks"][0]["size"], "1");
    assert_eq!(book["bids"][0]["size"], "10");
    let (st, e) = s.get("/v1/perps/0/book?depth=0").await;
    assert_eq!((st, e["error"]["field"].as_str()), (422, Some("depth")));

    let (st, w) = s.get(&format!("/v1/accounts/{}/perp", m.alice)).await;
    assert_eq!(st, 200, "{w}");
    let pos = &w["positions"][0];
    assert_eq!(pos["size"], "9");
    assert_eq!(pos["entry_price"], "2001");
    // Cross wallet: equity 2,500 − 9.0045 fee − 9·(2,001 − p) = 0.05 · 9p ⇒ p ≈ 1,815.
    let liq: f64 = pos["liquidation_price"].as_str().unwrap().parse().unwrap();
    assert!((1_810.0..1_820.0).contains(&liq), "{liq}");
    assert_eq!(w["flagged"], false);

    // The index falls below the liquidation price: the price post's events flag Alice.
    next_second().await;
    let out = s
        .ok("/v1/prices", ORACLE, json!({"asset": 1, "price": "1850"}))
        .await;
    assert!(!has_event(&out, "perp_became_liquidatable"), "{out}");
    next_second().await;
    let out = s
        .ok("/v1/prices", ORACLE, json!({"asset": 1, "price": "1780"}))
        .await;
    assert!(has_event(&out, "perp_became_liquidatable"), "{out}");
    let (_, q) = s.get("/v1/perps/liquidations").await;
    assert_eq!(q["accounts"][0]["account"], m.alice, "{q}");
    let (_, w) = s.get(&format!("/v1/accounts/{}/perp", m.alice)).await;
    assert_eq!(w["flagged"], true);

    // The maker re-quotes within the tolerance; only a liquidator may run a step.
    s.ok("/v1/perps/0/orders", MAKER, quote("buy", "1775"))
        .await;
    let step = json!({"liquidator": m.liquidator, "account": m.alice});
    let (st, _) = s.post("/v1/perps/liquidations", ALICE, step.clone()).await;
    assert_eq!(st, 403);
    // The keeper reads the queue and sends the steps; the engine plans them.
    let stats = run_keeper(&s, m.liquidator, "0").await;
    assert!(stats.perp_steps >= 1, "{stats:?}");
    let (_, w) = s.get(&format!("/v1/accounts/{}/perp", m.alice)).await;
    assert_eq!(w["flagged"], false, "{w}");
    let left: f64 = w["positions"][0]["size"].as_str().unwrap().parse().unwrap();
    assert!(left < 9.0, "{w}");
    let step = perp_steps(&s).await.remove(0);
    assert_eq!(step["liquidator"], m.liquidator, "{step}");
    assert_eq!(step["makers"][0], maker, "{step}");

    // The ADL ranking: the maker is short and in profit, first against a bankrupt long.
    let (st, adl) = s.get("/v1/perps/0/adl").await;
    assert_eq!(st, 200, "{adl}");
    assert_eq!(adl["against_longs"][0]["account"], maker, "{adl}");

    let (_, doc) = s.get("/openapi.json").await;
    for path in [
        "/v1/perps",
        "/v1/perps/{market}/book",
        "/v1/perps/{market}/orders",
        "/v1/accounts/{id}/perp",
        "/v1/perps/liquidations",
        "/v1/perps/{market}/adl",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} not documented");
    }
    s.stop().await;
}

/// A keeper with perp margin offers to take a backstop when the wallet's margin pays for
/// closing it on the book: Alice's 9-long is below its backstop line with the only bids 2.5%
/// under the index (outside the 2% tolerance, so no chunk fills). The keeper takes the
/// position at the mark with Alice's remaining margin, sells it into those bids no worse than
/// its entry less the MM per contract, and ends flat with more than it brought.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keeper_with_margin_takes_a_backstop_and_sells_it_into_the_book() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let m = seed(&s).await;
    let body = json!({"symbol": "WETH-PERP", "params": perp_params()});
    s.ok("/v1/perps", ADMIN, body).await;
    let maker = opened(&s.ok("/v1/accounts", MAKER, json!({})).await);
    let deposit = |id: u64, usd: &str| {
        (
            format!("/v1/accounts/{id}/perp/deposit"),
            json!({"amount": usd}),
        )
    };
    let (path, b) = deposit(maker, "1000000");
    s.ok(&path, MAKER, b).await;
    let (path, b) = deposit(m.alice, "2500");
    s.ok(&path, ALICE, b).await;
    let quote = |side: &str, price: &str| json!({"account": maker, "side": side, "price": price, "size": "10", "tif": "post_only"});
    s.ok("/v1/perps/0/orders", MAKER, quote("sell", "2001"))
        .await;
    s.ok(
        "/v1/perps/0/orders",
        ALICE,
        json!({"account": m.alice, "side": "buy", "size": "9"}),
    )
    .await;
    for px in ["1850", "1780"] {
        next_second().await;
        s.ok("/v1/prices", ORACLE, json!({"asset": 1, "price": px}))
            .await;
    }
    s.ok("/v1/perps/0/orders", MAKER, quote("buy", "1735.5"))
        .await;
    let (_, q) = s.get("/v1/perps/liquidations").await;
    assert_eq!(q["accounts"][0]["account"], m.alice, "{q}");

    let stats = run_keeper(&s, m.liquidator, "1000000").await;
    assert!(
        stats.perp_takeovers == 1 && stats.perp_unwinds >= 1,
        "{stats:?}"
    );
    let step = perp_steps(&s)
        .await
        .into_iter()
        .find(|l| l["backstop"] == true)
        .expect("a backstop");
    assert_eq!(step["taker"], m.liquidator, "{step}");
    let kept: f64 = step["margin_to_taker"].as_str().unwrap().parse().unwrap();
    assert!(kept > 400.0, "{step}");
    let (_, w) = s.get(&format!("/v1/accounts/{}/perp", m.liquidator)).await;
    assert_eq!(w["positions"].as_array().unwrap().len(), 0, "{w}");
    let cash: f64 = w["cash"].as_str().unwrap().parse().unwrap();
    // Kept about 502, paid about 9 · 44.5 of slippage and the fee: ends about 90 up.
    assert!(cash > 1_000_050.0, "{w}");
    let (_, alice) = s.get(&format!("/v1/accounts/{}/perp", m.alice)).await;
    assert_eq!(alice["positions"].as_array().unwrap().len(), 0, "{alice}");
    s.stop().await;
}
