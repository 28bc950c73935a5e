//! The syntax tree of a scenario script.
//!
//! Every node carries a [`Span`]: the byte range of the source text it was
//! parsed from. Trees built by hand (by a fuzzer or the shrinker) may use
//! [`Span::DUMMY`]; the pretty-printer ignores spans, and
//! [`Script::erase_spans`] makes two trees comparable "modulo spans".

use std::fmt;
use std::sync::Arc;

/// A half-open byte range `start..end` into a script's source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// The span of nodes that were not parsed from text.
    pub const DUMMY: Span = Span { start: 0, end: 0 };

    /// A span from `start` to `end` (byte offsets, `end` exclusive).
    pub fn new(start: usize, end: usize) -> Span {
        debug_assert!(start <= end, "span start {start} after end {end}");
        Span { start, end }
    }

    /// The smallest span that covers both `self` and `other`.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The span as a `Range`, for slicing the source.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start..self.end
    }
}

/// A node together with the span it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The node itself.
    pub node: T,
    /// Where it was written.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Wraps `node` with `span`.
    pub fn new(node: T, span: Span) -> Spanned<T> {
        Spanned { node, span }
    }

    /// Wraps `node` with [`Span::DUMMY`], for trees built by programs.
    pub fn dummy(node: T) -> Spanned<T> {
        Spanned {
            node,
            span: Span::DUMMY,
        }
    }
}

/// An identifier: a call name, a bound name, a component, a field name.
pub type Ident = Spanned<String>;

/// An argument or any other value written in a script.
pub type Arg = Spanned<Value>;

/// A whole parsed scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// The name the script was parsed under, used in diagnostics.
    pub file_name: String,
    /// The text the spans point into.
    pub source: Arc<str>,
    /// Top-level statements in order.
    pub stmts: Vec<Stmt>,
}

impl Script {
    /// A script built by a program rather than parsed: no source text.
    pub fn from_stmts(file_name: impl Into<String>, stmts: Vec<Stmt>) -> Script {
        Script {
            file_name: file_name.into(),
            source: Arc::from(""),
            stmts,
        }
    }

    /// Sets every span in the tree to [`Span::DUMMY`], so that two trees
    /// parsed from differently formatted text compare equal.
    pub fn erase_spans(&mut self) {
        self.stmts.erase();
    }
}

/// One line of a script (or a whole `threads` block).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stmt {
    /// What the statement says.
    pub kind: StmtKind,
    /// From the first token of the line to the last (for a block: to its
    /// closing brace). Comments are not included.
    pub span: Span,
}

/// The statements of the language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StmtKind {
    /// `boot COMPONENT... KEY=VALUE...`
    Boot {
        /// Components linked into the kernel, in the order written.
        components: Vec<Ident>,
        /// Boot parameters such as `memlimit=256K` or `ncpu=2`.
        params: Vec<Param>,
    },
    /// `seeds N`: how many seeds the scenario runs by default.
    Seeds(Spanned<u64>),
    /// `strategy roundrobin | random | pct [depth=N]`
    Strategy(Spanned<Strategy>),
    /// `preempt none | locks | all`
    Preempt(Spanned<Preempt>),
    /// `faults "PLAN"`: a fault plan in the fault-hypercalls syntax. Several
    /// lines add up.
    Faults(Spanned<String>),
    /// `sleep DURATION`: advance virtual time.
    Sleep(Spanned<Duration>),
    /// `halt`: halt the kernel and check for leaks.
    Halt,
    /// `expect-fail`: the scenario as a whole is expected to fail.
    ExpectFail,
    /// A system call, optionally bound to a name, optionally with an
    /// expectation.
    Call(Call),
    /// `threads { thread NAME { ... } ... }`
    Threads(Vec<Thread>),
}

/// `KEY=VALUE` on a `boot` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// The parameter name.
    pub name: Ident,
    /// Its value.
    pub value: Arg,
}

/// Scheduling strategies selectable by `strategy`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// `roundrobin`
    RoundRobin,
    /// `random`
    Random,
    /// `pct` with an optional `depth=N` bound.
    Pct {
        /// The PCT depth bound, if written.
        depth: Option<Spanned<u32>>,
    },
}

/// Where the scheduler may preempt a running thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preempt {
    /// Only at blocking hypercalls.
    None,
    /// Also at lock operations.
    Locks,
    /// At every hypercall.
    All,
}

