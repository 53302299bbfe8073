//! The keeper's perp side: one liquidation step per flagged wallet, an offer to take the
//! backstop when taking it pays, and the unwinding of what it took.
//!
//! The engine plans every step (the chunks it sends to the book, the backstop when due). What
//! the keeper decides is whether to offer to take a backstop in the vault's place
//! (`take_backstop`, decision 110): the taker gets the wallet's positions at the mark and keeps
//! up to their maintenance margin. The offer is made only with `perp_margin` configured and when
//!
//! ```text
//! profit = min(equity⁺, MM) − Σ close_cost − fee_per_call ≥ min_profit
//! close_cost = Σ_levels |mark − price| · size + taker_fee · mark · |position|
//! ```
//!
//! where the levels are the book side the keeper would close into, walked for the whole
//! position as it stands before the step (the step's own chunks take the best levels first, so
//! this is a lower bound on what the book will ask; the margin kept is an upper bound, since
//! the engine also runs the round first). A position the book cannot absorb in full makes no
//! offer. Amounts are exact decimals, costs rounded up.
//!
//! Whatever the keeper holds is closed on every pass with reduce-only IOC orders limited to
//! its entry moved against it by the position's MM per contract (what taking it paid at most,
//! so a close never loses more than the takeover could have earned); what the book cannot take
//! within that waits for the next pass.

use softliq_api::perps::{
    BookView, OrderSide, OrderTif, PerpLiquidateRequest, PerpMarketView, PerpMarketsView,
    PerpQueueRow, PerpQueueView, PerpWalletView, PlaceOrderRequest, UsdRequest,
};
use softliq_core::account::AccountId;
use softliq_core::money::{Ratio, Rounding, SignedValue, Value};
use softliq_engine::event::Event;

use super::{Keeper, figure};

/// Most perp liquidation steps one pass sends (the rest wait for the next pass).
const PERP_STEPS_PER_PASS: usize = 256;
/// Levels per side read to price a takeover.
const BOOK_DEPTH: usize = 200;

/// A position the keeper would inherit, with the book side it would close it into.
#[derive(Clone, Debug)]
pub struct Inherited {
    /// Contracts, unsigned.
    pub size: Ratio,
    pub mark: Value,
    pub taker_fee: Ratio,
    /// `(price, contracts)`, best first: the bids for a long, the asks for a short.
    pub levels: Vec<(Value, Ratio)>,
}

/// Expected profit of taking a backstop (module docs): the margin kept less the cost of
/// closing every inherited position on the book as it stands and the call's fee. `None` when a
/// book cannot absorb a position in full or the arithmetic overflows.
#[must_use]
pub fn takeover_profit(
    equity: SignedValue,
    maintenance: Value,
    positions: &[Inherited],
    fee_per_call: Value,
) -> Option<SignedValue> {
    let mut cost = fee_per_call;
    for p in positions {
        cost = cost.checked_add(close_cost(p)?).ok()?;
    }
    let kept = equity.positive_part().min(maintenance);
    SignedValue::ZERO.plus(kept).ok()?.minus(cost).ok()
}

/// Slippage from the mark over the levels that absorb `p.size`, and the taker fee; `None`
/// when the levels hold less.
fn close_cost(p: &Inherited) -> Option<Value> {
    let notional = p.mark.mul_ratio(p.size, Rounding::Up).ok()?;
    let mut cost = notional.mul_ratio(p.taker_fee, Rounding::Up).ok()?;
    let mut left = p.size;
    for &(price, size) in &p.levels {
        if left.is_zero() {
            break;
        }
        let q = size.min(left);
        let gap = if price > p.mark {
            price.checked_sub(p.mark)
        } else {
            p.mark.checked_sub(price)
        }
        .ok()?;
        cost = cost
            .checked_add(gap.mul_ratio(q, Rounding::Up).ok()?)
            .ok()?;
        left = left.checked_sub(q).ok()?;
    }
    left.is_zero().then_some(cost)
}

