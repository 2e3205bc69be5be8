//! Files fetched from a URL for a send. A tenant names the URL and the gateway fetches it,
//! through the address checks of `egress` (redirects included). A fetch has a deadline and
//! stops reading at the size its media kind allows.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::redirect;
use thiserror::Error;
use tokio::sync::Semaphore;
use url::Url;

use crate::config::MediaFetchConfig;
pub use crate::egress::Policy;
use crate::egress::{BodyError, Refusal, describe, guarded_client, read_capped, refusal_in};

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

impl From<Refusal> for FetchError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::BadUrl => FetchError::BadUrl,
            Refusal::Forbidden(ip) => FetchError::Forbidden(ip),
            Refusal::NoAddress { host } => FetchError::NoAddress { host },
        }
    }
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
        let client = guarded_client(policy.clone())
            .map_err(|e| FetchError::Failed(e.to_string()))?
            .redirect(redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > MAX_REDIRECTS {
                    return attempt.error(FetchError::TooManyRedirects);
                }
                // An address literal never reaches the resolver.
                match redirect_policy.check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(e) => attempt.error(FetchError::from(e)),
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
        match read_capped(response, max_bytes).await {
            Ok(body) => Ok(body),
            Err(BodyError::TooLarge) => Err(too_big()),
            Err(BodyError::Failed(e)) => Err(reason(e)),
        }
    }
}

/// Our own refusal when one caused the failure (a resolver or redirect check), else the
/// client's reason.
fn reason(e: reqwest::Error) -> FetchError {
    if let Some(refused) = refusal_in(&e) {
        return refused.into();
    }
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
    FetchError::Failed(describe(&e))
}
