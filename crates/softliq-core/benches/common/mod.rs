//! What every core benchmark prints beside its figures.

/// The machine's load average (1, 5, 15 minutes) from /proc, or "unknown": a figure taken while
/// the other core was busy is not comparable with one taken on a quiet machine.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".to_owned(),
        |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}
