//! `cargo xtask tidy`: the repository's own rules, checked on every build.
//!
//! The checks work on an in-memory picture of the repository ([`Tree`]): the
//! workspace crates as `cargo metadata` describes them, with their manifests,
//! and every `.rs` file outside `target/` directories. Loading that picture
//! from disk is separate from checking it, so each rule is unit-tested on
//! small hand-written inputs.
//!
//! The rules, each named in the output:
//! * `layers`: dependencies between workspace crates point down the layer
//!   table in [`crate::layers`] (normal and build dependencies strictly down;
//!   dev-dependencies of the kernel and drivers may also reach a platform);
//! * `no-std`: the kernel and every driver say `#![no_std]`;
//! * `forbid-unsafe`: a driver without any `unsafe` says `#![forbid(unsafe_code)]`;
//! * `crate-doc`: every crate root (`lib.rs`, or `main.rs` of a binary)
//!   starts with a `//!` paragraph saying what the crate is for;
//! * `no-ignore`: no `#[ignore]` and no `#[should_panic]` anywhere;
//! * `safety-comment`: every `unsafe {` block and `unsafe impl` has a
//!   `// SAFETY:` comment within the three lines above it (a longer comment
//!   block counts when it ends within those lines).

use crate::layers::{self, DepKind, Layer};
use crate::lex::mask;
use std::fmt;
use std::path::Path;

/// One broken rule, at a file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub path: String,
    pub line: usize,
    pub rule: &'static str,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: [{}] {}",
            self.path, self.line, self.rule, self.message
        )
    }
}

/// A crate target that needs a crate-level doc paragraph.
#[derive(Debug, Clone)]
pub struct Target {
    /// `lib`, `bin` or `proc-macro`.
    pub kind: String,
    /// Root source file, relative to the repository root.
    pub src: String,
}

/// One dependency entry of a manifest.
#[derive(Debug, Clone)]
pub struct Dep {
    /// The package name.
    pub name: String,
    /// The key in the manifest when it differs from the package name.
    pub rename: Option<String>,
    pub kind: DepKind,
    /// For path dependencies: the directory, relative to the repository root.
    pub path: Option<String>,
}

/// A crate of the workspace (or of `fuzz/`).
#[derive(Debug, Clone)]
pub struct Crate {
    pub name: String,
    /// Directory relative to the repository root, `/`-separated.
    pub dir: String,
    /// The text of its `Cargo.toml`, for line numbers.
    pub manifest: String,
    pub targets: Vec<Target>,
    pub deps: Vec<Dep>,
}

/// A Rust source file, relative path and text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

/// What tidy looks at.
#[derive(Debug, Default)]
pub struct Tree {
    pub crates: Vec<Crate>,
    pub files: Vec<SourceFile>,
}

impl Tree {
    fn file(&self, path: &str) -> Option<&SourceFile> {
        self.files.iter().find(|f| f.path == path)
    }

    fn lib_src(&self, krate: &Crate) -> Option<&SourceFile> {
        let target = krate.targets.iter().find(|t| t.kind == "lib")?;
        self.file(&target.src)
    }
}

/// Runs every rule; violations are sorted by file and line.
pub fn check(tree: &Tree) -> Vec<Violation> {
    let mut found = Vec::new();
    found.extend(check_layers(&tree.crates));
    found.extend(check_no_std(tree));
    found.extend(check_forbid_unsafe(tree));
    found.extend(check_crate_docs(tree));
    for file in &tree.files {
        found.extend(check_no_ignore(file));
        found.extend(check_safety_comments(file));
    }
    found.sort_by(|a, b| (&a.path, a.line, a.rule).cmp(&(&b.path, b.line, b.rule)));
    found.dedup();
    found
}

fn manifest_path(krate: &Crate) -> String {
    if krate.dir.is_empty() {
        "Cargo.toml".to_string()
    } else {
        format!("{}/Cargo.toml", krate.dir)
    }
}

