//! `cargo xtask demo`: every Portkey binary that exists, wired to the simulators of its upstreams.
//!
//! The wiring is the [`COMPONENTS`] table: one row per binary, naming the simulators it talks to,
//! the config files to write, its arguments and the URLs a person should open. A component issue
//! adds its row here and nothing else. Rows whose binary is not (yet) in the workspace are skipped
//! with a note, so the demo always runs whatever has landed.
//!
//! Ports are fixed (the upstreams' and exporters' customary ones, shifted where they would clash
//! with a real service) so the printed URLs are stable; the demo refuses to start if one is taken.
//! Simulators speak HTTP over TCP (up once the port accepts connections) or UDP, like the SNMP
//! agent (up once its port is bound: binding it ourselves fails).
//!
//! `--once` turns the demo into a smoke test: start everything, GET every URL once, stop, and fail
//! unless every URL answered 200 with the line its row requires (e.g. `snmp_up 1`, which only a
//! scrape that reached the simulator prints).

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::http;
use crate::process::{Children, Output, SIMULATOR_BINARY, Workspace, port_in_use};

/// How a simulator is reached, and so how the demo knows it is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Transport {
    /// HTTP over TCP: up once the port accepts connections; serves the `/_sim/` control API.
    Tcp,
    /// UDP (an SNMP agent): up once the port is bound; no control API.
    Udp,
}

impl Transport {
    /// `TCP` or `UDP`, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Transport::Tcp => "TCP",
            Transport::Udp => "UDP",
        }
    }
}

/// One simulator instance a component needs: `portkey-sim <name> --listen 127.0.0.1:<port> <args>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Simulator {
    /// The simulator's name as `portkey-sim` knows it (e.g. `pve`).
    pub name: &'static str,
    /// Whether it listens on TCP or UDP.
    pub transport: Transport,
    /// The port on 127.0.0.1 it listens on.
    pub port: u16,
    /// Simulator-specific flags.
    pub args: &'static [&'static str],
}

/// A file written into `target/demo/` before any component starts.
#[derive(Debug, Clone, Copy)]
pub struct ConfigFile {
    /// File name inside `target/demo/`.
    pub name: &'static str,
    /// Its full contents.
    pub contents: &'static str,
}

/// A URL to open, and what `--once` requires of the answer besides status 200.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    /// The URL.
    pub url: &'static str,
    /// A line the body must contain (exactly, or followed by a space and a timestamp).
    pub must_contain: Option<&'static str>,
}

/// One Portkey binary in the demo.
#[derive(Debug, Clone, Copy)]
pub struct Component {
    /// The binary target's name.
    pub binary: &'static str,
    /// The simulators it is pointed at (started once each, even when shared).
    pub simulators: &'static [Simulator],
    /// Config files it reads.
    pub files: &'static [ConfigFile],
    /// Its arguments; `{demo_dir}` stands for the directory holding [`Component::files`].
    pub args: &'static [&'static str],
    /// The port it listens on, waited for before the URLs are printed.
    pub port: u16,
    /// What to open in a browser (and what `--once` fetches).
    pub urls: &'static [Link],
}

/// The pve-exporter config used by the demo and the `pve` benchmark: a token for the simulator,
/// which accepts any well-formed token, and plain HTTP since the simulator runs without TLS.
pub const PVE_CONFIG: &str = "\
default:
  user: demo@pve
  token_name: portkey
  token_value: demo-token-value
  scheme: http
  verify_ssl: false
";

/// Every component of the demo. Add a row per binary.
pub const COMPONENTS: &[Component] = &[
    Component {
        binary: "pve-exporter",
        simulators: &[Simulator {
            name: "pve",
            transport: Transport::Tcp,
            port: 18006,
            args: &[],
        }],
        files: &[ConfigFile {
            name: "pve.yml",
            contents: PVE_CONFIG,
        }],
        args: &[
            "--config.file",
            "{demo_dir}/pve.yml",
            "--web.listen-address",
            "127.0.0.1:9221",
        ],
        port: 9221,
        urls: &[
            Link {
                url: "http://127.0.0.1:9221/pve?target=127.0.0.1:18006",
                must_contain: Some("pve_api_up 1"),
            },
            Link {
                url: "http://127.0.0.1:9221/metrics",
                must_contain: None,
            },
        ],
    },
    // The embedded default config (if_mib and system modules, public_v1/public_v2 auths) against
    // the SNMP agent simulator's four interfaces.
    Component {
        binary: "snmp-exporter",
        simulators: &[Simulator {
            name: "snmp",
            transport: Transport::Udp,
            port: 16161,
            args: &[],
        }],
        files: &[],
        args: &["--web.listen-address", "127.0.0.1:9116"],
        port: 9116,
        urls: &[
            Link {
                url: "http://127.0.0.1:9116/snmp?target=127.0.0.1:16161&module=if_mib,system&auth=public_v2",
                must_contain: Some("snmp_up 1"),
            },
            Link {
                url: "http://127.0.0.1:9116/metrics",
                must_contain: None,
            },
        ],
    },
];

