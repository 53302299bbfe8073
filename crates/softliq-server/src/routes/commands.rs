//! `POST` endpoints: one per engine command. Each checks the caller's role (and, for account
//! commands, that the token owns the account), stamps the command with the clock, and answers
//! once the command is durable: `200 {"seq", "events"}`, or a JSON error naming the field.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use softliq_core::account::AccountId;
use softliq_engine::CommandBody;

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::names::Resolve;
use softliq_api::commands::{
    AbsorbRequest, AssetAmountRequest, BuyCollateralRequest, CommandOutcome, EmptyRequest,
    LiquidateRequest, ListAssetRequest, PostPriceRequest, SetPolicyRequest, UpdateParamsRequest,
};
use softliq_api::error::ErrorBody;
use softliq_api::names::Named;

type Shared = State<Arc<AppState>>;

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v
        .to_str()
        .map_err(|_| ApiError::bad_request("Idempotency-Key", "must be visible ASCII"))?;
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::bad_request(
            "Idempotency-Key",
            format!("1 to 255 characters, got {}", key.len()),
        ));
    }
    Ok(Some(key.to_owned()))
}

pub(crate) async fn run(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    body: CommandBody,
) -> Result<Json<CommandOutcome>, ApiError> {
    run_at(state, principal, headers, move |_| body).await
}

async fn run_at(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    body: impl FnOnce(u64) -> CommandBody,
) -> Result<Json<CommandOutcome>, ApiError> {
    let key = idempotency_key(headers)?;
    let id = AppState::client_id(principal, key.as_deref());
    let ack = state.submit_at(id, body).await?;
    Ok(Json(CommandOutcome {
        seq: ack.seq,
        events: ack.events.iter().cloned().collect(),
    }))
}

/// Parses a path id, naming the path parameter when it is not a number.
pub fn path_id<T: std::str::FromStr>(field: &str, text: &str) -> Result<T, ApiError> {
    let invalid = || {
        ApiError::unprocessable(
            "invalid_path",
            field,
            format!("not a valid id (decimal digits, no sign, no leading zeros): {text:?}"),
        )
    };
    // `u64::from_str` takes "+3"; an id is its canonical digits and nothing else.
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && !(text.len() > 1 && text.starts_with('0'));
    if !canonical {
        return Err(invalid());
    }
    text.parse().map_err(|_| invalid())
}

/// Checks that `account` exists and that the caller's token owns it.
pub(crate) async fn require_owner(
    state: &AppState,
    principal: &Principal,
    field: &str,
    account: u64,
) -> Result<(), ApiError> {
    let owner = state
        .read(move |e| {
            e.state()
                .account(AccountId(account))
                .map(|a| a.owner.clone())
        })
        .await?;
    match owner {
        None => Err(ApiError::not_found(field, format!("no account {account}"))),
        Some(o) if o == principal.subject => Ok(()),
        Some(_) => Err(ApiError::forbidden(
            field,
            format!("account {account} is not owned by this token"),
        )),
    }
}

macro_rules! error_responses {
    () => {
        "400: malformed JSON; 401: no or unknown token; 403: role or ownership; 404: unknown id; \
         409: refused by the market's state; 413: body too large; 422: invalid field"
    };
}
pub(crate) use error_responses;

/// List a new asset (admin).
#[utoipa::path(post, path = "/v1/assets", tag = "admin", request_body = ListAssetRequest,
    security(("bearer" = [])),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
pub async fn list_asset(
    State(state): Shared,
    principal: Principal,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ListAssetRequest>,
) -> Result<Json<CommandOutcome>, ApiError> {
    principal.require("Authorization", &[Role::Admin])?;
    let body = CommandBody::ListAsset {
        symbol: req.symbol,
        params: req.params,
    };
    run(&state, &principal, &headers, body).await
}

/// Replace an asset's parameters (admin).
#[utoipa::path(post, path = "/v1/assets/{asset}/params", tag = "admin", request_body = UpdateParamsRequest,
    params(("asset" = String, Path, description = "asset id or symbol")), security(("bearer" = [])),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
pub async fn update_params(
    State(state): Shared,
    principal: Principal,
    Path(asset): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<UpdateParamsRequest>,
) -> Result<Json<CommandOutcome>, ApiError> {
    principal.require("Authorization", &[Role::Admin])?;
    let asset = Named::asset_in_path(&state, "asset", &asset).await?;
    let body = CommandBody::UpdateParams {
        asset,
        params: req.params,
    };
    run(&state, &principal, &headers, body).await
}

