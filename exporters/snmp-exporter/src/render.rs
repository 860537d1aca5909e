//! The metric mapping: PDUs of one scrape → samples, as upstream's collector does it (spec §2.10).
//!
//! For every varbind, in OID order, the metric whose OID is the shortest prefix claims it; the
//! remaining arcs are decoded into index labels, lookups add or delete labels, and the metric type
//! decides the family, the value and any extra label. Families are merged by name across the
//! requested modules; a repeated label set keeps its first sample (upstream fails the scrape).

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::client::Value;
use crate::config::{Index, IndexType, Lookup, Metric, MetricType, Module, StringType};
use crate::oid::Oid;
use crate::text::{Family, FamilyType, Sample};

/// Rendering switches from flags.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    /// `--snmp.wrap-large-counters`: Counter64 modulo 2^53 so floats stay exact.
    pub wrap_large_counters: bool,
}

/// Counters the mapping reports for self-metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderStats {
    /// Samples dropped because their family and labels repeated an earlier one.
    pub duplicates: u64,
    /// Varbinds whose value type does not fit the metric type.
    pub unexpected_types: u64,
}

/// Families under construction, keyed by name; samples de-duplicated on the way in.
#[derive(Debug, Default)]
pub struct Families {
    families: BTreeMap<String, Family>,
    seen: HashSet<(String, Vec<(String, String)>)>,
    /// What was dropped or skipped.
    pub stats: RenderStats,
}

impl Families {
    /// Adds one sample (labels in any order; they are sorted here).
    pub fn push(
        &mut self,
        name: &str,
        help: &str,
        kind: FamilyType,
        mut labels: Vec<(String, String)>,
        value: f64,
    ) {
        labels.sort_by(|a, b| a.0.cmp(&b.0));
        if !self.seen.insert((name.to_owned(), labels.clone())) {
            self.stats.duplicates += 1;
            return;
        }
        self.families
            .entry(name.to_owned())
            .or_insert_with(|| Family {
                name: name.to_owned(),
                help: help.to_owned(),
                kind,
                samples: Vec::new(),
            })
            .samples
            .push(Sample { labels, value });
    }

    /// The families, for writing.
    pub fn into_vec(self) -> (Vec<Family>, RenderStats) {
        (self.families.into_values().collect(), self.stats)
    }
}

/// Samples of `module`'s metrics from `pdus`. `failed_roots` are subtrees that did not complete
/// this scrape: a sample whose lookup would read from one of them is dropped instead of getting an
/// empty label (spec §3.1). `skip` lists metrics already rendered for an earlier module.
pub fn render_module(
    module: &Module,
    pdus: &BTreeMap<Oid, Value>,
    failed_roots: &[Oid],
    options: RenderOptions,
    skip: &HashSet<usize>,
    out: &mut Families,
) {
    let by_oid: HashMap<&Oid, usize> = module
        .metrics
        .iter()
        .enumerate()
        .filter(|(i, _)| !skip.contains(i))
        .map(|(i, m)| (&m.oid, i))
        .rev()
        .collect();
    if by_oid.is_empty() {
        return;
    }
    let shortest = by_oid.keys().map(|o| o.0.len()).min().unwrap_or(0);
    let longest = by_oid.keys().map(|o| o.0.len()).max().unwrap_or(0);
    let mut probe = Oid(Vec::with_capacity(longest));
    for (oid, value) in pdus {
        probe.0.clear();
        let mut claimed = None;
        for (depth, arc) in oid.0.iter().enumerate() {
            if depth + 1 > longest {
                break;
            }
            probe.0.push(*arc);
            if depth + 1 >= shortest
                && let Some(&i) = by_oid.get(&probe)
            {
                claimed = Some(i);
                break;
            }
        }
        let Some(i) = claimed else { continue };
        let metric = &module.metrics[i];
        let index_arcs = &oid.0[metric.oid.0.len()..];
        sample_for(
            metric,
            oid,
            value,
            index_arcs,
            pdus,
            failed_roots,
            options,
            out,
        );
    }
}

