//! The domain crate stays free of I/O: no database, HTTP or async runtime crate may enter its
//! dependency graph, directly or through another crate.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

/// Crates that do I/O or bring an async runtime.
const FORBIDDEN: &[&str] =
    &["sea-orm", "sea-query", "sqlx", "sqlx-core", "poem", "poem-openapi", "hyper", "reqwest", "tokio", "mio"];

#[test]
fn domain_depends_on_no_io_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--manifest-path",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
        ])
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");

    let names: HashMap<&str, &str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|package| (package["id"].as_str().unwrap_or_default(), package["name"].as_str().unwrap_or_default()))
        .collect();
    let nodes: HashMap<&str, &serde_json::Value> = metadata["resolve"]["nodes"]
        .as_array()
        .expect("resolve nodes")
        .iter()
        .map(|node| (node["id"].as_str().unwrap_or_default(), node))
        .collect();
    let domain_id = names
        .iter()
        .find(|(_, name)| **name == "npq-domain")
        .map(|(id, _)| *id)
        .expect("npq-domain is in the workspace");

    // Walk normal (non-dev, non-build) dependencies from npq-domain.
    let mut seen = BTreeSet::new();
    let mut stack = vec![domain_id];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        for dependency in nodes[id]["deps"].as_array().into_iter().flatten() {
            let is_normal = dependency["dep_kinds"].as_array().into_iter().flatten().any(|kind| kind["kind"].is_null());
            if is_normal {
                stack.push(dependency["pkg"].as_str().unwrap_or_default());
            }
        }
    }
    let reached: BTreeSet<&str> = seen.iter().map(|id| names[id]).collect();
    let forbidden: Vec<&str> = FORBIDDEN.iter().copied().filter(|name| reached.contains(name)).collect();
    assert!(
        forbidden.is_empty(),
        "npq-domain depends on I/O crates {forbidden:?}; keep I/O in the store or API crates"
    );
}
