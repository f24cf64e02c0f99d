//! The schema migrations, embedded in the binary: the SQL files of `migrations/sqlite` and
//! `migrations/postgres`, handed to sqlx's migrator as a [`MigrationSource`]. This is what
//! `sqlx::migrate!` generates, written out so the crate does not need sqlx's proc-macro crate
//! (which compiles both database drivers a second time, for the build host).
//!
//! A migration's version, description and SQL must stay exactly as `migrate!` read them: sqlx
//! stores a checksum of the SQL in `_sqlx_migrations` and refuses a database whose applied
//! migrations no longer match.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};

/// One embedded migration file: version, description (the file name's words), SQL.
type File = (i64, &'static str, &'static str);

/// `migrations/sqlite`, in version order.
pub(super) const SQLITE: &[File] = &[
    (
        1,
        "store",
        include_str!("../../migrations/sqlite/0001_store.sql"),
    ),
    (
        2,
        "engine",
        include_str!("../../migrations/sqlite/0002_engine.sql"),
    ),
    (
        3,
        "nodes",
        include_str!("../../migrations/sqlite/0003_nodes.sql"),
    ),
    (
        4,
        "inbound calls",
        include_str!("../../migrations/sqlite/0004_inbound_calls.sql"),
    ),
    (
        5,
        "call progress",
        include_str!("../../migrations/sqlite/0005_call_progress.sql"),
    ),
    (
        6,
        "call media",
        include_str!("../../migrations/sqlite/0006_call_media.sql"),
    ),
    (
        7,
        "cpa",
        include_str!("../../migrations/sqlite/0007_cpa.sql"),
    ),
    (
        8,
        "owned callbacks",
        include_str!("../../migrations/sqlite/0008_owned_callbacks.sql"),
    ),
    (
        9,
        "phone suffix",
        include_str!("../../migrations/sqlite/0009_phone_suffix.sql"),
    ),
    (
        10,
        "dial time",
        include_str!("../../migrations/sqlite/0010_dial_time.sql"),
    ),
];

/// `migrations/postgres`, in version order.
pub(super) const POSTGRES: &[File] = &[
    (
        1,
        "store",
        include_str!("../../migrations/postgres/0001_store.sql"),
    ),
    (
        2,
        "engine",
        include_str!("../../migrations/postgres/0002_engine.sql"),
    ),
    (
        3,
        "leads campaign check",
        include_str!("../../migrations/postgres/0003_leads_campaign_check.sql"),
    ),
    (
        4,
        "nodes",
        include_str!("../../migrations/postgres/0004_nodes.sql"),
    ),
    (
        5,
        "inbound calls",
        include_str!("../../migrations/postgres/0005_inbound_calls.sql"),
    ),
    (
        6,
        "call progress",
        include_str!("../../migrations/postgres/0006_call_progress.sql"),
    ),
    (
        7,
        "call media",
        include_str!("../../migrations/postgres/0007_call_media.sql"),
    ),
    (
        8,
        "cpa",
        include_str!("../../migrations/postgres/0008_cpa.sql"),
    ),
    (
        9,
        "owned callbacks",
        include_str!("../../migrations/postgres/0009_owned_callbacks.sql"),
    ),
    (
        10,
        "phone suffix",
        include_str!("../../migrations/postgres/0010_phone_suffix.sql"),
    ),
    (
        11,
        "dial time",
        include_str!("../../migrations/postgres/0011_dial_time.sql"),
    ),
];

/// A set of embedded migration files.
#[derive(Debug)]
struct Embedded(&'static [File]);

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        sql.starts_with("-- no-transaction"),
                    )
                })
                .collect())
        })
    }
}

/// The migrator for one backend's files.
pub(super) async fn migrator(files: &'static [File]) -> Result<Migrator, MigrateError> {
    Migrator::new(Embedded(files)).await
}

#[cfg(test)]
mod tests {
    use super::{File, POSTGRES, SQLITE};

    /// Every file in the folder is embedded, under the version and description sqlx's file
    /// naming gives it (`0003_leads_campaign_check.sql` → 3, "leads campaign check").
    fn same_as_folder(dir: &str, files: &[File]) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut on_disk: Vec<(i64, String, String)> = std::fs::read_dir(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .map(|p| {
                let stem = p.file_stem().and_then(|s| s.to_str()).expect("name");
                let (v, d) = stem.split_once('_').expect("VERSION_DESCRIPTION");
                let sql = std::fs::read_to_string(&p).expect("read");
                (v.parse().expect("version"), d.replace('_', " "), sql)
            })
            .collect();
        on_disk.sort();
        let embedded: Vec<(i64, String, String)> = files
            .iter()
            .map(|&(v, d, s)| (v, d.to_string(), s.to_string()))
            .collect();
        assert_eq!(embedded, on_disk, "{dir}: embedded migrations differ");
    }

    #[test]
    fn every_migration_file_is_embedded() {
        same_as_folder("migrations/sqlite", SQLITE);
        same_as_folder("migrations/postgres", POSTGRES);
    }
}
