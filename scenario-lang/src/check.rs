//! The checker: everything about a script that can be known before a kernel
//! boots. Call names, arity, argument kinds, constant and errno names,
//! bound names and where directives may appear are checked against a
//! [`CallTable`], which the executor implements from the kernel's real
//! system call list.

use std::collections::BTreeMap;

use crate::ast::{
    Arg, Call, ExpectAlt, FlagTerm, Script, Span, Spanned, Stmt, StmtKind, Thread, Value,
};
use crate::diag::{Diagnostic, Diagnostics, ErrorKind};
use crate::parser::DIRECTIVES;

/// What a parameter of a system call takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ArgKind {
    /// A file descriptor: a name bound to an fd-returning call, or an
    /// integer (to test `EBADF`).
    Fd,
    /// A path: a string.
    Path,
    /// Data: a string, or a name bound to a bytes-returning call.
    Bytes,
    /// An integer (constants allowed).
    Int,
    /// Flags: constants joined by `|`, or an integer.
    Flags,
    /// A mode: an integer (usually octal) or `S_*` constants.
    Mode,
    /// A file offset: an integer or a size.
    Offset,
    /// A `SEEK_*` constant or an integer.
    Whence,
    /// A length: an integer or a size.
    Len,
    /// A bare word such as the file system type in `mount tmpfs "/"`.
    Name,
    /// A duration such as `10ms`.
    Duration,
}

impl ArgKind {
    /// How the kind is described in messages.
    pub fn describe(self) -> &'static str {
        match self {
            ArgKind::Fd => "a file descriptor (a bound name or an integer)",
            ArgKind::Path => "a path (a string)",
            ArgKind::Bytes => "bytes (a string)",
            ArgKind::Int => "an integer",
            ArgKind::Flags => "flags (constants joined by `|`, or an integer)",
            ArgKind::Mode => "a mode (an integer such as `0o644`, or `S_*` constants)",
            ArgKind::Offset => "an offset (an integer or a size)",
            ArgKind::Whence => "a `SEEK_*` constant",
            ArgKind::Len => "a length (an integer or a size)",
            ArgKind::Name => "a bare word (such as `tmpfs`)",
            ArgKind::Duration => "a duration (such as `10ms`)",
        }
    }
}

/// What a system call returns on success, which decides what may follow
/// `->` and what a name bound to the result can be used for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResultKind {
    /// Nothing but success: `ok`, `any` or an errno.
    Unit,
    /// A number (`write`, `lseek`): also an integer or size expectation.
    Int,
    /// A file descriptor (`open`, `dup`): also an integer expectation.
    Fd,
    /// Data (`read`, `readlink`): also a string expectation.
    Bytes,
    /// A structure (`stat`): also `field=value` expectations with these
    /// field names.
    Struct(Vec<String>),
}

/// The shape of one system call.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Signature {
    /// Parameter kinds in order.
    pub params: Vec<ArgKind>,
    /// How many leading parameters are required; the rest are optional.
    pub required: usize,
    /// What the call returns.
    pub result: ResultKind,
}

impl Signature {
    /// A signature whose parameters are all required.
    pub fn new(params: Vec<ArgKind>, result: ResultKind) -> Signature {
        let required = params.len();
        Signature {
            params,
            required,
            result,
        }
    }

    /// Makes the parameters from index `required` on optional.
    pub fn optional_from(mut self, required: usize) -> Signature {
        self.required = required.min(self.params.len());
        self
    }
}

/// What the checker needs to know about the kernel it will run against.
/// The executor implements it from the real system call table; the crate
/// ships a test double in [`crate::testing`].
pub trait CallTable {
    /// The signature of system call `name`, or `None` if there is no such
    /// call.
    fn signature(&self, name: &str) -> Option<Signature>;

    /// The value of constant `name` (`O_CREAT`, `SEEK_SET`, `S_IFREG`...),
    /// or `None` if it is unknown.
    fn resolve_const(&self, name: &str) -> Option<i64>;

    /// The number of errno `name` (`ENOENT`...), or `None` if unknown.
    fn errno(&self, name: &str) -> Option<i32>;

    /// Whether `name` is a component that `boot` can link in. The default
    /// accepts every name and leaves the question to the executor.
    fn has_component(&self, _name: &str) -> bool {
        true
    }

