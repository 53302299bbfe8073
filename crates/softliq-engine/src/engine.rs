//! The state machine: `Engine::apply(command) -> events | rejection`.
//!
//! A command is looked up by client id first (a retry gets its first outcome back), then
//! checked against the clock, then executed by its handler in `apply/`. Handlers validate and
//! compute on copies and write back only when everything succeeded, so a rejection changes
//! nothing. After an accepted command the engine records the receipt, runs detection, and —
//! in audit mode — checks every invariant of docs/engine.md (`audit.rs`), halting on a break.

use std::collections::BTreeSet;

use softliq_core::account::AccountId;
use softliq_core::health::Health;

use crate::audit::{self, Before};
use crate::command::{Command, CommandBody};
use crate::event::{Event, Events};
use crate::rejection::{Code, Rejection};
use crate::state::{FIRST_USER_ACCOUNT, Receipt, State};
use crate::views::Views;
use crate::watch::{DetectionStats, PerpWatch, Watch};

/// How the engine runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Check the invariants after every command (always on in debug builds and tests).
    pub audit: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            audit: cfg!(debug_assertions),
        }
    }
}

/// The protocol's state machine. Pure: no I/O, no clock; the same commands give the same
/// state, byte for byte.
#[derive(Debug)]
pub struct Engine {
    pub(crate) state: State,
    pub(crate) views: Views,
    pub(crate) watch: Watch,
    pub(crate) perp_watch: PerpWatch,
    /// Detection's candidate list, kept between commands: a crash update's thousands of
    /// candidates would otherwise grow a fresh vector, page by page, every time.
    candidates: Vec<AccountId>,
    config: EngineConfig,
}

impl Engine {
    /// An empty market.
    #[must_use]
    pub fn new(config: EngineConfig) -> Self {
        Self::from_state(State::default(), config)
    }

    /// An engine over a recovered state; derived indexes are rebuilt from it.
    #[must_use]
    pub fn from_state(state: State, config: EngineConfig) -> Self {
        let mut engine = Self {
            state,
            views: Views::default(),
            watch: Watch::default(),
            perp_watch: PerpWatch::default(),
            candidates: Vec::new(),
            config,
        };
        engine
            .perp_watch
            .rebuild(&engine.state.perps, &engine.state.perp_flagged);
        engine.views.refresh(&engine.state, engine.state.now_s);
        engine
            .watch
            .rebuild(&engine.state, &engine.views.liq_screen);
        engine
    }

    #[must_use]
    pub const fn state(&self) -> &State {
        &self.state
    }

    #[must_use]
    pub const fn config(&self) -> EngineConfig {
        self.config
    }

    /// The risk snapshots at the engine's current time. Reads take `&self`: the snapshots are
    /// kept at the state's time after every command, accepted or refused, so no read can
    /// change the engine.
    #[must_use]
    pub fn views(&self) -> &Views {
        debug_assert!(self.views.is_at(self.state.now_s), "views behind the state");
        &self.views
    }

    /// The state and its risk snapshots, borrowed together: readers need both, and this spares
    /// them a copy of the snapshots.
    #[must_use]
    pub fn state_and_views(&self) -> (&State, &Views) {
        (&self.state, self.views())
    }

    /// Applies one command.
    ///
    /// # Errors
    /// A [`Rejection`] naming the reason and the field; the state is unchanged.
    pub fn apply(&mut self, cmd: &Command) -> Result<Events, Rejection> {
        if let Some(reason) = &self.state.halted {
            return Err(Rejection::new(Code::Halted, "engine", reason.clone()));
        }
        let fingerprint = cmd.body.fingerprint();
        if let Some(receipt) = self.state.receipts.get(cmd.client_id) {
            if receipt.fingerprint == fingerprint {
                return Ok(Events::clone(&receipt.events));
            }
            return Err(Rejection::new(
                Code::IdempotencyConflict,
                "client_id",
                format!(
                    "already used by command {} with a different body",
                    receipt.seq
                ),
            ));
        }
        if cmd.timestamp_s < self.state.now_s {
            return Err(Rejection::new(
                Code::TimeWentBackwards,
                "timestamp_s",
                format!(
                    "{} is before the last accepted command's {}",
                    cmd.timestamp_s, self.state.now_s
                ),
            ));
        }
        self.views.refresh(&self.state, cmd.timestamp_s);
        let before = self.config.audit.then(|| Before::capture(self, cmd));
        let mut events = match self.execute(cmd) {
            Ok(events) => events,
            Err(refused) => {
                // Back to the state's time, which the refusal did not move: reads see the
                // snapshots of the state they read.
                self.views.refresh(&self.state, self.state.now_s);
                return Err(refused);
            }
        };
        self.state.now_s = cmd.timestamp_s;
        self.state.seq += 1;
        if !keeps_views(&cmd.body) {
            self.views.invalidate();
        }
        self.views.refresh(&self.state, cmd.timestamp_s);
        self.detect(cmd, &mut events);
        self.detect_perps(&cmd.body, &mut events);
        if let Some(before) = before
            && let Err(broken) = audit::after_command(self, &before, cmd, &events)
        {
            let reason = format!("invariant broken by command {}: {broken}", self.state.seq);
            self.state.halted = Some(reason.clone());
            return Err(Rejection::new(Code::InvariantBroken, "engine", reason));
        }
        let events = Events::from(events);
        self.state.receipts.prune_for_next(cmd.timestamp_s);
        self.state.receipts.insert(Receipt {
            client_id: cmd.client_id,
            fingerprint,
            seq: self.state.seq,
            timestamp_s: cmd.timestamp_s,
            events: Events::clone(&events),
        });
        Ok(events)
    }

