//! One run: one mechanism over one seed's path and population, step by step.
//!
//! Each step, in this order:
//! 1. the venue's price impact recovers; the oracle price is the external price pushed by the
//!    impact (or the external price itself with feedback off);
//! 2. every pool accrues interest to the step's time;
//! 3. the float screen flags accounts below the trigger (1, or `soft_hf` for `two_stage`) or
//!    below the response buffer;
//! 4. responsive borrowers below the buffer for `response_delay_steps` top up or repay;
//! 5. accounts open to liquidation for `latency_steps` are liquidated, lowest HF first, by the
//!    core's `plan`/`settle` at the oracle price, each call only when the liquidator's expected
//!    sale proceeds pay for the repayment, its cost and its minimum profit; the seized
//!    collateral is sold into the venue at once, which pushes the price the oracle sees next;
//! 6. in markets that absorb, the protocol absorbs the due accounts its tests allow, and bots
//!    buy the treasury's collateral at the storefront when reselling it pays (`absorb.rs`).
//!
//!
//! In a `dutch` market step 5 starts, buys from and resets auctions instead (see
//! `auctions.rs`).
//!
//! A run ends with the ledger reconciled exactly (`Ledger::reconcile`); with `audit` on it is
//! reconciled after every step that moved money.

mod absorb;
mod auctions;
mod bands;
mod liquidators;
mod responses;

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use softliq_core::liquidation::Rule;
use softliq_core::money::Price;

use crate::error::Result;
use crate::ledger::Ledger;
use crate::metrics::{RunMetrics, Sums, loss_distribution, usd};
use crate::paths::PricePath;
use crate::population::Population;
use crate::scenario::{Loaded, Mechanism};
use crate::screen::{Factors, Screen};
use crate::venue::Venue;

use liquidators::{Bots, ProfitBound};

/// Marks an account that is not currently flagged.
const NONE: u32 = u32::MAX;

/// What a run needs.
pub struct RunSpec<'a> {
    pub loaded: &'a Loaded,
    pub mechanism: &'a Mechanism,
    pub path: &'a PricePath,
    pub population: &'a Population,
    /// Keep per-step series (for the report's charts).
    pub keep_series: bool,
    /// Reconcile the ledger after every step that moved money, not only at the end.
    pub audit: bool,
    /// Account-steps done, for a progress bar (added to after every step).
    pub progress: Option<&'a AtomicU64>,
}

/// Per-step series of one run, for charts.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Series {
    pub symbol: String,
    pub times_s: Vec<u64>,
    pub fair: Vec<f64>,
    pub oracle: Vec<f64>,
    pub impact: Vec<f64>,
    pub repaid_cum_usd: Vec<f64>,
    pub bad_debt_cum_usd: Vec<f64>,
    pub underwater: Vec<u64>,
    /// The other collateral assets sold (besides `symbol`): symbol, external and oracle prices.
    pub others: Vec<(String, Vec<f64>, Vec<f64>)>,
}

#[derive(Clone, Debug)]
pub struct RunResult {
    pub metrics: RunMetrics,
    pub series: Option<Series>,
}

/// Runs `spec` to the end of its path.
///
/// # Errors
/// An accounting identity that broke (a simulator or core bug, named), or a ledger refusal.
pub fn run(spec: &RunSpec) -> Result<RunResult> {
    let mut run = Run::new(spec)?;
    let accounts = spec.population.ledger.borrowers.len() as u64;
    for step in 0..spec.path.steps() {
        run.step(step)?;
        if let Some(done) = spec.progress {
            done.fetch_add(accounts, Ordering::Relaxed);
        }
    }
    run.finish()
}

/// Account `i`'s latency in steps, uniform in `lo..=hi`, from a fixed hash of the index
/// (SplitMix64), so every mechanism sees the same keepers.
fn latency(i: u32, lo: u32, hi: u32) -> u32 {
    if hi <= lo {
        return lo;
    }
    let mut z = u64::from(i).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let span = u64::from(hi - lo) + 1;
    lo + u32::try_from(z % span).unwrap_or(0)
}

/// A price in the ledger's fixed point (WAD), rounded to nearest; at least one raw unit.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
#[must_use]
pub fn wad_price(usd: f64) -> Price {
    Price::from_raw(((usd * 1e18).round() as u128).max(1))
}

