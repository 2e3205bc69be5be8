use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use crate::events::*;
use crate::*;

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_768_473_000_000 + secs * 1000 + 123).unwrap()
}

fn chat() -> Chat {
    Chat {
        id: "c1".into(),
        session_id: "s1".into(),
        jid: "4915112345678@s.whatsapp.net".into(),
        number: Some("+4915112345678".into()),
        name: None,
        last_message: Some("hi".into()),
        last_message_at: Some(at(1)),
        unread_count: 2,
        is_group: false,
        pinned: false,
        archived: true,
    }
}

fn message() -> Message {
    Message {
        id: "m1".into(),
        wa_message_id: Some("3EB0".into()),
        session_id: "s1".into(),
        chat_id: "c1".into(),
        direction: Direction::Inbound,
        from_me: false,
        from_jid: "4915112345678@s.whatsapp.net".into(),
        from_number: Some("+4915112345678".into()),
        from_lid: None,
        from_name: Some("Ana".into()),
        kind: MessageType::Image,
        content: "caption".into(),
        media_url: None,
        media: Some(MediaInfo { mime_type: Some("image/jpeg".into()), size: Some(1234), ..Default::default() }),
        location: None,
        contact: None,
        poll: None,
        quoted: None,
        mentions: vec![],
        reactions: vec![],
        edited_at: None,
        revoked_at: None,
        link_preview: None,
        origin: None,
        media_expired_at: None,
        status: MessageStatus::Delivered,
        error: None,
        timestamp: at(0),
        sent_at: Some(at(1)),
        delivered_at: Some(at(2)),
        read_at: None,
    }
}

/// A message carrying every optional block, to prove each round-trips.
fn rich_message() -> Message {
    Message {
        kind: MessageType::Poll,
        content: "Lunch?".into(),
        media: None,
        location: Some(Location { latitude: -6.2, longitude: 106.8, name: Some("Monas".into()), address: None }),
        contact: Some(ContactCard { name: "Ana".into(), vcard: "BEGIN:VCARD\nEND:VCARD".into() }),
        poll: Some(Poll {
            question: "Lunch?".into(),
            options: vec![
                PollOption { name: "Rice".into(), voters: vec!["1@s.whatsapp.net".into()] },
                PollOption { name: "Noodles".into(), voters: vec![] },
            ],
            selectable_count: 1,
        }),
        quoted: Some(Quoted {
            message_id: Some("m0".into()),
            wa_message_id: "3EA0".into(),
            from_jid: None,
            content: Some("hi".into()),
        }),
        mentions: vec!["4915112345678@s.whatsapp.net".into()],
        reactions: vec![Reaction { from_jid: "1@s.whatsapp.net".into(), emoji: "👍".into(), at: at(3) }],
        edited_at: Some(at(4)),
        revoked_at: Some(at(5)),
        link_preview: None,
        origin: None,
        media_expired_at: None,
        ..message()
    }
}

