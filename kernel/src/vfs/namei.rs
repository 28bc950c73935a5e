//! Path lookup (namei): from a byte path to a node of the mounted tree.
//!
//! Rules, as Linux has them:
//!
//! * a path with a NUL byte is `EINVAL`, an empty path `ENOENT`, a path of
//!   [`PATH_MAX`] bytes or more, or a component longer than [`NAME_MAX`],
//!   `ENAMETOOLONG`;
//! * every process's working directory is `/`, so relative paths start there;
//! * `.` stays, `..` goes up, also from the root of a mount to the parent of
//!   the directory it covers; `..` of `/` is `/`;
//! * entering a directory something is mounted on enters that mount's root;
//! * symlinks in the middle of a path are always followed, the last one only
//!   when asked (or when a trailing slash follows it); more than
//!   [`MAX_SYMLINKS`] on one lookup is `ELOOP`;
//! * a trailing slash demands a directory (`ENOTDIR`).
//!
//! A lookup holds no lock of its own; it runs under the caller's shared guard
//! of the mount table and asks drivers one component at a time, so a
//! concurrent rename can change the answer half way, as in any real kernel.

use crate::errno::{Errno, KResult};
use crate::kmem::{KAlloc, KVec, TryPush};
use crate::vfs::fs::{Attr, NodeKind};
use crate::vfs::mount::{MountTable, Node};

/// Longest path, in bytes, including the terminating NUL of C (so a path
/// must be shorter than this).
pub const PATH_MAX: usize = 4096;
/// Longest name of one path component.
pub const NAME_MAX: usize = 255;
/// Most symlinks one lookup follows.
pub const MAX_SYMLINKS: usize = 40;

/// Checks a path's form before any lookup.
pub(crate) fn check_path(path: &[u8]) -> KResult<()> {
    if path.contains(&0) {
        return Err(Errno::EINVAL);
    }
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}

/// A path component, copied out of the path (no allocation).
#[derive(Clone, Copy)]
pub(crate) struct Name {
    bytes: [u8; NAME_MAX],
    len: usize,
}

impl Name {
    const fn empty() -> Name {
        Name {
            bytes: [0; NAME_MAX],
            len: 0,
        }
    }