/// Index and lookup labels, or `None` when a lookup's source subtree failed.
fn labels_for(
    metric: &Metric,
    index_arcs: &[u32],
    pdus: &BTreeMap<Oid, Value>,
    failed_roots: &[Oid],
) -> Option<Vec<(String, String)>> {
    let mut labels: Vec<(String, String)> =
        Vec::with_capacity(metric.indexes.len() + metric.lookups.len() + 1);
    let mut remembered: HashMap<String, Vec<u32>> = HashMap::new();
    let mut rest = index_arcs;
    for index in &metric.indexes {
        let (value, consumed, remaining) = decode_index(index, rest);
        rest = remaining;
        set_label(&mut labels, &index.labelname, value);
        remembered.insert(index.labelname.clone(), consumed);
    }
    for lookup in &metric.lookups {
        if lookup.labels.is_empty() {
            labels.retain(|(name, _)| *name != lookup.labelname);
            continue;
        }
        let Some(base) = &lookup.oid else { continue };
        let mut arcs = base.0.clone();
        for source in &lookup.labels {
            if let Some(consumed) = remembered.get(source) {
                arcs.extend_from_slice(consumed);
            }
        }
        let target = Oid(arcs);
        match pdus.get(&target) {
            Some(value) => {
                set_label(&mut labels, &lookup.labelname, lookup_text(lookup, value));
                remembered.insert(
                    lookup.labelname.clone(),
                    vec![numeric(value).map_or(0, |v| v as i64 as u32)],
                );
            }
            None => {
                if failed_roots
                    .iter()
                    .any(|root| target.starts_with(root) || root.starts_with(&target))
                {
                    return None;
                }
                set_label(&mut labels, &lookup.labelname, String::new());
            }
        }
    }
    Some(labels)
}

fn set_label(labels: &mut Vec<(String, String)>, name: &str, value: String) {
    match labels.iter_mut().find(|(n, _)| n == name) {
        Some(slot) => slot.1 = value,
        None => labels.push((name.to_owned(), value)),
    }
}

fn lookup_text(lookup: &Lookup, value: &Value) -> String {
    if let Some(hint) = &lookup.display_hint
        && let Value::OctetString(bytes) = value
        && let Some(text) = display_hint(hint, bytes)
    {
        return text;
    }
    match lookup.kind {
        Some(IndexType::EnumAsInfo) => {
            let n = numeric(value).unwrap_or(0.0) as i64;
            lookup
                .enum_values
                .get(&n)
                .cloned()
                .unwrap_or_else(|| n.to_string())
        }
        Some(IndexType::Str(kind)) => value_text(value, kind),
        _ => value_text(value, StringType::DisplayString),
    }
}

