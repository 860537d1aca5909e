//! `cargo xtask bench <case>`: whole-process benchmarks of a Portkey binary against a simulator.
//!
//! Each [`Case`] in [`CASES`] names a binary, the simulator it scrapes, and a list of simulator
//! [`Variant`]s (inventory size, injected latency). For every variant the bench starts a fresh
//! simulator and a fresh release build of the binary, performs one warm-up scrape, resets the
//! simulator's counters, performs N timed scrapes one after another (as Prometheus does for one
//! target), then reads:
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
//! It then prints two tables (latency; per-scrape cost and memory), a scaling report per series
//! of variants that differ only in inventory size (per-item time and bytes, and their marginal
//! cost between sizes, so a super-linear term shows as growth), the case's performance targets
//! with a verdict each, and a Markdown summary for the README.
//!
//! With `--with-incumbent`, the program Portkey replaces is installed from PyPI into a venv under
//! `target/bench/` and measured the same way against its own simulator instance, and the latency
//! ratio is printed. Fresh processes per variant keep one variant's peak memory from hiding the
//! next one's. Latency is wall-clock time on a shared 2-core machine: compare runs made back to
//! back, not across machines.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::demo::{ConfigFile, PVE_CONFIG};
use crate::http;
use crate::process::{
    Children, Output, SIMULATOR_BINARY, TreeUsage, Workspace, free_port, ticks_to_duration,
    tree_usage,
};

/// One simulator configuration to measure under.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// Shown in the results tables.
    pub label: &'static str,
    /// Extra flags for `portkey-sim <simulator>`.
    pub simulator_args: &'static [&'static str],
    /// The inventory size these flags ask for (guests for pve), for the scaling report.
    pub size: u64,
    /// Variants of one series differ only in `size`; the scaling report compares them.
    pub series: &'static str,
}

/// The program a Portkey binary replaces, where it can be installed from PyPI.
#[derive(Debug, Clone, Copy)]
pub struct Incumbent {
    /// Named once above the tables (the tables say "incumbent").
    pub label: &'static str,
    /// The pip requirement, pinned so results are comparable over time.
    pub requirement: &'static str,
    /// The console script the requirement installs.
    pub executable: &'static str,
    /// Its config file, written into `target/bench/`.
    pub config: ConfigFile,
    /// Its arguments; `{config}` and `{listen}` are filled in.
    pub args: &'static [&'static str],
    /// Extra simulator flags it needs (e.g. `--tls` for a client that only speaks HTTPS).
    pub simulator_args: &'static [&'static str],
    /// Whether the simulator then serves HTTPS (its control API too).
    pub simulator_tls: bool,
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
    /// In this variant, the binary's `VmRSS` after the run is below this many bytes.
    RssBelow {
        /// The variant's label.
        variant: &'static str,
        /// The limit.
        bytes: u64,
    },
    /// In every variant, each scrape made exactly `fixed` calls besides the per-item calls.
    FixedCalls {
        /// Calls per scrape that do not depend on the inventory.
        fixed: u64,
    },
}

/// A whole-process benchmark.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// The name given on the command line.
    pub name: &'static str,
    /// The Portkey binary measured.
    pub binary: &'static str,
    /// The `portkey-sim` simulator it scrapes.
    pub simulator: &'static str,
    /// Its config file, written into `target/bench/`.
    pub config: ConfigFile,
    /// Its arguments; `{config}` and `{listen}` are filled in.
    pub args: &'static [&'static str],
    /// The scrape path; `{target}` is the simulator's `127.0.0.1:<port>`.
    pub scrape_path: &'static str,
    /// What [`Variant::size`] counts, singular ("guest").
    pub size_unit: &'static str,
    /// Whether an upstream path (as `/_sim/stats` lists it) is a per-item call, one per unit of
    /// [`Variant::size`] that the scrape covers (per-guest config calls for pve).
    pub per_item_call: fn(&str) -> bool,
    /// The simulator configurations measured, in order.
    pub variants: &'static [Variant],
    /// The specification's targets, checked after the run.
    pub targets: &'static [Target],
    /// The program it replaces, if that can run here.
    pub incumbent: Option<Incumbent>,
}

/// Every benchmark case. Component issues add theirs.
pub const CASES: &[Case] = &[Case {
    name: "pve",
    binary: "pve-exporter",
    simulator: "pve",
    config: ConfigFile {
        name: "pve.yml",
        contents: PVE_CONFIG,
    },
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
    per_item_call: is_pve_guest_config_call,
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
        requirement: "prometheus-pve-exporter==3.10.2",
        executable: "pve_exporter",
        // The incumbent has no `scheme` key: it always speaks HTTPS.
        config: ConfigFile {
            name: "pve-incumbent.yml",
            contents: "\
default:
  user: demo@pve
  token_name: portkey
  token_value: demo-token-value
  verify_ssl: false
",
        },
        args: &[
            "--config.file",
            "{config}",
            "--web.listen-address",
            "{listen}",
        ],
        simulator_args: &["--tls"],
        simulator_tls: true,
    }),
}];

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

