//! A model-based test of the vfs faction over tmpfs: proptest makes random
//! sequences of system calls over a small fixed set of names (so that names
//! collide, directories fill up and symlinks loop), runs each sequence on a
//! fresh kernel and on [`Model`], a small in-memory file system written from
//! Linux's rules, and requires the same result or errno at every step. Inode
//! numbers are compared as a relation: two paths name the same kernel inode
//! exactly when they name the same model inode.
//!
//! The model follows Linux, including the order in which it checks things
//! (for `rename`: both parents, then the source, then the "trap" of a
//! directory moved below itself or onto its own ancestor, then same-inode,
//! then the file-type rules).

mod common;

use std::collections::BTreeMap;

use common::World;
use proptest::prelude::*;
use rumpkit_kernel::syscall::abi::*;
use rumpkit_kernel::{Errno, Errno::*, Sys};

/// The names every path is made of; short paths so that they collide.
const PATHS: &[&str] = &["/a", "/b", "/c", "/a/a", "/a/b", "/b/a", "/a/a/b", "/c/b"];

/// The `open` flag sets the test uses.
const OPEN_FLAGS: &[u32] = &[
    O_RDONLY,
    O_WRONLY,
    O_RDWR,
    O_CREAT | O_WRONLY,
    O_CREAT | O_RDWR,
    O_CREAT | O_EXCL | O_RDWR,
    O_TRUNC | O_RDWR,
    O_APPEND | O_WRONLY,
    O_APPEND | O_CREAT | O_RDWR,
    O_DIRECTORY | O_RDONLY,
];

const WHENCES: &[u32] = &[SEEK_SET, SEEK_CUR, SEEK_END];

/// The most symlinks one lookup follows (Linux's `MAXSYMLINKS`).
const MAX_SYMLINKS: u32 = 40;

#[derive(Debug, Clone)]
enum Call {
    Open(usize, usize),
    Close(i32),
    Write(i32, usize, u8),
    Read(i32, usize),
    Lseek(i32, i64, usize),
    Mkdir(usize),
    Rmdir(usize),
    Unlink(usize),
    Rename(usize, usize),
    Link(usize, usize),
    Symlink(usize, usize),
    Truncate(usize, i64),
    Stat(usize),
    Lstat(usize),
}

fn call_strategy() -> impl Strategy<Value = Call> {
    let path = || 0..PATHS.len();
    let fd = || 0i32..5;
    prop_oneof![
        4 => (path(), 0..OPEN_FLAGS.len()).prop_map(|(p, f)| Call::Open(p, f)),
        2 => fd().prop_map(Call::Close),
        3 => (fd(), 1usize..12, any::<u8>()).prop_map(|(fd, len, byte)| Call::Write(fd, len, byte)),
        3 => (fd(), 0usize..16).prop_map(|(fd, len)| Call::Read(fd, len)),
        2 => (fd(), -4i64..8, 0..WHENCES.len()).prop_map(|(fd, off, w)| Call::Lseek(fd, off, w)),
        3 => path().prop_map(Call::Mkdir),
        2 => path().prop_map(Call::Rmdir),
        2 => path().prop_map(Call::Unlink),
        3 => (path(), path()).prop_map(|(a, b)| Call::Rename(a, b)),
        2 => (path(), path()).prop_map(|(a, b)| Call::Link(a, b)),
        2 => (path(), path()).prop_map(|(a, b)| Call::Symlink(a, b)),
        1 => (path(), -1i64..10).prop_map(|(p, len)| Call::Truncate(p, len)),
        2 => path().prop_map(Call::Stat),
        2 => path().prop_map(Call::Lstat),
    ]
}

/// What a call gave, apart from inode numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
    N(i64),
    Bytes(Vec<u8>),
    /// File type bits, link count, and size (not for directories, whose size
    /// is the file system's business).
    Stat(u32, u32, Option<i64>),
}

type Outcome = Result<Val, Errno>;

// ----- the model -------------------------------------------------------------

type Ino = usize;

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

#[derive(Debug, Clone, Copy)]
struct OpenFile {
    ino: Ino,
    offset: i64,
    read: bool,
    write: bool,
    append: bool,
}

#[derive(Debug)]
struct Model {
    inodes: Vec<Inode>,
    fds: Vec<Option<OpenFile>>,
}

const ROOT: Ino = 0;

fn components(path: &[u8]) -> Vec<&[u8]> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect()
}

