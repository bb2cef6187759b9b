//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

/// Whether we run under CI (`CI` set to anything but "", "0" or "false").
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// `shared/data/<sub>` next to the repository. `None` (with a note) when it
/// is missing outside CI; a test failure when it is missing under CI.
pub fn shared_data(sub: &str) -> Option<PathBuf> {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    let path = root.join(sub);
    if path.exists() {
        return Some(path);
    }
    assert!(
        !in_ci(),
        "real test data {} is missing (CI is set, so this is an error)",
        path.display()
    );
    eprintln!(
        "note: real test data {} not found; skipping this test (set CI=true to make it fail)",
        path.display()
    );
    None
}
