//! The parser: tokens to a [`Script`], line by line.
//!
//! Every statement fits on one line, and blocks open with `{` at the end of
//! a line and close with a `}` alone on a line. An error abandons only the
//! line it is on: parsing goes on at the next line, so one run reports every
//! broken line of a file.

// Errors are rare and come one per broken line, so a large `Diagnostic` in
// the `Err` variant of `LineResult` costs nothing worth boxing.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use crate::ast::{
    Call, Expect, ExpectAlt, Field, FlagTerm, Ident, Param, Preempt, Script, Span, Spanned, Stmt,
    StmtKind, Strategy, Thread, Value,
};
use crate::diag::{Diagnostic, Diagnostics, ErrorKind};
use crate::lexer::{lex, Tok, Token};

/// Words that begin a directive line rather than a system call.
pub const DIRECTIVES: &[&str] = &[
    "boot",
    "seeds",
    "strategy",
    "preempt",
    "faults",
    "sleep",
    "halt",
    "expect-fail",
    "threads",
    "thread",
];

/// Parses a scenario script. `file_name` is only used in diagnostics.
///
/// Never panics; on failure returns every error found, in source order.
pub fn parse(file_name: &str, source: &str) -> Result<Script, Diagnostics> {
    let source: Arc<str> = Arc::from(source);
    let mut errors = Vec::new();
    let tokens = lex(&source, &mut errors);
    let lines = split_lines(&tokens);
    let mut parser = Parser {
        lines,
        next_line: 0,
        errors,
    };
    let stmts = parser.block(BlockKind::Top).stmts;
    let mut diagnostics = Diagnostics::new(file_name, source.clone());
    for error in parser.errors {
        diagnostics.push(error);
    }
    diagnostics.into_result(Script {
        file_name: file_name.to_string(),
        source,
        stmts,
    })
}

