//! The reference model of tmpfs semantics: a small in-memory file system
//! written from Linux's rules, including the order in which Linux checks
//! things (for `rename`: both parents, then the source, then the "trap" of a
//! directory moved below itself or onto its own ancestor, then same-inode,
//! then the file-type rules). It answers the typed calls of the `syscalls`
//! fuzz target ([`Op`]): `open`, `close`, `read`, `write`, `pread`, `pwrite`,
//! `lseek`, `fsync`, `ftruncate`, `truncate`, `stat`, `lstat`, `fstat`,
//! `mkdir`, `rmdir`, `unlink`, `rename`, `link`, `symlink`, `readlink`,
//! `chmod`, `dup` (descriptors that share one open file and its offset) and
//! `sync`, with arbitrary write data.
//!
//! Two users compare the kernel with it through [`Checker`]: the `syscalls`
//! target, for single-threaded fault-free inputs, and the proptest suite
//! `harness/tests/vfs_model.rs`, which makes random sequences of these calls.
//! Inode numbers are compared as a relation: two paths name the same kernel
//! inode exactly when they name the same model inode.
//!
//! Calls the model does not know (`mount`, `unmount`, `getdents`) answer
//! `None`; the caller stops comparing once such a call may have changed the
//! state.

use std::collections::BTreeMap;

use rumpkit_kernel::syscall::abi::*;
use rumpkit_kernel::syscall::OPEN_MAX;
use rumpkit_kernel::Errno::{self, *};
use rumpkit_kernel::Sys;

use super::syscalls::{Op, PATHS};

/// The most symlinks one lookup follows (Linux's `MAXSYMLINKS`).
const MAX_SYMLINKS: u32 = 40;

/// What a call gave, apart from inode numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// A number (a descriptor, a count, an offset; 0 for "done").
    N(i64),
    /// Bytes read.
    Bytes(Vec<u8>),
    /// File type bits, link count, and size (not for directories, whose size
    /// is the file system's business).
    Stat(u32, u32, Option<i64>),
}

/// A result with the model inode `stat` talked about, if any.
pub type Answer<I> = Result<(Val, Option<I>), Errno>;

/// A model inode number.
pub type Ino = usize;

#[derive(Debug, Clone)]
enum Node {
    File(Vec<u8>),
    Dir(BTreeMap<Vec<u8>, Ino>),
    Symlink(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Inode {
    node: Node,
    /// Names of a file or symlink; for a directory, 1 while it is linked.
    links: u32,
}

/// An open file description (shared by `dup`ed descriptors).
#[derive(Debug, Clone, Copy)]
struct OpenFile {
    ino: Ino,
    offset: i64,
    read: bool,
    write: bool,
    append: bool,
}

/// The model file system and one process's descriptor table.
#[derive(Debug)]
pub struct Model {
    inodes: Vec<Inode>,
    files: Vec<OpenFile>,
    fds: Vec<Option<usize>>,
}

const ROOT: Ino = 0;

impl Default for Model {
    fn default() -> Model {
        Model::new()
    }
}

fn components(path: &[u8]) -> Vec<&[u8]> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect()
}

impl Model {
    /// An empty root directory and no descriptors.
    pub fn new() -> Model {
        Model {
            inodes: vec![Inode {
                node: Node::Dir(BTreeMap::new()),
                links: 1,
            }],
            files: Vec::new(),
            fds: Vec::new(),
        }
    }

    fn alloc(&mut self, node: Node) -> Ino {
        self.inodes.push(Inode { node, links: 1 });
        self.inodes.len() - 1
    }

    fn entries(&self, dir: Ino) -> Option<&BTreeMap<Vec<u8>, Ino>> {
        match &self.inodes[dir].node {
            Node::Dir(entries) => Some(entries),
            _ => None,
        }
    }

