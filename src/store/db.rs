//! The thin layer that lets the store write each query once: SQL is written in the PostgreSQL
//! dialect with `$N` parameters and translated for SQLite (`?N`, `= ANY($N)` → `json_each`,
//! `FOR UPDATE [SKIP LOCKED]` dropped because SQLite's `BEGIN IMMEDIATE` already serialises
//! writers), and WHERE clauses assembled from optional filters ([`Where`]). Owns transactions;
//! owns no business rules.

use std::borrow::Cow;

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, Postgres, Sqlite, Transaction};

use super::{Db, Store, StoreError};

/// A bind value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Arg<'a> {
    /// BIGINT / INTEGER.
    I(i64),
    /// Nullable BIGINT.
    OI(Option<i64>),
    /// TEXT.
    S(&'a str),
    /// Nullable TEXT.
    OS(Option<&'a str>),
    /// Nullable REAL / DOUBLE PRECISION.
    OF(Option<f64>),
    /// A list of texts (for `= ANY($N)`).
    Strs(&'a [String]),
    /// A list of integers (for `= ANY($N)`).
    Ints(&'a [i64]),
}

/// A WHERE clause made of the conditions a query was given, its `$N` parameters numbered in the
/// order they are bound. For searches whose filters are each optional: a filter left out leaves no
/// `($n IS NULL OR col = $n)` term behind, which neither SQLite nor PostgreSQL can serve from an
/// index.
#[derive(Clone, Debug, Default)]
pub(crate) struct Where<'a> {
    conds: Vec<String>,
    args: Vec<Arg<'a>>,
}

impl<'a> Where<'a> {
    /// Binds `arg`; returns its placeholder (`$N`), to be written into a condition or a clause
    /// after the WHERE (`LIMIT`).
    pub(crate) fn bind(&mut self, arg: Arg<'a>) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }

    /// Adds a condition without parameters.
    pub(crate) fn and(&mut self, cond: &str) {
        self.conds.push(cond.to_string());
    }

    /// Binds `arg` and adds the condition `cond` makes of its placeholder.
    pub(crate) fn and_with(&mut self, arg: Arg<'a>, cond: impl FnOnce(&str) -> String) {
        let p = self.bind(arg);
        self.conds.push(cond(&p));
    }

    /// ` WHERE c1 AND c2 …`, or nothing when no condition was given.
    pub(crate) fn sql(&self) -> String {
        if self.conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conds.join(" AND "))
        }
    }

    /// The bound values, in placeholder order.
    pub(crate) fn args(&self) -> &[Arg<'a>] {
        &self.args
    }
}

/// Declares a struct and implements `sqlx::FromRow` for it on both backends, each field read from
/// the column of its name: what `#[derive(sqlx::FromRow)]` generates. The derive would pull in
/// sqlx's proc-macro crate, which compiles both database drivers a second time for the build
/// host (minutes of every clean build and CI run).
macro_rules! from_row {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $($(#[$fmeta])* $fvis $field: $ty),*
        }
        impl<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> for $name {
            fn from_row(row: &'r sqlx::sqlite::SqliteRow) -> Result<Self, sqlx::Error> {
                use sqlx::Row as _;
                Ok(Self { $($field: row.try_get(stringify!($field))?),* })
            }
        }
        impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for $name {
            fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
                use sqlx::Row as _;
                Ok(Self { $($field: row.try_get(stringify!($field))?),* })
            }
        }
    };
}
pub(crate) use from_row;

/// Rows decodable from both backends.
pub(crate) trait BothRow:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> BothRow for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

/// An open transaction on either backend.
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Pg(Transaction<'static, Postgres>),
}

impl Store {
    /// A transaction that will write: SQLite takes the write lock up front (`BEGIN IMMEDIATE`), so
    /// a read-then-write never fails half-way with SQLITE_BUSY.
    pub(crate) async fn write_tx(&self) -> Result<Tx, StoreError> {
        self.write_tx_with("").await
    }

    /// A write transaction that begins with PostgreSQL settings for this transaction only, sent
    /// with the `BEGIN` in one round trip (`settings` is a `SET LOCAL …; …` list, or empty;
    /// SQLite ignores it).
    pub(crate) async fn write_tx_with(&self, settings: &'static str) -> Result<Tx, StoreError> {
        Ok(match &self.db {
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) if settings.is_empty() => Tx::Pg(p.begin().await?),
            Db::Postgres(p) => Tx::Pg(p.begin_with(format!("BEGIN; {settings}")).await?),
        })
    }

    /// One statement in its own write transaction; returns the rows it affected.
    pub(crate) async fn write_one(&self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        let mut tx = self.write_tx().await?;
        let n = tx.exec(sql, args).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// A transaction that only reads (a consistent snapshot).
    pub(crate) async fn read_tx(&self) -> Result<Tx, StoreError> {
        Ok(match &self.db {
            Db::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Db::Postgres(p) => Tx::Pg(p.begin().await?),
        })
    }
}

