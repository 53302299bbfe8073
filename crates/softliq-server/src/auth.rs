//! Roles and bearer tokens.
//!
//! | role | may |
//! | --- | --- |
//! | `admin` | list assets, change parameters and the market policy, fund insurance, advance time |
//! | `oracle` | post prices |
//! | `account` | open accounts (owned by the token's subject) and move funds in the accounts it owns |
//! | `liquidator` | what `account` may, and liquidate any liquidatable account, paid into an account it owns |
//! | `maker` | open accounts it owns, move their perp margin, place post-only orders and cancel them: a quoting key that can never take liquidity by mistake |
//!
//! Reads are public, as they are on a chain: the dashboard needs no token. Tokens come from a
//! TOML file (`[[tokens]] token, role, subject`) or `SOFTLIQ_TOKENS`
//! (`role:subject:token,…`); they are compared in constant time.

use std::path::Path;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Deserialize;

use crate::error::ApiError;

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Oracle,
    Account,
    Liquidator,
    Maker,
}

impl Role {
    /// The role's name as tokens and messages spell it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Oracle => "oracle",
            Self::Account => "account",
            Self::Liquidator => "liquidator",
            Self::Maker => "maker",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "admin" => Some(Self::Admin),
            "oracle" => Some(Self::Oracle),
            "account" => Some(Self::Account),
            "liquidator" => Some(Self::Liquidator),
            "maker" => Some(Self::Maker),
            _ => None,
        }
    }
}

/// One configured token.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    pub token: String,
    pub role: Role,
    /// Who holds it: accounts opened with it are owned by this name.
    pub subject: String,
}

/// The shortest token accepted: 16 characters, so a token is not guessable by brute force.
pub const TOKEN_LEN_MIN: usize = 16;

/// Every configured token.
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    entries: Vec<TokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    tokens: Vec<TokenEntry>,
}

/// Subjects under this prefix are the server's own identities (its keeper, the demo's admin);
/// token files and `SOFTLIQ_TOKENS` may not claim them, so no configured token can act as, or
/// on the accounts of, an identity the server runs itself.
pub const RESERVED_PREFIX: &str = "softliq:";

/// The in-process keeper's subject (owner of its account).
pub const KEEPER_SUBJECT: &str = "softliq:keeper";

/// The demo's admin subject.
pub const DEMO_ADMIN_SUBJECT: &str = "softliq:demo-admin";

impl Tokens {
    /// Configured tokens.
    ///
    /// # Errors
    /// A token shorter than [`TOKEN_LEN_MIN`], an empty subject, a subject under
    /// [`RESERVED_PREFIX`], or a token given twice.
    pub fn new(entries: Vec<TokenEntry>) -> Result<Self, String> {
        for (i, e) in entries.iter().enumerate() {
            if e.subject.trim_start().starts_with(RESERVED_PREFIX) {
                return Err(format!(
                    "tokens[{i}].subject: {:?} is reserved (subjects starting with {RESERVED_PREFIX:?} are the server's own identities)",
                    e.subject
                ));
            }
        }
        Self::checked(entries)
    }

    /// Adds the server's own identities, whose subjects must be under [`RESERVED_PREFIX`].
    ///
    /// # Errors
    /// A subject outside the prefix, or a token refused as by [`Tokens::new`].
    pub fn with_internal(mut self, entries: Vec<TokenEntry>) -> Result<Self, String> {
        if let Some(e) = entries
            .iter()
            .find(|e| !e.subject.starts_with(RESERVED_PREFIX))
        {
            return Err(format!(
                "internal identity {:?} must start with {RESERVED_PREFIX:?}",
                e.subject
            ));
        }
        self.entries.extend(entries);
        Self::checked(self.entries)
    }

    fn checked(entries: Vec<TokenEntry>) -> Result<Self, String> {
        for (i, e) in entries.iter().enumerate() {
            if e.token.len() < TOKEN_LEN_MIN {
                return Err(format!(
                    "tokens[{i}].token: at least {TOKEN_LEN_MIN} characters, got {}",
                    e.token.len()
                ));
            }
            if e.subject.trim().is_empty() {
                return Err(format!("tokens[{i}].subject: must not be empty"));
            }
            if entries[..i].iter().any(|o| o.token == e.token) {
                return Err(format!("tokens[{i}].token: given twice"));
            }
        }
        Ok(Self { entries })
    }

