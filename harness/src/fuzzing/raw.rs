//! The `raw_syscalls` target: the numbered dispatcher
//! (`Kernel::syscall_raw`) with arbitrary `u64` arguments. Pointers point
//! into a user address space with a few mappings — C strings, a writable
//! buffer, a read-only one, an empty mapping, one at the very top of user
//! memory — or anywhere at all. Most calls are numbers the dispatcher knows,
//! with arguments made up by their kind (`SYSCALLS`); some are any number.
//!
//! Checks: nothing panics, nothing leaks, and every return is a value or the
//! negation of an errno the kernel knows (`ENOMEM` only under allocation
//! faults, `ENOSYS` only for numbers the dispatcher does not know); a read
//! never reports more bytes than it was asked for.

use rumpkit_kernel::syscall::abi::*;
use rumpkit_kernel::syscall::raw::{syscall_info, ArgKind, SYSCALLS};
use rumpkit_kernel::syscall::user::{UserSpace, PAGE_SIZE, USER_END};
use rumpkit_kernel::{Errno, Kernel};

use super::{Input, Schedule, MAX_OPS};

/// The C strings mapped into every address space.
const STRINGS: &[&[u8]] = &[
    b"/a",
    b"/a/b",
    b"/b",
    b"/",
    b"/dev/md0",
    b"/dev",
    b"tmpfs",
    b"devfs",
    b"size=4K",
    b"",
    b"/a/../b/./c",
];

/// The size of the writable buffer.
const BUF: usize = 4096;

/// Where things are mapped.
struct Layout {
    strings: Vec<u64>,
    buf: u64,
    read_only: u64,
    empty: u64,
    top: u64,
}

impl Layout {
    fn map(user: &mut UserSpace) -> Layout {
        let strings = STRINGS.iter().map(|s| user.map_str(s)).collect();
        let buf = user.map(BUF, true);
        let read_only = user.map_bytes(b"hello, read-only world\n/a\0", false);
        let empty = user.map(0, true);
        let top = USER_END - PAGE_SIZE;
        user.map_at(top, PAGE_SIZE as usize, true)
            .expect("the top page is free");
        Layout {
            strings,
            buf,
            read_only,
            empty,
            top,
        }
    }

    /// An address: mostly a useful one, sometimes anything.
    fn pointer(&self, input: &mut Input<'_>, kind: ArgKind) -> u64 {
        let choice = input.below(16);
        let string = |input: &mut Input<'_>| self.strings[input.below(self.strings.len())];
        match (choice, kind) {
            (0, _) => input.u64(),
            (1, _) => 0,
            (2, _) => self.empty,
            (3, _) => self.top + u64::from(input.u16()) % (PAGE_SIZE + 64),
            (4, _) => self.read_only + u64::from(input.byte()) % 40,
            (5, _) => self.buf + u64::from(input.u16()) % (BUF as u64 + 64),
            (_, ArgKind::PathIn | ArgKind::StrIn) => string(input),
            (6 | 7, _) => string(input),
            _ => self.buf + u64::from(input.byte() % 8) * 64,
        }
    }
}

/// One argument of `kind`.
fn argument(input: &mut Input<'_>, layout: &Layout, kind: ArgKind) -> u64 {
    if input.below(16) == 0 {
        return input.u64();
    }
    match kind {
        ArgKind::Fd => (input.below(10) as i64 - 1) as u64,
        ArgKind::PathIn
        | ArgKind::StrIn
        | ArgKind::BufOut { .. }
        | ArgKind::BufIn { .. }
        | ArgKind::StatOut => layout.pointer(input, kind),
        ArgKind::Len => match input.below(4) {
            0 => u64::from(input.byte()),
            1 => u64::from(input.u16()),
            2 => BUF as u64,
            _ => input.u64(),
        },
        ArgKind::Int | ArgKind::Offset => match input.below(3) {
            0 => input.byte() as i8 as i64 as u64,
            1 => u64::from(input.u16()),
            _ => input.u64(),
        },
        ArgKind::Flags => {
            let flags = [
                O_RDONLY,
                O_RDWR,
                O_CREAT | O_RDWR,
                O_CREAT | O_EXCL | O_WRONLY,
                O_TRUNC | O_WRONLY,
                O_APPEND | O_RDWR,
                O_DIRECTORY,
                O_NOFOLLOW,
            ];
            match input.below(3) {
                0 => u64::from(u32::from_le_bytes([
                    input.byte(),
                    input.byte(),
                    input.byte(),
                    input.byte(),
                ])),
                _ => u64::from(flags[input.below(flags.len())]),
            }
        }
        ArgKind::Mode => u64::from(input.u16()),
        ArgKind::Whence => input.below(5) as u64,
    }
}