    fn set(&mut self, name: &[u8]) {
        self.bytes[..name.len()].copy_from_slice(name);
        self.len = name.len();
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// What the last component of a path is, for calls that create or remove.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Last {
    /// The path has no component (`/`).
    Root,
    /// `.`
    Dot,
    /// `..`
    DotDot,
    /// An ordinary name.
    Name,
}

/// The directory a path's last component lives in.
pub(crate) struct Parent {
    /// The directory.
    pub dir: Node,
    /// What the last component is.
    pub last: Last,
    /// Its name (empty for [`Last::Root`]).
    pub name: Name,
    /// Whether slashes followed it.
    pub trailing_slash: bool,
}

/// A fully resolved path.
pub(crate) struct Resolved {
    /// The node.
    pub node: Node,
    /// Its attributes.
    pub attr: Attr,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Follow,
    NoFollow,
    Parent,
}

enum End {
    Resolved(Resolved),
    Parent(Parent),
}

/// Resolves `path`; the last symlink is followed if `follow`.
pub(crate) fn resolve(
    table: &MountTable,
    alloc: &KAlloc,
    path: &[u8],
    follow: bool,
) -> KResult<Resolved> {
    let mode = if follow { Mode::Follow } else { Mode::NoFollow };
    match walk(table, alloc, None, path, mode)? {
        End::Resolved(resolved) => Ok(resolved),
        End::Parent(_) => unreachable!("only parent walks end at the parent"),
    }
}

/// Resolves all of `path` but its last component.
pub(crate) fn resolve_parent(table: &MountTable, alloc: &KAlloc, path: &[u8]) -> KResult<Parent> {
    parent_walk(table, alloc, None, path)
}

/// Like [`resolve_parent`], with a relative `path` starting at directory
/// `start` (a symlink's target, relative to the link's directory).
pub(crate) fn resolve_parent_at(
    table: &MountTable,
    alloc: &KAlloc,
    start: Node,
    path: &[u8],
) -> KResult<Parent> {
    parent_walk(table, alloc, Some(start), path)
}

fn parent_walk(
    table: &MountTable,
    alloc: &KAlloc,
    start: Option<Node>,
    path: &[u8],
) -> KResult<Parent> {
    match walk(table, alloc, start, path, Mode::Parent)? {
        End::Parent(parent) => Ok(parent),
        End::Resolved(resolved) => Ok(Parent {
            // Only a path without components ends here.
            dir: resolved.node,
            last: Last::Root,
            name: Name::empty(),
            trailing_slash: false,
        }),
    }
}

/// `..` of `node`, crossing up out of mounts.
pub(crate) fn parent_of(table: &MountTable, mut node: Node) -> KResult<Node> {
    for _ in 0..=table.mounts.len() {
        let mount = table.get(node.mount);
        if node.ino == mount.root {
            match mount.covers {
                Some(covered) => {
                    node = covered;
                    continue;
                }
                None => return Ok(node),
            }
        }
        let ino = mount.fs().lookup(node.ino, b"..")?;
        return Ok(Node {
            mount: node.mount,
            ino,
        });
    }
    Err(Errno::ELOOP)
}

fn getattr(table: &MountTable, node: Node) -> KResult<Attr> {
    table.get(node.mount).fs().getattr(node.ino)
}

fn walk(
    table: &MountTable,
    alloc: &KAlloc,
    start: Option<Node>,
    path: &[u8],
    mode: Mode,
) -> KResult<End> {
    check_path(path)?;
    let root = table.root()?;
    let mut current = start.unwrap_or(root);
    let mut current_kind = NodeKind::Dir;
    let mut owned: Option<KVec<u8>> = None;
    let mut position = 0usize;
    let mut links = 0usize;
    let mut name = Name::empty();
    loop {
        let buffer: &[u8] = match &owned {
            Some(buffer) => buffer,
            None => path,
        };
        let length = buffer.len();
        if position == 0 && buffer.first() == Some(&b'/') {
            current = root;
            current_kind = NodeKind::Dir;
        }
        while position < length && buffer[position] == b'/' {
            position += 1;
        }
        if position == length {
            // No component left: the path was all slashes.
            let attr = getattr(table, current)?;
            return Ok(End::Resolved(Resolved {
                node: current,
                attr,
            }));
        }
        let start = position;
        while position < length && buffer[position] != b'/' {
            position += 1;
        }
        let end = position;
        if end - start > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        name.set(&buffer[start..end]);
        while position < length && buffer[position] == b'/' {
            position += 1;
        }
        let is_last = position == length;
        let trailing_slash = is_last && end < length;
        if current_kind != NodeKind::Dir {
            return Err(Errno::ENOTDIR);
        }
        if is_last && mode == Mode::Parent {
            let last = match name.as_bytes() {
                b"." => Last::Dot,
                b".." => Last::DotDot,
                _ => Last::Name,
            };
            return Ok(End::Parent(Parent {
                dir: current,
                last,
                name,
                trailing_slash,
            }));
        }
        match name.as_bytes() {
            b"." => {}
            b".." => {
                current = parent_of(table, current)?;
                current_kind = NodeKind::Dir;
            }
            component => {
                let ino = table
                    .get(current.mount)
                    .fs()
                    .lookup(current.ino, component)?;
                let next = table.cross_down(Node {
                    mount: current.mount,
                    ino,
                });
                let attr = getattr(table, next)?;
                let follow = !is_last || mode == Mode::Follow || trailing_slash;
                if attr.kind == NodeKind::Symlink && follow {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(Errno::ELOOP);
                    }
                    let size = usize::try_from(attr.size).unwrap_or(PATH_MAX).min(PATH_MAX);
                    let mut target: KVec<u8> = alloc.vec();
                    target.try_resize(size, 0)?;
                    let copied = table.get(next.mount).fs().readlink(next.ino, &mut target)?;
                    target.truncate(copied);
                    if target.is_empty() {
                        return Err(Errno::ENOENT);
                    }
                    // The rest of the path (with its slashes) goes after the
                    // link's target.
                    target.try_extend_from_slice(&buffer[end..])?;
                    if target.len() >= PATH_MAX {
                        return Err(Errno::ENAMETOOLONG);
                    }
                    owned = Some(target);
                    position = 0;
                    // A relative target resolves in the link's directory,
                    // which `current` still is.
                    continue;
                }
                current = next;
                current_kind = attr.kind;
            }
        }
        if is_last {
            let attr = getattr(table, current)?;
            if trailing_slash && attr.kind != NodeKind::Dir {
                return Err(Errno::ENOTDIR);
            }
            return Ok(End::Resolved(Resolved {
                node: current,
                attr,
            }));
        }
    }
}
