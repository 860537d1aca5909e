//! Secrets that cannot leak through formatting.
//!
//! Every credential a Portkey binary holds (API tokens, passwords, community strings) lives in a
//! [`Secret`]. Its `Debug` and `Display` print a fixed mask, so a secret that ends up in a log
//! line, an error message or a `{:?}` of a config struct shows `***` instead of its value. The
//! only way to the value is [`Secret::expose`], which makes every use greppable.

use std::fmt;
use std::path::{Path, PathBuf};

/// What is printed wherever a secret would otherwise appear.
pub const MASK: &str = "***";

/// A credential whose value never appears in formatted output.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that sends it upstream.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty (an empty secret is treated as not given).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Reads a secret file the way Kubernetes mounts them: the first line, with trailing
    /// whitespace (including the newline editors add) removed.
    pub fn from_file(path: &Path) -> Result<Secret, SecretError> {
        let raw = std::fs::read(path).map_err(|source| SecretError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let text = String::from_utf8(raw).map_err(|_| SecretError::NotUtf8 {
            path: path.to_path_buf(),
        })?;
        let first = text.lines().next().unwrap_or_default().trim_end();
        if first.is_empty() {
            return Err(SecretError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(Secret(first.to_owned()))
    }

    /// Resolves a secret that may be given inline or as a file, refusing both at once.
    ///
    /// `what` names the setting in errors (e.g. `token_value` / `token_value_file`).
    pub fn inline_or_file(
        what: &str,
        inline: Option<String>,
        file: Option<&Path>,
    ) -> Result<Option<Secret>, SecretError> {
        match (inline.filter(|v| !v.is_empty()), file) {
            (Some(_), Some(_)) => Err(SecretError::Both {
                what: what.to_owned(),
            }),
            (Some(value), None) => Ok(Some(Secret(value))),
            (None, Some(path)) => Secret::from_file(path).map(Some),
            (None, None) => Ok(None),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// Why a secret could not be loaded. Messages name the file, never the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The file could not be read.
    #[error("cannot read secret file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    #[error("secret file {} is not UTF-8 text", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
    /// The file's first line is empty.
    #[error("secret file {} is empty", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// Both the inline value and a file were given.
    #[error("{what} and {what}_file are mutually exclusive; give one")]
    Both {
        /// The setting's name.
        what: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const VALUE: &str = "s3cr3t-value-4711";

    #[test]
    fn formatting_never_shows_the_value() {
        let secret = Secret::new(VALUE);
        assert_eq!(format!("{secret:?}"), MASK);
        assert_eq!(format!("{secret}"), MASK);
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            token: Secret,
        }
        let holder = Holder {
            token: secret.clone(),
        };
        assert!(!format!("{holder:?} {holder:#?}").contains(VALUE));
        assert_eq!(secret.expose(), VALUE);
    }

    #[test]
    fn file_takes_first_line_trimmed() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "{VALUE}  \t").unwrap();
        writeln!(file, "second line ignored").unwrap();
        let secret = Secret::from_file(file.path()).unwrap();
        assert_eq!(secret.expose(), VALUE);
    }

    #[test]
    fn file_errors_name_the_file_not_the_value() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file).unwrap();
        let err = Secret::from_file(file.path()).unwrap_err();
        assert!(err.to_string().contains("is empty"));
        let err = Secret::from_file(Path::new("/nonexistent/secret")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/secret"));
    }

    #[test]
    fn inline_and_file_are_exclusive() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let err =
            Secret::inline_or_file("password", Some(VALUE.into()), Some(file.path())).unwrap_err();
        assert!(!err.to_string().contains(VALUE));
        assert!(err.to_string().contains("password_file"));
        assert_eq!(
            Secret::inline_or_file("password", None, None).unwrap(),
            None
        );
    }
}
