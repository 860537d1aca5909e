//! The OID tree the simulator serves, in lexicographic order, computed rather than stored.
//!
//! The served objects are a short ordered list (`OBJECTS`): scalars (instance `.0`) and table
//! columns (instances `.1` to `.rows`). GET finds the object whose OID prefixes the request;
//! GETNEXT walks the list to the first instance after the requested OID. Nothing is stored per
//! interface, so ten thousand interfaces cost no more memory than four.
//!
//! The objects are those net-snmp 5.9's snmpd serves under the subtrees snmp-exporter's `if_mib`
//! and `system` modules walk: the system group without `sysORIndex` (not-accessible), `ifNumber`,
//! `ifTable` columns 1–22 and `ifXTable` columns 1–19 except `ifLinkUpDownTrapEnable` (14), which
//! snmpd on Linux does not implement. Four interfaces give the 162 varbinds of snmpd's walk.

use std::time::Duration;

use async_snmp::{Oid, Value};
use bytes::Bytes;

use super::model::{CounterKind, Device};

/// The system group, `1.3.6.1.2.1.1`.
pub const SYSTEM: &[u32] = &[1, 3, 6, 1, 2, 1, 1];
/// The interfaces group, `1.3.6.1.2.1.2` (`ifNumber` and `ifTable`).
pub const INTERFACES: &[u32] = &[1, 3, 6, 1, 2, 1, 2];
/// `ifTable` entries, `1.3.6.1.2.1.2.2.1`.
pub const IF_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1];
/// `ifXTable`, `1.3.6.1.2.1.31.1.1`.
pub const IFX_TABLE: &[u32] = &[1, 3, 6, 1, 2, 1, 31, 1, 1];
/// `ifXTable` entries, `1.3.6.1.2.1.31.1.1.1`.
pub const IFX_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1];
/// `sysORTable` entries, `1.3.6.1.2.1.1.9.1`.
const OR_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 9, 1];

/// Which rows a column has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rows {
    /// A scalar: the single instance `.0`.
    Scalar,
    /// One row per `sysORTable` entry.
    Or,
    /// One row per interface.
    Interfaces,
}

/// One served object: the OID of its column or scalar, its rows and how to compute a value.
#[derive(Clone, Copy, Debug)]
struct Object {
    base: &'static [u32],
    column: u32,
    rows: Rows,
    value: fn(&Device, u32, Duration) -> Value,
}

const fn scalar(column: u32, value: fn(&Device, u32, Duration) -> Value) -> Object {
    Object {
        base: SYSTEM,
        column,
        rows: Rows::Scalar,
        value,
    }
}

const fn or_column(column: u32, value: fn(&Device, u32, Duration) -> Value) -> Object {
    Object {
        base: OR_ENTRY,
        column,
        rows: Rows::Or,
        value,
    }
}

const fn if_column(column: u32, value: fn(&Device, u32, Duration) -> Value) -> Object {
    Object {
        base: IF_ENTRY,
        column,
        rows: Rows::Interfaces,
        value,
    }
}

const fn ifx_column(column: u32, value: fn(&Device, u32, Duration) -> Value) -> Object {
    Object {
        base: IFX_ENTRY,
        column,
        rows: Rows::Interfaces,
        value,
    }
}

fn text(s: &str) -> Value {
    Value::OctetString(Bytes::copy_from_slice(s.as_bytes()))
}

fn truth(b: bool) -> Value {
    Value::Integer(if b { 1 } else { 2 })
}

/// A value of interface `row` (`noSuchInstance` for a row that does not exist).
fn with_if(device: &Device, row: u32, f: impl FnOnce(&super::model::Interface) -> Value) -> Value {
    device.interface(row).map_or(Value::NoSuchInstance, f)
}

/// A 32-bit counter column: the low 32 bits of the 64-bit counter.
fn counter32(device: &Device, row: u32, elapsed: Duration, kind: CounterKind) -> Value {
    with_if(device, row, |i| {
        Value::Counter32(i.counter(kind).at(elapsed) as u32)
    })
}

fn counter64(device: &Device, row: u32, elapsed: Duration, kind: CounterKind) -> Value {
    with_if(device, row, |i| {
        Value::Counter64(i.counter(kind).at(elapsed))
    })
}

