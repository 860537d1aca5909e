//! The simulated device as data: the SNMPv2-MIB system group and the IF-MIB interfaces.
//!
//! Everything is derived from the seed and the interface count, so two simulators with the same
//! configuration serve the same values at the same time since their start. Counters are
//! `start + rate × elapsed` ([`Counter::at`]); the 32-bit columns are the low 32 bits of the
//! 64-bit ones, as agents derive them, so `ifInOctets` wraps while `ifHCInOctets` keeps counting.
//!
//! The first four interfaces are a small Linux router (`lo`, `eth0`, `eth1`, `wg0`); further ones
//! are 1 GbE ports `eth2`, `eth3`, ... with a seeded state (about a quarter administratively
//! down, a quarter up without link). Interface `n` keeps its values when the count changes.

use std::time::Duration;

use crate::rng::hash;

/// Seed used when none is given.
pub const DEFAULT_SEED: u64 = 161;
/// Interfaces served when no count is given.
pub const DEFAULT_INTERFACES: usize = 4;
/// Largest interface count accepted (keeps a typo from exhausting memory).
pub const MAX_INTERFACES: usize = 10_000;

/// `ifAdminStatus` / `ifOperStatus` `up(1)`.
pub const STATUS_UP: i32 = 1;
/// `ifAdminStatus` / `ifOperStatus` `down(2)`.
pub const STATUS_DOWN: i32 = 2;
/// IANAifType `ethernetCsmacd(6)`.
pub const IF_TYPE_ETHERNET: i32 = 6;
/// IANAifType `softwareLoopback(24)`.
pub const IF_TYPE_LOOPBACK: i32 = 24;
/// IANAifType `tunnel(131)`.
pub const IF_TYPE_TUNNEL: i32 = 131;

/// The alias of `eth0`: double quotes and non-ASCII characters, which exporters must escape and
/// keep intact in label values.
pub const ETH0_ALIAS: &str = "uplink \"core-sw1\" Gi1/0/24 – Büro";

/// An OUI for the simulated MAC addresses (Intel's), so addresses look like real NICs'.
const OUI: [u8; 3] = [0x00, 0x1b, 0x21];

/// `sysUpTime` ticks per day.
const TICKS_PER_DAY: u64 = 24 * 60 * 60 * 100;

// Salts, so that each field draws its own number.
const F_UPTIME: u64 = 1;
const F_MAC: u64 = 2;
const F_LAST_CHANGE: u64 = 3;
const F_STATE: u64 = 4;
const F_RATE: u64 = 5;
const F_COUNTER: u64 = 6;

/// One interface counter that exists in both directions' columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CounterKind {
    /// `ifHCInOctets` (`ifInOctets` is its low 32 bits).
    InOctets,
    /// `ifHCInUcastPkts` (`ifInUcastPkts`).
    InUcastPkts,
    /// `ifHCInMulticastPkts` (`ifInMulticastPkts`).
    InMulticastPkts,
    /// `ifHCInBroadcastPkts` (`ifInBroadcastPkts`).
    InBroadcastPkts,
    /// `ifInDiscards`.
    InDiscards,
    /// `ifInErrors`.
    InErrors,
    /// `ifInUnknownProtos`.
    InUnknownProtos,
    /// `ifHCOutOctets` (`ifOutOctets`).
    OutOctets,
    /// `ifHCOutUcastPkts` (`ifOutUcastPkts`).
    OutUcastPkts,
    /// `ifHCOutMulticastPkts` (`ifOutMulticastPkts`).
    OutMulticastPkts,
    /// `ifHCOutBroadcastPkts` (`ifOutBroadcastPkts`).
    OutBroadcastPkts,
    /// `ifOutDiscards`.
    OutDiscards,
    /// `ifOutErrors`.
    OutErrors,
}

impl CounterKind {
    /// Every counter, in storage order.
    pub const ALL: [CounterKind; 13] = [
        CounterKind::InOctets,
        CounterKind::InUcastPkts,
        CounterKind::InMulticastPkts,
        CounterKind::InBroadcastPkts,
        CounterKind::InDiscards,
        CounterKind::InErrors,
        CounterKind::InUnknownProtos,
        CounterKind::OutOctets,
        CounterKind::OutUcastPkts,
        CounterKind::OutMulticastPkts,
        CounterKind::OutBroadcastPkts,
        CounterKind::OutDiscards,
        CounterKind::OutErrors,
    ];
}