/// The tokens of each line, newline excluded; `None` for a line that holds a
/// lexical error already reported.
fn split_lines(tokens: &[Token]) -> Vec<Option<&[Token]>> {
    tokens
        .split(|t| t.tok == Tok::Newline)
        .map(|line| {
            if line.iter().any(|t| t.tok == Tok::Error) {
                None
            } else {
                Some(line)
            }
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Top,
    /// Inside `threads { ... }`: only `thread NAME {` lines.
    Threads,
    /// Inside `thread NAME { ... }`.
    Thread,
}

struct Block {
    stmts: Vec<Stmt>,
    /// The closing brace, or `None` if the file ended first.
    close: Option<Span>,
    /// `thread` blocks found, for a `threads` block.
    threads: Vec<Thread>,
}

struct Parser<'t> {
    lines: Vec<Option<&'t [Token]>>,
    next_line: usize,
    errors: Vec<Diagnostic>,
}

/// A line either parses or yields the one error that abandons it.
type LineResult<T> = Result<T, Diagnostic>;

impl<'t> Parser<'t> {
    fn block(&mut self, kind: BlockKind) -> Block {
        let mut block = Block {
            stmts: Vec::new(),
            close: None,
            threads: Vec::new(),
        };
        while self.next_line < self.lines.len() {
            let line = self.lines[self.next_line];
            self.next_line += 1;
            let Some(tokens) = line else { continue };
            if tokens.is_empty() {
                continue;
            }
            if tokens[0].tok == Tok::RBrace {
                if let Some(extra) = tokens.get(1) {
                    self.errors.push(syntax(
                        format!(
                            "expected the end of the line after `}}`, found {}",
                            extra.tok.describe()
                        ),
                        extra.span,
                    ));
                }
                if kind == BlockKind::Top {
                    self.errors.push(
                        Diagnostic::new(
                            ErrorKind::UnbalancedBlock,
                            "unmatched `}`",
                            tokens[0].span,
                        )
                        .with_label("no block is open here"),
                    );
                    continue;
                }
                block.close = Some(tokens[0].span);
                return block;
            }
            if let Some(result) = self.block_opener(tokens, kind) {
                match result {
                    Opened::Threads(stmt) => block.stmts.push(stmt),
                    Opened::Thread(thread) => block.threads.push(thread),
                    Opened::Discarded => {}
                }
                continue;
            }
            if kind == BlockKind::Threads {
                self.errors.push(syntax(
                    "only `thread NAME {` lines can appear directly inside a `threads` block",
                    line_span(tokens),
                ));
                continue;
            }
            match statement(tokens) {
                Ok(stmt) => block.stmts.push(stmt),
                Err(error) => self.errors.push(error),
            }
        }
        block
    }

    /// Handles `threads {` and `thread NAME {` lines, returning `None` for
    /// any other line. The inner block is parsed even when the opening line
    /// is wrong, so that its lines and closing brace do not cause a cascade
    /// of follow-up errors.
    fn block_opener(&mut self, tokens: &'t [Token], kind: BlockKind) -> Option<Opened> {
        let Tok::Ident(word) = &tokens[0].tok else {
            return None;
        };
        let is_threads = word == "threads";
        if !is_threads && word != "thread" {
            return None;
        }
        let open = tokens.last().filter(|t| t.tok == Tok::LBrace);
        let Some(open) = open else {
            self.errors.push(syntax(
                format!(
                    "expected `{}` at the end of the line",
                    if is_threads {
                        "threads {"
                    } else {
                        "thread NAME {"
                    }
                ),
                line_span(tokens),
            ));
            return Some(Opened::Discarded);
        };
        let head = &tokens[1..tokens.len() - 1];
        let mut line_ok = true;
        let mut name = None;
        if is_threads {
            if let Some(extra) = head.first() {
                self.errors.push(syntax(
                    format!(
                        "expected `{{` after `threads`, found {}",
                        extra.tok.describe()
                    ),
                    extra.span,
                ));
                line_ok = false;
            }
        } else {
            match head {
                [Token {
                    tok: Tok::Ident(thread_name),
                    span,
                }] if !thread_name.contains('-') => {
                    name = Some(Spanned::new(thread_name.clone(), *span));
                }
                _ => {
                    self.errors.push(syntax(
                        "expected a thread name, as in `thread t1 {`",
                        line_span(tokens),
                    ));
                    line_ok = false;
                }
            }
        }
        let inner_kind = if is_threads {
            BlockKind::Threads
        } else {
            BlockKind::Thread
        };
        let inner = self.block(inner_kind);
        let Some(close) = inner.close else {
            self.errors.push(
                Diagnostic::new(
                    ErrorKind::UnbalancedBlock,
                    format!("unclosed `{word}` block"),
                    open.span,
                )
                .with_label("this `{` has no matching `}`"),
            );
            return Some(Opened::Discarded);
        };
        let span = tokens[0].span.to(close);
        if is_threads {
            if kind == BlockKind::Threads {
                // Reported by the enclosing block's rules below.
                self.errors
                    .push(syntax("`threads` blocks cannot be nested", tokens[0].span));
                return Some(Opened::Discarded);
            }
            if !line_ok {
                return Some(Opened::Discarded);
            }
            return Some(Opened::Threads(Stmt {
                kind: StmtKind::Threads(inner.threads),
                span,
            }));
        }
        if kind != BlockKind::Threads {
            self.errors.push(
                syntax(
                    "`thread` blocks must be inside a `threads` block",
                    tokens[0].span,
                )
                .with_help("wrap the threads that run concurrently in `threads { ... }`"),
            );
            return Some(Opened::Discarded);
        }
        match (line_ok, name) {
            (true, Some(name)) => Some(Opened::Thread(Thread {
                name,
                body: inner.stmts,
                span,
            })),
            _ => Some(Opened::Discarded),
        }
    }
}

enum Opened {
    Threads(Stmt),
    Thread(Thread),
    Discarded,
}

fn syntax(message: impl Into<String>, span: Span) -> Diagnostic {
    Diagnostic::new(ErrorKind::Syntax, message, span)
}

fn line_span(tokens: &[Token]) -> Span {
    match (tokens.first(), tokens.last()) {
        (Some(first), Some(last)) => first.span.to(last.span),
        _ => Span::DUMMY,
    }
}

fn is_constant(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
}

/// A cursor over the tokens of one line.
struct Cursor<'t> {
    tokens: &'t [Token],
    pos: usize,
}

