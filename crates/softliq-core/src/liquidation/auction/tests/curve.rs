use proptest::prelude::*;

use super::super::curve::{Curve, DURATION_MAX_S};
use crate::money::{Price, Ratio};

fn price(text: &str) -> Price {
    Price::parse("price", text).expect("price")
}
fn ratio(text: &str) -> Ratio {
    Ratio::parse("ratio", text).expect("ratio")
}

#[test]
fn linear_matches_its_closed_form_at_the_boundaries_and_between() {
    let top = price("1200");
    let curve = Curve::Linear { tau_s: 3_600 };
    assert_eq!(curve.price(top, 0).unwrap(), top);
    assert_eq!(curve.price(top, 1_800).unwrap(), price("600"));
    assert_eq!(
        curve.price(top, 3_599).unwrap(),
        price("0.333333333333333334"),
        "1200/3600, up"
    );
    assert_eq!(curve.price(top, 3_600).unwrap(), Price::ZERO);
    assert_eq!(curve.price(top, 10_000).unwrap(), Price::ZERO);
    for t in (0..3_600).step_by(37) {
        // top·(tau − t)/tau exactly, rounded up.
        let exact = (top.raw() * u128::from(3_600 - t)).div_ceil(3_600);
        assert_eq!(curve.price(top, t).unwrap().raw(), exact, "t = {t}");
    }
}

#[test]
fn stairstep_holds_each_step_then_cuts() {
    let top = price("1000");
    let curve = Curve::Stairstep {
        cut: ratio("0.99"),
        step_s: 90,
    };
    assert_eq!(curve.price(top, 0).unwrap(), top);
    assert_eq!(curve.price(top, 89).unwrap(), top);
    assert_eq!(curve.price(top, 90).unwrap(), price("990"));
    assert_eq!(curve.price(top, 179).unwrap(), price("990"));
    assert_eq!(curve.price(top, 180).unwrap(), price("980.1"));
    assert_eq!(curve.price(top, 270).unwrap(), price("970.299"));
    for k in 0..200u32 {
        let got = curve.price(top, u64::from(k) * 90).unwrap().to_f64();
        let exact = 1_000.0 * 0.99f64.powi(i32::try_from(k).unwrap());
        assert!(
            (got - exact).abs() <= exact * 1e-12 + 1e-15,
            "k = {k}: {got} vs {exact}"
        );
    }
}

#[test]
fn exponential_is_top_times_cut_to_the_seconds() {
    let top = price("2000");
    let curve = Curve::Exponential {
        cut: ratio("0.999"),
    };
    assert_eq!(curve.price(top, 0).unwrap(), top);
    assert_eq!(curve.price(top, 1).unwrap(), price("1998"));
    assert_eq!(curve.price(top, 2).unwrap(), price("1996.002"));
    for t in [3u64, 10, 100, 1_000, 5_000, 20_000] {
        let got = curve.price(top, t).unwrap().to_f64();
        let exact = 2_000.0 * (t as f64 * 0.999f64.ln()).exp();
        assert!(
            (got - exact).abs() <= exact * 1e-10 + 1e-15,
            "t = {t}: {got} vs {exact}"
        );
        assert!(
            got >= exact * (1.0 - 1e-15),
            "rounded up, never below the exact value"
        );
    }
}

#[test]
fn validation_names_the_bound() {
    let bad = [
        (Curve::Linear { tau_s: 0 }, "tau_s"),
        (
            Curve::Linear {
                tau_s: DURATION_MAX_S + 1,
            },
            "tau_s",
        ),
        (
            Curve::Stairstep {
                cut: Ratio::ONE,
                step_s: 60,
            },
            "cut",
        ),
        (
            Curve::Stairstep {
                cut: ratio("0.9"),
                step_s: 0,
            },
            "step_s",
        ),
        (Curve::Exponential { cut: Ratio::ZERO }, "cut"),
    ];
    for (curve, field) in bad {
        assert_eq!(
            curve.validate().expect_err("refused").field,
            field,
            "{curve:?}"
        );
    }
    assert!(
        Curve::Exponential {
            cut: ratio("0.9999")
        }
        .validate()
        .is_ok()
    );
}

proptest! {
    #[test]
    fn every_curve_starts_at_top_and_never_rises(
        top_raw in 1u128..1_000_000_000_000_000_000_000_000u128,
        cut_raw in 1u128..1_000_000_000_000_000_000u128,
        span in 1u64..100_000,
        t in 0u64..200_000,
        dt in 0u64..10_000,
        which in 0u8..3,
    ) {
        let top = Price::from_raw(top_raw);
        let cut = Ratio::from_raw(cut_raw);
        let curve = match which {
            0 => Curve::Linear { tau_s: span },
            1 => Curve::Stairstep { cut, step_s: span },
            _ => Curve::Exponential { cut },
        };
        prop_assert_eq!(curve.price(top, 0).unwrap(), top);
        let a = curve.price(top, t).unwrap();
        let b = curve.price(top, t + dt).unwrap();
        prop_assert!(b <= a && a <= top, "{:?}: {} then {}", curve, a, b);
    }
}

/// Rounding up at every product of the binary power never lets the price tick back up from
/// one second to the next (checked densely near the extremes of `cut`).
#[test]
fn exponential_never_ticks_up() {
    let top = Price::from_raw(123_456_789_000_000_000_000_000);
    for cut_raw in [
        1u128,
        7,
        500_000_000_000_000_000,
        999_000_000_000_000_000,
        999_999_999_999_999_999,
        999_999_999_999_000_000,
    ] {
        let curve = Curve::Exponential {
            cut: Ratio::from_raw(cut_raw),
        };
        let mut last = top;
        for t in 0..20_000u64 {
            let p = curve.price(top, t).unwrap();
            assert!(p <= last, "cut {cut_raw}: t = {t}: {p} after {last}");
            last = p;
        }
    }
}
