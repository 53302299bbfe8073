use super::*;
use crate::money::{Index, Ratio};
use crate::testing::{ratio, stable_params};
use proptest::prelude::*;

const T0: u64 = 1_700_000_000;

fn usdc(whole: u128) -> Amount {
    Amount::from_raw(whole * 1_000_000)
}

#[test]
fn one_year_at_half_utilisation_matches_continuous_compounding() {
    // 1,000,000 USDC supplied, 500,000 borrowed: U = 0.5, below the 0.9 kink, so the yearly
    // rate is 0 + 0.04 · 0.5/0.9 = 0.0222...; compounding per second for a year gives
    // (1 + r/31,536,000)^31,536,000 ≈ e^r = 1.022471..., to about 1e-11.
    let params = stable_params(6);
    let mut pool = Pool::new(T0);
    pool.deposit(usdc(1_000_000), None).unwrap();
    pool.borrow(usdc(500_000), None).unwrap();
    assert_eq!(pool.utilisation().unwrap(), ratio("0.5"));
    let acc = pool.accrue(T0 + SECONDS_PER_YEAR, &params).unwrap();
    assert_eq!(acc.borrow_rate, ratio("0.022222222222222223"));
    let growth = pool.borrow_index().to_f64();
    let expected = (0.040_f64 * 0.5 / 0.9).exp();
    assert!((growth - expected).abs() < 1e-9, "{growth} vs {expected}");
    // Interest ≈ 500,000 · 0.022471 = 11,235.6 USDC; 10% of it to reserves.
    let interest = acc.interest.raw() as f64 / 1e6;
    assert!(
        (interest - 500_000.0 * (expected - 1.0)).abs() < 0.01,
        "{interest}"
    );
    assert_eq!(
        acc.interest,
        acc.to_suppliers.checked_add(acc.to_reserves).unwrap()
    );
    let cut = acc.interest.mul_ratio(ratio("0.1"), Rounding::Up).unwrap();
    assert!(acc.to_reserves >= cut && acc.to_reserves.raw() - cut.raw() <= 2);
    assert_eq!(pool.reserves(), acc.to_reserves);
    pool.check_identity().unwrap();
}

#[test]
fn accrual_with_no_borrows_or_no_time_changes_nothing_but_the_clock() {
    let params = stable_params(6);
    let mut pool = Pool::new(T0);
    pool.deposit(usdc(10), None).unwrap();
    let before = pool.clone();
    let acc = pool.accrue(T0 + 1_000, &params).unwrap();
    assert_eq!(acc.interest, Amount::ZERO);
    assert_eq!(pool.supply_index(), before.supply_index());
    assert_eq!(pool.last_accrual_s(), T0 + 1_000);
    assert_eq!(
        pool.accrue(T0, &params),
        Err(PoolError::TimeWentBackwards {
            now_s: T0,
            last_s: T0 + 1_000
        })
    );
    assert_eq!(pool.last_accrual_s(), T0 + 1_000, "refusal changed nothing");
}

#[test]
fn refusals_change_nothing() {
    let mut pool = Pool::new(T0);
    pool.deposit(usdc(100), Some(usdc(150))).unwrap();
    let before = pool.clone();
    assert_eq!(pool.deposit(Amount::ZERO, None), Err(PoolError::ZeroAmount));
    assert_eq!(
        pool.deposit(usdc(51), Some(usdc(150))),
        Err(PoolError::SupplyCap { cap: usdc(150) })
    );
    assert_eq!(
        pool.borrow(usdc(101), None),
        Err(PoolError::InsufficientCash {
            available: usdc(100)
        })
    );
    assert_eq!(
        pool.borrow(usdc(60), Some(usdc(50))),
        Err(PoolError::BorrowCap { cap: usdc(50) })
    );
    assert_eq!(pool, before);
}

#[test]
fn repaying_more_than_owed_takes_only_the_debt() {
    let params = stable_params(6);
    let mut pool = Pool::new(T0);
    pool.deposit(usdc(1000), None).unwrap();
    let shares = pool.borrow(usdc(900), None).unwrap();
    pool.accrue(T0 + 86_400 * 30, &params).unwrap();
    let owed = shares.to_amount(pool.borrow_index(), Rounding::Up).unwrap();
    assert!(owed > usdc(900));
    let (burned, taken) = pool.repay(usdc(2000), shares).unwrap();
    assert_eq!((burned, taken), (shares, owed));
    assert_eq!(pool.borrowed().unwrap(), Amount::ZERO);
    pool.check_identity().unwrap();
}

#[derive(Clone, Debug)]
enum Op {
    Deposit(usize, u64),
    Withdraw(usize, u64),
    RedeemAll(usize),
    Borrow(usize, u64),
    Repay(usize, u64),
    Wait(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 1..u64::MAX).prop_map(|(a, x)| Op::Deposit(a, x)),
        (0..3usize, 1..u64::MAX).prop_map(|(a, x)| Op::Withdraw(a, x)),
        (0..3usize).prop_map(Op::RedeemAll),
        (0..3usize, 1..u64::MAX).prop_map(|(a, x)| Op::Borrow(a, x)),
        (0..3usize, 1..u64::MAX).prop_map(|(a, x)| Op::Repay(a, x)),
        (0..2_592_000u32).prop_map(Op::Wait),
    ]
}

