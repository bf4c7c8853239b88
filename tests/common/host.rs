//! Watching the host: its mounts, processes and cgroups, to prove a test
//! left nothing behind.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Mount points (5th field of mountinfo) of the host mount namespace.
pub fn host_mounts() -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .map(|s| s.to_string())
        .collect()
}

pub(crate) fn mount_point(line: &str) -> String {
    unescape_mountinfo(line.split(' ').nth(4).unwrap_or(""))
}

pub(crate) fn unescape_mountinfo(s: &str) -> String {
    // mountinfo escapes space, tab, newline and backslash as \ooo
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 4])
                .ok()
                .and_then(|t| u8::from_str_radix(t, 8).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points in the host mount ns at or below `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let d = dir.to_string_lossy().to_string();
    host_mounts()
        .iter()
        .map(|l| mount_point(l))
        .filter(|m| m == &d || m.starts_with(&format!("{d}/")))
        .collect()
}

/// Pids of processes whose root directory is `rootfs` (dev+ino), i.e. processes
/// living inside that container, or whose command line mentions `needle`.
pub fn procs_in(rootfs: &Path, needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let want = fs::metadata(rootfs).ok().map(|m| (m.dev(), m.ino()));
    let mut v = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return v;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let p = e.path();
        if let (Some(w), Ok(m)) = (want, fs::metadata(p.join("root"))) {
            if (m.dev(), m.ino()) == w {
                v.push(pid);
                continue;
            }
        }
        if !needle.is_empty() {
            if let Ok(c) = fs::read(p.join("cmdline")) {
                let c = String::from_utf8_lossy(&c).replace('\0', " ");
                if c.contains(needle) {
                    v.push(pid);
                }
            }
        }
    }
    v
}

/// cgroup directories named `id` below /sys/fs/cgroup (depth-limited walk).
pub fn cgroups_named(id: &str) -> Vec<PathBuf> {
    fn walk(d: &Path, id: &str, depth: usize, out: &mut Vec<PathBuf>) {
        if depth == 0 {
            return;
        }
        let Ok(rd) = fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if !ft.is_dir() {
                continue;
            }
            let p = e.path();
            if e.file_name().to_string_lossy().contains(id) {
                out.push(p.clone());
            }
            walk(&p, id, depth - 1, out);
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), id, 5, &mut out);
    out
}

pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    loop {
        if f() {
            return true;
        }
        if t.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Accept one connection on `listener` and take what runc-style senders
/// send in one `sendmsg`: a payload and one fd as SCM_RIGHTS.
pub fn receive_fd(listener: &std::os::unix::net::UnixListener) -> (std::os::fd::OwnedFd, Vec<u8>) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let (conn, _) = listener.accept().expect("accept");
    let mut buf = vec![0u8; 65536];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .expect("recvmsg");
    let fd = msg
        .cmsgs()
        .unwrap()
        .find_map(|c| match c {
            ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
            _ => None,
        })
        .expect("an fd in SCM_RIGHTS");
    let n = msg.bytes;
    buf.truncate(n);
    // SAFETY: the kernel installed this fd in our table for us.
    (unsafe { OwnedFd::from_raw_fd(fd) }, buf)
}
