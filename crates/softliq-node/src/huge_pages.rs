//! Transparent huge pages, off by default: chosen by measurement (docs/engine.md, Allocator).
//!
//! mimalloc asks the kernel for huge pages on its arenas. With them, a page fault may wait for
//! the kernel to find or compact 2 MiB of contiguous memory, and a single command then stalls
//! for milliseconds. On the engine benchmark (in-memory mix, interleaved runs) turning them off
//! cut the slowest command at 10,000 accounts from 14–24 ms to 1.9–4.1 ms and raised throughput
//! (541–560k to 598–668k commands/s); at 1,000,000 accounts it cut the p99.99 apply from
//! 4.7–4.9 ms to 0.67–1.1 ms at the same throughput and slightly less memory.

/// The environment variable through which mimalloc reads the same choice; when it is set, the
/// operator has chosen and this module leaves the process alone.
pub const ALLOW_VARIABLE: &str = "MIMALLOC_ALLOW_THP";

/// What the process runs with after [`configure`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HugePages {
    /// Turned off by softliq's default.
    Off,
    /// Left to `MIMALLOC_ALLOW_THP`, which the operator set.
    AsConfigured,
    /// Could not be turned off (not Linux, or the kernel refused); the kernel's default holds.
    Unchanged,
}

/// Turns transparent huge pages off for the whole process (future page faults of every
/// mapping), unless `MIMALLOC_ALLOW_THP` is set. Call first thing in `main`.
#[must_use]
pub fn configure() -> HugePages {
    if std::env::var_os(ALLOW_VARIABLE).is_some() {
        return HugePages::AsConfigured;
    }
    disable()
}

#[cfg(target_os = "linux")]
fn disable() -> HugePages {
    match rustix::thread::disable_transparent_huge_pages(true) {
        Ok(()) => HugePages::Off,
        Err(_) => HugePages::Unchanged,
    }
}

#[cfg(not(target_os = "linux"))]
fn disable() -> HugePages {
    HugePages::Unchanged
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// The setting reaches the kernel: after `configure` (in a process that has not set the
    /// variable) the kernel reports huge pages disabled for this process.
    #[test]
    fn configure_turns_huge_pages_off_in_the_kernel() {
        if std::env::var_os(super::ALLOW_VARIABLE).is_some() {
            assert_eq!(super::configure(), super::HugePages::AsConfigured);
            return;
        }
        assert_eq!(super::configure(), super::HugePages::Off);
        assert_eq!(
            rustix::thread::transparent_huge_pages_are_disabled().ok(),
            Some(true)
        );
    }
}
