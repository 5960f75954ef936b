//! `cargo xtask tidy`: checks the workspace's layering rules (house-style §1 and §2).
//!
//! The workspace is read with `cargo metadata` (through [`cargo_metadata`], with all features on
//! and every target platform): its members, each member's declared dependencies — normal, dev,
//! build and target-specific, renamed ones by the package they name — and the resolved
//! dependency graph. Declared dependencies are checked against [`RULES`]; then the resolved graph
//! is walked from each member to find the outside crates its rule forbids that arrive
//! *transitively*, through another crate, and the path is reported. The same checks also require
//! the library crates under `crates/` to be packageable (description, licence, repository, no
//! `publish = false`) and the rest to carry `publish = false`, a crate-level `//!` doc comment
//! at the top of each library root, and that every crate under `crates/` is a workspace member.
//!
//! Loading is separate from checking ([`Workspace::load`] vs [`Workspace::violations`]), so the
//! rules are unit-tested on synthetic metadata without running cargo or touching the disk.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use cargo_metadata::camino::Utf8Path;
use cargo_metadata::{
    CargoOpt, DepKindInfo, DependencyKind, Metadata, MetadataCommand, Node, Package, PackageId,
    Target,
};

/// The dependency rule of one workspace crate.
#[derive(Debug)]
pub struct Rule {
    /// The package name.
    pub krate: &'static str,
    /// The workspace crates it may depend on (any other sibling is a violation).
    pub siblings: &'static [&'static str],
    /// Outside crates it must never depend on.
    pub forbidden: &'static [&'static str],
    /// The rule in words, printed with every violation.
    pub why: &'static str,
}

/// The library crates below the facade.
const LEAVES: &[&str] = &[
    "diffid-core",
    "diffid-ode",
    "diffid-cost",
    "diffid-optim",
    "diffid-sample",
    "diffid-exec",
];

const LEAF_WHY: &str = "leaf crates depend only on diffid-core among workspace crates and never \
on pyo3; only diffid-ode knows diffsol/diffsl (house-style §2, invariants 1 and 3)";

/// House-style §2 as data. A workspace member without a rule here is itself a violation, so a
/// new crate cannot join the workspace without someone deciding what it may depend on.
pub const RULES: &[Rule] = &[
    Rule {
        krate: "diffid-core",
        siblings: &[],
        forbidden: &["diffsol", "diffsl", "rayon", "pyo3", "numpy"],
        why: "diffid-core depends on no workspace crate, nor on diffsol, diffsl, rayon or pyo3 \
(house-style §2)",
    },
    Rule {
        krate: "diffid-ode",
        siblings: &["diffid-core"],
        forbidden: &["pyo3", "numpy"],
        why: LEAF_WHY,
    },
    Rule {
        krate: "diffid-cost",
        siblings: &["diffid-core"],
        forbidden: &["diffsol", "diffsl", "pyo3", "numpy"],
        why: LEAF_WHY,
    },
    Rule {
        krate: "diffid-optim",
        siblings: &["diffid-core"],
        forbidden: &["diffsol", "diffsl", "pyo3", "numpy"],
        why: LEAF_WHY,
    },
    Rule {
        krate: "diffid-sample",
        siblings: &["diffid-core"],
        forbidden: &["diffsol", "diffsl", "pyo3", "numpy"],
        why: LEAF_WHY,
    },
    Rule {
        krate: "diffid-exec",
        siblings: &["diffid-core"],
        forbidden: &["diffsol", "diffsl", "pyo3", "numpy"],
        why: "diffid-exec depends only on diffid-core (and rayon), never on diffsol, diffsl, pyo3 \
or the other leaf crates (house-style §2, invariant 2)",
    },
    Rule {
        krate: "diffid",
        siblings: LEAVES,
        forbidden: &["pyo3", "numpy"],
        why: "the diffid facade depends on the leaf crates only, never on pyo3/numpy \
(house-style §2, invariant 3)",
    },
    Rule {
        krate: "diffid-python",
        siblings: &["diffid"],
        forbidden: &[],
        why: "bindings/python reaches the workspace only through the diffid facade \
(house-style §2)",
    },
    Rule {
        krate: "diffid-benches",
        siblings: &["diffid"],
        forbidden: &["pyo3", "numpy"],
        why: "benches depend on the diffid facade only among workspace crates, never on pyo3 \
(house-style §2)",
    },
    Rule {
        krate: "xtask",
        siblings: &[],
        forbidden: &["pyo3", "numpy"],
        why: "xtask depends on no workspace crate and never on pyo3 (house-style §2)",
    },
];

/// The workspace, loaded.
#[derive(Clone, Debug)]
pub struct Workspace {
    /// `cargo metadata` of the workspace, its graph resolved with all features on.
    pub metadata: Metadata,
    /// The text of each member's library root, by its path relative to the workspace root
    /// (`crates/diffid-core/src/lib.rs`).
    pub lib_sources: BTreeMap<String, String>,
    /// Directories under `crates/` (relative, `crates/name`) that hold a `Cargo.toml`.
    pub crate_dirs: Vec<String>,
}

