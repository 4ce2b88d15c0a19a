//! Where a browser is sent after the connect flow. Only absolute `https` URLs; plain `http`
//! only to loopback hosts, and only when running locally.

use crate::config::Stage;
use std::fmt;
use url::{Host, Url};

const MAX_LEN: usize = 2048;

#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectUrl(Url);

impl RedirectUrl {
    pub fn parse(raw: &str, stage: Stage) -> Result<RedirectUrl, String> {
        let url = absolute_url(raw, MAX_LEN)?;
        let host = url.host().ok_or_else(|| "must have a host".to_string())?;
        match url.scheme() {
            "https" => {}
            "http" if stage == Stage::Local && is_loopback(&host) => {}
            "http" if stage == Stage::Local => {
                return Err("must use https (http is allowed only for loopback hosts)".into())
            }
            _ => return Err("must use https".into()),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not contain credentials".into());
        }
        if url.fragment().is_some() {
            return Err("must not contain a fragment".into());
        }
        Ok(RedirectUrl(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// An absolute URL of at most `max_len` bytes, both as typed and in the normalised form
/// that is stored (non-ASCII percent-encoded, up to 3× longer) and must parse again on read.
pub(crate) fn absolute_url(raw: &str, max_len: usize) -> Result<Url, String> {
    if raw.len() > max_len {
        return Err(format!("must be at most {max_len} characters"));
    }
    let url = Url::parse(raw).map_err(|_| "must be an absolute URL".to_string())?;
    if url.as_str().len() > max_len {
        return Err(format!("must be at most {max_len} characters once encoded"));
    }
    Ok(url)
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Stored values were validated on the way in; reading them back accepts what local mode did.
impl TryFrom<String> for RedirectUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        RedirectUrl::parse(&s, Stage::Local)
    }
}

impl From<RedirectUrl> for String {
    fn from(u: RedirectUrl) -> String {
        u.0.into()
    }
}

impl fmt::Debug for RedirectUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_accepted_reads_back_even_when_encoding_lengthens_it() {
        // Found by schemathesis: 1,200 bytes of "é" passed the raw check, were stored as
        // 3,600 bytes of "%C3%A9", and every later read of the item failed.
        let long = format!("https://app.example.com/{}", "é".repeat(600));
        assert!(long.len() <= MAX_LEN);
        let err = RedirectUrl::parse(&long, Stage::Deployed).unwrap_err();
        assert!(err.contains("once encoded"), "{err}");

        let fits = format!("https://app.example.com/{}", "é".repeat(300));
        let u = RedirectUrl::parse(&fits, Stage::Deployed).unwrap();
        let stored: String = u.clone().into();
        assert!(stored.len() > fits.len(), "stored encoded");
        assert_eq!(RedirectUrl::try_from(stored).unwrap(), u);
    }

    #[test]
    fn https_is_accepted_everywhere() {
        for stage in [Stage::Local, Stage::Deployed] {
            let u = RedirectUrl::parse("https://app.example.com/done?x=1", stage).unwrap();
            assert_eq!(u.as_str(), "https://app.example.com/done?x=1");
        }
    }

    #[test]
    fn http_only_for_loopback_when_local() {
        assert!(RedirectUrl::parse("http://localhost:3000/cb", Stage::Local).is_ok());
        assert!(RedirectUrl::parse("http://127.0.0.1/cb", Stage::Local).is_ok());
        assert!(RedirectUrl::parse("http://[::1]/cb", Stage::Local).is_ok());
        assert!(RedirectUrl::parse("http://localhost:3000/cb", Stage::Deployed).is_err());
        assert!(RedirectUrl::parse("http://example.com/cb", Stage::Local).is_err());
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "/relative",
            "javascript:alert(1)",
            "ftp://example.com",
            "https://user:pw@example.com",
            "https://example.com/#frag",
            "data:text/html,hi",
            "not a url",
        ] {
            assert!(
                RedirectUrl::parse(bad, Stage::Local).is_err(),
                "{bad} accepted"
            );
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_LEN));
        assert!(RedirectUrl::parse(&long, Stage::Deployed).is_err());
    }
}
