//! One perp run: one mechanism over one seed's population on the crash path, liquidating
//! through `softliq_core::perp` (the same rounds, backstop, insurance and ADL the engine will
//! run), with liquidations selling into books of finite depth that recover over time and whose
//! pushed price feeds the mark (cascades).
//!
//! A float **screen** keeps a step from valuing every trader exactly: each trader's trigger mark
//! (where equity meets maintenance, from its cash, basis, funding owed and the highest
//! maintenance ratio its position can reach) is refreshed after every funding tick and every
//! liquidation step, and only traders within `SCREEN_MARGIN` of it, or already being unwound,
//! are valued exactly. The exact predicate alone decides; the screen only skips accounts that
//! are far from their line (the test `screen_skips_nobody_the_exact_scan_would_liquidate`
//! checks that against a full exact scan).

use std::sync::Arc;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use softliq_core::account::Account;
use softliq_core::asset::AssetId;
use softliq_core::health::RiskSnapshot;
use softliq_core::money::{Amount, Price, Rounding, SignedRatio, SignedValue, Value};
use softliq_core::perp::{
    Backstop, Exposure, Fill, Mode, PerpAccount, PerpMarketId, PerpMarketState, PerpParams,
    PerpRisk, PerpSnapshot, Round, Scope, backstop, transfer_to_target, unwind_round,
};

use super::scenario::{LogNormal, PerpMechanism, PerpPath, PerpScenario};
use super::venue::{Depth, SimBooks};
use crate::error::SimError;

/// ADL candidates offered per step and side.
const ADL_POOL: usize = 2_048;

/// Relative distance from its trigger mark inside which a trader is valued exactly: the trigger
/// is exact in real numbers (one position, funding fixed between ticks), so the margin only
/// covers float error and the ledger's rounding.
const SCREEN_MARGIN: f64 = 0.005;

/// What one run measured (USD unless named).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PerpMetrics {
    pub traders_liquidated: f64,
    /// Notional at the mark of everything liquidated (sold, transferred).
    pub liquidated_notional_usd: f64,
    /// Of which sold into the book, and taken by the backstop vault.
    pub book_notional_usd: f64,
    pub vault_notional_usd: f64,
    /// Liquidation fees charged (the liquidator's and the insurance fund's parts).
    pub fees_usd: f64,
    /// What the vault was paid for taking positions (full backstops and partial transfers).
    pub vault_margin_usd: f64,
    /// Full backstops (every position of the account to the vault).
    pub backstops: f64,
    /// Fees + slippage against the mark + margin kept by the vault: what liquidation cost the
    /// liquidated traders beyond the price move itself.
    pub trader_loss_usd: f64,
    /// `trader_loss_usd / liquidated_notional_usd`, basis points.
    pub trader_loss_bp: f64,
    /// Volume-weighted distance of book fills from the mark, basis points.
    pub slippage_bp: f64,
    pub insurance_drawdown_usd: f64,
    pub insurance_end_usd: f64,
    /// Fund at the end less at the start: liquidation-fee income less deficits paid.
    pub insurance_net_usd: f64,
    /// Backstops whose deficit the insurance fund could not cover, so ADL ran.
    pub adl_events: f64,
    /// Counterparties deleveraged (one per position closed by ADL).
    pub adl_fills: f64,
    pub adl_volume_usd: f64,
    pub adl_haircut_usd: f64,
    pub bad_debt_usd: f64,
    /// Largest push of a book's best price by liquidation flow, percent.
    pub price_impact_max_pct: f64,
    pub vault_pnl_usd: f64,
    pub open_interest_usd: f64,
    /// `liquidated_notional_usd / open_interest_usd`: what the calibration range is about.
    pub liquidated_share: f64,
    /// Exact valuations per trader-step (the screen's pass rate).
    pub exact_share: f64,
}

struct Trader {
    account: PerpAccount,
    market: PerpMarketId,
    started: bool,
    empty_rounds: u32,
    /// Soft rounds in the current unwinding.
    rounds: u32,
    liquidated: bool,
    /// Value exactly when the mark is at or below this (long) or at or above it (short).
    trigger: f64,
}

