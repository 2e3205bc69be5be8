//! How the simulated network seals a vote. As on WhatsApp, the options are named by their
//! hashes and only the poll's secret opens the vote; here an HMAC over the poll, the voter
//! and the choice proves the secret instead of encryption, which a test has no need of.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::connector::ConnectorError;
use crate::connector::votes::{SealedVote, VotedPoll, chosen, option_hash};
use crate::model::Jid;

const TAG_BYTES: usize = 32;

fn mac(secret: &[u8], iv: &[u8], poll_wa_id: &str, voter: &Jid, hashes: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    for part in [iv, poll_wa_id.as_bytes(), voter.to_string().as_bytes(), hashes] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac
}

/// A contact's vote for `options` of poll `poll_wa_id`, sealed with the poll's secret.
pub fn seal(secret: &[u8], poll_wa_id: &str, voter: &Jid, options: &[String]) -> SealedVote {
    let iv = uuid::Uuid::new_v4().as_bytes()[..12].to_vec();
    let mut payload: Vec<u8> = options.iter().flat_map(|name| option_hash(name)).collect();
    let tag = mac(secret, &iv, poll_wa_id, voter, &payload).finalize().into_bytes();
    payload.extend_from_slice(&tag);
    SealedVote { payload, iv, sealed_by: voter.clone() }
}

/// The options a sealed vote chose; refused when the secret is not the poll's.
pub fn open(vote: &SealedVote, poll: &VotedPoll<'_>) -> Result<Vec<String>, ConnectorError> {
    let refused = || ConnectorError::Rejected("the vote does not open with this poll's secret".into());
    let split = vote.payload.len().checked_sub(TAG_BYTES).ok_or_else(refused)?;
    let (hashes, tag) = vote.payload.split_at(split);
    if hashes.len() % 32 != 0 {
        return Err(refused());
    }
    mac(poll.secret, &vote.iv, poll.wa_id, poll.voter, hashes).verify_slice(tag).map_err(|_| refused())?;
    Ok(chosen(poll.options, &hashes.chunks(32).collect::<Vec<_>>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vote_opens_with_its_polls_secret_only() {
        let voter = Jid::parse("628123456789@s.whatsapp.net").unwrap();
        let creator = Jid::parse("15550000001@s.whatsapp.net").unwrap();
        let options = ["Rice".to_owned(), "Noodles".to_owned()];
        let vote = seal(b"secret", "3EB0P", &voter, &["Noodles".to_owned(), "Pizza".to_owned()]);
        let poll = VotedPoll { wa_id: "3EB0P", creator: &creator, voter: &voter, secret: b"secret", options: &options };
        assert_eq!(open(&vote, &poll).unwrap(), ["Noodles"]);
        assert!(open(&vote, &VotedPoll { secret: b"other", ..poll }).is_err());
        let other =
            VotedPoll { wa_id: "3EB0P", creator: &creator, voter: &creator, secret: b"secret", options: &options };
        assert!(open(&vote, &other).is_err(), "another voter's vote");
        assert!(open(&SealedVote { payload: vec![1, 2], iv: vec![], sealed_by: voter.clone() }, &poll).is_err());
        let none = seal(b"secret", "3EB0P", &voter, &[]);
        assert_eq!(open(&none, &poll).unwrap(), Vec::<String>::new());
    }
}
