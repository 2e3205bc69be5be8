//! What a caller asks the gateway to send: the body of `POST /api/v1/sessions/{id}/messages`,
//! and what a plugin queues through the `messages` interface. One type for both, so a plugin
//! builds exactly what the REST reference documents.

use serde::{Deserialize, Serialize};

use crate::records::Location;

/// The kind of message a send makes.
#[derive(Deserialize, Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SendKind {
    Text,
    Location,
    Contact,
    Poll,
    Image,
    Video,
    Audio,
    /// A voice note (push-to-talk): Opus in OGG.
    Voice,
    Document,
    Sticker,
}

/// A file in a JSON send: exactly one of `base64` and `url`.
#[derive(Deserialize, Serialize, Clone, PartialEq, Debug, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MediaInput {
    /// The file, base64 (standard alphabet, padding optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    /// Where the gateway fetches the file (http or https, public addresses only unless the
    /// operator allows a network). The message is accepted at once; the file is fetched
    /// and checked afterwards (`message.media`), or the message ends `FAILED` with why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Documents: the name the recipient sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
}

/// A contact card: give `vcard`, or a `phone` and the gateway writes the card.
#[derive(Deserialize, Serialize, Clone, PartialEq, Debug, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactInput {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcard: Option<String>,
    /// A phone number; the card WhatsApp shows gets it with its "message" button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, PartialEq, Debug, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PollInput {
    pub question: String,
    /// 2 to 12 distinct options.
    pub options: Vec<String>,
    /// How many options a voter may pick (default 1: single choice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selectable_count: Option<u32>,
}

/// A message to send. `type` says which block it has (`text`, `location`, `contact`, `poll`,
/// or `media` for `image`, `video`, `audio`, `voice`, `document`, `sticker`); without `type`
/// the one block given says it (`media` needs a `type`). `replyTo` and `mentions` go with any
/// kind. Files may also come as `multipart/form-data` (see the form below).
#[derive(Deserialize, Serialize, Clone, PartialEq, Debug, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendMessage {
    /// Phone number (`+62812...`) or jid (`62812...@s.whatsapp.net`, `...@g.us`).
    pub to: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SendKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Images, videos and documents: the caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// The file of a media kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<PollInput>,
    /// Id of a message of the same chat this one replies to (quotes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// Phone numbers or jids the text mentions (write them as `@<number>` in the text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mentions: Option<Vec<String>>,
    /// Texts: show a preview of the first link in the text. The gateway reads the page's
    /// title and description before it accepts the message (a few seconds at most); a page
    /// that cannot be read gives no preview, and the text is sent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_preview: Option<bool>,
}

impl SendMessage {
    /// A text to `to`.
    pub fn text(to: impl Into<String>, text: impl Into<String>) -> Self {
        Self { to: to.into(), text: Some(text.into()), ..Self::default() }
    }

    /// A file of `kind` the gateway fetches from `url`.
    pub fn media_from_url(to: impl Into<String>, kind: SendKind, url: impl Into<String>) -> Self {
        let media = MediaInput { url: Some(url.into()), ..MediaInput::default() };
        Self { to: to.into(), kind: Some(kind), media: Some(media), ..Self::default() }
    }

    /// The same message as a reply to (quoting) the message `id` of its chat.
    pub fn replying_to(mut self, id: impl Into<String>) -> Self {
        self.reply_to = Some(id.into());
        self
    }
}