    fn entries_mut(&mut self, dir: Ino) -> &mut BTreeMap<Vec<u8>, Ino> {
        match &mut self.inodes[dir].node {
            Node::Dir(entries) => entries,
            _ => panic!("model: not a directory"),
        }
    }

    fn is_dir(&self, ino: Ino) -> bool {
        matches!(self.inodes[ino].node, Node::Dir(_))
    }

    fn lookup(&self, dir: Ino, name: &[u8]) -> Option<Ino> {
        self.entries(dir)?.get(name).copied()
    }

    /// Follows `path` from the root; the last component is followed if it is
    /// a symlink and `follow` says so.
    fn walk(&self, path: &[u8], follow: bool, links: &mut u32) -> Result<Ino, Errno> {
        let parts = components(path);
        let mut cur = ROOT;
        for (i, part) in parts.iter().enumerate() {
            let entries = self.entries(cur).ok_or(ENOTDIR)?;
            let mut child = *entries.get(*part).ok_or(ENOENT)?;
            let last = i + 1 == parts.len();
            if let Node::Symlink(target) = &self.inodes[child].node {
                if !last || follow {
                    *links += 1;
                    if *links > MAX_SYMLINKS {
                        return Err(ELOOP);
                    }
                    child = self.walk(&target.clone(), true, links)?;
                }
            }
            cur = child;
        }
        Ok(cur)
    }

    /// The directory holding the last component of `path`, and that name.
    fn parent<'p>(&self, path: &'p [u8], links: &mut u32) -> Result<(Ino, &'p [u8]), Errno> {
        let parts = components(path);
        let (name, dirs) = parts.split_last().expect("paths have a last component");
        let mut cur = ROOT;
        for part in dirs {
            let entries = self.entries(cur).ok_or(ENOTDIR)?;
            let mut child = *entries.get(*part).ok_or(ENOENT)?;
            if let Node::Symlink(target) = &self.inodes[child].node {
                *links += 1;
                if *links > MAX_SYMLINKS {
                    return Err(ELOOP);
                }
                child = self.walk(&target.clone(), true, links)?;
            }
            cur = child;
        }
        if !self.is_dir(cur) {
            return Err(ENOTDIR);
        }
        Ok((cur, name))
    }

    /// The directories from the root down to `dir`.
    fn chain(&self, dir: Ino) -> Vec<Ino> {
        fn search(model: &Model, at: Ino, goal: Ino, path: &mut Vec<Ino>) -> bool {
            path.push(at);
            if at == goal {
                return true;
            }
            if let Some(entries) = model.entries(at) {
                for &child in entries.values() {
                    if model.is_dir(child) && search(model, child, goal, path) {
                        return true;
                    }
                }
            }
            path.pop();
            false
        }
        let mut path = Vec::new();
        assert!(
            search(self, ROOT, dir, &mut path),
            "model: directory {dir} is linked"
        );
        path
    }

    fn nlink(&self, ino: Ino) -> u32 {
        match &self.inodes[ino].node {
            Node::Dir(entries) => {
                if self.inodes[ino].links == 0 {
                    return 0;
                }
                2 + entries.values().filter(|&&c| self.is_dir(c)).count() as u32
            }
            _ => self.inodes[ino].links,
        }
    }

    /// Whether `ino` still has a name or an open descriptor.
    fn alive(&self, ino: Ino) -> bool {
        self.nlink(ino) > 0 || self.fds.iter().flatten().any(|&f| self.files[f].ino == ino)
    }

    fn stat_of(&self, ino: Ino) -> Val {
        let nlink = self.nlink(ino);
        match &self.inodes[ino].node {
            Node::File(data) => Val::Stat(S_IFREG, nlink, Some(data.len() as i64)),
            Node::Dir(_) => Val::Stat(S_IFDIR, nlink, None),
            Node::Symlink(target) => Val::Stat(S_IFLNK, nlink, Some(target.len() as i64)),
        }
    }

