//! The runtime's layout rules (README "Architecture"), checked on the
//! source: the leaves never import the engine or the facade, so the library
//! wrapper, the package format and the frame codec can be read, tested and
//! reused without the actor engine (issue 12, item 1).

use std::path::{Path, PathBuf};

use test_support::workspace_root;

/// Paths that only the engine and the facade may name.
const ENGINE_ONLY: &[&str] = &["crate::engine", "crate::system", "crate::ActorSystem", "super::engine"];

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("read {}: {e}", d.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    out
}

/// Paths the engine must not name.
const FACADE: &[&str] = &["crate::system", "use crate::ActorSystem"];

/// The lines of `files` (comments left out) that name one of `paths`.
fn naming(files: &[PathBuf], paths: &[&str]) -> Vec<String> {
    let lines_of = |file: &PathBuf| {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        text.lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .filter(|l| paths.iter().any(|p| l.contains(p)))
            .map(|l| format!("{}: {}", file.display(), l.trim()))
            .collect::<Vec<_>>()
    };
    files.iter().flat_map(lines_of).collect()
}

#[test]
fn native_tls_remote_and_the_public_types_never_import_the_engine_or_the_facade() {
    let src = workspace_root().join("runtime/src");
    let mut leaves = sources(&src.join("native"));
    leaves.extend(sources(&src.join("tls")));
    leaves.extend(sources(&src.join("remote")));
    leaves.extend(["config.rs", "error.rs", "package.rs", "report.rs"].map(|f| src.join(f)));
    assert!(leaves.len() > 15, "the leaves were not found under {}", src.display());
    let found = naming(&leaves, ENGINE_ONLY);
    assert!(found.is_empty(), "a leaf imports the engine or the facade:\n{}", found.join("\n"));
}

#[test]
fn the_engine_never_imports_the_facade() {
    let src = workspace_root().join("runtime/src");
    let engine = sources(&src.join("engine"));
    assert!(engine.len() > 15, "the engine was not found under {}", src.display());
    let found = naming(&engine, FACADE);
    assert!(found.is_empty(), "the engine imports the facade:\n{}", found.join("\n"));
}