/// Rule `layers`.
pub fn check_layers(crates: &[Crate]) -> Vec<Violation> {
    let mut found = Vec::new();
    for krate in crates {
        let Some(from) = layers::layer_of(&krate.dir) else {
            found.push(Violation {
                path: manifest_path(krate),
                line: 1,
                rule: "layers",
                message: format!(
                    "crate `{}` in `{}/` is not in the layer table (xtask/src/layers.rs, docs/architecture.md)",
                    krate.name, krate.dir
                ),
            });
            continue;
        };
        for dep in &krate.deps {
            // A workspace crate is named by path, or by name when inherited
            // from `[workspace.dependencies]`; registry crates are not checked.
            let target_dir = match &dep.path {
                Some(path) => Some(path.clone()),
                None => crates
                    .iter()
                    .find(|c| c.name == dep.name)
                    .map(|c| c.dir.clone()),
            };
            let Some(target_dir) = target_dir else {
                continue;
            };
            let Some(to) = layers::layer_of(&target_dir) else {
                // The unknown crate gets its own violation when it is a member;
                // a path outside the table is reported here.
                if !crates.iter().any(|c| c.dir == target_dir) {
                    found.push(Violation {
                        path: manifest_path(krate),
                        line: dep_line(&krate.manifest, dep),
                        rule: "layers",
                        message: format!(
                            "`{}` depends on `{}` in `{target_dir}/`, which is not in the layer table",
                            krate.name, dep.name
                        ),
                    });
                }
                continue;
            };
            if !layers::allowed(from, to, dep.kind) {
                let direction = if to == from { "sideways" } else { "up" };
                found.push(Violation {
                    path: manifest_path(krate),
                    line: dep_line(&krate.manifest, dep),
                    rule: "layers",
                    message: format!(
                        "`{}` ({} layer) has `{}` ({} layer) in [{}]: dependencies point down only, this one points {direction}",
                        krate.name,
                        from.name(),
                        dep.name,
                        to.name(),
                        dep.kind.section()
                    ),
                });
            }
        }
    }
    found
}

/// The line of `dep` in the manifest text, 1-based (1 when not found).
fn dep_line(manifest: &str, dep: &Dep) -> usize {
    let key = dep.rename.as_deref().unwrap_or(&dep.name);
    let section = dep.kind.section();
    let mut in_section = false;
    for (index, raw) in manifest.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('[') {
            let header = line.trim_matches(|c| c == '[' || c == ']').trim();
            in_section = header == section || header.ends_with(&format!(".{section}"));
            let table = format!("{section}.{key}");
            if header == table || header.ends_with(&format!(".{table}")) {
                return index + 1;
            }
            continue;
        }
        if in_section {
            let rest = line
                .strip_prefix(key)
                .or_else(|| line.strip_prefix(&format!("\"{key}\"")));
            if rest.is_some_and(|r| r.starts_with([' ', '\t', '=', '.'])) {
                return index + 1;
            }
        }
    }
    1
}

fn layer_crates(tree: &Tree, wanted: fn(Layer) -> bool) -> impl Iterator<Item = &Crate> {
    tree.crates
        .iter()
        .filter(move |c| layers::layer_of(&c.dir).is_some_and(wanted))
}

/// Code without whitespace, for matching attributes however they are spaced.
fn squeeze(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Rule `no-std`.
pub fn check_no_std(tree: &Tree) -> Vec<Violation> {
    let mut found = Vec::new();
    for krate in layer_crates(tree, |l| matches!(l, Layer::Kernel | Layer::Driver)) {
        let Some(lib) = tree.lib_src(krate) else {
            found.push(Violation {
                path: manifest_path(krate),
                line: 1,
                rule: "no-std",
                message: format!("`{}` has no library target (src/lib.rs)", krate.name),
            });
            continue;
        };
        let code = squeeze(&mask(&lib.text));
        if !code.contains("#![no_std]") {
            let conditional = code.contains("no_std)]") && code.contains("#![cfg_attr(");
            found.push(Violation {
                path: lib.path.clone(),
                line: 1,
                rule: "no-std",
                message: if conditional {
                    format!("`{}` is only conditionally no_std; it must say `#![no_std]` unconditionally", krate.name)
                } else {
                    format!("`{}` must be `#![no_std]`", krate.name)
                },
            });
        }
    }
    found
}

/// Whether masked code contains the keyword `unsafe` (not `unsafe_code`).
fn unsafe_keyword_lines(masked: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    for (index, line) in masked.lines().enumerate() {
        if find_word(line, "unsafe").next().is_some() {
            lines.push(index + 1);
        }
    }
    lines
}

/// Byte offsets of `word` in `text` as a whole identifier.
fn find_word<'a>(text: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).filter_map(move |(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        (!before.is_some_and(is_ident) && !after.is_some_and(is_ident)).then_some(at)
    })
}

