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
        let text = read_bounded(path)?;
        let first = text.lines().next().unwrap_or_default().trim_end();
        if first.is_empty() {
            return Err(SecretError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(Secret(first.to_owned()))
    }

    /// Reads a secret file whole, with one trailing newline (`\n` or `\r\n`) removed, for
    /// formats whose secrets may contain spaces at either end (snmp_exporter's `*_file` keys).
    pub fn from_file_exact(path: &Path) -> Result<Secret, SecretError> {
        let text = read_bounded(path)?;
        let value = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(&text);
        Ok(Secret(value.to_owned()))
    }
}

/// Largest secret file accepted: a secret is a line, and a wrong path (a log, a binary) must not
/// be read into memory whole.
pub const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

fn read_bounded(path: &Path) -> Result<String, SecretError> {
    use std::io::Read as _;
    let fail = |source: std::io::Error| SecretError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(fail)?;
    let mut raw = Vec::new();
    file.take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_end(&mut raw)
        .map_err(fail)?;
    if raw.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(SecretError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    String::from_utf8(raw).map_err(|_| SecretError::NotUtf8 {
        path: path.to_path_buf(),
    })
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
    /// The file is larger than [`MAX_SECRET_FILE_BYTES`].
    #[error("secret file {} is larger than 64 KiB, not a secret", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file's first line is empty.
    #[error("secret file {} is empty", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
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
    fn exact_files_keep_spaces_and_drop_one_newline() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, " pub lic \r\n").unwrap();
        assert_eq!(
            Secret::from_file_exact(file.path()).unwrap().expose(),
            " pub lic "
        );
    }

    #[test]
    fn huge_files_are_refused() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&vec![b'x'; MAX_SECRET_FILE_BYTES as usize + 1])
            .unwrap();
        let err = Secret::from_file(file.path()).unwrap_err();
        assert!(matches!(err, SecretError::TooLarge { .. }), "{err}");
    }
}
