//! `cargo xtask coverage`: one instrumented nextest run that is both the test
//! run and the coverage measurement, then HTML and lcov reports, a per-crate
//! line-coverage table, and the minimum for the kernel and the drivers.
//!
//! Settings live in `coverage/config.toml`; `coverage/README.md` explains them.

use crate::cmd::{self, cargo, Result};
use crate::workspace::{self, Member};
use serde_json::Value;
use std::fs;
use std::path::Path;

/// `coverage/config.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub min_line: f64,
    pub gated: Vec<String>,
    pub ignore_filename_regex: Option<String>,
}

impl Config {
    pub fn parse(text: &str) -> Result<Config> {
        let table: toml::Table = text
            .parse()
            .map_err(|e| format!("coverage/config.toml: {e}"))?;
        let min_line = match table.get("min_line") {
            Some(toml::Value::Float(f)) => *f,
            Some(toml::Value::Integer(i)) => *i as f64,
            None => 80.0,
            Some(other) => {
                return Err(format!(
                    "coverage/config.toml: min_line must be a number, not {other}"
                ))
            }
        };
        let gated = match table.get("gated") {
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or("coverage/config.toml: gated holds strings")
                })
                .collect::<std::result::Result<Vec<_>, _>>()?,
            None => vec!["kernel".into(), "drivers/*".into()],
            Some(_) => {
                return Err("coverage/config.toml: gated must be a list of directories".into())
            }
        };
        let ignore_filename_regex = table
            .get("ignore_filename_regex")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        Ok(Config {
            min_line,
            gated,
            ignore_filename_regex,
        })
    }

    pub fn load() -> Result<Config> {
        let path = workspace::root().join("coverage/config.toml");
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Config::parse(&text)
    }

    pub fn is_gated(&self, dir: &str) -> bool {
        self.gated
            .iter()
            .any(|pattern| match pattern.strip_suffix("/*") {
                Some(parent) => dir
                    .strip_prefix(parent)
                    .and_then(|r| r.strip_prefix('/'))
                    .is_some_and(|r| !r.is_empty() && !r.contains('/')),
                None => dir == pattern,
            })
    }
}

/// Line counts for one crate.
#[derive(Debug, Clone, PartialEq)]
pub struct CrateLines {
    pub name: String,
    pub dir: String,
    pub count: u64,
    pub covered: u64,
}

impl CrateLines {
    pub fn percent(&self) -> f64 {
        if self.count == 0 {
            100.0
        } else {
            self.covered as f64 * 100.0 / self.count as f64
        }
    }
}

/// Sums the per-file line summary of `cargo llvm-cov report --json
/// --summary-only` by crate directory (the longest member directory that
/// contains the file). Files outside every member are left out.
pub fn per_crate(report: &Value, root: &Path, members: &[Member]) -> Vec<CrateLines> {
    let mut rows: Vec<CrateLines> = members
        .iter()
        .map(|m| CrateLines {
            name: m.name.clone(),
            dir: m.dir.clone(),
            count: 0,
            covered: 0,
        })
        .collect();
    let files = report["data"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|d| d["files"].as_array().into_iter().flatten());
    for file in files {
        let Some(name) = file["filename"].as_str() else {
            continue;
        };
        let Ok(rel) = Path::new(name).strip_prefix(root) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        let owner = rows
            .iter_mut()
            .filter(|row| row.dir.is_empty() || rel.starts_with(&format!("{}/", row.dir)))
            .max_by_key(|row| row.dir.len());
        if let Some(row) = owner {
            row.count += file["summary"]["lines"]["count"].as_u64().unwrap_or(0);
            row.covered += file["summary"]["lines"]["covered"].as_u64().unwrap_or(0);
        }
    }
    rows.sort_by(|a, b| a.dir.cmp(&b.dir));
    rows
}

