//! The workspace, cargo, and the child processes that `demo` and `bench` start.
//!
//! Children are owned by a [`Children`] guard that kills them when it is dropped, so an error
//! anywhere in a task (a port that never opens, a failed scrape) never leaves a simulator or an
//! exporter running. Ctrl-C needs no handler: the terminal delivers SIGINT to the whole foreground
//! process group, which includes cargo, xtask and every child, since none of them starts a group
//! of its own.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

/// The name of the binary that serves every simulator (`libs/sim`).
pub const SIMULATOR_BINARY: &str = "portkey-sim";

/// The root of the Cargo workspace (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// A `cargo` command run from the workspace root, using the cargo that started xtask.
pub fn cargo() -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(program);
    command.current_dir(workspace_root());
    command
}

/// What `cargo metadata` says about the workspace.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Cargo's target directory (honours `CARGO_TARGET_DIR`).
    pub target_dir: PathBuf,
    /// Names of every binary target of every workspace member.
    pub binaries: BTreeSet<String>,
}

impl Workspace {
    /// Asks `cargo metadata` about the workspace's members and binaries.
    pub fn load() -> Result<Self> {
        let output = cargo()
            .args(["metadata", "--no-deps", "--format-version", "1"])
            .stderr(Stdio::inherit())
            .output()
            .context("running cargo metadata")?;
        if !output.status.success() {
            bail!("cargo metadata failed with {}", output.status);
        }
        let metadata: serde_json::Value =
            serde_json::from_slice(&output.stdout).context("parsing cargo metadata")?;
        Self::from_metadata(&metadata)
    }

    /// Extracts the fields xtask uses from `cargo metadata --format-version 1` output.
    pub fn from_metadata(metadata: &serde_json::Value) -> Result<Self> {
        let target_dir = metadata["target_directory"]
            .as_str()
            .map(PathBuf::from)
            .ok_or_else(|| anyhow!("cargo metadata has no target_directory"))?;
        let mut binaries = BTreeSet::new();
        for package in metadata["packages"].as_array().into_iter().flatten() {
            for target in package["targets"].as_array().into_iter().flatten() {
                let is_bin = target["kind"]
                    .as_array()
                    .is_some_and(|kinds| kinds.iter().any(|kind| kind == "bin"));
                if let (true, Some(name)) = (is_bin, target["name"].as_str()) {
                    binaries.insert(name.to_owned());
                }
            }
        }
        Ok(Self {
            target_dir,
            binaries,
        })
    }

    /// Whether a workspace member builds a binary of this name.
    pub fn has_binary(&self, name: &str) -> bool {
        self.binaries.contains(name)
    }

    /// Where cargo puts a binary for the given profile directory (`debug` or `release`).
    pub fn binary_path(&self, profile_dir: &str, name: &str) -> PathBuf {
        self.target_dir.join(profile_dir).join(name)
    }

    /// Builds exactly these binaries, in release mode or not.
    pub fn build(&self, binaries: &[&str], release: bool) -> Result<()> {
        if binaries.is_empty() {
            return Ok(());
        }
        let mut command = cargo();
        command.arg("build");
        if release {
            command.arg("--release");
        }
        for binary in binaries {
            command.args(["--bin", binary]);
        }
        println!(
            "==> cargo build{} --bin {}",
            if release { " --release" } else { "" },
            binaries.join(" --bin ")
        );
        let status = command.status().context("running cargo build")?;
        if !status.success() {
            bail!("cargo build failed with {status}");
        }
        Ok(())
    }
}

