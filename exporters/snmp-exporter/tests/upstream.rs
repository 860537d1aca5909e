//! Output identity with the oracle, upstream snmp_exporter 0.21 (Debian 12's
//! `prometheus-snmp-exporter`), on one real net-snmp snmpd (spec §2.10–2.12, §5, §7.1).
//!
//! The oracle is fed the modules our binary prints with `--config.print-default=flat` (Debian's
//! packaged `snmp.yml` is an empty stub). Portkey runs three times, in process: with the embedded
//! default, with that same flat file, and with the split-format print of it. Each module is
//! scraped from the oracle, then from every Portkey instance, then from the oracle again, so every
//! value that advances between scrapes must lie between the oracle's two readings.
//!
//! Compared: the family names and their order, each family's HELP and TYPE, the set of series
//! (label sets) and their order, and every value: byte for byte for stable series, within the
//! oracle's two readings for the monotonic ones ([`is_monotonic`]). Excluded:
//! - the values (not the presence, HELP or TYPE) of the `snmp_scrape_*` families: wall-clock
//!   durations, and PDU/packet counts that `cargo xtask bench snmp` and `tests/snmpd.rs` check;
//! - the families Portkey adds on purpose ([`PORTKEY_FAMILIES`]); they must be present in ours
//!   and absent from the oracle's output.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Exporter, Snmpd};

/// Families Portkey adds to every `/snmp` answer (spec §2.12). Upstream fails the whole scrape
/// with HTTP 500 when any walk fails; Portkey answers 200 with what it collected instead (§3.1),
/// so it must say which subtrees succeeded (`snmp_scrape_collector_success`), how long each took
/// (`snmp_scrape_collector_duration_seconds`), and whether the target answered at all
/// (`snmp_up`). The spec's parity rule (§5) ignores exactly these three.
const PORTKEY_FAMILIES: &[&str] = &[
    "snmp_up",
    "snmp_scrape_collector_success",
    "snmp_scrape_collector_duration_seconds",
];

/// Per-scrape families whose values are wall-clock time or packet accounting, not device data.
const SCRAPE_FAMILY_PREFIX: &str = "snmp_scrape_";

/// Gauges whose value advances on its own between two scrapes: sysUpTime is TimeTicks since the
/// agent started. (ifLastChange, ifCounterDiscontinuityTime and sysORLastChange are TimeTicks too,
/// but they are fixed moments and must match exactly.)
const ADVANCING_GAUGES: &[&str] = &["sysUpTime"];

