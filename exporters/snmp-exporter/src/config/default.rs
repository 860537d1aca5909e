//! The embedded default config (spec §2.8): `if_mib` and `system` modules and the `public_v1` /
//! `public_v2` auths, so the binary scrapes a standard agent with no config file at all.
//!
//! The modules are written here from the IF-MIB (RFC 2863) and SNMPv2-MIB (RFC 3418) object
//! definitions and the IANAifType registry, in the shape upstream's generator gives them: the
//! same OIDs, names, types, HELP strings (the first sentence of each DESCRIPTION plus ` - <oid>`)
//! and lookups. That makes the default scrape label-for-label identical to upstream's `if_mib`.

use std::collections::BTreeMap;
use std::time::Duration;

use portkey_kit::allowlist::Allowlist;
use portkey_kit::secret::Secret;

use super::{
    Auth, Config, EMBEDDED, Index, IndexType, Lookup, Metric, MetricType, Module, SecurityLevel,
    StringType, Version,
};
use crate::oid::Oid;

/// IANAifType names for codes 1.., `-` marking unassigned codes.
const IANA_IF_TYPES: &str = include_str!("../iana_if_type.txt");

const IF_TABLE: &str = "1.3.6.1.2.1.2.2.1";
const IFX_TABLE: &str = "1.3.6.1.2.1.31.1.1.1";

