use super::emit::{Layout, emit};
use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_files(&[("snmp.yml", text)], &LoadOptions::default(), &no_env)
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn embedded_default_has_the_upstream_shape() {
    let config = default::config();
    let if_mib = &config.modules["if_mib"];
    assert_eq!(if_mib.metrics.len(), 40);
    assert_eq!(
        if_mib
            .metrics
            .iter()
            .filter(|m| m.indexes.len() == 1)
            .count(),
        38
    );
    let if_type = if_mib.metrics.iter().find(|m| m.name == "ifType").unwrap();
    assert_eq!(if_type.enum_values.len(), 299);
    assert_eq!(if_type.enum_values[&6], "ethernetCsmacd");
    assert_eq!(if_type.enum_values[&24], "softwareLoopback");
    assert_eq!(if_type.enum_values[&161], "ieee8023adLag");
    assert_eq!(if_type.enum_values[&303], "p2pOverLan");
    assert!(!if_type.enum_values.contains_key(&274));
    assert_eq!(config.auths["public_v1"].version, Version::V1);
    assert_eq!(config.auths["public_v2"].version, Version::V2c);
    assert_eq!(
        config.modules["system"].walk,
        vec![Oid::parse("1.3.6.1.2.1.1").unwrap()]
    );
}

#[test]
fn emitted_default_reloads_identically_in_both_layouts() {
    let config = default::config();
    let split = emit(&config, Layout::Split, false);
    let reparsed = parse(&split).unwrap();
    for (name, module) in &config.modules {
        let mut again = reparsed.modules[name].clone();
        again.source = module.source.clone();
        assert_eq!(&again, module, "{name}");
    }
    assert_eq!(reparsed.auths, config.auths);
    let flat = emit(&config, Layout::Flat, false);
    assert!(!flat.contains("community"));
    let reparsed = parse(&flat).unwrap();
    let mut if_mib = reparsed.modules["if_mib"].clone();
    assert!(if_mib.flat_auth.take().is_some());
    if_mib.source = EMBEDDED.to_owned();
    assert_eq!(if_mib, config.modules["if_mib"]);
}

#[test]
fn masked_output_hides_every_secret() {
    let text = "auths:\n  v3:\n    version: 3\n    username: u\n    security_level: authPriv\n    password: authsecret1\n    priv_password: privsecret1\n    auth_protocol: SHA\n    priv_protocol: AES\n  c:\n    community: commsecret\nmodules:\n  m:\n    walk: [1.3.6.1.2.1.1]\n";
    let config = parse(text).unwrap();
    let shown = emit(&config, Layout::Split, true);
    for secret in ["authsecret1", "privsecret1", "commsecret"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("password: <secret>"));
    assert!(shown.contains("community: <secret>"));
}

#[test]
fn formats_are_detected_per_file() {
    let flat = "m1:\n  walk: [1.3.6.1.2.1.2]\n  version: 1\n  auth:\n    community: x\n";
    let split =
        "version: 2\nauths:\n  a:\n    community: y\nmodules:\n  m2:\n    walk: [1.3.6.1.2.1.1]\n";
    let config = parse_files(
        &[("flat.yml", flat), ("split.yml", split)],
        &LoadOptions::default(),
        &no_env,
    )
    .unwrap();
    let m1 = &config.modules["m1"];
    assert_eq!(m1.flat_auth.as_ref().unwrap().version, Version::V1);
    assert_eq!(m1.flat_auth.as_ref().unwrap().community.expose(), "x");
    assert!(config.modules["m2"].flat_auth.is_none());
    assert_eq!(config.auths["a"].community.expose(), "y");
}

#[test]
fn unknown_keys_name_file_and_key() {
    let e = err("modules:\n  m:\n    walk: [1.3.6.1.2.1.1]\n    retires: 3\n");
    assert!(e.starts_with("snmp.yml: ") && e.contains("retires"), "{e}");
    let e = err("m:\n  walk: [1.3.6.1.2.1.1]\n  overrides: {}\n");
    assert!(e.contains("overrides"), "{e}");
}

#[test]
fn durations_must_be_strings() {
    let e = err("modules:\n  m:\n    walk: [1.3.6.1.2.1.1]\n    timeout: 5\n");
    assert!(
        e.contains("module 'm': timeout: timeout must be a duration string"),
        "{e}"
    );
    let e = err("modules:\n  m:\n    walk: [1.3.6.1.2.1.1]\n    timeout: 5x\n");
    assert!(e.contains("module 'm': timeout:"), "{e}");
    let ok = parse("modules:\n  m:\n    walk: [1.3.6.1.2.1.1]\n    timeout: 1m30s\n").unwrap();
    assert_eq!(ok.modules["m"].timeout, Duration::from_secs(90));
}

