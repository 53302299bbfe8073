//! Dutch auctions (SPEC §6, MakerDAO Liquidations 2.0 style): the alternative to
//! fixed-discount calls. This module holds the price curves; the auction flows (`bark`, `take`,
//! `redo`) follow in the same module (issue 7).

pub mod curve;
#[cfg(test)]
mod tests;

pub use curve::Curve;
