//! Boot and halt, factions and the component registry.
//!
//! A kernel is booted from a platform (an `Arc<dyn Hypercalls>`) and a
//! [`BootConfig`]: which factions to bring up and which driver components to
//! attach, like linking `-lrumpvfs -lrumpfs_tmpfs`. Factions come up in a
//! fixed order (base, vfs, net, dev), then components in faction order, each
//! component's `init` registering what it provides (a file-system type, block
//! devices). The kernel never names a driver: components are handed in.
//!
//! [`Kernel::halt`] takes the factions down in reverse order, drops every piece
//! of kernel state and reports what kernel memory is still outstanding: a
//! leak. Several kernels may live in one process at once; nothing here is
//! global.

use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;

use rumpkit_hypercall::{Hypercalls, KernelEvent, VERSION};

use crate::callout::CalloutShared;
use crate::dev::DevFaction;
use crate::errno::{Errno, KResult};
use crate::kmem::{KAlloc, Kmem, KmemStats};
use crate::syscall::proc::ProcTable;
use crate::thread::ThreadRegistry;
use crate::vfs::VfsFaction;

/// A faction: a group of kernel subsystems that components plug into. The
/// base is always present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Faction {
    /// Memory, locks, threads, callouts, components. Always booted.
    Base,
    /// Vnodes, path lookup, mounts, file descriptors.
    Vfs,
    /// Sockets and interfaces (not built yet; booting it is refused).
    Net,
    /// Device registry, block-device switch, buffered I/O.
    Dev,
}

impl Faction {
    /// The faction's name as written in boot lines.
    pub const fn name(self) -> &'static str {
        match self {
            Faction::Base => "base",
            Faction::Vfs => "vfs",
            Faction::Net => "net",
            Faction::Dev => "dev",
        }
    }

    /// The faction for a name in a boot line.
    pub fn from_name(name: &str) -> Option<Faction> {
        match name {
            "base" => Some(Faction::Base),
            "vfs" => Some(Faction::Vfs),
            "net" => Some(Faction::Net),
            "dev" => Some(Faction::Dev),
            _ => None,
        }
    }
}

/// A driver or other optional part of the kernel, handed to [`Kernel::boot`].
pub trait Component: Sync {
    /// The component's name, such as `"tmpfs"`.
    fn name(&self) -> &'static str;
    /// The faction it plugs into; booting it without that faction fails.
    fn faction(&self) -> Faction;
    /// Registers what the component provides. Runs once per boot, after all
    /// factions are up, in faction order.
    fn init(&self, kernel: &Kernel) -> KResult<()>;
}

/// What to boot.
#[derive(Clone, Copy)]
pub struct BootConfig<'a> {
    /// Factions besides the base.
    pub factions: &'a [Faction],
    /// Driver components, attached in faction order (stable within one).
    pub components: &'a [&'static dyn Component],
    /// A limit on kernel memory, in bytes; `None` for the `memlimit`
    /// parameter of the platform, or no limit.
    pub memory_limit_bytes: Option<usize>,
}

/// Why a kernel did not boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootError {
    /// The platform implements another version of the hypercall interface.
    VersionMismatch {
        /// What the platform reported.
        platform: u32,
        /// What this kernel was built for.
        kernel: u32,
    },
    /// A component needs a faction that was not booted.
    MissingFaction {
        /// The component.
        component: &'static str,
        /// The faction it needs.
        faction: Faction,
    },
    /// A faction this kernel does not have yet.
    UnsupportedFaction(Faction),
    /// A faction or component failed to initialise.
    Init {
        /// What failed (a faction or component name).
        what: &'static str,
        /// Why.
        errno: Errno,
    },
}

impl fmt::Display for BootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootError::VersionMismatch { platform, kernel } => write!(
                f,
                "hypercall version mismatch: platform {platform}, kernel {kernel}"
            ),
            BootError::MissingFaction { component, faction } => write!(
                f,
                "component {component} needs the {} faction, which was not booted",
                faction.name()
            ),
            BootError::UnsupportedFaction(faction) => {
                write!(f, "the {} faction is not available", faction.name())
            }
            BootError::Init { what, errno } => write!(f, "{what} failed to initialise: {errno}"),
        }
    }
}

/// Why [`Kernel::halt`] could not finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltError {
    /// Other references to the kernel are still alive (a client thread that
    /// has not finished, a handle kept by the caller).
    StillReferenced(usize),
}

/// What halt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HaltReport {
    /// Kernel memory books after every piece of kernel state was dropped.
    /// `used_bytes` and `outstanding_allocations` are leaks.
    pub memory: KmemStats,
}

impl HaltReport {
    /// Whether kernel memory was leaked.
    pub fn leaked(&self) -> bool {
        self.memory.used_bytes != 0 || self.memory.outstanding_allocations != 0
    }
}

/// What factions see while they come up, before the [`Kernel`] exists.
pub struct BootContext {
    /// The platform.
    pub platform: Arc<dyn Hypercalls>,
    /// The kernel's memory books.
    pub kmem: Arc<Kmem>,
}

impl BootContext {
    /// An allocator for `site`.
    pub fn alloc(&self, site: &'static str) -> KAlloc {
        KAlloc::new(&self.kmem, site)
    }
}

/// A booted kernel. Shared as `Arc<Kernel>` between the threads that use it.
pub struct Kernel {
    platform: Arc<dyn Hypercalls>,
    kmem: Arc<Kmem>,
    pub(crate) threads: Arc<ThreadRegistry>,
    pub(crate) callouts: Arc<CalloutShared>,
    pub(crate) vfs: Option<VfsFaction>,
    pub(crate) dev: Option<DevFaction>,
    /// Process contexts, descriptor tables and open files.
    pub(crate) procs: ProcTable,
}

