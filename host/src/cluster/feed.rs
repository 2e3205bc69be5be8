//! Every event of the cluster, for this node's sockets, in each tenant's `seq` order.
//!
//! A tenant's sessions may run on several nodes, and its clients may be connected to any of
//! them. Each commit is announced inside its own transaction (`store::journal::announce`), so
//! PostgreSQL tells the other nodes exactly the commits that happened, in commit order; the
//! feed of each node then reads what another node committed from the durable journal and hands
//! it, merged with this node's own commits, to the fan-out. A tenant's `seq`s are handed out
//! under a row lock held until commit, so when event `n` is committed every earlier one is
//! too: a gap before an event is always readable, and the feed fills it from the journal
//! before the event. Nothing reaches a socket before it is committed, nothing twice, nothing
//! out of order; bots and webhooks stay with the node that committed the event.
//!
//! A notice lost while the connection was down, or one that never came, is made good by a
//! sweep that compares every tenant's counter with what was handed on.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::mpsc;

use super::Channel;
use crate::events::{Event, EventBus, Subscription, Tail};
use crate::store::{Store, StoreError, journal, tenants};

/// Rows read from the journal at a time when filling a gap.
const PAGE: i64 = 500;
/// How often every tenant's counter is compared with what was handed on.
const SWEEP: Duration = Duration::from_secs(3);
/// Notices heard but not yet taken by the feed; the listener waits beyond that (PostgreSQL
/// keeps them meanwhile).
const HEARD_DEPTH: usize = 1024;
/// Reads of the journal tried before a gap is given up (its events stay in the journal for
/// clients to resume from).
const READ_TRIES: u32 = 3;

/// What the listener heard.
#[derive(Debug, PartialEq)]
enum Heard {
    /// Another node committed the tenant's events up to `last`.
    Commit { tenant: String, last: u64 },
    /// The connection was lost and is back: what was said meanwhile is unknown.
    Resync,
}

/// How this node announces its commits: on the feed's channel, as
/// `"<last seq> <node> <tenant>"` (a node id has no spaces, a tenant id is the rest).
pub struct Announcer(Arc<Channel>);

impl Announcer {
    pub fn channel(&self) -> &str {
        &self.0.name
    }

    pub fn payload(&self, tenant: &str, last_seq: u64) -> String {
        format!("{last_seq} {} {tenant}", self.0.node)
    }
}

/// Reads an announcement; `None` for one of this node's own commits or an unreadable one.
fn heard(payload: &str, own_node: &str) -> Option<Heard> {
    let mut parts = payload.splitn(3, ' ');
    let last = parts.next()?.parse().ok()?;
    let node = parts.next()?;
    let tenant = parts.next()?;
    (node != own_node).then(|| Heard::Commit { tenant: tenant.to_owned(), last })
}

/// A node's feed, listening but not yet handing anything on.
pub struct Feed {
    ch: Arc<Channel>,
    listener: PgListener,
    local: Subscription,
    store: Store,
}

impl Feed {
    /// Starts listening for other nodes' commits and taking this node's own, so that nothing
    /// committed from now on is missed; `None` outside a cluster (the fan-out then takes the
    /// bus itself).
    pub async fn listen(
        node: Option<&str>,
        store: &Store,
        schema: Option<&str>,
        bus: &EventBus,
    ) -> Result<Option<Feed>, StoreError> {
        let Some(ch) = Channel::open(node, store, schema, "events") else { return Ok(None) };
        let mut listener = PgListener::connect_with(&ch.pool).await?;
        listener.listen(&ch.name).await?;
        Ok(Some(Feed { ch, listener, local: bus.subscribe("cluster-feed"), store: store.clone() }))
    }

    /// How this node's commits are to be announced for the other nodes' feeds.
    pub fn announcer(&self) -> Announcer {
        Announcer(self.ch.clone())
    }

    /// Hands every event after `delivered` (per tenant, the last `seq` already handed on; a
    /// tenant not in it has had none) to `out`, in order, until the bus closes. `tail` learns
    /// of other nodes' commits, for the readers of the stored journal.
    pub fn spawn(self, delivered: HashMap<String, u64>, out: EventBus, tail: Tail) -> tokio::task::JoinHandle<()> {
        let Feed { ch, listener, mut local, store } = self;
        let (heard_tx, mut heard_rx) = mpsc::channel(HEARD_DEPTH);
        let listening = tokio::spawn(listen(listener, ch, heard_tx));
        let mut seq = Sequencer { next: delivered.into_iter().map(|(t, s)| (t, s + 1)).collect(), store, out, tail };
        tokio::spawn(async move {
            let mut sweep = tokio::time::interval(SWEEP);
            sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    ev = local.recv() => match ev {
                        Some(ev) => seq.local(ev).await,
                        None => break,
                    },
                    h = heard_rx.recv() => match h {
                        Some(first) => {
                            // What queued up meanwhile is taken at once: one read per tenant.
                            let mut heard = vec![first];
                            while heard.len() < HEARD_DEPTH && let Ok(more) = heard_rx.try_recv() {
                                heard.push(more);
                            }
                            seq.heard(heard).await;
                        }
                        None => break,
                    },
                    _ = sweep.tick() => seq.sweep().await,
                }
            }
            listening.abort();
        })
    }
}

