//! Writing an OCI image layout: layer blobs from tar archives (plain, gzip or
//! zstd), then images (config + manifest) tagged in `index.json`. For tests,
//! examples and tools that build images offline; what it writes is what
//! [`Layout`](super::Layout) reads.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, DescriptorBuilder, Digest, ImageConfigurationBuilder,
    ImageIndexBuilder, ImageManifestBuilder, MediaType, Os, RootFsBuilder,
};
use sha2::{Digest as _, Sha256};

use super::config::ImageConfig;
use super::image::{hex, Layer, REF_NAME};
use super::Compression;
use crate::error::{Context, Error, Result};

/// Builds an OCI image layout directory.
#[derive(Debug)]
pub struct LayoutWriter {
    dir: PathBuf,
    manifests: Vec<Descriptor>,
}

fn oci_err(what: &str) -> impl Fn(oci_spec::OciSpecError) -> Error + '_ {
    move |e| Error::Other(format!("{what}: {e}"))
}

impl LayoutWriter {
    /// Start a layout in `dir` (created; an `index.json` there is replaced when the
    /// first image is added).
    pub fn create(dir: impl Into<PathBuf>) -> Result<LayoutWriter> {
        let dir = dir.into();
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).step(|| format!("mkdir -p {blobs:?}"))?;
        let marker = dir.join("oci-layout");
        std::fs::write(&marker, "{\"imageLayoutVersion\":\"1.0.0\"}")
            .step(|| format!("write({marker:?})"))?;
        let index = dir.join("index.json");
        if !index.exists() {
            std::fs::write(&index, "{\"schemaVersion\":2,\"manifests\":[]}")
                .step(|| format!("write({index:?})"))?;
        }
        Ok(LayoutWriter {
            dir,
            manifests: Vec::new(),
        })
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Store `data` as a blob; returns its digest (`sha256:<hex>`).
    pub fn add_blob(&mut self, data: &[u8]) -> Result<String> {
        let h = hex(Sha256::digest(data));
        let p = self.dir.join("blobs/sha256").join(&h);
        std::fs::write(&p, data).step(|| format!("write({p:?})"))?;
        Ok(format!("sha256:{h}"))
    }

    /// Compress the tar archive `tar` and store it as a layer blob.
    pub fn add_layer(&mut self, tar: &[u8], compression: Compression) -> Result<Layer> {
        let blob = match compression {
            Compression::None => tar.to_vec(),
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(tar)
                    .and_then(|()| e.finish())
                    .step(|| "gzip a layer".into())?
            }
            Compression::Zstd => {
                ruzstd::encoding::compress_to_vec(tar, ruzstd::encoding::CompressionLevel::Fastest)
            }
        };
        let digest = self.add_blob(&blob)?;
        Ok(Layer {
            digest,
            size: blob.len() as u64,
            compression,
            diff_id: Some(format!("sha256:{}", hex(Sha256::digest(tar)))),
        })
    }

    /// Add an image of `layers` (base first) with `config`, named `tag` in
    /// `index.json` (rewritten); returns the manifest's digest.
    pub fn add_image(
        &mut self,
        tag: &str,
        layers: &[Layer],
        config: &ImageConfig,
    ) -> Result<String> {
        let mut cfg = ConfigBuilder::default()
            .env(config.env.clone())
            .cmd(config.cmd.clone());
        if !config.entrypoint.is_empty() {
            cfg = cfg.entrypoint(config.entrypoint.clone());
        }
        if let Some(w) = &config.working_dir {
            cfg = cfg.working_dir(w.clone());
        }
        if let Some(u) = &config.user {
            cfg = cfg.user(u.clone());
        }
        let diff_ids = layers
            .iter()
            .map(|l| {
                l.diff_id()
                    .map(str::to_string)
                    .ok_or_else(|| Error::Other(format!("layer {}: no diff_id", l.digest())))
            })
            .collect::<Result<Vec<_>>>()?;
        let image_config = ImageConfigurationBuilder::default()
            .architecture(Arch::default())
            .os(Os::default())
            .config(cfg.build().map_err(oci_err("image config"))?)
            .rootfs(
                RootFsBuilder::default()
                    .typ("layers")
                    .diff_ids(diff_ids)
                    .build()
                    .map_err(oci_err("rootfs"))?,
            )
            .build()
            .map_err(oci_err("image config"))?;
        let config_json = image_config.to_string().map_err(oci_err("image config"))?;
        let config_desc = self.blob_descriptor(MediaType::ImageConfig, config_json.as_bytes())?;
        let layer_descs = layers
            .iter()
            .map(|l| self.descriptor(l.compression.media_type(), l.size, l.digest(), None))
            .collect::<Result<Vec<_>>>()?;
        let manifest = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .config(config_desc)
            .layers(layer_descs)
            .build()
            .map_err(oci_err("manifest"))?
            .to_string()
            .map_err(oci_err("manifest"))?;
        let digest = self.add_blob(manifest.as_bytes())?;
        let mut ann = HashMap::new();
        ann.insert(REF_NAME.to_string(), tag.to_string());
        let desc = self.descriptor(
            MediaType::ImageManifest,
            manifest.len() as u64,
            &digest,
            Some(ann),
        )?;
        self.manifests.push(desc);
        let index = ImageIndexBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageIndex)
            .manifests(self.manifests.clone())
            .build()
            .map_err(oci_err("index"))?;
        let p = self.dir.join("index.json");
        index.to_file(&p).map_err(oci_err("write index.json"))?;
        Ok(digest)
    }

    fn blob_descriptor(&mut self, media: MediaType, data: &[u8]) -> Result<Descriptor> {
        let digest = self.add_blob(data)?;
        self.descriptor(media, data.len() as u64, &digest, None)
    }

    fn descriptor(
        &self,
        media: MediaType,
        size: u64,
        digest: &str,
        annotations: Option<HashMap<String, String>>,
    ) -> Result<Descriptor> {
        let d: Digest = digest.parse().map_err(oci_err("digest"))?;
        let mut b = DescriptorBuilder::default()
            .media_type(media)
            .size(size)
            .digest(d);
        if let Some(a) = annotations {
            b = b.annotations(a);
        }
        b.build().map_err(oci_err("descriptor"))
    }
}
