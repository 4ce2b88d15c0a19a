//! Free-form JSON the tenant attaches to a resource: an object of at most 8 KB.

use serde_json::{Map, Value};

pub const MAX_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(Map<String, Value>);

impl Metadata {
    pub fn parse(value: &Value) -> Result<Metadata, String> {
        let Value::Object(map) = value else {
            return Err("must be a JSON object".into());
        };
        Metadata::check(map.clone())
    }

    fn check(map: Map<String, Value>) -> Result<Metadata, String> {
        if Value::Object(map.clone()).to_string().len() > MAX_BYTES {
            return Err(format!("must be at most {MAX_BYTES} bytes as JSON"));
        }
        Ok(Metadata(map))
    }

    /// Shallow merge: each key of `patch` replaces ours, and a `null` removes it.
    pub fn merge(&self, patch: &Metadata) -> Result<Metadata, String> {
        let mut merged = self.0.clone();
        for (k, v) in &patch.0 {
            if v.is_null() {
                merged.remove(k);
            } else {
                merged.insert(k.clone(), v.clone());
            }
        }
        Metadata::check(merged)
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    pub fn to_json_string(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }

    pub fn from_json_string(s: &str) -> Result<Metadata, String> {
        let value: Value = serde_json::from_str(s).map_err(|e| e.to_string())?;
        Metadata::parse(&value)
    }
}

impl serde::Serialize for Metadata {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn must_be_an_object_within_size() {
        assert!(Metadata::parse(&json!([1])).is_err());
        assert!(Metadata::parse(&json!("x")).is_err());
        assert!(Metadata::parse(&json!({"plan": "pro", "seats": 3})).is_ok());
        let big = json!({"blob": "x".repeat(MAX_BYTES)});
        assert!(Metadata::parse(&big).is_err());
    }

    #[test]
    fn merge_is_shallow_and_null_removes() {
        let base = Metadata::parse(&json!({"a": 1, "b": {"c": 2}, "d": 4})).unwrap();
        let patch = Metadata::parse(&json!({"b": {"e": 5}, "d": null, "f": true})).unwrap();
        let merged = base.merge(&patch).unwrap();
        assert_eq!(
            Value::Object(merged.as_map().clone()),
            json!({"a": 1, "b": {"e": 5}, "f": true})
        );
    }

    #[test]
    fn merge_respects_the_size_limit() {
        let base = Metadata::parse(&json!({"a": "x".repeat(MAX_BYTES / 2)})).unwrap();
        let patch = Metadata::parse(&json!({"b": "y".repeat(MAX_BYTES / 2)})).unwrap();
        assert!(base.merge(&patch).is_err());
    }

    #[test]
    fn json_string_round_trip() {
        let m = Metadata::parse(&json!({"k": [1, "two", null]})).unwrap();
        assert_eq!(Metadata::from_json_string(&m.to_json_string()).unwrap(), m);
    }
}