/// Modules compared, each scraped with the default auth.
const MODULES: &[&str] = &["if_mib", "system"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_mib_and_system_match_upstream_0_21() {
    let Some(oracle_binary) = portkey_sim::tools::find_tool("prometheus-snmp-exporter") else {
        return;
    };
    if !is_flat_format_release(&oracle_binary) {
        return;
    }
    let Some(agent) = Snmpd::start() else { return };

    let flat = print_default("flat");
    let split = print_default("split");
    let oracle = Oracle::start(&oracle_binary, &flat).await;
    let portkey = [
        ("embedded default", Exporter::start(None, &[]).await),
        ("flat file", Exporter::start(Some(&flat), &[]).await),
        ("split file", Exporter::start(Some(&split), &[]).await),
    ];

    let mut problems = Vec::new();
    for module in MODULES {
        let path = format!("/snmp?target={}&module={module}", agent.target());
        let before = parse(&oracle.scrape(&path).await);
        let mut ours = Vec::new();
        for (name, exporter) in &portkey {
            let (status, text) = exporter.get(&path).await;
            assert_eq!(status, 200, "{name}, module {module}: {text}");
            ours.push((*name, parse(&text)));
        }
        let after = parse(&oracle.scrape(&path).await);

        assert!(
            before.families.len() > 2 && before.families.contains_key("sysUpTime"),
            "the oracle's {module} scrape holds no device data: {:?}",
            before.order
        );
        compare_oracle_scrapes(module, &before, &after, &mut problems);
        for (name, exposition) in &ours {
            let context = format!("{module} ({name})");
            compare(&context, &before, exposition, &after, &mut problems);
        }
        let series: usize = before.families.values().map(|f| f.samples.len()).sum();
        eprintln!(
            "parity {module}: {} families, {series} series; oracle vs {} Portkey configs",
            before.families.len(),
            portkey.len()
        );
    }
    assert!(
        problems.is_empty(),
        "Portkey's output differs from snmp_exporter 0.21's:\n  {}",
        problems.join("\n  ")
    );
}

/// Whether the installed oracle reads the flat format the test feeds it (≤ 0.22). The spec's
/// oracle is 0.21 (Debian 12); another release is treated like a missing tool: skipped loudly,
/// a failure when tools are required.
fn is_flat_format_release(binary: &Path) -> bool {
    let output = Command::new(binary)
        .arg("--version")
        .output()
        .expect("prometheus-snmp-exporter --version runs");
    // Go's kingpin prints the version on stderr.
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let version = text
        .split_whitespace()
        .skip_while(|word| *word != "version")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    if version.starts_with("0.21.") || version.starts_with("0.22.") {
        return true;
    }
    let required = matches!(
        std::env::var(portkey_sim::tools::REQUIRE_TOOLS).as_deref(),
        Ok("1") | Ok("true")
    );
    assert!(
        !required,
        "prometheus-snmp-exporter {version:?} is not the 0.21 parity oracle (Debian 12's package)"
    );
    eprintln!(
        "SKIPPED: prometheus-snmp-exporter {version:?} is not the 0.21 parity oracle (Debian 12's package)"
    );
    false
}

/// The embedded default as printed by the binary under test.
fn print_default(layout: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_snmp-exporter"))
        .arg(format!("--config.print-default={layout}"))
        .output()
        .expect("snmp-exporter runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).expect("UTF-8 config")
}

/// Upstream snmp_exporter on a free 127.0.0.1 port, stopped on drop.
struct Oracle {
    child: Child,
    url: String,
    log: PathBuf,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Oracle {
    async fn start(binary: &Path, config: &str) -> Oracle {
        // reqwest is built without a default TLS provider; the kit installs the workspace's.
        // Everything that can panic happens before the spawn, so no oracle outlives the test.
        portkey_kit::crypto::install();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let dir = tempfile::tempdir().expect("temp dir");
        let config_path = dir.path().join("snmp.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = dir.path().join("oracle.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free TCP port")
            .port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("prometheus-snmp-exporter starts");
        let mut oracle = Oracle {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            http,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = oracle.child.try_wait().unwrap() {
                panic!(
                    "prometheus-snmp-exporter exited ({status}):\n{}",
                    oracle.log_text()
                );
            }
            if let Ok(response) = oracle.http.get(&oracle.url).send().await
                && response.status().is_success()
            {
                return oracle;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus-snmp-exporter did not listen on {}:\n{}",
                oracle.url,
                oracle.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The body of a scrape that must succeed.
    async fn scrape(&self, path: &str) -> String {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("the oracle answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "oracle {path}: {text}\n{}", self.log_text());
        text
    }
}

/// One sample: its labels and its value exactly as printed.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    labels: BTreeMap<String, String>,
    value: String,
}

#[derive(Debug, Default)]
struct Family {
    help: Option<String>,
    kind: Option<String>,
    samples: Vec<Sample>,
}

/// A text-format exposition: families by name, and their order of appearance.
#[derive(Debug, Default)]
struct Exposition {
    families: BTreeMap<String, Family>,
    order: Vec<String>,
}

impl Exposition {
    fn family(&mut self, name: &str) -> &mut Family {
        if !self.families.contains_key(name) {
            self.order.push(name.to_owned());
        }
        self.families.entry(name.to_owned()).or_default()
    }
}

/// Parses the text format 0.0.4 as `/snmp` serves it (gauges and counters only: each sample is
/// named after its family; no timestamps).
fn parse(text: &str) -> Exposition {
    let mut exposition = Exposition::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            exposition.family(name).help = Some(help.to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            exposition.family(name).kind = Some(kind.to_owned());
        } else if line.starts_with('#') || line.is_empty() {
            continue;
        } else {
            let (name, labels, value) = parse_sample(line);
            exposition
                .family(name)
                .samples
                .push(Sample { labels, value });
        }
    }
    exposition
}

/// `name{a="x",b="y"} value` → (name, labels, value); label values unescaped.
fn parse_sample(line: &str) -> (&str, BTreeMap<String, String>, String) {
    let name_end = line.find(['{', ' ']).unwrap_or(line.len());
    let name = &line[..name_end];
    let mut labels = BTreeMap::new();
    let mut chars = line[name_end..].chars().peekable();
    if chars.next_if_eq(&'{').is_some() {
        while chars.next_if_eq(&'}').is_none() {
            let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
            assert_eq!(chars.next(), Some('"'), "label {key} unquoted: {line}");
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some('n') => value.push('\n'),
                        Some(other) => value.push(other),
                        None => panic!("unterminated escape: {line}"),
                    },
                    Some('"') => break,
                    Some(other) => value.push(other),
                    None => panic!("unterminated label value: {line}"),
                }
            }
            assert!(
                labels.insert(key.clone(), value).is_none(),
                "label {key} twice: {line}"
            );
            match chars.next() {
                Some(',') => {}
                Some('}') => break,
                other => panic!("unexpected {other:?} after a label value: {line}"),
            }
        }
    }
    let rest: String = chars.collect();
    let value = rest.trim();
    assert!(
        !value.is_empty() && !value.contains(' '),
        "one value, no timestamp: {line}"
    );
    (name, labels, value.to_owned())
}

/// Series whose value may advance between two scrapes: counters and [`ADVANCING_GAUGES`].
fn is_monotonic(name: &str, family: &Family) -> bool {
    family.kind.as_deref() == Some("counter") || ADVANCING_GAUGES.contains(&name)
}

/// `low ≤ value ≤ high`, allowing one Counter32/Counter64 wrap between the oracle's readings.
fn between(low: f64, value: f64, high: f64) -> bool {
    if low <= high {
        low <= value && value <= high
    } else {
        value >= low || value <= high
    }
}

fn label_sets(family: &Family) -> Vec<&BTreeMap<String, String>> {
    family.samples.iter().map(|s| &s.labels).collect()
}

/// The two oracle scrapes must agree on everything but advancing values; otherwise the agent
/// changed during the test and no comparison would be meaningful.
fn compare_oracle_scrapes(
    module: &str,
    before: &Exposition,
    after: &Exposition,
    problems: &mut Vec<String>,
) {
    if before.order != after.order {
        problems.push(format!(
            "{module}: the oracle's two scrapes have different families: {:?} vs {:?}",
            before.order, after.order
        ));
        return;
    }
    for (name, family) in &before.families {
        if label_sets(family) != label_sets(&after.families[name]) {
            problems.push(format!(
                "{module}: the oracle's two scrapes have different {name} series"
            ));
        }
    }
}

/// Every difference between the oracle (`before`, `after`) and Portkey's exposition.
fn compare(
    context: &str,
    before: &Exposition,
    ours: &Exposition,
    after: &Exposition,
    problems: &mut Vec<String>,
) {
    for name in PORTKEY_FAMILIES {
        if before.families.contains_key(*name) {
            problems.push(format!(
                "{context}: the oracle has {name}, which Portkey adds on purpose"
            ));
        }
        if !ours.families.contains_key(*name) {
            problems.push(format!("{context}: Portkey's own family {name} is missing"));
        }
    }
    let ours_order: Vec<&String> = ours
        .order
        .iter()
        .filter(|name| !PORTKEY_FAMILIES.contains(&name.as_str()))
        .collect();
    let theirs: BTreeSet<&String> = before.order.iter().collect();
    let mine: BTreeSet<&String> = ours_order.iter().copied().collect();
    for missing in theirs.difference(&mine) {
        problems.push(format!("{context}: family {missing} missing"));
    }
    for extra in mine.difference(&theirs) {
        problems.push(format!("{context}: extra family {extra}"));
    }
    if theirs == mine && ours_order.iter().copied().ne(before.order.iter()) {
        problems.push(format!(
            "{context}: families in another order: {ours_order:?} vs the oracle's {:?}",
            before.order
        ));
    }

    for (name, expected) in &before.families {
        let Some(actual) = ours.families.get(name) else {
            continue;
        };
        if actual.help != expected.help {
            problems.push(format!(
                "{context}: HELP of {name}: {:?} vs the oracle's {:?}",
                actual.help, expected.help
            ));
        }
        if actual.kind != expected.kind {
            problems.push(format!(
                "{context}: TYPE of {name}: {:?} vs the oracle's {:?}",
                actual.kind, expected.kind
            ));
        }
        let expected_sets: BTreeSet<_> = label_sets(expected).into_iter().collect();
        let actual_sets: BTreeSet<_> = label_sets(actual).into_iter().collect();
        if actual_sets.len() != actual.samples.len() {
            problems.push(format!("{context}: {name} repeats a series"));
        }
        for missing in expected_sets.difference(&actual_sets) {
            problems.push(format!("{context}: {name}{missing:?} missing"));
        }
        for extra in actual_sets.difference(&expected_sets) {
            problems.push(format!("{context}: extra series {name}{extra:?}"));
        }
        if expected_sets == actual_sets && label_sets(actual) != label_sets(expected) {
            problems.push(format!(
                "{context}: {name} series in another order than the oracle's"
            ));
        }

        if name.starts_with(SCRAPE_FAMILY_PREFIX) {
            continue;
        }
        let later = &after.families[name];
        for sample in &actual.samples {
            let find = |family: &Family| {
                family
                    .samples
                    .iter()
                    .find(|s| s.labels == sample.labels)
                    .map(|s| s.value.clone())
            };
            let (Some(first), Some(second)) = (find(expected), find(later)) else {
                continue;
            };
            let ok = if is_monotonic(name, expected) {
                let number = |v: &str| -> f64 {
                    v.parse()
                        .unwrap_or_else(|_| panic!("{name}: value {v:?} is not a number"))
                };
                between(number(&first), number(&sample.value), number(&second))
            } else {
                sample.value == first || sample.value == second
            };
            if !ok {
                problems.push(format!(
                    "{context}: {name}{:?} = {} vs the oracle's {first} / {second}",
                    sample.labels, sample.value
                ));
            }
        }
    }
}

#[test]
fn parses_escaped_labels_and_values() {
    let text = "# HELP ifMtu The size - 1.3\n# TYPE ifMtu gauge\n\
                ifMtu{ifAlias=\"a \\\"b\\\" \\\\ c\\nd\",ifIndex=\"1\"} 65536\n\
                sysUpTime 185\n";
    let exposition = parse(text);
    assert_eq!(exposition.order, ["ifMtu", "sysUpTime"]);
    let mtu = &exposition.families["ifMtu"];
    assert_eq!(mtu.help.as_deref(), Some("The size - 1.3"));
    assert_eq!(mtu.kind.as_deref(), Some("gauge"));
    assert_eq!(mtu.samples[0].labels["ifAlias"], "a \"b\" \\ c\nd");
    assert_eq!(mtu.samples[0].labels["ifIndex"], "1");
    assert_eq!(mtu.samples[0].value, "65536");
    let uptime = &exposition.families["sysUpTime"];
    assert!(uptime.samples[0].labels.is_empty());
    assert_eq!(uptime.help, None);
    let empty = parse("x{} 1\n");
    assert!(empty.families["x"].samples[0].labels.is_empty());
}

#[test]
fn monotonic_values_lie_between_the_oracle_readings() {
    assert!(between(1.0, 1.0, 1.0));
    assert!(between(1.0, 2.0, 3.0));
    assert!(!between(1.0, 4.0, 3.0));
    assert!(!between(2.0, 1.0, 3.0));
    // A wrap between the readings.
    assert!(between(4_294_967_000.0, 4_294_967_200.0, 10.0));
    assert!(between(4_294_967_000.0, 5.0, 10.0));
    assert!(!between(4_294_967_000.0, 20.0, 10.0));
}

#[test]
fn comparison_reports_each_kind_of_difference() {
    let oracle = "# HELP a A\n# TYPE a counter\na{i=\"1\"} 10\n# HELP b B\n# TYPE b gauge\nb{i=\"1\"} 5\nb{i=\"2\"} 6\n\
                  # HELP snmp_scrape_duration_seconds D\n# TYPE snmp_scrape_duration_seconds gauge\nsnmp_scrape_duration_seconds 0.1\n";
    let later = oracle.replace("a{i=\"1\"} 10", "a{i=\"1\"} 20");
    let portkey_extra = "# HELP snmp_up U\n# TYPE snmp_up gauge\nsnmp_up 1\n\
                         # HELP snmp_scrape_collector_success S\n# TYPE snmp_scrape_collector_success gauge\nsnmp_scrape_collector_success{collector=\"get\"} 1\n\
                         # HELP snmp_scrape_collector_duration_seconds S\n# TYPE snmp_scrape_collector_duration_seconds gauge\nsnmp_scrape_collector_duration_seconds{collector=\"get\"} 0.01\n";
    let check = |ours: &str| {
        let mut problems = Vec::new();
        compare(
            "t",
            &parse(oracle),
            &parse(&format!("{ours}{portkey_extra}")),
            &parse(&later),
            &mut problems,
        );
        problems
    };
    // Identical but for an advancing counter and the scrape duration: no difference.
    let same = oracle
        .replace("a{i=\"1\"} 10", "a{i=\"1\"} 15")
        .replace("seconds 0.1", "seconds 0.2");
    assert_eq!(check(&same), Vec::<String>::new());
    // The counter outside the oracle's readings; a gauge value; HELP; TYPE; a missing series.
    let problems = check(&oracle.replace("a{i=\"1\"} 10", "a{i=\"1\"} 21"));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(check(&oracle.replace("} 6", "} 7")).len(), 1);
    assert_eq!(check(&oracle.replace("HELP b B", "HELP b C")).len(), 1);
    assert_eq!(
        check(&oracle.replace("TYPE b gauge", "TYPE b counter")).len(),
        1
    );
    assert_eq!(check(&oracle.replace("b{i=\"2\"} 6\n", "")).len(), 1);
    // Series or families in another order.
    let swapped = oracle.replace("b{i=\"1\"} 5\nb{i=\"2\"} 6", "b{i=\"2\"} 6\nb{i=\"1\"} 5");
    assert_eq!(check(&swapped).len(), 1, "{:?}", check(&swapped));
    // Without Portkey's own families the comparison notices.
    let mut problems = Vec::new();
    compare(
        "t",
        &parse(oracle),
        &parse(oracle),
        &parse(&later),
        &mut problems,
    );
    assert_eq!(problems.len(), PORTKEY_FAMILIES.len(), "{problems:?}");
}
