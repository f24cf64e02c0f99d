//! What crosses the media plane's edge: typed leg ids, the engine's commands, the media
//! core's events, datagrams and tap frames. Plain data: no socket, no clock, no decision.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::cpa::fingerprint::Library;
use crate::cpa::settings::CpaSettings;
use crate::cpa::{CpaEvent, Phase};

/// One RTP endpoint of outdial: the customer's side or the agent's side of a call, or an
/// agent's nailed-up connection. Chosen by the engine, unique for the life of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId(pub u64);

/// The audio codecs outdial speaks (G.711, 8 kHz, one channel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// µ-law, static payload type 0.
    Pcmu,
    /// A-law, static payload type 8.
    Pcma,
}

/// Whose audio a leg carries: decides the recording channel and which events matter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LegRole {
    /// The customer (trunk side): recorded left, analysed, DTMF opt-out listened for.
    Customer,
    /// The agent's phone (per call or nailed up): recorded right.
    Agent,
}

/// The far end's media as negotiated from its SDP: where to send and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteMedia {
    /// RTP address from the SDP (`c=` + `m=` port); latching may replace it.
    pub addr: SocketAddr,
    /// The codec chosen.
    pub codec: Codec,
    /// Its payload type (0 or 8).
    pub pt: u8,
    /// RFC 4733 telephone-event payload type, when the far end offered one.
    pub dtmf_pt: Option<u8>,
    /// Packetisation in ms (20 unless the SDP asked otherwise).
    pub ptime_ms: u32,
}

/// A sound outdial plays (safe-harbour message, connect tone): 8 kHz 16-bit mono samples,
/// encoded per leg at play time. Shared: one prompt plays to many legs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt(pub Arc<[i16]>);

/// One thing the engine asks of the media plane.
#[derive(Clone, Debug, PartialEq)]
pub enum MediaCommand {
    /// Open a leg on `local_port` (RTP; RTCP on `local_port + 1`). Reported by
    /// [`MediaEvent::OpenFailed`] if the port cannot be used.
    Open {
        /// The leg.
        leg: LegId,
        /// Whose audio.
        role: LegRole,
        /// Local RTP port from the engine's pool.
        local_port: u16,
    },
    /// The far end's SDP arrived (183, 200, ACK or an inbound offer).
    Remote {
        /// The leg.
        leg: LegId,
        /// Negotiated media.
        remote: RemoteMedia,
    },
    /// Relay audio both ways between a customer leg and an agent leg: the switch that connects
    /// an answered customer. Replaces any bridge either leg had.
    Bridge {
        /// The customer's leg.
        customer: LegId,
        /// The agent's leg.
        agent: LegId,
    },
    /// Stop relaying to and from `leg` (and its partner): both hear silence.
    Unbridge {
        /// Either leg of the bridge.
        leg: LegId,
    },
    /// Play `prompt` to `leg`; [`MediaEvent::PromptDone`] at its end.
    Play {
        /// The leg.
        leg: LegId,
        /// What to play.
        prompt: Prompt,
    },
    /// Tap `leg`'s received audio (after the jitter buffer) as [`TapFrame`]s, for recording
    /// or analysis; `false` stops it.
    Tap {
        /// The leg.
        leg: LegId,
        /// On or off.
        on: bool,
    },
    /// Record a call to `path`: the customer leg left, the agent leg right (stereo µ-law WAV).
    Record {
        /// The customer's leg (its recording is keyed by it).
        customer: LegId,
        /// The file.
        path: PathBuf,
    },
    /// Run call-progress analysis on `leg`'s received audio (it is tapped for it): one
    /// classifier in `phase`, fed every 20 ms after the jitter buffer, off the relay path. Its
    /// verdict (and a beep after a machine) come back as [`MediaEvent::Cpa`], its end as
    /// [`MediaEvent::AnalysisDone`]. A second `Analyse` of the same leg replaces the first
    /// (early media, then a fresh analysis after the answer).
    Analyse {
        /// The customer leg.
        leg: LegId,
        /// Early media or after the answer.
        phase: Phase,
        /// The campaign's thresholds.
        settings: Arc<CpaSettings>,
        /// The campaign's known announcements (none: matching off).
        library: Option<Announcements>,
    },
    /// Stop analysing `leg` (its tap stops unless a recording needs it). An analysis stopped
    /// before its verdict reports the verdict the audio so far leaves ([`MediaEvent::Cpa`]).
    StopAnalysis {
        /// The leg.
        leg: LegId,
    },
    /// Close a leg: its figures come back in [`MediaEvent::Closed`].
    Close {
        /// The leg.
        leg: LegId,
    },
}