    /// Reads a tokens file.
    ///
    /// # Errors
    /// The file cannot be read or parsed, or a token is refused by [`Tokens::new`].
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file: TokenFile =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::new(file.tokens).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses `role:subject:token,…` (the `SOFTLIQ_TOKENS` variable).
    ///
    /// # Errors
    /// A malformed item, an unknown role, or a token refused by [`Tokens::new`].
    pub fn parse_env(text: &str) -> Result<Self, String> {
        let mut entries = Vec::new();
        for (i, item) in text.split(',').filter(|s| !s.trim().is_empty()).enumerate() {
            let mut parts = item.trim().splitn(3, ':');
            let (Some(role), Some(subject), Some(token)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!("SOFTLIQ_TOKENS[{i}]: expected role:subject:token"));
            };
            let role = Role::parse(role).ok_or_else(|| {
                format!(
                    "SOFTLIQ_TOKENS[{i}]: role {role:?}: one of admin, oracle, account, liquidator, maker"
                )
            })?;
            entries.push(TokenEntry {
                token: token.to_owned(),
                role,
                subject: subject.to_owned(),
            });
        }
        Self::new(entries)
    }

    /// Adds `other`'s tokens.
    ///
    /// # Errors
    /// As [`Tokens::new`] over the union.
    pub fn merged(mut self, other: Self) -> Result<Self, String> {
        self.entries.extend(other.entries);
        Self::checked(self.entries)
    }

    fn find(&self, token: &str) -> Option<&TokenEntry> {
        // Every entry is compared in full, so timing does not reveal a prefix.
        let mut found = None;
        for e in &self.entries {
            if constant_time_eq(e.token.as_bytes(), token.as_bytes()) {
                found = Some(e);
            }
        }
        found
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The caller, from its bearer token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub role: Role,
    pub subject: String,
}

impl Principal {
    /// # Errors
    /// 403 naming `field` unless the caller has one of `roles`.
    pub fn require(&self, field: &str, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.name()).collect();
            Err(ApiError::forbidden(
                field,
                format!(
                    "needs the role {}; this token has {}",
                    names.join(" or "),
                    self.role.name()
                ),
            ))
        }
    }

    /// Whether the caller may move funds in accounts (opens and owns them).
    #[must_use]
    pub fn owns_accounts(&self) -> bool {
        matches!(self.role, Role::Account | Role::Liquidator | Role::Maker)
    }
}

/// Anything that can resolve a token (the app state).
pub trait TokenSource {
    fn tokens(&self) -> &Tokens;
}

impl<S: TokenSource + Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing `Authorization: Bearer <token>`"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthorized("expected `Authorization: Bearer <token>`"))?;
        let entry = state
            .tokens()
            .find(token.trim())
            .ok_or_else(|| ApiError::unauthorized("unknown token"))?;
        Ok(Self {
            role: entry.role,
            subject: entry.subject.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_tokens_parse_and_bounds_are_named() {
        let t =
            Tokens::parse_env("admin:ops:0123456789abcdef, oracle:feed:fedcba9876543210").unwrap();
        assert_eq!(t.find("0123456789abcdef").unwrap().role, Role::Admin);
        assert_eq!(t.find("fedcba9876543210").unwrap().subject, "feed");
        assert!(t.find("0123456789abcdeX").is_none());
        let short = Tokens::parse_env("admin:ops:short").unwrap_err();
        assert!(short.contains("at least 16"), "{short}");
        let role = Tokens::parse_env("root:ops:0123456789abcdef").unwrap_err();
        assert!(role.contains("role \"root\""), "{role}");
        let dup =
            Tokens::parse_env("admin:a:0123456789abcdef,oracle:b:0123456789abcdef").unwrap_err();
        assert!(dup.contains("given twice"), "{dup}");
    }

    /// The server's own identities cannot be claimed by configured tokens: a token file or
    /// `SOFTLIQ_TOKENS` naming a reserved subject is refused with the field named, and a
    /// configured subject `keeper` (which owned the in-process keeper's account before) is
    /// now a different owner from the keeper's.
    #[test]
    fn internal_identities_are_reserved() {
        let entry = |subject: &str, token: &str| TokenEntry {
            token: token.to_owned(),
            role: Role::Account,
            subject: subject.to_owned(),
        };
        for subject in [KEEPER_SUBJECT, DEMO_ADMIN_SUBJECT, "softliq:anything"] {
            let e = Tokens::new(vec![entry(subject, "0123456789abcdef")]).unwrap_err();
            assert!(
                e.contains("tokens[0].subject") && e.contains("reserved"),
                "{e}"
            );
            // The variable splits on ':', so a reserved subject cannot even be written there.
            if let Ok(t) = Tokens::parse_env(&format!("account:{subject}:0123456789abcdef")) {
                assert!(
                    t.entries
                        .iter()
                        .all(|e| !e.subject.starts_with(RESERVED_PREFIX))
                );
            }
        }
        let user = Tokens::new(vec![entry("keeper", "user-token-000000001")]).unwrap();
        let all = user
            .with_internal(vec![entry(KEEPER_SUBJECT, "keeper-token-00000001")])
            .unwrap();
        let (mine, keeper) = (
            all.find("user-token-000000001").unwrap(),
            all.find("keeper-token-00000001").unwrap(),
        );
        assert_ne!(mine.subject, keeper.subject);
        assert!(KEEPER_SUBJECT.starts_with(RESERVED_PREFIX));
        assert!(DEMO_ADMIN_SUBJECT.starts_with(RESERVED_PREFIX));
        let e = Tokens::default()
            .with_internal(vec![entry("keeper", "keeper-token-00000001")])
            .unwrap_err();
        assert!(e.contains("must start with"), "{e}");
    }
}
