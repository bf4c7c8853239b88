//! Fixtures for the overlay and image-layer tests: layer directories, a tar
//! builder for image layers, and tree descriptions to compare unpacked layers.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::Ctx;

use testa::rootfs::Overlay;
pub fn write(p: &Path, content: &str) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, content).unwrap();
}

pub fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("read {p:?}: {e}"))
}

/// `lower1` (top) and `lower2` with a file in each and one in both; empty upper/work.
pub struct Layers {
    pub lowers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
}

pub fn two_layers(ctx: &Ctx) -> Layers {
    let l1 = ctx.scratch("lower1");
    let l2 = ctx.scratch("lower2");
    write(&l1.join("top.txt"), "top\n");
    write(&l2.join("base.txt"), "base\n");
    write(&l1.join("both.txt"), "from lower1\n");
    write(&l2.join("both.txt"), "from lower2\n");
    write(&l2.join("dir/deep.txt"), "deep\n");
    Layers {
        lowers: vec![l1, l2],
        upper: ctx.scratch("upper"),
        work: ctx.scratch("work"),
        merged: ctx.scratch("merged"),
    }
}

pub fn mounted(l: Layers) -> Layers {
    Overlay::new(&l.lowers)
        .upper(&l.upper, &l.work)
        .mount_at(&l.merged)
        .expect("mount overlay");
    l
}

pub fn umount(p: &Path) {
    nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH).expect("umount");
}

/// The mountinfo super options of the mount at `p`.
pub fn super_options(p: &Path) -> String {
    let want = p.to_string_lossy().to_string();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some(want.as_str()))
        .map(|l| l.rsplit(' ').next().unwrap().to_string())
        .unwrap_or_default()
}

/// A tar archive built entry by entry.
pub struct Tar(pub tar::Builder<Vec<u8>>);

impl Tar {
    pub fn new() -> Tar {
        Tar(tar::Builder::new(Vec::new()))
    }

    pub fn header(kind: tar::EntryType, mode: u32, uid: u64, gid: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_mtime(1_700_000_000);
        h.set_size(0);
        h
    }

    pub fn dir(&mut self, path: &str, mode: u32) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Directory, mode, 0, 0);
        self.0.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    pub fn file_owned(
        &mut self,
        path: &str,
        content: &str,
        mode: u32,
        uid: u64,
        gid: u64,
    ) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Regular, mode, uid, gid);
        h.set_size(content.len() as u64);
        self.0
            .append_data(&mut h, path, content.as_bytes())
            .unwrap();
        self
    }

    pub fn file(&mut self, path: &str, content: &str) -> &mut Self {
        self.file_owned(path, content, 0o644, 0, 0)
    }

    pub fn bytes(&mut self, path: &str, content: &[u8], mode: u32) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Regular, mode, 0, 0);
        h.set_size(content.len() as u64);
        self.0.append_data(&mut h, path, content).unwrap();
        self
    }

    /// A PAX header carrying `SCHILY.xattr.<key>` for the next entry.
    pub fn xattr(&mut self, key: &str, value: &str) -> &mut Self {
        let rec = |body: &str| {
            // "<len> <body>\n", the length counting itself.
            let mut n = body.len() + 3;
            while format!("{n} {body}\n").len() != n {
                n += 1;
            }
            format!("{n} {body}\n")
        };
        let data = rec(&format!("SCHILY.xattr.{key}={value}"));
        let mut h = Self::header(tar::EntryType::XHeader, 0o644, 0, 0);
        h.set_size(data.len() as u64);
        self.0
            .append_data(&mut h, "PaxHeaders/x", data.as_bytes())
            .unwrap();
        self
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0, 0);
        self.0.append_link(&mut h, path, target).unwrap();
        self
    }

    pub fn hardlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Link, 0o644, 0, 0);
        self.0.append_link(&mut h, path, target).unwrap();
        self
    }

    pub fn special(
        &mut self,
        path: &str,
        kind: tar::EntryType,
        mode: u32,
        major: u32,
        minor: u32,
    ) -> &mut Self {
        let mut h = Self::header(kind, mode, 0, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.0.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    pub fn finish(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.0, tar::Builder::new(Vec::new()));
        b.into_inner().unwrap()
    }
}

/// A layer tar with busybox-static and its applets, /etc/passwd and the usual dirs.
pub fn busybox_tar() -> Vec<u8> {
    let mut t = Tar::new();
    for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root"] {
        t.dir(d, 0o755);
    }
    t.bytes(
        "bin/busybox",
        &fs::read(super::busybox_path()).unwrap(),
        0o755,
    );
    let list = std::process::Command::new(super::busybox_path())
        .arg("--list")
        .output()
        .unwrap();
    for a in String::from_utf8_lossy(&list.stdout).lines() {
        if a != "busybox" && !a.contains('/') {
            t.symlink(&format!("bin/{a}"), "busybox");
        }
    }
    t.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    t.file("etc/group", "root:x:0:\n");
    t.file("etc/image-release", "base\n");
    t.finish()
}

/// What a path in a layer is: kind, mode, owner, and content / target / device.
pub fn describe(p: &Path) -> String {
    let m = fs::symlink_metadata(p).unwrap();
    let ft = m.file_type();
    let mode = m.mode() & 0o7777;
    let owner = format!("{}:{}", m.uid(), m.gid());
    if ft.is_symlink() {
        format!("link -> {}", fs::read_link(p).unwrap().display())
    } else if ft.is_dir() {
        let opaque = xattr_of(p, "trusted.overlay.opaque").unwrap_or_default();
        format!(
            "dir {mode:o} {owner}{}",
            if opaque == "y" { " opaque" } else { "" }
        )
    } else if ft.is_char_device() {
        format!(
            "char {}:{} {mode:o}",
            libc::major(m.rdev()),
            libc::minor(m.rdev())
        )
    } else if ft.is_fifo() {
        format!("fifo {mode:o} {owner}")
    } else {
        let x = xattr_of(p, "user.test")
            .map(|v| format!(" user.test={v}"))
            .unwrap_or_default();
        format!("file {mode:o} {owner} {:?}{x}", read(p))
    }
}

pub fn xattr_of(p: &Path, name: &str) -> Option<String> {
    let path = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    let name = std::ffi::CString::new(name).unwrap();
    let mut buf = [0u8; 256];
    // SAFETY: valid C strings and a buffer of the length passed.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    (n >= 0).then(|| String::from_utf8_lossy(&buf[..n as usize]).into_owned())
}

/// Every path below `root` (relative) with its description.
pub fn tree(root: &Path) -> BTreeMap<String, String> {
    pub fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            out.insert(rel, describe(&p));
            if e.file_type().unwrap().is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

pub fn entries_of(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

// ---------------------------------------------------------------- Overlay
