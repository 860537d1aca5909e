//! The module and auth configuration: upstream's `snmp.yml` in both of its formats, validated at
//! start-up and on every reload.
//!
//! * [`raw`] is the file syntax (strict: an unknown key is an error, as upstream's
//!   `UnmarshalStrict`).
//! * This module turns raw files into the validated [`Config`]: durations, OIDs, v3 combinations,
//!   metric/index/lookup types, secrets from files, `${VAR}` expansion, duplicate names. Every
//!   error names the file, the module or auth, and the key.
//! * [`default`] builds the embedded default (if_mib, system, public_v1/public_v2) from IF-MIB
//!   facts; [`emit`] prints a config back as YAML for `/config` and `--config.print-default`.

pub mod default;
pub mod duration;
pub mod emit;
pub mod raw;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use portkey_kit::allowlist::Allowlist;
use portkey_kit::secret::Secret;

use crate::oid::Oid;
use raw::{RawAuth, RawIndex, RawLookup, RawMetric, RawModule, SplitFile};

/// Name the source of the embedded default config is shown as.
pub const EMBEDDED: &str = "<embedded default>";

/// A config that cannot be used. The message names file, module or auth, and key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    /// The file (or [`EMBEDDED`]).
    pub file: String,
    /// What is wrong, and where inside the file.
    pub message: String,
}

fn error(file: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        file: file.to_owned(),
        message: message.into(),
    }
}

/// SNMP protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// SNMPv1.
    V1,
    /// SNMPv2c.
    V2c,
    /// SNMPv3 (USM).
    V3,
}

impl Version {
    /// The number snmp.yml writes.
    pub fn number(self) -> u8 {
        match self {
            Version::V1 => 1,
            Version::V2c => 2,
            Version::V3 => 3,
        }
    }
}

/// USM security level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityLevel {
    /// No authentication, no privacy.
    NoAuthNoPriv,
    /// Authentication only.
    AuthNoPriv,
    /// Authentication and privacy.
    AuthPriv,
}

impl SecurityLevel {
    /// The snmp.yml spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityLevel::NoAuthNoPriv => "noAuthNoPriv",
            SecurityLevel::AuthNoPriv => "authNoPriv",
            SecurityLevel::AuthPriv => "authPriv",
        }
    }
}

/// Authentication protocols upstream supports.
pub const AUTH_PROTOCOLS: &[&str] = &["MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"];
/// Privacy protocols upstream supports.
pub const PRIV_PROTOCOLS: &[&str] = &["DES", "AES", "AES192", "AES256", "AES192C", "AES256C"];

/// Validated credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct Auth {
    /// Protocol version.
    pub version: Version,
    /// v1/v2c community.
    pub community: Secret,
    /// v3 level.
    pub security_level: SecurityLevel,
    /// v3 user.
    pub username: String,
    /// v3 authentication password.
    pub password: Option<Secret>,
    /// v3 authentication protocol (one of [`AUTH_PROTOCOLS`]).
    pub auth_protocol: String,
    /// v3 privacy protocol (one of [`PRIV_PROTOCOLS`]).
    pub priv_protocol: String,
    /// v3 privacy password.
    pub priv_password: Option<Secret>,
    /// v3 context.
    pub context_name: String,
    /// Portkey: targets these credentials may be sent to (empty = any).
    pub allowed_targets: Vec<String>,
    /// Parsed form of `allowed_targets`.
    pub allowlist: Allowlist,
    /// `*_file` keys as written, for `/config`.
    pub files: BTreeMap<&'static str, String>,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            version: Version::V2c,
            community: Secret::new("public"),
            security_level: SecurityLevel::NoAuthNoPriv,
            username: String::new(),
            password: None,
            auth_protocol: "MD5".to_owned(),
            priv_protocol: "DES".to_owned(),
            priv_password: None,
            context_name: String::new(),
            allowed_targets: Vec::new(),
            allowlist: Allowlist::default(),
            files: BTreeMap::new(),
        }
    }
}

