//! Which browser an OAuth flow belongs to. Starting a flow gives the browser a random value in
//! a cookie (HttpOnly, SameSite=Lax so it comes back with the provider's top-level redirect)
//! and the state records only its hash; the callback is accepted only from a browser that
//! shows it. Whoever the provider's consent URL is forwarded to lands on a refusal, and the
//! state stays for the browser that started.
//!
//! One value per browser, not per flow: a start reuses the value the browser already has, so
//! two links finished in two tabs of one browser both come back.

use crate::error::ApiError;
use crate::http::Call;
use crate::oauth::state::LIFETIME_SECONDS;
use crate::secret::{random_bytes, sha256_hex, Secret};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cookie::{Cookie, SameSite};

/// Over HTTPS the `__Host-` prefix makes browsers refuse the cookie unless it is Secure,
/// host-only and for `/`, so no sibling subdomain can plant one.
const SECURE_NAME: &str = "__Host-linkgate_oauth";
/// Plain HTTP (the local stack on loopback), where a Secure cookie would never come back.
const LOCAL_NAME: &str = "linkgate_oauth";

/// A browser's binding value (256 random bits).
#[derive(Debug)]
pub struct Browser(Secret);

impl Browser {
    /// The value this browser already carries (read by the name `public_base` calls for),
    /// else a new one.
    pub fn of(call: &Call, public_base: &str) -> Result<Browser, ApiError> {
        match Browser::presented(call, public_base) {
            Some(b) => Ok(b),
            None => {
                let bytes = random_bytes::<32>()
                    .map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
                Ok(Browser(Secret::new(URL_SAFE_NO_PAD.encode(bytes))))
            }
        }
    }

    /// The value the request carries, if it has the shape we issue.
    pub fn presented(call: &Call, public_base: &str) -> Option<Browser> {
        let name = cookie_name(public_base);
        call.header("cookie")?
            .split(';')
            .filter_map(|c| Cookie::parse(c.trim()).ok())
            .find(|c| c.name() == name)
            .map(|c| c.value().to_owned())
            .filter(|v| v.len() == 43 && URL_SAFE_NO_PAD.decode(v).is_ok())
            .map(|v| Browser(Secret::new(v)))
    }

    /// What the state keeps: never the value itself.
    pub fn hash(&self) -> String {
        sha256_hex(self.0.expose().as_bytes())
    }

    /// The `Set-Cookie` value that gives (or renews) this binding, alive as long as a state.
    pub fn set_cookie(&self, public_base: &str) -> String {
        let secure = is_https(public_base);
        Cookie::build((cookie_name(public_base), self.0.expose().to_owned()))
            .path("/")
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Lax)
            .max_age(cookie::time::Duration::seconds(LIFETIME_SECONDS))
            .build()
            .to_string()
    }
}

fn is_https(public_base: &str) -> bool {
    public_base.starts_with("https://")
}

fn cookie_name(public_base: &str) -> &'static str {
    if is_https(public_base) {
        SECURE_NAME
    } else {
        LOCAL_NAME
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::Request;
    use lambda_http::Body;

    fn call_with_cookie(cookie: Option<&str>) -> Call {
        let mut req = Request::builder().uri("https://links.example/oauth/callback");
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        Call::public(req.body(Body::Empty).unwrap())
    }

    #[test]
    fn over_https_the_cookie_is_host_only_secure_httponly_and_lax() {
        let b = Browser::of(&call_with_cookie(None), "https://links.example").unwrap();
        let set = b.set_cookie("https://links.example");
        assert!(set.starts_with("__Host-linkgate_oauth="), "{set}");
        let attrs: Vec<String> = set.split("; ").skip(1).map(str::to_lowercase).collect();
        for wanted in [
            "httponly",
            "secure",
            "samesite=lax",
            "path=/",
            "max-age=600",
        ] {
            assert!(attrs.iter().any(|a| a == wanted), "{wanted}: {set}");
        }
        assert!(!set.to_lowercase().contains("domain="), "host-only: {set}");
    }

    #[test]
    fn on_plain_http_it_has_no_secure_flag_so_it_comes_back() {
        let b = Browser::of(&call_with_cookie(None), "http://127.0.0.1:9000").unwrap();
        let set = b.set_cookie("http://127.0.0.1:9000");
        assert!(set.starts_with("linkgate_oauth="), "{set}");
        assert!(!set.to_lowercase().contains("secure"), "{set}");
    }

    #[test]
    fn a_browser_keeps_its_value_and_strangers_get_new_ones() {
        let first = Browser::of(&call_with_cookie(None), "https://links.example").unwrap();
        let value = first.0.expose().to_owned();
        let header = format!("other=1; __Host-linkgate_oauth={value}; x=y");
        let again = Browser::of(&call_with_cookie(Some(&header)), "https://links.example").unwrap();
        assert_eq!(again.hash(), first.hash());
        let stranger = Browser::of(&call_with_cookie(None), "https://links.example").unwrap();
        assert_ne!(stranger.hash(), first.hash());
        // the plain-HTTP name does not count over HTTPS, nor does a value of another shape
        let wrong_name = format!("linkgate_oauth={value}");
        assert!(Browser::presented(
            &call_with_cookie(Some(&wrong_name)),
            "https://links.example"
        )
        .is_none());
        assert!(Browser::presented(
            &call_with_cookie(Some("__Host-linkgate_oauth=short")),
            "https://links.example"
        )
        .is_none());
        assert_ne!(first.hash(), value, "only the hash is kept");
    }
}
