//! `cargo xtask bench <case>`: whole-process benchmarks of a Portkey binary against the thing it
//! scrapes, and against the program it replaces.
//!
//! Each [`Case`] in [`CASES`] names a binary, its [`Upstream`], and a list of [`Variant`]s. Two
//! kinds of upstream exist, measured two ways:
//!
//! **A `portkey-sim` simulator** (pve). For every variant (inventory size, injected latency) the
//! bench starts a fresh simulator and a fresh release build of the binary, performs one warm-up
//! scrape, resets the simulator's counters, performs N timed scrapes one after another (as
//! Prometheus does for one target), then reads:
//!
//! - median, min, max and p95 scrape latency, measured by the client from sending the request to
//!   the last body byte;
//! - the lines and bytes of one exposition (the last timed scrape's, uncompressed);
//! - upstream API calls per scrape, how many of them were per-item calls (per-guest config calls
//!   for pve) and their peak concurrency, from the simulator's `GET /_sim/stats`
//!   (`{"requests": n, "peak_concurrency": n, "paths": {path: n}, ...}`);
//! - the binary's `VmRSS` after the run and its `VmHWM` (peak), from `/proc/<pid>/status`, and its
//!   CPU time per timed scrape, the `/proc/<pid>/stat` `utime + stime` delta over the timed
//!   scrapes divided by their number; all three summed over the process tree, since the
//!   incumbents keep their memory and do their work in gunicorn workers.
//!
//! With `--with-incumbent`, the program Portkey replaces is installed from PyPI into a venv under
//! `target/bench/` and measured the same way against its own simulator instance.
//!
//! **A real net-snmp `snmpd`** (snmp). Nothing can be reset or counted inside a real agent, and
//! the spec compares the two exporters in one run on the same agent (spec snmp-exporter §6): the
//! bench starts one `snmpd` on a free UDP port of 127.0.0.1 with its own config
//! ([`snmpd_conf`]), the release binary with its embedded default config and, with
//! `--with-incumbent` when Debian's `prometheus-snmp-exporter` is installed, upstream
//! snmp_exporter 0.21 with the `if_mib` module our binary prints in the flat format. After one
//! warm-up scrape each, the N timed scrapes alternate between the two programs (A B, B A, ...,
//! so neither always meets the agent's interface cache first). Packets per scrape come from each
//! exporter's own `snmp_packets_total` (`/metrics`, before and after the timed scrapes), PDUs per
//! scrape from the `snmp_scrape_pdus_returned` of every timed answer. Memory and CPU are read as
//! above. Then each program alone gets a burst of scrapes at a fixed concurrency ([`BurstSpec`]).
//!
//! Both kinds then print a latency table, a cost table, a scaling report per series of variants
//! that differ only in inventory size (per-item time and bytes, and their marginal cost between
//! sizes, so a super-linear term shows as growth), the case's performance targets with a verdict
//! each, and a Markdown summary for the README. Latency is wall-clock time on a shared 2-core
//! machine: compare runs made back to back, not across machines; only same-run ratios count.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::demo::{ConfigFile, PVE_CONFIG};
use crate::http;
use crate::process::{
    Children, Output, SIMULATOR_BINARY, TreeUsage, Workspace, find_program, free_port,
    free_udp_port, is_root, ticks_to_duration, tree_usage,
};

/// One upstream configuration to measure under.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// Shown in the results tables.
    pub label: &'static str,
    /// Extra flags for `portkey-sim <simulator>` (none for a real agent).
    pub simulator_args: &'static [&'static str],
    /// The inventory size these flags ask for (guests for pve), for the scaling report; 0 when
    /// the variant has no size of its own.
    pub size: u64,
    /// Variants of one series differ only in `size`; the scaling report compares them.
    pub series: &'static str,
}

/// What the binary scrapes during a benchmark.
#[derive(Debug, Clone, Copy)]
pub enum Upstream {
    /// A `portkey-sim` simulator, fresh for each variant and program, counting calls itself.
    Simulator {
        /// The simulator's name (`portkey-sim <name>`).
        name: &'static str,
        /// Whether an upstream path (as `/_sim/stats` lists it) is a per-item call, one per
        /// unit of [`Variant::size`] that the scrape covers (per-guest config calls for pve).
        per_item_call: fn(&str) -> bool,
    },
    /// One net-snmp `snmpd` on a free UDP port of 127.0.0.1 with [`snmpd_conf`], shared by both
    /// programs, whose scrapes are interleaved; packets and PDUs come from the exporters.
    Snmpd,
}

/// Where the program a Portkey binary replaces comes from.
#[derive(Debug, Clone, Copy)]
pub enum Install {
    /// Installed from PyPI into a venv under `target/bench/`.
    Pip {
        /// The pip requirement, pinned so results are comparable over time.
        requirement: &'static str,
        /// The console script the requirement installs.
        executable: &'static str,
    },
    /// A Debian package's program, found on `PATH`; the bench does not install system packages
    /// (`.ci/install-tools` does), and measures the binary alone with a note when it is missing.
    Debian {
        /// The package name, for the note.
        package: &'static str,
        /// The program it installs.
        executable: &'static str,
    },
}

/// The incumbent's config file.
#[derive(Debug, Clone, Copy)]
pub enum IncumbentConfig {
    /// Fixed contents, written into `target/bench/`.
    File(ConfigFile),
    /// What the Portkey binary prints with `args`, cut down to the top-level key `keep` (a
    /// module), written into `target/bench/<name>`: the incumbent then runs exactly the modules
    /// Portkey embeds.
    PrintedByBinary {
        /// File name inside `target/bench/`.
        name: &'static str,
        /// The binary's arguments.
        args: &'static [&'static str],
        /// The one top-level key kept.
        keep: &'static str,
    },
}

/// The program a Portkey binary replaces, where it can run here.
#[derive(Debug, Clone, Copy)]
pub struct Incumbent {
    /// Named once above the tables (the tables say "incumbent").
    pub label: &'static str,
    /// How it gets here.
    pub install: Install,
    /// Its config file.
    pub config: IncumbentConfig,
    /// Its arguments; `{config}` and `{listen}` are filled in.
    pub args: &'static [&'static str],
    /// Its scrape path when it differs from the case's; `{target}` is filled in.
    pub scrape_path: Option<&'static str>,
    /// Extra simulator flags it needs (e.g. `--tls` for a client that only speaks HTTPS).
    pub simulator_args: &'static [&'static str],
    /// Whether the simulator then serves HTTPS (its control API too).
    pub simulator_tls: bool,
}

/// A count of SNMP traffic per scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnmpCount {
    /// Request datagrams sent, retries included (`snmp_packets_total`).
    Packets,
    /// Varbinds returned (`snmp_scrape_pdus_returned`).
    Pdus,
}

impl SnmpCount {
    fn name(self) -> &'static str {
        match self {
            SnmpCount::Packets => "SNMP packets per scrape",
            SnmpCount::Pdus => "PDUs per scrape",
        }
    }
}

/// A performance target of the component's specification, checked against one run.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// In this variant, the incumbent's median is at least `factor` times the binary's.
    Speedup {
        /// The variant's label.
        variant: &'static str,
        /// Incumbent median / binary median must reach this.
        factor: f64,
    },
    /// In this variant, the binary's median divided by the incumbent's is at most `at_most`.
    LatencyRatio {
        /// The variant's label.
        variant: &'static str,
        /// The largest acceptable ratio.
        at_most: f64,
    },
    /// In this variant, the binary's `VmRSS` after the run is below this many bytes.
    RssBelow {
        /// The variant's label.
        variant: &'static str,
        /// The limit.
        bytes: u64,
    },
    /// In this variant, the binary's memory divided by the incumbent's is at most `at_most`.
    MemoryRatio {
        /// The variant's label.
        variant: &'static str,
        /// The largest acceptable ratio.
        at_most: f64,
        /// `VmHWM` (peak) rather than `VmRSS` after the run.
        peak: bool,
    },
    /// In every variant, each scrape made exactly `fixed` calls besides the per-item calls.
    FixedCalls {
        /// Calls per scrape that do not depend on the inventory.
        fixed: u64,
    },
    /// In this variant, the binary's SNMP count per scrape is at most the incumbent's.
    SnmpAtMostIncumbent {
        /// The variant's label.
        variant: &'static str,
        /// What is counted.
        count: SnmpCount,
    },
    /// In this variant, every scrape of the concurrent burst answered 200.
    BurstComplete {
        /// The variant's label.
        variant: &'static str,
    },
    /// In this variant, the burst's p95 is at most the incumbent's.
    BurstP95 {
        /// The variant's label.
        variant: &'static str,
    },
}

/// Scrapes fired at a fixed concurrency after the timed run (real-agent cases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BurstSpec {
    /// How many scrapes in all.
    pub scrapes: usize,
    /// How many are in flight at once.
    pub concurrency: usize,
}

/// A whole-process benchmark.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// The name given on the command line.
    pub name: &'static str,
    /// The Portkey binary measured.
    pub binary: &'static str,
    /// What it scrapes.
    pub upstream: Upstream,
    /// Its config file, written into `target/bench/`; `None`: its embedded default.
    pub config: Option<ConfigFile>,
    /// Its arguments; `{config}` and `{listen}` are filled in.
    pub args: &'static [&'static str],
    /// The scrape path; `{target}` is the upstream's `127.0.0.1:<port>`.
    pub scrape_path: &'static str,
    /// What [`Variant::size`] counts, singular ("guest").
    pub size_unit: &'static str,
    /// The fewest timed scrapes the specification accepts; a smaller `--scrapes` is raised to it
    /// with a note.
    pub min_scrapes: usize,
    /// The upstream configurations measured, in order.
    pub variants: &'static [Variant],
    /// The specification's targets, checked after the run.
    pub targets: &'static [Target],
    /// The program it replaces, if that can run here.
    pub incumbent: Option<Incumbent>,
    /// A concurrent burst after the timed scrapes, if the specification asks for one.
    pub burst: Option<BurstSpec>,
}

/// The one variant of the snmp case.
const SNMP_VARIANT: &str = "if_mib v2c";

/// Every benchmark case. Component issues add theirs.
pub const CASES: &[Case] = &[
    Case {
        name: "pve",
        binary: "pve-exporter",
        upstream: Upstream::Simulator {
            name: "pve",
            per_item_call: is_pve_guest_config_call,
        },
        config: Some(ConfigFile {
            name: "pve.yml",
            contents: PVE_CONFIG,
        }),
        args: &[
            "--config.file",
            "{config}",
            "--web.listen-address",
            "{listen}",
        ],
        // Spec §6: cluster and node collectors, token auth, local node `shire` (the simulator's
        // default), which is also what the incumbent's defaults do.
        scrape_path: "/pve?target={target}&cluster=1&node=1",
        size_unit: "guest",
        min_scrapes: MIN_SCRAPES,
        variants: &[
            Variant {
                label: "guests=60 latency=0ms",
                simulator_args: &["--guests", "60", "--latency-ms", "0"],
                size: 60,
                series: "latency=0ms",
            },
            Variant {
                label: "guests=60 latency=5ms",
                simulator_args: &["--guests", "60", "--latency-ms", "5"],
                size: 60,
                series: "latency=5ms",
            },
            Variant {
                label: "guests=500 latency=0ms",
                simulator_args: &["--guests", "500", "--latency-ms", "0"],
                size: 500,
                series: "latency=0ms",
            },
            Variant {
                label: "guests=500 latency=5ms",
                simulator_args: &["--guests", "500", "--latency-ms", "5"],
                size: 500,
                series: "latency=5ms",
            },
            Variant {
                label: "guests=2000 latency=0ms",
                simulator_args: &["--guests", "2000", "--latency-ms", "0"],
                size: 2000,
                series: "latency=0ms",
            },
            Variant {
                label: "guests=2000 latency=5ms",
                simulator_args: &["--guests", "2000", "--latency-ms", "5"],
                size: 2000,
                series: "latency=5ms",
            },
        ],
        targets: &[
            Target::Speedup {
                variant: "guests=2000 latency=5ms",
                factor: 5.0,
            },
            Target::Speedup {
                variant: "guests=2000 latency=0ms",
                factor: 1.0,
            },
            Target::RssBelow {
                variant: "guests=2000 latency=0ms",
                bytes: 15 * MIB,
            },
            Target::RssBelow {
                variant: "guests=2000 latency=5ms",
                bytes: 15 * MIB,
            },
            // R1, cluster=1&node=1: 9 + Q + L.
            Target::FixedCalls { fixed: 9 },
        ],
        incumbent: Some(Incumbent {
            label: "prometheus-pve-exporter 3.10.2",
            install: Install::Pip {
                requirement: "prometheus-pve-exporter==3.10.2",
                executable: "pve_exporter",
            },
            // The incumbent has no `scheme` key: it always speaks HTTPS.
            config: IncumbentConfig::File(ConfigFile {
                name: "pve-incumbent.yml",
                contents: "\
default:
  user: demo@pve
  token_name: portkey
  token_value: demo-token-value
  verify_ssl: false
",
            }),
            args: &[
                "--config.file",
                "{config}",
                "--web.listen-address",
                "{listen}",
            ],
            scrape_path: None,
            simulator_args: &["--tls"],
            simulator_tls: true,
        }),
        burst: None,
    },
    Case {
        name: "snmp",
        binary: "snmp-exporter",
        upstream: Upstream::Snmpd,
        // The embedded default (spec §2.8): if_mib and system modules, public_v1/public_v2 auths.
        config: None,
        args: &["--web.listen-address", "{listen}"],
        scrape_path: "/snmp?target={target}&module=if_mib&auth=public_v2",
        size_unit: "interface",
        // Spec §6: 1 warm-up + at least 200 interleaved A/B scrapes.
        min_scrapes: 200,
        variants: &[Variant {
            label: SNMP_VARIANT,
            simulator_args: &[],
            size: 0,
            series: "if_mib",
        }],
        // Spec §6, same box, same snmpd, same if_mib module, one run.
        targets: &[
            Target::LatencyRatio {
                variant: SNMP_VARIANT,
                at_most: 1.0,
            },
            Target::MemoryRatio {
                variant: SNMP_VARIANT,
                at_most: 0.5,
                peak: false,
            },
            Target::MemoryRatio {
                variant: SNMP_VARIANT,
                at_most: 0.5,
                peak: true,
            },
            Target::SnmpAtMostIncumbent {
                variant: SNMP_VARIANT,
                count: SnmpCount::Pdus,
            },
            Target::SnmpAtMostIncumbent {
                variant: SNMP_VARIANT,
                count: SnmpCount::Packets,
            },
            Target::BurstComplete {
                variant: SNMP_VARIANT,
            },
            Target::BurstP95 {
                variant: SNMP_VARIANT,
            },
        ],
        incumbent: Some(Incumbent {
            label: "prometheus-snmp-exporter (Debian, snmp_exporter 0.21)",
            install: Install::Debian {
                package: "prometheus-snmp-exporter",
                executable: "prometheus-snmp-exporter",
            },
            // Debian's packaged snmp.yml is an empty stub; 0.21 reads the flat format, with the
            // community (public, v2c) inside each module.
            config: IncumbentConfig::PrintedByBinary {
                name: "snmp-incumbent.yml",
                args: &["--config.print-default=flat"],
                keep: "if_mib",
            },
            args: &["--config.file={config}", "--web.listen-address={listen}"],
            // 0.21 has no auth= parameter: a flat module carries its own.
            scrape_path: Some("/snmp?target={target}&module=if_mib"),
            simulator_args: &[],
            simulator_tls: false,
        }),
        // Spec §6: 200 scrapes at 10-way concurrency, all answered, p95 at most upstream's.
        burst: Some(BurstSpec {
            scrapes: 200,
            concurrency: 10,
        }),
    },
];

