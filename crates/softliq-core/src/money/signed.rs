//! Signed fixed-point quantities, for the one part of the ledger where money can be owed in
//! either direction: perpetual positions (PnL, funding, the settled quote balance) and the
//! rates that drive them (premium, funding rate).
//!
//! | type | meaning | scale |
//! | --- | --- | --- |
//! | [`SignedValue`] | USD that may be negative (PnL, a perp cash balance, funding owed) | WAD |
//! | [`SignedRatio`] | a signed rate (premium of mark over index, funding rate) | WAD |
//!
//! Like the unsigned units they are `i128` newtypes with checked arithmetic only; the
//! magnitude bound is `i128::MAX` (1.7·10^20 USD), far above any book.

use super::decimal::{Scaled, parse_scaled};
use super::muldiv::mul_div_pow10;
use super::{MathError, ParseError, Price, Ratio, Rounding, Value};
use std::fmt;

macro_rules! signed_fixed_point {
    ($(#[$doc:meta])* $name:ident, $unsigned:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(i128);

        impl $name {
            pub const ZERO: Self = Self(0);
            pub const SCALE: u8 = 18;
            pub const ONE: Self = Self(1_000_000_000_000_000_000);

            #[must_use]
            pub const fn from_raw(raw: i128) -> Self {
                Self(raw)
            }

            #[must_use]
            pub const fn raw(self) -> i128 {
                self.0
            }

            #[must_use]
            pub const fn is_negative(self) -> bool {
                self.0 < 0
            }

            #[must_use]
            pub const fn is_zero(self) -> bool {
                self.0 == 0
            }

            /// A non-negative quantity as a signed one.
            ///
            /// # Errors
            /// `Overflow` above `i128::MAX`.
            pub fn positive(v: $unsigned) -> Result<Self, MathError> {
                i128::try_from(v.raw()).map(Self).map_err(|_| MathError::Overflow)
            }

            /// `−v`.
            ///
            /// # Errors
            /// `Overflow` above `i128::MAX`.
            pub fn negative(v: $unsigned) -> Result<Self, MathError> {
                Self::positive(v).map(|s| Self(-s.0))
            }

            /// # Errors
            /// `Overflow`.
            pub fn checked_add(self, other: Self) -> Result<Self, MathError> {
                self.0.checked_add(other.0).map(Self).ok_or(MathError::Overflow)
            }

            /// # Errors
            /// `Overflow`.
            pub fn checked_sub(self, other: Self) -> Result<Self, MathError> {
                self.0.checked_sub(other.0).map(Self).ok_or(MathError::Overflow)
            }

            /// Adds an unsigned quantity.
            ///
            /// # Errors
            /// `Overflow`.
            pub fn plus(self, v: $unsigned) -> Result<Self, MathError> {
                self.checked_add(Self::positive(v)?)
            }

            /// Subtracts an unsigned quantity.
            ///
            /// # Errors
            /// `Overflow`.
            pub fn minus(self, v: $unsigned) -> Result<Self, MathError> {
                self.checked_sub(Self::positive(v)?)
            }

            /// `max(self, 0)`.
            #[must_use]
            pub const fn positive_part(self) -> $unsigned {
                if self.0 > 0 { $unsigned::from_raw(self.0.unsigned_abs()) } else { $unsigned::ZERO }
            }

            /// `max(−self, 0)`.
            #[must_use]
            pub const fn negative_part(self) -> $unsigned {
                if self.0 < 0 { $unsigned::from_raw(self.0.unsigned_abs()) } else { $unsigned::ZERO }
            }

            /// `|self|`.
            #[must_use]
            pub const fn magnitude(self) -> $unsigned {
                $unsigned::from_raw(self.0.unsigned_abs())
            }

            /// `min(max(self, −bound), bound)`.
            #[must_use]
            pub fn clamp_magnitude(self, bound: $unsigned) -> Self {
                let b = i128::try_from(bound.raw()).unwrap_or(i128::MAX);
                Self(self.0.clamp(-b, b))
            }

            /// Lossy conversion for statistics and reports only; never for ledger paths.
            #[must_use]
            pub fn to_f64(self) -> f64 {
                self.0 as f64 / 1e18
            }

            /// Parses an exact decimal with an optional leading `-`.
            ///
            /// # Errors
            /// As [`parse_scaled`]; `Overflow`-like range errors above `i128::MAX`.
            pub fn parse(field: &str, text: &str) -> Result<Self, ParseError> {
                let (negative, digits) = match text.strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, text),
                };
                let raw = parse_scaled(field, digits, Self::SCALE)?;
                let magnitude = i128::try_from(raw).map_err(|_| ParseError {
                    field: field.to_owned(),
                    text: text.to_owned(),
                    problem: super::ParseProblem::OutOfRange {
                        max: super::format_scaled(i128::MAX.unsigned_abs(), Self::SCALE),
                    },
                })?;
                Ok(Self(if negative { -magnitude } else { magnitude }))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if self.0 < 0 {
                    f.write_str("-")?;
                }
                fmt::Display::fmt(&Scaled { raw: self.0.unsigned_abs(), scale: Self::SCALE }, f)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.collect_str(self)
                } else {
                    s.serialize_i128(self.0)
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let text = String::deserialize(d)?;
                    Self::parse("value", &text).map_err(|e| serde::de::Error::custom(e.problem))
                } else {
                    i128::deserialize(d).map(Self)
                }
            }
        }
    };
}

