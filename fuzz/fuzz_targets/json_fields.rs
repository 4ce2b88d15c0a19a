//! Request bodies' building blocks on any JSON: never panic, and what they accept holds
//! their promises (printable, bounded text; whole numbers; small metadata objects).
#![no_main]
use libfuzzer_sys::fuzz_target;
use linkgate::fields::{string, whole_number};
use linkgate::metadata::Metadata;
use serde_json::Value;

fuzz_target!(|raw: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(raw) else { return };
    if let Ok(s) = string(&v, 1, 200) {
        assert!((1..=200).contains(&s.chars().count()));
        assert!(!s.chars().any(char::is_control) && !s.trim().is_empty());
    }
    if let Some(n) = whole_number(&v) {
        assert_eq!(v.as_f64().map(|f| f.fract()), Some(0.0));
        assert!(v.as_f64().is_some_and(|f| f >= 0.0 && (f - n as f64).abs() <= f.abs() * 1e-15 + 1.0));
    }
    if let Ok(m) = Metadata::parse(&v) {
        assert!(m.to_json_string().len() <= 8 * 1024);
        assert_eq!(Metadata::from_json_string(&m.to_json_string()).ok().map(|x| x.to_json_string()), Some(m.to_json_string()));
    }
});
