//! The tenant's daily allowance of requests and tokens, kept in the plugin's `kv` (so a
//! reload or a restart does not reset it) under the UTC day it counts.

use serde::Deserialize;
use wagate_plugin_sdk::bot::memory;
use wagate_plugin_sdk::host;

fn default_requests() -> u32 {
    500
}

fn default_tokens() -> u64 {
    200_000
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Budget {
    /// Requests to the endpoint per UTC day, failed ones included.
    #[serde(default = "default_requests")]
    pub requests_per_day: u32,
    /// Tokens per UTC day, as the endpoint reports them (`usage.total_tokens`).
    #[serde(default = "default_tokens")]
    pub tokens_per_day: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Self { requests_per_day: default_requests(), tokens_per_day: default_tokens() }
    }
}

/// What today used so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Used {
    pub requests: u32,
    pub tokens: u64,
}

fn key() -> String {
    format!("budget:{}", host::now_ms() / 86_400_000)
}

fn read(key: &str) -> Used {
    host::kv_get(key)
        .and_then(|v| {
            let (r, t) = v.split_once(',')?;
            Some(Used { requests: r.parse().ok()?, tokens: t.parse().ok()? })
        })
        .unwrap_or_default()
}

impl Budget {
    /// Takes one request from today's allowance; false when today's requests or tokens are
    /// used up (said in the log once a day) or the count cannot be kept.
    pub fn take_request(&self) -> bool {
        let key = key();
        let used = read(&key);
        if used.requests >= self.requests_per_day || used.tokens >= self.tokens_per_day {
            let noted = format!("{key}:noted");
            if memory::never(&noted) && memory::mark(&noted) {
                host::log(
                    host::Level::Warn,
                    &format!(
                        "ai-answer: today's budget is used up ({} requests, {} tokens)",
                        used.requests, used.tokens
                    ),
                );
            }
            return false;
        }
        memory::write(&key, &format!("{},{}", used.requests + 1, used.tokens))
    }

    /// Adds what an answer cost.
    pub fn spend_tokens(&self, tokens: u64) {
        let key = key();
        let used = read(&key);
        memory::write(&key, &format!("{},{}", used.requests, used.tokens.saturating_add(tokens)));
    }
}

/// Today's use.
#[cfg(test)]
pub fn today() -> Used {
    read(&key())
}