/// Rule `forbid-unsafe`.
pub fn check_forbid_unsafe(tree: &Tree) -> Vec<Violation> {
    let mut found = Vec::new();
    for krate in layer_crates(tree, |l| l == Layer::Driver) {
        let Some(lib) = tree.lib_src(krate) else {
            continue;
        };
        let prefix = format!("{}/", krate.dir);
        let uses_unsafe = tree
            .files
            .iter()
            .filter(|f| f.path.starts_with(&prefix))
            .any(|f| !unsafe_keyword_lines(&mask(&f.text)).is_empty());
        if uses_unsafe {
            continue;
        }
        let code = squeeze(&mask(&lib.text));
        let forbids = code.match_indices("#![forbid(").any(|(at, _)| {
            code[at..]
                .split(")]")
                .next()
                .is_some_and(|attr| attr.contains("unsafe_code"))
        });
        if !forbids {
            found.push(Violation {
                path: lib.path.clone(),
                line: 1,
                rule: "forbid-unsafe",
                message: format!(
                    "driver `{}` contains no `unsafe`, so it must say `#![forbid(unsafe_code)]`",
                    krate.name
                ),
            });
        }
    }
    found
}

/// Rule `crate-doc`.
pub fn check_crate_docs(tree: &Tree) -> Vec<Violation> {
    let mut found = Vec::new();
    for krate in &tree.crates {
        for target in &krate.targets {
            if !matches!(target.kind.as_str(), "lib" | "bin" | "proc-macro") {
                continue;
            }
            let Some(file) = tree.file(&target.src) else {
                continue;
            };
            let first = file
                .text
                .lines()
                .enumerate()
                .find(|(_, line)| !line.trim().is_empty());
            let ok = first.is_some_and(|(_, line)| {
                line.trim_start()
                    .strip_prefix("//!")
                    .is_some_and(|rest| !rest.trim().is_empty())
            });
            if !ok {
                found.push(Violation {
                    path: file.path.clone(),
                    line: first.map_or(1, |(index, _)| index + 1),
                    rule: "crate-doc",
                    message: format!(
                        "`{}` must start with a `//!` paragraph saying what the crate is for",
                        Path::new(&file.path)
                            .file_name()
                            .and_then(|n| n.to_str())
                            .unwrap_or("crate root")
                    ),
                });
            }
        }
    }
    found
}

/// Rule `no-ignore`.
pub fn check_no_ignore(file: &SourceFile) -> Vec<Violation> {
    let masked = mask(&file.text);
    let mut found = Vec::new();
    for (at, _) in masked.match_indices("#[") {
        // The attribute's text up to its matching `]`.
        let mut depth = 0usize;
        let mut end = masked.len();
        for (offset, c) in masked[at + 1..].char_indices() {
            match c {
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        end = at + 1 + offset;
                        break;
                    }
                }
                _ => {}
            }
        }
        let attr = squeeze(&masked[at + 2..end]);
        let names: Vec<&str> = if let Some(inner) = attr.strip_prefix("cfg_attr(") {
            // `#[cfg_attr(pred, ignore)]`: look at what follows the predicate.
            inner.split_once(',').map_or(Vec::new(), |(_, rest)| {
                rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .collect()
            })
        } else {
            attr.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .take(1)
                .collect()
        };
        for name in ["ignore", "should_panic"] {
            if names.contains(&name) {
                let line = masked[..at].matches('\n').count() + 1;
                found.push(Violation {
                    path: file.path.clone(),
                    line,
                    rule: "no-ignore",
                    message: format!(
                        "`#[{name}]` is not allowed: a test runs and can fail; assert errors as values instead of panics"
                    ),
                });
            }
        }
    }
    found
}