/// Translates PostgreSQL-dialect SQL (as written in this module) to SQLite.
pub(crate) fn to_sqlite(sql: &str) -> Cow<'_, str> {
    let mut out = String::with_capacity(sql.len() + 32);
    let mut rest = sql;
    while let Some(pos) = rest.find("= ANY($") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 7..];
        let digits = after.bytes().take_while(|b| b.is_ascii_digit()).count();
        out.push_str("IN (SELECT value FROM json_each(?");
        out.push_str(&after[..digits]);
        out.push_str("))");
        // Skip the closing parenthesis of ANY(...).
        rest = &after[digits + 1..];
    }
    out.push_str(rest);
    let out = out
        .replace(" FOR UPDATE SKIP LOCKED", "")
        .replace(" FOR UPDATE", "")
        .replace('$', "?");
    Cow::Owned(out)
}

fn json_list<T: serde::Serialize>(v: &T) -> String {
    // A list of strings or integers always serialises.
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

macro_rules! bind_all {
    ($q:expr, $args:expr, sqlite) => {{
        let mut q = $q;
        for a in $args {
            q = match *a {
                Arg::I(v) => q.bind(v),
                Arg::OI(v) => q.bind(v),
                Arg::S(v) => q.bind(v),
                Arg::OS(v) => q.bind(v),
                Arg::OF(v) => q.bind(v),
                Arg::Strs(v) => q.bind(json_list(&v)),
                Arg::Ints(v) => q.bind(json_list(&v)),
            };
        }
        q
    }};
    ($q:expr, $args:expr, pg) => {{
        let mut q = $q;
        for a in $args {
            q = match *a {
                Arg::I(v) => q.bind(v),
                Arg::OI(v) => q.bind(v),
                Arg::S(v) => q.bind(v),
                Arg::OS(v) => q.bind(v),
                Arg::OF(v) => q.bind(v),
                Arg::Strs(v) => q.bind(v),
                Arg::Ints(v) => q.bind(v),
            };
        }
        q
    }};
}

impl Tx {
    /// Runs a statement; returns the number of rows affected.
    pub(crate) async fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        Ok(match self {
            Tx::Sqlite(tx) => {
                let sql = to_sqlite(sql);
                bind_all!(sqlx::query(&sql), args, sqlite)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected()
            }
            Tx::Pg(tx) => bind_all!(sqlx::query(sql), args, pg)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        })
    }

    /// Fetches every row.
    pub(crate) async fn all<T: BothRow>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<T>, StoreError> {
        Ok(match self {
            Tx::Sqlite(tx) => {
                let sql = to_sqlite(sql);
                bind_all!(sqlx::query_as::<_, T>(&sql), args, sqlite)
                    .fetch_all(&mut **tx)
                    .await?
            }
            Tx::Pg(tx) => {
                bind_all!(sqlx::query_as::<_, T>(sql), args, pg)
                    .fetch_all(&mut **tx)
                    .await?
            }
        })
    }

    /// Fetches at most one row.
    pub(crate) async fn opt<T: BothRow>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<T>, StoreError> {
        Ok(match self {
            Tx::Sqlite(tx) => {
                let sql = to_sqlite(sql);
                bind_all!(sqlx::query_as::<_, T>(&sql), args, sqlite)
                    .fetch_optional(&mut **tx)
                    .await?
            }
            Tx::Pg(tx) => {
                bind_all!(sqlx::query_as::<_, T>(sql), args, pg)
                    .fetch_optional(&mut **tx)
                    .await?
            }
        })
    }

    /// Fetches exactly one row.
    pub(crate) async fn one<T: BothRow>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<T, StoreError> {
        self.opt(sql, args)
            .await?
            .ok_or(StoreError::Db(sqlx::Error::RowNotFound))
    }

    /// Whether this is PostgreSQL (for the few statements written per backend).
    pub(crate) fn is_pg(&self) -> bool {
        matches!(self, Tx::Pg(_))
    }

    /// Commits.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Pg(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_numbers_its_parameters_in_bind_order() {
        let mut w = Where::default();
        assert_eq!(w.sql(), "");
        w.and("a.x IS NOT NULL");
        w.and_with(Arg::S("c1"), |p| format!("(a.d = {p} OR a.e = {p})"));
        w.and_with(Arg::I(5), |p| format!("a.t >= {p}"));
        assert_eq!(w.bind(Arg::I(50)), "$3");
        assert_eq!(
            w.sql(),
            " WHERE a.x IS NOT NULL AND (a.d = $1 OR a.e = $1) AND a.t >= $2"
        );
        assert_eq!(w.args().len(), 3);
    }

    #[test]
    fn translation() {
        assert_eq!(
            to_sqlite("SELECT 1 WHERE a = $1 AND tz = ANY($12) AND b = ANY($3) FOR UPDATE SKIP LOCKED"),
            "SELECT 1 WHERE a = ?1 AND tz IN (SELECT value FROM json_each(?12)) AND b IN (SELECT value FROM json_each(?3))"
        );
        assert_eq!(
            to_sqlite("SELECT x FROM t WHERE id = $1 FOR UPDATE"),
            "SELECT x FROM t WHERE id = ?1"
        );
    }
}