struct Run<'a> {
    spec: &'a RunSpec<'a>,
    ledger: Ledger,
    screen: Screen,
    venue: Venue,
    bots: Bots,
    bound: ProfitBound,
    /// Liquidation (or buffer-band) trigger: 1, or `soft_hf` for two-stage markets.
    trigger: f64,
    /// Scan threshold: the larger of the trigger and the response buffer.
    threshold: f64,
    open_since: Vec<u32>,
    below_since: Vec<u32>,
    flagged_before: Vec<u32>,
    touched: Vec<bool>,
    sums: Sums,
    metrics: RunMetrics,
    /// Assets liquidators sell (the population's collateral), and the one charts follow.
    sold: Vec<usize>,
    main: usize,
    impact_sum: f64,
    underwater_steps: u64,
    series: Option<Series>,
    /// A `llamma` run's bands (`bands.rs`).
    bands: Option<bands::BandRun>,
    /// The step's largest external price move since the previous step, a fraction.
    moved: f64,
    /// The population's debt at the start, USD at the first external prices.
    start_debt_usd: f64,
    /// Each borrower's collateral at the start (USD) and what it has lost so far (WAD USD,
    /// at the external price, as in `Sums::borrower_loss`).
    start_collateral_usd: Vec<f64>,
    loss_by_borrower: Vec<i128>,
}

impl<'a> Run<'a> {
    fn new(spec: &'a RunSpec<'a>) -> Result<Self> {
        let scenario = &spec.loaded.scenario;
        let markets = &spec.loaded.markets;
        let mut ledger = spec.population.ledger.clone();
        let bands = match (spec.mechanism.bands, markets.id(&scenario.population.debt)) {
            (Some(b), Some(debt)) => {
                Some(bands::BandRun::new(&mut ledger, b, debt, spec.path.at(0))?)
            }
            _ => None,
        };
        let n = ledger.borrowers.len();
        let screen = Screen::new(&ledger.borrowers, ledger.assets.len());
        let start = Factors::new(&ledger.assets, &ledger.pools, spec.path.at(0));
        let start_values: Vec<(f64, f64)> = (0..n).map(|i| screen.values(i, &start)).collect();
        let start_debt_usd = start_values.iter().map(|v| v.1).sum();
        let usd_depth = crate::venue::depth_usd(
            &scenario.depth,
            markets.assets.iter().map(|a| a.symbol.as_str()),
            start_debt_usd,
        );
        let trigger = match spec.mechanism.policy.rule {
            Rule::TwoStage { soft_hf, .. } => soft_hf.to_f64(),
            _ => 1.0,
        };
        let pop = &scenario.population;
        let threshold = if pop.responsive_share > 0.0 {
            trigger.max(pop.buffer_hf)
        } else {
            trigger
        };
        let mut sold: Vec<(usize, f64)> = pop
            .collateral
            .iter()
            .filter_map(|(s, w)| markets.id(s).map(|id| (id.index(), *w)))
            .collect();
        sold.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let main = sold.first().map_or(0, |s| s.0);
        let series = spec.keep_series.then(|| Series {
            symbol: markets.assets[main].symbol.clone(),
            others: sold
                .iter()
                .skip(1)
                .map(|s| (markets.assets[s.0].symbol.clone(), Vec::new(), Vec::new()))
                .collect(),
            ..Series::default()
        });
        Ok(Self {
            spec,
            screen,
            venue: Venue::new(&scenario.depth, usd_depth, scenario.liquidators.stress_move),
            bots: Bots::new(&scenario.liquidators),
            bound: ProfitBound::new(scenario, &spec.mechanism.policy, &ledger.assets),
            ledger,
            trigger,
            threshold,
            open_since: vec![NONE; n],
            below_since: vec![NONE; n],
            flagged_before: Vec::new(),
            touched: vec![false; n],
            sums: Sums::default(),
            metrics: RunMetrics::default(),
            sold: sold.into_iter().map(|s| s.0).collect(),
            main,
            impact_sum: 0.0,
            underwater_steps: 0,
            series,
            bands,
            moved: 0.0,
            start_debt_usd,
            start_collateral_usd: start_values.iter().map(|v| v.0).collect(),
            loss_by_borrower: vec![0; n],
        })
    }

