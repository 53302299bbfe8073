//! The unit types of the ledger. Each is a `u128` in its own newtype, so that a price cannot be
//! added to an amount by mistake: the only ways to combine them are the methods below, and each
//! one that divides names its rounding.
//!
//! | type | meaning | scale |
//! | --- | --- | --- |
//! | [`Amount`] | tokens in the asset's base units | `10^decimals` per token |
//! | [`Shares`] | supply or debt shares | base units at index 1 |
//! | [`Price`] | USD per whole token | WAD (10^18) |
//! | [`Value`] | USD | WAD |
//! | [`Ratio`] | dimensionless (parameters, health factor) | WAD |
//! | [`Index`] | interest index | RAY (10^27) |

use super::decimal::{Scaled, parse_scaled};
use super::muldiv::{Wide, mul_div, mul_div_pow10};
use super::{MathError, ParseError, ParseProblem, RAY, Rounding, WAD};
use std::fmt;

macro_rules! checked_arithmetic {
    ($name:ident) => {
        impl $name {
            pub const ZERO: Self = Self(0);
            pub const MAX: Self = Self(u128::MAX);

            /// Wraps a raw scaled integer.
            #[must_use]
            pub const fn from_raw(raw: u128) -> Self {
                Self(raw)
            }

            /// The raw scaled integer.
            #[must_use]
            pub const fn raw(self) -> u128 {
                self.0
            }

            #[must_use]
            pub const fn is_zero(self) -> bool {
                self.0 == 0
            }

            /// # Errors
            /// `Overflow` past `u128::MAX`.
            pub fn checked_add(self, other: Self) -> Result<Self, MathError> {
                self.0
                    .checked_add(other.0)
                    .map(Self)
                    .ok_or(MathError::Overflow)
            }

            /// # Errors
            /// `Negative` when `other > self`.
            pub fn checked_sub(self, other: Self) -> Result<Self, MathError> {
                self.0
                    .checked_sub(other.0)
                    .map(Self)
                    .ok_or(MathError::Negative)
            }

            /// `self − other`, or zero when `other > self`.
            #[must_use]
            pub const fn saturating_sub(self, other: Self) -> Self {
                Self(self.0.saturating_sub(other.0))
            }

            /// `self + other`, saturating at the maximum (sums of book depth and report
            /// figures; ledger paths use `checked_add`).
            #[must_use]
            pub const fn saturating_add(self, other: Self) -> Self {
                Self(self.0.saturating_add(other.0))
            }
        }
    };
}

/// Serde for the unit types. In a binary format (postcard: the log, snapshots, hashes) the raw
/// `u128`; in a human-readable one (JSON, TOML) an exact decimal string — the raw integer of
/// base units for amounts and shares, the scaled decimal ("1834.25") for prices, values,
/// ratios and indices — because JSON numbers lose precision past 2^53 in most readers.
/// Reading accepts the same string, or a plain integer of raw units — except a [`Ratio`], which
/// is read as people write ratios (`"0.8"`, `"80%"`, `"8000bps"`, `0.8`, `1`), see
/// [`Ratio::parse_spelled`].
macro_rules! serde_scaled {
    ($name:ident, $scale:expr) => {
        serde_scaled!($name, $scale, false);
    };
    ($name:ident, $scale:expr, $ratio:expr) => {
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.collect_str(&Scaled {
                        raw: self.0,
                        scale: $scale,
                    })
                } else {
                    s.serialize_u128(self.0)
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    d.deserialize_any(ScaledVisitor {
                        scale: $scale,
                        ratio: $ratio,
                    })
                    .map(Self)
                } else {
                    u128::deserialize(d).map(Self)
                }
            }
        }
    };
}

/// Reads a human-readable unit value: a decimal string at `scale`, or a raw integer; with
/// `ratio`, the spellings of [`Ratio::parse_spelled`] and numbers as whole ratios.
struct ScaledVisitor {
    scale: u8,
    ratio: bool,
}

