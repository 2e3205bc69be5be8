//! Client -> server events of the canonical dialect.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Event, SocketRef, State, TryData};
use tokio::sync::mpsc;

use super::{Realtime, emit, resume, rooms};
use crate::auth::{AuthError, Identity, SessionAccess};
use crate::model::{SessionKey, validate_id};
use crate::plugins::Hook;
use crate::quotas::QuotaExceeded;
use crate::sessions::SessionError;

/// Events of one socket waiting for its plugins; beyond this the client is told to slow down.
const PLUGIN_QUEUE_DEPTH: usize = 128;

/// The way into a socket's plugin worker. Removed on disconnect, which ends the worker.
#[derive(Clone)]
struct PluginQueue(mpsc::Sender<(String, Value)>);

/// The receiving end of a socket's plugin queue, held from the handshake until `start` gives
/// it to the socket's worker.
#[derive(Clone)]
struct PendingWorker(Arc<Mutex<Option<mpsc::Receiver<(String, Value)>>>>);

/// Called by the handshake once it admits the socket, before the client is told it is
/// connected: socketioxide sends the connect packet before it runs the connect handler, and a
/// client event that arrives in between finds only the handlers registered here (any other is
/// dropped unanswered). Events for plugins go through one worker per socket: a socket's events
/// are handled in the order it sent them (`subscribe` then `unsubscribe` must not end
/// subscribed), and `$connect` comes first. A socket of a tenant without client-event plugins
/// gets no worker until it sends an event one of them could take: most sockets never do, and
/// an idle socket should cost little more than its connection.
pub(super) fn register(s: &SocketRef, identity: &Identity, rt: &Realtime) {
    if rt.plugins.has_hook(&identity.tenant, Hook::ClientEvents) {
        let (tx, rx) = mpsc::channel(PLUGIN_QUEUE_DEPTH);
        let _ = tx.try_send(("$connect".to_owned(), identity.claims.clone()));
        s.extensions.insert(PluginQueue(tx));
        s.extensions.insert(PendingWorker(Arc::new(Mutex::new(Some(rx)))));
    }
    s.on("session.subscribe", subscribe);
    s.on("session.unsubscribe", unsubscribe);
    s.on("session.resume", resume_event);
    s.on_fallback(to_plugins);
    s.on_disconnect(|s: SocketRef| {
        s.extensions.remove::<PluginQueue>();
        s.extensions.remove::<super::handshake::HeldSlot>();
        if let Some(timer) = s.extensions.get::<super::guard::ExpiryTimer>() {
            timer.cancel();
        }
        std::future::ready(())
    });
}

/// Starts the socket's plugin worker on what `register` queued so far. Spawned only once the
/// socket is connected: the worker holds the socket, which a socket that never connects would
/// then never drop.
pub(super) fn start(s: &SocketRef, io: SocketIo, rt: Realtime, identity: Arc<Identity>) {
    let Some(PendingWorker(pending)) = s.extensions.remove::<PendingWorker>() else { return };
    let Some(rx) = pending.lock().unwrap_or_else(|p| p.into_inner()).take() else { return };
    tokio::spawn(plugin_worker(s.clone(), io, rt, identity, rx));
}

/// Not an `async fn`: socketioxide calls a handler as the packet arrives and only spawns the
/// future it returns, so queueing here, before any future, keeps the socket's order.
fn to_plugins(
    s: SocketRef,
    io: SocketIo,
    Event(name): Event,
    TryData(data): TryData<Value>,
    State(rt): State<Realtime>,
) -> std::future::Ready<()> {
    let queue = match s.extensions.get::<PluginQueue>() {
        Some(PluginQueue(tx)) => Some(tx),
        None => worker_for_later_plugins(&s, io, rt),
    };
    let Some(tx) = queue else {
        let _ = s.emit("error", &unknown_event(&name));
        return std::future::ready(());
    };
    if let Err(mpsc::error::TrySendError::Full((name, _))) =
        tx.try_send((name.to_string(), data.unwrap_or(Value::Null)))
    {
        let message = format!("too many events waiting ({PLUGIN_QUEUE_DEPTH}); '{name}' was not handled");
        let _ = s.emit("error", &json!({ "code": "too_many_events", "message": message, "event": name }));
    }
    std::future::ready(())
}