/// Rule `safety-comment`.
pub fn check_safety_comments(file: &SourceFile) -> Vec<Violation> {
    let masked = mask(&file.text);
    let raw_lines: Vec<&str> = file.text.lines().collect();
    let mut found = Vec::new();
    for at in find_word(&masked, "unsafe") {
        let rest = masked[at + "unsafe".len()..].trim_start();
        let what = if rest.starts_with('{') {
            "unsafe block"
        } else if find_word(rest, "impl").next() == Some(0) {
            "unsafe impl"
        } else {
            continue;
        };
        let line = masked[..at].matches('\n').count() + 1;
        if !has_safety_comment(&raw_lines, line) {
            found.push(Violation {
                path: file.path.clone(),
                line,
                rule: "safety-comment",
                message: format!("{what} without a `// SAFETY:` comment in the 3 lines above"),
            });
        }
    }
    found
}

fn comment_text(line: &str) -> Option<&str> {
    let trimmed = line.trim_start();
    trimmed
        .strip_prefix("//")
        .or_else(|| trimmed.strip_prefix("/*"))
        .or_else(|| trimmed.strip_prefix('*'))
}

/// Whether a comment anywhere on `line` (also a trailing one) starts with `SAFETY:`.
fn mentions_safety(line: &str) -> bool {
    line.match_indices("//")
        .chain(line.match_indices("/*"))
        .any(|(at, _)| safety_text(&line[at + 2..]))
        || comment_text(line).is_some_and(safety_text)
}

fn safety_text(comment: &str) -> bool {
    comment
        .trim_start_matches(['/', '!', '*'])
        .trim_start()
        .starts_with("SAFETY:")
}