/// A monotonically increasing counter: its value at the simulator's start and its rate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counter {
    /// Value at the simulator's start.
    pub start: u64,
    /// Increase per second, in thousandths (so slow error counters can tick now and then).
    pub milli_per_second: u64,
}

impl Counter {
    /// The value `elapsed` after the simulator's start (wrapping at 2^64, as Counter64 does).
    pub fn at(&self, elapsed: Duration) -> u64 {
        let gained = u128::from(self.milli_per_second) * elapsed.as_millis() / 1_000_000;
        self.start.wrapping_add(gained as u64)
    }
}

/// One row of `ifTable` / `ifXTable`.
#[derive(Clone, Debug, PartialEq)]
pub struct Interface {
    /// `ifIndex` (1-based, contiguous).
    pub index: u32,
    /// `ifName` (`lo`, `eth0`, ...).
    pub name: String,
    /// `ifDescr` (net-snmp on Linux reports the name here too).
    pub descr: String,
    /// `ifType` (IANAifType).
    pub if_type: i32,
    /// `ifMtu`.
    pub mtu: i32,
    /// Bandwidth in bits per second (`ifSpeed` saturates at 2^32-1, `ifHighSpeed` is in Mbit/s).
    pub speed_bps: u64,
    /// `ifPhysAddress` (empty for loopback and tunnels).
    pub phys_address: Vec<u8>,
    /// `ifAlias`.
    pub alias: String,
    /// `ifAdminStatus`.
    pub admin_status: i32,
    /// `ifOperStatus`.
    pub oper_status: i32,
    /// `ifLastChange` (`sysUpTime` ticks when the interface entered its current state).
    pub last_change: u32,
    /// `ifPromiscuousMode` is true(1).
    pub promiscuous: bool,
    /// `ifConnectorPresent` is true(1).
    pub connector_present: bool,
    counters: [Counter; CounterKind::ALL.len()],
}

impl Interface {
    /// One of the interface's counters.
    pub fn counter(&self, kind: CounterKind) -> Counter {
        self.counters[kind as usize]
    }

    /// `ifSpeed`: bits per second, 4294967295 when the speed does not fit (RFC 2863).
    pub fn if_speed(&self) -> u32 {
        u32::try_from(self.speed_bps).unwrap_or(u32::MAX)
    }

    /// `ifHighSpeed`: millions of bits per second.
    pub fn if_high_speed(&self) -> u32 {
        u32::try_from(self.speed_bps / 1_000_000).unwrap_or(u32::MAX)
    }
}

/// One row of `sysORTable`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrEntry {
    /// `sysORID`.
    pub id: &'static [u32],
    /// `sysORDescr`.
    pub descr: &'static str,
    /// `sysORUpTime`.
    pub uptime: u32,
}

/// The whole simulated device.
#[derive(Clone, Debug, PartialEq)]
pub struct Device {
    /// `sysDescr`.
    pub sys_descr: String,
    /// `sysObjectID`.
    pub sys_object_id: &'static [u32],
    /// `sysContact`.
    pub sys_contact: String,
    /// `sysName`.
    pub sys_name: String,
    /// `sysLocation`.
    pub sys_location: String,
    /// `sysServices`.
    pub sys_services: i32,
    /// `sysUpTime` at the simulator's start (the agent has been up a few days already).
    pub uptime_at_start: u32,
    /// `sysORLastChange`.
    pub or_last_change: u32,
    /// `sysORTable` rows, index 1 first.
    pub or_table: Vec<OrEntry>,
    /// `ifTable` rows, `ifIndex` 1 first.
    pub interfaces: Vec<Interface>,
}

impl Device {
    /// `sysUpTime` `elapsed` after the simulator's start (wrapping at 2^32 ticks like the real one).
    pub fn sys_uptime(&self, elapsed: Duration) -> u32 {
        let ticks = (elapsed.as_millis() / 10) as u32;
        self.uptime_at_start.wrapping_add(ticks)
    }

