//! The journal of committed events, read in pages or followed live as Server-Sent Events.
//! Both show a caller the events it may see: a tenant administrator all of them, a user token
//! without the `admin` role only those of the sessions it may use.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{broadcast, watch};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiQuery, Caller, Via};
use super::state::AppState;
use crate::auth::Revocation;
use crate::quotas::Slot;
use crate::store::journal::{self, JournalRow};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events)).routes(routes!(stream_events))
}

/// Journal rows a stream reads at a time: what one slow reader holds in memory at most.
const STREAM_PAGE: i64 = 200;
/// A comment line this often keeps proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Which of the tenant's events a caller sees.
enum Visible {
    All,
    /// Events of these sessions only (tenant-wide events, such as stats over every session,
    /// are the administrator's).
    Sessions(Vec<String>),
}

impl Visible {
    async fn of(caller: &Caller, st: &AppState) -> ApiResult<Self> {
        if caller.is_admin() {
            return Ok(Visible::All);
        }
        let sessions = st.sessions.list(&caller.tenant).await?;
        Ok(Visible::Sessions(sessions.iter().filter(|s| caller.may_use(st, s)).map(|s| s.id.clone()).collect()))
    }

    fn shows(&self, row: &JournalRow) -> bool {
        match (self, &row.session_id) {
            (Visible::All, _) => true,
            (Visible::Sessions(list), Some(s)) => list.contains(s),
            (Visible::Sessions(_), None) => false,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Events after this `seq` (default 0: from the oldest kept).
    after_seq: Option<u64>,
    /// 1 to 1000, default 100.
    limit: Option<u32>,
}

/// A page of the journal: events in `seq` order, each as a socket receives it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    events: Vec<JournalEvent>,
    /// The oldest `seq` the journal still holds (older ones were pruned).
    first_seq: Option<u64>,
    /// Give it as `afterSeq` for the next page.
    last_seq: u64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JournalEvent {
    /// The event name (`message.received`, ...).
    event: String,
    seq: u64,
    /// The canonical payload (docs/events.md).
    #[schema(value_type = Object)]
    payload: serde_json::Value,
}

/// Committed events of the tenant, from the durable journal (retention: `events.retention_*`).
/// A user token without the `admin` role sees only the events of the sessions it may use.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", security(("tenant" = [])),
    params(EventsQuery),
    responses((status = 200, body = EventPage), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_events(
    caller: Caller,
    State(st): State<AppState>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<Json<EventPage>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::unprocessable("invalid_limit", "limit must be 1 to 1000"));
    }
    let after = q.after_seq.unwrap_or(0).min(i64::MAX as u64) as i64;
    let rows = journal::after(st.store.pool(), &caller.tenant, after, i64::from(limit)).await?;
    let last_seq = rows.last().map_or(after, |r| r.seq) as u64;
    let visible = Visible::of(&caller, &st).await?;
    let events = rows
        .into_iter()
        .filter(|r| visible.shows(r))
        .map(|r| JournalEvent {
            event: r.name,
            seq: r.seq as u64,
            payload: serde_json::from_str(&r.payload).unwrap_or(serde_json::Value::Null),
        })
        .collect();
    let first_seq = journal::first_seq(st.store.pool(), &caller.tenant).await?.map(|s| s as u64);
    Ok(Json(EventPage { events, first_seq, last_seq }))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Start after this `seq` (0: from the oldest kept). Without it (and without a
    /// `Last-Event-ID` header, which wins) the stream starts with the next committed event.
    after_seq: Option<u64>,
    /// Only this session's events.
    session_id: Option<String>,
}

/// The tenant's committed events as they are committed, as Server-Sent Events: `id` is the
/// event's `seq`, `event` its name, `data` its canonical payload. Read from the durable journal,
/// so a reader that reconnects with `Last-Event-ID` misses nothing and sees nothing twice; a
/// reader whose `seq` was pruned first gets `delivery.gap { fromSeq, toSeq }`. The stream ends
/// with an `error { code, message }` event when the caller's rights end (its token expires, its
/// tenant's keys or settings change, its session is deleted); reconnecting checks them again.
/// An open stream counts as a socket against the tenant's and user's socket limits.
#[utoipa::path(get, path = "/api/v1/events/stream", tag = "events", security(("tenant" = [])),
    params(StreamQuery, ("Last-Event-ID" = Option<u64>, Header, description = "the last seq received")),
    responses((status = 200, content_type = "text/event-stream", description = "the events, as they are committed"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn stream_events(
    caller: Caller,
    State(st): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let last_event_id = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()).ok_or_else(|| {
            ApiError::unprocessable("invalid_last_event_id", "Last-Event-ID must be the seq of an event")
        })?),
    };
    if let Some(id) = &q.session_id {
        caller.use_session(&st, id).await?;
    }
    let (user, expires_at) = match &caller.via {
        Via::Jwt(identity) => (identity.user.clone(), identity.expires_at),
        Via::ApiKey => (None, None),
    };
    let slot = st.connections.reserve(&caller.tenant, user.as_deref(), &st.directory.limits(&caller.tenant))?;
    // Followed before the start is read: a commit in between wakes the stream.
    let tail = st.journal_tail.follow(&caller.tenant);
    let revoked = st.revocations.subscribe();
    let committed = journal::committed_seq(st.store.pool(), &caller.tenant).await?;
    let after = match last_event_id.or(q.after_seq) {
        // An id from another gateway's journal (or a reset one) would wait for events that are
        // never coming: say so instead.
        Some(seq) if seq > committed as u64 => {
            return Err(ApiError::unprocessable(
                "seq_ahead",
                format!("seq {seq} is after the tenant's newest event ({committed}): start again without it"),
            ));
        }
        Some(seq) => seq as i64,
        None => committed,
    };
    let ends_at =
        expires_at.map(|at| tokio::time::Instant::now() + (at - chrono::Utc::now()).to_std().unwrap_or_default());
    let follow = Follow {
        st,
        caller,
        session: q.session_id,
        gap_checked: after == 0,
        after,
        tail,
        revoked,
        ends_at,
        ready: VecDeque::new(),
        ended: false,
        _slot: slot,
    };
    let events = futures::stream::unfold(follow, |mut f| async move { f.next().await.map(|e| (Ok(e), f)) });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// One open stream: where it is in the journal and what ends it.
struct Follow {
    st: AppState,
    caller: Caller,
    session: Option<String>,
    after: i64,
    /// Whether the first page has been checked for a pruned stretch.
    gap_checked: bool,
    tail: watch::Receiver<u64>,
    revoked: broadcast::Receiver<Revocation>,
    ends_at: Option<tokio::time::Instant>,
    ready: VecDeque<SseEvent>,
    ended: bool,
    _slot: Slot,
}

impl Follow {
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Some(e);
            }
            if self.ended {
                return None;
            }
            match self.read_page().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e.message, tenant = %self.caller.tenant, "event stream ended");
                    self.end(&e.code, &e.message);
                    continue;
                }
            }
            if let Some((code, message)) = self.wait().await {
                self.end(code, &message);
            }
        }
    }

    /// Queues the next page's visible events; false when the journal has nothing newer.
    async fn read_page(&mut self) -> ApiResult<bool> {
        let rows = journal::after(self.st.store.pool(), &self.caller.tenant, self.after, STREAM_PAGE).await?;
        let Some(last) = rows.last() else { return Ok(false) };
        let first = rows[0].seq;
        if !std::mem::replace(&mut self.gap_checked, true) && first > self.after + 1 {
            let gap = json!({ "tenantId": self.caller.tenant, "fromSeq": self.after + 1, "toSeq": first - 1 });
            self.ready.push_back(SseEvent::default().event("delivery.gap").data(gap.to_string()));
        }
        self.after = last.seq;
        let visible = Visible::of(&self.caller, &self.st).await?;
        for row in rows.iter().filter(|r| visible.shows(r)) {
            if self.session.as_ref().is_some_and(|s| row.session_id.as_ref() != Some(s)) {
                continue;
            }
            self.ready.push_back(SseEvent::default().id(row.seq.to_string()).event(&row.name).data(&row.payload));
        }
        Ok(true)
    }

    /// Waits for the tenant's next commit; `Some` when the caller's rights end first.
    async fn wait(&mut self) -> Option<(&'static str, String)> {
        let ends_at = self.ends_at;
        let expiry = async move {
            match ends_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = self.tail.changed() => changed.err().map(|_| ("shutting_down", "the gateway is stopping".to_owned())),
            () = expiry => Some(("token_expired", "the token has expired".to_owned())),
            r = self.revoked.recv() => self.revokes(r),
        }
    }

    fn revokes(&self, r: Result<Revocation, broadcast::error::RecvError>) -> Option<(&'static str, String)> {
        let tenant = &self.caller.tenant;
        match r {
            Ok(Revocation::TenantDeleted(t)) if &t == tenant => {
                Some(("tenant_deleted", "the tenant was deleted".into()))
            }
            Ok(Revocation::TenantChanged { tenant: t, .. }) if &t == tenant => Some((
                "credentials_changed",
                "the tenant's keys or settings changed: reconnect to be checked again".into(),
            )),
            Ok(Revocation::SessionDeleted(key))
                if &key.tenant == tenant && self.session.as_deref() == Some(key.session.as_str()) =>
            {
                Some(("session_not_found", "the session was deleted".into()))
            }
            Ok(_) => None,
            // Missed announcements may have concerned this stream: have it checked again.
            Err(broadcast::error::RecvError::Lagged(_)) => {
                Some(("credentials_changed", "rights changed: reconnect to be checked again".into()))
            }
            Err(broadcast::error::RecvError::Closed) => Some(("shutting_down", "the gateway is stopping".into())),
        }
    }

    fn end(&mut self, code: &str, message: &str) {
        self.ended = true;
        self.ready.push_back(
            SseEvent::default().event("error").data(json!({ "code": code, "message": message }).to_string()),
        );
    }
}
