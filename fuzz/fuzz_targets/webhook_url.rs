//! Webhook URLs: what is accepted is an https URI with a public-looking host, kept as sent,
//! and parses again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use linkgate::webhook::target::WebhookUrl;

fuzz_target!(|raw: &str| {
    if let Ok(u) = WebhookUrl::parse(raw, &[]) {
        assert_eq!(u.as_str(), raw);
        assert!(raw.is_ascii() && raw.len() <= 2048);
        let host = u.host();
        assert!(host != "localhost" && !host.is_empty());
        assert_eq!(WebhookUrl::parse(u.as_str(), &[]).ok(), Some(u));
    }
});
