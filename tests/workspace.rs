//! The workspace as a user builds it: `cargo build --workspace` unifies the
//! features of every member, so no member may switch on a test-only feature
//! of a crate that a product binary links (issue 11, item 8: the ABI-mismatch
//! fixture once made `thespian-director` speak ABI 1001).

use std::process::Command;

use test_support::workspace_root;

/// Test-only features of `actor-abi` that must never be unified into a build.
const TEST_ONLY: &[&str] = &["simulate-abi-mismatch"];

#[test]
fn a_workspace_build_enables_no_test_only_feature_of_actor_abi() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["metadata", "--format-version", "1"])
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let nodes = meta["resolve"]["nodes"].as_array().expect("a resolve graph");
    let abi = nodes
        .iter()
        .find(|n| n["id"].as_str().is_some_and(|id| id.contains("actor-abi")))
        .expect("actor-abi is in the workspace graph");
    let features: Vec<&str> = abi["features"].as_array().into_iter().flatten().filter_map(|f| f.as_str()).collect();
    for f in TEST_ONLY {
        assert!(!features.contains(f), "a workspace build enables actor-abi's test-only feature {f:?}: {features:?}");
    }
}
