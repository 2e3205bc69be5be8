//! A rules bot. See README.md.

mod hours;
mod memory;
mod rules;

use std::collections::HashMap;

use serde::Deserialize;
use wagate_plugin_sdk::bot::{Etiquette, jid_user};
use wagate_plugin_sdk::model::send::{SendKind, SendMessage};
use wagate_plugin_sdk::{Action, Chat, Event, Message, Plugin, host};

use hours::{AwayConfig, Hours};
use rules::{MediaReply, MediaReplyKind, Rule, RuleConfig, Template};

fn default_replies_per_minute() -> u32 {
    5
}

fn default_takeover_mins() -> u64 {
    30
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Checked in order; the first that matches answers.
    #[serde(default)]
    rules: Vec<RuleConfig>,
    /// The answer when no rule matches (the same `{variables}` as a rule's answer).
    fallback: Option<String>,
    /// Sent the first time a contact ever writes to the session, before any other answer.
    welcome: Option<String>,
    /// Outside these hours, the away message instead of the fallback.
    away: Option<AwayConfig>,
    sessions: Option<Vec<String>>,
    /// Answer in group chats too (only direct chats by default).
    #[serde(default)]
    groups: bool,
    /// Contacts never answered: phone numbers (any formatting) or jids.
    #[serde(default)]
    ignore: Vec<String>,
    /// At most one answer per chat in this window (0: no limit).
    #[serde(default)]
    cooldown_secs: u64,
    /// At most this many answers per chat per minute, so two bots cannot answer each other
    /// without end (0: no cap).
    #[serde(default = "default_replies_per_minute")]
    max_replies_per_minute: u32,
    /// Answers quote the message they answer.
    #[serde(default)]
    quote: bool,
    /// No answer in a chat for this many minutes after a person (an agent through the API or
    /// a frontend, or the phone itself) sent a message there (0: the bot never steps back).
    #[serde(default = "default_takeover_mins")]
    takeover_mins: u64,
}

pub struct AutoReply {
    config: Config,
    etiquette: Etiquette,
    rules: Vec<Rule>,
    fallback: Option<Template>,
    welcome: Option<Template>,
    away: Option<Away>,
}

/// The away message, ready to use.
struct Away {
    hours: Hours,
    message: Template,
    repeat_secs: u64,
}

/// An answer decided for a message, and what to record once it is sent.
struct Answer {
    text: String,
    /// The file the answer is, `text` its caption.
    media: Option<MediaReply>,
    /// Where to record that it was sent, for an answer that has a window of its own (a rule's
    /// cooldown, the away message's repeat).
    mark: Option<String>,
}

impl AutoReply {
    /// What to answer `message` with: the welcome for a `first_contact`, then the first
    /// matching rule's answer (unless that rule is cooling down for this contact), or, when no
    /// rule matched and nothing else is said, the away message outside open hours (once per
    /// window) or else the fallback.
    fn answers(&self, session: &str, chat: &str, contact: &str, first_contact: bool, message: &Message) -> Vec<Answer> {
        // One reading of the clock for the whole answer: its variables, its pick, the hours.
        let now_ms = host::now_ms();
        let now = chrono::DateTime::from_timestamp_millis(now_ms as i64).unwrap_or_default();
        let values = variables(session, message, now);
        let mut out = Vec::new();
        if let Some(w) = &self.welcome
            && first_contact
        {
            out.push(Answer { text: w.render(&values), media: None, mark: None });
        }
        let matched = self.rules.iter().enumerate().find_map(|(i, r)| r.matches(&message.content).map(|c| (i, r, c)));
        match matched {
            Some((i, rule, captures)) => {
                let key = memory::rule_answered(i, session, contact);
                if memory::due(&key, rule.cooldown_secs) {
                    let mut values = values;
                    values.extend(captures);
                    let mark = (rule.cooldown_secs > 0).then_some(key);
                    let text = rule.reply(pick(message, now_ms)).map(|t| t.render(&values)).unwrap_or_default();
                    out.push(Answer { text, media: rule.media.clone(), mark });
                }
            }
            None if out.is_empty() => match &self.away {
                Some(away) if !away.hours.is_open(now) => {
                    let key = memory::away_sent(session, chat);
                    if memory::due(&key, away.repeat_secs) {
                        out.push(Answer { text: away.message.render(&values), media: None, mark: Some(key) });
                    }
                }
                _ => {
                    if let Some(f) = &self.fallback {
                        out.push(Answer { text: f.render(&values), media: None, mark: None });
                    }
                }
            },
            None => {}
        }
        out
    }

