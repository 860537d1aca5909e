//! The workspace, cargo, and the child processes that `demo` and `bench` start.
//!
//! Children are owned by a [`Children`] guard that kills them when it is dropped, so an error
//! anywhere in a task (a port that never opens, a failed scrape) never leaves a simulator or an
//! exporter running. Ctrl-C needs no handler: the terminal delivers SIGINT to the whole foreground
//! process group, which includes cargo, xtask and every child, since none of them starts a group
//! of its own.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
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

/// Looks a program up on PATH and then in the sbin directories a non-login shell may lack
/// (daemons such as snmpd live there).
pub fn find_program(program: &str) -> Option<PathBuf> {
    which(program).or_else(|| {
        ["/usr/local/sbin", "/usr/sbin", "/sbin"]
            .iter()
            .map(|dir| Path::new(dir).join(program))
            .find(|candidate| is_executable(candidate))
    })
}

/// Whether xtask runs as root (uid 0), from `/proc/self/status`.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .as_deref()
        .and_then(parse_status_uid)
        == Some(0)
}

/// The real uid from the text of `/proc/<pid>/status`.
pub fn parse_status_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
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

/// A UDP port on 127.0.0.1 that was free a moment ago (for an agent such as snmpd).
pub fn free_udp_port() -> Result<u16> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).context("binding udp 127.0.0.1:0")?;
    Ok(socket.local_addr()?.port())
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
        self.spawn_with_env(name, program, args, &[], output)
    }

    /// [`Children::spawn`] with extra environment variables.
    pub fn spawn_with_env<I, S>(
        &mut self,
        name: &str,
        program: &Path,
        args: I,
        env: &[(&str, &OsStr)],
        output: &Output,
    ) -> Result<u32>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new(program);
        command.args(args).stdin(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
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

/// Clock ticks per second of the CPU times in `/proc/<pid>/stat` (`USER_HZ`, which the kernel
/// fixes at 100 for userspace on every architecture Portkey builds for).
pub const CLOCK_TICKS_PER_SECOND: u64 = 100;

/// Extracts a `Vm*:` line of `/proc/<pid>/status` (e.g. `VmRSS`, `VmHWM`) in bytes.
pub fn parse_status_bytes(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|line| {
        line.strip_prefix(key)
            .is_some_and(|rest| rest.starts_with(':'))
    })?;
    let mut fields = line[key.len() + 1..].split_whitespace();
    let value: u64 = fields.next()?.parse().ok()?;
    let multiplier = match fields.next() {
        Some("kB") | None => 1024,
        Some("mB") | Some("MB") => 1024 * 1024,
        Some(_) => return None,
    };
    Some(value * multiplier)
}

/// Extracts the peak resident set size in bytes from the text of `/proc/<pid>/status`.
pub fn parse_vm_hwm(status: &str) -> Option<u64> {
    parse_status_bytes(status, "VmHWM")
}

/// Extracts the current resident set size in bytes from the text of `/proc/<pid>/status`.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    parse_status_bytes(status, "VmRSS")
}

/// The fields of `/proc/<pid>/stat` after the command name, which is in parentheses and may
/// itself contain spaces and parentheses; so the fields are counted from the last `)`. Index 0 is
/// field 3 (`state`) of proc(5).
fn stat_fields_after_name(stat: &str) -> Option<Vec<&str>> {
    Some(stat[stat.rfind(')')? + 1..].split_whitespace().collect())
}

/// Extracts the parent pid from the text of `/proc/<pid>/stat`.
pub fn parse_stat_ppid(stat: &str) -> Option<u32> {
    stat_fields_after_name(stat)?.get(1)?.parse().ok()
}

/// CPU time of one process, in clock ticks ([`CLOCK_TICKS_PER_SECOND`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTicks {
    /// `utime + stime`: user and system time of all the process's threads.
    pub own: u64,
    /// `cutime + cstime`: the same for children it has waited for (a worker that was replaced).
    pub reaped_children: u64,
}

/// Extracts `utime`, `stime`, `cutime` and `cstime` (fields 14–17 of proc(5)) from the text of
/// `/proc/<pid>/stat`.
pub fn parse_stat_cpu_ticks(stat: &str) -> Option<CpuTicks> {
    let fields = stat_fields_after_name(stat)?;
    // Field n of proc(5) is at index n - 3 here.
    let unsigned = |field: usize| fields.get(field - 3)?.parse::<u64>().ok();
    // cutime and cstime are declared signed (`%ld`); they are never negative in practice.
    let signed = |field: usize| {
        fields
            .get(field - 3)?
            .parse::<i64>()
            .ok()
            .map(|v| v.max(0).unsigned_abs())
    };
    Some(CpuTicks {
        own: unsigned(14)? + unsigned(15)?,
        reaped_children: signed(16)? + signed(17)?,
    })
}

