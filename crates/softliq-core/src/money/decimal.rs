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
    // Every prefix of the digits is at most the whole number, so an overflow anywhere means
    // the number is out of range, and the digits may be taken in any grouping: 19 at a time in
    // 64-bit arithmetic, then the padding as one power of ten.
    let padding = u32::from(scale) - u32::try_from(frac.len()).unwrap_or(u32::MAX);
    let value = append_digits(0, int_part.as_bytes())
        .and_then(|v| append_digits(v, frac.as_bytes()))
        .and_then(|v| match v {
            0 => Some(0),
            v => 10u128.checked_pow(padding).and_then(|p| v.checked_mul(p)),
        })
        .ok_or_else(out_of_range)?;
    Ok(value)
}

/// `value` with the decimal `digits` (ASCII, checked) appended; `None` past `u128::MAX`.
fn append_digits(mut value: u128, digits: &[u8]) -> Option<u128> {
    for chunk in digits.chunks(19) {
        let part = chunk
            .iter()
            .fold(0u64, |acc, &b| acc * 10 + u64::from(b - b'0'));
        let shift = 10u128.pow(u32::try_from(chunk.len()).unwrap_or(19));
        value = value.checked_mul(shift)?.checked_add(u128::from(part))?;
    }
    Some(value)
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
    /// The digits of `raw` taken 19 at a time with 64-bit arithmetic (at most two 128-bit
    /// divisions, where `u128::to_string` divides once per digit) and written straight to the
    /// output; the earlier version allocated four strings. An account read prints dozens of
    /// these, and they were a fifth of its instructions. Only a width or precision (tables)
    /// goes through a string, for the padding.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.width().is_none() && f.precision().is_none() {
            return self.write_to(f);
        }
        let mut text = String::new();
        self.write_to(&mut text)?;
        f.pad(&text)
    }
}

impl Scaled {
    /// The integer part, then the fraction (zero-padded on the left to `scale` digits, trailing
    /// zeros dropped) after a '.' when it is not zero.
    fn write_to(self, w: &mut impl fmt::Write) -> fmt::Result {
        let mut digits = [0u8; 40];
        let digits = decimal_digits(self.raw, &mut digits);
        let scale = usize::from(self.scale);
        let (int_part, frac_digits): (&[u8], &[u8]) = if digits.len() > scale {
            digits.split_at(digits.len() - scale)
        } else {
            (b"0", digits)
        };
        let zeros = scale - frac_digits.len();
        let frac_len = frac_digits
            .iter()
            .rposition(|&d| d != b'0')
            .map_or(0, |i| i + 1);
        w.write_str(text(int_part)?)?;
        if frac_len > 0 {
            w.write_str(".")?;
            for _ in 0..zeros / ZEROS.len() {
                w.write_str(ZEROS)?;
            }
            w.write_str(&ZEROS[..zeros % ZEROS.len()])?;
            w.write_str(text(&frac_digits[..frac_len])?)?;
        }
        Ok(())
    }
}

/// Digits and '.' as text (only ASCII digits and '.' are ever written).
fn text(b: &[u8]) -> Result<&str, fmt::Error> {
    std::str::from_utf8(b).map_err(|_| fmt::Error)
}

/// Zeros to pad a fraction with, written a slice at a time.
const ZEROS: &str = "00000000000000000000000000000000";

