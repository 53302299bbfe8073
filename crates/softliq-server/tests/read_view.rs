//! Reads are served from the read view, off the engine thread, and still show a client every
//! write acknowledged to it: a read right after an acknowledgement sees that command.

use std::sync::Arc;

use softliq_core::asset::AssetId;
use softliq_engine::{ClientId, CommandBody};
use softliq_server::{AppState, ServerConfig};

fn usdc_params() -> softliq_core::asset::AssetParams {
    let markets = softliq_config::Markets::parse(
        std::path::Path::new("markets.toml"),
        softliq_demo::MARKETS_TOML,
    )
    .unwrap();
    markets.asset(markets.id("USDC").unwrap()).params().clone()
}

async fn submit(state: &Arc<AppState>, body: CommandBody) -> softliq_node::Ack {
    state.submit(ClientId(rand::random()), body).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_right_after_an_acknowledgement_sees_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig::new(
        dir.path().into(),
        "127.0.0.1:0".parse().unwrap(),
        softliq_server::Tokens::new(Vec::new()).unwrap(),
    );
    let state = AppState::start(&config).unwrap();
    submit(
        &state,
        CommandBody::ListAsset {
            symbol: "USDC".into(),
            params: usdc_params(),
        },
    )
    .await;
    let opened = submit(
        &state,
        CommandBody::OpenAccount {
            owner: "alice".into(),
        },
    )
    .await;
    let softliq_engine::event::Event::AccountOpened { account, .. } = opened.events[0] else {
        panic!("{:?}", opened.events)
    };
    let mut last_shares = 0;
    for k in 0..300 {
        let ack = submit(
            &state,
            CommandBody::Deposit {
                account,
                asset: AssetId(0),
                amount: "1".into(),
            },
        )
        .await;
        let (seq, shares) = state
            .read(move |e| {
                let s = e.state();
                let p = s.account(account).unwrap().account.position(AssetId(0));
                (s.seq, p.supply.raw())
            })
            .await
            .unwrap();
        assert!(
            seq >= ack.seq,
            "read {k} saw entry {seq}, after entry {} was acknowledged",
            ack.seq
        );
        assert!(shares > last_shares, "read {k}: the deposit is not there");
        last_shares = shares;
    }
    state.shutdown().unwrap();
}