#[allow(clippy::too_many_arguments)]
fn sample_for(
    metric: &Metric,
    oid: &Oid,
    value: &Value,
    index_arcs: &[u32],
    pdus: &BTreeMap<Oid, Value>,
    failed_roots: &[Oid],
    options: RenderOptions,
    out: &mut Families,
) {
    let Some(mut labels) = labels_for(metric, index_arcs, pdus, failed_roots) else {
        return;
    };
    let scaled = |v: f64| {
        let v = if metric.scale != 0.0 {
            v * metric.scale
        } else {
            v
        };
        v + metric.offset
    };
    let number = |out: &mut Families| -> Option<f64> {
        let n = number_of(value, options);
        if n.is_none() {
            out.stats.unexpected_types += 1;
            tracing::debug!(metric = %metric.name, oid = %oid, value = ?value, "value does not fit a numeric metric; sample dropped");
        }
        n
    };
    match &metric.kind {
        MetricType::Counter | MetricType::Gauge | MetricType::Float | MetricType::Double => {
            let Some(v) = number(out) else { return };
            let kind = if metric.kind == MetricType::Counter {
                FamilyType::Counter
            } else {
                FamilyType::Gauge
            };
            out.push(&metric.name, &metric.help, kind, labels, scaled(v));
        }
        MetricType::DateAndTime => match date_and_time(value) {
            Some(v) => out.push(
                &metric.name,
                &metric.help,
                FamilyType::Gauge,
                labels,
                scaled(v),
            ),
            None => {
                tracing::debug!(metric = %metric.name, oid = %oid, "invalid DateAndTime; sample dropped")
            }
        },
        MetricType::NtpTimeStamp => match ntp_time(value) {
            Some(v) => out.push(
                &metric.name,
                &metric.help,
                FamilyType::Gauge,
                labels,
                scaled(v),
            ),
            None => {
                tracing::debug!(metric = %metric.name, oid = %oid, "invalid NTP time stamp; sample dropped")
            }
        },
        MetricType::ParseDateAndTime => {
            let text = value_text(value, StringType::DisplayString);
            let pattern = metric.datetime_pattern.as_deref().unwrap_or_default();
            match crate::strptime::parse(&text, pattern) {
                Some(v) => out.push(
                    &metric.name,
                    &metric.help,
                    FamilyType::Gauge,
                    labels,
                    scaled(v),
                ),
                None => {
                    tracing::debug!(metric = %metric.name, oid = %oid, "date does not match datetime_pattern; sample dropped")
                }
            }
        }
        MetricType::EnumAsInfo => {
            let Some(v) = number(out) else { return };
            let n = v as i64;
            let state = metric
                .enum_values
                .get(&n)
                .cloned()
                .unwrap_or_else(|| n.to_string());
            set_label(&mut labels, &metric.name, state);
            out.push(
                &format!("{}_info", metric.name),
                &format!("{} (EnumAsInfo)", metric.help),
                FamilyType::Gauge,
                labels,
                1.0,
            );
        }
        MetricType::EnumAsStateSet => {
            let Some(v) = number(out) else { return };
            let current = v as i64;
            let help = format!("{} (EnumAsStateSet)", metric.help);
            let mut found = false;
            for (k, name) in &metric.enum_values {
                let mut l = labels.clone();
                set_label(&mut l, &metric.name, name.clone());
                found |= *k == current;
                let value = if *k == current { 1.0 } else { 0.0 };
                out.push(&metric.name, &help, FamilyType::Gauge, l, value);
            }
            if !found {
                set_label(&mut labels, &metric.name, current.to_string());
                out.push(&metric.name, &help, FamilyType::Gauge, labels, 1.0);
            }
        }
        MetricType::Bits => {
            let Value::OctetString(bytes) = value else {
                out.stats.unexpected_types += 1;
                return;
            };
            let help = format!("{} (Bits)", metric.help);
            for (k, name) in &metric.enum_values {
                let byte = usize::try_from(*k / 8).ok().and_then(|i| bytes.get(i));
                let set = byte.is_some_and(|b| b & (0x80u8 >> (*k % 8)) != 0);
                let mut l = labels.clone();
                set_label(&mut l, &metric.name, name.clone());
                out.push(
                    &metric.name,
                    &help,
                    FamilyType::Gauge,
                    l,
                    if set { 1.0 } else { 0.0 },
                );
            }
        }
        MetricType::Str(kind) => {
            let text = match (&metric.display_hint, value) {
                (Some(hint), Value::OctetString(bytes)) => {
                    display_hint(hint, bytes).unwrap_or_else(|| value_text(value, *kind))
                }
                _ => {
                    let resolved = resolve_typed(*kind, metric, oid, index_arcs, pdus);
                    value_text(value, resolved)
                }
            };
            if !metric.regex_extracts.is_empty() {
                let help = format!("{} (regex extracted)", metric.help);
                for (suffix, rules) in &metric.regex_extracts {
                    for rule in rules {
                        let Some(captures) = rule.regex.captures(&text) else {
                            continue;
                        };
                        let mut expanded = String::new();
                        captures.expand(&rule.value, &mut expanded);
                        if let Ok(v) = expanded.trim().parse::<f64>() {
                            out.push(
                                &format!("{}{suffix}", metric.name),
                                &help,
                                FamilyType::Gauge,
                                labels.clone(),
                                scaled(v),
                            );
                            break;
                        }
                    }
                }
                return;
            }
            if !labels.iter().any(|(n, _)| *n == metric.name) {
                labels.push((metric.name.clone(), text));
            }
            out.push(&metric.name, &metric.help, FamilyType::Gauge, labels, 1.0);
        }
    }
}

