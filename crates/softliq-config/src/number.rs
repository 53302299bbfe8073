//! Numbers as people write them in config files, read exactly.
//!
//! A ratio may be written `"0.8"`, `"80%"`, `"8000bps"`, or as a bare TOML/JSON number `0.8`.
//! Bare floats are read through their shortest decimal form (Rust prints the shortest string
//! that reads back to the same float, which is the literal as typed for any literal of up to 15
//! significant digits), so `0.825` means exactly 0.825. Amounts and prices are decimal strings
//! or bare numbers in whole tokens / USD.

use serde::Deserialize;
use softliq_core::money::{Amount, Decimals, ParseError, Price, Ratio, Value};

/// A number as written: text, integer or float.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Number {
    Text(String),
    Int(u64),
    Float(f64),
}

impl Number {
    /// The decimal text of the number, exactly as it will be parsed.
    fn text(&self) -> String {
        match self {
            Self::Text(t) => t.clone(),
            Self::Int(i) => i.to_string(),
            Self::Float(f) => f.to_string(),
        }
    }

    /// A WAD ratio from `"0.8"`, `"80%"`, `"8000bps"` or `0.8`.
    ///
    /// # Errors
    /// Names `field` when the text is not a plain decimal, has too many decimals, or is out of
    /// range.
    pub fn ratio(&self, field: &str) -> Result<Ratio, ParseError> {
        Ratio::parse_spelled(field, &self.text())
    }

    /// A price in USD per whole token.
    ///
    /// # Errors
    /// As [`Number::ratio`].
    pub fn price(&self, field: &str) -> Result<Price, ParseError> {
        Price::parse(field, &self.text())
    }

    /// A value in USD.
    ///
    /// # Errors
    /// As [`Number::ratio`].
    pub fn usd(&self, field: &str) -> Result<Value, ParseError> {
        Value::parse(field, &self.text())
    }

    /// An amount in whole tokens, into base units.
    ///
    /// # Errors
    /// As [`Number::ratio`]; more decimals than the token has are refused.
    pub fn tokens(&self, field: &str, decimals: Decimals) -> Result<Amount, ParseError> {
        Amount::parse_tokens(field, &self.text(), decimals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ratio(n: Number) -> String {
        n.ratio("f")
            .map_or_else(|e| e.to_string(), |r| r.to_string())
    }

    #[test]
    fn ratio_spellings_agree() {
        for n in [
            Number::Text("0.825".into()),
            Number::Text("82.5%".into()),
            Number::Text("8250bps".into()),
            Number::Text("8250 bps".into()),
            Number::Float(0.825),
        ] {
            assert_eq!(ratio(n), "0.825");
        }
        assert_eq!(ratio(Number::Int(1)), "1");
        assert_eq!(
            ratio(Number::Float(0.1 + 0.2)),
            "0.30000000000000004",
            "floats read as printed"
        );
        assert!(ratio(Number::Text("-5%".into())).contains("negative"));
        assert!(
            ratio(Number::Text("0.0000000000000000001".into()))
                .contains("more than 18 decimal places")
        );
        assert!(
            ratio(Number::Text("12.12345678901234567%".into()))
                .contains("more than 16 decimal places")
        );
    }
}
