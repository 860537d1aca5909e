//! The SNMP agent simulator, driven over UDP by async-snmp's client (the library snmp-exporter
//! uses), as v2c with GETBULK and as v1 with GETNEXT.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_snmp::{Auth, Client, Oid, Retry, UdpHandle, Value, VarBind};
use portkey_sim::snmp::model::{CounterKind, ETH0_ALIAS};
use portkey_sim::snmp::{SnmpSim, SnmpSimConfig};

const IF_ENTRY: &str = "1.3.6.1.2.1.2.2.1";
const IFX_ENTRY: &str = "1.3.6.1.2.1.31.1.1.1";

fn oid(text: &str) -> Oid {
    Oid::parse(text).unwrap()
}

async fn client(addr: SocketAddr, auth: Auth) -> Client<UdpHandle> {
    Client::builder(addr, auth)
        .request_timeout(Duration::from_secs(2))
        .retry(Retry::none())
        .connect()
        .await
        .unwrap()
}

/// The walk as `column -> ifIndex -> value`.
fn by_column(prefix: &str, walk: &[VarBind]) -> BTreeMap<u32, BTreeMap<u32, Value>> {
    let prefix = oid(prefix);
    let mut columns: BTreeMap<u32, BTreeMap<u32, Value>> = BTreeMap::new();
    for vb in walk {
        let suffix = vb.oid.strip_prefix(&prefix).unwrap_or_else(|| {
            panic!("{} is outside {prefix}", vb.oid);
        });
        let [column, index] = suffix.arcs() else {
            panic!("unexpected instance {}", vb.oid);
        };
        columns
            .entry(*column)
            .or_default()
            .insert(*index, vb.value.clone());
    }
    columns
}

fn text(value: &Value) -> String {
    match value {
        Value::OctetString(bytes) => String::from_utf8(bytes.to_vec()).unwrap(),
        other => panic!("not a string: {other:?}"),
    }
}

fn counter64(value: &Value) -> u64 {
    match value {
        Value::Counter64(n) => *n,
        other => panic!("not a Counter64: {other:?}"),
    }
}

fn counter32(value: &Value) -> u32 {
    match value {
        Value::Counter32(n) => *n,
        other => panic!("not a Counter32: {other:?}"),
    }
}

#[tokio::test]
async fn v2c_bulk_walk_serves_if_table_and_if_x_table() {
    let sim = SnmpSim::start(SnmpSimConfig::default()).await.unwrap();
    let started = Instant::now();
    let client = client(sim.addr(), Auth::v2c("public")).await;

    let if_table = client
        .bulk_walk(oid("1.3.6.1.2.1.2"), 25)
        .unwrap()
        .collect()
        .await
        .unwrap();
    let ifx_table = client
        .bulk_walk(oid("1.3.6.1.2.1.31.1.1"), 25)
        .unwrap()
        .collect()
        .await
        .unwrap();
    let elapsed = started.elapsed();

    // ifNumber, then 22 ifTable columns and 18 ifXTable columns (no ifLinkUpDownTrapEnable) for
    // four interfaces: with sysUpTime, the 162 varbinds of net-snmp's walk.
    assert_eq!(if_table[0].oid, oid("1.3.6.1.2.1.2.1.0"));
    assert_eq!(if_table[0].value, Value::Integer(4));
    assert_eq!(1 + if_table.len() + ifx_table.len(), 162);
    let table = by_column(IF_ENTRY, &if_table[1..]);
    let xtable = by_column(IFX_ENTRY, &ifx_table);
    assert_eq!(
        table.keys().copied().collect::<Vec<_>>(),
        (1..=22).collect::<Vec<_>>()
    );
    assert!(!xtable.contains_key(&14));

    let names: Vec<String> = xtable[&1].values().map(text).collect();
    assert_eq!(names, ["lo", "eth0", "eth1", "wg0"]);
    let descrs: Vec<String> = table[&2].values().map(text).collect();
    assert_eq!(descrs, names);
    let types: Vec<&Value> = table[&3].values().collect();
    assert_eq!(
        types,
        [
            &Value::Integer(24),
            &Value::Integer(6),
            &Value::Integer(6),
            &Value::Integer(131)
        ]
    );
    assert_eq!(table[&5][&1], Value::Gauge32(10_000_000));
    assert_eq!(table[&5][&2], Value::Gauge32(1_000_000_000));
    assert_eq!(
        table[&5][&3],
        Value::Gauge32(u32::MAX),
        "10 GbE saturates ifSpeed"
    );
    assert_eq!(xtable[&15][&3], Value::Gauge32(10_000));
    assert_eq!(table[&6][&1], Value::OctetString(Default::default()));
    match &table[&6][&2] {
        Value::OctetString(mac) => assert_eq!(mac.len(), 6),
        other => panic!("ifPhysAddress {other:?}"),
    }
    assert_eq!(table[&22][&1], Value::ObjectIdentifier(oid("0.0")));
    assert_eq!(text(&xtable[&18][&2]), ETH0_ALIAS);
    assert!(ETH0_ALIAS.contains('"') && !ETH0_ALIAS.is_ascii());
    for (column, value) in [(7, 1), (8, 1)] {
        assert!(table[&column].values().all(|v| *v == Value::Integer(value)));
    }

    // Counters: between the model's values at the start and the end of the walk, and the 32-bit
    // column is the low half of the 64-bit one.
    for interface in &sim.device().interfaces {
        let row = interface.index;
        for (kind, hc_column, column) in [
            (CounterKind::InOctets, 6, 10),
            (CounterKind::OutOctets, 10, 16),
            (CounterKind::InUcastPkts, 7, 11),
        ] {
            let counter = interface.counter(kind);
            let hc = counter64(&xtable[&hc_column][&row]);
            assert!(
                (counter.at(Duration::ZERO)..=counter.at(elapsed)).contains(&hc),
                "{kind:?} of ifIndex {row}: {hc}"
            );
            let low = counter32(&table[&column][&row]);
            let bounds = (
                counter.at(Duration::ZERO) as u32,
                counter.at(elapsed) as u32,
            );
            assert!(
                bounds.0 <= bounds.1 && (bounds.0..=bounds.1).contains(&low)
                    || bounds.0 > bounds.1 && (low >= bounds.0 || low <= bounds.1),
                "{kind:?} of ifIndex {row}: {low} not in {bounds:?}"
            );
        }
    }

    let stats = sim.stats();
    assert!(stats.get_bulk >= 2, "{stats:?}");
    assert_eq!(stats.get_next, 0);
    assert_eq!(stats.requests, stats.get_bulk);
}