impl ScaledVisitor {
    fn whole<E: serde::de::Error>(&self, v: u128) -> Result<u128, E> {
        if self.ratio {
            v.checked_mul(Ratio::ONE.0)
                .ok_or_else(|| E::custom(format!("{v} is out of range for a ratio")))
        } else {
            Ok(v)
        }
    }
}

impl serde::de::Visitor<'_> for ScaledVisitor {
    type Value = u128;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ratio {
            f.write_str("a non-negative ratio: \"0.8\", \"80%\", \"8000bps\" or a number")
        } else {
            write!(
                f,
                "a non-negative decimal string with at most {} decimals",
                self.scale
            )
        }
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<u128, E> {
        let parsed = if self.ratio {
            Ratio::parse_spelled("value", v).map(Ratio::raw)
        } else {
            parse_scaled("value", v, self.scale)
        };
        parsed.map_err(|e| E::custom(e.problem))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u128, E> {
        self.whole(u128::from(v))
    }

    fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<u128, E> {
        self.whole(v)
    }

    /// TOML integers arrive signed.
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u128, E> {
        let v = u128::try_from(v).map_err(|_| E::custom(ParseProblem::Negative))?;
        self.whole(v)
    }

    /// Only ratios take a float, read through its shortest decimal form (`0.825` is exactly
    /// 0.825); amounts and prices are exact decimal strings.
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u128, E> {
        if !self.ratio {
            return Err(E::invalid_type(serde::de::Unexpected::Float(v), &self));
        }
        if !v.is_finite() {
            return Err(E::custom("not a finite number"));
        }
        self.visit_str(&v.to_string())
    }
}

macro_rules! fixed_point {
    ($(#[$doc:meta])* $name:ident, $scale:expr) => {
        fixed_point!($(#[$doc])* $name, $scale, false);
    };
    ($(#[$doc:meta])* $name:ident, $scale:expr, $ratio:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(u128);

        checked_arithmetic!($name);
        serde_scaled!($name, $scale, $ratio);

        impl $name {
            /// Decimal places of the raw integer.
            pub const SCALE: u8 = $scale;
            /// 1.0 in this type.
            pub const ONE: Self = Self(10u128.pow($scale as u32));

            /// Parses an exact decimal string; `field` names the input in the error.
            ///
            /// # Errors
            /// See [`parse_scaled`].
            pub fn parse(field: &str, text: &str) -> Result<Self, ParseError> {
                parse_scaled(field, text, Self::SCALE).map(Self)
            }

            /// A whole number of units (`from_int(3)` is 3.0).
            ///
            /// # Errors
            /// `Overflow` when it does not fit.
            pub fn from_int(n: u128) -> Result<Self, MathError> {
                n.checked_mul(Self::ONE.0).map(Self).ok_or(MathError::Overflow)
            }

            /// An exact fraction `numerator / denominator`, rounded as asked.
            ///
            /// # Errors
            /// `DivisionByZero`, or `Overflow` when it does not fit.
            pub fn from_fraction(numerator: u128, denominator: u128, rounding: Rounding) -> Result<Self, MathError> {
                mul_div(numerator, Self::ONE.0, denominator, rounding).map(Self)
            }

            /// Lossy conversion for statistics and reports only; never for ledger paths.
            #[must_use]
            pub fn to_f64(self) -> f64 {
                self.0 as f64 / Self::ONE.0 as f64
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&Scaled { raw: self.0, scale: Self::SCALE }, f)
            }
        }
    };
}

/// Number of decimals of a token: one whole token is `10^decimals` base units (0..=30).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "u8", into = "u8")]
pub struct Decimals(u8);

impl TryFrom<u8> for Decimals {
    type Error = String;
    fn try_from(decimals: u8) -> Result<Self, String> {
        Self::new(decimals)
            .ok_or_else(|| format!("decimals: at most {}, got {decimals}", Self::MAX))
    }
}

impl From<Decimals> for u8 {
    fn from(d: Decimals) -> Self {
        d.0
    }
}

impl Decimals {
    /// The largest number of decimals an asset may have (docs/money.md).
    pub const MAX: u8 = 30;

    /// # Errors
    /// `None` above [`Decimals::MAX`]; callers turn that into a parameter error naming the field.
    #[must_use]
    pub const fn new(decimals: u8) -> Option<Self> {
        if decimals <= Self::MAX {
            Some(Self(decimals))
        } else {
            None
        }
    }

    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }

    /// Base units per whole token, `10^decimals` (at most 10^30, which fits in `u128`).
    #[must_use]
    pub const fn unit(self) -> u128 {
        10u128.pow(self.0 as u32)
    }
}

/// A token amount in the asset's base units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(u128);
checked_arithmetic!(Amount);
serde_scaled!(Amount, 0);

/// Supply or debt shares of a pool; an account's balance is `shares · index`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shares(u128);
checked_arithmetic!(Shares);
serde_scaled!(Shares, 0);

/// What amounts and shares share beyond checked arithmetic: they print as their raw integer
/// of base units (use [`Amount::display_tokens`] for whole tokens), and scale by a ratio.
macro_rules! base_units {
    ($($name:ident),*) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl $name {
            /// `self · ratio`, for example the reserve factor's share of interest.
            ///
            /// # Errors
            /// `Overflow` when the result does not fit.
            pub fn mul_ratio(self, ratio: Ratio, rounding: Rounding) -> Result<Self, MathError> {
                mul_div_pow10(self.0, ratio.0, Ratio::SCALE, rounding).map(Self)
            }
        }
    )*};
}
base_units!(Amount, Shares);

