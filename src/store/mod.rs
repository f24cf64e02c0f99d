//! The persistent store (sqlx; SQLite file by default, PostgreSQL for `postgres://` URLs):
//! campaigns, leads, attempts (call-detail records), the DNC list and the lease ("hopper") used at
//! dial time. Every compliance rule that must hold when a number is dialled is checked here,
//! atomically with the lease. Timestamps are `i64` epoch milliseconds UTC, passed in by the caller
//! (`now_ms`): the store never reads a clock. Owns no pacing and no SIP.
//!
//! - [`open`](Store::open): connection, pragmas, migrations, isolated PostgreSQL schemas for tests.
//! - `db`: one query text for both backends (PostgreSQL dialect, translated for SQLite).
//! - `campaigns`: apply / look up / list campaign definitions.
//! - `load`: bulk call-list loads in one transaction.
//! - `lease`: the hopper (`lease`, `release`, lease expiry).
//! - `attempts`: call-detail records and retry scheduling (`begin_attempt`, `finish_attempt`,
//!   `record_attempt`, `record_progress`, `recover_node`, `abandon_counts`).
//! - `retry`: the pure "what happens next" rule after an attempt.
//! - `dnc`, `stats`: the do-not-call list and campaign figures.
//! - `engine`: what engine nodes share: audit trail, pacing overrides, agent claims and sessions,
//!   agent wrap-up dispositions, report rows and abandon-rate windows.
//! - `nodes`: engine nodes alive on this store, and recovery of the ones that died.
//! - `rows`: the plain rows of reports and the audit trail ([`CdrRow`], [`AuditRow`], …), owned
//!   here and re-exported by `admin`.
//! - `history`: a campaign's recent calls for the pacing core's warm start (`recent_calls`).
//! - `records`: call records for people: a lead's earlier attempts (screen pop), the call-record
//!   search, a record's recording file.
//! - Owned callbacks: a callback an agent schedules is theirs until its time plus the campaign's
//!   `callbacks.owner_grace` (`engine::apply_wrap_up`); `lease` keeps it out of the shared pool
//!   until then and `lease_owned` hands it to its owner.

mod attempts;
mod campaigns;
mod db;
mod dnc;
mod engine;
mod history;
mod inbound;
mod lease;
mod load;
mod media;
mod migrations;
mod nodes;
mod open;
mod records;
pub mod retry;
mod rows;
mod stats;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::{PgPool, SqlitePool};

use crate::campaign::{Campaign, ListError};

pub use attempts::{AttemptOutcome, CallMedia, CallProgress, OpenLeg, RecoverReport};
pub use campaigns::{enum_name, ApplyOutcome, CampaignRecord, CampaignSummary};
pub use engine::{AgentWrapUp, PacingOverride, ReportInput};
pub use history::{WARM_START_CALLS, WARM_START_WINDOW_MS};
pub use inbound::InboundRecord;
pub use lease::LeasedLead;
pub use load::{LoadReport, MAX_REPORTED_ERRORS};
pub use media::{
    AttemptMedia, CpaRecord, MediaFigures, RecordingFilter, RecordingInfo, RecordingRow,
};
pub use nodes::DeadNode;
pub use records::{phone_rev, CallFilter, CallPage, CallRecord, LeadAttempt, MAX_PAGE};
pub use retry::Next;
pub use rows::{AuditRow, CdrRow, InboundRow, StaffedInterval};
pub use stats::{CampaignStats, LeadInfo};

/// `sla_ms` of a lead without a deadline (sorts after every real deadline).
pub(crate) const NO_SLA: i64 = i64::MAX;

/// The store: a cheap-to-clone handle over a connection pool.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) db: Db,
    /// Parsed campaign definitions by id, revalidated against the stored content hash.
    cache: Arc<Mutex<HashMap<i64, Arc<CampaignRecord>>>>,
}

