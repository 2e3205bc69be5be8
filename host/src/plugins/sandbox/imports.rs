//! What the host offers plugins, once for every contract version: each function checks its
//! capability, stays inside the binding's tenant (and, during a client event, inside what the
//! calling socket's user may use) and keeps within the tenant's quotas.

use super::super::outbound::{Allowed, OutboundError, Request as HttpRequest, Response as HttpResponse};
use super::super::output::HostAction;
use super::{Capability, Denied, MAX_KV_KEY, MAX_KV_KEYS, MAX_KV_VALUE, State};
use crate::media::links::MAX_LINK_TTL_SECS;
use crate::model::{SessionKey, validate_id};
use crate::store::{self as db, chats, messages, plugins as stored, sessions};
use wagate_model::send::SendMessage;

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
        Ok(self.ctx.clock.now_ms())
    }

    pub(super) async fn kv_read(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        self.require(Capability::Kv)?;
        let (c, started) = (&self.ctx, std::time::Instant::now());
        let value = stored::kv_get(c.db.pool(), &c.tenant, &c.plugin, &key).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "plugin kv read failed");
            None
        });
        self.waits.waited(started.elapsed());
        Ok(value)
    }

    pub(super) async fn kv_write(&mut self, key: String, value: String) -> wasmtime::Result<Result<(), HostError>> {
        self.require(Capability::Kv)?;
        if key.is_empty() || key.len() > MAX_KV_KEY {
            return Ok(Err(HostError::Invalid(format!("keys are 1 to {MAX_KV_KEY} bytes"))));
        }
        if value.len() > MAX_KV_VALUE {
            return Ok(Err(HostError::Invalid(format!("values are at most {MAX_KV_VALUE} bytes"))));
        }
        let (c, started) = (&self.ctx, std::time::Instant::now());
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
        let result = result.await.unwrap_or_else(|e| Err(e.into()));
        // A write waits its turn for the store's writer: that is waiting, not running.
        self.waits.waited(started.elapsed());
        Ok(result)
    }

    pub(super) async fn kv_remove(&mut self, key: String) -> wasmtime::Result<()> {
        self.require(Capability::Kv)?;
        let (c, started) = (&self.ctx, std::time::Instant::now());
        let result = async {
            let mut w = c.db.begin_write().await?;
            stored::kv_delete(&mut w, &c.tenant, &c.plugin, &key).await?;
            w.commit().await
        };
        let result = result.await;
        self.waits.waited(started.elapsed());
        if let Err(e) = result {
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
        let started = std::time::Instant::now();
        let page = messages::list_for_chat(self.ctx.db.pool(), &key, &chat, limit, i64::from(offset)).await;
        self.waits.waited(started.elapsed());
        Ok(json(page))
    }
}

/// Sends one call may queue.
pub const MAX_QUEUED: usize = 16;
/// The longest `SendMessage` a plugin may queue; larger files go by `media.url`.
pub const MAX_SEND_JSON: usize = 4 * 1024 * 1024;
const MAX_MESSAGE_ID: usize = 200;

/// What a plugin asks of a message through the `messages` interface, before it is queued.
pub enum MessageRequest {
    Send(String),
    React { message: String, emoji: String },
    Edit { message: String, text: String },
    Revoke { message: String },
}

impl State {
    pub(super) async fn media_link(
        &mut self,
        session: String,
        message: String,
        ttl_secs: u32,
    ) -> wasmtime::Result<Result<Option<String>, HostError>> {
        self.require(Capability::MediaRead)?;
        let ttl = match u64::from(ttl_secs) {
            0 => self.ctx.media.default_ttl_secs,
            t if t > MAX_LINK_TTL_SECS => {
                return Ok(Err(HostError::Invalid(format!("ttl-secs is at most {MAX_LINK_TTL_SECS}"))));
            }
            t => t,
        };
        if validate_id(&session).is_err() || !self.may_read(&session).await {
            return Ok(Ok(None));
        }
        let key = SessionKey::new(&self.ctx.tenant, &session);
        let stored = match messages::get(self.ctx.db.pool(), &key, &message).await {
            Ok(m) => m.is_some_and(|m| m.media.is_some() && m.media_url.is_some() && m.media_expired_at.is_none()),
            Err(e) => return Ok(Err(e.into())),
        };
        if !stored {
            return Ok(Ok(None));
        }
        let expires = chrono::Utc::now() + chrono::Duration::seconds(ttl as i64);
        Ok(Ok(Some(self.ctx.media.links.sign(&key, &message, expires).path)))
    }

