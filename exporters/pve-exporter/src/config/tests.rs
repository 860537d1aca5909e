use std::collections::HashMap;
use std::io::Write as _;

use super::*;

const TOKEN: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const PASSWORD: &str = "correct horse battery staple";

fn parse(yaml: &str) -> Result<Config, ConfigError> {
    parse_yaml("pve.yml", yaml)
}

/// Parses a config that must fail, and returns the error.
fn error(yaml: &str) -> ConfigError {
    match parse(yaml) {
        Ok(config) => panic!("accepted: {config:?}"),
        Err(error) => error,
    }
}

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| vars.get(name).cloned()
}

fn secret_file(content: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(content.as_bytes()).unwrap();
    file
}

fn token_module(extra: &str) -> String {
    format!(
        "default:\n  user: prometheus@pve\n  token_name: monitoring\n  token_value: {TOKEN}\n{extra}"
    )
}

#[test]
fn incumbent_example_config_loads() {
    let config = parse(&format!(
        "default:\n    user: prometheus@pve\n    token_name: \"your-token-id\"\n    token_value: \"{TOKEN}\"\n    verify_ssl: false\n\
         other:\n    user: monitor@pam\n    password: \"{PASSWORD}\"\n    verify_ssl: true\n    timeout: 12.5\n    port: 443\n    path_prefix: pve\n    service: PVE\n    backend: https\n"
    ))
    .unwrap();
    assert_eq!(config.source, "pve.yml");
    assert_eq!(config.modules.len(), 2);

    let default = config.module("default").unwrap();
    assert_eq!(default.name, "default");
    match &default.auth {
        Auth::Token {
            user,
            token_name,
            token_value,
        } => {
            assert_eq!(user, "prometheus@pve");
            assert_eq!(token_name, "your-token-id");
            assert_eq!(token_value.secret().expose(), TOKEN);
            assert_eq!(token_value.file(), None);
        }
        other => panic!("{other:?}"),
    }
    assert!(!default.verify_ssl);
    assert_eq!(default.scheme, Scheme::Https);
    assert_eq!(default.port, DEFAULT_PORT);
    assert_eq!(default.timeout, DEFAULT_TIMEOUT);
    assert_eq!(default.path_prefix, "");
    assert_eq!(default.allowed_targets, None);
    assert_eq!(default.max_concurrency, None);
    assert!(default.failover_targets.is_empty());

    let other = config.module("other").unwrap();
    match &other.auth {
        Auth::Password { user, password } => {
            assert_eq!(user, "monitor@pam");
            assert_eq!(password.secret().expose(), PASSWORD);
        }
        auth => panic!("{auth:?}"),
    }
    assert_eq!(other.auth.user(), "monitor@pam");
    assert!(other.verify_ssl);
    assert_eq!(other.timeout, Duration::from_millis(12_500));
    assert_eq!(other.port, 443);
    assert_eq!(other.path_prefix, "/pve");
}

