use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Declares a wire enum once: its serde names, its database text and parsing back.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident, $case:literal { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = $case)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!("unknown {} '{}'", stringify!($name), other)),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// Life of a WhatsApp session (docs/events.md).
    SessionStatus, "SCREAMING_SNAKE_CASE" {
        Init = "INIT",
        QrRequired = "QR_REQUIRED",
        Pairing = "PAIRING",
        Connected = "CONNECTED",
        Disconnected = "DISCONNECTED",
        Reconnecting = "RECONNECTING",
        Error = "ERROR",
    }
);

wire_enum!(
    DisconnectReason, "snake_case" {
        LoggedOut = "logged_out",
        ConnectionLost = "connection_lost",
        /// The connection looked up but carried nothing, and did not answer a probe.
        Stale = "stale",
        SessionExpired = "session_expired",
        QrTimeout = "qr_timeout",
        Manual = "manual",
        Error = "error",
    }
);

wire_enum!(
    MessageStatus, "SCREAMING_SNAKE_CASE" {
        Pending = "PENDING",
        Sent = "SENT",
        Delivered = "DELIVERED",
        Read = "READ",
        Failed = "FAILED",
    }
);

wire_enum!(
    Direction, "snake_case" {
        Inbound = "inbound",
        Outbound = "outbound",
    }
);

wire_enum!(
    /// What a message holds. Kinds are added in minor versions: a kind this build does not
    /// know reads as `Other`, so a plugin built before it still gets the message.
    MessageType, "snake_case" {
        Text = "text",
        Image = "image",
        Audio = "audio",
        Video = "video",
        Document = "document",
        Sticker = "sticker",
        Location = "location",
        Contact = "contact",
        Reaction = "reaction",
        Poll = "poll",
        #[serde(other)]
        Other = "other",
    }
);

wire_enum!(
    /// What the session's user is doing in a chat, as the contact's screen shows it.
    ChatState, "snake_case" {
        Composing = "composing",
        /// Recording a voice note.
        Recording = "recording",
        Paused = "paused",
    }
);

wire_enum!(
    /// Whether the session shows as online to its contacts.
    Presence, "snake_case" {
        Available = "available",
        Unavailable = "unavailable",
    }
);

impl MessageStatus {
    /// Receipts can arrive out of order (READ before DELIVERED); a status only moves forward.
    pub fn can_become(self, next: MessageStatus) -> bool {
        let rank = |s: MessageStatus| match s {
            MessageStatus::Pending => 0,
            MessageStatus::Sent => 1,
            MessageStatus::Delivered => 2,
            MessageStatus::Read => 3,
            MessageStatus::Failed => 4,
        };
        match (self, next) {
            (MessageStatus::Failed, _) => false,
            (MessageStatus::Read, MessageStatus::Failed) => false,
            (_, MessageStatus::Failed) => true,
            (cur, nxt) => rank(nxt) > rank(cur),
        }
    }
}

impl SessionStatus {
    /// States in which a live connection (or an attempt to get one) exists.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            SessionStatus::QrRequired | SessionStatus::Pairing | SessionStatus::Connected | SessionStatus::Reconnecting
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for s in ["INIT", "QR_REQUIRED", "PAIRING", "CONNECTED", "DISCONNECTED", "RECONNECTING", "ERROR"] {
            let parsed: SessionStatus = s.parse().unwrap();
            assert_eq!(parsed.as_str(), s);
            assert_eq!(serde_json::to_value(parsed).unwrap(), serde_json::json!(s));
        }
        assert_eq!(serde_json::to_value(DisconnectReason::QrTimeout).unwrap(), "qr_timeout");
    }

    #[test]
    fn message_kinds_this_build_does_not_know_read_as_other() {
        let kind: MessageType = serde_json::from_value(serde_json::json!("interactive_carousel")).unwrap();
        assert_eq!(kind, MessageType::Other);
        let kind: MessageType = serde_json::from_value(serde_json::json!("image")).unwrap();
        assert_eq!(kind, MessageType::Image);
    }

    #[test]
    fn message_status_only_moves_forward() {
        use MessageStatus::*;
        assert!(Pending.can_become(Sent));
        assert!(Sent.can_become(Read));
        assert!(!Read.can_become(Delivered));
        assert!(!Delivered.can_become(Sent));
        assert!(Pending.can_become(Failed));
        assert!(!Failed.can_become(Sent));
        assert!(!Read.can_become(Failed));
    }
}

wire_enum!(
    /// A group member's standing: the creator is its `superadmin`.
    GroupRole, "snake_case" {
        Member = "member",
        Admin = "admin",
        Superadmin = "superadmin",
    }
);

wire_enum!(
    /// What was done to a group's members.
    ParticipantAction, "snake_case" {
        Add = "add",
        Remove = "remove",
        Promote = "promote",
        Demote = "demote",
    }
);

wire_enum!(
    /// Which of a group's settings changed.
    GroupField, "snake_case" {
        Subject = "subject",
        Description = "description",
    }
);

wire_enum!(
    /// Where a join by invite ended: inside the group, or waiting for an admin's approval.
    JoinStatus, "snake_case" {
        Joined = "joined",
        Pending = "pending",
    }
);
