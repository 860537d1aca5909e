//! Module configuration: the incumbent's `pve.yml`, or one module from the `PVE_*` environment.
//!
//! The file is a YAML mapping of module name → settings, exactly as prometheus-pve-exporter reads
//! it (`user`, `token_name`, `token_value`, `password`, `verify_ssl`, `timeout`, `port`,
//! `path_prefix`, `service`, `backend`), plus Portkey's additions (secret files, `scheme`,
//! `ca_file`, `tls_server_name`, `allowed_targets`, `max_concurrency`, `failover_targets`).
//!
//! Unlike the incumbent, everything is checked when the config is loaded: unknown keys, wrong
//! types, empty modules, missing or conflicting credentials and unsupported settings are a
//! [`ConfigError`] whose message names the file, the module and the key, so `main` can exit with
//! status 2 before serving a single scrape. Secret values never appear in an error or in `Debug`
//! output: they are held in [`Secret`].

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

/// Module name used when a request names none, and the environment mode's default.
pub const DEFAULT_MODULE: &str = "default";
/// PVE API port used when neither the target nor the module gives one.
pub const DEFAULT_PORT: u16 = 8006;
/// Per-call timeout when the module sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the error messages call the environment when it is the config source.
const ENVIRONMENT: &str = "environment";

/// Keys a module may have.
const KNOWN_KEYS: &[&str] = &[
    "user",
    "token_name",
    "token_value",
    "token_value_file",
    "password",
    "password_file",
    "verify_ssl",
    "timeout",
    "port",
    "path_prefix",
    "service",
    "backend",
    "scheme",
    "ca_file",
    "tls_server_name",
    "allowed_targets",
    "max_concurrency",
    "failover_targets",
];

/// Keys the incumbent passed on to proxmoxer that Portkey deliberately does not implement.
const UNSUPPORTED_KEYS: &[&str] = &["otp", "proxies", "cert"];

pub use portkey_kit::secret::Secret;

/// A secret and, when it came from a file, the file it is re-read from.
#[derive(Debug, Clone)]
pub struct Credential {
    secret: Secret,
    file: Option<PathBuf>,
}

impl Credential {
    /// The secret itself.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The file the secret was read from (`*_file` keys), if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }
}

/// How a module authenticates against the PVE API.
#[derive(Debug, Clone)]
pub enum Auth {
    /// API token, sent as `Authorization: PVEAPIToken=<user>!<token_name>=<token_value>`.
    /// Wins over a password when both are configured, as in the incumbent.
    Token {
        /// `user@realm`.
        user: String,
        /// The token's name (the part after `!`).
        token_name: String,
        /// The token's secret.
        token_value: Credential,
    },
    /// Ticket login with `POST /access/ticket`.
    Password {
        /// `user@realm`.
        user: String,
        /// The user's password.
        password: Credential,
    },
}

impl Auth {
    /// The `user@realm` the module logs in as.
    pub fn user(&self) -> &str {
        match self {
            Auth::Token { user, .. } | Auth::Password { user, .. } => user,
        }
    }
}

/// URL scheme used to reach the PVE API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// TLS (the default, and what PVE serves on 8006).
    Https,
    /// Plain HTTP, for TLS-terminating proxies and simulators.
    Http,
}

impl Scheme {
    /// `"https"` or `"http"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }
}

/// One validated module.
#[derive(Debug, Clone)]
pub struct Module {
    /// The module's name, as requested with `?module=`.
    pub name: String,
    /// Credentials.
    pub auth: Auth,
    /// Verify the API's TLS certificate (`verify_ssl`, default true).
    pub verify_ssl: bool,
    /// Extra PEM trust roots: `ca_file`, or a path given as `verify_ssl`.
    pub ca_file: Option<PathBuf>,
    /// Name to send as SNI and to verify the certificate against.
    pub tls_server_name: Option<String>,
    /// `https` (default) or `http`.
    pub scheme: Scheme,
    /// Port used when the target has none (default 8006).
    pub port: u16,
    /// Prefix inserted before `/api2/json`: empty, or `/segment[/segment…]` without a trailing slash.
    pub path_prefix: String,
    /// Per-call timeout (default 5 s), further capped by the scrape deadline.
    pub timeout: Duration,
    /// Targets this module may be used for; `None` allows any target.
    pub allowed_targets: Option<Vec<String>>,
    /// Maximum in-flight API calls per scrape; `None` means the `--pve.max-concurrency` default.
    pub max_concurrency: Option<NonZeroUsize>,
    /// Other nodes of the same cluster for the cluster collectors when the target is unreachable.
    pub failover_targets: Vec<String>,
}