    /// The open file behind descriptor `fd`.
    fn fd(&self, fd: i32) -> Result<usize, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get(i).copied().flatten())
            .ok_or(EBADF)
    }

    /// The lowest free descriptor, or `EMFILE`.
    fn free_fd(&self) -> Result<usize, Errno> {
        match self.fds.iter().position(Option::is_none) {
            Some(fd) => Ok(fd),
            None if self.fds.len() >= OPEN_MAX => Err(EMFILE),
            None => Ok(self.fds.len()),
        }
    }

    fn install(&mut self, fd: usize, file: usize) {
        if fd == self.fds.len() {
            self.fds.push(Some(file));
        } else {
            self.fds[fd] = Some(file);
        }
    }

    fn open(&mut self, path: &[u8], flags: u32) -> Answer<Ino> {
        let fd = self.free_fd()?;
        let mut links = 0;
        let ino = if flags & O_CREAT != 0 {
            self.open_create(path, flags, &mut links)?
        } else {
            self.walk(path, true, &mut links)?
        };
        let accmode = flags & O_ACCMODE;
        if flags & O_DIRECTORY != 0 && !self.is_dir(ino) {
            return Err(ENOTDIR);
        }
        if self.is_dir(ino) && (accmode != O_RDONLY || flags & (O_CREAT | O_TRUNC) != 0) {
            return Err(EISDIR);
        }
        if flags & O_TRUNC != 0 {
            if let Node::File(data) = &mut self.inodes[ino].node {
                data.clear();
            }
        }
        self.files.push(OpenFile {
            ino,
            offset: 0,
            read: accmode != O_WRONLY,
            write: accmode != O_RDONLY,
            append: flags & O_APPEND != 0,
        });
        self.install(fd, self.files.len() - 1);
        Ok((Val::N(fd as i64), None))
    }

    fn open_create(&mut self, path: &[u8], flags: u32, links: &mut u32) -> Result<Ino, Errno> {
        let (dir, name) = self.parent(path, links)?;
        match self.lookup(dir, name) {
            Some(_) if flags & O_EXCL != 0 => Err(EEXIST),
            Some(ino) => match &self.inodes[ino].node {
                Node::Symlink(target) => {
                    *links += 1;
                    if *links > MAX_SYMLINKS {
                        return Err(ELOOP);
                    }
                    let target = target.clone();
                    self.open_create(&target, flags, links)
                }
                _ => Ok(ino),
            },
            None => {
                let ino = self.alloc(Node::File(Vec::new()));
                self.entries_mut(dir).insert(name.to_vec(), ino);
                Ok(ino)
            }
        }
    }

    /// `read` (`at` = `None`) and `pread`.
    fn read(&mut self, fd: i32, len: usize, at: Option<i64>) -> Answer<Ino> {
        if at.is_some_and(|at| at < 0) {
            return Err(EINVAL);
        }
        let f = self.fd(fd)?;
        let file = self.files[f];
        if !file.read {
            return Err(EBADF);
        }
        let Node::File(data) = &self.inodes[file.ino].node else {
            return Err(EISDIR);
        };
        let offset = at.unwrap_or(file.offset);
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let end = (start + len).min(data.len());
        let bytes = data[start..end].to_vec();
        if at.is_none() {
            self.files[f].offset += bytes.len() as i64;
        }
        Ok((Val::Bytes(bytes), None))
    }

    /// `write` (`at` = `None`) and `pwrite`.
    fn write(&mut self, fd: i32, bytes: &[u8], at: Option<i64>) -> Answer<Ino> {
        if at.is_some_and(|at| at < 0) {
            return Err(EINVAL);
        }
        let f = self.fd(fd)?;
        let file = self.files[f];
        if !file.write {
            return Err(EBADF);
        }
        if bytes.is_empty() {
            return Ok((Val::N(0), None));
        }
        let Node::File(data) = &mut self.inodes[file.ino].node else {
            unreachable!("model: directories are never open for writing");
        };
        let start = if file.append {
            data.len()
        } else {
            at.unwrap_or(file.offset) as usize
        };
        let end = start + bytes.len();
        if data.len() < end {
            data.resize(end, 0);
        }
        data[start..end].copy_from_slice(bytes);
        if at.is_none() {
            self.files[f].offset = end as i64;
        }
        Ok((Val::N(bytes.len() as i64), None))
    }

    fn lseek(&mut self, fd: i32, offset: i64, whence: u32) -> Answer<Ino> {
        let f = self.fd(fd)?;
        let file = self.files[f];
        let base = match (&self.inodes[file.ino].node, whence) {
            (_, SEEK_SET) => 0,
            (_, SEEK_CUR) => file.offset,
            (Node::File(data), SEEK_END) => data.len() as i64,
            // tmpfs directories refuse SEEK_END; unknown whence is EINVAL.
            _ => return Err(EINVAL),
        };
        let new = base + offset;
        if new < 0 {
            return Err(EINVAL);
        }
        self.files[f].offset = new;
        Ok((Val::N(new), None))
    }

    /// Applies `op` and gives its answer; `None` for a call the model does
    /// not know ([`Op::modelled`]).
    pub fn apply(&mut self, op: &Op) -> Option<Answer<Ino>> {
        Some(self.apply_known(op)).filter(|_| op.modelled())
    }

    fn apply_known(&mut self, op: &Op) -> Answer<Ino> {
        let unit = Ok((Val::N(0), None));
        let mut links = 0;
        match op {
            Op::Open { path, flags, .. } => self.open(path, *flags),
            Op::Close { fd } => {
                self.fd(*fd)?;
                self.fds[*fd as usize] = None;
                unit
            }
            Op::Read { fd, len } => self.read(*fd, *len, None),
            Op::Write { fd, data } => self.write(*fd, data, None),
            Op::Pread { fd, len, offset } => self.read(*fd, *len, Some(*offset)),
            Op::Pwrite { fd, data, offset } => self.write(*fd, data, Some(*offset)),
            Op::Lseek { fd, offset, whence } => self.lseek(*fd, *offset, *whence),
            Op::Fsync { fd } => self.fd(*fd).and(unit),
            Op::Ftruncate { fd, len } => {
                if *len < 0 {
                    return Err(EINVAL);
                }
                let file = self.files[self.fd(*fd)?];
                match &mut self.inodes[file.ino].node {
                    Node::File(data) if file.write => data.resize(*len as usize, 0),
                    _ => return Err(EINVAL),
                }
                unit
            }
            Op::Truncate { path, len } => {
                if *len < 0 {
                    return Err(EINVAL);
                }
                let ino = self.walk(path, true, &mut links)?;
                match &mut self.inodes[ino].node {
                    Node::File(data) => data.resize(*len as usize, 0),
                    Node::Dir(_) => return Err(EISDIR),
                    Node::Symlink(_) => unreachable!("model: followed"),
                }
                unit
            }
            Op::Stat { path } => {
                let ino = self.walk(path, true, &mut links)?;
                Ok((self.stat_of(ino), Some(ino)))
            }
            Op::Lstat { path } => {
                let ino = self.walk(path, false, &mut links)?;
                Ok((self.stat_of(ino), Some(ino)))
            }
            Op::Fstat { fd } => {
                let ino = self.files[self.fd(*fd)?].ino;
                Ok((self.stat_of(ino), Some(ino)))
            }
            Op::Mkdir { path } => {
                let (dir, name) = self.parent(path, &mut links)?;
                if self.lookup(dir, name).is_some() {
                    return Err(EEXIST);
                }
                let ino = self.alloc(Node::Dir(BTreeMap::new()));
                self.entries_mut(dir).insert(name.to_vec(), ino);
                unit
            }
            Op::Rmdir { path } => {
                let (dir, name) = self.parent(path, &mut links)?;
                let ino = self.lookup(dir, name).ok_or(ENOENT)?;
                match self.entries(ino) {
                    None => return Err(ENOTDIR),
                    Some(entries) if !entries.is_empty() => return Err(ENOTEMPTY),
                    Some(_) => {}
                }
                self.entries_mut(dir).remove(name);
                self.inodes[ino].links = 0;
                unit
            }
            Op::Unlink { path } => {
                let (dir, name) = self.parent(path, &mut links)?;
                let ino = self.lookup(dir, name).ok_or(ENOENT)?;
                if self.is_dir(ino) {
                    return Err(EISDIR);
                }
                self.entries_mut(dir).remove(name);
                self.inodes[ino].links -= 1;
                unit
            }
            Op::Rename { from, to } => self.rename(from, to).and(unit),
            Op::Link { existing, new } => {
                let ino = self.walk(existing, false, &mut links)?;
                let mut links = 0;
                let (dir, name) = self.parent(new, &mut links)?;
                if self.lookup(dir, name).is_some() {
                    return Err(EEXIST);
                }
                if self.is_dir(ino) {
                    return Err(EPERM);
                }
                self.entries_mut(dir).insert(name.to_vec(), ino);
                self.inodes[ino].links += 1;
                unit
            }
            Op::Symlink { target, path } => {
                let (dir, name) = self.parent(path, &mut links)?;
                if self.lookup(dir, name).is_some() {
                    return Err(EEXIST);
                }
                let ino = self.alloc(Node::Symlink(target.to_vec()));
                self.entries_mut(dir).insert(name.to_vec(), ino);
                unit
            }
            Op::Readlink { path, len } => {
                if *len == 0 {
                    return Err(EINVAL);
                }
                let ino = self.walk(path, false, &mut links)?;
                match &self.inodes[ino].node {
                    Node::Symlink(target) => {
                        Ok((Val::Bytes(target[..target.len().min(*len)].to_vec()), None))
                    }
                    _ => Err(EINVAL),
                }
            }
            Op::Chmod { path, .. } => self.walk(path, true, &mut links).and(unit),
            Op::Dup { fd } => {
                let file = self.fd(*fd)?;
                let new = self.free_fd()?;
                self.install(new, file);
                Ok((Val::N(new as i64), None))
            }
            Op::Sync => unit,
            Op::Getdents { .. } | Op::Mount { .. } | Op::Unmount { .. } => unit,
        }
    }

    fn rename(&mut self, old: &[u8], new: &[u8]) -> Result<(), Errno> {
        let mut links = 0;
        let (old_dir, old_name) = self.parent(old, &mut links)?;
        let mut links = 0;
        let (new_dir, new_name) = self.parent(new, &mut links)?;
        let source = self.lookup(old_dir, old_name).ok_or(ENOENT)?;
        let target = self.lookup(new_dir, new_name);
        if old_dir != new_dir {
            let old_chain = self.chain(old_dir);
            let new_chain = self.chain(new_dir);
            // Linux's lock_rename: the child of the upper directory on the
            // way to the lower one, when one is an ancestor of the other.
            let trap = if let Some(i) = new_chain.iter().position(|&d| d == old_dir) {
                Some(new_chain[i + 1])
            } else {
                old_chain
                    .iter()
                    .position(|&d| d == new_dir)
                    .map(|i| old_chain[i + 1])
            };
            if trap == Some(source) {
                return Err(EINVAL);
            }
            if target.is_some() && trap == target {
                return Err(ENOTEMPTY);
            }
        }
        if Some(source) == target {
            return Ok(());
        }
        if let Some(target) = target {
            match (self.is_dir(source), self.entries(target)) {
                (true, None) => return Err(ENOTDIR),
                (false, Some(_)) => return Err(EISDIR),
                (true, Some(entries)) if !entries.is_empty() => return Err(ENOTEMPTY),
                _ => {}
            }
            self.entries_mut(new_dir).remove(new_name);
            if self.is_dir(target) {
                self.inodes[target].links = 0;
            } else {
                self.inodes[target].links -= 1;
            }
        }
        self.entries_mut(old_dir).remove(old_name);
        self.entries_mut(new_dir).insert(new_name.to_vec(), source);
        Ok(())
    }
}

