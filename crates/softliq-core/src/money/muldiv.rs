//! The one place where integers are multiplied and divided.
//!
//! Every product is formed in full (256 bits for two factors, 512 for three) before the single
//! rounding of the quotient, whose direction the caller names. The 256-bit paths are written out
//! on 64-bit limbs because they are the hot loop of every health computation; the property tests
//! below check them against `ruint`'s general big-integer arithmetic.

use ruint::aliases::U256;
pub use ruint::aliases::U512;

use super::{MathError, Rounding};

/// `a · b / d`, rounded as asked, exact to the last unit.
///
/// # Errors
/// `DivisionByZero` when `d == 0`; `Overflow` when the quotient does not fit in 128 bits.
#[inline]
pub fn mul_div(a: u128, b: u128, d: u128, rounding: Rounding) -> Result<u128, MathError> {
    Wide::product(a, b).div(d, rounding)
}

/// `a · b / 10^k`, rounded as asked: the same result as [`mul_div`] with `d = 10^k`, faster.
///
/// Every fixed divisor of the ledger is a power of ten (WAD, RAY, a token's `10^decimals`);
/// see [`Wide::div_pow10`] for how the division is done.
///
/// # Errors
/// `Overflow` when the quotient does not fit in 128 bits (or `10^k` does not).
#[inline(always)] // so that a constant `k` (WAD, RAY) folds into constant shifts
pub fn mul_div_pow10(a: u128, b: u128, k: u8, rounding: Rounding) -> Result<u128, MathError> {
    Wide::product(a, b).div_pow10(k, rounding)
}

/// An unsigned 256-bit integer as two halves: a product, or an exact sum of products.
/// Fields are ordered high half first, so the derived order is the numeric one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Wide {
    hi: u128,
    lo: u128,
}

impl Wide {
    pub const ZERO: Self = Self { hi: 0, lo: 0 };

    /// The full product `a · b`.
    #[inline(always)]
    #[must_use]
    pub const fn product(a: u128, b: u128) -> Self {
        let (hi, lo) = mul_wide(a, b);
        Self { hi, lo }
    }

    /// `self + other`.
    ///
    /// # Errors
    /// `Overflow` past 2^256 − 1.
    #[inline(always)]
    pub fn checked_add(self, other: Self) -> Result<Self, MathError> {
        let (lo, carry) = self.lo.overflowing_add(other.lo);
        let hi = self
            .hi
            .checked_add(other.hi)
            .and_then(|h| h.checked_add(u128::from(carry)))
            .ok_or(MathError::Overflow)?;
        Ok(Self { hi, lo })
    }

    /// `self − other`.
    ///
    /// # Errors
    /// `Negative` when `other > self`.
    #[inline(always)]
    pub fn checked_sub(self, other: Self) -> Result<Self, MathError> {
        let (lo, borrow) = self.lo.overflowing_sub(other.lo);
        let hi = self
            .hi
            .checked_sub(other.hi)
            .and_then(|h| h.checked_sub(u128::from(borrow)))
            .ok_or(MathError::Negative)?;
        Ok(Self { hi, lo })
    }

    /// The full product `a · b` of a 128-bit and a 64-bit factor: two limb products instead
    /// of four (ratios, and the whole part of most prices per base unit, fit in 64 bits).
    #[inline(always)]
    #[must_use]
    pub const fn product_small(a: u128, b: u64) -> Self {
        let b = b as u128;
        let low = (a & LOW).wrapping_mul(b);
        let high = (a >> 64).wrapping_mul(b);
        // high < 2^128 − 2^65 + 1 and low >> 64 < 2^64: the column sum cannot wrap.
        let mid = high.wrapping_add(low >> 64);
        Self {
            hi: mid >> 64,
            lo: (mid << 64) | (low & LOW),
        }
    }

