//! The API against a real server on a loopback port: every endpoint, every role boundary,
//! idempotent retries, liquidation end to end, graceful shutdown and recovery.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_queries_and_a_liquidation_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;

    // Static endpoints.
    let (st, doc) = s.get("/openapi.json").await;
    assert_eq!(st, 200);
    assert!(doc["paths"]["/v1/liquidations"]["post"].is_object());
    let (st, page) = s.get("/").await;
    assert_eq!(st, 200);
    assert!(page.as_str().unwrap().contains("id=\"feed\""));
    let (st, _) = s.get("/healthz").await;
    assert_eq!(st, 200);
    let (st, e) = s.get("/v1/nowhere").await;
    assert_eq!((st, e["error"]["field"].as_str()), (404, Some("path")));

    // Authentication: none, malformed, unknown → 401 JSON naming Authorization.
    let body = json!({"symbol": "USDC", "params": params("USDC")}).to_string();
    for token in [None, Some("not-a-real-token-at-all")] {
        let (st, e) = s
            .post_raw("/v1/assets", token, None, body.clone().into_bytes())
            .await;
        assert_eq!(st, 401, "{e}");
        assert_eq!(e["error"]["field"], "Authorization");
    }
    // Only admin lists assets, only the oracle posts prices.
    for token in [ORACLE, ALICE, LIQUIDATOR] {
        let (st, e) = s
            .post(
                "/v1/assets",
                token,
                json!({"symbol": "USDC", "params": params("USDC")}),
            )
            .await;
        assert_eq!(
            (st, e["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{e}"
        );
    }
    let m = seed(&s).await;
    for token in [ADMIN, ALICE, LIQUIDATOR] {
        let (st, _) = s
            .post("/v1/prices", token, json!({"asset": 1, "price": "1999"}))
            .await;
        assert_eq!(st, 403);
    }
    // Parameters, policy, insurance and time: admin only.
    let admin_calls = [
        (
            "/v1/assets/1/params".to_owned(),
            json!({"params": params("WETH")}),
        ),
        (
            "/v1/policy".to_owned(),
            json!({"policy": {"rule": {"Soft": {"max_fraction": "0.2"}}, "dust_value": "10", "insurance_share": "0.5"}, "liquidation_price": "spot"}),
        ),
        (
            "/v1/insurance".to_owned(),
            json!({"asset": 0, "amount": "5000"}),
        ),
        ("/v1/time".to_owned(), json!({})),
    ];
    for (path, body) in &admin_calls {
        let (st, _) = s.post(path, ORACLE, body.clone()).await;
        assert_eq!(st, 403, "{path}");
        s.ok(path, ADMIN, body.clone()).await;
    }
    // A need-sized incentive and a minimum call over JSON; a discount the assets cannot pay
    // is refused with the field named, and changes nothing.
    let need = |max: &str| {
        json!({"policy": {"rule": {"Soft": {"max_fraction": "0.2"}}, "dust_value": "10",
            "insurance_share": "0.5", "min_call_value": "1000",
            "incentive": {"Need": {"discount_min": "0.005", "discount_max": max,
                "shortfall_slope": "0", "ramp_s": 3600, "protocol_fee": "0.1"}}}})
    };
    let before = s.hash().await;
    let (st, err) = s.post("/v1/policy", ADMIN, need("0.16")).await;
    assert_eq!(
        (st, err["error"]["field"].as_str()),
        (422, Some("policy.discount_max")),
        "{err}"
    );
    assert_eq!(s.hash().await, before);
    s.ok("/v1/policy", ADMIN, need("0.08")).await;
    s.ok("/v1/policy", ADMIN, admin_calls[1].1.clone()).await;
    // The same policy by name, in a simulator scenario's syntax, sets the same policy (the
    // named `soft` brings its own 1,000 USD minimum call; the exact body above has none).
    let exact = s.get("/v1/markets").await.1["policy_params"].clone();
    let named = json!({"mechanism": "soft", "overrides": {"max_fraction": "20%", "dust_usd": 10,
        "insurance_share": "50%", "min_call_usd": 0}, "liquidation_price": "spot"});
    s.ok("/v1/policy", ADMIN, need("0.08")).await;
    s.ok("/v1/policy", ADMIN, named).await;
    assert_eq!(s.get("/v1/markets").await.1["policy_params"], exact);
    let before = s.hash().await;
    for (body, field) in [
        (
            json!({"mechanism": "soft", "overrides": {"max_fractoin": "20%"}}),
            "overrides.max_fractoin",
        ),
        (json!({"mechanism": "softer"}), "mechanism"),
        (
            json!({"mechanism": "soft", "overrides": {"discount_max": "5%"}}),
            "overrides.discount_max",
        ),
        (
            json!({"mechanism": "soft", "policy": exact.clone()}),
            "policy",
        ),
        (json!({"liquidation_price": "spot"}), "policy"),
        (
            json!({"policy": exact.clone(), "overrides": {}}),
            "overrides",
        ),
    ] {
        let (st, err) = s.post("/v1/policy", ADMIN, body.clone()).await;
        assert_eq!(
            (st, err["error"]["field"].as_str()),
            (422, Some(field)),
            "{body}: {err}"
        );
    }
    assert_eq!(s.hash().await, before, "a refused policy changes nothing");

    // An account token touches only its own accounts; admin touches none.
    for (token, account) in [
        (BOB, m.alice),
        (ALICE, m.lender),
        (ADMIN, m.alice),
        (LIQUIDATOR, m.alice),
    ] {
        for op in ["deposit", "withdraw", "borrow", "repay"] {
            let (st, e) = s
                .post(
                    &format!("/v1/accounts/{account}/{op}"),
                    token,
                    json!({"asset": 0, "amount": "1"}),
                )
                .await;
            assert_eq!(st, 403, "{op} on {account}: {e}");
        }
    }
    // Repay 2 and borrow 1 back: the seed borrowed right at the borrowing power, and interest
    // accrued since (whenever the server's clock has ticked a second) must not tip the
    // re-borrow over it.
    s.ok(
        &format!("/v1/accounts/{}/repay", m.alice),
        ALICE,
        json!({"asset": 0, "amount": "2"}),
    )
    .await;
    s.ok(
        &format!("/v1/accounts/{}/borrow", m.alice),
        ALICE,
        json!({"asset": 0, "amount": "1"}),
    )
    .await;

    // Queries.
    let (st, markets) = s.get("/v1/markets").await;
    assert_eq!(st, 200);
    assert_eq!(markets["markets"][1]["symbol"], "WETH", "{markets}");
    assert_eq!(markets["markets"][1]["price"], "2000");
    assert_eq!(markets["policy"], "soft");
    let (st, acct) = s.get(&format!("/v1/accounts/{}", m.alice)).await;
    assert_eq!(st, 200);
    assert_eq!(acct["owner"], "alice");
    assert!(
        acct["report"]["health_factor"]
            .as_str()
            .unwrap()
            .starts_with("1.03")
    );
    let weth = acct["report"]["liquidation_prices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|lp| lp["asset"] == "WETH")
        .unwrap();
    // 10 WETH · lt 0.825 · p = 15,999 USDC (after repaying 2, borrowing 1) → p ≈ 1,939.27.
    assert_eq!(weth["direction"], "falls");
    assert!(
        weth["price"].as_str().unwrap().starts_with("1939.27"),
        "{weth}"
    );
    let (st, _) = s.get("/v1/accounts/999999").await;
    assert_eq!(st, 404);
    let (st, e) = s.get("/v1/accounts/abc").await;
    assert_eq!((st, e["error"]["field"].as_str()), (422, Some("id")));
    let (st, list) = s.get("/v1/accounts?limit=5").await;
    assert_eq!(st, 200);
    assert_eq!(list["accounts"][0]["account"], m.alice);
    assert_eq!(list["total"], 1);
    let (st, e) = s.get("/v1/accounts?limit=0").await;
    assert_eq!((st, e["error"]["field"].as_str()), (422, Some("limit")));
    let (st, e) = s.get(&format!("/v1/accounts/{}/quote", m.alice)).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (409, Some("not_liquidatable")),
        "{e}"
    );

    // WETH falls 10%: alice becomes liquidatable (HF ≈ 0.93).
    next_second().await;
    s.ok("/v1/prices", ORACLE, json!({"asset": 1, "price": "1800"}))
        .await;
    let (_, list) = s.get("/v1/accounts?liquidatable=true").await;
    assert_eq!(list["accounts"][0]["account"], m.alice, "{list}");
    let (st, q) = s.get(&format!("/v1/accounts/{}/quote", m.alice)).await;
    assert_eq!(st, 200, "{q}");
    assert_eq!(q["policy"], "soft");
    let mut call = q["call"].clone();
    call["liquidator"] = m.liquidator.into();

    // Only a liquidator token, paying into an account it owns.
    let (st, _) = s.post("/v1/liquidations", ALICE, call.clone()).await;
    assert_eq!(st, 403);
    let mut foreign = call.clone();
    foreign["liquidator"] = m.lender.into();
    let (st, e) = s.post("/v1/liquidations", LIQUIDATOR, foreign).await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (403, Some("liquidator"))
    );

    // Idempotent retry: same key, same body → the first outcome; a different body → 409.
    let bytes = call.to_string().into_bytes();
    let (st, first) = s
        .post_raw(
            "/v1/liquidations",
            Some(LIQUIDATOR),
            Some("k-1"),
            bytes.clone(),
        )
        .await;
    assert_eq!(st, 200, "{first}");
    let liquidated = &first["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["liquidated"].is_object())
        .unwrap()["liquidated"];
    assert_eq!(liquidated["borrower"], m.alice);
    // Events carry exact base units as strings: 1,000 USDC = 1,000,000,000 units at most.
    let repaid: u128 = liquidated["quote"]["repaid"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        repaid > 0 && repaid <= 16_001_000_000 / 5,
        "soft cap: {repaid}"
    );
    let hash = s.hash().await;
    let (st, again) = s
        .post_raw("/v1/liquidations", Some(LIQUIDATOR), Some("k-1"), bytes)
        .await;
    assert_eq!(st, 200);
    assert_eq!(again, first);
    assert_eq!(s.hash().await, hash, "a retry changed the state");
    let mut other = call.clone();
    other["max_repay"] = "1".into();
    let (st, e) = s
        .post_raw(
            "/v1/liquidations",
            Some(LIQUIDATOR),
            Some("k-1"),
            other.to_string().into_bytes(),
        )
        .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (409, Some("idempotency_conflict")),
        "{e}"
    );
    // The same key from another token is another command (keys are scoped to the caller).
    let (st, e) = s
        .post_raw(
            &format!("/v1/accounts/{}/repay", m.lender),
            Some(BOB),
            Some("k-1"),
            json!({"asset": 0, "amount": "1"}).to_string().into_bytes(),
        )
        .await;
    // Bob owes nothing: refused on its own merits, not as a conflict with alice's key.
    assert!((400..500).contains(&st), "{e}");
    assert_ne!(e["error"]["code"], "idempotency_conflict");

    // Protocol, events, metrics.
    let (st, p) = s.get("/v1/protocol").await;
    assert_eq!(st, 200);
    assert_eq!(p["assets"][0]["symbol"], "USDC");
    assert!(!p["insurance"]["positions"].as_array().unwrap().is_empty());
    let (st, ev) = s.get("/v1/events?since=0&limit=1000").await;
    assert_eq!(st, 200);
    let entries = ev["entries"].as_array().unwrap();
    assert_eq!(entries.len() as u64, ev["head"].as_u64().unwrap());
    assert!(
        entries
            .windows(2)
            .all(|w| w[1]["seq"].as_u64() == w[0]["seq"].as_u64().map(|x| x + 1))
    );
    assert!(entries.iter().any(|e| e["kind"] == "liquidate"));
    let (st, metrics) = s.get("/metrics").await;
    assert_eq!(st, 200);
    let text = metrics.as_str().unwrap();
    for needle in [
        "softliq_commands_total{kind=\"liquidate\"} 1",
        "softliq_liquidations_total{policy=\"soft\"} 1",
        "softliq_rejections_total{code=\"forbidden\"}",
        "softliq_rejections_total{code=\"idempotency_conflict\"} 1",
        "softliq_account_health_factor_bucket",
        "softliq_insurance_fund_tokens{asset=\"USDC\"} 5000",
        "softliq_commit_seconds_count",
        "softliq_detection_seconds_count",
    ] {
        assert!(text.contains(needle), "metrics lack {needle}:\n{text}");
    }
    // Negotiated on Accept: the classic text format by default, OpenMetrics when asked.
    assert!(!text.contains("# EOF") && text.contains("# TYPE softliq_commands_total counter"));
    let om = s
        .http
        .get(format!("{}/metrics", s.url))
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )
        .send()
        .await
        .unwrap();
    assert!(
        om.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let om = om.text().await.unwrap();
    assert!(
        om.ends_with("# EOF\n") && om.contains("# TYPE softliq_commands counter"),
        "{om}"
    );

    // Graceful shutdown, then recovery: the same state.
    let hash = s.hash().await;
    s.stop().await;
    let s = TestServer::start(dir.path()).await;
    assert_eq!(s.hash().await, hash);
    s.stop().await;
}

