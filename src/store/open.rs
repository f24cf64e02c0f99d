//! Opening a store: URL parsing, SQLite pragmas (WAL, busy timeout), pool sizes, migrations, and
//! PostgreSQL schemas private to one test so store tests run in parallel.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Connection;

use super::{Db, Store, StoreError};

impl Store {
    /// Opens (creating if needed) the store at `url` and applies pending migrations.
    /// Accepts `sqlite://path`, `sqlite:path`, a bare file path, or `postgres://…`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        if is_pg(url) {
            let opts =
                PgConnectOptions::from_str(url).map_err(|_| StoreError::BadUrl(url.to_string()))?;
            return open_pg(opts).await;
        }
        let opts = if url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url).map_err(|_| StoreError::BadUrl(url.to_string()))?
        } else {
            SqliteConnectOptions::new().filename(url)
        };
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL: durable against process crashes; a power cut may lose the last commit.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true)
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        super::migrations::migrator(super::migrations::SQLITE)
            .await?
            .run(&pool)
            .await?;
        Ok(Store::new(Db::Sqlite(pool)))
    }

    /// Opens a PostgreSQL store whose tables live in a new, randomly named schema (tests).
    /// Returns the store and the schema name; see [`Store::drop_schema`].
    pub async fn open_isolated_pg(url: &str) -> Result<(Store, String), StoreError> {
        let schema = format!(
            "t_{}_{:x}",
            std::process::id(),
            rand::random::<u64>() & 0xffff_ffff_ffff
        );
        let opts =
            PgConnectOptions::from_str(url).map_err(|_| StoreError::BadUrl(url.to_string()))?;
        let mut conn = sqlx::PgConnection::connect_with(&opts).await?;
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let store = Store::open_pg_schema(url, &schema).await?;
        Ok((store, schema))
    }

    /// Opens a PostgreSQL store inside an existing `schema` (a second pool on an isolated schema).
    pub async fn open_pg_schema(url: &str, schema: &str) -> Result<Store, StoreError> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(|_| StoreError::BadUrl(url.to_string()))?
            .options([("search_path", schema)]);
        open_pg(opts).await
    }

    /// Drops a schema made by [`Store::open_isolated_pg`] (and everything in it).
    pub async fn drop_schema(&self, schema: &str) -> Result<(), StoreError> {
        if let Db::Postgres(pool) = &self.db {
            sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(pool)
                .await?;
        }
        Ok(())
    }
}

fn is_pg(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

async fn open_pg(opts: PgConnectOptions) -> Result<Store, StoreError> {
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await?;
    super::migrations::migrator(super::migrations::POSTGRES)
        .await?
        .run(&pool)
        .await?;
    Ok(Store::new(Db::Postgres(pool)))
}
