//! What the host offers plugins, once for every contract version: each function checks its
//! capability, stays inside the binding's tenant (and, during a client event, inside what the
//! calling socket's user may use) and keeps within the tenant's quotas.

use super::{Capability, Denied, MAX_KV_KEY, MAX_KV_KEYS, MAX_KV_VALUE, State};
use crate::model::SessionKey;
use crate::store::{self as db, chats, messages, plugins as stored, sessions};

#[derive(Debug, Clone, Copy)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Why a host call failed, as the plugin is told.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HostError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("{0}")]
    Unavailable(String),
}

impl From<db::StoreError> for HostError {
    fn from(e: db::StoreError) -> Self {
        HostError::Unavailable(e.to_string())
    }
}

/// A page of reads is at most this long, whatever the plugin asks.
const MAX_PAGE: u32 = 500;

fn json<T: serde::Serialize>(r: Result<T, db::StoreError>) -> Result<String, HostError> {
    let value = r?;
    serde_json::to_string(&value).map_err(|e| HostError::Unavailable(e.to_string()))
}

impl State {
    fn require(&self, cap: Capability) -> wasmtime::Result<()> {
        if self.ctx.capabilities.contains(&cap) { Ok(()) } else { Err(wasmtime::Error::new(Denied(cap))) }
    }