const MIB: u64 = 1024 * 1024;

/// Whether a PVE API path is a per-guest config call,
/// `[/api2/json]/nodes/<node>/{qemu,lxc}/<vmid>/config`.
pub fn is_pve_guest_config_call(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        [.., "nodes", node, "qemu" | "lxc", vmid, "config"] => {
            !node.is_empty() && !vmid.is_empty() && vmid.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// The names of all cases, for the command line.
pub fn case_names() -> Vec<&'static str> {
    CASES.iter().map(|case| case.name).collect()
}

/// The fewest timed scrapes that give a meaningful median and p95 (spec: 1 warm-up + ≥ 10).
pub const MIN_SCRAPES: usize = 10;
/// How long a process may take to open its port.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// The most one scrape may take before the bench gives up on it.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(120);

/// Order statistics of a set of latencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// The middle value (mean of the two middle values for an even count).
    pub median: Duration,
    /// The fastest sample.
    pub min: Duration,
    /// The slowest sample.
    pub max: Duration,
    /// The nearest-rank 95th percentile: the smallest value not exceeded by 95% of the samples.
    pub p95: Duration,
}

/// Summarises latencies; `None` for an empty set.
pub fn summarize(samples: &[Duration]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let middle = sorted.len() / 2;
    let median = if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2
    };
    // Nearest rank: ceil(0.95 * n), 1-based.
    let rank = (sorted.len() * 95).div_ceil(100).max(1);
    Some(Summary {
        median,
        min: sorted[0],
        max: sorted[sorted.len() - 1],
        p95: sorted[rank - 1],
    })
}

/// What a simulator's `GET /_sim/stats` reports (other fields are ignored); all zero for a real
/// agent, which cannot be asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimulatorStats {
    /// Upstream API requests served since the last reset.
    pub requests: u64,
    /// The most requests that were in flight at once.
    pub peak_concurrency: u64,
    /// Of `requests`, those to paths the case counts as per-item calls.
    pub per_item_requests: u64,
}

/// Parses the JSON body of `GET /_sim/stats`; `per_item_call` classifies the `paths` keys.
pub fn parse_simulator_stats(
    body: &str,
    per_item_call: fn(&str) -> bool,
) -> Result<SimulatorStats> {
    let value: serde_json::Value =
        serde_json::from_str(body).context("simulator stats are not JSON")?;
    let field = |name: &str| {
        value[name]
            .as_u64()
            .ok_or_else(|| anyhow!("simulator stats have no integer {name:?}: {body}"))
    };
    let mut per_item_requests = 0;
    if let Some(paths) = value["paths"].as_object() {
        for (path, count) in paths {
            if per_item_call(path) {
                per_item_requests += count
                    .as_u64()
                    .ok_or_else(|| anyhow!("simulator stats count {path:?} as {count}"))?;
            }
        }
    }
    Ok(SimulatorStats {
        requests: field("requests")?,
        peak_concurrency: field("peak_concurrency")?,
        per_item_requests,
    })
}

/// The size of one exposition as served (uncompressed: the bench never asks for gzip).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpositionSize {
    /// Lines, counting a last line without its newline.
    pub lines: u64,
    /// Body bytes.
    pub bytes: u64,
}

impl ExpositionSize {
    /// Measures a response body.
    pub fn of(body: &[u8]) -> Self {
        let newlines = body.iter().filter(|&&byte| byte == b'\n').count() as u64;
        let unterminated = u64::from(body.last().is_some_and(|&byte| byte != b'\n'));
        Self {
            lines: newlines + unterminated,
            bytes: body.len() as u64,
        }
    }
}

/// The results for one program under one variant.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Latency summary of the timed scrapes.
    pub latency: Summary,
    /// Simulator counters over the timed scrapes.
    pub stats: SimulatorStats,
    /// How many timed scrapes there were.
    pub scrapes: usize,
    /// The last timed scrape's exposition.
    pub output: ExpositionSize,
    /// The process tree after the last timed scrape: `VmRSS` now, `VmHWM` over its lifetime.
    pub after: TreeUsage,
    /// CPU clock ticks the process tree used during the timed scrapes.
    pub cpu_ticks: u64,
    /// SNMP traffic over the timed scrapes (real-agent cases).
    pub snmp: Option<SnmpTraffic>,
    /// The concurrent burst after the timed scrapes, when the case has one.
    pub burst: Option<Burst>,
}

/// SNMP traffic of one exporter over the timed scrapes, from its own accounting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnmpTraffic {
    /// The increase of its `/metrics` `snmp_packets_total`.
    pub packets: u64,
    /// The sum of `snmp_scrape_pdus_returned` over the timed answers.
    pub pdus: u64,
    /// The sum of `snmp_scrape_packets_sent` over the timed answers (a cross-check of
    /// `packets`).
    pub packets_in_answers: u64,
}

/// The outcome of a concurrent burst of scrapes.
#[derive(Debug, Clone, PartialEq)]
pub struct Burst {
    /// The burst's shape.
    pub spec: BurstSpec,
    /// Scrapes that did not answer 200 (or did not answer).
    pub failures: usize,
    /// The first failure's message.
    pub first_failure: Option<String>,
    /// From the first request sent to the last answer received.
    pub wall: Duration,
    /// Latencies of the successful scrapes.
    pub latency: Option<Summary>,
}

impl Burst {
    /// Successful scrapes per second of wall time.
    pub fn throughput(&self) -> f64 {
        (self.spec.scrapes - self.failures) as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

impl Measurement {
    /// A count of SNMP traffic per timed scrape, when it was measured.
    pub fn snmp_per_scrape(&self, count: SnmpCount) -> Option<f64> {
        let traffic = self.snmp?;
        let total = match count {
            SnmpCount::Packets => traffic.packets,
            SnmpCount::Pdus => traffic.pdus,
        };
        Some(total as f64 / self.scrapes.max(1) as f64)
    }

    /// Upstream API calls per scrape.
    pub fn calls_per_scrape(&self) -> f64 {
        self.stats.requests as f64 / self.scrapes as f64
    }

    /// Per-item upstream calls per scrape.
    pub fn per_item_calls_per_scrape(&self) -> f64 {
        self.stats.per_item_requests as f64 / self.scrapes as f64
    }

    /// Mean CPU time (user + system) per timed scrape.
    pub fn cpu_per_scrape(&self) -> Duration {
        ticks_to_duration(self.cpu_ticks) / self.scrapes.max(1) as u32
    }
}

/// One row of results: a variant, the binary's measurement, and the incumbent's if measured.
#[derive(Debug, Clone)]
pub struct Row {
    /// The variant measured.
    pub variant: Variant,
    /// The Portkey binary.
    pub ours: Measurement,
    /// The incumbent, with `--with-incumbent`.
    pub theirs: Option<Measurement>,
}

impl Row {
    /// Incumbent median / binary median, when the incumbent was measured.
    pub fn speedup(&self) -> Option<f64> {
        let theirs = self.theirs.as_ref()?;
        Some(theirs.latency.median.as_secs_f64() / self.ours.latency.median.as_secs_f64().max(1e-9))
    }
}

/// Options of `cargo xtask bench`.
#[derive(Debug, Clone)]
pub struct Options {
    /// The case name (one of [`case_names`]).
    pub case: String,
    /// Timed scrapes per variant.
    pub scrapes: usize,
    /// Also measure the incumbent.
    pub with_incumbent: bool,
}

/// Fills `{config}`, `{listen}` and `{target}` in arguments and paths.
pub fn expand(template: &str, config: &Path, listen: &str, target: &str) -> String {
    template
        .replace("{config}", &config.display().to_string())
        .replace("{listen}", listen)
        .replace("{target}", target)
}

/// Runs one case and prints its tables.
pub fn run(options: &Options) -> Result<()> {
    let case = CASES
        .iter()
        .find(|case| case.name == options.case)
        .ok_or_else(|| {
            anyhow!(
                "unknown case {:?}; known: {}",
                options.case,
                case_names().join(", ")
            )
        })?;
    if options.scrapes < MIN_SCRAPES {
        bail!(
            "--scrapes {} is too few for a median and a p95; use at least {MIN_SCRAPES}",
            options.scrapes
        );
    }
    let scrapes = options.scrapes.max(case.min_scrapes);
    if scrapes != options.scrapes {
        println!(
            "==> the {} specification asks for at least {} timed scrapes: using {scrapes} instead of {}",
            case.binary, case.min_scrapes, options.scrapes
        );
    }
    let workspace = Workspace::load()?;
    let mut needed = vec![case.binary];
    if matches!(case.upstream, Upstream::Simulator { .. }) {
        needed.push(SIMULATOR_BINARY);
    }
    for needed in &needed {
        if !workspace.has_binary(needed) {
            bail!(
                "case {} needs the {needed} binary, which is not in the workspace yet",
                case.name
            );
        }
    }
    let bench_dir = workspace.target_dir.join("bench");
    std::fs::create_dir_all(&bench_dir)
        .with_context(|| format!("creating {}", bench_dir.display()))?;
    let mut not_measured = NOT_ASKED.to_owned();
    let incumbent = match (options.with_incumbent, case.incumbent) {
        (false, _) => None,
        (true, None) => bail!("case {} has no incumbent that runs here", case.name),
        (true, Some(incumbent)) => match find_incumbent(&incumbent, &bench_dir)? {
            Some(installed) => Some((incumbent, installed)),
            None => {
                if let Install::Debian {
                    package,
                    executable,
                } = incumbent.install
                {
                    not_measured = missing_package_note(package, executable);
                }
                None
            }
        },
    };

    workspace.build(&needed, true)?;
    let binary_path = workspace.binary_path("release", case.binary);
    let config_path = match &case.config {
        Some(file) => write_config(&bench_dir, file)?,
        None => PathBuf::new(),
    };
    let incumbent = match incumbent {
        None => None,
        Some((incumbent, mut installed)) => {
            installed.config = incumbent_config(&incumbent, &binary_path, &bench_dir)?;
            Some((incumbent, installed))
        }
    };
    let logs = bench_dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    println!("==> logs of the processes under test: {}", logs.display());

    let setup = Setup {
        case,
        scrapes,
        binary: &binary_path,
        config: &config_path,
        incumbent: incumbent.as_ref(),
        bench_dir: &bench_dir,
        logs: &logs,
    };
    let (rows, context) = match case.upstream {
        Upstream::Simulator {
            name,
            per_item_call,
        } => {
            let simulator = workspace.binary_path("release", SIMULATOR_BINARY);
            (
                run_with_simulator(&setup, &simulator, name, per_item_call)?,
                Vec::new(),
            )
        }
        Upstream::Snmpd => run_with_snmpd(&setup)?,
    };

    println!();
    let incumbent = match &incumbent {
        Some((incumbent, installed)) => Ok(installed.version.as_deref().unwrap_or(incumbent.label)),
        None => Err(not_measured.as_str()),
    };
    print!("{}", report(case, incumbent, &context, scrapes, &rows));
    Ok(())
}

/// Printed under the report's title when `--with-incumbent` was not given.
const NOT_ASKED: &str = "(add --with-incumbent to measure the program it replaces)";

/// What every run of a case shares.
struct Setup<'a> {
    case: &'a Case,
    scrapes: usize,
    binary: &'a Path,
    config: &'a Path,
    incumbent: Option<&'a (Incumbent, Installed)>,
    bench_dir: &'a Path,
    logs: &'a Path,
}

impl Setup<'_> {
    fn log(&self, program: &Path) -> PathBuf {
        let name = program.file_name().unwrap_or(program.as_os_str());
        self.logs.join(format!("{}.log", name.to_string_lossy()))
    }
}

