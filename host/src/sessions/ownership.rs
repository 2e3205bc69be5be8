//! Which sessions this node runs, in cluster mode (several nodes on one PostgreSQL database).
//! A session's actor starts only once this node holds the session's lease, and every write the
//! actor makes carries the lease's fencing token. Each round the node says it is alive,
//! renews its leases, stops the actors whose lease it lost, and takes over its share of the
//! sessions no node holds (their node died or stopped): reconnected with their stored
//! credentials, as after a restart. A node that stops gracefully gives its leases up.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;

use super::{SessionError, SessionResult, Sessions};
use crate::config::ClusterConfig;
use crate::model::{Session, SessionKey};
use crate::store::leases::NodeProfile;
use crate::store::{Fence, Store, leases, sessions as stored};

/// Sessions looked at per round for takeover.
const ORPHANS_PER_ROUND: i64 = 1_000;

/// This node, in cluster mode.
pub struct Node {
    pub id: String,
    started_ms: i64,
    ttl_ms: i64,
    interval: Duration,
    /// What the node says of itself with each heartbeat, asked of whoever knows it.
    describe: std::sync::RwLock<Option<Describe>>,
}

type Describe = Box<dyn Fn() -> NodeProfile + Send + Sync>;

impl Node {
    /// `describe` tells, at each heartbeat, where this node takes forwarded requests and which
    /// plugins it serves.
    pub fn describe_with(&self, describe: impl Fn() -> NodeProfile + Send + Sync + 'static) {
        *self.describe.write().expect("node lock") = Some(Box::new(describe));
    }

    fn profile(&self) -> NodeProfile {
        self.describe.read().expect("node lock").as_ref().map(|d| d()).unwrap_or_default()
    }
}

impl Node {
    /// `None` when cluster mode is off: a single node runs every session without leases.
    pub fn from_config(c: &ClusterConfig) -> Option<Arc<Node>> {
        c.enabled.then(|| {
            let id = c
                .node_id
                .clone()
                .unwrap_or_else(|| format!("node-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]));
            Arc::new(Node {
                id,
                started_ms: now_ms(),
                ttl_ms: c.lease_ttl_ms as i64,
                interval: Duration::from_millis(c.renew_interval_ms),
                describe: Default::default(),
            })
        })
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// What one round did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub renewed: usize,
    pub lost: usize,
    pub taken: usize,
}

impl Sessions {
    /// This node's name in cluster mode.
    pub fn node_id(&self) -> Option<&str> {
        self.inner.node.as_deref().map(|n| n.id.as_str())
    }

    /// This node in cluster mode.
    pub fn node(&self) -> Option<&Node> {
        self.inner.node.as_deref()
    }

    /// The store a session's actor about to start here writes through: in cluster mode, once
    /// this node holds the session's lease, fenced by its token.
    pub(super) async fn take_lease(&self, key: &SessionKey) -> SessionResult<Store> {
        let Some(node) = &self.inner.node else { return Ok(self.store().clone()) };
        let mut w = self.store().begin_write().await?;
        let taken = leases::acquire(&mut w, key, &node.id, now_ms(), node.ttl_ms).await?;
        w.commit().await?;
        match taken {
            Ok(token) => Ok(self.store().fenced(Fence { key: key.clone(), node: node.id.clone(), token })),
            Err(leases::HeldBy(other)) => Err(SessionError::OnAnotherNode(other)),
        }
    }

    /// Refuses work that would be stored or done here for a session another node runs: that
    /// node's actor would not hear of it.
    pub async fn refuse_if_elsewhere(&self, key: &SessionKey) -> SessionResult<()> {
        let Some(node) = &self.inner.node else { return Ok(()) };
        match leases::holder(self.store().pool(), key, now_ms()).await? {
            Some(other) if other != node.id => Err(SessionError::OnAnotherNode(other)),
            _ => Ok(()),
        }
    }

    /// Sends queued on another node for sessions this node runs reach their actors: each
    /// `message.sent` of `events` (every node's, from the cluster feed) wakes the outbox of
    /// the session's actor if it runs here. Ends when the feed does.
    pub fn flush_remote_sends(&self, mut events: crate::events::Subscription) -> tokio::task::JoinHandle<()> {
        let sessions = self.clone();
        tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                let (crate::events::EventBody::MessageSent(_), Some(session)) = (&ev.body, &ev.session_id) else {
                    continue;
                };
                let key = SessionKey::new(&ev.tenant_id, session);
                let actor = sessions.inner.actors.lock().expect("actors lock").get(&key).cloned();
                if let Some(actor) = actor {
                    let _ = actor.tx.send(Box::new(super::Command::Flush));
                }
            }
        })
    }

