//! Time namespace offsets, written to `/proc/<pid>/timens_offsets` after the
//! namespace is created and before any process enters it.

use crate::error::{Context, Result};

/// Offsets of the `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` clocks, as
/// (seconds, nanoseconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeOffsets {
    /// Offset of `CLOCK_MONOTONIC`.
    pub monotonic: Option<(i64, u32)>,
    /// Offset of `CLOCK_BOOTTIME`.
    pub boottime: Option<(i64, u32)>,
}

impl TimeOffsets {
    /// Whether no offset is set.
    pub fn is_empty(&self) -> bool {
        self.monotonic.is_none() && self.boottime.is_none()
    }

    fn render(&self) -> String {
        let mut s = String::new();
        for (name, off) in [("monotonic", self.monotonic), ("boottime", self.boottime)] {
            if let Some((secs, nanos)) = off {
                s.push_str(&format!("{name} {secs} {nanos}\n"));
            }
        }
        s
    }
}

/// Write `offsets` for the time namespace that `pid`'s children will be in
/// (`pid` is `self` for the calling process).
pub fn write_time_offsets(pid: &str, offsets: &TimeOffsets) -> Result<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    let path = format!("/proc/{pid}/timens_offsets");
    std::fs::write(&path, offsets.render()).step(|| format!("write({path:?})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_clock_lines() {
        let o = TimeOffsets {
            monotonic: Some((86400, 0)),
            boottime: Some((-5, 500)),
        };
        assert_eq!(o.render(), "monotonic 86400 0\nboottime -5 500\n");
        assert!(TimeOffsets::default().is_empty());
    }
}
