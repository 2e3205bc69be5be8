//! The tenant's daily allowance of requests and tokens, kept in the plugin's `kv` (so a
//! reload or a restart does not reset it) under one key that holds the UTC day it counts:
//! a new day starts the count over in place, so the state never grows.

use serde::Deserialize;
use wagate_plugin_sdk::bot::memory;
use wagate_plugin_sdk::host;

const KEY: &str = "budget";

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

/// What today used so far, and whether running out was said already.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Used {
    pub requests: u32,
    pub tokens: u64,
    noted: bool,
}

fn today_number() -> u64 {
    host::now_ms() / 86_400_000
}

/// Today's use: nothing when what is kept counts another day.
fn read() -> Used {
    host::kv_get(KEY)
        .and_then(|v| {
            let mut parts = v.split(',');
            let day: u64 = parts.next()?.parse().ok()?;
            let used = Used {
                requests: parts.next()?.parse().ok()?,
                tokens: parts.next()?.parse().ok()?,
                noted: parts.next()? == "1",
            };
            (day == today_number()).then_some(used)
        })
        .unwrap_or_default()
}

fn write(used: Used) -> bool {
    let value = format!("{},{},{},{}", today_number(), used.requests, used.tokens, u8::from(used.noted));
    memory::write(KEY, &value)
}

impl Budget {
    /// Takes one request from today's allowance; false when today's requests or tokens are
    /// used up (said in the log once a day) or the count cannot be kept.
    pub fn take_request(&self) -> bool {
        let used = read();
        if used.requests >= self.requests_per_day || used.tokens >= self.tokens_per_day {
            if !used.noted && write(Used { noted: true, ..used }) {
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
        write(Used { requests: used.requests + 1, ..used })
    }

    /// Adds what an answer cost.
    pub fn spend_tokens(&self, tokens: u64) {
        let used = read();
        write(Used { tokens: used.tokens.saturating_add(tokens), ..used });
    }
}

/// Today's use.
#[cfg(test)]
pub fn today() -> Used {
    read()
}