/// The table printed in CI.
pub fn table(rows: &[CrateLines], config: &Config, min_line: f64) -> String {
    let mut text = format!(
        "{:<22} {:<20} {:>8} {:>8} {:>8}  {}\n",
        "crate", "directory", "lines", "covered", "line %", "gate"
    );
    let (mut count, mut covered) = (0, 0);
    for row in rows {
        if row.count == 0 && !config.is_gated(&row.dir) {
            continue;
        }
        count += row.count;
        covered += row.covered;
        let gate = if !config.is_gated(&row.dir) {
            String::new()
        } else if row.count == 0 {
            "FAIL: nothing measured".to_string()
        } else if row.percent() < min_line {
            format!("FAIL: below {min_line}%")
        } else {
            format!("ok (>= {min_line}%)")
        };
        text.push_str(&format!(
            "{:<22} {:<20} {:>8} {:>8} {:>7.1}%  {}\n",
            row.name,
            row.dir,
            row.count,
            row.covered,
            row.percent(),
            gate
        ));
    }
    let total = CrateLines {
        name: "total".into(),
        dir: String::new(),
        count,
        covered,
    };
    text.push_str(&format!(
        "{:<22} {:<20} {:>8} {:>8} {:>7.1}%\n",
        "total",
        "",
        count,
        covered,
        total.percent()
    ));
    text
}

/// The gated crates that fail the minimum (nothing measured counts as failing).
pub fn failures(rows: &[CrateLines], config: &Config, min_line: f64) -> Vec<String> {
    rows.iter()
        .filter(|row| config.is_gated(&row.dir))
        .filter(|row| row.count == 0 || row.percent() < min_line)
        .map(|row| {
            format!(
                "{} ({}/): {:.1}% of {} lines, minimum {min_line}%",
                row.name,
                row.dir,
                row.percent(),
                row.count
            )
        })
        .collect()
}

/// What a coverage run found, for `ci`'s closing summary.
pub struct Outcome {
    pub table: String,
    pub nextest_summary: Vec<String>,
}

/// The nextest summary: from its `Summary [` line to the end of its output.
pub fn nextest_summary(lines: &[String]) -> Vec<String> {
    match lines
        .iter()
        .rposition(|l| l.trim_start().starts_with("Summary ["))
    {
        Some(at) => lines[at..]
            .iter()
            .filter(|l| !l.trim().is_empty())
            .cloned()
            .collect(),
        None => Vec::new(),
    }
}

pub struct Options<'a> {
    pub min_line: Option<f64>,
    pub packages: &'a [String],
    pub nextest_args: &'a [String],
    /// Snapshot tests check, never write (used by `ci`).
    pub insta_check: bool,
}

pub fn ensure_tools() -> Result {
    cmd::ensure_cargo_tool("nextest", "cargo-nextest")?;
    cmd::ensure_component("llvm-tools-preview")?;
    cmd::ensure_cargo_tool("llvm-cov", "cargo-llvm-cov")
}

