//! Bad input on every `POST` endpoint, generated from the served OpenAPI document, so that a
//! new endpoint is covered as soon as it is documented: malformed JSON, wrong shapes, missing
//! and unknown fields, wrong types, negative / zero / over-precise / overflowing / malformed
//! amounts, unknown ids, bad path ids and an oversize body. Each must be a 4xx JSON error that
//! names the field at fault — never a 5xx — and leave the state hash unchanged.

mod common;

use common::*;
use serde_json::{Value, json};

/// Who may call a path: a new endpoint must be added here, or this test fails on it.
fn token_for(path: &str) -> &'static str {
    match path {
        "/v1/assets"
        | "/v1/assets/{asset}/params"
        | "/v1/policy"
        | "/v1/insurance"
        | "/v1/time" => ADMIN,
        "/v1/prices" => ORACLE,
        "/v1/liquidations" | "/v1/absorptions" | "/v1/storefront" | "/v1/perps/liquidations" => {
            LIQUIDATOR
        }
        "/v1/perps" | "/v1/perps/{market}/params" | "/v1/perps/{market}/insurance" => ADMIN,
        p if p.starts_with("/v1/perps/") => ALICE,
        p if p.starts_with("/v1/auctions") => LIQUIDATOR,
        p if p.starts_with("/v1/accounts") => ALICE,
        other => panic!("no role known for the new endpoint {other}: add it to token_for"),
    }
}

/// A valid value for a property, by name (and path, where one name means two things); a new
/// property must be added here.
fn valid(name: &str, path: &str, m: &Market) -> Value {
    match name {
        "params" if path.starts_with("/v1/perps") => perp_params(),
        "account" => json!(m.alice),
        "side" => json!("buy"),
        "size" => json!("1"),
        // Optional, and `mechanism` replaces `policy`: the base body sends the exact policy.
        "tif" | "reduce_only" | "take_backstop" | "mechanism" | "overrides" => Value::Null,
        "asset" | "debt_asset" => json!(0),
        "collateral_asset" => json!(1),
        "borrower" => json!(m.alice),
        "liquidator" | "keeper" | "absorber" | "buyer" => json!(m.liquidator),
        "pay_asset" => json!(1),
        "amount" | "price" | "max_repay" | "min_collateral_out" | "max_price" | "max_pay"
        | "min_out" => json!("1"),
        "published_s" => Value::Null,
        "symbol" => json!("NEW"),
        "params" => params("WETH"),
        "policy" => {
            json!({"rule": {"Soft": {"max_fraction": "0.2"}}, "dust_value": "10", "insurance_share": "0"})
        }
        "liquidation_price" => json!("spot"),
        other => panic!("no valid value known for the new property {other}: add it to valid"),
    }
}

