//! Multiplication of many integers by one fixed rational `num / 10^k` without a division.
//!
//! Health values every position with two such products: shares by an interest index
//! (`s · I / 10^27`) and an amount by a price (`a · p / 10^decimals`). The index and the price
//! are fixed for a whole snapshot, so the division can be paid for once, when the snapshot is
//! built, instead of once per position: [`Scaler::new`] splits the rational into its whole part
//! `A = ⌊F⌋` and its fraction to 128 bits, `B = ⌊(F − A) · 2^128⌋` (`F = num / 10^k`), and
//! [`Scaler::floor`] computes `n · A + ⌊n · B / 2^128⌋`: two multiplications, no shift, no
//! division.
//!
//! # Why the result is exact
//! Write `F · 2^128 = A · 2^128 + B + δ` with `0 ≤ δ < 1`, and `P = n·A·2^128 + n·B` for the
//! computed product. Then `n · F · 2^128 = P + n·δ` lies in `[P, P + n)`: a window of width
//! `n` (in units of 2^-128) that starts at the computed value. When no multiple of 2^128 lies
//! in `(P, P + n)` — checked exactly as "the low half of `n · B` plus `n` does not carry" — the
//! floor of the true value is the floor of the computed one. Otherwise (a chance of
//! `n / 2^128`, met in practice only when the true product is an integer or within that
//! distance of one, for instance a round amount at a round price) [`Scaler::floor`] answers
//! `None` and the caller divides exactly, so the answer is always the one `mul_div_pow10`
//! gives.
//!
//! Whether the product is an integer (for rounding up): when `δ = 0` (`exact`), the computed
//! value is the true one, an integer iff the low half of `n · B` is zero; when `δ > 0` and
//! `n > 0`, the true value is above the computed one and, the window holding no integer, is
//! not one either.

use super::muldiv::round;
use super::{Rounding, Wide};

/// A fixed rational `num / 10^k` prepared for fast exact multiplication (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scaler {
    /// `A = ⌊num / 10^k⌋`.
    whole: u128,
    /// `B = ⌊(num mod 10^k) · 2^128 / 10^k⌋`: the fraction to 128 bits.
    fraction: u128,
    /// `B` is the fraction exactly (no bits were dropped: `δ = 0`).
    exact: bool,
}

impl Scaler {
    /// Prepares `num / 10^k`; `None` when `10^k` does not fit in 128 bits (`k > 38`).
    #[must_use]
    pub fn new(num: u128, k: u8) -> Option<Self> {
        let denominator = 10u128.checked_pow(u32::from(k))?;
        let (whole, rest) = (num / denominator, num % denominator);
        // rest < 10^k, so rest · 2^128 / 10^k < 2^128: the quotient fits.
        let shifted = Wide::from_halves(rest, 0);
        let fraction = shifted.div(denominator, Rounding::Down).ok()?;
        let exact = Wide::product(fraction, denominator) == shifted;
        Some(Self {
            whole,
            fraction,
            exact,
        })
    }

    /// `⌊n · num / 10^k⌋` and whether the product was inexact (so that the ceiling is one
    /// more), or `None` when this multiplication cannot decide it (the caller then divides
    /// exactly) or the quotient does not fit in 128 bits.
    #[inline(always)]
    #[must_use]
    pub fn floor(&self, n: u128) -> Option<(u128, bool)> {
        let (hi, lo) = Wide::product(n, self.fraction).halves();
        let (_, carries) = lo.overflowing_add(n);
        if carries {
            return None;
        }
        let (whole_hi, whole) = Wide::product_auto(n, self.whole).halves();
        if whole_hi != 0 {
            return None;
        }
        let q = whole.checked_add(hi)?;
        let inexact = !self.exact || lo != 0;
        Some((q, inexact && n != 0))
    }

