//! Resolving the names of requests ([`Named`]: an id or a symbol) against the listed assets
//! and perp markets. An unknown symbol is a 404 naming the field and the listed symbols; an
//! unknown id is left to the engine, which refuses it the same way.

use softliq_api::names::Named;
use softliq_core::asset::AssetId;
use softliq_core::perp::PerpMarketId;
use softliq_engine::State as EngineState;

use crate::app::AppState;
use crate::error::ApiError;

/// Resolves a [`Named`] against what is listed.
pub(crate) trait Resolve: Sized {
    /// Resolves an asset: ids pass through (the engine checks them), symbols are looked up.
    ///
    /// # Errors
    /// 404 `unknown_asset` naming `field` and the listed symbols.
    async fn asset(self, state: &AppState, field: &str) -> Result<AssetId, ApiError>;

    /// [`Resolve::asset`] on a state at hand (inside an engine read).
    ///
    /// # Errors
    /// As [`Resolve::asset`].
    fn asset_in(&self, s: &EngineState, field: &str) -> Result<AssetId, ApiError>;

    /// Resolves a perp market as [`Resolve::asset`] does an asset.
    ///
    /// # Errors
    /// 404 `not_found` naming `field` and the listed markets.
    async fn market(self, state: &AppState, field: &str) -> Result<PerpMarketId, ApiError>;

    /// Resolves a path segment naming an asset.
    ///
    /// # Errors
    /// 422 for malformed text, else as [`Resolve::asset`].
    async fn asset_in_path(state: &AppState, field: &str, text: &str) -> Result<AssetId, ApiError>;

    /// Resolves a path segment naming a perp market.
    ///
    /// # Errors
    /// 422 for malformed text, else as [`Resolve::market`].
    async fn market_in_path(
        state: &AppState,
        field: &str,
        text: &str,
    ) -> Result<PerpMarketId, ApiError>;

    /// Reads a path segment as a name.
    ///
    /// # Errors
    /// 422 `invalid_path` for malformed text.
    fn from_path(field: &str, text: &str) -> Result<Self, ApiError>;
}

impl Resolve for Named {
    async fn asset(self, state: &AppState, field: &str) -> Result<AssetId, ApiError> {
        if let Self::Id(id) = self {
            return Ok(AssetId(id));
        }
        let field = field.to_owned();
        state
            .read(move |e| self.asset_in(e.state(), &field))
            .await?
    }

    fn asset_in(&self, s: &EngineState, field: &str) -> Result<AssetId, ApiError> {
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

    async fn market(self, state: &AppState, field: &str) -> Result<PerpMarketId, ApiError> {
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

    async fn asset_in_path(state: &AppState, field: &str, text: &str) -> Result<AssetId, ApiError> {
        Self::from_path(field, text)?.asset(state, field).await
    }

    async fn market_in_path(
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
/// As [`Resolve::asset`].
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
