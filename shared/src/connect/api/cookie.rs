//! The hosted pages' cookies, all of one shape: a 256-bit random value ([`SessionKey`]),
//! HttpOnly, SameSite=Lax (so a top-level navigation from elsewhere, such as a provider's
//! redirect or a link in an email, carries it while no other site's form post does), path
//! `/`. Over HTTPS the name takes the `__Host-` prefix, so browsers refuse it unless it is
//! Secure and host-only and no sibling subdomain can plant one; on plain HTTP (the local
//! stack on loopback) it has neither, or it would never come back.

use crate::http::Call;
use crate::secret::SessionKey;
use cookie::{Cookie, SameSite};

/// One cookie's two names: over HTTPS, and on plain HTTP.
pub(crate) struct Jar {
    secure: &'static str,
    local: &'static str,
}

impl Jar {
    pub(crate) const fn new(secure: &'static str, local: &'static str) -> Jar {
        Jar { secure, local }
    }

    fn https(public_base: &str) -> bool {
        public_base.starts_with("https://")
    }

    pub(crate) fn name(&self, public_base: &str) -> &'static str {
        if Jar::https(public_base) {
            self.secure
        } else {
            self.local
        }
    }

    /// The value the request carries under this cookie's name for `public_base`, if it has
    /// the shape we issue.
    pub(crate) fn read(&self, call: &Call, public_base: &str) -> Option<SessionKey> {
        let name = self.name(public_base);
        call.header("cookie")?
            .split(';')
            .filter_map(|c| Cookie::parse(c.trim()).ok())
            .find(|c| c.name() == name)
            .and_then(|c| SessionKey::parse(c.value()))
    }

    /// The `Set-Cookie` value that gives `value` for `seconds`.
    pub(crate) fn set(&self, public_base: &str, value: &str, seconds: i64) -> String {
        Cookie::build((self.name(public_base), value.to_owned()))
            .path("/")
            .http_only(true)
            .secure(Jar::https(public_base))
            .same_site(SameSite::Lax)
            .max_age(cookie::time::Duration::seconds(seconds))
            .build()
            .to_string()
    }

    /// The `Set-Cookie` value that removes it.
    pub(crate) fn clear(&self, public_base: &str) -> String {
        self.set(public_base, "", 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::Request;
    use lambda_http::Body;

    const JAR: Jar = Jar::new("__Host-test", "test");

    fn call_with_cookie(cookie: &str) -> Call {
        let req = Request::builder()
            .uri("https://links.example/")
            .header("cookie", cookie);
        Call::public(req.body(Body::Empty).unwrap())
    }

    #[test]
    fn over_https_a_cookie_is_host_only_secure_httponly_and_lax() {
        let set = JAR.set("https://links.example", "v", 600);
        assert!(set.starts_with("__Host-test=v"), "{set}");
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
        let local = JAR.set("http://127.0.0.1:9000", "v", 600);
        assert!(local.starts_with("test=v"), "{local}");
        assert!(!local.to_lowercase().contains("secure"), "{local}");
        assert!(JAR.clear("https://links.example").contains("Max-Age=0"));
    }

    #[test]
    fn only_our_shape_under_the_name_of_the_scheme_is_read() {
        let key = SessionKey::generate().unwrap();
        let v = key.expose();
        let https = "https://links.example";
        let found = JAR.read(
            &call_with_cookie(&format!("a=1; __Host-test={v}; b=2")),
            https,
        );
        assert_eq!(found.map(|k| k.hash()), Some(key.hash()));
        // the plain-HTTP name does not count over HTTPS, nor a value of another shape
        assert!(JAR
            .read(&call_with_cookie(&format!("test={v}")), https)
            .is_none());
        assert!(JAR
            .read(&call_with_cookie("__Host-test=short"), https)
            .is_none());
        assert!(JAR
            .read(
                &call_with_cookie(&format!("test={v}")),
                "http://127.0.0.1:9000"
            )
            .is_some());
    }
}