/// Each variant with a fresh simulator per program, the binary first, then the incumbent.
fn run_with_simulator(
    setup: &Setup<'_>,
    simulator: &Path,
    simulator_name: &str,
    per_item_call: fn(&str) -> bool,
) -> Result<Vec<Row>> {
    let case = setup.case;
    let mut rows = Vec::new();
    for variant in case.variants {
        println!("==> {} [{}]: {}", case.name, variant.label, case.binary);
        let ours = measure(
            &Subject {
                simulator,
                simulator_name,
                simulator_args: variant.simulator_args.to_vec(),
                control: Control::Plain,
                program: setup.binary,
                args: case.args,
                config: setup.config,
                scrape_path: case.scrape_path,
                per_item_call,
                log: setup.log(setup.binary),
            },
            setup.scrapes,
        )
        .with_context(|| format!("{} [{}]", case.binary, variant.label))?;
        let theirs = match setup.incumbent {
            None => None,
            Some((incumbent, installed)) => {
                println!("==> {} [{}]: {}", case.name, variant.label, incumbent.label);
                let mut simulator_args = variant.simulator_args.to_vec();
                simulator_args.extend_from_slice(incumbent.simulator_args);
                let control = match (&installed.python, incumbent.simulator_tls) {
                    (Some(python), true) => Control::TlsViaPython(python.clone()),
                    (None, true) => bail!("{} needs TLS control via a venv", incumbent.label),
                    (_, false) => Control::Plain,
                };
                Some(
                    measure(
                        &Subject {
                            simulator,
                            simulator_name,
                            simulator_args,
                            control,
                            program: &installed.executable,
                            args: incumbent.args,
                            config: &installed.config,
                            scrape_path: incumbent.scrape_path.unwrap_or(case.scrape_path),
                            per_item_call,
                            log: setup.log(&installed.executable),
                        },
                        setup.scrapes,
                    )
                    .with_context(|| format!("{} [{}]", incumbent.label, variant.label))?,
                )
            }
        };
        rows.push(Row {
            variant: *variant,
            ours,
            theirs,
        });
    }
    Ok(rows)
}

/// The complete printed report after all variants ran; `incumbent` is its label when it was
/// measured, else why not.
/// `context` lines (agent, versions, CPUs) follow the title.
pub fn report(
    case: &Case,
    incumbent: Result<&str, &str>,
    context: &[String],
    scrapes: usize,
    rows: &[Row],
) -> String {
    let mut out = String::new();
    match case.upstream {
        Upstream::Simulator { .. } => {
            out += &format!(
                "==> bench {}: 1 warm-up + {scrapes} timed scrapes per row, {}\n",
                case.name, case.scrape_path
            );
        }
        Upstream::Snmpd => {
            out += &format!(
                "==> bench {}: one snmpd, 1 warm-up + {scrapes} interleaved timed scrapes per program, {}\n",
                case.name, case.scrape_path
            );
        }
    }
    match incumbent {
        Ok(label) => out += &format!("    incumbent = {label}\n"),
        Err(note) => out += &format!("    {note}\n"),
    }
    for line in context {
        out += &format!("    {line}\n");
    }
    out += "\n";
    out += &latency_table(case, rows);
    out += "\n";
    match case.upstream {
        Upstream::Simulator { .. } => out += &cost_table(case, rows),
        Upstream::Snmpd => out += &snmp_cost_table(case, rows),
    }
    out += "\n";
    if let Some(table) = burst_table(case, rows) {
        out += &table;
        out += "\n";
    }
    let scaling = scaling_report(case, rows);
    for line in &scaling {
        out += line;
        out += "\n";
    }
    if !scaling.is_empty() {
        out += "\n";
    }
    out += &format!("targets (spec §6, {}):\n", case.binary);
    for check in check_targets(case, rows) {
        out += &format!("  {:<6} {}\n", check.verdict.word(), check.text);
    }
    out += "\n";
    match case.upstream {
        Upstream::Simulator { .. } => out += &markdown_summary(case, rows),
        Upstream::Snmpd => out += &snmp_markdown_summary(case, rows),
    }
    out
}

const VARIANT_WIDTH: usize = 24;
const PROGRAM_WIDTH: usize = 13;

fn program_rows<'a>(case: &Case, row: &'a Row) -> Vec<(&'static str, &'a Measurement)> {
    let mut programs = vec![(case.binary, &row.ours)];
    if let Some(theirs) = &row.theirs {
        programs.push(("incumbent", theirs));
    }
    programs
}

/// Latency per variant and program, with the incumbent's ratio.
pub fn latency_table(case: &Case, rows: &[Row]) -> String {
    let mut out = String::from("latency (request sent to last body byte)\n");
    out += &format!(
        "{:<VARIANT_WIDTH$} {:<PROGRAM_WIDTH$} {:>10} {:>10} {:>10} {:>10} {:>9}\n",
        "variant", "program", "median", "min", "max", "p95", "ratio"
    );
    for row in rows {
        for (index, (program, measurement)) in program_rows(case, row).into_iter().enumerate() {
            let label = if index == 0 { row.variant.label } else { "" };
            let ratio = if index == 0 {
                String::new()
            } else {
                row.speedup()
                    .map_or_else(String::new, |ratio| format!("{ratio:.1}x"))
            };
            let latency = measurement.latency;
            out += &format!(
                "{:<VARIANT_WIDTH$} {:<PROGRAM_WIDTH$} {:>10} {:>10} {:>10} {:>10} {:>9}\n",
                label,
                program,
                format_duration(latency.median),
                format_duration(latency.min),
                format_duration(latency.max),
                format_duration(latency.p95),
                ratio,
            );
        }
    }
    if rows.iter().any(|row| row.theirs.is_some()) {
        out += &format!("ratio = incumbent median / {} median\n", case.binary);
    }
    out
}

/// Upstream calls, output size, CPU and memory per variant and program.
pub fn cost_table(case: &Case, rows: &[Row]) -> String {
    let mut out = String::from("cost per scrape, and memory after the run\n");
    out += &format!(
        "{:<VARIANT_WIDTH$} {:<PROGRAM_WIDTH$} {:>9} {:>9} {:>5} {:>7} {:>9} {:>9} {:>10} {:>10}\n",
        "variant",
        "program",
        "calls",
        format!("{}s", case.size_unit),
        "conc",
        "lines",
        "bytes",
        "CPU",
        "VmRSS",
        "VmHWM"
    );
    for row in rows {
        for (index, (program, measurement)) in program_rows(case, row).into_iter().enumerate() {
            let label = if index == 0 { row.variant.label } else { "" };
            out += &format!(
                "{:<VARIANT_WIDTH$} {:<PROGRAM_WIDTH$} {:>9} {:>9} {:>5} {:>7} {:>9} {:>9} {:>10} {:>10}\n",
                label,
                program,
                format_count(measurement.calls_per_scrape()),
                format_count(measurement.per_item_calls_per_scrape()),
                measurement.stats.peak_concurrency,
                measurement.output.lines,
                measurement.output.bytes,
                format_duration(measurement.cpu_per_scrape()),
                format_mib(measurement.after.rss_bytes),
                format_mib(measurement.after.peak_rss_bytes),
            );
        }
    }
    out += &format!(
        "calls = upstream API calls per scrape, of them {}s = per-{} calls; conc = peak concurrent calls;\n\
         lines/bytes = one exposition; CPU = user+system time per timed scrape; VmRSS after the last\n\
         scrape, VmHWM = peak; CPU and memory summed over the process tree (incumbent: gunicorn workers)\n",
        case.size_unit, case.size_unit
    );
    out
}

/// SNMP traffic, output size, CPU and memory per variant and program (real-agent cases).
pub fn snmp_cost_table(case: &Case, rows: &[Row]) -> String {
    let mut out = String::from("cost per scrape, and memory after the timed scrapes\n");
    out += &format!(
        "{:<VARIANT_WIDTH$} {:<PROGRAM_WIDTH$} {:>8} {:>8} {:>7} {:>9} {:>9} {:>10} {:>10}\n",
        "variant", "program", "packets", "PDUs", "lines", "bytes", "CPU", "VmRSS", "VmHWM"
    );
    let count = |measurement: &Measurement, count: SnmpCount| {
        measurement
            .snmp_per_scrape(count)
            .map_or_else(|| "–".to_owned(), format_count)
    };
    for row in rows {
        for (index, (program, measurement)) in program_rows(case, row).into_iter().enumerate() {
            let label = if index == 0 { row.variant.label } else { "" };
            out += &format!(
                "{:<VARIANT_WIDTH$} {:<PROGRAM_WIDTH$} {:>8} {:>8} {:>7} {:>9} {:>9} {:>10} {:>10}\n",
                label,
                program,
                count(measurement, SnmpCount::Packets),
                count(measurement, SnmpCount::Pdus),
                measurement.output.lines,
                measurement.output.bytes,
                format_duration(measurement.cpu_per_scrape()),
                format_mib(measurement.after.rss_bytes),
                format_mib(measurement.after.peak_rss_bytes),
            );
        }
    }
    out += "packets = SNMP request datagrams per scrape, retries included (the exporter's own\n\
            snmp_packets_total); PDUs = varbinds returned per scrape (snmp_scrape_pdus_returned);\n\
            lines/bytes = one exposition; CPU = user+system time per timed scrape; VmRSS after the\n\
            last timed scrape, VmHWM = peak until then (before the burst)\n";
    out
}

/// The concurrent burst per variant and program, if any row has one.
pub fn burst_table(case: &Case, rows: &[Row]) -> Option<String> {
    let spec = rows
        .iter()
        .find_map(|row| row.ours.burst.as_ref())
        .map(|burst| burst.spec)?;
    let mut out = format!(
        "burst: {} scrapes at {}-way concurrency, each program alone\n",
        spec.scrapes, spec.concurrency
    );
    out += &format!(
        "{:<VARIANT_WIDTH$} {:<PROGRAM_WIDTH$} {:>8} {:>7} {:>9} {:>10} {:>10} {:>10}\n",
        "variant", "program", "answered", "failed", "scrapes/s", "median", "p95", "max"
    );
    let mut failures = Vec::new();
    for row in rows {
        for (index, (program, measurement)) in program_rows(case, row).into_iter().enumerate() {
            let Some(burst) = &measurement.burst else {
                continue;
            };
            let label = if index == 0 { row.variant.label } else { "" };
            let latency = |pick: fn(&Summary) -> Duration| {
                burst
                    .latency
                    .as_ref()
                    .map_or_else(|| "–".to_owned(), |summary| format_duration(pick(summary)))
            };
            out += &format!(
                "{:<VARIANT_WIDTH$} {:<PROGRAM_WIDTH$} {:>8} {:>7} {:>9.0} {:>10} {:>10} {:>10}\n",
                label,
                program,
                burst.spec.scrapes - burst.failures,
                burst.failures,
                burst.throughput(),
                latency(|s| s.median),
                latency(|s| s.p95),
                latency(|s| s.max),
            );
            if let Some(first) = &burst.first_failure {
                failures.push(format!("{program}: first failure: {first}"));
            }
        }
    }
    for failure in failures {
        out += &failure;
        out += "\n";
    }
    Some(out)
}

/// Per-item cost of one series at increasing sizes.
#[derive(Debug, Clone, PartialEq)]
pub struct Scaling {
    /// The series name.
    pub series: &'static str,
    /// Sizes in increasing order.
    pub sizes: Vec<u64>,
    /// Median latency / size, in seconds.
    pub time_per_item: Vec<f64>,
    /// Exposition bytes / size.
    pub bytes_per_item: Vec<f64>,
    /// Added median latency / added size between neighbouring sizes, in seconds.
    pub marginal_time: Vec<f64>,
    /// Added bytes / added size between neighbouring sizes.
    pub marginal_bytes: Vec<f64>,
}

/// Groups the binary's measurements by series and computes per-item and marginal costs; series
/// with fewer than two sizes are left out.
pub fn scaling(rows: &[Row]) -> Vec<Scaling> {
    let mut series: Vec<&'static str> = Vec::new();
    for row in rows {
        if !series.contains(&row.variant.series) {
            series.push(row.variant.series);
        }
    }
    let mut result = Vec::new();
    for name in series {
        let mut points: Vec<(u64, f64, f64)> = rows
            .iter()
            .filter(|row| row.variant.series == name && row.variant.size > 0)
            .map(|row| {
                (
                    row.variant.size,
                    row.ours.latency.median.as_secs_f64(),
                    row.ours.output.bytes as f64,
                )
            })
            .collect();
        points.sort_by_key(|point| point.0);
        points.dedup_by_key(|point| point.0);
        if points.len() < 2 {
            continue;
        }
        let marginal = |value: fn(&(u64, f64, f64)) -> f64| -> Vec<f64> {
            points
                .windows(2)
                .map(|pair| (value(&pair[1]) - value(&pair[0])) / (pair[1].0 - pair[0].0) as f64)
                .collect()
        };
        result.push(Scaling {
            series: name,
            sizes: points.iter().map(|point| point.0).collect(),
            time_per_item: points
                .iter()
                .map(|point| point.1 / point.0 as f64)
                .collect(),
            bytes_per_item: points
                .iter()
                .map(|point| point.2 / point.0 as f64)
                .collect(),
            marginal_time: marginal(|point| point.1),
            marginal_bytes: marginal(|point| point.2),
        });
    }
    result
}

/// The printed scaling report: one `scaling` line per series plus the per-item figures.
pub fn scaling_report(case: &Case, rows: &[Row]) -> Vec<String> {
    let unit = case.size_unit;
    let mut lines = Vec::new();
    for series in scaling(rows) {
        let sizes = join(series.sizes.iter().map(u64::to_string));
        let steps = series
            .sizes
            .windows(2)
            .map(|pair| format!("{}→{}", pair[0], pair[1]))
            .collect::<Vec<_>>()
            .join(", ");
        lines.push(format!(
            "scaling {} [{}] per {unit} at {sizes} {unit}s: {} µs, {} B; \
             per added {unit} ({steps}): {} µs, {} B",
            case.binary,
            series.series,
            join(
                series
                    .time_per_item
                    .iter()
                    .map(|s| format!("{:.1}", s * 1e6))
            ),
            join(series.bytes_per_item.iter().map(|b| format!("{b:.0}"))),
            join(
                series
                    .marginal_time
                    .iter()
                    .map(|s| format!("{:.1}", s * 1e6))
            ),
            join(series.marginal_bytes.iter().map(|b| format!("{b:.0}"))),
        ));
    }
    if !lines.is_empty() {
        lines.push(format!(
            "(linear: the per-added-{unit} figures stay flat as the size grows; a super-linear term makes them climb)"
        ));
    }
    lines
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join("/")
}