/// (name, column arc, type, HELP sentence) of the per-interface if_mib metrics, in module order.
const IF_COLUMNS: &[(&str, &str, u32, &str, &str)] = &[
    (
        "ifIndex",
        IF_TABLE,
        1,
        "gauge",
        "A unique value, greater than zero, for each interface",
    ),
    ("ifType", IF_TABLE, 3, "EnumAsInfo", "The type of interface"),
    (
        "ifMtu",
        IF_TABLE,
        4,
        "gauge",
        "The size of the largest packet which can be sent/received on the interface, specified in octets",
    ),
    (
        "ifSpeed",
        IF_TABLE,
        5,
        "gauge",
        "An estimate of the interface's current bandwidth in bits per second",
    ),
    (
        "ifPhysAddress",
        IF_TABLE,
        6,
        "PhysAddress48",
        "The interface's address at its protocol sub-layer",
    ),
    (
        "ifAdminStatus",
        IF_TABLE,
        7,
        "gauge",
        "The desired state of the interface",
    ),
    (
        "ifOperStatus",
        IF_TABLE,
        8,
        "gauge",
        "The current operational state of the interface",
    ),
    (
        "ifLastChange",
        IF_TABLE,
        9,
        "gauge",
        "The value of sysUpTime at the time the interface entered its current operational state",
    ),
    (
        "ifInOctets",
        IF_TABLE,
        10,
        "counter",
        "The total number of octets received on the interface, including framing characters",
    ),
    (
        "ifInUcastPkts",
        IF_TABLE,
        11,
        "counter",
        "The number of packets, delivered by this sub-layer to a higher (sub-)layer, which were not addressed to a multicast or broadcast address at this sub-layer",
    ),
    (
        "ifInNUcastPkts",
        IF_TABLE,
        12,
        "counter",
        "The number of packets, delivered by this sub-layer to a higher (sub-)layer, which were addressed to a multicast or broadcast address at this sub-layer",
    ),
    (
        "ifInDiscards",
        IF_TABLE,
        13,
        "counter",
        "The number of inbound packets which were chosen to be discarded even though no errors had been detected to prevent their being deliverable to a higher-layer protocol",
    ),
    (
        "ifInErrors",
        IF_TABLE,
        14,
        "counter",
        "For packet-oriented interfaces, the number of inbound packets that contained errors preventing them from being deliverable to a higher-layer protocol",
    ),
    (
        "ifInUnknownProtos",
        IF_TABLE,
        15,
        "counter",
        "For packet-oriented interfaces, the number of packets received via the interface which were discarded because of an unknown or unsupported protocol",
    ),
    (
        "ifOutOctets",
        IF_TABLE,
        16,
        "counter",
        "The total number of octets transmitted out of the interface, including framing characters",
    ),
    (
        "ifOutUcastPkts",
        IF_TABLE,
        17,
        "counter",
        "The total number of packets that higher-level protocols requested be transmitted, and which were not addressed to a multicast or broadcast address at this sub-layer, including those that were discarded or not sent",
    ),
    (
        "ifOutNUcastPkts",
        IF_TABLE,
        18,
        "counter",
        "The total number of packets that higher-level protocols requested be transmitted, and which were addressed to a multicast or broadcast address at this sub-layer, including those that were discarded or not sent",
    ),
    (
        "ifOutDiscards",
        IF_TABLE,
        19,
        "counter",
        "The number of outbound packets which were chosen to be discarded even though no errors had been detected to prevent their being transmitted",
    ),
    (
        "ifOutErrors",
        IF_TABLE,
        20,
        "counter",
        "For packet-oriented interfaces, the number of outbound packets that could not be transmitted because of errors",
    ),
    (
        "ifOutQLen",
        IF_TABLE,
        21,
        "gauge",
        "The length of the output packet queue (in packets).",
    ),
    (
        "ifSpecific",
        IF_TABLE,
        22,
        "OctetString",
        "A reference to MIB definitions specific to the particular media being used to realize the interface",
    ),
    (
        "ifInMulticastPkts",
        IFX_TABLE,
        2,
        "counter",
        "The number of packets, delivered by this sub-layer to a higher (sub-)layer, which were addressed to a multicast address at this sub-layer",
    ),
    (
        "ifInBroadcastPkts",
        IFX_TABLE,
        3,
        "counter",
        "The number of packets, delivered by this sub-layer to a higher (sub-)layer, which were addressed to a broadcast address at this sub-layer",
    ),
    (
        "ifOutMulticastPkts",
        IFX_TABLE,
        4,
        "counter",
        "The total number of packets that higher-level protocols requested be transmitted, and which were addressed to a multicast address at this sub-layer, including those that were discarded or not sent",
    ),
    (
        "ifOutBroadcastPkts",
        IFX_TABLE,
        5,
        "counter",
        "The total number of packets that higher-level protocols requested be transmitted, and which were addressed to a broadcast address at this sub-layer, including those that were discarded or not sent",
    ),
    (
        "ifHCInOctets",
        IFX_TABLE,
        6,
        "counter",
        "The total number of octets received on the interface, including framing characters",
    ),
    (
        "ifHCInUcastPkts",
        IFX_TABLE,
        7,
        "counter",
        "The number of packets, delivered by this sub-layer to a higher (sub-)layer, which were not addressed to a multicast or broadcast address at this sub-layer",
    ),
    (
        "ifHCInMulticastPkts",
        IFX_TABLE,
        8,
        "counter",
        "The number of packets, delivered by this sub-layer to a higher (sub-)layer, which were addressed to a multicast address at this sub-layer",
    ),
    (
        "ifHCInBroadcastPkts",
        IFX_TABLE,
        9,
        "counter",
        "The number of packets, delivered by this sub-layer to a higher (sub-)layer, which were addressed to a broadcast address at this sub-layer",
    ),
    (
        "ifHCOutOctets",
        IFX_TABLE,
        10,
        "counter",
        "The total number of octets transmitted out of the interface, including framing characters",
    ),
    (
        "ifHCOutUcastPkts",
        IFX_TABLE,
        11,
        "counter",
        "The total number of packets that higher-level protocols requested be transmitted, and which were not addressed to a multicast or broadcast address at this sub-layer, including those that were discarded or not sent",
    ),
    (
        "ifHCOutMulticastPkts",
        IFX_TABLE,
        12,
        "counter",
        "The total number of packets that higher-level protocols requested be transmitted, and which were addressed to a multicast address at this sub-layer, including those that were discarded or not sent",
    ),
    (
        "ifHCOutBroadcastPkts",
        IFX_TABLE,
        13,
        "counter",
        "The total number of packets that higher-level protocols requested be transmitted, and which were addressed to a broadcast address at this sub-layer, including those that were discarded or not sent",
    ),
    (
        "ifLinkUpDownTrapEnable",
        IFX_TABLE,
        14,
        "gauge",
        "Indicates whether linkUp/linkDown traps should be generated for this interface",
    ),
    (
        "ifHighSpeed",
        IFX_TABLE,
        15,
        "gauge",
        "An estimate of the interface's current bandwidth in units of 1,000,000 bits per second",
    ),
    (
        "ifPromiscuousMode",
        IFX_TABLE,
        16,
        "gauge",
        "This object has a value of false(2) if this interface only accepts packets/frames that are addressed to this station",
    ),
    (
        "ifConnectorPresent",
        IFX_TABLE,
        17,
        "gauge",
        "This object has the value 'true(1)' if the interface sublayer has a physical connector and the value 'false(2)' otherwise.",
    ),
    (
        "ifCounterDiscontinuityTime",
        IFX_TABLE,
        19,
        "gauge",
        "The value of sysUpTime on the most recent occasion at which any one or more of this interface's counters suffered a discontinuity",
    ),
];

