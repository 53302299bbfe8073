//! Bounded load test on loopback: health reads per second and durable commands per second,
//! with p50/p99 latency, client and server in one process on this machine.
//!
//! `cargo bench --bench api` (SOFTLIQ_BENCH_ACCOUNTS, SOFTLIQ_BENCH_READS,
//! SOFTLIQ_BENCH_COMMANDS, SOFTLIQ_BENCH_CLIENTS override the sizes).
//! Targets: ≥ 30,000 reads/s with p99 ≤ 5 ms (issue 24; issue 5 asked ≥ 20,000 with p99 ≤ 10
//! ms); ≥ 5,000 durable commands/s with p99 ≤ 20 ms (issue 5).

use std::sync::Arc;
use std::time::{Duration, Instant};

use softliq_config::Markets;
use softliq_core::account::AccountId;
use softliq_core::asset::AssetId;
use softliq_demo::MARKETS_TOML;
use softliq_engine::{ClientId, CommandBody};
use softliq_server::{AppState, Role, Server, ServerConfig, TokenEntry, Tokens};

const TOKEN: &str = "bench-account-token-0001";

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn submit(state: &Arc<AppState>, key: String, body: CommandBody) -> serde_json::Value {
    let ack = state.submit(ClientId::from_key(&key), body).await.unwrap();
    serde_json::to_value(ack.events).unwrap()
}

/// USDC and WETH priced; `n` accounts owned by the bench token, each with WETH and a USDC loan.
async fn seed(state: &Arc<AppState>, n: usize) -> Vec<u64> {
    let markets = Markets::parse(std::path::Path::new("markets.toml"), MARKETS_TOML).unwrap();
    for symbol in ["USDC", "WETH"] {
        let a = markets.asset(markets.id(symbol).unwrap());
        submit(
            state,
            format!("list-{symbol}"),
            CommandBody::ListAsset {
                symbol: symbol.into(),
                params: a.params().clone(),
            },
        )
        .await;
    }
    for (asset, price) in [(0u16, "1"), (1, "2000")] {
        let s = state.clone();
        s.submit_at(ClientId(rand::random()), move |now_s| {
            CommandBody::PostPrice {
                asset: AssetId(asset),
                price: price.into(),
                published_s: now_s,
            }
        })
        .await
        .unwrap();
    }
    let mut ids = Vec::new();
    for chunk in (0..=n).collect::<Vec<_>>().chunks(512) {
        let opened = futures_util::future::join_all(chunk.iter().map(|i| {
            submit(
                state,
                format!("open-{i}"),
                CommandBody::OpenAccount {
                    owner: "bench".into(),
                },
            )
        }))
        .await;
        ids.extend(
            opened
                .iter()
                .map(|e| e[0]["account_opened"]["account"].as_u64().unwrap()),
        );
    }
    let lender = ids.remove(0);
    submit(
        state,
        "lend".into(),
        CommandBody::Deposit {
            account: AccountId(lender),
            asset: AssetId(0),
            amount: "1000000000".into(),
        },
    )
    .await;
    for chunk in ids.chunks(512) {
        futures_util::future::join_all(chunk.iter().map(|&id| async move {
            submit(
                state,
                format!("dep-{id}"),
                CommandBody::Deposit {
                    account: AccountId(id),
                    asset: AssetId(1),
                    amount: "10".into(),
                },
            )
            .await;
            submit(
                state,
                format!("bor-{id}"),
                CommandBody::Borrow {
                    account: AccountId(id),
                    asset: AssetId(0),
                    amount: "12000".into(),
                },
            )
            .await;
        }))
        .await;
    }
    ids
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// Runs `total` requests from `clients` concurrent clients; returns per-second rate and latencies.
async fn load<F, Fut>(clients: usize, total: usize, one: F) -> (f64, Vec<Duration>)
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let per = total / clients;
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let one = one.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per);
                for i in 0..per {
                    let t = Instant::now();
                    one(c * per + i).await;
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort();
    let rate = all.len() as f64 / secs;
    (rate, all)
}

fn main() {
    let accounts = env("SOFTLIQ_BENCH_ACCOUNTS", 10_000);
    let reads = env("SOFTLIQ_BENCH_READS", 200_000);
    let commands = env("SOFTLIQ_BENCH_COMMANDS", 50_000);
    let clients = env("SOFTLIQ_BENCH_CLIENTS", 64);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let tokens = Tokens::new(vec![TokenEntry {
            token: TOKEN.into(),
            role: Role::Account,
            subject: "bench".into(),
        }])
        .unwrap();
        let mut config = ServerConfig::new(dir.path().into(), "127.0.0.1:0".parse().unwrap(), tokens);
        config.audit = false;
        let server = Server::bind(&config).await.unwrap();
        let url = format!("http://{}", server.addr);
        let state = server.state.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        let t = Instant::now();
        let ids = Arc::new(seed(&state, accounts).await);
let seeded = state.hub.head();
        assert!(seeded as usize > 3 * accounts, "seeding logged only {seeded} commands");
        println!(
            "api bench: {accounts} accounts seeded ({seeded} durable commands) in {:.1} s; {clients} concurrent clients on loopback",
            t.elapsed().as_secs_f64()
        );

        let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build().unwrap();
        let (h, u, i) = (http.clone(), url.clone(), ids.clone());
        let (rate, lat) = load(clients, reads, move |k| {
            let (h, u, i) = (h.clone(), u.clone(), i.clone());
            async move {
                let id = i[k % i.len()];
                let r = h.get(format!("{u}/v1/accounts/{id}")).send().await.unwrap();
                assert_eq!(r.status(), 200);
                let _ = r.bytes().await.unwrap();
            }
        })
        .await;
        println!(
            "health reads (GET /v1/accounts/{{id}}): {:.0} reads/s, p50 {:.2} ms, p99 {:.2} ms   (target ≥ 30,000/s, p99 ≤ 5 ms; issue 5's was ≥ 20,000/s, p99 ≤ 10 ms)",
            rate, percentile(&lat, 0.5), percentile(&lat, 0.99)
        );

        let (h, u, i) = (http.clone(), url.clone(), ids.clone());
        let (rate, lat) = load(clients, commands, move |k| {
            let (h, u, i) = (h.clone(), u.clone(), i.clone());
            async move {
                let id = i[k % i.len()];
                let r = h
                    .post(format!("{u}/v1/accounts/{id}/deposit"))
                    .bearer_auth(TOKEN)
                    .json(&serde_json::json!({"asset": 1, "amount": "0.001"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                let _ = r.bytes().await.unwrap();
            }
        })
        .await;
        println!(
            "durable commands (POST deposit, fsync'd group commit): {:.0} commands/s, p50 {:.2} ms, p99 {:.2} ms   (target ≥ 5,000/s, p99 ≤ 20 ms)",
            rate, percentile(&lat, 0.5), percentile(&lat, 0.99)
        );
        let _ = stop.send(());
        serving.await.unwrap().unwrap();
    });
}