/// Reads SSE frames from `resp` until `n` entries arrived; returns their sequence numbers.
async fn read_entries(resp: &mut reqwest::Response, n: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    let mut buf = String::new();
    while seqs.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .expect("stream stalled")
            .unwrap()
            .expect("stream ended");
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            let id = frame.lines().find_map(|l| l.strip_prefix("id:"));
            let data = frame.lines().find_map(|l| l.strip_prefix("data:"));
            if let (Some(id), Some(data)) = (id, data) {
                let v: serde_json::Value = serde_json::from_str(data.trim()).unwrap();
                assert_eq!(v["seq"].as_u64().unwrap().to_string(), id.trim());
                seqs.push(id.trim().parse().unwrap());
            }
        }
    }
    seqs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_resumes_after_disconnect_without_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let m = seed(&s).await;
    let head = s.get("/v1/status").await.1["durable_seq"].as_u64().unwrap();

    // From the start: the backlog, in order.
    let mut resp = s
        .http
        .get(format!("{}/v1/stream?since=0", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let first = read_entries(&mut resp, 5).await;
    assert_eq!(first, vec![1, 2, 3, 4, 5]);
    drop(resp);

    // While disconnected, more commands land.
    for _ in 0..20 {
        s.ok(
            &format!("/v1/accounts/{}/deposit", m.lender),
            BOB,
            json!({"asset": 0, "amount": "1"}),
        )
        .await;
    }
    // Reconnect with Last-Event-ID: everything after 5, then live entries, no gap.
    let mut resp = s
        .http
        .get(format!("{}/v1/stream", s.url))
        .header("Last-Event-ID", "5")
        .send()
        .await
        .unwrap();
    let backlog = (head + 20 - 5) as usize;
    let rest = read_entries(&mut resp, backlog).await;
    assert_eq!(rest, (6..=head + 20).collect::<Vec<_>>());
    // And live ones as they are committed.
    for _ in 0..3 {
        s.ok(
            &format!("/v1/accounts/{}/deposit", m.lender),
            BOB,
            json!({"asset": 0, "amount": "1"}),
        )
        .await;
    }
    let live = read_entries(&mut resp, 3).await;
    assert_eq!(live, vec![head + 21, head + 22, head + 23]);
    let bad = s
        .http
        .get(format!("{}/v1/stream", s.url))
        .header("Last-Event-ID", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    drop(resp);
    s.stop().await;
}

/// A quote says when a price it rests on is stale at the engine's time now (the keeper then
/// waits instead of sending a call the engine refuses). 2,000 engine seconds per wall second:
/// WETH (max_staleness_s = 3600) goes stale 1.8 s after its last price.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_says_when_its_price_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(dir.path(), |c| c.clock_speed = 2_000).await;
    let m = seed(&s).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    s.ok("/v1/prices", ORACLE, json!({"asset": 1, "price": "1800"}))
        .await;
    let (st, q) = s.get(&format!("/v1/accounts/{}/quote", m.alice)).await;
    assert_eq!((st, &q["price_stale"]), (200, &json!(false)), "{q}");
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let (st, q) = s.get(&format!("/v1/accounts/{}/quote", m.alice)).await;
    assert_eq!((st, &q["price_stale"]), (200, &json!(true)), "{q}");
    let mut call = q["call"].clone();
    call["liquidator"] = m.liquidator.into();
    let (st, e) = s.post("/v1/liquidations", LIQUIDATOR, call).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (409, Some("stale_price")),
        "{e}"
    );
    s.stop().await;
}
