//! The outbox of a session's actor: the send queue. Outbound messages wait in the store
//! (`PENDING`) and are handed to the connection oldest first, paced by the session's policy
//! (`sessions/pacing.rs`: rate, spacing per recipient, jitter; the warm-up cap here, counted
//! from the store; humanlike typing), so what was accepted goes out once, in order per chat,
//! across reconnects and restarts. What the queue is doing is kept in its gauge for REST and
//! announced as `session.queue` when it starts or stops waiting.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::Actor;
use crate::connector::{ConnectorError, Outgoing, OutgoingBody, OutgoingMedia, QuotedRef, votes};
use crate::events::{self, EventBody, EventDraft};
use crate::media::kinds::MediaKind;
use crate::model::{ChatState, Jid, Message, MessageStatus, QueueState, QueueWait, SendPolicy, SessionStatus};
use crate::sessions::outgoing;
use crate::sessions::pacing::{Pacer, Verdict, typing_time};
use crate::sessions::send_queue::{Gauge, QueueMetrics, idle};
use crate::store::send_queue::{self, Waiting};
use crate::store::{StoreResult, messages};

/// `session.queue` is announced at most this often while only the depth moves.
const ANNOUNCE_EVERY: Duration = Duration::from_secs(1);
/// The warm-up cap counts what went in any window this long.
const WARM_UP_WINDOW: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The queue's state between passes.
pub(in crate::sessions) struct Outbox {
    policy: SendPolicy,
    /// When the device was linked (the warm-up counts from it).
    linked_at: Option<DateTime<Utc>>,
    /// Restored from the store at the first pass, so a restart does not reset the pacing.
    pacer: Option<Pacer>,
    /// The message "typing..." is showing for, and when it goes.
    typing: Option<(String, Instant)>,
    /// When the next pass is due (a paced message, or an announcement held back).
    pub(super) due: Option<Instant>,
    /// The state last announced, and when.
    announced: Option<(QueueState, Instant)>,
    gauge: Arc<Gauge>,
    metrics: QueueMetrics,
}

impl Outbox {
    pub(in crate::sessions) fn new(
        policy: SendPolicy,
        linked_at: Option<DateTime<Utc>>,
        gauge: Arc<Gauge>,
        metrics: QueueMetrics,
    ) -> Self {
        Self { policy, linked_at, pacer: None, typing: None, due: None, announced: None, gauge, metrics }
    }

    pub(super) fn set_policy(&mut self, policy: SendPolicy) {
        self.policy = policy;
        self.typing = None;
    }

    /// The device was linked (`true`: now, unless it already was) or unlinked.
    pub(super) fn linked(&mut self, linked: bool) {
        self.linked_at = match linked {
            true => self.linked_at.or(Some(Utc::now())),
            false => None,
        };
    }

    /// Whether the state should be announced now; when it should but only later, the pass
    /// that will is scheduled.
    fn announce(&mut self, state: &QueueState, now: Instant) -> bool {
        let due = match &self.announced {
            None => state.waiting_for.is_some(),
            Some((last, _)) if last.waiting_for != state.waiting_for => true,
            Some((last, _)) if last.depth == state.depth => false,
            Some((_, at)) if now >= *at + ANNOUNCE_EVERY => true,
            Some((_, at)) => {
                let next = *at + ANNOUNCE_EVERY;
                self.due = Some(self.due.map_or(next, |d| d.min(next)));
                false
            }
        };
        if due {
            self.announced = Some((state.clone(), now));
        }
        due
    }
}

/// The wall-clock time of an instant (for what REST and events show).
fn wall(at: Instant) -> DateTime<Utc> {
    let now = Instant::now();
    let ahead = at.saturating_duration_since(now);
    Utc::now() + chrono::Duration::from_std(ahead).unwrap_or_default()
}

/// The instant of a wall-clock time (for what the store keeps).
fn instant(at: DateTime<Utc>) -> Instant {
    let now = Instant::now();
    match (Utc::now() - at).to_std() {
        Ok(past) => now.checked_sub(past).unwrap_or(now),
        Err(_) => now + (at - Utc::now()).to_std().unwrap_or_default(),
    }
}

/// The warm-up cap's count for one pass: read once, then counted up as messages go.
struct WarmUpWindow {
    sent: u32,
    first: Option<DateTime<Utc>>,
}

impl Actor {
    /// What the connector is handed for a stored outbound message (its file read back from
    /// the media store).
    async fn outgoing(&self, m: &Message) -> Result<Outgoing, String> {
        let media_kind = m.media.as_ref().and_then(|info| MediaKind::of(m.kind, info).map(|k| (k, info)));
        let body = match media_kind {
            Some((kind, info)) => {
                let data = match self.media.get(&self.key, &m.id).await {
                    Ok(Some(data)) => data,
                    Ok(None) => return Err("the message's file is no longer stored".into()),
                    Err(e) => return Err(e.to_string()),
                };
                OutgoingBody::Media(OutgoingMedia { kind, info: info.clone(), caption: m.content.clone(), data })
            }
            None => outgoing::body_of(m).ok_or_else(|| format!("a {} message cannot be sent", m.kind))?,
        };
        let quoted = m.quoted.as_ref().map(|q| QuotedRef {
            wa_id: q.wa_message_id.clone(),
            sender: q.from_jid.as_deref().and_then(|j| Jid::parse(j).ok()),
            from_me: q.from_jid.as_deref() == Some(m.from_jid.as_str()),
            text: q.content.clone(),
        });
        let mentions = m.mentions.iter().filter_map(|j| Jid::parse(j).ok()).collect();
        let poll_secret = match &body {
            OutgoingBody::Poll { .. } => Some(self.poll_secret(m).await.map_err(|e| e.to_string())?),
            _ => None,
        };
        Ok(Outgoing { body, quoted, mentions, link_preview: m.link_preview.clone(), poll_secret })
    }

