use std::collections::{BTreeMap, HashSet};

use super::*;
use crate::config::{LoadOptions, parse_files};
use crate::text;

fn module(yaml: &str) -> Module {
    let config = parse_files(&[("t.yml", yaml)], &LoadOptions::default(), &|_| None).unwrap();
    config.modules.into_values().next().unwrap()
}

fn render(module: &Module, pdus: &[(&str, Value)], wrap: bool) -> (String, RenderStats) {
    let map: BTreeMap<Oid, Value> = pdus
        .iter()
        .map(|(o, v)| (Oid::parse(o).unwrap(), v.clone()))
        .collect();
    let mut families = Families::default();
    render_module(
        module,
        &map,
        &[],
        RenderOptions {
            wrap_large_counters: wrap,
        },
        &HashSet::new(),
        &mut families,
    );
    let (mut list, stats) = families.into_vec();
    (text::write(&mut list), stats)
}

fn octets(bytes: &[u8]) -> Value {
    Value::OctetString(bytes.to_vec())
}

#[test]
fn index_types_decode_their_arcs() {
    let m = module(
        "m:\n  metrics:\n  - name: x\n    oid: 1.1\n    type: gauge\n    help: h\n    indexes:\n    - labelname: mac\n      type: PhysAddress48\n    - labelname: s\n      type: DisplayString\n    - labelname: o\n      type: OctetString\n      fixed_size: 2\n    - labelname: ip\n      type: InetAddress\n    - labelname: e\n      type: EnumAsInfo\n      enum_values:\n        1: one\n",
    );
    let (out, _) = render(
        &m,
        &[(
            "1.1.0.17.34.51.68.85.2.104.105.171.205.1.4.10.0.0.1.1",
            Value::Integer(5),
        )],
        true,
    );
    assert!(
        out.contains(
            "x{e=\"one\",ip=\"10.0.0.1\",mac=\"00:11:22:33:44:55\",o=\"0xABCD\",s=\"hi\"} 5\n"
        ),
        "{out}"
    );
}

#[test]
fn string_types_enums_bits_and_dates() {
    let m = module(
        "m:\n  metrics:\n  - name: mac\n    oid: 1.1\n    type: PhysAddress48\n    help: h\n  - name: state\n    oid: 1.2\n    type: EnumAsStateSet\n    help: h\n    enum_values:\n      1: up\n      2: down\n  - name: flags\n    oid: 1.3\n    type: Bits\n    help: h\n    enum_values:\n      0: a\n      9: b\n  - name: when\n    oid: 1.4\n    type: DateAndTime\n    help: h\n  - name: hint\n    oid: 1.5\n    type: DisplayString\n    help: h\n    display_hint: 1d.1d.1d.1d\n  - name: big\n    oid: 1.6\n    type: counter\n    help: h\n  - name: temp\n    oid: 1.7\n    type: DisplayString\n    help: h\n    regex_extracts:\n      Celsius:\n      - regex: ([0-9.]+) C\n        value: $1\n",
    );
    let (out, _) = render(
        &m,
        &[
            ("1.1.0", octets(&[1, 2, 3, 4, 5, 6, 7, 8])),
            ("1.2.0", Value::Integer(2)),
            ("1.3.0", octets(&[0x80, 0x40])),
            ("1.4.0", octets(&[0x07, 0xE8, 1, 2, 3, 4, 5, 0])),
            ("1.5.0", octets(&[192, 168, 1, 1])),
            ("1.6.0", Value::Counter64((1 << 53) + 5)),
            ("1.7.0", octets(b"21.5 C")),
        ],
        true,
    );
    for line in [
        "mac{mac=\"01:02:03:04:05:06\"} 1\n",
        "state{state=\"down\"} 1\n",
        "state{state=\"up\"} 0\n",
        "# HELP state h (EnumAsStateSet)\n",
        "flags{flags=\"a\"} 1\n",
        "flags{flags=\"b\"} 1\n",
        "when 1.704164645e+09\n",
        "hint{hint=\"192.168.1.1\"} 1\n",
        "big 5\n",
        "tempCelsius 21.5\n",
        "# HELP tempCelsius h (regex extracted)\n",
    ] {
        assert!(out.contains(line), "{line} missing in\n{out}");
    }
    let (out, _) = render(&m, &[("1.6.0", Value::Counter64((1 << 53) + 5))], false);
    assert!(out.contains("big 9.007199254740996e+15\n"), "{out}");
}

#[test]
fn duplicates_and_mistyped_values_are_dropped_and_counted() {
    let m = module(
        "m:\n  metrics:\n  - name: x\n    oid: 1.1\n    type: gauge\n    help: h\n    indexes:\n    - labelname: i\n      type: gauge\n    lookups:\n    - labels: [i]\n      labelname: d\n      oid: 1.2\n      type: DisplayString\n    - labels: []\n      labelname: i\n",
    );
    let (out, stats) = render(
        &m,
        &[
            ("1.1.1", Value::Integer(1)),
            ("1.1.2", Value::Integer(2)),
            ("1.1.3", octets(b"not a number")),
            ("1.2.1", octets(b"same")),
            ("1.2.2", octets(b"same")),
        ],
        true,
    );
    assert_eq!(out, "# HELP x h\n# TYPE x gauge\nx{d=\"same\"} 1\n");
    assert_eq!(
        stats,
        RenderStats {
            duplicates: 1,
            unexpected_types: 1
        }
    );
}

#[test]
fn display_hints() {
    assert_eq!(display_hint("1x:", &[0xde, 0xad]).unwrap(), "de:ad");
    assert_eq!(display_hint("255a", b"text").unwrap(), "text");
    assert_eq!(
        display_hint("1d.1d.1d.1d", &[10, 0, 0, 1]).unwrap(),
        "10.0.0.1"
    );
    assert!(display_hint("1q", &[1]).is_none());
}
