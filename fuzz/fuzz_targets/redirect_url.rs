//! Redirect URLs: what is accepted is https (anywhere), a URI of at most 2,000 characters,
//! given back exactly as sent, and reads back from storage.
#![no_main]
use libfuzzer_sys::fuzz_target;
use linkgate::config::Stage;
use linkgate::redirect_url::RedirectUrl;

fuzz_target!(|raw: &str| {
    if let Ok(u) = RedirectUrl::parse(raw, Stage::Deployed) {
        assert_eq!(u.as_str(), raw);
        assert!(raw.len() <= 2000 && raw.is_ascii());
        assert!(raw.starts_with("https://") || raw.to_ascii_lowercase().starts_with("https:"));
        assert!(!raw.contains('#'));
        let stored: String = u.clone().into();
        assert_eq!(RedirectUrl::try_from(stored).ok(), Some(u));
    }
    // local mode may add http, only for loopback hosts
    if let Ok(u) = RedirectUrl::parse(raw, Stage::Local) {
        assert_eq!(u.as_str(), raw);
    }
});