    fn step(&mut self, step: usize) -> Result<()> {
        let path = self.spec.path;
        let fair = path.at(step);
        if step > 0 {
            self.moved = fair
                .iter()
                .zip(path.at(step - 1))
                .filter(|(_, before)| **before > 0.0)
                .map(|(now, before)| (now / before - 1.0).abs())
                .fold(0.0, f64::max);
            self.venue.recover(self.moved);
        }
        let oracle: Vec<f64> = fair
            .iter()
            .enumerate()
            .map(|(a, &p)| self.venue.oracle_price(a, p))
            .collect();
        self.ledger.accrue(path.times_s[step])?;
        if self.bands.is_some() {
            self.bots.new_step(self.moved);
            self.bands_step(step, fair, &oracle)?;
            self.record(step, fair, &oracle);
            if self.spec.audit {
                self.ledger.reconcile()?;
            }
            return Ok(());
        }
        let factors = Factors::new(&self.ledger.assets, &self.ledger.pools, &oracle);
        let scan = self.screen.scan(&factors, self.threshold);
        self.underwater_steps += scan.underwater + self.underwater_in_auctions(&factors);
        let flagged: Vec<u32> = scan.flagged.iter().map(|f| f.index).collect();
        self.forget_recovered(&flagged);
        let t = u32::try_from(step).unwrap_or(NONE - 1);
        let moved_before = self.metrics.calls + self.metrics.responses;
        self.respond(t, &flagged, &factors, &oracle)?;
        self.liquidate(t, &flagged, &factors, (fair, &oracle))?;
        self.flagged_before = flagged;
        self.record(step, fair, &oracle);
        if self.spec.audit && self.metrics.calls + self.metrics.responses > moved_before {
            self.ledger.reconcile()?;
            if let Some(dutch) = self.spec.mechanism.policy.auction() {
                self.ledger.check_caps(dutch.hole_total)?;
            }
        }
        Ok(())
    }

    /// Clears the clocks of accounts no longer flagged (both lists are in index order).
    fn forget_recovered(&mut self, flagged: &[u32]) {
        let mut k = 0;
        for &i in &self.flagged_before {
            while k < flagged.len() && flagged[k] < i {
                k += 1;
            }
            if k >= flagged.len() || flagged[k] != i {
                self.open_since[i as usize] = NONE;
                self.below_since[i as usize] = NONE;
            }
        }
    }

    fn liquidate(
        &mut self,
        t: u32,
        flagged: &[u32],
        factors: &Factors,
        (fair, oracle): (&[f64], &[f64]),
    ) -> Result<()> {
        let queue = self.due(t, flagged, factors);
        let dutch = self.spec.mechanism.policy.auction().is_some();
        let absorb = self.spec.mechanism.policy.absorb;
        let selling = absorb.is_some() && self.inventory().is_some();
        if queue.is_empty()
            && !selling
            && (!dutch || self.ledger.auctions.active().next().is_none())
        {
            return Ok(());
        }
        let prices: Vec<Price> = oracle.iter().map(|&p| wad_price(p)).collect();
        let mut market = liquidators::Market {
            snapshot: self.ledger.snapshot(&prices),
            factors,
            prices,
            fair,
        };
        self.bots.new_step(self.moved);
        if dutch {
            let times = &self.spec.path.times_s;
            let span = auctions::Span {
                prev_s: times[(t as usize).saturating_sub(1)],
                now_s: times[t as usize],
            };
            return self.run_auctions(span, &queue, &mut market);
        }
        let times = &self.spec.path.times_s;
        let (prev_s, now_s) = (times[(t as usize).saturating_sub(1)], times[t as usize]);
        for &(_, i) in &queue {
            // How long the account has been open, at the previous step and now (0 and 0 at the
            // step that opened it: its oracle price was published then).
            let opened = times[self.open_since[i as usize] as usize];
            let prev_s = prev_s.max(opened);
            let ages = (prev_s - opened, now_s - opened);
            if !self.liquidate_account(i as usize, ages, &mut market)? {
                break;
            }
        }
        if let Some(params) = absorb {
            self.absorb_due(&params, &queue, now_s, &mut market)?;
            self.storefront(&params, &mut market)?;
        }
        Ok(())
    }

    /// The flagged accounts open to liquidation for `latency_steps`, lowest HF first.
    fn due(&mut self, t: u32, flagged: &[u32], factors: &Factors) -> Vec<(f64, u32)> {
        let spec = &self.spec.loaded.scenario.liquidators;
        let (lo, hi) = (
            spec.latency_steps,
            spec.latency_max_steps.max(spec.latency_steps),
        );
        let mut queue = Vec::new();
        for &i in flagged {
            let Some(hf) = self.screen.below(i as usize, factors, self.trigger) else {
                self.open_since[i as usize] = NONE;
                continue;
            };
            let since = &mut self.open_since[i as usize];
            if *since == NONE {
                *since = t;
            }
            if t - *since >= latency(i, lo, hi) {
                queue.push((hf, i));
            }
        }
        queue.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        queue
    }