/// Whether a target was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Met in this run.
    Met,
    /// Missed in this run.
    Missed,
    /// Not measured in this run (variant not run, or no incumbent).
    Skipped,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "MISSED",
            Verdict::Skipped => "n/a",
        }
    }

    fn of(met: bool) -> Self {
        if met { Verdict::Met } else { Verdict::Missed }
    }
}

/// One checked target.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The outcome.
    pub verdict: Verdict,
    /// The target and what was measured.
    pub text: String,
}

/// Checks each of the case's targets against the rows.
pub fn check_targets(case: &Case, rows: &[Row]) -> Vec<Check> {
    let find = |variant: &str| rows.iter().find(|row| row.variant.label == variant);
    case.targets
        .iter()
        .map(|target| match *target {
            Target::Speedup { variant, factor } => {
                let text = if factor > 1.0 {
                    format!("[{variant}] median at least {factor}x lower than the incumbent's")
                } else {
                    format!("[{variant}] median below the incumbent's")
                };
                match find(variant).and_then(|row| Some((row, row.speedup()?))) {
                    None => Check {
                        verdict: Verdict::Skipped,
                        text: format!("{text}: not measured"),
                    },
                    Some((row, ratio)) => Check {
                        verdict: Verdict::of(ratio >= factor),
                        text: format!(
                            "{text}: {ratio:.1}x ({} vs {})",
                            format_duration(row.ours.latency.median),
                            format_duration(
                                row.theirs
                                    .as_ref()
                                    .map_or(Duration::ZERO, |theirs| theirs.latency.median)
                            )
                        ),
                    },
                }
            }
            Target::RssBelow { variant, bytes } => {
                let text = format!(
                    "[{variant}] VmRSS after the run below {}",
                    format_mib(bytes)
                );
                match find(variant) {
                    None => Check {
                        verdict: Verdict::Skipped,
                        text: format!("{text}: not measured"),
                    },
                    Some(row) => Check {
                        verdict: Verdict::of(row.ours.after.rss_bytes < bytes),
                        text: format!(
                            "{text}: {} (VmHWM {})",
                            format_mib(row.ours.after.rss_bytes),
                            format_mib(row.ours.after.peak_rss_bytes)
                        ),
                    },
                }
            }
            Target::LatencyRatio { variant, at_most } => {
                let text = format!(
                    "[{variant}] median latency {} / incumbent ≤ {at_most:.1}",
                    case.binary
                );
                match find(variant).and_then(|row| Some((row, row.theirs.as_ref()?))) {
                    None => Check {
                        verdict: Verdict::Skipped,
                        text: format!("{text}: not measured (no incumbent)"),
                    },
                    Some((row, theirs)) => {
                        let ratio = row.ours.latency.median.as_secs_f64()
                            / theirs.latency.median.as_secs_f64().max(1e-9);
                        Check {
                            verdict: Verdict::of(ratio <= at_most),
                            text: format!(
                                "{text}: {ratio:.2} ({} vs {})",
                                format_duration(row.ours.latency.median),
                                format_duration(theirs.latency.median)
                            ),
                        }
                    }
                }
            }
            Target::MemoryRatio {
                variant,
                at_most,
                peak,
            } => {
                let (what, pick): (&str, fn(&TreeUsage) -> u64) = if peak {
                    ("VmHWM", |usage| usage.peak_rss_bytes)
                } else {
                    ("VmRSS after the run", |usage| usage.rss_bytes)
                };
                let text = format!(
                    "[{variant}] {what} {} / incumbent ≤ {at_most:.1}",
                    case.binary
                );
                match find(variant).and_then(|row| Some((row, row.theirs.as_ref()?))) {
                    None => Check {
                        verdict: Verdict::Skipped,
                        text: format!("{text}: not measured (no incumbent)"),
                    },
                    Some((row, theirs)) => {
                        let (ours, theirs) = (pick(&row.ours.after), pick(&theirs.after));
                        let ratio = ours as f64 / theirs.max(1) as f64;
                        Check {
                            verdict: Verdict::of(ratio <= at_most),
                            text: format!(
                                "{text}: {ratio:.2} ({} vs {})",
                                format_mib(ours),
                                format_mib(theirs)
                            ),
                        }
                    }
                }
            }
            Target::SnmpAtMostIncumbent { variant, count } => {
                let text = format!("[{variant}] {} at most the incumbent's", count.name());
                let measured = find(variant).and_then(|row| {
                    Some((
                        row.ours.snmp_per_scrape(count)?,
                        row.theirs.as_ref()?.snmp_per_scrape(count)?,
                    ))
                });
                match measured {
                    None => Check {
                        verdict: Verdict::Skipped,
                        text: format!("{text}: not measured (no incumbent)"),
                    },
                    Some((ours, theirs)) => Check {
                        verdict: Verdict::of(ours <= theirs),
                        text: format!("{text}: {} vs {}", format_count(ours), format_count(theirs)),
                    },
                }
            }
            Target::BurstComplete { variant } => {
                let burst = find(variant).and_then(|row| row.ours.burst.as_ref());
                match burst {
                    None => Check {
                        verdict: Verdict::Skipped,
                        text: format!("[{variant}] concurrent burst: not measured"),
                    },
                    Some(burst) => Check {
                        verdict: Verdict::of(burst.failures == 0),
                        text: format!(
                            "[{variant}] {} scrapes at {}-way concurrency all answered 200: {}/{}",
                            burst.spec.scrapes,
                            burst.spec.concurrency,
                            burst.spec.scrapes - burst.failures,
                            burst.spec.scrapes
                        ),
                    },
                }
            }
            Target::BurstP95 { variant } => {
                let text =
                    format!("[{variant}] p95 of the concurrent burst at most the incumbent's");
                let p95s = find(variant).and_then(|row| {
                    Some((
                        row.ours.burst.as_ref()?.latency?.p95,
                        row.theirs.as_ref()?.burst.as_ref()?.latency?.p95,
                    ))
                });
                match p95s {
                    None => Check {
                        verdict: Verdict::Skipped,
                        text: format!("{text}: not measured (no incumbent)"),
                    },
                    Some((ours, theirs)) => Check {
                        verdict: Verdict::of(ours <= theirs),
                        text: format!(
                            "{text}: {} vs {}",
                            format_duration(ours),
                            format_duration(theirs)
                        ),
                    },
                }
            }
            Target::FixedCalls { fixed } => {
                let text = format!(
                    "[every variant] calls per scrape = {fixed} + one per {}",
                    case.size_unit
                );
                if rows.is_empty() {
                    return Check {
                        verdict: Verdict::Skipped,
                        text: format!("{text}: not measured"),
                    };
                }
                let off: Vec<String> = rows
                    .iter()
                    .filter_map(|row| {
                        let stats = row.ours.stats;
                        let expected = fixed * row.ours.scrapes as u64 + stats.per_item_requests;
                        (stats.requests != expected).then(|| {
                            format!(
                                "{}: {} calls in {} scrapes, expected {expected}",
                                row.variant.label, stats.requests, row.ours.scrapes
                            )
                        })
                    })
                    .collect();
                if off.is_empty() {
                    Check {
                        verdict: Verdict::Met,
                        text: format!("{text}: all {} variants", rows.len()),
                    }
                } else {
                    Check {
                        verdict: Verdict::Missed,
                        text: format!("{text}: {}", off.join("; ")),
                    }
                }
            }
        })
        .collect()
}

/// A Markdown table of the headline figures, for the README.
pub fn markdown_summary(case: &Case, rows: &[Row]) -> String {
    let mut out = String::from("Markdown summary:\n\n");
    out += &format!(
        "| variant | {} median | incumbent median | ratio | {} VmRSS after run | calls/scrape ({} / incumbent) |\n",
        case.binary, case.binary, case.binary
    );
    out += "|---|---:|---:|---:|---:|---:|\n";
    for row in rows {
        let theirs = row.theirs.as_ref();
        out += &format!(
            "| {} | {} | {} | {} | {} | {} / {} |\n",
            row.variant.label,
            format_duration(row.ours.latency.median),
            theirs.map_or_else(|| "–".to_owned(), |m| format_duration(m.latency.median)),
            row.speedup()
                .map_or_else(|| "–".to_owned(), |ratio| format!("{ratio:.1}×")),
            format_mib(row.ours.after.rss_bytes),
            format_count(row.ours.calls_per_scrape()),
            theirs.map_or_else(|| "–".to_owned(), |m| format_count(m.calls_per_scrape())),
        );
    }
    out
}

/// A Markdown table of every measure of a real-agent case, with the spec's target where it has
/// one, for the README.
pub fn snmp_markdown_summary(case: &Case, rows: &[Row]) -> String {
    let mut out = String::from("Markdown summary:\n\n");
    let checks = check_targets(case, rows);
    for row in rows {
        // The spec's limit and this run's verdict for a measure of this row.
        let target = |measure: Judged| -> String {
            case.targets
                .iter()
                .zip(&checks)
                .filter(|(target, _)| target_variant(target) == Some(row.variant.label))
                .find_map(|(target, check)| {
                    let (judged, limit) = judged_by(target)?;
                    (judged == measure).then(|| format!("≤ {limit:.1} ({})", check.verdict.word()))
                })
                .unwrap_or_else(|| "–".to_owned())
        };
        let theirs = row.theirs.as_ref();
        out += &format!(
            "| {} | {} | incumbent | {} / incumbent | target |\n|---|---:|---:|---:|---|\n",
            row.variant.label, case.binary, case.binary
        );
        let mut line = |measure: &str,
                        ours: f64,
                        theirs: Option<f64>,
                        show: &dyn Fn(f64) -> String,
                        judged: Judged| {
            out += &format!(
                "| {measure} | {} | {} | {} | {} |\n",
                show(ours),
                theirs.map_or_else(|| "–".to_owned(), show),
                theirs.map_or_else(
                    || "–".to_owned(),
                    |theirs| format!("{:.2}", ours / theirs.max(1e-12))
                ),
                target(judged),
            );
        };
        let ms = |seconds: f64| format_duration(Duration::from_secs_f64(seconds));
        let mib = |bytes: f64| format_mib(bytes as u64);
        let seconds = |duration: Duration| duration.as_secs_f64();
        line(
            "median scrape latency",
            seconds(row.ours.latency.median),
            theirs.map(|m| seconds(m.latency.median)),
            &ms,
            Judged::Median,
        );
        line(
            "p95 scrape latency",
            seconds(row.ours.latency.p95),
            theirs.map(|m| seconds(m.latency.p95)),
            &ms,
            Judged::Nothing,
        );
        line(
            "VmRSS after the run",
            row.ours.after.rss_bytes as f64,
            theirs.map(|m| m.after.rss_bytes as f64),
            &mib,
            Judged::Rss,
        );
        line(
            "VmHWM (peak)",
            row.ours.after.peak_rss_bytes as f64,
            theirs.map(|m| m.after.peak_rss_bytes as f64),
            &mib,
            Judged::Hwm,
        );
        for count in [SnmpCount::Packets, SnmpCount::Pdus] {
            if let Some(ours) = row.ours.snmp_per_scrape(count) {
                line(
                    count.name(),
                    ours,
                    theirs.and_then(|m| m.snmp_per_scrape(count)),
                    &format_count,
                    Judged::Snmp(count),
                );
            }
        }
        line(
            "CPU per scrape",
            seconds(row.ours.cpu_per_scrape()),
            theirs.map(|m| seconds(m.cpu_per_scrape())),
            &ms,
            Judged::Nothing,
        );
        if let Some(burst) = &row.ours.burst {
            let p95 = |b: &Burst| b.latency.map_or(f64::NAN, |s| s.p95.as_secs_f64());
            let their_burst = theirs.and_then(|m| m.burst.as_ref());
            line(
                &format!("p95 at {}-way concurrency", burst.spec.concurrency),
                p95(burst),
                their_burst.map(p95),
                &ms,
                Judged::BurstP95,
            );
            line(
                &format!("scrapes/s at {}-way concurrency", burst.spec.concurrency),
                burst.throughput(),
                their_burst.map(Burst::throughput),
                &|rate| format!("{rate:.0}"),
                Judged::Nothing,
            );
        }
        out += "\n";
    }
    out
}

/// The measure a line of [`snmp_markdown_summary`] shows, to find the target that judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Judged {
    Median,
    Rss,
    Hwm,
    Snmp(SnmpCount),
    BurstP95,
    /// No target judges this measure.
    Nothing,
}

/// The measure a ratio target judges, and its limit on binary / incumbent.
fn judged_by(target: &Target) -> Option<(Judged, f64)> {
    match *target {
        Target::LatencyRatio { at_most, .. } => Some((Judged::Median, at_most)),
        Target::MemoryRatio {
            at_most,
            peak: false,
            ..
        } => Some((Judged::Rss, at_most)),
        Target::MemoryRatio {
            at_most,
            peak: true,
            ..
        } => Some((Judged::Hwm, at_most)),
        Target::SnmpAtMostIncumbent { count, .. } => Some((Judged::Snmp(count), 1.0)),
        Target::BurstP95 { .. } => Some((Judged::BurstP95, 1.0)),
        Target::Speedup { .. }
        | Target::RssBelow { .. }
        | Target::FixedCalls { .. }
        | Target::BurstComplete { .. } => None,
    }
}

