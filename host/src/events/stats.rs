use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::{EventBody, EventDraft, Journal};
use crate::model::TenantStats;
use crate::store::{Store, StoreError, tenants};

/// Publishes `tenant.stats` when a tenant's counters changed, at most once per interval:
/// a burst of 1,000 messages yields a handful of stats events, not 1,000.
pub fn spawn_stats_publisher(store: Store, journal: Journal, interval: Duration) -> tokio::task::JoinHandle<()> {
    let mut events = journal.bus().subscribe("stats");
    tokio::spawn(async move {
        let mut dirty: HashSet<String> = HashSet::new();
        let mut last: HashMap<String, TenantStats> = HashMap::new();
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                ev = events.recv() => match ev {
                    Some(ev) if !matches!(ev.body, EventBody::TenantStats(_)) => { dirty.insert(ev.tenant_id.clone()); }
                    Some(_) => {}
                    None => return,
                },
                _ = tick.tick() => {
                    for tenant in dirty.drain().collect::<Vec<_>>() {
                        if let Err(e) = publish(&store, &journal, &tenant, &mut last).await {
                            tracing::warn!(%tenant, error = %e, "could not publish tenant stats");
                        }
                    }
                }
            }
        }
    })
}

async fn publish(
    store: &Store,
    journal: &Journal,
    tenant: &str,
    last: &mut HashMap<String, TenantStats>,
) -> Result<(), StoreError> {
    let stats = tenants::stats(store.pool(), tenant).await?;
    if last.get(tenant) == Some(&stats) {
        return Ok(());
    }
    let w = store.begin_write().await?;
    match journal.commit(w, vec![EventDraft::tenant(tenant, EventBody::TenantStats(super::TenantStatsUpdated { stats: stats.clone() }))]).await {
        Ok(_) => {
            last.insert(tenant.to_owned(), stats);
            Ok(())
        }
        // The tenant was deleted meanwhile: nothing to report.
        Err(StoreError::NotFound(_)) => {
            last.remove(tenant);
            Ok(())
        }
        Err(e) => Err(e),
    }
}
