//! `cargo xtask tidy`: checks the workspace's layering rules (house-style §1 and §2).
//!
//! Every workspace member's `Cargo.toml` is read with a small TOML reader that understands what
//! manifests use (tables, dotted keys, inline tables, arrays over several lines, comments and
//! strings), and its dependencies — normal, dev, build and target-specific, renamed ones resolved
//! through `package = "..."` — are checked against [`RULES`]. The same checks also require
//! `publish = false` and a crate-level `//!` doc comment at the top of `src/lib.rs`.
//!
//! Loading is separate from checking ([`Workspace::load`] vs [`Workspace::violations`]), so the
//! rules are unit-tested on synthetic manifests without touching the disk.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

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

/// One dependency entry of a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// The table it is declared in: `dependencies`, `dev-dependencies`,
    /// `target.'cfg(unix)'.build-dependencies`, ...
    pub table: String,
    /// The name it is declared under (the key).
    pub key: String,
    /// The package it resolves to: the key, or its `package = "..."`.
    pub package: String,
}

/// What tidy needs from one `Cargo.toml`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// `[package] name`.
    pub name: Option<String>,
    /// `[package] publish`, as written (`false`, `[]`, `["crates-io"]`, ...).
    pub publish: Option<String>,
    /// `[package] publish.workspace = true`.
    pub publish_from_workspace: bool,
    /// Every dependency, in file order.
    pub dependencies: Vec<Dependency>,
    /// `[workspace] members` (only in a workspace root).
    pub members: Vec<String>,
    /// `[workspace.package] publish`, as written (only in a workspace root).
    pub workspace_publish: Option<String>,
}

/// A workspace member, loaded.
#[derive(Clone, Debug)]
pub struct Member {
    /// Its directory relative to the workspace root, with `/` separators (`crates/diffid-core`).
    pub dir: String,
    /// Its parsed manifest.
    pub manifest: Manifest,
    /// The text of `src/lib.rs`, if it has one.
    pub lib_rs: Option<String>,
}

/// The workspace, loaded.
#[derive(Clone, Debug)]
pub struct Workspace {
    /// The root manifest.
    pub root: Manifest,
    /// Every member, in the order of `[workspace] members`.
    pub members: Vec<Member>,
    /// Directories under `crates/` (relative, `crates/name`) that hold a `Cargo.toml`.
    pub crate_dirs: Vec<String>,
}

impl Workspace {
    /// Reads the root manifest, every member's manifest and `src/lib.rs`, and lists `crates/`.
    ///
    /// # Errors
    /// A message naming the file that could not be read or parsed.
    pub fn load(root: &Path) -> Result<Self, String> {
        let read = |rel: &str| {
            let path = root.join(rel);
            fs::read_to_string(&path)
                .map_err(|e| format!("tidy: cannot read {}: {e}", path.display()))
        };
        let root_manifest =
            Manifest::parse(&read("Cargo.toml")?).map_err(|e| format!("tidy: Cargo.toml: {e}"))?;
        let mut dirs = Vec::new();
        for pattern in &root_manifest.members {
            let pattern = pattern.trim_end_matches('/');
            if let Some(parent) = pattern.strip_suffix("/*") {
                for sub in list_crate_dirs(root, parent)? {
                    dirs.push(sub);
                }
            } else if pattern.contains('*') || pattern.contains('?') || pattern.contains('[') {
                return Err(format!(
                    "tidy: workspace member pattern `{pattern}` is not supported: list members \
explicitly or end the pattern in `/*`"
                ));
            } else {
                dirs.push(pattern.to_owned());
            }
        }
        let mut members = Vec::new();
        for dir in dirs {
            let manifest_rel = format!("{dir}/Cargo.toml");
            let manifest = Manifest::parse(&read(&manifest_rel)?)
                .map_err(|e| format!("tidy: {manifest_rel}: {e}"))?;
            let lib_path = root.join(&dir).join("src/lib.rs");
            let lib_rs = if lib_path.is_file() {
                Some(read(&format!("{dir}/src/lib.rs"))?)
            } else {
                None
            };
            members.push(Member {
                dir,
                manifest,
                lib_rs,
            });
        }
        let crate_dirs = if root.join("crates").is_dir() {
            list_crate_dirs(root, "crates")?
        } else {
            Vec::new()
        };
        Ok(Self {
            root: root_manifest,
            members,
            crate_dirs,
        })
    }