/// InetAddress, InetAddressMissingSize and LldpPortId values take their type from the previous
/// column of the same row.
fn resolve_typed(
    kind: StringType,
    metric: &Metric,
    _oid: &Oid,
    index_arcs: &[u32],
    pdus: &BTreeMap<Oid, Value>,
) -> StringType {
    if !matches!(
        kind,
        StringType::InetAddress | StringType::InetAddressMissingSize | StringType::LldpPortId
    ) {
        return kind;
    }
    let mut column = metric.oid.clone();
    let Some(last) = column.0.last_mut() else {
        return StringType::OctetString;
    };
    if *last == 0 {
        return StringType::OctetString;
    }
    *last -= 1;
    let subtype = pdus
        .get(&column.join(index_arcs))
        .and_then(numeric)
        .map(|v| v as i64);
    match (kind, subtype) {
        (StringType::LldpPortId, Some(1 | 2 | 5 | 7)) => StringType::DisplayString,
        (StringType::LldpPortId, Some(3)) => StringType::PhysAddress48,
        (StringType::LldpPortId, _) => StringType::OctetString,
        (_, Some(1)) => StringType::InetAddressIPv4,
        (_, Some(2)) => StringType::InetAddressIPv6,
        _ => StringType::OctetString,
    }
}

/// Numeric value of a varbind for lookups' remembered arcs and enums; `None` for non-numbers.
fn numeric(value: &Value) -> Option<f64> {
    number_of(
        value,
        RenderOptions {
            wrap_large_counters: false,
        },
    )
}

fn number_of(value: &Value, options: RenderOptions) -> Option<f64> {
    Some(match value {
        Value::Integer(i) => *i as f64,
        Value::Counter32(v) | Value::Gauge32(v) | Value::TimeTicks(v) => f64::from(*v),
        Value::Counter64(v) => {
            if options.wrap_large_counters {
                (*v % (1u64 << 53)) as f64
            } else {
                *v as f64
            }
        }
        Value::Opaque(bytes) => opaque_float(bytes)?,
        _ => return None,
    })
}

/// Opaque-wrapped float (tag 0x9F78) or double (0x9F79).
fn opaque_float(bytes: &[u8]) -> Option<f64> {
    match bytes {
        [0x9f, 0x78, 4, a, b, c, d] => Some(f64::from(f32::from_be_bytes([*a, *b, *c, *d]))),
        [0x9f, 0x79, 8, rest @ ..] if rest.len() == 8 => {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(rest);
            Some(f64::from_be_bytes(raw))
        }
        _ => None,
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push_str(&format!("{b:02X}"));
    }
    out
}

fn phys_address(bytes: &[u8]) -> String {
    (0..6)
        .map(|i| format!("{:02X}", bytes.get(i).copied().unwrap_or(0)))
        .collect::<Vec<_>>()
        .join(":")
}

fn ipv6(bytes: &[u8]) -> String {
    (0..8)
        .map(|i| {
            format!(
                "{:02X}{:02X}",
                bytes.get(2 * i).copied().unwrap_or(0),
                bytes.get(2 * i + 1).copied().unwrap_or(0)
            )
        })
        .collect::<Vec<_>>()
        .join(":")
}

