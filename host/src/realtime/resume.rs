//! Socket.IO clients that resume from the last `seq` they saw: first every event of their
//! rooms they missed, read from the durable journal, in order, then the live ones, without a
//! gap or a duplicate at the seam, across gateway restarts.
//!
//! The seam: the fan-out emits a tenant's events under that tenant's [`Mark`] and records the
//! last `seq` it emitted. A resuming socket stays out of its rooms while it is sent what the
//! journal holds up to the mark; then, holding the mark, it checks that nothing was emitted
//! meanwhile and joins its rooms. Events up to the mark came from the journal, every later one
//! comes live.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;
use serde_json::{Value, json};
use socketioxide::extract::SocketRef;

use super::emit;
use super::fanout::canonical_rooms;
use crate::events::Event;
use crate::store::{Store, StoreError, journal};

/// Events one resume sends at most; a client further behind reloads its state over REST.
pub const MAX_REPLAY: i64 = 10_000;
const PAGE: i64 = 500;

/// One tenant's mark: the fan-out emits holding `lock` and then stores the `seq` it emitted.
#[derive(Default)]
pub struct Mark {
    pub lock: tokio::sync::Mutex<()>,
    emitted: AtomicU64,
}

impl Mark {
    /// The last `seq` the fan-out emitted (every earlier one was emitted before it).
    pub fn emitted(&self) -> u64 {
        self.emitted.load(Ordering::Acquire)
    }

    /// Called by the fan-out, holding `lock`, after it emitted `seq`.
    pub fn set(&self, seq: u64) {
        self.emitted.store(seq, Ordering::Release);
    }
}

/// Per tenant: the last `seq` the fan-out emitted, locked while it emits.
#[derive(Clone, Default)]
pub struct Marks {
    by_tenant: Arc<Mutex<HashMap<String, Arc<Mark>>>>,
}

/// The rooms a socket is in and the mark when it joined each: it has had every event of a
/// room with a later `seq` live.
#[derive(Clone, Default)]
pub struct Joined(Arc<Mutex<HashMap<String, u64>>>);

impl Joined {
    /// Joins the socket to `room` and records since when it gets the room's events.
    pub fn join(s: &SocketRef, mark: &Mark, room: String) {
        s.join(room.clone());
        // Read after the join: an event emitted after this read reached the socket.
        let since = mark.emitted();
        let joined = s.extensions.get::<Joined>().unwrap_or_else(|| {
            let j = Joined::default();
            s.extensions.insert(j.clone());
            j
        });
        joined.0.lock().expect("joined lock").insert(room, since);
    }

    pub fn leave(s: &SocketRef, room: &str) {
        s.leave(room.to_owned());
        if let Some(j) = s.extensions.get::<Joined>() {
            j.0.lock().expect("joined lock").remove(room);
        }
    }

    /// The rooms held now, with their marks.
    pub fn held(s: &SocketRef) -> HashMap<String, u64> {
        s.extensions.get::<Joined>().map(|j| j.0.lock().expect("joined lock").clone()).unwrap_or_default()
    }
}

impl Marks {
    /// Every event committed before this process started is in the journal and will never be
    /// emitted live: the marks start at each tenant's current `seq`.
    pub async fn load(store: &Store) -> Result<Self, StoreError> {
        let rows = crate::store::tenants::seqs(store.pool()).await?;
        let marks = Marks::default();
        {
            let mut map = marks.by_tenant.lock().expect("marks lock");
            for (tenant, seq) in rows {
                let mark = Mark::default();
                mark.set(seq as u64);
                map.insert(tenant, Arc::new(mark));
            }
        }
        Ok(marks)
    }

    /// Every tenant's mark as it stands.
    pub fn emitted_all(&self) -> HashMap<String, u64> {
        self.by_tenant.lock().expect("marks lock").iter().map(|(t, m)| (t.clone(), m.emitted())).collect()
    }