signed_fixed_point!(
    /// Signed USD, WAD.
    SignedValue, Value
);
signed_fixed_point!(
    /// A signed dimensionless rate, WAD.
    SignedRatio, Ratio
);

/// `|a| · b / 10^k` with the sign of `a`, the magnitude rounded as asked (`Down` = toward zero).
fn signed_mul(a: i128, b: u128, k: u8, rounding: Rounding) -> Result<i128, MathError> {
    let m = mul_div_pow10(a.unsigned_abs(), b, k, rounding)?;
    let m = i128::try_from(m).map_err(|_| MathError::Overflow)?;
    Ok(if a < 0 { -m } else { m })
}

impl SignedRatio {
    /// `self · price`: a per-token USD amount (a funding payment per whole token is
    /// `rate · index price`), magnitude rounded as asked.
    ///
    /// # Errors
    /// `Overflow`.
    pub fn mul_price(self, price: Price, rounding: Rounding) -> Result<SignedValue, MathError> {
        signed_mul(self.0, price.raw(), Ratio::SCALE, rounding).map(SignedValue)
    }

    /// `self · ratio`, magnitude rounded as asked.
    ///
    /// # Errors
    /// `Overflow`.
    pub fn mul_ratio(self, ratio: Ratio, rounding: Rounding) -> Result<Self, MathError> {
        signed_mul(self.0, ratio.raw(), Ratio::SCALE, rounding).map(Self)
    }

    /// `price · (1 + self)`, rounded as asked; refused when the result would be negative.
    ///
    /// # Errors
    /// `Negative` for a rate at or below −1; `Overflow`.
    pub fn apply_to(self, price: Price, rounding: Rounding) -> Result<Price, MathError> {
        let factor = Ratio::ONE
            .raw()
            .cast_signed()
            .checked_add(self.0)
            .ok_or(MathError::Overflow)?;
        let factor = u128::try_from(factor).map_err(|_| MathError::Negative)?;
        mul_div_pow10(price.raw(), factor, Ratio::SCALE, rounding).map(Price::from_raw)
    }
}

impl SignedValue {
    /// `units · per_token / 10^decimals` with the sign of `units`: a signed number of base units
    /// (a perp size) times a signed per-token amount, magnitude rounded `magnitude_rounding`
    /// (callers choose it from who pays: see `perp::position`).
    ///
    /// # Errors
    /// `Overflow`.
    #[inline]
    pub fn of_units(
        units: i128,
        per_token: Self,
        decimals: super::Decimals,
        magnitude_rounding: Rounding,
    ) -> Result<Self, MathError> {
        let m = mul_div_pow10(
            units.unsigned_abs(),
            per_token.0.unsigned_abs(),
            decimals.get(),
            magnitude_rounding,
        )?;
        let m = i128::try_from(m).map_err(|_| MathError::Overflow)?;
        Ok(Self(if (units < 0) == (per_token.0 < 0) {
            m
        } else {
            -m
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_and_display() {
        let v = SignedValue::parse("t", "-12.5").unwrap();
        assert_eq!(v.to_string(), "-12.5");
        assert_eq!(v.negative_part(), Value::parse("t", "12.5").unwrap());
        assert_eq!(v.positive_part(), Value::ZERO);
        assert_eq!(
            SignedValue::parse("t", "3").unwrap().positive_part(),
            Value::ONE
                .checked_add(Value::ONE)
                .unwrap()
                .checked_add(Value::ONE)
                .unwrap()
        );
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, "\"-12.5\"");
        assert_eq!(serde_json::from_str::<SignedValue>(&json).unwrap(), v);
    }

    #[test]
    fn products_round_their_magnitude() {
        // −1 unit · 0.5 per token at 0 decimals: magnitude 0.5 → 0 down, 1 up, sign kept.
        let half = SignedValue::parse("t", "0.5").unwrap();
        let d0 = super::super::Decimals::new(0).unwrap();
        assert_eq!(
            SignedValue::of_units(-1, half, d0, Rounding::Down).unwrap(),
            SignedValue::from_raw(-500_000_000_000_000_000)
        );
        let tiny = SignedValue::from_raw(1);
        assert_eq!(
            SignedValue::of_units(
                -1,
                tiny,
                super::super::Decimals::new(1).unwrap(),
                Rounding::Up
            )
            .unwrap(),
            SignedValue::from_raw(-1)
        );
        assert_eq!(
            SignedValue::of_units(
                -1,
                tiny,
                super::super::Decimals::new(1).unwrap(),
                Rounding::Down
            )
            .unwrap(),
            SignedValue::ZERO
        );
        let r = SignedRatio::parse("t", "-0.01").unwrap();
        let p = Price::parse("t", "100").unwrap();
        assert_eq!(
            r.apply_to(p, Rounding::Down).unwrap(),
            Price::parse("t", "99").unwrap()
        );
        assert_eq!(
            r.mul_price(p, Rounding::Down).unwrap(),
            SignedValue::parse("t", "-1").unwrap()
        );
        assert_eq!(
            SignedRatio::parse("t", "-1")
                .unwrap()
                .apply_to(p, Rounding::Down),
            Ok(Price::ZERO)
        );
        assert_eq!(
            SignedRatio::parse("t", "-2")
                .unwrap()
                .apply_to(p, Rounding::Down),
            Err(MathError::Negative)
        );
    }
}
