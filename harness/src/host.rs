//! The host backend for differential runs (`rumpkit run --diff-host`): runs a
//! script's file-system calls on the host operating system (Linux) and
//! compares them, call by call, with what the rumpkit kernel answered for the
//! same script and seed.
//!
//! # The host side
//!
//! A fresh temporary directory stands for `/` (on `/dev/shm` when that is a
//! tmpfs, so that the host side is the very file system rumpkit's tmpfs
//! imitates; else in the system's temporary directory). Its mode is set to
//! `0o1777`, what a freshly mounted Linux tmpfs has, and the process umask is
//! 0 while the script runs (the rumpkit kernel has no umask).
//!
//! Path lookups never leave that directory: every path is resolved with
//! `openat2(root_fd, path, ..., RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`,
//! the kernel's own chroot-like lookup, under which absolute paths, absolute
//! symlink targets and `..` at the top all stay inside the root. Calls that
//! work on a name in a directory rather than on an object (`mkdir`,
//! `rmdir`, `unlink`, `rename`, `link`, `symlink`) resolve the parent
//! directory that way and then make the `*at` call on the last component,
//! which Linux never follows for these calls; `open`, `stat`, `truncate`,
//! `readdir` and `chmod` resolve the whole path with `openat2` and work on
//! the object it gives; `lstat` and `readlink` open the path with
//! `O_PATH | O_NOFOLLOW`. When the last component is the root itself (`/`),
//! the few calls that act on a name answer from the path alone as Linux
//! does (`rmdir "/"` is `EBUSY`, `unlink "/"` `EISDIR`, `mkdir "/"`
//! `EEXIST`).
//!
//! Descriptors live in a table of their own, numbered like the kernel's (the
//! lowest free number from 0, at most [`OPEN_MAX`] open, as a Linux process
//! with `RLIMIT_NOFILE` at that number), so a script's literal descriptor
//! numbers mean the same on both sides. A path with a NUL byte is `EINVAL`
//! (no C string holds one). `mount tmpfs "/"`, `sleep` and
//! `nanosleep` do nothing on the host; `sync` is `syncfs` on the root.
//!
//! # What is compared
//!
//! The kernel side is [`crate::exec::run_case`] at the same seed; its call log
//! (`main: CALL = RESULT`) is lined up with the host's calls. Compared are
//! result kinds, values and errnos as the executor prints them (bytes: the
//! first 64 and the length), except that descriptors only have to be
//! descriptors on both sides (not the same number), `stat` results compare
//! size, type, permission bits and link count (not inode, device or blocks;
//! directory sizes only when the host side is on tmpfs, since every file
//! system has its own), and `getdents`
//! names are compared as sets (each file system has its own order). When the
//! kernel's run stops early (a failed expectation), the comparison stops
//! there too.
//!
//! Not run at all (reported as skipped, with the reason): scripts with a
//! fault plan, a kernel memory limit (`memlimit`), a `threads` block, `expect-fail`, mounts other than
//! `mount tmpfs "/"` (devfs included) or `unmount`, boots without `vfs` or
//! `tmpfs`, and scripts whose first call is not the root mount.
//!
//! A comment `# host-differs: REASON` on the line directly before a call
//! makes the diff run the call on both sides but not compare it: the place
//! to record a known, intended difference from Linux.

use std::mem::MaybeUninit;
use std::path::Path;
use std::sync::Mutex;

use rumpkit_kernel::syscall::{abi, Stat, OPEN_MAX};
use rumpkit_kernel::{Errno, Faction, KResult};
use rumpkit_scenario::{Call, CallTable, ResultKind, Stmt, StmtKind, Value};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, Mode, OFlags, RawDir, ResolveFlags, SeekFrom};

use crate::exec::{
    arg, call_text, eval_args, join_names, matches, quote, run_case, show, Bound, CaseOptions, Res,
    Scenario, Scope,
};
use crate::table::KernelTable;

/// The comment that marks a call whose host result is known to differ.
pub const HOST_DIFFERS: &str = "# host-differs:";

/// The largest buffer a `read` or `pread` hands the host (as the executor).
const READ_MAX: usize = 1 << 24;

/// Linux's `PATH_MAX`, with its terminating NUL.
const PATH_MAX: usize = 4096;

/// The filesystem type of tmpfs in `statfs`.
const TMPFS_MAGIC: i64 = 0x0102_1994;

