//! Cross-origin access for browser clients on other origins (a team's own risk dashboard, a
//! notebook served elsewhere). Off by default: without configured origins the server sends no
//! CORS headers and browsers keep other sites' scripts out, which is right for an API whose
//! tokens move money. Origins are named exactly (`https://risk.example.com`), or `*` for any
//! origin — acceptable because the API takes bearer tokens, never cookies, so a page can only
//! act with a token its user gave it.

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The origins allowed to call the API from a browser.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Origins {
    /// No CORS headers: same-origin pages only (the dashboard).
    #[default]
    None,
    /// Any origin.
    Any,
    /// These origins, exactly.
    List(Vec<String>),
}

impl Origins {
    /// Reads origins as given on the command line (`--cors-origin`, repeatable) or in
    /// `SOFTLIQ_CORS_ORIGINS` (comma-separated): `*`, or `scheme://host[:port]` each.
    ///
    /// # Errors
    /// Names the origin that is not of that form.
    pub fn parse<'a>(given: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut list = Vec::new();
        let given = given.into_iter().map(|o| o.trim().trim_end_matches('/'));
        for origin in given.filter(|o| !o.is_empty()) {
            if origin == "*" {
                return Ok(Self::Any);
            }
            let valid = ["http://", "https://"].iter().any(|scheme| {
                origin.strip_prefix(scheme).is_some_and(|host| {
                    !host.is_empty()
                        && !host.contains('/')
                        && host.bytes().all(|b| b.is_ascii_graphic())
                })
            });
            if !valid {
                return Err(format!(
                    "CORS origin {origin:?}: expected * or scheme://host[:port] with no path, \
                     such as https://risk.example.com or http://localhost:3000"
                ));
            }
            list.push(origin.to_owned());
        }
        Ok(if list.is_empty() {
            Self::None
        } else {
            Self::List(list)
        })
    }

    /// The layer that answers preflights and marks responses, or `None` when off.
    #[must_use]
    pub fn layer(&self) -> Option<CorsLayer> {
        let allow = match self {
            Self::None => return None,
            Self::Any => AllowOrigin::any(),
            Self::List(list) => AllowOrigin::list(
                list.iter()
                    .filter_map(|o| HeaderValue::from_str(o).ok())
                    .collect::<Vec<_>>(),
            ),
        };
        Some(
            CorsLayer::new()
                .allow_origin(allow)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    header::ACCEPT,
                    HeaderName::from_static("idempotency-key"),
                    HeaderName::from_static("last-event-id"),
                ])
                .max_age(std::time::Duration::from_secs(600)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_read_strictly() {
        assert_eq!(Origins::parse([]), Ok(Origins::None));
        assert_eq!(Origins::parse(["", " "]), Ok(Origins::None));
        assert_eq!(Origins::parse(["https://a.example", "*"]), Ok(Origins::Any));
        assert_eq!(
            Origins::parse(["https://risk.example.com/", "http://localhost:3000"]),
            Ok(Origins::List(vec![
                "https://risk.example.com".into(),
                "http://localhost:3000".into()
            ]))
        );
        for bad in [
            "risk.example.com",
            "https://",
            "https://a.example/path",
            "ftp://a",
        ] {
            let e = Origins::parse([bad]).unwrap_err();
            assert!(e.contains(bad) && e.contains("scheme://host"), "{e}");
        }
        assert!(Origins::None.layer().is_none());
    }
}
