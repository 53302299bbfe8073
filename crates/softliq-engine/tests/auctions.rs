//! Dutch auctions through the engine: a whole auction's life with every refusal on the way,
//! its history, idempotent retries and a replay from empty to the same state hash.

mod common;

use common::*;
use softliq_core::liquidation::Policy;
use softliq_core::liquidation::auction::{AuctionId, Curve, Outcome, Step};
use softliq_core::money::{Price, Ratio};

const KEEPER: AccountId = AccountId(4);

fn ratio(text: &str) -> Ratio {
    Ratio::parse("test", text).expect("ratio")
}

/// A linear curve over 1,000 s, reset after 600 s or below 50% of top; Maker's other numbers.
fn dutch() -> Policy {
    let mut p = Policy::dutch();
    if let softliq_core::liquidation::Rule::Dutch(d) = &mut p.rule {
        d.curve = Curve::Linear { tau_s: 1_000 };
        d.tail_s = 600;
        d.cusp = ratio("0.5");
    }
    p
}

fn set_policy(policy: Policy) -> CommandBody {
    CommandBody::SetPolicy {
        policy,
        liquidation_price: PriceSource::Spot,
    }
}

fn bark(borrower: AccountId) -> CommandBody {
    CommandBody::Bark {
        keeper: KEEPER,
        borrower,
        debt_asset: USDC,
        collateral_asset: WETH,
    }
}

fn take(keeper: AccountId, amount: &str, max_price: &str) -> CommandBody {
    CommandBody::Take {
        keeper,
        auction: AuctionId(1),
        amount: amount.into(),
        max_price: max_price.into(),
    }
}

fn redo() -> CommandBody {
    CommandBody::Redo {
        keeper: KEEPER,
        auction: AuctionId(1),
    }
}

fn steps(events: &[Event]) -> Vec<Step> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Auction { step, .. } => Some((**step).clone()),
            _ => None,
        })
        .collect()
}

fn price_of(text: &str) -> Price {
    Price::parse("p", text).expect("price")
}

#[test]
fn an_auction_from_start_to_end_through_the_engine() {
    let mut m = Market::new();
    m.ok(CommandBody::OpenAccount {
        owner: "keeper".into(),
    });
    // A call market refuses auctions; an auction market refuses calls.
    m.crash();
    m.refuse(bark(ALICE), Code::WrongMechanism, "policy");
    m.ok(set_policy(dutch()));
    m.refuse(liquidate("1000", "0"), Code::WrongMechanism, "policy");
    m.refuse(
        CommandBody::Bark {
            keeper: ALICE,
            borrower: ALICE,
            debt_asset: USDC,
            collateral_asset: WETH,
        },
        Code::InvalidParams,
        "keeper",
    );
    m.refuse(bark(LENDER), Code::NotLiquidatable, "borrower");

    // Start: tab ≈ 20,000 · 1.13 = 22,600; the lot backing it at lt 0.825 would be 11.41 WETH,
    // more than Alice's 10, so all of it; top 2400 · 1.2 = 2880. The treasury holds no USDC
    // yet: the 27.6 USD reward is owed and recorded as short.
    let ev = m.ok(bark(ALICE));
    let [
        Step::Started {
            debt,
            penalty,
            lot_tokens,
            top,
            reward,
            ..
        },
    ] = steps(&ev)[..]
    else {
        panic!("one start: {ev:?}");
    };
    // 30 s of interest since the borrow: 17 base units.
    assert_eq!(debt.raw(), 20_000_000_017);
    assert_eq!(penalty.raw(), (debt.raw() * 113).div_ceil(100) - debt.raw());
    assert_eq!(lot_tokens.raw(), 10 * 10u128.pow(18));
    assert_eq!(top, price_of("2880"));
    assert!(reward.short && reward.paid.raw() == 0);
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Recovered { account, .. } if *account == ALICE)),
        "Alice owes nothing outside the auction: {ev:?}"
    );
    m.engine.audit_full().expect("full audit");

    // 5 WETH at 2880 = 14,400 of the 22,600.
    let ev = m.ok(take(LENDER, "5", "2880"));
    assert!(matches!(steps(&ev)[..], [Step::Taken { paid, .. }] if paid.raw() == 14_400_000_000));
    m.refuse(take(LENDER, "1", "2000"), Code::PriceAboveMax, "max_price");
    m.refuse(take(LENDER, "-1", "3000"), Code::InvalidAmount, "amount");
    m.refuse(take(LENDER, "0", "3000"), Code::ZeroAmount, "amount");
    m.refuse(
        take(LENDER, "1.0000000000000000001", "3000"),
        Code::InvalidAmount,
        "amount",
    );
    m.refuse(take(LENDER, "1", "abc"), Code::InvalidPrice, "max_price");
    m.refuse(take(ALICE, "1", "3000"), Code::InvalidParams, "keeper");
    m.refuse(
        CommandBody::Take {
            keeper: LENDER,
            auction: AuctionId(9),
            amount: "1".into(),
            max_price: "3000".into(),
        },
        Code::UnknownAuction,
        "auction",
    );
    m.refuse(redo(), Code::AuctionRunning, "auction");
    m.refuse(set_policy(Policy::soft()), Code::InvalidParams, "policy");

    // Past the tail: takes wait for a reset; the reset starts from 2390 · 1.2 = 2868.
    m.now += 601;
    m.refuse(
        take(LENDER, "1", "3000"),
        Code::AuctionNeedsReset,
        "auction",
    );
    let at = m.now;
    m.ok(price(USDC, "1", at));
    m.ok(price(WETH, "2390", at));
    let ev = m.ok(redo());
    assert!(matches!(steps(&ev)[..], [Step::Reset { top, .. }] if top == price_of("2868")));
    let status = m.engine.auctions_at(m.now);
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].price, price_of("2868"));
    assert_eq!(status[0].reset_in_s, 501, "below cusp from t = 501");

    // Buying the rest pays the tab; the leftover WETH goes back to Alice.
    let take_all = m.cmd(take(LENDER, "10", "2868"));
    let ev = m.engine.apply(&take_all).expect("take all");
    let s = steps(&ev);
    assert!(matches!(
        s[..],
        [
            Step::Taken { .. },
            Step::Finished {
                outcome: Outcome::Covered { .. },
                ..
            }
        ]
    ));
    let hash = m.engine.state().hash();
    assert_eq!(m.engine.apply(&take_all).expect("retry"), ev, "idempotent");
    assert_eq!(m.engine.state().hash(), hash);
    let alice = &m.engine.state().accounts[ALICE.0 as usize].account;
    assert!(!alice.has_debt() && !alice.position(WETH).supply.is_zero());
    assert!(m.engine.auctions_at(m.now).is_empty());

    let view = m.engine.auction_at(AuctionId(1), m.now).expect("history");
    assert!(view.status.is_none());
    let kinds: Vec<&str> = view
        .history
        .iter()
        .map(|s| match s {
            Step::Started { .. } => "started",
            Step::Taken { .. } => "taken",
            Step::Reset { .. } => "reset",
            Step::Finished { .. } => "finished",
        })
        .collect();
    assert_eq!(kinds, ["started", "taken", "reset", "taken", "finished"]);
    m.engine.audit_full().expect("full audit");
    m.ok(set_policy(Policy::soft()));

    // A replay from empty of everything accepted gives the same state.
    let mut replay = Engine::new(EngineConfig { audit: true });
    for c in &m.log {
        let _ = replay.apply(c);
    }
    assert_eq!(replay.state().hash(), m.engine.state().hash());
}