    /// The interface with this `ifIndex`.
    pub fn interface(&self, if_index: u32) -> Option<&Interface> {
        let slot = usize::try_from(if_index).ok()?.checked_sub(1)?;
        self.interfaces.get(slot)
    }

    /// The device for `interfaces` interfaces and `seed`.
    pub fn generate(interfaces: usize, seed: u64) -> Device {
        let uptime_at_start =
            (3 * TICKS_PER_DAY + hash(&[seed, 0, F_UPTIME]) % (37 * TICKS_PER_DAY)) as u32;
        let interfaces = (1..=interfaces as u32)
            .map(|index| interface(seed, index, uptime_at_start))
            .collect();
        Device {
            sys_descr: "Linux gateway 6.8.12-8-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-8 \
                        (2025-01-24T12:32Z) x86_64"
                .to_owned(),
            // NET-SNMP-TC::linux, what net-snmp's snmpd reports on Linux.
            sys_object_id: &[1, 3, 6, 1, 4, 1, 8072, 3, 2, 10],
            sys_contact: "Homelab Admin <admin@home.arpa>".to_owned(),
            sys_name: "gateway".to_owned(),
            sys_location: "Rack 1, basement".to_owned(),
            sys_services: 72,
            uptime_at_start,
            or_last_change: 2,
            or_table: or_table(),
            interfaces,
        }
    }
}

/// net-snmp 5.9's `sysORTable` as Debian's snmpd reports it.
fn or_table() -> Vec<OrEntry> {
    let rows: [(&'static [u32], &'static str); 10] = [
        (
            &[1, 3, 6, 1, 6, 3, 10, 3, 1, 1],
            "The SNMP Management Architecture MIB.",
        ),
        (
            &[1, 3, 6, 1, 6, 3, 11, 3, 1, 1],
            "The MIB for Message Processing and Dispatching.",
        ),
        (
            &[1, 3, 6, 1, 6, 3, 15, 2, 1, 1],
            "The management information definitions for the SNMP User-based Security Model.",
        ),
        (&[1, 3, 6, 1, 6, 3, 1], "The MIB module for SNMPv2 entities"),
        (
            &[1, 3, 6, 1, 6, 3, 16, 2, 2, 1],
            "View-based Access Control Model for SNMP.",
        ),
        (
            &[1, 3, 6, 1, 2, 1, 49],
            "The MIB module for managing TCP implementations",
        ),
        (
            &[1, 3, 6, 1, 2, 1, 50],
            "The MIB module for managing UDP implementations",
        ),
        (
            &[1, 3, 6, 1, 2, 1, 4],
            "The MIB module for managing IP and ICMP implementations",
        ),
        (
            &[1, 3, 6, 1, 6, 3, 13, 3, 1, 3],
            "The MIB modules for managing SNMP Notification, plus filtering.",
        ),
        (
            &[1, 3, 6, 1, 2, 1, 92],
            "The MIB module for logging SNMP Notifications.",
        ),
    ];
    rows.iter()
        .enumerate()
        .map(|(i, (id, descr))| OrEntry {
            id,
            descr,
            uptime: if i + 1 == rows.len() { 2 } else { 1 },
        })
        .collect()
}

/// Traffic of one interface: bytes per second, average packet sizes, non-unicast packets per
/// second (in thousandths), and drops per thousand seconds.
struct Traffic {
    in_bytes: u64,
    out_bytes: u64,
    in_packet: u64,
    out_packet: u64,
    in_multicast_milli: u64,
    in_broadcast_milli: u64,
    out_multicast_milli: u64,
    out_broadcast_milli: u64,
    in_discards_milli: u64,
    in_errors_milli: u64,
    in_unknown_milli: u64,
    out_discards_milli: u64,
    out_errors_milli: u64,
}

const IDLE: Traffic = Traffic {
    in_bytes: 0,
    out_bytes: 0,
    in_packet: 1,
    out_packet: 1,
    in_multicast_milli: 0,
    in_broadcast_milli: 0,
    out_multicast_milli: 0,
    out_broadcast_milli: 0,
    in_discards_milli: 0,
    in_errors_milli: 0,
    in_unknown_milli: 0,
    out_discards_milli: 0,
    out_errors_milli: 0,
};

