//! The vfs faction: vnodes, path lookup, mounts, file descriptors.

use crate::errno::KResult;
use crate::kernel::{BootContext, Kernel};

/// The vfs faction's state inside a kernel.
pub struct VfsFaction {}

impl VfsFaction {
    /// Brings the faction up during boot (before file-system drivers register).
    pub(crate) fn boot(_context: &BootContext) -> KResult<VfsFaction> {
        Ok(VfsFaction {})
    }

    /// Syncs and unmounts everything; called first at halt.
    pub(crate) fn shutdown(&self, _kernel: &Kernel) {}
}
