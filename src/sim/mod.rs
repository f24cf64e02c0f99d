//! Discrete-event simulator: drives the pacing core and agent state machines on a virtual clock
//! against synthetic trunks and agents, with common random numbers across strategies.
//!
//! # Layout
//! - [`scenario`]: the scenario YAML (also used by `outdial trunk-sim`).
//! - [`dist`]: duration distributions, the trunk outcome sampler and per-item RNG streams.

pub mod dist;
pub mod scenario;

pub use dist::{CallDraw, Dist, Outcome, TrunkModel};
pub use scenario::{InboundSpec, Scenario, TrunkSpec};
