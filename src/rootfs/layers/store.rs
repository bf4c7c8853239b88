//! The content-addressed layer store: each layer unpacked once, named by the digest
//! of its compressed blob, shared by every image and container that uses it.
//!
//! ```text
//!   <store>/layers/sha256/<hex>/diff        the unpacked layer (an overlay lower dir)
//!   <store>/layers/sha256/<hex>/complete    marker, written last (holds the diff_id)
//!   <store>/tmp/<hex>.<pid>.<n>/            where a layer is unpacked first
//! ```
//!
//! A layer is unpacked into a temporary directory while the blob is hashed; only
//! when the digest (and the `diff_id`, when the config gives one) match and the
//! marker is written is the directory renamed into place (`renameat2` with
//! `RENAME_NOREPLACE`, so two unpackers racing on one layer both succeed and one
//! copy is kept). Any failure removes the temporary directory: the store never holds
//! a half-unpacked layer. The temporary directory of an unpacker that was killed is
//! removed by the next [`Store::open`].

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::errno::Errno;
use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
use sha2::{Digest as _, Sha256};

use super::image::{hex, Image, Layer, Layout};
use super::unpack;
use crate::error::{Context, Error, Result};

const MARKER: &str = "complete";

/// Options of a [`Store`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreOptions {
    /// Mark opaque directories with `user.overlay.opaque` (for overlays mounted with
    /// `userxattr`, in a user namespace) instead of `trusted.overlay.opaque`.
    pub userxattr: bool,
}

/// A layer store rooted at a directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    opts: StoreOptions,
}

/// Counts bytes and hashes them as they are read.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    len: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

impl<R: Read> Hashing<R> {
    fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// Read to the end and return (`sha256:<hex>`, length).
    fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((format!("sha256:{}", hex(self.hasher.finalize())), self.len))
    }
}

