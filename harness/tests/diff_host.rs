//! Differential runs against the host (`rumpkit::host`): agreement, a
//! planted disagreement, `# host-differs:` comments, skipped scripts, and
//! the bundled `scenarios/vfs/` scripts diffing clean against Linux.

use rumpkit::exec::Scenario;
use rumpkit::host::{diff, diff_log, DiffReport};
use rumpkit::suite;

fn scenario(source: &str) -> Scenario {
    Scenario::from_source("test", "test.scn", source).unwrap_or_else(|e| panic!("{e}"))
}

fn diff_source(source: &str) -> DiffReport {
    diff(&scenario(source), 0).unwrap_or_else(|e| panic!("{e}"))
}

const AGREES: &str = r#"boot vfs tmpfs
mount tmpfs "/"
mkdir "/d" 0o755
fd = open "/d/a" O_CREAT|O_RDWR 0o644
write fd "hello\n" -> 6
pwrite fd "J" 0 -> 1
lseek fd 0 SEEK_SET -> 0
read fd 100 -> "Jello\n"
lseek fd 0 SEEK_END -> 6
ftruncate fd 2
fstat fd -> size=2 type=reg mode=0o644 nlink=1
fd2 = dup fd
close fd
pread fd2 10 0 -> "Je"
close fd2
close fd2 -> EBADF
link "/d/a" "/d/b"
stat "/d/b" -> nlink=2
symlink "/d/a" "/s"
readlink "/s" -> "/d/a"
stat "/s" -> size=2 type=reg
lstat "/s" -> size=4 type=lnk
chmod "/s" 0o600
stat "/d/a" -> mode=0o600
truncate "/s" 5
stat "/d/b" -> size=5
rename "/d/b" "/d/c"
readdir "/d" -> "a\nc\n"
dfd = open "/d" O_RDONLY|O_DIRECTORY
getdents dfd -> any
close dfd
unlink "/d/a"
unlink "/d/c"
rmdir "/d"
rmdir "/d" -> ENOENT
open "/missing" O_RDONLY -> ENOENT
mkdir "/" -> EEXIST
rmdir "/" -> EBUSY
mkdir "/e"
stat "/../../e/." -> type=dir nlink=2
rmdir "/../e"
sync
halt
"#;

#[test]
fn a_script_that_agrees_with_linux_has_no_mismatch() {
    let report = diff_source(AGREES);
    assert_eq!(report.skipped, None);
    assert!(report.mismatches.is_empty(), "{:#?}", report.mismatches);
    // Every call but the root mount is compared.
    assert_eq!(report.compared, 40);
}

#[test]
fn absolute_symlinks_resolve_inside_the_host_root() {
    // `/tmp` exists on any Linux host; inside the diff's root it does not.
    let report = diff_source(
        "boot vfs tmpfs\nmount tmpfs \"/\"\nsymlink \"/tmp\" \"/t\"\nstat \"/t\" -> ENOENT\n\
         mkdir \"/tmp\"\nstat \"/t\" -> type=dir nlink=2\nopen \"/t/../../../etc/passwd\" O_RDONLY -> ENOENT\n",
    );
    assert!(report.mismatches.is_empty(), "{:#?}", report.mismatches);
    assert_eq!(report.compared, 5);
}

/// A kernel bug, planted: the kernel's log is doctored so that one `write`
/// claims to have written fewer bytes than Linux does.
#[test]
fn a_planted_disagreement_is_caught() {
    let scenario = scenario(
        "boot vfs tmpfs\nmount tmpfs \"/\"\nfd = open \"/a\" O_CREAT|O_RDWR 0o644\n\
         write fd \"abc\" -> 3\nfstat fd -> size=3\n",
    );
    let mut log = rumpkit::exec::run_case(&scenario, 0, &Default::default()).log;
    assert_eq!(
        diff_log(&scenario, &log).expect("host").mismatches,
        Vec::<String>::new()
    );
    let line = log
        .iter_mut()
        .find(|l| l.starts_with("main: write "))
        .expect("a write in the log");
    *line = line.replace("= 3", "= 2");
    let report = diff_log(&scenario, &log).expect("host");
    assert_eq!(report.compared, 3);
    assert_eq!(
        report.mismatches,
        ["test.scn:4: `write fd \"abc\"`: kernel 2, host 3 (the script expects 3; the host matches it)"]
    );
}