    /// Every broken rule, one line each, in member order.
    pub fn violations(&self) -> Vec<String> {
        let mut out = Vec::new();
        let siblings: BTreeMap<&str, &str> = self
            .members
            .iter()
            .filter_map(|m| m.manifest.name.as_deref().map(|n| (n, m.dir.as_str())))
            .collect();
        for member in &self.members {
            let manifest_path = format!("{}/Cargo.toml", member.dir);
            let Some(name) = member.manifest.name.as_deref() else {
                out.push(format!("{manifest_path}: no [package] name"));
                continue;
            };
            match RULES.iter().find(|r| r.krate == name) {
                None => out.push(format!(
                    "{name} ({manifest_path}): no dependency rule for this workspace crate: add one \
to RULES in xtask/src/tidy.rs (house-style §2)"
                )),
                Some(rule) => {
                    for dep in &member.manifest.dependencies {
                        let package = dep.package.as_str();
                        let renamed = if dep.key == dep.package {
                            String::new()
                        } else {
                            format!(" (as `{}`)", dep.key)
                        };
                        let broken = if siblings.contains_key(package) {
                            !rule.siblings.contains(&package)
                        } else {
                            rule.forbidden.contains(&package)
                        };
                        if broken {
                            out.push(format!(
                                "{name} ({manifest_path}) depends on {package}{renamed} in \
[{}]: {}",
                                dep.table, rule.why
                            ));
                        }
                    }
                }
            }
            self.check_publish(member, name, &manifest_path, &mut out);
            check_lib_doc(member, name, &mut out);
        }
        for dir in &self.crate_dirs {
            if !self.members.iter().any(|m| &m.dir == dir) {
                out.push(format!(
                    "{dir}: a crate under crates/ that is not a workspace member: add it to \
[workspace] members in Cargo.toml"
                ));
            }
        }
        out
    }

    fn check_publish(
        &self,
        member: &Member,
        name: &str,
        manifest_path: &str,
        out: &mut Vec<String>,
    ) {
        let m = &member.manifest;
        let value = if m.publish_from_workspace {
            self.root.workspace_publish.as_deref()
        } else {
            m.publish.as_deref()
        };
        let unpublished = matches!(
            value
                .map(|v| v.split_whitespace().collect::<String>())
                .as_deref(),
            Some("false" | "[]")
        );
        if !unpublished {
            out.push(format!(
                "{name} ({manifest_path}): [package] needs `publish = false` (internal crates are \
not published yet, house-style §1)"
            ));
        }
    }

    /// How many crates [`Workspace::violations`] checks.
    pub fn crate_count(&self) -> usize {
        self.members.len()
    }
}

/// Crates under `crates/` must have `src/lib.rs` beginning with a `//!` crate doc; other members
/// only if they have a `src/lib.rs`.
fn check_lib_doc(member: &Member, name: &str, out: &mut Vec<String>) {
    let lib = format!("{}/src/lib.rs", member.dir);
    match &member.lib_rs {
        None if member.dir.starts_with("crates/") => {
            out.push(format!(
                "{name}: {lib} is missing (crates under crates/ are libraries)"
            ));
        }
        None => {}
        Some(text) => {
            let first = text.lines().map(str::trim).find(|l| !l.is_empty());
            if !first.is_some_and(|l| l.starts_with("//!")) {
                out.push(format!(
                    "{name}: {lib} must begin with a crate-level doc comment (`//! ...`) saying what \
the crate is for"
                ));
            }
        }
    }
}

