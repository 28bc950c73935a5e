//! The pretty-printer: a [`Script`] back to canonical text.
//!
//! The shrinker drops statements and prints what is left; a fuzzer builds
//! statements and prints them as a replayable script. Printing then parsing
//! gives the same tree, spans aside. Comments and blank lines are not part
//! of the tree, so they do not survive.

use std::fmt::{self, Write};

use crate::ast::{Call, Expect, ExpectAlt, FlagTerm, Script, Stmt, StmtKind, Strategy, Value};

/// Prints a script in canonical form: one statement per line, two spaces of
/// indentation per block, a final newline.
pub fn print(script: &Script) -> String {
    print_stmts(&script.stmts)
}

/// Prints statements as [`print`] does.
pub fn print_stmts(stmts: &[Stmt]) -> String {
    let mut out = String::new();
    for stmt in stmts {
        write_stmt(&mut out, stmt, 0);
    }
    out
}

impl fmt::Display for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print(self))
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_value(&mut out, self);
        f.write_str(&out)
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn write_stmt(out: &mut String, stmt: &Stmt, depth: usize) {
    indent(out, depth);
    match &stmt.kind {
        StmtKind::Boot { components, params } => {
            out.push_str("boot");
            for component in components {
                out.push(' ');
                out.push_str(&component.node);
            }
            for param in params {
                out.push(' ');
                out.push_str(&param.name.node);
                out.push('=');
                write_value(out, &param.value.node);
            }
        }
        StmtKind::Seeds(count) => {
            let _ = write!(out, "seeds {}", count.node);
        }
        StmtKind::Strategy(strategy) => match &strategy.node {
            Strategy::RoundRobin => out.push_str("strategy roundrobin"),
            Strategy::Random => out.push_str("strategy random"),
            Strategy::Pct { depth: None } => out.push_str("strategy pct"),
            Strategy::Pct { depth: Some(depth) } => {
                let _ = write!(out, "strategy pct depth={}", depth.node);
            }
        },
        StmtKind::Preempt(preempt) => {
            out.push_str("preempt ");
            out.push_str(preempt.node.keyword());
        }
        StmtKind::Faults(plan) => {
            out.push_str("faults ");
            write_string(out, plan.node.as_bytes());
        }
        StmtKind::Sleep(duration) => {
            let _ = write!(out, "sleep {}", duration.node);
        }
        StmtKind::Halt => out.push_str("halt"),
        StmtKind::ExpectFail => out.push_str("expect-fail"),
        StmtKind::Call(call) => write_call(out, call),
        StmtKind::Threads(threads) => {
            out.push_str("threads {\n");
            for thread in threads {
                indent(out, depth + 1);
                let _ = writeln!(out, "thread {} {{", thread.name.node);
                for stmt in &thread.body {
                    write_stmt(out, stmt, depth + 2);
                }
                indent(out, depth + 1);
                out.push_str("}\n");
            }
            indent(out, depth);
            out.push('}');
        }
    }
    out.push('\n');
}

fn write_call(out: &mut String, call: &Call) {
    if let Some(bind) = &call.bind {
        out.push_str(&bind.node);
        out.push_str(" = ");
    }
    out.push_str(&call.name.node);
    for arg in &call.args {
        out.push(' ');
        write_value(out, &arg.node);
    }
    if let Some(expect) = &call.expect {
        out.push_str(" -> ");
        write_expect(out, expect);
    }
}

fn write_expect(out: &mut String, expect: &Expect) {
    for (index, alt) in expect.alts.iter().enumerate() {
        if index > 0 {
            out.push_str(" | ");
        }
        match &alt.node {
            ExpectAlt::Ok => out.push_str("ok"),
            ExpectAlt::Any => out.push_str("any"),
            ExpectAlt::Errno(name) => out.push_str(name),
            ExpectAlt::Value(value) => write_value(out, value),
            ExpectAlt::Fields(fields) => {
                for (index, field) in fields.iter().enumerate() {
                    if index > 0 {
                        out.push(' ');
                    }
                    out.push_str(&field.name.node);
                    out.push('=');
                    write_value(out, &field.value.node);
                }
            }
        }
    }
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Int(int) => {
            let _ = write!(out, "{int}");
        }
        Value::Str(bytes) => write_string(out, bytes),
        Value::Size(size) => {
            let _ = write!(out, "{size}");
        }
        Value::Duration(duration) => {
            let _ = write!(out, "{duration}");
        }
        Value::Name(name) => out.push_str(name),
        Value::Flags(terms) => {
            for (index, term) in terms.iter().enumerate() {
                if index > 0 {
                    out.push('|');
                }
                match &term.node {
                    FlagTerm::Const(name) => out.push_str(name),
                    FlagTerm::Int(int) => {
                        let _ = write!(out, "{int}");
                    }
                }
            }
        }
    }
}

/// Bytes as a script string literal (`"a\n"`): printable ASCII as is,
/// everything else escaped, so that parsing it gives the bytes back.
pub fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    write_string(&mut out, bytes);
    out
}

/// Writes bytes as a string literal: printable ASCII as is, everything else
/// escaped.
fn write_string(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for &byte in bytes {
        match byte {
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            0 => out.push_str("\\0"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(byte as char),
            _ => {
                let _ = write!(out, "\\x{byte:02x}");
            }
        }
    }
    out.push('"');
}
