//! Poll votes as the network delivers them: sealed with the poll's secret, which only the
//! poll's recipients know (the gateway keeps it beside the message). A vote names the chosen
//! options by the SHA-256 of their names; the session opens it through its connection.

use sha2::{Digest, Sha256};

use crate::model::Jid;

/// A vote as it arrived, not yet opened.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedVote {
    pub payload: Vec<u8>,
    pub iv: Vec<u8>,
    /// The voter as the vote is addressed (a LID or a number: the seal depends on which),
    /// which may differ from the jid the vote is recorded under.
    pub sealed_by: Jid,
}

/// What opening a vote needs to know of its poll.
#[derive(Clone, Copy)]
pub struct VotedPoll<'a> {
    /// WhatsApp's id of the poll message.
    pub wa_id: &'a str,
    /// Who sent the poll.
    pub creator: &'a Jid,
    /// The voter as the vote is addressed (`SealedVote::sealed_by`).
    pub voter: &'a Jid,
    /// The secret the poll was sent with.
    pub secret: &'a [u8],
    /// The poll's options, in its order.
    pub options: &'a [String],
}

/// The secret a new poll is sent with.
pub fn new_secret() -> Vec<u8> {
    use rand::RngCore;
    let mut secret = vec![0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    secret
}

/// How a vote names an option.
pub fn option_hash(name: &str) -> [u8; 32] {
    Sha256::digest(name.as_bytes()).into()
}

/// The options a vote's hashes name, in the poll's order; a hash of no option (a forged
/// vote, or one on an option the poll does not have) is left out.
pub fn chosen<H: AsRef<[u8]>>(options: &[String], hashes: &[H]) -> Vec<String> {
    options
        .iter()
        .filter(|name| {
            let hash = option_hash(name);
            hashes.iter().any(|h| h.as_ref() == hash)
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_name_options_in_the_polls_order() {
        let options = ["Rice".to_owned(), "Noodles".to_owned(), "Both".to_owned()];
        let hashes = [option_hash("Both"), option_hash("Pizza"), option_hash("Rice")];
        assert_eq!(chosen(&options, &hashes), ["Rice", "Both"]);
        assert_eq!(chosen::<[u8; 32]>(&options, &[]), Vec::<String>::new());
        assert_eq!(new_secret().len(), 32);
        assert_ne!(new_secret(), new_secret());
    }
}