/// The worst price at which the keeper closes a position it took (module docs): its entry
/// moved against it by the MM per contract, on the tick, rounded toward the entry.
#[must_use]
pub fn unwind_limit(
    short: bool,
    size: Ratio,
    entry: Value,
    maintenance: Value,
    tick: Value,
) -> Option<Value> {
    if size.is_zero() || tick.is_zero() {
        return None;
    }
    let allowance = maintenance.div_ratio(size, Rounding::Down).ok()?;
    let t = tick.raw();
    let raw = if short {
        let x = entry.checked_add(allowance).ok()?.raw();
        x / t * t
    } else {
        let x = entry.raw().saturating_sub(allowance.raw()).max(t);
        x.div_ceil(t).checked_mul(t)?
    };
    Some(Value::from_raw(raw))
}

/// `"-0.25"` as (short, 0.25).
fn signed_contracts(text: &str) -> Option<(bool, Ratio)> {
    let (short, digits) = text.strip_prefix('-').map_or((false, text), |d| (true, d));
    Ratio::parse("size", digits).ok().map(|r| (short, r))
}

/// What the keeper needs of a perp market: its taker fee and tick.
struct Market {
    market: u16,
    taker_fee: Ratio,
    tick_size: Value,
}

impl Market {
    fn of(view: &PerpMarketView) -> Result<Self, String> {
        Ok(Self {
            market: view.market,
            taker_fee: Ratio::parse("taker_fee", &view.taker_fee).map_err(|e| e.to_string())?,
            tick_size: figure("tick_size", &view.tick_size)?,
        })
    }
}

impl Keeper {
    /// One liquidation step for each wallet in the perp queue, offering to take the backstop
    /// where it pays, then a pass over what the keeper holds. The key carries the queue's
    /// sequence number: a retry of this pass's step is the same command, the next pass's is a
    /// new step.
    pub(super) async fn keep_perps(&self) -> Result<(), String> {
        let path = "/v1/perps/liquidations?limit=1000";
        let Some((first, accounts)) = self
            .get_all::<PerpQueueView>(path, PERP_STEPS_PER_PASS + 1)
            .await?
        else {
            return Ok(());
        };
        let seq = first.seq;
        // Fee rates and ticks, read once a pass: only a keeper with margin needs them.
        let markets = if self.config.perp_margin.is_zero() {
            Vec::new()
        } else {
            let (_, body) = self.get::<PerpMarketsView>("/v1/perps").await?;
            let markets = body.map(|b| b.markets).unwrap_or_default();
            markets.iter().map(Market::of).collect::<Result<_, _>>()?
        };
        for row in accounts.iter().take(PERP_STEPS_PER_PASS) {
            if row.account == self.account {
                continue;
            }
            let take = self.offers_to_take(row, &markets).await?;
            let key = format!("keeper-perp-{}-{}-{seq}", self.account, row.account);
            let body = PerpLiquidateRequest {
                liquidator: self.account,
                account: row.account,
                take_backstop: take,
            };
            if let Some(out) = self.submit("/v1/perps/liquidations", &key, &body).await? {
                let taken = out.events.iter().any(|e| {
                    matches!(e, Event::PerpLiquidated(step) if step.taker == Some(AccountId(self.account)))
                });
                tracing::debug!(
                    account = row.account,
                    seq = out.seq,
                    taken,
                    "keeper: perp step"
                );
                let mut stats = self.stats();
                stats.perp_steps += 1;
                stats.perp_takeovers += u64::from(taken);
            }
        }
        if !self.config.perp_margin.is_zero() {
            self.unwind_own(seq, &markets).await?;
        }
        Ok(())
    }