impl Preempt {
    /// The keyword that spells this setting.
    pub fn keyword(self) -> &'static str {
        match self {
            Preempt::None => "none",
            Preempt::Locks => "locks",
            Preempt::All => "all",
        }
    }
}

/// `[NAME =] CALL ARG... [-> EXPECTATION]`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The name the result is bound to, if any.
    pub bind: Option<Ident>,
    /// The system call name.
    pub name: Ident,
    /// Arguments in order.
    pub args: Vec<Arg>,
    /// What the result must be; `None` means "must succeed".
    pub expect: Option<Expect>,
}

/// The part after `->`: one or more alternatives separated by `|`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expect {
    /// The alternatives; the call passes if its result matches any of them.
    pub alts: Vec<Spanned<ExpectAlt>>,
    /// From the first alternative to the last (the arrow excluded).
    pub span: Span,
}

/// One acceptable outcome of a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpectAlt {
    /// `ok`: any successful result.
    Ok,
    /// `any`: any result at all, success or error.
    Any,
    /// An errno name such as `ENOENT`.
    Errno(String),
    /// A value the result must equal: an integer, a string, a size.
    Value(Value),
    /// `NAME=VALUE...`: fields of a structured result (e.g. `stat`).
    Fields(Vec<Field>),
}

/// `NAME=VALUE` in an expectation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The field name, e.g. `size`.
    pub name: Ident,
    /// The expected value, e.g. `6`, `reg` or `0o644`.
    pub value: Arg,
}

/// A `thread NAME { ... }` inside a `threads` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    /// The thread's name, used in reports.
    pub name: Ident,
    /// Statements the thread runs in order.
    pub body: Vec<Stmt>,
    /// From `thread` to the closing brace.
    pub span: Span,
}

/// Values written as arguments, parameters and expectations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// An integer literal.
    Int(Int),
    /// A string literal: raw bytes after escapes were applied.
    Str(Vec<u8>),
    /// A byte size such as `4K`.
    Size(Size),
    /// A duration such as `10ms`.
    Duration(Duration),
    /// A lowercase identifier: a name bound earlier, or a bare word where a
    /// call takes a name (`mount tmpfs "/"`) or a field takes a word
    /// (`type=reg`).
    Name(String),
    /// One or more constants or integers joined by `|`, e.g.
    /// `O_CREAT|O_RDWR`. A lone constant such as `SEEK_SET` is a flag
    /// expression with one term.
    Flags(Vec<Spanned<FlagTerm>>),
}

/// One term of a flag expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlagTerm {
    /// A symbolic constant resolved by the call table, e.g. `O_CREAT`.
    Const(String),
    /// A literal integer.
    Int(Int),
}

/// How an integer literal was written, so that printing keeps it readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Radix {
    /// `42`
    Dec,
    /// `0x2a`
    Hex,
    /// `0o52` (or C-style `052`, printed as `0o52`)
    Oct,
}

/// An integer literal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Int {
    /// The value.
    pub value: i64,
    /// How it was written.
    pub radix: Radix,
}

impl Int {
    /// A decimal integer.
    pub fn dec(value: i64) -> Int {
        Int {
            value,
            radix: Radix::Dec,
        }
    }
}

/// Binary size suffixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SizeUnit {
    /// `K`: 1024 bytes.
    K,
    /// `M`: 1024² bytes.
    M,
    /// `G`: 1024³ bytes.
    G,
}

impl SizeUnit {
    /// Bytes per unit.
    pub fn bytes(self) -> u64 {
        match self {
            SizeUnit::K => 1 << 10,
            SizeUnit::M => 1 << 20,
            SizeUnit::G => 1 << 30,
        }
    }

    /// The suffix letter.
    pub fn suffix(self) -> &'static str {
        match self {
            SizeUnit::K => "K",
            SizeUnit::M => "M",
            SizeUnit::G => "G",
        }
    }
}

/// A byte size: a count and a unit, e.g. `256K`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Size {
    /// The number written before the suffix.
    pub count: u64,
    /// The suffix.
    pub unit: SizeUnit,
}

impl Size {
    /// The size in bytes. The parser guarantees this does not overflow for
    /// parsed literals.
    pub fn bytes(self) -> u64 {
        self.count.saturating_mul(self.unit.bytes())
    }
}