fn mac(seed: u64, index: u32) -> Vec<u8> {
    let h = hash(&[seed, u64::from(index), F_MAC]).to_be_bytes();
    vec![OUI[0], OUI[1], OUI[2], h[0], h[1], h[2]]
}

fn interface(seed: u64, index: u32, uptime_at_start: u32) -> Interface {
    let entity = u64::from(index);
    let draw = |field: u64| hash(&[seed, entity, field]);
    let mut row = Interface {
        index,
        name: String::new(),
        descr: String::new(),
        if_type: IF_TYPE_ETHERNET,
        mtu: 1500,
        speed_bps: 1_000_000_000,
        phys_address: Vec::new(),
        alias: String::new(),
        admin_status: STATUS_UP,
        oper_status: STATUS_UP,
        last_change: (draw(F_LAST_CHANGE) % u64::from(uptime_at_start.max(1))) as u32,
        promiscuous: false,
        connector_present: true,
        counters: [Counter::default(); CounterKind::ALL.len()],
    };
    let lab_port = |bytes: u64| Traffic {
        in_bytes: bytes,
        out_bytes: bytes / 3,
        in_packet: 900,
        out_packet: 400,
        in_multicast_milli: 1_000,
        in_broadcast_milli: 500,
        out_multicast_milli: 100,
        out_broadcast_milli: 10,
        in_discards_milli: 5,
        ..IDLE
    };
    // What the interface carries now, and what it carried before it entered its current state
    // (for ports that lost their link) with the seconds it did so.
    let uptime_seconds = u64::from(uptime_at_start / 100);
    let (now, past, past_seconds) = match index {
        1 => {
            row.name = "lo".into();
            row.if_type = IF_TYPE_LOOPBACK;
            row.mtu = 65536;
            row.speed_bps = 10_000_000;
            row.last_change = 0;
            row.connector_present = false;
            let traffic = Traffic {
                in_bytes: 30_000,
                out_bytes: 30_000,
                in_packet: 480,
                out_packet: 480,
                ..IDLE
            };
            (traffic, IDLE, 0)
        }
        2 => {
            row.name = "eth0".into();
            row.phys_address = mac(seed, index);
            row.alias = ETH0_ALIAS.into();
            let traffic = Traffic {
                in_bytes: 1_250_000,
                out_bytes: 310_000,
                in_packet: 1100,
                out_packet: 420,
                in_multicast_milli: 3_000,
                in_broadcast_milli: 2_000,
                out_multicast_milli: 200,
                out_broadcast_milli: 50,
                in_discards_milli: 10,
                in_errors_milli: 1,
                in_unknown_milli: 5,
                out_discards_milli: 2,
                out_errors_milli: 0,
            };
            (traffic, IDLE, 0)
        }
        3 => {
            row.name = "eth1".into();
            row.mtu = 9000;
            row.speed_bps = 10_000_000_000;
            row.phys_address = mac(seed, index);
            row.alias = "storage (jumbo frames)".into();
            let traffic = Traffic {
                in_bytes: 6_000_000,
                out_bytes: 9_500_000,
                in_packet: 7200,
                out_packet: 8100,
                in_multicast_milli: 500,
                in_broadcast_milli: 100,
                out_multicast_milli: 100,
                out_broadcast_milli: 20,
                in_discards_milli: 20,
                ..IDLE
            };
            (traffic, IDLE, 0)
        }
        4 => {
            row.name = "wg0".into();
            row.if_type = IF_TYPE_TUNNEL;
            row.mtu = 1420;
            row.speed_bps = 0;
            row.alias = "wireguard: road warriors".into();
            row.connector_present = false;
            let traffic = Traffic {
                in_bytes: 20_000,
                out_bytes: 45_000,
                in_packet: 310,
                out_packet: 640,
                in_errors_milli: 3,
                ..IDLE
            };
            (traffic, IDLE, 0)
        }
        _ => {
            row.name = format!("eth{}", index - 3);
            row.phys_address = mac(seed, index);
            let bytes = 10_000 + draw(F_RATE) % 2_000_000;
            match draw(F_STATE) % 4 {
                // Administratively down since boot: never carried anything.
                0 => {
                    row.admin_status = STATUS_DOWN;
                    row.oper_status = STATUS_DOWN;
                    row.last_change = 0;
                    (IDLE, IDLE, 0)
                }
                // Enabled, but the link went away at ifLastChange.
                1 => {
                    row.oper_status = STATUS_DOWN;
                    row.alias = format!("spare port {index}");
                    (IDLE, lab_port(bytes), u64::from(row.last_change / 100))
                }
                _ => {
                    row.alias = format!("lab port {index}");
                    (lab_port(bytes), IDLE, 0)
                }
            }
        }
    };
    row.descr = row.name.clone();

    let now = rates(&now);
    let past = rates(&past);
    // The counters have been running since boot: about rate × uptime, give or take 25 %.
    for slot in 0..CounterKind::ALL.len() {
        let jitter = 750 + u128::from(draw(F_COUNTER + slot as u64) % 500);
        let carried = u128::from(now[slot]) * u128::from(uptime_seconds)
            + u128::from(past[slot]) * u128::from(past_seconds);
        row.counters[slot] = Counter {
            start: (carried * jitter / 1_000_000) as u64,
            milli_per_second: now[slot],
        };
    }
    row
}

