//! The body of every refusal: a status, a stable code, the field at fault and a message.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    pub status: u16,
    /// A stable machine-readable reason (`zero_amount`, `forbidden`, `stale_price`, …).
    pub code: String,
    /// The request field at fault (`amount`, `asset`, `Authorization`, `body`, …).
    pub field: String,
    pub message: String,
}
