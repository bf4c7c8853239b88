//! Container images as OCI image layouts, unpacked once into a content-addressed
//! layer store and composed into a container's root filesystem with an overlay.
//!
//! ```no_run
//! use testa::rootfs::layers::{Layout, Store};
//! let layout = Layout::open("/images/busybox")?;          // index.json, blobs/sha256/..
//! let image = layout.image("latest")?;                     // by org.opencontainers.image.ref.name
//! let store = Store::open("/var/lib/testa/store")?;
//! store.unpack_image(&layout, &image)?;                    // each layer once, digest checked
//! let rootfs = store.compose(&image, "/var/lib/testa/ctr/web".as_ref())?; // overlay mounted
//! let mut spec = testa::oci_spec::runtime::Spec::default();
//! spec.set_root(Some(testa::oci_spec::runtime::RootBuilder::default()
//!     .path(rootfs.path()).build().unwrap()));
//! image.config().apply_to(&mut spec)?;                     // Env, Entrypoint+Cmd, WorkingDir, User
//! // ... create and run the container with `spec`, then:
//! rootfs.remove()?;                                        // unmount, delete upper/work
//! # Ok::<(), testa::Error>(())
//! ```
//!
//! One file per step: `image.rs` reads a layout, `store.rs` keeps the layers,
//! `unpack.rs` turns a tar stream into a directory, `whiteout.rs` maps OCI
//! whiteouts to overlay ones, `compose.rs` mounts a container's rootfs, `config.rs`
//! fills a runtime spec, `writer.rs` writes layouts.

use oci_spec::image::MediaType;

mod compose;
mod config;
mod image;
mod store;
mod unpack;
mod whiteout;
mod writer;

pub use compose::Rootfs;
pub use config::ImageConfig;
pub use image::{Image, Layer, Layout, REF_NAME};
pub use store::{Store, StoreOptions};
pub use writer::LayoutWriter;

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// A plain tar (`application/vnd.oci.image.layer.v1.tar`).
    None,
    /// gzip (`...tar+gzip`, and Docker's `...rootfs.diff.tar.gzip`).
    Gzip,
    /// zstd (`...tar+zstd`).
    Zstd,
}

impl Compression {
    /// The OCI media type of a layer compressed this way.
    pub fn media_type(self) -> MediaType {
        match self {
            Compression::None => MediaType::ImageLayer,
            Compression::Gzip => MediaType::ImageLayerGzip,
            Compression::Zstd => MediaType::ImageLayerZstd,
        }
    }

    /// The compression of a layer media type; `None` when it is not a layer type
    /// this store can unpack.
    pub fn from_media_type(m: &MediaType) -> Option<Compression> {
        Some(match m {
            MediaType::ImageLayer | MediaType::ImageLayerNonDistributable => Compression::None,
            MediaType::ImageLayerGzip | MediaType::ImageLayerNonDistributableGzip => {
                Compression::Gzip
            }
            MediaType::ImageLayerZstd | MediaType::ImageLayerNonDistributableZstd => {
                Compression::Zstd
            }
            MediaType::Other(s) => match s.as_str() {
                "application/vnd.docker.image.rootfs.diff.tar" => Compression::None,
                "application/vnd.docker.image.rootfs.diff.tar.gzip" => Compression::Gzip,
                "application/vnd.docker.image.rootfs.diff.tar.zstd" => Compression::Zstd,
                _ => return None,
            },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            assert_eq!(Compression::from_media_type(&c.media_type()), Some(c));
        }
        assert_eq!(
            Compression::from_media_type(&MediaType::from(
                "application/vnd.docker.image.rootfs.diff.tar.gzip"
            )),
            Some(Compression::Gzip)
        );
        assert_eq!(Compression::from_media_type(&MediaType::ImageConfig), None);
    }
}