/// Model inode ↔ kernel inode, for the inodes `stat` has seen.
#[derive(Debug, Default)]
struct InoRelation {
    forward: BTreeMap<Ino, u64>,
}

impl InoRelation {
    /// Records that `m` is kernel inode `k`; fails if that contradicts what
    /// was seen before among inodes that are still alive.
    fn relate(&mut self, model: &Model, m: Ino, k: u64) -> Result<(), String> {
        // Forget inodes that are gone: the kernel may reuse their numbers.
        self.forward.retain(|&ino, _| model.alive(ino));
        if let Some(&known) = self.forward.get(&m) {
            if known != k {
                return Err(format!("model inode {m} was kernel inode {known}, now {k}"));
            }
        }
        if let Some((&other, _)) = self.forward.iter().find(|(&o, &kk)| kk == k && o != m) {
            return Err(format!(
                "kernel inode {k} stands for model inodes {other} and {m}"
            ));
        }
        self.forward.insert(m, k);
        Ok(())
    }
}

/// The result without its inode number.
fn strip<I>(answer: &Answer<I>) -> Result<Val, Errno> {
    answer.as_ref().map(|(v, _)| v.clone()).map_err(|e| *e)
}

/// Compares the kernel with the model along one thread's calls, step by
/// step: the same value or errno, and inode numbers that relate one to one.
#[derive(Debug)]
pub struct Checker {
    model: Model,
    relation: InoRelation,
    on: bool,
}

