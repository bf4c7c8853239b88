//! The v1 `freezer` controller: `freezer.state` (runc `fs/freezer.go`).
//!
//! A v1 cgroup may stay in FREEZING while processes keep forking or
//! joining, so freezing re-writes FROZEN and polls, thawing and sleeping
//! now and then, for a bounded time (runc's loop, with shorter sleeps:
//! under 2 s in all); on failure it thaws again.

use std::thread::sleep;
use std::time::Duration;

use crate::cgroups::fs::CgroupDir;
use crate::error::{Error, Result};

const STATE: &str = "freezer.state";

/// Freeze the cgroup `dir`, returning once the kernel reads back FROZEN.
pub(crate) fn freeze(dir: &CgroupDir) -> Result<()> {
    let r = try_freeze(dir);
    if r.is_err() {
        // Never leave a cgroup half-frozen.
        let _ = dir.write(STATE, "THAWED");
    }
    r
}

fn try_freeze(dir: &CgroupDir) -> Result<()> {
    let mut long = Duration::from_millis(50);
    for i in 0..1000 {
        if i % 50 == 49 {
            // Let new processes settle, then try again.
            dir.write(STATE, "THAWED")?;
            sleep(Duration::from_millis(10));
        }
        dir.write(STATE, "FROZEN")?;
        if i % 25 == 24 {
            sleep(Duration::from_micros(10));
        }
        if i % 200 == 199 {
            sleep(long);
            long *= 2;
        }
        match dir.read(STATE)?.trim() {
            "FROZEN" => return Ok(()),
            "FREEZING" => continue,
            other => {
                return Err(Error::Other(format!(
                    "{}: unexpected state {other:?} while freezing",
                    dir.path().join(STATE).display()
                )))
            }
        }
    }
    Err(Error::Other(format!(
        "{}: still FREEZING after 1000 attempts (processes keep joining?)",
        dir.path().join(STATE).display()
    )))
}

/// Thaw the cgroup `dir`.
pub(crate) fn thaw(dir: &CgroupDir) -> Result<()> {
    dir.write(STATE, "THAWED")
}

/// Whether the cgroup `dir` itself is frozen (not merely inside a frozen
/// ancestor); waits out a transient FREEZING.
pub(crate) fn is_frozen(dir: &CgroupDir) -> Result<bool> {
    for _ in 0..1000 {
        match dir.read(STATE)?.trim() {
            "THAWED" => return Ok(false),
            "FROZEN" => {
                if !dir.has("freezer.self_freezing") {
                    return Ok(true);
                }
                return Ok(dir.read("freezer.self_freezing")?.trim() == "1");
            }
            "FREEZING" => sleep(Duration::from_millis(1)),
            other => {
                return Err(Error::Other(format!(
                    "{}: unknown state {other:?}",
                    dir.path().join(STATE).display()
                )))
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v1::testutil::fixture;

    #[test]
    fn freeze_writes_and_reads_back() {
        let (tmp, dir) = fixture(&[(STATE, "THAWED\n"), ("freezer.self_freezing", "1\n")]);
        freeze(&dir).unwrap();
        assert_eq!(tmp.read(STATE), "FROZEN");
        assert!(is_frozen(&dir).unwrap());
        tmp.write("freezer.self_freezing", "0\n");
        assert!(!is_frozen(&dir).unwrap(), "frozen only through a parent");
        thaw(&dir).unwrap();
        assert_eq!(tmp.read(STATE), "THAWED");
        assert!(!is_frozen(&dir).unwrap());
        tmp.write(STATE, "BOGUS");
        assert!(is_frozen(&dir).is_err());
    }
}
