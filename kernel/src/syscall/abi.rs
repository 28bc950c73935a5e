//! The system-call ABI: flag, mode and whence constants and system-call
//! numbers, with the values Linux x86-64 gives them, so that scenario scripts,
//! fuzzers and the host-kernel oracle all speak the same numbers.

/// Open for reading only.
pub const O_RDONLY: u32 = 0;
/// Open for writing only.
pub const O_WRONLY: u32 = 1;
/// Open for reading and writing.
pub const O_RDWR: u32 = 2;
/// The access-mode bits of the open flags.
pub const O_ACCMODE: u32 = 3;
/// Create the file if it does not exist.
pub const O_CREAT: u32 = 0o100;
/// With `O_CREAT`: fail with `EEXIST` if the file exists.
pub const O_EXCL: u32 = 0o200;
/// Cut a regular file to length 0.
pub const O_TRUNC: u32 = 0o1000;
/// Every write goes to the end of the file.
pub const O_APPEND: u32 = 0o2000;
/// Fail with `ENOTDIR` unless the path names a directory.
pub const O_DIRECTORY: u32 = 0o200000;
/// Do not follow a symlink as the last component (`ELOOP` if it is one).
pub const O_NOFOLLOW: u32 = 0o400000;

/// The file-type bits of `st_mode`.
pub const S_IFMT: u32 = 0o170000;
/// A regular file.
pub const S_IFREG: u32 = 0o100000;
/// A directory.
pub const S_IFDIR: u32 = 0o040000;
/// A symbolic link.
pub const S_IFLNK: u32 = 0o120000;
/// A block-special file.
pub const S_IFBLK: u32 = 0o060000;
/// A character-special file.
pub const S_IFCHR: u32 = 0o020000;

/// `lseek` from the start.
pub const SEEK_SET: u32 = 0;
/// `lseek` from the current offset.
pub const SEEK_CUR: u32 = 1;
/// `lseek` from the end.
pub const SEEK_END: u32 = 2;
/// `lseek` to the next data at or after the offset (`ENXIO` at or past the
/// end). rumpkit's file systems keep no holes, so that is the offset itself.
pub const SEEK_DATA: u32 = 3;
/// `lseek` to the next hole at or after the offset (`ENXIO` at or past the
/// end). With no holes kept, that is the end of the file.
pub const SEEK_HOLE: u32 = 4;

/// `umount2`: force (accepted; tmpfs and devfs unmount the same way).
pub const MNT_FORCE: u32 = 1;
/// `umount2`: lazy unmount (refused with `EINVAL` here).
pub const MNT_DETACH: u32 = 2;
/// `umount2`: do not follow a symlink as the target.
pub const UMOUNT_NOFOLLOW: u32 = 8;

/// `d_type`: unknown.
pub const DT_UNKNOWN: u8 = 0;
/// `d_type`: character device.
pub const DT_CHR: u8 = 2;
/// `d_type`: directory.
pub const DT_DIR: u8 = 4;
/// `d_type`: block device.
pub const DT_BLK: u8 = 6;
/// `d_type`: regular file.
pub const DT_REG: u8 = 8;
/// `d_type`: symbolic link.
pub const DT_LNK: u8 = 10;

/// Longest path in bytes, counting C's terminating NUL.
pub const PATH_MAX: usize = crate::vfs::PATH_MAX;
/// Longest path component.
pub const NAME_MAX: usize = crate::vfs::NAME_MAX;

/// Linux x86-64 system-call numbers of the calls this kernel has.
pub mod nr {
    #![allow(missing_docs)]
    pub const READ: u64 = 0;
    pub const WRITE: u64 = 1;
    pub const OPEN: u64 = 2;
    pub const CLOSE: u64 = 3;
    pub const STAT: u64 = 4;
    pub const FSTAT: u64 = 5;
    pub const LSTAT: u64 = 6;
    pub const LSEEK: u64 = 8;
    pub const PREAD64: u64 = 17;
    pub const PWRITE64: u64 = 18;
    pub const DUP: u64 = 32;
    pub const FSYNC: u64 = 74;
    pub const TRUNCATE: u64 = 76;
    pub const FTRUNCATE: u64 = 77;
    pub const RENAME: u64 = 82;
    pub const MKDIR: u64 = 83;
    pub const RMDIR: u64 = 84;
    pub const LINK: u64 = 86;
    pub const UNLINK: u64 = 87;
    pub const SYMLINK: u64 = 88;
    pub const READLINK: u64 = 89;
    pub const CHMOD: u64 = 90;
    pub const SYNC: u64 = 162;
    pub const MOUNT: u64 = 165;
    pub const UMOUNT2: u64 = 166;
    pub const GETDENTS64: u64 = 217;
}

/// Every named constant above, for [`constant`].
const CONSTANTS: &[(&str, i64)] = &[
    ("O_RDONLY", O_RDONLY as i64),
    ("O_WRONLY", O_WRONLY as i64),
    ("O_RDWR", O_RDWR as i64),
    ("O_ACCMODE", O_ACCMODE as i64),
    ("O_CREAT", O_CREAT as i64),
    ("O_EXCL", O_EXCL as i64),
    ("O_TRUNC", O_TRUNC as i64),
    ("O_APPEND", O_APPEND as i64),
    ("O_DIRECTORY", O_DIRECTORY as i64),
    ("O_NOFOLLOW", O_NOFOLLOW as i64),
    ("S_IFMT", S_IFMT as i64),
    ("S_IFREG", S_IFREG as i64),
    ("S_IFDIR", S_IFDIR as i64),
    ("S_IFLNK", S_IFLNK as i64),
    ("S_IFBLK", S_IFBLK as i64),
    ("S_IFCHR", S_IFCHR as i64),
    ("SEEK_SET", SEEK_SET as i64),
    ("SEEK_CUR", SEEK_CUR as i64),
    ("SEEK_END", SEEK_END as i64),
    ("SEEK_DATA", SEEK_DATA as i64),
    ("SEEK_HOLE", SEEK_HOLE as i64),
    ("MNT_FORCE", MNT_FORCE as i64),
    ("MNT_DETACH", MNT_DETACH as i64),
    ("UMOUNT_NOFOLLOW", UMOUNT_NOFOLLOW as i64),
    ("DT_UNKNOWN", DT_UNKNOWN as i64),
    ("DT_CHR", DT_CHR as i64),
    ("DT_DIR", DT_DIR as i64),
    ("DT_BLK", DT_BLK as i64),
    ("DT_REG", DT_REG as i64),
    ("DT_LNK", DT_LNK as i64),
    ("PATH_MAX", PATH_MAX as i64),
    ("NAME_MAX", NAME_MAX as i64),
];

/// The value of a constant by its name (`"O_CREAT"`), for the scenario
/// language.
pub fn constant(name: &str) -> Option<i64> {
    CONSTANTS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, value)| *value)
}