/// A loaded configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from, or `environment`.
    pub source: String,
    /// Modules by name.
    pub modules: BTreeMap<String, Module>,
}

impl Config {
    /// The module of that name.
    pub fn module(&self, name: &str) -> Option<&Module> {
        self.modules.get(name)
    }

    /// Reads every `*_file` secret again (on SIGHUP), returning the updated config. Nothing is
    /// changed unless every file can be read.
    pub fn reload_secret_files(&self) -> Result<Config, ConfigError> {
        let mut reloaded = self.clone();
        for module in reloaded.modules.values_mut() {
            let (credential, key) = match &mut module.auth {
                Auth::Token { token_value, .. } => (token_value, "token_value_file"),
                Auth::Password { password, .. } => (password, "password_file"),
            };
            if let Some(path) = credential.file.clone() {
                credential.secret = read_secret_file(&path).map_err(|reason| ConfigError {
                    source_name: self.source.clone(),
                    module: Some(module.name.clone()),
                    key: Some(key.to_owned()),
                    problem: Box::new(Problem::SecretFile {
                        path: path.display().to_string(),
                        reason,
                    }),
                })?;
            }
        }
        Ok(reloaded)
    }
}

/// A config that cannot be used. `Display` reads `<file>:<module>:<key>: <problem>`, leaving out
/// the parts that do not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file, or `environment`.
    pub source_name: String,
    /// The module the problem is in, when it is in one.
    pub module: Option<String>,
    /// The key (or environment variable) the problem is about, when there is one.
    pub key: Option<String>,
    /// What is wrong (boxed to keep `Result<_, ConfigError>` small).
    pub problem: Box<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source_name)?;
        if let Some(module) = &self.module {
            write!(f, ":{module}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ":{key}")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// What is wrong with a config. No variant ever carries a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The config file could not be read.
    #[error("cannot read the config file: {0}")]
    Read(String),
    /// The file is not valid YAML.
    #[error("invalid YAML: {0}")]
    Syntax(String),
    /// The top level is not a mapping of module names.
    #[error("expected a mapping of module names to module settings, found {0}")]
    NotAMapping(&'static str),
    /// No module is defined.
    #[error("no modules are defined")]
    NoModules,
    /// A module is named with the empty string.
    #[error("a module name must not be empty")]
    EmptyModuleName,
    /// A module has no settings at all.
    #[error("the module has no settings")]
    EmptyModule,
    /// A key pve-exporter does not know.
    #[error("unknown key")]
    UnknownKey,
    /// A key the incumbent accepted that pve-exporter does not implement.
    #[error("not supported by pve-exporter")]
    UnsupportedKey,
    /// A value of the wrong YAML type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// What the key takes.
        expected: &'static str,
        /// What the config has.
        found: &'static str,
    },
    /// A value of the right type that is not acceptable.
    #[error("{0}")]
    InvalidValue(String),
    /// A setting whose only accepted value is something else.
    #[error("{value:?} is not supported, only {supported:?} is")]
    UnsupportedValue {
        /// The configured value.
        value: String,
        /// The accepted value.
        supported: &'static str,
    },
    /// A required key is absent.
    #[error("required key is missing")]
    Missing,
    /// A key that only works together with another one.
    #[error("requires {0}")]
    Requires(String),
    /// Neither a token nor a password.
    #[error("no credentials: set {0}")]
    MissingCredentials(String),
    /// Two keys that exclude each other.
    #[error("set only one of {0} and {1}")]
    Conflict(String, String),
    /// A secret or CA file that cannot be used.
    #[error("cannot read {path}: {reason}")]
    SecretFile {
        /// The file.
        path: String,
        /// Why (an I/O error, never the content).
        reason: String,
    },
}

/// Loads the configuration the way the incumbent does: from the environment when `PVE_USER` is
/// set (the file is then ignored), otherwise from the file at `path`.
pub fn load(path: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    match from_env(env)? {
        Some(config) => Ok(config),
        None => load_file(path),
    }
}

/// Reads and validates a `pve.yml` file.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let source_name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
        source_name: source_name.clone(),
        module: None,
        key: None,
        problem: Box::new(Problem::Read(error.to_string())),
    })?;
    parse_yaml(&source_name, &text)
}

