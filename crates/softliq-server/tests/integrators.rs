//! What integrators write: assets and perp markets by symbol wherever an id is taken (bodies,
//! query strings, paths), one ratio syntax ("20%", "0.2", "2000bps", 0.2) in JSON, cursor
//! paging on lists, and browser access from the origins an operator allows.

mod common;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symbols_stand_for_ids_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let m = seed(&s).await;

    // Bodies: a price, a deposit and a repayment by symbol land on the right asset. (Prices of
    // one asset must be a clock second apart: ten engine seconds per wall second.)
    next_second().await;
    s.ok(
        "/v1/prices",
        ORACLE,
        json!({"asset": "WETH", "price": "2001"}),
    )
    .await;
    let (_, markets) = s.get("/v1/markets").await;
    assert_eq!(markets["markets"][1]["price"], "2001");
    let out = s
        .ok(
            &format!("/v1/accounts/{}/repay", m.alice),
            ALICE,
            json!({"asset": "USDC", "amount": "1000"}),
        )
        .await;
    let repaid = out["events"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|e| e.get("repaid"));
    assert_eq!(repaid.map(|r| &r["asset"]), Some(&json!(0)), "{out}");

    // Unknown symbol: 404 naming the field and what is listed, and nothing changes.
    let before = s.hash().await;
    let (st, e) = s
        .post(
            &format!("/v1/accounts/{}/deposit", m.alice),
            ALICE,
            json!({"asset": "usdc", "amount": "1"}),
        )
        .await;
    assert_eq!(st, 404, "{e}");
    assert_eq!(e["error"]["field"], "asset");
    assert_eq!(e["error"]["code"], "unknown_asset");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("listed: USDC, WETH"),
        "{e}"
    );
    assert_eq!(s.hash().await, before);

    // Paths: parameters by symbol; a symbol of digits cannot be listed (it reads as an id).
    s.ok(
        "/v1/assets/WETH/params",
        ADMIN,
        json!({"params": params("WETH")}),
    )
    .await;
    let (st, e) = s
        .post(
            "/v1/assets/DOGE/params",
            ADMIN,
            json!({"params": params("WETH")}),
        )
        .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (404, Some("asset")),
        "{e}"
    );
    let (st, e) = s
        .post(
            "/v1/assets",
            ADMIN,
            json!({"symbol": "1000", "params": params("USDC")}),
        )
        .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (422, Some("symbol")),
        "{e}"
    );
    assert!(e["error"]["message"].as_str().unwrap().contains("digits"));

    // Query strings: a quote on the pair by symbols equals the quote by ids.
    next_second().await;
    s.ok(
        "/v1/prices",
        ORACLE,
        json!({"asset": "WETH", "price": "1700"}),
    )
    .await;
    let by_id = s
        .get(&format!(
            "/v1/accounts/{}/quote?debt_asset=0&collateral_asset=1",
            m.alice
        ))
        .await;
    let by_symbol = s
        .get(&format!(
            "/v1/accounts/{}/quote?debt_asset=USDC&collateral_asset=WETH",
            m.alice
        ))
        .await;
    assert_eq!(by_id.0, 200, "{}", by_id.1);
    assert_eq!(by_id.1["call"], by_symbol.1["call"]);
    let (st, e) = s
        .get(&format!(
            "/v1/accounts/{}/quote?debt_asset=USDC&collateral_asset=BTC",
            m.alice
        ))
        .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (404, Some("collateral_asset"))
    );

    // The liquidation itself, by symbols.
    let call = &by_symbol.1["call"];
    s.ok(
        "/v1/liquidations",
        LIQUIDATOR,
        json!({"liquidator": m.liquidator, "borrower": m.alice, "debt_asset": "USDC",
            "collateral_asset": "WETH", "max_repay": call["max_repay"],
            "min_collateral_out": call["min_collateral_out"]}),
    )
    .await;

    // Perps: listed on an index asset by symbol, then reached by their own symbol in paths.
    let mut params = perp_params();
    params["index_asset"] = json!("WETH");
    s.ok(
        "/v1/perps",
        ADMIN,
        json!({"symbol": "ETH-PERP", "params": params}),
    )
    .await;
    let (st, book) = s.get("/v1/perps/ETH-PERP/book").await;
    assert_eq!((st, book["market"].as_u64()), (200, Some(0)), "{book}");
    let (st, e) = s.get("/v1/perps/BTC-PERP/book").await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (404, Some("market")),
        "{e}"
    );
    assert!(e["error"]["message"].as_str().unwrap().contains("ETH-PERP"));
    let (st, e) = s
        .post(
            "/v1/perps",
            ADMIN,
            json!({"symbol": "ETH-PERP", "params": perp_params()}),
        )
        .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (422, Some("symbol")),
        "{e}"
    );
    s.ok(
        "/v1/perps/ETH-PERP/insurance",
        ADMIN,
        json!({"amount": "100"}),
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ratios_read_the_same_in_every_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    seed(&s).await;
    let policy = |fraction: serde_json::Value, share: serde_json::Value| {
        json!({"policy": {"rule": {"Soft": {"max_fraction": fraction}}, "dust_value": "10",
            "insurance_share": share}})
    };
    let mut seen = Vec::new();
    for (fraction, share) in [
        (json!("0.2"), json!("0.5")),
        (json!("20%"), json!("5000bps")),
        (json!(0.2), json!("50 %")),
    ] {
        s.ok("/v1/policy", ADMIN, policy(fraction, share)).await;
        let (_, markets) = s.get("/v1/markets").await;
        seen.push(markets["policy_params"].clone());
    }
    assert_eq!(
        seen[0]["rule"]["Soft"]["max_fraction"], "0.2",
        "{}",
        seen[0]
    );
    assert_eq!(seen[0]["insurance_share"], "0.5");
    assert!(seen.iter().all(|p| p == &seen[0]), "{seen:?}");
    let (st, e) = s
        .post("/v1/policy", ADMIN, policy(json!("20 pc"), json!("0.5")))
        .await;
    assert_eq!(st, 422, "{e}");
    assert_eq!(e["error"]["field"], "policy.rule.Soft.max_fraction", "{e}");
    s.stop().await;
}