    /// The full product `a · b`, taking the two-limb path when `b` fits in 64 bits.
    #[inline(always)]
    #[must_use]
    pub const fn product_auto(a: u128, b: u128) -> Self {
        if b >> 64 == 0 {
            #[allow(clippy::cast_possible_truncation)] // b < 2^64
            Self::product_small(a, b as u64)
        } else {
            Self::product(a, b)
        }
    }

    /// The number `hi · 2^128 + lo`.
    #[inline(always)]
    #[must_use]
    pub const fn from_halves(hi: u128, lo: u128) -> Self {
        Self { hi, lo }
    }

    /// `(hi, lo)`: the number is `hi · 2^128 + lo`.
    #[inline(always)]
    #[must_use]
    pub const fn halves(self) -> (u128, u128) {
        (self.hi, self.lo)
    }

    /// `self / 10^k`, rounded as asked.
    ///
    /// `10^k = 2^k · 5^k`, and `⌊⌊n / 2^k⌋ / 5^k⌋ = ⌊n / 10^k⌋`, so the division is a shift and
    /// a division by the 64-bit constant `5^k` (k ≤ 27), done with a precomputed reciprocal
    /// (Möller & Granlund, "Improved division by invariant integers", 2011) instead of a
    /// hardware divide. Larger `k` falls back to the general long division.
    ///
    /// # Errors
    /// `Overflow` when the quotient does not fit in 128 bits (or `10^k` does not).
    #[inline(always)]
    pub fn div_pow10(self, k: u8, rounding: Rounding) -> Result<u128, MathError> {
        let Self { hi, lo } = self;
        let Some(divider) = POW5.get(usize::from(k)) else {
            let d = 10u128
                .checked_pow(u32::from(k))
                .ok_or(MathError::Overflow)?;
            return self.div(d, rounding);
        };
        let k = u32::from(k);
        // n' = n >> k across the halves; the bits shifted out belong to the remainder.
        let (n_hi, n_lo, shifted_out) = if k == 0 {
            (hi, lo, 0)
        } else {
            (hi >> k, (lo >> k) | (hi << (128 - k)), lo << (128 - k))
        };
        // The quotient fits in 128 bits iff n' < 5^k · 2^128, i.e. n'_hi < 5^k.
        if n_hi >= u128::from(divider.d) {
            return Err(MathError::Overflow);
        }
        #[allow(clippy::cast_possible_truncation)] // n_hi < 5^k < 2^64
        let (q, r) = divider.div(n_hi as u64, n_lo);
        round(q, r != 0 || shifted_out != 0, rounding)
    }

    /// `⌊self / 10^k⌋` and whether the division was inexact (so `⌈self / 10^k⌉` is one more):
    /// both roundings from one division.
    ///
    /// # Errors
    /// As [`Wide::div_pow10`].
    #[inline(always)]
    pub fn div_pow10_inexact(self, k: u8) -> Result<(u128, bool), MathError> {
        let down = self.div_pow10(k, Rounding::Down)?;
        let back = Self::product(down, 10u128.pow(u32::from(k.min(38))));
        Ok((down, back != self))
    }

    /// `self / d`, rounded as asked.
    ///
    /// # Errors
    /// `DivisionByZero` when `d == 0`; `Overflow` when the quotient does not fit in 128 bits.
    #[inline]
    pub fn div(self, d: u128, rounding: Rounding) -> Result<u128, MathError> {
        if d == 0 {
            return Err(MathError::DivisionByZero);
        }
        if self.hi == 0 {
            return div_rounded(self.lo, d, rounding);
        }
        if self.hi >= d {
            return Err(MathError::Overflow);
        }
        let (q, r) = div_wide(self.hi, self.lo, d);
        round(q, r != 0, rounding)
    }
}

#[inline]
pub(super) fn round(q: u128, inexact: bool, rounding: Rounding) -> Result<u128, MathError> {
    match rounding {
        Rounding::Up if inexact => q.checked_add(1).ok_or(MathError::Overflow),
        _ => Ok(q),
    }
}

