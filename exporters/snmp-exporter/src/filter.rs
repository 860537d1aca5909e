//! Dynamic `filters` (spec §2.5; upstream snmp_exporter ≥0.22).
//!
//! A filter names a column (`oid`), the columns it restricts (`targets`) and `values`. The scrape
//! walks `oid` first; an index is selected when the value at `oid.<index>`, rendered as a
//! DisplayString, matches one of `values` — regular expressions searched anywhere in the text, as
//! upstream does (`"1"` also selects `"10"`; write `"^1$"` for an exact value). Then, per module:
//!
//! * a `walk` root equal to a target is not walked; instead `target.<index>` is fetched with GETs
//!   for every selected index (batched like the module's `get` list);
//! * `get` OIDs at or under a target are replaced the same way;
//! * samples of a target column for unselected indexes are dropped even where the column is
//!   fetched anyway (a target under a walked table, or a root another requested module walks in
//!   full), so "only matching indexes" holds whatever the walk list looks like — upstream walks
//!   such columns in full.
//!
//! Several filters restricting one target are ANDed (the intersection of their selections;
//! upstream before its fix #1625 kept only the last). A filter whose walk fails constrains nothing
//! (upstream: "won't do any filter on this oid"), and its failure shows as
//! `snmp_scrape_collector_success{collector="filter:<oid>"} 0`. The index is every arc after the
//! filter's `oid`, so multi-arc table indexes work (upstream takes the last arc only, which is the
//! same for single-arc tables such as ifTable).

use std::collections::{BTreeMap, BTreeSet};

use crate::client::{Value, VarBind};
use crate::config::{Filter, StringType};
use crate::oid::Oid;
use crate::render::value_text;

/// Selected indexes (arcs after the target column) per target column of one module.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    allowed: BTreeMap<Oid, BTreeSet<Vec<u32>>>,
}

impl Selection {
    /// Whether no target is restricted.
    pub fn is_empty(&self) -> bool {
        self.allowed.is_empty()
    }

    /// Restricts every target of `filter` to `indexes`, intersecting with earlier filters.
    pub fn restrict(&mut self, filter: &Filter, indexes: &BTreeSet<Vec<u32>>) {
        for target in &filter.targets {
            match self.allowed.get_mut(target) {
                Some(existing) => existing.retain(|index| indexes.contains(index)),
                None => {
                    self.allowed.insert(target.clone(), indexes.clone());
                }
            }
        }
    }

    /// The restricted target columns and their selected indexes.
    pub fn targets(&self) -> impl Iterator<Item = (&Oid, &BTreeSet<Vec<u32>>)> {
        self.allowed.iter()
    }

    /// The module's walk and get lists with restricted targets turned into GETs of the selected
    /// instances (upstream's `updateWalkConfig`, `updateGetConfig`, `addAllowedIndices`, with
    /// arc-wise rather than textual prefixes).
    pub fn rewrite(&self, walk: &[Oid], get: &[Oid]) -> (Vec<Oid>, Vec<Oid>) {
        let restricted = |oid: &Oid| self.allowed.keys().any(|t| oid.starts_with(t));
        let walk: Vec<Oid> = walk
            .iter()
            .filter(|root| !self.allowed.contains_key(*root))
            .cloned()
            .collect();
        let mut get: Vec<Oid> = get.iter().filter(|o| !restricted(o)).cloned().collect();
        for (target, indexes) in &self.allowed {
            get.extend(indexes.iter().map(|index| target.join(index)));
        }
        (walk, get)
    }

    /// Whether a fetched varbind may be rendered: anything outside the restricted targets, and
    /// target instances whose index was selected.
    pub fn keeps(&self, oid: &Oid) -> bool {
        self.allowed.iter().all(|(target, indexes)| {
            !oid.is_strictly_under(target) || indexes.contains(&oid.0[target.0.len()..])
        })
    }

    /// `pdus` without the instances [`Selection::keeps`] refuses.
    pub fn apply(&self, pdus: &BTreeMap<Oid, Value>) -> BTreeMap<Oid, Value> {
        pdus.iter()
            .filter(|(oid, _)| self.keeps(oid))
            .map(|(oid, value)| (oid.clone(), value.clone()))
            .collect()
    }
}