/// How a metric's value is turned into samples (spec §2.10.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// Numeric gauge.
    Gauge,
    /// Numeric counter (no `_total` added).
    Counter,
    /// Opaque float.
    Float,
    /// Opaque double.
    Double,
    /// RFC 2579 DateAndTime → unix seconds.
    DateAndTime,
    /// A string parsed with `datetime_pattern`.
    ParseDateAndTime,
    /// 8-byte NTP time stamp → unix seconds.
    NtpTimeStamp,
    /// `<name>_info` with the enum name as label.
    EnumAsInfo,
    /// One series per enum value, 1 for the current one.
    EnumAsStateSet,
    /// One series per bit name.
    Bits,
    /// A string rendered into a label of the metric's name.
    Str(StringType),
}

/// How an octet string (or other value) is rendered as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StringType {
    /// UTF-8 text (invalid sequences become U+FFFD).
    DisplayString,
    /// `0x` + uppercase hex.
    OctetString,
    /// `AA:BB:CC:DD:EE:FF`.
    PhysAddress48,
    /// Dotted quad.
    InetAddressIPv4,
    /// Eight groups of four hex digits.
    InetAddressIPv6,
    /// Typed by the previous column.
    InetAddress,
    /// Typed by the previous column, no length.
    InetAddressMissingSize,
    /// Typed by the previous column (LLDP subtype).
    LldpPortId,
    /// A type this build does not know: rendered like OctetString (upstream parity).
    Unknown,
}

impl StringType {
    fn parse(name: &str) -> Option<StringType> {
        Some(match name {
            "DisplayString" => StringType::DisplayString,
            "OctetString" => StringType::OctetString,
            "PhysAddress48" => StringType::PhysAddress48,
            "InetAddressIPv4" => StringType::InetAddressIPv4,
            "InetAddressIPv6" => StringType::InetAddressIPv6,
            "InetAddress" => StringType::InetAddress,
            "InetAddressMissingSize" => StringType::InetAddressMissingSize,
            "LldpPortId" => StringType::LldpPortId,
            _ => return None,
        })
    }
}

/// How an index consumes OID arcs (spec §2.10.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndexType {
    /// One arc, decimal.
    Integer,
    /// One arc, enum name or decimal.
    EnumAsInfo,
    /// A string type with its own framing.
    Str(StringType),
}

/// One metric index.
#[derive(Debug, Clone, PartialEq)]
pub struct Index {
    /// Label name.
    pub labelname: String,
    /// Type as written.
    pub type_name: String,
    /// Parsed type.
    pub kind: IndexType,
    /// Fixed length of a string index (0 = length-prefixed).
    pub fixed_size: u32,
    /// Whether a string index takes all remaining arcs.
    pub implied: bool,
    /// Enum names (EnumAsInfo indexes).
    pub enum_values: BTreeMap<i64, String>,
}

/// One lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    /// Source labels; empty means "delete `labelname`".
    pub labels: Vec<String>,
    /// The label written.
    pub labelname: String,
    /// Column read (absent for deletions).
    pub oid: Option<Oid>,
    /// Type as written.
    pub type_name: String,
    /// Rendering of the looked-up value.
    pub kind: Option<IndexType>,
    /// DISPLAY-HINT for the value.
    pub display_hint: Option<String>,
    /// Enum names for the value.
    pub enum_values: BTreeMap<i64, String>,
}

/// One `regex_extracts` rule.
#[derive(Debug, Clone)]
pub struct RegexExtract {
    /// As written.
    pub source: String,
    /// Anchored `^(?:source)$`.
    pub regex: regex::Regex,
    /// Replacement template (default `$1`).
    pub value: String,
}

impl PartialEq for RegexExtract {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source && self.value == other.value
    }
}

/// One metric definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Family name.
    pub name: String,
    /// Column or scalar OID.
    pub oid: Oid,
    /// Type as written.
    pub type_name: String,
    /// Parsed type.
    pub kind: MetricType,
    /// HELP, verbatim.
    pub help: String,
    /// Indexes in order.
    pub indexes: Vec<Index>,
    /// Lookups in order.
    pub lookups: Vec<Lookup>,
    /// Suffix → rules.
    pub regex_extracts: BTreeMap<String, Vec<RegexExtract>>,
    /// Enum names.
    pub enum_values: BTreeMap<i64, String>,
    /// Multiplier (0 = none).
    pub scale: f64,
    /// Added after scaling.
    pub offset: f64,
    /// DISPLAY-HINT.
    pub display_hint: Option<String>,
    /// strptime pattern for ParseDateAndTime.
    pub datetime_pattern: Option<String>,
}