    fn execute(&mut self, cmd: &Command) -> Result<Vec<Event>, Rejection> {
        let t = cmd.timestamp_s;
        match &cmd.body {
            CommandBody::ListAsset { symbol, params } => self.list_asset(t, symbol, params),
            CommandBody::UpdateParams { asset, params } => self.update_params(t, *asset, params),
            CommandBody::SetPolicy {
                policy,
                liquidation_price,
            } => self.set_policy(policy, *liquidation_price),
            CommandBody::OpenAccount { owner } => self.open_account(owner),
            CommandBody::Deposit {
                account,
                asset,
                amount,
            } => self.deposit(t, *account, *asset, amount),
            CommandBody::Withdraw {
                account,
                asset,
                amount,
            } => self.withdraw(t, *account, *asset, amount),
            CommandBody::Borrow {
                account,
                asset,
                amount,
            } => self.borrow(t, *account, *asset, amount),
            CommandBody::Repay {
                account,
                asset,
                amount,
            } => self.repay(t, *account, *asset, amount),
            CommandBody::FundInsurance { asset, amount } => self.fund_insurance(t, *asset, amount),
            CommandBody::Liquidate { .. } => self.liquidate(t, &cmd.body),
            CommandBody::Bark {
                keeper,
                borrower,
                debt_asset,
                collateral_asset,
            } => self.bark(t, *keeper, *borrower, (*debt_asset, *collateral_asset)),
            CommandBody::Take {
                keeper,
                auction,
                amount,
                max_price,
            } => self.take(t, *keeper, *auction, (amount, max_price)),
            CommandBody::Redo { keeper, auction } => self.redo(t, *keeper, *auction),
            CommandBody::PostPrice {
                asset,
                price,
                published_s,
            } => {
                let events = self.post_price(t, *asset, price, *published_s)?;
                self.perp_price(t, *asset)?;
                Ok(events)
            }
            CommandBody::AdvanceTime => {
                let mut events = self.advance_time(t)?;
                self.perp_funding(t, &mut events)?;
                Ok(events)
            }
            CommandBody::Absorb { absorber, borrower } => self.absorb(t, *absorber, *borrower),
            CommandBody::BuyCollateral { .. } => self.buy_collateral(t, &cmd.body),
            CommandBody::ListPerpMarket { symbol, params } => {
                self.list_perp_market(t, symbol, params)
            }
            CommandBody::UpdatePerpMarket { market, params } => {
                self.update_perp_market(*market, params)
            }
            CommandBody::PerpDeposit { account, amount } => self.perp_cash(*account, amount, false),
            CommandBody::FundPerpInsurance { market, amount } => {
                self.fund_perp_insurance(*market, amount)
            }
            CommandBody::PerpWithdraw { account, amount } => self.perp_cash(*account, amount, true),
            CommandBody::PlaceOrder { account, order } => self.place_order(*account, order),
            CommandBody::CancelOrder {
                account,
                market,
                order,
            } => self.cancel_order(*account, *market, *order),
            CommandBody::PerpLiquidate {
                liquidator,
                account,
                take_backstop,
            } => self.perp_liquidate(t, *liquidator, *account, *take_backstop),
        }
    }