/// `ifInNUcastPkts` / `ifOutNUcastPkts`: multicast plus broadcast, 32 bits.
fn non_unicast(device: &Device, row: u32, elapsed: Duration, inbound: bool) -> Value {
    let (multicast, broadcast) = if inbound {
        (CounterKind::InMulticastPkts, CounterKind::InBroadcastPkts)
    } else {
        (CounterKind::OutMulticastPkts, CounterKind::OutBroadcastPkts)
    };
    with_if(device, row, |i| {
        let sum = i
            .counter(multicast)
            .at(elapsed)
            .wrapping_add(i.counter(broadcast).at(elapsed));
        Value::Counter32(sum as u32)
    })
}

macro_rules! c32 {
    ($kind:ident) => {
        |d: &Device, r: u32, e: Duration| counter32(d, r, e, CounterKind::$kind)
    };
}

macro_rules! c64 {
    ($kind:ident) => {
        |d: &Device, r: u32, e: Duration| counter64(d, r, e, CounterKind::$kind)
    };
}

/// Every served object, in OID order.
const OBJECTS: &[Object] = &[
    scalar(1, |d, _, _| text(&d.sys_descr)),
    scalar(2, |d, _, _| {
        Value::ObjectIdentifier(Oid::from_slice(d.sys_object_id))
    }),
    scalar(3, |d, _, e| Value::TimeTicks(d.sys_uptime(e))),
    scalar(4, |d, _, _| text(&d.sys_contact)),
    scalar(5, |d, _, _| text(&d.sys_name)),
    scalar(6, |d, _, _| text(&d.sys_location)),
    scalar(7, |d, _, _| Value::Integer(d.sys_services)),
    scalar(8, |d, _, _| Value::TimeTicks(d.or_last_change)),
    or_column(2, |d, r, _| {
        or_row(d, r, |o| Value::ObjectIdentifier(Oid::from_slice(o.id)))
    }),
    or_column(3, |d, r, _| or_row(d, r, |o| text(o.descr))),
    or_column(4, |d, r, _| or_row(d, r, |o| Value::TimeTicks(o.uptime))),
    Object {
        base: INTERFACES,
        column: 1,
        rows: Rows::Scalar,
        value: |d, _, _| Value::Integer(d.interfaces.len() as i32),
    },
    if_column(1, |d, r, _| {
        with_if(d, r, |i| Value::Integer(i.index as i32))
    }),
    if_column(2, |d, r, _| with_if(d, r, |i| text(&i.descr))),
    if_column(3, |d, r, _| with_if(d, r, |i| Value::Integer(i.if_type))),
    if_column(4, |d, r, _| with_if(d, r, |i| Value::Integer(i.mtu))),
    if_column(5, |d, r, _| with_if(d, r, |i| Value::Gauge32(i.if_speed()))),
    if_column(6, |d, r, _| {
        with_if(d, r, |i| {
            Value::OctetString(Bytes::copy_from_slice(&i.phys_address))
        })
    }),
    if_column(7, |d, r, _| {
        with_if(d, r, |i| Value::Integer(i.admin_status))
    }),
    if_column(8, |d, r, _| {
        with_if(d, r, |i| Value::Integer(i.oper_status))
    }),
    if_column(9, |d, r, _| {
        with_if(d, r, |i| Value::TimeTicks(i.last_change))
    }),
    if_column(10, c32!(InOctets)),
    if_column(11, c32!(InUcastPkts)),
    if_column(12, |d, r, e| non_unicast(d, r, e, true)),
    if_column(13, c32!(InDiscards)),
    if_column(14, c32!(InErrors)),
    if_column(15, c32!(InUnknownProtos)),
    if_column(16, c32!(OutOctets)),
    if_column(17, c32!(OutUcastPkts)),
    if_column(18, |d, r, e| non_unicast(d, r, e, false)),
    if_column(19, c32!(OutDiscards)),
    if_column(20, c32!(OutErrors)),
    // ifOutQLen: Linux has no such queue length; net-snmp reports 0.
    if_column(21, |d, r, _| with_if(d, r, |_| Value::Gauge32(0))),
    // ifSpecific: zeroDotZero.
    if_column(22, |d, r, _| {
        with_if(d, r, |_| Value::ObjectIdentifier(Oid::from_slice(&[0, 0])))
    }),
    ifx_column(1, |d, r, _| with_if(d, r, |i| text(&i.name))),
    ifx_column(2, c32!(InMulticastPkts)),
    ifx_column(3, c32!(InBroadcastPkts)),
    ifx_column(4, c32!(OutMulticastPkts)),
    ifx_column(5, c32!(OutBroadcastPkts)),
    ifx_column(6, c64!(InOctets)),
    ifx_column(7, c64!(InUcastPkts)),
    ifx_column(8, c64!(InMulticastPkts)),
    ifx_column(9, c64!(InBroadcastPkts)),
    ifx_column(10, c64!(OutOctets)),
    ifx_column(11, c64!(OutUcastPkts)),
    ifx_column(12, c64!(OutMulticastPkts)),
    ifx_column(13, c64!(OutBroadcastPkts)),
    ifx_column(15, |d, r, _| {
        with_if(d, r, |i| Value::Gauge32(i.if_high_speed()))
    }),
    ifx_column(16, |d, r, _| with_if(d, r, |i| truth(i.promiscuous))),
    ifx_column(17, |d, r, _| with_if(d, r, |i| truth(i.connector_present))),
    ifx_column(18, |d, r, _| with_if(d, r, |i| text(&i.alias))),
    // ifCounterDiscontinuityTime: no discontinuity since the agent started.
    ifx_column(19, |d, r, _| with_if(d, r, |_| Value::TimeTicks(0))),
];