/// Validates a `pve.yml` document; `source_name` is what error messages call it.
pub fn parse_yaml(source_name: &str, text: &str) -> Result<Config, ConfigError> {
    let top_error = |problem| ConfigError {
        source_name: source_name.to_owned(),
        module: None,
        key: None,
        problem: Box::new(problem),
    };
    let document: Value = serde_saphyr::from_str(text)
        // The snippet would quote the file, which may hold a password: keep message and position.
        .map_err(|error| top_error(Problem::Syntax(syntax_message(&error))))?;
    let modules = match document {
        Value::Object(modules) => modules,
        Value::Null => return Err(top_error(Problem::NoModules)),
        other => return Err(top_error(Problem::NotAMapping(type_name(&other)))),
    };
    if modules.is_empty() {
        return Err(top_error(Problem::NoModules));
    }
    let mut config = Config {
        source: source_name.to_owned(),
        modules: BTreeMap::new(),
    };
    for (name, settings) in &modules {
        let checker = Checker {
            source_name,
            module: name,
            key_name: &|key: &str| key.to_owned(),
        };
        if name.is_empty() {
            return Err(checker.error(None, Problem::EmptyModuleName));
        }
        let settings = match settings {
            Value::Object(settings) => settings,
            Value::Null => return Err(checker.error(None, Problem::EmptyModule)),
            other => {
                return Err(checker.error(
                    None,
                    Problem::WrongType {
                        expected: "a mapping of settings",
                        found: type_name(other),
                    },
                ));
            }
        };
        config
            .modules
            .insert(name.clone(), checker.module(settings)?);
    }
    Ok(config)
}

