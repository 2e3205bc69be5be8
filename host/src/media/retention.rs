//! Files older than `media.retention_secs` (by their message's time) are deleted. Their
//! messages keep what is known of the file (type, size, SHA-256), lose `mediaUrl` and get
//! `mediaExpiredAt`; asking for the file answers 410 from then on.

use std::time::Duration;

use chrono::Utc;
use thiserror::Error;

use super::{MediaStore, MediaStoreError};
use crate::store::{Store, StoreError, messages};

/// Files deleted per store write.
const BATCH: u32 = 200;

#[derive(Debug, Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Media(#[from] MediaStoreError),
}

/// Sweeps every tenth of the retention period (between a second and an hour).
pub fn spawn(store: Store, media: MediaStore, retention: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = (retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(3600));
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match sweep(&store, &media, retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(files = n, "media past the retention period deleted"),
                Err(e) => tracing::error!(error = %e, "media retention sweep failed; trying again later"),
            }
        }
    })
}

/// Deletes the files older than `retention`; how many.
pub async fn sweep(store: &Store, media: &MediaStore, retention: Duration) -> Result<usize, SweepError> {
    let now = Utc::now();
    let before = chrono::Duration::from_std(retention).ok().and_then(|r| now.checked_sub_signed(r));
    let Some(before) = before else { return Ok(0) };
    let mut total = 0;
    loop {
        let batch = messages::media_older_than(store.pool(), before, BATCH).await?;
        // The file goes first: a message is marked only once its file is gone.
        for (key, id) in &batch {
            media.delete(key, id).await?;
        }
        let mut w = store.begin_write().await?;
        for (key, id) in &batch {
            messages::expire_media(&mut w, key, id, now).await?;
        }
        w.commit().await?;
        total += batch.len();
        if batch.len() < BATCH as usize {
            return Ok(total);
        }
    }
}