/// Set the market's liquidation policy and liquidation price source (admin).
#[utoipa::path(post, path = "/v1/policy", tag = "admin", request_body = SetPolicyRequest,
    security(("bearer" = [])),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
pub async fn set_policy(
    State(state): Shared,
    principal: Principal,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SetPolicyRequest>,
) -> Result<Json<CommandOutcome>, ApiError> {
    principal.require("Authorization", &[Role::Admin])?;
    let body = CommandBody::SetPolicy {
        policy: policy_of(&req)?,
        liquidation_price: req.liquidation_price.unwrap_or_default(),
    };
    run(&state, &principal, &headers, body).await
}

/// Supply to the insurance fund (admin).
#[utoipa::path(post, path = "/v1/insurance", tag = "admin", request_body = AssetAmountRequest,
    security(("bearer" = [])),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
pub async fn fund_insurance(
    State(state): Shared,
    principal: Principal,
    headers: HeaderMap,
    ApiJson(req): ApiJson<AssetAmountRequest>,
) -> Result<Json<CommandOutcome>, ApiError> {
    principal.require("Authorization", &[Role::Admin])?;
    let body = CommandBody::FundInsurance {
        asset: req.asset.asset(&state, "asset").await?,
        amount: req.amount,
    };
    run(&state, &principal, &headers, body).await
}

/// Move the engine's clock to now and accrue every pool (admin).
#[utoipa::path(post, path = "/v1/time", tag = "admin", request_body = EmptyRequest,
    security(("bearer" = [])),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
pub async fn advance_time(
    State(state): Shared,
    principal: Principal,
    headers: HeaderMap,
    ApiJson(EmptyRequest {}): ApiJson<EmptyRequest>,
) -> Result<Json<CommandOutcome>, ApiError> {
    principal.require("Authorization", &[Role::Admin])?;
    run(&state, &principal, &headers, CommandBody::AdvanceTime).await
}

/// Post an oracle price (oracle).
#[utoipa::path(post, path = "/v1/prices", tag = "oracle", request_body = PostPriceRequest,
    security(("bearer" = [])),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
pub async fn post_price(
    State(state): Shared,
    principal: Principal,
    headers: HeaderMap,
    ApiJson(req): ApiJson<PostPriceRequest>,
) -> Result<Json<CommandOutcome>, ApiError> {
    principal.require("Authorization", &[Role::Oracle])?;
    // A missing publication time means the command's own timestamp. (A retry under the same
    // Idempotency-Key should send `published_s`, or it is a different command.)
    let asset = req.asset.asset(&state, "asset").await?;
    let body = move |now_s| CommandBody::PostPrice {
        asset,
        price: req.price,
        published_s: req.published_s.unwrap_or(now_s),
    };
    run_at(&state, &principal, &headers, body).await
}

/// Open an account owned by the calling token (account, liquidator, maker).
#[utoipa::path(post, path = "/v1/accounts", tag = "accounts", request_body = EmptyRequest,
    security(("bearer" = [])),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
pub async fn open_account(
    State(state): Shared,
    principal: Principal,
    headers: HeaderMap,
    ApiJson(EmptyRequest {}): ApiJson<EmptyRequest>,
) -> Result<Json<CommandOutcome>, ApiError> {
    principal.require(
        "Authorization",
        &[Role::Account, Role::Liquidator, Role::Maker],
    )?;
    let body = CommandBody::OpenAccount {
        owner: principal.subject.clone(),
    };
    run(&state, &principal, &headers, body).await
}

macro_rules! funds_endpoint {
    ($name:ident, $variant:ident, $path:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "accounts", request_body = AssetAmountRequest,
            params(("id" = u64, Path, description = "account id")), security(("bearer" = [])),
            responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
        pub async fn $name(
            State(state): Shared,
            principal: Principal,
            Path(id): Path<String>,
            headers: HeaderMap,
            ApiJson(req): ApiJson<AssetAmountRequest>,
        ) -> Result<Json<CommandOutcome>, ApiError> {
            principal.require("Authorization", &[Role::Account, Role::Liquidator])?;
            let account: u64 = path_id("id", &id)?;
            require_owner(&state, &principal, "id", account).await?;
            let body = CommandBody::$variant {
                account: AccountId(account),
                asset: req.asset.asset(&state, "asset").await?,
                amount: req.amount,
            };
            run(&state, &principal, &headers, body).await
        }
    };
}

