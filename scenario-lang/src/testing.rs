//! A [`CallTable`] test double: a small POSIX-like system call table with
//! Linux constant and errno values. It lets this crate (and tools built on
//! it) check scripts without a kernel; it is not the kernel's real table,
//! which the executor provides.

use crate::check::{ArgKind, CallTable, ResultKind, Signature};

/// A fixed table of common file system calls, constants and errnos.
#[derive(Clone, Copy, Debug, Default)]
pub struct PosixTable;

/// Field names of the `stat` result.
pub const STAT_FIELDS: &[&str] = &["size", "type", "mode", "nlink", "ino", "dev", "blocks"];

const CALLS: &[&str] = &[
    "open",
    "close",
    "read",
    "write",
    "pread",
    "pwrite",
    "lseek",
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
    "truncate",
    "ftruncate",
    "fsync",
    "dup",
    "mount",
    "unmount",
    "readdir",
    "chmod",
    "nanosleep",
];

const CONSTANTS: &[(&str, i64)] = &[
    ("O_RDONLY", 0),
    ("O_WRONLY", 1),
    ("O_RDWR", 2),
    ("O_CREAT", 0o100),
    ("O_EXCL", 0o200),
    ("O_TRUNC", 0o1000),
    ("O_APPEND", 0o2000),
    ("O_DIRECTORY", 0o200000),
    ("SEEK_SET", 0),
    ("SEEK_CUR", 1),
    ("SEEK_END", 2),
    ("S_IFREG", 0o100000),
    ("S_IFDIR", 0o40000),
    ("S_IRWXU", 0o700),
    ("S_IRUSR", 0o400),
    ("S_IWUSR", 0o200),
    ("S_IXUSR", 0o100),
    ("AT_FDCWD", -100),
    ("AT_REMOVEDIR", 0x200),
    ("MNT_RDONLY", 1),
    ("MNT_FORCE", 0x80000),
];

const ERRNOS: &[(&str, i32)] = &[
    ("EPERM", 1),
    ("ENOENT", 2),
    ("EINTR", 4),
    ("EIO", 5),
    ("EBADF", 9),
    ("EAGAIN", 11),
    ("ENOMEM", 12),
    ("EACCES", 13),
    ("EFAULT", 14),
    ("EBUSY", 16),
    ("EEXIST", 17),
    ("EXDEV", 18),
    ("ENODEV", 19),
    ("ENOTDIR", 20),
    ("EISDIR", 21),
    ("EINVAL", 22),
    ("EMFILE", 24),
    ("EFBIG", 27),
    ("ENOSPC", 28),
    ("ESPIPE", 29),
    ("EROFS", 30),
    ("EMLINK", 31),
    ("ENAMETOOLONG", 36),
    ("ENOSYS", 38),
    ("ENOTEMPTY", 39),
    ("ELOOP", 40),
];

impl CallTable for PosixTable {
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
            "stat" | "lstat" => Signature::new(vec![Path], stat()),
            "fstat" => Signature::new(vec![Fd], stat()),
            "mkdir" => Signature::new(vec![Path, Mode], ResultKind::Unit).optional_from(1),
            "rmdir" | "unlink" => Signature::new(vec![Path], ResultKind::Unit),
            "rename" | "link" | "symlink" => Signature::new(vec![Path, Path], ResultKind::Unit),
            "readlink" => Signature::new(vec![Path], ResultKind::Bytes),
            "truncate" => Signature::new(vec![Path, Offset], ResultKind::Unit),
            "ftruncate" => Signature::new(vec![Fd, Offset], ResultKind::Unit),
            "dup" => Signature::new(vec![Fd], ResultKind::Fd),
            "mount" => Signature::new(vec![Name, Path, Flags], ResultKind::Unit).optional_from(2),
            "unmount" => Signature::new(vec![Path, Flags], ResultKind::Unit).optional_from(1),
            "readdir" => Signature::new(vec![Path], ResultKind::Bytes),
            "chmod" => Signature::new(vec![Path, Mode], ResultKind::Unit),
            "nanosleep" => Signature::new(vec![Duration], ResultKind::Unit),
            _ => return None,
        };
        Some(signature)
    }

    fn resolve_const(&self, name: &str) -> Option<i64> {
        CONSTANTS
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, value)| *value)
    }

    fn errno(&self, name: &str) -> Option<i32> {
        ERRNOS
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, value)| *value)
    }

    fn has_component(&self, name: &str) -> bool {
        matches!(
            name,
            "vfs" | "dev" | "net" | "tmpfs" | "md" | "ext4" | "littlefs" | "virtio"
        )
    }

    fn call_names(&self) -> Vec<String> {
        CALLS.iter().map(|s| s.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_call_has_a_signature_and_no_other() {
        for name in CALLS {
            assert!(
                PosixTable.signature(name).is_some(),
                "{name} has no signature"
            );
        }
        assert!(PosixTable.signature("opn").is_none());
    }
}
