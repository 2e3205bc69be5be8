//! Persistence of the canonical model in SQLite (WAL, the embedded default) or PostgreSQL,
//! chosen by the database URL. Reads go to the pool; every write goes through
//! [`Store::begin_write`], which serialises this process's writers (SQLite has one anyway) so
//! that the per-tenant event sequence numbers handed out inside a write are published in order.
//!
//! Every query is written once, in SQL both engines read alike, and run on either through
//! [`on_engine!`](crate::on_engine): the macro repeats the body for each engine's executor,
//! so each is type-checked against the engine it runs on.

#[macro_use]
mod engine;

pub mod audit;
pub mod chats;
pub mod contact_ids;
pub mod device_items;
pub mod idempotency;
pub mod journal;
pub mod leases;
pub mod messages;
pub mod plugins;
pub mod pruning;
pub mod send_queue;
pub mod sessions;
pub mod settings;
pub mod tenants;
pub mod webhooks;

pub use engine::{Db, Dialect, Engine, Held, Pool, Source};

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Executor, Postgres, Sqlite, Transaction};
use thiserror::Error;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::metrics::latency_histogram;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("this node no longer holds the lease of session {0}")]
    LeaseLost(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone)]
pub struct Store {
    pool: Pool,
    writer: Arc<Mutex<()>>,
    writes: WriteMetrics,
    /// Set on the handle a session's actor writes through in cluster mode.
    fence: Option<Arc<Fence>>,
}

/// What every write of a session run by this node carries in cluster mode: the lease it holds
/// and the token it got. A write whose lease has moved on is refused before it changes anything.
#[derive(Debug, Clone)]
pub struct Fence {
    pub key: crate::model::SessionKey,
    pub node: String,
    pub token: i64,
}

/// How long writers wait for the writer lock, and how long they hold it until committed.
#[derive(Clone)]
struct WriteMetrics {
    wait: Histogram,
    held: Histogram,
}

/// `$from, $from+1, ...`: `n` numbered placeholders, for a list bound after `from - 1`
/// other values. Every query numbers its placeholders (`$1`), which SQLite and PostgreSQL
/// read alike.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// An open write transaction; holds the writer lock.
pub struct WriteTx {
    tx: Engine<Transaction<'static, Sqlite>, Transaction<'static, Postgres>>,
    guard: OwnedMutexGuard<()>,
    began: Instant,
    held: Histogram,
}

/// A committed write whose lock is still held: publish its events, then drop it.
pub struct Committed {
    _guard: OwnedMutexGuard<()>,
}

impl Store {
    /// Opens the database the URL names and runs the embedded migrations of its engine:
    /// `sqlite://PATH` (created if missing) or `postgres://...`, whose tables live in `schema`
    /// (created if missing; the server's default, normally `public`, when `None`).
    pub async fn open(url: &str, schema: Option<&str>) -> StoreResult<Self> {
        let pool = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Pool::Postgres(open_postgres(url, schema).await?)
        } else {
            Pool::Sqlite(open_sqlite(url).await?)
        };
        let writes = WriteMetrics { wait: latency_histogram(), held: latency_histogram() };
        Ok(Self { pool, writer: Arc::new(Mutex::new(())), writes, fence: None })
    }

    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register(
            "store_write_wait_seconds",
            "Time a write waited for the store's writer lock",
            self.writes.wait.clone(),
        );
        registry.register(
            "store_write_seconds",
            "Time from a write's start (lock taken) until its commit",
            self.writes.held.clone(),
        );
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Holds this process's writer lock without a transaction: a change to what writes read
    /// in memory (the webhook routes) then falls between two commits, never inside one.
    pub async fn hold_writers(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.writer.clone().lock_owned().await
    }

    pub async fn begin_write(&self) -> StoreResult<WriteTx> {
        let asked = Instant::now();
        let guard = self.writer.clone().lock_owned().await;
        let began = Instant::now();
        self.writes.wait.observe((began - asked).as_secs_f64());
        let tx = match &self.pool {
            Pool::Sqlite(p) => Engine::Sqlite(p.begin().await?),
            Pool::Postgres(p) => Engine::Postgres(p.begin().await?),
        };
        let mut w = WriteTx { tx, guard, began, held: self.writes.held.clone() };
        if let Some(f) = &self.fence
            && !leases::holds(&mut w, &f.key, &f.node, f.token, chrono::Utc::now().timestamp_millis()).await?
        {
            return Err(StoreError::LeaseLost(f.key.to_string()));
        }
        Ok(w)
    }

    /// This store, for the writes of one session whose lease this node holds.
    pub fn fenced(&self, fence: Fence) -> Store {
        Store { fence: Some(Arc::new(fence)), ..self.clone() }
    }

    pub async fn ping(&self) -> StoreResult<()> {
        on_engine!(&self.pool, |db| sqlx::query("SELECT 1").execute(db).await?.rows_affected());
        Ok(())
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

impl WriteTx {
    /// Hands out the tenant's next `count` event sequence numbers inside this transaction, so
    /// a number is never reused even across restarts; returns the first.
    pub async fn next_seqs(&mut self, tenant: &str, count: u64) -> StoreResult<u64> {
        let last: Option<i64> =
            on_engine!(self, |c| sqlx::query_scalar("UPDATE tenants SET seq = seq + $1 WHERE id = $2 RETURNING seq")
                .bind(count as i64)
                .bind(tenant)
                .fetch_optional(c)
                .await?);
        let last = last.ok_or_else(|| StoreError::NotFound(format!("tenant '{tenant}'")))?;
        Ok(last as u64 + 1 - count)
    }

    pub async fn commit(self) -> StoreResult<Committed> {
        match self.tx {
            Engine::Sqlite(tx) => tx.commit().await?,
            Engine::Postgres(tx) => tx.commit().await?,
        }
        self.held.observe(self.began.elapsed().as_secs_f64());
        Ok(Committed { _guard: self.guard })
    }
}

async fn open_sqlite(url: &str) -> StoreResult<sqlx::SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
    sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
    Ok(pool)
}

async fn open_postgres(url: &str, schema: Option<&str>) -> StoreResult<sqlx::PgPool> {
    let mut options = PgConnectOptions::from_str(url)?;
    if let Some(schema) = schema {
        if !valid_schema_name(schema) {
            return Err(StoreError::Corrupt(format!("schema name '{schema}' is not a plain identifier")));
        }
        // Created once over a connection of its own: the pool's connections are then told to
        // look there first, so every query finds the tables without naming the schema.
        let mut conn = sqlx::PgConnection::connect_with(&options).await?;
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS {schema}"))).await?;
        conn.close().await?;
        options = options.options([("search_path", schema)]);
    }
    let pool = PgPoolOptions::new().max_connections(16).connect_with(options).await?;
    sqlx::migrate!("./migrations/postgres").run(&pool).await?;
    Ok(pool)
}

/// A schema name is put into SQL text (DDL takes no parameters), so only plain lowercase
/// identifiers are accepted.
pub fn valid_schema_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 63
        && chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

pub(crate) fn parse_enum<T: FromStr<Err = String>>(value: &str) -> StoreResult<T> {
    value.parse().map_err(StoreError::Corrupt)
}

pub(crate) fn parse_opt_enum<T: FromStr<Err = String>>(value: Option<String>) -> StoreResult<Option<T>> {
    value.as_deref().map(parse_enum).transpose()
}
