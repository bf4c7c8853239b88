//! freezer (kernel 5.2+): `cgroup.freeze`, confirmed through `cgroup.events`;
//! and killing everything in the cgroup (`cgroup.kill`, kernel 5.14+, or
//! freeze, signal, thaw).

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::cgroups::fs::CgroupDir;
use crate::error::{Error, Result};

/// How long a freeze may take before it is undone and reported (runc's 10 s).
const FREEZE_TIMEOUT: Duration = Duration::from_secs(10);

/// One key of `cgroup.events` ("populated", "frozen").
fn event(dir: &CgroupDir, key: &str) -> Result<bool> {
    Ok(super::hugetlb::keyed(dir, "cgroup.events", key)? == 1)
}

/// Whether anything runs in the cgroup or below it.
pub(crate) fn populated(dir: &CgroupDir) -> Result<bool> {
    event(dir, "populated")
}

/// Whether the cgroup is asked to be frozen (`cgroup.freeze` is 1); false
/// on kernels without the v2 freezer.
pub(crate) fn is_frozen(dir: &CgroupDir) -> Result<bool> {
    if !dir.has("cgroup.freeze") {
        return Ok(false);
    }
    Ok(dir.read("cgroup.freeze")?.trim() == "1")
}

/// Poll `cgroup.events` until `frozen` is `want`, for at most `timeout`.
pub(crate) fn wait_frozen(dir: &CgroupDir, want: bool, timeout: Duration) -> Result<bool> {
    let start = Instant::now();
    let mut delay = Duration::from_micros(100);
    loop {
        if event(dir, "frozen")? == want {
            return Ok(true);
        }
        if start.elapsed() >= timeout {
            return Ok(false);
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(10));
    }
}

/// Freeze and wait until the kernel reports every task frozen; on timeout
/// thaw again and fail.
pub(crate) fn freeze(dir: &CgroupDir) -> Result<()> {
    freeze_within(dir, FREEZE_TIMEOUT)
}

fn freeze_within(dir: &CgroupDir, timeout: Duration) -> Result<()> {
    if !dir.has("cgroup.freeze") {
        return Err(Error::Other(format!(
            "cannot freeze {}: no cgroup.freeze (the v2 freezer needs Linux 5.2)",
            dir.path().display()
        )));
    }
    dir.write("cgroup.freeze", "1")?;
    if wait_frozen(dir, true, timeout)? {
        return Ok(());
    }
    let _ = dir.write("cgroup.freeze", "0");
    Err(Error::Other(format!(
        "{}: still not frozen after {timeout:?}; thawed again",
        dir.path().display()
    )))
}

/// Thaw (immediate in the kernel; nothing to wait for).
pub(crate) fn thaw(dir: &CgroupDir) -> Result<()> {
    if !dir.has("cgroup.freeze") {
        return Ok(());
    }
    dir.write("cgroup.freeze", "0")
}

/// The pids in `dir` and every cgroup below it.
pub(crate) fn all_pids(dir: &CgroupDir) -> Result<Vec<i32>> {
    let mut pids = dir.procs()?;
    for name in super::child_names(dir)? {
        pids.extend(all_pids(&dir.child(&name)?)?);
    }
    Ok(pids)
}

/// Send `sig` to every process of the cgroup tree. SIGKILL goes through
/// `cgroup.kill` where the kernel has it; otherwise the tree is frozen so
/// that nothing forks past us, signalled, and thawed (unless it was frozen
/// already: a paused container stays paused).
pub(crate) fn kill_all(dir: &CgroupDir, sig: Signal) -> Result<()> {
    if sig == Signal::SIGKILL && dir.has("cgroup.kill") {
        return dir.write("cgroup.kill", "1");
    }
    let freeze_here = dir.has("cgroup.freeze") && !is_frozen(dir)?;
    if freeze_here {
        freeze(dir)?;
    }
    let res = all_pids(dir).and_then(|pids| {
        for pid in pids {
            match nix::sys::signal::kill(Pid::from_raw(pid), sig) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(e) => return Err(Error::sys(format!("kill({pid}, {sig})"), e)),
            }
        }
        Ok(())
    });
    if freeze_here {
        thaw(dir)?;
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v2::tests::Fixture;

    #[test]
    fn freeze_waits_for_events_and_undoes_on_timeout() {
        let t = Fixture::new("freeze");
        t.file("cgroup.freeze", "0");
        t.file("cgroup.events", "populated 1\nfrozen 1\n");
        freeze(&t.dir()).unwrap();
        assert_eq!(t.read("cgroup.freeze"), "1");
        assert!(is_frozen(&t.dir()).unwrap());
        assert!(populated(&t.dir()).unwrap());
        t.file("cgroup.events", "populated 1\nfrozen 0\n");
        let e = freeze_within(&t.dir(), Duration::from_millis(20)).unwrap_err();
        assert!(e.to_string().contains("still not frozen"), "{e}");
        assert_eq!(t.read("cgroup.freeze"), "0");
        thaw(&t.dir()).unwrap();
        assert!(!is_frozen(&t.dir()).unwrap());
    }

    #[test]
    fn without_the_freezer() {
        let t = Fixture::new("nofreeze");
        assert!(!is_frozen(&t.dir()).unwrap());
        assert!(freeze(&t.dir())
            .unwrap_err()
            .to_string()
            .contains("no cgroup.freeze"));
        thaw(&t.dir()).unwrap();
    }

    #[test]
    fn kill_uses_cgroup_kill_for_sigkill() {
        let t = Fixture::new("kill");
        t.files(&["cgroup.kill"]);
        kill_all(&t.dir(), Signal::SIGKILL).unwrap();
        assert_eq!(t.read("cgroup.kill"), "1");
        // Other signals walk cgroup.procs (empty here) without freezing.
        t.files(&["cgroup.procs"]);
        kill_all(&t.dir(), Signal::SIGTERM).unwrap();
    }
}
