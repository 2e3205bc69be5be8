//! The periodic jobs that delete what has passed its retention (the journal, the audit log):
//! one pass every interval, what it removed logged, a failed pass tried again at the next.

use std::future::Future;
use std::time::Duration;

use super::StoreResult;

/// Runs `pass` every `interval` (the first right away); `what` names it in the log.
pub fn spawn_every<F, Fut>(what: &'static str, interval: Duration, mut pass: F) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = StoreResult<u64>> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match pass().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(removed = n, "{what} pruned"),
                Err(e) => tracing::error!(error = %e, "{what} pruning failed; trying again later"),
            }
        }
    })
}
