//! Reading the process's own resource usage from `/proc/self` (Linux only).

/// A snapshot of the process's resource usage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    /// User plus system CPU time.
    pub cpu_seconds: f64,
    /// Resident set size.
    pub resident_bytes: u64,
    /// Virtual memory size.
    pub virtual_bytes: u64,
    /// Start time since the Unix epoch.
    pub start_time_seconds: f64,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
    /// The soft limit on open file descriptors.
    pub max_fds: Option<u64>,
    /// Peak resident set size (`VmHWM`), for benchmarks.
    pub peak_resident_bytes: Option<u64>,
}

/// Clock ticks per second used by `/proc/<pid>/stat`; 100 on every Linux platform Portkey
/// targets (the value is fixed by the kernel ABI for user space).
const TICKS_PER_SECOND: f64 = 100.0;
const PAGE_SIZE: u64 = 4096;

/// Reads the current process's stats; `None` where `/proc` is unavailable.
pub fn read() -> Option<ProcessStats> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let boot_time = read_boot_time()?;
    let mut stats = parse_stat(&stat, boot_time)?;
    stats.open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as u64);
    stats.max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| parse_max_open_files(&l));
    stats.peak_resident_bytes = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| parse_status_kib(&s, "VmHWM:"));
    Some(stats)
}

fn read_boot_time() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) may contain spaces and parentheses,
/// so fields are counted from the last `)`.
pub fn parse_stat(stat: &str, boot_time: u64) -> Option<ProcessStats> {
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state): field N is fields[N - 3].
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let utime = field(14)?;
    let stime = field(15)?;
    let start_ticks = field(22)?;
    let vsize = field(23)?;
    let rss_pages = field(24)?;
    Some(ProcessStats {
        cpu_seconds: (utime + stime) as f64 / TICKS_PER_SECOND,
        resident_bytes: rss_pages * PAGE_SIZE,
        virtual_bytes: vsize,
        start_time_seconds: boot_time as f64 + start_ticks as f64 / TICKS_PER_SECOND,
        open_fds: None,
        max_fds: None,
        peak_resident_bytes: None,
    })
}

fn parse_max_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Reads a `kB` line such as `VmHWM:    1234 kB` from `/proc/<pid>/status`, in bytes.
pub fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: u64 = line[key.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_awkward_command_name() {
        let stat = "4711 (pve (exp) x) S 1 4711 4711 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 3 0 1000 123456789 2048 18446744073709551615";
        let s = parse_stat(stat, 1_700_000_000).unwrap();
        assert_eq!(s.cpu_seconds, 3.0);
        assert_eq!(s.virtual_bytes, 123_456_789);
        assert_eq!(s.resident_bytes, 2048 * 4096);
        assert_eq!(s.start_time_seconds, 1_700_000_010.0);
    }

    #[test]
    fn limits_and_status() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
        assert_eq!(parse_max_open_files(limits), Some(1024));
        assert_eq!(
            parse_status_kib("Name:\tx\nVmHWM:\t   10 kB\n", "VmHWM:"),
            Some(10240)
        );
    }
}
