//! Parsing the `target` a caller asks an exporter to scrape.
//!
//! Prometheus users write targets in several ways: `host`, `host:port`, a bare or bracketed IPv6
//! address, or a full `https://host:port` URL copied from a browser. [`Target::parse`] accepts all of
//! them and refuses anything that could smuggle a path, a query or credentials into the upstream URL.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// URL scheme an upstream is spoken to with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Plain HTTP (TLS-terminating proxies, simulators).
    Http,
    /// HTTPS, the default for every real upstream.
    Https,
}

impl Scheme {
    /// The scheme as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated, normalised scrape target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// Scheme given in URL form; it overrides the module's default.
    pub scheme: Option<Scheme>,
    /// Lower-cased host name or IP literal, without brackets.
    pub host: String,
    /// Port, when the caller gave one.
    pub port: Option<u16>,
}

/// Why a target string was refused; the message is shown to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetError(pub String);

fn err<T>(reason: impl Into<String>) -> Result<T, TargetError> {
    Err(TargetError(reason.into()))
}

impl Target {
    /// Parses `host`, `host:port`, `::1`, `[::1]:8006` or `http(s)://host[:port][/]`.
    pub fn parse(input: &str) -> Result<Target, TargetError> {
        if input.is_empty() {
            return err("empty target");
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return err("whitespace or control characters are not allowed");
        }
        let (scheme, rest) = if let Some(rest) = strip_prefix_ignore_case(input, "https://") {
            (Some(Scheme::Https), rest)
        } else if let Some(rest) = strip_prefix_ignore_case(input, "http://") {
            (Some(Scheme::Http), rest)
        } else if input.contains("://") {
            return err("only http:// and https:// URLs are supported");
        } else {
            (None, input)
        };
        // A URL may end in a single slash; anything after the authority is a path.
        let authority = match (scheme, rest.find(['/', '?', '#'])) {
            (Some(_), Some(i)) if &rest[i..] == "/" => &rest[..i],
            (_, Some(i)) => {
                return match rest.as_bytes()[i] {
                    b'?' => err("a query string is not allowed"),
                    b'#' => err("a fragment is not allowed"),
                    _ => err("a path is not allowed"),
                };
            }
            (_, None) => rest,
        };
        if authority.contains('@') {
            return err("credentials in the target are not allowed");
        }
        let (host, port) = split_host_port(authority)?;
        Ok(Target { scheme, host, port })
    }

    /// The port, or `default` when none was given.
    pub fn port_or(&self, default: u16) -> u16 {
        self.port.unwrap_or(default)
    }

    /// The host as an IP address, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    /// `host:port` with IPv6 hosts bracketed, as it goes into a URL.
    pub fn authority(&self, default_port: u16) -> String {
        let port = self.port_or(default_port);
        if self.host.contains(':') {
            format!("[{}]:{port}", self.host)
        } else {
            format!("{}:{port}", self.host)
        }
    }

    /// The URL base `scheme://host:port` using `default_scheme` unless the target named one.
    pub fn base_url(&self, default_scheme: Scheme, default_port: u16) -> String {
        let scheme = self.scheme.unwrap_or(default_scheme);
        format!("{scheme}://{}", self.authority(default_port))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(scheme) = self.scheme {
            write!(f, "{scheme}://")?;
        }
        match (self.host.contains(':'), self.port) {
            (true, Some(port)) => write!(f, "[{}]:{port}", self.host),
            (true, None) => write!(f, "[{}]", self.host),
            (false, Some(port)) => write!(f, "{}:{port}", self.host),
            (false, None) => f.write_str(&self.host),
        }
    }
}

fn strip_prefix_ignore_case<'a>(input: &'a str, prefix: &str) -> Option<&'a str> {
    let head = input.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &input[prefix.len()..])
}

fn split_host_port(authority: &str) -> Result<(String, Option<u16>), TargetError> {
    if let Some(rest) = authority.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return err("missing ']' after IPv6 address");
        };
        if inside.parse::<Ipv6Addr>().is_err() {
            return err(format!("'{inside}' is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => Some(parse_port(port)?),
                None => return err("unexpected text after ']'"),
            },
        };
        return Ok((inside.to_ascii_lowercase(), port));
    }
    // Two or more colons without brackets can only be a bare IPv6 address.
    if authority.matches(':').count() > 1 {
        return match authority.parse::<Ipv6Addr>() {
            Ok(_) => Ok((authority.to_ascii_lowercase(), None)),
            Err(_) => err(format!("'{authority}' is not a valid IPv6 address")),
        };
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(parse_port(port)?)),
        None => (authority, None),
    };
    validate_host(host)?;
    Ok((host.to_ascii_lowercase(), port))
}

fn parse_port(port: &str) -> Result<u16, TargetError> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return err(format!("invalid port '{port}'"));
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => err(format!("invalid port '{port}'")),
        Ok(port) => Ok(port),
    }
}

fn validate_host(host: &str) -> Result<(), TargetError> {
    if host.is_empty() {
        return err("empty host");
    }
    if host.len() > 253 {
        return err("host name longer than 253 characters");
    }
    let valid = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !valid {
        return err(format!("'{host}' is not a valid host name or address"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> (Option<Scheme>, String, Option<u16>) {
        let t = Target::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        (t.scheme, t.host, t.port)
    }

    #[test]
    fn accepts_every_documented_form() {
        assert_eq!(ok("pve1"), (None, "pve1".into(), None));
        assert_eq!(ok("PVE1.Lan:8006"), (None, "pve1.lan".into(), Some(8006)));
        assert_eq!(ok("192.168.1.10"), (None, "192.168.1.10".into(), None));
        assert_eq!(ok("::1"), (None, "::1".into(), None));
        assert_eq!(ok("[fe80::1]:8006"), (None, "fe80::1".into(), Some(8006)));
        assert_eq!(ok("[::1]"), (None, "::1".into(), None));
        assert_eq!(
            ok("https://pve.lan:8006"),
            (Some(Scheme::Https), "pve.lan".into(), Some(8006))
        );
        assert_eq!(
            ok("HTTP://127.0.0.1:80/"),
            (Some(Scheme::Http), "127.0.0.1".into(), Some(80))
        );
    }

    #[test]
    fn refuses_what_could_change_the_upstream_url() {
        for (input, reason) in [
            ("", "empty"),
            ("pve 1", "whitespace"),
            ("pve:", "invalid port"),
            ("pve:0", "invalid port"),
            ("pve:70000", "invalid port"),
            ("pve:80a", "invalid port"),
            ("pve/api", "path"),
            ("https://pve/api2", "path"),
            ("pve?x=1", "query"),
            ("user:pw@pve", "credentials"),
            ("https://user@pve", "credentials"),
            ("ftp://pve", "only http"),
            ("[::1", "missing ']'"),
            ("[nothost]:1", "not an IPv6"),
            ("fe80::zz", "IPv6"),
            ("pve$", "not a valid host"),
        ] {
            let e = Target::parse(input).expect_err(input);
            assert!(e.0.contains(reason), "{input}: {e}");
        }
    }

    #[test]
    fn renders_urls_with_defaults() {
        let t = Target::parse("::1").unwrap();
        assert_eq!(t.base_url(Scheme::Https, 8006), "https://[::1]:8006");
        let t = Target::parse("http://pve:81").unwrap();
        assert_eq!(t.base_url(Scheme::Https, 8006), "http://pve:81");
        assert_eq!(t.to_string(), "http://pve:81");
        assert_eq!(Target::parse("[::1]:5").unwrap().to_string(), "[::1]:5");
    }
}
