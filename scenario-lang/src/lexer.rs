//! The lexer: source text to tokens, one line at a time.
//!
//! Lexical errors (an unterminated string, a bad escape, a malformed number,
//! a stray character) are reported here and leave a [`Tok::Error`] token
//! behind, so the parser skips the rest of that line without piling a second
//! error on top of the first.

use crate::ast::{Duration, Int, Radix, Size, SizeUnit, Span, TimeUnit};
use crate::diag::{Diagnostic, ErrorKind};

/// Token kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    /// `[A-Za-z_][A-Za-z0-9_]*`, with interior `-` allowed before a letter
    /// or digit (`expect-fail`).
    Ident(String),
    Int(Int),
    Size(Size),
    Duration(Duration),
    Str(Vec<u8>),
    /// `=`
    Eq,
    /// `|`
    Pipe,
    /// `->`
    Arrow,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// End of a line (or of the file).
    Newline,
    /// Something already reported as a lexical error.
    Error,
}

impl Tok {
    /// How the token is named in "expected X, found Y" messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(name) => format!("`{name}`"),
            Tok::Int(int) => format!("`{int}`"),
            Tok::Size(size) => format!("`{size}`"),
            Tok::Duration(duration) => format!("`{duration}`"),
            Tok::Str(_) => "a string".to_string(),
            Tok::Eq => "`=`".to_string(),
            Tok::Pipe => "`|`".to_string(),
            Tok::Arrow => "`->`".to_string(),
            Tok::LBrace => "`{`".to_string(),
            Tok::RBrace => "`}`".to_string(),
            Tok::Newline => "the end of the line".to_string(),
            Tok::Error => "an invalid token".to_string(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) span: Span,
}

/// Splits `source` into tokens. The result always ends with a
/// [`Tok::Newline`], so every line (the last one too) is terminated.
pub(crate) fn lex(source: &str, errors: &mut Vec<Diagnostic>) -> Vec<Token> {
    let mut lexer = Lexer {
        source,
        bytes: source.as_bytes(),
        pos: 0,
        tokens: Vec::new(),
        errors,
    };
    lexer.run();
    lexer.tokens
}

struct Lexer<'a, 'e> {
    source: &'a str,
    bytes: &'a [u8],
    pos: usize,
    tokens: Vec<Token>,
    errors: &'e mut Vec<Diagnostic>,
}

fn is_ident_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_'
}