/// Three accounts' shares, kept beside the pool as the ledger would.
#[derive(Default)]
struct Book {
    supply: [Shares; 3],
    debt: [Shares; 3],
}

fn apply(
    pool: &mut Pool,
    book: &mut Book,
    op: &Op,
    now: &mut u64,
    rf: Ratio,
) -> Result<(), TestCaseError> {
    let mut params = stable_params(6);
    params.reserve_factor = rf;
    match *op {
        Op::Deposit(a, x) => {
            if let Ok(s) = pool.deposit(Amount::from_raw(x.into()), None) {
                book.supply[a] = book.supply[a].checked_add(s).unwrap();
            }
        }
        Op::Withdraw(a, x) => {
            let claim = book.supply[a]
                .to_amount(pool.supply_index(), Rounding::Down)
                .unwrap();
            let amount = Amount::from_raw(u128::from(x) % (claim.raw() + 1));
            let before = pool.clone();
            if let Ok(s) = pool.withdraw(amount) {
                if s > book.supply[a] {
                    *pool = before; // the engine refuses this; the test undoes it
                } else {
                    book.supply[a] = book.supply[a].checked_sub(s).unwrap();
                }
            }
        }
        Op::RedeemAll(a) => {
            if pool.redeem(book.supply[a]).is_ok() {
                book.supply[a] = Shares::ZERO;
            }
        }
        Op::Borrow(a, x) => {
            if let Ok(s) = pool.borrow(Amount::from_raw(x.into()), None) {
                book.debt[a] = book.debt[a].checked_add(s).unwrap();
            }
        }
        Op::Repay(a, x) => {
            if let Ok((s, _)) = pool.repay(Amount::from_raw(x.into()), book.debt[a]) {
                book.debt[a] = book.debt[a].checked_sub(s).unwrap();
            }
        }
        Op::Wait(dt) => {
            let (si, bi) = (pool.supply_index(), pool.borrow_index());
            *now += u64::from(dt);
            let before = pool.clone();
            let rates = pool.rates(&params).unwrap();
            let acc = match pool.accrue(*now, &params) {
                Ok(acc) => acc,
                Err(e) => {
                    prop_assert_eq!(e, PoolError::Math(MathError::Overflow));
                    prop_assert_eq!(&*pool, &before, "a refused accrual changes nothing");
                    return Ok(());
                }
            };
            prop_assert!(
                pool.supply_index() >= si && pool.borrow_index() >= bi,
                "indices never decrease"
            );
            prop_assert_eq!(
                acc.interest,
                acc.to_suppliers.checked_add(acc.to_reserves).unwrap()
            );
            let cut = acc.interest.mul_ratio(rf, Rounding::Up).unwrap();
            prop_assert!(acc.to_reserves >= cut, "the treasury gets at least its cut");
            // The rates shown are the ones the accrual ran at, the suppliers' after the cut.
            prop_assert_eq!(acc.borrow_rate, rates.borrow);
            prop_assert_eq!(rates.utilisation, before.utilisation().unwrap());
            let gross = rates.borrow.mul(rates.utilisation, Rounding::Down).unwrap();
            let keep = gross
                .mul(Ratio::ONE.saturating_sub(rf), Rounding::Down)
                .unwrap();
            prop_assert_eq!(rates.supply, keep);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// After every operation: the pool identity holds exactly, the accounts' claims never
    /// exceed what the pool owes suppliers, and their debts never fall short of its borrows.
    #[test]
    fn identity_holds_after_every_operation(ops in prop::collection::vec(op(), 1..60), rf in 0u128..1_000) {
        let rf = Ratio::from_fraction(rf, 1_000, Rounding::Down).unwrap();
        let (mut pool, mut book, mut now) = (Pool::new(T0), Book::default(), T0);
        for op in &ops {
            apply(&mut pool, &mut book, op, &mut now, rf)?;
            pool.check_identity().map_err(TestCaseError::fail)?;
            let claims: u128 = book.supply.iter().map(|s| s.to_amount(pool.supply_index(), Rounding::Down).unwrap().raw()).sum();
            let debts: u128 = book.debt.iter().map(|s| s.to_amount(pool.borrow_index(), Rounding::Up).unwrap().raw()).sum();
            prop_assert!(claims <= pool.supplied().unwrap().raw());
            prop_assert!(debts >= pool.borrowed().unwrap().raw());
            let shares: u128 = book.supply.iter().map(|s| s.raw()).sum();
            prop_assert_eq!(shares, pool.supply_shares().raw());
            prop_assert!(pool.supply_index() >= Index::ONE);
            // Projecting to the last accrual (or before it) skips the accrual: the same pool
            // as the accrual of zero seconds it stands for; later, the accrual itself.
            let mut params = stable_params(6);
            params.reserve_factor = rf;
            for at in [now - 1, now, now + 1_000] {
                let mut accrued = pool.clone();
                let _ = accrued.accrue(at.max(accrued.last_accrual_s), &params);
                prop_assert_eq!(pool.projected(at, &params), accrued);
            }
        }
    }
}