const SYS_UPTIME_HELP: &str = "The time (in hundredths of a second) since the network management portion of the system was last re-initialized.";

fn oid(text: &str) -> Oid {
    Oid::parse(text).unwrap_or_default()
}

fn enums(pairs: &[(i64, &str)]) -> BTreeMap<i64, String> {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

/// The IANAifType enum (299 names for codes 1–303).
pub fn iana_if_types() -> BTreeMap<i64, String> {
    IANA_IF_TYPES
        .split_whitespace()
        .enumerate()
        .filter(|(_, name)| *name != "-")
        .map(|(i, name)| (i as i64 + 1, name.to_owned()))
        .collect()
}

fn kind_of(type_name: &str) -> MetricType {
    match type_name {
        "gauge" => MetricType::Gauge,
        "counter" => MetricType::Counter,
        "EnumAsInfo" => MetricType::EnumAsInfo,
        "PhysAddress48" => MetricType::Str(StringType::PhysAddress48),
        "OctetString" => MetricType::Str(StringType::OctetString),
        _ => MetricType::Str(StringType::DisplayString),
    }
}

fn metric(name: &str, oid_text: &str, type_name: &str, help: &str) -> Metric {
    Metric {
        name: name.to_owned(),
        oid: oid(oid_text),
        type_name: type_name.to_owned(),
        kind: kind_of(type_name),
        help: format!("{help} - {oid_text}"),
        indexes: Vec::new(),
        lookups: Vec::new(),
        regex_extracts: BTreeMap::new(),
        enum_values: BTreeMap::new(),
        scale: 0.0,
        offset: 0.0,
        display_hint: None,
        datetime_pattern: None,
    }
}

fn gauge_index(label: &str) -> Index {
    Index {
        labelname: label.to_owned(),
        type_name: "gauge".to_owned(),
        kind: IndexType::Integer,
        fixed_size: 0,
        implied: false,
        enum_values: BTreeMap::new(),
    }
}

fn display_lookup(source: &str, label: &str, oid_text: &str) -> Lookup {
    Lookup {
        labels: vec![source.to_owned()],
        labelname: label.to_owned(),
        oid: Some(oid(oid_text)),
        type_name: "DisplayString".to_owned(),
        kind: Some(IndexType::Str(StringType::DisplayString)),
        display_hint: None,
        enum_values: BTreeMap::new(),
    }
}

fn module(walk: &[&str], get: &[&str], metrics: Vec<Metric>) -> Module {
    Module {
        walk: walk.iter().map(|o| oid(o)).collect(),
        get: get.iter().map(|o| oid(o)).collect(),
        metrics,
        max_repetitions: 25,
        retries: 3,
        timeout: Duration::from_secs(5),
        use_unconnected_udp_socket: false,
        allow_nonincreasing_oids: false,
        filters: Vec::new(),
        walk_concurrency: None,
        allowed_targets: Vec::new(),
        allowlist: Allowlist::default(),
        flat_auth: None,
        source: EMBEDDED.to_owned(),
    }
}

/// upstream's v0.21.0 `if_mib` module, written from IF-MIB.
pub fn if_mib() -> Module {
    let mut metrics = vec![
        metric("sysUpTime", "1.3.6.1.2.1.1.3", "gauge", SYS_UPTIME_HELP),
        metric(
            "ifNumber",
            "1.3.6.1.2.1.2.1",
            "gauge",
            "The number of network interfaces (regardless of their current state) present on this system.",
        ),
    ];
    for (name, table, column, type_name, help) in IF_COLUMNS {
        let oid_text = format!("{table}.{column}");
        let mut m = metric(name, &oid_text, type_name, help);
        m.indexes = vec![gauge_index("ifIndex")];
        m.lookups = vec![
            display_lookup("ifIndex", "ifAlias", "1.3.6.1.2.1.31.1.1.1.18"),
            display_lookup("ifIndex", "ifDescr", "1.3.6.1.2.1.2.2.1.2"),
            display_lookup("ifIndex", "ifName", "1.3.6.1.2.1.31.1.1.1.1"),
        ];
        m.enum_values = match *name {
            "ifType" => iana_if_types(),
            "ifAdminStatus" => enums(&[(1, "up"), (2, "down"), (3, "testing")]),
            "ifOperStatus" => enums(&[
                (1, "up"),
                (2, "down"),
                (3, "testing"),
                (4, "unknown"),
                (5, "dormant"),
                (6, "notPresent"),
                (7, "lowerLayerDown"),
            ]),
            "ifLinkUpDownTrapEnable" => enums(&[(1, "enabled"), (2, "disabled")]),
            "ifPromiscuousMode" | "ifConnectorPresent" => enums(&[(1, "true"), (2, "false")]),
            _ => BTreeMap::new(),
        };
        metrics.push(m);
    }
    module(
        &["1.3.6.1.2.1.2", "1.3.6.1.2.1.31.1.1"],
        &["1.3.6.1.2.1.1.3.0"],
        metrics,
    )
}

/// upstream's `system` module (SNMPv2-MIB system group), written from SNMPv2-MIB.
pub fn system() -> Module {
    let scalars: &[(&str, &str, &str, &str)] = &[
        (
            "sysDescr",
            "1.3.6.1.2.1.1.1",
            "DisplayString",
            "A textual description of the entity",
        ),
        (
            "sysObjectID",
            "1.3.6.1.2.1.1.2",
            "OctetString",
            "The vendor's authoritative identification of the network management subsystem contained in the entity",
        ),
        ("sysUpTime", "1.3.6.1.2.1.1.3", "gauge", SYS_UPTIME_HELP),
        (
            "sysContact",
            "1.3.6.1.2.1.1.4",
            "DisplayString",
            "The textual identification of the contact person for this managed node, together with information on how to contact this person",
        ),
        (
            "sysName",
            "1.3.6.1.2.1.1.5",
            "DisplayString",
            "An administratively-assigned name for this managed node",
        ),
        (
            "sysLocation",
            "1.3.6.1.2.1.1.6",
            "DisplayString",
            "The physical location of this node (e.g., 'telephone closet, 3rd floor')",
        ),
        (
            "sysServices",
            "1.3.6.1.2.1.1.7",
            "gauge",
            "A value which indicates the set of services that this entity may potentially offer",
        ),
        (
            "sysORLastChange",
            "1.3.6.1.2.1.1.8",
            "gauge",
            "The value of sysUpTime at the time of the most recent change in state or value of any instance of sysORID.",
        ),
    ];
    let columns: &[(&str, &str, &str, &str)] = &[
        (
            "sysORIndex",
            "1.3.6.1.2.1.1.9.1.1",
            "gauge",
            "The auxiliary variable used for identifying instances of the columnar objects in the sysORTable.",
        ),
        (
            "sysORID",
            "1.3.6.1.2.1.1.9.1.2",
            "OctetString",
            "An authoritative identification of a capabilities statement with respect to various MIB modules supported by the local SNMP application acting as a command responder.",
        ),
        (
            "sysORDescr",
            "1.3.6.1.2.1.1.9.1.3",
            "DisplayString",
            "A textual description of the capabilities identified by the corresponding instance of sysORID.",
        ),
        (
            "sysORUpTime",
            "1.3.6.1.2.1.1.9.1.4",
            "gauge",
            "The value of sysUpTime at the time this conceptual row was last instantiated.",
        ),
    ];
    let mut metrics: Vec<Metric> = scalars
        .iter()
        .map(|(n, o, t, h)| metric(n, o, t, h))
        .collect();
    for (n, o, t, h) in columns {
        let mut m = metric(n, o, t, h);
        m.indexes = vec![gauge_index("sysORIndex")];
        m.lookups = vec![display_lookup(
            "sysORIndex",
            "sysORDescr",
            "1.3.6.1.2.1.1.9.1.3",
        )];
        metrics.push(m);
    }
    module(&["1.3.6.1.2.1.1"], &[], metrics)
}

fn public(version: Version) -> Auth {
    Auth {
        version,
        community: Secret::new("public"),
        security_level: SecurityLevel::NoAuthNoPriv,
        auth_protocol: "MD5".to_owned(),
        priv_protocol: "DES".to_owned(),
        ..Auth::default()
    }
}

/// The whole embedded config.
pub fn config() -> Config {
    let mut config = Config {
        sources: vec![EMBEDDED.to_owned()],
        ..Config::default()
    };
    config
        .auths
        .insert("public_v1".to_owned(), public(Version::V1));
    config
        .auths
        .insert("public_v2".to_owned(), public(Version::V2c));
    config.modules.insert("if_mib".to_owned(), if_mib());
    config.modules.insert("system".to_owned(), system());
    config
}
