//! Ids in paths and bodies: a parsed id is exactly the text given, of its kind only.
#![no_main]
use libfuzzer_sys::fuzz_target;
use linkgate::id::{ConnectionId, ConsumerId, IntegrationId, LinkId};

fuzz_target!(|raw: &str| {
    if let Some(id) = ConsumerId::parse(raw) {
        assert_eq!(id.as_str(), raw);
        assert!(raw.starts_with("csm_") && raw.len() == 36);
        assert!(ConnectionId::parse(raw).is_none() && LinkId::parse(raw).is_none());
    }
    for parsed in [
        ConnectionId::parse(raw).map(|i| i.as_str().to_owned()),
        LinkId::parse(raw).map(|i| i.as_str().to_owned()),
        IntegrationId::parse(raw).map(|i| i.as_str().to_owned()),
    ]
    .into_iter()
    .flatten()
    {
        assert_eq!(parsed, raw);
        assert!(raw.is_ascii());
    }
});