/// Open flags Linux's `open` accepts (others are ignored, while `openat2`
/// refuses them).
const VALID_OPEN_FLAGS: u32 = 0o3
    | 0o100
    | 0o200
    | 0o400
    | 0o1000
    | 0o2000
    | 0o4000
    | 0o10000
    | 0o20000
    | 0o40000
    | 0o100000
    | 0o200000
    | 0o400000
    | 0o1000000
    | 0o2000000
    | 0o4000000
    | 0o10000000
    | 0o20000000;
const O_PATH: u32 = 0o10000000;
const O_TMPFILE_BIT: u32 = 0o20000000;
const O_CLOEXEC: u32 = 0o2000000;
/// The flags `open` keeps with `O_PATH`.
const O_PATH_FLAGS: u32 = abi::O_DIRECTORY | abi::O_NOFOLLOW | O_PATH | O_CLOEXEC;

/// Serialises host runs: the umask is per process.
static HOST_LOCK: Mutex<()> = Mutex::new(());

/// What a differential run found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffReport {
    /// Calls whose results were compared.
    pub compared: usize,
    /// Why the script was not run on the host, if it was not.
    pub skipped: Option<String>,
    /// Calls not compared because of a `# host-differs:` comment.
    pub host_differs: usize,
    /// Disagreements: `file:line: `call`: kernel RESULT, host RESULT`.
    pub mismatches: Vec<String>,
}

/// Runs `scenario` on the kernel at `seed` and on the host, and compares
/// them call by call. `Err` when the host side cannot be set up.
pub fn diff(scenario: &Scenario, seed: u64) -> Result<DiffReport, String> {
    if let Some(reason) = skip_reason(scenario) {
        return Ok(DiffReport {
            skipped: Some(reason),
            ..DiffReport::default()
        });
    }
    let case = run_case(scenario, seed, &CaseOptions::default());
    diff_log(scenario, &case.log)
}

/// Compares the host with a kernel run's call log (`CaseResult::log`, one
/// `thread: CALL = RESULT` line per statement) of `scenario`. [`diff`] is
/// this with the log of a fresh kernel run; tests hand it doctored logs.
pub fn diff_log(scenario: &Scenario, kernel_log: &[String]) -> Result<DiffReport, String> {
    if let Some(reason) = skip_reason(scenario) {
        return Ok(DiffReport {
            skipped: Some(reason),
            ..DiffReport::default()
        });
    }
    let kernel: Vec<&str> = kernel_log
        .iter()
        .filter_map(|line| line.strip_prefix("main: "))
        .filter(|line| !line.starts_with("sleep ") && *line != "halt = ok")
        .collect();
    let _guard = HOST_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let old_umask = rustix::process::umask(Mode::empty());
    let result = Host::new().map(|mut host| compare(scenario, &mut host, &kernel));
    rustix::process::umask(old_umask);
    result
}

/// Why the host cannot run `scenario`, if it cannot.
pub fn skip_reason(scenario: &Scenario) -> Option<String> {
    let settings = &scenario.settings;
    if settings.expect_fail {
        return Some("expect-fail script".into());
    }
    if !settings.factions.contains(&Faction::Vfs) {
        return Some("boots without vfs".into());
    }
    if !settings.drivers.contains(&"tmpfs") {
        return Some("boots without tmpfs".into());
    }
    if !settings.faults.is_empty() {
        return Some("has a fault plan".into());
    }
    if settings.params.contains_key("memlimit") {
        return Some("boots with a memory limit (memlimit)".into());
    }
    let mut first_call = true;
    for stmt in &scenario.script.stmts {
        match &stmt.kind {
            StmtKind::Threads(_) => return Some("has a threads block".into()),
            StmtKind::Call(call) => {
                let root = is_root_mount(call);
                match call.name.node.as_str() {
                    "mount" if !root => {
                        let devfs = matches!(
                            call.args.first().map(|a| &a.node),
                            Some(Value::Name(n)) if n == "devfs"
                        );
                        return Some(if devfs {
                            "mounts devfs".into()
                        } else {
                            "mounts a file system other than tmpfs on \"/\"".into()
                        });
                    }
                    "unmount" => return Some("unmounts".into()),
                    _ => {}
                }
                if first_call && !root {
                    return Some("its first call is not `mount tmpfs \"/\"`".into());
                }
                first_call = false;
            }
            _ => {}
        }
    }
    None
}