/// A dynamic filter (upstream ≥0.22; applied by [`crate::filter`]).
#[derive(Debug, Clone)]
pub struct Filter {
    /// Column walked first.
    pub oid: Oid,
    /// Columns fetched only for matching indexes.
    pub targets: Vec<Oid>,
    /// Values that select an index, as written: regular expressions, as upstream reads them.
    pub values: Vec<String>,
    /// `values` compiled, unanchored (upstream's `regexp.MatchString`).
    pub patterns: Vec<regex::Regex>,
}

impl PartialEq for Filter {
    fn eq(&self, other: &Self) -> bool {
        self.oid == other.oid && self.targets == other.targets && self.values == other.values
    }
}

/// A validated module.
#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    /// Subtree roots.
    pub walk: Vec<Oid>,
    /// Instance OIDs.
    pub get: Vec<Oid>,
    /// Metric definitions in file order.
    pub metrics: Vec<Metric>,
    /// GETBULK max-repetitions and GET batch size.
    pub max_repetitions: u32,
    /// Re-sends after a timeout.
    pub retries: u32,
    /// Per attempt.
    pub timeout: Duration,
    /// Accept replies from any source address.
    pub use_unconnected_udp_socket: bool,
    /// Skip the OID-not-increasing check.
    pub allow_nonincreasing_oids: bool,
    /// Dynamic filters.
    pub filters: Vec<Filter>,
    /// Portkey: walk concurrency for requests including this module.
    pub walk_concurrency: Option<u32>,
    /// Portkey: target allowlist entries.
    pub allowed_targets: Vec<String>,
    /// Parsed allowlist.
    pub allowlist: Allowlist,
    /// Flat-format modules carry their own credentials; `auth=` is ignored for them.
    pub flat_auth: Option<Auth>,
    /// The file the module came from.
    pub source: String,
}

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// Split-format auths by name.
    pub auths: BTreeMap<String, Auth>,
    /// Modules by name.
    pub modules: BTreeMap<String, Module>,
    /// Files it was loaded from.
    pub sources: Vec<String>,
}

/// How files are loaded.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--config.expand-environment-variables`.
    pub expand_env: bool,
}

/// Loads `patterns` (each a glob); none → the embedded default.
pub fn load(
    patterns: &[String],
    options: &LoadOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    if patterns.is_empty() {
        return Ok(default::config());
    }
    let mut files = Vec::new();
    for pattern in patterns {
        let matched = expand_glob(pattern).map_err(|message| error(pattern, message))?;
        if matched.is_empty() {
            tracing::warn!(pattern = %pattern, "--config.file matched no file");
        }
        files.extend(matched);
    }
    let mut texts = Vec::with_capacity(files.len());
    for file in &files {
        let name = file.display().to_string();
        let text =
            std::fs::read_to_string(file).map_err(|e| error(&name, format!("cannot read: {e}")))?;
        texts.push((name, text));
    }
    let borrowed: Vec<(&str, &str)> = texts
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    parse_files(&borrowed, options, env)
}

/// Parses already-read files (name, contents) into one config.
pub fn parse_files(
    files: &[(&str, &str)],
    options: &LoadOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut config = Config::default();
    let mut module_origin: BTreeMap<String, String> = BTreeMap::new();
    let mut auth_origin: BTreeMap<String, String> = BTreeMap::new();
    for (file, text) in files {
        config.sources.push((*file).to_owned());
        let parsed = parse_file(file, text, options, env)?;
        for (name, auth) in parsed.auths {
            if let Some(first) = auth_origin.get(&name) {
                return Err(error(
                    file,
                    format!("auth '{name}' is already defined in {first}"),
                ));
            }
            auth_origin.insert(name.clone(), (*file).to_owned());
            config.auths.insert(name, auth);
        }
        for (name, module) in parsed.modules {
            if let Some(first) = module_origin.get(&name) {
                return Err(error(
                    file,
                    format!("module '{name}' is already defined in {first}"),
                ));
            }
            module_origin.insert(name.clone(), (*file).to_owned());
            config.modules.insert(name, module);
        }
    }
    if config.modules.is_empty() {
        let names = config.sources.join(", ");
        return Err(error(&names, "no modules defined"));
    }
    Ok(config)
}

