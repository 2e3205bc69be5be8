//! An AI bot. See README.md.

mod budget;
mod completion;

use serde::Deserialize;
use wagate_plugin_sdk::bot::{Etiquette, Inbound};
use wagate_plugin_sdk::http::{self, Request};
use wagate_plugin_sdk::model::send::SendMessage;
use wagate_plugin_sdk::{Action, Event, Plugin, host};

use budget::Budget;
use completion::CompletionRequest;

/// Most earlier messages given as context.
const MAX_HISTORY: u32 = 50;
const MAX_ANSWER_CHARS: usize = 4096;

fn default_history() -> u32 {
    10
}

fn default_timeout_ms() -> u32 {
    10_000
}

fn default_replies_per_minute() -> u32 {
    3
}

fn default_takeover_mins() -> u64 {
    30
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The chat-completions endpoint (`https://api.openai.com/v1/chat/completions`, or any
    /// OpenAI-compatible server). Its host must be in the binding's `allowedHosts` and the
    /// operator's `plugins.http.allow_hosts`.
    url: String,
    /// Sent as `Authorization: Bearer <apiKey>`.
    api_key: Option<String>,
    model: String,
    /// What the model is told before the conversation (who it is, what it may say).
    system_prompt: Option<String>,
    /// Earlier messages of the chat given as context (0 to 50).
    #[serde(default = "default_history")]
    history: u32,
    max_tokens: Option<u32>,
    temperature: Option<f32>,
    /// How long to wait for the endpoint (the gateway caps it with `plugins.http.timeout_ms`).
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u32,
    /// Sent when the endpoint fails, times out or gives no text; nothing is sent without it.
    fallback: Option<String>,
    /// The tenant's daily allowance; beyond it the bot is silent until the next UTC day.
    #[serde(default)]
    budget: Budget,
    /// Only these sessions (all by default).
    sessions: Option<Vec<String>>,
    /// Answer in group chats too (only direct chats by default).
    #[serde(default)]
    groups: bool,
    /// Contacts never answered: phone numbers (any formatting) or jids.
    #[serde(default)]
    ignore: Vec<String>,
    /// No answer in a chat for this many minutes after a person (an agent through the API or
    /// a frontend, or the phone itself) sent a message there (0: the bot never steps back).
    #[serde(default = "default_takeover_mins")]
    takeover_mins: u64,
    /// At most this many answers per chat per minute, so two bots cannot answer each other
    /// without end (0: no cap).
    #[serde(default = "default_replies_per_minute")]
    max_replies_per_minute: u32,
    /// Answers quote the message they answer.
    #[serde(default)]
    quote: bool,
}

pub struct AiAnswer {
    config: Config,
    etiquette: Etiquette,
}

impl AiAnswer {
    /// What the endpoint answers to the chat so far; `Err` says why there is no answer.
    fn ask(&self, inbound: &Inbound) -> Result<String, String> {
        let history = match self.config.history {
            0 => Vec::new(),
            n => host::history(inbound.session, &inbound.chat.id, n + 1, 0).map_err(|e| format!("history: {e}"))?,
        };
        let request = CompletionRequest {
            model: &self.config.model,
            messages: completion::turns(self.config.system_prompt.as_deref(), &history, inbound.message),
            max_tokens: self.config.max_tokens,
            temperature: self.config.temperature,
        };
        let mut req = Request::post_json(&self.config.url, &request).timeout_ms(self.config.timeout_ms);
        if let Some(key) = &self.config.api_key {
            req = req.header("authorization", &format!("Bearer {key}"));
        }
        let response = http::send(&req).map_err(|e| e.to_string())?;
        if !response.is_success() {
            return Err(format!("the endpoint answered HTTP {}", response.status));
        }
        let (text, tokens) = completion::answer(&response.body);
        self.config.budget.spend_tokens(tokens);
        let text = text.ok_or("the endpoint's answer has no text")?;
        Ok(text.chars().take(MAX_ANSWER_CHARS).collect())
    }
}

impl Plugin for AiAnswer {
    type Config = Config;

    fn init(config: Config) -> Result<Self, String> {
        if !(config.url.starts_with("https://") || config.url.starts_with("http://")) {
            return Err("invalid config at 'url': an http(s) URL of a chat-completions endpoint".into());
        }
        if config.model.trim().is_empty() {
            return Err("invalid config at 'model': a model name".into());
        }
        if config.history > MAX_HISTORY {
            return Err(format!("invalid config at 'history': at most {MAX_HISTORY}"));
        }
        let etiquette = Etiquette {
            sessions: config.sessions.clone(),
            groups: config.groups,
            ignore: config.ignore.clone(),
            takeover_mins: config.takeover_mins,
            max_replies_per_minute: config.max_replies_per_minute,
        };
        Ok(Self { config, etiquette })
    }

    fn on_event(&mut self, event: &Event) -> Vec<Action> {
        let Some(inbound) = self.etiquette.inbound(event) else { return Vec::new() };
        if !self.etiquette.take_answers(inbound.session, &inbound.chat.id, 1) || !self.config.budget.take_request() {
            return Vec::new();
        }
        let text = match self.ask(&inbound) {
            Ok(text) => text,
            Err(why) => {
                host::log(host::Level::Warn, &format!("ai-answer: no answer from the endpoint: {why}"));
                match &self.config.fallback {
                    Some(f) => f.clone(),
                    None => return Vec::new(),
                }
            }
        };
        let to = inbound.reply_to();
        if !self.config.quote {
            return vec![Action::SendText { session: inbound.session.to_owned(), to, text }];
        }
        let send = SendMessage::text(&to, &text).replying_to(&inbound.message.id);
        if let Err(e) = host::send(inbound.session, &send) {
            host::log(host::Level::Warn, &format!("ai-answer not queued: {e}"));
        }
        Vec::new()
    }
}

wagate_plugin_sdk::export_plugin!(AiAnswer);

#[cfg(test)]
mod tests;