impl Workspace {
    /// Runs `cargo metadata` on the workspace at `root` (all features, so optional dependencies
    /// are in the resolved graph too), reads every member's library root and lists `crates/`.
    ///
    /// # Errors
    /// A message saying what could not be run or read.
    pub fn load(root: &Path) -> Result<Self, String> {
        let metadata = MetadataCommand::new()
            .manifest_path(root.join("Cargo.toml"))
            .features(CargoOpt::AllFeatures)
            .exec()
            .map_err(|e| format!("tidy: cargo metadata failed: {e}"))?;
        let ws_root = metadata.workspace_root.clone();
        let mut lib_sources = BTreeMap::new();
        for package in metadata.workspace_packages() {
            let Some(lib) = library(package) else {
                continue;
            };
            match fs::read_to_string(&lib.src_path) {
                Ok(text) => {
                    lib_sources.insert(relative(&ws_root, &lib.src_path), text);
                }
                // Reported by the check as a missing library root.
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(format!("tidy: cannot read {}: {e}", lib.src_path)),
            }
        }
        let crates = ws_root.join("crates");
        let crate_dirs = if crates.is_dir() {
            list_crate_dirs(crates.as_std_path(), "crates")?
        } else {
            Vec::new()
        };
        Ok(Self {
            metadata,
            lib_sources,
            crate_dirs,
        })
    }

    /// The workspace members, in `cargo metadata`'s order.
    fn members(&self) -> Vec<&Package> {
        self.metadata
            .workspace_members
            .iter()
            .filter_map(|id| self.metadata.packages.iter().find(|p| &p.id == id))
            .collect()
    }

    /// `path` relative to the workspace root, with `/` separators.
    fn relative(&self, path: &Utf8Path) -> String {
        relative(&self.metadata.workspace_root, path)
    }

    /// Every broken rule, one line each, in member order.
    pub fn violations(&self) -> Vec<String> {
        let mut out = Vec::new();
        let members = self.members();
        let siblings: BTreeSet<&str> = members.iter().map(|p| p.name.as_str()).collect();
        let graph = Graph::new(&self.metadata);
        if graph.is_none() {
            out.push(
                "cargo metadata gave no resolved dependency graph, so transitive dependencies \
were not checked"
                    .to_owned(),
            );
        }
        let mut member_dirs = BTreeSet::new();
        for package in &members {
            let name = package.name.as_str();
            let manifest_path = self.relative(&package.manifest_path);
            let dir = package
                .manifest_path
                .parent()
                .map(|d| self.relative(d))
                .unwrap_or_default();
            match RULES.iter().find(|r| r.krate == name) {
                None => out.push(format!(
                    "{name} ({manifest_path}): no dependency rule for this workspace crate: add one \
to RULES in xtask/src/tidy.rs (house-style §2)"
                )),
                Some(rule) => {
                    check_declared(package, rule, &siblings, &manifest_path, &mut out);
                    if let Some(graph) = &graph {
                        graph.check_transitive(package, rule, &manifest_path, &mut out);
                    }
                }
            }
            check_publish(package, &manifest_path, &dir, &mut out);
            self.check_lib_doc(package, &dir, &mut out);
            member_dirs.insert(dir);
        }
        for dir in &self.crate_dirs {
            if !member_dirs.contains(dir) {
                out.push(format!(
                    "{dir}: a crate under crates/ that is not a workspace member: add it to \
[workspace] members in Cargo.toml"
                ));
            }
        }
        out
    }

    /// Crates under `crates/` must have a library whose root (`src/lib.rs`) begins with a `//!`
    /// crate doc; other members only if they have a library.
    fn check_lib_doc(&self, package: &Package, dir: &str, out: &mut Vec<String>) {
        let name = &package.name;
        let Some(lib) = library(package) else {
            if dir.starts_with("crates/") {
                out.push(format!(
                    "{name}: {dir}/src/lib.rs is missing (crates under crates/ are libraries)"
                ));
            }
            return;
        };
        let path = self.relative(&lib.src_path);
        let Some(text) = self.lib_sources.get(&path) else {
            out.push(format!(
                "{name}: {path} is missing (it is the library root)"
            ));
            return;
        };
        let first = text.lines().map(str::trim).find(|l| !l.is_empty());
        if !first.is_some_and(|l| l.starts_with("//!")) {
            out.push(format!(
                "{name}: {path} must begin with a crate-level doc comment (`//! ...`) saying what \
the crate is for"
            ));
        }
    }

    /// How many crates [`Workspace::violations`] checks.
    pub fn crate_count(&self) -> usize {
        self.metadata.workspace_members.len()
    }
}

