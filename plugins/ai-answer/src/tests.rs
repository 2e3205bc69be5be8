use super::*;
use wagate_plugin_sdk::http::{HttpError, Method, Response};
use wagate_plugin_sdk::model::events::MessageEvent;
use wagate_plugin_sdk::testing::{FakeHost, Harness, chat, event, message};
use wagate_plugin_sdk::{Chat, EventBody, Message, MessageOrigin, Value, json};

const URL: &str = "https://llm.example/v1/chat/completions";

fn config() -> Value {
    json!({ "url": URL, "model": "m1", "apiKey": "sk-1", "systemPrompt": "Be brief.", "fallback": "Sorry, later." })
}

fn from_contact(id: &str, text: &str) -> Message {
    Message { id: id.into(), from_jid: "628123@s.whatsapp.net".into(), ..message("sales", "c1", text) }
}

fn inbound(id: &str, text: &str) -> Event {
    event(
        "sales",
        EventBody::MessageReceived(MessageEvent { message: from_contact(id, text), chat: chat("sales", "c1") }),
    )
}

fn completion(text: &str, tokens: u64) -> Result<Response, HttpError> {
    Ok(Response::json(
        200,
        &json!({ "choices": [{ "message": { "role": "assistant", "content": text } }],
        "usage": { "total_tokens": tokens } }),
    ))
}

fn reply_of(actions: &[Action]) -> Option<&str> {
    match actions {
        [Action::SendText { text, to, session }] => {
            assert_eq!((to.as_str(), session.as_str()), ("628123@s.whatsapp.net", "sales"));
            Some(text)
        }
        [] => None,
        other => panic!("unexpected {other:?}"),
    }
}

fn harness(config: Value) -> Harness<AiAnswer> {
    Harness::with_host(FakeHost { now_ms: 1_000_000, ..Default::default() }, config).unwrap()
}

#[test]
fn answers_from_the_endpoint_with_the_chat_so_far() {
    let mut h = harness(config());
    let mut earlier = from_contact("m1", "Do you ship to Lisbon?");
    earlier.timestamp -= wagate_plugin_sdk::chrono::Duration::minutes(2);
    let ours = Message { id: "m2".into(), from_me: true, ..message("sales", "c1", "Yes, in 3 days.") };
    let current = from_contact("m3", "How much is it?");
    // Newest first, as the host gives history; the message answered is in it already.
    h.host(|host| {
        host.history.insert("c1".into(), vec![current.clone(), ours, earlier]);
        host.http_answers.push_back(completion("It is 5 EUR.", 42));
    });
    assert_eq!(reply_of(&h.on_event(&inbound("m3", "How much is it?"))), Some("It is 5 EUR."));
    let sent = h.host(|host| host.http_requests.clone());
    assert_eq!(sent.len(), 1);
    let req = &sent[0];
    assert_eq!((req.method, req.url.as_str(), req.timeout_ms), (Method::Post, URL, 10_000));
    assert!(req.headers.contains(&("authorization".into(), "Bearer sk-1".into())));
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["model"], "m1");
    assert_eq!(
        body["messages"],
        json!([
            { "role": "system", "content": "Be brief." },
            { "role": "user", "content": "Do you ship to Lisbon?" },
            { "role": "assistant", "content": "Yes, in 3 days." },
            { "role": "user", "content": "How much is it?" },
        ])
    );
    let used = budget::today();
    assert_eq!((used.requests, used.tokens), (1, 42));
}

#[test]
fn the_fallback_stands_in_when_the_endpoint_fails() {
    let mut h = harness(config());
    h.host(|host| {
        host.http_answers.push_back(Err(HttpError::Timeout));
        host.http_answers.push_back(Ok(Response::json(500, &json!({ "error": "overloaded" }))));
        host.http_answers.push_back(Ok(Response::json(200, &json!({ "choices": [] }))));
        host.http_answers
            .push_back(Err(HttpError::Denied("llm.example:443 is not in this binding's allowedHosts".into())));
    });
    for (i, id) in ["a", "b", "c", "d"].into_iter().enumerate() {
        h.host(|host| host.now_ms += 60_000);
        assert_eq!(reply_of(&h.on_event(&inbound(id, "hi"))), Some("Sorry, later."), "answer {i}");
    }
    let warned = h.host(|host| host.logs.iter().filter(|(_, l)| l.contains("no answer from the endpoint")).count());
    assert_eq!(warned, 4);
    let mut silent = harness(json!({ "url": URL, "model": "m1" }));
    silent.host(|host| host.http_answers.push_back(Err(HttpError::Timeout)));
    assert!(silent.on_event(&inbound("e", "hi")).is_empty(), "no fallback: nothing is said");
}