/// The tenant bound a client-event plugin after this socket connected: its worker starts now.
fn worker_for_later_plugins(s: &SocketRef, io: SocketIo, rt: Realtime) -> Option<mpsc::Sender<(String, Value)>> {
    let identity = s.extensions.get::<Arc<Identity>>()?;
    if !rt.plugins.has_hook(&identity.tenant, Hook::ClientEvents) {
        return None;
    }
    let (tx, rx) = mpsc::channel(PLUGIN_QUEUE_DEPTH);
    s.extensions.insert(PluginQueue(tx.clone()));
    tokio::spawn(plugin_worker(s.clone(), io, rt, identity, rx));
    Some(tx)
}

fn unknown_event(name: &str) -> Value {
    json!({ "code": "unknown_event", "message": format!("unknown event '{name}'"), "event": name })
}

/// Any event the host does not handle goes to the tenant's client-event plugins; without one
/// it is unknown.
async fn plugin_worker(
    s: SocketRef,
    io: SocketIo,
    rt: Realtime,
    identity: Arc<Identity>,
    mut rx: mpsc::Receiver<(String, Value)>,
) {
    while let Some((name, payload)) = rx.recv().await {
        match rt.plugins.client_event(&identity, &name, &payload).await {
            Some(todo) => {
                let access = rt.directory.session_access(&identity.tenant).unwrap_or(SessionAccess::Listed);
                let caller = super::actions::Caller { socket: &s, access };
                super::actions::execute(&io, &rt.sessions, &rt.relay, super::actions::By::Socket(caller), todo).await
            }
            None if name == "$connect" => {}
            None => {
                let _ = s.emit("error", &unknown_event(&name));
            }
        }
    }
}

/// A session id as clients send it: `"abc"`, `1`, or `{ "sessionId": ... }`.
fn session_id(data: &Value) -> Option<String> {
    match data {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => o.get("sessionId").and_then(session_id),
        _ => None,
    }
}

fn reply_error(s: &SocketRef, ack: AckSender, event: &str, code: &str, message: String) {
    let _ = s.emit("error", &json!({ "code": code, "message": message, "event": event }));
    let _ = ack.send(&json!({ "ok": false, "error": { "code": code, "message": message } }));
}

async fn subscribe(s: SocketRef, TryData(data): TryData<Value>, ack: AckSender, State(rt): State<Realtime>) {
    let Some(identity) = s.extensions.get::<Arc<Identity>>() else { return };
    let Some(id) = data.ok().as_ref().and_then(session_id) else {
        return reply_error(&s, ack, "session.subscribe", "invalid_payload", "expected a session id".into());
    };
    if let Err(e) = validate_id(&id) {
        return reply_error(&s, ack, "session.subscribe", "invalid_session_id", e.to_string());
    }
    let limits = rt.directory.limits(&identity.tenant);
    let rate = rt.rates.check("session.subscribe per minute", &format!("sub/{}", s.id), limits.subscribes_per_minute);
    if let Err(q) = rate {
        let message = format!("{q}; retry in {} s", q.retry_after_secs().unwrap_or(1));
        return reply_error(&s, ack, "session.subscribe", "quota_exceeded", message);
    }
    match usable_session(&rt, &identity, &id).await {
        Ok(Some(key)) => {
            let room = rooms::session(&key);
            let subscribed = s.rooms().iter().filter(|r| rooms::parse_session(r).is_some()).count();
            let max = limits.max_subscriptions_per_socket as usize;
            if subscribed >= max && !s.rooms().iter().any(|r| *r == room) {
                let message = QuotaExceeded::count("subscriptions per socket", max as u64).to_string();
                return reply_error(&s, ack, "session.subscribe", "quota_exceeded", message);
            }
            resume::Joined::join(&s, &rt.marks.of(&identity.tenant), room);
            let _ = ack.send(&json!({ "ok": true, "sessionId": id }));
        }
        Ok(None) => reply_error(&s, ack, "session.subscribe", "session_not_found", format!("session '{id}' not found")),
        Err(e) => reply_error(&s, ack, "session.subscribe", "internal", e.to_string()),
    }
}

