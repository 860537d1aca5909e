//! Multi-target requests: `?module=&target=` validation shared by every probe-style endpoint.
//!
//! The order of checks is part of the security contract: parameters are parsed and validated,
//! the module is looked up, the target is parsed and checked against the module's allowlist, and
//! only then may the handler touch the module's credentials or open a connection.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::allowlist::Allowlist;
use crate::target::Target;

/// Why a probe request was refused. Each variant maps to one status code and one message that
/// tells the caller exactly what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// The module is not in the config (400).
    #[error("Module '{0}' not found in config")]
    UnknownModule(String),
    /// A required parameter is absent (400).
    #[error("Parameter '{0}' is missing")]
    Missing(&'static str),
    /// A parameter appears more than once (400): silently taking one of them hides mistakes.
    #[error("Parameter '{0}' given more than once")]
    Repeated(String),
    /// The target cannot be parsed (400).
    #[error("Invalid target '{target}': {reason}")]
    InvalidTarget {
        /// The target as given.
        target: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Another parameter has a value that cannot be used (400).
    #[error("Invalid value '{value}' for parameter '{name}': {reason}")]
    InvalidParameter {
        /// The parameter.
        name: String,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The target is outside the module's allowlist (403); nothing was contacted.
    #[error("Target '{target}' not allowed for module '{module}'")]
    NotAllowed {
        /// The target as given.
        target: String,
        /// The module whose list refused it.
        module: String,
    },
}

impl ProbeError {
    /// The HTTP status for this refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            ProbeError::NotAllowed { .. } => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for ProbeError {
    fn into_response(self) -> Response {
        (
            self.status(),
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            )],
            self.to_string(),
        )
            .into_response()
    }
}

/// Decoded query parameters that remember repetition.
#[derive(Debug, Clone, Default)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    /// Decodes a raw query string (`None` when the URL has none).
    pub fn parse(query: Option<&str>) -> QueryParams {
        let pairs = query
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        QueryParams { pairs }
    }

    /// The single value of `name`, `None` when absent, or [`ProbeError::Repeated`].
    pub fn single(&self, name: &str) -> Result<Option<&str>, ProbeError> {
        let mut values = self.pairs.iter().filter(|(k, _)| k == name);
        let first = values.next();
        if values.next().is_some() {
            return Err(ProbeError::Repeated(name.to_owned()));
        }
        Ok(first.map(|(_, v)| v.as_str()))
    }

    /// Like [`QueryParams::single`] but absent is an error.
    pub fn required(&self, name: &'static str) -> Result<&str, ProbeError> {
        self.single(name)?.ok_or(ProbeError::Missing(name))
    }

    /// Every value of `name`, for parameters that may repeat (`module=a&module=b`).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `raw` as a target and checks it against `allowlist` (an empty list allows all).
pub fn authorize_target(
    raw: &str,
    module: &str,
    allowlist: &Allowlist,
    default_port: u16,
) -> Result<Target, ProbeError> {
    let target = Target::parse(raw).map_err(|e| ProbeError::InvalidTarget {
        target: raw.to_owned(),
        reason: e.0,
    })?;
    if !allowlist.is_empty() && !allowlist.allows(&target, default_port) {
        return Err(ProbeError::NotAllowed {
            target: raw.to_owned(),
            module: module.to_owned(),
        });
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_missing_parameters_are_named() {
        let q = QueryParams::parse(Some("target=a&module=m&target=b"));
        assert_eq!(
            q.single("target").unwrap_err().to_string(),
            "Parameter 'target' given more than once"
        );
        assert_eq!(q.single("module").unwrap(), Some("m"));
        assert_eq!(
            q.required("auth").unwrap_err().to_string(),
            "Parameter 'auth' is missing"
        );
        let q = QueryParams::parse(Some("target=%5B%3A%3A1%5D%3A8006&x"));
        assert_eq!(q.single("target").unwrap(), Some("[::1]:8006"));
        assert_eq!(QueryParams::parse(None).single("target").unwrap(), None);
    }

    #[test]
    fn allowlist_refusal_is_403_and_bad_target_400() {
        let list = Allowlist::parse(&["shire"]).unwrap();
        let e = authorize_target("mordor", "default", &list, 8006).unwrap_err();
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            e.to_string(),
            "Target 'mordor' not allowed for module 'default'"
        );
        let e = authorize_target("shire/x", "default", &list, 8006).unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            e.to_string(),
            "Invalid target 'shire/x': a path is not allowed"
        );
        assert!(authorize_target("shire:8006", "default", &list, 8006).is_ok());
        assert!(authorize_target("anything", "default", &Allowlist::default(), 8006).is_ok());
        assert_eq!(
            ProbeError::UnknownModule("x".into()).to_string(),
            "Module 'x' not found in config"
        );
    }
}
