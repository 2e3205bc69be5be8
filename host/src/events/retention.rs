//! The journal's pruning job: every `events.prune_interval_secs` it deletes events older than
//! `events.retention_secs` and, per tenant, all but the newest `events.retention_count`, with
//! the finished webhook deliveries as old. An event a webhook delivery still waits for stays
//! until that delivery ends.

use std::time::Duration;

use chrono::Utc;

use crate::config::EventsConfig;
use crate::store::{Store, StoreResult, journal, pruning, webhooks};

pub fn spawn_pruning(store: Store, cfg: EventsConfig) -> tokio::task::JoinHandle<()> {
    let every = Duration::from_secs(cfg.prune_interval_secs);
    pruning::spawn_every("journal", every, move || {
        let (store, cfg) = (store.clone(), cfg.clone());
        async move { prune(&store, &cfg).await }
    })
}

/// One pass; how many events went.
pub async fn prune(store: &Store, cfg: &EventsConfig) -> StoreResult<u64> {
    let before = (cfg.retention_secs > 0).then(|| Utc::now().timestamp_millis() - (cfg.retention_secs * 1000) as i64);
    let mut w = store.begin_write().await?;
    let removed = journal::prune(&mut w, before, cfg.retention_count).await?;
    if let Some(before) = before {
        webhooks::prune_finished(&mut w, before).await?;
    }
    w.commit().await?;
    Ok(removed)
}
