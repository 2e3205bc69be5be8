//! The two migration folders, `host/migrations/sqlite` (the embedded default) and
//! `host/migrations/postgres`, describe the same schema: the same versions, tables, columns in
//! the same order with matching types and nullability, primary keys, indexes and triggers.
//! The Postgres side needs a server: `WAGATE_TEST_POSTGRES_URL` (scripts/test.sh sets it when
//! PostgreSQL answers on 127.0.0.1:5432); without one the test says so and checks the SQLite
//! side alone.

use std::collections::BTreeMap;

use sqlx::{Connection, Executor, PgConnection, Row};

/// A column as both engines are compared: name, type, not null, part of the primary key.
#[derive(Debug, Clone, PartialEq)]
struct Column {
    name: String,
    ty: String,
    not_null: bool,
    key: bool,
}

#[derive(Debug, Default)]
struct Schema {
    tables: BTreeMap<String, Vec<Column>>,
    indexes: Vec<String>,
    triggers: Vec<String>,
    versions: Vec<i64>,
}

fn versions(dir: &str) -> Vec<i64> {
    let mut v: Vec<i64> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().split('_').next().unwrap().parse().unwrap())
        .collect();
    v.sort();
    v
}

async fn sqlite_schema() -> Schema {
    let dir = tempfile::tempdir().unwrap();
    let store =
        wagate::store::Store::open(&format!("sqlite://{}", dir.path().join("s.db").display()), None).await.unwrap();
    let wagate::store::Pool::Sqlite(pool) = store.pool() else { unreachable!("a sqlite:// URL opens SQLite") };
    let mut schema = Schema { versions: versions("migrations/sqlite"), ..Default::default() };
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
         AND name != '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for table in tables {
        let rows = sqlx::query("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?) ORDER BY cid")
            .bind(&table)
            .fetch_all(pool)
            .await
            .unwrap();
        let columns = rows
            .iter()
            .map(|r| {
                let key = r.get::<i64, _>("pk") > 0;
                Column { name: r.get("name"), ty: r.get("type"), not_null: key || r.get::<i64, _>("notnull") == 1, key }
            })
            .collect();
        schema.tables.insert(table, columns);
    }
    schema.indexes =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
            .fetch_all(pool)
            .await
            .unwrap();
    schema.triggers = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        .fetch_all(pool)
        .await
        .unwrap();
    schema
}

async fn postgres_schema(url: &str) -> Schema {
    let mut conn = PgConnection::connect(url).await.unwrap_or_else(|e| panic!("PostgreSQL at {url}: {e}"));
    let name = format!("schema_check_{}_{}", std::process::id(), rand::random::<u32>());
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}; SET search_path TO {name}"))).await.unwrap();
    sqlx::migrate!("./migrations/postgres").run(&mut conn).await.unwrap();
    let mut schema = Schema { versions: versions("migrations/postgres"), ..Default::default() };
    let keys: Vec<(String, String)> = sqlx::query_as(
        "SELECT k.table_name::text, k.column_name::text FROM information_schema.table_constraints c
         JOIN information_schema.key_column_usage k
           ON k.constraint_name = c.constraint_name AND k.table_schema = c.table_schema
         WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = $1",
    )
    .bind(&name)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let rows = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS ty, is_nullable::text AS n
         FROM information_schema.columns WHERE table_schema = $1 AND table_name != '_sqlx_migrations'
         ORDER BY table_name, ordinal_position",
    )
    .bind(&name)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for r in rows {
        let (table, column): (String, String) = (r.get("t"), r.get("c"));
        // SQLite's implicit row id, which PostgreSQL spells out as a column of `messages`.
        if column == "rowid" {
            assert_eq!(table, "messages", "only messages are read in row order");
            continue;
        }
        let key = keys.contains(&(table.clone(), column.clone()));
        let not_null = r.get::<String, _>("n") == "NO";
        schema.tables.entry(table).or_default().push(Column { name: column, ty: r.get("ty"), not_null, key });
    }
    schema.indexes = sqlx::query_scalar(
        "SELECT i.indexname::text FROM pg_indexes i WHERE i.schemaname = $1 AND NOT EXISTS
           (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname) ORDER BY 1",
    )
    .bind(&name)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    schema.triggers = sqlx::query_scalar(
        "SELECT DISTINCT trigger_name::text FROM information_schema.triggers WHERE trigger_schema = $1 ORDER BY 1",
    )
    .bind(&name)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!("DROP SCHEMA {name} CASCADE"))).await.unwrap();
    schema
}

/// Whether a Postgres column type stands for a SQLite declared type: text, or a time where
/// SQLite keeps RFC 3339 text; a 64-bit integer, or a flag, where SQLite keeps an integer.
fn same_type(sqlite: &str, postgres: &str) -> bool {
    matches!(
        (sqlite, postgres),
        ("TEXT", "text" | "timestamp with time zone")
            | ("INTEGER", "bigint" | "boolean")
            | ("BLOB", "bytea")
            | ("TIMESTAMP", "timestamp with time zone")
    )
}

#[tokio::test]
async fn both_migration_folders_describe_the_same_schema() {
    let sqlite = sqlite_schema().await;
    assert!(sqlite.tables.contains_key("messages") && !sqlite.triggers.is_empty(), "{sqlite:?}");
    let Ok(url) = std::env::var("WAGATE_TEST_POSTGRES_URL") else {
        eprintln!(
            "skipped the PostgreSQL half: WAGATE_TEST_POSTGRES_URL is not set (scripts/test.sh sets it when PostgreSQL answers on 127.0.0.1:5432)"
        );
        return;
    };
    let pg = postgres_schema(&url).await;
    assert_eq!(sqlite.versions, pg.versions, "the same migration versions");
    assert_eq!(sqlite.tables.keys().collect::<Vec<_>>(), pg.tables.keys().collect::<Vec<_>>(), "the same tables");
    for (table, columns) in &sqlite.tables {
        let theirs = &pg.tables[table];
        let names = |c: &[Column]| c.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(columns), names(theirs), "{table}: the same columns in the same order");
        for (a, b) in columns.iter().zip(theirs) {
            assert!(same_type(&a.ty, &b.ty), "{table}.{}: {} on SQLite, {} on PostgreSQL", a.name, a.ty, b.ty);
            assert_eq!((a.not_null, a.key), (b.not_null, b.key), "{table}.{}: nullability and key", a.name);
        }
    }
    assert_eq!(sqlite.indexes, pg.indexes, "the same indexes");
    assert_eq!(sqlite.triggers, pg.triggers, "the same triggers");
}
