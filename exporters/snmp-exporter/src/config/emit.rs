//! Prints a [`Config`] as snmp.yml: `/config` (split format, secrets masked) and
//! `--config.print-default` (split, or flat for the 0.21 oracle, secrets as configured).
//!
//! A hand-written emitter keeps the output stable and readable by go-yaml v2 (what snmp_exporter
//! 0.21 parses) without a YAML serialisation dependency: strings that could be read as anything
//! other than a string are double-quoted with YAML escapes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::duration::format_go_duration;
use super::{Auth, Config, Index, Lookup, Metric, Module, SecurityLevel, Version};

/// What `/config` prints instead of a secret.
pub const SECRET_MASK: &str = "<secret>";

/// Which layout to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `auths:` + `modules:` (≥0.23).
    Split,
    /// Modules at the top level, without credentials (loads in 0.21 with its default community).
    Flat,
}

/// Prints `config`; `mask` replaces community and passwords with [`SECRET_MASK`].
pub fn emit(config: &Config, layout: Layout, mask: bool) -> String {
    let mut out = String::with_capacity(64 * 1024);
    match layout {
        Layout::Split => {
            if config.auths.is_empty() {
                out.push_str("auths: {}\n");
            } else {
                out.push_str("auths:\n");
                for (name, auth) in &config.auths {
                    let _ = writeln!(out, "  {}:", scalar(name));
                    auth_body(&mut out, auth, 4, mask, true);
                }
            }
            out.push_str("modules:\n");
            for (name, module) in &config.modules {
                let _ = writeln!(out, "  {}:", scalar(name));
                module_body(&mut out, module, 4, mask, true);
            }
        }
        Layout::Flat => {
            for (name, module) in &config.modules {
                let _ = writeln!(out, "{}:", scalar(name));
                module_body(&mut out, module, 2, mask, false);
            }
        }
    }
    out
}

fn pad(out: &mut String, indent: usize) {
    for _ in 0..indent {
        out.push(' ');
    }
}

fn auth_body(out: &mut String, auth: &Auth, indent: usize, mask: bool, with_version: bool) {
    let secret = |value: &str| {
        if mask {
            SECRET_MASK.to_owned()
        } else {
            scalar(value)
        }
    };
    let line = |out: &mut String, key: &str, value: String| {
        pad(out, indent);
        let _ = writeln!(out, "{key}: {value}");
    };
    match auth.files.get("community_file") {
        Some(path) => line(out, "community_file", scalar(path)),
        None => line(out, "community", secret(auth.community.expose())),
    }
    line(
        out,
        "security_level",
        scalar(match auth.security_level {
            SecurityLevel::NoAuthNoPriv => "noAuthNoPriv",
            SecurityLevel::AuthNoPriv => "authNoPriv",
            SecurityLevel::AuthPriv => "authPriv",
        }),
    );
    if !auth.username.is_empty() {
        line(out, "username", scalar(&auth.username));
    }
    match (auth.files.get("password_file"), &auth.password) {
        (Some(path), _) => line(out, "password_file", scalar(path)),
        (None, Some(p)) => line(out, "password", secret(p.expose())),
        (None, None) => {}
    }
    line(out, "auth_protocol", scalar(&auth.auth_protocol));
    line(out, "priv_protocol", scalar(&auth.priv_protocol));
    match (auth.files.get("priv_password_file"), &auth.priv_password) {
        (Some(path), _) => line(out, "priv_password_file", scalar(path)),
        (None, Some(p)) => line(out, "priv_password", secret(p.expose())),
        (None, None) => {}
    }
    if !auth.context_name.is_empty() {
        line(out, "context_name", scalar(&auth.context_name));
    }
    if with_version {
        line(out, "version", auth.version.number().to_string());
    }
    list(out, indent, "allowed_targets", &auth.allowed_targets);
}

fn list(out: &mut String, indent: usize, key: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    pad(out, indent);
    let _ = writeln!(out, "{key}:");
    for item in items {
        pad(out, indent);
        let _ = writeln!(out, "- {}", scalar(item));
    }
}

fn module_body(out: &mut String, module: &Module, indent: usize, mask: bool, split: bool) {
    let oids = |v: &[crate::oid::Oid]| v.iter().map(|o| o.to_string()).collect::<Vec<_>>();
    list(out, indent, "walk", &oids(&module.walk));
    list(out, indent, "get", &oids(&module.get));
    if module.max_repetitions != 25 {
        pad(out, indent);
        let _ = writeln!(out, "max_repetitions: {}", module.max_repetitions);
    }
    if module.retries != 3 {
        pad(out, indent);
        let _ = writeln!(out, "retries: {}", module.retries);
    }
    if module.timeout != std::time::Duration::from_secs(5) {
        pad(out, indent);
        let _ = writeln!(out, "timeout: {}", format_go_duration(module.timeout));
    }
    if module.use_unconnected_udp_socket {
        pad(out, indent);
        out.push_str("use_unconnected_udp_socket: true\n");
    }
    if module.allow_nonincreasing_oids {
        pad(out, indent);
        out.push_str("allow_nonincreasing_oids: true\n");
    }
    if let Some(n) = module.walk_concurrency {
        pad(out, indent);
        let _ = writeln!(out, "walk_concurrency: {n}");
    }
    list(out, indent, "allowed_targets", &module.allowed_targets);
    if !module.filters.is_empty() {
        pad(out, indent);
        out.push_str("filters:\n");
        for filter in &module.filters {
            pad(out, indent);
            let _ = writeln!(out, "- oid: {}", scalar(&filter.oid.to_string()));
            list(out, indent + 2, "targets", &oids(&filter.targets));
            list(out, indent + 2, "values", &filter.values);
        }
    }
    if split && let Some(auth) = &module.flat_auth {
        // A flat module printed in the split layout keeps its own credentials.
        pad(out, indent);
        let _ = writeln!(out, "version: {}", auth.version.number());
        pad(out, indent);
        out.push_str("auth:\n");
        auth_body(out, auth, indent + 2, mask, false);
    } else if !split
        && let Some(auth) = &module.flat_auth
        && (auth.version != Version::V2c || auth.community.expose() != "public")
    {
        pad(out, indent);
        let _ = writeln!(out, "version: {}", auth.version.number());
        pad(out, indent);
        out.push_str("auth:\n");
        auth_body(out, auth, indent + 2, mask, false);
    }
    if !module.metrics.is_empty() {
        pad(out, indent);
        out.push_str("metrics:\n");
        for metric in &module.metrics {
            metric_body(out, metric, indent);
        }
    }
}