/// The database behind a [`Store`].
#[derive(Clone, Debug)]
pub enum Db {
    /// An SQLite file (WAL mode).
    Sqlite(SqlitePool),
    /// A PostgreSQL database.
    Postgres(PgPool),
}

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database URL is not usable.
    #[error("invalid database URL {0:?}")]
    BadUrl(String),
    /// No campaign of that name has been applied.
    #[error("unknown campaign {0:?} (apply it first with `outdial campaign apply`)")]
    UnknownCampaign(String),
    /// No lead with that id.
    #[error("unknown lead {0}")]
    UnknownLead(i64),
    /// The lead is not leased (to this node).
    #[error("lead {lead} is not leased to node {node:?}")]
    NotLeased {
        /// The lead.
        lead: i64,
        /// The node that asked.
        node: String,
    },
    /// At dial time the lead is no longer dialable (added to the DNC list, or its calling
    /// window closed since it was leased); it went back to the pool and nothing was dialled.
    #[error("lead {lead} is not dialable now: {reason}")]
    NotDialable {
        /// The lead.
        lead: i64,
        /// Which rule stopped it.
        reason: &'static str,
    },
    /// No attempt with that id.
    #[error("unknown attempt {0}")]
    UnknownAttempt(i64),
    /// The attempt was already finished.
    #[error("attempt {0} is already finished")]
    AttemptClosed(i64),
    /// An agent disposition arrived for an attempt that is still open (finish it first).
    #[error("attempt {0} is still open")]
    AttemptOpen(i64),
    /// The attempt already has an agent disposition.
    #[error("attempt {0} already has an agent disposition")]
    AlreadyDisposed(i64),
    /// The lead moved on (leased, dialling or attempted again) since the attempt an agent
    /// disposition was given for; nothing was changed.
    #[error("lead {lead} moved on since attempt {attempt}; its disposition cannot reschedule it")]
    LeadBusy {
        /// The lead.
        lead: i64,
        /// The attempt the disposition was for.
        attempt: i64,
    },
    /// No open agent session with that id.
    #[error("no open agent session {0}")]
    UnknownSession(i64),
    /// The outcome carries no time at all (neither dial nor end time).
    #[error("attempt outcome has no dial or end time")]
    MissingTime,
    /// A number given to the DNC API is not in E.164 form.
    #[error("not an E.164 number: {0:?}")]
    NotE164(String),
    /// A stored campaign definition cannot be read back (edited by hand?).
    #[error("stored definition of campaign {name:?} is unreadable: {message}")]
    Corrupt {
        /// The campaign.
        name: String,
        /// What serde said.
        message: String,
    },
    /// The call list cannot be loaded; nothing was stored.
    #[error(transparent)]
    List(#[from] ListError),
}

impl StoreError {
    /// The database could not be reached or dropped the connection (I/O, pool timeout, a server
    /// shutting down or refusing connections, a serialization conflict): the same call may
    /// succeed later. Every other error is an answer and retrying it would give the same one.
    pub fn is_transient(&self) -> bool {
        let StoreError::Db(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(d) => d.code().is_some_and(|c| {
                // 08: connection exception; 57P0x: shutdown/cannot connect now; 53: resources;
                // 40001/40P01: serialization failure, deadlock; SQLite 5/6: busy, locked.
                c.starts_with("08")
                    || c.starts_with("57P")
                    || c.starts_with("53")
                    || c == "40001"
                    || c == "40P01"
                    || c == "5"
                    || c == "6"
            }),
            _ => false,
        }
    }
}

impl Store {
    fn new(db: Db) -> Store {
        Store {
            db,
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// The underlying pool (for benchmarks and diagnostics).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Closes every connection (waits for checked-out ones).
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }
}

/// A campaign definition is JSON in the store; decode it.
pub(crate) fn decode_campaign(name: &str, json: &str) -> Result<Campaign, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        name: name.to_string(),
        message: e.to_string(),
    })
}

/// Checks that `phone` is `+` followed by 3 to 15 digits.
pub(crate) fn check_e164(phone: &str) -> Result<(), StoreError> {
    let digits = phone.strip_prefix('+').unwrap_or("");
    if (3..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(StoreError::NotE164(phone.to_string()))
    }
}
