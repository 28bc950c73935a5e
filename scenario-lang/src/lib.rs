//! The rumpkit scenario language front end: it turns `.scn` scenario
//! scripts into a checked syntax tree, reports mistakes in them as
//! positioned diagnostics, and prints trees back as canonical text. It is a
//! pure library with no kernel dependency: the harness executes the tree,
//! the shrinker and the fuzzers build and print trees, and all of them learn
//! about the kernel's system calls only through the [`CallTable`] trait that
//! the executor implements.
//!
//! # The pieces
//!
//! * [`parse`] — lexer and parser. One statement per line; a broken line is
//!   reported and skipped, so one run reports every broken line. It never
//!   panics, whatever the input.
//! * [`check`] — everything knowable before boot: call names, arity,
//!   argument kinds, constant and errno names, bound names, where directives
//!   may appear. It asks a [`CallTable`]; [`testing::PosixTable`] is a test
//!   double.
//! * [`Diagnostics`] — errors with file, line, column and a caret under the
//!   span, rendered like rustc's messages (plain text unless asked for
//!   colour).
//! * [`print`] — the canonical text of a [`Script`]. Printing then parsing
//!   gives the same tree, spans aside ([`Script::erase_spans`]).
//!
//! ```
//! use rumpkit_scenario::{check, parse, print, testing::PosixTable};
//!
//! let script = parse("demo.scn", "boot vfs tmpfs\nmount tmpfs \"/\"\nfd = open \"/a\" O_CREAT|O_RDWR 0o644 -> ok\nwrite fd \"hi\" -> 2\n").unwrap();
//! check(&script, &PosixTable).unwrap();
//! assert!(print(&script).contains("fd = open \"/a\" O_CREAT|O_RDWR 0o644 -> ok"));
//!
//! let errors = parse("bad.scn", "write fd \"oops\n").unwrap_err();
//! assert!(errors.to_string().contains("bad.scn:1:10"));
//! ```
//!
//! The language itself is described in `docs/scenarios.md`.
//!
//! This crate depends on nothing of rumpkit; only `annotate-snippets` for
//! rendering diagnostics.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod ast;
mod check;
mod diag;
mod lexer;
mod parser;
mod printer;
pub mod testing;

pub use ast::{
    Arg, Call, Duration, Expect, ExpectAlt, Field, FlagTerm, Ident, Int, Param, Preempt, Radix,
    Script, Size, SizeUnit, Span, Spanned, Stmt, StmtKind, Strategy, Thread, TimeUnit, Value,
};
pub use check::{check, ArgKind, CallTable, ResultKind, Signature};
pub use diag::{line_col, Diagnostic, Diagnostics, ErrorKind};
pub use parser::{parse, DIRECTIVES};
pub use printer::{print, print_stmts, quote};

/// Parses and checks a script in one step.
pub fn parse_and_check(
    file_name: &str,
    source: &str,
    table: &dyn CallTable,
) -> Result<Script, Diagnostics> {
    let script = parse(file_name, source)?;
    check(&script, table)?;
    Ok(script)
}
