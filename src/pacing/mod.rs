//! The pacing core: call state machine, online estimators and the dial-mode decisions (preview,
//! progressive, power, predictive, adaptive, rate). Sans-IO: plain data in, decisions out; no
//! clock, sockets, threads or database. [`Dialer`] is the type the simulator and the live engine
//! drive: it keeps the shared bookkeeping and asks one strategy per dial mode how many calls
//! to launch.
//!
//! # Layout
//! - [`time`]: [`Millis`], time as a value.
//! - [`mode`]: dial modes as users name them.
//! - [`call`]: the call state machine.
//! - [`dist`]: duration distributions (YAML form, sampling, cdf, quantiles).
//! - [`estimate`]: online estimators with priors.
//! - [`analysis`]: what pacing learns from call-progress analysis (verdict mix, delay) and the
//!   AMD false-positive estimate the abandon budget includes.
//! - `idmap`: hash maps keyed by the dialer's sequence numbers.
//! - [`normal`]: a tabulated standard normal distribution function for the decision and tables.
//! - [`forecast`]: bucketed agents/calls and conditional-probability tables.
//! - [`predictive`]: the predictive algorithm and its abandon controller (documented there).
//! - [`adaptive`]: the VICIdial-style dial level (the model; its timers are in `strategy`).
//! - [`opening`]: the safe cold-start cap and the warm start from past calls.
//! - `timer`: the dialer's scheduled times, one table with a single next wake-up.
//! - `strategy`: one `Strategy` per dial mode (preview, progressive, power, predictive, slack,
//!   adaptive, rate), deciding from the dialer's `Floor`; where call-progress inputs will join
//!   the forecast (`strategy::inputs`).
//! - [`dialer`]: [`Dialer`], one campaign's pacing core (`handle_*` / `poll_*`): agents, calls,
//!   estimators, the abandon record, the launch limit, the timer table, and its strategy.

pub mod adaptive;
pub mod analysis;
pub mod call;
pub mod dialer;
pub mod dist;
pub mod estimate;
pub mod forecast;
pub(crate) mod idmap;
pub mod mode;
pub mod normal;
pub mod opening;
pub mod predictive;
pub(crate) mod strategy;
pub mod time;
pub(crate) mod timer;

pub use analysis::{FpSource, Verdict};
pub use call::{AnswerKind, CallEnd, CallError, CallId, CallState};
pub use dialer::{
    Action, Config, Counters, Dialer, DialerError, InboundId, Params, Priors, Reason,
    DEFAULT_AMD_FALSE_NEGATIVE, DEFAULT_AMD_FALSE_POSITIVE,
};
pub use mode::{DropRule, Mode, ModeError};
pub use opening::{PastCall, PastOutcome};
pub use time::Millis;
