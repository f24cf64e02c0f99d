//! Campaign definitions loaded from YAML (validated, with file/line/field errors) and call lists
//! parsed from CSV with phone numbers normalised to E.164. Owns no storage: see [`crate::store`].
//!
//! - [`def`]: the campaign definition ([`Campaign`]) and its validation.
//! - [`window`]: calling windows in the callee's local time, holidays.
//! - [`disposition`]: call outcomes and the retry rule attached to each.
//! - [`phone`]: E.164 normalisation (the `phonenumber` crate) and time zone names.
//! - [`mode`]: the dial mode ([`DialMode`]) of campaign files, the admin API and store overrides.
//! - [`cpa`]: the `cpa:` section (call-progress analysis: on/off, thresholds, known
//!   announcements, the action per verdict) and the verdict → disposition mapping.
//! - [`media`]: the safe-harbour message (`abandon_message`) and the recording policy.
//! - [`list`]: the CSV call-list reader (header, BOM, quoting, per-row rejects).

pub mod cpa;
pub mod def;
pub mod disposition;
pub mod list;
pub mod media;
pub mod mode;
pub mod phone;
pub mod phone_cache;
pub mod window;

pub use def::{
    Campaign, CampaignKind, ContactCap, DialMode, Dialing, RetryPolicy, Sla, DEFAULT_MAX_PER_DAY,
};
pub use disposition::{CallDisposition, RetryRule};
pub use list::{
    unterminated_quote, ListError, ListEvent, ListReader, ListRow, RowReject, MAX_FIELD_BYTES,
};
pub use media::{AbandonMessage, RecordingMode, RecordingPolicy};
pub use mode::{DialModeError, MODES};
pub use phone::{normalize_e164, parse_region, parse_timezone, PhoneError};
pub use window::{CallingWindow, DayWindow, WindowError};