/// The state of one run.
struct PerpRun<'a> {
    s: &'a PerpScenario,
    paths: &'a [PerpPath],
    mechanism: PerpMechanism,
    params: Vec<Arc<PerpParams>>,
    state: Vec<PerpMarketState>,
    traders: Vec<Trader>,
    maker: PerpAccount,
    vault: PerpAccount,
    depth: Vec<Depth>,
    liquidator: Value,
    out: PerpMetrics,
    fund_start: f64,
    fund_min: f64,
    slip_usd: f64,
    exact_checks: f64,
    /// Off only in the test that checks the screen against a full exact scan.
    screen: bool,
    /// Per market and side, this step's ADL candidates (see [`PerpRun::adl_pool`]).
    adl_cache: Vec<Option<Vec<usize>>>,
}

fn draw(rng: &mut ChaCha8Rng, d: &LogNormal) -> f64 {
    let z: f64 = StandardNormal.sample(rng);
    (d.median * (d.sigma * z).exp()).clamp(d.min, d.max)
}

fn usd(x: f64) -> Value {
    Value::from_raw(to_raw(x))
}

fn to_raw(x: f64) -> u128 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let r = (x.max(0.0) * 1e18) as u128;
    r
}

fn err(e: impl std::fmt::Display) -> SimError {
    SimError::accounting(e)
}

fn market_id(m: usize) -> PerpMarketId {
    PerpMarketId(u16::try_from(m).unwrap_or(u16::MAX))
}

/// Runs `mechanism` over `seed`.
///
/// # Errors
/// A ledger error or a broken conservation identity (a bug, reported with its figures).
pub fn run(
    s: &PerpScenario,
    paths: &[PerpPath],
    mechanism: PerpMechanism,
    seed: u64,
) -> Result<PerpMetrics, SimError> {
    run_with(s, paths, mechanism, seed, true)
}

/// [`run`], with the screen on or off (off values every trader exactly every step: only for
/// the test that checks the screen changes nothing).
///
/// # Errors
/// As [`run`].
#[doc(hidden)]
pub fn run_with(
    s: &PerpScenario,
    paths: &[PerpPath],
    mechanism: PerpMechanism,
    seed: u64,
    screen: bool,
) -> Result<PerpMetrics, SimError> {
    let mut r = PerpRun::new(s, paths, mechanism, seed)?;
    r.screen = screen;
    let deposits = r.conservation_sum()?;
    let steps = paths.iter().map(|p| p.index.len()).min().unwrap_or(0);
    for t in 0..steps {
        let subs = if t == 0 { 1 } else { s.substeps.max(1) };
        for k in 1..=subs {
            let (perps, prices) = r.marks(t, k, subs)?;
            r.liquidate_step(&perps, &prices)?;
        }
    }
    let end = r.conservation_sum()?;
    if end != deposits {
        return Err(SimError::accounting(format!(
            "perp conservation broken: quotes + fees + insurance + funding pool + liquidator − bad debt = {end}, deposits {deposits}"
        )));
    }
    r.finish(steps)
}

