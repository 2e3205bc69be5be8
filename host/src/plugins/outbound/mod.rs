//! The HTTP requests plugins make (capability `http:outbound`, contract 1.3): checked against
//! the hosts plugin.toml, the operator and the tenant's binding allow, sent only to public
//! addresses (or networks the operator allows) through the same guarded client as media
//! fetches and webhooks, with a timeout and a cap on what is read back.

mod hosts;

pub use hosts::HostPattern;

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use thiserror::Error;
use url::Url;

use crate::config::PluginHttpConfig;
use crate::egress::{BodyError, Policy, describe, guarded_client, read_capped, refusal_in};

/// Most headers a request may carry.
pub const MAX_HEADERS: usize = 32;
/// Largest request body.
pub const MAX_REQUEST_BODY: usize = 1024 * 1024;
/// Most host patterns a binding may list.
pub const MAX_BINDING_HOSTS: usize = 32;
const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Headers the gateway writes itself: framing, the target, and state it never keeps.
const RESERVED_HEADERS: &[&str] =
    &["host", "content-length", "transfer-encoding", "connection", "cookie", "upgrade", "te"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// 0: the operator's timeout.
    pub timeout_ms: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why a request was not answered, as the plugin is told.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum OutboundError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Denied(String),
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("no answer within the timeout")]
    Timeout,
    #[error("the answer is larger than {0} bytes")]
    TooLarge(u64),
    #[error("{0}")]
    Failed(String),
}

impl OutboundError {
    /// The outcome a metric counts it under.
    pub fn label(&self) -> &'static str {
        match self {
            OutboundError::Invalid(_) => "invalid",
            OutboundError::Denied(_) => "denied",
            OutboundError::QuotaExceeded(_) => "quota_exceeded",
            OutboundError::Timeout => "timeout",
            OutboundError::TooLarge(_) => "too_large",
            OutboundError::Failed(_) => "failed",
        }
    }
}

/// The host lists a request must match besides the operator's: the plugin's own (plugin.toml)
/// and its tenant binding's.
pub struct Allowed<'a> {
    pub plugin: &'a [HostPattern],
    pub binding: &'a [HostPattern],
}

/// What every plugin's requests go through.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    policy: Arc<Policy>,
    operator: Arc<[HostPattern]>,
    timeout: Duration,
    max_response_bytes: u64,
}

impl Outbound {
    pub fn new(cfg: &PluginHttpConfig) -> Result<Self, String> {
        let policy = Arc::new(Policy::new(cfg.allow_networks.clone()));
        let client = guarded_client(policy.clone())
            .map_err(|e| e.to_string())?
            // A redirect could lead anywhere the allow-lists do not: the plugin sees the 3xx.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            policy,
            operator: cfg.allow_hosts.clone().into(),
            timeout: Duration::from_millis(cfg.timeout_ms),
            max_response_bytes: cfg.max_response_kib * 1024,
        })
    }

    /// Sends `req` if every list allows its host, waiting at most its timeout (capped by the
    /// operator's) and never past `left`, what remains of the calling hook's deadline.
    pub async fn send(&self, allowed: Allowed<'_>, req: Request, left: Duration) -> Result<Response, OutboundError> {
        let url = Url::parse(&req.url).map_err(|e| OutboundError::Invalid(format!("url: {e}")))?;
        self.policy.check_url(&url).map_err(|e| match e {
            crate::egress::Refusal::BadUrl => OutboundError::Invalid(format!("url: {e}")),
            other => OutboundError::Denied(other.to_string()),
        })?;
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(443);
        let lists = [
            (allowed.plugin, "plugin.toml's [http] hosts"),
            (&self.operator[..], "the operator's plugins.http.allow_hosts"),
            (allowed.binding, "this binding's allowedHosts"),
        ];
        if let Some((_, which)) = lists.iter().find(|(list, _)| !hosts::any_matches(list, host, port)) {
            return Err(OutboundError::Denied(format!("{host}:{port} is not in {which}")));
        }
        let headers = header_map(&req.headers)?;
        if req.body.len() > MAX_REQUEST_BODY {
            return Err(OutboundError::Invalid(format!("a request body is at most {MAX_REQUEST_BODY} bytes")));
        }
        let asked = match req.timeout_ms {
            0 => self.timeout,
            ms => Duration::from_millis(u64::from(ms)).min(self.timeout),
        };
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Head => reqwest::Method::HEAD,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let request = self.client.request(method, url).headers(headers).body(req.body);
        let max = self.max_response_bytes;
        let exchange = async move {
            let response = request.send().await.map_err(failure)?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
                .collect();
            match read_capped(response, max).await {
                Ok(body) => Ok(Response { status, headers, body: body.to_vec() }),
                Err(BodyError::TooLarge) => Err(OutboundError::TooLarge(max)),
                Err(BodyError::Failed(e)) => Err(failure(e)),
            }
        };
        tokio::time::timeout(asked.min(left), exchange).await.unwrap_or(Err(OutboundError::Timeout))
    }
}