#[test]
fn v3_combinations_follow_upstream_order_and_messages() {
    let auth = |body: &str| {
        format!("auths:\n  a:\n    version: 3\n{body}modules:\n  m:\n    walk: [1.3]\n")
    };
    let e = err(&auth(
        "    security_level: authPriv\n    password: p12345678\n",
    ));
    assert!(
        e.contains(
            "auth 'a': priv_password: priv password is missing, required for SNMPv3 with priv"
        ),
        "{e}"
    );
    let e = err(&auth("    security_level: authNoPriv\n    username: u\n"));
    assert!(e.contains("auth password is missing"), "{e}");
    let e = err(&auth("    security_level: noAuthNoPriv\n"));
    assert!(
        e.contains("auth username is missing, required for SNMPv3"),
        "{e}"
    );
    let e = err(&auth("    security_level: weird\n    username: u\n"));
    assert!(
        e.contains("security level must be one of authPriv, authNoPriv or noAuthNoPriv"),
        "{e}"
    );
    let e = err(&auth(
        "    security_level: authNoPriv\n    username: u\n    password: p12345678\n    auth_protocol: SHA999\n",
    ));
    assert!(e.contains("auth_protocol"), "{e}");
    let e = err("auths:\n  a:\n    version: 4\nmodules:\n  m:\n    walk: [1.3]\n");
    assert!(e.contains("SNMP version must be 1, 2 or 3. Got: 4"), "{e}");
}

#[test]
fn duplicates_and_empty_configs_fail() {
    let one = "modules:\n  m:\n    walk: [1.3.6.1]\n";
    let e = parse_files(
        &[("a.yml", one), ("b.yml", one)],
        &LoadOptions::default(),
        &no_env,
    )
    .unwrap_err()
    .to_string();
    assert_eq!(e, "b.yml: module 'm' is already defined in a.yml");
    let e = err("auths:\n  a:\n    community: x\n");
    assert!(e.contains("no modules defined"), "{e}");
}

#[test]
fn index_types_are_checked_at_load_and_unknown_metric_types_are_strings() {
    let e = err(
        "modules:\n  m:\n    metrics:\n    - name: x\n      oid: 1.3.6\n      type: gauge\n      indexes:\n      - labelname: i\n        type: Bogus\n",
    );
    assert!(
        e.contains("module 'm': metrics[0] (x): indexes[0]: type: unknown index type 'Bogus'"),
        "{e}"
    );
    let ok = parse(
        "modules:\n  m:\n    metrics:\n    - name: x\n      oid: 1.3.6\n      type: Whatever\n",
    )
    .unwrap();
    assert_eq!(
        ok.modules["m"].metrics[0].kind,
        MetricType::Str(StringType::Unknown)
    );
}

#[test]
fn secrets_from_files_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("community");
    std::fs::write(&file, "fromfile\n").unwrap();
    let text = format!(
        "auths:\n  a:\n    community_file: {}\n  b:\n    community: ${{COMM}}\nmodules:\n  m:\n    walk: [1.3]\n",
        file.display()
    );
    let env = |name: &str| (name == "COMM").then(|| "fromenv".to_owned());
    let options = LoadOptions { expand_env: true };
    let config = parse_files(&[("s.yml", &text)], &options, &env).unwrap();
    assert_eq!(config.auths["a"].community.expose(), "fromfile");
    assert_eq!(config.auths["b"].community.expose(), "fromenv");
    let e = parse_files(&[("s.yml", &text)], &options, &no_env)
        .unwrap_err()
        .to_string();
    assert!(e.contains("environment variable 'COMM' is not set"), "{e}");
    let both = format!(
        "auths:\n  a:\n    community: x\n    community_file: {}\nmodules:\n  m:\n    walk: [1.3]\n",
        file.display()
    );
    assert!(err(&both).contains("mutually exclusive"));
}

#[test]
fn globs_expand_file_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yml"), "a:\n  walk: [1.3]\n").unwrap();
    std::fs::write(dir.path().join("b.yml"), "b:\n  walk: [1.3]\n").unwrap();
    std::fs::write(dir.path().join("c.txt"), "junk: [").unwrap();
    let pattern = format!("{}/*.yml", dir.path().display());
    let config = load(&[pattern], &LoadOptions::default(), &no_env).unwrap();
    assert_eq!(config.modules.len(), 2);
    let none = format!("{}/*.none", dir.path().display());
    assert!(load(&[none], &LoadOptions::default(), &no_env).is_err());
    assert!(
        load(&[], &LoadOptions::default(), &no_env)
            .unwrap()
            .modules
            .contains_key("if_mib")
    );
}

#[test]
fn dynamic_filters_load_as_regexes_and_a_bad_one_is_a_load_error() {
    let module = "modules:\n  m:\n    walk: [1.3.6.1.2.1.2.2.1.4]\n    filters:\n    - oid: 1.3.6.1.2.1.2.2.1.8\n      targets: [1.3.6.1.2.1.2.2.1.4]\n      values: [";
    let config = parse(&format!("{module}'^1$', '2']\n")).unwrap();
    let filter = &config.modules["m"].filters[0];
    assert_eq!(filter.values, vec!["^1$", "2"]);
    assert!(filter.patterns[0].is_match("1") && !filter.patterns[0].is_match("10"));
    assert!(filter.patterns[1].is_match("12"), "unanchored, as upstream");
    // Written back as loaded.
    let again = parse(&emit(&config, Layout::Split, false)).unwrap();
    assert_eq!(again.modules["m"].filters, config.modules["m"].filters);
    let message = err(&format!("{module}'(']\n"));
    assert!(
        message.contains("snmp.yml")
            && message.contains("module 'm'")
            && message.contains("filters[0]: values: invalid regex \"(\""),
        "{message}"
    );
}
