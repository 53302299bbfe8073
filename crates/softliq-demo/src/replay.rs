//! The demo's price path: the bundled crash windows replayed at real returns from one base
//! level, for ever, without compounding.
//!
//! Each window is scaled so that it opens at the base level (the first replayed bar of the
//! first window, at its real 2020 prices): its returns are real and its levels stay within
//! the range real prices took relative to the window's start. After a window, the price walks
//! back to the base geometrically over [`RECOVERY_BARS`] bars, so the next crash starts from
//! the same level, and a demo left running for hours still looks like a market. (Chaining each
//! window onto the last one's end compounds six crashes per pass and reaches zero.)
//!
//! Each hourly bar is walked open → first extreme → second extreme → close — high first on a
//! falling bar, low first on a rising one, the usual convention when only OHLC is known — in
//! `per_segment` equal steps per leg, so an oracle that follows the market sees the wicks and a
//! 10% hour arrives as a dozen moves, not one jump.

use super::CRASH_CSV;

/// Bars between the end of a window and the next one's start, walking back to the base.
pub const RECOVERY_BARS: usize = 48;
/// Legs of a bar's walk: open → first extreme → second extreme → close.
const LEGS: usize = 3;

/// Prices of both assets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bar {
    pub eth: f64,
    pub btc: f64,
}

impl Bar {
    fn scaled(self, by: Self) -> Self {
        Self {
            eth: self.eth * by.eth,
            btc: self.btc * by.btc,
        }
    }

    fn ratio(self, to: Self) -> Self {
        Self {
            eth: self.eth / to.eth,
            btc: self.btc / to.btc,
        }
    }
}

/// One hourly bar of both assets, in walking order: open, extremes, close.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ohlc {
    pub eth: [f64; 4],
    pub btc: [f64; 4],
}

impl Ohlc {
    #[must_use]
    pub const fn open(&self) -> Bar {
        Bar {
            eth: self.eth[0],
            btc: self.btc[0],
        }
    }

    /// The `k`-th of `LEGS · per_segment` points of the walk (the last is the close).
    #[must_use]
    pub fn step(&self, k: usize, per_segment: usize) -> Bar {
        let leg = k / per_segment;
        let t = ((k % per_segment) + 1) as f64 / per_segment as f64;
        let at = |p: &[f64; 4]| p[leg] + (p[leg + 1] - p[leg]) * t;
        Bar {
            eth: at(&self.eth),
            btc: at(&self.btc),
        }
    }
}

/// `[open, high, low, close]` in posting order (module docs).
fn path(open: f64, high: f64, low: f64, close: f64) -> [f64; 4] {
    if close < open {
        [open, high, low, close]
    } else {
        [open, low, high, close]
    }
}

/// A crash window: its event date and hourly bars.
#[derive(Clone, Debug)]
pub struct Window {
    pub event: String,
    pub bars: Vec<Ohlc>,
}

/// The bundled crash windows in order.
///
/// # Errors
/// A malformed row of the bundled file.
pub fn crash_windows() -> Result<Vec<Window>, String> {
    use std::collections::BTreeMap;
    type Slot = (Option<[f64; 4]>, Option<[f64; 4]>);
    let mut windows: BTreeMap<String, BTreeMap<u64, Slot>> = BTreeMap::new();
    for (i, line) in CRASH_CSV.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 8 {
            return Err(format!("crash csv line {}: expected 8 fields", i + 1));
        }
        if f[2] != "spot" {
            continue;
        }
        let number = |k: usize| {
            f[k].parse::<f64>()
                .map_err(|_| format!("crash csv line {}: field {}", i + 1, k + 1))
        };
        let ts: u64 = f[3]
            .parse()
            .map_err(|_| format!("crash csv line {}: timestamp", i + 1))?;
        let ohlc = path(number(4)?, number(5)?, number(6)?, number(7)?);
        let slot = windows
            .entry(f[0].to_owned())
            .or_default()
            .entry(ts)
            .or_default();
        match f[1] {
            "eth_usdt" => slot.0 = Some(ohlc),
            "btc_usdt" => slot.1 = Some(ohlc),
            _ => {}
        }
    }
    Ok(windows
        .into_iter()
        .map(|(event, bars)| Window {
            event,
            bars: bars
                .into_values()
                .filter_map(|(e, b)| Some(Ohlc { eth: e?, btc: b? }))
                .collect(),
        })
        .collect())
}

/// Where a posted price belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The `n`-th crash window.
    Crash(usize),
    /// Walking back to the base after a window (or from a restarted demo's last prices).
    Recovery,
}

/// One price to post.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tick {
    pub prices: Bar,
    pub phase: Phase,
    /// The last price of an hourly bar: the engine hour ends with it.
    pub closes_bar: bool,
    /// Completed passes over all windows before this tick.
    pub cycle: u64,
}