fixed_point!(
    /// USD per whole token, WAD.
    Price, 18
);
fixed_point!(
    /// A USD value, WAD.
    Value, 18
);
fixed_point!(
    /// A dimensionless ratio (risk parameter, rate, health factor), WAD: 1.0 = 10^18.
    Ratio, 18, true
);

impl Ratio {
    /// A ratio as people write one: `"0.8"`, `"80%"`, `"8000bps"` (a space before the unit is
    /// allowed), exactly; the one syntax of every config file and JSON body.
    ///
    /// # Errors
    /// A [`ParseError`] naming `field`: not a plain decimal, too many decimals for the unit
    /// (18 for a fraction, 16 for a percentage, 14 for basis points), or out of range.
    pub fn parse_spelled(field: &str, text: &str) -> Result<Self, ParseError> {
        let t = text.trim();
        let (digits, scale) = if let Some(p) = t.strip_suffix('%') {
            (p.trim_end(), Self::SCALE - 2)
        } else if let Some(b) = t.strip_suffix("bps") {
            (b.trim_end(), Self::SCALE - 4)
        } else {
            (t, Self::SCALE)
        };
        parse_scaled(field, digits, scale).map(Self)
    }
}
fixed_point!(
    /// An interest index, RAY: 1.0 = 10^27.
    Index, 27
);

impl Amount {
    /// Parses an amount given in whole tokens ("1.5" WETH) into base units.
    ///
    /// # Errors
    /// See [`parse_scaled`]: more decimals than the token has are refused.
    pub fn parse_tokens(field: &str, text: &str, decimals: Decimals) -> Result<Self, ParseError> {
        parse_scaled(field, text, decimals.get()).map(Self)
    }

    /// The amount in whole tokens, exactly ("1.5").
    #[must_use]
    pub fn display_tokens(self, decimals: Decimals) -> Scaled {
        Scaled {
            raw: self.0,
            scale: decimals.get(),
        }
    }

    /// `amount · price / 10^decimals`: the amount's value.
    ///
    /// # Errors
    /// `Overflow` when the value does not fit.
    #[inline(always)]
    pub fn value_at(
        self,
        price: Price,
        decimals: Decimals,
        rounding: Rounding,
    ) -> Result<Value, MathError> {
        mul_div_pow10(self.0, price.0, decimals.get(), rounding).map(Value)
    }

