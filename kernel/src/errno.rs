//! Error numbers, with the values Linux gives them so that results compare
//! directly with the host kernel (the `--diff-host` oracle).

use core::fmt;

macro_rules! errnos {
    ($($name:ident = $value:literal, $text:literal;)*) => {
        /// A POSIX error number (Linux x86-64 values).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(i32)]
        #[allow(clippy::upper_case_acronyms)]
        pub enum Errno {
            $(#[doc = $text] $name = $value,)*
        }

        impl Errno {
            /// Every error number this kernel knows.
            pub const ALL: &'static [Errno] = &[$(Errno::$name,)*];

            /// The symbolic name, such as `"ENOENT"`.
            pub const fn name(self) -> &'static str {
                match self { $(Errno::$name => stringify!($name),)* }
            }

            /// A short description, such as `"No such file or directory"`.
            pub const fn description(self) -> &'static str {
                match self { $(Errno::$name => $text,)* }
            }

            /// The errno for a symbolic name (`"ENOENT"`); `EOPNOTSUPP` and
            /// `EWOULDBLOCK` are accepted as the Linux aliases they are.
            pub fn from_name(name: &str) -> Option<Errno> {
                match name {
                    $(stringify!($name) => Some(Errno::$name),)*
                    "EOPNOTSUPP" => Some(Errno::ENOTSUP),
                    "EWOULDBLOCK" => Some(Errno::EAGAIN),
                    _ => None,
                }
            }

            /// The errno for a raw (positive) number.
            pub fn from_raw(value: i32) -> Option<Errno> {
                match value {
                    $($value => Some(Errno::$name),)*
                    _ => None,
                }
            }
        }
    };
}

errnos! {
    EPERM = 1, "Operation not permitted";
    ENOENT = 2, "No such file or directory";
    ESRCH = 3, "No such process";
    EINTR = 4, "Interrupted system call";
    EIO = 5, "Input/output error";
    ENXIO = 6, "No such device or address";
    E2BIG = 7, "Argument list too long";
    EBADF = 9, "Bad file descriptor";
    EAGAIN = 11, "Resource temporarily unavailable";
    ENOMEM = 12, "Cannot allocate memory";
    EACCES = 13, "Permission denied";
    EFAULT = 14, "Bad address";
    ENOTBLK = 15, "Block device required";
    EBUSY = 16, "Device or resource busy";
    EEXIST = 17, "File exists";
    EXDEV = 18, "Invalid cross-device link";
    ENODEV = 19, "No such device";
    ENOTDIR = 20, "Not a directory";
    EISDIR = 21, "Is a directory";
    EINVAL = 22, "Invalid argument";
    ENFILE = 23, "Too many open files in system";
    EMFILE = 24, "Too many open files";
    ENOTTY = 25, "Inappropriate ioctl for device";
    EFBIG = 27, "File too large";
    ENOSPC = 28, "No space left on device";
    ESPIPE = 29, "Illegal seek";
    EROFS = 30, "Read-only file system";
    EMLINK = 31, "Too many links";
    EPIPE = 32, "Broken pipe";
    ERANGE = 34, "Numerical result out of range";
    EDEADLK = 35, "Resource deadlock avoided";
    ENAMETOOLONG = 36, "File name too long";
    ENOSYS = 38, "Function not implemented";
    ENOTEMPTY = 39, "Directory not empty";
    ELOOP = 40, "Too many levels of symbolic links";
    EOVERFLOW = 75, "Value too large for defined data type";
    ENOTSUP = 95, "Operation not supported";
    ETIMEDOUT = 110, "Connection timed out";
}

impl Errno {
    /// The raw (positive) number.
    pub const fn raw(self) -> i32 {
        self as i32
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.description())
    }
}

impl From<rumpkit_hypercall::HyperError> for Errno {
    fn from(error: rumpkit_hypercall::HyperError) -> Errno {
        use rumpkit_hypercall::HyperError;
        match error {
            HyperError::NotSupported => Errno::ENOTSUP,
            HyperError::NoMemory => Errno::ENOMEM,
            HyperError::Io => Errno::EIO,
            HyperError::NoDevice => Errno::ENXIO,
            HyperError::Invalid => Errno::EINVAL,
            HyperError::Again => Errno::EAGAIN,
            _ => Errno::EIO,
        }
    }
}

/// The result of a kernel operation.
pub type KResult<T> = Result<T, Errno>;
