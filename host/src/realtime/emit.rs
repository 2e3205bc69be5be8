//! Emitting to one socket. Socket.IO queues a socket's outgoing packets in a bounded buffer
//! (`events.socket_buffer`) that its connection drains; an emit to a socket whose buffer is
//! full is refused there and then. Nothing here drops such an event: the fan-out learns which
//! socket refused (`try_emit`) so it can catch up from the journal (`catch_up.rs`), and a replay
//! waits for room (`paced`).

use std::time::Duration;

use serde::Serialize;
use serde_json::value::RawValue;
use socketioxide::extract::SocketRef;
use socketioxide::{SendError, SocketError};

use crate::events::Event;

/// An event serialised once, emitted to any number of sockets.
pub struct Encoded<'a> {
    name: &'a str,
    payload: Box<RawValue>,
}

impl<'a> Encoded<'a> {
    pub fn event(ev: &'a Event) -> Self {
        Encoded::new(ev.name(), ev)
    }

    /// `payload` is plain data (an event, or JSON a plugin returned): serialising it cannot fail.
    pub fn new<T: ?Sized + Serialize>(name: &'a str, payload: &T) -> Self {
        let payload = serde_json::value::to_raw_value(payload).expect("plain data serialises");
        Self { name, payload }
    }
}

/// What became of one emit.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// The socket's buffer is full: it did not get the event.
    Full,
    /// The socket is gone.
    Closed,
}

impl Encoded<'_> {
    pub fn try_emit(&self, s: &SocketRef) -> Outcome {
        try_emit(s, self.name, &self.payload)
    }
}

pub fn try_emit<T: ?Sized + Serialize>(s: &SocketRef, name: &str, payload: &T) -> Outcome {
    outcome(s.emit(name, payload))
}

fn outcome(r: Result<(), SendError>) -> Outcome {
    match r {
        Ok(()) => Outcome::Sent,
        Err(SendError::Socket(SocketError::InternalChannelFull)) => Outcome::Full,
        Err(e) => {
            // Only a payload that cannot be serialised is left, and ours always can.
            if !matches!(e, SendError::Socket(SocketError::Closed)) {
                tracing::warn!(error = %e, "socket emit failed");
            }
            Outcome::Closed
        }
    }
}

/// The socket closed before it could take what was being sent to it.
#[derive(Debug, thiserror::Error)]
#[error("the socket closed")]
pub struct Gone;

/// First wait when a buffer is full; doubled up to `MAX_WAIT` while it stays full.
const FIRST_WAIT: Duration = Duration::from_millis(2);
const MAX_WAIT: Duration = Duration::from_millis(100);

/// Emits, waiting while the socket's buffer is full. A socket that stops reading altogether
/// is closed by Socket.IO's heartbeat, which ends the wait.
pub async fn paced<T: ?Sized + Serialize>(s: &SocketRef, name: &str, payload: &T) -> Result<(), Gone> {
    let mut wait = FIRST_WAIT;
    loop {
        match try_emit(s, name, payload) {
            Outcome::Sent => return Ok(()),
            Outcome::Closed => return Err(Gone),
            Outcome::Full => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_WAIT);
            }
        }
    }
}