    /// Names of all system calls, used only for "did you mean" hints. The
    /// default gives no hints.
    fn call_names(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Checks a parsed script against a call table. Reports every error found,
/// in source order.
pub fn check(script: &Script, table: &dyn CallTable) -> Result<(), Diagnostics> {
    let mut checker = Checker {
        table,
        errors: Vec::new(),
    };
    checker.top_level(&script.stmts);
    let mut diagnostics = Diagnostics::new(script.file_name.clone(), script.source.clone());
    for error in checker.errors {
        diagnostics.push(error);
    }
    diagnostics.into_result(())
}

/// What a bound name holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Holds {
    Fd,
    Int,
    Bytes,
    Struct,
    /// Bound to a call the table does not know (already reported): fits
    /// anywhere, so one typo gives one error.
    Unknown,
}

impl Holds {
    fn describe(self) -> &'static str {
        match self {
            Holds::Fd => "a file descriptor",
            Holds::Int => "an integer",
            Holds::Bytes => "bytes",
            Holds::Struct => "a structure",
            Holds::Unknown => "an unknown value",
        }
    }

    fn fits(self, kind: ArgKind) -> bool {
        matches!(
            (self, kind),
            (Holds::Unknown, _)
                | (Holds::Fd, ArgKind::Fd)
                | (Holds::Bytes, ArgKind::Path | ArgKind::Bytes)
                | (
                    Holds::Int,
                    ArgKind::Int
                        | ArgKind::Flags
                        | ArgKind::Mode
                        | ArgKind::Offset
                        | ArgKind::Whence
                        | ArgKind::Len
                )
        )
    }
}

type Scope = BTreeMap<String, (Holds, Span)>;