#[test]
fn portkey_additions_load() {
    let ca = secret_file("-----BEGIN CERTIFICATE-----\n");
    let token = secret_file(&format!("{TOKEN}  \r\nsecond line is ignored\n"));
    let config = parse(&format!(
        "cluster:\n  user: prometheus@pve\n  token_name: monitoring\n  token_value_file: {}\n  scheme: HTTP\n  ca_file: {}\n  tls_server_name: pve.lan\n  allowed_targets: [shire.lan, '*.lan', 192.0.2.0/24]\n  max_concurrency: 8\n  failover_targets:\n    - rivendell.lan\n    - 'isengard.lan:8006'\n  path_prefix: /proxy/pve/\n  port: \"8443\"\n  timeout: 3\n",
        token.path().display(),
        ca.path().display()
    ))
    .unwrap();
    let module = config.module("cluster").unwrap();
    match &module.auth {
        Auth::Token { token_value, .. } => {
            assert_eq!(token_value.secret().expose(), TOKEN);
            assert_eq!(token_value.file(), Some(token.path()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(module.scheme, Scheme::Http);
    assert_eq!(module.scheme.as_str(), "http");
    assert_eq!(module.ca_file.as_deref(), Some(ca.path()));
    assert!(module.verify_ssl);
    assert_eq!(module.tls_server_name.as_deref(), Some("pve.lan"));
    assert_eq!(
        module.allowed_targets,
        Some(vec![
            "shire.lan".to_owned(),
            "*.lan".to_owned(),
            "192.0.2.0/24".to_owned()
        ])
    );
    assert_eq!(module.max_concurrency, NonZeroUsize::new(8));
    assert_eq!(
        module.failover_targets,
        vec!["rivendell.lan".to_owned(), "isengard.lan:8006".to_owned()]
    );
    assert_eq!(module.path_prefix, "/proxy/pve");
    assert_eq!(module.port, 8443);
    assert_eq!(module.timeout, Duration::from_secs(3));
}

#[test]
fn verify_ssl_string_is_a_ca_path() {
    let ca = secret_file("pem");
    let config = parse(&token_module(&format!(
        "  verify_ssl: {}\n",
        ca.path().display()
    )))
    .unwrap();
    let module = config.module("default").unwrap();
    assert!(module.verify_ssl);
    assert_eq!(module.ca_file.as_deref(), Some(ca.path()));
}

#[test]
fn yaml_1_1_booleans_are_accepted_like_the_incumbent() {
    let config = parse(&token_module("  verify_ssl: no\n")).unwrap();
    assert!(!config.module("default").unwrap().verify_ssl);
}

#[test]
fn token_wins_over_password() {
    let config = parse(&token_module(&format!("  password: {PASSWORD}\n"))).unwrap();
    assert!(matches!(
        config.module("default").unwrap().auth,
        Auth::Token { .. }
    ));
}

#[test]
fn null_values_count_as_absent() {
    let config = parse(&token_module("  password:\n  port: ~\n")).unwrap();
    assert_eq!(config.module("default").unwrap().port, DEFAULT_PORT);
}

/// Every way a config can be wrong, with the key the message names.
#[test]
fn validation_errors_name_module_and_key() {
    let base = "  user: prometheus@pve\n  token_name: monitoring\n  token_value: x\n";
    let cases: &[(&str, Option<&str>, Problem)] = &[
        ("  host: 192.0.2.11\n", Some("host"), Problem::UnknownKey),
        ("  insecure: true\n", Some("insecure"), Problem::UnknownKey),
        ("  otp: 123456\n", Some("otp"), Problem::UnsupportedKey),
        ("  proxies: {}\n", Some("proxies"), Problem::UnsupportedKey),
        (
            "  cert: /etc/cert.pem\n",
            Some("cert"),
            Problem::UnsupportedKey,
        ),
        (
            "  service: PBS\n",
            Some("service"),
            Problem::UnsupportedValue {
                value: "PBS".to_owned(),
                supported: "PVE",
            },
        ),
        (
            "  backend: ssh_paramiko\n",
            Some("backend"),
            Problem::UnsupportedValue {
                value: "ssh_paramiko".to_owned(),
                supported: "https",
            },
        ),
        (
            "  verify_ssl: 1\n",
            Some("verify_ssl"),
            Problem::WrongType {
                expected: "a boolean or a CA bundle path",
                found: "a number",
            },
        ),
        (
            "  timeout: fast\n",
            Some("timeout"),
            Problem::WrongType {
                expected: "a number of seconds",
                found: "a string",
            },
        ),
        (
            "  timeout: 0\n",
            Some("timeout"),
            Problem::InvalidValue("0 is not a positive number of seconds".to_owned()),
        ),
        (
            "  timeout: -1.5\n",
            Some("timeout"),
            Problem::InvalidValue("-1.5 is not a positive number of seconds".to_owned()),
        ),
        (
            "  port: true\n",
            Some("port"),
            Problem::WrongType {
                expected: "an integer port",
                found: "a boolean",
            },
        ),
        (
            "  port: 70000\n",
            Some("port"),
            Problem::InvalidValue("70000 is not a port (1-65535)".to_owned()),
        ),
        (
            "  port: 0\n",
            Some("port"),
            Problem::InvalidValue("0 is not a port (1-65535)".to_owned()),
        ),
        (
            "  max_concurrency: 0\n",
            Some("max_concurrency"),
            Problem::InvalidValue("0 is not a positive integer".to_owned()),
        ),
        (
            "  max_concurrency: four\n",
            Some("max_concurrency"),
            Problem::WrongType {
                expected: "a positive integer",
                found: "a string",
            },
        ),
        (
            "  allowed_targets: shire.lan\n",
            Some("allowed_targets"),
            Problem::WrongType {
                expected: "a list of strings",
                found: "a string",
            },
        ),
        (
            "  allowed_targets: []\n",
            Some("allowed_targets"),
            Problem::InvalidValue(
                "an empty list refuses every target; remove the key to allow any target".to_owned(),
            ),
        ),
        (
            "  failover_targets: [shire.lan, 8006]\n",
            Some("failover_targets"),
            Problem::WrongType {
                expected: "a list of strings",
                found: "a number",
            },
        ),
        (
            "  failover_targets: ['']\n",
            Some("failover_targets"),
            Problem::InvalidValue("contains an empty entry".to_owned()),
        ),
        (
            "  scheme: ftp\n",
            Some("scheme"),
            Problem::InvalidValue("\"ftp\" is not a scheme: use \"https\" or \"http\"".to_owned()),
        ),
        (
            "  path_prefix: '/a b'\n",
            Some("path_prefix"),
            Problem::InvalidValue("\"/a b\" is not a URL path".to_owned()),
        ),
        (
            "  tls_server_name: ''\n",
            Some("tls_server_name"),
            Problem::InvalidValue("\"\" is not a host name".to_owned()),
        ),
        (
            "  verify_ssl: false\n  ca_file: /etc/ssl/certs/ca-certificates.crt\n",
            Some("ca_file"),
            Problem::InvalidValue("has no effect when verify_ssl is false".to_owned()),
        ),
        (
            "  verify_ssl: /a.pem\n  ca_file: /b.pem\n",
            Some("ca_file"),
            Problem::Conflict("ca_file".to_owned(), "verify_ssl (path)".to_owned()),
        ),
        (
            "  token_value_file: /run/secrets/token\n",
            Some("token_value_file"),
            Problem::Conflict("token_value".to_owned(), "token_value_file".to_owned()),
        ),
    ];
    for (extra, key, problem) in cases {
        let error = error(&format!("default:\n{base}{extra}"));
        assert_eq!(
            (
                error.module.as_deref(),
                error.key.as_deref(),
                &*error.problem
            ),
            (Some("default"), *key, problem),
            "for {extra:?}: {error}"
        );
        assert_eq!(error.source_name, "pve.yml");
    }
}

#[test]
fn credential_errors() {
    let cases: &[(&str, Option<&str>, &str)] = &[
        (
            "  token_name: t\n  token_value: x\n",
            Some("user"),
            "required key is missing",
        ),
        (
            "  user: ''\n  password: x\n",
            Some("user"),
            "required key is missing",
        ),
        (
            "  user: 42\n  password: x\n",
            Some("user"),
            "expected a string, found a number",
        ),
        (
            "  user: prometheus\n  password: x\n",
            Some("user"),
            "\"prometheus\" has no realm: write it as user@realm",
        ),
        (
            "  user: prometheus@pve!monitoring\n  token_value: x\n",
            Some("user"),
            "\"prometheus@pve!monitoring\" contains '!': give the token's name in token_name instead",
        ),
        (
            "  user: p@pve\n  verify_ssl: false\n",
            None,
            "no credentials: set token_name with token_value (or token_value_file), or password (or password_file)",
        ),
        (
            "  user: p@pve\n  token_name: t\n",
            Some("token_name"),
            "requires token_value or token_value_file",
        ),
        (
            "  user: p@pve\n  token_name: t\n  password: x\n",
            Some("token_name"),
            "requires token_value or token_value_file",
        ),
        (
            "  user: p@pve\n  token_value: x\n",
            Some("token_value"),
            "requires token_name",
        ),
        (
            "  user: p@pve\n  token_name: ''\n  token_value: x\n",
            Some("token_name"),
            "must not be empty",
        ),
        (
            "  user: p@pve\n  password: ''\n",
            Some("password"),
            "must not be empty",
        ),
        (
            "  user: p@pve\n  password: x\n  password_file: /x\n",
            Some("password_file"),
            "set only one of password and password_file",
        ),
        (
            "  user: p@pve\n  token_name: t\n  token_value: 'a b'\n",
            Some("token_value"),
            "the token value contains whitespace or control characters",
        ),
        (
            "  user: p@pve\n  password: 123456\n",
            Some("password"),
            "expected a string, found a number",
        ),
    ];
    for (settings, key, message) in cases {
        let error = error(&format!("default:\n{settings}"));
        assert_eq!(
            (error.key.as_deref(), error.problem.to_string().as_str()),
            (*key, *message),
            "for {settings:?}"
        );
    }
}

#[test]
fn display_names_file_module_and_key() {
    assert_eq!(
        error(&token_module("  host: 192.0.2.11\n")).to_string(),
        "pve.yml:default:host: unknown key"
    );
    assert_eq!(
        error("default:\n  user: p@pve\n").to_string(),
        "pve.yml:default: no credentials: set token_name with token_value (or token_value_file), or password (or password_file)"
    );
    assert_eq!(error("").to_string(), "pve.yml: no modules are defined");
}

#[test]
fn document_level_errors() {
    assert_eq!(*error("").problem, Problem::NoModules);
    assert_eq!(*error("# only a comment\n").problem, Problem::NoModules);
    assert_eq!(*error("{}").problem, Problem::NoModules);
    assert_eq!(
        *error("- default\n").problem,
        Problem::NotAMapping("a list")
    );
    assert_eq!(
        *error("just text").problem,
        Problem::NotAMapping("a string")
    );

    let empty = error("default:\n");
    assert_eq!(
        (empty.module.as_deref(), &*empty.problem),
        (Some("default"), &Problem::EmptyModule)
    );
    let empty = error("default: {}\n");
    assert_eq!(*empty.problem, Problem::EmptyModule);
    let scalar = error("default: prometheus@pve\n");
    assert_eq!(
        *scalar.problem,
        Problem::WrongType {
            expected: "a mapping of settings",
            found: "a string"
        }
    );
    let unnamed = error("'':\n  user: p@pve\n  password: x\n");
    assert_eq!(*unnamed.problem, Problem::EmptyModuleName);

    assert_eq!(
        error("default:\n  user: [unclosed\n").to_string(),
        "pve.yml: invalid YAML: unclosed bracket '[' at line 2, column 9"
    );
    assert_eq!(
        error("default:\n  user: a@pve\n  user: b@pve\n  password: x\n").to_string(),
        "pve.yml: invalid YAML: duplicate mapping key: user at line 3, column 3"
    );
}

#[test]
fn missing_config_file_is_an_error() {
    let error = load_file(Path::new("/nonexistent/pve.yml")).unwrap_err();
    assert_eq!(error.source_name, "/nonexistent/pve.yml");
    assert!(matches!(*error.problem, Problem::Read(_)), "{error}");
    assert!(
        error
            .to_string()
            .starts_with("/nonexistent/pve.yml: cannot read the config file: ")
    );
}

#[test]
fn load_file_reads_and_validates() {
    let file = secret_file(&token_module(""));
    let config = load_file(file.path()).unwrap();
    assert_eq!(config.source, file.path().display().to_string());
    assert!(config.module("default").is_some());
}

#[test]
fn secret_files() {
    let password = secret_file(&format!("{PASSWORD}\t \n"));
    let config = parse(&format!(
        "default:\n  user: p@pve\n  password_file: {}\n",
        password.path().display()
    ))
    .unwrap();
    match &config.module("default").unwrap().auth {
        Auth::Password { password: p, .. } => {
            assert_eq!(p.secret().expose(), PASSWORD);
            assert_eq!(p.file(), Some(password.path()));
        }
        other => panic!("{other:?}"),
    }

    let missing = error("default:\n  user: p@pve\n  password_file: /nonexistent/secret\n");
    assert_eq!(missing.key.as_deref(), Some("password_file"));
    assert!(
        matches!(&*missing.problem, Problem::SecretFile { path, .. } if path == "/nonexistent/secret"),
        "{missing}"
    );

    let empty = secret_file("\n\nsecret-on-line-3\n");
    let error = error(&format!(
        "default:\n  user: p@pve\n  password_file: {}\n",
        empty.path().display()
    ));
    assert!(
        error.to_string().ends_with(": the first line is empty"),
        "{error}"
    );
    assert!(!error.to_string().contains("secret-on-line-3"));

    let missing_ca = error_for_ca("/nonexistent/ca.pem");
    assert_eq!(missing_ca.key.as_deref(), Some("ca_file"));
    assert!(matches!(&*missing_ca.problem, Problem::SecretFile { .. }));
}

fn error_for_ca(path: &str) -> ConfigError {
    error(&token_module(&format!("  ca_file: {path}\n")))
}

#[test]
fn secret_files_are_reread_on_reload() {
    let mut token = secret_file("first-token\n");
    let config = parse(&format!(
        "default:\n  user: p@pve\n  token_name: t\n  token_value_file: {}\n",
        token.path().display()
    ))
    .unwrap();
    token.as_file_mut().set_len(0).unwrap();
    std::fs::write(token.path(), "second-token\n").unwrap();
    let reloaded = config.reload_secret_files().unwrap();
    let value = |config: &Config| match &config.module("default").unwrap().auth {
        Auth::Token { token_value, .. } => token_value.secret().expose().to_owned(),
        other => panic!("{other:?}"),
    };
    assert_eq!(value(&config), "first-token");
    assert_eq!(value(&reloaded), "second-token");

    let path = token.path().to_owned();
    drop(token);
    let error = config.reload_secret_files().unwrap_err();
    assert_eq!(error.key.as_deref(), Some("token_value_file"));
    assert!(error.to_string().contains(&path.display().to_string()));
}

#[test]
fn secrets_never_appear_in_debug_or_errors() {
    let token_file = secret_file("file-token-value-123\n");
    let config = parse(&format!(
        "a:\n  user: p@pve\n  token_name: t\n  token_value: {TOKEN}\nb:\n  user: p@pve\n  password: '{PASSWORD}'\nc:\n  user: p@pve\n  token_name: t\n  token_value_file: {}\n",
        token_file.path().display()
    ))
    .unwrap();
    let debug = format!("{config:?} {config:#?}");
    for secret in [TOKEN, PASSWORD, "file-token-value-123"] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
    assert!(debug.contains("***"));
    assert_eq!(Secret::new("hunter2").to_string(), "***");
    assert_eq!(format!("{:?}", Secret::new("hunter2")), "***");

    // Errors about a module that holds secrets, including YAML syntax errors next to them.
    for yaml in [
        format!("default:\n  user: p@pve\n  password: '{PASSWORD}'\n  bogus: 1\n"),
        format!("default:\n  user: p@pve\n  password: '{PASSWORD}'\n   bad indent: [\n"),
        format!("default:\n  user: p@pve\n  token_name: t\n  token_value: '{PASSWORD}'\n"),
        "default:\n  user: p@pve\n  password: 98765432\n".to_owned(),
        "default:\n  user: p@pve\n  password: [hunter2]\n".to_owned(),
    ] {
        let error = error(&yaml);
        let shown = format!("{error} {error:?}");
        for secret in [PASSWORD, "98765432", "hunter2", "correct horse"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }
}

#[test]
fn environment_mode_is_off_without_pve_user() {
    assert!(from_env(env(&[])).unwrap().is_none());
    assert!(
        from_env(env(&[("PVE_USER", ""), ("PVE_PASSWORD", "x")]))
            .unwrap()
            .is_none()
    );
}

#[test]
fn environment_mode_builds_one_module() {
    let config = from_env(env(&[
        ("PVE_USER", "prometheus@pve"),
        ("PVE_TOKEN_NAME", "monitoring"),
        ("PVE_TOKEN_VALUE", TOKEN),
        ("PVE_VERIFY_SSL", "FALSE"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(config.source, "environment");
    assert_eq!(config.modules.len(), 1);
    let module = config.module("default").unwrap();
    assert!(
        matches!(&module.auth, Auth::Token { token_name, token_value, .. }
        if token_name == "monitoring" && token_value.secret().expose() == TOKEN)
    );
    assert!(!module.verify_ssl);
    assert_eq!(module.port, DEFAULT_PORT);
    assert!(!format!("{config:?}").contains(TOKEN));
}

#[test]
fn environment_verify_ssl_is_false_only_for_false_and_zero() {
    for (value, expected) in [
        ("false", false),
        ("False", false),
        ("0", false),
        ("true", true),
        ("no", true),
        ("off", true),
        ("1", true),
    ] {
        let config = from_env(env(&[
            ("PVE_USER", "p@pve"),
            ("PVE_PASSWORD", "x"),
            ("PVE_VERIFY_SSL", value),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            config.module("default").unwrap().verify_ssl,
            expected,
            "{value}"
        );
    }
}

#[test]
fn environment_mode_portkey_variables() {
    let password = secret_file(&format!("{PASSWORD}\n"));
    let ca = secret_file("pem");
    let config = from_env(env(&[
        ("PVE_USER", "monitor@pam"),
        ("PVE_PASSWORD_FILE", &password.path().display().to_string()),
        ("PVE_MODULE", "cluster"),
        ("PVE_SCHEME", "http"),
        ("PVE_CA_FILE", &ca.path().display().to_string()),
        ("PVE_TIMEOUT", "2.5"),
        ("PVE_PORT", "8443"),
        (
            "PVE_ALLOWED_TARGETS",
            "shire.lan, rivendell.lan,,192.0.2.0/24",
        ),
        ("PVE_MAX_CONCURRENCY", "6"),
    ]))
    .unwrap()
    .unwrap();
    assert!(config.module("default").is_none());
    let module = config.module("cluster").unwrap();
    assert_eq!(module.name, "cluster");
    assert!(matches!(&module.auth, Auth::Password { password: p, .. }
        if p.secret().expose() == PASSWORD && p.file() == Some(password.path())));
    assert_eq!(module.scheme, Scheme::Http);
    assert_eq!(module.ca_file.as_deref(), Some(ca.path()));
    assert_eq!(module.timeout, Duration::from_millis(2500));
    assert_eq!(module.port, 8443);
    assert_eq!(
        module.allowed_targets,
        Some(vec![
            "shire.lan".to_owned(),
            "rivendell.lan".to_owned(),
            "192.0.2.0/24".to_owned()
        ])
    );
    assert_eq!(module.max_concurrency, NonZeroUsize::new(6));
}

#[test]
fn environment_errors_name_the_variables() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("PVE_USER", "p@pve")],
            "environment:default: no credentials: set PVE_TOKEN_NAME with PVE_TOKEN_VALUE (or PVE_TOKEN_VALUE_FILE), or PVE_PASSWORD (or PVE_PASSWORD_FILE)",
        ),
        (
            &[
                ("PVE_USER", "p@pve"),
                ("PVE_MODULE", "m"),
                ("PVE_TOKEN_NAME", "t"),
            ],
            "environment:m:PVE_TOKEN_NAME: requires PVE_TOKEN_VALUE or PVE_TOKEN_VALUE_FILE",
        ),
        (
            &[
                ("PVE_USER", "p@pve"),
                ("PVE_PASSWORD", "x"),
                ("PVE_PASSWORD_FILE", "/x"),
            ],
            "environment:default:PVE_PASSWORD_FILE: set only one of PVE_PASSWORD and PVE_PASSWORD_FILE",
        ),
        (
            &[
                ("PVE_USER", "p@pve"),
                ("PVE_PASSWORD", "x"),
                ("PVE_PORT", "https"),
            ],
            "environment:default:PVE_PORT: \"https\" is not a number",
        ),
        (
            &[
                ("PVE_USER", "p@pve"),
                ("PVE_PASSWORD", "x"),
                ("PVE_TIMEOUT", "5s"),
            ],
            "environment:default:PVE_TIMEOUT: \"5s\" is not a number",
        ),
        (
            &[
                ("PVE_USER", "p@pve"),
                ("PVE_PASSWORD", "x"),
                ("PVE_MAX_CONCURRENCY", "0"),
            ],
            "environment:default:PVE_MAX_CONCURRENCY: 0 is not a positive integer",
        ),
        (
            &[
                ("PVE_USER", "p@pve"),
                ("PVE_PASSWORD", "x"),
                ("PVE_SCHEME", "ftp"),
            ],
            "environment:default:PVE_SCHEME: \"ftp\" is not a scheme: use \"https\" or \"http\"",
        ),
        (
            &[
                ("PVE_USER", "p@pve"),
                ("PVE_PASSWORD", "x"),
                ("PVE_ALLOWED_TARGETS", " , "),
            ],
            "environment:default:PVE_ALLOWED_TARGETS: an empty list refuses every target; remove the key to allow any target",
        ),
        (
            &[("PVE_USER", "prometheus"), ("PVE_PASSWORD", "x")],
            "environment:default:PVE_USER: \"prometheus\" has no realm: write it as user@realm",
        ),
    ];
    for (vars, message) in cases {
        let error = from_env(env(vars)).unwrap_err();
        assert_eq!(error.to_string(), *message);
    }
}

#[test]
fn load_prefers_the_environment() {
    let from_environment = load(
        Path::new("/nonexistent/pve.yml"),
        env(&[("PVE_USER", "p@pve"), ("PVE_PASSWORD", "x")]),
    )
    .unwrap();
    assert_eq!(from_environment.source, "environment");

    let file = secret_file(&token_module(""));
    let from_file = load(file.path(), env(&[("PVE_PASSWORD", "ignored")])).unwrap();
    assert_eq!(from_file.source, file.path().display().to_string());

    let missing = load(Path::new("/nonexistent/pve.yml"), env(&[])).unwrap_err();
    assert!(matches!(*missing.problem, Problem::Read(_)));
}
