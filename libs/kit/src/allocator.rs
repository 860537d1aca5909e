//! Keeping glibc's allocator from multiplying resident memory.
//!
//! glibc gives threads their own malloc arenas (up to eight per core) and keeps memory freed in an
//! arena for that arena's next use. An exporter's scrape work migrates between the runtime's
//! worker threads and the rendering thread, so every arena grows to the size of a whole scrape
//! and the process holds several copies of its peak: a 2000-guest PVE scrape needs about 3 MB of
//! live heap but left 15–17 MB resident. One arena keeps one copy; allocation contention is
//! irrelevant at a few scrapes per minute.
//!
//! The arena limit can only be set before the allocator starts, through the environment, so
//! [`cap_glibc_arenas`] re-executes the binary once with `MALLOC_ARENA_MAX` set. Static musl
//! builds (the release images) have no arenas and skip this, as does any process whose operator
//! set the variable already.

/// The environment variable glibc reads at start-up.
pub const ARENA_VARIABLE: &str = "MALLOC_ARENA_MAX";

/// Re-executes the current binary with one malloc arena, unless the variable is already set or
/// this is not a glibc build. Call it first thing in `main`, before any thread exists. Returns
/// only when no re-execution happened (or it failed, in which case the process simply continues
/// with glibc's default).
pub fn cap_glibc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;

        if std::env::var_os(ARENA_VARIABLE).is_some() {
            return;
        }
        let Ok(executable) = std::env::current_exe() else {
            return;
        };
        let mut args = std::env::args_os();
        let argv0 = args.next();
        let mut command = std::process::Command::new(executable);
        if let Some(argv0) = argv0 {
            command.arg0(argv0);
        }
        // `exec` only returns on failure; then run on with the default arenas.
        let _ = command.args(args).env(ARENA_VARIABLE, "1").exec();
    }
}