/// The per-counter rates (thousandths per second) of some traffic, in [`CounterKind`] order.
fn rates(traffic: &Traffic) -> [u64; CounterKind::ALL.len()] {
    [
        traffic.in_bytes * 1000,
        traffic.in_bytes * 1000 / traffic.in_packet,
        traffic.in_multicast_milli,
        traffic.in_broadcast_milli,
        traffic.in_discards_milli,
        traffic.in_errors_milli,
        traffic.in_unknown_milli,
        traffic.out_bytes * 1000,
        traffic.out_bytes * 1000 / traffic.out_packet,
        traffic.out_multicast_milli,
        traffic.out_broadcast_milli,
        traffic.out_discards_milli,
        traffic.out_errors_milli,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_device() {
        assert_eq!(Device::generate(8, 7), Device::generate(8, 7));
        assert_ne!(Device::generate(8, 7), Device::generate(8, 8));
    }

    #[test]
    fn interfaces_keep_their_values_when_the_count_changes() {
        let four = Device::generate(4, DEFAULT_SEED);
        let many = Device::generate(40, DEFAULT_SEED);
        assert_eq!(four.interfaces[..], many.interfaces[..4]);
        let names: Vec<_> = four.interfaces.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["lo", "eth0", "eth1", "wg0"]);
        assert_eq!(many.interfaces[4].name, "eth2");
        assert_eq!(many.interfaces[39].name, "eth37");
        let states: std::collections::BTreeSet<_> = many
            .interfaces
            .iter()
            .map(|i| (i.admin_status, i.oper_status))
            .collect();
        assert_eq!(states.len(), 3, "up/up, up/down and down/down all occur");
    }

    #[test]
    fn counters_advance_and_low_words_wrap() {
        let device = Device::generate(4, DEFAULT_SEED);
        let eth0 = device.interface(2).unwrap();
        let octets = eth0.counter(CounterKind::InOctets);
        assert!(
            octets.start > u64::from(u32::MAX),
            "has wrapped a 32-bit counter already"
        );
        assert_eq!(octets.at(Duration::ZERO), octets.start);
        assert_eq!(octets.at(Duration::from_secs(2)), octets.start + 2_500_000);
        let lo = device.interface(1).unwrap();
        assert_eq!(lo.counter(CounterKind::InMulticastPkts).milli_per_second, 0);
        assert_eq!(device.interface(3).unwrap().if_speed(), u32::MAX);
        assert_eq!(device.interface(3).unwrap().if_high_speed(), 10_000);
        assert!(device.interface(0).is_none() && device.interface(5).is_none());
        let uptime = device.sys_uptime(Duration::from_millis(1234));
        assert_eq!(uptime, device.uptime_at_start + 123);
    }
}