    /// Whether `chat` may get `n` answers now (its cooldown and per-minute cap); takes them.
    fn chat_allows(&self, session: &str, chat: &Chat, n: usize) -> bool {
        let key = memory::chat_answered(session, &chat.id);
        if !memory::due(&key, self.config.cooldown_secs) {
            return false;
        }
        if !self.etiquette.take_answers(session, &chat.id, n) {
            return false;
        }
        self.config.cooldown_secs == 0 || memory::mark(&key)
    }
}

/// A rule's file as a send: fetched by the gateway from its URL, `caption` under it.
fn media_message(to: &str, media: &MediaReply, caption: &str) -> SendMessage {
    let kind = match media.kind {
        MediaReplyKind::Image => SendKind::Image,
        MediaReplyKind::Video => SendKind::Video,
        MediaReplyKind::Audio => SendKind::Audio,
        MediaReplyKind::Voice => SendKind::Voice,
        MediaReplyKind::Document => SendKind::Document,
        MediaReplyKind::Sticker => SendKind::Sticker,
    };
    let mut send = SendMessage::media_from_url(to, kind, &media.url);
    if let Some(m) = &mut send.media {
        m.file_name = media.file_name.clone();
    }
    send.caption = (!caption.is_empty()).then(|| caption.to_owned());
    send
}

/// Which of a rule's answers: the message and the moment decide, so repeated questions get
/// varied answers without a random source.
fn pick(message: &Message, now_ms: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in message.id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h ^ now_ms
}

/// The variables every answer may use (`rules::VARIABLES`); date and time are UTC.
fn variables(session: &str, message: &Message, now: chrono::DateTime<chrono::Utc>) -> HashMap<String, String> {
    let phone = message.from_number.clone().unwrap_or_else(|| jid_user(&message.from_jid).to_owned());
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
        if config.rules.is_empty() && config.fallback.is_none() && config.welcome.is_none() && config.away.is_none() {
            return Err("auto-reply needs at least one rule or a fallback".into());
        }
        let rules = config
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| Rule::compile(r).map_err(|e| format!("invalid config at 'rules[{i}]': {e}")))
            .collect::<Result<_, _>>()?;
        let template = |field: &str, text: &Option<String>| {
            text.as_deref()
                .map(|t| Template::parse(t, &[]).map_err(|e| format!("invalid config at '{field}': {e}")))
                .transpose()
        };
        let fallback = template("fallback", &config.fallback)?;
        let welcome = template("welcome", &config.welcome)?;
        let away = match &config.away {
            Some(a) => {
                let hours = Hours::from_config(a).map_err(|e| format!("invalid config at 'away': {e}"))?;
                let message =
                    Template::parse(&a.message, &[]).map_err(|e| format!("invalid config at 'away.message': {e}"))?;
                Some(Away { hours, message, repeat_secs: a.repeat_secs })
            }
            None => None,
        };
        let etiquette = Etiquette {
            sessions: config.sessions.clone(),
            groups: config.groups,
            ignore: config.ignore.clone(),
            takeover_mins: config.takeover_mins,
            max_replies_per_minute: config.max_replies_per_minute,
        };
        Ok(Self { config, etiquette, rules, fallback, welcome, away })
    }

    fn on_event(&mut self, event: &Event) -> Vec<Action> {
        let Some(inbound) = self.etiquette.inbound(event) else { return Vec::new() };
        let (session, message, chat) = (inbound.session, inbound.message, inbound.chat);
        let contact = inbound.contact();
        // Every contact is noted when first heard, so a welcome set up later greets only new
        // ones; one that cannot be noted (the state is full) is not welcomed, or it would be
        // welcomed again every time.
        let seen = memory::first_seen(session, &contact);
        let first_contact = memory::never(&seen) && memory::mark(&seen);
        let answers = self.answers(session, &chat.id, &contact, first_contact, message);
        if answers.is_empty() || !self.chat_allows(session, chat, answers.len()) {
            return Vec::new();
        }
        let to = inbound.reply_to();
        let mut actions = Vec::new();
        for answer in answers {
            if let Some(key) = &answer.mark
                && !memory::mark(key)
            {
                continue;
            }
            if answer.media.is_some() || self.config.quote {
                let mut send = match &answer.media {
                    Some(media) => media_message(&to, media, &answer.text),
                    None => SendMessage::text(&to, &answer.text),
                };
                if self.config.quote {
                    send = send.replying_to(&message.id);
                }
                if let Err(e) = host::send(session, &send) {
                    host::log(host::Level::Warn, &format!("auto-reply not queued: {e}"));
                }
            } else {
                actions.push(Action::SendText { session: session.to_owned(), to: to.clone(), text: answer.text });
            }
        }
        actions
    }
}

