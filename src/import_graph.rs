//! The shape of `src/` as a test (docs/architecture.md, "The import rule"): no file over
//! [`MAX_LINES`] lines, and no circle in the import graph of the crate's top-level modules other
//! than a type module with its error module (`types` and `error`).
//!
//! The graph is read from the sources at test time: every `crate::m::…` and `crate::{m::…, …}`
//! reference of a file (comments left out) is an edge from the file's top-level module to `m`; a
//! name re-exported by `src/lib.rs` (`crate::Node`) counts as its module (`node`). So is a
//! relative path that climbs to the crate root: `super::m::…` in a top-level module's file
//! (`src/hash.rs`), `super::super::m::…` in a child's, counting the inline modules (`mod tests
//! { … }`) around it; `self::…` never leaves its module. A child module (`src/node/cmg.rs`)
//! belongs to its top-level module (`node`), so a child importing its parent is no edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The most lines a file of `src/` may have (the aim is ~500: split a file by concept first).
const MAX_LINES: usize = 550;

/// Every `.rs` file under `dir`, sorted.
pub(crate) fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The top-level module of a file, by its path under `src/` (`None`: `lib.rs`, the root).
fn top_module(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib").then(|| name.to_string())
}

/// The source without its `//` comments (doc comments included), string literals kept whole.
pub(crate) fn strip_comments(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for line in source.lines() {
        let chars: Vec<char> = line.chars().collect();
        let mut in_string = false;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !in_string && c == '\'' && chars.get(i + 1) == Some(&'"') {
                // The character literal '"'.
                out.push_str("'\"");
                i += 2;
                continue;
            }
            if c == '"' && (i == 0 || chars[i - 1] != '\\' || (i >= 2 && chars[i - 2] == '\\')) {
                in_string = !in_string;
            }
            if !in_string && c == '/' && chars.get(i + 1) == Some(&'/') {
                break;
            }
            out.push(c);
            i += 1;
        }
        out.push('\n');
    }
    out
}

/// The first path segment of every item of the brace group that starts at `rest` (after the
/// `{`): `a::B, c, d::{e, f}` gives `a`, `c`, `d`.
fn group_heads(rest: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 1;
    let mut item = String::new();
    for c in rest.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if depth == 0 || (depth == 1 && c == ',') {
            heads.push(std::mem::take(&mut item));
            if depth == 0 {
                break;
            }
        } else {
            item.push(c);
        }
    }
    heads
        .iter()
        .filter_map(|i| {
            let head: String = i
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            (!head.is_empty()).then_some(head)
        })
        .collect()
}

/// The first segments of every `crate::` path of a source (comments left out).
fn crate_references(source: &str) -> BTreeSet<String> {
    let code = strip_comments(source);
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            found.extend(group_heads(group));
        } else {
            let head: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !head.is_empty() {
                found.insert(head);
            }
        }
    }
    found
}

/// The heads of a path's rest: the items of a `{…}` group, or its first segment.
fn path_heads(rest: &str) -> Vec<String> {
    if let Some(group) = rest.strip_prefix('{') {
        return group_heads(group);
    }
    let head: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if head.is_empty() {
        Vec::new()
    } else {
        vec![head]
    }
}