/// What the media plane tells the engine.
#[derive(Clone, Debug, PartialEq)]
pub enum MediaEvent {
    /// The leg's port could not be bound.
    OpenFailed {
        /// The leg.
        leg: LegId,
        /// The port it was to be opened on (the leg may be closed by the time this arrives:
        /// the port is what the engine quarantines).
        port: u16,
        /// Why.
        reason: String,
    },
    /// The first valid RTP packet arrived (and the leg latched to its source).
    FirstPacket {
        /// The leg.
        leg: LegId,
    },
    /// A bridged customer's first packet was forwarded to the agent: the connect moment
    /// (answer-to-connect ends here).
    Connected {
        /// The customer's leg.
        customer: LegId,
        /// The agent's leg.
        agent: LegId,
    },
    /// A DTMF key (RFC 4733 event or in-band tones), once per key press.
    Dtmf {
        /// The leg.
        leg: LegId,
        /// `0`–`9`, `*`, `#`, `A`–`D`.
        digit: char,
    },
    /// A prompt finished playing.
    PromptDone {
        /// The leg.
        leg: LegId,
    },
    /// No RTP from the far end for the configured time.
    Timeout {
        /// The leg.
        leg: LegId,
    },
    /// Recording a call failed (unwritable, disk full); the call goes on.
    RecordingFailed {
        /// The customer leg.
        customer: LegId,
        /// Why.
        reason: String,
    },
    /// A recording lost audio for the first time (its recorder fell behind and frames were
    /// dropped: silence there, timing kept); the call goes on. Once per recording.
    RecordingGap {
        /// The customer leg.
        customer: LegId,
        /// Milliseconds missing so far (of either channel).
        missing_ms: u64,
    },
    /// Call-progress analysis of `leg` reached a verdict, or heard the beep after a machine.
    Cpa {
        /// The analysed leg.
        leg: LegId,
        /// What it found.
        event: CpaEvent,
    },
    /// The analysis of `leg` is over (its verdict, and after a machine the beep or the wait
    /// for one): no more [`MediaEvent::Cpa`] for it.
    AnalysisDone {
        /// The leg.
        leg: LegId,
    },
    /// A leg closed, with its figures.
    Closed {
        /// The leg.
        leg: LegId,
        /// What it saw.
        stats: LegStats,
    },
}

/// A campaign's known announcements, shared by all its analyses. Compared by identity: two
/// commands name the same library when they share it.
#[derive(Clone, Debug)]
pub struct Announcements(pub Arc<Library>);

impl PartialEq for Announcements {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// One leg's media figures, for the call record and `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LegStats {
    /// RTP packets received.
    pub packets_in: u64,
    /// RTP packets sent.
    pub packets_out: u64,
    /// Packets lost (expected − received, by sequence numbers), in percent.
    pub loss_pct: f64,
    /// Interarrival jitter (RFC 3550), ms.
    pub jitter_ms: f64,
    /// E-model MOS estimate (G.107, simplified; see ../shared/docs/media.md).
    pub mos: f64,
}

/// A datagram to send from one of outdial's media ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The local port it leaves from (symmetric RTP: the port the leg receives on).
    pub local_port: u16,
    /// Where to.
    pub to: SocketAddr,
    /// The bytes.
    pub payload: Vec<u8>,
}

/// 20 ms of one tapped leg's received audio, after the jitter buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TapFrame {
    /// The leg.
    pub leg: LegId,
    /// Which 20-ms slot since the media core started: frames of different legs with the same
    /// slot were heard at the same time (recording aligns channels by it).
    pub slot: u64,
    /// 160 samples, 8 kHz, 16-bit; silence where a packet was lost.
    pub pcm: [i16; 160],
}

/// Who carries a trunk's media (per trunk, `media:` in the engine file).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum MediaMode {
    /// Early offer with outdial's SDP; outdial relays, records and analyses the RTP.
    #[default]
    Anchor,
    /// Signalling only (RFC 3725 flow I): the customer's SDP goes to the agent's phone and the
    /// RTP flows between them; for sites whose border controller does media.
    FlowI,
}