wagate_plugin_sdk::export_plugin!(AutoReply);

#[cfg(test)]
mod tests {
    use super::*;
    use wagate_plugin_sdk::model::events::MessageEvent;
    use wagate_plugin_sdk::testing::{FakeHost, Harness, chat, event, message, qr};
    use wagate_plugin_sdk::{Chat, EventBody, Message, MessageOrigin, json};

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

    fn sent_by(origin: Option<MessageOrigin>) -> Event {
        let message = Message { from_me: true, origin, ..message("sales", "c1", "an agent's answer") };
        event("sales", EventBody::MessageSent(MessageEvent { message, chat: chat("sales", "c1") }))
    }

    #[test]
    fn a_person_writing_in_a_chat_holds_the_bot_back_there_for_the_takeover_time() {
        let host = FakeHost { now_ms: 1_000_000, ..Default::default() };
        let mut h = Harness::<AutoReply>::with_host(host, json!({ "fallback": "F", "takeoverMins": 10 })).unwrap();
        // The bot's own answers and sends of unknown origin take nothing over.
        assert!(h.on_event(&sent_by(Some(MessageOrigin::Bot { plugin: Some("auto-reply".into()) }))).is_empty());
        assert!(h.on_event(&sent_by(None)).is_empty());
        assert_eq!(reply_of(&h.on_event(&inbound("a"))), Some("F"));
        for person in [
            MessageOrigin::Phone,
            MessageOrigin::Api { user: Some("agent-7".into()) },
            MessageOrigin::Socket { user: None },
        ] {
            h.host(|h| h.now_ms += 11 * 60_000);
            assert!(h.on_event(&sent_by(Some(person.clone()))).is_empty());
            h.host(|h| h.now_ms += 9 * 60_000);
            assert!(h.on_event(&inbound("b")).is_empty(), "{person:?} took the chat over");
            let other = received(from_contact("x"), chat("sales", "c2"));
            assert!(!h.on_event(&other).is_empty(), "other chats are still answered");
            h.host(|h| h.now_ms += 61_000);
            assert_eq!(reply_of(&h.on_event(&inbound("c"))), Some("F"), "the takeover ended");
        }
        let mut off = Harness::<AutoReply>::new(json!({ "fallback": "F", "takeoverMins": 0 })).unwrap();
        assert!(off.on_event(&sent_by(Some(MessageOrigin::Phone))).is_empty());
        assert_eq!(reply_of(&off.on_event(&inbound("d"))), Some("F"), "0: never steps back");
    }