/// Environment mode: when `PVE_USER` is set (and not empty), builds the one module the incumbent
/// builds from `PVE_USER`, `PVE_PASSWORD`, `PVE_TOKEN_NAME`, `PVE_TOKEN_VALUE`, `PVE_VERIFY_SSL`
/// and `PVE_MODULE`, plus Portkey's `PVE_PASSWORD_FILE`, `PVE_TOKEN_VALUE_FILE`, `PVE_SCHEME`,
/// `PVE_CA_FILE`, `PVE_TIMEOUT`, `PVE_PORT`, `PVE_ALLOWED_TARGETS` (comma-separated) and
/// `PVE_MAX_CONCURRENCY`. Returns `None` when `PVE_USER` is not set. Empty variables count as
/// unset. `env` looks a variable up, so tests never touch the process environment.
pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Option<Config>, ConfigError> {
    let get = |name: &str| env(name).filter(|value| !value.is_empty());
    let Some(user) = get("PVE_USER") else {
        return Ok(None);
    };
    let module = get("PVE_MODULE").unwrap_or_else(|| DEFAULT_MODULE.to_owned());
    let key_name = |key: &str| env_name(key).unwrap_or(key).to_owned();
    let checker = Checker {
        source_name: ENVIRONMENT,
        module: &module,
        key_name: &key_name,
    };

    let mut settings = Map::new();
    settings.insert("user".to_owned(), Value::String(user));
    for key in [
        "password",
        "password_file",
        "token_name",
        "token_value",
        "token_value_file",
        "scheme",
        "ca_file",
    ] {
        if let Some(value) = env_name(key).and_then(get) {
            settings.insert(key.to_owned(), Value::String(value));
        }
    }
    if let Some(value) = get("PVE_VERIFY_SSL") {
        let off = matches!(value.trim().to_ascii_lowercase().as_str(), "false" | "0");
        settings.insert("verify_ssl".to_owned(), Value::Bool(!off));
    }
    for key in ["timeout", "port", "max_concurrency"] {
        let Some(name) = env_name(key) else { continue };
        let Some(text) = get(name) else { continue };
        let number: Value = if key == "timeout" {
            text.trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
        } else {
            text.trim().parse::<u64>().ok().map(Value::from)
        }
        .ok_or_else(|| {
            checker.error(
                Some(key),
                Problem::InvalidValue(format!("{text:?} is not a number")),
            )
        })?;
        settings.insert(key.to_owned(), number);
    }
    if let Some(list) = get("PVE_ALLOWED_TARGETS") {
        let targets = list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| Value::String(entry.to_owned()))
            .collect();
        settings.insert("allowed_targets".to_owned(), Value::Array(targets));
    }

    let built = checker.module(&settings)?;
    let mut modules = BTreeMap::new();
    modules.insert(module.clone(), built);
    Ok(Some(Config {
        source: ENVIRONMENT.to_owned(),
        modules,
    }))
}

/// The environment variable that sets a module key in environment mode.
fn env_name(key: &str) -> Option<&'static str> {
    Some(match key {
        "user" => "PVE_USER",
        "password" => "PVE_PASSWORD",
        "password_file" => "PVE_PASSWORD_FILE",
        "token_name" => "PVE_TOKEN_NAME",
        "token_value" => "PVE_TOKEN_VALUE",
        "token_value_file" => "PVE_TOKEN_VALUE_FILE",
        "verify_ssl" => "PVE_VERIFY_SSL",
        "scheme" => "PVE_SCHEME",
        "ca_file" => "PVE_CA_FILE",
        "timeout" => "PVE_TIMEOUT",
        "port" => "PVE_PORT",
        "allowed_targets" => "PVE_ALLOWED_TARGETS",
        "max_concurrency" => "PVE_MAX_CONCURRENCY",
        _ => return None,
    })
}

/// Validates one module's settings; knows how to name the source, module and keys in errors.
struct Checker<'a> {
    source_name: &'a str,
    module: &'a str,
    key_name: &'a dyn Fn(&str) -> String,
}

