//! The event mapping, driven by the library's own event values (this machine cannot reach
//! WhatsApp; docs/connectors.md lists what needs a real phone).

use std::sync::Arc;
use std::time::Duration;

use whatsapp_rust::prelude::{Event, InboundMessage, MessageBatch, MessageInfo, wa};
use whatsapp_rust::types::events as ev;
use whatsapp_rust::types::message::MessageSource;
use whatsapp_rust::types::presence::ReceiptType;
use whatsapp_rust::wacore::net::DisconnectReason as WaDrop;

use super::mapping::{Me, map};
use super::wa_message_id;
use crate::connector::{ConnectorEvent, DropKind, ReceiptKind};
use crate::model::MessageType;

fn jid(s: &str) -> whatsapp_rust::Jid {
    s.parse().unwrap()
}

fn me() -> Me {
    Me { phone: Some("+6281234567890".into()), push_name: Some("Sales".into()) }
}

fn one(event: Event) -> ConnectorEvent {
    let mut out = map(&event, &me(), "/data/whatsapp/t-acme/s-sales.db");
    assert_eq!(out.len(), 1, "{out:?}");
    out.remove(0)
}

#[test]
fn login_codes_and_exhaustion() {
    let qr = ev::PairingQrCode::builder().code("2@abc,def".to_owned()).timeout(Duration::from_secs(60)).build();
    assert_eq!(
        one(Event::PairingQrCode(qr)),
        ConnectorEvent::Qr { code: "2@abc,def".into(), ttl: Duration::from_secs(60) }
    );
    let code = ev::PairingCode::builder().code("ABCD1234".to_owned()).timeout(Duration::from_secs(180)).build();
    assert_eq!(
        one(Event::PairingCode(code)),
        ConnectorEvent::PairingCode { code: "ABCD1234".into(), ttl: Duration::from_secs(180) }
    );
    let done = ev::PairingQrCodesExhausted::builder().disconnected(true).build();
    assert_eq!(one(Event::PairingQrCodesExhausted(done)), ConnectorEvent::LoginTimedOut);
}

#[test]
fn pair_success_carries_phone_and_credentials() {
    let ok = ev::PairSuccess::builder()
        .id(jid("6281234567890:12@s.whatsapp.net"))
        .lid(jid("123456789012345:12@lid"))
        .business_name("Acme Store".to_owned())
        .platform("android".to_owned())
        .build();
    let ConnectorEvent::PairSuccess { phone, display_name, credentials } = one(Event::PairSuccess(ok)) else {
        panic!()
    };
    assert_eq!(phone, "+6281234567890");
    assert_eq!(display_name.as_deref(), Some("Acme Store"));
    let creds: serde_json::Value = serde_json::from_str(&credentials).unwrap();
    assert_eq!(creds["device"], "/data/whatsapp/t-acme/s-sales.db");
    assert_eq!(creds["lid"], "123456789012345:12@lid");
}

#[test]
fn connected_uses_the_clients_identity() {
    assert_eq!(
        one(Event::Connected(ev::Connected::builder().build())),
        ConnectorEvent::Connected { phone: "+6281234567890".into(), display_name: Some("Sales".into()) }
    );
    let out = map(&Event::Connected(ev::Connected::builder().build()), &Me::default(), "d");
    assert!(matches!(out[0], ConnectorEvent::Disconnected(DropKind::Failed(_))));
}

#[test]
fn drops_and_endings() {
    let drop = ev::Disconnected::builder().reason(WaDrop::ReadError("connection reset".into())).build();
    let ConnectorEvent::Reconnecting(why) = one(Event::Disconnected(drop)) else { panic!() };
    assert!(why.contains("connection reset"), "{why}");
    let out = ev::LoggedOut::builder().on_connect(false).reason(ev::ConnectFailureReason::LoggedOut).build();
    assert_eq!(one(Event::LoggedOut(out)), ConnectorEvent::Disconnected(DropKind::LoggedOut));
    assert_eq!(
        one(Event::StreamReplaced(ev::StreamReplaced::builder().build())),
        ConnectorEvent::Disconnected(DropKind::Replaced)
    );
    let ban = ev::TemporaryBan::builder()
        .code(ev::TempBanReason::SentToTooManyPeople)
        .expire(chrono::Duration::hours(24))
        .build();
    let ConnectorEvent::Disconnected(DropKind::Banned(text)) = one(Event::TemporaryBan(ban)) else { panic!() };
    assert!(text.contains("SentToTooManyPeople"), "{text}");
    let failed = ev::ConnectFailure::builder().reason(ev::ConnectFailureReason::ClientOutdated).build();
    assert!(matches!(one(Event::ConnectFailure(failed)), ConnectorEvent::Disconnected(DropKind::Failed(_))));
    let gone = ev::ConnectFailure::builder().reason(ev::ConnectFailureReason::LoggedOut).build();
    assert_eq!(one(Event::ConnectFailure(gone)), ConnectorEvent::Disconnected(DropKind::LoggedOut));
}

