//! What each logged entry adds to the liquidation activity (calls, debt repaid, borrower loss,
//! perp steps, bad debt in USD), for the dashboard's history: the server counts it in memory
//! along the log, the projector writes it per entry into the `activity` table. USD figures of
//! bad debt use the last price accepted before it, tracked along the log (display figures:
//! floats).

use softliq_api::queries::Tally;
use softliq_core::money::{Amount, Decimals, Price};
use softliq_engine::event::Event;
use softliq_engine::{CommandBody, Engine};
use softliq_node::Entry;

/// Prices and decimals along the log, to value bad debt given in tokens.
#[derive(Clone, Debug, Default)]
pub struct Prices {
    assets: Vec<(Decimals, Option<Price>)>,
}

impl Prices {
    /// As of the engine's state (for entries after it).
    #[must_use]
    pub fn of(engine: &Engine) -> Self {
        let s = engine.state();
        Self {
            assets: s
                .assets
                .iter()
                .map(|a| (a.params().decimals, s.oracles[a.id.index()].price))
                .collect(),
        }
    }

    /// As projected so far: each listed asset's decimals and last accepted price.
    #[must_use]
    pub fn from_assets(assets: Vec<(Decimals, Option<Price>)>) -> Self {
        Self { assets }
    }

    fn usd(&self, asset: usize, amount: Amount) -> f64 {
        self.assets
            .get(asset)
            .and_then(|(d, p)| {
                Some(amount.value_at((*p)?, *d, softliq_core::money::Rounding::Down))
            })
            .and_then(Result::ok)
            .map_or(0.0, softliq_core::money::Value::to_f64)
    }

    /// What `entry` adds, learning listings and prices on the way.
    pub fn tally(&mut self, entry: &Entry) -> Tally {
        let listed = entry
            .events
            .iter()
            .any(|e| matches!(e, Event::AssetListed { .. }));
        if let (CommandBody::ListAsset { params, .. }, true) = (&entry.command.body, listed) {
            self.assets.push((params.decimals, None));
        }
        let mut t = Tally::default();
        for ev in entry.events.iter() {
            match ev {
                Event::PriceAccepted { asset, price, .. } => {
                    if let Some(slot) = self.assets.get_mut(asset.index()) {
                        slot.1 = Some(*price);
                    }
                }
                Event::Liquidated(l) => {
                    let (repaid, seized) =
                        (l.quote.repaid_value.to_f64(), l.quote.seized_value.to_f64());
                    t.liquidations += 1;
                    t.repaid_usd += repaid;
                    t.borrower_loss_usd += (seized - repaid).max(0.0);
                }
                Event::BadDebt { step, .. } => {
                    if let Some((asset, amount)) = step.socialised() {
                        t.bad_debt_usd += self.usd(asset.index(), amount);
                    }
                }
                Event::PerpLiquidated(p) => {
                    t.perp_steps += 1;
                    t.bad_debt_usd += p.bad_debt.to_f64();
                }
                _ => {}
            }
        }
        t
    }
}
