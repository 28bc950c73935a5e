//! Property tests: the front end never panics, whatever it is fed, and
//! printing then parsing gives back the same tree.

use proptest::prelude::*;
use proptest::strategy::Union;

use rumpkit_scenario::{
    check, parse, print, testing::PosixTable, Call, Duration, Expect, ExpectAlt, Field, FlagTerm,
    Int, Param, Preempt, Radix, Script, Size, SizeUnit, Span, Spanned, Stmt, StmtKind,
    Strategy as Sched, Thread, TimeUnit, Value, DIRECTIVES,
};

/// Parses, checks and renders everything; any panic fails the property.
fn exercise(source: &str) {
    match parse("fuzz.scn", source) {
        Ok(script) => {
            let _ = print(&script);
            if let Err(diagnostics) = check(&script, &PosixTable) {
                assert!(!diagnostics.is_empty());
                let _ = diagnostics.to_string();
                let _ = diagnostics.render(true);
            }
        }
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty(), "a failed parse reports why");
            let _ = diagnostics.to_string();
            let _ = diagnostics.render(true);
            for diagnostic in diagnostics.iter() {
                let _ = diagnostic.line_col(source);
                assert!(diagnostic.span.start <= diagnostic.span.end);
                assert!(diagnostic.span.end <= source.len());
            }
        }
    }
}

/// Fragments that make up scripts, so random sequences reach deep into the
/// grammar instead of failing at the first byte.
const FRAGMENTS: &[&str] = &[
    "boot",
    "vfs",
    "tmpfs",
    "memlimit",
    "=",
    "256K",
    "seeds",
    "3",
    "strategy",
    "pct",
    "depth",
    "preempt",
    "locks",
    "faults",
    "\"alloc\"",
    "sleep",
    "10ms",
    "halt",
    "expect-fail",
    "threads",
    "thread",
    "t1",
    "{",
    "}",
    "\n",
    "\n",
    "\n",
    " ",
    " ",
    "open",
    "close",
    "read",
    "write",
    "stat",
    "fd",
    "\"/a\"",
    "O_CREAT",
    "O_RDWR",
    "|",
    "0o644",
    "0644",
    "-1",
    "0x",
    "->",
    "ok",
    "any",
    "ENOENT",
    "size",
    "type",
    "reg",
    "\"",
    "\\",
    "\\x",
    "#",
    "é",
    "\r",
    "-",
    "99999999999999999999",
    "4G",
    "\t",
    "\0",
    "mount",
    "SEEK_SET",
    "lseek",
    "dup",
];

fn fragment_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..60).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        exercise(&text);
    }

    #[test]
    fn fragment_soup_never_panics(text in fragment_soup()) {
        exercise(&text);
    }
}

// ---- Round trip: generated trees print to text that parses back. ----

fn lower_ident() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,6}".prop_filter("not a directive", |s| !DIRECTIVES.contains(&s.as_str()))
}

fn upper_ident() -> impl Strategy<Value = String> {
    "[A-Z][A-Z0-9_]{0,8}"
}

fn int() -> impl Strategy<Value = Int> {
    let radix = prop_oneof![Just(Radix::Dec), Just(Radix::Hex), Just(Radix::Oct)];
    (any::<i64>(), radix).prop_map(|(value, radix)| Int { value, radix })
}

fn size() -> impl Strategy<Value = Size> {
    let unit = prop_oneof![Just(SizeUnit::K), Just(SizeUnit::M), Just(SizeUnit::G)];
    (0u64..1 << 30, unit).prop_map(|(count, unit)| Size { count, unit })
}

fn duration() -> impl Strategy<Value = Duration> {
    let unit = prop_oneof![
        Just(TimeUnit::Ns),
        Just(TimeUnit::Us),
        Just(TimeUnit::Ms),
        Just(TimeUnit::S)
    ];
    (0u64..1 << 30, unit).prop_map(|(count, unit)| Duration { count, unit })
}

fn flag_term() -> impl Strategy<Value = Spanned<FlagTerm>> {
    prop_oneof![
        upper_ident().prop_map(FlagTerm::Const),
        int().prop_map(FlagTerm::Int),
    ]
    .prop_map(Spanned::dummy)
}

/// Values as they may appear as call arguments.
fn arg_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        int().prop_map(Value::Int),
        prop::collection::vec(any::<u8>(), 0..12).prop_map(Value::Str),
        size().prop_map(Value::Size),
        duration().prop_map(Value::Duration),
        lower_ident().prop_map(Value::Name),
        // A flag expression that is not a lone integer (that parses as Int).
        (upper_ident(), prop::collection::vec(flag_term(), 0..3)).prop_map(|(first, rest)| {
            let mut terms = vec![Spanned::dummy(FlagTerm::Const(first))];
            terms.extend(rest);
            Value::Flags(terms)
        }),
    ]
}

/// Values as they may appear after `=` (no `|` inside).
fn simple_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        int().prop_map(Value::Int),
        prop::collection::vec(any::<u8>(), 0..12).prop_map(Value::Str),
        size().prop_map(Value::Size),
        duration().prop_map(Value::Duration),
        lower_ident().prop_map(Value::Name),
        upper_ident().prop_map(|c| Value::Flags(vec![Spanned::dummy(FlagTerm::Const(c))])),
    ]
}

