//! Linux namespaces: the eight kinds, creating them, joining them, and the
//! per-namespace setup the kernel leaves to user space (id maps, time
//! offsets, the loopback interface).
//!
//! Usable alone:
//!
//! ```no_run
//! use testa::namespace::{self, Kind, Kinds, Namespace};
//! namespace::unshare(Kinds::NET | Kinds::UTS)?;
//! namespace::loopback_up()?;
//! let host_net = Namespace::of_pid(1, Kind::Net)?;
//! host_net.enter()?;
//! # Ok::<(), testa::Error>(())
//! ```

mod handle;
mod idmap;
mod kind;
mod loopback;
mod plan;
mod time;

pub use handle::{unshare, Namespace};
pub use idmap::{write_id_maps, IdMap};
pub use kind::{Kind, Kinds};
pub use loopback::loopback_up;
pub use plan::NamespacePlan;
pub use time::{write_time_offsets, TimeOffsets};