/// `n / d`, rounded as asked.
///
/// # Errors
/// `DivisionByZero` when `d == 0`; `Overflow` when rounding up passes `u128::MAX` (impossible for
/// `d > 1`, kept for completeness).
#[inline]
pub fn div_rounded(n: u128, d: u128, rounding: Rounding) -> Result<u128, MathError> {
    if d == 0 {
        return Err(MathError::DivisionByZero);
    }
    let q = n / d;
    // `q · d ≤ n`, so the remainder is known without a second division.
    round(q, q * d != n, rounding)
}

const LIMB: u128 = 1 << 64;
const LOW: u128 = LIMB - 1;

/// The full 256-bit product `a · b` as (high, low) halves.
///
/// The arithmetic is written with `wrapping_*` because none of it can overflow (each limb
/// product is below 2^128, each column sum is bounded as commented) and overflow checks on
/// `u128` products are expensive; the property tests compare every result with `ruint`.
#[inline(always)]
const fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    let (a1, a0) = (a >> 64, a & LOW);
    let (b1, b0) = (b >> 64, b & LOW);
    let p00 = a0.wrapping_mul(b0);
    let p01 = a0.wrapping_mul(b1);
    let p10 = a1.wrapping_mul(b0);
    let p11 = a1.wrapping_mul(b1);
    // Three terms below 2^64 each: the sum is below 2^66.
    let mid = (p00 >> 64).wrapping_add(p01 & LOW).wrapping_add(p10 & LOW);
    let lo = (mid << 64) | (p00 & LOW);
    // The high half of a product of two 128-bit numbers fits in 128 bits.
    let hi = p11
        .wrapping_add(p01 >> 64)
        .wrapping_add(p10 >> 64)
        .wrapping_add(mid >> 64);
    (hi, lo)
}

/// `(hi·2^128 + lo) / d` for `hi < d`, as (quotient, remainder): long division in base 2^64
/// with a normalised divisor (Knuth's algorithm D for two quotient digits, in the shape of
/// Hacker's Delight `divlu`), each digit estimated by a 128-by-64 division and corrected at
/// most twice.
#[inline]
fn div_wide(hi: u128, lo: u128, d: u128) -> (u128, u128) {
    debug_assert!(hi < d);
    let s = d.leading_zeros();
    let v = d << s;
    let (vn1, vn0) = (v >> 64, v & LOW);
    let un32 = if s == 0 {
        hi
    } else {
        (hi << s) | (lo >> (128 - s))
    };
    let un10 = lo << s;
    let (un1, un0) = (un10 >> 64, un10 & LOW);
    // In the loop `q < 2^64` when `q · vn0` is formed (short-circuit) and `rhat < 2^64` when
    // it is shifted, so the wrapping operations below never wrap.
    let digit = |num: u128, next: u128| {
        let mut q = num / vn1;
        let mut rhat = num.wrapping_sub(q.wrapping_mul(vn1));
        while q >= LIMB || q.wrapping_mul(vn0) > ((rhat << 64) | next) {
            q -= 1;
            rhat = rhat.wrapping_add(vn1);
            if rhat >= LIMB {
                break;
            }
        }
        q
    };
    let q1 = digit(un32, un1);
    let un21 = ((un32 << 64) | un1).wrapping_sub(q1.wrapping_mul(v));
    let q0 = digit(un21, un0);
    let r = ((un21 << 64) | un0).wrapping_sub(q0.wrapping_mul(v)) >> s;
    ((q1 << 64) | q0, r)
}

/// Division by the constant `5^k`: the divisor, its normalised form (top bit set), the
/// reciprocal of that, and the normalising shift.
#[derive(Clone, Copy)]
struct Divider {
    d: u64,
    norm: u64,
    reciprocal: u64,
    shift: u32,
}

impl Divider {
    #[allow(clippy::cast_possible_truncation)] // the reciprocal is below 2^64 by construction
    const fn new(d: u64) -> Self {
        let shift = d.leading_zeros();
        let norm = d << shift;
        // v = ⌊(2^128 − 1) / norm⌋ − 2^64
        let reciprocal = (u128::MAX / norm as u128 - LIMB) as u64;
        Self {
            d,
            norm,
            reciprocal,
            shift,
        }
    }

