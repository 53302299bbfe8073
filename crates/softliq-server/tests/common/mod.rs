//! A real server on a loopback port over a temporary data directory, with one token per role,
//! and a small market: USDC and WETH listed, priced, a lender, a borrower near its limit, and a
//! liquidator account.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;

use serde_json::{Value, json};
use softliq_config::Markets;
use softliq_demo::MARKETS_TOML;
use softliq_server::{Role, Server, ServerConfig, TokenEntry, Tokens};

pub const ADMIN: &str = "admin-token-0000000001";
pub const ORACLE: &str = "oracle-token-000000001";
pub const ALICE: &str = "alice-token-0000000001";
pub const BOB: &str = "bob-token-000000000001";
pub const LIQUIDATOR: &str = "liquidator-token-00001";
pub const MAKER: &str = "maker-token-0000000001";

pub struct TestServer {
    pub url: String,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), String>>>,
}

pub fn tokens() -> Tokens {
    let t = |token: &str, role, subject: &str| TokenEntry {
        token: token.into(),
        role,
        subject: subject.into(),
    };
    Tokens::new(vec![
        t(ADMIN, Role::Admin, "ops"),
        t(ORACLE, Role::Oracle, "feed"),
        t(ALICE, Role::Account, "alice"),
        t(BOB, Role::Account, "bob"),
        t(LIQUIDATOR, Role::Liquidator, "liq"),
        t(MAKER, Role::Maker, "mm"),
    ])
    .unwrap()
}

impl TestServer {
    pub async fn start(dir: &Path) -> Self {
        Self::start_with(dir, |_| {}).await
    }

    /// Starts with the test configuration changed by `adjust`.
    pub async fn start_with(dir: &Path, adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut config = ServerConfig::new(dir.to_path_buf(), listen, tokens());
        config.body_limit_bytes = 16 * 1024;
        config.risk_refresh = std::time::Duration::ZERO;
        // Ten engine seconds per wall second: two prices of one asset may follow each other
        // 100 ms apart, and WETH (max_staleness_s = 3600) stays fresh for six minutes.
        config.clock_speed = 10;
        adjust(&mut config);
        let server = Server::bind(&config).await.unwrap();
        let url = format!("http://{}", server.addr);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        Self {
            url,
            http: reqwest::Client::new(),
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Graceful shutdown: in-flight requests finish, everything accepted is written.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
    }

    /// GETs `path`. A GET is idempotent, so a request that fails on a pooled connection the
    /// server has just closed (after refusing an oversized body without reading it) is retried
    /// on a fresh one, as any HTTP client would.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let url = format!("{}{path}", self.url);
        let mut attempt = 0;
        let r = loop {
            match self.http.get(&url).send().await {
                Ok(r) => break r,
                Err(e) if e.is_request() && attempt < 2 => attempt += 1,
                Err(e) => panic!("GET {path}: {e}"),
            }
        };
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{path}: answer is not JSON ({status}): {text}"));
        (status, value)
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.post_raw(path, Some(token), None, body.to_string().into_bytes())
            .await
    }

    /// Posts and insists on 200.
    pub async fn ok(&self, path: &str, token: &str, body: Value) -> Value {
        let (status, out) = self.post(path, token, body).await;
        assert_eq!(status, 200, "{path}: {out}");
        out
    }

    pub async fn hash(&self) -> String {
        let (status, s) = self.get("/v1/status").await;
        assert_eq!(status, 200);
        s["state_hash"].as_str().unwrap().to_owned()
    }
}

/// The params of `symbol` from the bundled markets, as the API takes them.
pub fn params(symbol: &str) -> Value {
    let markets = Markets::parse(Path::new("markets.toml"), MARKETS_TOML).unwrap();
    let id = markets.id(symbol).unwrap();
    serde_json::to_value(markets.asset(id).params()).unwrap()
}

/// Ids of the market built by [`seed`].
pub struct Market {
    pub lender: u64,
    pub alice: u64,
    pub liquidator: u64,
}

pub fn opened(out: &Value) -> u64 {
    out["events"][0]["account_opened"]["account"]
        .as_u64()
        .unwrap()
}

/// USDC (0) at 1 and WETH (1) at 2,000; bob lends 1,000,000 USDC; alice supplies 10 WETH and
/// borrows 16,000 USDC (HF = 20,000 · 0.825 / 16,000 ≈ 1.03).
pub async fn seed(s: &TestServer) -> Market {
    for symbol in ["USDC", "WETH"] {
        s.ok(
            "/v1/assets",
            ADMIN,
            json!({"symbol": symbol, "params": params(symbol)}),
        )
        .await;
    }
    s.ok("/v1/prices", ORACLE, json!({"asset": 0, "price": "1"}))
        .await;
    s.ok("/v1/prices", ORACLE, json!({"asset": 1, "price": "2000"}))
        .await;
    let lender = opened(&s.ok("/v1/accounts", BOB, json!({})).await);
    let alice = opened(&s.ok("/v1/accounts", ALICE, json!({})).await);
    let liquidator = opened(&s.ok("/v1/accounts", LIQUIDATOR, json!({})).await);
    s.ok(
        &format!("/v1/accounts/{lender}/deposit"),
        BOB,
        json!({"asset": 0, "amount": "1000000"}),
    )
    .await;
    s.ok(
        &format!("/v1/accounts/{alice}/deposit"),
        ALICE,
        json!({"asset": 1, "amount": "10"}),
    )
    .await;
    s.ok(
        &format!("/v1/accounts/{alice}/borrow"),
        ALICE,
        json!({"asset": 0, "amount": "16000"}),
    )
    .await;
    Market {
        lender,
        alice,
        liquidator,
    }
}

/// Whether account `id` owes anything, read from `GET /v1/accounts/{id}`.
pub async fn owes_debt(s: &TestServer, id: u64) -> bool {
    let (_, acct) = s.get(&format!("/v1/accounts/{id}")).await;
    acct["report"]["positions"]
        .as_array()
        .expect("positions")
        .iter()
        .any(|p| p["side"] == "debt")
}

/// The core's test parameters of a perp market on WETH (asset 1), as the API takes them.
pub fn perp_params() -> Value {
    serde_json::to_value(softliq_core::testing::perp_params(
        softliq_core::asset::AssetId(1),
    ))
    .unwrap()
}

/// Waits past the server's next clock second: prices of one asset must be a second apart
/// (ten engine seconds per wall second in these tests).
pub async fn next_second() {
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
}

/// WETH falls to `price`, and the liquidator makes the call the quote suggests on alice.
/// Returns the quote and the command's outcome.
pub async fn crash_and_liquidate(s: &TestServer, m: &Market, price: &str) -> (Value, Value) {
    next_second().await;
    s.ok(
        "/v1/prices",
        ORACLE,
        json!({"asset": "WETH", "price": price}),
    )
    .await;
    let (_, quote) = s.get(&format!("/v1/accounts/{}/quote", m.alice)).await;
    let call = &quote["call"];
    let out = s
        .ok(
            "/v1/liquidations",
            LIQUIDATOR,
            json!({"liquidator": m.liquidator, "borrower": m.alice,
                "debt_asset": call["debt_asset"], "collateral_asset": call["collateral_asset"],
                "max_repay": call["max_repay"], "min_collateral_out": call["min_collateral_out"]}),
        )
        .await;
    (quote, out)
}
