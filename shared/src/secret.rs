//! Secret material that must never reach a log line or an error body.

use std::fmt;

/// A string whose `Debug` and `Display` are redacted. Read it with [`Secret::expose`], only
/// where the plain value is really needed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf)?;
    Ok(buf)
}

/// Lower-case hex SHA-256, the only form in which tokens and keys are stored.
pub fn sha256_hex(input: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(input))
}

/// Whether two secrets (or their hashes) are equal, in time that depends only on their
/// lengths, never on where they first differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A hosted page's cookie value (a portal or console session, a browser's OAuth binding):
/// 256 random bits; only its hash is stored.
#[derive(Debug)]
pub struct SessionKey(Secret);

impl SessionKey {
    pub fn generate() -> Result<SessionKey, getrandom::Error> {
        use base64::Engine;
        let bytes = random_bytes::<32>()?;
        Ok(SessionKey(Secret::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        )))
    }

    /// A presented value, if it has the shape we issue.
    pub fn parse(raw: &str) -> Option<SessionKey> {
        use base64::Engine;
        (raw.len() == 43
            && base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(raw)
                .is_ok())
        .then(|| SessionKey(Secret::new(raw.to_owned())))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// What the store keeps: the session is found by it, and it opens nothing.
    pub fn hash(&self) -> String {
        sha256_hex(self.0.expose().as_bytes())
    }

    /// The session's CSRF token: derived from the cookie value, so only a page served to the
    /// cookie's holder can know it, and nothing more is stored.
    pub fn csrf(&self) -> String {
        sha256_hex(format!("linkgate-csrf\0{}", self.0.expose()).as_bytes())
    }

    /// Whether `presented` is this session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        same(&self.csrf(), presented)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_key_is_only_what_we_issue_and_its_csrf_token_is_its_own() {
        let key = SessionKey::generate().unwrap();
        let again = SessionKey::parse(key.expose()).unwrap();
        assert_eq!(again.csrf(), key.csrf());
        assert!(key.csrf_matches(&key.csrf()));
        let other = SessionKey::generate().unwrap();
        assert_ne!(other.csrf(), key.csrf());
        assert!(!key.csrf_matches(&other.csrf()));
        assert!(!key.csrf_matches(""));
        assert!(!key.csrf_matches(&key.csrf()[1..]));
        // neither the token nor the stored hash is the cookie value
        assert_ne!(key.csrf(), key.expose());
        assert_ne!(key.hash(), key.expose());
        assert_ne!(key.hash(), key.csrf());
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}*", &key.expose()[1..]),
        ] {
            assert!(SessionKey::parse(bad).is_none(), "{bad}");
        }
        assert!(!format!("{key:?}").contains(key.expose()), "Debug redacts");
    }

    #[test]
    fn same_is_equality() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(same("", ""));
    }

    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("lgk_supersecret".into());
        assert!(!format!("{s:?}").contains("supersecret"));
        assert!(!format!("{s}").contains("supersecret"));
        assert_eq!(s.expose(), "lgk_supersecret");
    }

    #[test]
    fn sha256_matches_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn random_bytes_differ() {
        let a = random_bytes::<32>().unwrap();
        let b = random_bytes::<32>().unwrap();
        assert_ne!(a, b);
    }
}