impl<'t> Cursor<'t> {
    fn peek(&self) -> Option<&'t Token> {
        self.tokens.get(self.pos)
    }

    fn peek_tok(&self) -> Option<&'t Tok> {
        self.peek().map(|t| &t.tok)
    }

    fn peek2_tok(&self) -> Option<&'t Tok> {
        self.tokens.get(self.pos + 1).map(|t| &t.tok)
    }

    fn bump(&mut self) -> Option<&'t Token> {
        let token = self.tokens.get(self.pos);
        self.pos += 1;
        token
    }

    fn at_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    /// The span of the next token, or an empty span after the last one.
    fn here(&self) -> Span {
        match self.peek() {
            Some(token) => token.span,
            None => {
                let end = self.tokens.last().map_or(0, |t| t.span.end);
                Span::new(end, end)
            }
        }
    }

    /// The span to blame when something is missing: the next token, or the
    /// last token of the line if there is none.
    fn blame(&self) -> Span {
        match self.peek() {
            Some(token) => token.span,
            None => self.tokens.last().map_or(Span::DUMMY, |t| t.span),
        }
    }

    fn found(&self) -> String {
        self.peek_tok()
            .map_or_else(|| Tok::Newline.describe(), Tok::describe)
    }

    fn expect_end(&self, after: &str) -> LineResult<()> {
        match self.peek() {
            None => Ok(()),
            Some(token) => Err(syntax(
                format!(
                    "expected the end of the line after {after}, found {}",
                    token.tok.describe()
                ),
                token.span,
            )),
        }
    }

    fn ident(&mut self, what: &str) -> LineResult<Ident> {
        match self.peek() {
            Some(Token {
                tok: Tok::Ident(name),
                span,
            }) => {
                self.pos += 1;
                Ok(Spanned::new(name.clone(), *span))
            }
            _ => Err(syntax(
                format!("expected {what}, found {}", self.found()),
                self.blame(),
            )),
        }
    }
}

fn statement(tokens: &[Token]) -> LineResult<Stmt> {
    let mut cursor = Cursor { tokens, pos: 0 };
    let first = &tokens[0];
    let Tok::Ident(word) = &first.tok else {
        return Err(syntax(
            format!(
                "expected a system call or a directive, found {}",
                first.tok.describe()
            ),
            first.span,
        ));
    };
    let kind = if cursor.peek2_tok() == Some(&Tok::Eq) {
        binding(&mut cursor)?
    } else if DIRECTIVES.contains(&word.as_str()) {
        cursor.bump();
        directive(word, first.span, &mut cursor)?
    } else if word.contains('-') {
        return Err(Diagnostic::new(
            ErrorKind::UnknownDirective,
            format!("unknown directive `{word}`"),
            first.span,
        )
        .with_help(format!("directives are: {}", DIRECTIVES.join(", "))));
    } else {
        StmtKind::Call(call(None, &mut cursor)?)
    };
    Ok(Stmt {
        kind,
        span: line_span(tokens),
    })
}

fn binding(cursor: &mut Cursor<'_>) -> LineResult<StmtKind> {
    let name = cursor.ident("a name")?;
    cursor.bump(); // `=`
    if name.node.contains('-') || is_constant(&name.node) {
        return Err(syntax(
            format!(
                "cannot bind `{}`: names start with a lowercase letter or `_` and contain no `-`",
                name.node
            ),
            name.span,
        ));
    }
    if DIRECTIVES.contains(&name.node.as_str()) {
        return Err(syntax(
            format!("cannot bind `{}`: it is a directive", name.node),
            name.span,
        ));
    }
    Ok(StmtKind::Call(call(Some(name), cursor)?))
}