/// Remove the temporary directories of unpackers that died (`<hex>.<pid>.<n>`
/// whose pid is gone); a live unpacker's are left alone.
fn clear_stale_tmp(tmp: &Path) {
    let Ok(rd) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name.split('.').nth(1).and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

impl Store {
    /// Open (creating) the store in `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        Store::open_with(root, StoreOptions::default())
    }

    /// Open (creating) the store in `root`, with options.
    pub fn open_with(root: impl Into<PathBuf>, opts: StoreOptions) -> Result<Store> {
        let root = root.into();
        for d in ["layers/sha256", "tmp"] {
            let p = root.join(d);
            std::fs::create_dir_all(&p).step(|| format!("mkdir -p {p:?}"))?;
        }
        clear_stale_tmp(&root.join("tmp"));
        Ok(Store { root, opts })
    }

    /// Its directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the store's layers mark opaque directories with `user.` xattrs.
    pub fn userxattr(&self) -> bool {
        self.opts.userxattr
    }

    fn layer_root(&self, layer: &Layer) -> PathBuf {
        self.root.join("layers/sha256").join(layer.hex())
    }

    /// The unpacked directory of `layer`, if the store holds it (complete).
    pub fn layer_dir(&self, layer: &Layer) -> Option<PathBuf> {
        let d = self.layer_root(layer);
        d.join(MARKER).is_file().then(|| d.join("diff"))
    }

    /// The digests (`sha256:<hex>`) of the layers the store holds.
    pub fn layers(&self) -> Result<Vec<String>> {
        let dir = self.root.join("layers/sha256");
        let rd = std::fs::read_dir(&dir).step(|| format!("readdir({dir:?})"))?;
        let mut out: Vec<String> = rd
            .flatten()
            .filter(|e| e.path().join(MARKER).is_file())
            .map(|e| format!("sha256:{}", e.file_name().to_string_lossy()))
            .collect();
        out.sort();
        Ok(out)
    }

    /// Unpack every layer of `image` the store does not hold yet; returns how many
    /// were unpacked now.
    pub fn unpack_image(&self, layout: &Layout, image: &Image) -> Result<usize> {
        let mut n = 0;
        for layer in image.layers() {
            if self.layer_dir(layer).is_none() {
                self.unpack_layer(layout, layer)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Unpack one layer from `layout` (unless stored already); returns its directory.
    /// Errors name the layer's digest.
    pub fn unpack_layer(&self, layout: &Layout, layer: &Layer) -> Result<PathBuf> {
        if let Some(d) = self.layer_dir(layer) {
            return Ok(d);
        }
        static N: AtomicUsize = AtomicUsize::new(0);
        let tmp = self.root.join("tmp").join(format!(
            "{}.{}.{}",
            layer.hex(),
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let result = self.unpack_into(layout, layer, &tmp);
        let result = result.and_then(|()| self.publish(layer, &tmp));
        if tmp.exists() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        result.map_err(|e| match e {
            Error::Other(m) if m.starts_with("layer ") => Error::Other(m),
            e => Error::Other(format!("layer {}: {e}", layer.digest())),
        })?;
        Ok(self.layer_root(layer).join("diff"))
    }

    fn unpack_into(&self, layout: &Layout, layer: &Layer, tmp: &Path) -> Result<()> {
        let diff = tmp.join("diff");
        std::fs::create_dir_all(&diff).step(|| format!("mkdir -p {diff:?}"))?;
        let path = layout.blob_path(layer.digest())?;
        let file = std::fs::File::open(&path).step(|| format!("open({path:?})"))?;
        let mut blob = Hashing::new(file);
        let unpacked = (|| -> Result<Option<String>> {
            let tar = unpack::decompress(&mut blob, layer.compression())
                .map_err(|e| Error::Other(format!("decompress: {e}")))?;
            let mut tar = Hashing::new(tar);
            unpack::unpack(&mut tar, &diff, self.opts.userxattr)?;
            let (diff_id, _) = tar
                .finish()
                .map_err(|e| Error::Other(format!("decompress: {e}")))?;
            Ok(Some(diff_id))
        })();
        // Hash the rest of the blob even when unpacking failed: a digest mismatch
        // is the better explanation of a broken stream.
        let (digest, len) = blob
            .finish()
            .map_err(|e| Error::io(format!("read {path:?}"), e))?;
        if digest != layer.digest() {
            return Err(Error::Other(format!(
                "layer {}: digest mismatch: blob {path:?} hashes to {digest}",
                layer.digest()
            )));
        }
        if len != layer.size() {
            return Err(Error::Other(format!(
                "layer {}: size mismatch: blob {path:?} has {len} bytes, the manifest says {}",
                layer.digest(),
                layer.size()
            )));
        }
        let diff_id = unpacked?.unwrap_or_default();
        if let Some(want) = layer.diff_id() {
            if want != diff_id {
                return Err(Error::Other(format!(
                    "layer {}: diff_id mismatch: the uncompressed tar hashes to {diff_id}, \
                     the config says {want}",
                    layer.digest()
                )));
            }
        }
        let marker = tmp.join(MARKER);
        std::fs::write(&marker, format!("{diff_id}\n")).step(|| format!("write({marker:?})"))
    }

    /// Rename the finished temporary directory into place.
    fn publish(&self, layer: &Layer, tmp: &Path) -> Result<()> {
        let dest = self.layer_root(layer);
        match renameat2(
            AT_FDCWD,
            tmp,
            AT_FDCWD,
            &dest,
            RenameFlags::RENAME_NOREPLACE,
        ) {
            Ok(()) => Ok(()),
            // Another unpacker was faster; its copy is as good as ours.
            Err(Errno::EEXIST) | Err(Errno::ENOTEMPTY) if self.layer_dir(layer).is_some() => Ok(()),
            Err(Errno::EEXIST) | Err(Errno::ENOTEMPTY) => {
                // A directory without its marker: left by an older, interrupted
                // version; replace it.
                std::fs::remove_dir_all(&dest).step(|| format!("rm -r {dest:?}"))?;
                renameat2(
                    AT_FDCWD,
                    tmp,
                    AT_FDCWD,
                    &dest,
                    RenameFlags::RENAME_NOREPLACE,
                )
                .step(|| format!("rename({tmp:?}, {dest:?})"))
            }
            Err(e) => Err(Error::sys(format!("rename({tmp:?}, {dest:?})"), e)),
        }
    }

    /// The stored directories of `image`'s layers, top layer first (overlayfs'
    /// `lowerdir` order); an error names the first layer not stored.
    pub fn lowers(&self, image: &Image) -> Result<Vec<PathBuf>> {
        image
            .layers()
            .iter()
            .rev()
            .map(|l| {
                self.layer_dir(l).ok_or_else(|| {
                    Error::Other(format!(
                        "layer {} of image {:?} is not in the store {:?} (unpack_image first)",
                        l.digest(),
                        image.name(),
                        self.root
                    ))
                })
            })
            .collect()
    }
}
