//! Every threshold of call-progress analysis, with its documented default (a campaign's `cpa:`
//! settings). Plain data; owns no detection.
//!
//! SKELETON (owned by the cpa-amd branch): replaced by the real settings.

use serde::{Deserialize, Serialize};

/// Which answering-machine detector runs after the answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmdMode {
    /// outdial's detector: voice activity, then the greeting's cadence ([`super::amd`]).
    #[default]
    Default,
    /// app_amd's documented energy state machine with its defaults ([`super::baseline`]).
    Baseline,
    /// No AMD: announcements, SIT and fax only; a person or machine is `unsure`... decided by the
    /// classifier's owner.
    Off,
}

/// The analysis settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CpaSettings {
    /// Which AMD runs.
    pub amd: AmdMode,
}
