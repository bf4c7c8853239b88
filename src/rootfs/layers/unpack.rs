//! One layer tar stream → a directory overlayfs can use as a lower layer.
//!
//! Regular files, directories, symlinks and hard links are written by the `tar`
//! crate (modes, owners, mtimes and `SCHILY.xattr.*` records kept; paths with `..`
//! and symlinks leading out of the directory refused). Character and block devices
//! and FIFOs (which the `tar` crate would write as regular files) and whiteouts are
//! made here, relative to a parent fd resolved inside the layer with
//! `RESOLVE_IN_ROOT`.

use std::io::{self, BufReader, Cursor, Read};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use nix::sys::stat::{FchmodatFlags, Mode, SFlag};
use nix::unistd::{Gid, Uid};
use ruzstd::decoding::{FrameDecoder, StreamingDecoder};
use tar::EntryType;

use super::whiteout::{self, Whiteout};
use super::Compression;
use crate::error::{Context, Error, Result};
use crate::rootfs::resolve::{Kind, Root};

/// A reader of the uncompressed tar stream of a layer blob.
pub(crate) fn decompress<'a>(
    blob: impl Read + 'a,
    c: Compression,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match c {
        Compression::None => Box::new(blob),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(blob))),
        Compression::Zstd => Box::new(ZstdFrames {
            state: Frames::Between(BufReader::new(blob)),
        }),
    })
}