/// One body of every kind the model knows.
fn every_body() -> Vec<EventBody> {
    vec![
        EventBody::SessionStatus(SessionStatusChanged {
            status: SessionStatus::Connected,
            previous_status: Some(SessionStatus::Pairing),
            reason: None,
            phone: Some("+4915112345678".into()),
            display_name: Some("Shop".into()),
        }),
        EventBody::SessionQr(SessionQr {
            qr: "2@abc".into(),
            data_url: "data:image/png;base64,AAAA".into(),
            expires_at: at(60),
            attempt: 1,
            max_attempts: 5,
        }),
        EventBody::SessionPairingCode(SessionPairingCode {
            code: "ABCD1234".into(),
            phone_number: "+4915112345678".into(),
            expires_at: at(180),
        }),
        EventBody::SessionConnected(SessionConnected { phone: Some("+1".into()), display_name: None }),
        EventBody::SessionDisconnected(SessionDisconnected {
            reason: DisconnectReason::ConnectionLost,
            message: Some("socket closed".into()),
            will_reconnect: true,
        }),
        EventBody::SessionError(SessionError { code: "reconnect_failed".into(), message: "gave up".into() }),
        EventBody::SessionQueue(QueueState {
            depth: 12,
            max_depth: 1000,
            waiting_for: Some(QueueWait::Rate),
            next_send_at: Some(at(3)),
            oldest_queued_at: Some(at(-40)),
        }),
        EventBody::MessageReceived(MessageEvent { message: message(), chat: chat() }),
        EventBody::MessageSent(MessageEvent { message: message(), chat: chat() }),
        EventBody::MessageStatus(MessageStatusChanged {
            message_id: "m1".into(),
            wa_message_id: None,
            chat_id: "c1".into(),
            status: MessageStatus::Read,
            previous_status: MessageStatus::Delivered,
            error: None,
        }),
        EventBody::MessageReaction(MessageReaction {
            message: rich_message(),
            from_jid: "1@s.whatsapp.net".into(),
            emoji: "👍".into(),
            removed: false,
        }),
        EventBody::MessageEdited(MessageEdited { message: rich_message(), previous_content: "Lunch".into() }),
        EventBody::MessageRevoked(MessageRevoked { message: message() }),
        EventBody::PollVote(PollVote {
            message: rich_message(),
            voter_jid: "1@s.whatsapp.net".into(),
            selected: vec!["Rice".into()],
        }),
        EventBody::MessageMedia(MessageMedia { message: rich_message() }),
        EventBody::ChatUpdated(ChatUpdated { chat: chat() }),
        EventBody::ChatRead(ChatRead { chat_id: "c1".into(), chat: chat() }),
        EventBody::GroupParticipants(GroupParticipants {
            group_jid: "120363025246125486@g.us".into(),
            chat_id: "c2".into(),
            action: ParticipantAction::Promote,
            participants: vec!["1@s.whatsapp.net".into()],
            by: Some("2@s.whatsapp.net".into()),
        }),
        EventBody::GroupUpdated(GroupUpdated {
            group_jid: "120363025246125486@g.us".into(),
            chat_id: "c2".into(),
            field: GroupField::Description,
            value: None,
            by: None,
        }),
        EventBody::TenantStats(TenantStatsUpdated {
            stats: TenantStats { sessions: 3, unread: 7, ..Default::default() },
        }),
        EventBody::WebhookDisabled(WebhookDisabled {
            webhook_id: "wh_1".into(),
            url: "https://crm.example/hook".into(),
            reason: "the endpoint answered 410 Gone".into(),
        }),
    ]
}

