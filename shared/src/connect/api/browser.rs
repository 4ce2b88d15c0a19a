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

    // The attributes (host-only, Secure, HttpOnly, Lax) are the jar's, tested in `cookie`;
    // what is the binding's own: its names and that it lives as long as a state.
    #[test]
    fn the_cookie_is_the_jars_under_the_oauth_names_for_a_states_lifetime() {
        for (base, name) in [
            ("https://links.example", "__Host-linkgate_oauth="),
            ("http://127.0.0.1:9000", "linkgate_oauth="),
        ] {
            let b = Browser::of(&call_with_cookie(None), base).unwrap();
            let set = b.set_cookie(base);
            assert!(set.starts_with(name), "{set}");
            assert_eq!(set, JAR.set(base, b.0.expose(), LIFETIME_SECONDS));
            assert!(set.to_lowercase().contains("max-age=600"), "{set}");
        }
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