    /// Whether to offer to take `row`'s backstop: only with perp margin of its own, a wallet
    /// with something to keep, and a profit estimate that clears `min_profit`.
    async fn offers_to_take(&self, row: &PerpQueueRow, markets: &[Market]) -> Result<bool, String> {
        let equity = SignedValue::parse("equity", &row.equity).map_err(|e| e.to_string())?;
        if self.config.perp_margin.is_zero() || equity.raw() <= 0 {
            return Ok(false);
        }
        let maintenance = figure("maintenance_margin", &row.maintenance_margin)?;
        let (_, Some(wallet)) = self
            .get::<PerpWalletView>(&format!("/v1/accounts/{}/perp", row.account))
            .await?
        else {
            return Ok(false);
        };
        let mut inherited = Vec::new();
        for p in &wallet.positions {
            let Some((short, size)) = signed_contracts(&p.size) else {
                return Ok(false);
            };
            let Some(fee) = markets.iter().find(|m| m.market == p.market) else {
                return Ok(false);
            };
            let path = format!("/v1/perps/{}/book?depth={BOOK_DEPTH}", p.market);
            let (_, Some(book)) = self.get::<BookView>(&path).await? else {
                return Ok(false);
            };
            // A long is closed by selling into the bids, a short by buying the asks.
            let side = if short { book.asks } else { book.bids };
            let levels = side
                .iter()
                .map(|l| {
                    let size = Ratio::parse("size", &l.size).map_err(|e| e.to_string())?;
                    Ok((figure("price", &l.price)?, size))
                })
                .collect::<Result<_, String>>()?;
            inherited.push(Inherited {
                size,
                mark: figure("mark", &p.mark)?,
                taker_fee: fee.taker_fee,
                levels,
            });
        }
        let profit = takeover_profit(
            equity,
            maintenance,
            &inherited,
            self.config.cost.fee_per_call,
        );
        let min = SignedValue::ZERO
            .plus(self.config.cost.min_profit)
            .unwrap_or(SignedValue::ZERO);
        Ok(profit.is_some_and(|p| p >= min))
    }

    /// Reduce-only IOC orders closing every position the keeper holds, within
    /// [`unwind_limit`].
    async fn unwind_own(&self, seq: u64, markets: &[Market]) -> Result<(), String> {
        let (_, Some(wallet)) = self
            .get::<PerpWalletView>(&format!("/v1/accounts/{}/perp", self.account))
            .await?
        else {
            return Ok(());
        };
        for p in &wallet.positions {
            let Some((short, size)) = signed_contracts(&p.size) else {
                continue;
            };
            let tick = markets.iter().find(|m| m.market == p.market);
            let entry = p
                .entry_price
                .as_deref()
                .map(|e| figure("entry_price", e))
                .transpose()?;
            let maintenance = figure("maintenance_margin", &p.maintenance_margin)?;
            let Some(limit) = entry
                .zip(tick)
                .and_then(|(entry, m)| unwind_limit(short, size, entry, maintenance, m.tick_size))
            else {
                continue;
            };
            let key = format!("keeper-unwind-{}-{}-{seq}", self.account, p.market);
            let body = PlaceOrderRequest {
                account: self.account,
                side: if short {
                    OrderSide::Buy
                } else {
                    OrderSide::Sell
                },
                price: Some(limit.to_string()),
                size: p.size.trim_start_matches('-').to_owned(),
                tif: Some(OrderTif::Ioc),
                reduce_only: true,
            };
            let path = format!("/v1/perps/{}/orders", p.market);
            if self.submit(&path, &key, &body).await?.is_some() {
                self.stats().perp_unwinds += 1;
            }
        }
        Ok(())
    }

