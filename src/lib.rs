//! # testa
//!
//! An OCI container runtime, and a library of the isolation primitives it is
//! built from. Use [`container::Runtime`] to run whole containers from an OCI
//! bundle, or one primitive at a time: [`namespace`], [`cgroups`], [`rootfs`],
//! [`process`].
//!
//! ```no_run
//! use testa::container::{Runtime, RuntimeOptions, CreateOptions};
//! // First in main, single-threaded: the containers must never reach this
//! // program's own binary (see `process::exeseal`).
//! testa::process::exeseal::reexec_sealed()?;
//! let rt = Runtime::new(RuntimeOptions::default())?;
//! let c = rt.create("web", "/bundles/web".as_ref(), CreateOptions::default())?;
//! c.start()?;
//! let status = c.wait()?;
//! c.delete(false)?;
//! # Ok::<(), testa::Error>(())
//! ```

#![deny(missing_docs)]

pub use oci_spec;

pub mod cgroups;
pub mod container;
pub mod error;
pub mod namespace;
pub mod process;
pub mod rootfs;

pub use error::{Error, Result};