fn expect_alt() -> impl Strategy<Value = ExpectAlt> {
    let field = (lower_ident(), simple_value()).prop_map(|(name, value)| Field {
        name: Spanned::dummy(name),
        value: Spanned::dummy(value),
    });
    prop_oneof![
        Just(ExpectAlt::Ok),
        Just(ExpectAlt::Any),
        upper_ident().prop_map(ExpectAlt::Errno),
        int().prop_map(|i| ExpectAlt::Value(Value::Int(i))),
        size().prop_map(|s| ExpectAlt::Value(Value::Size(s))),
        duration().prop_map(|d| ExpectAlt::Value(Value::Duration(d))),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(|b| ExpectAlt::Value(Value::Str(b))),
        prop::collection::vec(field, 1..4).prop_map(ExpectAlt::Fields),
    ]
}

fn call() -> impl Strategy<Value = StmtKind> {
    let expect = prop::collection::vec(expect_alt(), 1..4).prop_map(|alts| Expect {
        alts: alts.into_iter().map(Spanned::dummy).collect(),
        span: Span::DUMMY,
    });
    (
        prop::option::of(lower_ident()),
        lower_ident(),
        prop::collection::vec(arg_value(), 0..5),
        prop::option::of(expect),
    )
        .prop_map(|(bind, name, args, expect)| {
            StmtKind::Call(Call {
                bind: bind.map(Spanned::dummy),
                name: Spanned::dummy(name),
                args: args.into_iter().map(Spanned::dummy).collect(),
                expect,
            })
        })
}

fn directive() -> impl Strategy<Value = StmtKind> {
    let param = (lower_ident(), simple_value()).prop_map(|(name, value)| Param {
        name: Spanned::dummy(name),
        value: Spanned::dummy(value),
    });
    let strategy = prop_oneof![
        Just(Sched::RoundRobin),
        Just(Sched::Random),
        prop::option::of(1u32..100).prop_map(|depth| Sched::Pct {
            depth: depth.map(Spanned::dummy)
        }),
    ];
    let preempt = prop_oneof![
        Just(Preempt::None),
        Just(Preempt::Locks),
        Just(Preempt::All)
    ];
    prop_oneof![
        (
            prop::collection::vec(lower_ident().prop_map(Spanned::dummy), 0..4),
            prop::collection::vec(param, 0..3)
        )
            .prop_map(|(components, params)| StmtKind::Boot { components, params }),
        (1u64..1000).prop_map(|n| StmtKind::Seeds(Spanned::dummy(n))),
        strategy.prop_map(|s| StmtKind::Strategy(Spanned::dummy(s))),
        preempt.prop_map(|p| StmtKind::Preempt(Spanned::dummy(p))),
        "\\PC{0,20}".prop_map(|plan| StmtKind::Faults(Spanned::dummy(plan))),
        duration().prop_map(|d| StmtKind::Sleep(Spanned::dummy(d))),
        Just(StmtKind::Halt),
        Just(StmtKind::ExpectFail),
    ]
}

fn stmt(kind: StmtKind) -> Stmt {
    Stmt {
        kind,
        span: Span::DUMMY,
    }
}

fn stmt_kind() -> impl Strategy<Value = StmtKind> {
    let line = Union::new_weighted(vec![(3, call().boxed()), (1, directive().boxed())]);
    let thread =
        (lower_ident(), prop::collection::vec(line.clone(), 0..4)).prop_map(|(name, body)| {
            Thread {
                name: Spanned::dummy(name),
                body: body.into_iter().map(stmt).collect(),
                span: Span::DUMMY,
            }
        });
    let threads = prop::collection::vec(thread, 0..3).prop_map(StmtKind::Threads);
    Union::new_weighted(vec![(8, line.boxed()), (1, threads.boxed())])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn print_then_parse_is_the_identity(kinds in prop::collection::vec(stmt_kind(), 0..12)) {
        let script = Script::from_stmts("gen.scn", kinds.into_iter().map(stmt).collect());
        let text = print(&script);
        let mut reparsed = match parse("gen.scn", &text) {
            Ok(reparsed) => reparsed,
            Err(diagnostics) => panic!("printed text does not parse:\n{text}\n{diagnostics}"),
        };
        reparsed.erase_spans();
        prop_assert_eq!(&reparsed.stmts, &script.stmts, "text:\n{}", text);
        prop_assert_eq!(print(&reparsed), text);
    }

    #[test]
    fn parsed_scripts_round_trip_too(text in fragment_soup()) {
        // Whatever parses prints to text that parses to the same tree.
        if let Ok(mut script) = parse("soup.scn", &text) {
            let printed = print(&script);
            let mut reparsed = parse("soup.scn", &printed)
                .unwrap_or_else(|e| panic!("{printed}\n{e}"));
            script.erase_spans();
            reparsed.erase_spans();
            prop_assert_eq!(reparsed.stmts, script.stmts);
        }
    }
}