    /// `amount · price / 10^decimals` rounded down and rounded up, from one product and one
    /// division (a long's mark value is the first, the notional its requirement is taken on
    /// the second).
    ///
    /// # Errors
    /// `Overflow` when the value does not fit.
    #[inline(always)]
    pub fn value_at_down_up(
        self,
        price: Price,
        decimals: Decimals,
    ) -> Result<(Value, Value), MathError> {
        let (down, inexact) = Wide::product(self.0, price.0).div_pow10_inexact(decimals.get())?;
        let up = if inexact {
            down.checked_add(1).ok_or(MathError::Overflow)?
        } else {
            down
        };
        Ok((Value(down), Value(up)))
    }

    /// `amount / index`: the shares that stand for this amount.
    ///
    /// # Errors
    /// `DivisionByZero` for a zero index; `Overflow` when the shares do not fit.
    #[inline(always)]
    pub fn to_shares(self, index: Index, rounding: Rounding) -> Result<Shares, MathError> {
        mul_div(self.0, RAY, index.0, rounding).map(Shares)
    }
}

impl Shares {
    /// `shares · index`: the amount these shares stand for.
    ///
    /// # Errors
    /// `Overflow` when the amount does not fit.
    #[inline(always)]
    pub fn to_amount(self, index: Index, rounding: Rounding) -> Result<Amount, MathError> {
        mul_div_pow10(self.0, index.0, Index::SCALE, rounding).map(Amount)
    }
}

impl Value {
    /// `value · ratio` (a weighted value: `value · lt`, `value · bw`).
    ///
    /// # Errors
    /// `Overflow` when the result does not fit.
    #[inline]
    pub fn mul_ratio(self, ratio: Ratio, rounding: Rounding) -> Result<Self, MathError> {
        mul_div_pow10(self.0, ratio.0, Ratio::SCALE, rounding).map(Self)
    }

    /// `value / ratio`.
    ///
    /// # Errors
    /// `DivisionByZero` for a zero ratio; `Overflow` when the result does not fit.
    pub fn div_ratio(self, ratio: Ratio, rounding: Rounding) -> Result<Self, MathError> {
        mul_div(self.0, WAD, ratio.0, rounding).map(Self)
    }

    /// `self / denominator` as a ratio (the health factor is `C.ratio_to(D)`).
    ///
    /// # Errors
    /// `DivisionByZero` for a zero denominator; `Overflow` when the ratio does not fit.
    pub fn ratio_to(self, denominator: Self, rounding: Rounding) -> Result<Ratio, MathError> {
        mul_div(self.0, WAD, denominator.0, rounding).map(Ratio)
    }

    /// `value · 10^decimals / price`: the amount of a token worth this value.
    ///
    /// # Errors
    /// `DivisionByZero` for a zero price; `Overflow` when the amount does not fit.
    pub fn to_amount(
        self,
        price: Price,
        decimals: Decimals,
        rounding: Rounding,
    ) -> Result<Amount, MathError> {
        mul_div(self.0, decimals.unit(), price.0, rounding).map(Amount)
    }
}

/// An exact sum of weighted values `Σ value_i · ratio_i`, rounded once when read.
///
/// Summing the products before dividing gives one rounding per total instead of one per term,
/// which is both closer to the exact figure and cheaper (one division instead of n).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WeightedSum(Wide);

impl WeightedSum {
    pub const ZERO: Self = Self(Wide::ZERO);

    /// Adds `value · ratio`, exactly.
    ///
    /// # Errors
    /// `Overflow` past 2^256 − 1.
    #[inline(always)]
    pub fn add(&mut self, value: Value, ratio: Ratio) -> Result<(), MathError> {
        self.0 = self.0.checked_add(Wide::product_auto(value.0, ratio.0))?;
        Ok(())
    }

