//! The v1 `cpuacct` controller: CPU usage accounting only, no settings
//! (runc `fs/cpuacct.go`).

use crate::cgroups::fs::CgroupDir;
use crate::cgroups::stats::Stats;
use crate::error::{Error, Result};

/// `USER_HZ`: `cpuacct.stat` counts in clock ticks, which are 1/100 s on
/// every Linux architecture's user ABI.
const CLOCK_TICKS: u64 = 100;
const NS_PER_SEC: u64 = 1_000_000_000;

/// Space separated numbers.
fn numbers(dir: &CgroupDir, name: &str) -> Result<Vec<u64>> {
    dir.read(name)?
        .split_whitespace()
        .map(|v| {
            v.parse().map_err(|_| {
                Error::Other(format!(
                    "{}: bad number {v:?}",
                    dir.path().join(name).display()
                ))
            })
        })
        .collect()
}

/// `cpuacct.usage_all`: a header, then `cpu user system` per CPU (ns).
fn per_cpu_modes(text: &str) -> (Vec<u64>, Vec<u64>) {
    let (mut user, mut kernel) = (Vec::new(), Vec::new());
    for line in text.lines().skip(1) {
        let f: Vec<u64> = line
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        if let [_, u, s] = f[..] {
            user.push(u);
            kernel.push(s);
        }
    }
    (user, kernel)
}

/// Fill `stats.cpu.usage` from the cgroup `dir`.
pub(crate) fn stats(dir: &CgroupDir, stats: &mut Stats) -> Result<()> {
    let u = &mut stats.cpu.usage;
    u.total = dir.read_u64("cpuacct.usage")?;
    u.percpu = numbers(dir, "cpuacct.usage_percpu")?;
    for (k, ticks) in dir.read_keyed("cpuacct.stat")? {
        match k.as_str() {
            "user" => u.user = ticks * NS_PER_SEC / CLOCK_TICKS,
            "system" => u.kernel = ticks * NS_PER_SEC / CLOCK_TICKS,
            _ => {}
        }
    }
    if dir.has("cpuacct.usage_all") {
        (u.percpu_user, u.percpu_kernel) = per_cpu_modes(&dir.read("cpuacct.usage_all")?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v1::testutil::fixture;

    #[test]
    fn usage_in_nanoseconds() {
        let (_tmp, dir) = fixture(&[
            ("cpuacct.usage", "123456789\n"),
            ("cpuacct.usage_percpu", "100 200 \n"),
            ("cpuacct.stat", "user 12\nsystem 3\n"),
            ("cpuacct.usage_all", "cpu user system\n0 70 30\n1 150 50\n"),
        ]);
        let mut s = Stats::default();
        stats(&dir, &mut s).unwrap();
        let u = &s.cpu.usage;
        assert_eq!(u.total, 123_456_789);
        assert_eq!(u.percpu, vec![100, 200]);
        assert_eq!(u.user, 120_000_000);
        assert_eq!(u.kernel, 30_000_000);
        assert_eq!(u.percpu_user, vec![70, 150]);
        assert_eq!(u.percpu_kernel, vec![30, 50]);
    }
}
