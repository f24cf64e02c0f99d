//! One leg's state inside the media core: where to send (SDP address, then the latched
//! source), what it received and sent, its bridge partner, the prompt playing to it, its DTMF
//! receivers and tap buffer, its timers. Plain data; the media core makes every decision.

use std::net::SocketAddr;
use std::time::Instant;

use super::dtmf::{EventReceiver, ToneDetector};
use super::emodel;
use super::io::{Codec, LegId, LegRole, LegStats, Prompt, RemoteMedia};
use super::jitter::TapBuffer;
use super::stats::RecvStats;
use super::stream::TxStream;

/// A prompt being played: the next sample to send and when.
#[derive(Debug)]
pub struct Playing {
    /// The samples.
    pub prompt: Prompt,
    /// Next sample to send.
    pub pos: usize,
    /// When the next 20-ms frame is due.
    pub next_at: Instant,
    /// This play's source key on the leg's outgoing stream.
    pub source: u64,
    /// Frames sent so far (the prompt's own sequence numbers).
    pub frames: u32,
}

/// One leg.
#[derive(Debug)]
pub struct Leg {
    /// The engine's id.
    pub id: LegId,
    /// Customer or agent.
    pub role: LegRole,
    /// Local RTP port (RTCP on the next).
    pub port: u16,
    /// Negotiated far-end media.
    pub remote: Option<RemoteMedia>,
    /// Where RTP goes: the SDP address until latched, then the far end's source.
    pub send_to: Option<SocketAddr>,
    /// Latched to a received packet's source.
    pub latched: bool,
    /// Where RTCP goes once some arrived (else `send_to`'s port + 1).
    pub rtcp_to: Option<SocketAddr>,
    /// Reception figures.
    pub rx: RecvStats,
    /// Outgoing stream.
    pub tx: TxStream,
    /// The bridge partner (an index into the core's legs).
    pub partner: Option<usize>,
    /// A customer just bridged: its first forwarded packet is the connect moment.
    pub connect_pending: bool,
    /// The prompt playing to this leg (relay audio to it is held back meanwhile).
    pub prompt: Option<Playing>,
    /// The engine asked for a tap.
    pub tap_asked: bool,
    /// The tap's jitter buffer while the leg is tapped (asked, or by a recording).
    pub tap: Option<TapBuffer>,
    /// RFC 4733 events.
    pub events: EventReceiver,
    /// In-band DTMF (while a prompt plays or the leg is tapped).
    pub tones: ToneDetector,
    /// FirstPacket was reported.
    pub first_seen: bool,
    /// Last valid RTP packet.
    pub last_rx: Option<Instant>,
    /// When the far end's SDP arrived (the RTP timeout counts from here at the earliest).
    pub remote_since: Option<Instant>,
    /// Timeout was reported.
    pub timed_out: bool,
    /// Next RTCP report.
    pub rtcp_next: Option<Instant>,
    /// The far end's last SR: NTP middle bits and when it arrived.
    pub last_sr: Option<(u32, Instant)>,
    /// Datagrams dropped as malformed (RTP or RTCP).
    pub bad: u64,
    /// RTCP packets received.
    pub rtcp_in: u64,
}

impl Leg {
    /// A new leg with no far end yet.
    pub fn new(id: LegId, role: LegRole, port: u16) -> Self {
        Leg {
            id,
            role,
            port,
            remote: None,
            send_to: None,
            latched: false,
            rtcp_to: None,
            rx: RecvStats::default(),
            tx: TxStream::new(id.0),
            partner: None,
            connect_pending: false,
            prompt: None,
            tap_asked: false,
            tap: None,
            events: EventReceiver::default(),
            tones: ToneDetector::default(),
            first_seen: false,
            last_rx: None,
            remote_since: None,
            timed_out: false,
            rtcp_next: None,
            last_sr: None,
            bad: 0,
            rtcp_in: 0,
        }
    }

    /// The codec of received payload type `pt`: the negotiated one, else the static types
    /// (early media may come before the engine passes the SDP on).
    pub fn codec_of(&self, pt: u8) -> Option<Codec> {
        match &self.remote {
            Some(r) if r.pt == pt => Some(r.codec),
            _ => match pt {
                0 => Some(Codec::Pcmu),
                8 => Some(Codec::Pcma),
                _ => None,
            },
        }
    }

    /// True when `pt` is the far end's telephone-event type.
    pub fn is_event(&self, pt: u8) -> bool {
        self.remote.as_ref().and_then(|r| r.dtmf_pt) == Some(pt)
    }

    /// The leg's figures. MOS uses the simplified E-model with a one-way delay of the 20-ms
    /// packetisation plus twice the jitter (what a receiver's buffer would add); 0 when
    /// nothing was received (no audio, no estimate).
    pub fn stats(&self) -> LegStats {
        let loss_pct = self.rx.loss_pct();
        let jitter_ms = self.rx.jitter_ms();
        let mos = if self.rx.packets == 0 {
            0.0
        } else {
            emodel::g711_mos(loss_pct, 20.0 + 2.0 * jitter_ms)
        };
        LegStats {
            packets_in: self.rx.packets,
            packets_out: self.tx.packets,
            loss_pct,
            jitter_ms,
            mos,
        }
    }
}