/// What a simulator's `GET /_sim/stats` reports (other fields are ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

impl Measurement {
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
    let workspace = Workspace::load()?;
    for needed in [case.binary, SIMULATOR_BINARY] {
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

    let incumbent = match (options.with_incumbent, case.incumbent) {
        (false, _) => None,
        (true, None) => bail!("case {} has no incumbent that runs here", case.name),
        (true, Some(incumbent)) => Some((incumbent, install_incumbent(&incumbent, &bench_dir)?)),
    };

    workspace.build(&[case.binary, SIMULATOR_BINARY], true)?;
    let simulator_path = workspace.binary_path("release", SIMULATOR_BINARY);
    let binary_path = workspace.binary_path("release", case.binary);
    let config_path = write_config(&bench_dir, &case.config)?;
    let logs = bench_dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    println!("==> logs of the processes under test: {}", logs.display());

    let mut rows = Vec::new();
    for variant in case.variants {
        println!("==> {} [{}]: {}", case.name, variant.label, case.binary);
        let ours = measure(
            &Subject {
                simulator: &simulator_path,
                simulator_name: case.simulator,
                simulator_args: variant.simulator_args.to_vec(),
                control: Control::Plain,
                program: &binary_path,
                args: case.args,
                config: &config_path,
                scrape_path: case.scrape_path,
                per_item_call: case.per_item_call,
                log: logs.join(format!("{}.log", case.binary)),
            },
            options.scrapes,
        )
        .with_context(|| format!("{} [{}]", case.binary, variant.label))?;
        let theirs = match &incumbent {
            None => None,
            Some((incumbent, installed)) => {
                println!("==> {} [{}]: {}", case.name, variant.label, incumbent.label);
                let mut simulator_args = variant.simulator_args.to_vec();
                simulator_args.extend_from_slice(incumbent.simulator_args);
                let control = if incumbent.simulator_tls {
                    Control::TlsViaPython(installed.python.clone())
                } else {
                    Control::Plain
                };
                Some(
                    measure(
                        &Subject {
                            simulator: &simulator_path,
                            simulator_name: case.simulator,
                            simulator_args,
                            control,
                            program: &installed.executable,
                            args: incumbent.args,
                            config: &installed.config,
                            scrape_path: case.scrape_path,
                            per_item_call: case.per_item_call,
                            log: logs.join(format!("{}.log", incumbent.executable)),
                        },
                        options.scrapes,
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

    println!();
    print!(
        "{}",
        report(
            case,
            incumbent.as_ref().map(|(incumbent, _)| incumbent.label),
            options.scrapes,
            &rows
        )
    );
    Ok(())
}

/// The complete printed report after all variants ran.
pub fn report(case: &Case, incumbent: Option<&str>, scrapes: usize, rows: &[Row]) -> String {
    let mut out = String::new();
    out += &format!(
        "==> bench {}: 1 warm-up + {scrapes} timed scrapes per row, {}\n",
        case.name, case.scrape_path
    );
    match incumbent {
        Some(label) => out += &format!("    incumbent = {label}\n"),
        None => out += "    (add --with-incumbent to measure the program it replaces)\n",
    }
    out += "\n";
    out += &latency_table(case, rows);
    out += "\n";
    out += &cost_table(case, rows);
    out += "\n";
    for line in scaling_report(case, rows) {
        out += &line;
        out += "\n";
    }
    out += "\n";
    out += &format!("targets (spec §6, {}):\n", case.binary);
    for check in check_targets(case, rows) {
        out += &format!("  {:<6} {}\n", check.verdict.word(), check.text);
    }
    out += "\n";
    out += &markdown_summary(case, rows);
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

/// Paths of an installed incumbent.
#[derive(Debug)]
struct Installed {
    python: PathBuf,
    executable: PathBuf,
    config: PathBuf,
}

fn install_incumbent(incumbent: &Incumbent, bench_dir: &Path) -> Result<Installed> {
    let venv = bench_dir.join("venv");
    let python = venv.join("bin").join("python");
    let executable = venv.join("bin").join(incumbent.executable);
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
    println!("==> pip install {}", incumbent.requirement);
    run_checked(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        incumbent.requirement,
    ]))?;
    if !executable.exists() {
        bail!(
            "{} did not install {}",
            incumbent.requirement,
            executable.display()
        );
    }
    let config = write_config(bench_dir, &incumbent.config)?;
    Ok(Installed {
        python,
        executable,
        config,
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
        assert!(!incumbent.config.contents.contains("scheme"));
        assert!(case.config.contents.contains("scheme: http"));
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

        let full = report(case, Some("prometheus-pve-exporter 3.10.2"), 20, &rows);
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
