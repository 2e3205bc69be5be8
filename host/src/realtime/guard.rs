//! Sockets lose what they no longer have a right to: a socket is disconnected when its token
//! expires, when its tenant is deleted and when the key it was admitted with is rotated away;
//! it is unsubscribed from a session that is deleted or that it may no longer use.
//!
//! The client reads why in an `error` event `{ code, message }` sent just before the
//! server disconnects it (`token_expired`, `tenant_deleted`, `credentials_rotated`), or
//! `session.unsubscribed { sessionId, reason }` when only a subscription ends.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;
use tokio::sync::broadcast::error::RecvError;

use super::{Realtime, broadcast, rooms};
use crate::auth::{Identity, Revocation, Revocations, SessionAccess};
use crate::model::SessionKey;

/// Tells the client why, then closes the socket; socket.io clients do not reconnect by
/// themselves after a server-side disconnect.
fn refuse(s: SocketRef, code: &str, message: &str) {
    let _ = s.emit("error", &json!({ "code": code, "message": message }));
    let _ = s.disconnect();
}

/// Disconnects the socket when its token expires. The task ends with the socket.
pub(super) fn expire_with_token(s: &SocketRef, identity: &Identity) {
    let Some(expires_at) = identity.expires_at else { return };
    let sid = s.id;
    let socket = s.clone();
    let wait = (expires_at - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO);
    let timer = tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        tracing::debug!(%sid, "token expired; disconnecting");
        refuse(socket, "token_expired", "token expired");
    });
    s.extensions.insert(ExpiryTimer(timer.abort_handle()));
}

/// Held by a socket so its expiry timer ends when it disconnects first.
#[derive(Clone)]
pub(super) struct ExpiryTimer(tokio::task::AbortHandle);

impl ExpiryTimer {
    pub(super) fn cancel(&self) {
        self.0.abort();
    }
}

pub fn spawn_guard(io: SocketIo, rt: Realtime, revocations: &Revocations) -> tokio::task::JoinHandle<()> {
    let mut heard = revocations.subscribe();
    tokio::spawn(async move {
        loop {
            match heard.recv().await {
                Ok(Revocation::TenantDeleted(tenant)) => {
                    for s in broadcast::sockets_in(&io, rooms::tenant(&tenant)) {
                        refuse(s, "tenant_deleted", "the tenant was deleted");
                    }
                }
                Ok(Revocation::TenantChanged { tenant, recheck_at }) => {
                    recheck(&io, &rt, &tenant).await;
                    if let Some(at) = recheck_at {
                        let (io, rt) = (io.clone(), rt.clone());
                        let wait = (at - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO);
                        tokio::spawn(async move {
                            // A moment past the instant, so the old key reads as expired.
                            tokio::time::sleep(wait + Duration::from_millis(10)).await;
                            recheck(&io, &rt, &tenant).await;
                        });
                    }
                }
                Ok(Revocation::SessionDeleted(key)) => {
                    for s in broadcast::sockets_in(&io, rooms::session(&key)) {
                        unsubscribe(&s, &key, "session_deleted");
                    }
                }
                // Announcements were missed: every socket is checked against the present.
                Err(RecvError::Lagged(_)) => recheck_all(&io, &rt).await,
                Err(RecvError::Closed) => return,
            }
        }
    })
}

fn unsubscribe(s: &SocketRef, key: &SessionKey, reason: &str) {
    super::resume::Joined::leave(&s, &rooms::session(key));
    let _ = s.emit("session.unsubscribed", &json!({ "sessionId": key.session, "reason": reason }));
}

async fn recheck_all(io: &SocketIo, rt: &Realtime) {
    let mut tenants: Vec<String> =
        broadcast::all_sockets(io).iter().filter_map(|s| s.extensions.get::<Arc<Identity>>().map(|i| i.tenant.clone())).collect();
    tenants.sort();
    tenants.dedup();
    for t in tenants {
        recheck(io, rt, &t).await;
    }
}

/// Every socket of the tenant against the tenant as it is now.
async fn recheck(io: &SocketIo, rt: &Realtime, tenant: &str) {
    let Some(access) = rt.directory.session_access(tenant) else {
        for s in broadcast::sockets_in(&io, rooms::tenant(tenant)) {
            refuse(s, "tenant_deleted", "the tenant was deleted");
        }
        return;
    };
    for s in broadcast::sockets_in(&io, rooms::tenant(tenant)) {
        let Some(identity) = s.extensions.get::<Arc<Identity>>() else { continue };
        if let Some(key) = &identity.admitted_by
            && !rt.directory.still_accepts(tenant, key)
        {
            refuse(
                s,
                "credentials_rotated",
                "the key this connection was admitted with was rotated; reconnect with a new token",
            );
            continue;
        }
        if access == SessionAccess::All || identity.is_admin() {
            continue;
        }
        for room in s.rooms() {
            let Some(key) = rooms::parse_session(&room) else { continue };
            let allowed = match rt.sessions.get(&key).await {
                Ok(session) => identity.may_use(access, &session),
                Err(_) => false,
            };
            if !allowed {
                unsubscribe(&s, &key, "access_revoked");
            }
        }
    }
}
