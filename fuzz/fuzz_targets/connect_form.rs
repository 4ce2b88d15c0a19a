//! The connect form's body, as the customer's browser (or anyone) posts it: parsed, then
//! checked against every provider's fields. Never panics; errors never echo what was typed.
#![no_main]
use libfuzzer_sys::fuzz_target;
use linkgate::http::parse_form;
use linkgate::provider::catalog;
use serde_json::{json, Map, Value};

fuzz_target!(|body: &[u8]| {
    let form = parse_form(body);
    let Ok(c) = catalog() else { return };
    for provider in c.providers() {
        for fields in [&provider.credential_fields, &provider.connection_fields] {
            let values: Map<String, Value> = fields
                .iter()
                .filter_map(|f| form.get(&format!("f_{}", f.name)).map(|v| (f.name.clone(), json!(v))))
                .collect();
            if let Err(errors) = c.check_values(provider, fields, "", &values) {
                for e in errors {
                    for v in values.values().filter_map(Value::as_str).filter(|v| v.len() >= 6) {
                        assert!(!e.message.contains(v), "{} echoes a value", e.field);
                    }
                }
            }
        }
    }
});