/// True when the code before an opening brace ends with `mod <name>`: the brace opens an inline
/// module.
fn opens_inline_module(before: &str) -> bool {
    let name_start = before
        .trim_end()
        .trim_end_matches(|c: char| c.is_alphanumeric() || c == '_');
    let keyword = name_start.trim_end();
    keyword.len() < name_start.len()
        && keyword.ends_with("mod")
        && !keyword[..keyword.len() - 3]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// The first segments of every relative path (`super::…`, `self::…`) of a source that climbs
/// to the crate root, for a file `depth` modules below the root (`src/m.rs`: 1, `src/m/c.rs`:
/// 2), counting the inline modules around each path. Comments and string literals are left out.
fn root_references(source: &str, depth: usize) -> BTreeSet<String> {
    let code = strip_comments(source);
    let chars: Vec<(usize, char)> = code.char_indices().collect();
    let mut found = BTreeSet::new();
    // Open braces: whether each opens an inline module.
    let mut braces: Vec<bool> = Vec::new();
    let mut in_string = false;
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if in_string {
            if c == '\\' {
                i += 2;
                continue;
            }
            in_string = c != '"';
            i += 1;
            continue;
        }
        match c {
            '"' => in_string = true,
            '\'' if chars.get(i + 2).is_some_and(|(_, q)| *q == '\'') => {
                // A character literal: '{', '"', ...
                i += 3;
                continue;
            }
            '{' => braces.push(opens_inline_module(&code[..at])),
            '}' => {
                braces.pop();
            }
            _ => {}
        }
        let rest = &code[at..];
        let starts_path = rest.starts_with("super::") || rest.starts_with("self::");
        let boundary = !code[..at]
            .chars()
            .next_back()
            .is_some_and(|p| p.is_alphanumeric() || p == '_' || p == ':');
        if starts_path && boundary {
            let mut up = 0;
            let mut tail = rest;
            loop {
                if let Some(t) = tail.strip_prefix("super::") {
                    up += 1;
                    tail = t;
                } else if let Some(t) = tail.strip_prefix("self::") {
                    tail = t;
                } else {
                    break;
                }
            }
            let inline = braces.iter().filter(|m| **m).count();
            if depth + inline == up {
                found.extend(path_heads(tail));
            }
            i += rest.len() - tail.len();
            continue;
        }
        i += 1;
    }
    found
}

/// How many modules below the crate root a file is, by its path under `src/`: `m.rs` and
/// `m/mod.rs` are 1, `m/c.rs` is 2.
fn module_depth(relative: &Path) -> usize {
    let parts = relative.components().count();
    if relative.file_name().is_some_and(|n| n == "mod.rs") {
        parts - 1
    } else {
        parts
    }
}

/// `src/lib.rs`'s re-exports: each name, with the top-level module it comes from.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let code = strip_comments(lib);
    let mut names = BTreeMap::new();
    for statement in code.split(';') {
        let Some(path) = statement.trim().strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, items)) = path.split_once("::") else {
            continue;
        };
        let items = match items.trim().strip_prefix('{') {
            Some(group) => group_heads(group),
            None => vec![items.trim().to_string()],
        };
        for item in items {
            names.insert(item, module.trim().to_string());
        }
    }
    names
}

/// The import graph of the crate's top-level modules under `src`: module → modules it refers
/// to (no self-edges).
fn import_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = rust_files(src);
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|f| top_module(f.strip_prefix(src).unwrap()))
        .collect();
    let reexports = root_reexports(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(from) = top_module(file.strip_prefix(src).unwrap()) else {
            continue;
        };
        let source = std::fs::read_to_string(file).unwrap();
        let depth = module_depth(file.strip_prefix(src).unwrap());
        let edges = graph.entry(from.clone()).or_default();
        let heads = crate_references(&source)
            .into_iter()
            .chain(root_references(&source, depth));
        for head in heads {
            let to = if modules.contains(&head) {
                Some(head)
            } else {
                reexports.get(&head).cloned()
            };
            if let Some(to) = to.filter(|t| *t != from) {
                edges.insert(to);
            }
        }
    }
    graph
}

/// The modules `start` reaches in `graph` (itself included).
fn reachable(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::from([start.to_string()]);
    let mut stack = vec![start.to_string()];
    while let Some(at) = stack.pop() {
        for next in graph.get(&at).into_iter().flatten() {
            if seen.insert(next.clone()) {
                stack.push(next.clone());
            }
        }
    }
    seen
}

/// The circles of `graph`: its strongly connected components of two modules or more.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<BTreeSet<String>> {
    let reach: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|m| (m, reachable(graph, m))).collect();
    graph
        .keys()
        .map(|m| {
            reach[m]
                .iter()
                .filter(|o| reach.get(o).is_some_and(|r| r.contains(m)))
                .cloned()
                .collect::<BTreeSet<String>>()
        })
        .filter(|c| c.len() > 1)
        .collect()
}

