//! Fault injection: what a simulator does wrong, and on which paths.
//!
//! Exporters must survive slow, failing and broken upstreams (conventions §4), and their tests
//! need to provoke each failure on one endpoint while the others keep working. A [`Faults`]
//! table maps a path (exact, or a prefix ending in `*`) to a [`Fault`]; the server middleware
//! consults it for every non-control request. A global latency delays every such request, which
//! is how benchmarks model a real API's per-call cost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Text sent in place of a body by [`Fault::Malformed`]: starts like JSON, is not JSON.
pub const MALFORMED_BODY: &str = "{\"data\":[{\"id\":\"node/shire\",\"type\":<html>502 Bad Gateway";

/// One way of misbehaving for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long, then answer normally (adds to the global latency).
    Latency(Duration),
    /// Answer with this status (and this body, if given) without calling the simulator.
    /// The reason phrase is the standard one for the status.
    Status(u16, Option<String>),
    /// Like [`Fault::Status`] with a custom status-line reason phrase, the way PVE reports
    /// errors (`403 Permission check failed (/, Sys.Audit)`).
    Error {
        /// HTTP status code (100..=999; PVE also uses 595–599).
        status: u16,
        /// Reason phrase for the status line.
        reason: String,
        /// Body to send, if any.
        body: Option<String>,
    },
    /// Answer normally, but with the body replaced by [`MALFORMED_BODY`] (status and content
    /// type kept), as when a proxy or a bug sends non-JSON.
    Malformed,
    /// Send `Content-Length` of the full body but only its first half, then close.
    Truncated,
    /// Send the head and the first bytes of the body, then never finish (until shutdown).
    Stalled,
    /// Close the connection without any response.
    Reset,
}

impl Fault {
    /// Short name used in the request log and the control API (`latency`, `status`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Latency(_) => "latency",
            Fault::Status(..) | Fault::Error { .. } => "status",
            Fault::Malformed => "malformed",
            Fault::Truncated => "truncated",
            Fault::Stalled => "stalled",
            Fault::Reset => "reset",
        }
    }
}

/// A fault as configured for a path pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultRule {
    /// Exact path, or a prefix followed by `*`.
    pub pattern: String,
    /// What to do.
    pub fault: Fault,
    /// How many more requests it applies to; `None` = until cleared.
    pub remaining: Option<u32>,
}

/// The JSON form of one rule, as posted to `POST /_sim/faults` and listed by `GET /_sim/faults`.
///
/// ```json
/// {"path": "/api2/json/cluster/status", "kind": "status", "status": 500, "body": "{\"data\":null}"}
/// {"path": "/api2/json/nodes/*", "kind": "latency", "ms": 250, "times": 3}
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Exact path, or a prefix followed by `*`.
    pub path: String,
    /// `latency`, `status`, `malformed`, `truncated`, `stalled` or `reset`.
    pub kind: String,
    /// For `status`: the status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// For `status`: an optional reason phrase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For `status`: an optional body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// For `latency`: milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    /// Apply to this many requests only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

/// Why a [`FaultSpec`] could not be turned into a rule.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FaultSpecError {
    /// `kind` is not one of the known names.
    #[error(
        "unknown fault kind '{0}' (expected latency, status, malformed, truncated, stalled or reset)"
    )]
    UnknownKind(String),
    /// A field the kind needs is missing.
    #[error("fault kind '{kind}' needs the field '{field}'")]
    Missing {
        /// The fault kind.
        kind: String,
        /// The missing field.
        field: &'static str,
    },
    /// The status code is outside 100..=999.
    #[error("status {0} is not a valid HTTP status code")]
    BadStatus(u16),
    /// The path pattern is empty or does not start with `/`.
    #[error("path '{0}' must start with '/'")]
    BadPath(String),
}

impl FaultSpec {
    /// Validates and converts to a rule.
    pub fn to_rule(&self) -> Result<FaultRule, FaultSpecError> {
        if !self.path.starts_with('/') {
            return Err(FaultSpecError::BadPath(self.path.clone()));
        }
        let missing = |field| FaultSpecError::Missing {
            kind: self.kind.clone(),
            field,
        };
        let fault = match self.kind.as_str() {
            "latency" => {
                Fault::Latency(Duration::from_millis(self.ms.ok_or_else(|| missing("ms"))?))
            }
            "status" => {
                let status = self.status.ok_or_else(|| missing("status"))?;
                if !(100..=999).contains(&status) {
                    return Err(FaultSpecError::BadStatus(status));
                }
                match &self.reason {
                    Some(reason) => Fault::Error {
                        status,
                        reason: reason.clone(),
                        body: self.body.clone(),
                    },
                    None => Fault::Status(status, self.body.clone()),
                }
            }
            "malformed" => Fault::Malformed,
            "truncated" => Fault::Truncated,
            "stalled" => Fault::Stalled,
            "reset" => Fault::Reset,
            other => return Err(FaultSpecError::UnknownKind(other.to_owned())),
        };
        Ok(FaultRule {
            pattern: self.path.clone(),
            fault,
            remaining: self.times,
        })
    }

    /// The JSON form of an existing rule.
    pub fn from_rule(rule: &FaultRule) -> Self {
        let mut spec = FaultSpec {
            path: rule.pattern.clone(),
            kind: rule.fault.kind().to_owned(),
            status: None,
            reason: None,
            body: None,
            ms: None,
            times: rule.remaining,
        };
        match &rule.fault {
            Fault::Latency(d) => spec.ms = Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            Fault::Status(status, body) => {
                spec.status = Some(*status);
                spec.body = body.clone();
            }
            Fault::Error {
                status,
                reason,
                body,
            } => {
                spec.status = Some(*status);
                spec.reason = Some(reason.clone());
                spec.body = body.clone();
            }
            Fault::Malformed | Fault::Truncated | Fault::Stalled | Fault::Reset => {}
        }
        spec
    }
}