fn or_row(device: &Device, row: u32, f: impl FnOnce(&super::model::OrEntry) -> Value) -> Value {
    usize::try_from(row)
        .ok()
        .and_then(|r| r.checked_sub(1))
        .and_then(|slot| device.or_table.get(slot))
        .map_or(Value::NoSuchInstance, f)
}

impl Object {
    fn oid(&self) -> Oid {
        let mut arcs = self.base.to_vec();
        arcs.push(self.column);
        Oid::from(arcs)
    }

    /// The instance arcs `(first, last)` this object has on `device`, or `None` when empty.
    fn instances(&self, device: &Device) -> Option<(u32, u32)> {
        let count = match self.rows {
            Rows::Scalar => return Some((0, 0)),
            Rows::Or => device.or_table.len(),
            Rows::Interfaces => device.interfaces.len(),
        };
        (count > 0).then_some((1, count as u32))
    }
}

/// The result of a GET on the tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup {
    /// The instance exists.
    Value(Value),
    /// No served object has this OID's prefix.
    NoSuchObject,
    /// The object exists but not this instance.
    NoSuchInstance,
}

/// The device's OID tree at some moment.
#[derive(Debug)]
pub struct Tree<'a> {
    device: &'a Device,
    elapsed: Duration,
}

impl<'a> Tree<'a> {
    /// The tree of `device`, `elapsed` after the simulator's start.
    pub fn new(device: &'a Device, elapsed: Duration) -> Self {
        Tree { device, elapsed }
    }

    /// GET one OID.
    pub fn get(&self, oid: &Oid) -> Lookup {
        for object in OBJECTS {
            let base = object.oid();
            let Some(suffix) = oid.strip_prefix(&base) else {
                continue;
            };
            return match (suffix.arcs(), object.instances(self.device)) {
                ([instance], Some((first, last))) if (first..=last).contains(instance) => {
                    Lookup::Value((object.value)(self.device, *instance, self.elapsed))
                }
                _ => Lookup::NoSuchInstance,
            };
        }
        Lookup::NoSuchObject
    }

    /// GETNEXT: the first served instance after `oid`, with its value.
    pub fn next(&self, oid: &Oid) -> Option<(Oid, Value)> {
        for object in OBJECTS {
            let Some((first, last)) = object.instances(self.device) else {
                continue;
            };
            let base = object.oid();
            let instance = match oid.strip_prefix(&base) {
                // Inside this column: the next row after the requested instance (a longer
                // suffix `k.x` sorts after `k`, so it too is followed by `k+1`).
                Some(suffix) => match suffix.arcs().first() {
                    None => first,
                    Some(&k) if k < first => first,
                    Some(&k) => match k.checked_add(1) {
                        Some(next) => next,
                        None => continue,
                    },
                },
                // Before this column: its first instance. After it: not here.
                None if *oid < base => first,
                None => continue,
            };
            if instance > last {
                continue;
            }
            let value = (object.value)(self.device, instance, self.elapsed);
            return Some((base.child(instance), value));
        }
        None
    }

