//! Reading an OCI image layout directory (`oci-layout`, `index.json`,
//! `blobs/sha256/<hex>`), as `skopeo copy ... oci:DIR:TAG` and
//! `podman save --format oci-dir` write it: a tag → its manifest (through a nested
//! index, for the host's platform) → the config and the layer descriptors. Every blob
//! read is checked against its digest and size.

use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType};
use sha2::{Digest as _, Sha256};

use super::config::ImageConfig;
use super::Compression;
use crate::error::{Error, Result};

/// The annotation that names an image in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The annotation containerd adds with the full image name.
const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct Layout {
    dir: PathBuf,
}

/// One layer of an image, as its manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub(crate) digest: String,
    pub(crate) size: u64,
    pub(crate) compression: Compression,
    pub(crate) diff_id: Option<String>,
}

impl Layer {
    /// The digest of the (compressed) blob, `sha256:<hex>`: the layer's name in the store.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The hex part of the digest.
    pub(crate) fn hex(&self) -> &str {
        self.digest.strip_prefix("sha256:").unwrap_or(&self.digest)
    }

    /// The blob's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// How the blob is compressed (from its media type).
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The digest of the uncompressed tar (`rootfs.diff_ids` of the config), if given.
    pub fn diff_id(&self) -> Option<&str> {
        self.diff_id.as_deref()
    }
}

/// An image picked from a [`Layout`]: its layers (base first, as in the manifest)
/// and its config.
#[derive(Debug, Clone)]
pub struct Image {
    name: String,
    manifest: String,
    layers: Vec<Layer>,
    config: ImageConfig,
}

impl Image {
    /// The name (tag) it was picked by.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The digest of its manifest.
    pub fn manifest_digest(&self) -> &str {
        &self.manifest
    }

    /// Its layers, base first (the manifest's order; overlayfs wants the reverse).
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The runtime part of its config (`Env`, `Entrypoint`, `Cmd`, ...).
    pub fn config(&self) -> &ImageConfig {
        &self.config
    }
}

/// `sha256:<64 hex>`, or an error naming `what`.
pub(crate) fn sha256_hex<'a>(digest: &'a str, what: &str) -> Result<&'a str> {
    match digest.strip_prefix("sha256:") {
        Some(h) if h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) => {
            Ok(h)
        }
        _ => Err(Error::Other(format!(
            "{what}: unsupported or malformed digest {digest:?} (sha256 only)"
        ))),
    }
}

