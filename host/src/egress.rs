//! Where the gateway's own outbound HTTP may connect: media fetched from URLs, link previews
//! and webhook deliveries go to URLs a tenant names, so they must not reach what only the
//! gateway can reach. Every address a name resolves to, every address literal and every
//! redirect is checked against the public internet (or a network the operator allows), and a
//! connection goes to a checked address only, so a name that resolves differently a second
//! time cannot slip through (DNS rebinding).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use thiserror::Error;
use url::Url;

const MAX_URL_CHARS: usize = 2048;

/// Why a URL may not be connected to. Its text names the URL's role generically; callers
/// that know the role say it.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum Refusal {
    #[error("the URL must be http or https, of at most {MAX_URL_CHARS} characters")]
    BadUrl,
    #[error("the URL reaches {0}, which is not a public address")]
    Forbidden(IpAddr),
    #[error("{host} has no address")]
    NoAddress { host: String },
}

/// The refusal that made a request fail, if one did (the resolver's checks surface as a
/// source of the client's error).
pub fn refusal_in(e: &(dyn std::error::Error + 'static)) -> Option<Refusal> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(ours) = s.downcast_ref::<Refusal>() {
            return Some(ours.clone());
        }
        source = s.source();
    }
    None
}

/// Which addresses a connection may go to.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Networks allowed although they are not public.
    allow: Vec<IpNet>,
}

impl Policy {
    pub fn new(allow: Vec<IpNet>) -> Self {
        Self { allow }
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        is_public(ip) || self.allow.iter().any(|net| net.contains(&ip))
    }

    /// What can be said of a URL before any network traffic: its scheme, and its host when
    /// that is an address.
    pub fn check_url(&self, url: &Url) -> Result<(), Refusal> {
        if !matches!(url.scheme(), "http" | "https") || url.as_str().len() > MAX_URL_CHARS {
            return Err(Refusal::BadUrl);
        }
        match url.host() {
            None => Err(Refusal::BadUrl),
            Some(url::Host::Ipv4(ip)) => self.address(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.address(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => Ok(()),
        }
    }

    /// `check_url`, then the addresses the URL's name resolves to now: at least one must be
    /// permitted (a connection later goes through the resolver's checks again).
    pub async fn check_resolved(&self, url: &Url) -> Result<(), Refusal> {
        self.check_url(url)?;
        let Some(url::Host::Domain(host)) = url.host() else { return Ok(()) };
        let port = url.port_or_known_default().unwrap_or(443);
        let found: Vec<SocketAddr> = match tokio::net::lookup_host((host, port)).await {
            Ok(found) => found.collect(),
            Err(_) => Vec::new(),
        };
        match found.first() {
            None => Err(Refusal::NoAddress { host: host.to_owned() }),
            Some(_) if found.iter().any(|a| self.permits(a.ip())) => Ok(()),
            Some(first) => Err(Refusal::Forbidden(first.ip().to_canonical())),
        }
    }

    fn address(&self, ip: IpAddr) -> Result<(), Refusal> {
        if self.permits(ip) { Ok(()) } else { Err(Refusal::Forbidden(ip.to_canonical())) }
    }
}

/// Whether an address is on the public internet: not loopback, private, link-local, shared
/// (carrier NAT), multicast, reserved, documentation or benchmarking space.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            // Addresses that embed an IPv4 one (mapped, NAT64) count as that address.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            if v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [.., a, b, c, d] = v6.octets();
                return is_public(IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d)));
            }
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || first == 0x2002
                || first == 0x0100 && v6.segments()[1..4] == [0, 0, 0])
        }
    }
}

/// The resolver every connection goes through: only checked addresses come out of it.
struct GuardedResolver {
    policy: Arc<Policy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let Some(first) = found.first() else {
                return Err(Box::new(Refusal::NoAddress { host }) as _);
            };
            let allowed: Vec<SocketAddr> = found.iter().copied().filter(|a| policy.permits(a.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(Refusal::Forbidden(first.ip().to_canonical())) as _);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// An HTTP client that connects only to addresses `policy` permits:
/// rustls with the webpki roots, no proxy, every name resolved through the policy.
pub fn guarded_client(policy: Arc<Policy>) -> Result<reqwest::ClientBuilder, rustls::Error> {
    Ok(operator_client()?.dns_resolver(Arc::new(GuardedResolver { policy })))
}

/// An HTTP client for addresses the operator configured (the other nodes of a cluster), so not
/// checked against a policy: rustls with the webpki roots, no proxy.
pub fn operator_client() -> Result<reqwest::ClientBuilder, rustls::Error> {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        // A proxy would be the one connecting, past the resolver's checks.
        .no_proxy()
        .user_agent(concat!("wagate/", env!("CARGO_PKG_VERSION"))))
}

/// Why a response body was not read whole.
#[derive(Debug)]
pub enum BodyError {
    /// It is longer than the cap.
    TooLarge,
    Failed(reqwest::Error),
}

/// A response's body, refused as soon as it is known to be longer than `max_bytes` (by its
/// `Content-Length`, else while it streams in), so a large answer never sits in memory.
pub async fn read_capped(response: reqwest::Response, max_bytes: u64) -> Result<bytes::Bytes, BodyError> {
    use futures::StreamExt;
    if response.content_length().is_some_and(|n| n > max_bytes) {
        return Err(BodyError::TooLarge);
    }
    let mut body = bytes::BytesMut::new();
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(BodyError::Failed)?;
        if (body.len() + chunk.len()) as u64 > max_bytes {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A client error with its causes, which `reqwest::Error`'s own text leaves out.
pub fn describe(e: &reqwest::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message = format!("{message}: {s}");
        source = s.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_are_reachable_by_default() {
        let p = Policy::default();
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"] {
            assert!(p.permits(ip(public)), "{public}");
        }
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(!p.permits(ip(private)), "{private}");
        }
    }

    #[test]
    fn an_operator_can_allow_a_network() {
        let p = Policy::new(vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()]);
        assert!(p.permits(ip("10.9.8.7")));
        assert!(p.permits(ip("::1")));
        assert!(!p.permits(ip("192.168.0.1")));
        assert!(!p.permits(ip("127.0.0.1")));
    }

    #[test]
    fn urls_are_checked_before_any_traffic() {
        let p = Policy::default();
        let check = |u: &str| p.check_url(&Url::parse(u).unwrap());
        assert_eq!(check("https://example.com/a.png"), Ok(()));
        assert_eq!(check("ftp://example.com/a.png"), Err(Refusal::BadUrl));
        assert_eq!(check("file:///etc/passwd"), Err(Refusal::BadUrl));
        // The URL parser reads every spelling of an address as that address.
        for literal in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://[::1]:8080/",
            "http://[::ffff:7f00:1]/",
        ] {
            assert!(matches!(check(literal), Err(Refusal::Forbidden(_))), "{literal}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert_eq!(check(&long), Err(Refusal::BadUrl));
    }
}