pub fn run(options: &Options) -> Result<Outcome> {
    let config = Config::load()?;
    let min_line = options.min_line.unwrap_or(config.min_line);
    ensure_tools()?;
    let root = workspace::root();
    let meta = workspace::metadata(None)?;
    let all = workspace::members(&meta);
    let in_scope: Vec<Member> = if options.packages.is_empty() {
        all.clone()
    } else {
        for name in options.packages {
            if !all.iter().any(|m| &m.name == name) {
                return Err(format!("no workspace package named `{name}`"));
            }
        }
        all.iter()
            .filter(|m| options.packages.contains(&m.name))
            .cloned()
            .collect()
    };
    let scope: Vec<String> = if options.packages.is_empty() {
        vec!["--workspace".into()]
    } else {
        options
            .packages
            .iter()
            .flat_map(|p| ["--package".to_string(), p.clone()])
            .collect()
    };

    // The one test run: instrumented, under nextest.
    let mut test = cargo();
    test.current_dir(&root)
        .args(["llvm-cov", "nextest", "--no-report"])
        .args(&scope);
    if options.insta_check {
        test.env("INSTA_UPDATE", "no").env("INSTA_FORCE_PASS", "0");
    }
    test.args(options.nextest_args);
    let (result, lines) = cmd::run_tee(&mut test);
    let nextest_summary = nextest_summary(&lines);
    result?;

    let target = workspace::target_dir(&meta).join("llvm-cov");
    let report = |extra: &[&str]| {
        let mut c = cargo();
        c.current_dir(&root)
            .args(["llvm-cov", "report"])
            .args(extra);
        if let Some(regex) = &config.ignore_filename_regex {
            c.args(["--ignore-filename-regex", regex]);
        }
        c
    };
    cmd::run(&mut report(&["--html"]))?;
    let lcov = target.join("lcov.info");
    cmd::run(report(&["--lcov"]).arg("--output-path").arg(&lcov))?;
    let json = cmd::output(&mut report(&["--json", "--summary-only"]))?;
    let json: Value =
        serde_json::from_str(&json).map_err(|e| format!("cargo llvm-cov report --json: {e}"))?;

    let rows = per_crate(&json, &root, &in_scope);
    let table = table(&rows, &config, min_line);
    println!("\n{table}");
    println!("HTML: {}", target.join("html/index.html").display());
    println!("lcov: {}", lcov.display());
    let failed = failures(&rows, &config, min_line);
    if !failed.is_empty() {
        return Err(format!(
            "line coverage below the minimum:\n  {}",
            failed.join("\n  ")
        ));
    }
    Ok(Outcome {
        table,
        nextest_summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn member(name: &str, dir: &str) -> Member {
        Member {
            name: name.into(),
            dir: dir.into(),
        }
    }

    #[test]
    fn config_parses_and_gates_by_directory() {
        let config = Config::parse("min_line = 75\ngated = [\"kernel\", \"drivers/*\"]\n").unwrap();
        assert_eq!(config.min_line, 75.0);
        assert!(config.is_gated("kernel"));
        assert!(config.is_gated("drivers/md"));
        assert!(!config.is_gated("drivers"));
        assert!(!config.is_gated("fault-hypercalls"));
        assert!(Config::parse("min_line = \"high\"").is_err());
    }

    #[test]
    fn the_checked_in_config_parses() {
        let text = fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../coverage/config.toml"
        ))
        .unwrap();
        let config = Config::parse(&text).unwrap();
        assert_eq!(config.min_line, 80.0);
        assert!(config.is_gated("kernel") && config.is_gated("drivers/tmpfs"));
    }

    #[test]
    fn per_crate_sums_files_by_longest_directory() {
        let report = json!({"data": [{"files": [
            {"filename": "/r/kernel/src/lib.rs", "summary": {"lines": {"count": 100, "covered": 90}}},
            {"filename": "/r/kernel/src/vfs/mod.rs", "summary": {"lines": {"count": 100, "covered": 50}}},
            {"filename": "/r/drivers/md/src/lib.rs", "summary": {"lines": {"count": 10, "covered": 9}}},
            {"filename": "/r/drivers/mdx/src/lib.rs", "summary": {"lines": {"count": 10, "covered": 1}}},
            {"filename": "/elsewhere/registry/x.rs", "summary": {"lines": {"count": 1000, "covered": 0}}}
        ]}]});
        let members = [
            member("rumpkit-kernel", "kernel"),
            member("rumpkit-md", "drivers/md"),
            member("rumpkit-mdx", "drivers/mdx"),
            member("rumpkit-tmpfs", "drivers/tmpfs"),
        ];
        let rows = per_crate(&report, Path::new("/r"), &members);
        let sums: Vec<(&str, u64, u64)> = rows
            .iter()
            .map(|r| (r.name.as_str(), r.count, r.covered))
            .collect();
        assert_eq!(
            sums,
            vec![
                ("rumpkit-md", 10, 9),
                ("rumpkit-mdx", 10, 1),
                ("rumpkit-tmpfs", 0, 0),
                ("rumpkit-kernel", 200, 140)
            ]
        );

        let config = Config::parse("").unwrap();
        let failed = failures(&rows, &config, 80.0);
        assert_eq!(failed.len(), 3, "{failed:?}"); // mdx 10%, tmpfs nothing measured, kernel 70%
        assert!(failed[0].starts_with("rumpkit-mdx"));
        assert!(failures(&rows[..1], &config, 80.0).is_empty());
        let text = table(&rows, &config, 80.0);
        assert!(text.contains("rumpkit-kernel"), "{text}");
        assert!(text.contains("70.0%"), "{text}");
        assert!(text.lines().last().unwrap().starts_with("total"), "{text}");
    }

    #[test]
    fn nextest_summary_is_the_tail_from_summary() {
        let lines: Vec<String> = [
            "   Compiling x",
            "        PASS [ 0.1s] x::a",
            "────────────",
            "     Summary [   0.2s] 2 tests run: 2 passed, 0 skipped",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            nextest_summary(&lines),
            vec!["     Summary [   0.2s] 2 tests run: 2 passed, 0 skipped".to_string()]
        );
        assert!(nextest_summary(&lines[..2]).is_empty());
    }
}
