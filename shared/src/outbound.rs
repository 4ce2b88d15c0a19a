//! Where Linkgate's own outbound calls may go (webhook deliveries, credential checks at
//! providers). Only `https` URLs whose every address is public: private, loopback,
//! link-local (cloud metadata), shared, reserved and documentation ranges are refused, when
//! the URL is given and again at each call (against DNS rebinding: the addresses checked
//! are the ones connected to). A local stack may allow named private addresses, and plain
//! `http` to exactly those.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

const MAX_LEN: usize = 2048;

/// An outbound URL that passed the static checks (scheme, form, host names and literals),
/// kept as the caller wrote it (answers give it back as sent) and parsed for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundUrl {
    raw: String,
    url: url::Url,
}

fn v4_is_public(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast (deprecated)
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

/// IPv6 is judged by allow-list: only global unicast (2000::/3), minus the special-purpose
/// blocks inside it, and the two formats that carry an IPv4 address we can check
/// (`::ffff:a.b.c.d`, `64:ff9b::a.b.c.d`). Everything else (site-local, discard, SIIT,
/// local-use NAT64, SRv6, whatever IANA assigns next outside 2000::/3) is refused.
fn v6_is_public(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_is_public(v4);
    }
    let s = ip.segments();
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return v4_is_public(Ipv4Addr::new(a, b, c, d));
    }
    (s[0] & 0xe000) == 0x2000 // global unicast 2000::/3
        && !(s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments 2001::/23 (Teredo, ORCHID, benchmarking)
        && !(s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        && s[0] != 0x2002 // 6to4: carries any IPv4 address, link-local ones included (deprecated)
        && !(s[0] == 0x3fff && s[1] < 0x1000) // documentation 3fff::/20
}

/// Whether an address may be called.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_is_public(v4),
        IpAddr::V6(v6) => v6_is_public(v6),
    }
}

fn allowed(ip: IpAddr, allow: &[IpAddr]) -> bool {
    is_public(ip) || allow.contains(&ip)
}