/// The endless replay (module docs). An iterator of ticks.
#[derive(Clone, Debug)]
pub struct Replay {
    windows: Vec<Window>,
    base: Bar,
    /// Bars of the first window skipped (its quiet days before the crash).
    first_bar: usize,
    /// Steps per leg of a bar's walk.
    per_segment: usize,
    window: usize,
    bar: usize,
    step: usize,
    /// `(from, steps done)` while walking back to the base.
    recovery: Option<(Bar, usize)>,
    /// The last window ended: the cycle ends with the walk back that follows it.
    wrapped: bool,
    cycle: u64,
}

impl Replay {
    /// Starts at the first window's bar `first_bar`, whose open is the base level, walking
    /// each bar in `per_segment` steps per leg.
    ///
    /// # Errors
    /// No windows, fewer bars than `first_bar`, or `per_segment` zero.
    pub fn new(windows: Vec<Window>, first_bar: usize, per_segment: usize) -> Result<Self, String> {
        if per_segment == 0 {
            return Err("demo: steps per leg must be at least 1".into());
        }
        let base = windows
            .first()
            .and_then(|w| w.bars.get(first_bar))
            .map(Ohlc::open)
            .ok_or("demo: no crash data")?;
        if windows.iter().any(|w| w.bars.is_empty()) {
            return Err("demo: an empty crash window".into());
        }
        Ok(Self {
            windows,
            base,
            first_bar,
            per_segment,
            window: 0,
            bar: first_bar,
            step: 0,
            recovery: None,
            wrapped: false,
            cycle: 0,
        })
    }

    /// Prices posted per hourly bar.
    #[must_use]
    pub const fn steps_per_bar(&self) -> usize {
        LEGS * self.per_segment
    }

    /// The level every window starts from.
    #[must_use]
    pub const fn base(&self) -> Bar {
        self.base
    }

    /// The lowest and highest price any tick can post: the scaled range of every window
    /// (the walks back stay between a window's close and the base).
    #[must_use]
    pub fn bounds(&self) -> (Bar, Bar) {
        let (mut lo, mut hi) = (
            Bar {
                eth: f64::INFINITY,
                btc: f64::INFINITY,
            },
            Bar { eth: 0.0, btc: 0.0 },
        );
        for (w, window) in self.windows.iter().enumerate() {
            let s = self.scale(w);
            for b in &window.bars {
                for k in 0..self.steps_per_bar() {
                    let p = b.step(k, self.per_segment).scaled(s);
                    lo = Bar {
                        eth: lo.eth.min(p.eth),
                        btc: lo.btc.min(p.btc),
                    };
                    hi = Bar {
                        eth: hi.eth.max(p.eth),
                        btc: hi.btc.max(p.btc),
                    };
                }
            }
        }
        (lo, hi)
    }

    /// Continues from `last` (a restarted demo's prices): a walk back to the base first.
    #[must_use]
    pub fn resumed_from(mut self, last: Bar) -> Self {
        self.recovery = Some((last, 0));
        self
    }

    /// The scale that makes window `w` open at the base.
    fn scale(&self, w: usize) -> Bar {
        let start = if w == 0 { self.first_bar } else { 0 };
        self.base.ratio(self.windows[w].bars[start].open())
    }

    fn recovery_tick(&mut self, from: Bar, done: usize) -> Tick {
        // Geometric steps: each sub-step moves the same fraction of the way in log terms.
        let total = RECOVERY_BARS * self.steps_per_bar();
        let k = done + 1;
        let t = k as f64 / total as f64;
        let prices = Bar {
            eth: from.eth * (self.base.eth / from.eth).powf(t),
            btc: from.btc * (self.base.btc / from.btc).powf(t),
        };
        self.recovery = (k < total).then_some((from, k));
        let tick = Tick {
            prices,
            phase: Phase::Recovery,
            closes_bar: k.is_multiple_of(self.steps_per_bar()),
            cycle: self.cycle,
        };
        if k == total && std::mem::take(&mut self.wrapped) {
            self.cycle += 1;
        }
        tick
    }
}

impl Iterator for Replay {
    type Item = Tick;