    /// The secret a poll goes out with: chosen and kept before its first try, so every retry
    /// is the same poll and the votes on it can be opened.
    async fn poll_secret(&self, m: &Message) -> StoreResult<Vec<u8>> {
        if let Some(secret) = messages::poll_secret(self.store.pool(), &self.key, &m.id).await? {
            return Ok(secret);
        }
        let secret = votes::new_secret();
        let mut w = self.store.begin_write().await?;
        messages::set_poll_secret(&mut w, &self.key, &m.id, &secret).await?;
        w.commit().await?;
        Ok(secret)
    }

    /// Hands the stored, not yet sent outbound messages to the connection, oldest first, as
    /// far as the policy lets it now; the actor comes back when the next one is due. Per chat
    /// the order holds: a message whose file is still being fetched, or whose chat must wait
    /// for its spacing, holds back the ones after it in its chat, not the other chats.
    pub(super) async fn flush_outbox(&mut self) -> StoreResult<()> {
        let awaiting = messages::awaiting_fetch(self.store.pool(), &self.key).await?;
        let fetching: HashSet<String> = awaiting.iter().map(|(m, _)| m.id.clone()).collect();
        self.url_media.start(&self.key, awaiting, &self.wake);
        let queue = send_queue::waiting(self.store.pool(), &self.key).await?;
        let mut state =
            QueueState { depth: u32::try_from(queue.len()).unwrap_or(u32::MAX), ..idle(self.outbox.policy.max_depth) };
        self.outbox.due = None;
        let conn = match &self.conn {
            Some(conn) if self.session.status == SessionStatus::Connected => conn.clone(),
            _ => {
                state.oldest_queued_at = queue.first().map(|m| m.timestamp);
                state.waiting_for = (!queue.is_empty()).then_some(QueueWait::NotConnected);
                return self.settle(state).await;
            }
        };
        if self.outbox.pacer.is_none() {
            self.outbox.pacer = Some(self.restore_pacer().await?);
        }
        let policy = self.outbox.policy;
        let mut window: Option<WarmUpWindow> = None;
        let mut blocked: HashSet<String> = HashSet::new();
        let mut wait: Option<(Instant, QueueWait)> = None;
        let mut held_by_media = false;
        for q in queue {
            if fetching.contains(&q.id) {
                held_by_media = true;
                blocked.insert(q.chat_id.clone());
            }
            if blocked.contains(&q.chat_id) {
                state.oldest_queued_at.get_or_insert(q.timestamp);
                continue;
            }
            let slot = match self.pace(&policy, &q, Instant::now(), &mut window).await? {
                Verdict::Go(slot) => slot,
                Verdict::Wait(at, why) => {
                    state.oldest_queued_at.get_or_insert(q.timestamp);
                    if wait.is_none_or(|(w, _)| at < w) {
                        wait = Some((at, why));
                    }
                    if why == QueueWait::Recipient {
                        blocked.insert(q.chat_id.clone());
                        continue;
                    }
                    break;
                }
            };
            let Some(m) = messages::get(self.store.pool(), &self.key, &q.id).await? else { continue };
            let Ok(to) = self.chat_jid(&m.chat_id).await else { continue };
            let mut went = Instant::now();
            let sent = match self.outgoing(&m).await {
                Ok(out) => {
                    went = Instant::now();
                    conn.send(&to, &out, &m.id).await
                }
                Err(why) => Err(ConnectorError::Rejected(why)),
            };
            self.outbox.typing = None;
            match sent {
                Ok(wa_id) => {
                    let at = Utc::now();
                    let mut w = self.store.begin_write().await?;
                    send_queue::set_handed(&mut w, &self.key, &m.id, &wa_id, at).await?;
                    w.commit().await?;
                    if let Some(pacer) = &mut self.outbox.pacer {
                        pacer.handed(&policy, &m.chat_id, slot, went);
                    }
                    if let Some(window) = &mut window {
                        window.sent += 1;
                        window.first.get_or_insert(at);
                    }
                    self.outbox.metrics.wait.observe((at - m.timestamp).to_std().unwrap_or_default().as_secs_f64());
                    state.depth = state.depth.saturating_sub(1);
                }
                // Stays queued; the next CONNECTED flushes it.
                Err(ConnectorError::NotConnected) => {
                    state.oldest_queued_at.get_or_insert(m.timestamp);
                    wait = None;
                    state.waiting_for = Some(QueueWait::NotConnected);
                    break;
                }
                Err(ConnectorError::Rejected(reason)) => {
                    self.fail_outbound(&m, reason).await?;
                    state.depth = state.depth.saturating_sub(1);
                }
            }
        }
        if let Some((at, why)) = wait {
            state.waiting_for = Some(why);
            state.next_send_at = Some(wall(at));
            self.outbox.due = Some(at);
        } else if held_by_media && state.waiting_for.is_none() && state.depth > 0 {
            state.waiting_for = Some(QueueWait::Media);
        }
        self.settle(state).await
    }

