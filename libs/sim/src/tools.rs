//! Finding the real external programs some tests drive (snmpd, promtool, helm).
//!
//! The rule is the same for every test in the workspace: a missing tool is skipped with a loud
//! notice on a developer's machine, and fails the test when `PORTKEY_REQUIRE_TOOLS=1` (CI installs
//! every tool and sets it, so nothing is ever skipped there).

use std::path::PathBuf;

/// Environment variable that turns a missing tool into a test failure.
pub const REQUIRE_TOOLS: &str = "PORTKEY_REQUIRE_TOOLS";

/// Directories searched after `PATH`: daemons such as snmpd live in sbin, which is not on every
/// non-login `PATH`.
const EXTRA_DIRS: &[&str] = &["/usr/local/sbin", "/usr/sbin", "/sbin"];

/// The path of `name`, or `None` after printing a SKIPPED notice.
///
/// # Panics
///
/// When the tool is missing and `PORTKEY_REQUIRE_TOOLS` is `1` or `true`.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path_dirs = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    let found = path_dirs
        .into_iter()
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        let required = matches!(
            std::env::var(REQUIRE_TOOLS).as_deref(),
            Ok("1") | Ok("true")
        );
        assert!(
            !required,
            "{name} is required ({REQUIRE_TOOLS}=1) but not installed; run .ci/install-tools"
        );
        eprintln!(
            "SKIPPED: {name} is not installed; run .ci/install-tools, or set {REQUIRE_TOOLS}=1 to make this a failure"
        );
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_tool_every_machine_has() {
        assert!(find_tool("sh").is_some());
    }
}