fn ipv4(bytes: &[u8]) -> String {
    (0..4)
        .map(|i| bytes.get(i).copied().unwrap_or(0).to_string())
        .collect::<Vec<_>>()
        .join(".")
}

/// A varbind rendered as label text (spec §2.10.7).
pub fn value_text(value: &Value, kind: StringType) -> String {
    match value {
        Value::ObjectIdentifier(oid) => oid.to_string(),
        Value::IpAddress(ip) => ipv4(ip),
        Value::Integer(i) => i.to_string(),
        Value::Counter32(v) | Value::Gauge32(v) | Value::TimeTicks(v) => v.to_string(),
        Value::Counter64(v) => v.to_string(),
        Value::Null | Value::NoSuchObject | Value::NoSuchInstance | Value::EndOfMibView => {
            String::new()
        }
        Value::Opaque(bytes) => match opaque_float(bytes) {
            Some(f) => format_plain_float(f),
            None => octets_text(bytes, kind),
        },
        Value::OctetString(bytes) => octets_text(bytes, kind),
    }
}

/// Go's `%f`-style shortest decimal (no exponent), for Opaque floats rendered as text.
fn format_plain_float(value: f64) -> String {
    let text = format!("{value}");
    if text.contains('e') {
        format!("{value:.6}")
    } else {
        text
    }
}

fn octets_text(bytes: &[u8], kind: StringType) -> String {
    match kind {
        StringType::DisplayString => String::from_utf8_lossy(bytes).into_owned(),
        StringType::PhysAddress48 => phys_address(bytes),
        StringType::InetAddressIPv4 if bytes.len() == 4 => ipv4(bytes),
        StringType::InetAddressIPv6 if bytes.len() == 16 => ipv6(bytes),
        _ if bytes.is_empty() => String::new(),
        _ => format!("0x{}", hex_upper(bytes)),
    }
}

/// Decodes one index from `arcs`: (label value, arcs consumed, arcs left). Missing arcs read as 0.
pub fn decode_index<'a>(index: &Index, arcs: &'a [u32]) -> (String, Vec<u32>, &'a [u32]) {
    let take = |n: usize| -> (Vec<u32>, &'a [u32]) {
        let mut consumed: Vec<u32> = arcs.iter().take(n).copied().collect();
        consumed.resize(n, 0);
        (consumed, arcs.get(n..).unwrap_or(&[]))
    };
    let bytes = |v: &[u32]| v.iter().map(|a| *a as u8).collect::<Vec<u8>>();
    match index.kind {
        IndexType::Integer => {
            let (c, rest) = take(1);
            (c[0].to_string(), c, rest)
        }
        IndexType::EnumAsInfo => {
            let (c, rest) = take(1);
            let n = i64::from(c[0]);
            let text = index
                .enum_values
                .get(&n)
                .cloned()
                .unwrap_or_else(|| n.to_string());
            (text, c, rest)
        }
        IndexType::Str(kind) => decode_string_index(kind, index, arcs, &take, &bytes),
    }
}

type Take<'a, 'f> = &'f dyn Fn(usize) -> (Vec<u32>, &'a [u32]);