    /// The actor of `key` ended here: its lease is free for any node at once.
    pub(super) async fn give_lease_back(&self, key: &SessionKey) {
        if let Some(node) = &self.inner.node
            && let Err(e) = leases::release(self.store().pool(), key, &node.id).await
        {
            tracing::warn!(session = %key, error = %e, "lease not released; it expires by itself");
        }
    }

    /// Runs a round every renewal interval until the task is aborted; nothing when cluster
    /// mode is off.
    pub fn spawn_ownership(&self) -> Option<tokio::task::JoinHandle<()>> {
        let node = self.inner.node.clone()?;
        let sessions = self.clone();
        Some(tokio::spawn(async move {
            while !sessions.stopping() {
                if let Err(e) = sessions.ownership_round().await {
                    tracing::error!(node = %node.id, error = %e, "cluster round failed; trying again");
                }
                tokio::time::sleep(node.interval).await;
            }
        }))
    }

    /// One round: heartbeat, renewal, actors whose lease was lost stopped, a share of the
    /// orphaned sessions taken over.
    pub async fn ownership_round(&self) -> SessionResult<Round> {
        let Some(node) = self.inner.node.clone() else { return Ok(Round::default()) };
        if self.stopping() {
            return Ok(Round::default());
        }
        let pool = self.store().pool();
        let began = Instant::now();
        let now = now_ms();
        leases::heartbeat(pool, &node.id, node.started_ms, now, &node.profile()).await?;
        let held: HashMap<SessionKey, i64> =
            leases::renew(pool, &node.id, now, node.ttl_ms).await?.into_iter().collect();
        // Shutting down meanwhile: the leases are being given up, not lost.
        if self.stopping() {
            return Ok(Round::default());
        }
        let mut round = Round { renewed: held.len(), ..Round::default() };
        // An actor that took its lease after the renewal began is not in `held` yet.
        let lost: Vec<_> = self
            .inner
            .actors
            .lock()
            .expect("actors lock")
            .iter()
            .filter(|(key, h)| h.since < began && !held.contains_key(*key))
            .map(|(key, h)| (key.clone(), h.clone()))
            .collect();
        for (key, handle) in lost {
            tracing::warn!(session = %key, node = %node.id, "lease lost; the session stops here");
            round.lost += 1;
            let (reply, _) = tokio::sync::oneshot::channel();
            let _ = handle.tx.send(Box::new(super::Command::Shutdown { reply }));
        }
        let mut orphans = leases::orphans(pool, now, ORPHANS_PER_ROUND).await?;
        if orphans.is_empty() {
            return Ok(round);
        }
        // Shared evenly: each live node takes what brings it to its part of all the sessions
        // that run (at least one, so orphans never wait on a count), drawn at random so that
        // nodes looking at the same list in the same instant mostly pick different ones.
        let live = leases::live_nodes(pool, now - node.ttl_ms, now).await?;
        let running = orphans.len() + live.iter().map(|n| n.sessions.max(0) as usize).sum::<usize>();
        let target = running.div_ceil(live.len().max(1));
        let share = target.saturating_sub(held.len()).max(1);
        orphans.shuffle(&mut rand::rng());
        let mut mine: Vec<Session> = Vec::new();
        for key in orphans {
            if mine.len() == share || self.stopping() {
                break;
            }
            match self.actor_without_resume(&key).await {
                Ok(_) => {}
                Err(SessionError::OnAnotherNode(_) | SessionError::NotFound) => continue,
                Err(e) => {
                    tracing::warn!(session = %key, error = %e, "could not take the session over");
                    continue;
                }
            }
            if let Some(s) = stored::get(pool, &key).await? {
                mine.push(s);
            }
        }
        round.taken = mine.len();
        if !mine.is_empty() {
            tracing::info!(node = %node.id, sessions = mine.len(), "taking sessions over");
            self.resume_sessions(mine).await?;
        }
        Ok(round)
    }

    /// After this node's actors stopped (graceful shutdown): its leases and its place in the
    /// cluster are given up, so the other nodes take its sessions at their next round.
    pub(super) async fn leave_cluster(&self) {
        let Some(node) = &self.inner.node else { return };
        let pool = self.store().pool();
        match leases::release_all(pool, &node.id).await {
            Ok(n) => tracing::info!(node = %node.id, sessions = n, "leases given up"),
            Err(e) => tracing::warn!(node = %node.id, error = %e, "leases not given up; they expire by themselves"),
        }
        let _ = leases::leave(pool, &node.id).await;
    }
}
