//! The OpenAI chat-completions exchange: the request made of the system prompt and the chat's
//! recent messages, and the answer's text and token count.

use serde::{Deserialize, Serialize};
use wagate_plugin_sdk::{Message, MessageType};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Turn {
    pub role: &'static str,
    pub content: String,
}

#[derive(Debug, Serialize)]
pub struct CompletionRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<Turn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
}

/// What a message says to the model: its text, or a caption, or what kind of file it is.
fn said(m: &Message) -> Option<String> {
    let text = m.content.trim();
    if !text.is_empty() {
        return Some(text.to_owned());
    }
    match m.kind {
        MessageType::Text => None,
        MessageType::Other => None,
        ref kind => Some(format!("[{}]", serde_json::to_value(kind).ok()?.as_str()?)),
    }
}

/// The conversation the model answers: the system prompt, then the chat's earlier messages
/// oldest first (`history`, newest first as the host gives them; the message being answered
/// is left out of it and comes last), the contact's as `user`, the session's as `assistant`.
pub fn turns(system: Option<&str>, history: &[Message], current: &Message) -> Vec<Turn> {
    let mut turns: Vec<Turn> = system.map(|s| Turn { role: "system", content: s.to_owned() }).into_iter().collect();
    for m in history.iter().rev().filter(|m| m.id != current.id && m.revoked_at.is_none()) {
        if let Some(content) = said(m) {
            turns.push(Turn { role: if m.from_me { "assistant" } else { "user" }, content });
        }
    }
    turns.push(Turn { role: "user", content: said(current).unwrap_or_default() });
    turns
}

#[derive(Debug, Deserialize)]
struct CompletionResponse {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<Usage>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: Option<AnswerMessage>,
}

#[derive(Debug, Deserialize)]
struct AnswerMessage {
    content: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Usage {
    total_tokens: Option<u64>,
}

/// The answer's text (none when the endpoint gave no usable text) and the tokens it cost.
pub fn answer(body: &[u8]) -> (Option<String>, u64) {
    match serde_json::from_slice::<CompletionResponse>(body) {
        Ok(r) => {
            let tokens = r.usage.and_then(|u| u.total_tokens).unwrap_or(0);
            let text = r
                .choices
                .into_iter()
                .next()
                .and_then(|c| c.message?.content)
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty());
            (text, tokens)
        }
        Err(_) => (None, 0),
    }
}
