//! Table tests: small scripts and the exact trees (spans included where
//! they matter) they parse to.

use rumpkit_scenario::{
    parse, Call, Duration, Expect, ExpectAlt, Field, FlagTerm, Int, Param, Preempt, Radix, Size,
    SizeUnit, Span, Spanned, Stmt, StmtKind, Strategy, Thread, TimeUnit, Value,
};

/// Parses `source` and returns its statements with spans erased.
fn stmts(source: &str) -> Vec<StmtKind> {
    let mut script = parse("t.scn", source).unwrap_or_else(|e| panic!("{e}"));
    script.erase_spans();
    script.stmts.into_iter().map(|s| s.kind).collect()
}

/// Parses a script of one call and returns the call, spans erased.
fn one_call(source: &str) -> Call {
    match stmts(source).as_slice() {
        [StmtKind::Call(call)] => call.clone(),
        other => panic!("expected one call, got {other:?}"),
    }
}

fn d<T>(node: T) -> Spanned<T> {
    Spanned::dummy(node)
}

fn name(text: &str) -> Spanned<String> {
    d(text.to_string())
}

fn int(value: i64, radix: Radix) -> Value {
    Value::Int(Int { value, radix })
}

fn flags(names: &[&str]) -> Value {
    Value::Flags(
        names
            .iter()
            .map(|n| d(FlagTerm::Const(n.to_string())))
            .collect(),
    )
}

fn expect(alts: Vec<ExpectAlt>) -> Option<Expect> {
    Some(Expect {
        alts: alts.into_iter().map(d).collect(),
        span: Span::DUMMY,
    })
}

#[test]
fn integer_literals_in_every_radix() {
    let table: &[(&str, Value)] = &[
        ("0", int(0, Radix::Dec)),
        ("42", int(42, Radix::Dec)),
        ("-7", int(-7, Radix::Dec)),
        ("0x1F", int(31, Radix::Hex)),
        ("0o644", int(0o644, Radix::Oct)),
        ("0644", int(0o644, Radix::Oct)),
        ("-0x10", int(-16, Radix::Hex)),
        ("9223372036854775807", int(i64::MAX, Radix::Dec)),
        ("-9223372036854775808", int(i64::MIN, Radix::Dec)),
        (
            "4K",
            Value::Size(Size {
                count: 4,
                unit: SizeUnit::K,
            }),
        ),
        (
            "1M",
            Value::Size(Size {
                count: 1,
                unit: SizeUnit::M,
            }),
        ),
        (
            "2G",
            Value::Size(Size {
                count: 2,
                unit: SizeUnit::G,
            }),
        ),
        (
            "10ms",
            Value::Duration(Duration {
                count: 10,
                unit: TimeUnit::Ms,
            }),
        ),
        (
            "5us",
            Value::Duration(Duration {
                count: 5,
                unit: TimeUnit::Us,
            }),
        ),
        (
            "7ns",
            Value::Duration(Duration {
                count: 7,
                unit: TimeUnit::Ns,
            }),
        ),
        (
            "3s",
            Value::Duration(Duration {
                count: 3,
                unit: TimeUnit::S,
            }),
        ),
    ];
    for (text, expected) in table {
        let call = one_call(&format!("f {text}"));
        assert_eq!(call.args, vec![d(expected.clone())], "literal `{text}`");
    }
}

