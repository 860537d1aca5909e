//! The complete `/pve` output on the simulator's default data: an insta snapshot (durations
//! masked), and Prometheus' own parser and linter over it (acceptance 1 and 16).

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use portkey_sim::pve::PveSimConfig;
use support::Harness;

/// The exposition with the only non-deterministic values (wall times) replaced.
fn masked(body: &str) -> String {
    body.lines()
        .map(|line| {
            if line.starts_with("pve_scrape_collector_duration_seconds{") {
                let (series, _) = line.rsplit_once(' ').unwrap();
                format!("{series} <duration>")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn full_scrape_of_the_default_simulator_data() {
    let h = Harness::start(PveSimConfig::default(), "", &[]).await;
    let (status, body) = h.scrape("").await;
    assert_eq!(status, 200);
    // The simulator shuffles keys and list order on every request; the output must not change.
    let (_, again) = h.scrape("").await;
    assert_eq!(masked(&body), masked(&again));
    insta::assert_snapshot!("pve_default_simulator", masked(&body));
}

/// promtool's lint findings that come from the incumbent's names, kept for compatibility
/// (spec §2.3 row 25: a gauge with a counter's name, used by common alert rules).
const INCUMBENT_NAME_FINDINGS: &[&str] =
    &["pve_not_backed_up_total non-counter metrics should not have \"_total\" suffix"];

#[tokio::test]
async fn promtool_parses_and_lints_the_output() {
    let Some(promtool) = support::tool("promtool") else {
        return;
    };
    let h = Harness::start(PveSimConfig::default(), "", &[]).await;
    let (_, body) = h.scrape("").await;
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // Exit 1 is a parse error; 3 means lint findings only.
    assert!(
        matches!(output.status.code(), Some(0) | Some(3)),
        "promtool could not parse the exposition:\n{findings}"
    );
    for finding in findings.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            INCUMBENT_NAME_FINDINGS
                .iter()
                .any(|allowed| finding.contains(allowed)),
            "unexpected promtool finding: {finding}"
        );
    }
}