/// Looks a program up on PATH, as a shell would.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Whether something already accepts connections on 127.0.0.1:`port`.
pub fn port_in_use(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// A port on 127.0.0.1 that was free a moment ago (the OS picks it; the listener is dropped).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Where a child's standard output and error go.
#[derive(Debug, Clone)]
pub enum Output {
    /// Shared with xtask's own terminal (the demo shows the logs as they come).
    Inherit,
    /// Both streams appended to this file (benchmarks keep the terminal for their table).
    File(PathBuf),
}

#[derive(Debug)]
struct Running {
    name: String,
    child: Child,
}

/// The processes started by one task; all of them are killed when this is dropped.
#[derive(Debug, Default)]
pub struct Children {
    running: Vec<Running>,
}

impl Children {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts `program args...` under `name` and returns its process id.
    pub fn spawn<I, S>(
        &mut self,
        name: &str,
        program: &Path,
        args: I,
        output: &Output,
    ) -> Result<u32>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new(program);
        command.args(args).stdin(Stdio::null());
        if let Output::File(path) = output {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening log file {}", path.display()))?;
            command.stdout(file.try_clone()?).stderr(file);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {name} ({})", program.display()))?;
        let pid = child.id();
        self.running.push(Running {
            name: name.to_owned(),
            child,
        });
        Ok(pid)
    }

    /// The first child that has exited since it was started, with its exit status.
    pub fn first_exited(&mut self) -> Result<Option<(String, ExitStatus)>> {
        for running in &mut self.running {
            if let Some(status) = running.child.try_wait()? {
                return Ok(Some((running.name.clone(), status)));
            }
        }
        Ok(None)
    }

    /// Waits until 127.0.0.1:`port` accepts connections, failing early if any child exits.
    pub fn wait_for_port(&mut self, name: &str, port: u16, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if port_in_use(port) {
                return Ok(());
            }
            if let Some((exited, status)) = self.first_exited()? {
                bail!("{exited} exited ({status}) while waiting for {name} on port {port}");
            }
            if Instant::now() >= deadline {
                bail!("{name} did not open 127.0.0.1:{port} within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills every child and reaps it.
    pub fn stop_all(&mut self) {
        for mut running in self.running.drain(..) {
            // An error here means the child is already gone, which is the goal.
            let _ = running.child.kill();
            let _ = running.child.wait();
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Extracts the peak resident set size in bytes from the text of `/proc/<pid>/status`.
pub fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let mut fields = line["VmHWM:".len()..].split_whitespace();
    let value: u64 = fields.next()?.parse().ok()?;
    let multiplier = match fields.next() {
        Some("kB") | None => 1024,
        Some("mB") | Some("MB") => 1024 * 1024,
        Some(_) => return None,
    };
    Some(value * multiplier)
}

/// Extracts the parent pid from the text of `/proc/<pid>/stat`.
///
/// The command name in field 2 is in parentheses and may itself contain spaces and parentheses,
/// so the fields are counted from the last `)`.
pub fn parse_stat_ppid(stat: &str) -> Option<u32> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    let _state = fields.next()?;
    fields.next()?.parse().ok()
}

/// The peak RSS of a process, from `/proc/<pid>/status`.
pub fn peak_rss_bytes(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    parse_vm_hwm(&status).ok_or_else(|| anyhow!("no VmHWM line in /proc/{pid}/status"))
}

/// The peak RSS of a process plus that of all its descendants.
///
/// Pre-forking servers (the Python incumbents run under gunicorn-style workers) keep most of
/// their memory in children, so the parent's figure alone would flatter them. The sum of peaks
/// can overstate a little (peaks need not coincide); it is the fair side to err on.
pub fn tree_peak_rss_bytes(pid: u32) -> Result<u64> {
    let mut total = peak_rss_bytes(pid)?;
    for descendant in descendants(pid) {
        // A worker may exit between listing and reading; it then simply does not count.
        total += peak_rss_bytes(descendant).unwrap_or(0);
    }
    Ok(total)
}

fn descendants(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(ppid) = std::fs::read_to_string(entry.path().join("stat"))
                .ok()
                .as_deref()
                .and_then(parse_stat_ppid)
            {
                parents.push((pid, ppid));
            }
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid) in &parents {
            if ppid == parent && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_in_kilobytes() {
        let status =
            "Name:\tpve-exporter\nVmPeak:\t  123456 kB\nVmHWM:\t   20480 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(20480 * 1024));
    }

    #[test]
    fn vm_hwm_missing_or_malformed() {
        assert_eq!(parse_vm_hwm("Name:\tkthreadd\nState:\tS\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t lots kB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t 12 parsecs\n"), None);
    }

    #[test]
    fn own_peak_rss_is_readable() {
        let bytes = peak_rss_bytes(std::process::id()).unwrap();
        assert!(
            bytes > 1024 * 1024,
            "a test binary uses more than 1 MiB: {bytes}"
        );
        assert!(tree_peak_rss_bytes(std::process::id()).unwrap() >= bytes);
    }

    #[test]
    fn stat_ppid_survives_odd_command_names() {
        assert_eq!(parse_stat_ppid("42 (bash) S 7 42 42 0 -1"), Some(7));
        assert_eq!(parse_stat_ppid("43 (a) b (c) R 9 1 1"), Some(9));
        assert_eq!(parse_stat_ppid("garbage"), None);
    }

    #[test]
    fn metadata_lists_binaries_only() {
        let metadata = serde_json::json!({
            "workspace_root": "/w",
            "target_directory": "/w/target",
            "packages": [
                {"targets": [
                    {"kind": ["lib"], "name": "portkey_kit"},
                    {"kind": ["test"], "name": "server"}
                ]},
                {"targets": [
                    {"kind": ["lib"], "name": "pve_exporter"},
                    {"kind": ["bin"], "name": "pve-exporter"}
                ]}
            ]
        });
        let workspace = Workspace::from_metadata(&metadata).unwrap();
        assert!(workspace.has_binary("pve-exporter"));
        assert!(!workspace.has_binary("portkey_kit"));
        assert!(!workspace.has_binary("server"));
        assert_eq!(
            workspace.binary_path("debug", "pve-exporter"),
            PathBuf::from("/w/target/debug/pve-exporter")
        );
        assert!(Workspace::from_metadata(&serde_json::json!({})).is_err());
    }

    #[test]
    fn which_finds_sh_but_not_nonsense() {
        assert!(which("sh").is_some());
        assert!(which("portkey-no-such-program").is_none());
    }

    #[test]
    fn children_are_killed_on_drop() {
        let pid;
        {
            let mut children = Children::new();
            pid = children
                .spawn("sleeper", Path::new("sleep"), ["30"], &Output::Inherit)
                .unwrap();
            assert!(Path::new(&format!("/proc/{pid}")).exists());
        }
        // Reaped by the guard, so the pid's /proc entry is gone (or reused by something else,
        // which would not be our sleep).
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        assert_ne!(comm.trim(), "sleep");
    }

    #[test]
    fn wait_for_port_reports_an_exited_child() {
        let mut children = Children::new();
        children
            .spawn(
                "quitter",
                Path::new("true"),
                [] as [&str; 0],
                &Output::Inherit,
            )
            .unwrap();
        let port = free_port().unwrap();
        let error = children
            .wait_for_port("quitter", port, Duration::from_secs(10))
            .unwrap_err();
        assert!(error.to_string().contains("quitter exited"), "{error}");
    }
}