/// Every list pages with a cursor: the pages of the at-risk list, followed through `next`,
/// are the whole list once, in order; a cursor that is not one is refused naming `after`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_with_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    seed(&s).await;
    for borrowed in ["1000", "3000", "5000", "7000", "9000"] {
        let id = opened(&s.ok("/v1/accounts", ALICE, json!({})).await);
        let at = |op: &str| format!("/v1/accounts/{id}/{op}");
        s.ok(
            &at("deposit"),
            ALICE,
            json!({"asset": "WETH", "amount": "10"}),
        )
        .await;
        s.ok(
            &at("borrow"),
            ALICE,
            json!({"asset": "USDC", "amount": borrowed}),
        )
        .await;
    }
    let ids = |v: &serde_json::Value| -> Vec<u64> {
        v["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["account"].as_u64().unwrap())
            .collect()
    };
    let (_, all) = s.get("/v1/accounts?limit=1000").await;
    assert_eq!(all["next"], serde_json::Value::Null);
    let whole = ids(&all);
    assert_eq!(whole.len(), 6, "{all}");
    let mut paged = Vec::new();
    let mut path = "/v1/accounts?limit=4".to_owned();
    let mut pages = 0;
    loop {
        let (st, page) = s.get(&path).await;
        assert_eq!(st, 200, "{page}");
        paged.extend(ids(&page));
        pages += 1;
        assert!(pages <= 3, "the cursor does not advance: {page}");
        match page["next"].as_str() {
            Some(next) => path = format!("/v1/accounts?limit=4&after={next}"),
            None => break,
        }
    }
    assert_eq!((paged, pages), (whole, 2));
    let (st, e) = s.get("/v1/accounts?after=12").await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (422, Some("after")),
        "{e}"
    );

    // Events: `next` is the `since` of the following page, `null` at the end.
    let (_, first) = s.get("/v1/events?limit=5").await;
    let next = first["next"].as_u64().expect("more events");
    assert_eq!(first["entries"][4]["seq"].as_u64(), Some(next));
    let (_, rest) = s.get(&format!("/v1/events?since={next}&limit=1000")).await;
    assert_eq!(rest["next"], serde_json::Value::Null, "{}", rest["next"]);
    s.stop().await;
}

