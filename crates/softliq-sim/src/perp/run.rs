//! One perp run: one mechanism over one seed's population on the crash path, liquidating
//! through `softliq_core::perp` (the same rounds, backstop, insurance and ADL the engine will
//! run), with liquidations selling into books of finite depth that recover over time and whose
//! pushed price feeds the mark (cascades).

use std::sync::Arc;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use softliq_core::account::Account;
use softliq_core::asset::AssetId;
use softliq_core::health::RiskSnapshot;
use softliq_core::money::{Amount, Price, Rounding, SignedRatio, SignedValue, Value};
use softliq_core::perp::{
    BookSide, Books, Exposure, Fill, Level, Mode, PerpAccount, PerpMarketId, PerpMarketState,
    PerpParams, PerpRisk, PerpSnapshot, Scope, Side, backstop, unwind_round,
};

use super::scenario::{LogNormal, PerpMechanism, PerpPath, PerpScenario};
use crate::error::SimError;

/// What one run measured (USD unless named).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PerpMetrics {
    pub traders_liquidated: f64,
    /// Notional at the mark of everything liquidated (sold, transferred).
    pub liquidated_notional_usd: f64,
    /// Fees + slippage against the mark + margin kept by the vault: what liquidation cost the
    /// liquidated traders beyond the price move itself.
    pub trader_loss_usd: f64,
    /// `trader_loss_usd / liquidated_notional_usd`, basis points.
    pub trader_loss_bp: f64,
    /// Volume-weighted distance of book fills from the mark, basis points.
    pub slippage_bp: f64,
    pub insurance_drawdown_usd: f64,
    pub insurance_end_usd: f64,
    pub adl_events: f64,
    pub adl_volume_usd: f64,
    pub adl_haircut_usd: f64,
    pub bad_debt_usd: f64,
    /// Largest push of a book's best price by liquidation flow, percent.
    pub price_impact_max_pct: f64,
    pub vault_pnl_usd: f64,
    pub open_interest_usd: f64,
}

/// One side's recovering depth: USD per 1% and what liquidations have taken from the top.
struct Depth {
    usd_per_pct: f64,
    consumed_usd: [f64; 2],
}

struct SimBooks<'a> {
    depth: &'a mut [Depth],
    prices: &'a [f64],
    level_bp: u32,
    levels: u32,
    built: Option<(PerpMarketId, BookSide)>,
}

impl SimBooks<'_> {
    /// Builds the side `hit` of `market` at its current price, less what was consumed.
    fn build(&self, market: PerpMarketId, hit: Side) -> BookSide {
        let d = &self.depth[market.index()];
        let price = self.prices[market.index()];
        let per_level_usd = d.usd_per_pct * f64::from(self.level_bp) / 100.0;
        let mut skip = d.consumed_usd[usize::from(hit == Side::Ask)];
        let mut levels = Vec::with_capacity(self.levels as usize);
        for k in 0..self.levels {
            let off = f64::from(k * self.level_bp) / 10_000.0;
            let px = if hit == Side::Bid {
                price * (1.0 - off)
            } else {
                price * (1.0 + off)
            };
            if px <= 0.0 {
                break;
            }
            let usd = (per_level_usd - skip).max(0.0);
            skip = (skip - per_level_usd).max(0.0);
            if usd <= 0.0 {
                continue;
            }
            // Floats build the venue; the ledger sees exact integers from here on.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let level = Level {
                price: Price::from_raw((px * 1e18) as u128),
                size: Amount::from_raw((usd / px * 1e8) as u128),
            };
            levels.push(level);
        }
        BookSide::new(hit, levels)
    }
}

impl Books for SimBooks<'_> {
    fn side_for(&mut self, market: PerpMarketId, hit: Side) -> Option<&mut BookSide> {
        let side = self.build(market, hit);
        self.built = Some((market, side));
        self.built.as_mut().map(|(_, s)| s)
    }
}

struct Trader {
    account: PerpAccount,
    market: PerpMarketId,
    started: bool,
    empty_rounds: u32,
    liquidated: bool,
}

fn draw(rng: &mut ChaCha8Rng, d: &LogNormal) -> f64 {
    let z: f64 = StandardNormal.sample(rng);
    (d.median * (d.sigma * z).exp()).clamp(d.min, d.max)
}

fn usd(x: f64) -> Result<Value, SimError> {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(Value::from_raw((x.max(0.0) * 1e18) as u128))
}

fn err(e: impl std::fmt::Display) -> SimError {
    SimError::accounting(e)
}