/// Subdirectories of `root/parent` that hold a `Cargo.toml`, as `parent/name`, sorted.
fn list_crate_dirs(root: &Path, parent: &str) -> Result<Vec<String>, String> {
    let dir = root.join(parent);
    let entries =
        fs::read_dir(&dir).map_err(|e| format!("tidy: cannot list {}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("tidy: cannot list {}: {e}", dir.display()))?;
        if entry.path().join("Cargo.toml").is_file() {
            out.push(format!("{parent}/{}", entry.file_name().to_string_lossy()));
        }
    }
    out.sort();
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// A small TOML reader: enough of TOML for Cargo manifests.
// ---------------------------------------------------------------------------------------------

/// The dependency tables, including Cargo's legacy underscore spellings.
const DEP_TABLES: &[&str] = &[
    "dependencies",
    "dev-dependencies",
    "build-dependencies",
    "dev_dependencies",
    "build_dependencies",
];

impl Manifest {
    /// Parses the parts of a `Cargo.toml` that tidy checks.
    ///
    /// # Errors
    /// A message with the line number for a statement it cannot read.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut m = Manifest::default();
        let mut table: Vec<String> = Vec::new();
        for (line, stmt) in statements(text)? {
            let err = |what: &str| format!("line {line}: {what}: `{stmt}`");
            if stmt.starts_with('[') {
                let array_table = stmt.starts_with("[[");
                let inner = if array_table {
                    stmt.strip_prefix("[[").and_then(|s| s.strip_suffix("]]"))
                } else {
                    stmt.strip_prefix('[').and_then(|s| s.strip_suffix(']'))
                };
                table = split_key(inner.ok_or_else(|| err("malformed table header"))?)
                    .ok_or_else(|| err("malformed table header"))?;
                // `[dependencies.foo]` declares foo even before any key of it.
                if !array_table {
                    m.record(&table, None);
                }
                continue;
            }
            let parts = split_top_level(&stmt, '=');
            if parts.len() < 2 {
                return Err(err("expected `key = value`"));
            }
            let key = split_key(parts[0]).ok_or_else(|| err("malformed key"))?;
            // The value is everything after the first top-level `=`.
            let value = stmt[parts[0].len() + 1..].trim();
            let mut path = table.clone();
            path.extend(key);
            m.record(&path, Some(value));
        }
        Ok(m)
    }

    /// Records the full key `path` (table path + key) with `value`.
    fn record(&mut self, path: &[String], value: Option<&str>) {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        match (p.as_slice(), value) {
            (["package", "name"], Some(v)) => self.name = unquote(v),
            (["package", "publish"], Some(v)) => self.publish = Some(v.to_owned()),
            (["package", "publish", "workspace"], Some(v)) => {
                self.publish_from_workspace = v == "true";
            }
            (["workspace", "members"], Some(v)) => {
                self.members = parse_array(v)
                    .into_iter()
                    .filter_map(|s| unquote(&s))
                    .collect();
            }
            (["workspace", "package", "publish"], Some(v)) => {
                self.workspace_publish = Some(v.to_owned());
            }
            _ => {
                if let Some((table, rest)) = dependency_path(&p) {
                    self.record_dependency(table, rest, value);
                }
            }
        }
    }

    /// `rest` is `[name, ...]` inside the dependency table `table`.
    fn record_dependency(&mut self, table: String, rest: &[&str], value: Option<&str>) {
        let Some((&key, sub)) = rest.split_first() else {
            return;
        };
        let rename = match (sub, value) {
            // `foo = { package = "bar", ... }` (or `foo = "1"`, which has no rename).
            ([], Some(v)) => inline_table_string(v, "package"),
            // `foo.package = "bar"`, or `package = "bar"` under `[dependencies.foo]`.
            (["package"], Some(v)) => unquote(v),
            _ => None,
        };
        if let Some(dep) = self
            .dependencies
            .iter_mut()
            .find(|d| d.table == table && d.key == key)
        {
            if let Some(package) = rename {
                dep.package = package;
            }
        } else {
            self.dependencies.push(Dependency {
                table,
                key: key.to_owned(),
                package: rename.unwrap_or_else(|| key.to_owned()),
            });
        }
    }
}

/// Splits a full key path into (dependency table, the rest) when it lies in one:
/// `dependencies.*` or `target.<cfg>.dependencies.*` (and the dev/build variants).
fn dependency_path<'a>(p: &'a [&'a str]) -> Option<(String, &'a [&'a str])> {
    match p {
        [t, rest @ ..] if DEP_TABLES.contains(t) => Some(((*t).to_owned(), rest)),
        ["target", cfg, t, rest @ ..] if DEP_TABLES.contains(t) => {
            Some((format!("target.'{cfg}'.{t}"), rest))
        }
        _ => None,
    }
}

/// Scanner state for [`statements`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Str {
    None,
    Basic,
    Literal,
    MultiBasic,
    MultiLiteral,
}

/// Splits TOML text into logical statements (`[table]` headers and `key = value` pairs, a value
/// possibly spanning lines inside `[...]`, `{...}` or a multi-line string), with comments removed.
/// Each comes with the line it starts on.
fn statements(text: &str) -> Result<Vec<(usize, String)>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start_line = 1;
    let mut line = 1;
    let mut depth: i32 = 0;
    let mut state = Str::None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let triple = |q: char| {
            chars
                .get(i..i + 3)
                .is_some_and(|s| s.iter().all(|&x| x == q))
        };
        match state {
            Str::None => match c {
                '#' => {
                    // A comment runs to the end of the line.
                    while i < chars.len() && chars[i] != '\n' {
                        i += 1;
                    }
                    continue;
                }
                '"' | '\'' => {
                    let multi = triple(c);
                    state = match (c, multi) {
                        ('"', false) => Str::Basic,
                        ('"', true) => Str::MultiBasic,
                        (_, false) => Str::Literal,
                        (_, true) => Str::MultiLiteral,
                    };
                    let n = if multi { 3 } else { 1 };
                    current.extend(&chars[i..i + n]);
                    i += n;
                    continue;
                }
                '[' | '{' => depth += 1,
                ']' | '}' => depth -= 1,
                '\n' if depth <= 0 => {
                    push_statement(&mut out, &mut current, start_line);
                    depth = 0;
                    line += 1;
                    start_line = line;
                    i += 1;
                    continue;
                }
                _ => {}
            },
            Str::Basic | Str::MultiBasic if c == '\\' => {
                if chars.get(i + 1) == Some(&'\n') {
                    line += 1;
                }
                current.extend(chars.get(i..(i + 2).min(chars.len())).unwrap_or_default());
                i += 2;
                continue;
            }
            Str::Basic if c == '"' => state = Str::None,
            Str::Literal if c == '\'' => state = Str::None,
            Str::Basic | Str::Literal if c == '\n' => {
                return Err(format!("line {line}: unterminated string"));
            }
            Str::MultiBasic | Str::MultiLiteral => {
                let q = if state == Str::MultiBasic { '"' } else { '\'' };
                if triple(q) {
                    current.extend([q, q, q]);
                    i += 3;
                    state = Str::None;
                    continue;
                }
            }
            _ => {}
        }
        if c == '\n' {
            line += 1;
            // Inside brackets or a multi-line string the statement goes on; keep it one line.
            current.push(if state == Str::None { ' ' } else { '\n' });
        } else {
            current.push(c);
        }
        i += 1;
    }
    if state != Str::None {
        return Err(format!("line {start_line}: unterminated string"));
    }
    if depth > 0 {
        return Err(format!("line {start_line}: unclosed bracket"));
    }
    push_statement(&mut out, &mut current, start_line);
    Ok(out)
}