fn is_root_mount(call: &Call) -> bool {
    call.name.node == "mount"
        && matches!(call.args.first().map(|a| &a.node), Some(Value::Name(n)) if n == "tmpfs")
        && matches!(call.args.get(1).map(|a| &a.node), Some(Value::Str(p)) if p == b"/")
}

/// Whether the line before `stmt` is a `# host-differs:` comment.
fn host_differs(scenario: &Scenario, stmt: &Stmt) -> bool {
    let source = &scenario.script.source;
    let (line, _) = rumpkit_scenario::line_col(source, stmt.span.start);
    line >= 2
        && source
            .lines()
            .nth(line - 2)
            .is_some_and(|l| l.trim_start().starts_with(HOST_DIFFERS))
}

fn compare(scenario: &Scenario, host: &mut Host, kernel: &[&str]) -> DiffReport {
    let mut report = DiffReport::default();
    let mut scope = Scope::new();
    let mut kernel = kernel.iter();
    for stmt in &scenario.script.stmts {
        let call = match &stmt.kind {
            StmtKind::Halt => break,
            StmtKind::Call(call) => call,
            _ => continue,
        };
        let (line, _) = rumpkit_scenario::line_col(&scenario.script.source, stmt.span.start);
        let text = call_text(call);
        let at = format!("{}:{line}: `{text}`", scenario.file_name);
        // The kernel's run stopped before this call (a failed expectation).
        let Some(kernel_line) = kernel.next() else {
            break;
        };
        let Some(kernel_shown) = kernel_line.strip_prefix(&format!("{text} = ")) else {
            report.mismatches.push(format!(
                "{at}: the kernel's log is out of step here (it has `{kernel_line}`)"
            ));
            break;
        };
        let args = match eval_args(call, &scope) {
            Ok(args) => args,
            Err(message) => {
                report
                    .mismatches
                    .push(format!("{at}: on the host: {message}"));
                break;
            }
        };
        let result = host.call(&call.name.node, &args);
        if let Some(bind) = &call.bind {
            // As the executor binds: a failed call binds what C code would
            // hold (-1, or no bytes).
            let bound = match &result {
                Ok(Res::Unit) => None,
                Ok(Res::Int(n)) => Some(Bound::Int(*n)),
                Ok(Res::Fd(fd)) => Some(Bound::Fd(*fd)),
                Ok(Res::Bytes(bytes)) => Some(Bound::Bytes(bytes.clone())),
                Ok(Res::Stat(_)) => Some(Bound::Stat),
                Err(_) => match KernelTable.signature(&call.name.node).map(|s| s.result) {
                    Some(ResultKind::Fd) => Some(Bound::Fd(-1)),
                    Some(ResultKind::Int) => Some(Bound::Int(-1)),
                    Some(ResultKind::Bytes) => Some(Bound::Bytes(Vec::new())),
                    _ => None,
                },
            };
            if let Some(bound) = bound {
                scope.insert(bind.node.clone(), bound);
            }
        }
        if is_root_mount(call) {
            continue;
        }
        if host_differs(scenario, stmt) {
            report.host_differs += 1;
            continue;
        }
        report.compared += 1;
        let host_shown = show_host(&result);
        let name = call.name.node.as_str();
        let dir_sizes = host.on_tmpfs;
        if normalise(name, kernel_shown, dir_sizes) != normalise(name, &host_shown, dir_sizes) {
            let expects = match &call.expect {
                None => " (the script expects success)".to_string(),
                Some(expect) => {
                    let full = rumpkit_scenario::print_stmts(std::slice::from_ref(stmt));
                    let alts = full
                        .split_once(" -> ")
                        .map_or(String::new(), |(_, alts)| alts.trim_end().to_string());
                    let host_ok = match host_kresult(&result) {
                        Some(r) => expect.alts.iter().any(|alt| matches(&alt.node, &r)),
                        None => false,
                    };
                    format!(
                        " (the script expects {alts}; the host {} it)",
                        if host_ok { "matches" } else { "does not match" }
                    )
                }
            };
            report.mismatches.push(format!(
                "{at}: kernel {kernel_shown}, host {host_shown}{expects}"
            ));
        }
    }
    report
}