/// How long a process may take to open its port (debug builds start slowly on a busy machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one `--once` fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// How many body lines `--once` prints per URL.
const PREVIEW_LINES: usize = 8;

/// The components whose binaries exist, and notes about the ones skipped.
#[derive(Debug)]
pub struct Plan {
    /// Components that can run.
    pub components: Vec<&'static Component>,
    /// One line per skipped component, saying why.
    pub skipped: Vec<String>,
}

/// Decides which rows of `table` can run, given a predicate saying which binaries exist.
pub fn plan(table: &'static [Component], has_binary: impl Fn(&str) -> bool) -> Plan {
    let mut components = Vec::new();
    let mut skipped = Vec::new();
    let simulator_exists = has_binary(SIMULATOR_BINARY);
    for component in table {
        if !has_binary(component.binary) {
            skipped.push(format!(
                "{}: not in the workspace yet, skipped",
                component.binary
            ));
        } else if !component.simulators.is_empty() && !simulator_exists {
            skipped.push(format!(
                "{}: needs the {SIMULATOR_BINARY} binary, which is not in the workspace yet; skipped",
                component.binary
            ));
        } else {
            components.push(component);
        }
    }
    Plan {
        components,
        skipped,
    }
}

/// The distinct simulators the planned components need, in a stable order.
pub fn simulators_needed(components: &[&Component]) -> Vec<Simulator> {
    components
        .iter()
        .flat_map(|component| component.simulators.iter().copied())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// A component's arguments with `{demo_dir}` filled in.
pub fn expand_args(args: &[&str], demo_dir: &Path) -> Vec<String> {
    let dir = demo_dir.display().to_string();
    args.iter()
        .map(|arg| arg.replace("{demo_dir}", &dir))
        .collect()
}

/// Runs the demo until Ctrl-C, or once through with `once`.
pub fn run(once: bool) -> Result<()> {
    let workspace = Workspace::load()?;
    let plan = plan(COMPONENTS, |name| workspace.has_binary(name));
    for note in &plan.skipped {
        println!("note: {note}");
    }
    // As a smoke test, a component that silently dropped out (a renamed binary, a missing
    // simulator) must fail the check rather than shrink it to nothing.
    if once && !plan.skipped.is_empty() {
        bail!(
            "demo --once: {} component(s) could not be started: {}",
            plan.skipped.len(),
            plan.skipped.join("; ")
        );
    }
    if plan.components.is_empty() {
        println!("nothing to run: no demo component exists in the workspace yet");
        return Ok(());
    }
    let simulators = simulators_needed(&plan.components);

    let mut binaries: Vec<&str> = plan.components.iter().map(|c| c.binary).collect();
    if !simulators.is_empty() {
        binaries.push(SIMULATOR_BINARY);
    }
    workspace.build(&binaries, false)?;

    for (transport, port) in simulators
        .iter()
        .map(|s| (s.transport, s.port))
        .chain(plan.components.iter().map(|c| (Transport::Tcp, c.port)))
    {
        let taken = match transport {
            Transport::Tcp => port_in_use(port),
            Transport::Udp => udp_port_in_use(port),
        };
        if taken {
            bail!(
                "{} port {port} on 127.0.0.1 is already in use (another demo still running?); \
                 stop that first",
                transport.label()
            );
        }
    }

    let demo_dir = workspace.target_dir.join("demo");
    std::fs::create_dir_all(&demo_dir)
        .with_context(|| format!("creating {}", demo_dir.display()))?;
    for file in plan.components.iter().flat_map(|c| c.files) {
        let path = demo_dir.join(file.name);
        std::fs::write(&path, file.contents)
            .with_context(|| format!("writing {}", path.display()))?;
    }

    let mut children = Children::new();
    let simulator_path = workspace.binary_path("debug", SIMULATOR_BINARY);
    for simulator in &simulators {
        let label = format!("simulator {} (:{})", simulator.name, simulator.port);
        let mut args = vec![
            simulator.name.to_owned(),
            "--listen".to_owned(),
            format!("127.0.0.1:{}", simulator.port),
        ];
        args.extend(simulator.args.iter().map(|arg| (*arg).to_owned()));
        println!("==> starting {label}");
        children.spawn(&label, &simulator_path, &args, &Output::Inherit)?;
        match simulator.transport {
            Transport::Tcp => children.wait_for_port(&label, simulator.port, START_TIMEOUT)?,
            Transport::Udp => {
                wait_for_udp_port(&mut children, &label, simulator.port, START_TIMEOUT)?;
            }
        }
    }
    for component in &plan.components {
        let program = workspace.binary_path("debug", component.binary);
        let args = expand_args(component.args, &demo_dir);
        println!("==> starting {} {}", component.binary, args.join(" "));
        children.spawn(component.binary, &program, &args, &Output::Inherit)?;
        children.wait_for_port(component.binary, component.port, START_TIMEOUT)?;
    }

    print_urls(&plan.components, &simulators, &demo_dir);

    if once {
        let result = fetch_all(&plan.components);
        children.stop_all();
        return result;
    }
    println!("\nRunning. Press Ctrl-C to stop everything.");
    loop {
        std::thread::sleep(Duration::from_millis(500));
        if let Some((name, status)) = children.first_exited()? {
            bail!("{name} exited ({status}); stopping the demo");
        }
    }
}

/// Whether something is bound to UDP 127.0.0.1:`port` (binding it ourselves fails).
pub fn udp_port_in_use(port: u16) -> bool {
    UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_err()
}

/// Waits until UDP 127.0.0.1:`port` is bound, failing early if any child exits. A UDP simulator
/// binds its socket when it is ready to answer, so nothing more can be checked without speaking
/// its protocol; `--once` then checks the scrapes that go through it.
fn wait_for_udp_port(
    children: &mut Children,
    name: &str,
    port: u16,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if udp_port_in_use(port) {
            return Ok(());
        }
        if let Some((exited, status)) = children.first_exited()? {
            bail!("{exited} exited ({status}) while waiting for {name} on UDP port {port}");
        }
        if Instant::now() >= deadline {
            bail!("{name} did not bind UDP 127.0.0.1:{port} within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn print_urls(components: &[&Component], simulators: &[Simulator], demo_dir: &Path) {
    println!("\n==> Portkey demo is up. Open:");
    for component in components {
        for link in component.urls {
            println!("    {:<20} {}", component.binary, link.url);
        }
    }
    if !simulators.is_empty() {
        println!(
            "\n    simulators (HTTP ones answer the control API under /_sim/, e.g. /_sim/stats):"
        );
        for simulator in simulators {
            let address = match simulator.transport {
                Transport::Tcp => format!("http://127.0.0.1:{}/", simulator.port),
                Transport::Udp => format!("udp://127.0.0.1:{}", simulator.port),
            };
            println!("    {:<20} {address}", simulator.name);
        }
    }
    println!("\n    generated config files: {}", demo_dir.display());
}

/// Whether `body` has `line` as one of its lines (optionally followed by a timestamp).
pub fn has_line(body: &str, line: &str) -> bool {
    body.lines().any(|l| {
        l.strip_prefix(line)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
    })
}

/// `--once`: GETs every URL, prints status and the first lines (and the required line), fails
/// unless all answered 200 with their required line.
fn fetch_all(components: &[&Component]) -> Result<()> {
    let mut failures = Vec::new();
    for link in components.iter().flat_map(|c| c.urls) {
        let url = link.url;
        println!("\n==> GET {url}");
        match http::get(url, FETCH_TIMEOUT) {
            Ok(response) => {
                println!("    status {}", response.status);
                let body = response.body_text();
                for line in body.lines().take(PREVIEW_LINES) {
                    println!("    | {line}");
                }
                if response.status != 200 {
                    failures.push(format!("{url}: status {}", response.status));
                }
                if let Some(required) = link.must_contain {
                    if has_line(&body, required) {
                        println!("    ok: has `{required}`");
                    } else {
                        println!("    missing: `{required}`");
                        failures.push(format!("{url}: no line `{required}` in the body"));
                    }
                }
            }
            Err(error) => {
                println!("    error: {error:#}");
                failures.push(format!("{url}: {error:#}"));
            }
        }
    }
    if failures.is_empty() {
        println!("\n==> every demo URL answered 200 with what it must contain");
        Ok(())
    } else {
        bail!(
            "demo URLs that did not answer as expected:\n  {}",
            failures.join("\n  ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static TABLE: &[Component] = &[
        Component {
            binary: "a-exporter",
            simulators: &[Simulator {
                name: "a",
                transport: Transport::Tcp,
                port: 1,
                args: &[],
            }],
            files: &[],
            args: &[],
            port: 10,
            urls: &[],
        },
        Component {
            binary: "b-exporter",
            simulators: &[
                Simulator {
                    name: "a",
                    transport: Transport::Tcp,
                    port: 1,
                    args: &[],
                },
                Simulator {
                    name: "b",
                    transport: Transport::Udp,
                    port: 2,
                    args: &["--flag"],
                },
            ],
            files: &[],
            args: &[],
            port: 20,
            urls: &[],
        },
        Component {
            binary: "relay",
            simulators: &[],
            files: &[],
            args: &[],
            port: 30,
            urls: &[],
        },
    ];

    #[test]
    fn plan_skips_missing_binaries() {
        let plan = plan(TABLE, |name| {
            name == "a-exporter" || name == SIMULATOR_BINARY
        });
        let names: Vec<_> = plan.components.iter().map(|c| c.binary).collect();
        assert_eq!(names, ["a-exporter"]);
        assert_eq!(plan.skipped.len(), 2);
        assert!(plan.skipped[0].starts_with("b-exporter:"));
    }

    #[test]
    fn plan_skips_components_needing_the_simulator_binary() {
        let plan = plan(TABLE, |name| name != SIMULATOR_BINARY);
        let names: Vec<_> = plan.components.iter().map(|c| c.binary).collect();
        assert_eq!(names, ["relay"], "relay needs no simulator");
        assert!(
            plan.skipped
                .iter()
                .all(|note| note.contains(SIMULATOR_BINARY))
        );
    }

    #[test]
    fn shared_simulators_start_once() {
        let components: Vec<&Component> = TABLE.iter().collect();
        let names: Vec<_> = simulators_needed(&components)
            .iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn required_lines_match_whole_samples() {
        let body = "# HELP snmp_up x\nsnmp_up 1\nsnmp_up_total 10\n";
        assert!(has_line(body, "snmp_up 1"));
        assert!(has_line("snmp_up 1 1700000000000\n", "snmp_up 1"));
        assert!(!has_line("snmp_up 10\n", "snmp_up 1"));
        assert!(!has_line("snmp_up 0\n", "snmp_up 1"));
    }

    #[test]
    fn udp_ports_in_use_are_seen() {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = socket.local_addr().unwrap().port();
        assert!(udp_port_in_use(port));
        drop(socket);
        assert!(!udp_port_in_use(port));
    }

    #[test]
    fn demo_dir_is_substituted() {
        let args = expand_args(
            &["--config.file", "{demo_dir}/pve.yml"],
            Path::new("/t/demo"),
        );
        assert_eq!(args, ["--config.file", "/t/demo/pve.yml"]);
    }

    #[test]
    fn real_table_is_consistent() {
        let mut ports = BTreeSet::new();
        for component in COMPONENTS {
            assert!(
                ports.insert(component.port),
                "port {} reused",
                component.port
            );
            for link in component.urls {
                let parsed = http::parse_url(link.url).unwrap();
                assert_eq!(parsed.authority, format!("127.0.0.1:{}", component.port));
            }
            for file in component.files {
                let referenced = component
                    .args
                    .iter()
                    .any(|arg| arg.ends_with(&format!("/{}", file.name)));
                assert!(referenced, "{} is written but never passed", file.name);
            }
        }
        for simulator in simulators_needed(&COMPONENTS.iter().collect::<Vec<_>>()) {
            assert!(
                ports.insert(simulator.port),
                "simulator port {} clashes",
                simulator.port
            );
        }
    }
}