struct Case {
    label: String,
    path: String,
    body: Vec<u8>,
    /// The field the error must name.
    field: String,
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn cases_for(doc: &Value, path: &str, op: &Value, m: &Market) -> Vec<Case> {
    let concrete = path
        .replace("{id}", &m.alice.to_string())
        .replace("{asset}", "1")
        .replace("{market}", "0")
        .replace("{order}", "1");
    let schema = resolve(
        doc,
        &op["requestBody"]["content"]["application/json"]["schema"],
    );
    let props = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let required: Vec<String> = schema["required"]
        .as_array()
        .map(|r| r.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    let mut base = serde_json::Map::new();
    for name in props.keys() {
        let v = valid(name, path, m);
        if !v.is_null() {
            base.insert(name.clone(), v);
        }
    }
    let with = |name: &str, v: Value| {
        let mut b = base.clone();
        b.insert(name.to_owned(), v);
        Value::Object(b).to_string().into_bytes()
    };
    let case = |label: &str, path: &str, body: Vec<u8>, field: &str| Case {
        label: label.to_owned(),
        path: path.to_owned(),
        body,
        field: field.to_owned(),
    };
    let mut out = vec![
        case(
            "malformed JSON",
            &concrete,
            b"{\"asset\": ".to_vec(),
            "body",
        ),
        case("an array", &concrete, b"[]".to_vec(), "body"),
        case("oversize", &concrete, vec![b' '; 64 * 1024], "body"),
        case(
            "unknown field",
            &concrete,
            with("zzz_unknown", json!(1)),
            "zzz_unknown",
        ),
    ];
    if path.contains("{id}") {
        let good = Value::Object(base.clone()).to_string().into_bytes();
        out.push(case(
            "path id not a number",
            &path.replace("{id}", "abc"),
            good.clone(),
            "id",
        ));
        for bad in ["+3", "03", " 3"] {
            out.push(case(
                &format!("path id {bad:?}"),
                &path.replace("{id}", bad),
                good.clone(),
                "id",
            ));
        }
        out.push(case(
            "path id unknown",
            &path.replace("{id}", "99999999"),
            good,
            "id",
        ));
    }
    for param in ["market", "order"] {
        let hole = format!("{{{param}}}");
        if !path.contains(&hole) {
            continue;
        }
        let good = Value::Object(base.clone()).to_string().into_bytes();
        let at = |id: &str| {
            let mut p = path.replace("{id}", &m.alice.to_string());
            for (other, other_id) in [("market", "0"), ("order", "1")] {
                let value = if other == param { id } else { other_id };
                p = p.replace(&format!("{{{other}}}"), value);
            }
            p
        };
        out.push(case(
            &format!("path {param} not a number"),
            &at("x"),
            good.clone(),
            param,
        ));
        out.push(case(
            &format!("path {param} unknown"),
            &at("9999"),
            good,
            param,
        ));
    }
    if path.contains("{asset}") {
        let good = Value::Object(base.clone()).to_string().into_bytes();
        out.push(case(
            "path asset not a number",
            &path.replace("{asset}", "x"),
            good.clone(),
            "asset",
        ));
        out.push(case(
            "path asset unknown",
            &path.replace("{asset}", "999"),
            good,
            "asset",
        ));
    }
    for name in &required {
        let mut b = base.clone();
        b.remove(name);
        out.push(case(
            "missing",
            &concrete,
            Value::Object(b).to_string().into_bytes(),
            name,
        ));
    }
    for (name, prop) in &props {
        let prop = resolve(doc, prop);
        let ty = prop["type"]
            .as_str()
            .or_else(|| prop["type"][0].as_str())
            .unwrap_or("object");
        let wrong = match ty {
            "integer" => vec![json!("x"), json!(-1), json!(1.5), json!(1e30)],
            "string" => vec![json!(12345), json!(["1"])],
            _ => vec![json!("x"), json!(7)],
        };
        for w in wrong {
            out.push(case(
                &format!("wrong type {w}"),
                &concrete,
                with(name, w),
                name,
            ));
        }
        if prop["pattern"].is_string() {
            let zero_allowed = prop["description"]
                .as_str()
                .is_some_and(|d| d.contains("zero allowed"));
            let mut bad = vec![
                "-1",
                "1e6",
                "",
                " ",
                "abc",
                "1.2.3",
                "0x10",
                "+1",
                "1,5",
                "0.0000000000000000000000000000001",
                "9999999999999999999999999999999999999999",
                // Exact text: no padding, no line end, no leading zeros.
                " 1",
                "1 ",
                "1\n",
                "00000000000000000001",
            ];
            if !zero_allowed {
                bad.extend(["0", "0.000"]);
            }
            for b in bad {
                out.push(case(
                    &format!("amount {b:?}"),
                    &concrete,
                    with(name, json!(b)),
                    name,
                ));
            }
        }
        if ty == "integer" && name != "published_s" {
            out.push(case(
                "unknown id",
                &concrete,
                with(name, json!(60000)),
                name,
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_post_refuses_bad_input_with_the_field_named_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let m = seed(&s).await;
    // A perp market 0 on WETH, and Alice's order 1 resting on it, for the perp endpoints.
    s.ok(
        "/v1/perps",
        ADMIN,
        json!({"symbol": "WETH-PERP", "params": perp_params()}),
    )
    .await;
    s.ok(
        &format!("/v1/accounts/{}/perp/deposit", m.alice),
        ALICE,
        json!({"amount": "1000"}),
    )
    .await;
    s.ok(
        "/v1/perps/0/orders",
        ALICE,
        json!({"account": m.alice, "side": "buy", "price": "1000", "size": "0.1"}),
    )
    .await;
    let (_, doc) = s.get("/openapi.json").await;
    let mut posts = 0;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(op) = item.get("post") else { continue };
        posts += 1;
        let token = token_for(path);
        for c in cases_for(&doc, path, op, &m) {
            let before = s.hash().await;
            let (status, e) = s.post_raw(&c.path, Some(token), None, c.body).await;
            let what = format!("POST {} ({}): {status} {e}", c.path, c.label);
            assert!((400..500).contains(&status), "{what}");
            assert_eq!(e["error"]["status"], status, "{what}");
            assert!(
                e["error"]["message"]
                    .as_str()
                    .is_some_and(|x| !x.is_empty()),
                "{what}"
            );
            assert_eq!(e["error"]["field"], c.field.as_str(), "{what}");
            assert_eq!(s.hash().await, before, "state changed: {what}");
            checked += 1;
        }
    }
    assert_eq!(posts, 25, "POST endpoints in the document");
    assert!(checked > 250, "only {checked} cases");
    s.stop().await;
}

/// Numeric query parameters are bounded: a sequence number beyond the log's range is a 422
/// naming the parameter, not a panic in the handler (`since` = 2^64 − 1 overflowed `since + 1`
/// and answered 503 "attempt to add with overflow"); the largest valid one is an empty page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_numbers_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    seed(&s).await;
    for path in [
        "/v1/events?since=18446744073709551615",
        "/v1/events?since=9223372036854775808",
        "/v1/stream?since=18446744073709551615",
    ] {
        let (status, e) = s.get(path).await;
        assert_eq!(status, 422, "{path}: {e}");
        assert_eq!(e["error"]["field"], "since", "{path}: {e}");
    }
    let (status, page) = s.get("/v1/events?since=9223372036854775807").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(0));
    for path in [
        "/v1/events?limit=0",
        "/v1/events?limit=18446744073709551615",
    ] {
        let (status, e) = s.get(path).await;
        assert_eq!(status, 422, "{path}: {e}");
        assert_eq!(e["error"]["field"], "limit", "{path}: {e}");
    }
    s.stop().await;
}

/// The OpenAPI document declares each parameter where it is read: a path parameter is a
/// `{name}` of its path and every `{name}` is declared as one; query parameters are `in: query`.
/// (Nine query parameters, `limit` on GET `/v1/accounts` among them, were declared as path
/// parameters, which made the document invalid.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_parameters_are_declared_where_they_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let (_, doc) = s.get("/openapi.json").await;
    let mut query = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let mut declared = Vec::new();
            for p in &params {
                let (name, place) = (p["name"].as_str().unwrap(), p["in"].as_str().unwrap());
                match place {
                    "path" => {
                        assert!(
                            path.contains(&format!("{{{name}}}")),
                            "{method} {path}: {name} is no part of the path"
                        );
                        assert_eq!(p["required"], true, "{method} {path}: {name}");
                        declared.push(name.to_owned());
                    }
                    "query" => query += 1,
                    other => panic!("{method} {path}: {name} in {other}"),
                }
            }
            for segment in path.split('/').filter(|x| x.starts_with('{')) {
                let name = segment.trim_matches(|c| c == '{' || c == '}');
                assert!(
                    declared.iter().any(|d| d == name),
                    "{method} {path}: {{{name}}} is not declared"
                );
            }
        }
    }
    assert!(query >= 8, "query parameters in the document: {query}");
    let in_query = |path: &str, name: &str| {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == name && p["in"] == "query")
    };
    assert!(in_query("/v1/accounts", "limit") && in_query("/v1/events", "since"));
    s.stop().await;
}