#[derive(Debug, Default)]
struct FaultState {
    exact: HashMap<String, FaultRule>,
    prefixes: Vec<FaultRule>,
    latency: Duration,
}

/// Shared, mutable fault table of one simulator server (cheap to clone).
///
/// Exists so that a test can change an upstream's behaviour between two scrapes without
/// restarting it; the same table is reachable over HTTP under `/_sim/faults` for the demo and
/// for tests of other processes.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    inner: Arc<Mutex<FaultState>>,
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, FaultState> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies `fault` to every request matching `pattern` (exact path, or prefix + `*`)
    /// until removed; replaces an earlier rule for the same pattern.
    pub fn set(&self, pattern: impl Into<String>, fault: Fault) {
        self.insert(FaultRule {
            pattern: pattern.into(),
            fault,
            remaining: None,
        });
    }

    /// Like [`Faults::set`], but only for the next `times` matching requests.
    pub fn set_times(&self, pattern: impl Into<String>, fault: Fault, times: u32) {
        self.insert(FaultRule {
            pattern: pattern.into(),
            fault,
            remaining: Some(times),
        });
    }

    /// Adds or replaces a rule.
    pub fn insert(&self, rule: FaultRule) {
        let mut state = self.lock();
        if let Some(prefix) = rule.pattern.strip_suffix('*') {
            let prefix = prefix.to_owned();
            state
                .prefixes
                .retain(|r| r.pattern.strip_suffix('*') != Some(prefix.as_str()));
            state.prefixes.push(rule);
        } else {
            state.exact.insert(rule.pattern.clone(), rule);
        }
    }

    /// Removes the rule for exactly this pattern; returns whether there was one.
    pub fn remove(&self, pattern: &str) -> bool {
        let mut state = self.lock();
        if pattern.ends_with('*') {
            let before = state.prefixes.len();
            state.prefixes.retain(|r| r.pattern != pattern);
            before != state.prefixes.len()
        } else {
            state.exact.remove(pattern).is_some()
        }
    }

    /// Removes every path rule (the global latency stays; see [`Faults::set_latency`]).
    pub fn clear(&self) {
        let mut state = self.lock();
        state.exact.clear();
        state.prefixes.clear();
    }

    /// Sets the delay added to every non-control request.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// The delay added to every non-control request.
    pub fn latency(&self) -> Duration {
        self.lock().latency
    }

    /// The current rules (exact ones first, each group sorted by pattern).
    pub fn rules(&self) -> Vec<FaultRule> {
        let state = self.lock();
        let mut exact: Vec<FaultRule> = state.exact.values().cloned().collect();
        exact.sort_by(|a, b| a.pattern.cmp(&b.pattern));
        let mut prefixes = state.prefixes.clone();
        prefixes.sort_by(|a, b| a.pattern.cmp(&b.pattern));
        exact.extend(prefixes);
        exact
    }

    /// The fault for `path`, if any, consuming one use of a counted rule.
    /// An exact rule wins over prefixes; among prefixes the longest wins.
    pub(crate) fn take(&self, path: &str) -> Option<Fault> {
        let mut state = self.lock();
        if let Some(rule) = state.exact.get_mut(path) {
            let fault = rule.fault.clone();
            if consume(&mut rule.remaining) {
                state.exact.remove(path);
            }
            return Some(fault);
        }
        let best = state
            .prefixes
            .iter()
            .enumerate()
            .filter(|(_, r)| path.starts_with(r.pattern.trim_end_matches('*')))
            .max_by_key(|(_, r)| r.pattern.len())
            .map(|(i, _)| i)?;
        let rule = &mut state.prefixes[best];
        let fault = rule.fault.clone();
        if consume(&mut rule.remaining) {
            state.prefixes.remove(best);
        }
        Some(fault)
    }
}

/// Counts down a limited rule; returns true when it is used up.
fn consume(remaining: &mut Option<u32>) -> bool {
    match remaining {
        Some(n) => {
            *n = n.saturating_sub(1);
            *n == 0
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_wins_then_longest_prefix() {
        let faults = Faults::default();
        faults.set("/a/*", Fault::Status(500, None));
        faults.set("/a/b/*", Fault::Status(501, None));
        faults.set("/a/b/c", Fault::Status(502, None));
        assert_eq!(faults.take("/a/b/c"), Some(Fault::Status(502, None)));
        assert_eq!(faults.take("/a/b/d"), Some(Fault::Status(501, None)));
        assert_eq!(faults.take("/a/x"), Some(Fault::Status(500, None)));
        assert_eq!(faults.take("/b"), None);
    }

    #[test]
    fn counted_rules_expire() {
        let faults = Faults::default();
        faults.set_times("/x", Fault::Reset, 2);
        assert_eq!(faults.take("/x"), Some(Fault::Reset));
        assert_eq!(faults.take("/x"), Some(Fault::Reset));
        assert_eq!(faults.take("/x"), None);
    }

    #[test]
    fn spec_round_trip() {
        let spec: FaultSpec = serde_json::from_str(
            r#"{"path":"/p","kind":"status","status":403,"reason":"Permission check failed"}"#,
        )
        .unwrap();
        let rule = spec.to_rule().unwrap();
        assert_eq!(
            rule.fault,
            Fault::Error {
                status: 403,
                reason: "Permission check failed".into(),
                body: None
            }
        );
        assert_eq!(FaultSpec::from_rule(&rule), spec);
        let bad = FaultSpec {
            kind: "explode".into(),
            ..spec
        };
        assert!(matches!(bad.to_rule(), Err(FaultSpecError::UnknownKind(_))));
    }
}