    /// Checks a request of the `messages` interface and queues it for after the call.
    pub(super) async fn queue_message(
        &mut self,
        session: String,
        request: MessageRequest,
    ) -> wasmtime::Result<Result<(), HostError>> {
        self.require(Capability::MessagesSend)?;
        Ok(self.checked(session, request).await)
    }

    async fn checked(&mut self, session: String, request: MessageRequest) -> Result<(), HostError> {
        let invalid = |m: String| Err(HostError::Invalid(m));
        let queued = match &self.queue {
            None => return invalid("messages are queued from the bot and client-events hooks only".into()),
            Some(q) => q.len(),
        };
        if queued >= MAX_QUEUED {
            return invalid(format!("at most {MAX_QUEUED} messages are queued per call"));
        }
        if validate_id(&session).is_err() || !self.may_read(&session).await {
            return invalid(format!("session '{session}' not found"));
        }
        let id = |message: &str| {
            if message.is_empty() || message.len() > MAX_MESSAGE_ID {
                Err(HostError::Invalid(format!("message ids are 1 to {MAX_MESSAGE_ID} bytes")))
            } else {
                Ok(())
            }
        };
        let session = SessionKey::new(&self.ctx.tenant, &session);
        let action = match request {
            MessageRequest::Send(json) => {
                if json.len() > MAX_SEND_JSON {
                    return invalid(format!(
                        "a queued message is at most {MAX_SEND_JSON} bytes of JSON; send larger files by media.url"
                    ));
                }
                let message: SendMessage = match serde_json::from_str(&json) {
                    Ok(m) => m,
                    Err(e) => return invalid(format!("not a SendMessage: {e}")),
                };
                HostAction::Send { session, message: Box::new(message) }
            }
            MessageRequest::React { message, emoji } => {
                id(&message)?;
                HostAction::React { session, message, emoji: (!emoji.is_empty()).then_some(emoji) }
            }
            MessageRequest::Edit { message, text } => {
                id(&message)?;
                HostAction::Edit { session, message, text }
            }
            MessageRequest::Revoke { message } => {
                id(&message)?;
                HostAction::Revoke { session, message }
            }
        };
        self.queue.get_or_insert_default().push(action);
        Ok(())
    }
}

impl State {
    /// An HTTP request of the `http` interface: from a bot call only, within the tenant's
    /// request rate, to a host every list allows; the wait counts against the call's longer
    /// deadline, not against its running time.
    pub(super) async fn http_send(
        &mut self,
        req: HttpRequest,
    ) -> wasmtime::Result<Result<HttpResponse, OutboundError>> {
        self.require(Capability::HttpOutbound)?;
        let (Some(access), Some(left)) = (self.ctx.http.clone(), self.waits.left()) else {
            return Ok(Err(OutboundError::Denied("requests are sent from the bot hook only".into())));
        };
        let (tenant, plugin) = (&self.ctx.tenant, &self.ctx.plugin);
        let started = std::time::Instant::now();
        let per_minute = self.ctx.directory.limits(tenant).plugin_http_requests_per_minute;
        let result =
            match self.ctx.rates.check("plugin http requests per minute", &format!("http/{tenant}"), per_minute) {
                Err(q) => Err(OutboundError::QuotaExceeded(q.to_string())),
                Ok(()) => {
                    let allowed = Allowed { plugin: &access.plugin_hosts, binding: &access.binding_hosts };
                    access.outbound.send(allowed, req, left).await
                }
            };
        let took = started.elapsed();
        self.waits.waited(took);
        if let Err(e) = &result {
            tracing::debug!(%tenant, %plugin, error = %e, "plugin http request failed");
        }
        access.metrics.request(plugin, result.as_ref().map_or_else(OutboundError::label, |_| "answered"), took);
        Ok(result)
    }
}
