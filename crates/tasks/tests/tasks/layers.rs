//! Only this crate may depend on the stores: every other crate reaches a task's state through
//! the lifecycle service, so no write can skip its rules.

use std::process::Command;

#[test]
fn no_crate_but_the_lifecycle_service_depends_on_bus_or_store() {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).expect("metadata is JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    assert!(packages.len() > 5, "the whole workspace is listed");
    let mut offenders = Vec::new();
    for package in packages {
        let name = package["name"].as_str().unwrap_or_default();
        for dependency in package["dependencies"].as_array().into_iter().flatten() {
            let dep = dependency["name"].as_str().unwrap_or_default();
            if matches!(dep, "bus" | "store") && name != "tasks" {
                offenders
                    .push(format!("{name} -> {dep} ({})", dependency["kind"].as_str().unwrap_or("normal")));
            }
        }
    }
    assert!(offenders.is_empty(), "only `tasks` may use the stores directly: {offenders:?}");
}