#[tokio::test]
async fn v1_getnext_walk_skips_counter64_columns() {
    let sim = SnmpSim::start(SnmpSimConfig::default().interfaces(6))
        .await
        .unwrap();
    let client = client(sim.addr(), Auth::v1("public")).await;
    let ifx_table = client
        .walk_getnext(oid("1.3.6.1.2.1.31.1.1"))
        .unwrap()
        .collect()
        .await
        .unwrap();
    let xtable = by_column(IFX_ENTRY, &ifx_table);
    assert_eq!(
        xtable.keys().copied().collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 15, 16, 17, 18, 19],
        "v1 has no Counter64: the ifHC* columns are skipped"
    );
    assert!(xtable.values().all(|rows| rows.len() == 6));
    let names: Vec<String> = xtable[&1].values().map(text).collect();
    assert_eq!(names, ["lo", "eth0", "eth1", "wg0", "eth2", "eth3"]);

    let if_table = client
        .walk_getnext(oid("1.3.6.1.2.1.2"))
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(if_table.len(), 1 + 22 * 6);

    // One GETNEXT per varbind, plus the one that leaves each subtree.
    let stats = sim.stats();
    assert_eq!(
        stats.get_next as usize,
        ifx_table.len() + if_table.len() + 2
    );
    assert_eq!(stats.get_bulk, 0);

    // A v1 GET of a Counter64 object is an error (noSuchName), as RFC 2576 has it.
    assert!(client.get(&oid("1.3.6.1.2.1.31.1.1.1.6.2")).await.is_err());
}