#[test]
fn every_event_kind_round_trips_through_its_payload() {
    let bodies = every_body();
    let names: Vec<&str> = bodies.iter().map(EventBody::name).collect();
    assert_eq!(names, EVENT_NAMES, "every_body() covers every kind, in order");
    for (i, body) in bodies.into_iter().enumerate() {
        let session_id = (!matches!(body.name(), "tenant.stats" | "webhook.disabled")).then(|| "s1".to_owned());
        let event = Event { tenant_id: "t1".into(), session_id, seq: i as u64 + 1, timestamp: at(5), body };
        let text = event.payload().to_string();
        let back = Event::parse(event.name(), &text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(back, event, "{text}");
        assert_eq!(EventBody::decode(event.name(), &text).unwrap(), event.body);
    }
}

#[test]
fn the_payload_is_the_envelope_then_the_body_in_wire_names() {
    let event = Event {
        tenant_id: "t1".into(),
        session_id: Some("s1".into()),
        seq: 9,
        timestamp: at(0),
        body: EventBody::ChatRead(ChatRead { chat_id: "c1".into(), chat: chat() }),
    };
    let text = serde_json::to_string(&event).unwrap();
    let order: Vec<usize> = ["\"tenantId\"", "\"sessionId\"", "\"timestamp\"", "\"seq\"", "\"chatId\"", "\"chat\""]
        .iter()
        .map(|key| text.find(key).unwrap_or_else(|| panic!("{key} missing: {text}")))
        .collect();
    assert!(order.is_sorted(), "envelope first, then the body: {text}");
    let payload = event.payload();
    assert_eq!(payload.as_object().unwrap().len(), 6);
    assert_eq!(payload["timestamp"], "2026-01-15T10:30:00.123Z");
    assert_eq!(payload["chat"]["lastMessageAt"], "2026-01-15T10:30:01.123Z");
    assert_eq!(payload["chat"]["unreadCount"], 2);
    let stats = Event { session_id: None, body: every_body().pop().unwrap(), ..event };
    assert!(stats.payload().get("sessionId").is_none());
}

#[test]
fn an_envelope_that_is_not_at_the_front_is_still_read() {
    let text = r#"{"code":"x","message":"y","seq":7,"timestamp":"2026-01-15T10:30:00.123Z","tenantId":"t1"}"#;
    let event = Event::parse("session.error", text).unwrap();
    assert_eq!((event.seq, event.tenant_id.as_str(), event.session_id), (7, "t1", None));
    assert_eq!(event.timestamp, at(0));
    assert!(Event::parse("session.error", r#"{"code":"x","message":"y","seq":7}"#).is_err(), "no envelope at all");
}

#[test]
fn the_time_of_an_envelope_is_found_wherever_it_is_and_never_in_the_body() {
    let first = serde_json::to_string(&Event {
        tenant_id: "t1".into(),
        session_id: Some("s1".into()),
        seq: 9,
        timestamp: at(0),
        body: EventBody::MessageReceived(MessageEvent { message: message(), chat: chat() }),
    })
    .unwrap();
    assert_eq!(Envelope::timestamp_of(&first), Some(at(0)));
    let last = r#"{"code":"x","seq":7,"tenantId":"t1","timestamp":"2026-01-15T10:30:00.123Z"}"#;
    assert_eq!(Envelope::timestamp_of(last), Some(at(0)));
    // A key of a nested object is not the envelope's; a quoted key inside a string cannot be
    // one (its quotes are escaped).
    let nested = r#"{"tenantId":"t1","message":{"timestamp":"2026-01-15T10:30:00.123Z"}}"#;
    assert_eq!(Envelope::timestamp_of(nested), None);
    let in_string = r#"{"tenantId":"a\"timestamp\":\"2026-01-15T10:30:00.123Z","seq":1}"#;
    assert_eq!(Envelope::timestamp_of(in_string), None);
    assert_eq!(Envelope::timestamp_of(""), None);
}

#[test]
fn blocks_of_other_kinds_are_left_out_of_the_payload() {
    let text = serde_json::to_string(&message()).unwrap();
    for key in ["location", "contact", "poll", "quoted", "mentions", "reactions", "editedAt", "revokedAt"] {
        assert!(!text.contains(&format!("\"{key}\"")), "{key} in {text}");
    }
    // A payload written before these blocks existed still reads.
    let mut old: serde_json::Value = serde_json::from_str(&text).unwrap();
    old["media"] = json!({ "mimeType": "image/png", "size": 9, "addedLater": true });
    let back: Message = serde_json::from_value(old).unwrap();
    assert_eq!(back.media.unwrap().mime_type.as_deref(), Some("image/png"));
}

#[test]
fn unknown_kinds_become_other_with_their_payload() {
    let text = r#"{"tenantId":"t1","timestamp":"2026-01-15T10:30:00.000Z","seq":3,"presence":"composing"}"#;
    let event = Event::parse("presence.updated", text).unwrap();
    let EventBody::Other(other) = &event.body else { panic!("{:?}", event.body) };
    assert_eq!(other.name, "presence.updated");
    assert_eq!(other.payload["presence"], "composing");
    assert_eq!(event.name(), "presence.updated");
    assert!(!event.body.goes_to_tenant_room());
    // Serialised again, an unknown event is its payload as it came.
    assert_eq!(serde_json::to_value(&event.body).unwrap(), serde_json::from_str::<serde_json::Value>(text).unwrap());
}

#[test]
fn a_known_kind_with_a_wrong_payload_is_an_error_that_names_it() {
    let err = EventBody::decode("session.qr", r#"{"qr": 7}"#).unwrap_err();
    assert!(err.to_string().contains("session.qr"), "{err}");
    assert!(EventBody::decode("session.qr", "not json").is_err());
    // Fields a newer gateway adds are ignored, so old plugins keep reading new payloads.
    let newer = r#"{"code":"x","message":"y","hint":"added later"}"#;
    assert!(matches!(EventBody::decode("session.error", newer), Ok(EventBody::SessionError(_))));
}

#[test]
fn lifecycle_kinds_go_to_the_whole_tenant() {
    let bodies = every_body();
    let wide: Vec<&str> = bodies.iter().filter(|b| b.goes_to_tenant_room()).map(EventBody::name).collect();
    assert_eq!(wide, ["session.status", "session.connected", "session.disconnected", "session.error", "tenant.stats", "webhook.disabled"]);
}

#[cfg(feature = "openapi")]
#[test]
fn the_json_schema_defines_every_event_and_resolves_every_reference() {
    let doc = crate::schema::events_json_schema();
    let defs = doc["$defs"].as_object().unwrap();
    for name in EVENT_NAMES {
        assert!(defs.contains_key(*name), "{name}");
    }
    for ty in ["Envelope", "Message", "Chat", "SessionStatus", "TenantStats"] {
        assert!(defs.contains_key(ty), "{ty}");
    }
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"#/$defs/").skip(1) {
        let target = &reference[..reference.find('"').unwrap()];
        assert!(defs.contains_key(target), "dangling reference {target}");
    }
    assert!(!text.contains("#/components/"));
}