/// The dependencies `package` declares in its manifest, checked against its rule: a workspace
/// sibling must be one the rule allows, an outside crate must not be one it forbids.
fn check_declared(
    package: &Package,
    rule: &Rule,
    siblings: &BTreeSet<&str>,
    manifest_path: &str,
    out: &mut Vec<String>,
) {
    let name = &package.name;
    for dep in &package.dependencies {
        let target = dep.name.as_str();
        let broken = if siblings.contains(target) {
            !rule.siblings.contains(&target)
        } else {
            rule.forbidden.contains(&target)
        };
        if broken {
            let renamed = dep
                .rename
                .as_ref()
                .map(|key| format!(" (as `{key}`)"))
                .unwrap_or_default();
            out.push(format!(
                "{name} ({manifest_path}) depends on {target}{renamed} in [{}]: {}",
                table(dep.kind, dep.target.as_ref().map(ToString::to_string)),
                rule.why
            ));
        }
    }
}

/// The library crates under `crates/` are packaged (`cargo package`, in dependency order):
/// they carry a description, a licence and a repository, and no `publish = false` (which
/// stops cargo from packaging them together). The bindings, benches and xtask are never
/// published: `publish = false` (directly or through `publish.workspace = true`, which cargo
/// has already resolved).
fn check_publish(package: &Package, manifest_path: &str, dir: &str, out: &mut Vec<String>) {
    let unpublished = package.publish.as_ref().is_some_and(Vec::is_empty);
    if dir.starts_with("crates/") {
        if unpublished {
            out.push(format!(
                "{} ({manifest_path}): a library crate must be packageable, so no `publish = \
false` (house-style §1 as amended by issue 10)",
                package.name
            ));
        }
        for (field, value) in [
            ("description", &package.description),
            ("license", &package.license),
            ("repository", &package.repository),
        ] {
            if value.as_deref().is_none_or(str::is_empty) {
                out.push(format!(
                    "{} ({manifest_path}): [package] needs `{field}` to be packaged",
                    package.name
                ));
            }
        }
    } else if !unpublished {
        out.push(format!(
            "{} ({manifest_path}): [package] needs `publish = false` (the bindings, benches and \
xtask are not published, house-style §1)",
            package.name
        ));
    }
}

/// The resolved dependency graph of `cargo metadata`.
struct Graph<'a> {
    nodes: BTreeMap<&'a PackageId, &'a Node>,
    names: BTreeMap<&'a PackageId, &'a str>,
}

impl<'a> Graph<'a> {
    /// `None` when the metadata has no resolved graph (`cargo metadata --no-deps`).
    fn new(metadata: &'a Metadata) -> Option<Self> {
        let resolve = metadata.resolve.as_ref()?;
        Some(Self {
            nodes: resolve.nodes.iter().map(|n| (&n.id, n)).collect(),
            names: metadata
                .packages
                .iter()
                .map(|p| (&p.id, p.name.as_str()))
                .collect(),
        })
    }

