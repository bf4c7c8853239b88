//! The v1 → v2 value conversions runc and crun use, so one spec means the
//! same on both layouts.

use crate::error::{Error, Result};

/// `cpu.shares` (2..262144) → `cpu.weight` (1..10000): runc's linear map,
/// `ConvertCPUSharesToCgroupV2Value`: `1 + ((shares - 2) * 9999) / 262142`.
/// 0 means unset.
pub fn cpu_shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// `blkio.weight` (10..1000) → `io.weight` (1..10000): runc's
/// `ConvertBlkIOToIOWeightValue`: `1 + (weight - 10) * 9999 / 990`. 0 means unset.
pub fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    1 + (u64::from(weight.clamp(10, 1000)) - 10) * 9999 / 990
}

/// The spec's `memory.swap` is memory+swap (v1's `memory.memsw.limit_in_bytes`);
/// v2's `memory.swap.max` is swap alone. runc's `ConvertMemorySwapToCgroupV2Value`:
/// -1 stays "max"; 0 is unset, except that unlimited memory with unset swap
/// means unlimited swap; otherwise `swap - memory`, which needs a memory limit
/// no larger than the swap value. Returns `None` for "leave unset", `Some(-1)`
/// for "max".
pub fn memory_swap_to_v2(swap: Option<i64>, memory: Option<i64>) -> Result<Option<i64>> {
    let memory = memory.unwrap_or(0);
    let swap = swap.unwrap_or(0);
    if memory == -1 && swap == 0 {
        return Ok(Some(-1));
    }
    if swap == -1 {
        return Ok(Some(-1));
    }
    if swap == 0 {
        return Ok(None);
    }
    if memory == 0 || memory == -1 {
        return Err(Error::config(
            "linux.resources.memory.swap",
            "a swap limit needs a memory limit",
        ));
    }
    if memory < 0 || swap < memory {
        return Err(Error::config(
            "linux.resources.memory.swap",
            format!("memory+swap limit {swap} must be >= the memory limit {memory}"),
        ));
    }
    Ok(Some(swap - memory))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_shares_map_to_weight_like_runc() {
        assert_eq!(cpu_shares_to_weight(0), 0);
        assert_eq!(cpu_shares_to_weight(2), 1);
        assert_eq!(cpu_shares_to_weight(1024), 39);
        assert_eq!(cpu_shares_to_weight(262_144), 10_000);
    }

    #[test]
    fn blkio_weight_maps_to_io_weight_like_runc() {
        assert_eq!(blkio_weight_to_io_weight(0), 0);
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
    }

    #[test]
    fn swap_is_memory_plus_swap_in_the_spec() {
        assert_eq!(memory_swap_to_v2(None, None).unwrap(), None);
        assert_eq!(memory_swap_to_v2(None, Some(-1)).unwrap(), Some(-1));
        assert_eq!(memory_swap_to_v2(Some(-1), Some(100)).unwrap(), Some(-1));
        assert_eq!(memory_swap_to_v2(Some(300), Some(100)).unwrap(), Some(200));
        assert!(memory_swap_to_v2(Some(50), Some(100)).is_err());
        assert!(memory_swap_to_v2(Some(50), None).is_err());
    }
}
