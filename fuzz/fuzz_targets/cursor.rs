//! List cursors come back from callers: decoding never panics, and whatever decodes is a
//! cursor we could have issued (it encodes back to itself).
#![no_main]
use libfuzzer_sys::fuzz_target;
use linkgate::cursor::{decode, encode};

fuzz_target!(|raw: &str| {
    if let Some(after) = decode(raw, |_| true) {
        assert_eq!(decode(&encode(&after), |_| true).as_deref(), Some(after.as_str()));
    }
    // what a list would accept must name an item of that list
    if let Some(after) = decode(raw, |sk| sk.starts_with("CONSUMER#")) {
        assert!(after.starts_with("CONSUMER#"));
    }
});