    #[test]
    fn never_answers_what_another_sessions_bot_wrote() {
        let mut h = Harness::<AutoReply>::new(json!({ "fallback": "F" })).unwrap();
        let from_bot = Message { origin: Some(MessageOrigin::Bot { plugin: None }), ..from_contact("beep") };
        assert!(h.on_event(&received(from_bot, chat("sales", "c1"))).is_empty());
        assert_eq!(reply_of(&h.on_event(&inbound("a person"))), Some("F"));
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
    fn a_rule_answers_with_a_file_its_reply_the_caption() {
        let config = json!({ "rules": [
            { "contains": "menu", "reply": "Our menu, {name}",
              "media": { "type": "image", "url": "https://cdn.example/menu.png" } },
            { "contains": "song", "media": { "type": "voice", "url": "https://cdn.example/hi.ogg" } },
            { "contains": "terms", "media": { "type": "document", "url": "https://cdn.example/t.pdf", "fileName": "Terms.pdf" } } ] });
        let mut h = Harness::<AutoReply>::new(config).unwrap();
        let ana = Message { from_name: Some("Ana".into()), ..from_contact("the MENU please") };
        assert!(h.on_event(&received(ana, chat("sales", "c1"))).is_empty(), "queued, not returned");
        assert!(h.on_event(&inbound("a song?")).is_empty());
        assert!(h.on_event(&inbound("terms")).is_empty());
        let to = "628123@s.whatsapp.net";
        let mut image = SendMessage::media_from_url(to, SendKind::Image, "https://cdn.example/menu.png");
        image.caption = Some("Our menu, Ana".into());
        let voice = SendMessage::media_from_url(to, SendKind::Voice, "https://cdn.example/hi.ogg");
        let mut doc = SendMessage::media_from_url(to, SendKind::Document, "https://cdn.example/t.pdf");
        doc.media.as_mut().unwrap().file_name = Some("Terms.pdf".into());
        let queued: Vec<_> = h.host(|h| h.queued.clone()).into_iter().map(|(_, q)| q).collect();
        assert_eq!(queued, vec![host::Queued::Send(image), host::Queued::Send(voice), host::Queued::Send(doc)]);
    }

    #[test]
    fn media_rules_are_checked_at_bind() {
        let bad = |media: serde_json::Value, reply: Option<&str>| {
            let mut rule = json!({ "equals": "x", "media": media });
            if let Some(r) = reply {
                rule["reply"] = json!(r);
            }
            Harness::<AutoReply>::new(json!({ "rules": [rule] })).err().unwrap()
        };
        assert_eq!(
            bad(json!({ "type": "image", "url": "ftp://x/y.png" }), None),
            "invalid config at 'rules[0]': media.url must be an http(s) URL of at most 2048 characters"
        );
        assert!(bad(json!({ "type": "sticker", "url": "https://x/y.webp" }), Some("hi")).contains("no caption"));
        assert!(Harness::<AutoReply>::new(json!({ "rules": [{ "equals": "x" }] })).err().unwrap().contains("'media'"));
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
            let m =
                Message { from_name: Some("Rina".into()), from_number: Some("+628123".into()), ..from_contact(text) };
            received(m, chat("sales", "c1"))
        };
        assert_eq!(
            reply_of(&h.on_event(&from_rina("Where is ORDER 42?"))),
            Some("Rina, order 42 on sales (+628123) 2026-12-07 08:30")
        );
        assert_eq!(reply_of(&h.on_event(&from_rina("hello"))), Some("Hi Rina"));
    }

