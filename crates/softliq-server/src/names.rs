//! Assets and perp markets named as integrators name them: by id (`3`) or by symbol (`"USDC"`,
//! `"WETH-PERP"`), in JSON bodies, query strings and paths alike.
//!
//! Text of decimal digits is an id (a query string or path carries every value as text), so
//! symbols may not be all digits; the engine refuses such a symbol at listing. Symbols are
//! matched exactly, case included, as listed. An unknown symbol is a 404 naming the field and
//! the listed symbols; an unknown id is left to the engine, which refuses it the same way.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use softliq_core::asset::AssetId;
use softliq_core::perp::PerpMarketId;
use softliq_engine::State as EngineState;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::ApiError;

/// An asset or a perp market, by id or by symbol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Named {
    /// The id, as listed (`0` is the first).
    Id(u16),
    /// The symbol, exactly as listed.
    Symbol(String),
}

impl Named {
    /// Reads `text` as an id when it is canonical digits, else as a symbol.
    ///
    /// # Errors
    /// Digits beyond `u16`, or empty text.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("empty: an id or a symbol is needed".to_owned());
        }
        if text.bytes().all(|b| b.is_ascii_digit()) {
            if text.len() > 1 && text.starts_with('0') {
                return Err(format!("{text:?}: an id has no leading zeros"));
            }
            return text
                .parse()
                .map(Self::Id)
                .map_err(|_| format!("{text}: ids go up to {}", u16::MAX));
        }
        Ok(Self::Symbol(text.to_owned()))
    }

    /// Resolves an asset: ids pass through (the engine checks them), symbols are looked up.
    ///
    /// # Errors
    /// 404 `unknown_asset` naming `field` and the listed symbols.
    pub async fn asset(self, state: &AppState, field: &str) -> Result<AssetId, ApiError> {
        if let Self::Id(id) = self {
            return Ok(AssetId(id));
        }
        let field = field.to_owned();
        state
            .read(move |e| self.asset_in(e.state(), &field))
            .await?
    }

    /// [`Named::asset`] on a state at hand (inside an engine read).
    ///
    /// # Errors
    /// As [`Named::asset`].
    pub fn asset_in(&self, s: &EngineState, field: &str) -> Result<AssetId, ApiError> {
        let symbol = match self {
            Self::Id(id) => return Ok(AssetId(*id)),
            Self::Symbol(symbol) => symbol,
        };
        let found = s.assets.iter().find(|a| &a.symbol == symbol).map(|a| a.id);
        found.ok_or_else(|| {
            let listed = s.assets.iter().map(|a| a.symbol.as_str());
            unknown("unknown_asset", field, "asset", symbol, listed)
        })
    }

    /// Resolves a perp market as [`Named::asset`] does an asset.
    ///
    /// # Errors
    /// 404 `not_found` naming `field` and the listed markets.
    pub async fn market(self, state: &AppState, field: &str) -> Result<PerpMarketId, ApiError> {
        let symbol = match self {
            Self::Id(id) => return Ok(PerpMarketId(id)),
            Self::Symbol(s) => s,
        };
        let field = field.to_owned();
        state
            .read(move |e| {
                let markets = e.state().perps.markets();
                let found = markets.iter().position(|m| m.symbol == symbol);
                found
                    .and_then(|i| u16::try_from(i).ok())
                    .map(PerpMarketId)
                    .ok_or_else(|| {
                        let listed = markets.iter().map(|m| m.symbol.as_str());
                        unknown("not_found", &field, "perp market", &symbol, listed)
                    })
            })
            .await?
    }

    /// Resolves a path segment naming an asset.
    ///
    /// # Errors
    /// 422 for malformed text, else as [`Named::asset`].
    pub async fn asset_in_path(
        state: &AppState,
        field: &str,
        text: &str,
    ) -> Result<AssetId, ApiError> {
        Self::from_path(field, text)?.asset(state, field).await
    }

    /// Resolves a path segment naming a perp market.
    ///
    /// # Errors
    /// 422 for malformed text, else as [`Named::market`].
    pub async fn market_in_path(
        state: &AppState,
        field: &str,
        text: &str,
    ) -> Result<PerpMarketId, ApiError> {
        Self::from_path(field, text)?.market(state, field).await
    }

    fn from_path(field: &str, text: &str) -> Result<Self, ApiError> {
        Self::parse(text).map_err(|e| ApiError::unprocessable("invalid_path", field, e))
    }
}

/// Resolves an optional name (absent stays absent).
///
/// # Errors
/// As [`Named::asset`].
pub async fn optional_asset(
    state: &AppState,
    field: &str,
    name: Option<Named>,
) -> Result<Option<AssetId>, ApiError> {
    match name {
        Some(n) => n.asset(state, field).await.map(Some),
        None => Ok(None),
    }
}

fn unknown<'a>(
    code: &str,
    field: &str,
    what: &str,
    symbol: &str,
    listed: impl Iterator<Item = &'a str>,
) -> ApiError {
    let listed: Vec<&str> = listed.collect();
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        code,
        field,
        format!(
            "no {what} {symbol:?} (listed: {})",
            if listed.is_empty() {
                "none".to_owned()
            } else {
                listed.join(", ")
            }
        ),
    )
}

impl<'de> Deserialize<'de> for Named {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NamedVisitor)
    }
}

struct NamedVisitor;

impl Visitor<'_> for NamedVisitor {
    type Value = Named;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "an id (0 to {}) or a symbol", u16::MAX)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Named, E> {
        u16::try_from(v)
            .map(Named::Id)
            .map_err(|_| E::custom(format!("{v}: ids go up to {}", u16::MAX)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Named, E> {
        u64::try_from(v)
            .map_err(|_| E::custom(format!("{v}: an id is not negative")))
            .and_then(|v| self.visit_u64(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Named, E> {
        Named::parse(v).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_symbols_read_alike_from_json_and_text() {
        let json = |s: &str| serde_json::from_str::<Named>(s).map_err(|e| e.to_string());
        assert_eq!(json("3"), Ok(Named::Id(3)));
        assert_eq!(json("\"3\""), Ok(Named::Id(3)), "query strings carry text");
        assert_eq!(json("\"USDC\""), Ok(Named::Symbol("USDC".into())));
        assert_eq!(json("\"WETH-PERP\""), Ok(Named::Symbol("WETH-PERP".into())));
        assert!(json("70000").unwrap_err().contains("ids go up to 65535"));
        assert!(json("-1").unwrap_err().contains("not negative"));
        assert!(json("\"\"").unwrap_err().contains("empty"));
        assert!(json("\"007\"").unwrap_err().contains("leading zeros"));
        assert!(
            json("1.5")
                .unwrap_err()
                .contains("an id (0 to 65535) or a symbol")
        );
    }
}
