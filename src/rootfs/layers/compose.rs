//! A container's root filesystem composed from stored layers: an overlay of the
//! image's layers (top first) with the container's own upper and work directories.
//!
//! ```text
//!   <dir>/upper    the container's writes (copy-ups, new files, whiteouts)
//!   <dir>/work     overlayfs' work directory
//!   <dir>/merged   the overlay mount: what root.path points at
//! ```
//!
//! Two containers of one image share every lower directory of the store and write
//! only to their own `upper`.

use std::path::{Path, PathBuf};

use nix::mount::MntFlags;

use super::image::Image;
use super::store::Store;
use crate::error::{Context, Result};
use crate::rootfs::overlay::{Overlay, OverlayOption};

/// A mounted container rootfs. Dropping it unmounts it (lazily, errors ignored);
/// [`Rootfs::unmount`] reports them, [`Rootfs::remove`] also deletes the directory,
/// [`Rootfs::keep`] leaves it mounted.
#[derive(Debug)]
pub struct Rootfs {
    dir: PathBuf,
    merged: PathBuf,
    mounted: bool,
}

impl Rootfs {
    /// The merged view, to use as the container's `root.path`.
    pub fn path(&self) -> &Path {
        &self.merged
    }

    /// The per-container directory holding `upper`, `work` and `merged`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The container's upper (writable) layer.
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    /// Unmount the overlay; the directory (and the container's writes) stay.
    pub fn unmount(mut self) -> Result<()> {
        self.do_unmount()
    }

    /// Unmount the overlay and remove the per-container directory.
    pub fn remove(mut self) -> Result<()> {
        self.do_unmount()?;
        let d = &self.dir;
        std::fs::remove_dir_all(d).step(|| format!("rm -r {d:?}"))
    }

    /// Leave the overlay mounted (for a container that outlives this value); returns
    /// the merged path.
    pub fn keep(mut self) -> PathBuf {
        self.mounted = false;
        self.merged.clone()
    }

    fn do_unmount(&mut self) -> Result<()> {
        if !self.mounted {
            return Ok(());
        }
        self.mounted = false;
        let m = &self.merged;
        nix::mount::umount2(m, MntFlags::MNT_DETACH).step(|| format!("umount2({m:?}, MNT_DETACH)"))
    }
}

impl Drop for Rootfs {
    fn drop(&mut self) {
        let _ = self.do_unmount();
    }
}

impl Store {
    /// The overlay of `image` for the container directory `dir`: the stored layers
    /// (top first) as lowers, `dir/upper` and `dir/work` (created; an existing upper
    /// is kept, so a container's writes survive a re-compose). Not mounted: add
    /// options or mount it yourself, or use [`Store::compose`].
    pub fn overlay_for(&self, image: &Image, dir: &Path) -> Result<Overlay> {
        let lowers = self.lowers(image)?;
        for d in ["upper", "work", "merged"] {
            let p = dir.join(d);
            std::fs::create_dir_all(&p).step(|| format!("mkdir -p {p:?}"))?;
        }
        let mut o = Overlay::new(lowers).upper(dir.join("upper"), dir.join("work"));
        if self.userxattr() {
            o = o.option(OverlayOption::UserXattr);
        }
        Ok(o)
    }

    /// Compose and mount the rootfs of a container of `image` in `dir`: see
    /// [`Store::overlay_for`]; the overlay is mounted on `dir/merged`.
    pub fn compose(&self, image: &Image, dir: &Path) -> Result<Rootfs> {
        let overlay = self.overlay_for(image, dir)?;
        let merged = dir.join("merged");
        overlay.mount_at(&merged)?;
        Ok(Rootfs {
            dir: dir.to_path_buf(),
            merged,
            mounted: true,
        })
    }
}