/// Runs `mechanism` over `seed`.
///
/// # Errors
/// A ledger error or a broken conservation identity (a bug, reported with its figures).
#[allow(clippy::too_many_lines)]
pub fn run(
    s: &PerpScenario,
    paths: &[PerpPath],
    mechanism: PerpMechanism,
    seed: u64,
) -> Result<PerpMetrics, SimError> {
    let params: Vec<Arc<PerpParams>> = (0..paths.len())
        .map(|i| s.params(AssetId::from_index(i)).map(Arc::new))
        .collect::<Result<_, _>>()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut state = vec![PerpMarketState::default(); paths.len()];
    let mut maker = PerpAccount::with_cash(SignedValue::positive(usd(1e15)?).map_err(err)?);
    let mut vault = PerpAccount::with_cash(SignedValue::positive(usd(1e15)?).map_err(err)?);
    let vault_start = vault.cash;
    let mut traders = Vec::with_capacity(s.population.traders as usize);
    let mut oi = vec![0.0; paths.len()];
    for i in 0..s.population.traders as usize {
        let m = i % paths.len();
        let market = PerpMarketId(u16::try_from(m).map_err(err)?);
        let price = paths[m].perp[0];
        let notional = draw(&mut rng, &s.population.notional_usd);
        let max_lev = params[m].max_leverage.to_f64() * 0.999;
        let leverage = draw(&mut rng, &s.population.leverage).min(max_lev);
        let long = rng.random_bool(s.population.long_share);
        #[allow(clippy::cast_possible_truncation)]
        let size = (notional / price * 1e8) as i128 * if long { 1 } else { -1 };
        let exact = Amount::from_raw(size.unsigned_abs())
            .value_at(
                Price::from_raw(to_raw(price)),
                params[m].decimals,
                Rounding::Down,
            )
            .map_err(err)?;
        let mut account =
            PerpAccount::with_cash(SignedValue::positive(usd(notional / leverage)?).map_err(err)?);
        let cum = SignedValue::ZERO;
        account
            .trade(
                market,
                Fill {
                    size,
                    notional: exact,
                },
                Value::ZERO,
                cum,
            )
            .map_err(err)?;
        maker
            .trade(
                market,
                Fill {
                    size: -size,
                    notional: exact,
                },
                Value::ZERO,
                cum,
            )
            .map_err(err)?;
        oi[m] += notional;
        traders.push(Trader {
            account,
            market,
            started: false,
            empty_rounds: 0,
            liquidated: false,
        });
    }
    let total_oi: f64 = oi.iter().sum();
    let fund_start = total_oi * s.insurance_share_of_oi;
    for (m, st) in state.iter_mut().enumerate() {
        st.insurance_fund = usd(fund_start * oi[m] / total_oi.max(1.0))?;
    }
    let deposits = sum_quotes(&traders, &maker, &vault, &state, Value::ZERO)?;
    let mut depth: Vec<Depth> = paths
        .iter()
        .enumerate()
        .map(|(m, p)| Depth {
            usd_per_pct: s.books.depth_usd_per_pct[&p.name] * s.books.stress_factor * oi[m]
                / s.books.reference_oi_usd[&p.name],
            consumed_usd: [0.0; 2],
        })
        .collect();
    let decay = 0.5f64.powf(1.0 / s.books.recovery_half_life_steps.max(1e-9));
    let mut out = PerpMetrics {
        open_interest_usd: total_oi,
        ..PerpMetrics::default()
    };
    let mut liquidator = Value::ZERO;
    let mut fund_min = fund_start;
    let mut slip_weighted = 0.0;
    let steps = paths.iter().map(|p| p.index.len()).min().unwrap_or(0);
    let lending = Account::new();
    let risk = RiskSnapshot::new();
    for t in 0..steps {
        // Marks: the book's pushed mid over the index, smoothed and bounded by the core.
        let mut perps = PerpSnapshot::new();
        let mut book_prices = Vec::with_capacity(paths.len());
        for (m, p) in paths.iter().enumerate() {
            let d = &mut depth[m];
            d.consumed_usd = d.consumed_usd.map(|c| c * decay);
            let bid = d.consumed_usd[0] / d.usd_per_pct.max(1e-9);
            let ask = d.consumed_usd[1] / d.usd_per_pct.max(1e-9);
            out.price_impact_max_pct = out.price_impact_max_pct.max(bid).max(ask);
            let mid = p.perp[t] * (1.0 + (ask - bid) / 200.0);
            book_prices.push(p.perp[t]);
            let index = Price::from_raw(to_raw(p.index[t]));
            #[allow(clippy::cast_possible_truncation)]
            let premium = SignedRatio::from_raw(((mid / p.index[t] - 1.0) * 1e18) as i128);
            state[m]
                .observe_premium(&params[m].mark, premium)
                .map_err(err)?;
            if t > 0 && t % s.market.funding_interval_steps as usize == 0 {
                state[m].fund(&params[m].funding, index).map_err(err)?;
            }
            let mark = state[m].mark_price(&params[m].mark, index).map_err(err)?;
            perps.set(
                PerpMarketId(u16::try_from(m).map_err(err)?),
                PerpRisk {
                    mark,
                    index,
                    cumulative_funding: state[m].cumulative_funding,
                    params: Arc::clone(&params[m]),
                    stale: false,
                },
            );
        }
        for i in 0..traders.len() {
            let tr = &traders[i];
            if tr.account.is_flat() {
                continue;
            }
            let exposure =
                Exposure::of(Scope::Cross, &lending, &tr.account, &risk, &perps).map_err(err)?;
            if !exposure.is_liquidatable() && !tr.started {
                continue;
            }
            let m = tr.market;
            let cum = perps.get(m).map_err(err)?.cumulative_funding;
            let paid = traders[i]
                .account
                .settle_funding(m, cum, params[m.index()].decimals)
                .map_err(err)?;
            state[m.index()].book_funding(paid).map_err(err)?;
            if !traders[i].liquidated {
                traders[i].liquidated = true;
                out.traders_liquidated += 1.0;
            }
            let mark = perps.get(m).map_err(err)?.mark;
            let mut to_backstop = mechanism == PerpMechanism::BackstopVault;
            if mechanism != PerpMechanism::BackstopVault {
                let mode = if mechanism == PerpMechanism::HardClose {
                    Mode::Hard
                } else {
                    Mode::Soft {
                        started: traders[i].started,
                    }
                };
                let mut books = SimBooks {
                    depth: &mut depth,
                    prices: &book_prices,
                    level_bp: s.books.level_bp,
                    levels: s.books.levels,
                    built: None,
                };
                let round = unwind_round(
                    mode,
                    Scope::Cross,
                    &lending,
                    &mut traders[i].account,
                    &risk,
                    &perps,
                    &mut state,
                    &mut books,
                )
                .map_err(err)?;
                for c in &round.chunks {
                    maker
                        .trade(
                            c.market,
                            Fill {
                                size: -c.size,
                                notional: c.notional,
                            },
                            Value::ZERO,
                            cum,
                        )
                        .map_err(err)?;
                    liquidator = liquidator.checked_add(c.fee_to_liquidator).map_err(err)?;
                    let at_mark = Amount::from_raw(c.size.unsigned_abs())
                        .value_at(mark, params[m.index()].decimals, Rounding::Down)
                        .map_err(err)?
                        .to_f64();
                    let slip = if c.size < 0 {
                        at_mark - c.notional.to_f64()
                    } else {
                        c.notional.to_f64() - at_mark
                    };
                    out.liquidated_notional_usd += at_mark;
                    out.trader_loss_usd += slip + c.fee.to_f64();
                    slip_weighted += slip;
                    depth[m.index()].consumed_usd[usize::from(c.size > 0)] += c.notional.to_f64();
                }
                let tr = &mut traders[i];
                tr.started = mode != Mode::Hard && !round.done;
                tr.empty_rounds = if round.chunks.is_empty() {
                    tr.empty_rounds + 1
                } else {
                    0
                };
                let after = Exposure::of(Scope::Cross, &lending, &tr.account, &risk, &perps)
                    .map_err(err)?;
                let p = &params[m.index()];
                to_backstop = !tr.account.is_flat()
                    && (mode == Mode::Hard
                        || (after.is_liquidatable() && after.below_line(p.backstop_line))
                        || tr.empty_rounds >= p.empty_rounds_max);
            }
            if to_backstop {
                let tr_account = std::mem::take(&mut traders[i].account);
                let mut account = tr_account;
                let exposure =
                    Exposure::of(Scope::Cross, &lending, &account, &risk, &perps).map_err(err)?;
                let fund = state[m.index()].insurance_fund;
                let needs_adl = exposure.equity.negative_part() > fund;
                let result = if needs_adl {
                    let long = account.position(m).is_some_and(|p| p.size > 0);
                    let pool = adl_pool(
                        &traders,
                        m,
                        long,
                        mark.to_f64(),
                        params[m.index()].decimals.unit(),
                    );
                    let mut cps: Vec<&mut PerpAccount> = traders
                        .iter_mut()
                        .zip(&pool)
                        .filter_map(|(t, &keep)| keep.then_some(&mut t.account))
                        .collect();
                    cps.push(&mut maker);
                    backstop(
                        Scope::Cross,
                        &mut account,
                        Value::ZERO,
                        &perps,
                        &mut state,
                        &mut vault,
                        &mut cps,
                    )
                } else {
                    backstop(
                        Scope::Cross,
                        &mut account,
                        Value::ZERO,
                        &perps,
                        &mut state,
                        &mut vault,
                        &mut [],
                    )
                }
                .map_err(err)?;
                traders[i].account = account;
                traders[i].started = false;
                for tf in &result.transfers {
                    out.liquidated_notional_usd += tf.notional.to_f64();
                }
                out.trader_loss_usd += result.margin_to_vault.to_f64();
                out.adl_events += f64::from(u32::try_from(result.adl.len()).unwrap_or(u32::MAX));
                for f in &result.adl {
                    out.adl_volume_usd += f
                        .size
                        .value_at(mark, params[m.index()].decimals, Rounding::Down)
                        .map_err(err)?
                        .to_f64();
                    out.adl_haircut_usd += f.haircut.to_f64();
                }
                out.bad_debt_usd += result.bad_debt.to_f64();
            }
            let fund_now: f64 = state.iter().map(|st| st.insurance_fund.to_f64()).sum();
            fund_min = fund_min.min(fund_now);
        }
    }
    let end = sum_quotes(&traders, &maker, &vault, &state, liquidator)?;
    if end != deposits {
        return Err(SimError::accounting(format!(
            "perp conservation broken: quotes + fees + insurance + funding pool + liquidator − bad debt = {end}, deposits {deposits}"
        )));
    }
    out.insurance_end_usd = state.iter().map(|st| st.insurance_fund.to_f64()).sum();
    out.insurance_drawdown_usd = fund_start - fund_min;
    out.trader_loss_bp = bp(out.trader_loss_usd, out.liquidated_notional_usd);
    out.slippage_bp = bp(slip_weighted, out.liquidated_notional_usd);
    out.vault_pnl_usd = vault_equity(&vault, paths, &params, &state)? - vault_start.to_f64();
    Ok(out)
}