/// True for a circle the rule allows: a type module and its error module.
fn allowed(circle: &BTreeSet<String>) -> bool {
    circle.len() == 2 && circle.contains("error")
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_file_of_src_is_over_the_line_limit() {
    let src = src_dir();
    let long: Vec<String> = rust_files(&src)
        .iter()
        .filter_map(|f| {
            let lines = std::fs::read_to_string(f).unwrap().lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", f.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "split these by concept (at most {MAX_LINES} lines): {long:?}"
    );
}

#[test]
fn the_import_graph_has_no_circle_but_a_type_module_with_its_error_module() {
    let graph = import_graph(&src_dir());
    let forbidden: Vec<BTreeSet<String>> = circles(&graph)
        .into_iter()
        .filter(|circle| !allowed(circle))
        .collect();
    assert!(
        forbidden.is_empty(),
        "circles of imports (break an edge: move the shared types to a type module of their \
         own, as src/init_command.rs is): {forbidden:?}; graph: {graph:#?}"
    );
}

#[test]
fn references_are_read_from_code_not_comments_and_groups_give_each_head() {
    let source = "use crate::{a::B, c, d::{e, f}};\n\
                  // crate::commented\n\
                  /// [`X`](crate::doc_link::X)\n\
                  let s = \"crate::in_string // not a comment\"; crate::g::h();\n\
                  let q = '\"'; crate::i::J;\n\
                  mycrate::not_this::K;\n";
    let found: Vec<String> = crate_references(source).into_iter().collect();
    assert_eq!(found, ["a", "c", "d", "g", "i", "in_string"]);
}

#[test]
fn relative_paths_that_climb_to_the_root_are_references() {
    let top = "use super::types::X;\n\
               use super::{error::E, vault};\n\
               use self::child::Y;\n\
               #[cfg(test)]\n\
               mod tests {\n\
                   use super::*;\n\
                   use super::Z;\n\
                   use super::super::config::T;\n\
                   let c = '{';\n\
                   let s = \"super::in_string {\";\n\
               }\n\
               fn f() { super::rng::draw(); }\n";
    let found: Vec<String> = root_references(top, 1).into_iter().collect();
    assert_eq!(found, ["config", "error", "rng", "types", "vault"]);
    let child = "use super::Sibling;\nuse super::super::message::M;\n";
    let found: Vec<String> = root_references(child, 2).into_iter().collect();
    assert_eq!(found, ["message"]);
    assert_eq!(module_depth(Path::new("hash.rs")), 1);
    assert_eq!(module_depth(Path::new("testing/mod.rs")), 1);
    assert_eq!(module_depth(Path::new("cmg/namesake/tests.rs")), 3);
}

#[test]
fn root_reexports_name_their_module() {
    let lib = "pub mod node;\npub use node::{Node, Output};\npub use view::NodeView;\n";
    let names = root_reexports(lib);
    assert_eq!(names["Node"], "node");
    assert_eq!(names["Output"], "node");
    assert_eq!(names["NodeView"], "view");
}

#[test]
fn circles_are_found_and_only_a_type_module_with_its_error_module_is_allowed() {
    let edges = [
        ("types", "error"),
        ("error", "types"),
        ("a", "b"),
        ("b", "c"),
        ("c", "a"),
        ("c", "types"),
        ("d", "a"),
    ];
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in edges {
        graph.entry(from.into()).or_default().insert(to.into());
        graph.entry(to.into()).or_default();
    }
    let found = circles(&graph);
    let set = |ms: &[&str]| {
        ms.iter()
            .map(|m| m.to_string())
            .collect::<BTreeSet<String>>()
    };
    assert_eq!(
        found,
        BTreeSet::from([set(&["a", "b", "c"]), set(&["error", "types"])])
    );
    assert!(allowed(&set(&["error", "types"])));
    assert!(!allowed(&set(&["a", "b", "c"])));
    assert!(!allowed(&set(&["a", "b"])));
}