/// Parses one file in whichever format it is written.
pub fn parse_file(
    file: &str,
    text: &str,
    options: &LoadOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let top: BTreeMap<String, serde::de::IgnoredAny> = if text.trim().is_empty() {
        BTreeMap::new()
    } else {
        serde_saphyr::from_str(text).map_err(|e| error(file, yaml_message(&e.to_string())))?
    };
    let split = top.contains_key("auths") || top.contains_key("modules");
    let ctx = Context { file, options, env };
    let mut config = Config {
        sources: vec![file.to_owned()],
        ..Config::default()
    };
    if split {
        let parsed: SplitFile =
            serde_saphyr::from_str(text).map_err(|e| error(file, yaml_message(&e.to_string())))?;
        for (name, raw) in parsed.auths {
            let auth = ctx.auth(&format!("auth '{name}'"), raw, true)?;
            config.auths.insert(name, auth);
        }
        for (name, raw) in parsed.modules {
            if raw.version.is_some() || raw.auth.is_some() {
                let key = if raw.version.is_some() {
                    "version"
                } else {
                    "auth"
                };
                return Err(error(
                    file,
                    format!(
                        "module '{name}': key '{key}' belongs in auths: in a file with auths:/modules:"
                    ),
                ));
            }
            let module = ctx.module(&name, raw, false)?;
            config.modules.insert(name, module);
        }
    } else if !top.is_empty() {
        let parsed: BTreeMap<String, RawModule> =
            serde_saphyr::from_str(text).map_err(|e| error(file, yaml_message(&e.to_string())))?;
        for (name, raw) in parsed {
            let module = ctx.module(&name, raw, true)?;
            config.modules.insert(name, module);
        }
    }
    Ok(config)
}