/// Time suffixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    /// `ns`
    Ns,
    /// `us`
    Us,
    /// `ms`
    Ms,
    /// `s`
    S,
}

impl TimeUnit {
    /// Nanoseconds per unit.
    pub fn nanos(self) -> u64 {
        match self {
            TimeUnit::Ns => 1,
            TimeUnit::Us => 1_000,
            TimeUnit::Ms => 1_000_000,
            TimeUnit::S => 1_000_000_000,
        }
    }

    /// The suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            TimeUnit::Ns => "ns",
            TimeUnit::Us => "us",
            TimeUnit::Ms => "ms",
            TimeUnit::S => "s",
        }
    }
}

/// A span of virtual time: a count and a unit, e.g. `10ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Duration {
    /// The number written before the suffix.
    pub count: u64,
    /// The suffix.
    pub unit: TimeUnit,
}

impl Duration {
    /// The duration in nanoseconds. The parser guarantees this does not
    /// overflow for parsed literals.
    pub fn nanos(self) -> u64 {
        self.count.saturating_mul(self.unit.nanos())
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.count, self.unit.suffix())
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.count, self.unit.suffix())
    }
}

impl fmt::Display for Int {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.value < 0 { "-" } else { "" };
        let magnitude = self.value.unsigned_abs();
        match self.radix {
            Radix::Dec => write!(f, "{}", self.value),
            Radix::Hex => write!(f, "{sign}0x{magnitude:x}"),
            Radix::Oct => write!(f, "{sign}0o{magnitude:o}"),
        }
    }
}

/// Resets spans throughout a tree; see [`Script::erase_spans`].
trait Erase {
    fn erase(&mut self);
}

impl<T: Erase> Erase for Vec<T> {
    fn erase(&mut self) {
        self.iter_mut().for_each(Erase::erase);
    }
}

impl<T: Erase> Erase for Option<T> {
    fn erase(&mut self) {
        if let Some(inner) = self {
            inner.erase();
        }
    }
}

impl<T: Erase> Erase for Spanned<T> {
    fn erase(&mut self) {
        self.span = Span::DUMMY;
        self.node.erase();
    }
}

macro_rules! leaf_erase {
    ($($t:ty),*) => { $(impl Erase for $t { fn erase(&mut self) {} })* };
}
leaf_erase!(String, u64, u32, Preempt, Duration, Int);

impl Erase for Stmt {
    fn erase(&mut self) {
        self.span = Span::DUMMY;
        match &mut self.kind {
            StmtKind::Boot { components, params } => {
                components.erase();
                params.erase();
            }
            StmtKind::Seeds(n) => n.erase(),
            StmtKind::Strategy(s) => s.erase(),
            StmtKind::Preempt(p) => p.erase(),
            StmtKind::Faults(plan) => plan.erase(),
            StmtKind::Sleep(d) => d.erase(),
            StmtKind::Halt | StmtKind::ExpectFail => {}
            StmtKind::Call(call) => call.erase(),
            StmtKind::Threads(threads) => threads.erase(),
        }
    }
}

impl Erase for Param {
    fn erase(&mut self) {
        self.name.erase();
        self.value.erase();
    }
}

impl Erase for Strategy {
    fn erase(&mut self) {
        if let Strategy::Pct { depth } = self {
            depth.erase();
        }
    }
}

impl Erase for Call {
    fn erase(&mut self) {
        self.bind.erase();
        self.name.erase();
        self.args.erase();
        self.expect.erase();
    }
}

impl Erase for Expect {
    fn erase(&mut self) {
        self.span = Span::DUMMY;
        self.alts.erase();
    }
}

impl Erase for ExpectAlt {
    fn erase(&mut self) {
        match self {
            ExpectAlt::Value(v) => v.erase(),
            ExpectAlt::Fields(fields) => fields.erase(),
            ExpectAlt::Ok | ExpectAlt::Any | ExpectAlt::Errno(_) => {}
        }
    }
}

impl Erase for Field {
    fn erase(&mut self) {
        self.name.erase();
        self.value.erase();
    }
}

impl Erase for Thread {
    fn erase(&mut self) {
        self.span = Span::DUMMY;
        self.name.erase();
        self.body.erase();
    }
}

impl Erase for Value {
    fn erase(&mut self) {
        if let Value::Flags(terms) = self {
            terms.erase();
        }
    }
}

impl Erase for FlagTerm {
    fn erase(&mut self) {}
}