    fn record(&mut self, step: usize, fair: &[f64], oracle: &[f64]) {
        let worst = self
            .sold
            .iter()
            .map(|&a| self.venue.impact(a))
            .fold(0.0, f64::max);
        self.metrics.peak_impact = self.metrics.peak_impact.max(worst);
        self.impact_sum += worst;
        let main = self.main;
        let impact = self.venue.impact(main);
        let (repaid, bad) = (usd(self.sums.repaid), usd(self.sums.bad_debt_realised));
        if let Some(s) = &mut self.series {
            s.times_s.push(self.spec.path.times_s[step]);
            s.fair.push(fair[main]);
            s.oracle.push(oracle[main]);
            s.impact.push(impact);
            s.repaid_cum_usd.push(repaid);
            s.bad_debt_cum_usd.push(bad);
            s.underwater.push(self.underwater_steps);
            for ((_, f, o), &a) in s.others.iter_mut().zip(self.sold.iter().skip(1)) {
                f.push(fair[a]);
                o.push(oracle[a]);
            }
        }
    }

    /// Debt beyond collateral of accounts still open (with what running auctions hold for
    /// them) and of the treasury (from absorbed accounts), at `factors`.
    fn pool_shortfall(&self, factors: &Factors) -> f64 {
        let mut shortfall = 0.0;
        let in_auctions = self.auction_positions(factors);
        for (i, account) in self.ledger.borrowers.iter().enumerate() {
            let held = in_auctions.get(&i);
            if account.has_debt() || held.is_some() {
                let (mut collateral, mut debt) = self.screen.values(i, factors);
                if let Some((lot, owed)) = held {
                    collateral += lot;
                    debt += owed;
                }
                shortfall += (debt - collateral).max(0.0);
            }
        }
        let (held, owed) = factors.values(&self.ledger.treasury);
        shortfall + (owed - held).max(0.0)
    }

    fn finish(mut self) -> Result<RunResult> {
        self.ledger.reconcile()?;
        let path = self.spec.path;
        let last = path.steps() - 1;
        let factors = Factors::new(&self.ledger.assets, &self.ledger.pools, path.at(last));
        let shortfall = if self.bands.is_some() {
            // Band loans hold their collateral outside the pool: value them from the bands.
            self.band_shortfall(path.at(last))?
        } else {
            self.pool_shortfall(&factors)
        };
        // Every loss booked is some borrower's. (Band trades are booked summed over loans and
        // attributed per loan, each rounded on its own, so only call mechanisms match exactly.)
        let attributed: i128 = self.loss_by_borrower.iter().sum();
        if self.bands.is_none() && attributed != self.sums.borrower_loss {
            return Err(crate::SimError::accounting(format!(
                "borrowers' own losses add up to {attributed} but {} was booked",
                self.sums.borrower_loss
            )));
        }
        let s = self.sums;
        let m = &mut self.metrics;
        m.borrower_loss_usd = usd(s.borrower_loss);
        m.penalty_usd = usd(s.penalty);
        m.below_fair_usd = usd(s.borrower_loss - s.penalty);
        m.bad_debt_realised_usd = usd(s.bad_debt_realised);
        m.bad_debt_socialised_usd = usd(s.bad_debt_socialised);
        m.open_shortfall_usd = shortfall;
        m.bad_debt_usd = m.bad_debt_realised_usd + shortfall;
        m.protocol_revenue_usd = usd(s.protocol_revenue);
        m.liquidator_profit_usd = usd(s.liquidator_profit);
        m.liquidator_costs_usd = usd(s.liquidator_costs);
        m.slippage_usd = usd(s.slippage);
        m.liquidated_volume_usd = usd(s.repaid);
        m.responses_usd = usd(s.responses);
        m.mean_impact = self.impact_sum / path.steps() as f64;
        m.accounts_liquidated = self.touched.iter().filter(|t| **t).count() as u64;
        m.start_debt_usd = self.start_debt_usd;
        m.liquidated_share_of_debt = if self.start_debt_usd > 0.0 {
            m.liquidated_volume_usd / self.start_debt_usd
        } else {
            0.0
        };
        let span_s = path.times_s[last].saturating_sub(path.times_s[0]) as f64;
        let hours = span_s / last.max(1) as f64 / 3_600.0;
        m.underwater_account_hours = self.underwater_steps as f64 * hours;
        let d = loss_distribution(&self.loss_by_borrower, &self.start_collateral_usd);
        m.borrowers_with_loss = d.count;
        m.borrower_loss_p50_usd = d.p50_usd;
        m.borrower_loss_p90_usd = d.p90_usd;
        m.borrower_loss_p99_usd = d.p99_usd;
        m.borrower_loss_max_usd = d.max_usd;
        m.borrower_loss_share_p90 = d.share_p90;
        m.borrower_loss_share_max = d.share_max;
        Ok(RunResult {
            metrics: self.metrics,
            series: self.series,
        })
    }
}