impl Checker<'_> {
    fn error(&self, key: Option<&str>, problem: Problem) -> ConfigError {
        ConfigError {
            source_name: self.source_name.to_owned(),
            module: Some(self.module.to_owned()),
            key: key.map(|key| (self.key_name)(key)),
            problem: Box::new(problem),
        }
    }

    fn name(&self, key: &str) -> String {
        (self.key_name)(key)
    }

    fn module(&self, settings: &Map<String, Value>) -> Result<Module, ConfigError> {
        if settings.is_empty() {
            return Err(self.error(None, Problem::EmptyModule));
        }
        for key in settings.keys() {
            if UNSUPPORTED_KEYS.contains(&key.as_str()) {
                return Err(self.error(Some(key), Problem::UnsupportedKey));
            }
            if !KNOWN_KEYS.contains(&key.as_str()) {
                return Err(self.error(Some(key), Problem::UnknownKey));
            }
        }
        let fields = Fields {
            checker: self,
            settings,
        };

        for (key, supported) in [("service", "PVE"), ("backend", "https")] {
            if let Some(value) = fields.string(key)?
                && !value.eq_ignore_ascii_case(supported)
            {
                return Err(self.error(Some(key), Problem::UnsupportedValue { value, supported }));
            }
        }

        let auth = self.auth(&fields)?;

        let scheme = match fields.string("scheme")? {
            None => Scheme::Https,
            Some(value) => match value.to_ascii_lowercase().as_str() {
                "https" => Scheme::Https,
                "http" => Scheme::Http,
                _ => {
                    return Err(self.error(
                        Some("scheme"),
                        Problem::InvalidValue(format!(
                            "{value:?} is not a scheme: use \"https\" or \"http\""
                        )),
                    ));
                }
            },
        };

        let (verify_ssl, ca_from_verify) = match fields.get("verify_ssl") {
            None => (true, None),
            Some(Value::Bool(verify)) => (*verify, None),
            Some(Value::String(path)) if !path.is_empty() => (true, Some(PathBuf::from(path))),
            Some(Value::String(_)) => {
                return Err(self.error(
                    Some("verify_ssl"),
                    Problem::InvalidValue("an empty CA bundle path".to_owned()),
                ));
            }
            Some(other) => {
                return Err(self.error(
                    Some("verify_ssl"),
                    Problem::WrongType {
                        expected: "a boolean or a CA bundle path",
                        found: type_name(other),
                    },
                ));
            }
        };
        let ca_file_key = fields.string("ca_file")?.map(PathBuf::from);
        let ca_file = match (ca_from_verify, ca_file_key) {
            (Some(_), Some(_)) => {
                return Err(self.error(
                    Some("ca_file"),
                    Problem::Conflict(self.name("ca_file"), self.name("verify_ssl") + " (path)"),
                ));
            }
            (Some(path), None) => Some((path, "verify_ssl")),
            (None, Some(path)) => Some((path, "ca_file")),
            (None, None) => None,
        };
        if let Some((path, key)) = &ca_file {
            if !verify_ssl {
                return Err(self.error(
                    Some(key),
                    Problem::InvalidValue(format!(
                        "has no effect when {} is false",
                        self.name("verify_ssl")
                    )),
                ));
            }
            check_readable_file(path).map_err(|reason| {
                self.error(
                    Some(key),
                    Problem::SecretFile {
                        path: path.display().to_string(),
                        reason,
                    },
                )
            })?;
        }

        let tls_server_name = fields.string("tls_server_name")?;
        if let Some(name) = &tls_server_name
            && (name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '/'))
        {
            return Err(self.error(
                Some("tls_server_name"),
                Problem::InvalidValue(format!("{name:?} is not a host name")),
            ));
        }

        let port = match fields.get("port") {
            None => DEFAULT_PORT,
            Some(value) => {
                let number = match value {
                    Value::Number(number) => number.as_u64(),
                    // The incumbent formatted the port into the URL, so a quoted port worked.
                    Value::String(text) => text.trim().parse::<u64>().ok(),
                    other => {
                        return Err(self.error(
                            Some("port"),
                            Problem::WrongType {
                                expected: "an integer port",
                                found: type_name(other),
                            },
                        ));
                    }
                };
                number
                    .and_then(|port| u16::try_from(port).ok())
                    .filter(|port| *port != 0)
                    .ok_or_else(|| {
                        self.error(
                            Some("port"),
                            Problem::InvalidValue(format!("{value} is not a port (1-65535)")),
                        )
                    })?
            }
        };

        let path_prefix = match fields.string("path_prefix")? {
            None => String::new(),
            Some(prefix) => {
                if prefix.contains(|c: char| c.is_whitespace() || c == '?' || c == '#') {
                    return Err(self.error(
                        Some("path_prefix"),
                        Problem::InvalidValue(format!("{prefix:?} is not a URL path")),
                    ));
                }
                let trimmed = prefix.trim_matches('/');
                if trimmed.is_empty() {
                    String::new()
                } else {
                    format!("/{trimmed}")
                }
            }
        };

        let timeout = match fields.get("timeout") {
            None => DEFAULT_TIMEOUT,
            Some(Value::Number(number)) => number
                .as_f64()
                .filter(|seconds| *seconds > 0.0)
                .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
                .ok_or_else(|| {
                    self.error(
                        Some("timeout"),
                        Problem::InvalidValue(format!(
                            "{number} is not a positive number of seconds"
                        )),
                    )
                })?,
            Some(other) => {
                return Err(self.error(
                    Some("timeout"),
                    Problem::WrongType {
                        expected: "a number of seconds",
                        found: type_name(other),
                    },
                ));
            }
        };

        let max_concurrency = match fields.get("max_concurrency") {
            None => None,
            Some(Value::Number(number)) => Some(
                number
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .and_then(NonZeroUsize::new)
                    .ok_or_else(|| {
                        self.error(
                            Some("max_concurrency"),
                            Problem::InvalidValue(format!("{number} is not a positive integer")),
                        )
                    })?,
            ),
            Some(other) => {
                return Err(self.error(
                    Some("max_concurrency"),
                    Problem::WrongType {
                        expected: "a positive integer",
                        found: type_name(other),
                    },
                ));
            }
        };

        let allowed_targets = fields.string_list("allowed_targets")?;
        if allowed_targets.as_ref().is_some_and(Vec::is_empty) {
            return Err(self.error(
                Some("allowed_targets"),
                Problem::InvalidValue(
                    "an empty list refuses every target; remove the key to allow any target"
                        .to_owned(),
                ),
            ));
        }
        let failover_targets = fields.string_list("failover_targets")?.unwrap_or_default();

        Ok(Module {
            name: self.module.to_owned(),
            auth,
            verify_ssl,
            ca_file: ca_file.map(|(path, _)| path),
            tls_server_name,
            scheme,
            port,
            path_prefix,
            timeout,
            allowed_targets,
            max_concurrency,
            failover_targets,
        })
    }

    fn auth(&self, fields: &Fields<'_>) -> Result<Auth, ConfigError> {
        let user = fields
            .string("user")?
            .ok_or_else(|| self.error(Some("user"), Problem::Missing))?;
        if user.is_empty() {
            return Err(self.error(Some("user"), Problem::Missing));
        }
        if user.contains('!') {
            return Err(self.error(
                Some("user"),
                Problem::InvalidValue(format!(
                    "{user:?} contains '!': give the token's name in {} instead",
                    self.name("token_name")
                )),
            ));
        }
        if !user.contains('@') {
            return Err(self.error(
                Some("user"),
                Problem::InvalidValue(format!("{user:?} has no realm: write it as user@realm")),
            ));
        }

        let token_name = fields.string("token_name")?;
        if token_name.as_deref() == Some("") {
            return Err(self.error(
                Some("token_name"),
                Problem::InvalidValue("must not be empty".to_owned()),
            ));
        }
        let token_value = fields.secret("token_value", "token_value_file")?;
        let password = fields.secret("password", "password_file")?;

        if let Some(value) = &token_value
            && value
                .secret
                .expose()
                .contains(|c: char| c.is_whitespace() || c.is_control())
        {
            let key = if value.file.is_some() {
                "token_value_file"
            } else {
                "token_value"
            };
            return Err(self.error(
                Some(key),
                Problem::InvalidValue(
                    "the token value contains whitespace or control characters".to_owned(),
                ),
            ));
        }

        match (token_name, token_value, password) {
            (Some(token_name), Some(token_value), _) => Ok(Auth::Token {
                user,
                token_name,
                token_value,
            }),
            (Some(_), None, _) => Err(self.error(
                Some("token_name"),
                Problem::Requires(format!(
                    "{} or {}",
                    self.name("token_value"),
                    self.name("token_value_file")
                )),
            )),
            (None, Some(value), _) => {
                let key = if value.file.is_some() {
                    "token_value_file"
                } else {
                    "token_value"
                };
                Err(self.error(Some(key), Problem::Requires(self.name("token_name"))))
            }
            (None, None, Some(password)) => Ok(Auth::Password { user, password }),
            (None, None, None) => Err(self.error(
                None,
                Problem::MissingCredentials(format!(
                    "{} with {} (or {}), or {} (or {})",
                    self.name("token_name"),
                    self.name("token_value"),
                    self.name("token_value_file"),
                    self.name("password"),
                    self.name("password_file"),
                )),
            )),
        }
    }
}