/// A host result as the kernel's result type, when its errno is one the
/// kernel knows.
fn host_kresult(result: &Result<Res, i32>) -> Option<KResult<Res>> {
    match result {
        Ok(res) => Some(Ok(res.clone())),
        Err(raw) => Errno::from_raw(*raw).map(Err),
    }
}

fn show_host(result: &Result<Res, i32>) -> String {
    match host_kresult(result) {
        Some(result) => show(&result),
        None => match result {
            Err(raw) => format!("errno {raw}"),
            Ok(_) => unreachable!("successes always convert"),
        },
    }
}

/// A printed result in the form that is compared: descriptors without their
/// number, directory sizes left out unless `dir_sizes`, `getdents` names
/// sorted.
fn normalise(call: &str, shown: &str, dir_sizes: bool) -> String {
    if shown.starts_with("fd ") {
        return "fd".into();
    }
    if !dir_sizes && shown.contains(" type=dir ") {
        return shown
            .split(' ')
            .filter(|field| !field.starts_with("size="))
            .collect::<Vec<_>>()
            .join(" ");
    }
    if call == "getdents" {
        if let Some(bytes) = unquote(shown) {
            let mut names: Vec<Vec<u8>> = bytes
                .split(|&b| b == b'\n')
                .filter(|n| !n.is_empty())
                .map(<[u8]>::to_vec)
                .collect();
            names.sort();
            return quote(&join_names(&names));
        }
    }
    shown.to_string()
}

/// The bytes of a complete string literal printed by [`quote`] (`None` for
/// shortened ones and anything else).
fn unquote(text: &str) -> Option<Vec<u8>> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = Vec::new();
    let mut bytes = inner.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        out.push(match bytes.next()? {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'0' => 0,
            b'\\' => b'\\',
            b'"' => b'"',
            b'x' => {
                let hex = [bytes.next()?, bytes.next()?];
                u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?
            }
            _ => return None,
        });
    }
    Some(out)
}

/// The last component of a path, or the root itself.
enum Last<'a> {
    Root,
    Name { parent: &'a [u8], name: &'a [u8] },
}

/// Splits `path` into its parent and its last component (trailing slashes
/// stay with the component, as Linux wants to see them).
fn split(path: &[u8]) -> Last<'_> {
    let end = path.len() - path.iter().rev().take_while(|&&b| b == b'/').count();
    if end == 0 {
        return Last::Root;
    }
    let start = path[..end]
        .iter()
        .rposition(|&b| b == b'/')
        .map_or(0, |i| i + 1);
    Last::Name {
        parent: &path[..start],
        name: &path[start..],
    }
}

fn trim_slashes(name: &[u8]) -> &[u8] {
    let end = name.len() - name.iter().rev().take_while(|&&b| b == b'/').count();
    &name[..end]
}

/// A path argument as Linux sees it: not empty, shorter than `PATH_MAX`,
/// and without NUL bytes (no C string holds one; Rust's `std` and `rustix`
/// answer `EINVAL`, and so does the kernel's typed API).
fn c_path(bytes: &[u8]) -> Result<&[u8], i32> {
    if bytes.contains(&0) {
        Err(Errno::EINVAL.raw())
    } else if bytes.len() >= PATH_MAX {
        Err(Errno::ENAMETOOLONG.raw())
    } else if bytes.is_empty() {
        Err(Errno::ENOENT.raw())
    } else {
        Ok(bytes)
    }
}

fn raw(e: rustix::io::Errno) -> i32 {
    e.raw_os_error()
}

fn to_stat(st: &rustix::fs::Stat) -> Stat {
    Stat {
        dev: st.st_dev,
        ino: st.st_ino,
        mode: st.st_mode,
        nlink: st.st_nlink as u32,
        uid: st.st_uid,
        gid: st.st_gid,
        rdev: st.st_rdev,
        size: st.st_size,
        blksize: st.st_blksize,
        blocks: st.st_blocks,
        ..Stat::default()
    }
}

fn is_dir(st: &rustix::fs::Stat) -> bool {
    st.st_mode & abi::S_IFMT == abi::S_IFDIR
}

fn is_symlink(st: &rustix::fs::Stat) -> bool {
    st.st_mode & abi::S_IFMT == abi::S_IFLNK
}