    /// Removes a term added before, exactly.
    ///
    /// # Errors
    /// `Negative` when the term was never added.
    #[inline(always)]
    pub fn sub(&mut self, value: Value, ratio: Ratio) -> Result<(), MathError> {
        self.0 = self.0.checked_sub(Wide::product_auto(value.0, ratio.0))?;
        Ok(())
    }

    /// The sum as a value, rounded as asked.
    ///
    /// # Errors
    /// `Overflow` when it does not fit in a `Value`.
    #[inline]
    pub fn total(self, rounding: Rounding) -> Result<Value, MathError> {
        self.0.div_pow10(Ratio::SCALE, rounding).map(Value)
    }
}

impl Ratio {
    /// `self · other`.
    ///
    /// # Errors
    /// `Overflow` when the product does not fit.
    pub fn mul(self, other: Self, rounding: Rounding) -> Result<Self, MathError> {
        mul_div_pow10(self.0, other.0, Ratio::SCALE, rounding).map(Self)
    }

    /// `self / other`.
    ///
    /// # Errors
    /// `DivisionByZero` when `other` is zero; `Overflow` when the quotient does not fit.
    pub fn div(self, other: Self, rounding: Rounding) -> Result<Self, MathError> {
        mul_div(self.0, WAD, other.0, rounding).map(Self)
    }

    /// The same ratio at RAY precision, exactly.
    ///
    /// # Errors
    /// `Overflow` above about 3.4·10^11.
    pub fn to_index(self) -> Result<Index, MathError> {
        self.0
            .checked_mul(RAY / WAD)
            .map(Index)
            .ok_or(MathError::Overflow)
    }
}

impl Index {
    /// `self · other` at RAY precision.
    ///
    /// # Errors
    /// `Overflow` when the product does not fit.
    pub fn mul(self, other: Self, rounding: Rounding) -> Result<Self, MathError> {
        mul_div_pow10(self.0, other.0, Index::SCALE, rounding).map(Self)
    }

