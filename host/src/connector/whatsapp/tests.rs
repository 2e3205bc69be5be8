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
use super::{outgoing, polls, wa_message_id};
use crate::connector::{ConnectorEvent, DropKind, Outgoing, OutgoingBody, QuotedRef, ReceiptKind};
use crate::model::{ContactCard, Jid, Location, MessageType};
use whatsapp_rust::prelude::{MessageExt, MessageField};

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
    let media = m.details.media.unwrap();
    assert_eq!((media.mime_type.as_deref(), media.size), (Some("image/jpeg"), Some(48213)));
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

fn person() -> MessageSource {
    MessageSource {
        chat: jid("628123456789@s.whatsapp.net"),
        sender: jid("628123456789@s.whatsapp.net"),
        ..Default::default()
    }
}

fn key_of(id: &str) -> MessageField<wa::MessageKey> {
    MessageField::some(wa::MessageKey { id: Some(id.into()), ..Default::default() })
}

#[test]
fn a_reply_carries_its_quote_and_mentions() {
    let ctx = wa::ContextInfo {
        stanza_id: Some("3EB0QUOTED".into()),
        participant: Some("6281111111111@s.whatsapp.net".into()),
        quoted_message: MessageField::some(wa::Message {
            conversation: Some("the question".into()),
            ..Default::default()
        }),
        mentioned_jid: vec!["6282222222222@s.whatsapp.net".into()],
        ..Default::default()
    };
    let text = wa::message::ExtendedTextMessage {
        text: Some("the answer @6282222222222".into()),
        context_info: MessageField::some(ctx),
        ..Default::default()
    };
    let msg = wa::Message { extended_text_message: MessageField::some(text), ..Default::default() };
    let ConnectorEvent::Message(m) = one(inbound(msg, person(), "")) else { panic!() };
    let q = m.details.quoted.unwrap();
    assert_eq!((q.wa_id.as_str(), q.text.as_deref()), ("3EB0QUOTED", Some("the question")));
    assert_eq!(q.sender.unwrap().as_str(), "6281111111111@s.whatsapp.net");
    assert_eq!(m.details.mentions, vec!["6282222222222@s.whatsapp.net".to_owned()]);
}

#[test]
fn locations_contacts_and_polls_are_typed() {
    let loc = wa::message::LocationMessage {
        degrees_latitude: Some(-6.175),
        degrees_longitude: Some(106.827),
        name: Some("Monas".into()),
        ..Default::default()
    };
    let msg = wa::Message { location_message: MessageField::some(loc), ..Default::default() };
    let ConnectorEvent::Message(m) = one(inbound(msg, person(), "")) else { panic!() };
    assert_eq!((m.kind, m.text.as_str()), (MessageType::Location, "Monas"));
    assert_eq!(m.details.location.unwrap().latitude, -6.175);

    let card = wa::message::ContactMessage {
        display_name: Some("Ana".into()),
        vcard: Some("BEGIN:VCARD\nEND:VCARD".into()),
        ..Default::default()
    };
    let msg = wa::Message { contact_message: MessageField::some(card), ..Default::default() };
    let ConnectorEvent::Message(m) = one(inbound(msg, person(), "")) else { panic!() };
    assert_eq!(m.details.contact.unwrap().name, "Ana");

    let option = |name: &str| wa::message::poll_creation_message::Option {
        option_name: Some(name.into()),
        ..Default::default()
    };
    let poll = wa::message::PollCreationMessage {
        name: Some("Lunch?".into()),
        options: vec![option("Rice"), option("Noodles")],
        selectable_options_count: Some(1),
        ..Default::default()
    };
    let msg = wa::Message { poll_creation_message_v3: MessageField::some(poll), ..Default::default() };
    let ConnectorEvent::Message(m) = one(inbound(msg, person(), "")) else { panic!() };
    let p = m.details.poll.unwrap();
    assert_eq!((m.kind, p.question.as_str(), p.options.len(), p.selectable_count), (MessageType::Poll, "Lunch?", 2, 1));
}

