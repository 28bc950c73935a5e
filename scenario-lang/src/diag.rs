//! Diagnostics: positioned error messages with a caret under the span,
//! rendered like rustc's (through `annotate-snippets`).

use std::fmt;
use std::io::IsTerminal;
use std::sync::Arc;

use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};

use crate::ast::Span;

/// What went wrong, for programs that match on errors; people read
/// [`Diagnostic::message`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A string literal runs to the end of its line.
    UnterminatedString,
    /// An unknown `\` escape inside a string.
    BadEscape,
    /// A malformed or out-of-range number, size or duration.
    BadNumber,
    /// A character that starts no token.
    BadCharacter,
    /// A token where the grammar does not allow it.
    Syntax,
    /// A braced block that is never closed, or a `}` that closes nothing.
    UnbalancedBlock,
    /// A line that starts with a word that is no directive.
    UnknownDirective,
    /// A directive with wrong or missing operands, or in the wrong place.
    BadDirective,
    /// A call name the call table does not know.
    UnknownCall,
    /// Too few or too many arguments.
    WrongArity,
    /// An argument of the wrong kind for its parameter.
    BadArgument,
    /// A constant (flag) name the call table cannot resolve.
    UnknownConstant,
    /// A name used before it was bound.
    UndefinedName,
    /// An expectation that cannot describe the call's result.
    BadExpectation,
}

/// One error at one place in a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The class of error.
    pub kind: ErrorKind,
    /// The headline, e.g. "unknown system call `opn`".
    pub message: String,
    /// Where the caret goes.
    pub span: Span,
    /// Text printed next to the caret; may be empty.
    pub label: String,
    /// A second place worth pointing at, e.g. "first `boot` here".
    pub related: Option<(Span, String)>,
    /// A closing `help:` line, e.g. "did you mean `open`?".
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with a message and a span and nothing else.
    pub fn new(kind: ErrorKind, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            kind,
            message: message.into(),
            span,
            label: String::new(),
            related: None,
            help: None,
        }
    }

    /// Adds a label next to the caret.
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    /// Adds a `help:` line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Points at a second place.
    pub fn with_related(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.related = Some((span, label.into()));
        self
    }

    /// The 1-based line and column (in characters) where the span starts.
    pub fn line_col(&self, source: &str) -> (usize, usize) {
        line_col(source, self.span.start)
    }
}

/// The 1-based line and column (in characters) of byte `offset`.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = clamp_to_boundary(source, offset);
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn clamp_to_boundary(source: &str, offset: usize) -> usize {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// All errors found in one file, with the text needed to show them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostics {
    /// The file name shown after `-->`.
    pub file_name: String,
    /// The script text the spans point into.
    pub source: Arc<str>,
    /// The errors, in source order.
    pub list: Vec<Diagnostic>,
}

impl Diagnostics {
    /// No errors yet for this file.
    pub fn new(file_name: impl Into<String>, source: Arc<str>) -> Diagnostics {
        Diagnostics {
            file_name: file_name.into(),
            source,
            list: Vec::new(),
        }
    }

    /// Adds an error.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.list.push(diagnostic);
    }

    /// Whether there are no errors.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The number of errors.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// The errors in source order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.list.iter()
    }

    /// `Ok(value)` when there are no errors, otherwise these diagnostics
    /// sorted by position.
    pub(crate) fn into_result<T>(mut self, value: T) -> Result<T, Diagnostics> {
        if self.list.is_empty() {
            Ok(value)
        } else {
            // A stable sort keeps the order of several errors at one place.
            self.list.sort_by_key(|d| d.span.start);
            Err(self)
        }
    }

    /// Renders every diagnostic, with ANSI colours if `color` is true.
    pub fn render(&self, color: bool) -> String {
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let mut out = String::new();
        for (index, diagnostic) in self.list.iter().enumerate() {
            if index > 0 {
                out.push_str("\n\n");
            }
            out.push_str(&self.render_one(&renderer, diagnostic));
        }
        out
    }

    /// Renders for standard error: colours only when it is a terminal.
    pub fn render_for_stderr(&self) -> String {
        self.render(std::io::stderr().is_terminal())
    }

    fn render_one(&self, renderer: &Renderer, diagnostic: &Diagnostic) -> String {
        let source: &str = &self.source;
        let span = self.clamp(diagnostic.span);
        let mut snippet = Snippet::source(source)
            .line_start(1)
            .path(self.file_name.as_str())
            .fold(true)
            .annotation(
                AnnotationKind::Primary
                    .span(span.range())
                    .label(non_empty(&diagnostic.label)),
            );
        if let Some((related_span, label)) = &diagnostic.related {
            snippet = snippet.annotation(
                AnnotationKind::Context
                    .span(self.clamp(*related_span).range())
                    .label(non_empty(label)),
            );
        }
        let mut group = Level::ERROR
            .primary_title(diagnostic.message.as_str())
            .element(snippet);
        if let Some(help) = &diagnostic.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        renderer.render(&[group])
    }

    /// Keeps a span inside the source and on character boundaries, so that
    /// rendering never panics whatever a caller put in a diagnostic.
    fn clamp(&self, span: Span) -> Span {
        let start = clamp_to_boundary(&self.source, span.start);
        let end = clamp_to_boundary(&self.source, span.end.max(start));
        Span { start, end }
    }
}

fn non_empty(label: &str) -> Option<&str> {
    if label.is_empty() {
        None
    } else {
        Some(label)
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for Diagnostics {}
