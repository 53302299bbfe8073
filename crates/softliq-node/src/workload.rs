//! A seeded synthetic market: three assets, a lender, `n` borrowers at health factors between
//! 1.08 and 3, and an endless mixed stream of commands (deposits, withdrawals, borrows,
//! repayments, price moves with occasional crashes, time steps and blind liquidation calls).
//!
//! Prices take steps of up to ±0.2% with an 8% jump (either way) on 0.2% of updates, and each
//! update pulls them back by a thousandth of the gap to where they started: a stationary market
//! (spread of roughly ±8%), so how far prices wander does not depend on the stream's length.
//! A pure random walk would carry a million-command stream ~30% away from the start and leave
//! half of a million-account market underwater, which measures a collapse, not a market.
//! The same seed gives the same commands; tests, benchmarks, the crash test and demos use it.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use softliq_core::account::AccountId;
use softliq_core::asset::{AssetId, AssetParams, OracleGuards, RateModel};
use softliq_core::liquidation::auction::Curve;
use softliq_core::liquidation::{Policy, Rule};
use softliq_core::money::{Amount, Decimals, Price, Ratio};

use softliq_engine::command::{ClientId, Command, CommandBody, PriceSource};

/// The lender's account (the first user account): supplies the stablecoin and liquidates.
pub const LENDER: AccountId = AccountId(2);
pub const USDC: AssetId = AssetId(0);
pub const WETH: AssetId = AssetId(1);
pub const WBTC: AssetId = AssetId(2);

fn bps(n: u128) -> Ratio {
    Ratio::from_raw(n * 100_000_000_000_000)
}

/// Parameters in the style of a large lending market.
#[must_use]
pub fn params(decimals: u8, cf_bps: u128, lt_bps: u128) -> AssetParams {
    AssetParams {
        decimals: Decimals::new(decimals).expect("decimals ≤ 30"),
        collateral_factor: bps(cf_bps),
        liquidation_threshold: bps(lt_bps),
        borrow_weight: bps(10_000),
        liquidation_penalty: bps(500),
        liquidation_discount: bps(400),
        reserve_factor: bps(1_000),
        rate_model: RateModel {
            base: bps(0),
            slope1: bps(400),
            slope2: bps(6_000),
            optimal_utilisation: bps(9_000),
        },
        supply_cap: None,
        borrow_cap: None,
        oracle: OracleGuards {
            max_staleness_s: 3_600,
            max_jump: bps(1_000),
            confirm_s: 300,
        },
        auction_hole: None,
    }
}

/// Formats `units / 10^places` as a decimal string.
fn decimal(units: u64, places: u32) -> String {
    let scale = 10u64.pow(places);
    format!(
        "{}.{:0width$}",
        units / scale,
        units % scale,
        width = places as usize
    )
}

/// Starting USDC, WETH and WBTC prices in micro-USD.
const PRICES_MICRO: [u64; 3] = [1_000_000, 3_000_000_000, 60_000_000_000];

/// The generator.
#[derive(Debug)]
pub struct Workload {
    rng: ChaCha8Rng,
    next_client: u128,
    now_s: u64,
    commands_per_s: u64,
    in_second: u64,
    borrowers: u64,
    /// Largest ordinary price step, in basis points, and the chance of an 8% jump.
    step_bps: i64,
    jump_probability: f64,
    /// Whether jumps only go down (a crash-prone market) or both ways (no drift).
    crashes_only: bool,
    /// Each price update closes `1 / reversion_per` of the gap to the starting price (0: a pure
    /// random walk).
    reversion_per: i64,
    /// USDC, WETH and WBTC prices in micro-USD, and where they started.
    prices_micro: [u64; 3],
    anchors_micro: [u64; 3],
    /// Sell collateral by Dutch auction: `setup` sets the `dutch` policy and liquidation calls
    /// become starts, takes and resets.
    dutch: bool,
    /// A WETH-PERP market beside the lending one (see [`Workload::with_perps`]).
    perps: bool,
    /// Orders placed so far (ids are dense from 0), for cancels aimed at recent ones.
    orders_placed: u64,
    /// The realistic mix (see [`Workload::realistic`]): each asset's largest move per oracle
    /// round in parts per million; `None` for the stress mix.
    round_move_ppm: Option<[i64; 3]>,
    /// Price updates still due in this oracle round (realistic mix).
    prices_due: usize,
}

