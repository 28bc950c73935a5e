//! The system calls a scenario script may make, their argument kinds and
//! result kinds, and the constants and errno names scripts may use, taken
//! from the kernel itself (`rumpkit_kernel::syscall::abi`,
//! `rumpkit_kernel::Errno`), so the checker and the executor never disagree
//! with the kernel.

use rumpkit_kernel::syscall::abi;
use rumpkit_kernel::Errno;
use rumpkit_scenario::{ArgKind, CallTable, ResultKind, Signature};

/// The fields of a `stat` result that expectations may name.
pub const STAT_FIELDS: &[&str] = &[
    "size", "type", "mode", "nlink", "ino", "dev", "blocks", "rdev",
];

/// Every call a script may make, in the order `rumpkit run --list-calls`
/// and "did you mean" hints show them.
pub const CALLS: &[&str] = &[
    "open",
    "close",
    "read",
    "write",
    "pread",
    "pwrite",
    "lseek",
    "fsync",
    "ftruncate",
    "truncate",
    "stat",
    "fstat",
    "lstat",
    "mkdir",
    "rmdir",
    "unlink",
    "rename",
    "link",
    "symlink",
    "readlink",
    "getdents",
    "readdir",
    "chmod",
    "dup",
    "mount",
    "unmount",
    "sync",
    "nanosleep",
];

/// Components a `boot` line may name: factions and drivers.
pub const COMPONENTS: &[&str] = &["vfs", "dev", "tmpfs", "md"];

/// The call table of the real kernel.
#[derive(Debug, Default, Clone, Copy)]
pub struct KernelTable;

impl CallTable for KernelTable {
    fn signature(&self, name: &str) -> Option<Signature> {
        use ArgKind::*;
        let stat = || ResultKind::Struct(STAT_FIELDS.iter().map(|s| s.to_string()).collect());
        let signature = match name {
            "open" => Signature::new(vec![Path, Flags, Mode], ResultKind::Fd).optional_from(2),
            "close" | "fsync" => Signature::new(vec![Fd], ResultKind::Unit),
            "read" => Signature::new(vec![Fd, Len], ResultKind::Bytes),
            "write" => Signature::new(vec![Fd, Bytes], ResultKind::Int),
            "pread" => Signature::new(vec![Fd, Len, Offset], ResultKind::Bytes),
            "pwrite" => Signature::new(vec![Fd, Bytes, Offset], ResultKind::Int),
            "lseek" => Signature::new(vec![Fd, Offset, Whence], ResultKind::Int),
            "ftruncate" => Signature::new(vec![Fd, Offset], ResultKind::Unit),
            "truncate" => Signature::new(vec![Path, Offset], ResultKind::Unit),
            "stat" | "lstat" => Signature::new(vec![Path], stat()),
            "fstat" => Signature::new(vec![Fd], stat()),
            "mkdir" => Signature::new(vec![Path, Mode], ResultKind::Unit).optional_from(1),
            "rmdir" | "unlink" => Signature::new(vec![Path], ResultKind::Unit),
            "rename" | "link" | "symlink" => Signature::new(vec![Path, Path], ResultKind::Unit),
            "readlink" => Signature::new(vec![Path], ResultKind::Bytes),
            "getdents" => Signature::new(vec![Fd], ResultKind::Bytes),
            "readdir" => Signature::new(vec![Path], ResultKind::Bytes),
            "chmod" => Signature::new(vec![Path, Mode], ResultKind::Unit),
            "dup" => Signature::new(vec![Fd], ResultKind::Fd),
            "mount" => {
                Signature::new(vec![Name, Path, Flags, Bytes], ResultKind::Unit).optional_from(2)
            }
            "unmount" => Signature::new(vec![Path, Flags], ResultKind::Unit).optional_from(1),
            "sync" => Signature::new(vec![], ResultKind::Unit),
            "nanosleep" => Signature::new(vec![Duration], ResultKind::Unit),
            _ => return None,
        };
        Some(signature)
    }

    fn resolve_const(&self, name: &str) -> Option<i64> {
        abi::constant(name)
    }

    fn errno(&self, name: &str) -> Option<i32> {
        Errno::from_name(name).map(Errno::raw)
    }

    fn has_component(&self, name: &str) -> bool {
        COMPONENTS.contains(&name)
    }

    fn call_names(&self) -> Vec<String> {
        CALLS.iter().map(|s| s.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_call_has_a_signature() {
        for call in CALLS {
            assert!(KernelTable.signature(call).is_some(), "{call}");
        }
        assert!(KernelTable.signature("opn").is_none());
    }

    #[test]
    fn constants_and_errnos_come_from_the_kernel() {
        assert_eq!(KernelTable.resolve_const("O_CREAT"), Some(0o100));
        assert_eq!(KernelTable.resolve_const("SEEK_END"), Some(2));
        assert_eq!(KernelTable.errno("ENOENT"), Some(2));
        assert_eq!(KernelTable.errno("ENOTEMPTY"), Some(39));
        assert_eq!(KernelTable.errno("EWHATEVER"), None);
    }
}
