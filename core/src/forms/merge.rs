//! Field-by-field three-way merge of draft values, for syncing a draft edited
//! on two devices. A missing key is a cleared field, so a deletion is an edit
//! like any other.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

/// The result of [`merge`].
#[derive(Clone, PartialEq)]
pub struct Merge {
    /// The merged values; a conflicting field keeps the local value so the
    /// citizen keeps seeing their own edit until they choose.
    pub values: BTreeMap<String, Value>,
    /// Fields changed differently on both sides, in key order.
    pub conflicts: Vec<Conflict>,
}

/// A field changed differently on both sides; `None` means cleared (or never set).
#[derive(Clone, PartialEq)]
pub struct Conflict {
    /// The field id.
    pub field: String,
    /// The value both sides started from.
    pub base: Option<Value>,
    /// This device's value.
    pub local: Option<Value>,
    /// The other device's value.
    pub remote: Option<Value>,
}

/// Merges `local` and `remote`, both edited from `base`, field by field:
///
/// | local vs base | remote vs base | result |
/// |---|---|---|
/// | same | same | base |
/// | changed | same | local |
/// | same | changed | remote |
/// | changed | changed, equal to local | that value |
/// | changed | changed, different | local, and a [`Conflict`] |
pub fn merge(
    base: &BTreeMap<String, Value>,
    local: &BTreeMap<String, Value>,
    remote: &BTreeMap<String, Value>,
) -> Merge {
    let keys: BTreeSet<&String> = base
        .keys()
        .chain(local.keys())
        .chain(remote.keys())
        .collect();
    let mut values = BTreeMap::new();
    let mut conflicts = Vec::new();
    for key in keys {
        let (b, l, r) = (base.get(key), local.get(key), remote.get(key));
        let chosen = match (l != b, r != b) {
            (false, false) => b,
            (true, false) => l,
            (false, true) => r,
            (true, true) if l == r => l,
            (true, true) => {
                conflicts.push(Conflict {
                    field: key.clone(),
                    base: b.cloned(),
                    local: l.cloned(),
                    remote: r.cloned(),
                });
                l
            }
        };
        if let Some(v) = chosen {
            values.insert(key.clone(), v.clone());
        }
    }
    Merge { values, conflicts }
}

// Values are personal data: Debug shows field names and counts only.
impl fmt::Debug for Merge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Merge")
            .field("fields", &self.values.len())
            .field("conflicts", &self.conflicts)
            .finish()
    }
}

impl fmt::Debug for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conflict")
            .field("field", &self.field)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn table_cases() {
        let base = map(&[
            ("same", json!(1)),
            ("local", json!(1)),
            ("remote", json!(1)),
            ("both_same", json!(1)),
            ("both_diff", json!(1)),
            ("local_del", json!(1)),
            ("del_vs_edit", json!(1)),
        ]);
        let local = map(&[
            ("same", json!(1)),
            ("local", json!(2)),
            ("remote", json!(1)),
            ("both_same", json!(3)),
            ("both_diff", json!(4)),
            ("added", json!("l")),
        ]);
        let remote = map(&[
            ("same", json!(1)),
            ("local", json!(1)),
            ("remote", json!(5)),
            ("both_same", json!(3)),
            ("both_diff", json!(6)),
            ("local_del", json!(1)),
            ("del_vs_edit", json!(7)),
            ("added", json!("r")),
        ]);
        let m = merge(&base, &local, &remote);
        assert_eq!(
            m.values,
            map(&[
                ("same", json!(1)),
                ("local", json!(2)),
                ("remote", json!(5)),
                ("both_same", json!(3)),
                ("both_diff", json!(4)),
                ("added", json!("l")),
            ])
        );
        let fields: Vec<_> = m.conflicts.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["added", "both_diff", "del_vs_edit"]);
        let c = &m.conflicts[2];
        assert_eq!(
            (&c.base, &c.local, &c.remote),
            (&Some(json!(1)), &None, &Some(json!(7)))
        );
    }

    #[test]
    fn debug_hides_values() {
        let m = merge(
            &map(&[("f", json!("秘密1"))]),
            &map(&[("f", json!("秘密2"))]),
            &map(&[("f", json!("秘密3"))]),
        );
        let s = format!("{m:?}");
        assert!(!s.contains("秘密"), "{s}");
        assert!(s.contains("\"f\""));
    }
}