fn inbound(message: wa::Message, source: MessageSource, push_name: &str) -> Event {
    let info = MessageInfo {
        source,
        id: "3EB0AAAA".into(),
        push_name: push_name.into(),
        timestamp: chrono::DateTime::from_timestamp(1_768_473_000, 0).unwrap(),
        ..Default::default()
    };
    let m = InboundMessage::builder().message(Arc::new(message)).info(Arc::new(info)).build();
    let batch = MessageBatch::builder().messages(Arc::from(vec![m])).origin(ev::BatchOrigin::Live).build();
    Event::Messages(batch)
}

#[test]
fn text_from_a_lid_sender_keeps_phone_and_lid() {
    let source = MessageSource {
        chat: jid("123456789012345@lid"),
        sender: jid("123456789012345@lid"),
        sender_alt: Some(jid("628123456789@s.whatsapp.net")),
        ..Default::default()
    };
    let msg = wa::Message { conversation: Some("Hello there!".into()), ..Default::default() };
    let ConnectorEvent::Message(m) = one(inbound(msg, source, "John Doe")) else { panic!() };
    assert_eq!(m.text, "Hello there!");
    assert_eq!(m.kind, MessageType::Text);
    assert_eq!(m.from.as_str(), "628123456789@s.whatsapp.net");
    assert_eq!(m.chat.as_str(), "628123456789@s.whatsapp.net", "the chat is the person, by number");
    assert_eq!(m.from_lid.as_deref(), Some("123456789012345@lid"));
    assert_eq!(m.from_name.as_deref(), Some("John Doe"));
    assert_eq!(m.wa_id, "3EB0AAAA");
    assert_eq!(m.timestamp.timestamp(), 1_768_473_000);
}

#[test]
fn media_is_kind_caption_and_metadata() {
    let source = MessageSource {
        chat: jid("628123456789@s.whatsapp.net"),
        sender: jid("628123456789@s.whatsapp.net"),
        ..Default::default()
    };
    let image = wa::message::ImageMessage {
        caption: Some("our menu".into()),
        mimetype: Some("image/jpeg".into()),
        file_length: Some(48213),
        ..Default::default()
    };
    let msg = wa::Message { image_message: whatsapp_rust::prelude::MessageField::some(image), ..Default::default() };
    let ConnectorEvent::Message(m) = one(inbound(msg, source.clone(), "")) else { panic!() };
    assert_eq!((m.kind, m.text.as_str()), (MessageType::Image, "our menu"));
    let media = m.media.unwrap();
    assert_eq!((media["mimeType"].as_str(), media["size"].as_u64()), (Some("image/jpeg"), Some(48213)));
    assert_eq!(m.from_name, None);
    let status = MessageSource { chat: jid("status@broadcast"), ..source };
    let text = wa::Message { conversation: Some("story".into()), ..Default::default() };
    assert!(map(&inbound(text, status, ""), &me(), "d").is_empty(), "status updates are not chat messages");
}

#[test]
fn acks_and_receipts() {
    let ack = ev::ServerAck::builder().id("3EB0BBBB".to_owned()).class("message".to_owned()).build();
    assert_eq!(one(Event::ServerAck(ack)), ConnectorEvent::Ack { wa_id: "3EB0BBBB".into(), error: None });
    let nack = ev::ServerAck::builder().id("3EB0CCCC".to_owned()).error("479".to_owned()).build();
    assert_eq!(
        one(Event::ServerAck(nack)),
        ConnectorEvent::Ack { wa_id: "3EB0CCCC".into(), error: Some("479".into()) }
    );
    let receipt_ack = ev::ServerAck::builder().id("r1".to_owned()).class("receipt".to_owned()).build();
    assert!(map(&Event::ServerAck(receipt_ack), &me(), "d").is_empty());
    for (kind, want) in [
        (ReceiptType::Delivered, Some(ReceiptKind::Delivered)),
        (ReceiptType::Read, Some(ReceiptKind::Read)),
        (ReceiptType::Played, Some(ReceiptKind::Read)),
        (ReceiptType::Retry, None),
    ] {
        let source = MessageSource {
            chat: jid("628123456789@s.whatsapp.net"),
            sender: jid("628123456789@s.whatsapp.net"),
            ..Default::default()
        };
        let r = ev::Receipt::builder()
            .source(source)
            .message_ids(vec!["3EB0BBBB".into()])
            .timestamp(chrono::Utc::now())
            .r#type(kind)
            .offline(false)
            .build();
        let out = map(&Event::Receipt(r), &me(), "d");
        match want {
            Some(k) => assert_eq!(out, vec![ConnectorEvent::Receipt { wa_ids: vec!["3EB0BBBB".into()], kind: k }]),
            None => assert!(out.is_empty()),
        }
    }
}

#[test]
fn retried_sends_reuse_the_whatsapp_id() {
    let a = wa_message_id("0b7e-our-id");
    assert_eq!(a, wa_message_id("0b7e-our-id"));
    assert_ne!(a, wa_message_id("another"));
    assert!(a.starts_with("3EB0") && a.len() == 20 && a.chars().all(|c| c.is_ascii_hexdigit()), "{a}");
}