fn decode_string_index<'a>(
    kind: StringType,
    index: &Index,
    arcs: &'a [u32],
    take: Take<'a, '_>,
    bytes: &dyn Fn(&[u32]) -> Vec<u8>,
) -> (String, Vec<u32>, &'a [u32]) {
    let framed = |arcs: &'a [u32]| -> (Vec<u32>, Vec<u32>, &'a [u32]) {
        // (all consumed arcs, payload arcs, rest)
        if index.implied {
            return (arcs.to_vec(), arcs.to_vec(), &[]);
        }
        if index.fixed_size > 0 {
            let n = index.fixed_size as usize;
            let mut payload: Vec<u32> = arcs.iter().take(n).copied().collect();
            payload.resize(n, 0);
            return (payload.clone(), payload, arcs.get(n..).unwrap_or(&[]));
        }
        let len = arcs.first().copied().unwrap_or(0) as usize;
        let mut payload: Vec<u32> = arcs.iter().skip(1).take(len).copied().collect();
        payload.resize(len, 0);
        let mut consumed = vec![len as u32];
        consumed.extend_from_slice(&payload);
        (consumed, payload, arcs.get(1 + len..).unwrap_or(&[]))
    };
    match kind {
        StringType::PhysAddress48 => {
            let (c, rest) = take(6);
            (phys_address(&bytes(&c)), c, rest)
        }
        StringType::InetAddressIPv4 => {
            let (c, rest) = take(4);
            (ipv4(&bytes(&c)), c, rest)
        }
        StringType::InetAddressIPv6 => {
            let (c, rest) = take(16);
            (ipv6(&bytes(&c)), c, rest)
        }
        StringType::InetAddress | StringType::InetAddressMissingSize => {
            let missing_size = kind == StringType::InetAddressMissingSize;
            let address_type = arcs.first().copied().unwrap_or(0);
            let after_type = arcs.get(1..).unwrap_or(&[]);
            let (length_arcs, body) = if missing_size {
                (0, after_type)
            } else {
                (1, after_type.get(1..).unwrap_or(&[]))
            };
            let (size, text_kind) = match address_type {
                1 => (4, StringType::InetAddressIPv4),
                2 => (16, StringType::InetAddressIPv6),
                _ => (0, StringType::OctetString),
            };
            if size == 0 {
                // Unknown type: the whole framed value as an octet string.
                let all: &[u32] = if missing_size {
                    arcs
                } else {
                    let len = after_type.first().copied().unwrap_or(0) as usize;
                    arcs.get(..(len + 2).min(arcs.len())).unwrap_or(arcs)
                };
                let rest = arcs.get(all.len()..).unwrap_or(&[]);
                return (format!("0x{}", hex_upper(&bytes(all))), all.to_vec(), rest);
            }
            let mut payload: Vec<u32> = body.iter().take(size).copied().collect();
            payload.resize(size, 0);
            let used = 1 + length_arcs + size;
            let consumed: Vec<u32> = arcs.iter().take(used).copied().collect();
            let text = if text_kind == StringType::InetAddressIPv4 {
                ipv4(&bytes(&payload))
            } else {
                ipv6(&bytes(&payload))
            };
            (text, consumed, arcs.get(used..).unwrap_or(&[]))
        }
        StringType::LldpPortId => {
            let subtype = arcs.first().copied().unwrap_or(0);
            let rest = arcs.get(1..).unwrap_or(&[]);
            let resolved = match subtype {
                1 | 2 | 5 | 7 => StringType::DisplayString,
                3 => StringType::PhysAddress48,
                _ => StringType::OctetString,
            };
            let (text, mut consumed, rest) =
                decode_string_index(resolved, index, rest, take, bytes);
            consumed.insert(0, subtype);
            (text, consumed, rest)
        }
        StringType::DisplayString => {
            let (consumed, payload, rest) = framed(arcs);
            (
                String::from_utf8_lossy(&bytes(&payload)).into_owned(),
                consumed,
                rest,
            )
        }
        _ => {
            let (consumed, payload, rest) = framed(arcs);
            let text = if payload.is_empty() {
                String::new()
            } else {
                format!("0x{}", hex_upper(&bytes(&payload)))
            };
            (text, consumed, rest)
        }
    }
}