#[tokio::test]
async fn get_serves_the_system_group_and_time_advances() {
    let sim = SnmpSim::start(SnmpSimConfig::default()).await.unwrap();
    let client = client(sim.addr(), Auth::v2c("public")).await;
    let before_first = Instant::now();
    let response = client
        .get_many(&[
            oid("1.3.6.1.2.1.1.1.0"),
            oid("1.3.6.1.2.1.1.3.0"),
            oid("1.3.6.1.2.1.1.5.0"),
            oid("1.3.6.1.2.1.31.1.1.1.6.2"),
            oid("1.3.6.1.2.1.2.2.1.1.9"),
            oid("1.3.6.1.4.1.2021.4.5.0"),
        ])
        .await
        .unwrap();
    let values: Vec<&Value> = response.varbinds.iter().map(|vb| &vb.value).collect();
    assert!(text(values[0]).starts_with("Linux gateway "));
    let Value::TimeTicks(uptime) = *values[1] else {
        panic!("sysUpTime {:?}", values[1]);
    };
    assert!(uptime >= sim.device().uptime_at_start);
    assert_eq!(text(values[2]), "gateway");
    let octets = counter64(values[3]);
    let after_first = Instant::now();
    assert_eq!(*values[4], Value::NoSuchInstance);
    assert_eq!(*values[5], Value::NoSuchObject);

    let system = client
        .bulk_walk(oid("1.3.6.1.2.1.1"), 25)
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(
        system.len(),
        8 + 3 * 10,
        "scalars and sysORTable without sysORIndex"
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before_second = Instant::now();
    let again = client
        .get_many(&[oid("1.3.6.1.2.1.1.3.0"), oid("1.3.6.1.2.1.31.1.1.1.6.2")])
        .await
        .unwrap();
    let after_second = Instant::now();
    let Value::TimeTicks(later) = again.varbinds[0].value else {
        panic!("sysUpTime {:?}", again.varbinds[0].value);
    };
    assert!(later >= uptime + 100, "{uptime} then {later}");
    // eth0 receives 1.25 MB/s: what it gained lies between the rate times the shortest and the
    // longest time that can have passed between the two answers (to a millisecond).
    let rate = sim.device().interfaces[1]
        .counter(CounterKind::InOctets)
        .milli_per_second
        / 1000;
    assert_eq!(rate, 1_250_000);
    let least = (before_second - after_first).as_millis() as u64;
    let most = (after_second - before_first).as_millis() as u64 + 1;
    let gained = counter64(&again.varbinds[1].value) - octets;
    assert!(
        (rate * least / 1000..=rate * most / 1000).contains(&gained),
        "{gained} octets in {least}..{most} ms"
    );
    assert_eq!(sim.stats().get, 2);
}

#[tokio::test]
async fn wrong_community_gets_no_answer() {
    let sim = SnmpSim::start(SnmpSimConfig::default().community("s3cret"))
        .await
        .unwrap();
    let wrong = Client::builder(sim.addr(), Auth::v2c("public"))
        .request_timeout(Duration::from_millis(500))
        .retry(Retry::none())
        .connect()
        .await
        .unwrap();
    let error = wrong.get(&oid("1.3.6.1.2.1.1.3.0")).await.unwrap_err();
    assert_eq!(error.kind(), async_snmp::ErrorKind::Timeout, "{error}");
    let v1 = client(sim.addr(), Auth::v1("public")).await;
    assert!(v1.get(&oid("1.3.6.1.2.1.1.3.0")).await.is_err());
    assert_eq!(sim.stats().requests, 0);

    let right = client(sim.addr(), Auth::v2c("s3cret")).await;
    right.get(&oid("1.3.6.1.2.1.1.3.0")).await.unwrap();
    assert_eq!(sim.stats().requests, 1);
}

#[tokio::test]
async fn latency_delays_each_request_once() {
    let sim = SnmpSim::start(SnmpSimConfig::default().latency(Duration::from_millis(300)))
        .await
        .unwrap();
    let client = client(sim.addr(), Auth::v2c("public")).await;
    let started = Instant::now();
    let rows = client.get_bulk(&[oid(IFX_ENTRY)], 0, 40).await.unwrap();
    let took = started.elapsed();
    assert!(rows.len() >= 20, "{}", rows.len());
    assert!(
        (Duration::from_millis(300)..Duration::from_millis(1500)).contains(&took),
        "{took:?}"
    );

    sim.set_latency(Duration::ZERO);
    let started = Instant::now();
    client.get(&oid("1.3.6.1.2.1.1.3.0")).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(300));
    assert_eq!(sim.stats().requests, 2);
}

#[tokio::test]
async fn shutdown_stops_answering() {
    let sim = SnmpSim::start(SnmpSimConfig::default()).await.unwrap();
    let addr = sim.addr();
    sim.shutdown().await;
    let client = Client::builder(addr, Auth::v2c("public"))
        .request_timeout(Duration::from_millis(300))
        .retry(Retry::none())
        .connect()
        .await
        .unwrap();
    assert!(client.get(&oid("1.3.6.1.2.1.1.3.0")).await.is_err());
}

#[tokio::test]
async fn impossible_configurations_are_refused() {
    let error = SnmpSim::start(SnmpSimConfig::default().interfaces(10_001))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("at most 10000"), "{error}");

    let first = SnmpSim::start(SnmpSimConfig::default()).await.unwrap();
    let error = SnmpSim::start(SnmpSimConfig::default().listen(first.addr()))
        .await
        .unwrap_err();
    assert!(
        matches!(error, portkey_sim::SimError::Bind { addr, .. } if addr == first.addr()),
        "{error}"
    );
}

/// Kills the child when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_serves_snmp_with_flags() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portkey-sim"))
        .args([
            "snmp",
            "--listen",
            "127.0.0.1:0",
            "--interfaces",
            "12",
            "--community",
            "lab",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("portkey-sim starts");
    let stdout = child.stdout.take().unwrap();
    let _child = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    assert!(
        line.starts_with("portkey-sim: snmp listening on udp://127.0.0.1:"),
        "{line}"
    );
    assert!(line.contains("community 'lab', 12 interfaces"), "{line}");
    let addr: SocketAddr = line
        .split_whitespace()
        .find_map(|word| word.strip_prefix("udp://"))
        .unwrap()
        .parse()
        .unwrap();

    let client = client(addr, Auth::v2c("lab")).await;
    let response = client.get(&oid("1.3.6.1.2.1.2.1.0")).await.unwrap();
    assert_eq!(response.varbinds[0].value, Value::Integer(12));
}
