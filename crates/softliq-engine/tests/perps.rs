//! Perpetual markets through the engine: listing on an asset's oracle, margin deposits, orders
//! on the book, funding from the clock, a liquidation step with its oracle guards, refusals
//! that change nothing, every command audited, and a replay from empty giving the same state.

mod common;

#[allow(unused_imports)]
use common::PriceSource as _;
use common::*;
use softliq_core::money::{Amount, Price};
use softliq_core::perp::{OrderRequest, PerpMarketId, Side, TimeInForce};

const BTC: PerpMarketId = PerpMarketId(0);
const MAKER: AccountId = AccountId(4);

fn order(side: Side, price: Option<&str>, contracts_milli: u128, tif: TimeInForce) -> OrderRequest {
    OrderRequest {
        market: BTC,
        side,
        price: price.map(|p| Price::parse("t", p).unwrap()),
        size: Amount::from_raw(contracts_milli * 1_000),
        tif,
        reduce_only: false,
    }
}

fn place(account: AccountId, o: OrderRequest) -> CommandBody {
    CommandBody::PlaceOrder { account, order: o }
}

/// The common market plus WETH-PERP on WETH's oracle (3,000), a maker with 1 M USD and Alice
/// with 3,000 USD of perp margin.
fn market() -> Market {
    let mut m = Market::new();
    m.ok(CommandBody::OpenAccount {
        owner: "maker".into(),
    });
    m.ok(CommandBody::ListPerpMarket {
        symbol: "WETH-PERP".into(),
        params: softliq_core::testing::perp_params(WETH),
    });
    m.ok(CommandBody::PerpDeposit {
        account: MAKER,
        amount: "1000000".into(),
    });
    m.ok(CommandBody::PerpDeposit {
        account: ALICE,
        amount: "3000".into(),
    });
    m
}

#[test]
fn orders_funding_and_a_liquidation_step_replay_to_the_same_state() {
    let mut m = market();
    // The maker quotes 10 contracts each side around 3,000; Alice buys 9 at market (≈ 9x).
    m.ok(place(
        MAKER,
        order(Side::Ask, Some("3001"), 10_000, TimeInForce::PostOnly),
    ));
    m.ok(place(
        MAKER,
        order(Side::Bid, Some("2999"), 10_000, TimeInForce::PostOnly),
    ));
    let events = m.ok(place(
        ALICE,
        order(Side::Bid, Some("3001"), 9_000, TimeInForce::Ioc),
    ));
    let Event::OrderPlaced(p) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(p.fills.len(), 1);
    let alice = m.engine.state().perps.account(ALICE).unwrap();
    assert_eq!(alice.position(BTC).unwrap().size, 9_000_000);
    // Refusals name their field and change nothing.
    m.refuse(
        place(ALICE, order(Side::Bid, None, 5_000, TimeInForce::Ioc)),
        Code::Unhealthy,
        "margin",
    );
    m.refuse(
        place(
            ALICE,
            order(Side::Bid, Some("3000.001"), 1_000, TimeInForce::Gtc),
        ),
        Code::InvalidParams,
        "price",
    );
    m.refuse(
        CommandBody::PerpLiquidate {
            liquidator: LENDER,
            account: ALICE,
            take_backstop: false,
        },
        Code::NotLiquidatable,
        "order",
    );
    // The clock: the first index price started funding at T0; an hour later one tick.
    m.now += 3_600;
    let at = m.now;
    m.ok(price(WETH, "2900", at));
    let events = m.ok(CommandBody::AdvanceTime);
    assert!(
        events.iter().any(|e| matches!(e, Event::Funding { .. })),
        "{events:?}"
    );
    // WETH falls to 2,700 (within the 10% breaker from 2,900): Alice (9 at ~3,001 with ~3,000
    // of margin) is below MM; the maker's bid at 2,999 is outside the 2% tolerance, so it
    // re-quotes at 2,690.
    m.now += 10;
    let at = m.now;
    m.ok(price(WETH, "2700", at));
    m.ok(place(
        MAKER,
        order(Side::Bid, Some("2690"), 2_000, TimeInForce::PostOnly),
    ));
    let events = m.ok(CommandBody::PerpLiquidate {
        liquidator: LENDER,
        account: ALICE,
        take_backstop: false,
    });
    let Event::PerpLiquidated(l) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(l.chunks.len(), 1, "{l:?}");
    assert!(l.chunks[0].size < 0);
    assert!(m.engine.audit_full().is_ok(), "{:?}", m.engine.audit_full());
    // Replay the log from empty: the same state, hash for hash.
    let mut replay = Engine::new(EngineConfig { audit: true });
    for c in &m.log {
        let _ = replay.apply(c);
    }
    assert_eq!(replay.state().hash(), m.engine.state().hash());
}

#[test]
fn stricter_tiers_flag_holders_and_fixed_fields_are_refused() {
    let mut m = market();
    m.ok(place(
        MAKER,
        order(Side::Ask, Some("3001"), 10_000, TimeInForce::PostOnly),
    ));
    // Alice: 5 contracts on 3,000 of margin (equity ≈ 2,995 against MM 5% of 15,000 = 750).
    m.ok(place(
        ALICE,
        order(Side::Bid, Some("3001"), 5_000, TimeInForce::Ioc),
    ));
    let mut fixed = softliq_core::testing::perp_params(WETH);
    fixed.decimals = softliq_core::money::Decimals::new(8).unwrap();
    m.refuse(
        CommandBody::UpdatePerpMarket {
            market: BTC,
            params: fixed,
        },
        Code::InvalidParams,
        "params.decimals",
    );
    // MM 25% of 15,000 = 3,750 > equity: the update's own events flag her.
    let mut strict = softliq_core::testing::perp_params(WETH);
    strict.tiers[0].initial = softliq_core::money::Ratio::parse("im", "0.35").unwrap();
    strict.tiers[0].maintenance = softliq_core::money::Ratio::parse("mm", "0.25").unwrap();
    strict.tiers[1].initial = softliq_core::money::Ratio::parse("im", "0.45").unwrap();
    strict.tiers[1].maintenance = softliq_core::money::Ratio::parse("mm", "0.3").unwrap();
    strict.max_leverage = softliq_core::money::Ratio::parse("lev", "3").unwrap();
    let events = m.ok(CommandBody::UpdatePerpMarket {
        market: BTC,
        params: strict,
    });
    assert!(
        events.iter().any(
            |e| matches!(e, Event::PerpBecameLiquidatable { account, .. } if *account == ALICE)
        ),
        "{events:?}"
    );
    assert_eq!(
        m.engine.state().perp_flagged,
        m.engine.scan_perp_liquidatable()
    );
}

#[test]
fn a_stale_index_makes_a_liquidation_wait() {
    let mut m = market();
    m.ok(place(
        MAKER,
        order(Side::Ask, Some("3001"), 10_000, TimeInForce::PostOnly),
    ));
    m.ok(place(
        ALICE,
        order(Side::Bid, Some("3001"), 9_000, TimeInForce::Ioc),
    ));
    m.now += 10;
    let at = m.now;
    m.ok(price(WETH, "2750", at));
    // Past the oracle's max staleness (3,600 s in the test parameters) with no new price.
    m.now += 4_000;
    m.refuse(
        CommandBody::PerpLiquidate {
            liquidator: LENDER,
            account: ALICE,
            take_backstop: false,
        },
        Code::StalePrice,
        "account",
    );
}