/// Hears the other nodes' announcements; after a lost connection, asks for a sweep.
async fn listen(mut listener: PgListener, ch: Arc<Channel>, heard_tx: mpsc::Sender<Heard>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(n)) => {
                if let Some(h) = heard(n.payload(), &ch.node)
                    && heard_tx.send(h).await.is_err()
                {
                    return;
                }
            }
            Ok(None) => {
                tracing::warn!("cluster feed: connection lost; reading the journal again once back");
                if heard_tx.send(Heard::Resync).await.is_err() {
                    return;
                }
            }
            // The gateway is stopping.
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cluster feed interrupted; listening again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                if let Err(e) = listener.listen(&ch.name).await {
                    tracing::warn!(error = %e, "cluster feed: cannot listen yet");
                }
                if heard_tx.send(Heard::Resync).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Per tenant, the next `seq` to hand on.
struct Sequencer {
    next: HashMap<String, u64>,
    store: Store,
    out: EventBus,
    tail: Tail,
}

impl Sequencer {
    fn next_of(&self, tenant: &str) -> u64 {
        self.next.get(tenant).copied().unwrap_or(1)
    }

    /// One of this node's commits: handed on at once when it is the next one, after the
    /// other nodes' events before it otherwise; dropped when those reads already brought it.
    async fn local(&mut self, ev: Arc<Event>) {
        let next = self.next_of(&ev.tenant_id);
        if ev.seq < next {
            return;
        }
        if ev.seq > next {
            self.fill(&ev.tenant_id, ev.seq - 1).await;
        }
        if ev.seq >= self.next_of(&ev.tenant_id) {
            self.next.insert(ev.tenant_id.clone(), ev.seq + 1);
            self.out.publish(ev);
        }
    }

    /// Brings each tenant the notices name up to the furthest of them; after a lost
    /// connection, every tenant.
    async fn heard(&mut self, heard: Vec<Heard>) {
        let mut furthest: Vec<(String, u64)> = Vec::new();
        for h in heard {
            match h {
                Heard::Resync => return self.sweep().await,
                Heard::Commit { tenant, last } => match furthest.iter_mut().find(|(t, _)| *t == tenant) {
                    Some((_, l)) => *l = (*l).max(last),
                    None => furthest.push((tenant, last)),
                },
            }
        }
        for (tenant, last) in furthest {
            self.fill(&tenant, last).await;
        }
    }

    /// Hands on the tenant's events up to `upto` not yet handed on, read from the journal.
    async fn fill(&mut self, tenant: &str, upto: u64) {
        let mut next = self.next_of(tenant);
        if upto < next {
            return;
        }
        let mut failures = 0;
        while next <= upto {
            let rows = match journal::after(self.store.pool(), tenant, next as i64 - 1, PAGE).await {
                Ok(rows) => rows,
                Err(e) => {
                    failures += 1;
                    if failures == READ_TRIES {
                        tracing::error!(%tenant, from_seq = next, to_seq = upto, error = %e, "cluster feed: cannot read the journal; these events are not delivered live here");
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(failures))).await;
                    continue;
                }
            };
            let full_page = rows.len() as i64 == PAGE;
            let before = next;
            for row in rows.into_iter().take_while(|r| r.seq as u64 <= upto) {
                match row.event() {
                    Ok(ev) => self.out.publish(Arc::new(ev)),
                    Err(e) => {
                        tracing::error!(%tenant, seq = row.seq, error = %e, "cluster feed: unreadable journal entry skipped")
                    }
                }
                next = row.seq as u64 + 1;
            }
            if !full_page || next == before {
                break;
            }
        }
        if next <= upto {
            tracing::warn!(%tenant, from_seq = next, to_seq = upto, "cluster feed: events no longer in the journal were not delivered live");
            next = upto + 1;
        }
        self.next.insert(tenant.to_owned(), next);
        self.tail.advanced(tenant, upto);
    }

    /// Brings every tenant up to its counter: what a lost or missing notice would have said.
    /// A tenant gone from the store is forgotten; one whose counter went back was deleted and
    /// created again, and starts over.
    async fn sweep(&mut self) {
        let seqs = match tenants::seqs(self.store.pool()).await {
            Ok(seqs) => seqs,
            Err(e) => {
                tracing::warn!(error = %e, "cluster feed: cannot read the tenants' counters");
                return;
            }
        };
        let present: HashSet<&str> = seqs.iter().map(|(t, _)| t.as_str()).collect();
        self.next.retain(|t, _| present.contains(t.as_str()));
        for (tenant, seq) in &seqs {
            let seq = *seq as u64;
            if seq + 1 < self.next_of(tenant) {
                self.next.insert(tenant.clone(), 1);
            }
            if seq >= self.next_of(tenant) {
                self.fill(tenant, seq).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn announcements_name_the_node_and_keep_the_whole_tenant_id() {
        // Never connected: the announcer only names the channel and the node.
        let pool = sqlx::PgPool::connect_lazy("postgres://unused@127.0.0.1/unused").unwrap();
        let a = Announcer(Arc::new(Channel { node: "node-a".into(), name: "c".into(), pool }));
        let text = a.payload("acme corp", 42);
        assert_eq!(heard(&text, "node-b"), Some(Heard::Commit { tenant: "acme corp".into(), last: 42 }));
        assert_eq!(heard(&text, "node-a"), None, "a node's own commits come from its bus");
        assert_eq!(heard("garbage", "node-b"), None);
        assert_eq!(heard("12 node-a", "node-b"), None);
    }
}