fn push_statement(out: &mut Vec<(usize, String)>, current: &mut String, line: usize) {
    let s = current.trim();
    if !s.is_empty() {
        out.push((line, s.to_owned()));
    }
    current.clear();
}

/// Splits `s` on `sep` where it is outside strings and brackets.
fn split_top_level(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && q == '"' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '[' | '{' => depth += 1,
            ']' | '}' => depth -= 1,
            _ if c == sep && depth == 0 => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Splits a (possibly dotted, possibly quoted) key into its parts: `target.'cfg(unix)'.x`.
fn split_key(s: &str) -> Option<Vec<String>> {
    split_top_level(s, '.')
        .into_iter()
        .map(|part| {
            let part = part.trim();
            if part.is_empty() {
                None
            } else if part.starts_with(['"', '\'']) {
                unquote(part)
            } else if part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                Some(part.to_owned())
            } else {
                None
            }
        })
        .collect()
}

/// The contents of a single-line string value (`"x"` or `'x'`), with the common escapes of basic
/// strings undone; `None` for anything else.
fn unquote(v: &str) -> Option<String> {
    let v = v.trim();
    if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') && !v.starts_with("'''") {
        return Some(v[1..v.len() - 1].to_owned());
    }
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') && !v.starts_with("\"\"\"") {
        let mut out = String::new();
        let mut chars = v[1..v.len() - 1].chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next()? {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    other => out.push(other),
                }
            } else {
                out.push(c);
            }
        }
        return Some(out);
    }
    None
}