/// The realistic mix's oracle cadence: every listed asset is updated once per round.
pub const ORACLE_ROUND_MS: u64 = 400;

/// Largest move per 400 ms round, in parts per million, of USDC, WETH and WBTC in the realistic
/// mix: a uniform move on ±a has standard deviation a/√3, and a/√3 is the bundled Binance
/// hourly closes' standard deviation (2020–2025: ETH 86.8 bps, BTC 67.4 bps per hour) scaled
/// to 400 ms by √(0.4 s / 3600 s): 0.915 bps for ETH, 0.710 bps for BTC. USDC stays at 1.
const ROUND_MOVE_PPM: [i64; 3] = [0, 158, 123];

impl Workload {
    /// A generator for `borrowers` borrowers; the clock moves one second every
    /// `commands_per_s` commands.
    #[must_use]
    pub fn new(seed: u64, borrowers: u64, commands_per_s: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            next_client: 1,
            now_s: 1_700_000_000,
            commands_per_s: commands_per_s.max(1),
            in_second: 0,
            borrowers: borrowers.max(1),
            prices_micro: PRICES_MICRO,
            anchors_micro: PRICES_MICRO,
            reversion_per: 1_000,
            step_bps: 20,
            jump_probability: 0.002,
            crashes_only: false,
            dutch: false,
            perps: false,
            orders_placed: 0,
            round_move_ppm: None,
            prices_due: 0,
        }
    }

    /// Turns the stream into the *realistic mix* for an offered rate of `offered_per_s` user
    /// commands per second: user commands only (deposit 25, withdraw 10, borrow 20, repay 20,
    /// liquidate 7 parts in 82, the stress mix's proportions without its price updates and
    /// time steps), and an oracle round every [`ORACLE_ROUND_MS`] of offered time, that is
    /// every `offered_per_s × 0.4` commands: one update of every listed asset, each moving by
    /// a uniform draw whose spread is real 400 ms volatility (see `ROUND_MOVE_PPM`), still
    /// pulled back by a thousandth of the gap to where it started.
    ///
    /// Engine time has one-second resolution and a price must be newer than the asset's last,
    /// so each round is one engine second: engine time runs 2.5 times faster than the offered
    /// clock. That changes only how much interest accrues per round, not what a command costs.
    /// The generator keeps its client ids and prices, so a stream may switch to this mix after
    /// [`Workload::setup`] or after a stretch of the stress mix.
    #[must_use]
    pub fn realistic(mut self, offered_per_s: u64) -> Self {
        self.round_move_ppm = Some(ROUND_MOVE_PPM);
        self.commands_per_s = (offered_per_s * ORACLE_ROUND_MS / 1_000).max(1);
        self.in_second = 0;
        self
    }

    /// A WETH-PERP market on WETH's oracle beside the lending market: the lender is also its
    /// market maker (100M USD of margin, post-only quotes around the index), every borrower
    /// trades it with 1,000–20,000 USD of margin (market and limit orders up to 10 contracts),
    /// and 40% of the stream's commands become perp commands: quotes, takers, cancels of recent
    /// orders, liquidation steps.
    #[must_use]
    pub const fn with_perps(mut self) -> Self {
        self.perps = true;
        self
    }

    /// A Dutch-auction market: a linear curve over 20 minutes, reset after 10 or below 60% of
    /// top; liquidation calls become `bark`, `take` and `redo` aimed at flagged accounts and
    /// running auctions.
    #[must_use]
    pub const fn dutch(mut self) -> Self {
        self.dutch = true;
        self
    }

    /// A crash-prone market: steps up to 0.5% and an 8% fall on 3% of price updates, with no
    /// pull back (for tests that need many liquidations in a short stream).
    #[must_use]
    pub const fn volatile(mut self) -> Self {
        self.step_bps = 50;
        self.jump_probability = 0.03;
        self.crashes_only = true;
        self.reversion_per = 0;
        self
    }

    fn command(&mut self, body: CommandBody) -> Command {
        self.in_second += 1;
        if self.in_second >= self.commands_per_s {
            self.in_second = 0;
            self.now_s += 1;
            if self.round_move_ppm.is_some() {
                self.prices_due = PRICES_MICRO.len();
            }
        }
        let client_id = ClientId(self.next_client);
        self.next_client += 1;
        Command {
            client_id,
            timestamp_s: self.now_s,
            body,
        }
    }

    fn price(&mut self, which: usize) -> Command {
        let asset = [USDC, WETH, WBTC][which];
        let body = CommandBody::PostPrice {
            asset,
            price: decimal(self.prices_micro[which], 6),
            published_s: self.now_s,
        };
        // A price posted at `now_s` must be newer than the last: step the clock first (the
        // realistic mix posts its round's updates in the second its clock just entered).
        if self.round_move_ppm.is_none() {
            self.in_second = self.commands_per_s;
        }
        let mut cmd = self.command(body);
        if let CommandBody::PostPrice { published_s, .. } = &mut cmd.body {
            *published_s = cmd.timestamp_s;
        }
        cmd
    }

    /// Moves asset `which` by `step / per` (relative) plus the pull back towards where it
    /// started, and posts the new price.
    fn moved_price(&mut self, which: usize, step: i64, per: i64) -> Command {
        // Micro-USD prices of a few assets, far below 2^63.
        let signed = |micro: u64| i64::try_from(micro).unwrap_or(i64::MAX);
        let p = signed(self.prices_micro[which]);
        let pull = if self.reversion_per > 0 {
            (signed(self.anchors_micro[which]) - p) / self.reversion_per
        } else {
            0
        };
        let next = (p + p * step / per + pull).max(1_000_000);
        self.prices_micro[which] = u64::try_from(next).unwrap_or(1_000_000);
        self.price(which)
    }

    /// The market and its accounts: listings, first prices, the lender's deposit, and every
    /// borrower's collateral and loan.
    pub fn setup(&mut self) -> Vec<Command> {
        let mut out = vec![
            self.command(CommandBody::ListAsset {
                symbol: "USDC".into(),
                params: params(6, 8_000, 8_500),
            }),
            self.command(CommandBody::ListAsset {
                symbol: "WETH".into(),
                params: params(18, 8_000, 8_250),
            }),
            self.command(CommandBody::ListAsset {
                symbol: "WBTC".into(),
                params: params(8, 7_300, 7_800),
            }),
        ];
        if self.perps {
            out.push(self.command(CommandBody::ListPerpMarket {
                symbol: "WETH-PERP".into(),
                params: softliq_core::testing::perp_params(WETH),
            }));
        }
        out.push(self.price(0));
        out.push(self.price(1));
        out.push(self.price(2));
        if self.dutch {
            let mut policy = Policy::dutch();
            if let Rule::Dutch(d) = &mut policy.rule {
                d.curve = Curve::Linear { tau_s: 1_200 };
                d.tail_s = 600;
                d.cusp = bps(6_000);
            }
            out.push(self.command(CommandBody::SetPolicy {
                policy,
                liquidation_price: PriceSource::Spot,
            }));
        }
        out.push(self.command(CommandBody::OpenAccount {
            owner: "lender".into(),
        }));
        out.push(self.command(CommandBody::Deposit {
            account: LENDER,
            asset: USDC,
            amount: "100000000000".into(),
        }));
        for i in 0..self.borrowers {
            out.extend(self.borrower(AccountId(LENDER.0 + 1 + i)));
        }
        if self.perps {
            out.push(self.command(CommandBody::PerpDeposit {
                account: LENDER,
                amount: "100000000".into(),
            }));
            for i in 0..self.borrowers {
                let usd = self.rng.random_range(1_000..=20_000u64);
                out.push(self.command(CommandBody::PerpDeposit {
                    account: AccountId(LENDER.0 + 1 + i),
                    amount: usd.to_string(),
                }));
            }
        }
        out
    }

    /// WETH's price moved by `bps` basis points, in whole cents (the test market's tick).
    fn weth_cents(&self, bps: i64) -> String {
        let cents = i64::try_from(self.prices_micro[1] / 10_000).unwrap_or(i64::MAX);
        decimal(
            u64::try_from((cents + cents * bps / 10_000).max(1)).unwrap_or(1),
            2,
        )
    }

    /// One perp command of the stream.
    fn perp_command(&mut self) -> Command {
        use softliq_core::perp::{OrderId, OrderRequest, PerpMarketId, Side, TimeInForce};
        let roll = self.rng.random_range(0..100u32);
        let side = if self.rng.random_bool(0.5) {
            Side::Bid
        } else {
            Side::Ask
        };
        let order = |price: Option<Price>, milli: u64, tif| OrderRequest {
            market: PerpMarketId(0),
            side,
            price,
            size: Amount::from_raw(u128::from(milli) * 1_000),
            tif,
            reduce_only: false,
        };
        let body = match roll {
            0..35 => {
                let away = self.rng.random_range(5..200i64);
                let bps = if side == Side::Bid { -away } else { away };
                let price = Price::parse("price", &self.weth_cents(bps)).ok();
                let milli = self.rng.random_range(1_000..=20_000);
                CommandBody::PlaceOrder {
                    account: LENDER,
                    order: order(price, milli, TimeInForce::PostOnly),
                }
            }
            35..80 => {
                let limit = self.rng.random_bool(0.25);
                let bps = self.rng.random_range(-100..=100i64);
                let price = limit
                    .then(|| self.weth_cents(bps))
                    .and_then(|p| Price::parse("price", &p).ok());
                let milli = self.rng.random_range(100..=10_000);
                let tif = if limit {
                    TimeInForce::Gtc
                } else {
                    TimeInForce::Ioc
                };
                CommandBody::PlaceOrder {
                    account: self.random_borrower(),
                    order: order(price, milli, tif),
                }
            }
            80..90 => {
                let recent = self.orders_placed.saturating_sub(200);
                let id = self.rng.random_range(recent..=self.orders_placed);
                CommandBody::CancelOrder {
                    account: LENDER,
                    market: PerpMarketId(0),
                    order: OrderId(id),
                }
            }
            _ => CommandBody::PerpLiquidate {
                liquidator: LENDER,
                account: self.random_borrower(),
                take_backstop: false,
            },
        };
        if matches!(body, CommandBody::PlaceOrder { .. }) {
            self.orders_placed += 1;
        }
        self.command(body)
    }

    fn borrower(&mut self, id: AccountId) -> Vec<Command> {
        let weth = self.rng.random_bool(0.6);
        let (asset, which, places, lt_bps, max_units) = if weth {
            (WETH, 1, 3, 8_250u64, 50_000u64)
        } else {
            (WBTC, 2, 5, 7_800, 300_000)
        };
        // Power-law sizes: most accounts small, a few large.
        let u: f64 = self.rng.random_range(0.0..1.0);
        // In [10, max_units]: u is in [0, 1).
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let units = ((max_units as f64) * u.powi(3)).max(10.0) as u64;
        let value_micro =
            u128::from(units) * u128::from(self.prices_micro[which]) / 10u128.pow(places);
        let hf_bps = self.rng.random_range(10_800u64..30_000);
        let borrow_micro = value_micro * u128::from(lt_bps) / u128::from(hf_bps);
        let owner = format!("borrower-{}", id.0);
        vec![
            self.command(CommandBody::OpenAccount { owner }),
            self.command(CommandBody::Deposit {
                account: id,
                asset,
                amount: decimal(units, places),
            }),
            self.command(CommandBody::Borrow {
                account: id,
                asset: USDC,
                amount: decimal(
                    u64::try_from(borrow_micro / 10_000)
                        .unwrap_or(u64::MAX)
                        .max(1),
                    2,
                ),
            }),
        ]
    }

    fn random_borrower(&mut self) -> AccountId {
        AccountId(LENDER.0 + 1 + self.rng.random_range(0..self.borrowers))
    }

    /// The setup, then commands aimed as [`Workload::next_command_for`] does, through an
    /// engine without audit, until `n` have been accepted: the log a node would write, and the
    /// engine after it.
    pub fn accepted(&mut self, n: usize) -> (Vec<crate::Entry>, softliq_engine::Engine) {
        let mut engine = softliq_engine::Engine::new(softliq_engine::EngineConfig { audit: false });
        let mut out = Vec::with_capacity(n);
        let mut setup = self.setup().into_iter();
        while out.len() < n {
            let cmd = setup
                .next()
                .unwrap_or_else(|| self.next_command_for(engine.state()));
            let before = engine.state().seq;
            if let Ok(events) = engine.apply(&cmd)
                && engine.state().seq > before
            {
                out.push(crate::Entry {
                    seq: engine.state().seq,
                    command: cmd,
                    events,
                });
            }
        }
        (out, engine)
    }

    /// The next command, with liquidation calls aimed at an account the engine has flagged
    /// (as a keeper would) rather than at random.
    pub fn next_command_for(&mut self, state: &softliq_engine::state::State) -> Command {
        let mut cmd = self.next_command();
        if let CommandBody::PerpLiquidate { account, .. } = &mut cmd.body
            && let Some(target) = state
                .perp_flagged
                .range(*account..)
                .next()
                .or_else(|| state.perp_flagged.iter().next())
        {
            *account = *target;
        }
        if self.dutch && matches!(cmd.body, CommandBody::Liquidate { .. }) {
            cmd.body = self.auction_command(state);
            return cmd;
        }
        if let CommandBody::Liquidate {
            borrower,
            collateral_asset,
            ..
        } = &mut cmd.body
            && let (_, Some(target)) = self.flagged_target(state)
        {
            *borrower = target;
            if let Some(c) = first_collateral(state, target) {
                *collateral_asset = c;
            }
        }
        cmd
    }

    /// A random borrower, and the first flagged account at or after it (wrapping around), if
    /// any: where a keeper aims its next call or start.
    fn flagged_target(
        &mut self,
        state: &softliq_engine::state::State,
    ) -> (AccountId, Option<AccountId>) {
        let from = self.random_borrower();
        let target = state
            .flagged
            .from(from)
            .next()
            .or_else(|| state.flagged.iter().next());
        (from, target)
    }

    /// A keeper's next auction command: a take (20–100% of the lot, at any price) or a reset
    /// of a running auction, or a start on a flagged account.
    fn auction_command(&mut self, state: &softliq_engine::state::State) -> CommandBody {
        let running: Vec<_> = state.auctions.book.active().collect();
        if !running.is_empty() && self.rng.random_bool(0.8) {
            let a = running[self.rng.random_range(0..running.len())];
            if self.rng.random_bool(0.3) {
                return CommandBody::Redo {
                    keeper: LENDER,
                    auction: a.id,
                };
            }
            let c = a.collateral_asset.index();
            let lot = a
                .lot_tokens(state.pools[c].supply_index())
                .unwrap_or_default();
            let share = self.rng.random_range(20..=100u128);
            let amount = Amount::from_raw((lot.raw() * share / 100).max(1));
            return CommandBody::Take {
                keeper: LENDER,
                auction: a.id,
                amount: amount
                    .display_tokens(state.assets[c].params().decimals)
                    .to_string(),
                max_price: "1000000000".into(),
            };
        }
        let (from, target) = self.flagged_target(state);
        let target = target.unwrap_or(from);
        let collateral = first_collateral(state, target).unwrap_or(WETH);
        CommandBody::Bark {
            keeper: LENDER,
            borrower: target,
            debt_asset: USDC,
            collateral_asset: collateral,
        }
    }

    /// The next command of the mixed stream.
    pub fn next_command(&mut self) -> Command {
        if self.perps && self.rng.random_bool(0.4) {
            return self.perp_command();
        }
        let roll = match self.round_move_ppm {
            None => self.rng.random_range(0..100u32),
            Some(moves) => {
                if self.prices_due > 0 {
                    self.prices_due -= 1;
                    let which = PRICES_MICRO.len() - 1 - self.prices_due;
                    let step = self.rng.random_range(-moves[which]..=moves[which]);
                    return self.moved_price(which, step, 1_000_000);
                }
                // User commands only: 75..82 (liquidate, 7 parts) maps past the stress mix's
                // price updates and time steps (75..93).
                let roll = self.rng.random_range(0..82u32);
                if roll >= 75 { roll + 18 } else { roll }
            }
        };
        let account = self.random_borrower();
        let small = |rng: &mut ChaCha8Rng, max: u64| rng.random_range(1..=max);
        match roll {
            0..25 => {
                let (asset, amount) = if self.rng.random_bool(0.5) {
                    (WETH, decimal(small(&mut self.rng, 2_000), 3))
                } else {
                    (WBTC, decimal(small(&mut self.rng, 10_000), 5))
                };
                self.command(CommandBody::Deposit {
                    account,
                    asset,
                    amount,
                })
            }
            25..35 => {
                let amount = decimal(small(&mut self.rng, 500), 3);
                self.command(CommandBody::Withdraw {
                    account,
                    asset: WETH,
                    amount,
                })
            }
            35..55 => {
                let amount = decimal(small(&mut self.rng, 50_000), 2);
                self.command(CommandBody::Borrow {
                    account,
                    asset: USDC,
                    amount,
                })
            }
            55..75 => {
                let amount = decimal(small(&mut self.rng, 100_000), 2);
                self.command(CommandBody::Repay {
                    account,
                    asset: USDC,
                    amount,
                })
            }
            75..90 => {
                let which = self.rng.random_range(0..3usize);
                let crash = self.rng.random_bool(self.jump_probability);
                let step = if which == 0 {
                    0
                } else if crash {
                    // Jumps both ways, so the walk has no drift.
                    if self.crashes_only || self.rng.random_bool(0.5) {
                        -800
                    } else {
                        800
                    }
                } else {
                    self.rng.random_range(-self.step_bps..=self.step_bps)
                };
                self.moved_price(which, step, 10_000)
            }
            90..93 => {
                self.in_second = self.commands_per_s;
                self.command(CommandBody::AdvanceTime)
            }
            _ => {
                let collateral = if self.rng.random_bool(0.6) {
                    WETH
                } else {
                    WBTC
                };
                self.command(CommandBody::Liquidate {
                    liquidator: LENDER,
                    borrower: account,
                    debt_asset: USDC,
                    collateral_asset: collateral,
                    max_repay: "1000000".into(),
                    min_collateral_out: "0".into(),
                })
            }
        }
    }
}

/// The first asset `account` supplies, if any.
fn first_collateral(state: &softliq_engine::state::State, account: AccountId) -> Option<AssetId> {
    state
        .account(account)?
        .account
        .positions()
        .iter()
        .find(|p| !p.supply.is_zero())
        .map(|p| p.asset)
}
