//! Exact conversion between decimal strings ("1234.567891") and scaled integers.
//!
//! The grammar is deliberately small: `digits [ "." digits ]`, no white space, no sign, no
//! exponent, no separators, and no leading zeros (`0` alone before the point is the only
//! integer part that starts with one). Anything else is refused with the field named, because
//! a number that parses "approximately" is how money goes missing: `" 1"`, `"1\n"` and
//! `"0001"` are each one typo or one encoding bug away from a different amount.

use std::fmt;

/// What was wrong with a decimal string, and in which field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem} (got {text:?})")]
pub struct ParseError {
    /// The field the caller was reading (for example `assets.WETH.liquidation_threshold`).
    pub field: String,
    /// The text as given.
    pub text: String,
    /// What was wrong with it.
    pub problem: ParseProblem,
}

/// The ways a decimal string can be refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseProblem {
    #[error("empty number")]
    Empty,
    #[error("negative numbers are not allowed here")]
    Negative,
    #[error("not a plain decimal number (digits, optionally one '.' followed by digits)")]
    Malformed,
    #[error("white space is not allowed in a number")]
    WhiteSpace,
    #[error("leading zeros are not allowed (write 1, not 01)")]
    LeadingZeros,
    #[error("more than {max} decimal places")]
    TooManyDecimals { max: u8 },
    #[error("out of range: at most {max}")]
    OutOfRange { max: String },
}

/// Parses `text` as a non-negative decimal scaled by `10^scale`, exactly.
///
/// # Errors
/// A [`ParseError`] naming `field` when the text is not a plain decimal, has more than `scale`
/// decimals, or does not fit in `u128` once scaled.
pub fn parse_scaled(field: &str, text: &str, scale: u8) -> Result<u128, ParseError> {
    let fail = |problem| ParseError {
        field: field.to_owned(),
        text: text.to_owned(),
        problem,
    };
    let t = text;
    if t.is_empty() {
        return Err(fail(ParseProblem::Empty));
    }
    if t.chars().any(char::is_whitespace) {
        return Err(fail(ParseProblem::WhiteSpace));
    }
    if t.starts_with('-') {
        return Err(fail(ParseProblem::Negative));
    }
    let (int_part, frac_part) = match t.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (t, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int_part) || frac_part.is_some_and(|f| !all_digits(f)) {
        return Err(fail(ParseProblem::Malformed));
    }
    if int_part.len() > 1 && int_part.starts_with('0') {
        return Err(fail(ParseProblem::LeadingZeros));
    }
    let frac = frac_part.unwrap_or("").trim_end_matches('0');
    if frac.len() > usize::from(scale) {
        return Err(fail(ParseProblem::TooManyDecimals { max: scale }));
    }
    let out_of_range = || {
        fail(ParseProblem::OutOfRange {
            max: format_scaled(u128::MAX, scale),
        })
    };
    let mut value: u128 = 0;
    let padding = usize::from(scale) - frac.len();
    let digits = int_part.bytes().chain(frac.bytes());
    for b in digits.chain(std::iter::repeat_n(b'0', padding)) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u128::from(b - b'0')))
            .ok_or_else(out_of_range)?;
    }
    Ok(value)
}

/// Prints `raw / 10^scale` exactly, without trailing zeros ("1.5", "1200", "0.000001").
#[must_use]
pub fn format_scaled(raw: u128, scale: u8) -> String {
    Scaled { raw, scale }.to_string()
}

/// A scaled integer that prints as its exact decimal.
#[derive(Clone, Copy)]
pub struct Scaled {
    pub raw: u128,
    pub scale: u8,
}

impl fmt::Display for Scaled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.raw.to_string();
        let scale = usize::from(self.scale);
        let (int_part, frac_part) = if digits.len() > scale {
            let (i, fr) = digits.split_at(digits.len() - scale);
            (i.to_owned(), fr.to_owned())
        } else {
            ("0".to_owned(), format!("{digits:0>scale$}"))
        };
        let frac = frac_part.trim_end_matches('0');
        if frac.is_empty() {
            f.pad(&int_part)
        } else {
            f.pad(&format!("{int_part}.{frac}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_exactly() {
        assert_eq!(parse_scaled("x", "1234.567891", 6), Ok(1_234_567_891));
        assert_eq!(parse_scaled("x", "1", 18), Ok(10u128.pow(18)));
        assert_eq!(parse_scaled("x", "0.5", 1), Ok(5));
        assert_eq!(parse_scaled("x", "0", 1), Ok(0));
        assert_eq!(
            parse_scaled("x", "1.500", 1),
            Ok(15),
            "trailing zeros are not decimals"
        );
    }

    #[test]
    fn refuses_with_the_field_named() {
        let err = parse_scaled("assets.USDC.amount", "1.2345678", 6).unwrap_err();
        assert_eq!(err.field, "assets.USDC.amount");
        assert_eq!(err.problem, ParseProblem::TooManyDecimals { max: 6 });
        assert!(err.to_string().contains("assets.USDC.amount"));
        assert!(err.to_string().contains("more than 6 decimal places"));
        for (text, problem) in [
            ("", ParseProblem::Empty),
            ("-1", ParseProblem::Negative),
            ("1e5", ParseProblem::Malformed),
            ("1.", ParseProblem::Malformed),
            (".5", ParseProblem::Malformed),
            ("1,000", ParseProblem::Malformed),
            ("+1", ParseProblem::Malformed),
            ("1.2.3", ParseProblem::Malformed),
            // Money input is exact text: no padding, no line ends, no leading zeros.
            (" 1", ParseProblem::WhiteSpace),
            ("1 ", ParseProblem::WhiteSpace),
            ("1\n", ParseProblem::WhiteSpace),
            (" 0.5 ", ParseProblem::WhiteSpace),
            ("00000000000000000001", ParseProblem::LeadingZeros),
            ("007", ParseProblem::LeadingZeros),
            ("00.5", ParseProblem::LeadingZeros),
        ] {
            assert_eq!(
                parse_scaled("f", text, 6).unwrap_err().problem,
                problem,
                "{text:?}"
            );
        }
        let too_big = format!("{}0", u128::MAX);
        assert!(matches!(
            parse_scaled("f", &too_big, 0).unwrap_err().problem,
            ParseProblem::OutOfRange { .. }
        ));
        assert!(parse_scaled("f", &u128::MAX.to_string(), 0).is_ok());
        assert!(parse_scaled("f", &u128::MAX.to_string(), 1).is_err());
    }

    #[test]
    fn formats_exactly() {
        assert_eq!(format_scaled(1_234_567_891, 6), "1234.567891");
        assert_eq!(format_scaled(1_000_000, 6), "1");
        assert_eq!(format_scaled(1, 6), "0.000001");
        assert_eq!(format_scaled(0, 18), "0");
        assert_eq!(format_scaled(120, 0), "120");
        assert_eq!(format!("{:>6}", Scaled { raw: 15, scale: 1 }), "   1.5");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(raw in any::<u128>(), scale in 0u8..=38) {
            prop_assert_eq!(parse_scaled("f", &format_scaled(raw, scale), scale), Ok(raw));
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,50}", scale in 0u8..=38) {
            let _ = parse_scaled("f", &text, scale);
        }
    }
}