/// Typed access to one module's settings; `null` counts as absent.
struct Fields<'a> {
    checker: &'a Checker<'a>,
    settings: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.settings.get(key).filter(|value| !value.is_null())
    }

    fn string(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(self.checker.error(
                Some(key),
                Problem::WrongType {
                    expected: "a string",
                    found: type_name(other),
                },
            )),
        }
    }

    fn string_list(&self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        let items = match self.get(key) {
            None => return Ok(None),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(self.checker.error(
                    Some(key),
                    Problem::WrongType {
                        expected: "a list of strings",
                        found: type_name(other),
                    },
                ));
            }
        };
        items
            .iter()
            .map(|item| match item {
                Value::String(text) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
                Value::String(_) => Err(self.checker.error(
                    Some(key),
                    Problem::InvalidValue("contains an empty entry".to_owned()),
                )),
                other => Err(self.checker.error(
                    Some(key),
                    Problem::WrongType {
                        expected: "a list of strings",
                        found: type_name(other),
                    },
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// An inline secret or one read from a file; the two keys exclude each other.
    fn secret(&self, inline_key: &str, file_key: &str) -> Result<Option<Credential>, ConfigError> {
        let inline = self.get(inline_key);
        let file = self.string(file_key)?;
        match (inline, file) {
            (Some(_), Some(_)) => Err(self.checker.error(
                Some(file_key),
                Problem::Conflict(self.checker.name(inline_key), self.checker.name(file_key)),
            )),
            (Some(Value::String(value)), None) => {
                if value.is_empty() {
                    return Err(self.checker.error(
                        Some(inline_key),
                        Problem::InvalidValue("must not be empty".to_owned()),
                    ));
                }
                Ok(Some(Credential {
                    secret: Secret::new(value.clone()),
                    file: None,
                }))
            }
            // A number or boolean here would be a secret too: name its type, never its value.
            (Some(other), None) => Err(self.checker.error(
                Some(inline_key),
                Problem::WrongType {
                    expected: "a string",
                    found: type_name(other),
                },
            )),
            (None, Some(path)) => {
                let path = PathBuf::from(path);
                let secret = read_secret_file(&path).map_err(|reason| {
                    self.checker.error(
                        Some(file_key),
                        Problem::SecretFile {
                            path: path.display().to_string(),
                            reason,
                        },
                    )
                })?;
                Ok(Some(Credential {
                    secret,
                    file: Some(path),
                }))
            }
            (None, None) => Ok(None),
        }
    }
}

/// Reads a secret file (first line, trailing whitespace removed) with the kit's reader; the
/// reason is short because the caller's message already names the file.
fn read_secret_file(path: &Path) -> Result<Secret, String> {
    use portkey_kit::secret::SecretError;
    Secret::from_file(path).map_err(|error| match error {
        SecretError::Read { source, .. } => source.to_string(),
        SecretError::NotUtf8 { .. } => "not valid UTF-8".to_owned(),
        SecretError::TooLarge { .. } => "larger than 64 KiB, not a secret file".to_owned(),
        SecretError::Empty { .. } => "the first line is empty".to_owned(),
    })
}

fn check_readable_file(path: &Path) -> Result<(), String> {
    let metadata = std::fs::metadata(path).map_err(|error| error.to_string())?;
    if !metadata.is_file() {
        return Err("not a regular file".to_owned());
    }
    std::fs::File::open(path).map_err(|error| error.to_string())?;
    Ok(())
}

/// The parser's message and position, without the quoted snippet (which may show a password) and
/// without hints addressed to programmers rather than to whoever edits the file.
fn syntax_message(error: &serde_saphyr::Error) -> String {
    error
        .without_snippet()
        .to_string()
        .replace(", set DuplicateKeyPolicy in Options if acceptable", "")
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests;