/// The key of session `id` when the identity may use it. Unknown, foreign and unusable
/// sessions are all `None`: a tenant learns nothing of another, a user nothing of what it may
/// not use.
async fn usable_session(rt: &Realtime, identity: &Identity, id: &str) -> Result<Option<SessionKey>, SessionError> {
    let key = SessionKey::new(&identity.tenant, id);
    let access = rt.directory.session_access(&identity.tenant).unwrap_or(SessionAccess::Listed);
    match rt.sessions.get(&key).await {
        Ok(session) if identity.may_use(access, &session) => Ok(Some(key)),
        Ok(_) | Err(SessionError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn unsubscribe(s: SocketRef, TryData(data): TryData<Value>, ack: AckSender) {
    let Some(identity) = s.extensions.get::<Arc<Identity>>() else { return };
    let Some(id) = data.ok().as_ref().and_then(session_id).filter(|id| validate_id(id).is_ok()) else {
        return reply_error(&s, ack, "session.unsubscribe", "invalid_payload", "expected a session id".into());
    };
    resume::Joined::leave(&s, &rooms::session(&SessionKey::new(&identity.tenant, &id)));
    let _ = ack.send(&json!({ "ok": true, "sessionId": id }));
}

/// A resume asked for in the handshake: `auth: { token, lastSeq, sessions }`.
#[derive(Clone)]
pub(super) struct ResumeFrom {
    last_seq: u64,
    sessions: Vec<String>,
}

impl ResumeFrom {
    /// `None` when the handshake asks for no resume.
    pub(super) fn from_auth(auth: Option<&Value>) -> Option<Result<ResumeFrom, AuthError>> {
        let auth = auth?;
        let last_seq = auth.get("lastSeq")?;
        let bad = |m: &str| Some(Err(AuthError::BadHandshake(m.to_owned())));
        let Some(last_seq) = last_seq.as_u64() else {
            return bad("auth.lastSeq must be the last seq the client saw (a whole number >= 0)");
        };
        let sessions = match auth.get("sessions") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => match list.iter().map(session_id).collect::<Option<Vec<_>>>() {
                Some(ids) if ids.len() <= MAX_RESUME_SESSIONS && ids.iter().all(|i| validate_id(i).is_ok()) => ids,
                _ => return bad("auth.sessions must list at most 100 session ids"),
            },
            Some(_) => return bad("auth.sessions must be an array of session ids"),
        };
        Some(Ok(ResumeFrom { last_seq, sessions }))
    }
}

/// Sessions one resume may name.
const MAX_RESUME_SESSIONS: usize = 100;

/// The rooms every socket of the identity is in: its tenant's and its plugin rooms.
pub(super) fn base_rooms(identity: &Identity) -> Vec<String> {
    let mut list = vec![rooms::tenant(&identity.tenant)];
    list.extend(identity.rooms.iter().map(|r| rooms::plugin(&identity.tenant, r)));
    list
}

/// The session rooms of `ids` the identity may use, within its subscription quota; the ids
/// it may not use are returned as refused.
async fn session_rooms(rt: &Realtime, identity: &Identity, ids: &[String]) -> (Vec<String>, Vec<String>) {
    let max = rt.directory.limits(&identity.tenant).max_subscriptions_per_socket as usize;
    let (mut ok, mut refused) = (Vec::new(), Vec::new());
    for id in ids {
        match usable_session(rt, identity, id).await {
            Ok(Some(key)) if ok.len() < max => ok.push(rooms::session(&key)),
            _ => refused.push(id.clone()),
        }
    }
    (ok, refused)
}

/// The handshake's resume, once the socket is connected: it joins its rooms when it has been
/// sent what it missed, and is told `session.resumed`, or an `error` (it then joins them
/// anyway, live from now on).
pub(super) fn resume_at_connect(s: &SocketRef, rt: &Realtime, identity: &Arc<Identity>, from: ResumeFrom) {
    let (s, rt, identity) = (s.clone(), rt.clone(), identity.clone());
    tokio::spawn(async move {
        let (sessions, refused) = session_rooms(&rt, &identity, &from.sessions).await;
        // Told with `paced`, as the replay is: live events fill a slow socket's buffer as soon
        // as it joins its rooms, and a refused emit would be lost.
        for id in refused {
            let message = format!("session '{id}' not found");
            let error = json!({ "code": "session_not_found", "message": message, "event": "handshake" });
            let _ = emit::paced(&s, "error", &error).await;
        }
        let mut rooms = base_rooms(&identity);
        rooms.extend(sessions);
        match resume::resume(&s, &rt.store, &rt.marks, &identity.tenant, from.last_seq, &rooms, &Default::default())
            .await
        {
            Ok(done) => {
                let _ = emit::paced(&s, "session.resumed", &done.json()).await;
            }
            Err(e) => {
                let mark = rt.marks.of(&identity.tenant);
                for room in rooms {
                    resume::Joined::join(&s, &mark, room);
                }
                let error = json!({ "code": e.code(), "message": e.to_string(), "event": "handshake" });
                let _ = emit::paced(&s, "error", &error).await;
            }
        }
    });
}

/// `session.resume { lastSeq, sessionIds? }`: the socket leaves its rooms, is sent every event
/// of them (and of the sessions named, which it subscribes to) after `lastSeq`, then joins them.
async fn resume_event(s: SocketRef, TryData(data): TryData<Value>, ack: AckSender, State(rt): State<Realtime>) {
    let Some(identity) = s.extensions.get::<Arc<Identity>>() else { return };
    let data = data.unwrap_or(Value::Null);
    let as_auth = json!({ "lastSeq": data.get("lastSeq").cloned().unwrap_or(Value::Null), "sessions": data.get("sessionIds").cloned() });
    let from = match ResumeFrom::from_auth(Some(&as_auth)) {
        Some(Ok(from)) => from,
        _ => {
            let message =
                "expected { lastSeq, sessionIds? }: lastSeq a whole number, at most 100 session ids".to_owned();
            return reply_error(&s, ack, "session.resume", "invalid_payload", message);
        }
    };
    // What the socket holds now (a plugin or a revocation may have moved it since).
    let now_in: Vec<String> = s.rooms().iter().map(|r| r.to_string()).collect();
    let mut held = resume::Joined::held(&s);
    held.retain(|room, _| now_in.contains(room));
    let mut ids: Vec<String> = held.keys().filter_map(|r| rooms::parse_session(r)).map(|k| k.session).collect();
    for id in from.sessions {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    // Held sessions are asked again: the user's access may have changed.
    let (sessions, refused) = session_rooms(&rt, &identity, &ids).await;
    if let Some(id) =
        refused.iter().find(|id| !held.contains_key(&rooms::session(&SessionKey::new(&identity.tenant, id))))
    {
        return reply_error(&s, ack, "session.resume", "session_not_found", format!("session '{id}' not found"));
    }
    for id in &refused {
        resume::Joined::leave(&s, &rooms::session(&SessionKey::new(&identity.tenant, id)));
    }
    let mut rooms = base_rooms(&identity);
    rooms.extend(sessions);
    for r in &rooms {
        resume::Joined::leave(&s, r);
    }
    match resume::resume(&s, &rt.store, &rt.marks, &identity.tenant, from.last_seq, &rooms, &held).await {
        Ok(done) => {
            let mut answer = done.json();
            answer["ok"] = true.into();
            let _ = ack.send(&answer);
        }
        Err(e) => {
            let mark = rt.marks.of(&identity.tenant);
            for r in rooms {
                resume::Joined::join(&s, &mark, r);
            }
            reply_error(&s, ack, "session.resume", e.code(), e.to_string());
        }
    }
}
