//! Acceptance 1: on the simulator's default data, Portkey's `/pve` output equals what
//! prometheus-pve-exporter 3.10.2 printed for the same data (recorded once into
//! `golden/incumbent-3.10.2-default-simulator.prom`), except for the deliberate differences.
//!
//! The comparison is semantic: sample sets with labels as sets and values as numbers, plus HELP
//! and TYPE per family. Order and float spelling (`1.0` vs `1`) do not matter.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use portkey_sim::pve::PveSimConfig;
use support::Harness;

const GOLDEN: &str = include_str!("golden/incumbent-3.10.2-default-simulator.prom");

/// Families Portkey adds on purpose (spec §2.3 rows 26, 38c–40).
const PORTKEY_ONLY: &[&str] = &[
    "pve_api_up",
    "pve_not_backed_up_guests",
    "pve_scrape_collector_success",
    "pve_scrape_collector_duration_seconds",
];

type Series = (String, BTreeSet<(String, String)>);

#[derive(Debug, Default)]
struct Exposition {
    samples: BTreeMap<Series, f64>,
    help: BTreeMap<String, String>,
    types: BTreeMap<String, String>,
}

fn parse_labels(text: &str) -> BTreeSet<(String, String)> {
    let mut labels = BTreeSet::new();
    let mut rest = text;
    while let Some((name, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(match escaped {
                            'n' => '\n',
                            other => other,
                        });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.insert((name.trim_start_matches(',').to_owned(), value));
        rest = &after[end..];
    }
    labels
}

fn parse(text: &str) -> Exposition {
    let mut exposition = Exposition::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            exposition.help.insert(name.to_owned(), help.to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            exposition.types.insert(name.to_owned(), kind.to_owned());
        } else if !line.is_empty() && !line.starts_with('#') {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, parse_labels(labels.trim_end_matches('}'))),
                None => (series, BTreeSet::new()),
            };
            let value: f64 = value.parse().unwrap();
            exposition.samples.insert((name.to_owned(), labels), value);
        }
    }
    exposition
}

#[tokio::test]
async fn output_equals_the_incumbents_except_the_deliberate_differences() {
    let h = Harness::start(PveSimConfig::default(), "", &[]).await;
    let (status, body) = h.scrape("").await;
    assert_eq!(status, 200);
    let ours = parse(&body);
    let theirs = parse(GOLDEN);
    assert!(theirs.samples.len() > 2000, "golden file is complete");

    let missing: Vec<_> = theirs
        .samples
        .keys()
        .filter(|k| !ours.samples.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "series the incumbent prints and Portkey does not: {missing:#?}"
    );
    let extra: Vec<_> = ours
        .samples
        .keys()
        .filter(|k| !theirs.samples.contains_key(*k) && !PORTKEY_ONLY.contains(&k.0.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "series beyond the deliberate differences: {extra:#?}"
    );
    let different: Vec<_> = theirs
        .samples
        .iter()
        .filter(|(k, v)| ours.samples.get(*k).is_some_and(|ours| ours != *v))
        .collect();
    assert!(different.is_empty(), "values that differ: {different:#?}");
    for (family, help) in &theirs.help {
        assert_eq!(ours.help.get(family), Some(help), "HELP of {family}");
    }
    for (family, kind) in &theirs.types {
        assert_eq!(ours.types.get(family), Some(kind), "TYPE of {family}");
    }
    for family in PORTKEY_ONLY {
        assert!(ours.types.contains_key(*family), "{family} missing");
    }
}
