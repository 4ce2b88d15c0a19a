//! Reading a JSON object field by field, collecting every problem at once so a caller can
//! fix a request in one round trip. Unknown fields are refused: a typo must not be silently
//! ignored.

use crate::error::{ApiError, FieldError};
use serde_json::{Map, Value};

/// What a PATCH says about one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patch<T> {
    /// Absent: leave as is.
    Keep,
    /// `null`: remove the value.
    Clear,
    Set(T),
}

pub struct Fields {
    map: Map<String, Value>,
    errors: Vec<FieldError>,
}

impl Fields {
    /// `allowed` lists every field the operation knows; anything else is an error.
    pub fn new(body: Value, allowed: &[&str]) -> Result<Fields, ApiError> {
        let Value::Object(map) = body else {
            return Err(ApiError::validation(
                "request body must be a JSON object",
                Vec::new(),
            ));
        };
        Ok(Fields::of(map, allowed))
    }

    fn of(map: Map<String, Value>, allowed: &[&str]) -> Fields {
        let mut errors: Vec<FieldError> = map
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .map(|k| FieldError::new(k.clone(), "unknown field"))
            .collect();
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        Fields { map, errors }
    }

    /// A nested object (`null` clears it) read field by field by `parse`; its problems are
    /// reported as `name.field`, and it is only `Set` when it had none.
    pub fn patch_object<T>(
        &mut self,
        name: &str,
        allowed: &[&str],
        parse: impl FnOnce(&mut Fields) -> T,
    ) -> Patch<T> {
        match self.map.remove(name) {
            None => Patch::Keep,
            Some(Value::Null) => Patch::Clear,
            Some(Value::Object(map)) => {
                let mut inner = Fields::of(map, allowed);
                let parsed = parse(&mut inner);
                let clean = inner.errors.is_empty();
                self.errors.extend(
                    inner
                        .errors
                        .into_iter()
                        .map(|e| FieldError::new(format!("{name}.{}", e.field), e.message)),
                );
                if clean {
                    Patch::Set(parsed)
                } else {
                    Patch::Keep
                }
            }
            Some(_) => {
                self.errors.push(FieldError::new(name, "must be an object"));
                Patch::Keep
            }
        }
    }

    fn parse<T>(
        &mut self,
        name: &str,
        value: Value,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        match parse(&value) {
            Ok(v) => Some(v),
            Err(message) => {
                self.errors.push(FieldError::new(name, message));
                None
            }
        }
    }

    /// Must be present and not null.
    pub fn required<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        match self.map.remove(name) {
            None | Some(Value::Null) => {
                self.errors.push(FieldError::new(name, "is required"));
                None
            }
            Some(v) => self.parse(name, v, parse),
        }
    }

    /// Absent or null both mean "none".
    pub fn optional<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        match self.map.remove(name) {
            None | Some(Value::Null) => None,
            Some(v) => self.parse(name, v, parse),
        }
    }

    /// For PATCH: absent keeps, null clears (only where `nullable`), a value sets.
    pub fn patch<T>(
        &mut self,
        name: &str,
        nullable: bool,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Patch<T> {
        match self.map.remove(name) {
            None => Patch::Keep,
            Some(Value::Null) if nullable => Patch::Clear,
            Some(Value::Null) => {
                self.errors.push(FieldError::new(name, "may not be null"));
                Patch::Keep
            }
            Some(v) => self.parse(name, v, parse).map_or(Patch::Keep, Patch::Set),
        }
    }

    /// Ok only if no field had a problem.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation("invalid request body", self.errors))
        }
    }
}

/// A JSON object, as given.
pub fn object(value: &Value) -> Result<serde_json::Map<String, Value>, String> {
    value
        .as_object()
        .cloned()
        .ok_or_else(|| "must be an object".to_string())
}

/// A non-negative integer as JSON Schema counts them: `1529` and `1529.0` alike (both are
/// `type: integer`), not `1529.5`.
pub fn whole_number(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64)
            .map(|f| f as u64)
    })
}

/// A JSON string, trimmed of nothing: the caller's exact text, with length counted in
/// characters and control characters refused.
pub fn string(value: &Value, min: usize, max: usize) -> Result<String, String> {
    let Value::String(s) = value else {
        return Err("must be a string".into());
    };
    let len = s.chars().count();
    if len < min || len > max {
        return Err(format!("must be {min} to {max} characters long"));
    }
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    if s.trim().is_empty() {
        return Err("must not be blank".into());
    }
    Ok(s.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_numbers_as_json_schema_counts_them() {
        assert_eq!(whole_number(&json!(1529)), Some(1529));
        // Found by schemathesis: `83221.0` is a valid `type: integer` and was refused.
        assert_eq!(whole_number(&json!(83221.0)), Some(83221));
        assert_eq!(whole_number(&json!(1529.5)), None);
        assert_eq!(whole_number(&json!(-1)), None);
        assert_eq!(whole_number(&json!(-0.0)), Some(0));
        assert_eq!(whole_number(&json!(1e300)), None);
        assert_eq!(whole_number(&json!("300")), None);
    }

    #[test]
    fn collects_unknown_missing_and_invalid_fields_together() {
        let mut f = Fields::new(json!({"nme": "x", "age": "old"}), &["name", "age"]).unwrap();
        let name: Option<String> = f.required("name", |v| string(v, 1, 10));
        let age: Option<u64> = f.optional("age", |v| v.as_u64().ok_or("must be a number".into()));
        assert!(name.is_none() && age.is_none());
        let ApiError::Validation { details, .. } = f.finish().unwrap_err() else {
            panic!("expected a validation error");
        };
        let fields: Vec<&str> = details.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["nme", "name", "age"]);
    }

    #[test]
    fn refuses_non_objects() {
        assert!(Fields::new(json!([1, 2]), &[]).is_err());
        assert!(Fields::new(json!("s"), &[]).is_err());
    }

    #[test]
    fn patch_distinguishes_absent_null_and_value() {
        let mut f = Fields::new(
            json!({"a": null, "b": "x", "c": null}),
            &["a", "b", "c", "d"],
        )
        .unwrap();
        assert_eq!(f.patch("a", true, |v| string(v, 1, 5)), Patch::Clear);
        assert_eq!(
            f.patch("b", true, |v| string(v, 1, 5)),
            Patch::Set("x".to_string())
        );
        assert_eq!(f.patch("c", false, |v| string(v, 1, 5)), Patch::Keep);
        assert_eq!(f.patch("d", true, |v| string(v, 1, 5)), Patch::Keep);
        assert!(
            f.finish().is_err(),
            "null for a non-nullable field is an error"
        );
    }

    #[test]
    fn string_rules() {
        assert!(string(&json!(""), 1, 5).is_err());
        assert!(string(&json!("   "), 1, 5).is_err());
        assert!(string(&json!("abcdef"), 1, 5).is_err());
        assert!(string(&json!("a\u{0007}b"), 1, 5).is_err());
        assert!(string(&json!(5), 1, 5).is_err());
        assert_eq!(string(&json!("héllo"), 1, 5).unwrap(), "héllo");
    }
}