    /// `self^exponent` at RAY precision by binary exponentiation, each product rounded as asked,
    /// so that `Up` gives a result at or above the exact power and `Down` one at or below it.
    ///
    /// # Errors
    /// `Overflow` when a partial product does not fit.
    pub fn pow(self, mut exponent: u64, rounding: Rounding) -> Result<Self, MathError> {
        let mut result = Self::ONE;
        let mut base = self;
        while exponent > 0 {
            if exponent & 1 == 1 {
                result = result.mul(base, rounding)?;
            }
            exponent >>= 1;
            if exponent > 0 {
                base = base.mul(base, rounding)?;
            }
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(d: u8) -> Decimals {
        Decimals::new(d).unwrap()
    }

    /// One ratio syntax in JSON bodies and TOML files: every spelling of 0.825 reads the same,
    /// integers are whole ratios, and other unit types still refuse floats.
    #[test]
    fn ratios_read_as_written_in_json() {
        let read = |json: &str| {
            serde_json::from_str::<Ratio>(json).map_or_else(|e| e.to_string(), |r| r.to_string())
        };
        for spelled in [
            "\"0.825\"",
            "\"82.5%\"",
            "\"8250bps\"",
            "\"8250 bps\"",
            "0.825",
        ] {
            assert_eq!(read(spelled), "0.825", "{spelled}");
        }
        assert_eq!(read("1"), "1", "an integer is a whole ratio, not raw units");
        assert_eq!(read("\"100%\""), "1");
        assert!(read("\"-5%\"").contains("negative"), "{}", read("\"-5%\""));
        assert!(read("-1").contains("negative"), "{}", read("-1"));
        assert!(read("\"0.1234567890123456789%\"").contains("16 decimal"));
        assert!(
            read("\"80pc\"").contains("not a plain decimal"),
            "{}",
            read("\"80pc\"")
        );
        // A price is an exact decimal string: a float is refused, an integer is raw units.
        assert!(serde_json::from_str::<Price>("1.5").is_err());
        assert_eq!(
            serde_json::from_str::<Price>("1").unwrap(),
            Price::from_raw(1)
        );
        // The binary form (the log) is untouched: the raw integer.
        assert_eq!(
            serde_json::to_string(&Ratio::parse_spelled("f", "80%").unwrap()).unwrap(),
            "\"0.8\""
        );
    }

    #[test]
    fn value_of_tokens_with_different_decimals() {
        let eth = Price::parse("p", "3000").unwrap();
        // 1.5 WETH (18 decimals) at 3000 = 4500 USD.
        let a = Amount::parse_tokens("a", "1.5", dec(18)).unwrap();
        assert_eq!(
            a.value_at(eth, dec(18), Rounding::Down)
                .unwrap()
                .to_string(),
            "4500"
        );
        // 0.00000001 WBTC (1 sat, 8 decimals) at 60000.5 = 0.000600005 USD.
        let sat = Amount::from_raw(1);
        let btc = Price::parse("p", "60000.5").unwrap();
        assert_eq!(
            sat.value_at(btc, dec(8), Rounding::Down)
                .unwrap()
                .to_string(),
            "0.000600005"
        );
        // 1 base unit of a 30-decimal token at 1e-18 USD rounds down to 0, up to 1e-18.
        let tiny = Price::from_raw(1);
        assert_eq!(
            Amount::from_raw(1).value_at(tiny, dec(30), Rounding::Down),
            Ok(Value::ZERO)
        );
        assert_eq!(
            Amount::from_raw(1).value_at(tiny, dec(30), Rounding::Up),
            Ok(Value::from_raw(1))
        );
    }

    #[test]
    fn shares_round_trip_in_the_protocols_favour() {
        let index = Index::parse("i", "1.1").unwrap();
        let a = Amount::from_raw(100);
        // 100 / 1.1 = 90.909..: deposit mints 90 shares, borrow books 91.
        assert_eq!(a.to_shares(index, Rounding::Down), Ok(Shares::from_raw(90)));
        assert_eq!(a.to_shares(index, Rounding::Up), Ok(Shares::from_raw(91)));
        // 91 debt shares are worth 100.1 -> 101 owed; 90 supply shares 99 claimable.
        assert_eq!(
            Shares::from_raw(91).to_amount(index, Rounding::Up),
            Ok(Amount::from_raw(101))
        );
        assert_eq!(
            Shares::from_raw(90).to_amount(index, Rounding::Down),
            Ok(Amount::from_raw(99))
        );
    }

    #[test]
    fn errors_instead_of_wraps() {
        assert_eq!(
            Amount::MAX.checked_add(Amount::from_raw(1)),
            Err(MathError::Overflow)
        );
        assert_eq!(
            Amount::ZERO.checked_sub(Amount::from_raw(1)),
            Err(MathError::Negative)
        );
        assert_eq!(
            Value::ONE.ratio_to(Value::ZERO, Rounding::Down),
            Err(MathError::DivisionByZero)
        );
        assert_eq!(
            Amount::MAX.value_at(Price::from_int(2).unwrap(), dec(0), Rounding::Down),
            Err(MathError::Overflow)
        );
        assert_eq!(Ratio::MAX.to_index(), Err(MathError::Overflow));
    }

    #[test]
    fn weighted_sum_rounds_once() {
        // 3 · 0.333333333333333333 + 3 · 0.333333333333333334 = 2.000000000000000001 exactly;
        // rounding each term first would give 0.999999999999999999 + 1.000000000000000002.
        let v = Value::from_int(3).unwrap();
        let mut sum = WeightedSum::ZERO;
        sum.add(v, Ratio::parse("r", "0.333333333333333333").unwrap())
            .unwrap();
        sum.add(v, Ratio::parse("r", "0.333333333333333334").unwrap())
            .unwrap();
        assert_eq!(
            sum.total(Rounding::Down).unwrap().to_string(),
            "2.000000000000000001"
        );
        let mut tiny = WeightedSum::ZERO;
        tiny.add(Value::from_raw(1), Ratio::from_raw(1)).unwrap();
        assert_eq!(tiny.total(Rounding::Down), Ok(Value::ZERO));
        assert_eq!(tiny.total(Rounding::Up), Ok(Value::from_raw(1)));
        let mut big = WeightedSum::ZERO;
        big.add(Value::MAX, Ratio::MAX).unwrap();
        assert_eq!(big.add(Value::MAX, Ratio::MAX), Err(MathError::Overflow));
    }

    #[test]
    fn pow_matches_repeated_multiplication() {
        let x = Index::parse("i", "1.000000001").unwrap();
        let mut slow = Index::ONE;
        for _ in 0..37 {
            slow = slow.mul(x, Rounding::Up).unwrap();
        }
        // Binary exponentiation rounds fewer times, so it lies between exact and the slow product.
        let fast = x.pow(37, Rounding::Up).unwrap();
        assert!(fast <= slow && slow.raw() - fast.raw() <= 37);
        assert_eq!(x.pow(0, Rounding::Up), Ok(Index::ONE));
        assert_eq!(x.pow(1, Rounding::Down), Ok(x));
    }

    proptest! {
        /// `value_at` is the exact quotient rounded as asked, or `Overflow` exactly when that
        /// quotient does not fit; every case reaches an assertion (amounts and prices are drawn
        /// by magnitude, so most products fit where uniform `u128`s almost never did).
        #[test]
        fn value_rounding_brackets(
            raw_bits in 0u32..=128, raw in any::<u128>(), price_bits in 0u32..=128,
            price in any::<u128>(), d in 0u8..=30,
        ) {
            use ruint::aliases::U512;
            let shrink = |x: u128, bits: u32| if bits >= 128 { x } else { x & ((1u128 << bits) - 1) };
            let (raw, price) = (shrink(raw, raw_bits), shrink(price, price_bits));
            let a = Amount::from_raw(raw);
            let p = Price::from_raw(price);
            let (q, rem) = (U512::from(raw) * U512::from(price)).div_rem(U512::from(10u128.pow(u32::from(d))));
            let q_up = q + U512::from(u8::from(!rem.is_zero()));
            let expect = |x: U512| if x <= U512::from(u128::MAX) { Ok(x) } else { Err(MathError::Overflow) };
            let got = |r: Rounding| a.value_at(p, dec(d), r).map(|v| U512::from(v.raw()));
            prop_assert_eq!(got(Rounding::Down), expect(q));
            prop_assert_eq!(got(Rounding::Up), expect(q_up));
        }

        /// A weighted sum equals the exact rational sum, rounded once, either way.
        #[test]
        fn weighted_sum_is_exact(terms in prop::collection::vec((any::<u128>(), 0u128..=10 * WAD), 0..6)) {
            use ruint::aliases::U512;
            let mut sum = WeightedSum::ZERO;
            let mut exact = U512::ZERO;
            for &(v, r) in &terms {
                sum.add(Value(v), Ratio(r)).unwrap();
                exact += U512::from(v) * U512::from(r);
            }
            let (q, rem) = exact.div_rem(U512::from(WAD));
            match sum.total(Rounding::Down) {
                Ok(down) => {
                    prop_assert_eq!(U512::from(down.0), q);
                    let up = sum.total(Rounding::Up).unwrap();
                    prop_assert_eq!(up.0 - down.0, u128::from(!rem.is_zero()));
                }
                Err(e) => {
                    prop_assert_eq!(e, MathError::Overflow);
                    prop_assert!(q > U512::from(u128::MAX));
                }
            }
        }

        #[test]
        fn pow_up_is_at_least_pow_down(base in 0u128..=(2 * RAY), e in 0u64..100_000) {
            let b = Index::from_raw(base);
            if let (Ok(up), Ok(down)) = (b.pow(e, Rounding::Up), b.pow(e, Rounding::Down)) {
                prop_assert!(up >= down);
            }
        }
    }
}