/// CORS: no headers unless configured; a configured origin's preflight is answered and its
/// responses marked, another origin's are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_only_the_configured_origins() {
    let preflight = |s: &TestServer, origin: &str| {
        s.http
            .request(reqwest::Method::OPTIONS, format!("{}/v1/prices", s.url))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization,content-type",
            )
            .send()
    };
    let allowed = |r: &reqwest::Response| {
        r.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let r = preflight(&s, "https://risk.example.com").await.unwrap();
    assert_eq!(allowed(&r), None, "CORS is off by default");
    s.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(dir.path(), |c| {
        c.cors = softliq_server::cors::Origins::parse(["https://risk.example.com"]).unwrap();
    })
    .await;
    let r = preflight(&s, "https://risk.example.com").await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(allowed(&r).as_deref(), Some("https://risk.example.com"));
    let methods = r.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(methods.contains("POST"), "{methods}");
    let headers = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(headers.contains("authorization"), "{headers}");
    let r = preflight(&s, "https://evil.example.com").await.unwrap();
    assert_eq!(allowed(&r), None);
    let r = s
        .http
        .get(format!("{}/v1/markets", s.url))
        .header("Origin", "https://risk.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed(&r).as_deref(), Some("https://risk.example.com"));
    s.stop().await;
}

/// Analysts' export: the liquidations of a time range as CSV, one row per call with the
/// figures of its event; the events list takes the same range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liquidations_export_as_csv_over_a_time_range() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let m = seed(&s).await;
    let (quote, out) = crash_and_liquidate(&s, &m, "1700").await;
    let call = &quote["call"];
    let seq = out["seq"].as_u64().unwrap();
    let (_, entry) = s
        .get(&format!("/v1/events?since={}&limit=1", seq - 1))
        .await;
    let at = entry["entries"][0]["timestamp_s"].as_u64().unwrap();
    let event = entry["entries"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|e| e.get("liquidated"))
        .unwrap()
        .clone();

    let csv = |query: String| {
        let s = &s;
        async move {
            let r = s
                .http
                .get(format!("{}/v1/liquidations.csv{query}", s.url))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let kind = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            (status, kind, r.text().await.unwrap())
        }
    };
    let (st, kind, text) = csv(String::new()).await;
    assert_eq!(st, 200, "{text}");
    assert!(kind.unwrap().starts_with("text/csv"));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let header: Vec<&str> = lines[0].split(',').collect();
    let row: Vec<&str> = lines[1].split(',').collect();
    let col = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(col("seq"), seq.to_string());
    assert_eq!(col("timestamp_s"), at.to_string());
    assert!(col("time_utc").ends_with('Z'));
    assert_eq!(col("borrower"), m.alice.to_string());
    assert_eq!(col("liquidator"), m.liquidator.to_string());
    assert_eq!(
        (col("debt_asset"), col("collateral_asset")),
        ("USDC", "WETH")
    );
    assert_eq!(col("policy"), event["policy"].as_str().unwrap());
    assert_eq!(col("repaid"), call["max_repay"].as_str().unwrap());
    assert_eq!(
        col("repaid_usd"),
        event["quote"]["repaid_value"].as_str().unwrap()
    );
    assert_eq!(
        col("seized_usd"),
        event["quote"]["seized_value"].as_str().unwrap()
    );
    assert_eq!(
        col("health_before"),
        event["quote"]["health_before"].as_str().unwrap()
    );

    // The range: a window around the call holds it, one after it does not.
    let (_, _, inside) = csv(format!("?from_s={at}&to_s={at}")).await;
    assert_eq!(inside.lines().count(), 2, "{inside}");
    let (_, _, after) = csv(format!("?from_s={}", at + 1)).await;
    assert_eq!(after.lines().count(), 1, "only the header: {after}");
    let (_, _, before) = csv(format!("?to_s={}", at - 1)).await;
    assert_eq!(before.lines().count(), 1, "only the header: {before}");
    let (st, _, e) = csv(format!("?from_s={at}&to_s={}", at - 1)).await;
    assert_eq!(st, 422, "{e}");
    assert!(e.contains("to_s"));

    // Events over the same range start at the first entry of that second.
    let (_, page) = s
        .get(&format!("/v1/events?from_s={at}&to_s={at}&limit=1000"))
        .await;
    let entries = page["entries"].as_array().unwrap();
    assert!(entries.iter().all(|e| e["timestamp_s"] == at), "{page}");
    assert!(entries.iter().any(|e| e["seq"] == seq));
    assert_eq!(page["next"], serde_json::Value::Null);
    let (_, page) = s.get(&format!("/v1/events?from_s={}", at + 1)).await;
    assert!(
        page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["timestamp_s"].as_u64() > Some(at))
    );
    s.stop().await;
}

/// With an event store configured, the export reads from PostgreSQL (the machine's, database
/// `test`, a schema of the test's own) through the projector's position, and gives exactly the
/// bytes the log gives once the server runs without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liquidations_export_from_postgres_equals_the_export_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let schema = format!("export_{}", std::process::id());
    let url = std::env::var("SOFTLIQ_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".into());
    let history = softliq_history::HistoryConfig {
        url: url.clone(),
        schema: schema.clone(),
    };
    let s = TestServer::start_with(dir.path(), |c| c.history = Some(history.clone())).await;
    let m = seed(&s).await;
    let (_, out) = crash_and_liquidate(&s, &m, "1700").await;
    let seq = out["seq"].as_u64().unwrap();
    let export = |s: &TestServer| {
        let (http, url) = (s.http.clone(), s.url.clone());
        async move {
            let r = http
                .get(format!("{url}/v1/liquidations.csv"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            let source = r.headers()["x-softliq-source"].to_str().unwrap().to_owned();
            (source, r.text().await.unwrap())
        }
    };
    let started = std::time::Instant::now();
    let from_postgres = loop {
        let (source, text) = export(&s).await;
        let through: u64 = source
            .strip_prefix("postgres; through_seq=")
            .unwrap_or_else(|| panic!("source {source}"))
            .parse()
            .unwrap();
        if through >= seq {
            break text;
        }
        assert!(
            started.elapsed().as_secs() < 20,
            "the projector stayed at {through}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(from_postgres.lines().count(), 2, "{from_postgres}");
    let (_, activity_pg) = s.get("/v1/activity").await;
    s.stop().await;

    let s = TestServer::start(dir.path()).await;
    let (source, from_log) = export(&s).await;
    assert_eq!(source, "log");
    assert_eq!(from_postgres, from_log);
    // The dashboard's activity from the event store is the activity counted from the log.
    let activity_log = loop {
        let (_, a) = s.get("/v1/activity").await;
        if a["complete"] == true {
            break a;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(activity_pg["totals"]["liquidations"], 1);
    assert_eq!(activity_pg, activity_log);
    s.stop().await;

    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