    fn name(&self, id: &'a PackageId) -> &'a str {
        self.names.get(id).copied().unwrap_or(id.repr.as_str())
    }

    /// The shortest path from `start` to each crate in `forbidden` that `start` reaches only
    /// through another crate. From `start` every kind of dependency is followed; below it only
    /// normal and build dependencies, which are built with it (the dev-dependencies of a
    /// dependency are not). A forbidden crate is not looked through: the first one on a path is
    /// the one to remove, and a direct one is already reported from the manifest.
    fn forbidden_paths(&self, start: &'a PackageId, forbidden: &[&str]) -> Vec<Vec<&'a PackageId>> {
        let mut parent: BTreeMap<&PackageId, &PackageId> = BTreeMap::new();
        let mut seen = BTreeSet::from([start]);
        let mut queue = VecDeque::from([start]);
        let mut found = Vec::new();
        while let Some(id) = queue.pop_front() {
            let Some(node) = self.nodes.get(id) else {
                continue;
            };
            for dep in &node.deps {
                let dev_only = !dep.dep_kinds.is_empty()
                    && dep
                        .dep_kinds
                        .iter()
                        .all(|k| k.kind == DependencyKind::Development);
                if (id != start && dev_only) || !seen.insert(&dep.pkg) {
                    continue;
                }
                parent.insert(&dep.pkg, id);
                if !forbidden.contains(&self.name(&dep.pkg)) {
                    queue.push_back(&dep.pkg);
                } else if id != start {
                    let mut path = vec![&dep.pkg];
                    let mut at = &dep.pkg;
                    while let Some(&up) = parent.get(at) {
                        path.push(up);
                        at = up;
                    }
                    path.reverse();
                    found.push(path);
                }
            }
        }
        found
    }

    /// Reports each outside crate that `package`'s rule forbids and that it pulls in through
    /// another crate, with the path.
    fn check_transitive(
        &self,
        package: &'a Package,
        rule: &Rule,
        manifest_path: &str,
        out: &mut Vec<String>,
    ) {
        let name = &package.name;
        for path in self.forbidden_paths(&package.id, rule.forbidden) {
            let (Some(&first), Some(&last)) = (path.get(1), path.last()) else {
                continue;
            };
            let route = path
                .iter()
                .map(|&id| self.name(id))
                .collect::<Vec<_>>()
                .join(" -> ");
            let tables = self
                .nodes
                .get(&package.id)
                .and_then(|n| n.deps.iter().find(|d| &d.pkg == first))
                .map(|d| first_step_tables(&d.dep_kinds))
                .unwrap_or_default();
            out.push(format!(
                "{name} ({manifest_path}) depends on {} transitively ({route}, from [{tables}]): \
{}",
                self.name(last),
                rule.why
            ));
        }
    }
}

/// The tables a resolved edge is declared in: `dependencies`, `dev-dependencies`, ...
fn first_step_tables(kinds: &[DepKindInfo]) -> String {
    if kinds.is_empty() {
        return table(DependencyKind::Normal, None);
    }
    kinds
        .iter()
        .map(|k| table(k.kind, k.target.as_ref().map(ToString::to_string)))
        .collect::<Vec<_>>()
        .join("], [")
}

/// The manifest table a dependency of `kind` for `target` is declared in, as a TOML path:
/// `dependencies`, `target.'cfg(unix)'.dev-dependencies`, ...
fn table(kind: DependencyKind, target: Option<String>) -> String {
    let t = match kind {
        DependencyKind::Development => "dev-dependencies",
        DependencyKind::Build => "build-dependencies",
        DependencyKind::Normal | DependencyKind::Unknown => "dependencies",
    };
    match target {
        Some(platform) => format!("target.'{platform}'.{t}"),
        None => t.to_owned(),
    }
}

/// The library target of `package` (a `lib`, `cdylib`, `proc-macro`, ...), if it has one.
fn library(package: &Package) -> Option<&Target> {
    package.targets.iter().find(|t| {
        t.is_lib()
            || t.is_rlib()
            || t.is_dylib()
            || t.is_cdylib()
            || t.is_staticlib()
            || t.is_proc_macro()
    })
}

/// `path` relative to `root`, with `/` separators; `path` itself where it is not below `root`.
fn relative(root: &Utf8Path, path: &Utf8Path) -> String {
    path.strip_prefix(root).map_or_else(
        |_| path.to_string(),
        |rel| {
            rel.components()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join("/")
        },
    )
}

/// Subdirectories of `dir` that hold a `Cargo.toml`, as `label/name`, sorted.
fn list_crate_dirs(dir: &Path, label: &str) -> Result<Vec<String>, String> {
    let entries =
        fs::read_dir(dir).map_err(|e| format!("tidy: cannot list {}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("tidy: cannot list {}: {e}", dir.display()))?;
        if entry.path().join("Cargo.toml").is_file() {
            out.push(format!("{label}/{}", entry.file_name().to_string_lossy()));
        }
    }
    out.sort();
    Ok(out)
}

/// Formats violations for the terminal: one per line.
pub fn report(violations: &[String]) -> String {
    let mut s = String::new();
    for v in violations {
        let _ = writeln!(s, "tidy: {v}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use std::path::PathBuf;

    const REGISTRY: &str = "registry+https://github.com/rust-lang/crates.io-index";

    /// One declared dependency of a synthetic crate.
    #[derive(Clone, Debug)]
    struct Dep {
        package: &'static str,
        rename: Option<&'static str>,
        kind: Option<&'static str>,
        target: Option<&'static str>,
    }

    fn dep(package: &'static str) -> Dep {
        Dep {
            package,
            rename: None,
            kind: None,
            target: None,
        }
    }

    fn dev(package: &'static str) -> Dep {
        Dep {
            kind: Some("dev"),
            ..dep(package)
        }
    }

    fn build(package: &'static str) -> Dep {
        Dep {
            kind: Some("build"),
            ..dep(package)
        }
    }

    impl Dep {
        fn renamed(self, key: &'static str) -> Self {
            Self {
                rename: Some(key),
                ..self
            }
        }

        fn on(self, target: &'static str) -> Self {
            Self {
                target: Some(target),
                ..self
            }
        }
    }

    /// A synthetic crate: a workspace member when it has a directory, else a registry crate.
    #[derive(Clone, Debug)]
    struct Crate {
        name: &'static str,
        dir: Option<&'static str>,
        deps: Vec<Dep>,
        publish: Value,
        lib: bool,
        /// Whether it carries a description, licence and repository.
        described: bool,
    }

    impl Crate {
        fn id(&self) -> String {
            match self.dir {
                Some(dir) => format!("path+file:///ws/{dir}#0.1.0"),
                None => format!("{REGISTRY}#{}@1.0.0", self.name),
            }
        }

        fn root(&self) -> String {
            match self.dir {
                Some(dir) => format!("/ws/{dir}"),
                None => format!("/registry/{}-1.0.0", self.name),
            }
        }
    }

    /// A synthetic workspace, turned into `cargo metadata` output by [`Fake::workspace`]; every
    /// declared dependency becomes an edge of the resolved graph, as it would with all features.
    struct Fake {
        crates: Vec<Crate>,
        lib_sources: BTreeMap<String, String>,
        crate_dirs: Vec<String>,
    }

    impl Fake {
        fn get(&mut self, name: &str) -> &mut Crate {
            self.crates
                .iter_mut()
                .find(|c| c.name == name)
                .unwrap_or_else(|| panic!("no crate {name} in the fake"))
        }

        /// Replaces the dependencies `name` declares.
        fn with_deps(mut self, name: &str, deps: Vec<Dep>) -> Self {
            self.get(name).deps = deps;
            self
        }

        /// Adds a registry crate.
        fn with_external(mut self, name: &'static str, deps: Vec<Dep>) -> Self {
            self.crates.push(Crate {
                name,
                dir: None,
                deps,
                publish: Value::Null,
                lib: true,
                described: true,
            });
            self
        }

        fn metadata(&self) -> Metadata {
            let id_of = |name: &str| {
                self.crates
                    .iter()
                    .find(|c| c.name == name)
                    .unwrap_or_else(|| panic!("no crate {name} in the fake"))
                    .id()
            };
            let packages: Vec<Value> = self
                .crates
                .iter()
                .map(|c| {
                    let root = c.root();
                    let dependencies: Vec<Value> = c
                        .deps
                        .iter()
                        .map(|d| {
                            json!({
                                "name": d.package, "source": null, "req": "*", "kind": d.kind,
                                "optional": false, "uses_default_features": true,
                                "features": [], "target": d.target, "rename": d.rename,
                                "registry": null, "path": null
                            })
                        })
                        .collect();
                    let target = if c.lib {
                        json!({
                            "name": c.name.replace('-', "_"), "kind": ["lib"],
                            "crate_types": ["lib"], "src_path": format!("{root}/src/lib.rs")
                        })
                    } else {
                        json!({
                            "name": c.name, "kind": ["bin"], "crate_types": ["bin"],
                            "src_path": format!("{root}/src/main.rs")
                        })
                    };
                    json!({
                        "name": c.name, "version": "1.0.0", "id": c.id(),
                        "source": if c.dir.is_some() { Value::Null } else { json!(REGISTRY) },
                        "dependencies": dependencies, "targets": [target], "features": {},
                        "manifest_path": format!("{root}/Cargo.toml"), "publish": c.publish,
                        "description": if c.described { json!("a crate") } else { Value::Null },
                        "license": if c.described { json!("MIT") } else { Value::Null },
                        "repository": if c.described { json!("https://x.invalid") } else { Value::Null },
                    })
                })
                .collect();
            let nodes: Vec<Value> = self
                .crates
                .iter()
                .map(|c| {
                    // One edge per package, with every way it is declared.
                    let mut edges: BTreeMap<&str, (String, Vec<Value>)> = BTreeMap::new();
                    for d in &c.deps {
                        let key = d.rename.unwrap_or(d.package).replace('-', "_");
                        let edge = edges.entry(d.package).or_insert((key, Vec::new()));
                        edge.1.push(json!({ "kind": d.kind, "target": d.target }));
                    }
                    let deps: Vec<Value> = edges
                        .iter()
                        .map(|(package, (key, kinds))| {
                            json!({ "name": key, "pkg": id_of(package), "dep_kinds": kinds })
                        })
                        .collect();
                    let ids: Vec<String> = edges.keys().map(|p| id_of(p)).collect();
                    json!({ "id": c.id(), "deps": deps, "dependencies": ids, "features": [] })
                })
                .collect();
            let members: Vec<String> = self
                .crates
                .iter()
                .filter(|c| c.dir.is_some())
                .map(Crate::id)
                .collect();
            let text = json!({
                "packages": packages, "workspace_members": members,
                "workspace_default_members": members,
                "resolve": { "nodes": nodes, "root": null },
                "target_directory": "/ws/target", "workspace_root": "/ws", "version": 1
            })
            .to_string();
            MetadataCommand::parse(text).unwrap_or_else(|e| panic!("synthetic metadata: {e}"))
        }

        fn workspace(&self) -> Workspace {
            Workspace {
                metadata: self.metadata(),
                lib_sources: self.lib_sources.clone(),
                crate_dirs: self.crate_dirs.clone(),
            }
        }

        fn violations(&self) -> Vec<String> {
            self.workspace().violations()
        }
    }

    /// A tidy miniature of the real workspace, with the registry crates it uses.
    fn mini() -> Fake {
        let members = [
            (
                "crates/diffid-core",
                "diffid-core",
                vec![dep("thiserror"), dev("proptest")],
            ),
            (
                "crates/diffid-ode",
                "diffid-ode",
                vec![dep("diffid-core"), dep("diffsol")],
            ),
            (
                "crates/diffid-cost",
                "diffid-cost",
                vec![dep("diffid-core")],
            ),
            (
                "crates/diffid-optim",
                "diffid-optim",
                vec![dep("diffid-core"), dep("nalgebra")],
            ),
            (
                "crates/diffid-sample",
                "diffid-sample",
                vec![dep("diffid-core"), dep("statrs")],
            ),
            (
                "crates/diffid-exec",
                "diffid-exec",
                vec![dep("diffid-core"), dep("rayon")],
            ),
            (
                "crates/diffid",
                "diffid",
                [
                    "diffid-core",
                    "diffid-ode",
                    "diffid-cost",
                    "diffid-optim",
                    "diffid-sample",
                    "diffid-exec",
                ]
                .map(dep)
                .to_vec(),
            ),
            (
                "bindings/python",
                "diffid-python",
                vec![dep("diffid"), dep("pyo3"), dep("numpy")],
            ),
            (
                "benches",
                "diffid-benches",
                vec![dep("diffid"), dev("diffsol")],
            ),
            ("xtask", "xtask", vec![]),
        ];
        let crates: Vec<Crate> = members
            .into_iter()
            .map(|(dir, name, deps)| Crate {
                name,
                dir: Some(dir),
                deps,
                publish: if dir.starts_with("crates/") {
                    Value::Null
                } else {
                    json!([])
                },
                lib: name != "xtask",
                described: true,
            })
            .collect();
        let lib_sources = members_with_lib(&crates);
        let crate_dirs = ["core", "ode", "cost", "optim", "sample", "exec"]
            .map(|c| format!("crates/diffid-{c}"))
            .into_iter()
            .chain(["crates/diffid".to_owned()])
            .collect();
        Fake {
            crates,
            lib_sources,
            crate_dirs,
        }
        .with_external("thiserror", vec![])
        .with_external("proptest", vec![])
        .with_external("rayon", vec![])
        .with_external("nalgebra", vec![])
        .with_external("statrs", vec![dep("nalgebra")])
        .with_external("diffsol", vec![dep("diffsl"), dep("nalgebra")])
        .with_external("diffsl", vec![])
        .with_external("pyo3", vec![])
        .with_external("numpy", vec![dep("pyo3")])
    }

    /// A `//!` doc for every member library.
    fn members_with_lib(crates: &[Crate]) -> BTreeMap<String, String> {
        crates
            .iter()
            .filter(|c| c.lib)
            .filter_map(|c| c.dir)
            .map(|dir| (format!("{dir}/src/lib.rs"), "//! A crate.\n".to_owned()))
            .collect()
    }

    fn violations_with(name: &str, deps: Vec<Dep>) -> Vec<String> {
        mini().with_deps(name, deps).violations()
    }

    /// The real workspace obeys house-style §1 and §2, and its graph is really walked.
    #[test]
    fn workspace_is_tidy() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let ws = Workspace::load(&root).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            ws.crate_count() >= 9,
            "expected the whole workspace, found {} members",
            ws.crate_count()
        );
        let violations = ws.violations();
        assert!(violations.is_empty(), "\n{}", report(&violations));
        // The benches reach diffsl only through other crates (the facade, diffsol).
        let graph = Graph::new(&ws.metadata).unwrap_or_else(|| panic!("no resolved graph"));
        let benches = ws
            .members()
            .into_iter()
            .find(|p| p.name == "diffid-benches")
            .unwrap_or_else(|| panic!("no diffid-benches member"));
        let paths = graph.forbidden_paths(&benches.id, &["diffsl"]);
        assert_eq!(paths.len(), 1, "{paths:?}");
        assert!(paths[0].len() >= 3, "{paths:?}");
        assert_eq!(graph.name(paths[0][0]), "diffid-benches");
        assert_eq!(graph.name(paths[0][paths[0].len() - 1]), "diffsl");
    }

    #[test]
    fn miniature_is_tidy() {
        assert_eq!(mini().violations(), Vec::<String>::new());
    }

    #[test]
    fn leaf_depending_on_leaf_is_reported() {
        let v = violations_with("diffid-cost", vec![dep("diffid-core"), dep("diffid-optim")]);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].starts_with(
                "diffid-cost (crates/diffid-cost/Cargo.toml) depends on diffid-optim in \
[dependencies]"
            ),
            "{}",
            v[0]
        );
        assert!(
            v[0].contains("leaf crates depend only on diffid-core"),
            "{}",
            v[0]
        );
    }

    #[test]
    fn dev_dependencies_count_but_core_is_allowed() {
        let v = violations_with(
            "diffid-optim",
            vec![dep("diffid-core"), dev("diffid-core"), dev("diffid-ode")],
        );
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(
            v[0].contains("depends on diffid-ode in [dev-dependencies]"),
            "{}",
            v[0]
        );
        // What diffid-ode brings is reported too, by the path it comes.
        assert!(
            v[1].starts_with(
                "diffid-optim (crates/diffid-optim/Cargo.toml) depends on diffsol transitively \
(diffid-optim -> diffid-ode -> diffsol, from [dev-dependencies]): leaf crates"
            ),
            "{}",
            v[1]
        );
    }

    #[test]
    fn forbidden_outside_crates_are_reported() {
        let v = violations_with("diffid-core", vec![dep("rayon")]);
        assert!(v.len() == 1 && v[0].contains("depends on rayon"), "{v:?}");
        let v = violations_with("diffid-exec", vec![dep("diffid-core"), dep("diffsl")]);
        assert!(v.len() == 1 && v[0].contains("depends on diffsl"), "{v:?}");
        // diffsl comes with diffsol, but the fix is to drop diffsol: it is reported once.
        let v = violations_with("diffid-optim", vec![dep("diffsol")]);
        assert!(
            v.len() == 1 && v[0].contains("only diffid-ode knows diffsol"),
            "{v:?}"
        );
        // The benches get numpy through the facade.
        let v = violations_with("diffid", vec![dep("diffid-core"), dep("numpy")]);
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(
            v[0].contains("diffid (crates/diffid/Cargo.toml) depends on numpy in"),
            "{v:?}"
        );
        assert!(
            v[1].contains("depends on numpy transitively (diffid-benches -> diffid -> numpy"),
            "{v:?}"
        );
        let v = violations_with("diffid-benches", vec![dev("pyo3")]);
        assert!(
            v.len() == 1 && v[0].contains("depends on pyo3 in [dev-dependencies]"),
            "{v:?}"
        );
    }

    #[test]
    fn exec_may_not_use_optim() {
        let v = violations_with("diffid-exec", vec![dep("diffid-core"), dev("diffid-optim")]);
        assert!(
            v.len() == 1 && v[0].contains("diffid-exec depends only on diffid-core"),
            "{v:?}"
        );
    }

    #[test]
    fn bindings_and_xtask_siblings() {
        let v = violations_with("diffid-python", vec![dep("diffid"), dep("diffid-core")]);
        assert!(
            v.len() == 1 && v[0].contains("depends on diffid-core"),
            "{v:?}"
        );
        let v = violations_with("xtask", vec![dep("diffid")]);
        assert!(
            v.len() == 1 && v[0].starts_with("xtask (xtask/Cargo.toml) depends on diffid "),
            "{v:?}"
        );
        let v = violations_with("diffid", vec![dep("diffid-benches")]);
        assert!(
            v.len() == 1 && v[0].contains("depends on diffid-benches"),
            "{v:?}"
        );
    }

    #[test]
    fn renamed_and_target_dependencies_are_resolved() {
        let v = violations_with("diffid-cost", vec![dep("diffid-optim").renamed("opt")]);
        assert!(
            v.len() == 1 && v[0].contains("depends on diffid-optim (as `opt`) in [dependencies]"),
            "{v:?}"
        );
        let v = violations_with("diffid-cost", vec![dep("diffsol").renamed("solver")]);
        assert!(
            v.len() == 1 && v[0].contains("depends on diffsol (as `solver`)"),
            "{v:?}"
        );
        let v = violations_with("diffid-cost", vec![dev("diffid-ode").on("cfg(unix)")]);
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(
            v[0].contains("depends on diffid-ode in [target.'cfg(unix)'.dev-dependencies]"),
            "{}",
            v[0]
        );
        assert!(
            v[1].contains(
                "depends on diffsol transitively (diffid-cost -> diffid-ode -> diffsol, from \
[target.'cfg(unix)'.dev-dependencies])"
            ),
            "{}",
            v[1]
        );
        // A build-dependency of the cost crate is built with the facade and the benches too.
        let v = violations_with("diffid-cost", vec![build("pyo3").renamed("rayon")]);
        assert_eq!(v.len(), 3, "{v:?}");
        assert!(
            v[0].contains("depends on pyo3 (as `rayon`) in [build-dependencies]"),
            "{v:?}"
        );
        assert!(
            v[1].contains("(diffid -> diffid-cost -> pyo3, from [dependencies])"),
            "{v:?}"
        );
        assert!(
            v[2].contains("(diffid-benches -> diffid -> diffid-cost -> pyo3,"),
            "{v:?}"
        );
    }

    #[test]
    fn transitive_forbidden_crates_are_reported_with_their_path() {
        // statrs starts depending on pyo3: the sampler, the facade and the benches all get it.
        let v = mini()
            .with_deps("statrs", vec![dep("nalgebra"), dep("pyo3")])
            .violations();
        assert_eq!(v.len(), 3, "{v:?}");
        assert!(
            v[0].starts_with(
                "diffid-sample (crates/diffid-sample/Cargo.toml) depends on pyo3 transitively \
(diffid-sample -> statrs -> pyo3, from [dependencies]): leaf crates depend only on diffid-core"
            ),
            "{}",
            v[0]
        );
        assert!(
            v[1].starts_with(
                "diffid (crates/diffid/Cargo.toml) depends on pyo3 transitively (diffid -> \
diffid-sample -> statrs -> pyo3, from [dependencies]): the diffid facade"
            ),
            "{}",
            v[1]
        );
        assert!(
            v[2].starts_with(
                "diffid-benches (benches/Cargo.toml) depends on pyo3 transitively \
(diffid-benches -> diffid -> diffid-sample -> statrs -> pyo3, from [dependencies])"
            ),
            "{}",
            v[2]
        );
    }

    #[test]
    fn forbidden_crates_through_a_sibling_are_reported() {
        let v = violations_with("diffid-core", vec![dep("diffsol")]);
        // diffid-core itself once (not again for the diffsl that diffsol brings), and each leaf
        // but diffid-ode through it.
        assert_eq!(v.len(), 5, "{v:?}");
        assert!(
            v[0].starts_with("diffid-core (crates/diffid-core/Cargo.toml) depends on diffsol in"),
            "{}",
            v[0]
        );
        for (line, leaf) in v[1..].iter().zip([
            "diffid-cost",
            "diffid-optim",
            "diffid-sample",
            "diffid-exec",
        ]) {
            assert!(
                line.contains(&format!(
                    "{leaf} (crates/{leaf}/Cargo.toml) depends on diffsol transitively ({leaf} \
-> diffid-core -> diffsol, from [dependencies])"
                )),
                "{line}"
            );
        }
    }

    #[test]
    fn transitive_renamed_dependencies_are_resolved() {
        let v = mini()
            .with_external("bridge", vec![dep("pyo3").renamed("python")])
            .with_deps("diffid-optim", vec![dep("diffid-core"), dep("bridge")])
            .violations();
        let optim: Vec<&String> = v
            .iter()
            .filter(|l| l.starts_with("diffid-optim "))
            .collect();
        assert_eq!(optim.len(), 1, "{v:?}");
        assert!(
            optim[0].contains("depends on pyo3 transitively (diffid-optim -> bridge -> pyo3"),
            "{}",
            optim[0]
        );
    }

    #[test]
    fn build_edges_count_below_a_member_and_dev_edges_do_not() {
        let v = mini()
            .with_deps("statrs", vec![build("diffsl")])
            .violations();
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].contains("diffid-sample -> statrs -> diffsl, from [dependencies]"),
            "{}",
            v[0]
        );
        // statrs's tests are not built with the sampler.
        let v = mini().with_deps("statrs", vec![dev("diffsl")]).violations();
        assert_eq!(v, Vec::<String>::new());
        // The member's own dev-dependencies are built for its tests, with what they bring.
        let v = mini()
            .with_external("plots", vec![dep("numpy")])
            .with_deps(
                "diffid-optim",
                vec![dep("diffid-core"), dev("plots").on("cfg(unix)")],
            )
            .violations();
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].contains(
                "depends on numpy transitively (diffid-optim -> plots -> numpy, from \
[target.'cfg(unix)'.dev-dependencies])"
            ),
            "{}",
            v[0]
        );
    }

    #[test]
    fn without_a_resolved_graph_the_walk_is_reported_as_skipped() {
        let fake = mini().with_deps("statrs", vec![dep("pyo3")]);
        let mut ws = fake.workspace();
        assert_eq!(ws.violations().len(), 3);
        ws.metadata.resolve = None;
        let v = ws.violations();
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].contains("no resolved dependency graph"), "{}", v[0]);
    }

    #[test]
    fn publish_and_crate_docs_are_required() {
        let mut fake = mini();
        fake.get("diffid-cost").publish = json!([]);
        let v = fake.violations();
        assert!(
            v.len() == 1
                && v[0].starts_with("diffid-cost (crates/diffid-cost/Cargo.toml): a library crate must be packageable"),
            "{v:?}"
        );
        let mut fake = mini();
        fake.get("diffid-cost").described = false;
        let v = fake.violations();
        assert!(
            v.len() == 3 && v.iter().all(|m| m.contains("to be packaged")),
            "{v:?}"
        );
        let mut fake = mini();
        fake.get("xtask").publish = Value::Null;
        let v = fake.violations();
        assert!(
            v.len() == 1
                && v[0].starts_with("xtask (xtask/Cargo.toml): [package] needs `publish = false`"),
            "{v:?}"
        );

        let mut fake = mini();
        fake.lib_sources.insert(
            "crates/diffid-cost/src/lib.rs".into(),
            "// not a doc comment\n//! too late\n".into(),
        );
        fake.get("diffid-optim").lib = false;
        fake.lib_sources.remove("crates/diffid-sample/src/lib.rs");
        // Outside crates/ a member need not be a library.
        fake.get("diffid-python").lib = false;
        let v = fake.violations();
        assert_eq!(v.len(), 3, "{v:?}");
        assert!(
            v[0].contains(
                "crates/diffid-cost/src/lib.rs must begin with a crate-level doc comment"
            ),
            "{}",
            v[0]
        );
        assert!(
            v[1].contains("crates/diffid-optim/src/lib.rs is missing (crates under crates/"),
            "{}",
            v[1]
        );
        assert!(
            v[2].contains("crates/diffid-sample/src/lib.rs is missing (it is the library root)"),
            "{}",
            v[2]
        );
    }

    #[test]
    fn unknown_crates_and_stray_directories_are_reported() {
        let mut fake = mini();
        fake.crates.push(Crate {
            name: "diffid-extra",
            dir: Some("crates/diffid-extra"),
            deps: vec![],
            publish: Value::Null,
            lib: true,
            described: true,
        });
        fake.lib_sources = members_with_lib(&fake.crates);
        fake.crate_dirs.push("crates/diffid-extra".into());
        fake.crate_dirs.push("crates/diffid-stray".into());
        let v = fake.violations();
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(
            v[0].starts_with("diffid-extra (crates/diffid-extra/Cargo.toml): no dependency rule"),
            "{}",
            v[0]
        );
        assert!(
            v[1].starts_with(
                "crates/diffid-stray: a crate under crates/ that is not a workspace member"
            ),
            "{}",
            v[1]
        );
    }
}