impl<'a> PerpRun<'a> {
    /// The seeded population: each trader opens one position at the path's first price against
    /// the book's makers, with margin `notional / leverage`.
    fn new(
        s: &'a PerpScenario,
        paths: &'a [PerpPath],
        mechanism: PerpMechanism,
        seed: u64,
    ) -> Result<Self, SimError> {
        let params: Vec<Arc<PerpParams>> = (0..paths.len())
            .map(|i| s.params(AssetId::from_index(i)).map(Arc::new))
            .collect::<Result<_, _>>()?;
        let big = SignedValue::positive(usd(1e15)).map_err(err)?;
        let mut r = Self {
            s,
            paths,
            mechanism,
            state: vec![PerpMarketState::default(); paths.len()],
            traders: Vec::with_capacity(s.population.traders as usize),
            maker: PerpAccount::with_cash(big),
            vault: PerpAccount::with_cash(big),
            depth: Vec::new(),
            liquidator: Value::ZERO,
            out: PerpMetrics::default(),
            fund_start: 0.0,
            fund_min: 0.0,
            slip_usd: 0.0,
            exact_checks: 0.0,
            screen: true,
            adl_cache: vec![None; paths.len() * 2],
            params,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut oi = vec![0.0; paths.len()];
        for i in 0..s.population.traders as usize {
            let m = i % paths.len();
            oi[m] += r.open_trader(&mut rng, m)?;
        }
        let total_oi: f64 = oi.iter().sum();
        r.fund_start = total_oi * s.insurance_share_of_oi;
        r.fund_min = r.fund_start;
        r.out.open_interest_usd = total_oi;
        for (m, st) in r.state.iter_mut().enumerate() {
            st.insurance_fund = usd(r.fund_start * oi[m] / total_oi.max(1.0));
        }
        r.depth = paths
            .iter()
            .enumerate()
            .map(|(m, p)| Depth {
                usd_per_pct: s.books.depth_usd_per_pct[&p.name] * s.books.stress_factor * oi[m]
                    / s.books.reference_oi_usd[&p.name],
                consumed_usd: [0.0; 2],
            })
            .collect();
        Ok(r)
    }

    /// Opens one trader in market `m`; returns its notional.
    fn open_trader(&mut self, rng: &mut ChaCha8Rng, m: usize) -> Result<f64, SimError> {
        let pop = &self.s.population;
        let price = self.paths[m].perp[0];
        let notional = draw(rng, &pop.notional_usd);
        let leverage = draw(rng, &pop.leverage).min(self.params[m].max_leverage.to_f64() * 0.999);
        let long = rng.random_bool(pop.long_share);
        #[allow(clippy::cast_possible_truncation)]
        let size = (notional / price * 1e8) as i128 * if long { 1 } else { -1 };
        let exact = Amount::from_raw(size.unsigned_abs())
            .value_at(
                Price::from_raw(to_raw(price)),
                self.params[m].decimals,
                Rounding::Down,
            )
            .map_err(err)?;
        let market = market_id(m);
        let cash = SignedValue::positive(usd(notional / leverage)).map_err(err)?;
        let mut account = PerpAccount::with_cash(cash);
        let zero = SignedValue::ZERO;
        let fill = Fill {
            size,
            notional: exact,
        };
        account
            .trade(market, fill, Value::ZERO, zero)
            .map_err(err)?;
        let other = Fill {
            size: -size,
            notional: exact,
        };
        self.maker
            .trade(market, other, Value::ZERO, zero)
            .map_err(err)?;
        let mut trader = Trader {
            account,
            market,
            started: false,
            empty_rounds: 0,
            rounds: 0,
            liquidated: false,
            trigger: 0.0,
        };
        trader.trigger = self.trigger(&trader, zero);
        self.traders.push(trader);
        Ok(notional)
    }

    /// The mark at which the trader's equity meets maintenance (floats). Solved with the first
    /// tier's ratio, then again with the average maintenance ratio of the notional found there
    /// when that crosses into higher tiers (the requirement is continuous, so one refinement
    /// lands within the screen's margin; the test against the full scan checks it).
    fn trigger(&self, t: &Trader, cumulative: SignedValue) -> f64 {
        let Some(p) = t.account.position(t.market) else {
            return f64::NAN;
        };
        let params = &self.params[t.market.index()];
        let q = p.size as f64 / params.decimals.unit() as f64;
        let basis = p.basis.to_f64();
        let owed = p
            .funding_owed(cumulative, params.decimals)
            .map_or(0.0, SignedValue::to_f64);
        let cash = t.account.cash.to_f64();
        let solve = |mmr: f64| {
            if q > 0.0 {
                (basis + owed - cash) / (q * (1.0 - mmr))
            } else {
                (cash + basis - owed) / (-q * (1.0 + mmr))
            }
        };
        let first = solve(params.tiers[0].maintenance.to_f64());
        let notional = q.abs() * first.max(0.0);
        let mm = params
            .requirement(usd(notional), |tier| tier.maintenance)
            .map_or(0.0, Value::to_f64);
        if notional > 0.0 && mm / notional > params.tiers[0].maintenance.to_f64() * 1.0001 {
            solve(mm / notional)
        } else {
            first
        }
    }

    /// Whether the screen sends trader `t` to the exact check at `mark`.
    fn near_line(&self, t: &Trader, mark: f64) -> bool {
        if t.started || !self.screen {
            return true;
        }
        let long = t.account.position(t.market).is_some_and(|p| p.size > 0);
        if t.trigger.is_nan() {
            return true;
        }
        if long {
            mark <= t.trigger * (1.0 + SCREEN_MARGIN)
        } else {
            mark >= t.trigger * (1.0 - SCREEN_MARGIN)
        }
    }

    /// Sub-step `k` of `subs` of step `t`'s marks: index and traded price interpolated from
    /// step `t − 1` to step `t` (liquidation rounds run at the engine's cadence, many per price
    /// sample; a straight line between samples favours no mechanism), each book's pushed mid
    /// over the index, smoothed and bounded by the core; funding at its interval on the last
    /// sub-step (then every trader's trigger is refreshed). Returns the snapshot and the traded
    /// prices the books are built around.
    fn marks(
        &mut self,
        t: usize,
        k: usize,
        subs: usize,
    ) -> Result<(PerpSnapshot, Vec<f64>), SimError> {
        let mut perps = PerpSnapshot::new();
        let mut prices = Vec::with_capacity(self.paths.len());
        let (frac, per_sub) = (k as f64 / subs as f64, 1.0 / subs as f64);
        let decay = 0.5f64.powf(per_sub / self.s.books.recovery_half_life_steps.max(1e-9));
        let funding =
            k == subs && t > 0 && t.is_multiple_of(self.s.market.funding_interval_steps as usize);
        let at = |series: &[f64]| {
            let prev = series[t.saturating_sub(1)];
            prev + (series[t] - prev) * frac
        };
        self.adl_cache.iter_mut().for_each(|c| *c = None);
        for (m, p) in self.paths.iter().enumerate() {
            let d = &mut self.depth[m];
            d.recover(decay);
            let [bid, ask] = d.push_pct();
            self.out.price_impact_max_pct = self.out.price_impact_max_pct.max(bid).max(ask);
            let (traded, index_f) = (at(&p.perp), at(&p.index));
            let mid = traded * (1.0 + (ask - bid) / 200.0);
            prices.push(traded);
            let index = Price::from_raw(to_raw(index_f));
            #[allow(clippy::cast_possible_truncation)]
            let premium = SignedRatio::from_raw(((mid / index_f - 1.0) * 1e18) as i128);
            let st = &mut self.state[m];
            st.observe_premium(&self.params[m].mark, premium)
                .map_err(err)?;
            if funding {
                st.fund(&self.params[m].funding, index).map_err(err)?;
            }
            let risk = PerpRisk {
                mark: st.mark_price(&self.params[m].mark, index).map_err(err)?,
                index,
                cumulative_funding: st.cumulative_funding,
                params: Arc::clone(&self.params[m]),
                stale: false,
            };
            perps.set(market_id(m), risk);
        }
        if funding {
            for i in 0..self.traders.len() {
                let cum = self.state[self.traders[i].market.index()].cumulative_funding;
                self.traders[i].trigger = self.trigger(&self.traders[i], cum);
            }
        }
        Ok((perps, prices))
    }

    /// Every trader the screen passes is valued exactly; the liquidatable ones (and those
    /// being unwound) go through the mechanism.
    fn liquidate_step(&mut self, perps: &PerpSnapshot, prices: &[f64]) -> Result<(), SimError> {
        let marks: Vec<f64> = (0..self.paths.len())
            .map(|m| perps.get(market_id(m)).map_or(0.0, |r| r.mark.to_f64()))
            .collect();
        for i in 0..self.traders.len() {
            let t = &self.traders[i];
            if t.account.is_flat() || !self.near_line(t, marks[t.market.index()]) {
                continue;
            }
            self.exact_checks += 1.0;
            let e = Exposure::of(
                Scope::Cross,
                &Account::new(),
                &t.account,
                &RiskSnapshot::new(),
                perps,
            )
            .map_err(err)?;
            if e.is_liquidatable() || t.started {
                self.liquidate(i, perps, prices)?;
                let cum = perps
                    .get(self.traders[i].market)
                    .map_err(err)?
                    .cumulative_funding;
                self.traders[i].trigger = self.trigger(&self.traders[i], cum);
            }
        }
        Ok(())
    }

    /// One liquidation step for trader `i` under the run's mechanism.
    fn liquidate(
        &mut self,
        i: usize,
        perps: &PerpSnapshot,
        prices: &[f64],
    ) -> Result<(), SimError> {
        let m = self.traders[i].market;
        let r = perps.get(m).map_err(err)?;
        let paid = self.traders[i]
            .account
            .settle_funding(m, r.cumulative_funding, self.params[m.index()].decimals)
            .map_err(err)?;
        self.state[m.index()].book_funding(paid).map_err(err)?;
        if !self.traders[i].liquidated {
            self.traders[i].liquidated = true;
            self.out.traders_liquidated += 1.0;
        }
        let to_backstop = match self.mechanism {
            PerpMechanism::BackstopVault => true,
            PerpMechanism::HardClose => self.unwind(i, Mode::Hard, perps, prices)?,
            PerpMechanism::SoftUnwind => {
                let t = &mut self.traders[i];
                let escalate = self.s.market.escalate_after_rounds;
                t.rounds = if t.started { t.rounds + 1 } else { 0 };
                let below = Exposure::of(
                    Scope::Cross,
                    &Account::new(),
                    &t.account,
                    &RiskSnapshot::new(),
                    perps,
                )
                .map_err(err)?
                .is_liquidatable();
                let mode = if escalate > 0 && t.rounds >= escalate && below {
                    Mode::Hard
                } else {
                    Mode::Soft { started: t.started }
                };
                self.unwind(i, mode, perps, prices)?
            }
            PerpMechanism::SoftVault => {
                let started = self.traders[i].started;
                let to_backstop = self.unwind(i, Mode::Soft { started }, perps, prices)?;
                if !to_backstop && self.traders[i].started {
                    self.transfer_rest(i, perps)?;
                }
                to_backstop
            }
        };
        if to_backstop {
            self.backstop(i, perps)?;
        }
        let fund_now: f64 = self.state.iter().map(|st| st.insurance_fund.to_f64()).sum();
        self.fund_min = self.fund_min.min(fund_now);
        Ok(())
    }

    /// A round of `mode` against the books; returns whether the trader now goes to the
    /// backstop (a hard close leaves nothing behind it; a soft one below its line or after
    /// `empty_rounds_max` empty rounds).
    fn unwind(
        &mut self,
        i: usize,
        mode: Mode,
        perps: &PerpSnapshot,
        prices: &[f64],
    ) -> Result<bool, SimError> {
        let mut books = SimBooks {
            depth: &mut self.depth,
            prices,
            level_bp: self.s.books.level_bp,
            levels: self.s.books.levels,
            built: None,
        };
        let lending = Account::new();
        let account = &mut self.traders[i].account;
        let round = unwind_round(
            mode,
            Scope::Cross,
            &lending,
            account,
            &RiskSnapshot::new(),
            perps,
            &mut self.state,
            &mut books,
        )
        .map_err(err)?;
        self.book_round(&round, perps)?;
        let t = &mut self.traders[i];
        t.started = mode != Mode::Hard && !round.done;
        t.empty_rounds = if round.chunks.is_empty() {
            t.empty_rounds + 1
        } else {
            0
        };
        if t.account.is_flat() {
            t.started = false;
            return Ok(false);
        }
        let p = &self.params[t.market.index()];
        let after = Exposure::of(
            Scope::Cross,
            &lending,
            &t.account,
            &RiskSnapshot::new(),
            perps,
        )
        .map_err(err)?;
        Ok(mode == Mode::Hard
            || (after.is_liquidatable() && after.below_line(p.backstop_line))
            || t.empty_rounds >= p.empty_rounds_max)
    }

    /// Moves to the vault what the round could not sell of the reduction the target needs.
    fn transfer_rest(&mut self, i: usize, perps: &PerpSnapshot) -> Result<(), SimError> {
        let vault_cash = self.vault.cash;
        let t = &mut self.traders[i];
        let moved = transfer_to_target(
            Scope::Cross,
            &Account::new(),
            &mut t.account,
            &RiskSnapshot::new(),
            perps,
            &mut self.state,
            &mut self.vault,
        )
        .map_err(err)?;
        t.started = false;
        if let Some(tf) = moved {
            let n = tf.notional.to_f64();
            self.out.liquidated_notional_usd += n;
            self.out.vault_notional_usd += n;
            let price = self.vault.cash.checked_sub(vault_cash).map_err(err)?;
            self.out.trader_loss_usd += price.to_f64();
            self.out.vault_margin_usd += price.to_f64();
        }
        Ok(())
    }

    /// Books a round's chunks: the makers take the other side, the liquidator its fee share,
    /// the book its depth; the metrics their slippage against the mark and fees.
    fn book_round(&mut self, round: &Round, perps: &PerpSnapshot) -> Result<(), SimError> {
        for c in &round.chunks {
            let r = perps.get(c.market).map_err(err)?;
            let fill = Fill {
                size: -c.size,
                notional: c.notional,
            };
            // The maker stands for every resting order: its funding is settled before its
            // size changes, like any wallet's.
            let paid = self
                .maker
                .settle_funding(c.market, r.cumulative_funding, r.decimals())
                .map_err(err)?;
            self.state[c.market.index()]
                .book_funding(paid)
                .map_err(err)?;
            self.maker
                .trade(c.market, fill, Value::ZERO, r.cumulative_funding)
                .map_err(err)?;
            self.liquidator = self
                .liquidator
                .checked_add(c.fee_to_liquidator)
                .map_err(err)?;
            let at_mark = Amount::from_raw(c.size.unsigned_abs())
                .value_at(c.mark, r.decimals(), Rounding::Down)
                .map_err(err)?
                .to_f64();
            let notional = c.notional.to_f64();
            let slip = if c.size < 0 {
                at_mark - notional
            } else {
                notional - at_mark
            };
            self.out.liquidated_notional_usd += at_mark;
            self.out.book_notional_usd += at_mark;
            self.out.fees_usd += c.fee.to_f64();
            self.out.trader_loss_usd += slip + c.fee.to_f64();
            self.slip_usd += slip;
            self.depth[c.market.index()].take(c.size, notional);
        }
        Ok(())
    }

    /// The backstop on trader `i`: the vault at the mark, insurance, then ADL against the best
    /// candidates when the fund cannot cover the deficit. The candidates' accounts are moved out
    /// for the call and back after it, so an event costs O(candidates), not O(traders).
    fn backstop(&mut self, i: usize, perps: &PerpSnapshot) -> Result<(), SimError> {
        let m = self.traders[i].market;
        let mut account = std::mem::take(&mut self.traders[i].account);
        let e = Exposure::of(
            Scope::Cross,
            &Account::new(),
            &account,
            &RiskSnapshot::new(),
            perps,
        )
        .map_err(err)?;
        let mark = perps.get(m).map_err(err)?.mark;
        let needs_adl = e.equity.negative_part() > self.state[m.index()].insurance_fund;
        let pool = if needs_adl {
            let long = account.position(m).is_some_and(|p| p.size > 0);
            self.adl_pool(m, long, mark.to_f64())
        } else {
            Vec::new()
        };
        let mut taken: Vec<PerpAccount> = pool
            .iter()
            .map(|&j| std::mem::take(&mut self.traders[j].account))
            .collect();
        let mut cps: Vec<&mut PerpAccount> = taken.iter_mut().collect();
        if needs_adl {
            cps.push(&mut self.maker);
        }
        let result = backstop(
            Scope::Cross,
            &mut account,
            Value::ZERO,
            perps,
            &mut self.state,
            &mut self.vault,
            &mut cps,
        );
        drop(cps);
        for (&j, a) in pool.iter().zip(taken) {
            self.traders[j].account = a;
        }
        self.traders[i].account = account;
        self.traders[i].started = false;
        let result = result.map_err(err)?;
        if !result.bad_debt.is_zero() {
            // The step's candidates ran out: rank afresh for the next event.
            self.adl_cache.iter_mut().for_each(|c| *c = None);
        }
        self.book_backstop(&result, mark, m)
    }

    /// The ADL candidates against a bankrupt `long` (or short) in market `m`: the `ADL_POOL`
    /// opposite positions ranked highest by a float pre-rank of the core's score (profit % ×
    /// leverage), computed once per step and side. The core ranks them exactly; the pre-rank
    /// keeps an ADL event from scoring every trader (which made a 100k run quadratic).
    fn adl_pool(&mut self, m: PerpMarketId, bankrupt_long: bool, mark: f64) -> Vec<usize> {
        let slot = m.index() * 2 + usize::from(bankrupt_long);
        if let Some(pool) = &self.adl_cache[slot] {
            return pool.clone();
        }
        let unit = self.params[m.index()].decimals.unit() as f64;
        let mut scored: Vec<(f64, usize)> = self
            .traders
            .iter()
            .enumerate()
            .filter_map(|(j, t)| {
                let p = t.account.position(m)?;
                if p.size == 0 || (p.size > 0) == bankrupt_long || p.basis.is_zero() {
                    return None;
                }
                let size = p.size as f64 / unit;
                let basis = p.basis.to_f64();
                let pnl = if size > 0.0 {
                    size * mark - basis
                } else {
                    basis + size * mark
                };
                let equity = t.account.cash.to_f64() + pnl;
                (pnl > 0.0 && equity > 0.0).then(|| (pnl / basis * size.abs() * mark / equity, j))
            })
            .collect();
        let keep = ADL_POOL.min(scored.len());
        if keep < scored.len() {
            scored.select_nth_unstable_by(keep, |a, b| b.0.total_cmp(&a.0));
        }
        let mut pool: Vec<usize> = scored[..keep].iter().map(|&(_, j)| j).collect();
        pool.sort_unstable();
        self.adl_cache[slot] = Some(pool.clone());
        pool
    }

    fn book_backstop(
        &mut self,
        b: &Backstop,
        mark: Price,
        m: PerpMarketId,
    ) -> Result<(), SimError> {
        for tf in &b.transfers {
            self.out.liquidated_notional_usd += tf.notional.to_f64();
            self.out.vault_notional_usd += tf.notional.to_f64();
        }
        self.out.trader_loss_usd += b.margin_to_vault.to_f64();
        self.out.vault_margin_usd += b.margin_to_vault.to_f64();
        self.out.backstops += 1.0;
        self.out.adl_fills += f64::from(u32::try_from(b.adl.len()).unwrap_or(u32::MAX));
        self.out.adl_events += f64::from(u8::from(!b.adl.is_empty()));
        let d = self.params[m.index()].decimals;
        for f in &b.adl {
            self.out.adl_volume_usd += f
                .size
                .value_at(mark, d, Rounding::Down)
                .map_err(err)?
                .to_f64();
            self.out.adl_haircut_usd += f.haircut.to_f64();
        }
        self.out.bad_debt_usd += b.bad_debt.to_f64();
        Ok(())
    }

    /// The conservation sum: Σ quotes + fees + insurance + funding pool + liquidator − bad debt.
    fn conservation_sum(&self) -> Result<SignedValue, SimError> {
        let mut q = SignedValue::ZERO;
        for a in self
            .traders
            .iter()
            .map(|t| &t.account)
            .chain([&self.maker, &self.vault])
        {
            q = q.checked_add(a.quote().map_err(err)?).map_err(err)?;
        }
        for st in &self.state {
            q = q
                .plus(st.fees)
                .and_then(|q| q.plus(st.insurance_fund))
                .and_then(|q| q.checked_add(st.funding_pool))
                .and_then(|q| q.minus(st.bad_debt))
                .map_err(err)?;
        }
        q.plus(self.liquidator).map_err(err)
    }

    fn finish(mut self, steps: usize) -> Result<PerpMetrics, SimError> {
        let vault_pnl = self.vault_equity()? - 1e15;
        let o = &mut self.out;
        o.insurance_end_usd = self.state.iter().map(|st| st.insurance_fund.to_f64()).sum();
        o.insurance_drawdown_usd = self.fund_start - self.fund_min;
        o.insurance_net_usd = o.insurance_end_usd - self.fund_start;
        o.trader_loss_bp = bp(o.trader_loss_usd, o.liquidated_notional_usd);
        o.liquidated_share = o.liquidated_notional_usd / o.open_interest_usd.max(1.0);
        o.slippage_bp = bp(self.slip_usd, o.liquidated_notional_usd);
        let trader_steps = (self.traders.len() * steps).max(1) as f64;
        o.exact_share = self.exact_checks / trader_steps;
        o.vault_pnl_usd = vault_pnl;
        Ok(self.out)
    }

    /// The vault's cash plus its positions at the last index, less funding owed (floats: a
    /// report figure).
    fn vault_equity(&self) -> Result<f64, SimError> {
        let mut e = self.vault.cash.to_f64();
        for p in self.vault.positions() {
            let m = p.market.index();
            let last = *self.paths[m].index.last().unwrap_or(&0.0);
            let d = self.params[m].decimals;
            let size = p.size as f64 / d.unit() as f64;
            let basis = p.basis.to_f64();
            e += if p.size >= 0 {
                size * last - basis
            } else {
                basis + size * last
            };
            let owed = p
                .funding_owed(self.state[m].cumulative_funding, d)
                .map_err(err)?;
            e -= owed.to_f64();
        }
        Ok(e)
    }
}

fn bp(x: f64, of: f64) -> f64 {
    if of > 0.0 { x / of * 1e4 } else { 0.0 }
}