/// The indexes under `filter.oid` whose value matches one of `filter.values`.
pub fn selected_indexes(filter: &Filter, walked: &[VarBind]) -> BTreeSet<Vec<u32>> {
    walked
        .iter()
        .filter(|vb| vb.oid.is_strictly_under(&filter.oid) && !vb.value.is_exception())
        .filter(|vb| {
            let text = value_text(&vb.value, StringType::DisplayString);
            filter.patterns.iter().any(|p| p.is_match(&text))
        })
        .map(|vb| vb.oid.0[filter.oid.0.len()..].to_vec())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(text: &str) -> Oid {
        Oid::parse(text).unwrap()
    }

    fn filter(column: &str, targets: &[&str], values: &[&str]) -> Filter {
        Filter {
            oid: oid(column),
            targets: targets.iter().map(|t| oid(t)).collect(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
            patterns: values
                .iter()
                .map(|v| regex::Regex::new(v).unwrap())
                .collect(),
        }
    }

    fn column(base: &str, rows: &[(u32, Value)]) -> Vec<VarBind> {
        rows.iter()
            .map(|(i, v)| VarBind {
                oid: oid(base).join(&[*i]),
                value: v.clone(),
            })
            .collect()
    }

    #[test]
    fn values_are_unanchored_regexes_over_the_display_string() {
        let oper = column(
            "1.3.6.1.2.1.2.2.1.8",
            &[
                (1, Value::Integer(1)),
                (2, Value::Integer(2)),
                (3, Value::Integer(10)),
                (4, Value::NoSuchInstance),
            ],
        );
        let up = filter("1.3.6.1.2.1.2.2.1.8", &[], &["1"]);
        assert_eq!(
            selected_indexes(&up, &oper),
            BTreeSet::from([vec![1], vec![3]])
        );
        let exact = filter("1.3.6.1.2.1.2.2.1.8", &[], &["^1$", "^2$"]);
        assert_eq!(
            selected_indexes(&exact, &oper),
            BTreeSet::from([vec![1], vec![2]])
        );
        let names = column(
            "1.3.6.1.2.1.31.1.1.1.1",
            &[
                (1, Value::OctetString(b"lo".to_vec())),
                (2, Value::OctetString(b"wan0".to_vec())),
                (3, Value::OctetString(vec![b'w', b'a', b'n', 0xFF])),
            ],
        );
        let wan = filter("1.3.6.1.2.1.31.1.1.1.1", &[], &["^wan.*"]);
        assert_eq!(
            selected_indexes(&wan, &names),
            BTreeSet::from([vec![2], vec![3]])
        );
        // Multi-arc indexes keep every arc after the filter column.
        let wide = vec![VarBind {
            oid: oid("1.3.6.1.4.1.9.1.5.10.20"),
            value: Value::Integer(7),
        }];
        let f = filter("1.3.6.1.4.1.9.1.5", &[], &["7"]);
        assert_eq!(selected_indexes(&f, &wide), BTreeSet::from([vec![10, 20]]));
    }

    #[test]
    fn filters_on_one_target_are_anded_and_rewrite_walks_into_gets() {
        let mtu = oid("1.3.6.1.2.1.2.2.1.4");
        let speed = oid("1.3.6.1.2.1.2.2.1.5");
        let mut selection = Selection::default();
        let a = filter("1.3.6.1.2.1.2.2.1.8", &["1.3.6.1.2.1.2.2.1.4"], &[]);
        let b = filter(
            "1.3.6.1.2.1.2.2.1.3",
            &["1.3.6.1.2.1.2.2.1.4", "1.3.6.1.2.1.2.2.1.5"],
            &[],
        );
        selection.restrict(&a, &BTreeSet::from([vec![1], vec![2], vec![3]]));
        selection.restrict(&b, &BTreeSet::from([vec![2], vec![3], vec![4]]));
        let (walk, get) = selection.rewrite(
            &[mtu.clone(), speed.clone(), oid("1.3.6.1.2.1.2.2.1.2")],
            &[oid("1.3.6.1.2.1.1.3.0"), mtu.join(&[9])],
        );
        assert_eq!(walk, vec![oid("1.3.6.1.2.1.2.2.1.2")]);
        assert_eq!(
            get,
            vec![
                oid("1.3.6.1.2.1.1.3.0"),
                mtu.join(&[2]),
                mtu.join(&[3]),
                speed.join(&[2]),
                speed.join(&[3]),
                speed.join(&[4]),
            ]
        );
        assert!(selection.keeps(&mtu.join(&[2])));
        assert!(!selection.keeps(&mtu.join(&[4])));
        assert!(selection.keeps(&speed.join(&[4])));
        assert!(selection.keeps(&oid("1.3.6.1.2.1.2.2.1.40.1")));
        // The textual prefix 1.3.6.1.2.1.2.2.1.4 of ...1.40 is not a restriction (upstream's
        // strings.HasPrefix would drop it).
        let (_, get) = selection.rewrite(&[], &[oid("1.3.6.1.2.1.2.2.1.40.1")]);
        assert!(get.contains(&oid("1.3.6.1.2.1.2.2.1.40.1")));
    }
}