    /// Whether this call may read `session`: always, unless it is made for a socket whose
    /// user may not use it. An unusable session reads as a missing one. (Owned parts only:
    /// the future must not borrow the store's state across the query.)
    fn may_read(&self, session: &str) -> impl std::future::Future<Output = bool> + Send + 'static {
        let (scope, ctx) = (self.scope.clone(), self.ctx.clone());
        let key = SessionKey::new(&ctx.tenant, session);
        async move {
            let Some(scope) = scope else { return true };
            matches!(sessions::get(ctx.db.pool(), &key).await, Ok(Some(s)) if scope.identity.may_use(scope.access, &s))
        }
    }

    pub(super) async fn log_line(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.require(Capability::Log)?;
        let (tenant, plugin) = (&self.ctx.tenant, &self.ctx.plugin);
        let per_minute = self.ctx.directory.limits(tenant).plugin_log_lines_per_minute;
        let over = self.ctx.rates.check("plugin log lines per minute", &format!("log/{tenant}/{plugin}"), per_minute);
        let was_dropping = self.ctx.dropping_logs.swap(over.is_err(), std::sync::atomic::Ordering::Relaxed);
        if let Err(q) = over {
            if !was_dropping {
                tracing::warn!(%tenant, %plugin, "{q}: dropping its log lines until the rate allows again");
            }
            return Ok(());
        }
        let message: String = message.chars().take(4096).collect();
        match level {
            Level::Trace => tracing::trace!(%tenant, %plugin, "{message}"),
            Level::Debug => tracing::debug!(%tenant, %plugin, "{message}"),
            Level::Info => tracing::info!(%tenant, %plugin, "{message}"),
            Level::Warn => tracing::warn!(%tenant, %plugin, "{message}"),
            Level::Error => tracing::error!(%tenant, %plugin, "{message}"),
        }
        Ok(())
    }

    pub(super) async fn clock_now(&mut self) -> wasmtime::Result<u64> {
        self.require(Capability::Clock)?;
        Ok(chrono::Utc::now().timestamp_millis() as u64)
    }

    pub(super) async fn kv_read(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        self.require(Capability::Kv)?;
        let c = &self.ctx;
        Ok(stored::kv_get(c.db.pool(), &c.tenant, &c.plugin, &key).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "plugin kv read failed");
            None
        }))
    }

    pub(super) async fn kv_write(&mut self, key: String, value: String) -> wasmtime::Result<Result<(), HostError>> {
        self.require(Capability::Kv)?;
        if key.is_empty() || key.len() > MAX_KV_KEY {
            return Ok(Err(HostError::Invalid(format!("keys are 1 to {MAX_KV_KEY} bytes"))));
        }
        if value.len() > MAX_KV_VALUE {
            return Ok(Err(HostError::Invalid(format!("values are at most {MAX_KV_VALUE} bytes"))));
        }
        let c = &self.ctx;
        let max_bytes = c.directory.limits(&c.tenant).plugin_kv_bytes;
        let result = async {
            // Checked inside the write that would exceed it: concurrent sets cannot overshoot.
            let mut w = c.db.begin_write().await?;
            let (keys, bytes) = stored::kv_usage_besides(&mut w, &c.tenant, &c.plugin, &key).await?;
            if keys >= MAX_KV_KEYS {
                return Ok(Err(HostError::QuotaExceeded(format!("at most {MAX_KV_KEYS} keys per plugin and tenant"))));
            }
            let after = bytes.saturating_add((key.len() + value.len()) as u64);
            if after > max_bytes {
                return Ok(Err(HostError::QuotaExceeded(format!(
                    "quota exceeded: plugin kv bytes (limit {max_bytes}); this value would make it {after}"
                ))));
            }
            stored::kv_set(&mut w, &c.tenant, &c.plugin, &key, &value).await?;
            w.commit().await?;
            Ok::<_, db::StoreError>(Ok(()))
        };
        Ok(result.await.unwrap_or_else(|e| Err(e.into())))
    }

    pub(super) async fn kv_remove(&mut self, key: String) -> wasmtime::Result<()> {
        self.require(Capability::Kv)?;
        let c = &self.ctx;
        let result = async {
            let mut w = c.db.begin_write().await?;
            stored::kv_delete(&mut w, &c.tenant, &c.plugin, &key).await?;
            w.commit().await
        };
        if let Err(e) = result.await {
            tracing::warn!(error = %e, "plugin kv delete failed");
        }
        Ok(())
    }

    pub(super) async fn list_sessions(&mut self) -> wasmtime::Result<Result<String, HostError>> {
        self.require(Capability::SessionsRead)?;
        let mut list = sessions::list(self.ctx.db.pool(), &self.ctx.tenant).await;
        if let (Ok(list), Some(scope)) = (&mut list, &self.scope) {
            list.retain(|s| scope.identity.may_use(scope.access, s));
        }
        Ok(json(list))
    }

    pub(super) async fn list_chats(
        &mut self,
        session: String,
        limit: u32,
        offset: u32,
    ) -> wasmtime::Result<Result<String, HostError>> {
        self.require(Capability::ChatsRead)?;
        if !self.may_read(&session).await {
            return Ok(Ok("[]".into()));
        }
        let key = SessionKey::new(&self.ctx.tenant, &session);
        let limit = i64::from(limit.min(MAX_PAGE));
        Ok(json(chats::list(self.ctx.db.pool(), &key, limit, i64::from(offset)).await))
    }

    pub(super) async fn find_chat(&mut self, chat: String) -> wasmtime::Result<Result<Option<String>, HostError>> {
        self.require(Capability::ChatsRead)?;
        Ok(match chats::find(self.ctx.db.pool(), &self.ctx.tenant, &chat).await {
            Ok(None) => Ok(None),
            Ok(Some(found)) if !self.may_read(&found.session_id).await => Ok(None),
            Ok(Some(found)) => json(Ok(found)).map(Some),
            Err(e) => Err(e.into()),
        })
    }

    pub(super) async fn chat_history(
        &mut self,
        session: String,
        chat: String,
        limit: u32,
        offset: u32,
    ) -> wasmtime::Result<Result<String, HostError>> {
        self.require(Capability::ChatsRead)?;
        if !self.may_read(&session).await {
            return Ok(Ok("[]".into()));
        }
        let key = SessionKey::new(&self.ctx.tenant, &session);
        let limit = i64::from(limit.min(MAX_PAGE));
        Ok(json(messages::list_for_chat(self.ctx.db.pool(), &key, &chat, limit, i64::from(offset)).await))
    }
}
