//! `cargo xtask bench <case>`: whole-process benchmarks of a Portkey binary against a simulator.
//!
//! Each [`Case`] in [`CASES`] names a binary, the simulator it scrapes, and a list of simulator
//! [`Variant`]s (inventory size, injected latency). For every variant the bench starts a fresh
//! simulator and a fresh release build of the binary, performs one warm-up scrape, resets the
//! simulator's counters, performs N timed scrapes one after another (as Prometheus does for one
//! target), then reads:
//!
//! - median and p95 scrape latency, measured by the client from request to last body byte;
//! - the binary's peak RSS (`VmHWM` in `/proc/<pid>/status`, summed over its process tree);
//! - upstream API calls per scrape and their peak concurrency, from the simulator's
//!   `GET /_sim/stats` (`{"requests": n, "peak_concurrency": n, ...}`).
//!
//! With `--with-incumbent`, the program Portkey replaces is installed from PyPI into a venv under
//! `target/bench/` and measured the same way against its own simulator instance, and the latency
//! ratio is printed. Fresh processes per variant keep one variant's peak memory from hiding the
//! next one's. Latency is wall-clock time on a shared 2-core machine: compare runs made back to
//! back, not across machines.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::demo::{ConfigFile, PVE_CONFIG};
use crate::http;
use crate::process::{
    Children, Output, SIMULATOR_BINARY, Workspace, free_port, tree_peak_rss_bytes,
};

/// One simulator configuration to measure under.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// Shown in the results table.
    pub label: &'static str,
    /// Extra flags for `portkey-sim <simulator>`.
    pub simulator_args: &'static [&'static str],
}

/// The program a Portkey binary replaces, where it can be installed from PyPI.
#[derive(Debug, Clone, Copy)]
pub struct Incumbent {
    /// Shown in the results table.
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
    /// The simulator configurations measured, in order.
    pub variants: &'static [Variant],
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
    scrape_path: "/pve?target={target}",
    variants: &[
        Variant {
            label: "guests=60 latency=0ms",
            simulator_args: &["--guests", "60", "--latency-ms", "0"],
        },
        Variant {
            label: "guests=60 latency=5ms",
            simulator_args: &["--guests", "60", "--latency-ms", "5"],
        },
        Variant {
            label: "guests=2000 latency=0ms",
            simulator_args: &["--guests", "2000", "--latency-ms", "0"],
        },
        Variant {
            label: "guests=2000 latency=5ms",
            simulator_args: &["--guests", "2000", "--latency-ms", "5"],
        },
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

/// The names of all cases, for the command line.
pub fn case_names() -> Vec<&'static str> {
    CASES.iter().map(|case| case.name).collect()
}

/// How long a process may take to open its port.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// The most one scrape may take before the bench gives up on it.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(120);

/// Median and 95th percentile of a set of latencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// The middle value (mean of the two middle values for an even count).
    pub median: Duration,
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
}

/// Parses the JSON body of `GET /_sim/stats`.
pub fn parse_simulator_stats(body: &str) -> Result<SimulatorStats> {
    let value: serde_json::Value =
        serde_json::from_str(body).context("simulator stats are not JSON")?;
    let field = |name: &str| {
        value[name]
            .as_u64()
            .ok_or_else(|| anyhow!("simulator stats have no integer {name:?}: {body}"))
    };
    Ok(SimulatorStats {
        requests: field("requests")?,
        peak_concurrency: field("peak_concurrency")?,
    })
}

/// The results for one program under one variant.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Latency summary of the timed scrapes.
    pub latency: Summary,
    /// Peak RSS of the process tree in bytes.
    pub peak_rss_bytes: u64,
    /// Simulator counters over the timed scrapes.
    pub stats: SimulatorStats,
    /// How many timed scrapes there were.
    pub scrapes: usize,
}

impl Measurement {
    /// Upstream API calls per scrape.
    pub fn calls_per_scrape(&self) -> f64 {
        self.stats.requests as f64 / self.scrapes as f64
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

/// Runs one case and prints its table.
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
                            log: logs.join(format!("{}.log", incumbent.executable)),
                        },
                        options.scrapes,
                    )
                    .with_context(|| format!("{} [{}]", incumbent.label, variant.label))?,
                )
            }
        };
        rows.push((variant.label, ours, theirs));
    }

    println!(
        "\n==> bench {}: {} timed scrapes per row, after one warm-up scrape",
        case.name, options.scrapes
    );
    println!(
        "{:<26} {:<32} {:>10} {:>10} {:>11} {:>11} {:>9} {:>8}",
        "variant", "program", "median", "p95", "peak RSS", "calls/scr.", "peak conc", "ratio"
    );
    for (label, ours, theirs) in &rows {
        print_row(label, case.binary, ours, None);
        if let (Some(theirs), Some((incumbent, _))) = (theirs, &incumbent) {
            print_row("", incumbent.label, theirs, Some(ours));
        }
    }
    if incumbent.is_some() {
        println!("ratio = incumbent median / {} median", case.binary);
    }
    Ok(())
}

