//! Numeric object identifiers as snmp.yml writes them (`1.3.6.1.2.1.2`, no leading dot).
//!
//! Portkey keeps its own OID type so that the walk engine, the metric mapping and the config
//! never depend on the SNMP library's types (spec §3.5: a library swap touches only the adapter).

use std::fmt;

/// A numeric OID: a sequence of arcs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Oid(pub Vec<u32>);

/// Why an OID string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid OID '{0}': expected numeric arcs separated by dots, like 1.3.6.1.2.1.2")]
pub struct OidError(pub String);

impl Oid {
    /// Parses `1.3.6.1` (a single leading dot is tolerated, as net-snmp prints one).
    pub fn parse(text: &str) -> Result<Oid, OidError> {
        let body = text.strip_prefix('.').unwrap_or(text);
        if body.is_empty() {
            return Err(OidError(text.to_owned()));
        }
        body.split('.')
            .map(|arc| {
                if arc.is_empty() || !arc.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(OidError(text.to_owned()));
                }
                arc.parse::<u32>().map_err(|_| OidError(text.to_owned()))
            })
            .collect::<Result<Vec<u32>, OidError>>()
            .map(Oid)
    }

    /// The arcs.
    pub fn arcs(&self) -> &[u32] {
        &self.0
    }

    /// Whether `self` lies in the subtree rooted at `root` (arc-wise prefix; equal counts).
    pub fn starts_with(&self, root: &Oid) -> bool {
        self.0.starts_with(&root.0)
    }

    /// Whether `self` lies strictly below `root`.
    pub fn is_strictly_under(&self, root: &Oid) -> bool {
        self.0.len() > root.0.len() && self.starts_with(root)
    }

    /// `self` with `arcs` appended.
    pub fn join(&self, arcs: &[u32]) -> Oid {
        let mut all = Vec::with_capacity(self.0.len() + arcs.len());
        all.extend_from_slice(&self.0);
        all.extend_from_slice(arcs);
        Oid(all)
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arc) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{arc}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Oid {
    type Err = OidError;
    fn from_str(s: &str) -> Result<Oid, OidError> {
        Oid::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let oid = Oid::parse("1.3.6.1.2.1.2").unwrap();
        assert_eq!(oid.to_string(), "1.3.6.1.2.1.2");
        assert_eq!(Oid::parse(".1.3").unwrap(), Oid(vec![1, 3]));
        for bad in ["", ".", "1..3", "1.3.", "a.b", "1.-3", "1.99999999999"] {
            assert!(Oid::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefixes_are_arc_wise() {
        let root = Oid::parse("1.3.6.1.2.1.2").unwrap();
        assert!(
            Oid::parse("1.3.6.1.2.1.2.2.1.1.1")
                .unwrap()
                .starts_with(&root)
        );
        assert!(!Oid::parse("1.3.6.1.2.1.20.1").unwrap().starts_with(&root));
        assert!(root.starts_with(&root));
        assert!(!root.is_strictly_under(&root));
    }
}
