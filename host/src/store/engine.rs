//! The two engines a store runs on, and the one way a query is run on either.

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool};

use super::WriteTx;

/// A value for one engine or the other.
pub enum Engine<S, P> {
    Sqlite(S),
    Postgres(P),
}

/// The connection pool of the engine the database URL chose.
#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// What a query runs on: the pool (`&Pool`) or an open write (`&mut WriteTx`), seen as an
/// executor of the engine behind it.
pub trait Db<'e> {
    type Sqlite: sqlx::SqliteExecutor<'e>;
    type Postgres: sqlx::PgExecutor<'e>;
    fn engine(self) -> Engine<Self::Sqlite, Self::Postgres>;
}

impl<'e> Db<'e> for &'e Pool {
    type Sqlite = &'e SqlitePool;
    type Postgres = &'e PgPool;
    fn engine(self) -> Engine<Self::Sqlite, Self::Postgres> {
        match self {
            Pool::Sqlite(p) => Engine::Sqlite(p),
            Pool::Postgres(p) => Engine::Postgres(p),
        }
    }
}

impl<'e> Db<'e> for &'e mut WriteTx {
    type Sqlite = &'e mut SqliteConnection;
    type Postgres = &'e mut PgConnection;
    fn engine(self) -> Engine<Self::Sqlite, Self::Postgres> {
        match &mut self.tx {
            Engine::Sqlite(tx) => Engine::Sqlite(&mut **tx),
            Engine::Postgres(tx) => Engine::Postgres(&mut **tx),
        }
    }
}

/// Where a query that may run either way reads: the pool, or inside an open write to see what
/// it wrote so far. (A concrete type rather than a generic `impl Db`: the compiler cannot prove
/// futures generic over an executor's lifetime `Send`.)
pub enum Source<'e> {
    Pool(&'e Pool),
    Write(&'e mut WriteTx),
}

impl<'e> From<&'e Pool> for Source<'e> {
    fn from(p: &'e Pool) -> Self {
        Source::Pool(p)
    }
}

impl<'e> From<&'e mut WriteTx> for Source<'e> {
    fn from(w: &'e mut WriteTx) -> Self {
        Source::Write(w)
    }
}

/// A [`Source`] as one connection: one taken from the pool for as long as it is held, or the
/// write's own.
pub enum Held<'e> {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
    Write(&'e mut WriteTx),
}

impl<'e> Source<'e> {
    pub async fn hold(self) -> sqlx::Result<Held<'e>> {
        Ok(match self {
            Source::Pool(Pool::Sqlite(p)) => Held::Sqlite(p.acquire().await?),
            Source::Pool(Pool::Postgres(p)) => Held::Postgres(p.acquire().await?),
            Source::Write(w) => Held::Write(w),
        })
    }
}

impl<'a, 'e> Db<'a> for &'a mut Held<'e> {
    type Sqlite = &'a mut SqliteConnection;
    type Postgres = &'a mut PgConnection;
    fn engine(self) -> Engine<Self::Sqlite, Self::Postgres> {
        match self {
            Held::Sqlite(c) => Engine::Sqlite(&mut **c),
            Held::Postgres(c) => Engine::Postgres(&mut **c),
            Held::Write(w) => Db::engine(&mut **w),
        }
    }
}

/// Runs `body` with `$e` bound to the executor of the engine `$db` is on. The body is written
/// once and compiled for each engine, so a type one engine cannot bind or read fails the build.
#[macro_export]
macro_rules! on_engine {
    ($db:expr, |$e:ident| $body:expr) => {
        match $crate::store::Db::engine($db) {
            $crate::store::Engine::Sqlite($e) => $body,
            $crate::store::Engine::Postgres($e) => $body,
        }
    };
}

/// The few places where the two engines' SQL differs, as the fragment each one reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// An expression for 32 random lowercase hex digits (ids made inside a statement).
    pub fn random_hex(self) -> &'static str {
        match self {
            Dialect::Sqlite => "lower(hex(randomblob(16)))",
            Dialect::Postgres => "replace(gen_random_uuid()::text, '-', '')",
        }
    }

    /// `column IN (...)` for the strings of a JSON array bound as text at `$n`.
    pub fn in_json_list(self, column: &str, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("{column} IN (SELECT value FROM json_each(${n}))"),
            Dialect::Postgres => format!("{column} IN (SELECT jsonb_array_elements_text(${n}::jsonb))"),
        }
    }

    /// Locks the rows a `SELECT` reads until the transaction ends, against writers of other
    /// connections; SQLite has one writer at a time and needs no such lock.
    pub fn lock_rows_shared(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR SHARE",
        }
    }

    /// Tells SQLite's planner which index to use where it would pick a worse one; PostgreSQL
    /// plans by statistics and takes no such hint.
    pub fn indexed_by(self, index: &str) -> String {
        match self {
            Dialect::Sqlite => format!(" INDEXED BY {index}"),
            Dialect::Postgres => String::new(),
        }
    }
}

impl Pool {
    pub fn dialect(&self) -> Dialect {
        match self {
            Pool::Sqlite(_) => Dialect::Sqlite,
            Pool::Postgres(_) => Dialect::Postgres,
        }
    }
}

impl WriteTx {
    pub fn dialect(&self) -> Dialect {
        match &self.tx {
            Engine::Sqlite(_) => Dialect::Sqlite,
            Engine::Postgres(_) => Dialect::Postgres,
        }
    }
}
