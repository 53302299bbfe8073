//! Borrowers who watch their health: below `buffer_hf` for `response_delay_steps`, a
//! responsive borrower brings its HF back to `response_target_hf` with outside money, by
//! depositing more of its largest collateral or by repaying debt. Sizes come from the float
//! screen at the oracle price (a borrower's own estimate); the money moves on the exact ledger.

use softliq_core::asset::AssetId;

use super::{NONE, Run};
use crate::error::Result;
use crate::ledger::Holder;
use crate::metrics::WAD_F;
use crate::population::tokens;
use crate::scenario::Response;
use crate::screen::Factors;

impl Run<'_> {
    pub(super) fn respond(
        &mut self,
        t: u32,
        flagged: &[u32],
        factors: &Factors,
        oracle: &[f64],
    ) -> Result<()> {
        let pop = &self.spec.loaded.scenario.population;
        if pop.responsive_share <= 0.0 {
            return Ok(());
        }
        for &i in flagged {
            let i = i as usize;
            if !self.spec.population.responsive[i] {
                continue;
            }
            let hf = self.screen.health(i, factors);
            if hf >= pop.buffer_hf || !hf.is_finite() {
                self.below_since[i] = NONE;
                continue;
            }
            if self.below_since[i] == NONE {
                self.below_since[i] = t;
            }
            if t - self.below_since[i] < pop.response_delay_steps {
                continue;
            }
            self.below_since[i] = NONE;
            let usd = self.act(i, factors, oracle)?;
            if usd > 0.0 {
                self.metrics.responses += 1;
                #[allow(clippy::cast_possible_truncation)]
                {
                    self.sums.responses += (usd * WAD_F) as i128;
                }
                self.screen.refresh(i, &self.ledger.borrowers[i]);
            }
        }
        Ok(())
    }

    /// One response; returns the USD the borrower put in.
    fn act(&mut self, i: usize, factors: &Factors, oracle: &[f64]) -> Result<f64> {
        let pop = &self.spec.loaded.scenario.population;
        let target = pop.response_target_hf;
        let (collateral, debt) = self.screen.weighted(i, factors);
        match pop.response {
            Response::TopUp => {
                let Some(a) = self.screen.largest_collateral(i, factors) else {
                    return Ok(0.0);
                };
                let lt = self.ledger.assets[a]
                    .params()
                    .liquidation_threshold
                    .to_f64();
                let usd = (target * debt - collateral) / lt;
                self.put_in(i, AssetId::from_index(a), usd, oracle, true)
            }
            Response::Repay => {
                let Some(asset) = self.ledger.borrowers[i]
                    .positions()
                    .iter()
                    .find(|p| !p.debt.is_zero())
                    .map(|p| p.asset)
                else {
                    return Ok(0.0);
                };
                let bw = self.ledger.assets[asset.index()]
                    .params()
                    .borrow_weight
                    .to_f64();
                let usd = (debt - collateral / target) / bw;
                self.put_in(i, asset, usd, oracle, false)
            }
        }
    }

    fn put_in(
        &mut self,
        i: usize,
        asset: AssetId,
        usd: f64,
        oracle: &[f64],
        deposit: bool,
    ) -> Result<f64> {
        if !(usd.is_finite() && usd > 0.0) {
            return Ok(0.0);
        }
        let decimals = self.ledger.assets[asset.index()].params().decimals.get();
        let amount = tokens(usd, oracle[asset.index()], decimals);
        if amount.is_zero() {
            return Ok(0.0);
        }
        if deposit {
            self.ledger.deposit(Holder::Borrower(i), asset, amount)?;
            Ok(usd)
        } else {
            let taken = self.ledger.repay(Holder::Borrower(i), asset, amount)?;
            Ok(taken.raw() as f64 / 10f64.powi(i32::from(decimals)) * oracle[asset.index()])
        }
    }
}
