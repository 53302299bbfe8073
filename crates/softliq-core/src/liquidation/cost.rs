//! The liquidator's cost model: what a call must earn to be worth making. One model, one depth
//! unit, for the keeper (which decides on the API's exact quotes) and the simulator (whose
//! venue executes the same linear book in floats; a test there ties the two).
//!
//! A call pays `received` USD of collateral for `paid` USD of debt. The liquidator sells the
//! collateral into a book with linear depth `depth_per_pct`: every `depth_per_pct` USD sold
//! moves the price down 1%, so selling `v` USD moves it by `v / (100·U)` and the average sale
//! lands half of that below the oracle price:
//!
//! ```text
//! slippage = v · v / (100·U) / 2 = v² / (200·U)
//! profit   = received − paid − fee_per_call − slippage(received)
//! ```
//!
//! Costs round up at every step (the model never flatters a call); a depth of zero models no
//! book at all (no slippage), for a liquidator that holds what it seizes.

use crate::money::{MathError, Ratio, Rounding, Value};

/// What one call costs a liquidator, and the least profit it wants after costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CostModel {
    /// Least profit after costs for a call to be worth making, USD.
    pub min_profit: Value,
    /// Cost of one call (gas, fees), USD.
    pub fee_per_call: Value,
    /// USD of sales that move the book's price by 1% (0: no book modelled).
    pub depth_per_pct: Value,
}

/// 100 (percent) · 2 (the average sale lands at half the final impact).
const SLIPPAGE_DIVISOR: u128 = 200;

impl CostModel {
    /// What selling `sold` USD into the book costs below the oracle price, rounded up.
    ///
    /// # Errors
    /// Overflow.
    pub fn slippage(&self, sold: Value) -> Result<Value, MathError> {
        if self.depth_per_pct.is_zero() {
            return Ok(Value::ZERO);
        }
        let share = sold.ratio_to(self.depth_per_pct, Rounding::Up)?;
        sold.mul_ratio(share, Rounding::Up)?
            .div_ratio(Ratio::from_int(SLIPPAGE_DIVISOR)?, Rounding::Up)
    }

    /// `received − paid − fee_per_call − slippage(received)`: `Ok(None)` when the costs exceed
    /// what is received (a loss), with the costs for the reason.
    ///
    /// # Errors
    /// Overflow.
    pub fn profit(&self, received: Value, paid: Value) -> Result<Profit, MathError> {
        let slippage = self.slippage(received)?;
        let costs = paid.checked_add(self.fee_per_call)?.checked_add(slippage)?;
        Ok(Profit {
            profit: received.checked_sub(costs).ok(),
            slippage,
        })
    }
}

/// What a call would earn under a [`CostModel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profit {
    /// `None` for a loss.
    pub profit: Option<Value>,
    /// The slippage charged.
    pub slippage: Value,
}

impl Profit {
    /// Whether the call clears `model.min_profit`.
    #[must_use]
    pub fn pays(&self, model: &CostModel) -> bool {
        self.profit.is_some_and(|p| p >= model.min_profit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Value {
        Value::parse("v", s).unwrap()
    }

    fn model(depth: &str) -> CostModel {
        CostModel {
            min_profit: v("1"),
            fee_per_call: v("0.5"),
            depth_per_pct: v(depth),
        }
    }

    #[test]
    fn slippage_is_half_the_impact_of_a_linear_book() {
        // 1M USD into 500k per 1%: a 2% move, 1% on average: 10k USD.
        assert_eq!(model("500000").slippage(v("1000000")).unwrap(), v("10000"));
        // 1,000 USD into 5M per 1%: 1000² / (200 · 5M) = 0.001.
        assert_eq!(model("5000000").slippage(v("1000")).unwrap(), v("0.001"));
        assert_eq!(model("0").slippage(v("1000")).unwrap(), Value::ZERO);
    }

    #[test]
    fn rounding_never_flatters_a_call() {
        // 1 USD into 3 USD per 1%: exact 1/600 = 0.001666…, rounded up.
        let s = model("3").slippage(v("1")).unwrap();
        assert_eq!(s, v("0.001666666666666667"));
        assert!(s.raw() * 600 >= 10u128.pow(18));
    }

    #[test]
    fn profit_is_received_less_paid_fee_and_slippage() {
        let m = model("5000000");
        let p = m.profit(v("1100"), v("1000")).unwrap();
        // 1100² / 1e9 = 0.00121
        assert_eq!(p.slippage, v("0.00121"));
        assert_eq!(p.profit, Some(v("99.49879")));
        assert!(p.pays(&m));
        let loss = m.profit(v("1000.4"), v("1000")).unwrap();
        assert_eq!(loss.profit, None);
        assert!(!loss.pays(&m));
        let thin = m.profit(v("1001.4"), v("1000")).unwrap();
        assert!(thin.profit.is_some() && !thin.pays(&m), "{thin:?}");
    }
}
