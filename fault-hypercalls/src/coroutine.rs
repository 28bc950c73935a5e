//! Coroutine plumbing: the pooled stacks, the thread-affinity token, and the
//! panic hook that keeps contained panics quiet and remembers where they
//! happened.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

use corosensei::stack::{DefaultStack, Stack};
use corosensei::Coroutine;

/// Every simulated thread is one of these: no input, no yielded value, no
/// return value. Why a thread suspended is written in the simulation state
/// before it suspends.
pub(crate) type Co = Coroutine<(), (), (), DefaultStack>;

/// The default coroutine stack size (`SimConfig::stack_size`). Stacks of
/// every size are pooled per OS thread and reused by later simulations.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;

/// How many free stacks one OS thread keeps for reuse.
const STACK_POOL_MAX: usize = 256;

thread_local! {
    static STACK_POOL: RefCell<Vec<(usize, DefaultStack)>> = const { RefCell::new(Vec::new()) };
    static THREAD_TOKEN: Cell<u64> = const { Cell::new(0) };
    /// The simulated thread running on this OS thread (creation index), or
    /// `u32::MAX`; switched by the scheduler loop on every resume.
    pub(crate) static CURRENT_THREAD: Cell<u32> = const { Cell::new(u32::MAX) };
    /// True while a simulated thread runs on this OS thread.
    pub(crate) static IN_COROUTINE: Cell<bool> = const { Cell::new(false) };
    /// Whether contained panics are printed by the default hook.
    pub(crate) static PRINT_PANICS: Cell<bool> = const { Cell::new(false) };
    /// Where the last contained panic happened.
    pub(crate) static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);
static HOOK: Once = Once::new();

/// A number unique to the calling OS thread (never 0).
#[inline]
pub(crate) fn thread_token() -> u64 {
    THREAD_TOKEN.with(|token| {
        let value = token.get();
        if value != 0 {
            return value;
        }
        let fresh = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        token.set(fresh);
        fresh
    })
}

/// A stack of at least `size` bytes, from this OS thread's pool when it
/// holds one of that size.
pub(crate) fn take_stack(size: usize) -> DefaultStack {
    let pooled = STACK_POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        // Simulations usually share one size, so the match is at the end.
        let position = pool.iter().rposition(|(pooled, _)| *pooled == size)?;
        Some(pool.swap_remove(position).1)
    });
    match pooled {
        Some(stack) => stack,
        None => DefaultStack::new(size).expect("cannot map a coroutine stack"),
    }
}

/// Returns a stack of `size` bytes to the pool (or frees it when the pool is
/// full).
pub(crate) fn give_stack(stack: DefaultStack, size: usize) {
    debug_assert!(stack.base().get() - stack.limit().get() >= size);
    STACK_POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < STACK_POOL_MAX {
            pool.push((size, stack));
        }
    });
}

/// Installs (once per process) a panic hook that, for panics inside
/// simulated threads, records the location and stays quiet unless asked to
/// print; other panics go to the previous hook.
pub(crate) fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_COROUTINE.with(Cell::get) {
                let location = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
                PANIC_LOCATION.with(|slot| *slot.borrow_mut() = location);
                if !PRINT_PANICS.with(Cell::get) {
                    return;
                }
            }
            previous(info);
        }));
    });
}