    /// `(n_hi·2^128 + n_lo) / d` for `n_hi < d`, as (quotient, remainder).
    #[inline(always)]
    #[allow(clippy::cast_possible_truncation)] // limb extraction
    const fn div(&self, n_hi: u64, n_lo: u128) -> (u128, u128) {
        let s = self.shift;
        // Normalise the 192-bit dividend by the same shift (it still fits: n_hi < d).
        let (u2, u1, u0) = if s == 0 {
            (n_hi, (n_lo >> 64) as u64, n_lo as u64)
        } else {
            (
                (n_hi << s) | ((n_lo >> (128 - s)) as u64),
                ((n_lo << s) >> 64) as u64,
                (n_lo << s) as u64,
            )
        };
        let (q1, r) = self.div_2by1(u2, u1);
        let (q0, r) = self.div_2by1(r, u0);
        (((q1 as u128) << 64) | q0 as u128, (r >> s) as u128)
    }

    /// `(u1·2^64 + u0) / norm` for `u1 < norm` (Möller & Granlund, algorithm 4).
    #[inline(always)]
    #[allow(clippy::cast_possible_truncation)]
    const fn div_2by1(&self, u1: u64, u0: u64) -> (u64, u64) {
        let q =
            (self.reciprocal as u128 * u1 as u128).wrapping_add(((u1 as u128) << 64) | u0 as u128);
        let mut q1 = ((q >> 64) as u64).wrapping_add(1);
        let q0 = q as u64;
        let mut r = u0.wrapping_sub(q1.wrapping_mul(self.norm));
        if r > q0 {
            q1 = q1.wrapping_sub(1);
            r = r.wrapping_add(self.norm);
        }
        if r >= self.norm {
            q1 = q1.wrapping_add(1);
            r = r.wrapping_sub(self.norm);
        }
        (q1, r)
    }
}

/// Dividers for `5^0 ..= 5^27` (5^27 < 2^63; 5^28 would not fit in one limb).
static POW5: [Divider; 28] = {
    let mut table = [Divider::new(1); 28];
    let mut k = 1;
    while k < 28 {
        table[k] = Divider::new(table[k - 1].d * 5);
        k += 1;
    }
    table
};

/// `numerator / denominator` for 512-bit operands, rounded as asked, for closed forms whose
/// numerators hold three or four factors (liquidation prices, restore-to-target amounts).
///
/// # Errors
/// `DivisionByZero`, or `Overflow` when the quotient does not fit in 128 bits.
pub fn quotient(numerator: U512, denominator: U512, rounding: Rounding) -> Result<u128, MathError> {
    if denominator.is_zero() {
        return Err(MathError::DivisionByZero);
    }
    // Most operands fit in 256 bits, and most denominators in 128: a division by a 128-bit
    // divisor is the limb loop of [`Wide::div`], and a 256-bit one half the limbs of 512.
    let (n, d) = (numerator.as_limbs(), denominator.as_limbs());
    if n[4..].iter().chain(&d[4..]).all(|&limb| limb == 0) {
        if d[2] == 0 && d[3] == 0 {
            let wide = |lo: u64, hi: u64| (u128::from(hi) << 64) | u128::from(lo);
            let n = Wide {
                hi: wide(n[2], n[3]),
                lo: wide(n[0], n[1]),
            };
            return n.div(wide(d[0], d[1]), rounding);
        }
        let limbs = |l: &[u64]| U256::from_limbs([l[0], l[1], l[2], l[3]]);
        return rounded(limbs(n).div_rem(limbs(d)), rounding);
    }
    rounded(numerator.div_rem(denominator), rounding)
}