/// The lowercase hex sha256 of `data`.
pub(crate) fn hex(hash: impl AsRef<[u8]>) -> String {
    hash.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn host_arch() -> String {
    oci_spec::image::Arch::default().to_string()
}

impl Layout {
    /// Open the layout in `dir` (it must have `oci-layout` and `index.json`).
    pub fn open(dir: impl Into<PathBuf>) -> Result<Layout> {
        let dir = dir.into();
        for f in ["oci-layout", "index.json"] {
            let p = dir.join(f);
            if !p.is_file() {
                return Err(Error::Other(format!(
                    "{dir:?} is not an OCI image layout: {f} is missing"
                )));
            }
        }
        Ok(Layout { dir })
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of the blob `digest` (`sha256:<hex>`).
    pub fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        let h = sha256_hex(digest, "blob")?;
        Ok(self.dir.join("blobs/sha256").join(h))
    }

    fn index(&self) -> Result<ImageIndex> {
        let p = self.dir.join("index.json");
        ImageIndex::from_file(&p).map_err(|e| Error::Other(format!("{p:?}: {e}")))
    }

    /// The image names in `index.json` (the `org.opencontainers.image.ref.name`
    /// annotations).
    pub fn tags(&self) -> Result<Vec<String>> {
        Ok(self
            .index()?
            .manifests()
            .iter()
            .filter_map(|d| d.annotations().as_ref()?.get(REF_NAME).cloned())
            .collect())
    }

    /// The image tagged `tag`: the `ref.name` annotation equal to it, or ending in
    /// `/tag` or `:tag` when only one does (`busybox:latest` finds
    /// `docker.io/library/busybox:latest`, `latest` finds `busybox:latest`). An empty
    /// tag picks the only image of the layout.
    pub fn image(&self, tag: &str) -> Result<Image> {
        let index = self.index()?;
        let name_of = |d: &Descriptor| -> Option<String> {
            let a = d.annotations().as_ref()?;
            a.get(REF_NAME).or_else(|| a.get(CONTAINERD_NAME)).cloned()
        };
        let all = index.manifests();
        let exact: Vec<&Descriptor> = all
            .iter()
            .filter(|d| name_of(d).as_deref() == Some(tag))
            .collect();
        let picked = if tag.is_empty() && all.len() == 1 {
            vec![&all[0]]
        } else if !exact.is_empty() {
            exact
        } else {
            all.iter()
                .filter(|d| {
                    name_of(d).is_some_and(|n| {
                        n.ends_with(&format!("/{tag}")) || n.ends_with(&format!(":{tag}"))
                    })
                })
                .collect()
        };
        let desc = match picked.as_slice() {
            [one] => *one,
            [] => {
                let names: Vec<String> = all.iter().filter_map(name_of).collect();
                return Err(Error::Other(format!(
                    "image {tag:?} not found in {:?} (it has {names:?})",
                    self.dir
                )));
            }
            many => {
                let names: Vec<String> = many.iter().filter_map(|d| name_of(d)).collect();
                return Err(Error::Other(format!(
                    "image {tag:?} is ambiguous in {:?}: {names:?}",
                    self.dir
                )));
            }
        };
        let manifest_desc = self.platform_manifest(desc, 0)?;
        let manifest_bytes = self.read_verified(&manifest_desc, "manifest")?;
        let mdigest = manifest_desc.digest().to_string();
        let manifest = ImageManifest::from_reader(&manifest_bytes[..])
            .map_err(|e| Error::Other(format!("manifest {mdigest}: {e}")))?;
        let config_bytes = self.read_verified(manifest.config(), "config")?;
        let config = ImageConfiguration::from_reader(&config_bytes[..])
            .map_err(|e| Error::Other(format!("config {}: {e}", manifest.config().digest())))?;
        let diff_ids = config.rootfs().diff_ids();
        let mut layers = Vec::new();
        for (i, d) in manifest.layers().iter().enumerate() {
            let digest = d.digest().to_string();
            sha256_hex(&digest, &format!("manifest {mdigest}: layers[{i}]"))?;
            let compression = Compression::from_media_type(d.media_type()).ok_or_else(|| {
                Error::Other(format!(
                    "manifest {mdigest}: layers[{i}] {digest}: unsupported media type {}",
                    d.media_type()
                ))
            })?;
            layers.push(Layer {
                digest,
                size: d.size(),
                compression,
                diff_id: diff_ids.get(i).cloned(),
            });
        }
        Ok(Image {
            name: name_of(desc).unwrap_or_default(),
            manifest: mdigest,
            layers,
            config: ImageConfig::from_oci(&config),
        })
    }

    /// A manifest descriptor, or the host platform's manifest of a nested index.
    fn platform_manifest(&self, d: &Descriptor, depth: usize) -> Result<Descriptor> {
        if *d.media_type() != MediaType::ImageIndex {
            return Ok(d.clone());
        }
        if depth > 4 {
            return Err(Error::Other(format!(
                "index {}: nested too deep",
                d.digest()
            )));
        }
        let bytes = self.read_verified(d, "index")?;
        let index = ImageIndex::from_reader(&bytes[..])
            .map_err(|e| Error::Other(format!("index {}: {e}", d.digest())))?;
        let fits = |m: &&Descriptor| {
            m.platform().as_ref().map_or(true, |p| {
                p.os().to_string() == "linux"
                    && *p.architecture() == oci_spec::image::Arch::default()
            })
        };
        let m = index.manifests().iter().find(fits).ok_or_else(|| {
            Error::Other(format!(
                "index {}: no manifest for linux/{}",
                d.digest(),
                host_arch()
            ))
        })?;
        self.platform_manifest(m, depth + 1)
    }

    /// Read a (small) blob and check its size and digest.
    fn read_verified(&self, d: &Descriptor, what: &str) -> Result<Vec<u8>> {
        let digest = d.digest().to_string();
        let want = sha256_hex(&digest, what)?;
        let path = self.blob_path(&digest)?;
        let data = std::fs::read(&path)
            .map_err(|e| Error::io(format!("{what} {digest}: read {path:?}"), e))?;
        let got = hex(Sha256::digest(&data));
        if got != want {
            return Err(Error::Other(format!(
                "{what} {digest}: digest mismatch (the blob hashes to sha256:{got})"
            )));
        }
        if data.len() as u64 != d.size() {
            return Err(Error::Other(format!(
                "{what} {digest}: size mismatch ({} bytes, the descriptor says {})",
                data.len(),
                d.size()
            )));
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked() {
        let h = "a".repeat(64);
        assert_eq!(sha256_hex(&format!("sha256:{h}"), "x").unwrap(), h);
        assert!(sha256_hex("sha256:../../etc", "x").is_err());
        assert!(sha256_hex(&format!("sha512:{h}"), "x").is_err());
        assert!(sha256_hex(&format!("sha256:{}", "A".repeat(64)), "x").is_err());
        assert_eq!(hex([0u8, 255, 16]), "00ff10");
    }
}