    /// `n · num / 10^k` rounded as asked, or `None` where [`Scaler::floor`] declines (or
    /// rounding up passes `u128::MAX`).
    #[inline(always)]
    #[must_use]
    pub fn mul(&self, n: u128, rounding: Rounding) -> Option<u128> {
        let (q, inexact) = self.floor(n)?;
        round(q, inexact, rounding).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::muldiv::mul_div_pow10;
    use proptest::prelude::*;

    /// The scaler's answer, or the exact division where it declines — what its callers do.
    fn scaled(num: u128, k: u8, n: u128, rounding: Rounding) -> Option<u128> {
        let s = Scaler::new(num, k).expect("k <= 38");
        s.mul(n, rounding)
            .or_else(|| reference(num, k, n, rounding))
    }

    fn reference(num: u128, k: u8, n: u128, rounding: Rounding) -> Option<u128> {
        mul_div_pow10(n, num, k, rounding).ok()
    }

    #[test]
    fn parts_and_exactness() {
        let s = Scaler::new(10u128.pow(27), 27).unwrap();
        assert_eq!((s.whole, s.fraction, s.exact), (1, 0, true));
        let s = Scaler::new(15, 1).unwrap();
        assert_eq!((s.whole, s.fraction, s.exact), (1, 1 << 127, true));
        let s = Scaler::new(3, 1).unwrap();
        assert!(!s.exact, "0.3 has no finite binary expansion");
        assert_eq!(s.whole, 0);
        let s = Scaler::new(u128::MAX, 0).unwrap();
        assert_eq!((s.whole, s.fraction, s.exact), (u128::MAX, 0, true));
        assert!(Scaler::new(1, 38).is_some());
        assert!(Scaler::new(1, 39).is_none());
    }

    /// A round amount at a round price: the exact product is an integer, and an inexact
    /// fraction lands just below it, so the scaler must decline rather than round it down.
    #[test]
    fn an_integer_product_from_an_inexact_fraction_is_declined() {
        let price = 3_000_123_456_000_000_000_000u128; // 3000.123456 WAD
        let s = Scaler::new(price, 18).unwrap();
        assert!(!s.exact);
        assert_eq!(s.floor(10u128.pow(18)), None);
        assert_eq!(
            scaled(price, 18, 10u128.pow(18), Rounding::Down),
            Some(price)
        );
    }

    /// The low half of `n · B` is zero, yet the fraction is inexact: the product
    /// `2^126 · 3 / 10` is not an integer and must round up.
    #[test]
    fn a_zero_low_half_from_an_inexact_fraction_is_not_an_integer() {
        let s = Scaler::new(3, 1).unwrap();
        assert!(!s.exact && s.fraction.trailing_zeros() >= 2);
        let (q, inexact) = s.floor(1 << 126).unwrap();
        assert!(inexact);
        assert_eq!(q + 1, mul_div_pow10(1 << 126, 3, 1, Rounding::Up).unwrap());
    }

    #[test]
    fn integer_products_from_an_exact_fraction_are_exact() {
        let s = Scaler::new(10u128.pow(27), 27).unwrap();
        assert_eq!(s.floor(12_345), Some((12_345, false)));
        assert_eq!(s.floor(0), Some((0, false)));
        let half = Scaler::new(5, 1).unwrap();
        assert_eq!(half.floor(7), Some((3, true)));
        assert_eq!(half.floor(8), Some((4, false)));
    }

    fn rational() -> impl Strategy<Value = (u128, u8)> {
        prop_oneof![
            // Indices near and above 1, at RAY.
            (10u128.pow(27)..4 * 10u128.pow(27), Just(27u8)),
            // Prices (WAD) over a token's decimals, from dust to large.
            (1u128..10u128.pow(25), 0u8..=30),
            // Round rationals, whose fraction is often exact.
            ((1u128..1000).prop_map(|v| v * 10u128.pow(15)), 0u8..=30),
            (any::<u128>(), 0u8..=38),
        ]
    }

    fn multiplier() -> impl Strategy<Value = u128> {
        prop_oneof![
            0u128..1000,
            1u128..10u128.pow(30),
            // Round amounts: multiples of a power of ten, where integer products are common.
            (1u128..100_000, 0u32..=24).prop_map(|(v, e)| v * 10u128.pow(e)),
            // Multiples of a large power of two: the low half of `n · B` may be zero although
            // the fraction is inexact (and the product is not an integer).
            (1u128..1000, 0u32..=118).prop_map(|(v, e)| v << e),
            any::<u128>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// Every answer, in both roundings, is the exact division's, overflow included.
        #[test]
        fn equals_the_exact_division((num, k) in rational(), n in multiplier()) {
            for rounding in [Rounding::Down, Rounding::Up] {
                prop_assert_eq!(scaled(num, k, n, rounding), reference(num, k, n, rounding));
            }
        }
    }

    /// How often the scaler declines on the health bench's kind of input (random balances at
    /// market prices): rarely enough to be worth it, counted so that a scaler that always
    /// declined (and would pass the property above by falling back) fails here.
    #[test]
    fn declines_rarely_on_random_balances() {
        let scalers = [
            Scaler::new(1_031_234_567_891_234_567_000_000_000, 27).unwrap(),
            Scaler::new(3_000_123_456_000_000_000_000, 18).unwrap(),
            Scaler::new(60_000_500_000_000_000_000_000, 8).unwrap(),
        ];
        let mut declined = 0;
        let mut x: u128 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..30_000u128 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let n = (x >> 50) % 10u128.pow(24) + i;
            for s in &scalers {
                declined += usize::from(s.floor(n).is_none());
            }
        }
        assert!(declined <= 3, "declined {declined} of 90000");
    }
}