/// The decimal digits of `x` (no leading zeros; "0" for zero), written at the end of `buf`.
fn decimal_digits(mut x: u128, buf: &mut [u8; 40]) -> &[u8] {
    const CHUNK: u128 = 10_000_000_000_000_000_000; // 10^19, the largest power of ten in a u64
    let mut start = buf.len();
    loop {
        // The low 19 digits in 64-bit arithmetic (the compiler turns `/ 10` into a multiply).
        let (rest, mut chunk) = if x >= CHUNK {
            (x / CHUNK, u64::try_from(x % CHUNK).unwrap_or(0))
        } else {
            (0, u64::try_from(x).unwrap_or(0))
        };
        let end = start;
        while chunk > 0 {
            start -= 1;
            buf[start] = b'0' + u8::try_from(chunk % 10).unwrap_or(0);
            chunk /= 10;
        }
        if rest == 0 {
            if start == buf.len() {
                start -= 1;
                buf[start] = b'0';
            }
            return &buf[start..];
        }
        // A chunk below the top one keeps its leading zeros.
        let written = end - start;
        start -= 19 - written;
        buf[start..end - written].fill(b'0');
        x = rest;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// [`parse_scaled`]'s value as first written: a digit at a time, padding included.
    fn parse_reference(text: &str, scale: u8) -> Option<u128> {
        let (int_part, frac) = text.split_once('.').unwrap_or((text, ""));
        let frac = frac.trim_end_matches('0');
        let padding = usize::from(scale).checked_sub(frac.len())?;
        let digits = int_part.bytes().chain(frac.bytes());
        digits
            .chain(std::iter::repeat_n(b'0', padding))
            .try_fold(0u128, |v, b| {
                v.checked_mul(10)?.checked_add(u128::from(b - b'0'))
            })
    }

    proptest! {
        /// Well-formed numbers of up to 45 digits on each side, at any scale: the value, or
        /// out of range, exactly as a digit-at-a-time parse gives.
        #[test]
        fn parses_as_the_digit_loop_does(
            int_part in prop_oneof!["0", "[1-9][0-9]{0,44}"],
            frac in proptest::option::of("[0-9]{1,45}"),
            scale in 0u8..=60,
        ) {
            let text = frac.map_or_else(|| int_part.clone(), |f| format!("{int_part}.{f}"));
            match parse_scaled("x", &text, scale) {
                Ok(v) => prop_assert_eq!(Some(v), parse_reference(&text, scale)),
                Err(e) => match e.problem {
                    ParseProblem::OutOfRange { .. } => prop_assert_eq!(parse_reference(&text, scale), None),
                    ParseProblem::TooManyDecimals { .. } => {
                        let decimals = text.split_once('.').map_or(0, |(_, f)| f.trim_end_matches('0').len());
                        prop_assert!(decimals > usize::from(scale));
                    }
                    other => prop_assert!(false, "{other:?} for {text}"),
                },
            }
        }
    }

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

    /// The first implementation, kept as the reference the faster one must match.
    fn reference(raw: u128, scale: u8) -> String {
        let digits = raw.to_string();
        let scale = usize::from(scale);
        let (int_part, frac_part) = if digits.len() > scale {
            let (i, fr) = digits.split_at(digits.len() - scale);
            (i.to_owned(), fr.to_owned())
        } else {
            ("0".to_owned(), format!("{digits:0>scale$}"))
        };
        let frac = frac_part.trim_end_matches('0');
        if frac.is_empty() {
            int_part
        } else {
            format!("{int_part}.{frac}")
        }
    }

    #[test]
    fn formats_exactly() {
        assert_eq!(format_scaled(1_234_567_891, 6), "1234.567891");
        assert_eq!(format_scaled(1_000_000, 6), "1");
        assert_eq!(format_scaled(1, 6), "0.000001");
        assert_eq!(format_scaled(0, 18), "0");
        assert_eq!(format_scaled(120, 0), "120");
        assert_eq!(format!("{:>6}", Scaled { raw: 15, scale: 1 }), "   1.5");
        // Chunk edges (10^19 and its neighbours, a zero chunk inside), the extremes.
        for raw in [
            10u128.pow(19),
            10u128.pow(19) - 1,
            10u128.pow(19) + 1,
            10u128.pow(38),
            10u128.pow(38) + 7,
            u128::MAX,
            0,
        ] {
            for scale in [0, 1, 18, 19, 20, 38, 39, 60, 255] {
                assert_eq!(
                    format_scaled(raw, scale),
                    reference(raw, scale),
                    "{raw} at {scale}"
                );
                let padded = format!("{:>1}", Scaled { raw, scale });
                assert_eq!(padded, reference(raw, scale), "{raw} at {scale}, padded");
            }
        }
    }

    proptest! {
        #[test]
        fn formats_as_the_reference_does(
            raw in prop_oneof![any::<u128>(), any::<u64>().prop_map(u128::from), 0u128..1_000_000],
            scale in any::<u8>(),
        ) {
            prop_assert_eq!(format_scaled(raw, scale), reference(raw, scale));
            // With a width, through the padded path.
            prop_assert_eq!(format!("{:>1}", Scaled { raw, scale }), reference(raw, scale));
        }

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
