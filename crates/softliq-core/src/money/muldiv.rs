//! The one place where integers are multiplied and divided.
//!
//! Every product goes through an intermediate wide enough that it cannot overflow (256 bits for
//! two factors, 512 for three), and every quotient names its rounding. The common case, where
//! the product still fits in 128 bits, takes a fast path with the same result.

use ruint::aliases::{U256, U512};

use super::{MathError, Rounding};

/// `a · b / d`, rounded as asked, exact to the last unit.
///
/// # Errors
/// `DivisionByZero` when `d == 0`; `Overflow` when the quotient does not fit in 128 bits.
#[inline]
pub fn mul_div(a: u128, b: u128, d: u128, rounding: Rounding) -> Result<u128, MathError> {
    if d == 0 {
        return Err(MathError::DivisionByZero);
    }
    match a.checked_mul(b) {
        Some(product) => Ok(div_rounded(product, d, rounding)?),
        None => mul_div_wide(a, b, d, rounding),
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
    // `q · d ≤ n`, so the remainder is found without a second division.
    let has_remainder = q * d != n;
    match rounding {
        Rounding::Up if has_remainder => q.checked_add(1).ok_or(MathError::Overflow),
        _ => Ok(q),
    }
}

#[cold]
fn mul_div_wide(a: u128, b: u128, d: u128, rounding: Rounding) -> Result<u128, MathError> {
    let product = U256::from(a) * U256::from(b);
    let (q, r) = product.div_rem(U256::from(d));
    let q = if rounding == Rounding::Up && !r.is_zero() {
        q + U256::from(1u8)
    } else {
        q
    };
    u128::try_from(q).map_err(|_| MathError::Overflow)
}

/// `a · b · c / (d · e)`, rounded as asked, through a 512-bit intermediate.
///
/// For the few formulas that need three factors in one exact quotient (liquidation prices),
/// where two successive roundings would drift from the closed form.
///
/// # Errors
/// `DivisionByZero` when `d · e == 0`; `Overflow` when the quotient does not fit in 128 bits.
pub fn mul3_div2(
    factors: [u128; 3],
    divisors: [u128; 2],
    rounding: Rounding,
) -> Result<u128, MathError> {
    let [a, b, c] = factors;
    let [d, e] = divisors;
    if d == 0 || e == 0 {
        return Err(MathError::DivisionByZero);
    }
    let numerator = U512::from(a) * U512::from(b) * U512::from(c);
    let denominator = U512::from(d) * U512::from(e);
    let (q, r) = numerator.div_rem(denominator);
    let q = if rounding == Rounding::Up && !r.is_zero() {
        q + U512::from(1u8)
    } else {
        q
    };
    u128::try_from(q).map_err(|_| MathError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        assert_eq!(mul_div(1, 1, 0, Rounding::Down), Err(MathError::DivisionByZero));
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

    proptest! {
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

        /// Small operands (the fast path) agree with the wide path.
        #[test]
        fn fast_and_wide_paths_agree(a in 0..u64::MAX as u128, b in 0..u64::MAX as u128, d in 1..u64::MAX as u128) {
            for rounding in [Rounding::Down, Rounding::Up] {
                prop_assert_eq!(mul_div(a, b, d, rounding), mul_div_wide(a, b, d, rounding));
            }
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