/// The string items of an array value `[ "a", "b", ]`.
fn parse_array(v: &str) -> Vec<String> {
    let Some(inner) = v.trim().strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
        return Vec::new();
    };
    split_top_level(inner, ',')
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The string at `key` of an inline table value `{ key = "x", ... }`, if there is one.
fn inline_table_string(v: &str, key: &str) -> Option<String> {
    let inner = v.trim().strip_prefix('{')?.strip_suffix('}')?;
    split_top_level(inner, ',').into_iter().find_map(|pair| {
        let kv = split_top_level(pair, '=');
        if kv.len() < 2 {
            return None;
        }
        let k = split_key(kv[0])?;
        if k.len() == 1 && k[0] == key {
            unquote(&pair[kv[0].len() + 1..])
        } else {
            None
        }
    })
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
    use std::path::PathBuf;

    fn member(dir: &str, manifest: &str, lib_rs: Option<&str>) -> Member {
        Member {
            dir: dir.to_owned(),
            manifest: Manifest::parse(manifest).unwrap_or_else(|e| panic!("{dir}: {e}")),
            lib_rs: lib_rs.map(str::to_owned),
        }
    }

    fn manifest(name: &str, deps: &str) -> String {
        format!("[package]\nname = \"{name}\"\npublish = false\n\n{deps}\n")
    }

    /// A tidy miniature of the real workspace; `patch` replaces the manifest of one member.
    fn workspace(patch: Option<(&str, &str)>) -> Workspace {
        let crates = [
            ("crates/diffid-core", "diffid-core", "[dependencies]\nthiserror.workspace = true"),
            ("crates/diffid-ode", "diffid-ode", "[dependencies]\ndiffid-core.workspace = true\ndiffsol = { workspace = true }"),
            ("crates/diffid-cost", "diffid-cost", "[dependencies]\ndiffid-core.workspace = true"),
            ("crates/diffid-optim", "diffid-optim", "[dependencies]\ndiffid-core.workspace = true"),
            ("crates/diffid-exec", "diffid-exec", "[dependencies]\ndiffid-core.workspace = true\nrayon.workspace = true"),
            ("crates/diffid", "diffid", "[dependencies]\ndiffid-core.workspace = true\ndiffid-ode.workspace = true\ndiffid-exec.workspace = true"),
            ("bindings/python", "diffid-python", "[dependencies]\ndiffid = { workspace = true, features = [\"x\"] }\npyo3.workspace = true\nnumpy.workspace = true"),
            ("benches", "diffid-benches", "[dependencies]\ndiffid.workspace = true"),
            ("xtask", "xtask", "[dependencies]"),
        ];
        let members = crates
            .iter()
            .map(|&(dir, name, deps)| {
                let text = match patch {
                    Some((n, text)) if n == name => text.to_owned(),
                    _ => manifest(name, deps),
                };
                member(dir, &text, Some("//! A crate.\n"))
            })
            .collect::<Vec<_>>();
        let crate_dirs = members
            .iter()
            .filter(|m| m.dir.starts_with("crates/"))
            .map(|m| m.dir.clone())
            .collect();
        Workspace {
            root: Manifest::default(),
            members,
            crate_dirs,
        }
    }

    fn violations_with(name: &str, deps: &str) -> Vec<String> {
        workspace(Some((name, &manifest(name, deps)))).violations()
    }

    /// The real workspace obeys house-style §1 and §2.
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
    }

    #[test]
    fn miniature_is_tidy() {
        assert_eq!(workspace(None).violations(), Vec::<String>::new());
    }

    #[test]
    fn leaf_depending_on_leaf_is_reported() {
        let v = violations_with(
            "diffid-cost",
            "[dependencies]\ndiffid-core.workspace = true\ndiffid-optim.workspace = true",
        );
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].starts_with("diffid-cost (crates/diffid-cost/Cargo.toml) depends on diffid-optim in [dependencies]"), "{}", v[0]);
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
            "[dependencies]\ndiffid-core.workspace = true\n[dev-dependencies]\ndiffid-core.workspace = true\ndiffid-ode = { path = \"../diffid-ode\" }",
        );
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].contains("depends on diffid-ode in [dev-dependencies]"),
            "{}",
            v[0]
        );
    }

    #[test]
    fn forbidden_outside_crates_are_reported() {
        let v = violations_with("diffid-core", "[dependencies]\nrayon = \"1\"");
        assert!(v.len() == 1 && v[0].contains("depends on rayon"), "{v:?}");
        let v = violations_with(
            "diffid-exec",
            "[dependencies]\ndiffid-core.workspace = true\ndiffsl = \"0.12\"",
        );
        assert!(v.len() == 1 && v[0].contains("depends on diffsl"), "{v:?}");
        let v = violations_with("diffid-optim", "[dependencies]\ndiffsol.workspace = true");
        assert!(
            v.len() == 1 && v[0].contains("only diffid-ode knows diffsol"),
            "{v:?}"
        );
        let v = violations_with(
            "diffid",
            "[dependencies]\ndiffid-core.workspace = true\nnumpy.workspace = true",
        );
        assert!(v.len() == 1 && v[0].contains("depends on numpy"), "{v:?}");
        let v = violations_with("diffid-benches", "[dev-dependencies]\npyo3 = \"0.26\"");
        assert!(
            v.len() == 1 && v[0].contains("depends on pyo3 in [dev-dependencies]"),
            "{v:?}"
        );
    }

    #[test]
    fn exec_may_not_use_optim() {
        let v = violations_with(
            "diffid-exec",
            "[dependencies]\ndiffid-core.workspace = true\n[dev-dependencies]\ndiffid-optim.workspace = true",
        );
        assert!(
            v.len() == 1 && v[0].contains("diffid-exec depends only on diffid-core"),
            "{v:?}"
        );
    }

    #[test]
    fn bindings_and_xtask_siblings() {
        let v = violations_with(
            "diffid-python",
            "[dependencies]\ndiffid.workspace = true\ndiffid-core.workspace = true",
        );
        assert!(
            v.len() == 1 && v[0].contains("depends on diffid-core"),
            "{v:?}"
        );
        let v = violations_with("xtask", "[dependencies]\ndiffid.workspace = true");
        assert!(
            v.len() == 1 && v[0].starts_with("xtask (xtask/Cargo.toml) depends on diffid "),
            "{v:?}"
        );
        let v = violations_with(
            "diffid",
            "[dependencies]\ndiffid-benches = { path = \"../../benches\" }",
        );
        assert!(
            v.len() == 1 && v[0].contains("depends on diffid-benches"),
            "{v:?}"
        );
    }

    #[test]
    fn renamed_and_table_and_target_dependencies_are_resolved() {
        let v = violations_with(
            "diffid-cost",
            "[dependencies]\nopt = { package = \"diffid-optim\", path = \"../diffid-optim\" }",
        );
        assert!(
            v.len() == 1 && v[0].contains("depends on diffid-optim (as `opt`)"),
            "{v:?}"
        );
        let v = violations_with(
            "diffid-cost",
            "[dependencies.solver]\npath = \"x\"\npackage = \"diffsol\"",
        );
        assert!(
            v.len() == 1 && v[0].contains("depends on diffsol (as `solver`)"),
            "{v:?}"
        );
        let v = violations_with(
            "diffid-cost",
            "[target.'cfg(unix)'.dev-dependencies]\ndiffid-ode.workspace = true",
        );
        assert!(
            v.len() == 1 && v[0].contains("in [target.'cfg(unix)'.dev-dependencies]"),
            "{v:?}"
        );
        let v = violations_with("diffid-cost", "[dependencies]\nrayon.package = \"pyo3\"");
        assert!(
            v.len() == 1 && v[0].contains("depends on pyo3 (as `rayon`)"),
            "{v:?}"
        );
    }

    #[test]
    fn publish_and_crate_docs_are_required() {
        let v =
            workspace(Some(("diffid-cost", "[package]\nname = \"diffid-cost\"\n"))).violations();
        assert!(
            v.len() == 1 && v[0].contains("needs `publish = false`"),
            "{v:?}"
        );
        let v = workspace(Some((
            "diffid-cost",
            "[package]\nname = \"diffid-cost\"\npublish = true\n",
        )))
        .violations();
        assert!(
            v.len() == 1 && v[0].contains("needs `publish = false`"),
            "{v:?}"
        );
        let mut ws = workspace(None);
        ws.members[2].lib_rs = Some("// not a doc comment\n//! too late\n".into());
        ws.members[3].lib_rs = None;
        let v = ws.violations();
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(
            v[0].contains(
                "crates/diffid-cost/src/lib.rs must begin with a crate-level doc comment"
            ),
            "{}",
            v[0]
        );
        assert!(
            v[1].contains("crates/diffid-optim/src/lib.rs is missing"),
            "{}",
            v[1]
        );
    }

    #[test]
    fn publish_may_come_from_the_workspace() {
        let mut ws = workspace(Some((
            "diffid-cost",
            "[package]\nname = \"diffid-cost\"\npublish.workspace = true\n",
        )));
        assert_eq!(ws.violations().len(), 1);
        ws.root.workspace_publish = Some("false".into());
        assert_eq!(ws.violations(), Vec::<String>::new());
    }

    #[test]
    fn unknown_crates_and_stray_directories_are_reported() {
        let mut ws = workspace(None);
        ws.members.push(member(
            "crates/diffid-extra",
            &manifest("diffid-extra", ""),
            Some("//! x"),
        ));
        ws.crate_dirs.push("crates/diffid-extra".into());
        ws.crate_dirs.push("crates/diffid-stray".into());
        let v = ws.violations();
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].contains("no dependency rule"), "{}", v[0]);
        assert!(
            v[1].starts_with(
                "crates/diffid-stray: a crate under crates/ that is not a workspace member"
            ),
            "{}",
            v[1]
        );
    }

    #[test]
    fn parser_handles_comments_strings_and_multiline_values() {
        let text = r#"
# a comment [dependencies]
[package]
name = "demo" # trailing comment
description = """
[dependencies]
pyo3 = "not a dependency"
"""
publish = false

[workspace]
members = [
    "crates/a", # first
    'crates/b',
]

[dependencies]
"quoted-name" = "1"
x = { version = "1", features = [
    "a#b",
    "c",
], package = "y" }
z = 'path#not-a-comment'

[[bin]]
name = "not-a-dependency"

[features]
default = ["dep:x"]
"#;
        let m = Manifest::parse(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.name.as_deref(), Some("demo"));
        assert_eq!(m.publish.as_deref(), Some("false"));
        assert_eq!(m.members, ["crates/a", "crates/b"]);
        let deps: Vec<(&str, &str)> = m
            .dependencies
            .iter()
            .map(|d| (d.key.as_str(), d.package.as_str()))
            .collect();
        assert_eq!(
            deps,
            [("quoted-name", "quoted-name"), ("x", "y"), ("z", "z")]
        );
    }

    #[test]
    fn parser_rejects_broken_toml() {
        assert!(Manifest::parse("[package]\nname = \"x").is_err());
        assert!(Manifest::parse("[dependencies]\nx = { version = \"1\"").is_err());
        assert!(Manifest::parse("[dependencies]\njust-a-key").is_err());
    }
}