#[test]
fn reactions_edits_and_revokes_name_the_earlier_message() {
    use wa::message::protocol_message::Type;
    let reaction =
        wa::message::ReactionMessage { key: key_of("3EB0TARGET"), text: Some("👍".into()), ..Default::default() };
    let msg = wa::Message { reaction_message: MessageField::some(reaction), ..Default::default() };
    let ConnectorEvent::Reaction { target_wa_id, emoji, from, .. } = one(inbound(msg, person(), "")) else { panic!() };
    assert_eq!(
        (target_wa_id.as_str(), emoji.as_str(), from.as_str()),
        ("3EB0TARGET", "👍", "628123456789@s.whatsapp.net")
    );

    let revoke =
        wa::message::ProtocolMessage { key: key_of("3EB0GONE"), r#type: Some(Type::REVOKE), ..Default::default() };
    let msg = wa::Message { protocol_message: MessageField::some(revoke), ..Default::default() };
    let ConnectorEvent::Revoked { target_wa_id, .. } = one(inbound(msg, person(), "")) else { panic!() };
    assert_eq!(target_wa_id, "3EB0GONE");

    let edit = wa::message::ProtocolMessage {
        key: key_of("3EB0EDITED"),
        r#type: Some(Type::MESSAGE_EDIT),
        edited_message: MessageField::some(wa::Message {
            conversation: Some("fixed typo".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    // Edits arrive wrapped, as the library receives them.
    let wrapped = wa::Message {
        edited_message: MessageField::some(wa::message::FutureProofMessage {
            message: MessageField::some(wa::Message {
                protocol_message: MessageField::some(edit),
                ..Default::default()
            }),
        }),
        ..Default::default()
    };
    let ConnectorEvent::Edited { target_wa_id, text, .. } = one(inbound(wrapped, person(), "")) else { panic!() };
    assert_eq!((target_wa_id.as_str(), text.as_str()), ("3EB0EDITED", "fixed typo"));

    let key_share = wa::message::ProtocolMessage { r#type: Some(Type::APP_STATE_SYNC_KEY_SHARE), ..Default::default() };
    let msg = wa::Message { protocol_message: MessageField::some(key_share), ..Default::default() };
    assert!(map(&inbound(msg, person(), ""), &me(), "d").is_empty(), "other protocol messages are not content");
}

#[test]
fn outgoing_messages_become_the_protobufs_whatsapp_takes() {
    let chat = Jid::parse("628123456789@s.whatsapp.net").unwrap();
    let plain = Outgoing { body: OutgoingBody::Text("hi".into()), quoted: None, mentions: vec![], link_preview: None, poll_secret: None };
    assert_eq!(outgoing::message(&plain).unwrap().conversation.as_deref(), Some("hi"));

    let quoted =
        QuotedRef { wa_id: "3EB0Q".into(), sender: Some(chat.clone()), from_me: false, text: Some("q".into()) };
    let mention = Jid::parse("6282222222222@s.whatsapp.net").unwrap();
    let reply =
        Outgoing { body: OutgoingBody::Text("a".into()), quoted: Some(quoted.clone()), mentions: vec![mention], link_preview: None, poll_secret: None };
    let msg = outgoing::message(&reply).unwrap();
    let ctx = msg.extended_text_message.as_option().unwrap().context_info.as_option().unwrap();
    assert_eq!(ctx.stanza_id.as_deref(), Some("3EB0Q"));
    assert_eq!(ctx.participant.as_deref(), Some("628123456789@s.whatsapp.net"));
    assert_eq!(ctx.mentioned_jid, vec!["6282222222222@s.whatsapp.net".to_owned()]);
    assert_eq!(ctx.quoted_message.as_option().unwrap().text_content(), Some("q"));

    let place = Location { latitude: 1.5, longitude: 2.5, name: Some("here".into()), address: None };
    let msg =
        outgoing::message(&Outgoing { body: OutgoingBody::Location(place), quoted: Some(quoted), mentions: vec![], link_preview: None, poll_secret: None })
            .unwrap();
    let l = msg.location_message.as_option().unwrap();
    assert_eq!((l.degrees_latitude, l.name.as_deref()), (Some(1.5), Some("here")));
    assert!(l.context_info.as_option().is_some(), "a located reply keeps its quote");

    let card = ContactCard { name: "Ana".into(), vcard: "BEGIN:VCARD\nEND:VCARD".into() };
    let msg =
        outgoing::message(&Outgoing { body: OutgoingBody::Contact(card), quoted: None, mentions: vec![], link_preview: None, poll_secret: None }).unwrap();
    assert_eq!(msg.contact_message.as_option().unwrap().display_name.as_deref(), Some("Ana"));

    let group = Jid::parse("120363025246125486@g.us").unwrap();
    let theirs = QuotedRef { wa_id: "X".into(), sender: Some(chat.clone()), from_me: false, text: None };
    assert_eq!(outgoing::key(&group, &theirs).participant.as_deref(), Some("628123456789@s.whatsapp.net"));
    assert_eq!(outgoing::key(&chat, &theirs).participant, None);
    let ours = QuotedRef { from_me: true, ..theirs };
    assert_eq!((outgoing::key(&group, &ours).participant, outgoing::key(&group, &ours).from_me), (None, Some(true)));
}

#[test]
fn inbound_media_carries_where_its_file_is() {
    let image = wa::message::ImageMessage {
        mimetype: Some("image/jpeg".into()),
        file_length: Some(3),
        direct_path: Some("/v/t62.7118-24/abc".into()),
        media_key: Some(vec![1; 32]),
        file_sha256: Some(vec![2; 32]),
        file_enc_sha256: Some(vec![3; 32]),
        ..Default::default()
    };
    let msg = wa::Message { image_message: MessageField::some(image), ..Default::default() };
    let ConnectorEvent::Message(m) = one(inbound(msg, person(), "")) else { panic!() };
    let source = m.details.media_source.expect("a download reference");
    let file: outgoing::CdnFile = serde_json::from_str(&source.0).unwrap();
    assert_eq!((file.direct_path.as_str(), file.file_length), ("/v/t62.7118-24/abc", 3));
    let params = file.params().unwrap();
    assert_eq!((params.media_key.unwrap(), params.file_sha256), (vec![1; 32], vec![2; 32]));
    // It names its message, for a re-upload request once the CDN forgets the file.
    let origin = file.origin.clone().expect("the message it came with");
    assert_eq!((origin.message_id.as_str(), origin.from_me, origin.participant), ("3EB0AAAA", false, None));
    assert_eq!(file.media_key_bytes(), Some(vec![1; 32]));
    let in_group = MessageSource {
        chat: jid("120363025246125486@g.us"),
        sender: jid("628123456789@s.whatsapp.net"),
        is_group: true,
        ..Default::default()
    };
    let image = wa::Message {
        image_message: MessageField::some(wa::message::ImageMessage {
            mimetype: Some("image/jpeg".into()),
            direct_path: Some("/v/x".into()),
            media_key: Some(vec![1; 32]),
            file_sha256: Some(vec![2; 32]),
            file_enc_sha256: Some(vec![3; 32]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let ConnectorEvent::Message(g) = one(inbound(image, in_group, "")) else { panic!() };
    let file: outgoing::CdnFile = serde_json::from_str(&g.details.media_source.unwrap().0).unwrap();
    let origin = file.origin.unwrap();
    assert_eq!(
        (origin.chat.as_str(), origin.participant.as_deref()),
        ("120363025246125486@g.us", Some("628123456789@s.whatsapp.net"))
    );
    // Without the keys there is nothing to download.
    let bare = wa::message::ImageMessage { mimetype: Some("image/jpeg".into()), ..Default::default() };
    let msg = wa::Message { image_message: MessageField::some(bare), ..Default::default() };
    let ConnectorEvent::Message(m) = one(inbound(msg, person(), "")) else { panic!() };
    assert_eq!(m.details.media_source, None);
}

#[test]
fn uploaded_files_become_media_messages_of_their_kind() {
    use crate::connector::OutgoingMedia;
    use crate::media::kinds::MediaKind;
    use crate::model::MediaInfo;
    let up = outgoing::Uploaded {
        url: "https://mmg.whatsapp.net/x".into(),
        direct_path: "/x".into(),
        media_key: vec![1; 32],
        file_enc_sha256: vec![2; 32],
        file_sha256: vec![3; 32],
        file_length: 10,
        media_key_timestamp: 1_768_473_000,
        streaming_sidecar: None,
    };
    let file = |kind, name: Option<&str>, caption: &str| OutgoingMedia {
        kind,
        info: MediaInfo { mime_type: Some("x/y".into()), file_name: name.map(Into::into), ..Default::default() },
        caption: caption.into(),
        data: bytes::Bytes::from_static(b"0123456789"),
    };
    let voice = outgoing::media_message(&file(MediaKind::Voice, None, ""), up.clone(), None, &[]);
    let a = voice.audio_message.as_option().unwrap();
    assert_eq!((a.ptt, a.file_length, a.direct_path.as_deref()), (Some(true), Some(10), Some("/x")));
    let doc = outgoing::media_message(&file(MediaKind::Document, Some("invoice.pdf"), "March"), up.clone(), None, &[]);
    let d = doc.document_message.as_option().unwrap();
    assert_eq!((d.file_name.as_deref(), d.caption.as_deref()), (Some("invoice.pdf"), Some("March")));
    let chat = Jid::parse("628123456789@s.whatsapp.net").unwrap();
    let quoted = QuotedRef { wa_id: "3EB0Q".into(), sender: Some(chat), from_me: false, text: None };
    let image = outgoing::media_message(&file(MediaKind::Image, None, "look"), up, Some(&quoted), &[]);
    let i = image.image_message.as_option().unwrap();
    assert_eq!(i.caption.as_deref(), Some("look"));
    assert_eq!(i.context_info.as_option().unwrap().stanza_id.as_deref(), Some("3EB0Q"));
}

fn participant(jid_: &str, phone: Option<&str>) -> whatsapp_rust::wacore::stanza::groups::GroupParticipantInfo {
    whatsapp_rust::wacore::stanza::groups::GroupParticipantInfo {
        jid: jid(jid_),
        phone_number: phone.map(jid),
        display_name: None,
        r#type: None,
        lid: None,
        username: None,
        join_time: None,
        group_history_sent_state: None,
    }
}

fn group_update(by: &str, by_pn: Option<&str>, action: whatsapp_rust::wacore::stanza::groups::GroupNotificationAction) -> Event {
    Event::GroupUpdate(
        ev::GroupUpdate::builder()
            .group_jid(jid("120363025246125486@g.us"))
            .participant(jid(by))
            .maybe_participant_pn(by_pn.map(jid))
            .timestamp(chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap())
            .is_lid_addressing_mode(by.ends_with("@lid"))
            .action(action)
            .build(),
    )
}

#[test]
fn other_members_group_changes_become_group_events_with_phone_numbers() {
    use crate::connector::groups::{GroupChange, GroupEvent};
    use crate::model::ParticipantAction;
    use whatsapp_rust::wacore::stanza::groups::GroupNotificationAction as A;

    let group = Jid::parse("120363025246125486@g.us").unwrap();
    let ann = Jid::parse("6281111111111@s.whatsapp.net").unwrap();
    let bob = Jid::parse("6282222222222@s.whatsapp.net").unwrap();
    let at = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap();
    // A LID-addressed group: members are reported as their numbers where the library knows them.
    let added = group_update(
        "111@lid",
        Some("6281111111111@s.whatsapp.net"),
        A::Add { participants: vec![participant("222@lid", Some("6282222222222@s.whatsapp.net"))], reason: None },
    );
    assert_eq!(
        one(added),
        ConnectorEvent::Group(GroupEvent {
            group: group.clone(),
            by: Some(ann.clone()),
            change: GroupChange::Members { action: ParticipantAction::Add, jids: vec![bob.clone()] },
            timestamp: at,
        })
    );
    for (action, expected) in [
        (A::Remove { participants: vec![participant("6282222222222@s.whatsapp.net", None)], reason: None }, ParticipantAction::Remove),
        (A::Promote { participants: vec![participant("6282222222222@s.whatsapp.net", None)] }, ParticipantAction::Promote),
        (A::Demote { participants: vec![participant("6282222222222@s.whatsapp.net", None)] }, ParticipantAction::Demote),
    ] {
        let ConnectorEvent::Group(e) = one(group_update("6281111111111@s.whatsapp.net", None, action)) else { panic!() };
        assert_eq!(e.change, GroupChange::Members { action: expected, jids: vec![bob.clone()] });
        assert_eq!(e.by, Some(ann.clone()));
    }
    let subject = A::Subject { subject: "Street 12".into(), subject_owner: None, subject_time: None };
    let ConnectorEvent::Group(e) = one(group_update("6281111111111@s.whatsapp.net", None, subject)) else { panic!() };
    assert_eq!(e.change, GroupChange::Subject("Street 12".into()));
    let removed = A::Description { id: "d1".into(), description: None };
    let ConnectorEvent::Group(e) = one(group_update("6281111111111@s.whatsapp.net", None, removed)) else { panic!() };
    assert_eq!(e.change, GroupChange::Description(None));
}

#[test]
fn our_own_group_changes_and_unmodelled_settings_are_not_reported_again() {
    use whatsapp_rust::wacore::stanza::groups::GroupNotificationAction as A;
    // `me()` is +6281234567890: the echo of what the gateway did itself.
    let own = group_update("6281234567890:3@s.whatsapp.net", None, A::Subject { subject: "x".into(), subject_owner: None, subject_time: None });
    assert!(map(&own, &me(), "d").is_empty());
    let own_by_lid = group_update("999@lid", Some("6281234567890@s.whatsapp.net"), A::Promote { participants: vec![] });
    assert!(map(&own_by_lid, &me(), "d").is_empty());
    let locked = group_update("6281111111111@s.whatsapp.net", None, A::Locked { threshold: None });
    assert!(map(&locked, &me(), "d").is_empty());
}

#[test]
fn group_metadata_becomes_group_info_with_roles() {
    use crate::connector::groups::Member;
    use crate::model::GroupRole;
    use whatsapp_rust::{GroupMetadata, GroupParticipant, ParticipantType};

    let member = |j: &str, pn: Option<&str>, t| GroupParticipant {
        jid: jid(j),
        phone_number: pn.map(jid),
        lid: None,
        username: None,
        participant_type: t,
        details: None,
    };
    let meta = GroupMetadata {
        id: jid("120363025246125486@g.us"),
        subject: "Family".into(),
        participants: vec![
            member("6281111111111@s.whatsapp.net", None, ParticipantType::SuperAdmin),
            member("222@lid", Some("6282222222222@s.whatsapp.net"), ParticipantType::Admin),
            member("6283333333333@s.whatsapp.net", None, ParticipantType::Member),
        ],
        creator: Some(jid("6281111111111@s.whatsapp.net")),
        creation_time: Some(1_767_225_600),
        description: Some("Weekend plans".into()),
        is_locked: true,
        ..Default::default()
    };
    let info = super::groups::group_info(&meta).unwrap();
    assert_eq!(info.jid.as_str(), "120363025246125486@g.us");
    assert_eq!((info.subject.as_str(), info.description.as_deref()), ("Family", Some("Weekend plans")));
    assert_eq!(info.owner, Some(Jid::parse("6281111111111@s.whatsapp.net").unwrap()));
    assert_eq!(info.created_at, chrono::DateTime::from_timestamp(1_767_225_600, 0));
    assert!(info.locked && !info.announce);
    let j = |s: &str| Jid::parse(s).unwrap();
    assert_eq!(
        info.members,
        vec![
            Member { jid: j("6281111111111@s.whatsapp.net"), lid: None, role: GroupRole::Superadmin },
            Member { jid: j("6282222222222@s.whatsapp.net"), lid: Some(j("222@lid")), role: GroupRole::Admin },
            Member { jid: j("6283333333333@s.whatsapp.net"), lid: None, role: GroupRole::Member },
        ]
    );
}

#[test]
fn link_previews_go_out_and_come_in_as_extended_texts() {
    use crate::model::LinkPreview;
    let preview = LinkPreview {
        url: "https://example.com/menu".into(),
        title: Some("Our menu".into()),
        description: Some("Open 9 to 5".into()),
    };
    let out = Outgoing {
        body: OutgoingBody::Text("see https://example.com/menu".into()),
        quoted: None,
        mentions: vec![],
        link_preview: Some(preview.clone()),
        poll_secret: None,
    };
    let msg = outgoing::message(&out).unwrap();
    let ext = msg.extended_text_message.as_option().unwrap();
    assert_eq!(ext.text.as_deref(), Some("see https://example.com/menu"));
    assert_eq!((ext.matched_text.as_deref(), ext.title.as_deref()), (Some("https://example.com/menu"), Some("Our menu")));
    assert!(ext.context_info.as_option().is_none(), "no reply, no context");
    let ConnectorEvent::Message(m) = one(inbound(msg, person(), "")) else { panic!() };
    assert_eq!((m.text.as_str(), m.details.link_preview), ("see https://example.com/menu", Some(preview)));
    // A link without a title or description shows no preview.
    let bare = wa::message::ExtendedTextMessage {
        text: Some("x https://e.com".into()),
        matched_text: Some("https://e.com".into()),
        ..Default::default()
    };
    let msg = wa::Message { extended_text_message: MessageField::some(bare), ..Default::default() };
    let ConnectorEvent::Message(m) = one(inbound(msg, person(), "")) else { panic!() };
    assert_eq!(m.details.link_preview, None);
}

#[test]
fn polls_go_out_with_their_secret_and_the_votes_on_them_open_with_it() {
    use crate::connector::votes::{chosen, option_hash};
    use whatsapp_rust::wacore::poll::{self, PollVoteAddressing, PollVoteCiphertext};
    let secret = vec![7u8; 32];
    let options = ["Rice".to_owned(), "Noodles".to_owned(), "Both".to_owned()];
    let single = polls::creation_message("Lunch?", &options, 1, &secret, None);
    let p = single.poll_creation_message_v3.as_option().expect("single choice goes as v3");
    assert_eq!((p.name.as_deref(), p.options.len(), p.selectable_options_count), (Some("Lunch?"), 3, Some(1)));
    let multi = polls::creation_message("Lunch?", &options, 2, &secret, outgoing::context(None, &[jid_of("6282222222222@s.whatsapp.net")]));
    let p = multi.poll_creation_message.as_option().expect("multiple choice goes as v1");
    assert_eq!(p.context_info.as_option().unwrap().mentioned_jid, ["6282222222222@s.whatsapp.net"]);

    // A contact's poll comes in with the secret it carries.
    let ConnectorEvent::Message(m) = one(inbound(single, person(), "")) else { panic!("a poll is a message") };
    assert_eq!((m.kind, m.details.poll_secret.as_deref()), (MessageType::Poll, Some(&secret[..])));

    // A vote sealed as WhatsApp's clients seal it arrives sealed and opens with the secret.
    let (creator, voter) = ("15550000001@s.whatsapp.net", "628123456789@s.whatsapp.net");
    let hashes = vec![option_hash("Both").to_vec(), option_hash("Rice").to_vec()];
    let (payload, iv) = poll::encrypt_poll_vote_with_secret(&hashes, &secret, "3EB0POLL", creator, voter).unwrap();
    let update = wa::message::PollUpdateMessage {
        poll_creation_message_key: key_of("3EB0POLL"),
        vote: MessageField::some(wa::message::PollEncValue { enc_payload: Some(payload), enc_iv: Some(iv.to_vec()) }),
        ..Default::default()
    };
    let msg = wa::Message { poll_update_message: MessageField::some(update), ..Default::default() };
    let ConnectorEvent::PollVote { chat, poll_wa_id, voter: by, vote } = one(inbound(msg, person(), "")) else {
        panic!("a vote is not a message")
    };
    assert_eq!((chat.as_str(), poll_wa_id.as_str(), by.as_str(), vote.sealed_by.as_str()), (voter, "3EB0POLL", voter, voter));
    let opened = |secret: &[u8]| {
        let ciphertext = PollVoteCiphertext { enc_payload: &vote.payload, enc_iv: &vote.iv };
        let addressing = PollVoteAddressing { poll_creator_jid: creator, voter_jid: vote.sealed_by.as_str() };
        poll::decrypt_poll_vote_with_fallback(ciphertext, secret, "3EB0POLL", addressing, None)
    };
    assert_eq!(chosen(&options, &opened(&secret).unwrap()), ["Rice", "Both"]);
    assert!(opened(&[8u8; 32]).is_err(), "another poll's secret does not open it");
}

fn jid_of(s: &str) -> Jid {
    Jid::parse(s).unwrap()
}