    pub fn of(&self, tenant: &str) -> Arc<Mark> {
        let mut map = self.by_tenant.lock().expect("marks lock");
        map.entry(tenant.to_owned()).or_default().clone()
    }
}

/// Why a resume was refused.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error("events after seq {0} are no longer all kept (the journal starts at seq {1}); reload over REST")]
    Pruned(u64, u64),
    #[error("more than {MAX_REPLAY} events were missed; reload over REST")]
    TooFarBehind,
    #[error("cannot read the journal")]
    Store(#[from] StoreError),
    #[error("the socket closed")]
    Gone,
}

impl From<emit::Gone> for ResumeError {
    fn from(_: emit::Gone) -> Self {
        ResumeError::Gone
    }
}

impl ResumeError {
    pub fn code(&self) -> &'static str {
        match self {
            ResumeError::Pruned(..) => "seq_pruned",
            ResumeError::TooFarBehind => "too_far_behind",
            ResumeError::Store(_) | ResumeError::Gone => "internal",
        }
    }
}

/// What a resume sent.
pub struct Resumed {
    pub from_seq: u64,
    pub to_seq: u64,
    pub replayed: u64,
}

impl Resumed {
    pub fn json(&self) -> Value {
        json!({ "fromSeq": self.from_seq, "toSeq": self.to_seq, "replayed": self.replayed })
    }
}

/// Sends the socket every event after `last_seq` of `rooms` that it has not had live (`held`:
/// rooms it was in, with their join marks), then joins it to them. The socket must have left
/// them. Refused (and nothing sent, nothing joined) when the journal no longer holds every
/// event after `last_seq`, or too many of them. The replay goes as fast as the socket's
/// connection takes it: nothing is dropped for a full buffer.
pub async fn resume(
    s: &SocketRef,
    store: &Store,
    marks: &Marks,
    tenant: &str,
    last_seq: u64,
    rooms: &[String],
    held: &HashMap<String, u64>,
) -> Result<Resumed, ResumeError> {
    let mark = marks.of(tenant);
    let head = mark.emitted();
    if head > last_seq {
        if let Some(first) = journal::first_seq(store.pool(), tenant).await?.map(|f| f as u64)
            && first > last_seq + 1
        {
            return Err(ResumeError::Pruned(last_seq, first));
        }
        if head - last_seq > MAX_REPLAY as u64 {
            return Err(ResumeError::TooFarBehind);
        }
    }
    let mut sent_up_to = last_seq;
    let mut replayed = 0;
    loop {
        let target = mark.emitted();
        while sent_up_to < target {
            let page = journal::after(store.pool(), tenant, sent_up_to as i64, PAGE).await?;
            if page.is_empty() {
                break;
            }
            for row in page {
                if row.seq as u64 > target {
                    break;
                }
                sent_up_to = row.seq as u64;
                let event = row.event()?;
                if owed(&event, rooms, held) {
                    // The journal keeps the payload as it was emitted live.
                    let payload = RawValue::from_string(row.payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    emit::paced(s, event.name(), &payload).await?;
                    replayed += 1;
                }
            }
        }
        sent_up_to = sent_up_to.max(target);
        let held_lock = mark.lock.lock().await;
        if mark.emitted() == sent_up_to {
            for room in rooms {
                Joined::join(s, &mark, room.clone());
            }
            drop(held_lock);
            return Ok(Resumed { from_seq: last_seq + 1, to_seq: sent_up_to, replayed });
        }
    }
}

/// Whether the socket would have got the event live in `rooms` and did not get it in a room
/// it held since before the event.
fn owed(ev: &Event, rooms: &[String], held: &HashMap<String, u64>) -> bool {
    let targets = canonical_rooms(ev);
    let had = targets.iter().any(|r| held.get(r).is_some_and(|since| ev.seq > *since));
    !had && targets.iter().any(|r| rooms.contains(r))
}
