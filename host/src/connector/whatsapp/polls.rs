//! Polls on WhatsApp. A poll carries a random message secret; each vote on it comes back
//! sealed under a key derived from that secret, the poll's id, its creator and the voter, and
//! names the chosen options by the SHA-256 of their names. The gateway keeps every poll's
//! secret beside the message, so the votes on it can be opened when they arrive.

use whatsapp_rust::prelude::{MessageField, wa};
use crate::connector::votes::SealedVote;
use crate::model::Jid;

/// The message of a poll the gateway sends. Built here rather than by `polls().create`, which
/// picks a message id and a secret of its own: under the gateway's id and stored secret, a
/// poll sent again after a lost connection is the same poll to the recipient.
pub fn creation_message(
    question: &str,
    options: &[String],
    selectable_count: u32,
    secret: &[u8],
    context: Option<wa::ContextInfo>,
) -> wa::Message {
    let poll = wa::message::PollCreationMessage {
        name: Some(question.to_owned()),
        options: options
            .iter()
            .map(|name| wa::message::poll_creation_message::Option { option_name: Some(name.clone()), option_hash: None })
            .collect(),
        selectable_options_count: Some(selectable_count),
        poll_content_type: Some(wa::message::PollContentType::TEXT),
        context_info: context.map(MessageField::some).unwrap_or_default(),
        ..Default::default()
    };
    // WhatsApp's own clients send single-choice polls as v3 and the others as v1.
    let mut msg = if selectable_count == 1 {
        wa::Message { poll_creation_message_v3: MessageField::some(poll), ..Default::default() }
    } else {
        wa::Message { poll_creation_message: MessageField::some(poll), ..Default::default() }
    };
    msg.message_context_info =
        MessageField::some(wa::MessageContextInfo { message_secret: Some(secret.to_vec()), ..Default::default() });
    msg
}

/// The secret a poll someone else sent carries, which their votes are sealed with.
pub fn secret_of(msg: &wa::Message) -> Option<Vec<u8>> {
    msg.message_context_info.as_option()?.message_secret.clone().filter(|s| !s.is_empty())
}

/// A vote: the poll it is about (WhatsApp's id) and the sealed choice of `sealed_by`, the
/// voter as the message is addressed.
pub fn vote_of(msg: &wa::Message, sealed_by: &Jid) -> Option<(String, SealedVote)> {
    let update = msg.poll_update_message.as_option()?;
    let poll_wa_id = update.poll_creation_message_key.as_option()?.id.clone()?;
    let vote = update.vote.as_option()?;
    let sealed =
        SealedVote { payload: vote.enc_payload.clone()?, iv: vote.enc_iv.clone()?, sealed_by: sealed_by.clone() };
    Some((poll_wa_id, sealed))
}