/// The ADL candidates offered to the core: the `ADL_POOL` opposite positions ranked highest by
/// a float pre-rank of the same score (profit % × leverage). The core ranks them exactly; the
/// pre-rank only keeps an ADL event from scoring every trader of a 100k population (which made
/// a run quadratic). A candidate past the first `ADL_POOL` is reached only when the pool's
/// positions are all closed, which a single event never needs in these populations.
fn adl_pool(
    traders: &[Trader],
    market: PerpMarketId,
    bankrupt_long: bool,
    mark: f64,
    unit: u128,
) -> Vec<bool> {
    const ADL_POOL: usize = 512;
    #[allow(clippy::cast_precision_loss)]
    let unit = unit as f64;
    let mut scored: Vec<(f64, usize)> = traders
        .iter()
        .enumerate()
        .filter_map(|(j, t)| {
            let p = t.account.position(market)?;
            if p.size == 0 || (p.size > 0) == bankrupt_long || p.basis.is_zero() {
                return None;
            }
            #[allow(clippy::cast_precision_loss)]
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
    let mut mask = vec![false; traders.len()];
    for &(_, j) in &scored[..keep] {
        mask[j] = true;
    }
    mask
}

fn bp(x: f64, of: f64) -> f64 {
    if of > 0.0 { x / of * 1e4 } else { 0.0 }
}

fn to_raw(x: f64) -> u128 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let r = (x.max(0.0) * 1e18) as u128;
    r
}

/// The vault's cash plus its positions at the last index (floats: a report figure).
fn vault_equity(
    vault: &PerpAccount,
    paths: &[PerpPath],
    params: &[Arc<PerpParams>],
    state: &[PerpMarketState],
) -> Result<f64, SimError> {
    let mut e = vault.cash.to_f64();
    for p in vault.positions() {
        let m = p.market.index();
        let last = *paths[m].index.last().unwrap_or(&0.0);
        let size = p.size as f64 / params[m].decimals.unit() as f64;
        let basis = p.basis.to_f64();
        e += if p.size >= 0 {
            size * last - basis
        } else {
            basis + size * last
        };
        let owed = p
            .funding_owed(state[m].cumulative_funding, params[m].decimals)
            .map_err(err)?;
        e -= owed.to_f64();
    }
    Ok(e)
}

/// The conservation sum: Σ quotes + fees + insurance + funding pool + liquidator − bad debt.
fn sum_quotes(
    traders: &[Trader],
    maker: &PerpAccount,
    vault: &PerpAccount,
    state: &[PerpMarketState],
    liquidator: Value,
) -> Result<SignedValue, SimError> {
    let mut q = SignedValue::ZERO;
    for a in traders.iter().map(|t| &t.account).chain([maker, vault]) {
        q = q.checked_add(a.quote().map_err(err)?).map_err(err)?;
    }
    for st in state {
        q = q
            .plus(st.fees)
            .and_then(|q| q.plus(st.insurance_fund))
            .and_then(|q| q.checked_add(st.funding_pool))
            .and_then(|q| q.minus(st.bad_debt))
            .map_err(err)?;
    }
    q.plus(liquidator).map_err(err)
}
