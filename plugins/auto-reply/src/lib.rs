//! Keyword auto-reply bot. See README.md.

mod rules;

use std::collections::HashMap;

use serde::Deserialize;
use wagate_plugin_sdk::model::send::SendMessage;
use wagate_plugin_sdk::{Action, Event, EventBody, Message, Plugin, host};

use rules::{Rule, RuleConfig, Template};

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Checked in order; the first that matches answers.
    #[serde(default)]
    rules: Vec<RuleConfig>,
    /// The answer when no rule matches (the same `{variables}` as a rule's answer).
    fallback: Option<String>,
    sessions: Option<Vec<String>>,
    #[serde(default)]
    cooldown_secs: u64,
    /// Answers quote the message they answer.
    #[serde(default)]
    quote: bool,
}

pub struct AutoReply {
    config: Config,
    rules: Vec<Rule>,
    fallback: Option<Template>,
}

impl AutoReply {
    /// The answer to `message` on `session`, if a rule (or the fallback) has one.
    fn answer(&self, session: &str, message: &Message) -> Option<String> {
        let (template, captures) = self
            .rules
            .iter()
            .find_map(|r| r.matches(&message.content).map(|caps| (r.reply(pick(message)), caps)))
            .or_else(|| self.fallback.as_ref().map(|f| (f, HashMap::new())))?;
        let mut values = variables(session, message);
        values.extend(captures);
        Some(template.render(&values))
    }

    /// True when this chat may be answered now; records the answer time.
    fn cooled_down(&self, session: &str, chat: &str) -> bool {
        if self.config.cooldown_secs == 0 {
            return true;
        }
        let key = format!("last:{session}:{chat}");
        let now = host::now_ms();
        let last = host::kv_get(&key).and_then(|v| v.parse::<u64>().ok());
        if last.is_some_and(|t| now.saturating_sub(t) < self.config.cooldown_secs * 1000) {
            return false;
        }
        host::kv_set(&key, &now.to_string()).is_ok()
    }
}

/// Which of a rule's answers: the message and the moment decide, so repeated questions get
/// varied answers without a random source.
fn pick(message: &Message) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in message.id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h ^ host::now_ms()
}

/// The variables every answer may use (`rules::VARIABLES`); date and time are UTC.
fn variables(session: &str, message: &Message) -> HashMap<String, String> {
    let phone = message.from_number.clone().unwrap_or_else(|| {
        message.from_jid.split(['@', ':']).next().unwrap_or_default().to_owned()
    });
    let now = chrono::DateTime::from_timestamp_millis(host::now_ms() as i64).unwrap_or_default();
    HashMap::from([
        ("name".to_owned(), message.from_name.clone().unwrap_or_default()),
        ("phone".to_owned(), phone),
        ("session".to_owned(), session.to_owned()),
        ("date".to_owned(), now.format("%Y-%m-%d").to_string()),
        ("time".to_owned(), now.format("%H:%M").to_string()),
    ])
}

impl Plugin for AutoReply {
    type Config = Config;

    fn init(config: Config) -> Result<Self, String> {
        if config.rules.is_empty() && config.fallback.is_none() {
            return Err("auto-reply needs at least one rule or a fallback".into());
        }
        let rules = config
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| Rule::compile(r).map_err(|e| format!("invalid config at 'rules[{i}]': {e}")))
            .collect::<Result<_, _>>()?;
        let fallback = config
            .fallback
            .as_deref()
            .map(|f| Template::parse(f, &[]).map_err(|e| format!("invalid config at 'fallback': {e}")))
            .transpose()?;
        Ok(Self { config, rules, fallback })
    }

    fn on_event(&mut self, event: &Event) -> Vec<Action> {
        let EventBody::MessageReceived(received) = &event.body else { return Vec::new() };
        let Some(session) = event.session_id.as_deref() else { return Vec::new() };
        if self.config.sessions.as_ref().is_some_and(|s| !s.iter().any(|x| x == session)) {
            return Vec::new();
        }
        let (message, chat) = (&received.message, &received.chat);
        if message.from_me || chat.is_group {
            return Vec::new();
        }
        let Some(reply) = self.answer(session, message) else { return Vec::new() };
        if !self.cooled_down(session, &chat.id) {
            return Vec::new();
        }
        if self.config.quote {
            let answer = SendMessage::text(&message.from_jid, &reply).replying_to(&message.id);
            if let Err(e) = host::send(session, &answer) {
                host::log(host::Level::Warn, &format!("auto-reply not queued: {e}"));
            }
            return Vec::new();
        }
        vec![Action::SendText { session: session.to_owned(), to: message.from_jid.clone(), text: reply }]
    }
}

wagate_plugin_sdk::export_plugin!(AutoReply);

#[cfg(test)]
mod tests {
    use super::*;
    use wagate_plugin_sdk::model::events::MessageEvent;
    use wagate_plugin_sdk::testing::{FakeHost, Harness, chat, event, message, qr};
    use wagate_plugin_sdk::{Chat, Message, json};

    fn received(message: Message, chat: Chat) -> Event {
        event("sales", EventBody::MessageReceived(MessageEvent { message, chat }))
    }

    fn from_contact(text: &str) -> Message {
        Message { from_jid: "628123@s.whatsapp.net".into(), ..message("sales", "c1", text) }
    }

    fn inbound(text: &str) -> Event {
        received(from_contact(text), chat("sales", "c1"))
    }

