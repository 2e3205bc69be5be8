use std::fmt;

use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum JidError {
    #[error("'{0}' is neither a phone number (6 to 15 digits, optional '+') nor a WhatsApp jid")]
    Invalid(String),
}

/// A WhatsApp address: `<digits>@s.whatsapp.net` for people, `<id>@g.us` for groups,
/// `<id>@lid` for the privacy ids newer clients report.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Jid(String);

const USER_SERVER: &str = "s.whatsapp.net";

impl Jid {
    /// Accepts what API users type: `+62 812-3456-7890`, `6281234567890`, or a full jid.
    pub fn parse(input: &str) -> Result<Self, JidError> {
        let trimmed = input.trim();
        let invalid = || JidError::Invalid(truncate(trimmed));
        if let Some((user, server)) = trimmed.split_once('@') {
            let server_ok = matches!(server, "s.whatsapp.net" | "c.us" | "g.us" | "lid" | "broadcast" | "newsletter");
            let user_ok = !user.is_empty()
                && user.len() <= 64
                && user.chars().all(|c| c.is_ascii_digit() || c == '-' || c == ':' || c == '.');
            if !server_ok || !user_ok {
                return Err(invalid());
            }
            let server = if server == "c.us" { USER_SERVER } else { server };
            return Ok(Self(format!("{user}@{server}")));
        }
        let digits: String = trimmed.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.')).collect();
        let digits = digits.strip_prefix('+').unwrap_or(&digits);
        if !(6..=15).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid());
        }
        Ok(Self(format!("{digits}@{USER_SERVER}")))
    }

    /// A person's phone number (as `parse` reads it), not a group, LID or other address.
    pub fn parse_phone(input: &str) -> Option<Self> {
        Self::parse(input).ok().filter(|j| j.phone_number().is_some())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_group(&self) -> bool {
        self.0.ends_with("@g.us")
    }

    /// A LID (`<id>@lid`): WhatsApp's privacy id for a person, reported beside or instead of
    /// the phone number.
    pub fn is_lid(&self) -> bool {
        self.0.ends_with("@lid")
    }

    /// `+<digits>` for person jids, the form the seeds show as `phoneNumber`/`contactNumber`.
    pub fn phone_number(&self) -> Option<String> {
        let user = self.0.strip_suffix("@s.whatsapp.net")?;
        let digits = user.split(':').next()?;
        Some(format!("+{digits}"))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_become_user_jids() {
        let jid = Jid::parse("+62 812-3456-7890").unwrap();
        assert_eq!(jid.as_str(), "6281234567890@s.whatsapp.net");
        assert_eq!(jid.phone_number().as_deref(), Some("+6281234567890"));
        assert!(!jid.is_group());
    }

    #[test]
    fn jids_are_kept_and_normalised() {
        assert_eq!(Jid::parse("123@c.us").unwrap().as_str(), "123@s.whatsapp.net");
        let group = Jid::parse("120363025246125486@g.us").unwrap();
        assert!(group.is_group());
        assert_eq!(group.phone_number(), None);
        let lid = Jid::parse("123456789012345@lid").unwrap();
        assert!(lid.is_lid() && !lid.is_group());
        assert_eq!(lid.phone_number(), None);
        assert!(!group.is_lid());
    }

    #[test]
    fn garbage_is_refused() {
        assert!(Jid::parse("hello").is_err());
        assert!(Jid::parse("12345").is_err());
        assert!(Jid::parse("1234567890123456").is_err());
        assert!(Jid::parse("123@evil.com").is_err());
        assert!(Jid::parse("").is_err());
    }
}
