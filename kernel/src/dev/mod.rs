//! The dev faction: device registry, block-device switch and buffered block
//! I/O over the block hypercalls.

use crate::errno::KResult;
use crate::kernel::{BootContext, Kernel};

/// The dev faction's state inside a kernel.
pub struct DevFaction {}

impl DevFaction {
    /// Brings the faction up during boot (before drivers attach).
    pub(crate) fn boot(_context: &BootContext) -> KResult<DevFaction> {
        Ok(DevFaction {})
    }

    /// Detaches every device; called at halt after the vfs faction is down.
    pub(crate) fn shutdown(&self, _kernel: &Kernel) {}
}
