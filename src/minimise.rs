//! Field-level minimisation: "niet om meer informatie gevraagd mag worden dan noodzakelijk is".
//!
//! A `FieldSet` holds the field paths an activity allows (`naam.geslachtsnaam`, `rni`, …). A
//! path allows everything beneath it. `minimise` removes from a JSON answer every member whose
//! path the set does not allow, whatever the source sent: defence in depth behind the sources.

use std::collections::HashSet;

use serde_json::Value;

#[derive(Debug, Clone, Default)]
pub struct FieldSet {
    allowed: HashSet<String>,
    /// Every proper ancestor of an allowed path: members to descend into.
    ancestors: HashSet<String>,
}

impl FieldSet {
    pub fn new<I, S>(paths: I) -> FieldSet
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut set = FieldSet::default();
        for path in paths {
            let path = path.into();
            let mut end = 0;
            while let Some(dot) = path[end..].find('.') {
                end += dot;
                set.ancestors.insert(path[..end].to_owned());
                end += 1;
            }
            set.allowed.insert(path);
        }
        set
    }

    /// Is `path` allowed, itself or through an allowed ancestor?
    pub fn allows(&self, path: &str) -> bool {
        if self.allowed.contains(path) {
            return true;
        }
        let mut rest = path;
        while let Some(dot) = rest.rfind('.') {
            rest = &rest[..dot];
            if self.allowed.contains(rest) {
                return true;
            }
        }
        false
    }

    /// Is `path` itself one of the set's paths (not merely beneath one)?
    pub fn contains(&self, path: &str) -> bool {
        self.allowed.contains(path)
    }

    /// Does this set allow `path` or anything beneath it? (Whether a source need be asked
    /// for that part of an answer at all.)
    pub fn touches(&self, path: &str) -> bool {
        self.allows(path) || self.ancestors.contains(path)
    }

    /// Is every path of `other` allowed by this set?
    pub fn covers(&self, other: &FieldSet) -> bool {
        other.allowed.iter().all(|p| self.allows(p))
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.allowed.iter().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.allowed.is_empty()
    }

    /// Removes every member of `value` (an object, or an array of objects) that this set does
    /// not allow. Returns how many members were removed (the source over-shared that much).
    pub fn minimise(&self, value: &mut Value) -> usize {
        let mut path = String::new();
        self.minimise_at(value, &mut path)
    }

    fn minimise_at(&self, value: &mut Value, path: &mut String) -> usize {
        match value {
            Value::Array(items) => items.iter_mut().map(|v| self.minimise_at(v, path)).sum(),
            Value::Object(members) => {
                let mut removed = 0;
                members.retain(|key, child| {
                    let len = path.len();
                    if len > 0 {
                        path.push('.');
                    }
                    path.push_str(key);
                    let keep = if self.allows(path) {
                        true
                    } else if self.ancestors.contains(path.as_str()) {
                        removed += self.minimise_at(child, path);
                        true
                    } else {
                        removed += 1;
                        false
                    };
                    path.truncate(len);
                    keep
                });
                removed
            }
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ancestors_allow_descendants_not_the_other_way() {
        let set = FieldSet::new(["naam", "geboorte.datum"]);
        assert!(set.allows("naam"));
        assert!(set.allows("naam.voornamen"));
        assert!(set.allows("geboorte.datum.jaar"));
        assert!(!set.allows("geboorte"));
        assert!(!set.allows("geboorte.plaats"));
        assert!(
            !set.allows("naamgebruik"),
            "a prefix of a name is not an ancestor"
        );
    }

    #[test]
    fn removes_whatever_an_over_sharing_source_adds() {
        let set = FieldSet::new([
            "burgerservicenummer",
            "naam.geslachtsnaam",
            "nationaliteiten.nationaliteit",
        ]);
        let mut answer = json!({
            "personen": null,
            "burgerservicenummer": "999993653",
            "naam": { "geslachtsnaam": "Kowalski", "voornamen": "Jan" },
            "nationaliteiten": [
                { "nationaliteit": { "code": "0052" }, "redenOpname": { "code": "301" } },
                { "nationaliteit": { "code": "0131" } }
            ],
            "contactgegevens": { "telefoonnummer": "+48 600 000 000" },
            "geheim": 1
        });
        let removed = set.minimise(&mut answer);
        assert_eq!(
            answer,
            json!({
                "burgerservicenummer": "999993653",
                "naam": { "geslachtsnaam": "Kowalski" },
                "nationaliteiten": [
                    { "nationaliteit": { "code": "0052" } },
                    { "nationaliteit": { "code": "0131" } }
                ]
            })
        );
        assert_eq!(removed, 5);
    }

    #[test]
    fn arrays_of_records_are_minimised_each() {
        let set = FieldSet::new(["postcode", "aantal"]);
        let mut rows = json!([{ "postcode": "1012AB", "aantal": 3, "bsns": ["x"] }, { "postcode": "1012AC", "aantal": 1 }]);
        assert_eq!(set.minimise(&mut rows), 1);
        assert_eq!(
            rows,
            json!([{ "postcode": "1012AB", "aantal": 3 }, { "postcode": "1012AC", "aantal": 1 }])
        );
    }

    #[test]
    fn touches_a_path_or_beneath_it() {
        let set = FieldSet::new(["uitkeringen", "a1Verklaringen.lidstaat"]);
        assert!(set.touches("uitkeringen") && set.touches("uitkeringen.soort"));
        assert!(set.touches("a1Verklaringen") && set.touches("a1Verklaringen.lidstaat"));
        assert!(!set.touches("a1Verklaringen.werkgever") && !set.touches("a1"));
    }

    #[test]
    fn covers() {
        let wide = FieldSet::new(["naam", "geboorte"]);
        assert!(wide.covers(&FieldSet::new(["naam.voornamen", "geboorte"])));
        assert!(!wide.covers(&FieldSet::new(["naam", "rni"])));
    }
}
