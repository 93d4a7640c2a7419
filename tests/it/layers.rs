//! The layer rule of `src/lib.rs`: imports point down (CLI → pipeline → stages → core →
//! catalog/config), no two top-level modules import each other, and inside a folder module no
//! sibling files form an import cycle. Read from the source text (`crate::x`, `super::x`), so it
//! runs in milliseconds and needs no extra tool.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layer of each top-level module: lower numbers sit higher (may import higher numbers only).
const LAYERS: &[(&str, u8)] = &[
    ("cli", 1),
    ("pipeline", 2),
    ("synth", 3),
    ("ingest", 3),
    ("features", 3),
    ("split", 3),
    ("train", 3),
    ("evaluate", 3),
    ("registry", 3),
    ("gates", 3),
    ("predict", 3),
    ("serve", 3),
    ("monitor", 3),
    ("deploy", 3),
    ("model_card", 3),
    ("cluster", 3),
    ("model", 4),
    ("contracts", 4),
    ("experiment", 4),
    ("feature_sql", 4),
    ("feature_engine", 4),
    ("raw", 4),
    ("metrics", 4),
    ("sampling", 4),
    ("io", 4),
    ("layout", 4),
    ("progress", 4),
    ("tracking", 4),
    ("serving_contract", 4),
    ("storage", 4),
    ("catalog", 5),
    ("config", 5),
    ("error", 5),
];

/// Source text without `#[cfg(test)]` modules (tests may reach anywhere) and comments.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Names following `prefix` (`crate::`, `creditrisk::`, `super::`), including each top-level
/// name of a `prefix{a, b::c}` group.
fn referenced(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().last();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(first_ident(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(c);
                }
            }
            out.insert(first_ident(&item));
        } else {
            out.insert(first_ident(rest));
        }
    }
    out.remove("");
    out
}

fn first_ident(text: &str) -> String {
    text.trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Top-level module → the top-level modules it imports.
fn top_level_imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(src) {
        let rel = file.strip_prefix(src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = match first.trim_end_matches(".rs") {
            // The binary (src/cli/: arguments, runtime, output) imports the library by name.
            "lib" => continue,
            m => m.to_string(),
        };
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        let prefix = if module == "cli" {
            "creditrisk::"
        } else {
            "crate::"
        };
        let entry = graph.entry(module.clone()).or_default();
        for used in referenced(&code, prefix) {
            // `crate::Config`, `crate::Result`: re-exports at the root, owned by config/error.
            let used = match used.as_str() {
                "Config" => "config".to_string(),
                "Error" | "Result" => "error".to_string(),
                "Layout" | "Split" => "layout".to_string(),
                _ => used,
            };
            if used != module {
                entry.insert(used);
            }
        }
    }
    graph
}

/// Every import that breaks the layers or closes a cycle, as readable lines.
fn violations(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let layer: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut out = vec![];
    for (module, uses) in graph {
        let Some(&from) = layer.get(module.as_str()) else {
            out.push(format!(
                "module `{module}` has no layer: add it to lib.rs's doc and LAYERS"
            ));
            continue;
        };
        for used in uses {
            match layer.get(used.as_str()) {
                Some(&to) if to < from => out.push(format!(
                    "`{module}` (layer {from}) imports `{used}` from the layer above ({to})"
                )),
                _ => {}
            }
        }
    }
    out.extend(
        cycles(graph)
            .into_iter()
            .map(|c| format!("cycle: {}", c.join(" → "))),
    );
    out
}

/// Import cycles of a graph (each reported once, from its smallest name).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut found = vec![];
    for start in graph.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if next == start {
                    let mut cycle = path.clone();
                    cycle.push(start.clone());
                    if path.iter().all(|n| n >= start) {
                        found.push(cycle);
                    }
                } else if next > start && seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    found
}

/// Inside each folder module: sibling file → siblings it imports (`super::x`, `crate::dir::x`).
fn sibling_graphs(src: &Path) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap().flatten() {
        let dir = entry.path();
        if !dir.is_dir() {
            continue;
        }
        let folder = dir.file_name().unwrap().to_string_lossy().to_string();
        let siblings: BTreeSet<String> = rust_files(&dir)
            .iter()
            .filter(|f| f.parent() == Some(dir.as_path()))
            .map(|f| f.file_stem().unwrap().to_string_lossy().to_string())
            .filter(|s| s != "mod")
            .collect();
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for name in &siblings {
            let code = code_of(&std::fs::read_to_string(dir.join(format!("{name}.rs"))).unwrap());
            let mut uses = referenced(&code, "super::");
            uses.extend(referenced(&code, &format!("crate::{folder}::")));
            uses.retain(|u| siblings.contains(u) && u != name);
            graph.insert(name.clone(), uses);
        }
        out.insert(folder, graph);
    }
    out
}

#[test]
fn imports_point_down_and_close_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = violations(&top_level_imports(&src));
    for (folder, graph) in sibling_graphs(&src) {
        for cycle in cycles(&graph) {
            problems.push(format!("cycle inside {folder}/: {}", cycle.join(" → ")));
        }
    }
    assert!(
        problems.is_empty(),
        "layer rule broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_sees_upward_imports_cycles_and_groups() {
    let code = "use crate::{config::Config, io};\nlet x = crate::model::score(); // crate::train\n";
    let refs = referenced(&code_of(code), "crate::");
    assert_eq!(refs, ["config", "io", "model"].map(String::from).into());
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("io", vec!["train"]),
        ("train", vec!["io", "config"]),
        ("config", vec![]),
    ]
    .into_iter()
    .map(|(m, u)| (m.to_string(), u.into_iter().map(String::from).collect()))
    .collect();
    let found = violations(&graph);
    assert!(
        found
            .iter()
            .any(|v| v.contains("`io` (layer 4) imports `train`")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|v| v.starts_with("cycle: io → train → io")),
        "{found:?}"
    );
}