    /// Detection after an accepted command. Commands that move prices, indices or parameters
    /// for everyone take the watch index's candidates (every account whose thresholds the new
    /// factors reached, and the near list), so afterwards every flag equals the exact check;
    /// the other commands re-evaluate just the accounts they touched. Each candidate is
    /// settled (re-keyed at the current factors); the float estimate decides when it is clear,
    /// the exact check otherwise, and an event reports every flag that changed.
    fn detect(&mut self, cmd: &Command, events: &mut Vec<Event>) {
        let mut candidates = std::mem::take(&mut self.candidates);
        candidates.clear();
        candidates.extend(audit::touched_accounts(&self.state, &cmd.body));
        let everyone = matches!(
            cmd.body,
            CommandBody::PostPrice { .. }
                | CommandBody::AdvanceTime
                | CommandBody::UpdateParams { .. }
                | CommandBody::SetPolicy { .. }
                | CommandBody::ListAsset { .. }
        ) || events.iter().any(|e| {
            // Socialised bad debt lowers a supply index: every supplier of it may have moved.
            matches!(e, Event::BadDebt { step, .. } if step.socialised().is_some())
        });
        if everyone {
            self.watch
                .fired(&self.state, &self.views.liq_screen, &mut candidates);
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates.retain(|id| id.0 >= FIRST_USER_ACCOUNT);
        for chunk in candidates.chunks(WARM_CHUNK) {
            self.warm(chunk);
            for &id in chunk {
                self.redetect(id, events);
            }
        }
        self.candidates = candidates;
        self.watch.compact();
    }

    /// Reads what detecting `ids` will read first (each account's positions and its flag), in
    /// a loop that does nothing else, so that their cache misses overlap. Detecting one account
    /// is too much work for the processor to run ahead to the next one's loads: one after
    /// another, the misses were most of a cold crash update.
    fn warm(&self, ids: &[AccountId]) {
        let mut seen = 0u64;
        for id in ids {
            if let Some(entry) = self.state.account(*id) {
                seen ^= u64::from(self.state.flagged.contains(id));
                for p in entry.account.positions() {
                    seen ^= u64::from(p.asset.0);
                }
            }
        }
        std::hint::black_box(seen);
    }

    /// Settles `id` in the detection index and, when its flag no longer matches its exact
    /// state, flips the flag with an event.
    fn redetect(&mut self, id: AccountId, events: &mut Vec<Event>) {
        let Some(entry) = self.state.account(id) else {
            return;
        };
        let was = self.state.flagged.contains(&id);
        let verdict = self
            .watch
            .settle(id, &entry.account, &self.views.liq_screen);
        if verdict == Some(was) {
            return;
        }
        let (now, health_factor) = liquidatable_at(&entry.account, &self.views.liq);
        if verdict.is_some_and(|v| v != now) {
            // The pre-check's guarantee failed (a property test says it cannot): the exact
            // answer stands, and the account is evaluated after every change until clear.
            debug_assert!(false, "pre-check contradicts the exact check for {id:?}");
            self.watch.distrust(id);
        }
        if now == was {
            return;
        }
        if now {
            self.state.flagged.insert(id);
            self.state.flagged_since_s.insert(id, self.state.now_s);
            events.push(Event::BecameLiquidatable {
                account: id,
                health_factor,
            });
        } else {
            self.state.flagged.remove(&id);
            self.state.flagged_since_s.remove(&id);
            events.push(Event::Recovered {
                account: id,
                health_factor,
            });
        }
    }

    /// Whether `id` is liquidatable at the liquidation prices, and its health factor. An
    /// account that cannot be valued (an asset without a price) is not.
    fn liquidatable(&self, id: AccountId) -> (bool, Option<softliq_core::money::Ratio>) {
        self.state.account(id).map_or((false, None), |e| {
            liquidatable_at(&e.account, &self.views.liq)
        })
    }

    /// Every liquidatable user account, by evaluating all of them: the reference the watch
    /// index is tested against.
    #[must_use]
    pub fn scan_liquidatable(&self) -> BTreeSet<AccountId> {
        (FIRST_USER_ACCOUNT..self.state.accounts.len() as u64)
            .map(AccountId)
            .filter(|&id| self.liquidatable(id).0)
            .collect()
    }

    /// Sets how many entries a running detection-queue merge moves per command (8,192 unless
    /// set): smaller bounds the time a merge adds to one command, larger finishes merges in
    /// fewer commands. Outcomes do not depend on it; tests set it small so that merges span
    /// many commands.
    pub fn set_merge_slice(&mut self, entries: usize) {
        self.watch.set_merge_slice(entries);
    }

    /// The detection index's size and work (for benchmarks and metrics).
    #[must_use]
    pub fn detection_stats(&self) -> DetectionStats {
        self.watch.stats()
    }

    /// Checks the invariants that need a pass over every account (conservation of shares per
    /// asset, pool identities, cash against flows); `replay` and the tests run it.
    ///
    /// # Errors
    /// The first broken invariant, described.
    pub fn audit_full(&self) -> Result<(), String> {
        audit::full(&self.state)
    }
}

/// Whether `account` is liquidatable at `snapshot`, and its health factor. An account that
/// cannot be valued (an asset without a price) is not liquidatable.
pub(crate) fn liquidatable_at(
    account: &softliq_core::account::Account,
    snapshot: &softliq_core::health::RiskSnapshot,
) -> (bool, Option<softliq_core::money::Ratio>) {
    Health::of(account, snapshot)
        .map_or((false, None), |h| (h.is_liquidatable(), h.health_factor()))
}

/// Candidates warmed at a time: 64 accounts' lines fit in the first-level cache with room.
const WARM_CHUNK: usize = 64;

/// Commands after which the cached snapshots stay right: they change balances and accrue
/// pools to the current time (which the snapshots already project), nothing else.
const fn keeps_views(body: &CommandBody) -> bool {
    matches!(
        body,
        CommandBody::OpenAccount { .. }
            | CommandBody::Deposit { .. }
            | CommandBody::Withdraw { .. }
            | CommandBody::Borrow { .. }
            | CommandBody::Repay { .. }
            | CommandBody::FundInsurance { .. }
    )
}
