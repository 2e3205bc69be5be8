//! A plugin's message to Socket.IO rooms (a client-event plugin's or a bot's `emit` to a
//! room) is not an event: it is not journaled, and on one node it reaches the sockets in the
//! room then. In a cluster the room's sockets may be on every node, so the message is also
//! sent to the other nodes over PostgreSQL `NOTIFY`, and each hands it to its own sockets in
//! the room. Best effort, as on one node; a message larger than a notice can carry reaches
//! this node's sockets only, and the log says so.

use std::future::Future;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::postgres::PgListener;

use super::Channel;
use crate::plugins::{Delivery, Target};
use crate::store::Store;

/// PostgreSQL refuses a notice payload of 8000 bytes or more.
const MAX_NOTICE: usize = 7_900;

#[derive(Serialize, Deserialize)]
struct Relayed {
    from: String,
    event: String,
    rooms: Vec<String>,
    payload: Value,
}

/// Where this node's room messages go; off on a single node.
#[derive(Clone, Default)]
pub struct RoomRelay(Option<Arc<Channel>>);

impl RoomRelay {
    pub fn new(node: Option<&str>, store: &Store, schema: Option<&str>) -> Self {
        RoomRelay(Channel::open(node, store, schema, "rooms"))
    }

    /// Sends a room message this node delivered to its own sockets on to the other nodes.
    pub async fn relay(&self, d: &Delivery) {
        let (Some(ch), Target::Rooms(rooms)) = (&self.0, &d.target) else { return };
        let relayed =
            Relayed { from: ch.node.clone(), event: d.event.clone(), rooms: rooms.clone(), payload: d.payload.clone() };
        let text = serde_json::to_string(&relayed).expect("a room message serialises");
        if text.len() > MAX_NOTICE {
            tracing::warn!(event = %d.event, bytes = text.len(), "a plugin's room message is too large to reach other nodes' sockets");
            return;
        }
        if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)").bind(&ch.name).bind(&text).execute(&ch.pool).await {
            tracing::warn!(event = %d.event, error = %e, "a plugin's room message did not reach other nodes");
        }
    }

    /// Hands the other nodes' room messages to `deliver` (this node's sockets) until the
    /// gateway stops.
    pub fn spawn_listener<F, Fut>(&self, deliver: F) -> Option<tokio::task::JoinHandle<()>>
    where
        F: Fn(Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let ch = self.0.clone()?;
        Some(tokio::spawn(async move {
            loop {
                match listen(&ch, &deliver).await {
                    // The gateway is stopping.
                    Err(sqlx::Error::PoolClosed) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "cluster room messages interrupted; listening again");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                    Ok(()) => return,
                }
            }
        }))
    }
}

async fn listen<F, Fut>(ch: &Channel, deliver: &F) -> sqlx::Result<()>
where
    F: Fn(Delivery) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut listener = PgListener::connect_with(&ch.pool).await?;
    listener.listen(&ch.name).await?;
    loop {
        let n = listener.recv().await?;
        match serde_json::from_str::<Relayed>(n.payload()) {
            Ok(r) if r.from == ch.node => {}
            Ok(r) => deliver(Delivery { event: r.event, payload: r.payload, target: Target::Rooms(r.rooms) }).await,
            Err(e) => tracing::warn!(error = %e, "unreadable room message from another node ignored"),
        }
    }
}
