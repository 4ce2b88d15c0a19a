//! Which browser an OAuth flow belongs to. Starting a flow gives the browser a random value in
//! a cookie (HttpOnly, SameSite=Lax so it comes back with the provider's top-level redirect)
//! and the state records only its hash; the callback is accepted only from a browser that
//! shows it. Whoever the provider's consent URL is forwarded to lands on a refusal, and the
//! state stays for the browser that started.
//!
//! One value per browser, not per flow: a start reuses the value the browser already has, so
//! two links finished in two tabs of one browser both come back.

use super::cookie::Jar;
use crate::error::ApiError;
use crate::http::Call;
use crate::oauth::state::LIFETIME_SECONDS;
use crate::secret::SessionKey;

/// `__Host-` over HTTPS; the plain name on the local stack's plain HTTP (see `cookie`).
const JAR: Jar = Jar::new("__Host-linkgate_oauth", "linkgate_oauth");

/// A browser's binding value (256 random bits).
#[derive(Debug)]
pub struct Browser(SessionKey);

impl Browser {
    /// The value this browser already carries (read by the name `public_base` calls for),
    /// else a new one.
    pub fn of(call: &Call, public_base: &str) -> Result<Browser, ApiError> {
        match Browser::presented(call, public_base) {
            Some(b) => Ok(b),
            None => SessionKey::generate()
                .map(Browser)
                .map_err(|e| ApiError::internal(format!("no randomness: {e}"))),
        }
    }

    /// The value the request carries, if it has the shape we issue.
    pub fn presented(call: &Call, public_base: &str) -> Option<Browser> {
        JAR.read(call, public_base).map(Browser)
    }

    /// What the state keeps: never the value itself.
    pub fn hash(&self) -> String {
        self.0.hash()
    }

    /// The `Set-Cookie` value that gives (or renews) this binding, alive as long as a state.
    pub fn set_cookie(&self, public_base: &str) -> String {
        JAR.set(public_base, self.0.expose(), LIFETIME_SECONDS)
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