/// A quotient and remainder of big integers as a `u128`, rounded as asked.
fn rounded<const BITS: usize, const LIMBS: usize>(
    (q, r): (ruint::Uint<BITS, LIMBS>, ruint::Uint<BITS, LIMBS>),
    rounding: Rounding,
) -> Result<u128, MathError> {
    let q = if rounding == Rounding::Up && !r.is_zero() {
        q + ruint::Uint::from(1u8)
    } else {
        q
    };
    u128::try_from(q).map_err(|_| MathError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ruint::aliases::U256;

    /// The exact rational `a·b/d` as (quotient, remainder) in 256 bits, for reference.
    fn exact(a: u128, b: u128, d: u128) -> (U256, U256) {
        (U256::from(a) * U256::from(b)).div_rem(U256::from(d))
    }

    #[test]
    fn small_vectors() {
        assert_eq!(mul_div(7, 3, 2, Rounding::Down), Ok(10));
        assert_eq!(mul_div(7, 3, 2, Rounding::Up), Ok(11));
        assert_eq!(mul_div(6, 3, 2, Rounding::Up), Ok(9));
        assert_eq!(mul_div(0, 3, 2, Rounding::Up), Ok(0));
        assert_eq!(
            mul_div(1, 1, 0, Rounding::Down),
            Err(MathError::DivisionByZero)
        );
        assert_eq!(
            mul_div(u128::MAX, u128::MAX, u128::MAX, Rounding::Up),
            Ok(u128::MAX)
        );
        assert_eq!(
            mul_div(u128::MAX, 2, 1, Rounding::Down),
            Err(MathError::Overflow)
        );
        assert_eq!(
            mul_div(u128::MAX, u128::MAX - 1, u128::MAX, Rounding::Up),
            Ok(u128::MAX - 1)
        );
    }

    #[test]
    fn pow10_vectors() {
        let w = 10u128.pow(18);
        assert_eq!(mul_div_pow10(3 * w, 2 * w, 18, Rounding::Down), Ok(6 * w));
        assert_eq!(mul_div_pow10(7, 3, 1, Rounding::Down), Ok(2));
        assert_eq!(mul_div_pow10(7, 3, 1, Rounding::Up), Ok(3));
        assert_eq!(mul_div_pow10(5, 1, 0, Rounding::Up), Ok(5));
        // Only the shifted-out bits are inexact: 2^27 / 10^27 rounds up to 1.
        assert_eq!(mul_div_pow10(1 << 27, 1, 27, Rounding::Up), Ok(1));
        assert_eq!(mul_div_pow10(1 << 27, 1, 27, Rounding::Down), Ok(0));
        assert_eq!(
            mul_div_pow10(u128::MAX, u128::MAX, 27, Rounding::Down),
            Err(MathError::Overflow)
        );
        assert_eq!(
            mul_div_pow10(u128::MAX, 10u128.pow(27), 27, Rounding::Up),
            Ok(u128::MAX)
        );
        assert_eq!(
            mul_div_pow10(u128::MAX, 10u128.pow(30), 30, Rounding::Up),
            Ok(u128::MAX)
        );
        assert_eq!(
            mul_div_pow10(1, 1, 39, Rounding::Up),
            Err(MathError::Overflow)
        );
    }

    /// `a·b·c / (d·e)` through [`quotient`], the form liquidation prices and seizures use.
    fn mul3_div2(f: [u128; 3], d: [u128; 2], rounding: Rounding) -> Result<u128, MathError> {
        let n = U512::from(f[0]) * U512::from(f[1]) * U512::from(f[2]);
        quotient(n, U512::from(d[0]) * U512::from(d[1]), rounding)
    }

    /// A remainder of one unit rounds up on each of [`quotient`]'s paths: divisors of 65, 131
    /// and 301 bits, numerators of up to 256 bits for the first two and past it for the last.
    #[test]
    fn quotient_rounds_a_remainder_of_one_up() {
        let one = U512::from(1u8);
        for (d_bits, k) in [
            (64, u128::MAX >> 1),
            (130, 7u128 << 100),
            (300, 5u128 << 120),
        ] {
            let d = (one << d_bits) + U512::from(3u8);
            let n = d * U512::from(k) + one;
            assert_eq!(quotient(n, d, Rounding::Down), Ok(k), "{d_bits} bits");
            assert_eq!(quotient(n, d, Rounding::Up), Ok(k + 1), "{d_bits} bits");
            assert_eq!(
                quotient(n - one, d, Rounding::Up),
                Ok(k),
                "{d_bits} bits, exact"
            );
        }
    }

    #[test]
    fn three_factor_vectors() {
        let w = 10u128.pow(18);
        assert_eq!(mul3_div2([w, w, w], [w, w], Rounding::Down), Ok(w));
        assert_eq!(mul3_div2([1, 1, 1], [3, 1], Rounding::Up), Ok(1));
        assert_eq!(mul3_div2([1, 1, 1], [3, 1], Rounding::Down), Ok(0));
        assert_eq!(
            mul3_div2([u128::MAX; 3], [1, 1], Rounding::Down),
            Err(MathError::Overflow)
        );
        assert_eq!(
            mul3_div2([u128::MAX; 3], [u128::MAX, u128::MAX], Rounding::Down),
            Ok(u128::MAX)
        );
        assert_eq!(
            mul3_div2([1, 1, 1], [0, 1], Rounding::Down),
            Err(MathError::DivisionByZero)
        );
    }

    /// [`quotient`] by 512-bit division alone, as it was before its 256- and 128-bit paths.
    fn quotient_512(n: U512, d: U512, rounding: Rounding) -> Result<u128, MathError> {
        if d.is_zero() {
            return Err(MathError::DivisionByZero);
        }
        let (q, r) = n.div_rem(d);
        let q = if rounding == Rounding::Up && !r.is_zero() {
            q + U512::from(1u8)
        } else {
            q
        };
        u128::try_from(q).map_err(|_| MathError::Overflow)
    }

    /// A factor of any size from one to 128 bits, so that products land on every path.
    fn factor() -> impl Strategy<Value = u128> {
        (0u32..128, any::<u128>()).prop_map(|(bits, x)| x >> bits)
    }

    proptest! {
        #[test]
        fn quotient_paths_agree_with_512_bit_division(
            f in proptest::array::uniform3(factor()),
            d in proptest::array::uniform2(factor()),
            up in any::<bool>(),
        ) {
            let rounding = if up { Rounding::Up } else { Rounding::Down };
            let n = U512::from(f[0]) * U512::from(f[1]) * U512::from(f[2]);
            let den = U512::from(d[0]) * U512::from(d[1]);
            prop_assert_eq!(quotient(n, den, rounding), quotient_512(n, den, rounding));
        }

        /// down ≤ exact ≤ up, and up − down ≤ 1 unit (0 when the division is exact).
        #[test]
        fn rounding_brackets_the_exact_rational(a in any::<u128>(), b in any::<u128>(), d in 1..=u128::MAX) {
            let (q, r) = exact(a, b, d);
            match (mul_div(a, b, d, Rounding::Down), mul_div(a, b, d, Rounding::Up)) {
                (Ok(down), Ok(up)) => {
                    prop_assert_eq!(U256::from(down), q);
                    prop_assert_eq!(up - down, u128::from(!r.is_zero()));
                }
                (Err(MathError::Overflow), _) => prop_assert!(q > U256::from(u128::MAX)),
                (Ok(down), Err(MathError::Overflow)) => {
                    prop_assert_eq!(down, u128::MAX);
                    prop_assert!(!r.is_zero());
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }

        /// The two-limb product and the dispatching one equal the four-limb product.
        #[test]
        fn small_products_equal_the_full_product(a in any::<u128>(), b in any::<u64>(), c_bits in 0u32..=128, c in any::<u128>()) {
            prop_assert_eq!(Wide::product_small(a, b), Wide::product(a, u128::from(b)));
            let c = c.checked_shr(128 - c_bits).unwrap_or(0);
            prop_assert_eq!(Wide::product_auto(a, c), Wide::product(a, c));
            let (hi, lo) = Wide::product(a, c).halves();
            prop_assert_eq!(U256::from(hi) << 128 | U256::from(lo), U256::from(a) * U256::from(c));
        }

        /// The power-of-ten path agrees with the general one for every k and both roundings.
        #[test]
        fn pow10_matches_the_general_path(a in any::<u128>(), b in any::<u128>(), k in 0u8..=40) {
            let general = 10u128.checked_pow(u32::from(k));
            for rounding in [Rounding::Down, Rounding::Up] {
                let fast = mul_div_pow10(a, b, k, rounding);
                match general {
                    Some(d) => prop_assert_eq!(fast, mul_div(a, b, d, rounding)),
                    None => prop_assert_eq!(fast, Err(MathError::Overflow)),
                }
            }
        }

        /// Ledger-sized operands (products of 130–250 bits): the region the hot paths live in.
        #[test]
        fn pow10_exact_on_ledger_sizes(a_bits in 1u32..=128, b_bits in 1u32..=128, seed in any::<(u128, u128)>(), k in 0u8..=30) {
            let a = seed.0 >> (128 - a_bits);
            let b = seed.1 >> (128 - b_bits);
            let d = 10u128.pow(u32::from(k));
            let (q, r) = exact(a, b, d);
            match mul_div_pow10(a, b, k, Rounding::Down) {
                Ok(down) => {
                    prop_assert_eq!(U256::from(down), q);
                    let up = mul_div_pow10(a, b, k, Rounding::Up).unwrap();
                    prop_assert_eq!(up - down, u128::from(!r.is_zero()));
                }
                Err(e) => {
                    prop_assert_eq!(e, MathError::Overflow);
                    prop_assert!(q > U256::from(u128::MAX));
                }
            }
        }

        /// The reciprocal division at the edges of the remainder, where its rare second
        /// correction step is needed (random dividends almost never reach it).
        #[test]
        fn reciprocal_division_at_remainder_edges(q in any::<u64>(), k in 0usize..28, edge in 0u64..4) {
            let div = POW5[k];
            for rem in [edge, div.norm - 1 - edge] {
                let n = u128::from(q) * u128::from(div.norm) + u128::from(rem);
                #[allow(clippy::cast_possible_truncation)]
                let got = div.div_2by1((n >> 64) as u64, n as u64);
                prop_assert_eq!(got, (q, rem));
            }
        }

        /// The long division on divisors of every size, including just above and below a limb.
        #[test]
        fn wide_division_on_every_divisor_size(d_bits in 1u32..=128, seed in any::<(u128, u128, u128)>()) {
            let d = (seed.0 >> (128 - d_bits)) | (1 << (d_bits - 1));
            let hi = seed.1 % d;
            let (q, r) = div_wide(hi, seed.2, d);
            let n = (U256::from(hi) << 128) + U256::from(seed.2);
            prop_assert_eq!(U256::from(q) * U256::from(d) + U256::from(r), n);
            prop_assert!(r < d);
        }

        #[test]
        fn three_factors_bracket_the_exact_rational(f in any::<[u64; 3]>(), d in 1..=u64::MAX, e in 1..=u64::MAX) {
            let n = U512::from(f[0]) * U512::from(f[1]) * U512::from(f[2]);
            let den = U512::from(d) * U512::from(e);
            let down = mul3_div2(f.map(u128::from), [d.into(), e.into()], Rounding::Down);
            let up = mul3_div2(f.map(u128::from), [d.into(), e.into()], Rounding::Up);
            if let (Ok(down), Ok(up)) = (down, up) {
                prop_assert!(U512::from(down) * den <= n);
                prop_assert!(U512::from(up) * den >= n);
                prop_assert!(up - down <= 1);
            } else {
                prop_assert!(n / den >= U512::from(u128::MAX));
            }
        }
    }
}