impl Model {
    fn new() -> Model {
        Model {
            inodes: vec![Inode {
                node: Node::Dir(BTreeMap::new()),
                links: 1,
            }],
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
            _ => panic!("not a directory"),
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
            "directory {dir} is linked"
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

    fn stat_of(&self, ino: Ino) -> Val {
        let nlink = self.nlink(ino);
        match &self.inodes[ino].node {
            Node::File(data) => Val::Stat(S_IFREG, nlink, Some(data.len() as i64)),
            Node::Dir(_) => Val::Stat(S_IFDIR, nlink, None),
            Node::Symlink(target) => Val::Stat(S_IFLNK, nlink, Some(target.len() as i64)),
        }
    }

    fn fd(&self, fd: i32) -> Result<OpenFile, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get(i).copied().flatten())
            .ok_or(EBADF)
    }

    fn open(&mut self, path: &[u8], flags: u32) -> Result<(Val, Option<Ino>), Errno> {
        let free = self.fds.iter().position(Option::is_none);
        if free.is_none() && self.fds.len() >= rumpkit_kernel::syscall::OPEN_MAX {
            return Err(EMFILE);
        }
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
        let file = OpenFile {
            ino,
            offset: 0,
            read: accmode == O_RDONLY || accmode == O_RDWR,
            write: accmode == O_WRONLY || accmode == O_RDWR,
            append: flags & O_APPEND != 0,
        };
        let fd = match free {
            Some(fd) => {
                self.fds[fd] = Some(file);
                fd
            }
            None => {
                self.fds.push(Some(file));
                self.fds.len() - 1
            }
        };
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

    fn apply(&mut self, call: &Call) -> Result<(Val, Option<Ino>), Errno> {
        let path = |i: usize| PATHS[i].as_bytes();
        let unit = Ok((Val::N(0), None));
        let mut links = 0;
        match *call {
            Call::Open(p, f) => self.open(path(p), OPEN_FLAGS[f]),
            Call::Close(fd) => {
                self.fd(fd)?;
                self.fds[fd as usize] = None;
                unit
            }
            Call::Write(fd, len, byte) => {
                let file = self.fd(fd)?;
                if !file.write {
                    return Err(EBADF);
                }
                let Node::File(data) = &mut self.inodes[file.ino].node else {
                    unreachable!("directories are never open for writing");
                };
                let at = if file.append {
                    data.len()
                } else {
                    file.offset as usize
                };
                if data.len() < at + len {
                    data.resize(at + len, 0);
                }
                data[at..at + len].fill(byte);
                self.fds[fd as usize].as_mut().unwrap().offset = (at + len) as i64;
                Ok((Val::N(len as i64), None))
            }
            Call::Read(fd, len) => {
                let file = self.fd(fd)?;
                if !file.read {
                    return Err(EBADF);
                }
                let Node::File(data) = &self.inodes[file.ino].node else {
                    return Err(EISDIR);
                };
                let start = (file.offset as usize).min(data.len());
                let end = (start + len).min(data.len());
                let bytes = data[start..end].to_vec();
                self.fds[fd as usize].as_mut().unwrap().offset += bytes.len() as i64;
                Ok((Val::Bytes(bytes), None))
            }
            Call::Lseek(fd, offset, whence) => {
                let file = self.fd(fd)?;
                let whence = WHENCES[whence];
                let base = match (&self.inodes[file.ino].node, whence) {
                    (_, SEEK_SET) => 0,
                    (_, SEEK_CUR) => file.offset,
                    (Node::File(data), _) => data.len() as i64,
                    // tmpfs directories refuse SEEK_END.
                    _ => return Err(EINVAL),
                };
                let new = base + offset;
                if new < 0 {
                    return Err(EINVAL);
                }
                self.fds[fd as usize].as_mut().unwrap().offset = new;
                Ok((Val::N(new), None))
            }
            Call::Mkdir(p) => {
                let (dir, name) = self.parent(path(p), &mut links)?;
                if self.lookup(dir, name).is_some() {
                    return Err(EEXIST);
                }
                let ino = self.alloc(Node::Dir(BTreeMap::new()));
                self.entries_mut(dir).insert(name.to_vec(), ino);
                unit
            }
            Call::Rmdir(p) => {
                let (dir, name) = self.parent(path(p), &mut links)?;
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
            Call::Unlink(p) => {
                let (dir, name) = self.parent(path(p), &mut links)?;
                let ino = self.lookup(dir, name).ok_or(ENOENT)?;
                if self.is_dir(ino) {
                    return Err(EISDIR);
                }
                self.entries_mut(dir).remove(name);
                self.inodes[ino].links -= 1;
                unit
            }
            Call::Rename(a, b) => self.rename(path(a), path(b)).map(|()| (Val::N(0), None)),
            Call::Link(a, b) => {
                let ino = self.walk(path(a), false, &mut links)?;
                let mut links = 0;
                let (dir, name) = self.parent(path(b), &mut links)?;
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
            Call::Symlink(target, p) => {
                let (dir, name) = self.parent(path(p), &mut links)?;
                if self.lookup(dir, name).is_some() {
                    return Err(EEXIST);
                }
                let ino = self.alloc(Node::Symlink(path(target).to_vec()));
                self.entries_mut(dir).insert(name.to_vec(), ino);
                unit
            }
            Call::Truncate(p, len) => {
                if len < 0 {
                    return Err(EINVAL);
                }
                let ino = self.walk(path(p), true, &mut links)?;
                match &mut self.inodes[ino].node {
                    Node::File(data) => data.resize(len as usize, 0),
                    Node::Dir(_) => return Err(EISDIR),
                    Node::Symlink(_) => unreachable!("followed"),
                }
                unit
            }
            Call::Stat(p) => {
                let ino = self.walk(path(p), true, &mut links)?;
                Ok((self.stat_of(ino), Some(ino)))
            }
            Call::Lstat(p) => {
                let ino = self.walk(path(p), false, &mut links)?;
                Ok((self.stat_of(ino), Some(ino)))
            }
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

// ----- the kernel side ----------------------------------------------------------

fn kernel_stat(result: Result<rumpkit_kernel::Stat, Errno>) -> Result<(Val, Option<u64>), Errno> {
    let st = result?;
    let kind = st.mode & S_IFMT;
    let size = (kind != S_IFDIR).then_some(st.size);
    Ok((Val::Stat(kind, st.nlink, size), Some(st.ino)))
}

fn run_kernel(sys: &Sys<'_>, call: &Call) -> Result<(Val, Option<u64>), Errno> {
    let path = |i: usize| PATHS[i].as_bytes();
    let unit = |r: Result<(), Errno>| r.map(|()| (Val::N(0), None));
    match *call {
        Call::Open(p, f) => sys
            .open(path(p), OPEN_FLAGS[f], 0o644)
            .map(|fd| (Val::N(fd.into()), None)),
        Call::Close(fd) => unit(sys.close(fd)),
        Call::Write(fd, len, byte) => sys
            .write(fd, &vec![byte; len])
            .map(|n| (Val::N(n as i64), None)),
        Call::Read(fd, len) => {
            let mut buf = vec![0; len];
            sys.read(fd, &mut buf)
                .map(|n| (Val::Bytes(buf[..n].to_vec()), None))
        }
        Call::Lseek(fd, offset, whence) => sys
            .lseek(fd, offset, WHENCES[whence])
            .map(|o| (Val::N(o as i64), None)),
        Call::Mkdir(p) => unit(sys.mkdir(path(p), 0o755)),
        Call::Rmdir(p) => unit(sys.rmdir(path(p))),
        Call::Unlink(p) => unit(sys.unlink(path(p))),
        Call::Rename(a, b) => unit(sys.rename(path(a), path(b))),
        Call::Link(a, b) => unit(sys.link(path(a), path(b))),
        Call::Symlink(target, p) => unit(sys.symlink(path(target), path(p))),
        Call::Truncate(p, len) => unit(sys.truncate(path(p), len)),
        Call::Stat(p) => kernel_stat(sys.stat(path(p))),
        Call::Lstat(p) => kernel_stat(sys.lstat(path(p))),
    }
}

/// Model inode ↔ kernel inode, for the inodes stat has seen.
#[derive(Default)]
struct InoRelation {
    forward: BTreeMap<Ino, u64>,
}

impl InoRelation {
    /// Records that `model` is `kernel`; fails if that contradicts what was
    /// seen before among inodes that are still alive.
    fn relate(&mut self, model: &Model, m: Ino, k: u64) -> Result<(), String> {
        // Forget inodes that are gone (no names, no descriptors): the kernel
        // may reuse their numbers.
        let alive =
            |ino: Ino| model.nlink(ino) > 0 || model.fds.iter().flatten().any(|f| f.ino == ino);
        self.forward.retain(|&ino, _| alive(ino));
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
fn strip<I>(result: &Result<(Val, I), Errno>) -> Outcome {
    result.as_ref().map(|(v, _)| v.clone()).map_err(|e| *e)
}

fn check_sequence(calls: &[Call]) -> Result<(), TestCaseError> {
    let world = World::tmpfs();
    let mut model = Model::new();
    let mut relation = InoRelation::default();
    let mut failure = None;
    {
        let sys = world.sys();
        let mut step = |i: usize, call: &Call| -> Result<(), String> {
            let expected = model.apply(call);
            let actual = run_kernel(&sys, call);
            let (expected_value, actual_value) = (strip(&expected), strip(&actual));
            if expected_value != actual_value {
                return Err(format!(
                    "step {i}: {call:?}: kernel gave {actual_value:?}, Linux (the model) gives {expected_value:?}"
                ));
            }
            if let (Ok((_, Some(m))), Ok((_, Some(k)))) = (&expected, &actual) {
                relation
                    .relate(&model, *m, *k)
                    .map_err(|e| format!("step {i}: {call:?}: {e}"))?;
            }
            Ok(())
        };
        for (i, call) in calls.iter().enumerate() {
            if let Err(message) = step(i, call) {
                failure = Some(message);
                break;
            }
        }
        // At the end, every name looks the same on both sides.
        if failure.is_none() {
            for p in 0..PATHS.len() {
                if let Err(message) = step(calls.len() + p, &Call::Lstat(p)) {
                    failure = Some(message);
                    break;
                }
            }
        }
    }
    world.finish();
    match failure {
        Some(message) => Err(TestCaseError::fail(message)),
        None => Ok(()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        max_shrink_iters: 4096,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn tmpfs_matches_the_model(calls in proptest::collection::vec(call_strategy(), 1..60)) {
        check_sequence(&calls)?;
    }
}

/// The model itself must be right where it matters most; these sequences
/// pin a few of its answers (they fail if the model, or the kernel, drifts).
#[test]
fn model_knows_the_rename_traps() {
    let calls = [
        Call::Mkdir(0),     // /a
        Call::Mkdir(3),     // /a/a
        Call::Rename(0, 6), // /a -> /a/a/b: into itself
        Call::Rename(3, 0), // /a/a -> /a: onto its own ancestor
        Call::Rename(4, 0), // /a/b (missing) -> /a
    ];
    let mut model = Model::new();
    let results: Vec<_> = calls
        .iter()
        .map(|c| model.apply(c).map(|(v, _)| v))
        .collect();
    assert_eq!(
        results,
        [
            Ok(Val::N(0)),
            Ok(Val::N(0)),
            Err(EINVAL),
            Err(ENOTEMPTY),
            Err(ENOENT)
        ]
    );
    check_sequence(&calls).unwrap();
}

#[test]
fn model_follows_symlink_loops_to_eloop() {
    let calls = [
        Call::Symlink(1, 0), // /a -> /b
        Call::Symlink(0, 1), // /b -> /a
        Call::Stat(0),
        Call::Open(3, 4), // /a/a with O_CREAT
        Call::Lstat(0),
    ];
    let mut model = Model::new();
    let results: Vec<_> = calls
        .iter()
        .map(|c| model.apply(c).map(|(v, _)| v))
        .collect();
    assert_eq!(results[2], Err(ELOOP));
    assert_eq!(results[3], Err(ELOOP));
    assert_eq!(results[4], Ok(Val::Stat(S_IFLNK, 1, Some(2))));
    check_sequence(&calls).unwrap();
}

/// `open(O_CREAT)` through a dangling symlink creates the symlink's target,
/// as on Linux.
#[test]
fn model_creates_through_dangling_symlinks() {
    let calls = [
        Call::Symlink(1, 0), // /a -> /b, which does not exist
        Call::Open(0, 4),    // open("/a", O_CREAT | O_RDWR)
        Call::Stat(1),
    ];
    let mut model = Model::new();
    let results: Vec<_> = calls
        .iter()
        .map(|c| model.apply(c).map(|(v, _)| v))
        .collect();
    assert_eq!(results[1], Ok(Val::N(0)));
    assert_eq!(results[2], Ok(Val::Stat(S_IFREG, 1, Some(0))));
    check_sequence(&calls).unwrap();
}
