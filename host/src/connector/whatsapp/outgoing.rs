//! Our outgoing messages as whatsapp-rust protobuf messages. Pure, so each shape is
//! unit-tested without a network.

use whatsapp_rust::prelude::{MessageBuilderExt, MessageExt, MessageField, wa};

use crate::connector::{Outgoing, OutgoingBody, QuotedRef};
use crate::model::Jid;

/// The reply and mention context WhatsApp shows above a message.
fn context(quoted: Option<&QuotedRef>, mentions: &[Jid]) -> Option<wa::ContextInfo> {
    if quoted.is_none() && mentions.is_empty() {
        return None;
    }
    let mut ctx =
        wa::ContextInfo { mentioned_jid: mentions.iter().map(ToString::to_string).collect(), ..Default::default() };
    if let Some(q) = quoted {
        ctx.stanza_id = Some(q.wa_id.clone());
        ctx.participant = q.sender.as_ref().map(ToString::to_string);
        let shown = wa::Message::text(q.text.clone().unwrap_or_default());
        ctx.quoted_message = MessageField::from_box(shown.prepare_for_quote());
    }
    Some(ctx)
}

/// A text, location or contact card with its context. Polls go through the library's poll
/// builder, which mints the secret their votes are encrypted with.
pub fn message(out: &Outgoing) -> Option<wa::Message> {
    let ctx = context(out.quoted.as_ref(), &out.mentions);
    let mut msg = match &out.body {
        OutgoingBody::Text(text) => {
            return Some(match ctx {
                Some(ctx) => wa::Message::text_with_context(text.clone(), ctx),
                None => wa::Message::text(text.clone()),
            });
        }
        OutgoingBody::Location(l) => wa::Message {
            location_message: MessageField::some(wa::message::LocationMessage {
                degrees_latitude: Some(l.latitude),
                degrees_longitude: Some(l.longitude),
                name: l.name.clone(),
                address: l.address.clone(),
                ..Default::default()
            }),
            ..Default::default()
        },
        OutgoingBody::Contact(c) => wa::Message {
            contact_message: MessageField::some(wa::message::ContactMessage {
                display_name: Some(c.name.clone()),
                vcard: Some(c.vcard.clone()),
                ..Default::default()
            }),
            ..Default::default()
        },
        OutgoingBody::Poll { .. } => return None,
    };
    if let Some(ctx) = ctx {
        msg.set_context_info(ctx);
    }
    Some(msg)
}

/// How WhatsApp names a message that a reaction is about.
pub fn key(chat: &Jid, target: &QuotedRef) -> wa::MessageKey {
    wa::MessageKey {
        remote_jid: Some(chat.to_string()),
        from_me: Some(target.from_me),
        id: Some(target.wa_id.clone()),
        // In groups the key names who wrote the message (our own need no participant).
        participant: (chat.is_group() && !target.from_me)
            .then(|| target.sender.as_ref().map(ToString::to_string))
            .flatten(),
    }
}
