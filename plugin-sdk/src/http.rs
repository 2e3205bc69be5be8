//! HTTP requests from a bot (capability `http:outbound`, contract 1.3): to the hosts that
//! plugin.toml's `[http] hosts`, the operator and the tenant's binding all allow. The call
//! waits for the answer; the gateway runs a bot granted this capability on a lane of its own,
//! under a longer deadline that only the wait counts towards, so waiting holds no one else up.
//! In native tests the answers come from [`crate::testing::FakeHost::http_answers`].

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// 0: the gateway's timeout, which is also the most a request may ask for.
    pub timeout_ms: u32,
}

impl Request {
    pub fn new(method: Method, url: &str) -> Self {
        Self { method, url: url.to_owned(), headers: Vec::new(), body: Vec::new(), timeout_ms: 0 }
    }

    pub fn get(url: &str) -> Self {
        Self::new(Method::Get, url)
    }

    /// A POST of `body` as JSON (`content-type: application/json`).
    pub fn post_json<T: Serialize + ?Sized>(url: &str, body: &T) -> Self {
        let mut req = Self::new(Method::Post, url).header("content-type", "application/json");
        req.body = serde_json::to_vec(body).expect("serialisable bodies serialise");
        req
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.timeout_ms = ms;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A 200 answer with a JSON body (for tests).
    pub fn json<T: Serialize + ?Sized>(status: u16, body: &T) -> Self {
        let body = serde_json::to_vec(body).expect("serialisable bodies serialise");
        Self { status, headers: vec![("content-type".into(), "application/json".into())], body }
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// Not a request the gateway sends (a bad URL or header, a body over 1 MiB).
    Invalid(String),
    /// The host is not allowed, or not a public address; or not called from the bot hook.
    Denied(String),
    /// The tenant's requests per minute are used up.
    QuotaExceeded(String),
    /// No whole answer in time.
    Timeout,
    /// The answer is larger than the gateway's cap (bytes).
    TooLarge(u64),
    /// The connection or the TLS handshake failed.
    Failed(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Invalid(why) => write!(f, "invalid request: {why}"),
            HttpError::Denied(why) => write!(f, "denied: {why}"),
            HttpError::QuotaExceeded(why) => write!(f, "{why}"),
            HttpError::Timeout => write!(f, "no answer in time"),
            HttpError::TooLarge(max) => write!(f, "the answer is larger than {max} bytes"),
            HttpError::Failed(why) => write!(f, "request failed: {why}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// Sends `request` and waits for its answer (any status: a 4xx or 5xx is an answer).
pub fn send(request: &Request) -> Result<Response, HttpError> {
    imp::send(request)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::{HttpError, Method, Request, Response};
    use crate::bindings::wagate::plugin::http;

    pub fn send(r: &Request) -> Result<Response, HttpError> {
        let method = match r.method {
            Method::Get => http::Method::Get,
            Method::Head => http::Method::Head,
            Method::Post => http::Method::Post,
            Method::Put => http::Method::Put,
            Method::Patch => http::Method::Patch,
            Method::Delete => http::Method::Delete,
        };
        let request = http::Request {
            method,
            url: r.url.clone(),
            headers: r.headers.clone(),
            body: r.body.clone(),
            timeout_ms: r.timeout_ms,
        };
        match http::send(&request) {
            Ok(a) => Ok(Response { status: a.status, headers: a.headers, body: a.body }),
            Err(http::RequestError::Invalid(m)) => Err(HttpError::Invalid(m)),
            Err(http::RequestError::Denied(m)) => Err(HttpError::Denied(m)),
            Err(http::RequestError::QuotaExceeded(m)) => Err(HttpError::QuotaExceeded(m)),
            Err(http::RequestError::Timeout) => Err(HttpError::Timeout),
            Err(http::RequestError::TooLarge(n)) => Err(HttpError::TooLarge(n)),
            Err(http::RequestError::Failed(m)) => Err(HttpError::Failed(m)),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{HttpError, Request, Response};
    use crate::testing::with_host;

    pub fn send(r: &Request) -> Result<Response, HttpError> {
        with_host(|h| {
            h.http_requests.push(r.clone());
            h.http_answers.pop_front().unwrap_or_else(|| Err(HttpError::Failed("FakeHost has no answer queued".into())))
        })
    }
}
