//! The snmp.yml file exactly as written: every key upstream knows plus Portkey's extensions, and
//! nothing else (`deny_unknown_fields` mirrors upstream's `UnmarshalStrict`).
//!
//! These structs only describe the syntax; [`super::load`] turns them into the validated model.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A split-format file (≥0.23): `auths:` and `modules:`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SplitFile {
    /// Accepted and ignored (some generators write it).
    #[serde(default)]
    pub version: Option<i64>,
    /// Credentials by name.
    #[serde(default)]
    pub auths: BTreeMap<String, RawAuth>,
    /// Modules by name.
    #[serde(default)]
    pub modules: BTreeMap<String, RawModule>,
}

/// A module in either format; `version` and `auth` are only valid in the flat format.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawModule {
    #[serde(default)]
    pub walk: Vec<String>,
    #[serde(default)]
    pub get: Vec<String>,
    #[serde(default)]
    pub metrics: Vec<RawMetric>,
    #[serde(default)]
    pub max_repetitions: Option<u32>,
    #[serde(default)]
    pub retries: Option<i64>,
    #[serde(default)]
    pub timeout: Option<DurationText>,
    #[serde(default)]
    pub use_unconnected_udp_socket: Option<bool>,
    #[serde(default)]
    pub allow_nonincreasing_oids: Option<bool>,
    #[serde(default)]
    pub filters: Vec<RawFilter>,
    /// Flat format only.
    #[serde(default)]
    pub version: Option<i64>,
    /// Flat format only.
    #[serde(default)]
    pub auth: Option<RawAuth>,
    /// Portkey extension.
    #[serde(default)]
    pub walk_concurrency: Option<u32>,
    /// Portkey extension.
    #[serde(default)]
    pub allowed_targets: Option<Vec<String>>,
}

/// A dynamic filter (≥0.22).
#[derive(Debug, Deserialize, Default, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawFilter {
    pub oid: String,
    #[serde(default)]
    pub targets: Vec<String>,
    #[serde(default)]
    pub values: Vec<String>,
}

/// Credentials, split (`auths.<name>`) or flat (`<module>.auth`).
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    #[serde(default)]
    pub community: Option<String>,
    #[serde(default)]
    pub security_level: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub auth_protocol: Option<String>,
    #[serde(default)]
    pub priv_protocol: Option<String>,
    #[serde(default)]
    pub priv_password: Option<String>,
    #[serde(default)]
    pub context_name: Option<String>,
    /// Split format only.
    #[serde(default)]
    pub version: Option<i64>,
    /// Portkey extension.
    #[serde(default)]
    pub allowed_targets: Option<Vec<String>>,
    /// Portkey extension.
    #[serde(default)]
    pub community_file: Option<String>,
    /// Portkey extension.
    #[serde(default)]
    pub password_file: Option<String>,
    /// Portkey extension.
    #[serde(default)]
    pub priv_password_file: Option<String>,
}

/// One metric definition.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawMetric {
    pub name: String,
    pub oid: String,
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub help: String,
    #[serde(default)]
    pub indexes: Vec<RawIndex>,
    #[serde(default)]
    pub lookups: Vec<RawLookup>,
    #[serde(default)]
    pub regex_extracts: BTreeMap<String, Vec<RawRegexExtract>>,
    #[serde(default)]
    pub enum_values: BTreeMap<i64, String>,
    #[serde(default)]
    pub scale: Option<f64>,
    #[serde(default)]
    pub offset: Option<f64>,
    #[serde(default)]
    pub display_hint: Option<String>,
    #[serde(default)]
    pub datetime_pattern: Option<String>,
}

/// One index of a metric.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawIndex {
    pub labelname: String,
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub fixed_size: Option<u32>,
    #[serde(default)]
    pub implied: Option<bool>,
    #[serde(default)]
    pub enum_values: BTreeMap<i64, String>,
}

/// One lookup of a metric.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawLookup {
    #[serde(default)]
    pub labels: Vec<String>,
    pub labelname: String,
    #[serde(default)]
    pub oid: Option<String>,
    #[serde(rename = "type", default)]
    pub type_: Option<String>,
    #[serde(default)]
    pub display_hint: Option<String>,
    #[serde(default)]
    pub enum_values: BTreeMap<i64, String>,
}

/// One `regex_extracts` entry.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawRegexExtract {
    pub regex: String,
    #[serde(default)]
    pub value: Option<String>,
}

/// A duration that must be written as a Go duration string; a number is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct DurationText(pub Result<std::time::Duration, String>);

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = DurationText;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration string such as 5s or 500ms")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DurationText, E> {
                Ok(DurationText(super::duration::parse_go_duration(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<DurationText, E> {
                Ok(DurationText(Err(format!(
                    "timeout must be a duration string (got the number {v}; write e.g. {v}s)"
                ))))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<DurationText, E> {
                self.visit_i64(v as i64)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<DurationText, E> {
                Ok(DurationText(Err(format!(
                    "timeout must be a duration string (got the number {v})"
                ))))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}