/// RFC 2579 DateAndTime (8 or 11 bytes) → unix seconds.
fn date_and_time(value: &Value) -> Option<f64> {
    let Value::OctetString(b) = value else {
        return None;
    };
    if b.len() != 8 && b.len() != 11 {
        return None;
    }
    let year = i64::from(u16::from_be_bytes([b[0], b[1]]));
    let (month, day, hour, minute, second) = (b[2], b[3], b[4], b[5], b[6]);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut seconds = days_from_civil(year, u32::from(month), u32::from(day)) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second);
    if b.len() == 11 {
        let offset = i64::from(b[9]) * 3600 + i64::from(b[10]) * 60;
        match b[8] {
            b'+' => seconds -= offset,
            b'-' => seconds += offset,
            _ => return None,
        }
    }
    Some(seconds as f64)
}

/// NTP time stamp (8 bytes since 1900) → unix seconds.
fn ntp_time(value: &Value) -> Option<f64> {
    let Value::OctetString(b) = value else {
        return None;
    };
    if b.len() != 8 {
        return None;
    }
    let seconds = f64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let fraction = f64::from(u32::from_be_bytes([b[4], b[5], b[6], b[7]])) / 4_294_967_296.0;
    Some(seconds - 2_208_988_800.0 + fraction)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 2579 DISPLAY-HINT for octet strings (`1x:`, `255a`, `1d.1d.1d.1d`, `2x:`, `*1x:` …);
/// `None` when the hint cannot be parsed.
pub fn display_hint(hint: &str, bytes: &[u8]) -> Option<String> {
    struct Spec {
        repeat: bool,
        length: usize,
        format: u8,
        separator: Option<u8>,
        terminator: Option<u8>,
    }
    let mut specs = Vec::new();
    let h = hint.as_bytes();
    let mut i = 0;
    while i < h.len() {
        let repeat = h[i] == b'*';
        if repeat {
            i += 1;
        }
        let start = i;
        while i < h.len() && h[i].is_ascii_digit() {
            i += 1;
        }
        let length: usize = std::str::from_utf8(&h[start..i]).ok()?.parse().ok()?;
        let format = *h.get(i)?;
        if !matches!(format, b'x' | b'd' | b'o' | b'a' | b't') {
            return None;
        }
        i += 1;
        let separator = match h.get(i) {
            Some(c) if !c.is_ascii_digit() && *c != b'*' => {
                i += 1;
                Some(*c)
            }
            _ => None,
        };
        let terminator = if repeat {
            match h.get(i) {
                Some(c) if !c.is_ascii_digit() && *c != b'*' => {
                    i += 1;
                    Some(*c)
                }
                _ => None,
            }
        } else {
            None
        };
        specs.push(Spec {
            repeat,
            length,
            format,
            separator,
            terminator,
        });
    }
    if specs.is_empty() {
        return None;
    }
    let mut out = String::new();
    let mut pos = 0;
    let mut spec_index = 0;
    while pos < bytes.len() {
        let spec = &specs[spec_index.min(specs.len() - 1)];
        let repeats = if spec.repeat {
            let n = bytes[pos] as usize;
            pos += 1;
            n
        } else {
            1
        };
        for r in 0..repeats {
            if pos >= bytes.len() {
                break;
            }
            let end = (pos + spec.length).min(bytes.len());
            let chunk = &bytes[pos..end];
            pos = end;
            match spec.format {
                b'a' | b't' => out.push_str(&String::from_utf8_lossy(chunk)),
                b'x' => out.push_str(&chunk.iter().map(|b| format!("{b:02x}")).collect::<String>()),
                b'd' | b'o' => {
                    let n = chunk.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
                    if spec.format == b'd' {
                        out.push_str(&n.to_string());
                    } else {
                        out.push_str(&format!("{n:o}"));
                    }
                }
                _ => {}
            }
            let last_repeat = r + 1 == repeats;
            if pos < bytes.len() {
                match (spec.terminator, last_repeat) {
                    (Some(t), true) => out.push(t as char),
                    _ => {
                        if let Some(s) = spec.separator {
                            out.push(s as char);
                        }
                    }
                }
            }
        }
        if spec_index + 1 < specs.len() {
            spec_index += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
