//! The JSON body extractor: a body that does not parse is a 400/422 JSON error naming the
//! field (through `serde_path_to_error`), an oversize body a 413, never axum's plain text.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON request body of type `T`.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "body",
                    format!("the request body is over the limit: {e}"),
                )
            } else {
                ApiError::bad_request("body", e.to_string())
            }
        })?;
        // An empty body reads as `{}`: commands without fields need none, and the others
        // are then refused for their first missing field.
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        parse(bytes).map(Self)
    }
}

/// Parses `bytes` as `T`, naming the field at fault.
///
/// # Errors
/// 400 for text that is not JSON, 422 for JSON of the wrong shape.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first, so that a truncated body is "malformed" whatever its first field says.
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        return Err(ApiError::bad_request(
            "body",
            format!("malformed JSON: {e}"),
        ));
    }
    // Every body is an object: serde would read a struct from an array too.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::unprocessable(
            "invalid_body",
            "body",
            "expected a JSON object",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        // The syntax was checked above: whatever fails now is a value of the wrong shape
        // (serde_json reports some of those, an enum given a number say, as syntax).
        let message = e.into_inner().to_string();
        let field = field_at(&path, &message, "body");
        ApiError::unprocessable("invalid_body", &field, message)
    })
}

/// Reads a `T` from a JSON value taken from a body's field `at`, naming the field at fault
/// (`params.tiers[0].im`) as [`parse`] does.
///
/// # Errors
/// 422 `invalid_body` for a value of the wrong shape.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value, at: &str) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let field = field_at(&path, &message, "");
        let field = if field.is_empty() {
            at.to_owned()
        } else {
            format!("{at}.{field}")
        };
        ApiError::unprocessable("invalid_body", &field, message)
    })
}

/// Query-string parameters of type `T`; a malformed one is a 422 naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(Self).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().to_string();
            let field = field_at(&path, &message, &path);
            ApiError::unprocessable("invalid_query", &field, message)
        })
    }
}

/// The field a deserialisation error is about. serde reports "missing field `amount`" at the
/// parent, so the missing name is appended to the path; an error at the root (`.`) that names
/// no field is reported as `root`. (An unknown field's path already ends with it.)
fn field_at(path: &str, message: &str, root: &str) -> String {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match (missing, path == ".") {
        (Some(name), true) => name.to_owned(),
        (Some(name), false) => format!("{path}.{name}"),
        (None, true) => root.to_owned(),
        (None, false) => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        asset: u16,
        amount: String,
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse::<Body>(b"{\"asset\": 1").unwrap_err();
        assert_eq!((e.status.as_u16(), e.field.as_str()), (400, "body"));
        let e = parse::<Body>(b"{\"asset\": 1}").unwrap_err();
        assert_eq!((e.status.as_u16(), e.field.as_str()), (422, "amount"));
        let e = parse::<Body>(b"{\"asset\": \"x\", \"amount\": \"1\"}").unwrap_err();
        assert_eq!((e.status.as_u16(), e.field.as_str()), (422, "asset"));
        let e = parse::<Body>(b"{\"asset\": 70000, \"amount\": \"1\"}").unwrap_err();
        assert_eq!(e.field, "asset");
        assert!(parse::<Body>(b"{\"asset\": 1, \"amount\": \"1\"}").is_ok());
    }
}
