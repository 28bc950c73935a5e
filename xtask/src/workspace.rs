//! The workspace as `cargo metadata --no-deps` sees it, and the tidy [`Tree`]
//! loaded from disk.

use crate::cmd::{cargo, output, Result};
use crate::layers::DepKind;
use crate::tidy::{Crate, Dep, SourceFile, Target, Tree};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

/// The repository root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the repository root")
        .to_path_buf()
}

/// `cargo metadata --no-deps` for the workspace, or for another manifest.
pub fn metadata(manifest: Option<&Path>) -> Result<Value> {
    let mut cmd = cargo();
    cmd.current_dir(root())
        .args(["metadata", "--no-deps", "--format-version", "1"]);
    if let Some(manifest) = manifest {
        cmd.arg("--manifest-path").arg(manifest);
    }
    let text = output(&mut cmd)?;
    serde_json::from_str(&text).map_err(|e| format!("cargo metadata printed bad JSON: {e}"))
}

/// The target directory of the workspace.
pub fn target_dir(meta: &Value) -> PathBuf {
    PathBuf::from(meta["target_directory"].as_str().unwrap_or("target"))
}

/// `path` relative to the root, `/`-separated; `None` when outside.
pub fn relative(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root()).ok()?;
    Some(
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
    )
}

/// A workspace member: package name and directory relative to the root.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub dir: String,
}

pub fn members(meta: &Value) -> Vec<Member> {
    packages(meta)
        .into_iter()
        .map(|p| Member {
            name: p.name,
            dir: p.dir,
        })
        .collect()
}

fn packages(meta: &Value) -> Vec<Crate> {
    let mut crates = Vec::new();
    for package in meta["packages"].as_array().into_iter().flatten() {
        let manifest_path = PathBuf::from(package["manifest_path"].as_str().unwrap_or_default());
        let dir = manifest_path
            .parent()
            .and_then(relative)
            .unwrap_or_default();
        let targets = package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|t| {
                let src = relative(Path::new(t["src_path"].as_str().unwrap_or_default()))
                    .unwrap_or_default();
                t["kind"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(move |kind| Target {
                        kind: kind.to_string(),
                        src: src.clone(),
                    })
            })
            .collect();
        let deps = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| Dep {
                name: d["name"].as_str().unwrap_or_default().to_string(),
                rename: d["rename"].as_str().map(str::to_string),
                kind: match d["kind"].as_str() {
                    Some("dev") => DepKind::Dev,
                    Some("build") => DepKind::Build,
                    _ => DepKind::Normal,
                },
                path: d["path"].as_str().and_then(|p| relative(Path::new(p))),
            })
            .collect();
        crates.push(Crate {
            name: package["name"].as_str().unwrap_or_default().to_string(),
            manifest: fs::read_to_string(&manifest_path).unwrap_or_default(),
            dir,
            targets,
            deps,
        });
    }
    crates
}

/// The workspace crates, plus `fuzz/` (not a member) when it exists.
pub fn load_tree() -> Result<Tree> {
    let mut crates = packages(&metadata(None)?);
    let fuzz = root().join("fuzz/Cargo.toml");
    if fuzz.exists() && !crates.iter().any(|c| c.dir == "fuzz") {
        match metadata(Some(&fuzz)) {
            Ok(meta) => crates.extend(packages(&meta).into_iter().filter(|c| c.dir == "fuzz")),
            Err(e) => eprintln!("warning: fuzz/ left out of the dependency check: {e}"),
        }
    }
    let mut files = Vec::new();
    collect_rust_files(&root(), &mut files);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Tree { crates, files })
}

fn collect_rust_files(dir: &Path, files: &mut Vec<SourceFile>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            // Build output, hidden directories and fuzzer output are not source.
            if name == "target" || name.starts_with('.') || name == "artifacts" || name == "corpus"
            {
                continue;
            }
            collect_rust_files(&path, files);
        } else if kind.is_file() && name.ends_with(".rs") {
            if let (Some(rel), Ok(text)) = (relative(&path), fs::read_to_string(&path)) {
                files.push(SourceFile { path: rel, text });
            }
        }
    }
}