/// A path with a NUL byte: no C string holds one, and both sides refuse it.
#[test]
fn a_nul_in_a_path_is_einval_on_both_sides() {
    let report = diff_source(
        "boot vfs tmpfs\nmount tmpfs \"/\"\nfd = open \"/a\" O_CREAT|O_RDWR 0o644\n\
         open \"/a\\0ignored\" O_RDONLY -> EINVAL\n",
    );
    assert!(report.mismatches.is_empty(), "{:#?}", report.mismatches);
    assert_eq!(report.compared, 2);
}

#[test]
fn a_host_differs_comment_skips_the_comparison() {
    let source = "boot vfs tmpfs\nmount tmpfs \"/\"\nfd = open \"/a\" O_CREAT|O_RDWR 0o644\n\
                  # host-differs: the doctored kernel log below claims 2 bytes\n\
                  write fd \"abc\" -> 2 | 3\nwrite fd \"de\" -> 2\nclose fd\n";
    let scenario = scenario(source);
    let mut log = rumpkit::exec::run_case(&scenario, 0, &Default::default()).log;
    for line in log.iter_mut().filter(|l| l.starts_with("main: write ")) {
        *line = format!("{} = 1", line.rsplit_once(" = ").expect("a result").0);
    }
    let report = diff_log(&scenario, &log).expect("host");
    assert_eq!(report.host_differs, 1);
    assert_eq!(report.compared, 3);
    // The second write has no comment before it: its doctored result counts.
    assert_eq!(report.mismatches.len(), 1, "{:#?}", report.mismatches);
    assert!(
        report.mismatches[0].starts_with("test.scn:6: `write fd \"de\"`: kernel 1, host 2"),
        "{}",
        report.mismatches[0]
    );
}

#[test]
fn scripts_the_host_cannot_run_are_skipped_with_the_reason() {
    let skipped = |source: &str| diff_source(source).skipped.unwrap_or_default();
    assert_eq!(
        skipped("boot vfs tmpfs\nfaults \"alloc nth=3\"\nmount tmpfs \"/\"\n"),
        "has a fault plan"
    );
    assert_eq!(
        skipped(
            "boot vfs tmpfs\nmount tmpfs \"/\"\nthreads {\n  thread a {\n    stat \"/\"\n  }\n}\n"
        ),
        "has a threads block"
    );
    assert_eq!(
        skipped("boot vfs tmpfs\nmount tmpfs \"/\"\nmkdir \"/m\"\nmount tmpfs \"/m\"\n"),
        "mounts a file system other than tmpfs on \"/\""
    );
    assert_eq!(
        skipped("boot vfs tmpfs\nmount tmpfs \"/\"\nunmount \"/\" -> any\n"),
        "unmounts"
    );
    assert_eq!(skipped("boot dev md\n"), "boots without vfs");
    assert_eq!(
        skipped("boot vfs tmpfs\nstat \"/\" -> any\n"),
        "its first call is not `mount tmpfs \"/\"`"
    );
}

#[test]
fn the_bundled_vfs_scenarios_agree_with_linux() {
    let files = suite::discover(&[suite::suite_root().join("vfs")]).expect("scenarios/vfs");
    assert!(!files.is_empty());
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for file in &files {
        let scenario = file.load().unwrap_or_else(|e| panic!("{e}"));
        let report = diff(&scenario, 0).unwrap_or_else(|e| panic!("{e}"));
        compared += report.compared;
        if let Some(reason) = &report.skipped {
            eprintln!("{}: skipped ({reason})", scenario.name);
        }
        mismatches.extend(report.mismatches);
    }
    eprintln!("{} scripts, {compared} calls compared", files.len());
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
