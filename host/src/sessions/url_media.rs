//! Files that sends name by URL. The message is stored `PENDING` at once; its file is fetched
//! beside the session's actor (a slow server holds back only that message and the ones after
//! it in the same chat), checked as an uploaded file is, stored, and announced with
//! `message.media`; then the outbox sends it. A fetch that fails ends the message `FAILED`
//! with the reason. The URL stays on the message until then, so a fetch cut short by a
//! restart starts again.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio::sync::mpsc::WeakUnboundedSender;
use url::Url;

use super::actor::Command;
use super::media_path;
use crate::events::{self, EventBody, EventDraft, Journal};
use crate::media::MediaStore;
use crate::media::fetch::{FetchError, Fetcher};
use crate::media::kinds::{self, MediaKind};
use crate::model::{MediaInfo, Message, MessageStatus, SessionKey};
use crate::store::{Store, StoreResult, messages};

#[derive(Clone)]
pub(super) struct UrlMedia {
    fetcher: Fetcher,
    media: MediaStore,
    store: Store,
    journal: Journal,
    /// Messages whose fetch is under way, so a second flush does not start it again.
    running: Arc<Mutex<HashSet<String>>>,
}

impl UrlMedia {
    pub(super) fn new(fetcher: Fetcher, media: MediaStore, store: Store, journal: Journal) -> Self {
        Self { fetcher, media, store, journal, running: Default::default() }
    }

    /// Starts the fetches of `awaiting` not already under way; each wakes the actor's outbox
    /// when its message is ready or failed.
    pub(super) fn start(
        &self,
        key: &SessionKey,
        awaiting: Vec<(Message, String)>,
        wake: &WeakUnboundedSender<Box<Command>>,
    ) {
        for (message, url) in awaiting {
            if !self.running.lock().expect("fetches lock").insert(message.id.clone()) {
                continue;
            }
            let (this, key, wake) = (self.clone(), key.clone(), wake.clone());
            tokio::spawn(async move {
                let id = message.id.clone();
                let fetched = this.fetch(&key, &message, &url).await;
                if let Err(e) = this.record(&key, message, fetched).await {
                    tracing::error!(session = %key, message = %id, error = %e, "a fetched file could not be recorded");
                }
                this.running.lock().expect("fetches lock").remove(&id);
                if let Some(tx) = wake.upgrade() {
                    let _ = tx.send(Box::new(Command::Flush));
                }
            });
        }
    }

    /// The file, checked against its kind's rules and stored; or why the message fails.
    async fn fetch(&self, key: &SessionKey, message: &Message, url: &str) -> Result<MediaInfo, String> {
        let told = message.media.clone().unwrap_or_default();
        let kind = MediaKind::of(message.kind, &told).ok_or("the message has no media kind")?;
        let url = Url::parse(url).map_err(|_| FetchError::BadUrl.to_string())?;
        let limit = format!("{} bytes, WhatsApp's limit for a {}", kind.limit(), kind.name());
        let data = self.fetcher.fetch(&url, kind.limit() as u64, &limit).await.map_err(|e| e.to_string())?;
        let info = kinds::check(kind, &data, told.file_name.as_deref()).map_err(|e| format!("media.url: {e}"))?;
        self.media.put(key, &message.id, data).await.map_err(|e| e.to_string())?;
        Ok(info)
    }

    async fn record(
        &self,
        key: &SessionKey,
        mut message: Message,
        fetched: Result<MediaInfo, String>,
    ) -> StoreResult<()> {
        // The session (and its messages) may have been deleted while the file was fetched.
        if messages::get(self.store.pool(), key, &message.id).await?.is_none() {
            let _ = self.media.delete(key, &message.id).await;
            return Ok(());
        }
        let mut w = self.store.begin_write().await?;
        messages::set_media_source(&mut w, key, &message.id, None).await?;
        let body = match fetched {
            Ok(info) => {
                message.media = Some(info);
                message.media_url = Some(media_path(key, &message.id));
                messages::save_changes(&mut w, key, &message).await?;
                EventBody::MessageMedia(events::MessageMedia { message })
            }
            Err(reason) => {
                tracing::info!(session = %key, message = %message.id, %reason, "a send's media.url could not be had");
                messages::set_status(&mut w, key, &message.id, MessageStatus::Failed, Some(&reason), Utc::now())
                    .await?;
                EventBody::MessageStatus(events::MessageStatusChanged {
                    message_id: message.id,
                    wa_message_id: None,
                    chat_id: message.chat_id,
                    status: MessageStatus::Failed,
                    previous_status: message.status,
                    error: Some(reason),
                })
            }
        };
        self.journal.commit(w, vec![EventDraft::session(key, body)]).await?;
        Ok(())
    }
}