    /// Whether `m` may go (and the time the pacing counts it at) or must wait, and for what:
    /// the warm-up cap, the pacing, then humanlike typing (started here: the message goes when
    /// it is over).
    async fn pace(
        &mut self,
        policy: &SendPolicy,
        m: &Waiting,
        now: Instant,
        window: &mut Option<WarmUpWindow>,
    ) -> StoreResult<Verdict> {
        if let Some(until) = self.warm_up_until(policy, window).await? {
            return Ok(Verdict::Wait(until, QueueWait::WarmUp));
        }
        match &self.outbox.typing {
            Some((id, at)) if *id == m.id && *at > now => return Ok(Verdict::Wait(*at, QueueWait::Typing)),
            Some((id, _)) if *id == m.id => return Ok(Verdict::Go(now)),
            _ => self.outbox.typing = None,
        }
        let pacer = self.outbox.pacer.get_or_insert_with(Pacer::default);
        let draw = |bound: u32| rand::random_range(0..=u64::from(bound));
        let go = pacer.check(policy, &m.id, &m.chat_id, now, draw);
        if matches!(go, Verdict::Wait(..)) || !policy.humanlike {
            return Ok(go);
        }
        let Some(conn) = self.conn.clone() else { return Ok(go) };
        let Ok(to) = self.chat_jid(&m.chat_id).await else { return Ok(go) };
        // A chat that cannot show typing still gets its message after the same pause.
        if let Err(e) = conn.chat_state(&to, ChatState::Composing).await {
            tracing::debug!(session = %self.key, error = %e, "typing before a paced message not shown");
        }
        let at = now + typing_time(policy, usize::try_from(m.chars).unwrap_or(0));
        self.outbox.typing = Some((m.id.clone(), at));
        Ok(Verdict::Wait(at, QueueWait::Typing))
    }

    /// When the warm-up cap lets the next message go, if it holds it back now.
    async fn warm_up_until(
        &self,
        policy: &SendPolicy,
        window: &mut Option<WarmUpWindow>,
    ) -> StoreResult<Option<Instant>> {
        let Some(cap) = policy.warm_up else { return Ok(None) };
        let now = Utc::now();
        if crate::sessions::send_queue::warm_up_until(policy, self.outbox.linked_at).is_none_or(|until| until <= now) {
            return Ok(None);
        }
        if window.is_none() {
            let (sent, first) = send_queue::handed_since(self.store.pool(), &self.key, now - WARM_UP_WINDOW).await?;
            *window = Some(WarmUpWindow { sent, first });
        }
        let w = window.as_ref().expect("read above");
        Ok(match w.first {
            Some(first) if w.sent >= cap.per_day => Some(instant(first + WARM_UP_WINDOW)),
            _ => None,
        })
    }

    /// The pacing as the store left it: when the session and its recent recipients last got
    /// a message.
    async fn restore_pacer(&self) -> StoreResult<Pacer> {
        let spacing = chrono::Duration::seconds(i64::from(self.outbox.policy.per_recipient_secs));
        let (last, chats) = send_queue::last_handed(self.store.pool(), &self.key, Utc::now() - spacing).await?;
        Ok(Pacer::restore(last.map(instant), chats.into_iter().map(|(c, at)| (c, instant(at)))))
    }

    /// WhatsApp refused the message: it is FAILED with the reason, and leaves the queue.
    async fn fail_outbound(&self, m: &Message, reason: String) -> StoreResult<()> {
        let mut w = self.store.begin_write().await?;
        messages::set_status(&mut w, &self.key, &m.id, MessageStatus::Failed, Some(&reason), Utc::now()).await?;
        let body = EventBody::MessageStatus(events::MessageStatusChanged {
            message_id: m.id.clone(),
            wa_message_id: None,
            chat_id: m.chat_id.clone(),
            status: MessageStatus::Failed,
            previous_status: m.status,
            error: Some(reason),
        });
        self.journal.commit(w, vec![EventDraft::session(&self.key, body)]).await?;
        Ok(())
    }

    /// Keeps the pass's outcome in the gauge and announces it when it changed.
    async fn settle(&mut self, state: QueueState) -> StoreResult<()> {
        self.outbox.gauge.set(state.clone());
        if !self.outbox.announce(&state, Instant::now()) {
            return Ok(());
        }
        let w = self.store.begin_write().await?;
        self.journal.commit(w, vec![EventDraft::session(&self.key, EventBody::SessionQueue(state))]).await?;
        Ok(())
    }
}