/// Whether `line` (1-based) has a SAFETY comment on it, or a comment line
/// starting with one within 3 lines above. A comment block that ends in that
/// window counts as a whole, so a long justification may start further up.
/// Trailing comments on code lines above belong to that code and do not count.
fn has_safety_comment(lines: &[&str], line: usize) -> bool {
    let index = line - 1;
    if lines.get(index).is_some_and(|l| mentions_safety(l)) {
        return true;
    }
    for above in 1..=3 {
        let Some(k) = index.checked_sub(above) else {
            break;
        };
        if comment_text(lines[k]).is_none() {
            continue;
        }
        // Walk up the contiguous comment block from here.
        let mut j = k;
        loop {
            if comment_text(lines[j]).is_some_and(safety_text) {
                return true;
            }
            if j == 0 || comment_text(lines[j - 1]).is_none() {
                break;
            }
            j -= 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn krate(name: &str, dir: &str, manifest: &str, deps: Vec<Dep>) -> Crate {
        Crate {
            name: name.into(),
            dir: dir.into(),
            manifest: manifest.into(),
            targets: vec![Target {
                kind: "lib".into(),
                src: format!("{dir}/src/lib.rs"),
            }],
            deps,
        }
    }

    fn dep(name: &str, kind: DepKind, path: Option<&str>) -> Dep {
        Dep {
            name: name.into(),
            rename: None,
            kind,
            path: path.map(Into::into),
        }
    }

    fn file(path: &str, text: &str) -> SourceFile {
        SourceFile {
            path: path.into(),
            text: text.into(),
        }
    }

    fn rules(found: &[Violation]) -> Vec<(&str, usize, &'static str)> {
        found
            .iter()
            .map(|v| (v.path.as_str(), v.line, v.rule))
            .collect()
    }

    fn base_crates() -> Vec<Crate> {
        vec![
            krate("rumpkit-hypercall", "hypercall", "[package]\n", vec![]),
            krate(
                "rumpkit-kernel",
                "kernel",
                "[dependencies]\nrumpkit-hypercall.workspace = true\n",
                vec![dep("rumpkit-hypercall", DepKind::Normal, Some("hypercall"))],
            ),
            krate("rumpkit-fault", "fault-hypercalls", "[package]\n", vec![]),
            krate("rumpkit-host", "host-hypercalls", "[package]\n", vec![]),
            krate("rumpkit", "harness", "[package]\n", vec![]),
        ]
    }

    #[test]
    fn layers_accept_downward_and_dev_to_platform() {
        let mut crates = base_crates();
        crates.push(krate(
            "rumpkit-tmpfs",
            "drivers/tmpfs",
            "[dependencies]\nrumpkit-kernel = { path = \"../../kernel\" }\nlog = \"0.4\"\n[dev-dependencies]\nrumpkit-fault.workspace = true\n",
            vec![
                dep("rumpkit-kernel", DepKind::Normal, Some("kernel")),
                dep("log", DepKind::Normal, None),
                dep("rumpkit-fault", DepKind::Dev, None),
            ],
        ));
        assert_eq!(check_layers(&crates), vec![]);
    }

    #[test]
    fn layers_reject_up_and_sideways_with_lines() {
        let mut crates = base_crates();
        let manifest = "[package]\nname = \"rumpkit-md\"\n\n[dependencies]\nrumpkit-kernel.workspace = true\nrumpkit-host = { path = \"../../host-hypercalls\" }\n\n[dev-dependencies]\nrumpkit-tmpfs = { workspace = true }\nrumpkit = { path = \"../../harness\" }\n";
        crates.push(krate("rumpkit-tmpfs", "drivers/tmpfs", "", vec![]));
        crates.push(krate(
            "rumpkit-md",
            "drivers/md",
            manifest,
            vec![
                dep("rumpkit-kernel", DepKind::Normal, None),
                dep("rumpkit-host", DepKind::Normal, Some("host-hypercalls")),
                dep("rumpkit-tmpfs", DepKind::Dev, None),
                dep("rumpkit", DepKind::Dev, Some("harness")),
            ],
        ));
        // The kernel naming a driver, a platform naming the other, and the
        // scenario language naming the harness.
        crates[1]
            .deps
            .push(dep("rumpkit-tmpfs", DepKind::Build, None));
        crates[1]
            .manifest
            .push_str("[build-dependencies.rumpkit-tmpfs]\npath = \"../drivers/tmpfs\"\n");
        crates[2]
            .deps
            .push(dep("rumpkit-host", DepKind::Normal, None));
        crates[2].manifest = "[target.'cfg(unix)'.dependencies]\nrumpkit-host = \"*\"\n".into();
        crates.push(krate(
            "rumpkit-scenario",
            "scenario-lang",
            "[dependencies]\nharness = { package = \"rumpkit\", path = \"../harness\" }\n",
            vec![Dep {
                name: "rumpkit".into(),
                rename: Some("harness".into()),
                kind: DepKind::Normal,
                path: Some("harness".into()),
            }],
        ));
        let found = check_layers(&crates);
        assert_eq!(
            rules(&found),
            vec![
                ("kernel/Cargo.toml", 3, "layers"),
                ("fault-hypercalls/Cargo.toml", 2, "layers"),
                ("drivers/md/Cargo.toml", 6, "layers"),
                ("drivers/md/Cargo.toml", 9, "layers"),
                ("drivers/md/Cargo.toml", 10, "layers"),
                ("scenario-lang/Cargo.toml", 2, "layers"),
            ]
        );
        assert!(found[1].message.contains("sideways"), "{}", found[1]);
        assert!(found[2].message.contains("points up"), "{}", found[2]);
    }

    #[test]
    fn layers_reject_crates_outside_the_table() {
        let mut crates = base_crates();
        crates.push(krate("stray", "stray", "", vec![]));
        assert_eq!(
            rules(&check_layers(&crates)),
            vec![("stray/Cargo.toml", 1, "layers")]
        );
    }

    fn tree_with(crates: Vec<Crate>, files: Vec<SourceFile>) -> Tree {
        Tree { crates, files }
    }

    #[test]
    fn no_std_required_for_kernel_and_drivers_only() {
        let tree = tree_with(
            vec![
                krate("rumpkit-kernel", "kernel", "", vec![]),
                krate("rumpkit-md", "drivers/md", "", vec![]),
                krate("rumpkit-tmpfs", "drivers/tmpfs", "", vec![]),
                krate("rumpkit-fault", "fault-hypercalls", "", vec![]),
            ],
            vec![
                file(
                    "kernel/src/lib.rs",
                    "//! Kernel.\n#![ no_std ]\nextern crate alloc;\n",
                ),
                file(
                    "drivers/md/src/lib.rs",
                    "//! md. Not #![no_std] in a comment.\n// #![no_std]\n",
                ),
                file(
                    "drivers/tmpfs/src/lib.rs",
                    "//! tmpfs.\n#![cfg_attr(not(test), no_std)]\n",
                ),
                file("fault-hypercalls/src/lib.rs", "//! Uses std.\n"),
            ],
        );
        let found = check_no_std(&tree);
        assert_eq!(
            rules(&found),
            vec![
                ("drivers/md/src/lib.rs", 1, "no-std"),
                ("drivers/tmpfs/src/lib.rs", 1, "no-std")
            ]
        );
        assert!(found[1].message.contains("conditionally"));
    }

    #[test]
    fn forbid_unsafe_required_only_when_driver_has_no_unsafe() {
        let tree = tree_with(
            vec![
                krate("a", "drivers/a", "", vec![]),
                krate("b", "drivers/b", "", vec![]),
                krate("c", "drivers/c", "", vec![]),
                krate("k", "kernel", "", vec![]),
            ],
            vec![
                // No unsafe (only in a comment and a string), no forbid: violation.
                file("drivers/a/src/lib.rs", "//! a\n#![no_std]\n#![deny(unsafe_code)]\n// unsafe { }\nconst S: &str = \"unsafe\";\n"),
                // Has unsafe in another module: fine without forbid.
                file("drivers/b/src/lib.rs", "//! b\n#![no_std]\nmod raw;\n"),
                file("drivers/b/src/raw.rs", "// SAFETY: test\nunsafe impl Send for X {}\n"),
                // No unsafe, forbids it among other lints: fine.
                file("drivers/c/src/lib.rs", "//! c\n#![no_std]\n#![forbid(missing_docs, unsafe_code)]\n"),
                file("kernel/src/lib.rs", "//! k\n#![no_std]\n"),
            ],
        );
        assert_eq!(
            rules(&check_forbid_unsafe(&tree)),
            vec![("drivers/a/src/lib.rs", 1, "forbid-unsafe")]
        );
    }

    #[test]
    fn crate_docs_start_every_crate_root() {
        let mut bin = krate("tool", "tool", "", vec![]);
        bin.targets = vec![
            Target {
                kind: "bin".into(),
                src: "tool/src/main.rs".into(),
            },
            Target {
                kind: "test".into(),
                src: "tool/tests/t.rs".into(),
            },
        ];
        let tree = tree_with(
            vec![
                krate("good", "good", "", vec![]),
                krate("bad", "bad", "", vec![]),
                krate("empty", "empty", "", vec![]),
                bin,
            ],
            vec![
                file("good/src/lib.rs", "\n//! What this is for.\n"),
                file(
                    "bad/src/lib.rs",
                    "#![no_std]\n//! Doc after an attribute.\n",
                ),
                file(
                    "empty/src/lib.rs",
                    "//!\n//! Text only after an empty line.\n",
                ),
                file(
                    "tool/src/main.rs",
                    "/// An item doc, not a crate doc.\nfn main() {}\n",
                ),
                file("tool/tests/t.rs", "fn no_doc_needed() {}\n"),
            ],
        );
        assert_eq!(
            rules(&check_crate_docs(&tree)),
            vec![
                ("bad/src/lib.rs", 1, "crate-doc"),
                ("empty/src/lib.rs", 1, "crate-doc"),
                ("tool/src/main.rs", 1, "crate-doc")
            ]
        );
    }

    #[test]
    fn ignore_and_should_panic_are_rejected_in_code_only() {
        let text = concat!(
            "#[test]\n",
            "#[ignore]\n",
            "fn a() {}\n",
            "#[test] #[should_panic(expected = \"boom\")]\n",
            "fn b() {}\n",
            "#[cfg_attr(miri, ignore = \"slow\")]\n",
            "// #[ignore]\n",
            "const FIXTURE: &str = \"#[should_panic]\";\n",
            "#[cfg(feature = \"ignore\")]\n",
            "#[ignored_helper] #[ignore\n",
            "]\n",
        );
        assert_eq!(
            rules(&check_no_ignore(&file("t.rs", text))),
            vec![
                ("t.rs", 2, "no-ignore"),
                ("t.rs", 4, "no-ignore"),
                ("t.rs", 6, "no-ignore"),
                ("t.rs", 10, "no-ignore")
            ]
        );
    }

    #[test]
    fn unsafe_needs_a_safety_comment_close_above() {
        let text = concat!(
            "unsafe impl Send for A {}\n",                           // 1: missing
            "// SAFETY: B owns no thread-bound state.\n",            // 2
            "unsafe impl Sync for B {}\n",                           // 3: ok
            "fn f() {\n",                                            // 4
            "    // SAFETY: the pointer came from Box::into_raw\n",  // 5
            "    // and is used once; this comment is long\n",       // 6
            "    // and goes on for a few lines,\n",                 // 7
            "    // four in all.\n",                                 // 8
            "    let b = unsafe { Box::from_raw(p) };\n",            // 9: ok (block)
            "    let s = \"unsafe { in a string }\";\n",             // 10: not code
            "    let x = 1;\n",                                      // 11
            "    let y = 2;\n",                                      // 12
            "    let z = 3;\n",                                      // 13
            "    unsafe{ g() }\n",                                   // 14: missing, comment too far
            "}\n",                                                   // 15
            "unsafe fn h() {}\n", // 16: a declaration, not checked
            "#[forbid(unsafe_code)] mod m {}\n", // 17: not the keyword
            "let v = unsafe { w() }; // SAFETY: w is sound here.\n", // 18: ok, same line
            "// Safety: lower case does not count\n", // 19
            "unsafe { q() }\n",   // 20: missing
            "// SAFETY: four lines up is too far.\n", // 21
            "let a = 1;\n",       // 22
            "let b = 2;\n",       // 23
            "let c = 3;\n",       // 24
            "unsafe { r() }\n",   // 25: missing
            "// SAFETY: three lines up is close enough.\n", // 26
            "let a = 1;\n",       // 27
            "let b = 2;\n",       // 28
            "unsafe { s() }\n",   // 29: ok
        );
        assert_eq!(
            rules(&check_safety_comments(&file("u.rs", text))),
            vec![
                ("u.rs", 1, "safety-comment"),
                ("u.rs", 14, "safety-comment"),
                ("u.rs", 20, "safety-comment"),
                ("u.rs", 25, "safety-comment"),
            ]
        );
    }

    #[test]
    fn check_reports_sorted_and_formatted() {
        let tree = tree_with(
            vec![krate("k", "kernel", "", vec![])],
            vec![file("kernel/src/lib.rs", "fn main() { unsafe { x() } }\n")],
        );
        let found: Vec<String> = check(&tree).iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            vec![
                "kernel/src/lib.rs:1: [crate-doc] `lib.rs` must start with a `//!` paragraph saying what the crate is for",
                "kernel/src/lib.rs:1: [no-std] `k` must be `#![no_std]`",
                "kernel/src/lib.rs:1: [safety-comment] unsafe block without a `// SAFETY:` comment in the 3 lines above",
            ]
        );
    }
}
