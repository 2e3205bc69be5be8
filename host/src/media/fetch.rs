//! Files fetched from a URL for a send. A tenant names the URL and the gateway fetches it, so
//! the URL must not reach what only the gateway can reach: every address a name resolves to,
//! every address literal, and every redirect is checked against the public internet (or a
//! network the operator allows), and the connection goes to a checked address only, so a name
//! that resolves differently a second time cannot slip through. A fetch has a deadline and
//! stops reading at the size its media kind allows.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect;
use thiserror::Error;
use tokio::sync::Semaphore;
use url::Url;

use crate::config::MediaFetchConfig;

/// Redirects followed before a fetch is given up.
pub const MAX_REDIRECTS: usize = 5;
const MAX_URL_CHARS: usize = 2048;

#[derive(Debug, Clone, Error, PartialEq)]
pub enum FetchError {
    #[error("media.url must be an http or https URL of at most {MAX_URL_CHARS} characters")]
    BadUrl,
    #[error(
        "media.url reaches {0}, which is not a public address (an operator can allow its network with media.fetch.allow)"
    )]
    Forbidden(IpAddr),
    #[error("media.url: {host} has no address")]
    NoAddress { host: String },
    #[error("media.url answered HTTP {0}")]
    Status(u16),
    #[error("media.url: the file is larger than {limit}")]
    TooBig { limit: String },
    #[error("media.url gave no file within {0} s")]
    Timeout(u64),
    #[error("media.url redirected more than {MAX_REDIRECTS} times")]
    TooManyRedirects,
    #[error("media.url could not be fetched: {0}")]
    Failed(String),
}

/// Which addresses a fetch may connect to.
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
    pub fn check_url(&self, url: &Url) -> Result<(), FetchError> {
        if !matches!(url.scheme(), "http" | "https") || url.as_str().len() > MAX_URL_CHARS {
            return Err(FetchError::BadUrl);
        }
        match url.host() {
            None => Err(FetchError::BadUrl),
            Some(url::Host::Ipv4(ip)) => self.address(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.address(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => Ok(()),
        }
    }

    /// `check_url`, then the addresses the URL's name resolves to now: at least one must be
    /// permitted (a connection later goes through the resolver's checks again).
    pub async fn check_resolved(&self, url: &Url) -> Result<(), FetchError> {
        self.check_url(url)?;
        let Some(url::Host::Domain(host)) = url.host() else { return Ok(()) };
        let port = url.port_or_known_default().unwrap_or(443);
        let found: Vec<SocketAddr> = match tokio::net::lookup_host((host, port)).await {
            Ok(found) => found.collect(),
            Err(_) => Vec::new(),
        };
        match found.first() {
            None => Err(FetchError::NoAddress { host: host.to_owned() }),
            Some(_) if found.iter().any(|a| self.permits(a.ip())) => Ok(()),
            Some(first) => Err(FetchError::Forbidden(first.ip().to_canonical())),
        }
    }

    fn address(&self, ip: IpAddr) -> Result<(), FetchError> {
        if self.permits(ip) { Ok(()) } else { Err(FetchError::Forbidden(ip.to_canonical())) }
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
                return Err(Box::new(FetchError::NoAddress { host }) as _);
            };
            let allowed: Vec<SocketAddr> = found.iter().copied().filter(|a| policy.permits(a.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(FetchError::Forbidden(first.ip().to_canonical())) as _);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// An HTTP client that connects only to addresses `policy` permits (webhooks use it too):
/// rustls with the webpki roots, no proxy, every name resolved through the policy.
pub fn guarded_client(policy: Arc<Policy>) -> Result<reqwest::ClientBuilder, FetchError> {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| FetchError::Failed(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        // A proxy would be the one connecting, past the resolver's checks.
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver { policy }))
        .user_agent(concat!("wagate/", env!("CARGO_PKG_VERSION"))))
}

/// Fetches files for sends, a few at a time.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: Arc<Policy>,
    timeout: Duration,
    /// Each fetch may hold up to its kind's limit in memory until it is stored.
    slots: Arc<Semaphore>,
}

impl Fetcher {
    pub fn new(cfg: &MediaFetchConfig) -> Result<Self, FetchError> {
        let policy = Arc::new(Policy::new(cfg.allow.clone()));
        let redirect_policy = policy.clone();
        let client = guarded_client(policy.clone())?
            .redirect(redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > MAX_REDIRECTS {
                    return attempt.error(FetchError::TooManyRedirects);
                }
                // An address literal never reaches the resolver.
                match redirect_policy.check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(e) => attempt.error(e),
                }
            }))
            .connect_timeout(Duration::from_secs(cfg.timeout_secs.min(10)))
            .build()
            .map_err(|e| FetchError::Failed(e.to_string()))?;
        Ok(Self {
            client,
            policy,
            timeout: Duration::from_secs(cfg.timeout_secs),
            slots: Arc::new(Semaphore::new(cfg.concurrency.max(1))),
        })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The file at `url`, at most `max_bytes` long (`limit` names that size in errors).
    pub async fn fetch(&self, url: &Url, max_bytes: u64, limit: &str) -> Result<Bytes, FetchError> {
        self.policy.check_url(url)?;
        let _slot = self.slots.acquire().await.map_err(|_| FetchError::Failed("the gateway is stopping".into()))?;
        let secs = self.timeout.as_secs();
        tokio::time::timeout(self.timeout, self.download(url, max_bytes, limit))
            .await
            .unwrap_or(Err(FetchError::Timeout(secs)))
    }

    async fn download(&self, url: &Url, max_bytes: u64, limit: &str) -> Result<Bytes, FetchError> {
        let too_big = || FetchError::TooBig { limit: limit.to_owned() };
        let response = self.client.get(url.clone()).send().await.map_err(reason)?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        if response.content_length().is_some_and(|n| n > max_bytes) {
            return Err(too_big());
        }
        let mut body = BytesMut::new();
        let mut chunks = response.bytes_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(reason)?;
            if (body.len() + chunk.len()) as u64 > max_bytes {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }
}

/// Our own refusal when one caused the failure (a resolver or redirect check), else the
/// client's reason.
fn reason(e: reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(ours) = s.downcast_ref::<FetchError>() {
            return ours.clone();
        }
        source = s.source();
    }
    if e.is_timeout() {
        return FetchError::Failed("the server did not answer in time".into());
    }
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message = format!("{message}: {s}");
        source = s.source();
    }
    FetchError::Failed(message)
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
        assert_eq!(check("ftp://example.com/a.png"), Err(FetchError::BadUrl));
        assert_eq!(check("file:///etc/passwd"), Err(FetchError::BadUrl));
        // The URL parser reads every spelling of an address as that address.
        for literal in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://[::1]:8080/",
            "http://[::ffff:7f00:1]/",
        ] {
            assert!(matches!(check(literal), Err(FetchError::Forbidden(_))), "{literal}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert_eq!(check(&long), Err(FetchError::BadUrl));
    }
}
