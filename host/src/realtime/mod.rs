//! Socket.IO on the gateway's port: token check in the handshake, tenant-namespaced rooms,
//! the canonical client events, and the fan-out of canonical events to rooms.

mod actions;
mod client_events;
mod fanout;
mod handshake;
pub mod rooms;

pub use fanout::{spawn_bots, spawn_fanout};

use std::sync::Arc;
use std::time::Duration;

use socketioxide::SocketIo;
use socketioxide::extract::{SocketRef, State};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;

use crate::auth::{Identity, TenantDirectory};
use crate::plugins::Plugins;
use crate::sessions::Sessions;

/// What socket handlers need; cheap to clone.
#[derive(Clone)]
pub struct Realtime {
    pub directory: TenantDirectory,
    pub sessions: Sessions,
    pub plugins: Plugins,
    pub leeway_secs: u64,
    pub token_cookie: String,
    pub dev_no_auth_tenant: Option<String>,
}

pub fn build(rt: Realtime, max_payload: u64) -> (SocketIoLayer, SocketIo) {
    let (layer, io) = SocketIo::builder()
        .req_path("/socket.io")
        .max_payload(max_payload)
        .ack_timeout(Duration::from_secs(5))
        .with_state(rt)
        .build_layer();
    io.ns("/", on_connect.with(handshake::authenticate));
    (layer, io)
}

/// Not an `async fn`: it runs as the connection is accepted, before the socket's first event
/// can be dispatched (see `client_events::register`).
fn on_connect(s: SocketRef, io: SocketIo, State(rt): State<Realtime>) -> std::future::Ready<()> {
    let Some(identity) = s.extensions.get::<Arc<Identity>>() else {
        // The handshake middleware always stores one; without it the socket has no tenant.
        let _ = s.disconnect();
        return std::future::ready(());
    };
    s.join(rooms::tenant(&identity.tenant));
    for room in &identity.rooms {
        s.join(rooms::plugin(&identity.tenant, room));
    }
    tracing::debug!(tenant = %identity.tenant, user = ?identity.user, sid = %s.id, "socket connected");
    // Client-event plugins get `$connect` first (seed 001 greets with `connected`).
    client_events::register(&s, io, rt, identity);
    std::future::ready(())
}
