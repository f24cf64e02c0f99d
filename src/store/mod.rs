//! The persistent store (sqlx; SQLite file by default, PostgreSQL for `postgres://` URLs): campaigns,
//! leads, attempts (call-detail records), the DNC list and the lease ("hopper") used at dial time.