#[test]
fn string_escapes_become_bytes() {
    let table: &[(&str, &[u8])] = &[
        (r#""""#, b""),
        (r#""hello\n""#, b"hello\n"),
        (r#""\t\r\0""#, b"\t\r\0"),
        (r#""\\ \"""#, b"\\ \""),
        (r#""\x00\x7f\xFF""#, b"\x00\x7f\xff"),
        ("\"é\"", "é".as_bytes()),
        ("\"# not a comment\"", b"# not a comment"),
    ];
    for (text, bytes) in table {
        let call = one_call(&format!("f {text}"));
        assert_eq!(
            call.args,
            vec![d(Value::Str(bytes.to_vec()))],
            "string {text}"
        );
    }
}

#[test]
fn flags_names_and_mixed_terms() {
    let call = one_call("open \"/a\" O_CREAT|O_RDWR|0x10 mode SEEK_SET");
    assert_eq!(
        call.args,
        vec![
            d(Value::Str(b"/a".to_vec())),
            d(Value::Flags(vec![
                d(FlagTerm::Const("O_CREAT".into())),
                d(FlagTerm::Const("O_RDWR".into())),
                d(FlagTerm::Int(Int {
                    value: 16,
                    radix: Radix::Hex
                })),
            ])),
            d(Value::Name("mode".into())),
            d(flags(&["SEEK_SET"])),
        ]
    );
    // Spaces around `|` are allowed.
    assert_eq!(one_call("f A | B").args, vec![d(flags(&["A", "B"]))]);
}

#[test]
fn bindings_and_expectations() {
    let call = one_call("fd = open \"/a\" O_RDONLY -> ok | ENOENT | 3");
    assert_eq!(call.bind, Some(name("fd")));
    assert_eq!(call.name, name("open"));
    assert_eq!(
        call.expect,
        expect(vec![
            ExpectAlt::Ok,
            ExpectAlt::Errno("ENOENT".into()),
            ExpectAlt::Value(int(3, Radix::Dec)),
        ])
    );

    let call = one_call("stat \"/a\" -> size=6 type=reg mode=0o644 | any");
    let field = |n: &str, v: Value| Field {
        name: name(n),
        value: d(v),
    };
    assert_eq!(
        call.expect,
        expect(vec![
            ExpectAlt::Fields(vec![
                field("size", int(6, Radix::Dec)),
                field("type", Value::Name("reg".into())),
                field("mode", int(0o644, Radix::Oct)),
            ]),
            ExpectAlt::Any,
        ])
    );

    let call = one_call("read fd 6 -> \"hello\\n\"");
    assert_eq!(
        call.expect,
        expect(vec![ExpectAlt::Value(Value::Str(b"hello\n".to_vec()))])
    );
    assert_eq!(one_call("close fd").expect, None);
}

#[test]
fn directives() {
    let parsed = stmts(
        "boot vfs tmpfs memlimit=256K ncpu=2\nseeds 32\nstrategy pct depth=3\nstrategy pct\n\
         strategy random\nstrategy roundrobin\npreempt locks\nfaults \"alloc:nth=3\"\n\
         sleep 10ms\nhalt\nexpect-fail\n",
    );
    assert_eq!(
        parsed,
        vec![
            StmtKind::Boot {
                components: vec![name("vfs"), name("tmpfs")],
                params: vec![
                    Param {
                        name: name("memlimit"),
                        value: d(Value::Size(Size {
                            count: 256,
                            unit: SizeUnit::K
                        })),
                    },
                    Param {
                        name: name("ncpu"),
                        value: d(int(2, Radix::Dec)),
                    },
                ],
            },
            StmtKind::Seeds(d(32)),
            StmtKind::Strategy(d(Strategy::Pct { depth: Some(d(3)) })),
            StmtKind::Strategy(d(Strategy::Pct { depth: None })),
            StmtKind::Strategy(d(Strategy::Random)),
            StmtKind::Strategy(d(Strategy::RoundRobin)),
            StmtKind::Preempt(d(Preempt::Locks)),
            StmtKind::Faults(d("alloc:nth=3".to_string())),
            StmtKind::Sleep(d(Duration {
                count: 10,
                unit: TimeUnit::Ms
            })),
            StmtKind::Halt,
            StmtKind::ExpectFail,
        ]
    );
}

#[test]
fn threads_blocks_nest_statements() {
    let parsed = stmts(
        "threads {\n  thread t1 {\n    unlink \"/x\" -> ok | ENOENT\n    sleep 1ms\n  }\n\n  \
         thread t2 {\n  }\n}\n",
    );
    let unlink = Stmt {
        kind: StmtKind::Call(Call {
            bind: None,
            name: name("unlink"),
            args: vec![d(Value::Str(b"/x".to_vec()))],
            expect: expect(vec![ExpectAlt::Ok, ExpectAlt::Errno("ENOENT".into())]),
        }),
        span: Span::DUMMY,
    };
    let sleep = Stmt {
        kind: StmtKind::Sleep(d(Duration {
            count: 1,
            unit: TimeUnit::Ms,
        })),
        span: Span::DUMMY,
    };
    assert_eq!(
        parsed,
        vec![StmtKind::Threads(vec![
            Thread {
                name: name("t1"),
                body: vec![unlink, sleep],
                span: Span::DUMMY,
            },
            Thread {
                name: name("t2"),
                body: vec![],
                span: Span::DUMMY,
            },
        ])]
    );
}

#[test]
fn comments_blank_lines_and_crlf_are_ignored() {
    let parsed = stmts("# only a comment\n\n   \r\nhalt   # trailing\r\n\t\n");
    assert_eq!(parsed, vec![StmtKind::Halt]);
    assert!(stmts("").is_empty());
    assert!(stmts("# no newline at the end").is_empty());
}

#[test]
fn spans_are_byte_offsets_of_each_node() {
    let source = "boot vfs\nfd = open \"/a\" O_CREAT|O_RDWR -> ok | ENOENT  # c\n";
    let script = parse("t.scn", source).unwrap();
    let text = |span: Span| &source[span.range()];
    let StmtKind::Call(call) = &script.stmts[1].kind else {
        panic!("not a call")
    };
    assert_eq!(
        text(script.stmts[1].span),
        "fd = open \"/a\" O_CREAT|O_RDWR -> ok | ENOENT"
    );
    assert_eq!(text(call.bind.as_ref().unwrap().span), "fd");
    assert_eq!(text(call.name.span), "open");
    assert_eq!(text(call.args[0].span), "\"/a\"");
    assert_eq!(text(call.args[1].span), "O_CREAT|O_RDWR");
    let Value::Flags(terms) = &call.args[1].node else {
        panic!("not flags")
    };
    assert_eq!(text(terms[1].span), "O_RDWR");
    let expect = call.expect.as_ref().unwrap();
    assert_eq!(text(expect.span), "ok | ENOENT");
    assert_eq!(text(expect.alts[1].span), "ENOENT");

    let source = "threads {\n  thread t1 {\n  }\n}\n";
    let script = parse("t.scn", source).unwrap();
    assert_eq!(text_of(source, script.stmts[0].span), source.trim_end());
    let StmtKind::Threads(threads) = &script.stmts[0].kind else {
        panic!("not threads")
    };
    assert_eq!(text_of(source, threads[0].span), "thread t1 {\n  }");
    assert_eq!(text_of(source, threads[0].name.span), "t1");
}

fn text_of(source: &str, span: Span) -> &str {
    &source[span.range()]
}