fn call(bind: Option<Ident>, cursor: &mut Cursor<'_>) -> LineResult<Call> {
    let name = cursor.ident("a system call name")?;
    if DIRECTIVES.contains(&name.node.as_str()) {
        return Err(syntax(
            format!(
                "`{}` is a directive, not a system call; its result cannot be bound",
                name.node
            ),
            name.span,
        ));
    }
    if name.node.contains('-') {
        return Err(Diagnostic::new(
            ErrorKind::UnknownCall,
            format!("unknown system call `{}`", name.node),
            name.span,
        ));
    }
    let mut args = Vec::new();
    while !cursor.at_end() && cursor.peek_tok() != Some(&Tok::Arrow) {
        args.push(value(cursor, true, "an argument")?);
    }
    let expect = if cursor.peek_tok() == Some(&Tok::Arrow) {
        let arrow = cursor.bump().map_or(Span::DUMMY, |t| t.span);
        Some(expectation(cursor, arrow)?)
    } else {
        None
    };
    Ok(Call {
        bind,
        name,
        args,
        expect,
    })
}

/// Parses one value. With `flags`, a `|` after a constant or an integer
/// continues a flag expression; without, values stop before `|` (in
/// expectations, `|` separates alternatives).
fn value(cursor: &mut Cursor<'_>, flags: bool, what: &str) -> LineResult<Spanned<Value>> {
    let Some(token) = cursor.peek() else {
        return Err(syntax(
            format!("expected {what}, found the end of the line"),
            cursor.blame(),
        ));
    };
    let span = token.span;
    let first_term = match &token.tok {
        Tok::Int(int) => FlagTerm::Int(*int),
        Tok::Ident(name) if is_constant(name) => FlagTerm::Const(name.clone()),
        Tok::Ident(name) => {
            cursor.bump();
            return Ok(Spanned::new(Value::Name(name.clone()), span));
        }
        Tok::Str(bytes) => {
            cursor.bump();
            return Ok(Spanned::new(Value::Str(bytes.clone()), span));
        }
        Tok::Size(size) => {
            cursor.bump();
            return Ok(Spanned::new(Value::Size(*size), span));
        }
        Tok::Duration(duration) => {
            cursor.bump();
            return Ok(Spanned::new(Value::Duration(*duration), span));
        }
        other => {
            return Err(syntax(
                format!("expected {what}, found {}", other.describe()),
                span,
            ))
        }
    };
    cursor.bump();
    let mut terms = vec![Spanned::new(first_term, span)];
    while flags && cursor.peek_tok() == Some(&Tok::Pipe) {
        cursor.bump();
        let term = match cursor.peek() {
            Some(Token {
                tok: Tok::Int(int),
                span,
            }) => Spanned::new(FlagTerm::Int(*int), *span),
            Some(Token {
                tok: Tok::Ident(name),
                span,
            }) if is_constant(name) => Spanned::new(FlagTerm::Const(name.clone()), *span),
            _ => {
                return Err(syntax(
                    format!(
                        "expected a constant or an integer after `|`, found {}",
                        cursor.found()
                    ),
                    cursor.blame(),
                ))
            }
        };
        cursor.bump();
        terms.push(term);
    }
    let span = terms[0].span.to(terms[terms.len() - 1].span);
    if let [Spanned {
        node: FlagTerm::Int(int),
        ..
    }] = terms.as_slice()
    {
        return Ok(Spanned::new(Value::Int(*int), span));
    }
    Ok(Spanned::new(Value::Flags(terms), span))
}

