//! Socket.IO on the gateway's port: token check in the handshake, tenant-namespaced rooms,
//! the canonical client events, and the fan-out of canonical events to rooms.

mod actions;
mod audience;
mod broadcast;
mod catch_up;
mod client_events;
mod emit;
mod fanout;
mod guard;
mod lanes;
pub mod request;
pub mod handshake;
pub mod resume;
pub mod rooms;

pub use fanout::{FanoutMetrics, spawn_bots, spawn_fanout};
pub use guard::spawn_guard;

/// How many Socket.IO clients are connected now.
/// Hands a plugin's message to the sockets of this node it names (another node's room
/// message, relayed in a cluster).
pub async fn deliver(io: &SocketIo, d: crate::plugins::Delivery) {
    actions::deliver(io, None, d).await
}

pub fn connected_sockets(io: &SocketIo) -> usize {
    broadcast::all_sockets(io).len()
}

use std::sync::Arc;
use std::time::Duration;

use socketioxide::extract::{SocketRef, State};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::{ParserConfig, SocketIo};

use crate::auth::{Identity, TenantDirectory};
use crate::plugins::Plugins;
use crate::quotas::{Connections, Rates};
use crate::sessions::Sessions;

/// What socket handlers need; cheap to clone.
#[derive(Clone)]
pub struct Realtime {
    pub directory: TenantDirectory,
    pub sessions: Sessions,
    pub plugins: Plugins,
    pub leeway_secs: u64,
    pub token_cookie: String,
    pub cookie_origins: handshake::CookieOrigins,
    /// Sockets connected per tenant and user, against their quotas.
    pub connections: Connections,
    pub rates: Rates,
    pub dev_no_auth_tenant: Option<String>,
    /// The journal resuming sockets read from, and where the fan-out has got to per tenant.
    pub store: crate::store::Store,
    pub marks: resume::Marks,
    /// In a cluster, carries plugins' room messages to the other nodes' sockets.
    pub relay: crate::cluster::rooms::RoomRelay,
}

/// `max_payload` bounds what one client may make the server hold before anything is checked,
/// on every transport: a long-polling body, a WebSocket message and each of its frames, and
/// the binary attachments of one packet. A WebSocket message beyond it closes the transport.
/// Bytes each websocket reads at a time (socketioxide's default is 4 KiB).
const WS_READ_BUFFER: usize = 1024;

/// Where Socket.IO is served (the default every client library uses).
pub const SOCKET_IO_PATH: &str = "/socket.io";

pub fn build(rt: Realtime, max_payload: usize, socket_buffer: usize) -> (SocketIoLayer, SocketIo) {
    let parser = ParserConfig::common().max_incoming_binary_buf_size(max_payload);
    let (layer, io) = SocketIo::builder()
        .req_path(SOCKET_IO_PATH)
        .max_payload(max_payload as u64)
        .ws_max_message_size(max_payload)
        .ws_max_frame_size(max_payload)
        // Held by every idle socket; what clients send is small (subscriptions, acks), and a
        // larger frame is still read whole, in more reads.
        .ws_read_buffer_size(WS_READ_BUFFER)
        .with_parser(parser)
        .ack_timeout(Duration::from_secs(5))
        .max_buffer_size(socket_buffer)
        .with_state(rt)
        .build_layer();
    io.ns("/", on_connect.with(handshake::authenticate));
    (layer, io)
}

/// Runs just after the client is told it is connected; the handshake has already registered
/// the socket's event handlers (see `client_events::register`). Not an `async fn`, so the
/// rooms are joined before any broadcast can pass the socket by.
fn on_connect(s: SocketRef, io: SocketIo, State(rt): State<Realtime>) -> std::future::Ready<()> {
    let Some(identity) = s.extensions.get::<Arc<Identity>>() else {
        // The handshake middleware always stores one; without it the socket has no tenant.
        let _ = s.disconnect();
        return std::future::ready(());
    };
    guard::expire_with_token(&s, &identity);
    match s.extensions.remove::<client_events::ResumeFrom>() {
        // Its rooms are joined once it has what it missed (`resume.rs`).
        Some(from) => client_events::resume_at_connect(&s, &rt, &identity, from),
        None => {
            let mark = rt.marks.of(&identity.tenant);
            for room in client_events::base_rooms(&identity) {
                resume::Joined::join(&s, &mark, room);
            }
        }
    }
    tracing::debug!(tenant = %identity.tenant, user = ?identity.user, sid = %s.id, "socket connected");
    // Client-event plugins get `$connect` first (seed 001 greets with `connected`).
    client_events::start(&s, io, rt, identity);
    std::future::ready(())
}