fn is_ident_continue(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

impl Lexer<'_, '_> {
    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    fn push(&mut self, tok: Tok, start: usize) {
        self.tokens.push(Token {
            tok,
            span: Span::new(start, self.pos),
        });
    }

    fn error(&mut self, kind: ErrorKind, message: String, span: Span, label: &str) {
        self.errors
            .push(Diagnostic::new(kind, message, span).with_label(label));
    }

    fn run(&mut self) {
        while let Some(byte) = self.peek_at(0) {
            let start = self.pos;
            match byte {
                b'\n' => {
                    self.pos += 1;
                    self.push(Tok::Newline, start);
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'#' => self.skip_to_end_of_line(),
                b'=' => {
                    self.pos += 1;
                    self.push(Tok::Eq, start);
                }
                b'|' => {
                    self.pos += 1;
                    self.push(Tok::Pipe, start);
                }
                b'{' => {
                    self.pos += 1;
                    self.push(Tok::LBrace, start);
                }
                b'}' => {
                    self.pos += 1;
                    self.push(Tok::RBrace, start);
                }
                b'-' if self.peek_at(1) == Some(b'>') => {
                    self.pos += 2;
                    self.push(Tok::Arrow, start);
                }
                b'-' if self.peek_at(1).is_some_and(|b| b.is_ascii_digit()) => self.number(),
                b'0'..=b'9' => self.number(),
                b'"' => self.string(),
                _ if is_ident_start(byte) => self.ident(),
                _ => self.bad_character(),
            }
        }
        let end = self.source.len();
        self.tokens.push(Token {
            tok: Tok::Newline,
            span: Span::new(end, end),
        });
    }

    fn skip_to_end_of_line(&mut self) {
        while let Some(byte) = self.peek_at(0) {
            if byte == b'\n' {
                break;
            }
            self.pos += 1;
        }
    }

    fn bad_character(&mut self) {
        let start = self.pos;
        let ch = self.source[start..].chars().next().unwrap_or('\u{fffd}');
        self.pos += ch.len_utf8();
        let shown = if ch.is_control() || ch.is_whitespace() {
            format!("{:?}", ch)
        } else {
            format!("`{ch}`")
        };
        self.error(
            ErrorKind::BadCharacter,
            format!("unexpected character {shown}"),
            Span::new(start, self.pos),
            "",
        );
        self.push(Tok::Error, start);
    }

    fn ident(&mut self) {
        let start = self.pos;
        loop {
            match self.peek_at(0) {
                Some(b) if is_ident_continue(b) => self.pos += 1,
                Some(b'-') if self.peek_at(1).is_some_and(is_ident_continue) => self.pos += 1,
                _ => break,
            }
        }
        let text = self.source[start..self.pos].to_string();
        self.push(Tok::Ident(text), start);
    }

    fn number(&mut self) {
        let start = self.pos;
        let negative = self.peek_at(0) == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let body_start = self.pos;
        while self.peek_at(0).is_some_and(is_ident_continue) {
            self.pos += 1;
        }
        let span = Span::new(start, self.pos);
        let body = &self.source[body_start..self.pos];
        match classify_number(negative, body) {
            Ok(tok) => self.push(tok, start),
            Err(reason) => {
                let text = &self.source[start..self.pos];
                self.error(
                    ErrorKind::BadNumber,
                    format!("bad number `{text}`: {reason}"),
                    span,
                    "",
                );
                self.push(Tok::Error, start);
            }
        }
    }

    fn string(&mut self) {
        let start = self.pos;
        self.pos += 1; // the opening quote
        let mut bytes = Vec::new();
        let mut bad_escape = false;
        loop {
            let Some(byte) = self.peek_at(0) else {
                return self.unterminated(start);
            };
            match byte {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\n' => return self.unterminated(start),
                b'\\' => {
                    let escape_start = self.pos;
                    match self.escape() {
                        Ok(byte) => bytes.push(byte),
                        Err(message) => {
                            bad_escape = true;
                            let span = Span::new(escape_start, self.pos);
                            self.error(ErrorKind::BadEscape, message, span, "");
                        }
                    }
                }
                _ => {
                    // Copy one whole character: the source is UTF-8 and the
                    // string keeps it as bytes.
                    let ch = self.source[self.pos..].chars().next().unwrap_or('\u{fffd}');
                    let len = ch.len_utf8();
                    bytes.extend_from_slice(&self.bytes[self.pos..self.pos + len]);
                    self.pos += len;
                }
            }
        }
        if bad_escape {
            self.push(Tok::Error, start);
        } else {
            self.push(Tok::Str(bytes), start);
        }
    }

    /// Reads one escape sequence at `self.pos` (a backslash), leaving `pos`
    /// after it.
    fn escape(&mut self) -> Result<u8, String> {
        self.pos += 1; // the backslash
        let Some(byte) = self.peek_at(0) else {
            return Err("a `\\` at the end of the file".to_string());
        };
        if byte == b'\n' {
            return Err("a `\\` at the end of the line (strings cannot span lines)".to_string());
        }
        let ch = self.source[self.pos..].chars().next().unwrap_or('\u{fffd}');
        self.pos += ch.len_utf8();
        match ch {
            'n' => Ok(b'\n'),
            't' => Ok(b'\t'),
            'r' => Ok(b'\r'),
            '0' => Ok(0),
            '\\' => Ok(b'\\'),
            '"' => Ok(b'"'),
            'x' => {
                let hex = |b: Option<u8>| b.and_then(|b| (b as char).to_digit(16));
                match (hex(self.peek_at(0)), hex(self.peek_at(1))) {
                    (Some(high), Some(low)) => {
                        self.pos += 2;
                        Ok((high * 16 + low) as u8)
                    }
                    _ => Err("`\\x` needs exactly two hex digits, as in `\\x7f`".to_string()),
                }
            }
            other => Err(format!(
                "unknown escape `\\{}` (known: \\n \\t \\r \\0 \\\\ \\\" \\xNN)",
                other.escape_debug()
            )),
        }
    }

    fn unterminated(&mut self, start: usize) {
        self.skip_to_end_of_line();
        let end = if self.pos > start && self.bytes[self.pos - 1] == b'\r' {
            self.pos - 1
        } else {
            self.pos
        };
        self.error(
            ErrorKind::UnterminatedString,
            "unterminated string".to_string(),
            Span::new(start, end.max(start + 1)),
            "the closing `\"` is missing on this line",
        );
        self.push(Tok::Error, start);
    }
}

/// Turns the text of a number token (after an optional minus sign) into an
/// integer, size or duration token.
fn classify_number(negative: bool, body: &str) -> Result<Tok, String> {
    let lower = body.to_ascii_lowercase();
    if let Some(digits) = lower.strip_prefix("0x") {
        return int_token(negative, digits, 16, Radix::Hex);
    }
    if let Some(digits) = lower.strip_prefix("0o") {
        return int_token(negative, digits, 8, Radix::Oct);
    }
    let split = body
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(body.len());
    let (digits, suffix) = body.split_at(split);
    if suffix.is_empty() {
        if digits.len() > 1 && digits.starts_with('0') {
            // C-style octal: `0644`.
            return int_token(negative, &digits[1..], 8, Radix::Oct);
        }
        return int_token(negative, digits, 10, Radix::Dec);
    }
    let size_unit = match suffix {
        "K" => Some(SizeUnit::K),
        "M" => Some(SizeUnit::M),
        "G" => Some(SizeUnit::G),
        _ => None,
    };
    let time_unit = match suffix {
        "ns" => Some(TimeUnit::Ns),
        "us" => Some(TimeUnit::Us),
        "ms" => Some(TimeUnit::Ms),
        "s" => Some(TimeUnit::S),
        _ => None,
    };
    if size_unit.is_none() && time_unit.is_none() {
        return Err(format!(
            "unknown suffix `{suffix}` (sizes take K, M, G; durations take ns, us, ms, s)"
        ));
    }
    if negative {
        return Err("sizes and durations cannot be negative".to_string());
    }
    let count: u64 = digits
        .parse()
        .map_err(|_| "the number is too large".to_string())?;
    if let Some(unit) = size_unit {
        count
            .checked_mul(unit.bytes())
            .ok_or_else(|| "the size does not fit in 64 bits".to_string())?;
        return Ok(Tok::Size(Size { count, unit }));
    }
    let unit = time_unit.unwrap_or(TimeUnit::Ns);
    count
        .checked_mul(unit.nanos())
        .ok_or_else(|| "the duration does not fit in 64 bits of nanoseconds".to_string())?;
    Ok(Tok::Duration(Duration { count, unit }))
}

fn int_token(negative: bool, digits: &str, radix: u32, kind: Radix) -> Result<Tok, String> {
    if digits.is_empty() {
        return Err("digits are missing".to_string());
    }
    if let Some(bad) = digits.chars().find(|c| !c.is_digit(radix)) {
        let name = match kind {
            Radix::Dec => "a decimal",
            Radix::Hex => "a hexadecimal",
            Radix::Oct => "an octal",
        };
        return Err(format!("`{bad}` is not {name} digit"));
    }
    let magnitude =
        u64::from_str_radix(digits, radix).map_err(|_| "the number is too large".to_string())?;
    let value = if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    };
    let value = value.ok_or_else(|| "the number does not fit in a 64-bit integer".to_string())?;
    Ok(Tok::Int(Int { value, radix: kind }))
}
