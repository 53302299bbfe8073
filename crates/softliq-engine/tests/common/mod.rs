//! The market the command tests share: USDC and WETH, a lender and Alice, and helpers that
//! apply commands and check refusals.
#![allow(dead_code)]

pub use softliq_core::account::AccountId;
pub use softliq_core::asset::AssetId;
pub use softliq_engine::{
    ClientId, Code, Command, CommandBody, Engine, EngineConfig, Event, PriceSource,
};
pub use softliq_node::workload::params;

pub const USDC: AssetId = AssetId(0);
pub const WETH: AssetId = AssetId(1);
pub const LENDER: AccountId = AccountId(2);
pub const ALICE: AccountId = AccountId(3);
pub const T0: u64 = 1_700_000_000;

pub struct Market {
    pub engine: Engine,
    pub next: u128,
    pub now: u64,
    /// Every command built, accepted or not (a replay from empty reapplies them).
    pub log: Vec<Command>,
}

pub fn dep(account: AccountId, asset: AssetId, amount: &str) -> CommandBody {
    CommandBody::Deposit {
        account,
        asset,
        amount: amount.into(),
    }
}
pub fn borrow(account: AccountId, amount: &str) -> CommandBody {
    CommandBody::Borrow {
        account,
        asset: USDC,
        amount: amount.into(),
    }
}
pub fn price(asset: AssetId, p: &str, at: u64) -> CommandBody {
    CommandBody::PostPrice {
        asset,
        price: p.into(),
        published_s: at,
    }
}
pub fn liquidate(max_repay: &str, min_out: &str) -> CommandBody {
    CommandBody::Liquidate {
        liquidator: LENDER,
        borrower: ALICE,
        debt_asset: USDC,
        collateral_asset: WETH,
        max_repay: max_repay.into(),
        min_collateral_out: min_out.into(),
    }
}

impl Market {
    /// USDC and WETH (3,000 USD, lt 82.5%); the lender supplies 1,000,000 USDC; Alice supplies
    /// 10 WETH and borrows 20,000 USDC (HF = 30,000 · 0.825 / 20,000 = 1.2375).
    pub fn new() -> Self {
        let mut m = Self {
            engine: Engine::new(EngineConfig { audit: true }),
            next: 1,
            now: T0,
            log: Vec::new(),
        };
        m.ok(CommandBody::ListAsset {
            symbol: "USDC".into(),
            params: params(6, 8_000, 8_500),
        });
        m.ok(CommandBody::ListAsset {
            symbol: "WETH".into(),
            params: params(18, 8_000, 8_250),
        });
        m.ok(price(USDC, "1", T0));
        m.ok(price(WETH, "3000", T0));
        for owner in ["lender", "alice"] {
            m.ok(CommandBody::OpenAccount {
                owner: owner.into(),
            });
        }
        m.ok(dep(LENDER, USDC, "1000000"));
        m.ok(dep(ALICE, WETH, "10"));
        m.ok(borrow(ALICE, "20000"));
        m
    }

    pub fn cmd(&mut self, body: CommandBody) -> Command {
        let c = Command {
            client_id: ClientId(self.next),
            timestamp_s: self.now,
            body,
        };
        self.next += 1;
        self.log.push(c.clone());
        c
    }

    /// WETH down to 2,400 in three moves within the breaker's 10%: Alice's HF 0.99.
    pub fn crash(&mut self) {
        for p in ["2900", "2650", "2400"] {
            self.now += 10;
            let at = self.now;
            self.ok(price(WETH, p, at));
        }
    }

    pub fn ok(&mut self, body: CommandBody) -> softliq_engine::Events {
        let c = self.cmd(body);
        self.engine
            .apply(&c)
            .unwrap_or_else(|r| panic!("{:?} refused: {r}", c.body))
    }

    /// Applies `c` and checks that it is refused with `code` on `field`, changing nothing.
    pub fn refuse_cmd(&mut self, c: &Command, code: Code, field: &str) {
        let before = self.engine.state().hash();
        let r = self.engine.apply(c).expect_err("must be refused");
        assert_eq!((r.code, r.field.as_str()), (code, field), "{r}");
        assert!(!r.message.is_empty());
        assert_eq!(
            self.engine.state().hash(),
            before,
            "a rejection changed the state"
        );
    }

    pub fn refuse(&mut self, body: CommandBody, code: Code, field: &str) {
        let c = self.cmd(body);
        self.refuse_cmd(&c, code, field);
    }
}