/// The root directory's temporary home, emptied and removed on drop even
/// where a script took permissions away.
struct TempRoot(Option<tempfile::TempDir>);

impl Drop for TempRoot {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            give_back_permissions(dir.path());
            let _ = dir.close();
        }
    }
}

fn give_back_permissions(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            give_back_permissions(&entry.path());
        }
    }
}

/// The host side of a differential run.
struct Host {
    root: OwnedFd,
    /// Whether the root is on a tmpfs (whose directory sizes rumpkit's
    /// tmpfs imitates).
    on_tmpfs: bool,
    fds: Vec<Option<OwnedFd>>,
    // Dropped last: the descriptors above close first.
    _dir: TempRoot,
}

impl Host {
    fn new() -> Result<Host, String> {
        let shm = Path::new("/dev/shm");
        let on_tmpfs = rustix::fs::statfs(shm).is_ok_and(|st| st.f_type == TMPFS_MAGIC);
        let mut builder = tempfile::Builder::new();
        builder.prefix("rumpkit-host-");
        let dir = if on_tmpfs {
            builder.tempdir_in(shm)
        } else {
            builder.tempdir()
        }
        .map_err(|e| format!("cannot make the host's root directory: {e}"))?;
        let dir = TempRoot(Some(dir));
        let path = dir
            .0
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_default();
        let root = rustix::fs::open(
            &path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        rustix::fs::fchmod(&root, Mode::from_raw_mode(0o1777))
            .map_err(|e| format!("cannot chmod {}: {e}", path.display()))?;
        // openat2 is Linux 5.6 and newer.
        resolve(&root, b"/", OFlags::PATH | OFlags::DIRECTORY).map_err(|e| {
            format!("openat2(RESOLVE_IN_ROOT) is not available on this host: errno {e}")
        })?;
        Ok(Host {
            root,
            on_tmpfs,
            fds: Vec::new(),
            _dir: dir,
        })
    }

    fn fd(&self, fd: i32) -> Result<&OwnedFd, i32> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get(i))
            .and_then(Option::as_ref)
            .ok_or(Errno::EBADF.raw())
    }

    /// The lowest free descriptor number, or `EMFILE`.
    fn free_slot(&self) -> Result<usize, i32> {
        match self.fds.iter().position(Option::is_none) {
            Some(i) => Ok(i),
            None if self.fds.len() < OPEN_MAX => Ok(self.fds.len()),
            None => Err(Errno::EMFILE.raw()),
        }
    }

    fn install(&mut self, slot: usize, fd: OwnedFd) -> Res {
        if slot == self.fds.len() {
            self.fds.push(Some(fd));
        } else {
            self.fds[slot] = Some(fd);
        }
        Res::Fd(slot as i32)
    }

    /// Resolves `path` inside the root (following a final symlink unless
    /// `flags` has `O_NOFOLLOW`).
    fn open_path(&self, path: &[u8], flags: OFlags) -> Result<OwnedFd, i32> {
        resolve(&self.root, c_path(path)?, flags)
    }

    /// The directory a last component is in.
    fn parent(&self, parent: &[u8]) -> Result<OwnedFd, i32> {
        let parent = if parent.is_empty() { b"." } else { parent };
        resolve(&self.root, parent, OFlags::PATH | OFlags::DIRECTORY)
    }

    fn call(&mut self, name: &str, args: &[crate::exec::ArgVal]) -> Result<Res, i32> {
        let a = |i| arg(args, i);
        let u32_of = |i| a(i).int() as u32;
        Ok(match name {
            "open" => {
                let slot = self.free_slot()?;
                let mut flags = u32_of(1) & VALID_OPEN_FLAGS;
                if flags & O_PATH != 0 {
                    flags &= O_PATH_FLAGS;
                }
                let mode = if flags & (abi::O_CREAT | O_TMPFILE_BIT) != 0 {
                    u32_of(2) & 0o7777
                } else {
                    0
                };
                let path_arg = a(0);
                let path = c_path(path_arg.bytes())?;
                let fd = rustix::fs::openat2(
                    &self.root,
                    path,
                    OFlags::from_bits_retain(flags) | OFlags::CLOEXEC,
                    Mode::from_raw_mode(mode),
                    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
                )
                .map_err(raw)?;
                self.install(slot, fd)
            }
            "close" => {
                let fd = a(0).fd();
                self.fd(fd)?;
                self.fds[fd as usize] = None;
                while self.fds.last().is_some_and(Option::is_none) {
                    self.fds.pop();
                }
                Res::Unit
            }
            "read" => {
                let mut buf = buffer(a(1).int())?;
                let n = rustix::io::read(self.fd(a(0).fd())?, &mut buf[..]).map_err(raw)?;
                buf.truncate(n);
                Res::Bytes(buf)
            }
            "write" => {
                Res::Int(rustix::io::write(self.fd(a(0).fd())?, a(1).bytes()).map_err(raw)? as i64)
            }
            "pread" => {
                let mut buf = buffer(a(1).int())?;
                let offset = offset(a(2).int())?;
                let n =
                    rustix::io::pread(self.fd(a(0).fd())?, &mut buf[..], offset).map_err(raw)?;
                buf.truncate(n);
                Res::Bytes(buf)
            }
            "pwrite" => {
                let offset = offset(a(2).int())?;
                let n =
                    rustix::io::pwrite(self.fd(a(0).fd())?, a(1).bytes(), offset).map_err(raw)?;
                Res::Int(n as i64)
            }
            "lseek" => {
                let fd = self.fd(a(0).fd())?;
                let off = a(1).int();
                let pos = match u32_of(2) {
                    abi::SEEK_SET => SeekFrom::Start(off as u64),
                    abi::SEEK_CUR => SeekFrom::Current(off),
                    abi::SEEK_END => SeekFrom::End(off),
                    abi::SEEK_DATA => SeekFrom::Data(off as u64),
                    abi::SEEK_HOLE => SeekFrom::Hole(off as u64),
                    _ => return Err(Errno::EINVAL.raw()),
                };
                Res::Int(rustix::fs::seek(fd, pos).map_err(raw)? as i64)
            }
            "fsync" => {
                rustix::fs::fsync(self.fd(a(0).fd())?).map_err(raw)?;
                Res::Unit
            }
            "ftruncate" => {
                let length = offset(a(1).int())?;
                rustix::fs::ftruncate(self.fd(a(0).fd())?, length).map_err(raw)?;
                Res::Unit
            }
            "truncate" => {
                let length = offset(a(1).int())?;
                let file = self.open_path(
                    a(0).bytes(),
                    OFlags::WRONLY | OFlags::NONBLOCK | OFlags::NOCTTY,
                )?;
                rustix::fs::ftruncate(&file, length).map_err(raw)?;
                Res::Unit
            }
            "stat" => {
                let file = self.open_path(a(0).bytes(), OFlags::PATH)?;
                Res::Stat(to_stat(&rustix::fs::fstat(&file).map_err(raw)?))
            }
            "lstat" => {
                let file = self.open_path(a(0).bytes(), OFlags::PATH | OFlags::NOFOLLOW)?;
                Res::Stat(to_stat(&rustix::fs::fstat(&file).map_err(raw)?))
            }
            "fstat" => Res::Stat(to_stat(
                &rustix::fs::fstat(self.fd(a(0).fd())?).map_err(raw)?,
            )),
            "mkdir" => {
                let mode = if args.len() > 1 { u32_of(1) } else { 0o777 };
                match split(c_path(a(0).bytes())?) {
                    Last::Root => return Err(Errno::EEXIST.raw()),
                    Last::Name { parent, name } => {
                        let dir = self.parent(parent)?;
                        rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(mode & 0o7777))
                            .map_err(raw)?;
                    }
                }
                Res::Unit
            }
            "rmdir" | "unlink" => {
                let (root_errno, flags) = if name == "rmdir" {
                    (Errno::EBUSY, AtFlags::REMOVEDIR)
                } else {
                    (Errno::EISDIR, AtFlags::empty())
                };
                match split(c_path(a(0).bytes())?) {
                    Last::Root => return Err(root_errno.raw()),
                    Last::Name { parent, name } => {
                        let dir = self.parent(parent)?;
                        rustix::fs::unlinkat(&dir, name, flags).map_err(raw)?;
                    }
                }
                Res::Unit
            }
            "rename" => {
                let from = a(0);
                let to = a(1);
                let from = self.name_in_dir(from.bytes())?;
                let to = self.name_in_dir(to.bytes())?;
                match (from, to) {
                    (Some((from_dir, from_name)), Some((to_dir, to_name))) => {
                        rustix::fs::renameat(&from_dir, from_name, &to_dir, to_name).map_err(raw)?
                    }
                    _ => return Err(Errno::EBUSY.raw()),
                }
                Res::Unit
            }
            "link" => {
                self.link(a(0).bytes(), a(1).bytes())?;
                Res::Unit
            }
            "symlink" => {
                let target_arg = a(0);
                let target = c_path(target_arg.bytes())?;
                match self.name_in_dir(a(1).bytes())? {
                    None => return Err(Errno::EEXIST.raw()),
                    Some((dir, name)) => {
                        rustix::fs::symlinkat(target, &dir, name).map_err(raw)?;
                    }
                }
                Res::Unit
            }
            "readlink" => {
                let file = self.open_path(a(0).bytes(), OFlags::PATH | OFlags::NOFOLLOW)?;
                let st = rustix::fs::fstat(&file).map_err(raw)?;
                if !is_symlink(&st) {
                    return Err(Errno::EINVAL.raw());
                }
                let target = rustix::fs::readlinkat(&file, "", Vec::new()).map_err(raw)?;
                Res::Bytes(target.into_bytes())
            }
            "getdents" => Res::Bytes(join_names(&read_dir(self.fd(a(0).fd())?)?)),
            "readdir" => {
                self.free_slot()?;
                let dir = self.open_path(a(0).bytes(), OFlags::RDONLY | OFlags::DIRECTORY)?;
                let mut names = read_dir(&dir)?;
                names.sort();
                Res::Bytes(join_names(&names))
            }
            "chmod" => {
                self.chmod(a(0).bytes(), u32_of(1) & 0o7777)?;
                Res::Unit
            }
            "dup" => {
                let fd = self.fd(a(0).fd())?;
                let slot = self.free_slot()?;
                let copy = rustix::io::fcntl_dupfd_cloexec(fd, 0).map_err(raw)?;
                self.install(slot, copy)
            }
            "sync" => {
                rustix::fs::syncfs(&self.root).map_err(raw)?;
                Res::Unit
            }
            // The root mount (the only one a compared script has) and
            // sleeping change nothing on the host.
            "mount" | "nanosleep" => Res::Unit,
            _ => return Err(Errno::ENOSYS.raw()),
        })
    }

    /// The directory and last component of a path whose last component a
    /// call creates, removes or renames; `None` for the root itself.
    fn name_in_dir<'p>(&self, path: &'p [u8]) -> Result<Option<(OwnedFd, &'p [u8])>, i32> {
        match split(c_path(path)?) {
            Last::Root => Ok(None),
            Last::Name { parent, name } => Ok(Some((self.parent(parent)?, name))),
        }
    }

    /// `link`: the existing path is looked up first and not followed (but a
    /// trailing slash follows, as in Linux's lookup).
    fn link(&self, existing: &[u8], new: &[u8]) -> Result<(), i32> {
        let object = self.open_path(existing, OFlags::PATH | OFlags::NOFOLLOW)?;
        let st = rustix::fs::fstat(&object).map_err(raw)?;
        let Some((new_dir, new_name)) = self.name_in_dir(new)? else {
            return Err(Errno::EEXIST.raw());
        };
        if is_dir(&st) {
            // Linux refuses hard links to directories after checking that
            // the new name could be created.
            let bare = trim_slashes(new_name);
            if bare == b"." || bare == b".." {
                return Err(Errno::EEXIST.raw());
            }
            if rustix::fs::statat(&new_dir, bare, AtFlags::SYMLINK_NOFOLLOW).is_ok() {
                return Err(Errno::EEXIST.raw());
            }
            if bare.len() != new_name.len() {
                return Err(Errno::ENOENT.raw());
            }
            return Err(Errno::EPERM.raw());
        }
        let Last::Name { parent, name } = split(c_path(existing)?) else {
            return Err(Errno::EPERM.raw());
        };
        let old_dir = self.parent(parent)?;
        rustix::fs::linkat(&old_dir, name, &new_dir, new_name, AtFlags::empty()).map_err(raw)
    }

    /// `chmod`, which follows symlinks: directories are changed through a
    /// descriptor for themselves (`fchmodat(dir, ".")`); other files through
    /// their directory, after following final symlinks by hand inside the
    /// root.
    fn chmod(&self, path: &[u8], mode: u32) -> Result<(), i32> {
        let mode = Mode::from_raw_mode(mode);
        let object = self.open_path(path, OFlags::PATH)?;
        let st = rustix::fs::fstat(&object).map_err(raw)?;
        if is_dir(&st) {
            return rustix::fs::chmodat(&object, ".", mode, AtFlags::empty()).map_err(raw);
        }
        let mut path = c_path(path)?.to_vec();
        for _ in 0..=40 {
            let Last::Name { parent, name } = split(&path) else {
                return Err(Errno::EISDIR.raw());
            };
            let dir = self.parent(parent)?;
            let st = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(raw)?;
            if !is_symlink(&st) {
                return rustix::fs::chmodat(&dir, name, mode, AtFlags::empty()).map_err(raw);
            }
            let target = rustix::fs::readlinkat(&dir, name, Vec::new())
                .map_err(raw)?
                .into_bytes();
            path = if target.first() == Some(&b'/') {
                target
            } else {
                let mut joined = parent.to_vec();
                joined.extend_from_slice(&target);
                joined
            };
        }
        Err(Errno::ELOOP.raw())
    }
}