/// Converts clock ticks to a duration.
pub fn ticks_to_duration(ticks: u64) -> Duration {
    Duration::from_millis(ticks * 1000 / CLOCK_TICKS_PER_SECOND)
}

/// Memory and CPU time of a process tree at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeUsage {
    /// Sum of `VmRSS` (current resident set) in bytes.
    pub rss_bytes: u64,
    /// Sum of `VmHWM` (each process's peak resident set) in bytes.
    pub peak_rss_bytes: u64,
    /// Sum of `utime + stime + cutime + cstime` in clock ticks: CPU used so far by the live
    /// processes and by the children they reaped, each counted once.
    pub cpu_ticks: u64,
    /// How many processes were summed (the root plus its live descendants).
    pub processes: usize,
}

impl TreeUsage {
    /// Adds one process's readings.
    pub fn add(&mut self, status: &str, stat: &str) -> Option<()> {
        let cpu = parse_stat_cpu_ticks(stat)?;
        let rss = parse_vm_rss(status)?;
        let peak = parse_vm_hwm(status)?;
        self.rss_bytes += rss;
        self.peak_rss_bytes += peak;
        self.cpu_ticks += cpu.own + cpu.reaped_children;
        self.processes += 1;
        Some(())
    }
}

/// Memory and CPU of a process plus all its descendants, from `/proc`.
///
/// Pre-forking servers (the Python incumbents run under gunicorn workers) keep most of their
/// memory and do most of their work in children, so the parent's figures alone would flatter
/// them. Summed RSS counts pages shared after `fork` once per process, and the sum of peaks
/// assumes they coincide, so both can overstate a little; that is the fair side to err on.
pub fn tree_usage(pid: u32) -> Result<TreeUsage> {
    let read = |pid: u32| -> Result<(String, String)> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("reading /proc/{pid}/status"))?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("reading /proc/{pid}/stat"))?;
        Ok((status, stat))
    };
    let mut usage = TreeUsage::default();
    let (status, stat) = read(pid)?;
    usage
        .add(&status, &stat)
        .ok_or_else(|| anyhow!("unexpected /proc/{pid}/status or /proc/{pid}/stat:\n{stat}"))?;
    for descendant in descendants(pid) {
        // A worker may exit between listing and reading; it then simply does not count (its CPU
        // time moves to its parent's cutime once reaped). Zombies have no VmRSS line: skipped.
        if let Ok((status, stat)) = read(descendant) {
            let _ = usage.add(&status, &stat);
        }
    }
    Ok(usage)
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
        assert_eq!(parse_vm_rss(status), Some(1024));
    }

    #[test]
    fn vm_hwm_missing_or_malformed() {
        assert_eq!(parse_vm_hwm("Name:\tkthreadd\nState:\tS\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t lots kB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t 12 parsecs\n"), None);
        assert_eq!(parse_vm_rss("VmHWM:\t 12 kB\n"), None);
    }

    #[test]
    fn status_keys_match_whole_names() {
        // `VmRSS` must not pick up a longer key that merely starts with it, wherever it is.
        let status = "VmRSSx:\t 9 kB\nRssAnon:\t 5 kB\nVmRSS:\t 7 kB\n";
        assert_eq!(parse_vm_rss(status), Some(7 * 1024));
        assert_eq!(parse_status_bytes(status, "RssAnon"), Some(5 * 1024));
        assert_eq!(
            parse_status_bytes("VmRSS:\t 3 MB\n", "VmRSS"),
            Some(3 << 20)
        );
        assert_eq!(parse_status_bytes("VmRSS:\t 3\n", "VmRSS"), Some(3 << 10));
    }

    #[test]
    fn own_usage_is_readable() {
        let usage = tree_usage(std::process::id()).unwrap();
        assert!(
            usage.rss_bytes > 1024 * 1024,
            "a test binary uses more than 1 MiB: {usage:?}"
        );
        assert!(usage.peak_rss_bytes >= usage.rss_bytes, "{usage:?}");
        assert!(usage.processes >= 1);
    }

    #[test]
    fn tree_usage_sums_children_and_counts_their_cpu() {
        let mut children = Children::new();
        // A shell that burns CPU for a moment, then waits with a child of its own.
        let pid = children
            .spawn(
                "burner",
                Path::new("sh"),
                [
                    "-c",
                    "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 30 & wait",
                ],
                &Output::Inherit,
            )
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let usage = loop {
            let usage = tree_usage(pid).unwrap();
            if usage.processes >= 2 || Instant::now() >= deadline {
                break usage;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(usage.processes, 2, "sh and its sleep: {usage:?}");
        assert!(usage.cpu_ticks > 0, "the loop used CPU: {usage:?}");
        let alone =
            parse_vm_rss(&std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap()).unwrap();
        assert!(usage.rss_bytes > alone, "{usage:?} vs {alone}");
        // The sleep would outlive the killed shell as an orphan; end it by its own pid first.
        for descendant in descendants(pid) {
            let _ = Command::new("kill").arg(descendant.to_string()).status();
        }
        children.stop_all();
    }

    #[test]
    fn stat_ppid_survives_odd_command_names() {
        assert_eq!(parse_stat_ppid("42 (bash) S 7 42 42 0 -1"), Some(7));
        assert_eq!(parse_stat_ppid("43 (a) b (c) R 9 1 1"), Some(9));
        assert_eq!(parse_stat_ppid("garbage"), None);
    }

    #[test]
    fn stat_cpu_ticks() {
        // A real line (fields 14-17 are 1519 236 3 1), with a command name built to confuse.
        let stat = "2287 (pve ) (exporter) S 2270 2287 2270 34816 2287 4194304 9062 1307 0 0 \
                    1519 236 3 1 20 0 3 0 9741 2228224000 6911 18446744073709551615 1 1 0 0 0 0 \
                    0 4096 17663 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(
            parse_stat_cpu_ticks(stat),
            Some(CpuTicks {
                own: 1519 + 236,
                reaped_children: 3 + 1
            })
        );
        assert_eq!(
            parse_stat_cpu_ticks("1 (x) S 0 1 1 0 -1 0 0 0 0 0 5 6 -1 0"),
            Some(CpuTicks {
                own: 11,
                reaped_children: 0
            })
        );
        // Truncated or unparsable.
        assert_eq!(parse_stat_cpu_ticks("1 (x) S 0 1 1 0 -1 0 0 0 0 0 5"), None);
        assert_eq!(
            parse_stat_cpu_ticks("1 (x) S 0 1 1 0 -1 0 0 0 0 0 a b 0 0"),
            None
        );
        assert_eq!(parse_stat_cpu_ticks("no parenthesis"), None);
        // The running test process has a well-formed line.
        let own = std::fs::read_to_string(format!("/proc/{}/stat", std::process::id())).unwrap();
        assert!(parse_stat_cpu_ticks(&own).is_some());
    }

    #[test]
    fn ticks_are_hundredths_of_a_second() {
        assert_eq!(ticks_to_duration(0), Duration::ZERO);
        assert_eq!(ticks_to_duration(1), Duration::from_millis(10));
        assert_eq!(ticks_to_duration(250), Duration::from_millis(2500));
    }

    #[test]
    fn tree_usage_adds_up_and_rejects_malformed_text() {
        let mut usage = TreeUsage::default();
        let status = "VmHWM:\t 300 kB\nVmRSS:\t 200 kB\n";
        let stat = "5 (w) S 1 1 1 0 -1 0 0 0 0 0 7 3 2 0";
        usage.add(status, stat).unwrap();
        usage.add(status, stat).unwrap();
        assert_eq!(
            usage,
            TreeUsage {
                rss_bytes: 400 * 1024,
                peak_rss_bytes: 600 * 1024,
                cpu_ticks: 24,
                processes: 2
            }
        );
        // A zombie has no memory lines; it does not count at all.
        assert_eq!(usage.add("State:\tZ (zombie)\n", stat), None);
        assert_eq!(usage.processes, 2);
        assert_eq!(usage.add(status, "garbage"), None);
        assert_eq!(usage.cpu_ticks, 24);
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
    fn find_program_also_searches_sbin() {
        assert!(find_program("sh").is_some());
        assert!(find_program("portkey-no-such-program").is_none());
        // ldconfig lives in /sbin or /usr/sbin on every glibc Linux, and is found without them
        // on PATH.
        let sbin = ["/usr/sbin/ldconfig", "/sbin/ldconfig"]
            .iter()
            .any(|p| Path::new(p).exists());
        if sbin {
            assert!(find_program("ldconfig").is_some());
        }
    }

    #[test]
    fn uid_from_status() {
        assert_eq!(
            parse_status_uid("Name:\tx\nUid:\t0\t0\t0\t0\nGid:\t0\n"),
            Some(0)
        );
        assert_eq!(
            parse_status_uid("Uid:\t1000\t1000\t1000\t1000\n"),
            Some(1000)
        );
        assert_eq!(parse_status_uid("Name:\tx\n"), None);
        let _ = is_root();
    }

    #[test]
    fn free_udp_port_is_bindable() {
        let port = free_udp_port().unwrap();
        assert_ne!(port, 0);
        assert!(UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok());
    }

    #[test]
    fn spawn_with_env_passes_variables() {
        let dir = std::env::temp_dir().join(format!("xtask-env-{}", std::process::id()));
        let mut children = Children::new();
        children
            .spawn_with_env(
                "printer",
                Path::new("sh"),
                ["-c", "printf %s \"$PORTKEY_TEST_VALUE\""],
                &[("PORTKEY_TEST_VALUE", OsStr::new("forty-two"))],
                &Output::File(dir.clone()),
            )
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while children.first_exited().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let written = std::fs::read_to_string(&dir).unwrap_or_default();
        let _ = std::fs::remove_file(&dir);
        assert_eq!(written, "forty-two");
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
