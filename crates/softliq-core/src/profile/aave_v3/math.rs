//! Aave v3.6's integer arithmetic (`WadRayMath`, `PercentageMath`, `MathUtils`, `TokenMath`) on
//! 256-bit words, with the EVM's failure modes: Solidity's checked `+ − ·` fail with
//! `Panic(0x11)`, the assembly helpers with an empty revert. Each function names its rounding as
//! Aave's does; none of them is softliq's own rule.

pub use ruint::aliases::U256;

use super::Revert;

/// 10^27.
pub const RAY: U256 = U256::from_limbs([0x9fd0_803c_e800_0000, 0x0000_0000_033b_2e3c, 0, 0]);
/// 10^18.
pub const WAD: U256 = U256::from_limbs([1_000_000_000_000_000_000, 0, 0, 0]);
/// 100.00% in basis points.
pub const PERCENTAGE_FACTOR: U256 = U256::from_limbs([10_000, 0, 0, 0]);
const HALF_PERCENTAGE_FACTOR: U256 = U256::from_limbs([5_000, 0, 0, 0]);

/// Solidity's checked `a + b`.
pub fn add(a: U256, b: U256) -> Result<U256, Revert> {
    a.checked_add(b).ok_or(Revert::Panic(0x11))
}

/// Solidity's checked `a − b`.
pub fn sub(a: U256, b: U256) -> Result<U256, Revert> {
    a.checked_sub(b).ok_or(Revert::Panic(0x11))
}

/// Solidity's checked `a · b`.
pub fn mul(a: U256, b: U256) -> Result<U256, Revert> {
    a.checked_mul(b).ok_or(Revert::Panic(0x11))
}

/// Solidity's `a / b` (`Panic(0x12)` on a zero divisor), rounded down.
pub fn div(a: U256, b: U256) -> Result<U256, Revert> {
    a.checked_div(b).ok_or(Revert::Panic(0x12))
}

/// An assembly product: an empty revert when it overflows.
fn product(a: U256, b: U256) -> Result<U256, Revert> {
    a.checked_mul(b).ok_or(Revert::Empty)
}

fn nonzero(d: U256) -> Result<U256, Revert> {
    if d.is_zero() {
        Err(Revert::Empty)
    } else {
        Ok(d)
    }
}

fn ceil_div(n: U256, d: U256) -> U256 {
    let q = n / d;
    if (n % d).is_zero() {
        q
    } else {
        q + U256::from(1u8)
    }
}

/// `percentMul`: `⌊(value · bps + 5,000) / 10,000⌋`, half up.
pub fn percent_mul(value: U256, bps: U256) -> Result<U256, Revert> {
    let p = product(value, bps)?;
    Ok(p.checked_add(HALF_PERCENTAGE_FACTOR).ok_or(Revert::Empty)? / PERCENTAGE_FACTOR)
}

/// `percentDiv`: `⌊(value · 10,000 + bps/2) / bps⌋`, half up.
pub fn percent_div(value: U256, bps: U256) -> Result<U256, Revert> {
    let bps = nonzero(bps)?;
    let p = product(value, PERCENTAGE_FACTOR)?;
    Ok(p.checked_add(bps / U256::from(2u8)).ok_or(Revert::Empty)? / bps)
}

/// `percentDivCeil`: `⌈value · 10,000 / bps⌉`.
pub fn percent_div_ceil(value: U256, bps: U256) -> Result<U256, Revert> {
    let bps = nonzero(bps)?;
    Ok(ceil_div(product(value, PERCENTAGE_FACTOR)?, bps))
}

/// `wadDiv`: `⌊(a · 10^18 + b/2) / b⌋`, half up.
pub fn wad_div(a: U256, b: U256) -> Result<U256, Revert> {
    let b = nonzero(b)?;
    let p = product(a, WAD)?;
    Ok(p.checked_add(b / U256::from(2u8)).ok_or(Revert::Empty)? / b)
}

/// `rayMulFloor`: `⌊a · b / 10^27⌋`.
pub fn ray_mul_floor(a: U256, b: U256) -> Result<U256, Revert> {
    Ok(product(a, b)? / RAY)
}

/// `rayMulCeil`: `⌈a · b / 10^27⌉`.
pub fn ray_mul_ceil(a: U256, b: U256) -> Result<U256, Revert> {
    Ok(ceil_div(product(a, b)?, RAY))
}

/// `rayDivFloor`: `⌊a · 10^27 / b⌋`.
pub fn ray_div_floor(a: U256, b: U256) -> Result<U256, Revert> {
    let b = nonzero(b)?;
    Ok(product(a, RAY)? / b)
}

/// `rayDivCeil`: `⌈a · 10^27 / b⌉`.
pub fn ray_div_ceil(a: U256, b: U256) -> Result<U256, Revert> {
    let b = nonzero(b)?;
    Ok(ceil_div(product(a, RAY)?, b))
}

/// `mulDivCeil`: `⌈a · b / c⌉`.
pub fn mul_div_ceil(a: U256, b: U256, c: U256) -> Result<U256, Revert> {
    let c = nonzero(c)?;
    Ok(ceil_div(product(a, b)?, c))
}

/// `10^decimals`, as Aave's `assetUnit` (decimals ≤ 77 fit a word).
pub fn unit(decimals: u8) -> Result<U256, Revert> {
    U256::from(10u8)
        .checked_pow(U256::from(decimals))
        .ok_or(Revert::Panic(0x11))
}

/// `TokenMath`: an aToken balance from its scaled balance, rounded down.
pub fn a_token_balance(scaled: U256, liquidity_index: U256) -> Result<U256, Revert> {
    ray_mul_floor(scaled, liquidity_index)
}

/// `TokenMath`: a debt balance from its scaled balance, rounded up.
pub fn v_token_balance(scaled: U256, borrow_index: U256) -> Result<U256, Revert> {
    ray_mul_ceil(scaled, borrow_index)
}
