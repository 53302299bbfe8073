//! Assets and perp markets named as integrators name them: by id (`3`) or by symbol (`"USDC"`,
//! `"WETH-PERP"`), in JSON bodies, query strings and paths alike.
//!
//! Text of decimal digits is an id (a query string or path carries every value as text), so
//! symbols may not be all digits; the engine refuses such a symbol at listing. Symbols are
//! matched exactly, case included, as listed. An unknown symbol is a 404 naming the field and
//! the listed symbols; an unknown id is left to the engine, which refuses it the same way.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