#[test]
fn it_stops_at_the_daily_budget_and_starts_again_the_next_day() {
    let mut budgeted = config();
    budgeted["budget"] = json!({ "requestsPerDay": 2, "tokensPerDay": 1000 });
    budgeted["maxRepliesPerMinute"] = json!(0);
    let mut h = harness(budgeted.clone());
    h.host(|host| (0..5).for_each(|_| host.http_answers.push_back(completion("ok", 10))));
    assert!(reply_of(&h.on_event(&inbound("a", "1"))).is_some());
    assert!(reply_of(&h.on_event(&inbound("b", "2"))).is_some());
    assert!(h.on_event(&inbound("c", "3")).is_empty(), "two requests a day");
    assert_eq!(h.host(|host| host.http_requests.len()), 2);
    h.host(|host| host.now_ms += 86_400_000);
    assert!(reply_of(&h.on_event(&inbound("d", "4"))).is_some(), "a new day");
    let kept = h.host(|host| host.kv.keys().filter(|k| k.starts_with("budget")).count());
    assert_eq!(kept, 1, "one count, started over in place: the state does not grow by the day");
    // Tokens: one expensive answer uses the day up.
    let mut h = harness(budgeted);
    h.host(|host| host.http_answers.push_back(completion("long", 1500)));
    assert!(reply_of(&h.on_event(&inbound("a", "1"))).is_some());
    assert!(h.on_event(&inbound("b", "2")).is_empty(), "the day's tokens are spent");
    let noted = h.host(|host| host.logs.iter().filter(|(_, l)| l.contains("budget is used up")).count());
    assert_eq!(noted, 1);
}

#[test]
fn it_keeps_the_manners_of_a_bot() {
    let mut h = harness(config());
    let from_bot =
        Message { origin: Some(MessageOrigin::Bot { plugin: Some("auto-reply".into()) }), ..from_contact("a", "beep") };
    let own = Message { from_me: true, ..from_contact("b", "mine") };
    let group = Chat { is_group: true, ..chat("sales", "c1") };
    for (message, chat) in
        [(from_bot, chat("sales", "c1")), (own, chat("sales", "c1")), (from_contact("c", "x"), group)]
    {
        assert!(h.on_event(&event("sales", EventBody::MessageReceived(MessageEvent { message, chat }))).is_empty());
    }
    // A person answered in the chat: the bot steps back.
    let agent = Message {
        from_me: true,
        origin: Some(MessageOrigin::Api { user: None }),
        ..message("sales", "c1", "I'm here")
    };
    h.on_event(&event("sales", EventBody::MessageSent(MessageEvent { message: agent, chat: chat("sales", "c1") })));
    assert!(h.on_event(&inbound("d", "hello?")).is_empty());
    assert!(h.host(|host| host.http_requests.is_empty()), "nothing was asked of the endpoint");
    // Three answers a minute per chat by default.
    let mut h = harness(config());
    h.host(|host| (0..4).for_each(|_| host.http_answers.push_back(completion("ok", 1))));
    let answered = ["a", "b", "c", "d"].iter().filter(|id| !h.on_event(&inbound(id, "x")).is_empty()).count();
    assert_eq!(answered, 3);
}

#[test]
fn quoting_answers_go_through_the_messages_interface() {
    let mut quoting = config();
    quoting["quote"] = json!(true);
    let mut h = harness(quoting);
    h.host(|host| host.http_answers.push_back(completion("Hi!", 1)));
    assert!(h.on_event(&inbound("m9", "hello")).is_empty());
    let want = SendMessage::text("628123@s.whatsapp.net", "Hi!").replying_to("m9");
    assert_eq!(h.host(|host| host.queued.clone()), vec![("sales".to_owned(), host::Queued::Send(want))]);
}

#[test]
fn bad_configs_are_refused_at_bind() {
    for (config, needle) in [
        (json!({ "url": "ftp://x", "model": "m" }), "'url'"),
        (json!({ "url": URL, "model": " " }), "'model'"),
        (json!({ "url": URL, "model": "m", "history": 51 }), "'history'"),
        (json!({ "model": "m" }), "url"),
        (json!({ "url": URL, "model": "m", "budget": { "requestsPerDay": -1 } }), "budget"),
    ] {
        let err = Harness::<AiAnswer>::new(config.clone()).err().unwrap_or_else(|| panic!("{config} was taken"));
        assert!(err.contains(needle), "{config}: {err}");
    }
}
