//! Replays the recorded Aave v3.6 cases (`tests/data/aave_v3_vectors.json`, made by
//! `tools/aave_vectors/generate.py` from Aave's own compiled contracts in an EVM) through the
//! `aave_v3` profile: every figure must agree to the wei.

use std::collections::BTreeMap;

use serde::Deserialize;
use softliq_core::profile::aave_v3::{
    AccountData, Call, Liquidation, Position, Reserve, Revert, U256, account_data, liquidation_call,
};

#[derive(Deserialize)]
struct File {
    aave: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    seed: u64,
    reserves: Vec<ReserveRow>,
    user: Vec<PositionRow>,
    account: AccountRow,
    call: CallRow,
    result: ResultRow,
}

#[derive(Deserialize)]
struct ReserveRow {
    decimals: u8,
    price: String,
    ltv_bps: u16,
    lt_bps: u16,
    bonus_bps: u16,
    protocol_fee_bps: u16,
    liquidity_index: String,
    borrow_index: String,
    virtual_balance: String,
}

#[derive(Deserialize, Clone)]
struct PositionRow {
    scaled_supply: String,
    scaled_debt: String,
    collateral: bool,
    borrowing: bool,
}

#[derive(Deserialize)]
struct AccountRow {
    total_collateral_base: String,
    total_debt_base: String,
    health_factor: String,
}