    #[test]
    fn every_variable_a_template_may_name_has_a_value() {
        let values = variables("sales", &from_contact("x"), chrono::DateTime::default());
        let mut named: Vec<&str> = values.keys().map(String::as_str).collect();
        named.sort();
        let mut known = rules::VARIABLES.to_vec();
        known.sort();
        assert_eq!(named, known);
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

    fn texts(actions: &[Action]) -> Vec<&str> {
        actions
            .iter()
            .map(|a| match a {
                Action::SendText { text, .. } => text.as_str(),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_first_contact_is_welcomed_once_before_the_answer() {
        let mut h = Harness::<AutoReply>::new(json!({
            "welcome": "Welcome, {name}!", "rules": [{ "contains": "price", "reply": "P" }], "fallback": "F" }))
        .unwrap();
        let named =
            |text: &str| received(Message { from_name: Some("Ana".into()), ..from_contact(text) }, chat("sales", "c1"));
        assert_eq!(texts(&h.on_event(&named("price?"))), ["Welcome, Ana!", "P"]);
        assert_eq!(texts(&h.on_event(&named("price?"))), ["P"]);
        assert_eq!(texts(&h.on_event(&named("hm"))), ["F"]);
        let mut h = Harness::<AutoReply>::new(json!({ "welcome": "W", "fallback": "F" })).unwrap();
        assert_eq!(texts(&h.on_event(&inbound("hi"))), ["W"], "the welcome stands in for the fallback");
    }

    #[test]
    fn groups_only_when_asked_and_ignored_contacts_never() {
        let group =
            || received(from_contact("price"), Chat { is_group: true, jid: "g1@g.us".into(), ..chat("sales", "c1") });
        let mut h = Harness::<AutoReply>::new(json!({ "fallback": "F" })).unwrap();
        assert!(h.on_event(&group()).is_empty());
        let mut h =
            Harness::<AutoReply>::new(json!({ "fallback": "F", "groups": true, "ignore": ["+1 (555) 0100"] })).unwrap();
        match h.on_event(&group()).as_slice() {
            [Action::SendText { to, .. }] => assert_eq!(to, "g1@g.us", "a group is answered in the group"),
            other => panic!("unexpected {other:?}"),
        }
        let ignored = Message { from_jid: "15550100@s.whatsapp.net".into(), ..from_contact("x") };
        assert!(h.on_event(&received(ignored, chat("sales", "c2"))).is_empty(), "ignored, however it is written");
    }

    #[test]
    fn a_rule_cools_down_per_contact_and_a_chat_has_a_cap_per_minute() {
        let host = FakeHost { now_ms: 1_000_000, ..Default::default() };
        let config = json!({ "rules": [{ "contains": "price", "reply": "P", "cooldownSecs": 600 }], "fallback": "F",
                             "maxRepliesPerMinute": 3 });
        let mut h = Harness::<AutoReply>::with_host(host, config).unwrap();
        assert_eq!(texts(&h.on_event(&inbound("price"))), ["P"]);
        assert!(h.on_event(&inbound("price?")).is_empty(), "the rule cools down; its match takes the fallback's place");
        assert_eq!(texts(&h.on_event(&inbound("other"))), ["F"]);
        assert_eq!(texts(&h.on_event(&inbound("other"))), ["F"]);
        assert!(h.on_event(&inbound("other")).is_empty(), "three answers this minute");
        h.host(|h| h.now_ms += 60_000);
        assert_eq!(texts(&h.on_event(&inbound("other"))), ["F"], "a new minute");
        h.host(|h| h.now_ms += 600_000);
        assert_eq!(texts(&h.on_event(&inbound("price"))), ["P"], "the rule's window is over");
    }

    #[test]
    fn outside_open_hours_the_away_message_stands_in_for_the_fallback_once_an_hour() {
        // Monday 2026-12-07 22:00 in Jakarta (UTC+7): closed.
        let host = FakeHost { now_ms: 1_796_655_600_000, ..Default::default() };
        let config = json!({ "rules": [{ "contains": "price", "reply": "P" }], "fallback": "F", "away": {
            "timeZone": "Asia/Jakarta", "hours": { "mon": ["08:00-17:00"] }, "message": "Closed, {name}" } });
        let mut h = Harness::<AutoReply>::with_host(host, config).unwrap();
        assert_eq!(texts(&h.on_event(&inbound("hello"))), ["Closed, Ana"]);
        assert!(h.on_event(&inbound("hello?")).is_empty(), "once per hour");
        assert_eq!(texts(&h.on_event(&inbound("price"))), ["P"], "rules still answer");
        h.host(|h| h.now_ms += 3_600_000);
        assert_eq!(texts(&h.on_event(&inbound("hello"))), ["Closed, Ana"], "an hour later");
        // Monday 09:00 there is open.
        h.host(|h| h.now_ms = 1_796_608_800_000);
        assert_eq!(texts(&h.on_event(&inbound("hello"))), ["F"], "Monday 09:00 there");
    }

    #[test]
    fn bad_configs_are_refused_with_a_reason() {
        for (config, needle) in [
            (json!({}), "at least one rule"),
            (json!({ "rules": [{ "reply": "x" }] }), "invalid config at 'rules[0]': needs exactly one of"),
            (
                json!({ "rules": "nope" }),
                "invalid config at 'rules': invalid type: string \"nope\", expected a sequence",
            ),
            (json!({ "rules": [{ "equals": "a", "reply": 1 }] }), "invalid config at 'rules[0].reply'"),
            (json!({ "fallback": "x", "bogus": 1 }), "unknown field"),
            (json!({ "fallback": "Hi {nmae}" }), "invalid config at 'fallback': unknown variable '{nmae}'"),
            (json!({ "welcome": "Hi {1}" }), "invalid config at 'welcome': unknown variable '{1}'"),
            (
                json!({ "away": { "timeZone": "Nowhere", "message": "x" } }),
                "invalid config at 'away': 'Nowhere' is not",
            ),
            (json!({ "away": { "timeZone": "UTC", "message": "{x}" } }), "invalid config at 'away.message': unknown"),
            (
                json!({ "rules": [{ "contains": "a", "reply": "{2}" }] }),
                "invalid config at 'rules[0]': unknown variable '{2}'",
            ),
            (
                json!({ "rules": [{ "regex": "(a", "reply": "x" }] }),
                "invalid config at 'rules[0]': 'regex' does not compile",
            ),
        ] {
            let err = Harness::<AutoReply>::new(config).err().expect("refused");
            assert!(err.contains(needle), "{err}");
        }
    }
}