/// The variant a target names, if it names one.
fn target_variant(target: &Target) -> Option<&'static str> {
    match *target {
        Target::Speedup { variant, .. }
        | Target::LatencyRatio { variant, .. }
        | Target::RssBelow { variant, .. }
        | Target::MemoryRatio { variant, .. }
        | Target::SnmpAtMostIncumbent { variant, .. }
        | Target::BurstComplete { variant }
        | Target::BurstP95 { variant } => Some(variant),
        Target::FixedCalls { .. } => None,
    }
}

/// Milliseconds with one decimal, the resolution that matters for scrapes.
pub fn format_duration(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

/// Mebibytes with one decimal.
pub fn format_mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB as f64)
}

/// A per-scrape count: whole numbers without decimals, others with one.
pub fn format_count(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

fn write_config(dir: &Path, file: &ConfigFile) -> Result<PathBuf> {
    let path = dir.join(file.name);
    std::fs::write(&path, file.contents).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// How to reach a simulator's control API.
#[derive(Debug, Clone)]
enum Control {
    /// Plain HTTP, with xtask's own client.
    Plain,
    /// HTTPS with the simulator's self-signed certificate. xtask's client is plain-HTTP only, and
    /// the incumbent's venv is there anyway, so its Python's standard library makes the call.
    TlsViaPython(PathBuf),
}

const PYTHON_CONTROL_CALL: &str = "\
import ssl, sys, urllib.request
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
method, url = sys.argv[1], sys.argv[2]
request = urllib.request.Request(url, method=method, data=b'' if method == 'POST' else None)
with urllib.request.urlopen(request, context=context, timeout=30) as response:
    sys.stdout.write(response.read().decode())
";

impl Control {
    fn call(&self, method: &str, port: u16, path: &str) -> Result<String> {
        match self {
            Control::Plain => {
                let url = format!("http://127.0.0.1:{port}{path}");
                let response = match method {
                    "POST" => http::post(&url, SCRAPE_TIMEOUT)?,
                    _ => http::get(&url, SCRAPE_TIMEOUT)?,
                };
                if response.status != 200 {
                    bail!("{method} {url} answered {}", response.status);
                }
                Ok(response.body_text())
            }
            Control::TlsViaPython(python) => {
                let url = format!("https://127.0.0.1:{port}{path}");
                let output = Command::new(python)
                    .args(["-c", PYTHON_CONTROL_CALL, method, &url])
                    .output()
                    .with_context(|| format!("running {}", python.display()))?;
                if !output.status.success() {
                    bail!(
                        "{method} {url} failed: {}",
                        String::from_utf8_lossy(&output.stderr).trim()
                    );
                }
                Ok(String::from_utf8_lossy(&output.stdout).into_owned())
            }
        }
    }
}

/// One program under test with its own simulator.
struct Subject<'a> {
    simulator: &'a Path,
    simulator_name: &'a str,
    simulator_args: Vec<&'a str>,
    control: Control,
    program: &'a Path,
    args: &'a [&'a str],
    config: &'a Path,
    scrape_path: &'a str,
    per_item_call: fn(&str) -> bool,
    log: PathBuf,
}

fn measure(subject: &Subject<'_>, scrapes: usize) -> Result<Measurement> {
    let mut children = Children::new();
    let output = Output::File(subject.log.clone());

    let simulator_port = free_port()?;
    let mut simulator_args = vec![
        subject.simulator_name.to_owned(),
        "--listen".to_owned(),
        format!("127.0.0.1:{simulator_port}"),
    ];
    simulator_args.extend(subject.simulator_args.iter().map(|arg| (*arg).to_owned()));
    children.spawn("simulator", subject.simulator, &simulator_args, &output)?;
    children.wait_for_port("simulator", simulator_port, START_TIMEOUT)?;

    let port = free_port()?;
    let listen = format!("127.0.0.1:{port}");
    let target = format!("127.0.0.1:{simulator_port}");
    let args: Vec<String> = subject
        .args
        .iter()
        .map(|arg| expand(arg, subject.config, &listen, &target))
        .collect();
    let pid = children.spawn("program under test", subject.program, &args, &output)?;
    children.wait_for_port("program under test", port, START_TIMEOUT)?;

    let url = format!(
        "http://{listen}{}",
        expand(subject.scrape_path, subject.config, &listen, &target)
    );
    scrape(&url).context("warm-up scrape")?;
    subject
        .control
        .call("POST", simulator_port, "/_sim/reset")?;

    let before = tree_usage(pid)?;
    let mut latencies = Vec::with_capacity(scrapes);
    let mut last_body = Vec::new();
    for index in 0..scrapes {
        let (elapsed, body) = scrape(&url).with_context(|| format!("scrape {}", index + 1))?;
        latencies.push(elapsed);
        last_body = body;
    }
    let after = tree_usage(pid)?;
    let stats = parse_simulator_stats(
        &subject.control.call("GET", simulator_port, "/_sim/stats")?,
        subject.per_item_call,
    )?;
    children.stop_all();

    let measurement = Measurement {
        latency: summarize(&latencies).ok_or_else(|| anyhow!("no scrapes were made"))?,
        stats,
        scrapes,
        output: ExpositionSize::of(&last_body),
        after,
        cpu_ticks: after.cpu_ticks.saturating_sub(before.cpu_ticks),
        snmp: None,
        burst: None,
    };
    println!(
        "    median {}  {:.1} calls/scrape  {} bytes  CPU {}/scrape  VmRSS {}  VmHWM {}  (process tree of {})",
        format_duration(measurement.latency.median),
        measurement.calls_per_scrape(),
        measurement.output.bytes,
        format_duration(measurement.cpu_per_scrape()),
        format_mib(after.rss_bytes),
        format_mib(after.peak_rss_bytes),
        after.processes,
    );
    Ok(measurement)
}