fn header_map(headers: &[(String, String)]) -> Result<reqwest::header::HeaderMap, OutboundError> {
    let invalid = |m: String| OutboundError::Invalid(m);
    if headers.len() > MAX_HEADERS {
        return Err(invalid(format!("at most {MAX_HEADERS} headers")));
    }
    let bytes: usize = headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    if bytes > MAX_HEADER_BYTES {
        return Err(invalid(format!("headers are at most {MAX_HEADER_BYTES} bytes in all")));
    }
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        let name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid(format!("'{name}' is not a header name")))?;
        if RESERVED_HEADERS.contains(&name.as_str()) {
            return Err(invalid(format!("the header '{name}' is the gateway's to set")));
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| invalid(format!("the value of '{name}' is not a header value")))?;
        map.append(name, value);
    }
    Ok(map)
}

fn failure(e: reqwest::Error) -> OutboundError {
    if let Some(refused) = refusal_in(&e) {
        return OutboundError::Denied(refused.to_string());
    }
    if e.is_timeout() {
        return OutboundError::Timeout;
    }
    OutboundError::Failed(describe(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(list: &[&str]) -> Vec<HostPattern> {
        list.iter().map(|p| p.parse().unwrap()).collect()
    }

    fn outbound(operator: &[&str]) -> Outbound {
        let cfg = PluginHttpConfig { allow_hosts: patterns(operator), ..PluginHttpConfig::default() };
        Outbound::new(&cfg).unwrap()
    }

    fn get(url: &str) -> Request {
        Request { method: Method::Get, url: url.into(), headers: Vec::new(), body: Vec::new(), timeout_ms: 0 }
    }

    #[tokio::test]
    async fn every_list_must_allow_the_host_and_only_public_addresses_are_reached() {
        let all = patterns(&["*"]);
        let only_api = patterns(&["api.example.com"]);
        let left = Duration::from_secs(5);
        let cases: [(Outbound, &[HostPattern], &[HostPattern], &str, &str); 5] = [
            (outbound(&[]), &all, &all, "https://api.example.com/v1", "the operator's"),
            (outbound(&["*"]), &only_api, &all, "https://other.example.com/", "plugin.toml's"),
            (outbound(&["*"]), &all, &only_api, "https://other.example.com/", "this binding's"),
            (outbound(&["*"]), &all, &all, "http://127.0.0.1:9/", "not a public address"),
            (outbound(&["*"]), &all, &all, "http://[::ffff:169.254.169.254]/", "not a public address"),
        ];
        for (out, plugin, binding, url, why) in cases {
            let err = out.send(Allowed { plugin, binding }, get(url), left).await.unwrap_err();
            assert!(matches!(&err, OutboundError::Denied(m) if m.contains(why)), "{url}: {err:?}");
        }
        let out = outbound(&["*"]);
        let allowed = || Allowed { plugin: &all, binding: &all };
        let err = out.send(allowed(), get("file:///etc/passwd"), left).await.unwrap_err();
        assert!(matches!(err, OutboundError::Invalid(_)), "{err:?}");
        let mut cookie = get("https://api.example.com/");
        cookie.headers.push(("Cookie".into(), "a=b".into()));
        let err = out.send(allowed(), cookie, left).await.unwrap_err();
        assert!(matches!(&err, OutboundError::Invalid(m) if m.contains("'cookie'")), "{err:?}");
        let mut big = get("https://api.example.com/");
        big.body = vec![0; MAX_REQUEST_BODY + 1];
        assert!(matches!(out.send(allowed(), big, left).await, Err(OutboundError::Invalid(_))));
    }
}
