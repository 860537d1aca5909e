//! Loading YAML configuration files with errors that name the file.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A configuration file that cannot be used; binaries exit with code 2 on it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML does not match the expected shape (the message names key and position).
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
}

/// Reads `path` and deserialises it.
pub fn load_yaml<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_yaml(&text, path)
}

/// Deserialises `text`, attributing errors to `path`.
pub fn parse_yaml<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    serde_saphyr::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Module {
        user: String,
        port: Option<u16>,
    }

    #[test]
    fn errors_name_file_and_key() {
        let e = parse_yaml::<BTreeMap<String, Module>>(
            "default:\n  user: a\n  prot: 1\n",
            Path::new("/etc/pve.yml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("/etc/pve.yml") && e.contains("prot"), "{e}");
        let e = load_yaml::<BTreeMap<String, Module>>(Path::new("/nonexistent.yml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent.yml"), "{e}");
        let ok: BTreeMap<String, Module> =
            parse_yaml("default:\n  user: a\n  port: 8006\n", Path::new("x")).unwrap();
        assert_eq!(ok["default"].port, Some(8006));
    }
}
