//! Synthetic SIP peers for users and tests: `outdial trunk-sim` (a UAS that behaves like a
//! scenario's `trunk` section) and `outdial agent-sim` (agent endpoints answering RFC 3725 flow I),
//! both on one socket served by the SIP core's [`driver`](super::driver).
//!
//! Each peer is a sans-IO policy ([`Peer`]): for every inbound call it returns a plan, a list of
//! [`Step`]s with delays (ring, answer, reject, hang up), and it is told when a call ends. The
//! policies draw their randomness from the scenario seed per call (`stream_rng`), so the same
//! seed gives the same sequence of outcomes. [`serve`] is the tokio loop that runs a policy against
//! a [`SipHandle`](super::SipHandle). These modules own no SIP logic: transactions, CANCEL, ACK and
//! BYE handling belong to the core.

mod agent;
mod serve;
mod trunk;

use std::time::Duration;

pub use agent::{AgentSim, AgentSimConfig};
pub use serve::serve;
pub use trunk::TrunkSim;

use super::endpoint::CallId;

/// One action of a peer on a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Send 180 Ringing.
    Ring,
    /// Answer 200 with an SDP body; `machine` adds `X-Outdial-Answer: machine`.
    Answer {
        /// SDP offer (flow I: the INVITE had none) or answer.
        sdp: String,
        /// An answering machine picked up.
        machine: bool,
    },
    /// Refuse with a final status (486 busy, 404 invalid, 503 failure).
    Reject(u16),
    /// Hang up an answered call (BYE).
    Hangup,
}

/// A step and how long after the INVITE it happens.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// Delay from the INVITE's arrival (already divided by the time scale).
    pub after: Duration,
    /// What to do.
    pub step: Step,
}

/// An INVITE as a peer sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The core's handle of the call.
    pub call: CallId,
    /// User part of the Request-URI (the number dialled, or `agent0001`).
    pub to: String,
    /// SDP of the INVITE (none under flow I towards the customer).
    pub offer: Option<String>,
}

/// A synthetic peer's behaviour, without I/O.
pub trait Peer {
    /// What to do with a new call.
    fn on_call(&mut self, call: &Incoming) -> Vec<Planned>;
    /// The call is over (BYE, CANCEL, rejected): forget it.
    fn on_end(&mut self, call: CallId);
}

/// Divides `secs` by the time scale; negative, NaN or huge values are clamped to 0..=1 day.
pub fn scaled(secs: f64, time_scale: f64) -> Duration {
    let s = secs / time_scale;
    if s.is_finite() && s > 0.0 {
        Duration::from_secs_f64(s.min(86_400.0))
    } else {
        Duration::ZERO
    }
}

/// A minimal audio SDP (PCMU/PCMA) for `user`; signalling only, so the media address is fixed.
pub fn sdp(user: &str, ip: std::net::IpAddr) -> String {
    let v = if ip.is_ipv4() { "IP4" } else { "IP6" };
    format!(
        "v=0\r\no={user} 1 1 IN {v} {ip}\r\ns=-\r\nc=IN {v} {ip}\r\nt=0 0\r\n\
         m=audio 40000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    )
}
