//! `serve --markets FILE`: start on your own markets. The file's assets are brought into the
//! engine through the same commands an admin would send: an asset not yet listed is listed, a
//! listed one whose parameters differ from the file gets them (`UpdateParams`), an identical
//! one is left alone. Starting again on the same file therefore changes nothing, and editing
//! the file then restarting is how parameters are changed from configuration.
//!
//! Assets are matched by symbol, so ids follow the order of first listing. An asset listed in
//! the engine but absent from the file stays listed (an asset with positions cannot vanish);
//! it is reported so the operator sees the file and the market disagree.

use std::sync::Arc;

use softliq_config::Markets;
use softliq_engine::{ClientId, CommandBody};

use crate::app::AppState;

/// What applying a markets file did, by symbol.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The policy the file's `profile` set before listing (`aave_v3`), if it changed.
    pub policy: Option<&'static str>,
    pub listed: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    /// Listed in the engine, absent from the file.
    pub not_in_file: Vec<String>,
}

impl std::fmt::Display for Applied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(", ")
            }
        };
        if let Some(policy) = self.policy {
            write!(f, "policy set to {policy} by the file's profile; ")?;
        }
        write!(
            f,
            "listed {}; updated {}; unchanged {}",
            list(&self.listed),
            list(&self.updated),
            list(&self.unchanged)
        )?;
        if !self.not_in_file.is_empty() {
            write!(
                f,
                "; listed but not in the file: {}",
                self.not_in_file.join(", ")
            )?;
        }
        Ok(())
    }
}

/// Lists or updates every asset of `markets` so that the engine matches the file.
///
/// # Errors
/// The engine's refusal of a command, naming the asset and the field (parameters the market's
/// policy cannot pay, say), or a stopped engine. Assets before the refused one stay applied.
pub async fn apply(state: &Arc<AppState>, markets: &Markets) -> Result<Applied, String> {
    let listed = state
        .read(|e| {
            e.state()
                .assets
                .iter()
                .map(|a| (a.symbol.clone(), a.id, a.params().clone()))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| e.message)?;
    let mut applied = Applied::default();
    // A profile's market lists its assets under its own rules: its policy comes first (the
    // engine checks each listing against the policy in force).
    if let Some(policy) = markets.profile_policy() {
        let (current, liquidation_price) = state
            .read(|e| (e.state().market.policy, e.state().market.liquidation_price))
            .await
            .map_err(|e| e.message)?;
        if current.profile() != policy.profile() {
            state
                .submit(
                    ClientId(rand::random()),
                    CommandBody::SetPolicy {
                        policy,
                        liquidation_price,
                    },
                )
                .await
                .map_err(|e| format!("profile {}: {}: {}", policy.name(), e.field, e.message))?;
            applied.policy = Some(policy.name());
        }
    }
    for asset in &markets.assets {
        let symbol = asset.symbol.clone();
        let current = listed.iter().find(|(s, _, _)| *s == symbol);
        let body = match current {
            None => {
                applied.listed.push(symbol.clone());
                CommandBody::ListAsset {
                    symbol: symbol.clone(),
                    params: asset.params().clone(),
                }
            }
            Some((_, _, params)) if params == asset.params() => {
                applied.unchanged.push(symbol);
                continue;
            }
            Some((_, id, _)) => {
                applied.updated.push(symbol.clone());
                CommandBody::UpdateParams {
                    asset: *id,
                    params: asset.params().clone(),
                }
            }
        };
        state
            .submit(ClientId(rand::random()), body)
            .await
            .map_err(|e| format!("{symbol}: {}: {}", e.field, e.message))?;
    }
    applied.not_in_file = listed
        .into_iter()
        .map(|(s, _, _)| s)
        .filter(|s| markets.id(s).is_none())
        .collect();
    Ok(applied)
}
