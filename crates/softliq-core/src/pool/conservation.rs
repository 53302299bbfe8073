//! The conservation laws of a ledger over pools, checked one way by every ledger that keeps
//! them: the engine's audit, the simulator's reconciliation, core's own auction tests.
//!
//! - **Cash**: a pool holds exactly what came in (deposits, repayments, liquidators' and
//!   buyers' payments, insurance funding) less what went out (withdrawals, borrows).
//! - **Shares**: per asset, the supply shares of every account plus those running auctions
//!   hold equal the pool's supply shares, and the same for debt shares.
//!
//! Each law is exact (integers, no tolerance); the pool identity
//! ([`Pool::check_identity`]) is the third and lives with the pool.

use crate::account::Account;
use crate::asset::AssetId;
use crate::money::{Amount, Shares};

use super::Pool;

/// Cash: `cash = tokens_in − tokens_out`, and never more out than in.
///
/// # Errors
/// The figures, naming the asset.
pub fn check_cash(
    asset: AssetId,
    pool: &Pool,
    tokens_in: Amount,
    tokens_out: Amount,
) -> Result<(), String> {
    match tokens_in.checked_sub(tokens_out) {
        Ok(net) if net == pool.cash() => Ok(()),
        Ok(net) => Err(format!(
            "cash conservation on asset {}: cash {} ≠ tokens in {tokens_in} − out {tokens_out} = {net}",
            asset.0,
            pool.cash()
        )),
        Err(_) => Err(format!(
            "cash conservation on asset {}: {tokens_out} went out but only {tokens_in} came in",
            asset.0
        )),
    }
}

/// Shares: the accounts' shares of `asset` plus `held` (what running auctions hold: supply,
/// debt) equal the pool's totals.
///
/// # Errors
/// The sums against the pool's, naming the asset.
pub fn check_shares<'a>(
    asset: AssetId,
    pool: &Pool,
    accounts: impl IntoIterator<Item = &'a Account>,
    held: (Shares, Shares),
) -> Result<(), String> {
    let (mut supply, mut debt) = (held.0.raw(), held.1.raw());
    for account in accounts {
        let p = account.position(asset);
        supply = supply.saturating_add(p.supply.raw());
        debt = debt.saturating_add(p.debt.raw());
    }
    if supply == pool.supply_shares().raw() && debt == pool.debt_shares().raw() {
        return Ok(());
    }
    Err(format!(
        "share conservation on asset {}: accounts and auctions hold {supply} supply and {debt} \
         debt shares, the pool counts {} and {}",
        asset.0,
        pool.supply_shares(),
        pool.debt_shares()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_or_a_token_out_of_place_is_named() {
        let mut pool = Pool::new(0);
        let minted = pool.deposit(Amount::from_raw(1_000), None).unwrap();
        let mut account = Account::new();
        account.add_supply(AssetId(0), minted).unwrap();
        let cash_in = Amount::from_raw(1_000);
        assert_eq!(check_cash(AssetId(0), &pool, cash_in, Amount::ZERO), Ok(()));
        assert!(
            check_cash(AssetId(0), &pool, cash_in, Amount::from_raw(1))
                .unwrap_err()
                .contains("cash 1000")
        );
        assert!(check_cash(AssetId(0), &pool, Amount::ZERO, cash_in).is_err());
        let none = (Shares::ZERO, Shares::ZERO);
        assert_eq!(check_shares(AssetId(0), &pool, [&account], none), Ok(()));
        let one = (Shares::from_raw(1), Shares::ZERO);
        assert!(check_shares(AssetId(0), &pool, [&account], one).is_err());
        assert!(check_shares(AssetId(0), &pool, [], none).is_err());
    }
}