/// One raw call: its number and six arguments.
type RawCall = (u64, [u64; 6]);

fn decode_call(input: &mut Input<'_>, layout: &Layout) -> RawCall {
    let pick = input.byte();
    let number = if pick < 240 {
        SYSCALLS[usize::from(pick) % SYSCALLS.len()].number
    } else if pick < 248 {
        input.u64()
    } else {
        u64::from(input.byte()) % 512
    };
    let mut args = [0u64; 6];
    match syscall_info(number) {
        Some(info) => {
            for (arg, kind) in args.iter_mut().zip(info.args) {
                *arg = argument(input, layout, *kind);
            }
        }
        None => {
            for arg in args.iter_mut().take(input.below(7)) {
                *arg = input.u64();
            }
        }
    }
    (number, args)
}

/// Checks one return value.
fn check_return(call: &RawCall, ret: i64, alloc_faults: bool) {
    let (number, args) = call;
    if ret >= 0 {
        if let Some(info) = syscall_info(*number) {
            if matches!(info.name, "read" | "pread64" | "write" | "pwrite64") {
                assert!(
                    ret as u64 <= args[2],
                    "raw_syscalls: {}({args:x?}) moved {ret} bytes",
                    info.name
                );
            }
        }
        return;
    }
    let errno = i32::try_from(-ret)
        .ok()
        .and_then(Errno::from_raw)
        .unwrap_or_else(|| panic!("raw_syscalls: {number}({args:x?}) returned {ret}"));
    let bad = match errno {
        Errno::ENOMEM => !alloc_faults,
        Errno::ENOSYS => syscall_info(*number).is_some(),
        _ => false,
    };
    assert!(!bad, "raw_syscalls: {number}({args:x?}) returned {errno:?}");
}

/// The `raw_syscalls` fuzz target.
pub fn raw_syscalls(data: &[u8]) {
    let mut input = Input::new(data);
    let schedule = Schedule::decode(&mut input);
    let fault = input.byte();
    let faults = match fault % 4 {
        0 => format!("alloc nth={}", 1 + u32::from(input.byte())),
        1 => format!(
            "alloc site=syscall.raw p={}",
            super::probability(input.byte())
        ),
        _ => String::new(),
    };
    let alloc_faults = !faults.is_empty();
    let mut user = UserSpace::new();
    let layout = Layout::map(&mut user);
    let mut calls = Vec::new();
    while !input.is_empty() && calls.len() < MAX_OPS {
        calls.push(decode_call(&mut input, &layout));
    }
    let mut sim = rumpkit_fault::Sim::new(super::sim_config(&schedule, super::plan(&faults).0, 1));
    let Some(kernel) = super::boot(&sim) else {
        assert!(alloc_faults, "raw_syscalls: boot failed without faults");
        super::check_report("raw_syscalls", &sim.run());
        return;
    };
    let pid = kernel.proc_create().ok();
    let mut clients: Vec<super::Client> = Vec::new();
    if let Some(pid) = pid {
        let sys = kernel.sys(pid);
        // A root file system and devfs, unless faults refuse them (then the
        // calls meet the errors of a kernel with nothing mounted).
        let _ = sys
            .mount(b"tmpfs", b"/", 0, b"")
            .and_then(|()| sys.mkdir(b"/dev", 0o755))
            .and_then(|()| sys.mount(b"devfs", b"/dev", 0, b""));
        clients.push(Box::new(move |kernel: &Kernel| {
            for call in &calls {
                let ret = kernel.syscall_raw(pid, &mut user, call.0, call.1);
                check_return(call, ret, alloc_faults);
            }
        }));
    } else {
        assert!(
            alloc_faults,
            "raw_syscalls: proc_create failed without faults"
        );
    }
    super::spawn_clients("raw_syscalls", &sim, kernel, pid, clients);
    super::check_report("raw_syscalls", &sim.run());
}
