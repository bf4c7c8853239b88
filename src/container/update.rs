//! `update`: change a live container's resource limits. The new fields are
//! merged into the current `linux.resources` (unset fields keep their
//! value, as runc does), applied, and recorded.

use oci_spec::runtime::LinuxResources;
use serde_json::Value;

use super::state::{StateFile, Status};
use super::Container;
use crate::error::{Error, Result};

/// Merge `new` into `old`: objects field by field, anything else replaced;
/// nulls leave the old value.
fn merge(old: &mut Value, new: Value) {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            for (k, v) in n {
                if !v.is_null() {
                    merge(o.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

impl Container {
    /// Apply `resources` on top of the current limits.
    pub fn update(&mut self, resources: &LinuxResources) -> Result<()> {
        let _lock = self.dir.lock()?;
        if self.status() == Status::Stopped {
            return Err(Error::State("container not running".into()));
        }
        let mut spec = self.state.spec.clone();
        let mut linux = spec.linux().clone().unwrap_or_default();
        let mut merged = serde_json::to_value(linux.resources().clone().unwrap_or_default())
            .expect("resources serialize");
        merge(
            &mut merged,
            serde_json::to_value(resources).expect("resources serialize"),
        );
        let merged: LinuxResources = serde_json::from_value(merged)
            .map_err(|e| Error::config("linux.resources", e.to_string()))?;
        let cgroup = self.cgroup()?;
        cgroup.validate(&merged)?;
        cgroup.apply(&merged)?;
        linux.set_resources(Some(merged));
        spec.set_linux(Some(linux));
        let mut state = StateFile::load(&self.dir.dir)?;
        state.spec = spec;
        state.save(&self.dir.dir)?;
        self.state = state;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_unset_fields() {
        let mut old =
            serde_json::json!({"memory": {"limit": 100, "swap": 200}, "pids": {"limit": 5}});
        merge(
            &mut old,
            serde_json::json!({"memory": {"limit": 50, "swap": null}, "cpu": {"shares": 10}}),
        );
        assert_eq!(
            old,
            serde_json::json!({"memory": {"limit": 50, "swap": 200}, "pids": {"limit": 5}, "cpu": {"shares": 10}})
        );
    }
}