fn print_row(
    label: &str,
    program: &str,
    measurement: &Measurement,
    baseline: Option<&Measurement>,
) {
    let ratio = baseline.map_or_else(String::new, |ours| {
        format!(
            "{:.1}x",
            measurement.latency.median.as_secs_f64() / ours.latency.median.as_secs_f64().max(1e-9)
        )
    });
    println!(
        "{:<26} {:<32} {:>10} {:>10} {:>11} {:>11.1} {:>9} {:>8}",
        label,
        program,
        format_duration(measurement.latency.median),
        format_duration(measurement.latency.p95),
        format!(
            "{:.1} MiB",
            measurement.peak_rss_bytes as f64 / (1024.0 * 1024.0)
        ),
        measurement.calls_per_scrape(),
        measurement.stats.peak_concurrency,
        ratio,
    );
}

/// Milliseconds with one decimal, the resolution that matters for scrapes.
pub fn format_duration(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
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

    let mut latencies = Vec::with_capacity(scrapes);
    for index in 0..scrapes {
        let started = Instant::now();
        scrape(&url).with_context(|| format!("scrape {}", index + 1))?;
        latencies.push(started.elapsed());
    }
    let stats =
        parse_simulator_stats(&subject.control.call("GET", simulator_port, "/_sim/stats")?)?;
    let peak_rss_bytes = tree_peak_rss_bytes(pid)?;
    children.stop_all();

    let latency = summarize(&latencies).ok_or_else(|| anyhow!("no scrapes were made"))?;
    println!(
        "    median {}  p95 {}  peak RSS {:.1} MiB  {} API calls in {scrapes} scrapes",
        format_duration(latency.median),
        format_duration(latency.p95),
        peak_rss_bytes as f64 / (1024.0 * 1024.0),
        stats.requests,
    );
    Ok(Measurement {
        latency,
        peak_rss_bytes,
        stats,
        scrapes,
    })
}

/// One scrape; anything but a 200 fails the bench, since timing errors measures nothing.
fn scrape(url: &str) -> Result<()> {
    let response = http::get(url, SCRAPE_TIMEOUT)?;
    if response.status != 200 {
        let body = response.body_text();
        let excerpt: String = body.lines().take(5).collect::<Vec<_>>().join("\n    ");
        bail!("GET {url} answered {}:\n    {excerpt}", response.status);
    }
    Ok(())
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

    #[test]
    fn summary_of_odd_count() {
        let summary = summarize(&ms(&[5, 1, 3])).unwrap();
        assert_eq!(summary.median, Duration::from_millis(3));
        assert_eq!(summary.p95, Duration::from_millis(5));
    }

    #[test]
    fn summary_of_even_count_averages_the_middle() {
        let summary = summarize(&ms(&[4, 1, 3, 2])).unwrap();
        assert_eq!(summary.median, Duration::from_micros(2500));
        assert_eq!(summary.p95, Duration::from_millis(4));
    }

    #[test]
    fn p95_uses_nearest_rank() {
        // 1..=20: rank ceil(0.95 * 20) = 19.
        let samples: Vec<u64> = (1..=20).collect();
        let summary = summarize(&ms(&samples)).unwrap();
        assert_eq!(summary.p95, Duration::from_millis(19));
        assert_eq!(summary.median, Duration::from_micros(10_500));
        // 1..=100: rank 95.
        let samples: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(
            summarize(&ms(&samples)).unwrap().p95,
            Duration::from_millis(95)
        );
        // One sample is its own everything.
        let single = summarize(&ms(&[7])).unwrap();
        assert_eq!(
            (single.median, single.p95),
            (Duration::from_millis(7), Duration::from_millis(7))
        );
    }

    #[test]
    fn empty_summary() {
        assert_eq!(summarize(&[]), None);
    }

    #[test]
    fn parses_simulator_stats() {
        let stats = parse_simulator_stats(
            r#"{"requests": 42, "peak_concurrency": 4, "in_flight": 0, "paths": {"/x": 42}}"#,
        )
        .unwrap();
        assert_eq!(
            stats,
            SimulatorStats {
                requests: 42,
                peak_concurrency: 4
            }
        );
        assert!(parse_simulator_stats(r#"{"requests": 1}"#).is_err());
        assert!(parse_simulator_stats("not json").is_err());
        assert!(parse_simulator_stats(r#"{"requests": -1, "peak_concurrency": 1}"#).is_err());
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
    fn calls_per_scrape() {
        let measurement = Measurement {
            latency: summarize(&ms(&[1])).unwrap(),
            peak_rss_bytes: 0,
            stats: SimulatorStats {
                requests: 30,
                peak_concurrency: 3,
            },
            scrapes: 20,
        };
        assert!((measurement.calls_per_scrape() - 1.5).abs() < f64::EPSILON);
    }

    #[test]
    fn pve_case_covers_the_agreed_grid() {
        let case = CASES.iter().find(|case| case.name == "pve").unwrap();
        let labels: Vec<_> = case.variants.iter().map(|v| v.label).collect();
        assert_eq!(
            labels,
            [
                "guests=60 latency=0ms",
                "guests=60 latency=5ms",
                "guests=2000 latency=0ms",
                "guests=2000 latency=5ms"
            ]
        );
        let incumbent = case.incumbent.unwrap();
        assert!(!incumbent.config.contents.contains("scheme"));
        assert!(case.config.contents.contains("scheme: http"));
    }
}