impl Checker {
    /// A checker for a fresh tmpfs at `/`; it compares only if `on`.
    pub fn new(on: bool) -> Checker {
        Checker {
            model: Model::new(),
            relation: InoRelation::default(),
            on,
        }
    }

    /// Whether it still compares: it stops after a call the model does not
    /// know succeeds (that call may have changed the state).
    pub fn on(&self) -> bool {
        self.on
    }

    /// Applies `op`, call number `i`, to the model and compares the answer
    /// with the kernel's (`actual`); a difference is `Err("step {i}: {op:?}:
    /// …")`.
    pub fn step(&mut self, i: usize, op: &Op, actual: &Answer<u64>) -> Result<(), String> {
        if !self.on {
            return Ok(());
        }
        let Some(expected) = self.model.apply(op) else {
            // A call the model does not know: stop if it changed anything.
            self.on = actual.is_err();
            return Ok(());
        };
        let (want, got) = (strip(&expected), strip(actual));
        if want != got {
            return Err(format!(
                "step {i}: {op:?}: the kernel gave {got:?}, Linux (the model) gives {want:?}"
            ));
        }
        if let (Ok((_, Some(m))), Ok((_, Some(k)))) = (&expected, actual) {
            self.relation
                .relate(&self.model, *m, *k)
                .map_err(|message| format!("step {i}: {op:?}: {message}"))?;
        }
        Ok(())
    }

    /// At the end of a sequence of `first` calls: `lstat`s every name of
    /// [`PATHS`] on the kernel (as calls `first`, `first + 1`, …) and
    /// requires that it looks the same on both sides. Nothing if the checker
    /// is off.
    pub fn finish(&mut self, sys: &Sys<'_>, first: usize) -> Result<(), String> {
        if !self.on {
            return Ok(());
        }
        for (i, path) in PATHS.iter().enumerate() {
            let op = Op::Lstat {
                path: path.as_bytes(),
            };
            let answer = op.run(sys);
            self.step(first + i, &op, &answer)?;
        }
        Ok(())
    }
}
