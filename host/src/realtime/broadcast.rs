//! Every emit to rooms goes through here: once the gateway has begun shutting down, Socket.IO's
//! namespace is gone, and an event still being fanned out then is dropped (it stays in the
//! journal for the client to resume from) instead of panicking the task that carries it.

use socketioxide::SocketIo;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::SocketRef;
use socketioxide::operators::BroadcastOperators;

/// Operators on `rooms` of the default namespace, `None` once Socket.IO is closed.
pub fn to(io: &SocketIo, rooms: Vec<String>) -> Option<BroadcastOperators<LocalAdapter>> {
    io.of("/").map(|ns| ns.to(rooms))
}

/// Every connected socket, none once Socket.IO is closed.
pub fn all_sockets(io: &SocketIo) -> Vec<SocketRef> {
    io.of("/").map(|ns| ns.sockets()).unwrap_or_default()
}

/// The sockets in `room`, none once Socket.IO is closed.
pub fn sockets_in(io: &SocketIo, room: String) -> Vec<SocketRef> {
    sockets_in_any(io, vec![room])
}

/// The sockets in any of `rooms`, each once; none once Socket.IO is closed.
pub fn sockets_in_any(io: &SocketIo, rooms: Vec<String>) -> Vec<SocketRef> {
    to(io, rooms).map(|op| op.sockets()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_io_is_no_audience() {
        let (_svc, io) = SocketIo::new_svc();
        io.ns("/", async || {});
        assert!(to(&io, vec!["t/a".into()]).is_some());
        io.close().await;
        assert!(to(&io, vec!["t/a".into()]).is_none(), "the namespace is gone after close");
        assert!(sockets_in(&io, "t/a".into()).is_empty());
        assert!(all_sockets(&io).is_empty());
    }
}
