//! An email address as RFC 5321/5322 allow it, bounded to the 254 characters SMTP carries.

use std::fmt;

#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

const MAX_LEN: usize = 254;

impl Email {
    pub fn parse(raw: &str) -> Result<Email, String> {
        if raw.len() > MAX_LEN {
            return Err(format!("must be at most {MAX_LEN} characters"));
        }
        let parsed = email_address::EmailAddress::parse_with_options(
            raw,
            // Display names ("Ann <ann@x.com>") are not addresses.
            email_address::Options::default().without_display_text(),
        )
        .map_err(|_| "must be a valid email address".to_string())?;
        // A domain without a dot cannot receive mail from the internet.
        if !parsed.domain().contains('.') {
            return Err("must be a valid email address".into());
        }
        Ok(Email(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Email::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses() {
        for ok in [
            "ann@example.com",
            "a.b+tag@sub.example.co.uk",
            "x_y@ex-ample.io",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok} refused");
        }
    }

    #[test]
    fn refuses_non_addresses() {
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@localhost",
            "Ann <ann@example.com>",
            "a b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }
}