/// Unpack the tar stream `tar` into the empty directory `dest`. `userxattr` selects
/// the opaque-directory xattr (`user.overlay.opaque` instead of `trusted.`).
pub(crate) fn unpack(tar: impl Read, dest: &Path, userxattr: bool) -> Result<()> {
    let root = Root::open(dest)?;
    let mut archive = tar::Archive::new(tar);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(true);
    archive.set_overwrite(true);
    let entries = archive
        .entries()
        .map_err(|e| Error::Other(format!("read tar: {}", causes(&e))))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| Error::Other(format!("read tar entry: {}", causes(&e))))?;
        let raw = entry
            .path()
            .map_err(|e| Error::Other(format!("tar entry path: {e}")))?
            .into_owned();
        let Some(rel) = relative(&raw) else {
            return Err(Error::Other(format!(
                "tar entry {raw:?}: a path with \"..\" is not allowed in a layer"
            )));
        };
        let Some(name) = rel.file_name() else {
            continue; // "./" itself
        };
        let parent = || {
            let p = Path::new("/").join(rel.parent().unwrap_or(Path::new("")));
            root.create(&p, Kind::Dir)
        };
        let kind = entry.header().entry_type();
        match whiteout::classify(name) {
            Some(Whiteout::Opaque) => {
                whiteout::make_opaque(&parent()?, userxattr)
                    .step(|| format!("tar entry {raw:?}: set the opaque xattr on its directory"))?;
            }
            Some(Whiteout::File(target)) => {
                whiteout::make_whiteout(&parent()?, target)
                    .step(|| format!("tar entry {raw:?}: mknod whiteout 0:0"))?;
            }
            None if matches!(kind, EntryType::Char | EntryType::Block | EntryType::Fifo) => {
                special(&parent()?, name, &entry, kind).step(|| format!("tar entry {raw:?}"))?;
            }
            None => {
                let ok = entry
                    .unpack_in(dest)
                    .map_err(|e| Error::Other(format!("tar entry {raw:?}: {}", causes(&e))))?;
                if !ok {
                    return Err(Error::Other(format!(
                        "tar entry {raw:?}: refused (outside the layer)"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// An error and its sources, `a: b: c` (the `tar` crate keeps the errno in a source).
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(&format!(": {s}"));
        cur = s.source();
    }
    out
}

/// The entry path relative to the layer root, `None` if it has a `..`.
fn relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => return None,
            _ => {}
        }
    }
    Some(out)
}

/// A device node or FIFO, with the entry's mode and owner.
fn special<R: Read>(
    parent: &OwnedFd,
    name: &std::ffi::OsStr,
    entry: &tar::Entry<'_, R>,
    kind: EntryType,
) -> nix::Result<()> {
    let h = entry.header();
    let bad = |_| nix::errno::Errno::EINVAL;
    let mode = h.mode().map_err(bad)? & 0o7777;
    let (sflag, dev) = match kind {
        EntryType::Fifo => (SFlag::S_IFIFO, 0),
        _ => {
            let major = h.device_major().map_err(bad)?.unwrap_or(0);
            let minor = h.device_minor().map_err(bad)?.unwrap_or(0);
            let f = if kind == EntryType::Char {
                SFlag::S_IFCHR
            } else {
                SFlag::S_IFBLK
            };
            (f, libc::makedev(major, minor))
        }
    };
    whiteout::remove_any(parent, name)?;
    nix::sys::stat::mknodat(parent, name, sflag, Mode::empty(), dev)?;
    let uid = h.uid().map_err(bad)? as u32;
    let gid = h.gid().map_err(bad)? as u32;
    nix::unistd::fchownat(
        parent,
        name,
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )?;
    // After the chown, which clears set-id bits.
    nix::sys::stat::fchmodat(
        parent,
        name,
        Mode::from_bits_truncate(mode as libc::mode_t),
        FchmodatFlags::NoFollowSymlink,
    )
    .or_else(|e| {
        // fchmodat(AT_SYMLINK_NOFOLLOW) is EOPNOTSUPP before Linux 6.6.
        if e == nix::errno::Errno::EOPNOTSUPP {
            nix::sys::stat::fchmodat(
                parent,
                name,
                Mode::from_bits_truncate(mode as libc::mode_t),
                FchmodatFlags::FollowSymlink,
            )
        } else {
            Err(e)
        }
    })
}

/// A zstd stream of one or more frames (skippable frames skipped, as zstd:chunked
/// layers have them), decoded with the pure-Rust `ruzstd`.
struct ZstdFrames<R: Read> {
    state: Frames<R>,
}

/// The decoder of one frame, reading its first four bytes (already read to tell a
/// skippable frame) from a cursor.
type FrameReader<R> = StreamingDecoder<io::Chain<Cursor<[u8; 4]>, R>, FrameDecoder>;

enum Frames<R: Read> {
    Frame(Box<FrameReader<R>>),
    Between(R),
    Done,
}

impl<R: Read> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match std::mem::replace(&mut self.state, Frames::Done) {
                Frames::Done => return Ok(0),
                Frames::Frame(mut d) => {
                    let n = d.read(buf)?;
                    if n > 0 || buf.is_empty() {
                        self.state = Frames::Frame(d);
                        return Ok(n);
                    }
                    let (_, r) = d.into_inner().into_inner();
                    self.state = Frames::Between(r);
                }
                Frames::Between(mut r) => {
                    let mut magic = [0u8; 4];
                    let mut got = 0;
                    while got < 4 {
                        match r.read(&mut magic[got..]) {
                            Ok(0) => break,
                            Ok(n) => got += n,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    }
                    if got == 0 {
                        return Ok(0);
                    }
                    if got < 4 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "zstd: truncated frame header",
                        ));
                    }
                    let m = u32::from_le_bytes(magic);
                    if (0x184D_2A50..=0x184D_2A5F).contains(&m) {
                        let mut len = [0u8; 4];
                        r.read_exact(&mut len)?;
                        let len = u64::from(u32::from_le_bytes(len));
                        let skipped = io::copy(&mut (&mut r).take(len), &mut io::sink())?;
                        if skipped != len {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "zstd: truncated skippable frame",
                            ));
                        }
                        self.state = Frames::Between(r);
                        continue;
                    }
                    let d = StreamingDecoder::new(Cursor::new(magic).chain(r)).map_err(|e| {
                        io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}"))
                    })?;
                    self.state = Frames::Frame(Box::new(d));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zstd_frames_and_skippable_frames() {
        use ruzstd::encoding::{compress_to_vec, CompressionLevel};
        let a = compress_to_vec(&b"hello "[..], CompressionLevel::Fastest);
        let b = compress_to_vec(&b"world"[..], CompressionLevel::Fastest);
        let mut skip = vec![0x50, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 1, 2, 3];
        let mut all = a.clone();
        all.append(&mut skip);
        all.extend_from_slice(&b);
        let mut out = String::new();
        decompress(&all[..], Compression::Zstd)
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hello world");
        let mut bad = a.clone();
        bad.truncate(a.len() - 3);
        let mut v = Vec::new();
        assert!(decompress(&bad[..], Compression::Zstd)
            .unwrap()
            .read_to_end(&mut v)
            .is_err());
    }

    #[test]
    fn relative_paths() {
        assert_eq!(relative(Path::new("./a/b")), Some(PathBuf::from("a/b")));
        assert_eq!(relative(Path::new("/a")), Some(PathBuf::from("a")));
        assert_eq!(relative(Path::new("a/../../b")), None);
    }
}
