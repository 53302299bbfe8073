//! API errors: every refusal is JSON `{"error": {"status", "code", "field", "message"}}`, with
//! the field at fault named, and a 4xx status unless the server itself failed.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use softliq_api::error::{ErrorBody, ErrorDetail};
use softliq_engine::{Code, Rejection};
use softliq_node::NodeError;

/// The code of an error response, left in its extensions for the metrics layer.
#[derive(Clone, Debug)]
pub struct ErrorCode(pub String);

/// An error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub field: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, field: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            field: field.to_owned(),
            message: message.into(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authorization",
            message,
        )
    }

    pub fn forbidden(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", field, message)
    }

    pub fn not_found(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", field, message)
    }

    /// 422: a field wrong on its own.
    pub fn unprocessable(code: &str, field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, field, message)
    }

    /// 409: refused by the market's current state.
    pub fn conflict(code: &str, field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, field, message)
    }

    pub fn bad_request(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", field, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "server",
            message,
        )
    }
}

/// The status a rejection is answered with: 404 for ids that do not exist, 422 for values the
/// request got wrong on its own, 409 for requests the market's current state refuses, 503
/// when the engine has halted.
#[must_use]
pub fn status_of(code: Code) -> StatusCode {
    match code {
        Code::UnknownAsset | Code::UnknownAccount | Code::UnknownAuction => StatusCode::NOT_FOUND,
        Code::InvalidAmount
        | Code::ZeroAmount
        | Code::InvalidParams
        | Code::InvalidPrice
        | Code::ReservedAccount
        | Code::Overflow => StatusCode::UNPROCESSABLE_ENTITY,
        Code::IdempotencyConflict
        | Code::TimeWentBackwards
        | Code::NoPrice
        | Code::StalePrice
        | Code::BreakerOpen
        | Code::Unhealthy
        | Code::InsufficientCash
        | Code::CapExceeded
        | Code::NotLiquidatable
        | Code::NotAbsorbable
        | Code::LiquidationRefused
        | Code::Slippage
        | Code::WrongMechanism
        | Code::AuctionNeedsReset
        | Code::AuctionRunning
        | Code::PriceAboveMax => StatusCode::CONFLICT,
        Code::InvariantBroken | Code::Halted => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// A rejection code's wire name (`zero_amount`).
#[must_use]
pub fn code_name(code: Code) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{code:?}"))
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        Self::new(status_of(r.code), &code_name(r.code), &r.field, r.message)
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::Rejected(r) => r.into(),
            other => Self::unavailable(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                status: self.status.as_u16(),
                code: self.code,
                field: self.field,
                message: self.message,
            },
        };
        let code = ErrorCode(body.error.code.clone());
        let mut response = (self.status, Json(body)).into_response();
        response.extensions_mut().insert(code);
        response
    }
}