funds_endpoint!(
    deposit,
    Deposit,
    "/v1/accounts/{id}/deposit",
    "Supply tokens to an account you own."
);
funds_endpoint!(
    withdraw,
    Withdraw,
    "/v1/accounts/{id}/withdraw",
    "Withdraw supplied tokens from an account you own."
);
funds_endpoint!(
    borrow,
    Borrow,
    "/v1/accounts/{id}/borrow",
    "Borrow against an account you own."
);
funds_endpoint!(
    repay,
    Repay,
    "/v1/accounts/{id}/repay",
    "Repay debt of an account you own."
);

/// Liquidate a liquidatable account (liquidator): the collateral goes to `liquidator`, which
/// the calling token must own.
#[utoipa::path(post, path = "/v1/liquidations", tag = "liquidation", request_body = LiquidateRequest,
    security(("bearer" = [])),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
pub async fn liquidate(
    State(state): Shared,
    principal: Principal,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LiquidateRequest>,
) -> Result<Json<CommandOutcome>, ApiError> {
    principal.require("Authorization", &[Role::Liquidator])?;
    require_owner(&state, &principal, "liquidator", req.liquidator).await?;
    let body = CommandBody::Liquidate {
        liquidator: AccountId(req.liquidator),
        borrower: AccountId(req.borrower),
        debt_asset: req.debt_asset.asset(&state, "debt_asset").await?,
        collateral_asset: req
            .collateral_asset
            .asset(&state, "collateral_asset")
            .await?,
        max_repay: req.max_repay,
        min_collateral_out: req.min_collateral_out,
    };
    run(&state, &principal, &headers, body).await
}

/// Have the protocol absorb an account no liquidator takes (liquidator): markets whose policy
/// has `absorb`, when the account is liquidatable and small, deep or neglected.
#[utoipa::path(post, path = "/v1/absorptions", tag = "liquidation", request_body = AbsorbRequest,
    security(("bearer" = [])),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
pub async fn absorb(
    State(state): Shared,
    principal: Principal,
    headers: HeaderMap,
    ApiJson(req): ApiJson<AbsorbRequest>,
) -> Result<Json<CommandOutcome>, ApiError> {
    principal.require("Authorization", &[Role::Liquidator])?;
    require_owner(&state, &principal, "absorber", req.absorber).await?;
    let body = CommandBody::Absorb {
        absorber: AccountId(req.absorber),
        borrower: AccountId(req.borrower),
    };
    run(&state, &principal, &headers, body).await
}

/// Buy the treasury's collateral at the storefront price (account, liquidator): the oracle
/// price less the market's `storefront_discount`.
#[utoipa::path(post, path = "/v1/storefront", tag = "liquidation", request_body = BuyCollateralRequest,
    security(("bearer" = [])),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
pub async fn buy_collateral(
    State(state): Shared,
    principal: Principal,
    headers: HeaderMap,
    ApiJson(req): ApiJson<BuyCollateralRequest>,
) -> Result<Json<CommandOutcome>, ApiError> {
    principal.require("Authorization", &[Role::Account, Role::Liquidator])?;
    require_owner(&state, &principal, "buyer", req.buyer).await?;
    let body = CommandBody::BuyCollateral {
        buyer: AccountId(req.buyer),
        asset: req.asset.asset(&state, "asset").await?,
        pay_asset: req.pay_asset.asset(&state, "pay_asset").await?,
        max_pay: req.max_pay,
        min_out: req.min_out,
    };
    run(&state, &principal, &headers, body).await
}

/// The policy a `POST /v1/policy` asks for: exact, or a mechanism by name with its overrides,
/// read by the simulator's reader (`softliq_config::policy`), so a scenario's
/// `[mechanism.<name>]` table and this body mean the same policy.
fn policy_of(req: &SetPolicyRequest) -> Result<softliq_core::liquidation::Policy, ApiError> {
    let invalid = |field: &str, message: String| ApiError::unprocessable("invalid", field, message);
    match (&req.policy, &req.mechanism) {
        (Some(policy), None) if req.overrides.is_none() => Ok(*policy),
        (Some(_), None) => Err(invalid(
            "overrides",
            "only with `mechanism` (an exact `policy` has every field already)".into(),
        )),
        (None, Some(name)) => {
            let overrides = req
                .overrides
                .clone()
                .map(|o| toml::Table::try_from(serde_json::Value::Object(o)))
                .transpose()
                .map_err(|e| invalid("overrides", format!("not a table of parameters: {e}")))?;
            let at = softliq_config::policy::At {
                name: "mechanism",
                overrides: "overrides",
            };
            softliq_config::policy::policy(name, overrides.as_ref(), at, |_| {})
                .map_err(|e| invalid(&e.field, e.problem))
        }
        _ => Err(invalid(
            "policy",
            "give either `policy` (exact) or `mechanism` (a name, with `overrides`)".into(),
        )),
    }
}