    /// Tops the keeper's perp cash up to `perp_margin` (the margin a takeover needs).
    pub(super) async fn fund_perp_margin(&self) -> Result<(), String> {
        let target = self.config.perp_margin;
        if target.is_zero() {
            return Ok(());
        }
        let path = format!("/v1/accounts/{}/perp", self.account);
        let (_, Some(wallet)) = self.get::<PerpWalletView>(&path).await? else {
            return Err(format!("keeper: reading {path}"));
        };
        let cash = SignedValue::parse("cash", &wallet.cash).map_err(|e| e.to_string())?;
        let have = cash.positive_part();
        if have >= target {
            return Ok(());
        }
        let amount = target.checked_sub(have).map_err(|e| e.to_string())?;
        let key = format!("keeper-margin-{}-{}", self.account, rand::random::<u64>());
        let body = UsdRequest {
            amount: amount.to_string(),
        };
        self.submit(&format!("{path}/deposit"), &key, &body)
            .await?
            .ok_or_else(|| format!("keeper: depositing {amount} USD of perp margin was refused"))?;
        tracing::info!(%amount, "keeper: perp margin deposited");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Value {
        Value::parse("v", s).unwrap()
    }

    fn r(s: &str) -> Ratio {
        Ratio::parse("r", s).unwrap()
    }

    fn sv(s: &str) -> SignedValue {
        SignedValue::parse("sv", s).unwrap()
    }

    fn long_9(levels: &[(&str, &str)]) -> Inherited {
        Inherited {
            size: r("9"),
            mark: v("93.5"),
            taker_fee: r("0.0005"),
            levels: levels.iter().map(|&(p, q)| (v(p), r(q))).collect(),
        }
    }

    /// Keeps min(41.05, 42.075) = 41.05; closing 9 at 93.4 (5) and 93 (4) costs 0.5 + 2 of
    /// slippage and 0.42075 of fee; 0.5 per call: 41.05 − 3.42075 = 37.62925.
    #[test]
    fn profit_is_the_margin_kept_less_the_walk_the_fee_and_the_call() {
        let p = long_9(&[("93.4", "5"), ("93", "10")]);
        let profit = takeover_profit(sv("41.05"), v("42.075"), &[p], v("0.5")).unwrap();
        assert_eq!(profit, sv("37.62925"));
    }

    #[test]
    fn a_book_that_cannot_absorb_the_position_makes_no_offer() {
        let p = long_9(&[("93.4", "5"), ("93", "3.999")]);
        assert_eq!(
            takeover_profit(sv("41.05"), v("42.075"), &[p], v("0")),
            None
        );
    }

    /// The MM caps what is kept; a deep discount in the book makes the takeover a loss.
    #[test]
    fn the_maintenance_margin_caps_the_gain_and_a_thin_book_makes_a_loss() {
        let p = long_9(&[("88", "9")]);
        let profit = takeover_profit(sv("500"), v("42.075"), &[p], v("0")).unwrap();
        // 42.075 − 9 · 5.5 − 0.42075 = −7.84575
        assert_eq!(profit, sv("-7.84575"));
    }

    /// Entry 1780, MM 801 on 9: 89 per contract; a long sells no lower than 1691, a short
    /// buys no higher than 1869, each on a 0.5 tick rounded toward the entry.
    #[test]
    fn the_unwind_limit_gives_back_at_most_the_mm_per_contract() {
        let limit = |short, tick| unwind_limit(short, r("9"), v("1780"), v("801"), v(tick));
        assert_eq!(limit(false, "0.5"), Some(v("1691")));
        assert_eq!(limit(true, "0.5"), Some(v("1869")));
        assert_eq!(limit(false, "7"), Some(v("1694")), "1691 up to the 7-tick");
        assert_eq!(limit(true, "7"), Some(v("1869")), "1869 down to the 7-tick");
        assert_eq!(
            unwind_limit(false, r("0"), v("1780"), v("801"), v("1")),
            None
        );
    }

    #[test]
    fn sizes_parse_with_their_sign() {
        assert_eq!(signed_contracts("-0.25"), Some((true, r("0.25"))));
        assert_eq!(signed_contracts("9"), Some((false, r("9"))));
        assert_eq!(signed_contracts("x"), None);
    }
}
