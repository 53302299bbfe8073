use std::path::{Path, PathBuf};

use super::*;
use softliq_core::money::{Price, Ratio};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn markets() -> Markets {
    Markets::load(&examples().join("markets.toml")).expect("bundled markets load")
}

const ONE_ASSET: &str = r#"
[[assets]]
symbol = "USDC"
decimals = 6
collateral_factor = "80%"
liquidation_threshold = 0.85
borrow_weight = 1
liquidation_penalty = "500bps"
liquidation_discount = "4%"
reserve_factor = "10%"
rate_model = { base = "0%", slope1 = "4%", slope2 = "60%", optimal_utilisation = "90%" }
oracle = { max_staleness_s = 3600, max_jump = "5%", confirm_s = 600 }
"#;

fn markets_error(text: &str) -> ConfigError {
    Markets::parse(Path::new("m.toml"), text).expect_err("should be refused")
}

#[test]
fn bundled_examples_load() {
    let m = markets();
    assert_eq!(m.symbols(), "USDC, USDT, WETH, WBTC, LINK, DAI");
    let weth = m.asset(m.id("WETH").unwrap()).params();
    assert_eq!(
        weth.liquidation_threshold,
        Ratio::parse("t", "0.825").unwrap()
    );
    assert_eq!(weth.decimals.get(), 18);
    let link = m.asset(m.id("LINK").unwrap()).params();
    assert_eq!(link.borrow_weight, Ratio::parse("t", "1.2").unwrap());
    let acc = AccountInput::load(&examples().join("account.json"), &m).unwrap();
    assert_eq!(acc.owner, "alice");
    assert_eq!(acc.account.positions().len(), 5);
    let prices = PriceInput::load(&examples().join("prices.json"), &m).unwrap();
    assert_eq!(
        prices.prices[m.id("WBTC").unwrap().index()],
        Some(Price::parse("p", "54000").unwrap())
    );
}

#[test]
fn ratio_spellings_in_toml() {
    let m = Markets::parse(Path::new("m.toml"), ONE_ASSET).unwrap();
    let p = m.assets[0].params();
    assert_eq!(p.liquidation_threshold.to_string(), "0.85");
    assert_eq!(p.liquidation_penalty.to_string(), "0.05");
    assert_eq!(p.borrow_weight, Ratio::ONE);
}

#[test]
fn out_of_bounds_parameter_names_file_field_and_bound() {
    let e = markets_error(&ONE_ASSET.replace("\"500bps\"", "\"25%\""));
    assert_eq!(e.field, "assets[0].liquidation_penalty");
    assert_eq!(
        e.to_string(),
        "m.toml: assets[0].liquidation_penalty: 0.25 is out of bounds: 0 <= liquidation_penalty <= 0.2"
    );
}

#[test]
fn malformed_markets_are_refused_with_the_field() {
    let e = markets_error(&ONE_ASSET.replace("decimals = 6", "decimals = 31"));
    assert_eq!(e.field, "assets[0].decimals");
    assert!(e.problem.contains("decimals <= 30"), "{e}");
    let e = markets_error(&ONE_ASSET.replace("\"80%\"", "\"80%%\""));
    assert_eq!(e.field, "assets[0].collateral_factor");
    let e = markets_error(&ONE_ASSET.replace("reserve_factor", "reserve_fraction"));
    assert!(
        e.problem.contains("unknown field `reserve_fraction`"),
        "{e}"
    );
    let e = markets_error(&format!("{ONE_ASSET}{ONE_ASSET}"));
    assert_eq!(e.field, "assets[1].symbol");
    assert!(e.problem.contains("listed twice"));
    let e = markets_error("assets = [");
    assert!(e.to_string().starts_with("m.toml: "), "{e}");
    let e = markets_error(&ONE_ASSET.replace(
        "oracle = { max_staleness_s = 3600,",
        "oracle = { max_staleness_s = \"soon\",",
    ));
    assert_eq!(e.field, "assets[0].oracle.max_staleness_s");
}

#[test]
fn account_errors_name_file_field_and_problem() {
    let m = markets();
    let f = Path::new("a.json");
    let e = AccountInput::parse(f, r#"{"owner":"x","supply":{"DOGE":"1"}}"#, &m).unwrap_err();
    assert_eq!(e.field, "supply.DOGE");
    assert!(e.problem.starts_with("unknown asset (listed: USDC"), "{e}");
    let e = AccountInput::parse(f, r#"{"owner":"x","debt":{"USDC":"1.0000001"}}"#, &m).unwrap_err();
    assert_eq!(
        e.to_string(),
        "a.json: debt.USDC: more than 6 decimal places (got \"1.0000001\")"
    );
    let e = AccountInput::parse(f, r#"{"owner":"x","debt":{"USDC":"-3"}}"#, &m).unwrap_err();
    assert!(e.problem.contains("negative"));
    let e = AccountInput::parse(f, r#"{"owner":"x","debt":{"USDC":true}}"#, &m).unwrap_err();
    assert_eq!(e.field, "debt.USDC");
    let e = AccountInput::parse(f, r#"{"owner":"x","supply":{"USDC":"1"}"#, &m).unwrap_err();
    assert!(e.problem.contains("EOF"), "{e}");
    let e = AccountInput::parse(f, r#"{"supply":{}}"#, &m).unwrap_err();
    assert!(e.problem.contains("missing field `owner`"), "{e}");
}

#[test]
fn price_errors_name_the_field() {
    let m = markets();
    let f = Path::new("p.json");
    let e = PriceInput::parse(f, r#"{"timestamp":1,"prices":{"WETH":"0"}}"#, &m).unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.problem.as_str()),
        ("prices.WETH", "must be greater than zero")
    );
    let e = PriceInput::parse(f, r#"{"timestamp":1,"prices":{"WETH":"1e3"}}"#, &m).unwrap_err();
    assert_eq!(e.field, "prices.WETH");
    let e = PriceInput::parse(f, r#"{"timestamp":-1,"prices":{}}"#, &m).unwrap_err();
    assert_eq!(e.field, "timestamp");
}

#[test]
fn a_malformed_toml_file_names_the_line_and_column() {
    let text = "[[assets]]\nsymbol = \"X\"\ndecimals = \n";
    let e = crate::Markets::parse(std::path::Path::new("m.toml"), text).unwrap_err();
    assert!(e.to_string().contains("line 3, column 12"), "{e}");
}