/// One timed scrape: the time from sending the request to the last body byte, and the body.
/// Anything but a 200 fails the bench, since timing errors measures nothing.
///
/// The request asks the server to close the connection, so the response ends at EOF; the bytes
/// are collected unparsed until then and parsed once afterwards, which keeps the client's own
/// work linear in the body size and out of the measured time.
fn scrape(url: &str) -> Result<(Duration, Vec<u8>)> {
    let parsed = http::parse_url(url)?;
    let started = Instant::now();
    let mut stream = TcpStream::connect(&parsed.authority)
        .with_context(|| format!("connecting to {}", parsed.authority))?;
    stream.set_nodelay(true).ok();
    stream.set_read_timeout(Some(SCRAPE_TIMEOUT))?;
    stream.set_write_timeout(Some(SCRAPE_TIMEOUT))?;
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: portkey-xtask-bench\r\nAccept: */*\r\n\
         Connection: close\r\n\r\n",
        parsed.path, parsed.authority
    )
    .with_context(|| format!("sending GET {url}"))?;
    let mut raw = Vec::with_capacity(256 * 1024);
    stream
        .read_to_end(&mut raw)
        .with_context(|| format!("reading the answer to GET {url}"))?;
    let elapsed = started.elapsed();
    let response = http::parse_response(&raw, true)
        .with_context(|| format!("GET {url}"))?
        .ok_or_else(|| anyhow!("GET {url}: incomplete response"))?;
    if response.status != 200 {
        let body = response.body_text();
        let excerpt: String = body.lines().take(5).collect::<Vec<_>>().join("\n    ");
        bail!("GET {url} answered {}:\n    {excerpt}", response.status);
    }
    Ok((elapsed, response.body))
}

/// The agent's config: a read-only v2c community for 127.0.0.1 only, as the snmp-exporter tests
/// configure theirs (spec snmp-exporter §5), minus the write community and v3 user they need.
pub fn snmpd_conf(port: u16) -> String {
    format!("agentAddress udp:127.0.0.1:{port}\nrocommunity public 127.0.0.1\n")
}

/// One exporter under test in a real-agent case, with what its timed scrapes collected.
struct Program {
    name: String,
    pid: u32,
    port: u16,
    url: String,
    latencies: Vec<Duration>,
    traffic: SnmpTraffic,
    packets_before: u64,
    before: TreeUsage,
    after: TreeUsage,
    last_body: Vec<u8>,
    burst: Option<Burst>,
}

impl Program {
    #[allow(clippy::too_many_arguments)]
    fn start(
        children: &mut Children,
        name: &str,
        program: &Path,
        args: &[&str],
        config: &Path,
        scrape_path: &str,
        target: &str,
        log: PathBuf,
    ) -> Result<Program> {
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let args: Vec<String> = args
            .iter()
            .map(|arg| expand(arg, config, &listen, target))
            .collect();
        let pid = children.spawn(name, program, &args, &Output::File(log))?;
        children.wait_for_port(name, port, START_TIMEOUT)?;
        Ok(Program {
            name: name.to_owned(),
            pid,
            port,
            url: format!(
                "http://{listen}{}",
                expand(scrape_path, config, &listen, target)
            ),
            latencies: Vec::new(),
            traffic: SnmpTraffic::default(),
            packets_before: 0,
            before: TreeUsage::default(),
            after: TreeUsage::default(),
            last_body: Vec::new(),
            burst: None,
        })
    }

    /// `snmp_packets_total` from the exporter's own `/metrics`.
    fn packets_total(&self) -> Result<u64> {
        let url = format!("http://127.0.0.1:{}/metrics", self.port);
        let response = http::get(&url, SCRAPE_TIMEOUT)?;
        if response.status != 200 {
            bail!("GET {url} answered {}", response.status);
        }
        sample_value(&response.body_text(), "snmp_packets_total")
            .map(|value| value as u64)
            .ok_or_else(|| anyhow!("{} exposes no snmp_packets_total at {url}", self.name))
    }

    /// One scrape, timed, with its SNMP accounting.
    fn scrape(&mut self) -> Result<()> {
        let (elapsed, body) = scrape(&self.url)?;
        let text = String::from_utf8_lossy(&body);
        let count = |name: &str| {
            sample_value(&text, name)
                .map(|value| value as u64)
                .ok_or_else(|| anyhow!("{}'s answer has no {name}", self.name))
        };
        self.traffic.pdus += count("snmp_scrape_pdus_returned")?;
        self.traffic.packets_in_answers += count("snmp_scrape_packets_sent")?;
        self.latencies.push(elapsed);
        self.last_body = body;
        Ok(())
    }

    fn measurement(&self, scrapes: usize) -> Result<Measurement> {
        Ok(Measurement {
            latency: summarize(&self.latencies)
                .ok_or_else(|| anyhow!("{}: no scrapes were made", self.name))?,
            stats: SimulatorStats::default(),
            scrapes,
            output: ExpositionSize::of(&self.last_body),
            after: self.after,
            cpu_ticks: self.after.cpu_ticks.saturating_sub(self.before.cpu_ticks),
            snmp: Some(self.traffic),
            burst: self.burst.clone(),
        })
    }
}

/// The value of an unlabelled sample `name` in a text exposition.
pub fn sample_value(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(' ')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// Which program scrapes first in each round of an interleaved run: the order flips every
/// round (A B, B A, A B, ...), so neither program always meets the agent's caches first.
pub fn round_order(round: usize, programs: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..programs).collect();
    if round % 2 == 1 {
        order.reverse();
    }
    order
}

/// One real agent shared by the binary and the incumbent, their timed scrapes interleaved, then a
/// concurrent burst for each alone. Returns the one row and the report's context lines.
fn run_with_snmpd(setup: &Setup<'_>) -> Result<(Vec<Row>, Vec<String>)> {
    let case = setup.case;
    let [variant] = case.variants else {
        bail!("case {} must have exactly one variant", case.name);
    };
    let snmpd = find_program("snmpd").ok_or_else(|| {
        anyhow!(
            "case {} needs net-snmp's snmpd (Debian package snmpd); run .ci/install-tools",
            case.name
        )
    })?;
    let mut children = Children::new();
    let agent_port = start_snmpd(
        &mut children,
        &snmpd,
        &setup.bench_dir.join("snmpd"),
        setup.logs.join("snmpd.log"),
    )?;
    let target = format!("127.0.0.1:{agent_port}");

    let mut programs = vec![Program::start(
        &mut children,
        case.binary,
        setup.binary,
        case.args,
        setup.config,
        case.scrape_path,
        &target,
        setup.log(setup.binary),
    )?];
    if let Some((incumbent, installed)) = setup.incumbent {
        programs.push(Program::start(
            &mut children,
            "incumbent",
            &installed.executable,
            incumbent.args,
            &installed.config,
            incumbent.scrape_path.unwrap_or(case.scrape_path),
            &target,
            setup.log(&installed.executable),
        )?);
    }

    println!(
        "==> {} [{}]: 1 warm-up + {} timed scrapes per program, interleaved",
        case.name, variant.label, setup.scrapes
    );
    for program in &mut programs {
        program
            .scrape()
            .with_context(|| format!("{}: warm-up scrape", program.name))?;
        if program.traffic.pdus == 0 {
            bail!(
                "{}: the warm-up scrape returned no PDUs; is snmpd answering on {target}? (see {})",
                program.name,
                setup.logs.display()
            );
        }
        program.latencies.clear();
        program.traffic = SnmpTraffic::default();
        program.packets_before = program.packets_total()?;
        program.before = tree_usage(program.pid)?;
    }
    for round in 0..setup.scrapes {
        for index in round_order(round, programs.len()) {
            let program = &mut programs[index];
            program
                .scrape()
                .with_context(|| format!("{}: scrape {}", program.name, round + 1))?;
        }
    }
    for program in &mut programs {
        program.after = tree_usage(program.pid)?;
        program.traffic.packets = program
            .packets_total()?
            .saturating_sub(program.packets_before);
    }
    if let Some(spec) = case.burst {
        for program in &mut programs {
            println!(
                "==> {} [{}]: {} scrapes at {}-way concurrency: {}",
                case.name, variant.label, spec.scrapes, spec.concurrency, program.name
            );
            program.burst = Some(burst(&program.url, spec));
        }
    }
    children.stop_all();

    let mut notes = Vec::new();
    let interfaces = sample_value(&String::from_utf8_lossy(&programs[0].last_body), "ifNumber");
    // `snmpd -v` prints "NET-SNMP version:  5.9.3" among other lines.
    let agent_version = program_version(&snmpd, "-v")
        .and_then(|line| Some(line.split_once("version:")?.1.trim().to_owned()))
        .unwrap_or_else(|| "?".to_owned());
    notes.push(format!(
        "agent: net-snmp snmpd {agent_version} on udp {target}, v2c community public, {} interfaces; {} CPUs",
        interfaces.map_or_else(|| "?".to_owned(), format_count),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    ));
    notes.push(format!(
        "{}: {} (embedded default config); URL {}",
        case.binary,
        program_version(setup.binary, "--version").unwrap_or_default(),
        case.scrape_path
    ));
    if let Some((incumbent, installed)) = setup.incumbent {
        notes.push(format!(
            "incumbent: {} with {} (the `{}` module printed by {}); URL {}",
            installed.version.as_deref().unwrap_or(incumbent.label),
            installed.config.display(),
            match incumbent.config {
                IncumbentConfig::PrintedByBinary { keep, .. } => keep,
                IncumbentConfig::File(file) => file.name,
            },
            case.binary,
            incumbent.scrape_path.unwrap_or(case.scrape_path)
        ));
    }
    for program in &programs {
        if program.traffic.packets != program.traffic.packets_in_answers {
            notes.push(format!(
                "note: {}'s snmp_packets_total rose by {} over the timed scrapes, its answers' \
                 snmp_scrape_packets_sent add up to {}",
                program.name, program.traffic.packets, program.traffic.packets_in_answers
            ));
        }
    }

    let ours = programs[0].measurement(setup.scrapes)?;
    let theirs = match programs.get(1) {
        Some(program) => Some(program.measurement(setup.scrapes)?),
        None => None,
    };
    for (program, measurement) in programs.iter().zip([Some(&ours), theirs.as_ref()]) {
        let Some(measurement) = measurement else {
            continue;
        };
        println!(
            "    {:<13} median {}  p95 {}  {} packets/scrape  {} PDUs/scrape  VmRSS {}  VmHWM {}",
            program.name,
            format_duration(measurement.latency.median),
            format_duration(measurement.latency.p95),
            format_count(
                measurement
                    .snmp_per_scrape(SnmpCount::Packets)
                    .unwrap_or(0.0)
            ),
            format_count(measurement.snmp_per_scrape(SnmpCount::Pdus).unwrap_or(0.0)),
            format_mib(measurement.after.rss_bytes),
            format_mib(measurement.after.peak_rss_bytes),
        );
    }
    Ok((
        vec![Row {
            variant: *variant,
            ours,
            theirs,
        }],
        notes,
    ))
}

/// Starts snmpd in the foreground on a free UDP port of 127.0.0.1 with [`snmpd_conf`], its state
/// in `dir`, as the tests do: `-C` ignores the system config, `-I -smux,...` keeps it off TCP 199
/// and quiet, and as root it drops to `nobody` after binding, as it is meant to run. Returns the
/// port once the agent answers a GET.
fn start_snmpd(children: &mut Children, snmpd: &Path, dir: &Path, log: PathBuf) -> Result<u16> {
    let persist = dir.join("persist");
    std::fs::create_dir_all(&persist).with_context(|| format!("creating {}", persist.display()))?;
    let port = free_udp_port()?;
    let conf = dir.join("snmpd.conf");
    std::fs::write(&conf, snmpd_conf(port))
        .with_context(|| format!("writing {}", conf.display()))?;
    let mut args: Vec<std::ffi::OsString> = vec!["-f".into(), "-C".into(), "-c".into()];
    args.push(conf.into());
    args.push("-Lf".into());
    args.push(log.clone().into());
    args.extend(["-I".into(), "-smux,mteTrigger,mteTriggerConf".into()]);
    if is_root() {
        use std::os::unix::fs::PermissionsExt as _;
        for path in [dir, persist.as_path()] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777))
                .with_context(|| format!("opening {} to nobody", path.display()))?;
        }
        args.extend(["-u".into(), "nobody".into()]);
    }
    children.spawn_with_env(
        "snmpd",
        snmpd,
        &args,
        &[("SNMP_PERSISTENT_DIR", persist.as_os_str())],
        &Output::File(log),
    )?;
    let deadline = Instant::now() + START_TIMEOUT;
    let mut request_id = 1;
    loop {
        if agent_answers(port, request_id) {
            return Ok(port);
        }
        if let Some((exited, status)) = children.first_exited()? {
            bail!("{exited} exited ({status}) before answering on udp 127.0.0.1:{port}");
        }
        if Instant::now() >= deadline {
            bail!("snmpd did not answer on udp 127.0.0.1:{port} within {START_TIMEOUT:?}");
        }
        request_id = request_id.wrapping_add(1);
    }
}

/// Whether the agent answers one SNMPv2c GET of sysUpTime.0 within 200 ms.
fn agent_answers(port: u16, request_id: u8) -> bool {
    let Ok(socket) = UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    let sent = socket
        .connect(("127.0.0.1", port))
        .and_then(|()| socket.set_read_timeout(Some(Duration::from_millis(200))))
        .and_then(|()| socket.send(&snmp_get_probe(request_id)));
    let mut buffer = [0u8; 1500];
    match sent.and_then(|_| socket.recv(&mut buffer)) {
        Ok(length) => length > 0 && buffer[0] == 0x30,
        Err(_) => {
            // Refused (not bound yet) comes back at once: do not spin.
            std::thread::sleep(Duration::from_millis(50));
            false
        }
    }
}

/// A BER-encoded SNMPv2c GetRequest for sysUpTime.0 (1.3.6.1.2.1.1.3.0), community `public`.
pub fn snmp_get_probe(request_id: u8) -> Vec<u8> {
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        // Every part of this message is shorter than 128 bytes: one length byte.
        let mut out = vec![tag, content.len() as u8];
        out.extend_from_slice(content);
        out
    }
    let oid = [0x2b, 6, 1, 2, 1, 1, 3, 0];
    let varbind = [tlv(0x06, &oid), tlv(0x05, &[])].concat();
    let varbinds = tlv(0x30, &tlv(0x30, &varbind));
    let pdu = [
        tlv(0x02, &[request_id]),
        tlv(0x02, &[0]), // error-status
        tlv(0x02, &[0]), // error-index
        varbinds,
    ]
    .concat();
    let message = [
        tlv(0x02, &[1]), // version: 1 = v2c
        tlv(0x04, b"public"),
        tlv(0xa0, &pdu), // GetRequest-PDU
    ]
    .concat();
    tlv(0x30, &message)
}

/// `spec.scrapes` scrapes of `url`, `spec.concurrency` at a time, each thread taking the next one
/// as soon as its last answer is in.
fn burst(url: &str, spec: BurstSpec) -> Burst {
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<Result<Duration, String>>> = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..spec.concurrency {
            scope.spawn(|| {
                while next.fetch_add(1, Ordering::SeqCst) < spec.scrapes {
                    let outcome = scrape(url)
                        .map(|(elapsed, _)| elapsed)
                        .map_err(|error| format!("{error:#}"));
                    outcomes
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .push(outcome);
                }
            });
        }
    });
    let wall = started.elapsed();
    let outcomes = outcomes
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let latencies: Vec<Duration> = outcomes.iter().filter_map(|o| o.clone().ok()).collect();
    Burst {
        spec,
        failures: spec.scrapes - latencies.len(),
        first_failure: outcomes.into_iter().find_map(Result::err),
        wall,
        latency: summarize(&latencies),
    }
}

/// Paths of an incumbent that can run here.
#[derive(Debug)]
struct Installed {
    /// The venv's Python (pip installs only), for HTTPS control calls.
    python: Option<PathBuf>,
    executable: PathBuf,
    /// Its config file, once written.
    config: PathBuf,
    /// Its own version line, when it prints one.
    version: Option<String>,
}

/// Installs (pip) or finds (Debian) the incumbent; `None`, after a printed note, when a system
/// package is missing and tools are not required.
fn find_incumbent(incumbent: &Incumbent, bench_dir: &Path) -> Result<Option<Installed>> {
    match incumbent.install {
        Install::Pip {
            requirement,
            executable,
        } => install_with_pip(requirement, executable, bench_dir).map(Some),
        Install::Debian {
            package,
            executable,
        } => {
            let Some(path) = find_program(executable) else {
                if tools_required() {
                    bail!(
                        "{executable} is required ({REQUIRE_TOOLS}=1) but not installed; \
                         run .ci/install-tools (Debian package {package})"
                    );
                }
                println!("==> {}", missing_package_note(package, executable));
                return Ok(None);
            };
            let version = program_version(&path, "--version")
                .map(|line| format!("{package}: {line}"))
                .unwrap_or_else(|| incumbent.label.to_owned());
            println!("==> incumbent {version} ({})", path.display());
            Ok(Some(Installed {
                python: None,
                executable: path,
                config: PathBuf::new(),
                version: Some(version),
            }))
        }
    }
}

/// What the bench prints when a Debian incumbent is not installed.
pub fn missing_package_note(package: &str, executable: &str) -> String {
    format!(
        "note: {executable} is not installed, so only the Portkey binary is measured; \
         `apt-get install {package}` (or .ci/install-tools) adds the incumbent"
    )
}

/// The variable that turns a missing external tool into a failure (CI sets it), as in the tests.
const REQUIRE_TOOLS: &str = "PORTKEY_REQUIRE_TOOLS";

fn tools_required() -> bool {
    matches!(
        std::env::var(REQUIRE_TOOLS).as_deref(),
        Ok("1") | Ok("true")
    )
}

/// The first non-empty line a program prints for `flag`, on stdout or stderr (Go's kingpin
/// prints versions on stderr).
fn program_version(program: &Path, flag: &str) -> Option<String> {
    let output = Command::new(program).arg(flag).output().ok()?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(str::to_owned)
}

/// Writes the incumbent's config file and returns its path.
fn incumbent_config(incumbent: &Incumbent, binary: &Path, bench_dir: &Path) -> Result<PathBuf> {
    match incumbent.config {
        IncumbentConfig::File(file) => write_config(bench_dir, &file),
        IncumbentConfig::PrintedByBinary { name, args, keep } => {
            let output = Command::new(binary)
                .args(args)
                .output()
                .with_context(|| format!("running {}", binary.display()))?;
            if !output.status.success() {
                bail!(
                    "{} {} failed: {}",
                    binary.display(),
                    args.join(" "),
                    String::from_utf8_lossy(&output.stderr).trim()
                );
            }
            let printed = String::from_utf8(output.stdout)
                .with_context(|| format!("{} printed non-UTF-8", binary.display()))?;
            let contents = keep_top_level_key(&printed, keep).ok_or_else(|| {
                anyhow!(
                    "{} {} printed no top-level {keep:?}",
                    binary.display(),
                    args.join(" ")
                )
            })?;
            let path = bench_dir.join(name);
            std::fs::write(&path, contents)
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(path)
        }
    }
}

/// The block of a block-style YAML document under the top-level key `key` (the key line and
/// every following line up to the next top-level key), or `None` when there is no such key.
pub fn keep_top_level_key(yaml: &str, key: &str) -> Option<String> {
    let header = format!("{key}:");
    let mut kept = String::new();
    let mut inside = false;
    for line in yaml.lines() {
        let top_level = !line.is_empty() && !line.starts_with([' ', '\t', '#', '-']);
        if top_level {
            inside = line == header || line.starts_with(&format!("{header} "));
        }
        if inside {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    (!kept.is_empty()).then_some(kept)
}

fn install_with_pip(requirement: &str, executable: &str, bench_dir: &Path) -> Result<Installed> {
    let venv = bench_dir.join("venv");
    let python = venv.join("bin").join("python");
    let executable = venv.join("bin").join(executable);
    let pip_works = Command::new("python3")
        .args(["-m", "pip", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !pip_works {
        bail!("--with-incumbent needs python3 with pip (`python3 -m pip --version` failed)");
    }
    if !python.exists() {
        println!("==> creating {}", venv.display());
        run_checked(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    // pip is quick when the pinned requirement is already satisfied, so always ask it.
    println!("==> pip install {requirement}");
    run_checked(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        requirement,
    ]))?;
    if !executable.exists() {
        bail!("{requirement} did not install {}", executable.display());
    }
    Ok(Installed {
        python: Some(python),
        executable,
        config: PathBuf::new(),
        version: None,
    })
}

fn run_checked(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("running {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_millis(v)).collect()
    }

    fn pve() -> &'static Case {
        CASES.iter().find(|case| case.name == "pve").unwrap()
    }

    fn variant(label: &str) -> Variant {
        *pve()
            .variants
            .iter()
            .find(|variant| variant.label == label)
            .unwrap()
    }

    /// A measurement of 20 scrapes with the given median, RSS and calls.
    fn measurement(median_ms: u64, rss_mib: u64, requests: u64, per_item: u64) -> Measurement {
        Measurement {
            latency: summarize(&ms(&[median_ms])).unwrap(),
            stats: SimulatorStats {
                requests,
                peak_concurrency: 4,
                per_item_requests: per_item,
            },
            scrapes: 20,
            output: ExpositionSize {
                lines: 100,
                bytes: 1000,
            },
            after: TreeUsage {
                rss_bytes: rss_mib * MIB,
                peak_rss_bytes: (rss_mib + 1) * MIB,
                cpu_ticks: 1234,
                processes: 1,
            },
            cpu_ticks: 40,
            snmp: None,
            burst: None,
        }
    }

    fn row(label: &str, ours: Measurement, theirs: Option<Measurement>) -> Row {
        Row {
            variant: variant(label),
            ours,
            theirs,
        }
    }

    #[test]
    fn summary_of_odd_count() {
        let summary = summarize(&ms(&[5, 1, 3])).unwrap();
        assert_eq!(summary.median, Duration::from_millis(3));
        assert_eq!(summary.p95, Duration::from_millis(5));
        assert_eq!(summary.min, Duration::from_millis(1));
        assert_eq!(summary.max, Duration::from_millis(5));
    }

    #[test]
    fn summary_of_even_count_averages_the_middle() {
        let summary = summarize(&ms(&[4, 1, 3, 2])).unwrap();
        assert_eq!(summary.median, Duration::from_micros(2500));
        assert_eq!(summary.p95, Duration::from_millis(4));
        assert_eq!(
            (summary.min, summary.max),
            (Duration::from_millis(1), Duration::from_millis(4))
        );
    }

    #[test]
    fn p95_uses_nearest_rank() {
        // 1..=20: rank ceil(0.95 * 20) = 19.
        let samples: Vec<u64> = (1..=20).collect();
        let summary = summarize(&ms(&samples)).unwrap();
        assert_eq!(summary.p95, Duration::from_millis(19));
        assert_eq!(summary.median, Duration::from_micros(10_500));
        assert_eq!(summary.max, Duration::from_millis(20));
        // 1..=100: rank 95.
        let samples: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(
            summarize(&ms(&samples)).unwrap().p95,
            Duration::from_millis(95)
        );
        // Ten samples (the fewest the bench accepts): rank 10, the maximum.
        let samples: Vec<u64> = (1..=10).collect();
        assert_eq!(
            summarize(&ms(&samples)).unwrap().p95,
            Duration::from_millis(10)
        );
        // One sample is its own everything.
        let single = summarize(&ms(&[7])).unwrap();
        assert_eq!(
            (single.median, single.min, single.max, single.p95),
            (
                Duration::from_millis(7),
                Duration::from_millis(7),
                Duration::from_millis(7),
                Duration::from_millis(7)
            )
        );
    }

    #[test]
    fn empty_summary() {
        assert_eq!(summarize(&[]), None);
    }

    #[test]
    fn parses_simulator_stats() {
        let stats = parse_simulator_stats(
            r#"{"requests": 42, "peak_concurrency": 4, "in_flight": 0, "paths": {
                "/api2/json/cluster/status": 2,
                "/api2/json/nodes/shire/qemu/100/config": 20,
                "/api2/json/nodes/shire/lxc/101/config": 20
            }}"#,
            is_pve_guest_config_call,
        )
        .unwrap();
        assert_eq!(
            stats,
            SimulatorStats {
                requests: 42,
                peak_concurrency: 4,
                per_item_requests: 40,
            }
        );
        let no_paths = parse_simulator_stats(
            r#"{"requests": 3, "peak_concurrency": 1}"#,
            is_pve_guest_config_call,
        )
        .unwrap();
        assert_eq!(no_paths.per_item_requests, 0);
        let never = |_: &str| false;
        assert!(parse_simulator_stats(r#"{"requests": 1}"#, never).is_err());
        assert!(parse_simulator_stats("not json", never).is_err());
        assert!(
            parse_simulator_stats(r#"{"requests": -1, "peak_concurrency": 1}"#, never).is_err()
        );
        assert!(
            parse_simulator_stats(
                r#"{"requests": 1, "peak_concurrency": 1, "paths": {"/nodes/a/qemu/1/config": "x"}}"#,
                is_pve_guest_config_call
            )
            .is_err()
        );
    }

    #[test]
    fn recognises_guest_config_calls() {
        for path in [
            "/api2/json/nodes/shire/qemu/100/config",
            "/api2/json/nodes/shire/lxc/12345/config",
            "/nodes/rivendell/qemu/7/config",
            "/api2/json/nodes/shire/qemu/100/config?current=1",
        ] {
            assert!(is_pve_guest_config_call(path), "{path}");
        }
        for path in [
            "/api2/json/nodes/shire/qemu",
            "/api2/json/nodes/shire/qemu/100/status/current",
            "/api2/json/nodes/shire/storage/100/config",
            "/api2/json/nodes/shire/qemu/abc/config",
            "/api2/json/cluster/config/qdevice",
            "/api2/json/nodes/shire/replication",
            "",
        ] {
            assert!(!is_pve_guest_config_call(path), "{path}");
        }
    }

    #[test]
    fn exposition_size_counts_lines_and_bytes() {
        assert_eq!(ExpositionSize::of(b""), ExpositionSize::default());
        assert_eq!(
            ExpositionSize::of(b"# HELP a x\n# TYPE a gauge\na 1\n"),
            ExpositionSize {
                lines: 3,
                bytes: 30
            }
        );
        assert_eq!(
            ExpositionSize::of(b"a 1\nb 2"),
            ExpositionSize { lines: 2, bytes: 7 }
        );
    }

    #[test]
    fn expands_placeholders() {
        let config = Path::new("/t/bench/pve.yml");
        assert_eq!(
            expand("{config}", config, "127.0.0.1:1", "127.0.0.1:2"),
            "/t/bench/pve.yml"
        );
        assert_eq!(
            expand("/pve?target={target}", config, "127.0.0.1:1", "127.0.0.1:2"),
            "/pve?target=127.0.0.1:2"
        );
        assert_eq!(
            expand("{listen}", config, "127.0.0.1:1", "x"),
            "127.0.0.1:1"
        );
    }

    #[test]
    fn per_scrape_figures() {
        let measurement = Measurement {
            stats: SimulatorStats {
                requests: 30,
                peak_concurrency: 3,
                per_item_requests: 10,
            },
            cpu_ticks: 7,
            ..measurement(1, 1, 0, 0)
        };
        assert!((measurement.calls_per_scrape() - 1.5).abs() < f64::EPSILON);
        assert!((measurement.per_item_calls_per_scrape() - 0.5).abs() < f64::EPSILON);
        // 7 ticks = 70 ms over 20 scrapes; the tree's total ticks since start do not count.
        assert_eq!(measurement.cpu_per_scrape(), Duration::from_micros(3500));
    }

    #[test]
    fn speedup_is_incumbent_over_ours() {
        let alone = row("guests=60 latency=0ms", measurement(10, 5, 0, 0), None);
        assert_eq!(alone.speedup(), None);
        let both = row(
            "guests=60 latency=0ms",
            measurement(10, 5, 0, 0),
            Some(measurement(50, 70, 0, 0)),
        );
        assert!((both.speedup().unwrap() - 5.0).abs() < 1e-9);
    }

    #[test]
    fn pve_case_covers_the_agreed_grid() {
        let case = pve();
        let labels: Vec<_> = case.variants.iter().map(|v| v.label).collect();
        assert_eq!(
            labels,
            [
                "guests=60 latency=0ms",
                "guests=60 latency=5ms",
                "guests=500 latency=0ms",
                "guests=500 latency=5ms",
                "guests=2000 latency=0ms",
                "guests=2000 latency=5ms"
            ]
        );
        // Each variant's size, series and flags agree with its label.
        for variant in case.variants {
            let guests = variant.size.to_string();
            let latency = variant
                .series
                .trim_start_matches("latency=")
                .trim_end_matches("ms");
            assert_eq!(
                variant.simulator_args,
                ["--guests", guests.as_str(), "--latency-ms", latency],
                "{}",
                variant.label
            );
            assert_eq!(
                variant.label,
                format!("guests={} {}", variant.size, variant.series)
            );
        }
        // Every target names a variant that is run.
        for target in case.targets {
            if let Target::Speedup { variant, .. } | Target::RssBelow { variant, .. } = target {
                assert!(labels.contains(variant), "{target:?}");
            }
        }
        assert!(case.scrape_path.contains("cluster=1&node=1"));
        let incumbent = case.incumbent.unwrap();
        let IncumbentConfig::File(file) = incumbent.config else {
            panic!("the pve incumbent has a fixed config file");
        };
        assert!(!file.contents.contains("scheme"));
        assert!(case.config.unwrap().contents.contains("scheme: http"));
    }

    #[test]
    fn scaling_is_per_series_and_marginal() {
        let with = |label: &str, median_ms: u64, bytes: u64| {
            let mut ours = measurement(median_ms, 5, 0, 0);
            ours.output.bytes = bytes;
            row(label, ours, None)
        };
        let rows = [
            with("guests=60 latency=0ms", 6, 60_000),
            with("guests=60 latency=5ms", 100, 60_000),
            with("guests=500 latency=0ms", 28, 280_000),
            with("guests=2000 latency=0ms", 103, 1_030_000),
        ];
        let result = scaling(&rows);
        // latency=5ms has one size only: nothing to compare.
        assert_eq!(result.len(), 1);
        let series = &result[0];
        assert_eq!(series.series, "latency=0ms");
        assert_eq!(series.sizes, [60, 500, 2000]);
        let close = |a: &[f64], b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
        };
        assert!(close(&series.bytes_per_item, &[1000.0, 560.0, 515.0]));
        assert!(close(&series.marginal_bytes, &[500.0, 500.0]));
        assert!(close(&series.marginal_time, &[50e-6, 50e-6]));
        assert!(close(&series.time_per_item, &[100e-6, 56e-6, 51.5e-6]));

        let lines = scaling_report(pve(), &rows);
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            "scaling pve-exporter [latency=0ms] per guest at 60/500/2000 guests: \
             100.0/56.0/51.5 µs, 1000/560/515 B; \
             per added guest (60→500, 500→2000): 50.0/50.0 µs, 500/500 B"
        );
        assert!(scaling_report(pve(), &rows[..1]).is_empty());
    }

    #[test]
    fn targets_are_checked() {
        let case = pve();
        // 2000/5ms: 6x faster, 12 MiB; 2000/0ms: slower than the incumbent, 16 MiB, one extra call.
        let rows = [
            row(
                "guests=2000 latency=5ms",
                measurement(500, 12, 20 * 9 + 6000, 6000),
                Some(measurement(3000, 99, 0, 0)),
            ),
            row(
                "guests=2000 latency=0ms",
                measurement(900, 16, 20 * 9 + 6001, 6000),
                Some(measurement(800, 99, 0, 0)),
            ),
        ];
        let checks = check_targets(case, &rows);
        let verdicts: Vec<_> = checks.iter().map(|check| check.verdict).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Met,
                Verdict::Missed,
                Verdict::Missed,
                Verdict::Met,
                Verdict::Missed
            ],
            "{checks:#?}"
        );
        assert!(
            checks[0].text.contains("6.0x (500.0 ms vs 3000.0 ms)"),
            "{}",
            checks[0].text
        );
        assert!(checks[2].text.contains("16.0 MiB"), "{}", checks[2].text);
        assert!(
            checks[4]
                .text
                .contains("guests=2000 latency=0ms: 6181 calls in 20 scrapes, expected 6180"),
            "{}",
            checks[4].text
        );

        // Without the incumbent the speedups are not measured; nothing at all, nothing checked.
        let alone = [row(
            "guests=2000 latency=5ms",
            measurement(500, 12, 20 * 9, 0),
            None,
        )];
        let verdicts: Vec<_> = check_targets(case, &alone)
            .iter()
            .map(|check| check.verdict)
            .collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Skipped,
                Verdict::Skipped,
                Verdict::Skipped,
                Verdict::Met,
                Verdict::Met
            ]
        );
        assert!(
            check_targets(case, &[])
                .iter()
                .all(|check| check.verdict == Verdict::Skipped)
        );
    }

    #[test]
    fn tables_and_summary_render() {
        let case = pve();
        let rows = [
            row(
                "guests=60 latency=0ms",
                measurement(5, 7, 20 * 9 + 200, 200),
                Some(measurement(50, 70, 20 * 30, 200)),
            ),
            row(
                "guests=500 latency=0ms",
                measurement(20, 9, 20 * 9, 0),
                None,
            ),
        ];
        let latency = latency_table(case, &rows);
        let lines: Vec<&str> = latency.lines().collect();
        assert!(lines[1].starts_with("variant"), "{latency}");
        assert!(
            lines[2].starts_with("guests=60 latency=0ms    pve-exporter"),
            "{latency}"
        );
        assert!(
            lines[3].starts_with("                         incumbent"),
            "{latency}"
        );
        assert!(lines[3].trim_end().ends_with("10.0x"), "{latency}");
        assert!(latency.contains("ratio = incumbent median / pve-exporter median"));
        // Header and data columns line up.
        assert_eq!(lines[1].len(), lines[2].len(), "{latency}");

        let cost = cost_table(case, &rows);
        let lines: Vec<&str> = cost.lines().collect();
        assert!(lines[1].contains("guests"), "{cost}");
        assert_eq!(lines[1].len(), lines[2].len(), "{cost}");
        // 19 calls per scrape, 10 of them per guest, 20 ms CPU, 7 MiB now, 8 MiB peak.
        let fields: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            fields[3..],
            [
                "19", "10", "4", "100", "1000", "20.0", "ms", "7.0", "MiB", "8.0", "MiB"
            ],
            "{cost}"
        );

        let markdown = markdown_summary(case, &rows);
        assert!(
            markdown.contains(
                "| guests=60 latency=0ms | 5.0 ms | 50.0 ms | 10.0× | 7.0 MiB | 19 / 30 |"
            ),
            "{markdown}"
        );
        assert!(
            markdown.contains("| guests=500 latency=0ms | 20.0 ms | – | – | 9.0 MiB | 9 / – |"),
            "{markdown}"
        );

        let full = report(case, Ok("prometheus-pve-exporter 3.10.2"), &[], 20, &rows);
        assert!(full.starts_with(
            "==> bench pve: 1 warm-up + 20 timed scrapes per row, /pve?target={target}&cluster=1&node=1\n"
        ));
        for part in [
            "latency (",
            "cost per scrape",
            "scaling pve-exporter [latency=0ms]",
            "targets (spec §6",
            "Markdown summary",
        ] {
            assert!(full.contains(part), "{part} missing:\n{full}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(format_duration(Duration::from_micros(1234)), "1.2 ms");
        assert_eq!(format_mib(15 * MIB), "15.0 MiB");
        assert_eq!(format_mib(MIB / 2), "0.5 MiB");
        assert_eq!(format_count(69.0), "69");
        assert_eq!(format_count(69.25), "69.2");
    }

    fn snmp() -> &'static Case {
        CASES.iter().find(|case| case.name == "snmp").unwrap()
    }

    /// A measurement of 200 interleaved scrapes against a real agent.
    fn snmp_measurement(
        median_ms: u64,
        rss_mib: u64,
        packets: u64,
        pdus: u64,
        burst_p95_ms: u64,
        failures: usize,
    ) -> Measurement {
        let spec = snmp().burst.unwrap();
        Measurement {
            scrapes: 200,
            snmp: Some(SnmpTraffic {
                packets: packets * 200,
                pdus: pdus * 200,
                packets_in_answers: packets * 200,
            }),
            burst: Some(Burst {
                spec,
                failures,
                first_failure: (failures > 0).then(|| "GET x answered 500".to_owned()),
                wall: Duration::from_millis(250),
                latency: summarize(&ms(&[burst_p95_ms])),
            }),
            ..measurement(median_ms, rss_mib, 0, 0)
        }
    }

    fn snmp_row(ours: Measurement, theirs: Option<Measurement>) -> Row {
        Row {
            variant: snmp().variants[0],
            ours,
            theirs,
        }
    }

    #[test]
    fn snmp_case_follows_the_spec() {
        let case = snmp();
        assert!(matches!(case.upstream, Upstream::Snmpd));
        assert!(case.config.is_none(), "the embedded default config");
        assert!(case.args.contains(&"{listen}"));
        assert_eq!(
            case.scrape_path,
            "/snmp?target={target}&module=if_mib&auth=public_v2"
        );
        assert!(case.min_scrapes >= 200);
        assert_eq!(
            case.burst,
            Some(BurstSpec {
                scrapes: 200,
                concurrency: 10
            })
        );
        let [variant] = case.variants else {
            panic!("one variant")
        };
        for target in case.targets {
            assert_eq!(target_variant(target), Some(variant.label), "{target:?}");
        }
        let incumbent = case.incumbent.unwrap();
        assert!(matches!(
            incumbent.install,
            Install::Debian {
                executable: "prometheus-snmp-exporter",
                ..
            }
        ));
        let scrape_path = incumbent.scrape_path.unwrap();
        assert!(scrape_path.contains("module=if_mib") && !scrape_path.contains("auth="));
        assert!(
            matches!(
                incumbent.config,
                IncumbentConfig::PrintedByBinary {
                    args: ["--config.print-default=flat"],
                    keep: "if_mib",
                    ..
                }
            ),
            "{:?}",
            incumbent.config
        );
        let expanded: Vec<String> = incumbent
            .args
            .iter()
            .map(|arg| expand(arg, Path::new("/b/snmp.yml"), "127.0.0.1:9", "x"))
            .collect();
        assert_eq!(
            expanded,
            [
                "--config.file=/b/snmp.yml",
                "--web.listen-address=127.0.0.1:9"
            ]
        );
    }

    #[test]
    fn keeps_one_top_level_key() {
        let yaml = "# printed\nif_mib:\n  walk:\n  - 1.3.6.1.2.1.2\n  metrics:\n  - name: ifMtu\n\nsystem:\n  walk:\n  - 1.3.6.1.2.1.1\nif_mib_extra:\n  walk: []\n";
        assert_eq!(
            keep_top_level_key(yaml, "if_mib").unwrap(),
            "if_mib:\n  walk:\n  - 1.3.6.1.2.1.2\n  metrics:\n  - name: ifMtu\n\n"
        );
        assert_eq!(
            keep_top_level_key(yaml, "system").unwrap(),
            "system:\n  walk:\n  - 1.3.6.1.2.1.1\n"
        );
        assert_eq!(keep_top_level_key(yaml, "walk"), None);
        assert_eq!(keep_top_level_key(yaml, "if"), None);
    }

    #[test]
    fn reads_unlabelled_samples() {
        let text = "# HELP snmp_packets_total x\n# TYPE snmp_packets_total counter\n\
                    snmp_packets_total_created 1.7e+09\nsnmp_packets_total 1608\n\
                    snmp_scrape_pdus_returned{module=\"if_mib\"} 3\nsnmp_scrape_pdus_returned 162\n";
        assert_eq!(sample_value(text, "snmp_packets_total"), Some(1608.0));
        assert_eq!(sample_value(text, "snmp_scrape_pdus_returned"), Some(162.0));
        assert_eq!(sample_value(text, "snmp_packets"), None);
        assert_eq!(sample_value("x 1.5e+06 123\n", "x"), Some(1.5e6));
    }

    #[test]
    fn interleaving_flips_the_order_every_round() {
        assert_eq!(round_order(0, 2), [0, 1]);
        assert_eq!(round_order(1, 2), [1, 0]);
        assert_eq!(round_order(2, 2), [0, 1]);
        assert_eq!(round_order(7, 1), [0]);
    }

    #[test]
    fn snmpd_config_is_read_only_on_loopback() {
        assert_eq!(
            snmpd_conf(16161),
            "agentAddress udp:127.0.0.1:16161\nrocommunity public 127.0.0.1\n"
        );
    }

    #[test]
    fn probe_is_a_v2c_get_of_sys_up_time() {
        let expected: Vec<u8> = [
            // Message: version 1 (v2c), community "public".
            &[0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06][..],
            b"public",
            // GetRequest-PDU: request-id 7, error-status 0, error-index 0.
            &[
                0xa0, 0x19, 0x02, 0x01, 0x07, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00,
            ],
            // One varbind: 1.3.6.1.2.1.1.3.0 = NULL.
            &[
                0x30, 0x0e, 0x30, 0x0c, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01,
            ],
            &[0x03, 0x00, 0x05, 0x00],
        ]
        .concat();
        assert_eq!(snmp_get_probe(7), expected);
    }

    #[test]
    fn agent_probe_needs_an_answer() {
        let responder = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = responder.local_addr().unwrap().port();
        let echo = std::thread::spawn(move || {
            let mut buffer = [0u8; 1500];
            let (length, from) = responder.recv_from(&mut buffer).unwrap();
            assert_eq!(&buffer[..length], snmp_get_probe(3).as_slice());
            responder.send_to(&buffer[..length], from).unwrap();
        });
        assert!(agent_answers(port, 3));
        echo.join().unwrap();
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(!agent_answers(silent.local_addr().unwrap().port(), 1));
    }

    #[test]
    fn real_snmpd_starts_and_answers() {
        let Some(snmpd) = find_program("snmpd") else {
            assert!(!tools_required(), "snmpd is required ({REQUIRE_TOOLS}=1)");
            eprintln!("SKIPPED: snmpd is not installed; run .ci/install-tools");
            return;
        };
        let dir = std::env::temp_dir().join(format!("xtask-snmpd-{}", std::process::id()));
        let mut children = Children::new();
        let port = start_snmpd(&mut children, &snmpd, &dir, dir.join("snmpd.log")).unwrap();
        assert!(agent_answers(port, 9));
        children.stop_all();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn snmp_targets_are_checked() {
        let case = snmp();
        // Faster, 0.4× the memory, same traffic, clean burst with a lower p95.
        let good = [snmp_row(
            snmp_measurement(2, 6, 8, 162, 9, 0),
            Some(snmp_measurement(4, 15, 8, 162, 20, 0)),
        )];
        let checks = check_targets(case, &good);
        assert!(
            checks.iter().all(|check| check.verdict == Verdict::Met),
            "{checks:#?}"
        );
        assert!(
            checks[0].text.contains(
                "median latency snmp-exporter / incumbent ≤ 1.0: 0.50 (2.0 ms vs 4.0 ms)"
            ),
            "{}",
            checks[0].text
        );
        assert!(
            checks[1].text.contains("0.40 (6.0 MiB vs 15.0 MiB)"),
            "{}",
            checks[1].text
        );
        assert!(checks[2].text.contains("VmHWM"), "{}", checks[2].text);
        assert!(
            checks[3]
                .text
                .contains("PDUs per scrape at most the incumbent's: 162 vs 162")
        );
        assert!(checks[5].text.contains("200/200"), "{}", checks[5].text);

        // Slower, 0.6× the memory, one packet more, failures and a worse p95.
        let bad = [snmp_row(
            snmp_measurement(5, 9, 9, 162, 30, 2),
            Some(snmp_measurement(4, 15, 8, 162, 20, 0)),
        )];
        let verdicts: Vec<_> = check_targets(case, &bad)
            .iter()
            .map(|check| check.verdict)
            .collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Missed,
                Verdict::Missed,
                Verdict::Missed,
                Verdict::Met,
                Verdict::Missed,
                Verdict::Missed,
                Verdict::Missed
            ]
        );

        // Without the incumbent only the burst's completeness is judged.
        let alone = [snmp_row(snmp_measurement(2, 6, 8, 162, 9, 0), None)];
        let verdicts: Vec<_> = check_targets(case, &alone)
            .iter()
            .map(|check| check.verdict)
            .collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Skipped,
                Verdict::Skipped,
                Verdict::Skipped,
                Verdict::Skipped,
                Verdict::Skipped,
                Verdict::Met,
                Verdict::Skipped
            ]
        );
    }

    #[test]
    fn snmp_report_renders() {
        let case = snmp();
        let rows = [snmp_row(
            snmp_measurement(2, 6, 8, 162, 9, 0),
            Some(snmp_measurement(4, 15, 8, 162, 20, 1)),
        )];
        let cost = snmp_cost_table(case, &rows);
        let lines: Vec<&str> = cost.lines().collect();
        assert_eq!(lines[1].len(), lines[2].len(), "{cost}");
        let fields: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            fields[3..],
            [
                "8", "162", "100", "1000", "2.0", "ms", "6.0", "MiB", "7.0", "MiB"
            ],
            "{cost}"
        );

        let burst = burst_table(case, &rows).unwrap();
        assert!(
            burst.contains("200 scrapes at 10-way concurrency"),
            "{burst}"
        );
        let lines: Vec<&str> = burst.lines().collect();
        assert_eq!(lines[1].len(), lines[2].len(), "{burst}");
        // 200 answered in 250 ms: 800 scrapes/s; the incumbent's one failure is shown.
        assert!(lines[2].contains(" 800 "), "{burst}");
        assert!(
            burst.contains("incumbent: first failure: GET x answered 500"),
            "{burst}"
        );
        assert!(burst_table(pve(), &[]).is_none());

        let markdown = snmp_markdown_summary(case, &rows);
        for expected in [
            "| if_mib v2c | snmp-exporter | incumbent | snmp-exporter / incumbent | target |",
            "| median scrape latency | 2.0 ms | 4.0 ms | 0.50 | ≤ 1.0 (met) |",
            "| VmRSS after the run | 6.0 MiB | 15.0 MiB | 0.40 | ≤ 0.5 (met) |",
            "| VmHWM (peak) | 7.0 MiB | 16.0 MiB | 0.44 | ≤ 0.5 (met) |",
            "| SNMP packets per scrape | 8 | 8 | 1.00 | ≤ 1.0 (met) |",
            "| PDUs per scrape | 162 | 162 | 1.00 | ≤ 1.0 (met) |",
            "| p95 at 10-way concurrency | 9.0 ms | 20.0 ms | 0.45 | ≤ 1.0 (met) |",
            "| scrapes/s at 10-way concurrency | 800 | 796 | 1.01 | – |",
        ] {
            assert!(
                markdown.contains(expected),
                "{expected} missing:\n{markdown}"
            );
        }
        let alone = snmp_markdown_summary(
            case,
            &[snmp_row(snmp_measurement(2, 6, 8, 162, 9, 0), None)],
        );
        assert!(
            alone.contains("| median scrape latency | 2.0 ms | – | – | ≤ 1.0 (n/a) |"),
            "{alone}"
        );

        let context = ["agent: net-snmp snmpd 5.9.3".to_owned()];
        let full = report(case, Err(NOT_ASKED), &context, 200, &rows);
        assert!(full.starts_with(
            "==> bench snmp: one snmpd, 1 warm-up + 200 interleaved timed scrapes per program, /snmp?target={target}&module=if_mib&auth=public_v2\n    (add --with-incumbent"
        ), "{full}");
        for part in [
            "    agent: net-snmp snmpd 5.9.3\n",
            "latency (",
            "cost per scrape",
            "burst: 200 scrapes",
            "targets (spec §6, snmp-exporter)",
            "Markdown summary",
        ] {
            assert!(full.contains(part), "{part} missing:\n{full}");
        }
        assert!(!full.contains("scaling"), "{full}");
        let missing = missing_package_note("prometheus-snmp-exporter", "prometheus-snmp-exporter");
        assert!(
            missing.contains("apt-get install prometheus-snmp-exporter"),
            "{missing}"
        );
    }

    #[test]
    fn burst_against_a_real_listener() {
        // A tiny HTTP server answering 200 to everything, one connection at a time.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            for _ in 0..12 {
                let (mut stream, _) = listener.accept().unwrap();
                // Read the whole request first: closing with unread bytes would reset.
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut buffer) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            }
        });
        let spec = BurstSpec {
            scrapes: 12,
            concurrency: 3,
        };
        let result = burst(&format!("http://127.0.0.1:{port}/snmp"), spec);
        server.join().unwrap();
        assert_eq!(result.failures, 0, "{result:?}");
        assert_eq!(result.first_failure, None);
        assert!(result.latency.is_some() && result.throughput() > 0.0);
    }

    #[test]
    fn too_few_scrapes_are_refused_before_anything_runs() {
        let error = run(&Options {
            case: "pve".to_owned(),
            scrapes: MIN_SCRAPES - 1,
            with_incumbent: false,
        })
        .unwrap_err();
        assert!(error.to_string().contains("at least 10"), "{error}");
        assert!(
            run(&Options {
                case: "nonesuch".to_owned(),
                scrapes: 20,
                with_incumbent: false,
            })
            .is_err()
        );
    }
}