impl OutboundUrl {
    pub fn parse(raw: &str, allow: &[IpAddr]) -> Result<OutboundUrl, String> {
        let url = crate::redirect_url::uri(raw, MAX_LEN)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials".into());
        }
        if url.fragment().is_some() {
            return Err("must not have a fragment".into());
        }
        let literal = match url.host() {
            None => return Err("must have a host".into()),
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if name == "localhost"
                    || name.ends_with(".localhost")
                    || name.ends_with(".internal")
                    || name.ends_with(".local")
                    || !name.contains('.')
                {
                    return Err("must name a public host".into());
                }
                None
            }
        };
        if let Some(ip) = literal {
            if !allowed(ip, allow) {
                return Err("must not point to a private, loopback or link-local address".into());
            }
        }
        match url.scheme() {
            "https" => {}
            // plain http only to an address a local stack allows explicitly
            "http" if literal.is_some_and(|ip| allow.contains(&ip)) => {}
            _ => return Err("must be an https URL".into()),
        }
        Ok(OutboundUrl {
            raw: raw.to_owned(),
            url,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn host(&self) -> String {
        self.url.host_str().unwrap_or_default().to_owned()
    }

    /// The addresses to connect to, all checked: an error when the name does not resolve
    /// or any address is not allowed.
    pub async fn resolve(
        &self,
        allow: &[IpAddr],
        limit: Duration,
    ) -> Result<Vec<SocketAddr>, String> {
        let port = self.url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = match self.url.host() {
            Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            _ => {
                let target = format!("{}:{port}", self.host());
                let found = tokio::time::timeout(limit, tokio::net::lookup_host(target)).await;
                match found {
                    Ok(Ok(found)) => found.collect(),
                    Ok(Err(_)) | Err(_) => return Err("the host name does not resolve".into()),
                }
            }
        };
        if addrs.is_empty() {
            return Err("the host name does not resolve".into());
        }
        if let Some(bad) = addrs.iter().find(|a| !allowed(a.ip(), allow)) {
            return Err(format!(
                "the host resolves to a non-public address ({})",
                bad.ip()
            ));
        }
        Ok(addrs)
    }

    /// At creation: refuse a name that resolves to a private address now. A name that does
    /// not resolve yet is accepted (DNS may come later); every delivery checks again.
    pub async fn check_now(&self, allow: &[IpAddr]) -> Result<(), String> {
        match self.resolve(allow, Duration::from_secs(2)).await {
            Err(e) if e.contains("non-public") => Err(format!("is refused: {e}")),
            _ => Ok(()),
        }
    }
}

/// The answer of [`Checked`] when a name has no address an outbound call may reach.
#[derive(Debug)]
pub struct AddressRefused(String);

impl std::fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AddressRefused {}

/// Name resolution for outbound calls: every address a name resolves to is checked, and
/// the connection is made to exactly those (so a name cannot be re-pointed at a private
/// address between the check and the call).
struct Checked {
    allow: std::sync::Arc<[IpAddr]>,
    limit: Duration,
}

impl reqwest::dns::Resolve for Checked {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow.clone();
        let limit = self.limit;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let refused = |why: String| -> Box<dyn std::error::Error + Send + Sync> {
                Box::new(AddressRefused(why))
            };
            let found = tokio::time::timeout(limit, tokio::net::lookup_host((host.as_str(), 0)))
                .await
                .map_err(|_| refused("the host name does not resolve".into()))?
                .map_err(|_| refused("the host name does not resolve".into()))?;
            let addrs: Vec<SocketAddr> = found.collect();
            if addrs.is_empty() {
                return Err(refused("the host name does not resolve".into()));
            }
            if let Some(bad) = addrs.iter().find(|a| !allowed(a.ip(), &allow)) {
                return Err(refused(format!(
                    "the host resolves to a non-public address ({})",
                    bad.ip()
                )));
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client of outbound calls to URLs that passed [`OutboundUrl::parse`] with the
/// same `allow`: names resolved through the address checks, redirects never followed, no
/// proxy from the environment (a proxy would resolve the name where we cannot check it).
/// Built once per process and shared, so calls to one host reuse their connection; each
/// request sets its own timeout.
pub fn client(allow: &[IpAddr], user_agent: &str) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(std::sync::Arc::new(Checked {
            allow: allow.into(),
            limit: Duration::from_secs(5),
        }))
        .user_agent(user_agent)
        .build()
}

/// What went wrong with an outbound request, as a class (reqwest's own errors print the
/// URL, and a URL may carry a secret in its query): an address refused says why.
pub fn failure(e: &reqwest::Error) -> String {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<AddressRefused>() {
            return format!("refused: {refused}");
        }
        source = s.source();
    }
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        "request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> bool {
        OutboundUrl::parse(raw, &[]).is_ok()
    }

    #[test]
    fn only_https_to_public_hosts() {
        assert!(ok("https://hooks.example.com/linkgate"));
        assert!(ok("https://93.184.216.34/x"));
        assert!(ok("https://[2606:4700::1111]/x"));
        for bad in [
            "http://hooks.example.com/x",
            "ftp://hooks.example.com/x",
            "https://user:pw@hooks.example.com/x",
            "https://hooks.example.com/x#frag",
            "https://localhost/x",
            "https://api.localhost/x",
            "https://metadata.google.internal/x",
            "https://printer.local/x",
            "https://intranet/x",
            "https://127.0.0.1/x",
            "https://127.0.0.2/x",
            "https://10.1.2.3/x",
            "https://172.16.0.1/x",
            "https://192.168.1.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/x",
            "https://0.0.0.0/x",
            "https://[::1]/x",
            "https://[fd00:ec2::254]/x",
            "https://[fe80::1]/x",
            "https://[::ffff:10.0.0.1]/x",
            "https://[64:ff9b::a00:1]/x",
            "not a url",
        ] {
            assert!(!ok(bad), "{bad} accepted");
        }
    }

    /// Every range IANA's special-purpose registries mark not globally reachable, and the
    /// transition formats that carry an IPv4 address (6to4, Teredo, SIIT), one address each.
    #[test]
    fn no_special_purpose_range_is_public() {
        for (range, address) in [
            (
                "6to4 2002::/16, carrying 169.254.169.254",
                "2002:a9fe:a9fe::1",
            ),
            (
                "6to4 2002::/16, carrying a public address",
                "2002:5db8:d822::1",
            ),
            ("Teredo 2001::/32", "2001:0:4136:e378:8000:63bf:3fff:fdd2"),
            ("IETF protocol assignments 2001::/23", "2001:2::1"),
            ("ORCHIDv2 2001:20::/28", "2001:20::1"),
            ("IPv4-translated ::ffff:0:0:0/96", "::ffff:0:a9fe:a9fe"),
            ("IPv4-mapped ::ffff:0:0/96", "::ffff:169.254.169.254"),
            ("site-local fec0::/10", "fec0::1"),
            ("local-use NAT64 64:ff9b:1::/48", "64:ff9b:1::a9fe:a9fe"),
            ("discard-only 100::/64", "100::1"),
            ("documentation 3fff::/20", "3fff::1"),
            ("SRv6 SIDs 5f00::/16", "5f00::1"),
            ("outside global unicast 2000::/3", "4000::1"),
            ("6to4 relay anycast 192.88.99.0/24", "192.88.99.1"),
        ] {
            let ip: IpAddr = address.parse().unwrap();
            assert!(!is_public(ip), "{range}: {address} counted as public");
        }
        for public in [
            "2606:4700::1111",
            "2a00:1450:4001:80b::200e",
            "64:ff9b::5db8:d822",
            "93.184.216.34",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn only_uri_characters_kept_as_sent() {
        // non-ASCII used to be stored percent-encoded, up to 3× longer than checked
        let accented = format!("https://hooks.example.com/{}", "é".repeat(10));
        assert!(OutboundUrl::parse(&accented, &[])
            .unwrap_err()
            .contains("RFC 3986"));
        // found by schemathesis: a bare host of the documented length gained `/` when
        // normalised; now the answer is the URL as sent
        let bare = format!("https://{}.example.com", "a".repeat(MAX_LEN - 20));
        assert_eq!(bare.len(), MAX_LEN);
        assert_eq!(OutboundUrl::parse(&bare, &[]).unwrap().as_str(), bare);
        let long = format!("{bare}x");
        assert!(OutboundUrl::parse(&long, &[]).is_err());
    }

    #[test]
    fn a_local_stack_may_allow_exactly_its_own_receivers() {
        let allow = ["127.0.0.1".parse().unwrap()];
        assert!(OutboundUrl::parse("http://127.0.0.1:8080/hook", &allow).is_ok());
        assert!(OutboundUrl::parse("https://127.0.0.1:8080/hook", &allow).is_ok());
        assert!(OutboundUrl::parse("http://127.0.0.2:8080/hook", &allow).is_err());
        assert!(OutboundUrl::parse("http://localhost:8080/hook", &allow).is_err());
        assert!(OutboundUrl::parse("http://hooks.example.com/hook", &allow).is_err());
    }

    #[tokio::test]
    async fn addresses_are_checked_when_resolving() {
        let url =
            OutboundUrl::parse("http://127.0.0.1:9/x", &["127.0.0.1".parse().unwrap()]).unwrap();
        assert!(url.resolve(&[], Duration::from_secs(1)).await.is_err());
        let ok = url
            .resolve(&["127.0.0.1".parse().unwrap()], Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(ok[0].port(), 9);
    }

    /// The shared client refuses a name resolving to a loopback address, and reaches it
    /// when allowed; the refusal says why, the URL is never printed.
    #[tokio::test]
    async fn the_shared_client_checks_the_addresses_it_connects_to() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let url = format!("http://localhost:{port}/x?key=secret");
        let strict = client(&[], "t").unwrap();
        let e = strict.get(&url).send().await.unwrap_err();
        let why = failure(&e);
        assert!(
            why.starts_with("refused: the host resolves to a non-public address"),
            "{why}"
        );
        assert!(!why.contains("secret"), "{why}");
        let loopback =
            client(&["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()], "t").unwrap();
        let ok = loopback.get(&url).send().await.unwrap();
        assert_eq!(ok.status().as_u16(), 204);
    }
}
