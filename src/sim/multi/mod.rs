//! Multi-campaign scenarios: several campaigns (priorities, skills, agent groups, SLA leads
//! arriving over the day, dial modes, abandon targets, pauses) sharing agents and trunk groups,
//! run through the live engine's own decisions ([`crate::engine::Core`]) in virtual time, with
//! the engine harness's synthetic SIP side and in-memory store. Whatever the live engine does
//! across campaigns (priority order, skills, SLA order, line and CPS budgets, the 24 h / 30 d
//! abandon throttle, pause and resume), the simulation does, because it is the same code.
//!
//! A *strategy* of a multi-campaign scenario is a dial mode (preview, progressive, power:R,
//! predictive, adaptive) applied to every campaign that does not fix its own `mode`.
//!
//! # Layout
//! - [`scenario`]: the YAML form and its validation; the engine config and campaign
//!   definitions it stands for.
//! - [`sip`]: the customers each campaign dials (trunk model, common random numbers), and the
//!   verdicts of a trunk group's `analysis:` (the harness's media side plays them to the
//!   engine's own call-progress handling). Agents here wrap up automatically, so nobody marks
//!   a voicemail `machine`: the false-positive estimate stays at the configured rate.
//! - [`store`]: the leads (lists and arrivals) and the figures read from the call records.
//! - [`run`]: one strategy, start to end.

pub mod run;
pub mod scenario;
pub mod sip;
pub mod store;

pub use run::{result_of, run_world, CampaignResult};
pub use scenario::{is_multi, MultiScenario};

use crate::engine::harness::WorldError;

/// A multi-campaign run that could not start.
#[derive(Debug, thiserror::Error)]
pub enum MultiError {
    /// The scenario does not make a valid engine config or campaign.
    #[error("scenario: {0}")]
    Scenario(String),
    /// The scenario does not make a valid engine config or campaign.
    #[error("scenario: {0}")]
    Build(#[from] scenario::BuildError),
    /// The engine refused the config.
    #[error(transparent)]
    World(#[from] WorldError),
}
