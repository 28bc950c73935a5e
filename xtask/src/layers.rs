//! The layer table: the one place that says which crate sits on which layer.
//!
//! `docs/architecture.md` draws the same table and explains the rules; a unit
//! test below keeps the two in step. Dependencies between workspace crates
//! point down only: a crate may depend on crates of a strictly lower layer.
//! Two crates on the same layer never depend on each other (no driver names
//! another driver, no platform names the other platform).

/// A layer of the rumpkit stack, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layer {
    /// `hypercall/`: the hypercall interface, no dependencies.
    Hypercall,
    /// `kernel/`: the anykernel, on the hypercall interface only.
    Kernel,
    /// `drivers/*`: one crate per driver, on the kernel API only.
    Driver,
    /// `fault-hypercalls/`, `host-hypercalls/`: implementations of the interface.
    Platform,
    /// `scenario-lang/`: the scenario language.
    ScenarioLang,
    /// `harness/`: boots kernels per case; the `rumpkit` CLI.
    Harness,
    /// `fuzz/`, `golden/`, `xtask/`, `scenarios/`, `coverage/`: tools and suites.
    Tool,
}

/// Directory (relative to the repository root) to layer. A pattern ending in
/// `/*` matches every direct subdirectory.
pub const LAYER_TABLE: &[(&str, Layer)] = &[
    ("hypercall", Layer::Hypercall),
    ("kernel", Layer::Kernel),
    ("drivers/*", Layer::Driver),
    ("fault-hypercalls", Layer::Platform),
    ("host-hypercalls", Layer::Platform),
    ("scenario-lang", Layer::ScenarioLang),
    ("harness", Layer::Harness),
    ("fuzz", Layer::Tool),
    ("golden", Layer::Tool),
    ("xtask", Layer::Tool),
    ("scenarios", Layer::Tool),
    ("coverage", Layer::Tool),
];

impl Layer {
    pub fn name(self) -> &'static str {
        match self {
            Layer::Hypercall => "hypercall interface",
            Layer::Kernel => "kernel",
            Layer::Driver => "driver",
            Layer::Platform => "platform",
            Layer::ScenarioLang => "scenario language",
            Layer::Harness => "harness",
            Layer::Tool => "tools",
        }
    }
}

/// The layer of the crate in `dir` (relative, `/`-separated), if the table has it.
pub fn layer_of(dir: &str) -> Option<Layer> {
    let dir = dir.trim_end_matches('/');
    LAYER_TABLE.iter().find_map(|&(pattern, layer)| {
        let matches = match pattern.strip_suffix("/*") {
            Some(parent) => dir
                .strip_prefix(parent)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|name| !name.is_empty() && !name.contains('/')),
            None => dir == pattern,
        };
        matches.then_some(layer)
    })
}

/// What kind of Cargo dependency an edge is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DepKind {
    Normal,
    Build,
    Dev,
}

impl DepKind {
    pub fn section(self) -> &'static str {
        match self {
            DepKind::Normal => "dependencies",
            DepKind::Build => "build-dependencies",
            DepKind::Dev => "dev-dependencies",
        }
    }
}

/// Whether a crate on layer `from` may depend on a crate on layer `to`.
///
/// Normal and build dependencies point strictly down. Dev-dependencies may
/// also point down, and in one documented exception up: the kernel and the
/// drivers may dev-depend on a platform, so that their own tests can boot on
/// the deterministic or the host platform. Nothing else points up, not even in
/// tests: a kernel or driver test never names another driver or the harness.
pub fn allowed(from: Layer, to: Layer, kind: DepKind) -> bool {
    if to < from {
        return true;
    }
    kind == DepKind::Dev && matches!(from, Layer::Kernel | Layer::Driver) && to == Layer::Platform
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lookup() {
        assert_eq!(layer_of("hypercall"), Some(Layer::Hypercall));
        assert_eq!(layer_of("drivers/tmpfs"), Some(Layer::Driver));
        assert_eq!(layer_of("drivers/md/"), Some(Layer::Driver));
        assert_eq!(layer_of("drivers"), None);
        assert_eq!(layer_of("drivers/md/sub"), None);
        assert_eq!(layer_of("host-hypercalls"), Some(Layer::Platform));
        assert_eq!(layer_of("xtask"), Some(Layer::Tool));
        assert_eq!(layer_of("somewhere-else"), None);
    }

    #[test]
    fn rules() {
        use DepKind::*;
        use Layer::*;
        assert!(allowed(Kernel, Hypercall, Normal));
        assert!(!allowed(Kernel, Driver, Normal));
        assert!(!allowed(Kernel, Driver, Dev));
        assert!(!allowed(Driver, Driver, Normal));
        assert!(!allowed(Driver, Platform, Normal));
        assert!(!allowed(Driver, Platform, Build));
        assert!(allowed(Driver, Platform, Dev));
        assert!(allowed(Kernel, Platform, Dev));
        assert!(!allowed(Driver, Harness, Dev));
        assert!(!allowed(Platform, Platform, Normal));
        assert!(!allowed(Hypercall, Platform, Dev));
        assert!(allowed(Harness, Platform, Normal));
        assert!(!allowed(ScenarioLang, Harness, Normal));
        assert!(!allowed(Tool, Tool, Normal));
    }

    /// docs/architecture.md must show every entry of the table.
    #[test]
    fn architecture_doc_lists_every_layer_entry() {
        let doc_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/architecture.md");
        let doc = std::fs::read_to_string(doc_path).expect("docs/architecture.md exists");
        for (pattern, layer) in LAYER_TABLE {
            let shown = if pattern.ends_with("/*") {
                pattern.to_string()
            } else {
                format!("{pattern}/")
            };
            let row = format!("| `{shown}` | {} |", layer.name());
            assert!(
                doc.contains(&row),
                "docs/architecture.md lacks the row {row:?}"
            );
        }
    }
}