struct Checker<'a> {
    table: &'a dyn CallTable,
    errors: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error(
        &mut self,
        kind: ErrorKind,
        message: impl Into<String>,
        span: Span,
    ) -> &mut Diagnostic {
        self.errors.push(Diagnostic::new(kind, message, span));
        let last = self.errors.len() - 1;
        &mut self.errors[last]
    }

    fn top_level(&mut self, stmts: &[Stmt]) {
        let mut scope = Scope::new();
        // Directives that may appear once, with the span of the first.
        let mut seen: BTreeMap<&'static str, Span> = BTreeMap::new();
        let mut first_action: Option<Span> = None;
        let mut halt: Option<Span> = None;
        for stmt in stmts {
            let once = match &stmt.kind {
                StmtKind::Boot { .. } => Some("boot"),
                StmtKind::Seeds(_) => Some("seeds"),
                StmtKind::Strategy(_) => Some("strategy"),
                StmtKind::Preempt(_) => Some("preempt"),
                StmtKind::Halt => Some("halt"),
                StmtKind::ExpectFail => Some("expect-fail"),
                _ => None,
            };
            let mut duplicate = false;
            if let Some(word) = once {
                if let Some(first) = seen.get(word) {
                    duplicate = true;
                    let first = *first;
                    let diagnostic = self.error(
                        ErrorKind::BadDirective,
                        format!("`{word}` may appear only once"),
                        stmt.span,
                    );
                    diagnostic.related = Some((first, "first here".to_string()));
                } else {
                    seen.insert(word, stmt.span);
                }
            }
            let is_action = matches!(
                stmt.kind,
                StmtKind::Call(_) | StmtKind::Threads(_) | StmtKind::Sleep(_)
            );
            if is_action {
                if let Some(halt_span) = halt {
                    let diagnostic = self.error(
                        ErrorKind::BadDirective,
                        "nothing can run after `halt`",
                        stmt.span,
                    );
                    diagnostic.related = Some((halt_span, "the kernel halts here".to_string()));
                }
                first_action.get_or_insert(stmt.span);
            }
            match &stmt.kind {
                StmtKind::Boot { components, .. } => {
                    if let (Some(action), false) = (first_action, duplicate) {
                        let diagnostic = self.error(
                            ErrorKind::BadDirective,
                            "`boot` must come before the first system call",
                            stmt.span,
                        );
                        diagnostic.related =
                            Some((action, "the kernel is already running here".to_string()));
                    }
                    for component in components {
                        if !self.table.has_component(&component.node) {
                            self.error(
                                ErrorKind::BadDirective,
                                format!("unknown component `{}`", component.node),
                                component.span,
                            );
                        }
                    }
                }
                StmtKind::Halt => halt = Some(stmt.span),
                StmtKind::Threads(threads) => self.threads(threads, stmt.span, &scope),
                StmtKind::Call(call) => self.call(call, &mut scope),
                StmtKind::Seeds(_)
                | StmtKind::Strategy(_)
                | StmtKind::Preempt(_)
                | StmtKind::Faults(_)
                | StmtKind::Sleep(_)
                | StmtKind::ExpectFail => {}
            }
        }
    }

    fn threads(&mut self, threads: &[Thread], span: Span, outer: &Scope) {
        if threads.is_empty() {
            self.error(
                ErrorKind::BadDirective,
                "a `threads` block needs at least one `thread NAME { ... }`",
                span,
            );
        }
        let mut names: BTreeMap<&str, Span> = BTreeMap::new();
        for thread in threads {
            if let Some(first) = names.get(thread.name.node.as_str()) {
                let first = *first;
                let diagnostic = self.error(
                    ErrorKind::BadDirective,
                    format!("two threads are named `{}`", thread.name.node),
                    thread.name.span,
                );
                diagnostic.related = Some((first, "first here".to_string()));
            } else {
                names.insert(&thread.name.node, thread.name.span);
            }
            // A thread sees the names bound before the block; what it binds
            // stays its own.
            let mut scope = outer.clone();
            for stmt in &thread.body {
                match &stmt.kind {
                    StmtKind::Call(call) => self.call(call, &mut scope),
                    StmtKind::Sleep(_) => {}
                    StmtKind::Threads(_) => {
                        self.error(
                            ErrorKind::BadDirective,
                            "`threads` blocks cannot be nested",
                            stmt.span,
                        );
                    }
                    other => {
                        let word = directive_word(other);
                        self.error(
                            ErrorKind::BadDirective,
                            format!("`{word}` cannot appear inside a thread"),
                            stmt.span,
                        )
                        .help = Some("threads run system calls and `sleep` only".to_string());
                    }
                }
            }
        }
    }

    fn call(&mut self, call: &Call, scope: &mut Scope) {
        let name = &call.name.node;
        let Some(signature) = self.table.signature(name) else {
            self.unknown_call(&call.name);
            // Still check the arguments' names, and bind, so that one typo
            // does not cause "undefined name" errors further down.
            for arg in &call.args {
                if let Value::Name(used) = &arg.node {
                    if !scope.contains_key(used) {
                        self.undefined(used, arg.span);
                    }
                }
            }
            if let Some(bind) = &call.bind {
                scope.insert(bind.node.clone(), (Holds::Unknown, bind.span));
            }
            return;
        };
        self.arity(call, &signature);
        for (index, (arg, kind)) in call.args.iter().zip(&signature.params).enumerate() {
            self.argument(name, index, arg, *kind, scope);
        }
        self.expectation(call, &signature.result);
        if let Some(bind) = &call.bind {
            let holds = match signature.result {
                ResultKind::Unit => {
                    self.error(
                        ErrorKind::BadExpectation,
                        format!("`{name}` returns no value to bind to `{}`", bind.node),
                        bind.span,
                    );
                    Holds::Unknown
                }
                ResultKind::Int => Holds::Int,
                ResultKind::Fd => Holds::Fd,
                ResultKind::Bytes => Holds::Bytes,
                ResultKind::Struct(_) => Holds::Struct,
            };
            scope.insert(bind.node.clone(), (holds, bind.span));
        }
    }

    fn unknown_call(&mut self, name: &Spanned<String>) {
        let call = closest(&name.node, self.table.call_names().into_iter());
        if call.is_none() {
            let directive = closest(&name.node, DIRECTIVES.iter().map(|s| s.to_string()));
            if let Some(directive) = directive {
                self.errors.push(
                    Diagnostic::new(
                        ErrorKind::UnknownDirective,
                        format!("unknown directive `{}`", name.node),
                        name.span,
                    )
                    .with_help(format!("did you mean `{directive}`?")),
                );
                return;
            }
        }
        let mut diagnostic = Diagnostic::new(
            ErrorKind::UnknownCall,
            format!("unknown system call `{}`", name.node),
            name.span,
        );
        if let Some(call) = call {
            diagnostic = diagnostic.with_help(format!("did you mean `{call}`?"));
        }
        self.errors.push(diagnostic);
    }

    fn undefined(&mut self, name: &str, span: Span) {
        self.error(
            ErrorKind::UndefinedName,
            format!("undefined name `{name}`"),
            span,
        )
        .help = Some(format!(
            "bind it first, as in `{name} = open \"/file\" O_RDONLY`"
        ));
    }

    fn arity(&mut self, call: &Call, signature: &Signature) {
        let found = call.args.len();
        let (min, max) = (signature.required, signature.params.len());
        if (min..=max).contains(&found) {
            return;
        }
        let expected = if min == max {
            format!("{min} argument{}", if min == 1 { "" } else { "s" })
        } else if max == min + 1 {
            format!("{min} or {max} arguments")
        } else {
            format!("{min} to {max} arguments")
        };
        let span = if found > max {
            call.args[max].span.to(call.args[found - 1].span)
        } else {
            call.args
                .last()
                .map_or(call.name.span, |last| call.name.span.to(last.span))
        };
        let label = if found > max {
            format!("{} too many", found - max)
        } else {
            format!("{} missing", min - found)
        };
        self.error(
            ErrorKind::WrongArity,
            format!("`{}` takes {expected}, found {found}", call.name.node),
            span,
        )
        .label = label;
    }

    fn argument(&mut self, call: &str, index: usize, arg: &Arg, kind: ArgKind, scope: &Scope) {
        let position = index + 1;
        let mismatch = |found: &str| {
            Diagnostic::new(
                ErrorKind::BadArgument,
                format!(
                    "argument {position} of `{call}` must be {}, found {found}",
                    kind.describe()
                ),
                arg.span,
            )
        };
        match &arg.node {
            Value::Name(word) if kind == ArgKind::Name => {
                let _ = word; // A bare word; the executor interprets it.
            }
            Value::Name(used) => match scope.get(used) {
                None => self.undefined(used, arg.span),
                Some((holds, bound_at)) if !holds.fits(kind) => {
                    let found = format!("`{used}`, which holds {}", holds.describe());
                    let diagnostic = mismatch(&found).with_related(*bound_at, "bound here");
                    self.errors.push(diagnostic);
                }
                Some(_) => {}
            },
            Value::Int(_) => {
                if matches!(
                    kind,
                    ArgKind::Path | ArgKind::Bytes | ArgKind::Name | ArgKind::Duration
                ) {
                    self.errors.push(mismatch("an integer"));
                }
            }
            Value::Str(_) => {
                if !matches!(kind, ArgKind::Path | ArgKind::Bytes) {
                    self.errors.push(mismatch("a string"));
                }
            }
            Value::Size(_) => {
                if !matches!(kind, ArgKind::Int | ArgKind::Offset | ArgKind::Len) {
                    self.errors.push(mismatch("a size"));
                }
            }
            Value::Duration(_) => {
                if kind != ArgKind::Duration {
                    self.errors.push(mismatch("a duration"));
                }
            }
            Value::Flags(terms) => {
                let allowed = match kind {
                    ArgKind::Flags | ArgKind::Mode | ArgKind::Int => true,
                    // A single constant: `SEEK_SET`, or a constant length.
                    ArgKind::Whence | ArgKind::Offset | ArgKind::Len | ArgKind::Fd => {
                        terms.len() == 1
                    }
                    _ => false,
                };
                if !allowed {
                    let found = if terms.len() == 1 {
                        "a constant"
                    } else {
                        "a flag expression"
                    };
                    self.errors.push(mismatch(found));
                }
                self.constants(terms);
            }
        }
    }

    fn constants(&mut self, terms: &[Spanned<FlagTerm>]) {
        for term in terms {
            if let FlagTerm::Const(name) = &term.node {
                if self.table.resolve_const(name).is_none() {
                    self.error(
                        ErrorKind::UnknownConstant,
                        format!("unknown constant `{name}`"),
                        term.span,
                    );
                }
            }
        }
    }

    fn expectation(&mut self, call: &Call, result: &ResultKind) {
        let Some(expect) = &call.expect else { return };
        let name = &call.name.node;
        let mut all_errors = true;
        for alt in &expect.alts {
            let bad = |what: &str| {
                Diagnostic::new(
                    ErrorKind::BadExpectation,
                    format!(
                        "`{name}` {}, so it cannot be expected to be {what}",
                        returns(result)
                    ),
                    alt.span,
                )
            };
            match &alt.node {
                ExpectAlt::Ok | ExpectAlt::Any => all_errors = false,
                ExpectAlt::Errno(errno) => {
                    if self.table.errno(errno).is_none() {
                        self.error(
                            ErrorKind::BadExpectation,
                            format!("unknown errno name `{errno}`"),
                            alt.span,
                        );
                    }
                }
                ExpectAlt::Value(value) => {
                    all_errors = false;
                    let fits = match value {
                        Value::Int(_) => matches!(result, ResultKind::Int | ResultKind::Fd),
                        Value::Size(_) => matches!(result, ResultKind::Int),
                        Value::Str(_) => matches!(result, ResultKind::Bytes),
                        _ => false,
                    };
                    if !fits {
                        let what = match value {
                            Value::Int(_) => "an integer",
                            Value::Size(_) => "a size",
                            Value::Str(_) => "a string",
                            _ => "this value",
                        };
                        self.errors.push(bad(what));
                    }
                }
                ExpectAlt::Fields(fields) => {
                    all_errors = false;
                    let ResultKind::Struct(known) = result else {
                        self.errors.push(bad("a structure with fields"));
                        continue;
                    };
                    let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
                    for field in fields {
                        let field_name = field.name.node.as_str();
                        if !known.iter().any(|k| k == field_name) {
                            self.error(
                                ErrorKind::BadExpectation,
                                format!("`{name}` has no field `{field_name}`"),
                                field.name.span,
                            )
                            .help = Some(format!("its fields are: {}", known.join(", ")));
                        } else if let Some(first) = seen.insert(field_name, field.name.span) {
                            self.error(
                                ErrorKind::BadExpectation,
                                format!("field `{field_name}` is expected twice"),
                                field.name.span,
                            )
                            .related = Some((first, "first here".to_string()));
                        }
                        match &field.value.node {
                            Value::Flags(terms) => self.constants(terms),
                            Value::Duration(_) => {
                                self.error(
                                    ErrorKind::BadExpectation,
                                    format!("field `{field_name}` cannot be a duration"),
                                    field.value.span,
                                );
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        if all_errors {
            if let Some(bind) = &call.bind {
                self.error(
                    ErrorKind::BadExpectation,
                    format!(
                        "`{}` is bound, but every expected outcome is an error",
                        bind.node
                    ),
                    expect.span,
                )
                .related = Some((bind.span, "bound here".to_string()));
            }
        }
    }
}

fn returns(result: &ResultKind) -> &'static str {
    match result {
        ResultKind::Unit => "returns no value",
        ResultKind::Int => "returns an integer",
        ResultKind::Fd => "returns a file descriptor",
        ResultKind::Bytes => "returns bytes",
        ResultKind::Struct(_) => "returns a structure",
    }
}

fn directive_word(kind: &StmtKind) -> &'static str {
    match kind {
        StmtKind::Boot { .. } => "boot",
        StmtKind::Seeds(_) => "seeds",
        StmtKind::Strategy(_) => "strategy",
        StmtKind::Preempt(_) => "preempt",
        StmtKind::Faults(_) => "faults",
        StmtKind::Sleep(_) => "sleep",
        StmtKind::Halt => "halt",
        StmtKind::ExpectFail => "expect-fail",
        StmtKind::Threads(_) => "threads",
        StmtKind::Call(_) => "call",
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough
/// to be a plausible typo.
fn closest(word: &str, candidates: impl Iterator<Item = String>) -> Option<String> {
    let limit = match word.chars().count() {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    };
    if limit == 0 {
        return None;
    }
    // The edit distance is at least the difference in length, so a word much
    // longer or shorter than a candidate needs no table (and a long word in
    // a fuzzed script costs no quadratic time per candidate).
    let length = word.chars().count();
    candidates
        .filter(|candidate| candidate.chars().count().abs_diff(length) <= limit)
        .filter_map(|candidate| {
            let distance = bounded_edit_distance(word, &candidate, limit)?;
            Some((distance, candidate))
        })
        .filter(|(distance, _)| *distance > 0)
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)))
        .map(|(_, candidate)| candidate)
}

/// The edit distance between `a` and `b` if it is at most `limit`: the
/// table is abandoned as soon as a whole row exceeds the limit.
fn bounded_edit_distance(a: &str, b: &str, limit: usize) -> Option<usize> {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        if current.iter().all(|&d| d > limit) {
            return None;
        }
        core::mem::swap(&mut previous, &mut current);
    }
    Some(previous[b.len()]).filter(|&d| d <= limit)
}

#[cfg(test)]
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("opn", "open"), 1);
        assert_eq!(edit_distance("open", "open"), 0);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        for (a, b) in [
            ("opn", "open"),
            ("kitten", "sitting"),
            ("", "abc"),
            ("abc", ""),
        ] {
            for limit in 0..5 {
                let full = edit_distance(a, b);
                let bounded = bounded_edit_distance(a, b, limit);
                assert_eq!(bounded, (full <= limit).then_some(full), "{a} {b} {limit}");
            }
        }
    }

    #[test]
    fn closest_ignores_exact_and_distant_words() {
        let names = || ["open", "close", "read"].iter().map(|s| s.to_string());
        assert_eq!(closest("opn", names()), Some("open".to_string()));
        assert_eq!(closest("open", names()), None);
        assert_eq!(closest("xyzzy", names()), None);
        // Two letters are too short to guess at.
        assert_eq!(closest("rd", names()), None);
    }
}