/// serde-saphyr messages can span lines with a source excerpt; keep them on one line.
fn yaml_message(message: &str) -> String {
    message
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

struct Context<'a> {
    file: &'a str,
    options: &'a LoadOptions,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Context<'_> {
    fn fail(&self, message: String) -> ConfigError {
        error(self.file, message)
    }

    fn expand(&self, at: &str, key: &str, value: String) -> Result<String, ConfigError> {
        if !self.options.expand_env {
            return Ok(value);
        }
        expand_env(&value, self.env).map_err(|var| {
            self.fail(format!(
                "{at}: {key}: environment variable '{var}' is not set"
            ))
        })
    }

    fn secret(
        &self,
        at: &str,
        key: &'static str,
        inline: Option<String>,
        file: Option<String>,
        files: &mut BTreeMap<&'static str, String>,
    ) -> Result<Option<Secret>, ConfigError> {
        match (inline, file) {
            (Some(_), Some(_)) => Err(self.fail(format!(
                "{at}: {key} and {key}_file are mutually exclusive; give one"
            ))),
            (Some(value), None) => Ok(Some(Secret::new(self.expand(at, key, value)?))),
            (None, Some(path)) => {
                let secret = Secret::from_file_exact(std::path::Path::new(&path))
                    .map_err(|e| self.fail(format!("{at}: {key}_file: {e}")))?;
                let key_file = match key {
                    "community" => "community_file",
                    "password" => "password_file",
                    _ => "priv_password_file",
                };
                files.insert(key_file, path.clone());
                Ok(Some(secret))
            }
            (None, None) => Ok(None),
        }
    }

    fn auth(&self, at: &str, raw: RawAuth, split: bool) -> Result<Auth, ConfigError> {
        let mut auth = Auth::default();
        if split {
            auth.version = self.version(at, raw.version)?;
        }
        if let Some(c) = self.secret(
            at,
            "community",
            raw.community,
            raw.community_file,
            &mut auth.files,
        )? {
            auth.community = c;
        }
        auth.password = self.secret(
            at,
            "password",
            raw.password,
            raw.password_file,
            &mut auth.files,
        )?;
        auth.priv_password = self.secret(
            at,
            "priv_password",
            raw.priv_password,
            raw.priv_password_file,
            &mut auth.files,
        )?;
        if let Some(user) = raw.username {
            auth.username = self.expand(at, "username", user)?;
        }
        if let Some(p) = raw.auth_protocol {
            auth.auth_protocol = p;
        }
        if let Some(p) = raw.priv_protocol {
            auth.priv_protocol = p;
        }
        auth.context_name = raw.context_name.unwrap_or_default();
        let level = raw
            .security_level
            .unwrap_or_else(|| "noAuthNoPriv".to_owned());
        auth.security_level = match level.as_str() {
            "noAuthNoPriv" => SecurityLevel::NoAuthNoPriv,
            "authNoPriv" => SecurityLevel::AuthNoPriv,
            "authPriv" => SecurityLevel::AuthPriv,
            _ => {
                return Err(self.fail(format!(
                    "{at}: security_level: security level must be one of authPriv, authNoPriv or noAuthNoPriv"
                )));
            }
        };
        if auth.version == Version::V3 {
            self.validate_v3(at, &auth)?;
        }
        auth.allowed_targets = raw.allowed_targets.unwrap_or_default();
        auth.allowlist = Allowlist::parse(&auth.allowed_targets)
            .map_err(|e| self.fail(format!("{at}: allowed_targets: {e}")))?;
        Ok(auth)
    }

    /// Upstream's order of checks and messages (spec §2.6).
    fn validate_v3(&self, at: &str, auth: &Auth) -> Result<(), ConfigError> {
        let missing = |s: &Option<Secret>| s.as_ref().is_none_or(Secret::is_empty);
        if auth.security_level == SecurityLevel::AuthPriv {
            if missing(&auth.priv_password) {
                return Err(self.fail(format!(
                    "{at}: priv_password: priv password is missing, required for SNMPv3 with priv"
                )));
            }
            if !PRIV_PROTOCOLS.contains(&auth.priv_protocol.as_str()) {
                return Err(self.fail(format!(
                    "{at}: priv_protocol: privacy protocol must be one of {} (got '{}')",
                    PRIV_PROTOCOLS.join(", "),
                    auth.priv_protocol
                )));
            }
        }
        if matches!(
            auth.security_level,
            SecurityLevel::AuthPriv | SecurityLevel::AuthNoPriv
        ) {
            if missing(&auth.password) {
                return Err(self.fail(format!(
                    "{at}: password: auth password is missing, required for SNMPv3 with auth"
                )));
            }
            if !AUTH_PROTOCOLS.contains(&auth.auth_protocol.as_str()) {
                return Err(self.fail(format!(
                    "{at}: auth_protocol: auth protocol must be one of {} (got '{}')",
                    AUTH_PROTOCOLS.join(", "),
                    auth.auth_protocol
                )));
            }
        }
        if auth.username.is_empty() {
            return Err(self.fail(format!(
                "{at}: username: auth username is missing, required for SNMPv3"
            )));
        }
        Ok(())
    }

    fn version(&self, at: &str, version: Option<i64>) -> Result<Version, ConfigError> {
        match version.unwrap_or(2) {
            1 => Ok(Version::V1),
            2 => Ok(Version::V2c),
            3 => Ok(Version::V3),
            n => Err(self.fail(format!(
                "{at}: version: SNMP version must be 1, 2 or 3. Got: {n}"
            ))),
        }
    }

    fn oid(&self, at: &str, key: &str, text: &str) -> Result<Oid, ConfigError> {
        Oid::parse(text).map_err(|e| self.fail(format!("{at}: {key}: {e}")))
    }

    fn module(&self, name: &str, raw: RawModule, flat: bool) -> Result<Module, ConfigError> {
        let at = format!("module '{name}'");
        let walk = raw
            .walk
            .iter()
            .map(|o| self.oid(&at, "walk", o))
            .collect::<Result<Vec<_>, _>>()?;
        let get = raw
            .get
            .iter()
            .map(|o| self.oid(&at, "get", o))
            .collect::<Result<Vec<_>, _>>()?;
        let retries = match raw.retries {
            None => 3,
            Some(n) if n >= 0 => n.min(u32::MAX as i64) as u32,
            Some(n) => return Err(self.fail(format!("{at}: retries: must be ≥ 0, got {n}"))),
        };
        let timeout = match raw.timeout {
            None => Duration::from_secs(5),
            Some(text) => text
                .0
                .map_err(|message| self.fail(format!("{at}: timeout: {message}")))?,
        };
        if raw.walk_concurrency == Some(0) {
            return Err(self.fail(format!("{at}: walk_concurrency: must be at least 1")));
        }
        let mut metrics = Vec::with_capacity(raw.metrics.len());
        for (i, metric) in raw.metrics.into_iter().enumerate() {
            metrics.push(self.metric(&format!("{at}: metrics[{i}]"), metric)?);
        }
        let mut filters = Vec::new();
        for (i, f) in raw.filters.iter().enumerate() {
            let fat = format!("{at}: filters[{i}]");
            // Upstream compiles each value at scrape time and panics on a bad one (its open
            // PR #1637 moves that to load time); here it is a load error.
            let patterns = f
                .values
                .iter()
                .map(|v| {
                    regex::Regex::new(v)
                        .map_err(|e| self.fail(format!("{fat}: values: invalid regex {v:?}: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            filters.push(Filter {
                oid: self.oid(&fat, "oid", &f.oid)?,
                targets: f
                    .targets
                    .iter()
                    .map(|o| self.oid(&fat, "targets", o))
                    .collect::<Result<Vec<_>, _>>()?,
                values: f.values.clone(),
                patterns,
            });
        }
        let flat_auth = if flat {
            let mut auth =
                self.auth(&format!("{at}: auth"), raw.auth.unwrap_or_default(), false)?;
            auth.version = self.version(&at, raw.version)?;
            if auth.version == Version::V3 {
                self.validate_v3(&format!("{at}: auth"), &auth)?;
            }
            Some(auth)
        } else {
            None
        };
        let allowed_targets = raw.allowed_targets.unwrap_or_default();
        let allowlist = Allowlist::parse(&allowed_targets)
            .map_err(|e| self.fail(format!("{at}: allowed_targets: {e}")))?;
        Ok(Module {
            walk,
            get,
            metrics,
            max_repetitions: raw.max_repetitions.unwrap_or(25),
            retries,
            timeout,
            use_unconnected_udp_socket: raw.use_unconnected_udp_socket.unwrap_or(false),
            allow_nonincreasing_oids: raw.allow_nonincreasing_oids.unwrap_or(false),
            filters,
            walk_concurrency: raw.walk_concurrency,
            allowed_targets,
            allowlist,
            flat_auth,
            source: self.file.to_owned(),
        })
    }

    fn metric(&self, at: &str, raw: RawMetric) -> Result<Metric, ConfigError> {
        let at = format!("{at} ({})", raw.name);
        if raw.name.is_empty() {
            return Err(self.fail(format!("{at}: name: must not be empty")));
        }
        let oid = self.oid(&at, "oid", &raw.oid)?;
        let kind = match raw.type_.as_str() {
            "gauge" => MetricType::Gauge,
            "counter" => MetricType::Counter,
            "Float" => MetricType::Float,
            "Double" => MetricType::Double,
            "DateAndTime" => MetricType::DateAndTime,
            "ParseDateAndTime" => MetricType::ParseDateAndTime,
            "NTPTimeStamp" => MetricType::NtpTimeStamp,
            "EnumAsInfo" => MetricType::EnumAsInfo,
            "EnumAsStateSet" => MetricType::EnumAsStateSet,
            "Bits" => MetricType::Bits,
            other => match StringType::parse(other) {
                Some(t) => MetricType::Str(t),
                None => {
                    tracing::warn!(
                        file = self.file,
                        metric = %raw.name,
                        r#type = other,
                        "unknown metric type; rendering it as a string, as upstream does"
                    );
                    MetricType::Str(StringType::Unknown)
                }
            },
        };
        let indexes = raw
            .indexes
            .into_iter()
            .enumerate()
            .map(|(i, index)| self.index(&format!("{at}: indexes[{i}]"), index))
            .collect::<Result<Vec<_>, _>>()?;
        let lookups = raw
            .lookups
            .into_iter()
            .enumerate()
            .map(|(i, lookup)| self.lookup(&format!("{at}: lookups[{i}]"), lookup))
            .collect::<Result<Vec<_>, _>>()?;
        let mut regex_extracts = BTreeMap::new();
        for (suffix, rules) in raw.regex_extracts {
            let mut parsed = Vec::with_capacity(rules.len());
            for rule in rules {
                let regex = regex::Regex::new(&format!("^(?:{})$", rule.regex)).map_err(|e| {
                    self.fail(format!("{at}: regex_extracts.{suffix}: invalid regex: {e}"))
                })?;
                parsed.push(RegexExtract {
                    source: rule.regex,
                    regex,
                    value: rule.value.unwrap_or_else(|| "$1".to_owned()),
                });
            }
            regex_extracts.insert(suffix, parsed);
        }
        if matches!(kind, MetricType::ParseDateAndTime) && raw.datetime_pattern.is_none() {
            return Err(self.fail(format!(
                "{at}: datetime_pattern: required for type ParseDateAndTime"
            )));
        }
        Ok(Metric {
            name: raw.name,
            oid,
            type_name: raw.type_,
            kind,
            help: raw.help,
            indexes,
            lookups,
            regex_extracts,
            enum_values: raw.enum_values,
            scale: raw.scale.unwrap_or(0.0),
            offset: raw.offset.unwrap_or(0.0),
            display_hint: raw.display_hint,
            datetime_pattern: raw.datetime_pattern,
        })
    }

    fn index_type(&self, at: &str, name: &str) -> Result<IndexType, ConfigError> {
        Ok(match name {
            "gauge" | "counter" | "Integer" | "Integer32" => IndexType::Integer,
            "EnumAsInfo" => IndexType::EnumAsInfo,
            other => match StringType::parse(other) {
                Some(t) => IndexType::Str(t),
                None => {
                    return Err(self.fail(format!("{at}: type: unknown index type '{other}'")));
                }
            },
        })
    }

    fn index(&self, at: &str, raw: RawIndex) -> Result<Index, ConfigError> {
        Ok(Index {
            kind: self.index_type(at, &raw.type_)?,
            labelname: raw.labelname,
            type_name: raw.type_,
            fixed_size: raw.fixed_size.unwrap_or(0),
            implied: raw.implied.unwrap_or(false),
            enum_values: raw.enum_values,
        })
    }

    fn lookup(&self, at: &str, raw: RawLookup) -> Result<Lookup, ConfigError> {
        let deletes = raw.labels.is_empty();
        let oid = match &raw.oid {
            Some(text) => Some(self.oid(at, "oid", text)?),
            None if deletes => None,
            None => return Err(self.fail(format!("{at}: oid: required for a lookup with labels"))),
        };
        let type_name = raw.type_.unwrap_or_default();
        let kind = if deletes && type_name.is_empty() {
            None
        } else {
            Some(self.index_type(at, &type_name)?)
        };
        Ok(Lookup {
            labels: raw.labels,
            labelname: raw.labelname,
            oid,
            type_name,
            kind,
            display_hint: raw.display_hint,
            enum_values: raw.enum_values,
        })
    }
}

/// Expands `${VAR}`; returns the name of the first unset variable.
pub fn expand_env(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &after[..end];
        out.push_str(&env(name).ok_or_else(|| name.to_owned())?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Expands `*`, `?` and `[...]` in the last path component (upstream uses Go's `filepath.Glob`;
/// configs in practice glob only file names, e.g. `/etc/snmp_exporter/*.yml`).
pub fn expand_glob(pattern: &str) -> Result<Vec<PathBuf>, String> {
    let path = Path::new(pattern);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let dir_part = path.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir_part.to_string_lossy().contains(['*', '?', '[']) {
        return Err("wildcards are only supported in the file name".to_owned());
    }
    if !name.contains(['*', '?', '[']) {
        return Ok(if path.exists() {
            vec![path.to_path_buf()]
        } else {
            // A plain missing path is an error at read time, which names it.
            vec![path.to_path_buf()]
        });
    }
    let dir = if dir_part.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir_part.clone()
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(_) => return Ok(Vec::new()),
    };
    let mut matched: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| glob_match(name.as_bytes(), n.as_bytes()))
        })
        .map(|e| dir_part.join(e.file_name()))
        .collect();
    matched.sort();
    Ok(matched)
}

fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_match(&pattern[1..], text) || (!text.is_empty() && glob_match(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => glob_match(&pattern[1..], &text[1..]),
        (Some(b'['), Some(&c)) => {
            let Some(close) = pattern.iter().position(|&b| b == b']') else {
                return false;
            };
            let class = &pattern[1..close];
            let (negate, class) = match class.first() {
                Some(b'^') | Some(b'!') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negate && glob_match(&pattern[close + 1..], &text[1..])
        }
        (Some(&p), Some(&c)) => p == c && glob_match(&pattern[1..], &text[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