    /// Every served instance in order, as a walk from the root would return them.
    pub fn walk(&self) -> Vec<(Oid, Value)> {
        let mut out = Vec::new();
        let mut at = Oid::from_slice(&[0]);
        while let Some((oid, value)) = self.next(&at) {
            out.push((oid.clone(), value));
            at = oid;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snmp::model::{DEFAULT_SEED, ETH0_ALIAS};

    fn oid(text: &str) -> Oid {
        Oid::parse(text).unwrap()
    }

    #[test]
    fn objects_are_in_oid_order() {
        let oids: Vec<Oid> = OBJECTS.iter().map(Object::oid).collect();
        assert!(oids.windows(2).all(|w| w[0] < w[1]), "{oids:?}");
    }

    #[test]
    fn walk_has_snmpds_shape() {
        let device = Device::generate(4, DEFAULT_SEED);
        let walk = Tree::new(&device, Duration::ZERO).walk();
        let under = |prefix: &[u32]| {
            let prefix = Oid::from_slice(prefix);
            walk.iter().filter(|(o, _)| o.starts_with(&prefix)).count()
        };
        // snmpd's walk of sysUpTime.0, 1.3.6.1.2.1.2 and 1.3.6.1.2.1.31.1.1: 162 varbinds.
        assert_eq!(1 + under(INTERFACES) + under(IFX_TABLE), 162);
        assert_eq!(under(SYSTEM), 8 + 3 * 10);
        assert!(walk.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn get_and_next_agree_with_the_model() {
        let device = Device::generate(4, DEFAULT_SEED);
        let tree = Tree::new(&device, Duration::from_secs(10));
        assert_eq!(
            tree.get(&oid("1.3.6.1.2.1.31.1.1.1.18.2")),
            Lookup::Value(text(ETH0_ALIAS))
        );
        assert_eq!(
            tree.get(&oid("1.3.6.1.2.1.2.1.0")),
            Lookup::Value(Value::Integer(4))
        );
        assert_eq!(
            tree.get(&oid("1.3.6.1.2.1.2.2.1.1.5")),
            Lookup::NoSuchInstance
        );
        assert_eq!(
            tree.get(&oid("1.3.6.1.2.1.2.2.1.1")),
            Lookup::NoSuchInstance
        );
        assert_eq!(
            tree.get(&oid("1.3.6.1.2.1.2.1.0.0")),
            Lookup::NoSuchInstance
        );
        assert_eq!(
            tree.get(&oid("1.3.6.1.2.1.31.1.1.1.14.1")),
            Lookup::NoSuchObject
        );
        assert_eq!(tree.get(&oid("1.3.6.1.4.1.2021")), Lookup::NoSuchObject);

        let next = |text: &str| tree.next(&oid(text)).map(|(o, _)| o.to_string());
        assert_eq!(next("1.3").as_deref(), Some("1.3.6.1.2.1.1.1.0"));
        assert_eq!(
            next("1.3.6.1.2.1.1.1.0").as_deref(),
            Some("1.3.6.1.2.1.1.2.0")
        );
        assert_eq!(
            next("1.3.6.1.2.1.1.9").as_deref(),
            Some("1.3.6.1.2.1.1.9.1.2.1")
        );
        assert_eq!(
            next("1.3.6.1.2.1.2.2.1.1.4").as_deref(),
            Some("1.3.6.1.2.1.2.2.1.2.1")
        );
        assert_eq!(
            next("1.3.6.1.2.1.2.2.1.1.2.7").as_deref(),
            Some("1.3.6.1.2.1.2.2.1.1.3")
        );
        assert_eq!(
            next("1.3.6.1.2.1.2.2.1.1.0").as_deref(),
            Some("1.3.6.1.2.1.2.2.1.1.1")
        );
        assert_eq!(
            next("1.3.6.1.2.1.31.1.1.1.13.4").as_deref(),
            Some("1.3.6.1.2.1.31.1.1.1.15.1")
        );
        assert_eq!(next("1.3.6.1.2.1.31.1.1.1.19.4"), None);
        assert_eq!(next("2"), None);
    }

    #[test]
    fn no_interfaces_no_rows() {
        let device = Device::generate(0, DEFAULT_SEED);
        let tree = Tree::new(&device, Duration::ZERO);
        let walk = tree.walk();
        assert_eq!(walk.last().unwrap().0, oid("1.3.6.1.2.1.2.1.0"));
        assert_eq!(walk.last().unwrap().1, Value::Integer(0));
    }
}