    fn next(&mut self) -> Option<Tick> {
        if let Some((from, done)) = self.recovery {
            return Some(self.recovery_tick(from, done));
        }
        let scale = self.scale(self.window);
        let prices = self.windows[self.window].bars[self.bar]
            .step(self.step, self.per_segment)
            .scaled(scale);
        let per_bar = self.steps_per_bar();
        let tick = Tick {
            prices,
            phase: Phase::Crash(self.window),
            closes_bar: self.step + 1 == per_bar,
            cycle: self.cycle,
        };
        self.step += 1;
        if self.step == per_bar {
            self.step = 0;
            self.bar += 1;
            if self.bar == self.windows[self.window].bars.len() {
                self.recovery = Some((prices, 0));
                self.window += 1;
                self.bar = 0;
                if self.window == self.windows.len() {
                    self.window = 0;
                    self.bar = self.first_bar;
                    self.wrapped = true;
                }
            }
        }
        Some(tick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay() -> Replay {
        Replay::new(crash_windows().unwrap(), 60, 4).unwrap()
    }

    #[test]
    fn bundled_windows_hold_the_six_crashes_with_real_lows() {
        let w = crash_windows().unwrap();
        let names: Vec<&str> = w.iter().map(|w| w.event.as_str()).collect();
        assert_eq!(
            names,
            [
                "2020-03-12",
                "2021-05-19",
                "2022-06-13",
                "2022-11-08",
                "2024-08-05",
                "2025-10-10"
            ]
        );
        assert!(w.iter().all(|w| w.bars.len() == 168));
        // The data README's check: ETH's lowest hourly low around 2020-03-13 was 86.00.
        let low = w[0]
            .bars
            .iter()
            .flat_map(|b| b.eth)
            .fold(f64::INFINITY, f64::min);
        assert!((low - 86.0).abs() < 1e-9, "{low}");
    }

    #[test]
    fn a_falling_bar_posts_its_high_first_and_a_rising_one_its_low() {
        assert_eq!(path(10.0, 12.0, 7.0, 8.0), [10.0, 12.0, 7.0, 8.0]);
        assert_eq!(path(10.0, 12.0, 7.0, 11.0), [10.0, 7.0, 12.0, 11.0]);
    }

    /// Two steps per leg of 10 → 12 → 7 → 8: 11, 12, 9.5, 7, 7.5, 8.
    #[test]
    fn a_bar_is_walked_leg_by_leg_in_equal_steps() {
        let b = Ohlc {
            eth: [10.0, 12.0, 7.0, 8.0],
            btc: [1.0; 4],
        };
        let walk: Vec<f64> = (0..6).map(|k| b.step(k, 2).eth).collect();
        assert_eq!(walk, [11.0, 12.0, 9.5, 7.0, 7.5, 8.0]);
    }

    /// Over two whole cycles every price lies within the range real prices took relative to
    /// each window's start, both cycles reach the same lows (nothing compounds), and every
    /// window, in both cycles, opens at the base.
    #[test]
    fn two_cycles_stay_within_real_bounds_and_do_not_compound() {
        let r = replay();
        let base = r.base();
        let windows = crash_windows().unwrap();
        let (mut lo, mut hi) = (f64::INFINITY, 0f64);
        for (k, w) in windows.iter().enumerate() {
            let start = w.bars[if k == 0 { 60 } else { 0 }].open();
            for b in &w.bars {
                for x in b.eth {
                    lo = lo.min(x / start.eth);
                    hi = hi.max(x / start.eth);
                }
            }
        }
        let (lo, hi) = (base.eth * lo * (1.0 - 1e-9), base.eth * hi * (1.0 + 1e-9));
        let mut lows = [f64::INFINITY; 2];
        let mut opens = Vec::new();
        let mut last = Phase::Recovery;
        let mut ticks = 0usize;
        for t in r.take_while(|t| t.cycle < 2) {
            ticks += 1;
            assert!(
                (lo..=hi).contains(&t.prices.eth),
                "{t:?} outside {lo}..{hi}"
            );
            let c = usize::try_from(t.cycle).unwrap();
            lows[c] = lows[c].min(t.prices.eth);
            if matches!(t.phase, Phase::Crash(_)) && t.phase != last {
                opens.push(t.prices);
            }
            last = t.phase;
        }
        assert!((lows[0] - lows[1]).abs() < 1e-9 * lows[0], "{lows:?}");
        assert!(
            lows[0] < base.eth * 0.6,
            "a crash reaches its real depth: {lows:?}"
        );
        assert_eq!(opens.len(), 12);
        for (k, o) in opens.iter().enumerate() {
            // The first step of a window, scaled from an open at the base.
            let w = k % windows.len();
            let bar = windows[w].bars[if w == 0 { 60 } else { 0 }];
            let (first, open) = (bar.step(0, 4), bar.open());
            assert!(
                (o.eth / (base.eth * first.eth / open.eth) - 1.0).abs() < 1e-12,
                "{o:?}"
            );
            assert!(
                (o.btc / (base.btc * first.btc / open.btc) - 1.0).abs() < 1e-12,
                "{o:?}"
            );
        }
        let per_cycle = (108 + 5 * 168 + 6 * RECOVERY_BARS) * 12;
        assert_eq!(ticks, 2 * per_cycle);
    }

    #[test]
    fn a_restart_walks_back_to_the_base_first() {
        let r = replay();
        let base = r.base();
        let from = Bar {
            eth: base.eth * 0.3,
            btc: base.btc * 2.0,
        };
        let ticks: Vec<Tick> = r.resumed_from(from).take(RECOVERY_BARS * 12 + 1).collect();
        assert!(
            ticks[..RECOVERY_BARS * 12]
                .iter()
                .all(|t| t.phase == Phase::Recovery)
        );
        let end = ticks[RECOVERY_BARS * 12 - 1].prices;
        assert!((end.eth / base.eth - 1.0).abs() < 1e-12, "{end:?}");
        // Monotone: each step closer to the base.
        assert!(
            ticks
                .windows(2)
                .take(RECOVERY_BARS * 12 - 1)
                .all(|w| w[1].prices.eth >= w[0].prices.eth)
        );
        assert_eq!(ticks[RECOVERY_BARS * 12].phase, Phase::Crash(0));
    }
}
