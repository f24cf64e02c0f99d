//! What crosses the line between a [`Dialer`] and its driver: the actions it asks for, why it
//! wants a wake-up, the ids it hands out and the errors it returns. Types only, no logic.

use crate::agents::{AgentError, AgentId};
use crate::pacing::call::{CallError, CallId};
#[cfg(doc)]
use crate::pacing::Dialer;

/// Id of an inbound call (sequence number per dialer, from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InboundId(pub u64);

/// What the driver must do next (drain with [`Dialer::poll_action`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Action {
    /// Place call `call` now. `agent` is the agent reserved for it (progressive, preview): bridge
    /// it as soon as the call is answered live.
    Dial {
        /// The new call.
        call: CallId,
        /// Reserved agent, if any.
        agent: Option<AgentId>,
    },
    /// Show the lead of `call` to `agent`; report [`Dialer::handle_preview_done`] when the agent
    /// accepts, and the call is then dialled.
    Preview {
        /// The call to preview.
        call: CallId,
        /// The reserved agent.
        agent: AgentId,
    },
    /// Bridge answered call `call` to `agent` (the agent is now talking).
    Connect {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// Milliseconds the callee waited since answering.
        wait_ms: u64,
    },
    /// Bridge inbound call `inbound` to `agent`.
    ConnectInbound {
        /// The inbound call.
        inbound: InboundId,
        /// The agent.
        agent: AgentId,
        /// Milliseconds the caller waited.
        wait_ms: u64,
    },
    /// No agent within patience: play the safe-harbour message and hang up (already counted as
    /// abandoned; the call is over for the dialer).
    Abandon {
        /// The call.
        call: CallId,
    },
    /// The no-answer timeout passed: cancel the call (already counted as no-answer).
    Cancel {
        /// The call.
        call: CallId,
    },
}

/// Why the dialer wants to be woken up (see [`Dialer::poll_timeout`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// When to take the next pacing decision.
    Tick,
    /// When the oldest waiting answered call runs out of patience.
    Patience,
    /// When the oldest ringing call reaches the no-answer timeout.
    NoAnswer,
    /// When the next Poisson dial of `rate:λ` is due.
    RateDial,
    /// When adaptive mode takes its next 1 s sample / 15 s adjustment / 2.5 s dial cycle.
    Adaptive,
}

/// A bad input from the driver (unknown ids, illegal transitions). Nothing is changed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DialerError {
    /// An agent event that does not fit the agent's state.
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// A call event that does not fit the call's state.
    #[error(transparent)]
    Call(#[from] CallError),
    /// No such inbound call.
    #[error("unknown inbound call {0}")]
    UnknownInbound(u64),
    /// A parameter out of range.
    #[error("invalid parameter {name}: {message}")]
    Param {
        /// The parameter.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
}