#[derive(Deserialize)]
struct CallRow {
    collateral: usize,
    debt: usize,
    debt_to_cover: String,
    receive_a_token: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ResultRow {
    Revert(String),
    Ok(Box<OkRow>),
}

#[derive(Deserialize)]
struct OkRow {
    debt_repaid: String,
    collateral_to_liquidator: String,
    collateral_scaled_to_liquidator: String,
    protocol_fee_scaled: String,
    deficits: Vec<String>,
    user_after: Vec<PositionRow>,
    account_after: AccountRow,
}

fn n(s: &str) -> U256 {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

impl ReserveRow {
    fn reserve(&self) -> Reserve {
        Reserve {
            decimals: self.decimals,
            price: n(&self.price),
            ltv_bps: self.ltv_bps,
            lt_bps: self.lt_bps,
            bonus_bps: self.bonus_bps,
            protocol_fee_bps: self.protocol_fee_bps,
            liquidity_index: n(&self.liquidity_index),
            borrow_index: n(&self.borrow_index),
            virtual_balance: n(&self.virtual_balance),
        }
    }
}

impl PositionRow {
    fn position(&self) -> Position {
        Position {
            scaled_supply: n(&self.scaled_supply),
            scaled_debt: n(&self.scaled_debt),
            collateral: self.collateral,
            borrowing: self.borrowing,
        }
    }
}

impl AccountRow {
    fn data(&self) -> AccountData {
        AccountData {
            total_collateral_base: n(&self.total_collateral_base),
            total_debt_base: n(&self.total_debt_base),
            health_factor: n(&self.health_factor),
        }
    }
}

fn load() -> File {
    let text = include_str!("data/aave_v3_vectors.json");
    serde_json::from_str(text).expect("the vectors parse")
}

/// What Aave recorded for a successful call, in the profile's terms.
fn expected(case: &Case, ok: &OkRow) -> Liquidation {
    let receive = case.call.receive_a_token;
    Liquidation {
        debt_repaid: n(&ok.debt_repaid),
        collateral_to_liquidator: if receive {
            U256::ZERO // compared through the scaled amount below
        } else {
            n(&ok.collateral_to_liquidator)
        },
        collateral_scaled_to_liquidator: n(&ok.collateral_scaled_to_liquidator),
        protocol_fee: U256::ZERO, // recorded as the treasury's scaled aTokens
        protocol_fee_scaled: n(&ok.protocol_fee_scaled),
        deficits: ok.deficits.iter().map(|d| n(d)).collect(),
        positions: ok.user_after.iter().map(PositionRow::position).collect(),
    }
}

#[test]
fn every_recorded_aave_case_agrees_to_the_wei() {
    let file = load();
    assert!(
        file.aave.contains("3.6.0"),
        "vectors are from {}",
        file.aave
    );
    assert!(file.cases.len() >= 300, "{} cases", file.cases.len());
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in &file.cases {
        let reserves: Vec<Reserve> = case.reserves.iter().map(ReserveRow::reserve).collect();
        let positions: Vec<Position> = case.user.iter().map(PositionRow::position).collect();
        let data = account_data(&reserves, &positions).expect("account data");
        if data != case.account.data() {
            failures.push(format!(
                "seed {}: account data {data:?} != {:?}",
                case.seed,
                case.account.data()
            ));
            continue;
        }
        let call = Call {
            collateral: case.call.collateral,
            debt: case.call.debt,
            debt_to_cover: n(&case.call.debt_to_cover),
            receive_a_token: case.call.receive_a_token,
        };
        let got = liquidation_call(&reserves, &positions, call);
        let verdict = match (&case.result, got) {
            (ResultRow::Revert(name), Err(e)) if *name == e.to_string() => name.clone(),
            (ResultRow::Ok(ok), Ok(mut l)) => {
                let want = expected(case, ok);
                if case.call.receive_a_token {
                    l.collateral_to_liquidator = U256::ZERO;
                }
                l.protocol_fee = U256::ZERO;
                let after = account_data(&reserves, &l.positions).expect("account data after");
                if l != want || after != ok.account_after.data() {
                    failures.push(format!(
                        "seed {}: got {l:?} / {after:?}\nwant {want:?} / {:?}",
                        case.seed,
                        ok.account_after.data()
                    ));
                    continue;
                }
                "ok".to_owned()
            }
            (want, got) => {
                let want = match want {
                    ResultRow::Revert(name) => name.clone(),
                    ResultRow::Ok(_) => "ok".to_owned(),
                };
                failures.push(format!("seed {}: Aave {want}, profile {got:?}", case.seed));
                continue;
            }
        };
        *outcomes.entry(verdict).or_default() += 1;
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        file.cases.len(),
        failures.join("\n")
    );
    // The vectors must exercise every branch they claim to: a file of only reverts would agree
    // trivially.
    for (outcome, at_least) in [
        ("ok", 100),
        ("HealthFactorNotBelowThreshold", 20),
        ("MustNotLeaveDust", 10),
        ("InvalidBurnAmount", 3),
        ("CollateralCannotBeLiquidated", 1),
        ("Panic(0x11)", 1),
    ] {
        let seen = outcomes.get(outcome).copied().unwrap_or(0);
        assert!(
            seen >= at_least,
            "{outcome}: {seen} cases, want {at_least}; all: {outcomes:?}"
        );
    }
}

#[test]
fn the_vectors_cover_the_line_bad_debt_and_the_fee() {
    let file = load();
    let at_one = file
        .cases
        .iter()
        .filter(|c| c.account.health_factor == "1000000000000000000")
        .count();
    let ok: Vec<&OkRow> = file
        .cases
        .iter()
        .filter_map(|c| match &c.result {
            ResultRow::Ok(ok) => Some(ok.as_ref()),
            ResultRow::Revert(_) => None,
        })
        .collect();
    let deficits = ok
        .iter()
        .filter(|o| o.deficits.iter().any(|d| d != "0"))
        .count();
    let fees = ok.iter().filter(|o| o.protocol_fee_scaled != "0").count();
    let a_tokens = file
        .cases
        .iter()
        .filter(|c| c.call.receive_a_token && matches!(c.result, ResultRow::Ok(_)))
        .count();
    assert!(at_one >= 10, "{at_one} cases at HF exactly 1");
    assert!(deficits >= 10, "{deficits} cases with a deficit");
    assert!(fees >= 50, "{fees} cases with a protocol fee");
    assert!(a_tokens >= 20, "{a_tokens} cases paid in aTokens");
    let _ = Revert::Empty; // every variant is part of the replay's vocabulary
}
