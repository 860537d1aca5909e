//! Target allowlists: which hosts a module's credentials may be sent to.
//!
//! A multi-target exporter turns `?target=` into an outgoing request carrying the module's
//! credentials. Without a list, anyone who can reach the exporter can make it send a PVE token
//! to a host of their choosing. An [`Allowlist`] is checked before any connection is made.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::target::{Target, TargetError};

/// One allowlist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// An exact host, optionally with a port (a missing port matches any port).
    Exact { host: String, port: Option<u16> },
    /// A `*`/`?` wildcard pattern over the host name.
    Glob(String),
    /// An IP network; matches targets given as IP literals inside it.
    Cidr(IpNet),
}

/// The hosts a module may contact. An absent list allows every target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    entries: Vec<Entry>,
}

/// An allowlist entry that cannot be understood; names the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid allowed_targets entry '{entry}': {reason}")]
pub struct AllowlistError {
    /// The entry as written.
    pub entry: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Allowlist {
    /// Builds a list from config entries: exact `host[:port]`, globs like `*.lan`, CIDRs like
    /// `192.168.0.0/24`.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Allowlist, AllowlistError> {
        let mut parsed = Vec::with_capacity(entries.len());
        for raw in entries {
            let raw = raw.as_ref().trim();
            let fail = |reason: String| AllowlistError {
                entry: raw.to_owned(),
                reason,
            };
            let entry = if raw.contains("://") {
                return Err(fail("give a host[:port], not a URL".into()));
            } else if raw.contains('/') {
                Entry::Cidr(
                    raw.parse::<IpNet>()
                        .map_err(|e| fail(format!("not a CIDR network: {e}")))?
                        .trunc(),
                )
            } else if raw.contains(['*', '?']) {
                if raw.is_empty() || raw.chars().any(char::is_whitespace) {
                    return Err(fail("empty or whitespace pattern".into()));
                }
                Entry::Glob(raw.to_ascii_lowercase())
            } else {
                let target = Target::parse(raw).map_err(|TargetError(reason)| fail(reason))?;
                Entry::Exact {
                    host: target.host,
                    port: target.port,
                }
            };
            parsed.push(entry);
        }
        Ok(Allowlist { entries: parsed })
    }

    /// Whether the list has no entries (which the caller treats as "allow all").
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `target`, with `default_port` filled in, is on the list.
    pub fn allows(&self, target: &Target, default_port: u16) -> bool {
        let port = target.port_or(default_port);
        let ip: Option<IpAddr> = target.ip();
        self.entries.iter().any(|entry| match entry {
            Entry::Exact { host, port: want } => {
                *host == target.host && want.is_none_or(|p| p == port)
            }
            Entry::Glob(pattern) => {
                let host_port = format!("{}:{port}", target.host);
                wildcard_match(pattern.as_bytes(), target.host.as_bytes())
                    || wildcard_match(pattern.as_bytes(), host_port.as_bytes())
            }
            Entry::Cidr(net) => ip.is_some_and(|ip| net.contains(&ip)),
        })
    }
}

/// Matches `*` (any run, possibly empty) and `?` (one byte) without backtracking blow-up.
fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(list: &[&str], target: &str) -> bool {
        Allowlist::parse(list)
            .unwrap()
            .allows(&Target::parse(target).unwrap(), 8006)
    }

    #[test]
    fn exact_entries_match_host_and_optional_port() {
        assert!(allows(&["shire"], "shire"));
        assert!(allows(&["shire"], "SHIRE:9000"));
        assert!(allows(&["shire:8006"], "shire"));
        assert!(!allows(&["shire:8006"], "shire:9000"));
        assert!(!allows(&["shire"], "shire.evil.com"));
        assert!(allows(&["[::1]:8006"], "::1"));
    }

    #[test]
    fn globs_match_names() {
        assert!(allows(&["*.lan"], "pve1.lan"));
        assert!(!allows(&["*.lan"], "pve1.lan.evil.com"));
        assert!(allows(&["pve?.lan"], "pve3.lan:8006"));
        assert!(allows(&["pve*:8006"], "pve7"));
        assert!(!allows(&["pve*:8006"], "pve7:1"));
        assert!(wildcard_match(b"a*b*c", b"aXXbYYc"));
        assert!(!wildcard_match(b"a*b*c", b"aXXbYY"));
    }

    #[test]
    fn cidrs_match_ip_literals_only() {
        assert!(allows(&["192.168.1.0/24"], "192.168.1.20:8006"));
        assert!(!allows(&["192.168.1.0/24"], "192.168.2.20"));
        assert!(allows(&["fd00::/8"], "[fd12::1]:8006"));
        assert!(!allows(&["192.168.1.0/24"], "pve.lan"));
    }

    #[test]
    fn bad_entries_are_named() {
        let e = Allowlist::parse(&["10.0.0.0/33"]).unwrap_err();
        assert!(e.to_string().contains("10.0.0.0/33"));
        let e = Allowlist::parse(&["https://pve"]).unwrap_err();
        assert!(e.to_string().contains("not a URL"));
    }
}
