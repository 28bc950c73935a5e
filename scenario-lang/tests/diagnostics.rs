//! The malformed scripts the issue names, checked by kind and position
//! rather than by rendered text, plus the exact rendering of one message.

use rumpkit_scenario::{check, parse, parse_and_check, testing::PosixTable, ErrorKind};

/// Kind, line and column of one diagnostic.
type Found = (ErrorKind, usize, usize);

/// Kind, line and column of every diagnostic for `source`.
fn errors(source: &str) -> Vec<Found> {
    let diagnostics = match parse_and_check("t.scn", source, &PosixTable) {
        Ok(_) => panic!("expected errors in:\n{source}"),
        Err(diagnostics) => diagnostics,
    };
    diagnostics
        .iter()
        .map(|d| {
            let (line, column) = d.line_col(&diagnostics.source);
            (d.kind, line, column)
        })
        .collect()
}

#[test]
fn each_kind_of_mistake_is_reported_where_it_is() {
    use ErrorKind::*;
    let table: &[(&str, &[Found])] = &[
        ("boot vfs\nfd = opn \"/a\" O_CREAT", &[(UnknownCall, 2, 6)]),
        ("open \"/a\" O_CREAT|O_CRAT", &[(UnknownConstant, 1, 19)]),
        ("boot vfs\n  write 3 \"abc", &[(UnterminatedString, 2, 11)]),
        ("rename \"/a\"", &[(WrongArity, 1, 1)]),
        ("close 3 4", &[(WrongArity, 1, 9)]),
        ("write fd \"x\"", &[(UndefinedName, 1, 7)]),
        ("unlink \"/a\" -> ENOTANERRNO", &[(BadExpectation, 1, 16)]),
        ("read 3 4 -> size=3", &[(BadExpectation, 1, 13)]),
        ("expect-failure", &[(UnknownDirective, 1, 1)]),
        ("sleeep 10ms", &[(UnknownDirective, 1, 1)]),
        ("write 3 4", &[(BadArgument, 1, 9)]),
        ("write \"x\" \"y\"", &[(BadArgument, 1, 7)]),
        ("write 3 \"\\q\"", &[(BadEscape, 1, 10)]),
        ("lseek 3 0xZ 0", &[(BadNumber, 1, 9)]),
        ("halt ~", &[(BadCharacter, 1, 6)]),
        ("}", &[(UnbalancedBlock, 1, 1)]),
        ("seeds 0", &[(BadDirective, 1, 7)]),
        ("open = 3", &[(Syntax, 1, 8)]),
        // Columns count characters, not bytes.
        ("write 3 \"é\" ẞ", &[(BadCharacter, 1, 13)]),
    ];
    for (source, expected) in table {
        assert_eq!(errors(source), *expected, "for script:\n{source}");
    }
}

#[test]
fn several_errors_per_file_in_source_order() {
    let source = "boot vfs tmpfs\nopn \"/a\"\nclose\nwrite nope \"x\"\nstat \"/a\" -> colour=red\n";
    let found = errors(source);
    let lines: Vec<usize> = found.iter().map(|(_, line, _)| *line).collect();
    assert_eq!(lines, vec![2, 3, 4, 5]);

    // Syntax errors are all reported too, each line recovering on its own.
    let source = "write 3 \"x\nseeds\nopen \"/a\" -> \nhalt\nsleep 1\n";
    let found = errors(source);
    let lines: Vec<usize> = found.iter().map(|(_, line, _)| *line).collect();
    assert_eq!(lines, vec![1, 2, 3, 5]);
}

#[test]
fn rendering_matches_the_documented_format() {
    let source = "boot vfs tmpfs\nmount tmpfs \"/\"\n\nfd = opn \"/a\" O_CREAT\n";
    let script = parse("scenarios/vfs/open.scn", source).unwrap();
    let diagnostics = check(&script, &PosixTable).unwrap_err();
    let expected = "\
error: unknown system call `opn`
 --> scenarios/vfs/open.scn:4:6
  |
4 | fd = opn \"/a\" O_CREAT
  |      ^^^
  |
  = help: did you mean `open`?";
    assert_eq!(diagnostics.to_string(), expected);
    // Plain rendering carries no escape codes; the styled one does.
    assert!(!diagnostics.render(false).contains('\u{1b}'));
    assert!(diagnostics.render(true).contains('\u{1b}'));
}

#[test]
fn a_thread_sees_outer_names_but_not_its_siblings() {
    let ok = "fd = open \"/a\" O_RDONLY\nthreads {\n  thread a {\n    mine = dup fd\n    close mine\n  }\n}\n";
    parse_and_check("t.scn", ok, &PosixTable).unwrap();
    let bad = "threads {\n  thread a {\n    mine = open \"/a\" O_RDONLY\n  }\n  thread b {\n    close mine\n  }\n}\n";
    assert_eq!(errors(bad), vec![(ErrorKind::UndefinedName, 6, 11)]);
}

#[test]
fn bound_names_keep_the_kind_of_their_result() {
    let source = "data = read 3 4\nclose data\nn = write 3 data\nlseek 3 n SEEK_SET\n";
    assert_eq!(errors(source), vec![(ErrorKind::BadArgument, 2, 7)]);
}