    fn reply_of(actions: &[Action]) -> Option<&str> {
        match actions {
            [Action::SendText { text, to, session }] => {
                assert_eq!(to, "628123@s.whatsapp.net");
                assert_eq!(session, "sales");
                Some(text)
            }
            [] => None,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn answers_by_rule_then_fallback() {
        let mut h = Harness::<AutoReply>::new(json!({
            "rules": [{ "contains": "price", "reply": "P" }, { "equals": "hi", "reply": "H" }],
            "fallback": "F" }))
        .unwrap();
        assert_eq!(reply_of(&h.on_event(&inbound("What is the PRICE?"))), Some("P"));
        assert_eq!(reply_of(&h.on_event(&inbound(" Hi "))), Some("H"));
        assert_eq!(reply_of(&h.on_event(&inbound("hi there"))), Some("F"));
    }

    #[test]
    fn ignores_other_events_groups_own_messages_and_other_sessions() {
        let mut h = Harness::<AutoReply>::new(json!({ "fallback": "F", "sessions": ["support"] })).unwrap();
        assert!(h.on_event(&inbound("x")).is_empty(), "not a listed session");
        let mut h = Harness::<AutoReply>::new(json!({ "fallback": "F" })).unwrap();
        assert!(h.on_event(&event("sales", EventBody::SessionQr(qr()))).is_empty());
        let group = Chat { is_group: true, ..chat("sales", "c1") };
        assert!(h.on_event(&received(from_contact("x"), group)).is_empty());
        let mine = Message { from_me: true, ..from_contact("x") };
        assert!(h.on_event(&received(mine, chat("sales", "c1"))).is_empty());
    }

    #[test]
    fn cooldown_uses_clock_and_state() {
        let host = FakeHost { now_ms: 1_000_000, ..Default::default() };
        let mut h = Harness::<AutoReply>::with_host(host, json!({ "fallback": "F", "cooldownSecs": 60 })).unwrap();
        assert!(reply_of(&h.on_event(&inbound("a"))).is_some());
        assert!(h.on_event(&inbound("b")).is_empty(), "inside the cooldown");
        h.host(|h| h.now_ms += 61_000);
        assert!(reply_of(&h.on_event(&inbound("c"))).is_some());
        assert_eq!(h.host(|h| h.kv.get("last:sales:c1").cloned()), Some("1061000".into()));
    }

    #[test]
    fn quoting_answers_reply_to_the_message() {
        let mut h = Harness::<AutoReply>::new(json!({ "fallback": "F", "quote": true })).unwrap();
        assert!(h.on_event(&inbound("hello")).is_empty(), "queued, not returned");
        let queued = h.host(|h| h.queued.clone());
        let want = SendMessage::text("628123@s.whatsapp.net", "F").replying_to("m-c1");
        assert_eq!(queued, vec![("sales".to_owned(), host::Queued::Send(want))]);
    }

    #[test]
    fn answers_fill_their_variables() {
        // 2026-12-07 08:30 UTC
        let host = FakeHost { now_ms: 1_796_632_200_000, ..Default::default() };
        let config = json!({
            "rules": [{ "regex": "order (\\d+)", "reply": "{name}, order {1} on {session} ({phone}) {date} {time}" }],
            "fallback": "Hi {name}" });
        let mut h = Harness::<AutoReply>::with_host(host, config).unwrap();
        let from_rina = |text: &str| {
            let m = Message { from_name: Some("Rina".into()), from_number: Some("+628123".into()), ..from_contact(text) };
            received(m, chat("sales", "c1"))
        };
        assert_eq!(
            reply_of(&h.on_event(&from_rina("Where is ORDER 42?"))),
            Some("Rina, order 42 on sales (+628123) 2026-12-07 08:30")
        );
        assert_eq!(reply_of(&h.on_event(&from_rina("hello"))), Some("Hi Rina"));
    }

    #[test]
    fn the_first_matching_rule_answers_whatever_its_kind() {
        let mut h = Harness::<AutoReply>::new(json!({ "rules": [
            { "startsWith": "menu", "reply": "M" },
            { "anyOf": ["horário", "hours"], "reply": "H" },
            { "equals": "olá", "reply": "O" }] }))
        .unwrap();
        assert_eq!(reply_of(&h.on_event(&inbound("Menu hours?"))), Some("M"));
        assert_eq!(reply_of(&h.on_event(&inbound("your HORARIO"))), Some("H"));
        assert_eq!(reply_of(&h.on_event(&inbound(" Ola "))), Some("O"));
        assert!(h.on_event(&inbound("bye")).is_empty(), "no rule, no fallback");
    }

    #[test]
    fn bad_configs_are_refused_with_a_reason() {
        for (config, needle) in [
            (json!({}), "at least one rule"),
            (json!({ "rules": [{ "reply": "x" }] }), "invalid config at 'rules[0]': needs exactly one of"),
            (json!({ "rules": "nope" }), "invalid config at 'rules': invalid type: string \"nope\", expected a sequence"),
            (json!({ "rules": [{ "equals": "a", "reply": 1 }] }), "invalid config at 'rules[0].reply'"),
            (json!({ "fallback": "x", "bogus": 1 }), "unknown field"),
            (json!({ "fallback": "Hi {nmae}" }), "invalid config at 'fallback': unknown variable '{nmae}'"),
            (json!({ "rules": [{ "contains": "a", "reply": "{2}" }] }), "invalid config at 'rules[0]': unknown variable '{2}'"),
            (json!({ "rules": [{ "regex": "(a", "reply": "x" }] }), "invalid config at 'rules[0]': 'regex' does not compile"),
        ] {
            let err = Harness::<AutoReply>::new(config).err().expect("refused");
            assert!(err.contains(needle), "{err}");
        }
    }
}