fn expectation(cursor: &mut Cursor<'_>, arrow: Span) -> LineResult<Expect> {
    if cursor.at_end() {
        return Err(Diagnostic::new(
            ErrorKind::BadExpectation,
            "expected an expectation after `->`",
            arrow,
        )
        .with_help("write `ok`, `any`, an errno name, a value, or `field=value`"));
    }
    let mut alts = Vec::new();
    loop {
        alts.push(alternative(cursor)?);
        match cursor.peek_tok() {
            None => break,
            Some(Tok::Pipe) => {
                cursor.bump();
            }
            Some(other) => {
                return Err(syntax(
                    format!(
                        "expected `|` or the end of the line after an expectation, found {}",
                        other.describe()
                    ),
                    cursor.here(),
                ))
            }
        }
    }
    let span = alts[0].span.to(alts[alts.len() - 1].span);
    Ok(Expect { alts, span })
}

fn alternative(cursor: &mut Cursor<'_>) -> LineResult<Spanned<ExpectAlt>> {
    let Some(token) = cursor.peek() else {
        return Err(Diagnostic::new(
            ErrorKind::BadExpectation,
            "expected another alternative after `|`",
            cursor.blame(),
        ));
    };
    let span = token.span;
    match &token.tok {
        Tok::Ident(_) if cursor.peek2_tok() == Some(&Tok::Eq) => {
            let mut fields = Vec::new();
            while let (Some(Tok::Ident(_)), Some(Tok::Eq)) = (cursor.peek_tok(), cursor.peek2_tok())
            {
                let name = cursor.ident("a field name")?;
                cursor.bump(); // `=`
                let value = value(cursor, false, "a field value")?;
                fields.push(Field { name, value });
            }
            let end = fields[fields.len() - 1].value.span;
            Ok(Spanned::new(ExpectAlt::Fields(fields), span.to(end)))
        }
        Tok::Ident(word) if word == "ok" => {
            cursor.bump();
            Ok(Spanned::new(ExpectAlt::Ok, span))
        }
        Tok::Ident(word) if word == "any" => {
            cursor.bump();
            Ok(Spanned::new(ExpectAlt::Any, span))
        }
        Tok::Ident(word) if is_constant(word) => {
            cursor.bump();
            Ok(Spanned::new(ExpectAlt::Errno(word.clone()), span))
        }
        Tok::Int(_) | Tok::Str(_) | Tok::Size(_) | Tok::Duration(_) => {
            let value = value(cursor, false, "a value")?;
            Ok(Spanned::new(ExpectAlt::Value(value.node), value.span))
        }
        other => Err(Diagnostic::new(
            ErrorKind::BadExpectation,
            format!("bad expectation {}", other.describe()),
            span,
        )
        .with_help("write `ok`, `any`, an errno name, a value, or `field=value`")),
    }
}