/// Parses a size such as `4096`, `64K`, `16M` or `1G`.
pub fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let (digits, multiplier) = match text.as_bytes().last()? {
        b'K' | b'k' => (&text[..text.len() - 1], 1usize << 10),
        b'M' | b'm' => (&text[..text.len() - 1], 1 << 20),
        b'G' | b'g' => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    digits.parse::<usize>().ok()?.checked_mul(multiplier)
}

impl Kernel {
    /// Boots a kernel on `platform`.
    pub fn boot(
        platform: Arc<dyn Hypercalls>,
        config: &BootConfig<'_>,
    ) -> Result<Arc<Kernel>, BootError> {
        let components = config.components;
        let platform_version = platform.version();
        if platform_version != VERSION {
            return Err(BootError::VersionMismatch {
                platform: platform_version,
                kernel: VERSION,
            });
        }
        platform.kernel_event(KernelEvent::Mark("boot", ""));
        let wants = |faction: Faction| config.factions.contains(&faction);
        if wants(Faction::Net) {
            return Err(BootError::UnsupportedFaction(Faction::Net));
        }
        for component in components {
            let faction = component.faction();
            if faction != Faction::Base && !wants(faction) {
                return Err(BootError::MissingFaction {
                    component: component.name(),
                    faction,
                });
            }
        }
        let limit = config.memory_limit_bytes.or_else(|| {
            platform
                .param("memlimit")
                .and_then(|text: String| parse_size(&text))
        });
        let context = BootContext {
            kmem: Arc::new(Kmem::new(platform.clone(), limit)),
            platform,
        };
        // Faction order: base (above), vfs, net, dev.
        let vfs = if wants(Faction::Vfs) {
            Some(
                VfsFaction::boot(&context)
                    .map_err(|errno| BootError::Init { what: "vfs", errno })?,
            )
        } else {
            None
        };
        let dev = if wants(Faction::Dev) {
            Some(
                DevFaction::boot(&context)
                    .map_err(|errno| BootError::Init { what: "dev", errno })?,
            )
        } else {
            None
        };
        let procs = ProcTable::new(&context.platform, context.alloc("proc"));
        let threads = Arc::new(ThreadRegistry::new(
            &context.platform,
            context.alloc("kthread"),
        ));
        let callouts = Arc::new(CalloutShared::new(
            &context.platform,
            context.alloc("callout"),
        ));
        let kernel = Kernel {
            threads,
            callouts,
            procs,
            platform: context.platform,
            kmem: context.kmem,
            vfs,
            dev,
        };
        // Components in faction order, in the given order within a faction.
        for faction in [Faction::Base, Faction::Vfs, Faction::Net, Faction::Dev] {
            for component in components.iter().filter(|c| c.faction() == faction) {
                if let Err(errno) = component.init(&kernel) {
                    kernel.shutdown();
                    return Err(BootError::Init {
                        what: component.name(),
                        errno,
                    });
                }
            }
        }
        Ok(Arc::new(kernel))
    }

    /// The platform this kernel runs on.
    pub fn platform(&self) -> &Arc<dyn Hypercalls> {
        &self.platform
    }

    /// The kernel's memory books.
    pub fn kmem(&self) -> &Arc<Kmem> {
        &self.kmem
    }

    /// An allocator for `site` in this kernel's memory.
    pub fn alloc(&self, site: &'static str) -> KAlloc {
        KAlloc::new(&self.kmem, site)
    }

    /// Whether `faction` was booted.
    pub fn has_faction(&self, faction: Faction) -> bool {
        match faction {
            Faction::Base => true,
            Faction::Vfs => self.vfs.is_some(),
            Faction::Net => false,
            Faction::Dev => self.dev.is_some(),
        }
    }

    /// The vfs faction, or `ENOSYS` if it was not booted.
    pub fn vfs(&self) -> KResult<&VfsFaction> {
        self.vfs.as_ref().ok_or(Errno::ENOSYS)
    }

    /// The dev faction, or `ENOSYS` if it was not booted.
    pub fn dev(&self) -> KResult<&DevFaction> {
        self.dev.as_ref().ok_or(Errno::ENOSYS)
    }

    /// Takes the factions down in reverse order (without dropping them).
    fn shutdown(&self) {
        if let Some(vfs) = &self.vfs {
            vfs.shutdown(self);
        }
        if let Some(dev) = &self.dev {
            dev.shutdown(self);
        }
        // Then the base: no more callouts, and every kernel thread joined.
        self.callouts.stop_all();
        self.threads.join_all();
    }

    /// Halts the kernel: unmounts and syncs file systems, detaches devices,
    /// drops all kernel state and reports leaked kernel memory.
    ///
    /// Every other reference to the kernel must be gone (client threads
    /// finished); otherwise the kernel is shut down but not freed, and
    /// [`HaltError::StillReferenced`] tells how many references remain.
    pub fn halt(self: Arc<Self>) -> Result<HaltReport, HaltError> {
        self.shutdown();
        let kernel = Arc::try_unwrap(self)
            .map_err(|shared| HaltError::StillReferenced(Arc::strong_count(&shared) - 1))?;
        let Kernel {
            platform,
            kmem,
            vfs,
            dev,
            procs,
            threads,
            callouts,
            ..
        } = kernel;
        // Drop in reverse faction order, then read the books.
        drop(dev);
        drop(vfs);
        drop(procs);
        drop(callouts);
        drop(threads);
        platform.kernel_event(KernelEvent::Mark("halt", ""));
        Ok(HaltReport {
            memory: kmem.stats(),
        })
    }
}
