//! A socket that falls behind: its connection took events more slowly than they came, and its
//! buffer was full when the fan-out emitted the next one. Instead of losing that event, the
//! socket leaves its rooms (it gets nothing more live) and is resumed from the event it
//! missed: the journal's events are replayed to it as fast as its connection takes them, then
//! it rejoins its rooms at the seam, exactly as a reconnecting client that sent `lastSeq`.
//! Only when it is too far behind for a replay does it get `delivery.gap` for what it missed.

use std::collections::HashMap;
use std::time::Duration;

use socketioxide::extract::SocketRef;

use super::emit::{self, Outcome};
use super::lanes::{GAP_EVENT, Gap};
use super::resume::{self, Joined, Marks, ResumeError};
use crate::store::Store;

/// Called by the fan-out, holding the tenant's mark lock, when `s` missed event `missed`:
/// the socket leaves its rooms before any later event is emitted, then catches up on its own.
pub fn fall_behind(s: &SocketRef, store: &Store, marks: &Marks, tenant: &str, missed: u64) {
    let rooms: Vec<String> = Joined::held(s).into_keys().collect();
    for room in &rooms {
        Joined::leave(s, room);
    }
    tracing::warn!(sid = %s.id, %tenant, seq = missed, "a socket fell behind; it catches up from the journal");
    let (s, store, marks, tenant) = (s.clone(), store.clone(), marks.clone(), tenant.to_owned());
    tokio::spawn(async move {
        // It had every event before `missed` live, in every room it held.
        match resume::resume(&s, &store, &marks, &tenant, missed - 1, &rooms, &HashMap::new()).await {
            Ok(done) => tracing::debug!(sid = %s.id, replayed = done.replayed, "the socket caught up"),
            Err(ResumeError::Gone) => {}
            Err(e) => {
                tracing::warn!(sid = %s.id, %tenant, error = %e, "a socket that fell behind gets a gap notice");
                rejoin_after_gap(&s, &marks, &tenant, missed, rooms).await;
            }
        }
    });
}

/// Tells the socket it missed `from_seq` up to wherever the fan-out is when it rejoins, then
/// rejoins: the notice comes before every event it gets live again.
async fn rejoin_after_gap(s: &SocketRef, marks: &Marks, tenant: &str, from_seq: u64, rooms: Vec<String>) {
    let mark = marks.of(tenant);
    loop {
        {
            let _emitting = mark.lock.lock().await;
            let gap = Gap::span(from_seq, mark.emitted());
            match emit::try_emit(s, GAP_EVENT, &gap.notice(tenant)) {
                Outcome::Sent => {
                    for room in rooms {
                        Joined::join(s, &mark, room);
                    }
                    return;
                }
                Outcome::Closed => return,
                Outcome::Full => {}
            }
        }
        // Waiting for the buffer to drain, without holding up the fan-out.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