fn directive(word: &str, word_span: Span, cursor: &mut Cursor<'_>) -> LineResult<StmtKind> {
    let kind = match word {
        "boot" => {
            let mut components = Vec::new();
            let mut params = Vec::new();
            while !cursor.at_end() {
                let name = cursor.ident("a component name or `key=value`")?;
                if cursor.peek_tok() == Some(&Tok::Eq) {
                    cursor.bump();
                    let value = value(cursor, false, "a parameter value")?;
                    params.push(Param { name, value });
                } else {
                    components.push(name);
                }
            }
            StmtKind::Boot { components, params }
        }
        "seeds" => {
            let count = match cursor.bump() {
                Some(Token {
                    tok: Tok::Int(int),
                    span,
                }) if int.value >= 1 => Spanned::new(int.value as u64, *span),
                other => {
                    return Err(bad_directive(
                        "`seeds` takes a positive number of seeds, as in `seeds 32`",
                        other.map_or(word_span, |t| t.span),
                    ))
                }
            };
            StmtKind::Seeds(count)
        }
        "strategy" => {
            let name = cursor
                .ident("a strategy: `roundrobin`, `random` or `pct`")
                .map_err(|e| {
                    bad_directive(
                        "`strategy` takes `roundrobin`, `random` or `pct depth=N`",
                        e.span,
                    )
                })?;
            let strategy = match name.node.as_str() {
                "roundrobin" => Strategy::RoundRobin,
                "random" => Strategy::Random,
                "pct" => {
                    let mut depth = None;
                    if !cursor.at_end() {
                        let key = cursor.ident("`depth=N`")?;
                        let value_span = cursor.tokens.get(cursor.pos + 1).map(|t| t.span);
                        match (key.node.as_str(), cursor.bump(), cursor.bump()) {
                            (
                                "depth",
                                Some(Token { tok: Tok::Eq, .. }),
                                Some(Token {
                                    tok: Tok::Int(int),
                                    span,
                                }),
                            ) if int.value >= 1 && int.value <= i64::from(u32::MAX) => {
                                depth = Some(Spanned::new(int.value as u32, *span));
                            }
                            _ => {
                                return Err(bad_directive(
                                    "`pct` takes `depth=N` with N at least 1",
                                    key.span.to(value_span.unwrap_or(key.span)),
                                ))
                            }
                        }
                    }
                    Strategy::Pct { depth }
                }
                other => {
                    return Err(
                        bad_directive(format!("unknown strategy `{other}`"), name.span)
                            .with_help("strategies are `roundrobin`, `random` and `pct depth=N`"),
                    )
                }
            };
            let span = name
                .span
                .to(cursor.tokens[cursor.pos.min(cursor.tokens.len()) - 1].span);
            StmtKind::Strategy(Spanned::new(strategy, span))
        }
        "preempt" => {
            let name = cursor
                .ident("`none`, `locks` or `all`")
                .map_err(|e| bad_directive("`preempt` takes `none`, `locks` or `all`", e.span))?;
            let preempt = match name.node.as_str() {
                "none" => Preempt::None,
                "locks" => Preempt::Locks,
                "all" => Preempt::All,
                other => {
                    return Err(bad_directive(
                        format!("unknown preemption setting `{other}`"),
                        name.span,
                    )
                    .with_help("`preempt` takes `none`, `locks` or `all`"))
                }
            };
            StmtKind::Preempt(Spanned::new(preempt, name.span))
        }
        "faults" => match cursor.bump() {
            Some(Token {
                tok: Tok::Str(bytes),
                span,
            }) => match String::from_utf8(bytes.clone()) {
                Ok(plan) => StmtKind::Faults(Spanned::new(plan, *span)),
                Err(_) => {
                    return Err(bad_directive(
                        "a fault plan must be valid UTF-8 text",
                        *span,
                    ))
                }
            },
            other => {
                return Err(bad_directive(
                    "`faults` takes a fault plan in quotes, as in `faults \"alloc:nth=3\"`",
                    other.map_or(word_span, |t| t.span),
                ))
            }
        },
        "sleep" => match cursor.bump() {
            Some(Token {
                tok: Tok::Duration(duration),
                span,
            }) => StmtKind::Sleep(Spanned::new(*duration, *span)),
            other => {
                return Err(bad_directive(
                    "`sleep` takes a duration with a unit (ns, us, ms, s), as in `sleep 10ms`",
                    other.map_or(word_span, |t| t.span),
                ))
            }
        },
        "halt" => StmtKind::Halt,
        "expect-fail" => StmtKind::ExpectFail,
        // `threads` and `thread` lines without a trailing `{` are reported
        // by the block parser; anything else is not a directive.
        _ => {
            return Err(Diagnostic::new(
                ErrorKind::UnknownDirective,
                format!("unknown directive `{word}`"),
                word_span,
            ))
        }
    };
    cursor.expect_end(&format!("`{word}`"))?;
    Ok(kind)
}

fn bad_directive(message: impl Into<String>, span: Span) -> Diagnostic {
    Diagnostic::new(ErrorKind::BadDirective, message, span)
}
