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
//!
//! Media (issue 17): when the INVITE carries an SDP offer, the answer names a real RTP socket of
//! the call's own and the peer streams a synthetic voice ([`voice`]) as G.711 RTP ([`media`],
//! [`stream`]) to the offer's address, counting what it receives, until the call ends. An INVITE
//! without an offer (flow I) is answered as before, signalling only: an SDP offer on the discard
//! port, no socket, no RTP.

mod agent;
pub mod media;
mod serve;
pub mod stream;
mod trunk;
pub mod voice;

use std::net::IpAddr;
use std::time::Duration;

pub use agent::{AgentSim, AgentSimConfig};
pub use serve::{serve, Served};
pub use trunk::TrunkSim;

use media::Offered;
use voice::Voice;

use super::endpoint::CallId;

/// One action of a peer on a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Send 180 Ringing.
    Ring,
    /// Answer 200 with an SDP body naming a fresh RTP socket, then stream a voice on it;
    /// `machine` adds `X-Outdial-Answer: machine`.
    Answer {
        /// The SDP and the voice.
        media: AnswerMedia,
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

/// The media side of an answer: what goes into the SDP and what the peer says.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerMedia {
    /// Address of the RTP socket, written in the SDP.
    pub ip: IpAddr,
    /// The INVITE's offer, when it carried usable audio: the SDP is then an answer in its
    /// codec naming the call's RTP socket, and RTP goes to the offer's address. `None` (flow I):
    /// the SDP is a placeholder offer of PCMU and PCMA on the discard port, and no RTP flows.
    pub offered: Option<Offered>,
    /// Who speaks.
    pub voice: Voice,
    /// Seed of the voice and of the RTP header fields.
    pub seed: u64,
}

impl AnswerMedia {
    /// Media for an INVITE carrying `offer` (`None` or unusable: flow I). An offer on port 9
    /// (discard: [`sdp()`]'s placeholder) is treated as none.
    pub fn new(ip: IpAddr, offer: Option<&str>, voice: Voice, seed: u64) -> Self {
        AnswerMedia {
            ip,
            offered: offer
                .and_then(media::parse_offer)
                .filter(|o| o.remote.addr.port() != DISCARD_PORT),
            voice,
            seed,
        }
    }

    /// The SDP body for an RTP socket on `port`.
    pub fn sdp(&self, port: u16) -> String {
        media::sdp(self.ip, port, self.offered.as_ref(), self.seed)
    }
}

/// The discard port (RFC 863): a placeholder SDP's port, where nobody listens.
pub(crate) const DISCARD_PORT: u16 = 9;

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

/// A placeholder audio SDP offer (PCMU/PCMA) for tests that need an SDP body but no media: its
/// port is the discard port 9, which the synthetic peers never stream to. `_user` is kept for
/// the callers' sake (outdial's SDP writer names itself in `o=`).
pub fn sdp(_user: &str, ip: IpAddr) -> String {
    media::sdp(ip, DISCARD_PORT, None, 1)
}