fn enum_values(out: &mut String, indent: usize, values: &BTreeMap<i64, String>) {
    if values.is_empty() {
        return;
    }
    pad(out, indent);
    out.push_str("enum_values:\n");
    for (k, v) in values {
        pad(out, indent + 2);
        let _ = writeln!(out, "{k}: {}", scalar(v));
    }
}

fn metric_body(out: &mut String, metric: &Metric, indent: usize) {
    let inner = indent + 2;
    pad(out, indent);
    let _ = writeln!(out, "- name: {}", scalar(&metric.name));
    let line = |out: &mut String, key: &str, value: String| {
        pad(out, inner);
        let _ = writeln!(out, "{key}: {value}");
    };
    line(out, "oid", scalar(&metric.oid.to_string()));
    line(out, "type", scalar(&metric.type_name));
    line(out, "help", quoted(&metric.help));
    if !metric.indexes.is_empty() {
        pad(out, inner);
        out.push_str("indexes:\n");
        for index in &metric.indexes {
            index_body(out, index, inner);
        }
    }
    if !metric.lookups.is_empty() {
        pad(out, inner);
        out.push_str("lookups:\n");
        for lookup in &metric.lookups {
            lookup_body(out, lookup, inner);
        }
    }
    if !metric.regex_extracts.is_empty() {
        pad(out, inner);
        out.push_str("regex_extracts:\n");
        for (suffix, rules) in &metric.regex_extracts {
            pad(out, inner + 2);
            let _ = writeln!(out, "{}:", scalar(suffix));
            for rule in rules {
                pad(out, inner + 2);
                let _ = writeln!(out, "- regex: {}", quoted(&rule.source));
                pad(out, inner + 4);
                let _ = writeln!(out, "value: {}", quoted(&rule.value));
            }
        }
    }
    enum_values(out, inner, &metric.enum_values);
    if metric.scale != 0.0 {
        line(out, "scale", format!("{}", metric.scale));
    }
    if metric.offset != 0.0 {
        line(out, "offset", format!("{}", metric.offset));
    }
    if let Some(hint) = &metric.display_hint {
        line(out, "display_hint", quoted(hint));
    }
    if let Some(pattern) = &metric.datetime_pattern {
        line(out, "datetime_pattern", quoted(pattern));
    }
}

fn index_body(out: &mut String, index: &Index, indent: usize) {
    pad(out, indent);
    let _ = writeln!(out, "- labelname: {}", scalar(&index.labelname));
    pad(out, indent + 2);
    let _ = writeln!(out, "type: {}", scalar(&index.type_name));
    if index.fixed_size != 0 {
        pad(out, indent + 2);
        let _ = writeln!(out, "fixed_size: {}", index.fixed_size);
    }
    if index.implied {
        pad(out, indent + 2);
        out.push_str("implied: true\n");
    }
    enum_values(out, indent + 2, &index.enum_values);
}

fn lookup_body(out: &mut String, lookup: &Lookup, indent: usize) {
    pad(out, indent);
    if lookup.labels.is_empty() {
        out.push_str("- labels: []\n");
    } else {
        out.push_str("- labels:\n");
        for label in &lookup.labels {
            pad(out, indent + 2);
            let _ = writeln!(out, "- {}", scalar(label));
        }
    }
    pad(out, indent + 2);
    let _ = writeln!(out, "labelname: {}", scalar(&lookup.labelname));
    if let Some(oid) = &lookup.oid {
        pad(out, indent + 2);
        let _ = writeln!(out, "oid: {}", scalar(&oid.to_string()));
    }
    if !lookup.type_name.is_empty() {
        pad(out, indent + 2);
        let _ = writeln!(out, "type: {}", scalar(&lookup.type_name));
    }
    if let Some(hint) = &lookup.display_hint {
        pad(out, indent + 2);
        let _ = writeln!(out, "display_hint: {}", quoted(hint));
    }
    enum_values(out, indent + 2, &lookup.enum_values);
}

/// A plain scalar when YAML would read it back as this same string, else double-quoted.
pub fn scalar(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/'))
        && !value.starts_with(['-', '.'])
        && value.parse::<f64>().is_err()
        && !matches!(
            value.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "nan" | "inf"
        );
    if plain {
        value.to_owned()
    } else {
        quoted(value)
    }
}

/// A double-quoted YAML scalar.
pub fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