/// Resolves `path` below `root` as if `root` were `/`.
fn resolve(root: &OwnedFd, path: &[u8], flags: OFlags) -> Result<OwnedFd, i32> {
    rustix::fs::openat2(
        root,
        path,
        flags | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(raw)
}

/// A read buffer as the executor makes it: a negative length is `EINVAL`
/// before anything else.
fn buffer(len: i64) -> Result<Vec<u8>, i32> {
    if len < 0 {
        return Err(Errno::EINVAL.raw());
    }
    Ok(vec![0; (len as usize).min(READ_MAX)])
}

/// A file offset or length: negative ones are `EINVAL` before the
/// descriptor is looked at, as in Linux.
fn offset(value: i64) -> Result<u64, i32> {
    u64::try_from(value).map_err(|_| Errno::EINVAL.raw())
}

/// Every name left in a directory, `.` and `..` left out.
fn read_dir(fd: impl AsFd) -> Result<Vec<Vec<u8>>, i32> {
    let mut buf = vec![MaybeUninit::<u8>::uninit(); 4096];
    let mut dir = RawDir::new(fd, &mut buf);
    let mut names = Vec::new();
    while let Some(entry) = dir.next() {
        let entry = entry.map_err(raw)?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_trailing_slashes_with_the_last_component() {
        let parts = |p: &'static [u8]| match split(p) {
            Last::Root => None,
            Last::Name { parent, name } => Some((parent, name)),
        };
        assert_eq!(parts(b"/a/b"), Some((&b"/a/"[..], &b"b"[..])));
        assert_eq!(parts(b"/a/b//"), Some((&b"/a/"[..], &b"b//"[..])));
        assert_eq!(parts(b"a"), Some((&b""[..], &b"a"[..])));
        assert_eq!(parts(b"/a"), Some((&b"/"[..], &b"a"[..])));
        assert_eq!(parts(b"/"), None);
        assert_eq!(parts(b"///"), None);
    }

    #[test]
    fn unquote_reverses_quote() {
        let bytes = b"a\n\t\r\0\\\"\xff z".to_vec();
        assert_eq!(unquote(&quote(&bytes)), Some(bytes));
        assert_eq!(unquote(&quote(&[b'x'; 100])), None);
    }

    #[test]
    fn normalise_ignores_what_is_not_compared() {
        assert_eq!(
            normalise("open", "fd 3", true),
            normalise("open", "fd 7", true)
        );
        let dir40 = "size=40 type=dir mode=0o755 nlink=2";
        let dir0 = "size=0 type=dir mode=0o755 nlink=2";
        assert_eq!(
            normalise("stat", dir40, false),
            normalise("stat", dir0, false)
        );
        assert_ne!(
            normalise("stat", dir40, true),
            normalise("stat", dir0, true)
        );
        assert_ne!(
            normalise("stat", "size=4 type=reg mode=0o644 nlink=1", false),
            normalise("stat", "size=5 type=reg mode=0o644 nlink=1", false)
        );
        assert_eq!(
            normalise("getdents", "\"b\\na\\n\"", true),
            normalise("getdents", "\"a\\nb\\n\"", true)
        );
    }
}
