//! The sans-IO media core: every leg's RTP state, the relay between a customer and an agent,
//! prompts, DTMF, RTCP and figures. Fed datagrams, commands and `now`; drained for transmits,
//! events and tap frames. Owns no socket, clock, thread or file.
//!
//! Call order (as quinn-proto's `Connection`): `handle_*` with the current time, then drain
//! `poll_transmit`, `poll_event`, `poll_tap` until `None`, then wait until `poll_timeout`.
//!
//! Choices the callers should know:
//! - Relay: no jitter buffer; each packet is rewritten onto the receiving leg's own stream
//!   (its SSRC, continuous sequence and timestamp: see [`super::stream`]) and transcoded
//!   PCMU↔PCMA only when the legs' codecs differ. RFC 4733 packets are forwarded when both legs
//!   negotiated telephone-event, dropped otherwise. Header extensions and CSRCs are not
//!   forwarded.
//! - Between customers (no bridge, no prompt) a leg is sent nothing: phones keep their own NAT
//!   pinholes open with the RTP they send, and nothing beats silence for CPU at 1,500 calls.
//! - A prompt always goes out at ptime 20 whatever the far end's `a=ptime`; it holds back
//!   relay audio to its leg while it plays. A new Play replaces the playing prompt (no
//!   PromptDone for the one replaced); PromptDone comes 20 ms after the last frame (when it
//!   has been heard).
//! - Latching: to the first valid RTP packet's source, and again when the SSRC changes (a
//!   carrier switching media servers); packets from elsewhere are still accepted.
//! - Taps: a tapped leg's audio goes through a jitter buffer onto the core's 20-ms slot clock
//!   and comes out as one [`TapFrame`] per slot from the slot the tap started: a whole frame as
//!   its packet arrives, a frame with a gap 60 ms after its slot began (silence where nothing
//!   arrived). `Record{customer}` is, in the core, "tap the customer leg and
//!   whichever agent leg it is bridged to, following re-bridges": the agent's frames carry the
//!   agent's leg id, and the I/O shell (which sees the Bridge commands) routes them to the
//!   recording of the customer bridged at that slot. The recording stops with Close of the
//!   customer.
//! - In-band DTMF is listened for on legs playing a prompt or tapped by the engine's Tap (not
//!   on legs tapped only for a recording: the detector's cost at 3,000 legs); RFC 4733 on
//!   every leg.
//! - RTCP: an SR (if the leg sent anything) or RR every `rtcp_interval` per leg with a remote,
//!   with one report block on the source received; the NTP field counts from the core's
//!   `start` (the core reads no wall clock).

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::g711;
use super::io::{LegId, LegRole, LegStats, MediaCommand, MediaEvent, Prompt, TapFrame, Transmit};
use super::jitter::{TapBuffer, SLOT_SAMPLES};
use super::leg::{Leg, Playing};
use super::rtcp::{self, ReportBlock, SenderInfo};
use super::rtp;
use super::transcode;

/// Settings of the media core.
#[derive(Clone, Debug)]
pub struct MediaConfig {
    /// No RTP from the far end for this long ends in [`MediaEvent::Timeout`].
    pub rtp_timeout: Duration,
    /// RTCP report interval.
    pub rtcp_interval: Duration,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            rtp_timeout: Duration::from_secs(30),
            rtcp_interval: Duration::from_secs(5),
        }
    }
}

/// Counters of the whole core (for `/metrics`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoreCounters {
    /// Datagrams on a port no leg owns.
    pub unknown_port: u64,
    /// Malformed RTP or RTCP datagrams, over all legs (closed ones included).
    pub malformed: u64,
    /// Packets relayed from one leg to its partner.
    pub relayed: u64,
}

/// The 20-ms slot and frame length.
const FRAME: Duration = Duration::from_millis(20);
/// `by_port` entry of a port no leg owns.
const NO_LEG: u32 = u32::MAX;
/// Bit marking a prompt's source key (relay keys are leg index << 32 | SSRC, below it).
const PROMPT_SOURCE: u64 = 1 << 63;

/// The media core.
#[derive(Debug)]
pub struct MediaCore {
    cfg: MediaConfig,
    start: Instant,
    legs: Vec<Option<Leg>>,
    free: Vec<usize>,
    by_id: HashMap<LegId, usize>,
    /// Leg index by local RTP port: one lookup per datagram, no hashing.
    by_port: Vec<u32>,
    /// Customers being recorded.
    recorded: HashSet<LegId>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<MediaEvent>,
    taps: VecDeque<TapFrame>,
    wake: Option<Instant>,
    plays: u64,
    counters: CoreCounters,
    /// Scratch for decoded audio (no allocation per packet).
    pcm: Vec<i16>,
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl MediaCore {
    /// A core with no legs; `now` is slot 0 of the tap's clock.
    pub fn new(cfg: MediaConfig, now: Instant) -> Self {
        MediaCore {
            cfg,
            start: now,
            legs: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            by_port: vec![NO_LEG; 1 << 16],
            recorded: HashSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            taps: VecDeque::new(),
            wake: None,
            plays: 0,
            counters: CoreCounters::default(),
            pcm: Vec::with_capacity(SLOT_SAMPLES * 4),
        }
    }

    /// The core's counters.
    pub fn counters(&self) -> CoreCounters {
        self.counters
    }

    /// A leg's figures so far (for `/metrics` while the call runs); `None` for an unknown leg.
    pub fn leg_stats(&self, leg: LegId) -> Option<LegStats> {
        let ix = *self.by_id.get(&leg)?;
        self.legs.get(ix)?.as_ref().map(Leg::stats)
    }

    /// The 20-ms slot `now` falls in.
    fn slot(&self, now: Instant) -> u64 {
        (now.saturating_duration_since(self.start).as_micros() / FRAME.as_micros()) as u64
    }

    fn slot_start(&self, slot: u64) -> Instant {
        self.start + FRAME * u32::try_from(slot).unwrap_or(u32::MAX)
    }

    /// `now` in RTP timestamp units (1/8000 s) since `start`, for jitter.
    fn ts_units(&self, now: Instant) -> i64 {
        (now.saturating_duration_since(self.start).as_micros() * 8 / 1000) as i64
    }

    fn wake_at(&mut self, t: Instant) {
        self.wake = earliest(self.wake, Some(t));
    }

    fn leg_ix(&self, id: LegId) -> Option<usize> {
        let ix = self.by_id.get(&id).copied();
        if ix.is_none() {
            tracing::debug!(leg = id.0, "media command for an unknown leg");
        }
        ix
    }

    fn leg_mut(&mut self, ix: usize) -> Option<&mut Leg> {
        self.legs.get_mut(ix).and_then(Option::as_mut)
    }

    /// A command from the engine.
    pub fn handle_command(&mut self, now: Instant, cmd: MediaCommand) {
        match cmd {
            MediaCommand::Open {
                leg,
                role,
                local_port,
            } => self.open(leg, role, local_port),
            MediaCommand::Remote { leg, remote } => {
                let Some(ix) = self.leg_ix(leg) else { return };
                let interval = self.cfg.rtcp_interval;
                let timeout = self.cfg.rtp_timeout;
                let Some(l) = self.leg_mut(ix) else { return };
                if !l.latched {
                    l.send_to = Some(remote.addr);
                }
                l.remote = Some(remote);
                l.remote_since.get_or_insert(now);
                let rtcp_at = *l.rtcp_next.get_or_insert(now + interval);
                self.wake_at(rtcp_at);
                self.wake_at(now + timeout);
            }
            MediaCommand::Bridge { customer, agent } => {
                let (Some(c), Some(a)) = (self.leg_ix(customer), self.leg_ix(agent)) else {
                    return;
                };
                if c == a {
                    return;
                }
                self.unbridge(now, c);
                self.unbridge(now, a);
                if let Some(l) = self.leg_mut(c) {
                    l.partner = Some(a);
                    l.connect_pending = true;
                }
                if let Some(l) = self.leg_mut(a) {
                    l.partner = Some(c);
                }
                self.refresh_tap(now, c);
                self.refresh_tap(now, a);
            }
            MediaCommand::Unbridge { leg } => {
                if let Some(ix) = self.leg_ix(leg) {
                    self.unbridge(now, ix);
                }
            }
            MediaCommand::Play { leg, prompt } => {
                if let Some(ix) = self.leg_ix(leg) {
                    self.play(now, ix, prompt);
                }
            }
            // Analysis is the shell's (a tap consumer): for the core it is the engine's tap.
            MediaCommand::Analyse { leg, .. } => {
                self.handle_command(now, MediaCommand::Tap { leg, on: true })
            }
            MediaCommand::StopAnalysis { leg } => {
                self.handle_command(now, MediaCommand::Tap { leg, on: false })
            }
            MediaCommand::Tap { leg, on } => {
                let Some(ix) = self.leg_ix(leg) else { return };
                if let Some(l) = self.leg_mut(ix) {
                    l.tap_asked = on;
                }
                self.refresh_tap(now, ix);
            }
            MediaCommand::Record { customer, path: _ } => {
                // The file is the I/O shell's: the core only taps the legs it needs.
                let Some(ix) = self.leg_ix(customer) else {
                    return;
                };
                self.recorded.insert(customer);
                self.refresh_tap(now, ix);
                if let Some(p) = self.legs[ix].as_ref().and_then(|l| l.partner) {
                    self.refresh_tap(now, p);
                }
            }
            MediaCommand::Close { leg } => self.close(now, leg),
        }
    }

    fn open(&mut self, id: LegId, role: LegRole, port: u16) {
        let fail = |why: &str| MediaEvent::OpenFailed {
            leg: id,
            port,
            reason: why.to_string(),
        };
        if self.by_id.contains_key(&id) {
            self.events.push_back(fail("leg already open"));
            return;
        }
        let p = usize::from(port);
        // RTP on port, RTCP on port + 1: neither may be another leg's RTP or RTCP port.
        let taken = port == 0
            || port == u16::MAX
            || self.by_port[p] != NO_LEG
            || self.by_port[p + 1] != NO_LEG
            || self.by_port[p - 1] != NO_LEG;
        if taken {
            self.events
                .push_back(fail(&format!("port {port} (or its RTCP pair) unusable")));
            return;
        }
        let leg = Leg::new(id, role, port);
        let ix = match self.free.pop() {
            Some(ix) => {
                self.legs[ix] = Some(leg);
                ix
            }
            None => {
                self.legs.push(Some(leg));
                self.legs.len() - 1
            }
        };
        self.by_id.insert(id, ix);
        self.by_port[p] = ix as u32;
    }

    fn close(&mut self, now: Instant, id: LegId) {
        let Some(ix) = self.leg_ix(id) else { return };
        // Not recorded any more before the unbridge, so the agent's tap stops with it.
        self.recorded.remove(&id);
        self.unbridge(now, ix);
        let Some(leg) = self.legs[ix].take() else {
            return;
        };
        self.by_id.remove(&id);
        self.by_port[usize::from(leg.port)] = NO_LEG;
        self.free.push(ix);
        self.events.push_back(MediaEvent::Closed {
            leg: id,
            stats: leg.stats(),
        });
    }

    fn unbridge(&mut self, now: Instant, ix: usize) {
        let Some(p) = self.leg_mut(ix).and_then(|l| l.partner.take()) else {
            return;
        };
        if let Some(l) = self.leg_mut(ix) {
            l.connect_pending = false;
        }
        if let Some(l) = self.leg_mut(p) {
            l.partner = None;
            l.connect_pending = false;
        }
        self.refresh_tap(now, ix);
        self.refresh_tap(now, p);
    }

    /// Start or stop a leg's tap to match what is asked of it: the engine's Tap, or a
    /// recording of it (customer) or of its partner (agent).
    fn refresh_tap(&mut self, now: Instant, ix: usize) {
        let Some(l) = self.legs.get(ix).and_then(Option::as_ref) else {
            return;
        };
        let partner_id = l
            .partner
            .and_then(|p| self.legs.get(p))
            .and_then(Option::as_ref)
            .map(|p| p.id);
        let recorded = match l.role {
            LegRole::Customer => self.recorded.contains(&l.id),
            LegRole::Agent => partner_id.is_some_and(|c| self.recorded.contains(&c)),
        };
        let wanted = l.tap_asked || recorded;
        let slot = self.slot(now);
        let next = self.slot_start(slot + 1);
        let Some(l) = self.leg_mut(ix) else { return };
        match (wanted, l.tap.is_some()) {
            (true, false) => {
                l.tap = Some(TapBuffer::new(slot));
                self.wake_at(next);
            }
            (false, true) => l.tap = None,
            _ => {}
        }
    }

    fn play(&mut self, now: Instant, ix: usize, prompt: Prompt) {
        self.plays += 1;
        let source = PROMPT_SOURCE | self.plays;
        let Some(l) = self.leg_mut(ix) else { return };
        l.prompt = Some(Playing {
            prompt,
            pos: 0,
            next_at: now,
            source,
            frames: 0,
        });
        l.tones = Default::default();
        self.advance_prompt(now, ix);
    }

    /// Send the prompt frames due by `now` to leg `ix`; PromptDone once the last was heard.
    fn advance_prompt(&mut self, now: Instant, ix: usize) {
        let Some(l) = self.legs.get_mut(ix).and_then(Option::as_mut) else {
            return;
        };
        while let Some(p) = l.prompt.as_mut() {
            if p.next_at > now {
                self.wake = earliest(self.wake, Some(p.next_at));
                return;
            }
            if p.pos >= p.prompt.0.len() {
                l.prompt = None;
                self.events.push_back(MediaEvent::PromptDone { leg: l.id });
                return;
            }
            let end = (p.pos + SLOT_SAMPLES).min(p.prompt.0.len());
            let mut frame = [0i16; SLOT_SAMPLES];
            frame[..end - p.pos].copy_from_slice(&p.prompt.0[p.pos..end]);
            let (frame_no, source, at) = (p.frames, p.source, p.next_at);
            p.pos = end;
            p.frames += 1;
            p.next_at += FRAME;
            if let (Some(to), Some(remote)) = (l.send_to, l.remote.as_ref()) {
                let stamp = l.tx.stamp(at, source, frame_no as u16, frame_no * 160);
                let mut out = Vec::with_capacity(rtp::HEADER_LEN + SLOT_SAMPLES);
                rtp::write_header(
                    &mut out,
                    stamp.new_source,
                    remote.pt,
                    stamp.seq,
                    stamp.ts,
                    l.tx.ssrc,
                );
                g711::encode(remote.codec, &frame, &mut out);
                l.tx.sent(at, SLOT_SAMPLES);
                self.transmits.push_back(Transmit {
                    local_port: l.port,
                    to,
                    payload: out,
                });
            }
        }
    }

    /// A datagram arrived on `local_port` from `from`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local_port: u16,
        from: SocketAddr,
        data: &[u8],
    ) {
        let p = usize::from(local_port);
        let ix = self.by_port[p];
        if ix != NO_LEG {
            if rtp::looks_like_rtcp(data) {
                // RTCP multiplexed on the RTP port (RFC 5761).
                self.on_rtcp(now, ix as usize, from, data);
            } else {
                self.on_rtp(now, ix as usize, from, data);
            }
            return;
        }
        if p > 0 && self.by_port[p - 1] != NO_LEG {
            self.on_rtcp(now, self.by_port[p - 1] as usize, from, data);
            return;
        }
        self.counters.unknown_port += 1;
    }

    fn on_rtcp(&mut self, now: Instant, ix: usize, from: SocketAddr, data: &[u8]) {
        let Some(l) = self.legs.get_mut(ix).and_then(Option::as_mut) else {
            return;
        };
        match rtcp::parse(data) {
            Ok(r) => {
                l.rtcp_in += 1;
                l.rtcp_to = Some(from);
                if let Some(mid) = r.sr_ntp_middle {
                    l.last_sr = Some((mid, now));
                }
            }
            Err(e) => {
                l.bad += 1;
                self.counters.malformed += 1;
                tracing::trace!(leg = l.id.0, error = %e, "RTCP dropped");
            }
        }
    }

    fn on_rtp(&mut self, now: Instant, ix: usize, from: SocketAddr, data: &[u8]) {
        let arrival = self.ts_units(now);
        let slot = self.slot(now);
        let Some(l) = self.legs.get_mut(ix).and_then(Option::as_mut) else {
            return;
        };
        let pkt = match rtp::parse(data) {
            Ok(p) => p,
            Err(e) => {
                l.bad += 1;
                self.counters.malformed += 1;
                tracing::trace!(leg = l.id.0, error = %e, "RTP dropped");
                return;
            }
        };
        let is_event = l.is_event(pkt.pt);
        let codec = if is_event { None } else { l.codec_of(pkt.pt) };
        let new_source =
            l.rx.on_packet(pkt.ssrc, pkt.seq, pkt.ts, arrival, codec.is_some());
        l.last_rx = Some(now);
        if !l.latched || new_source {
            l.send_to = Some(from);
            l.latched = true;
        }
        if !l.first_seen {
            l.first_seen = true;
            self.events.push_back(MediaEvent::FirstPacket { leg: l.id });
        }
        if is_event {
            if let Some(digit) = l.events.on_packet(pkt.ssrc, pkt.ts, pkt.payload) {
                self.events.push_back(MediaEvent::Dtmf { leg: l.id, digit });
            }
        } else if let Some(c) = codec.filter(|_| l.prompt.is_some() || l.tap.is_some()) {
            self.pcm.clear();
            g711::decode(c, pkt.payload, &mut self.pcm);
            // In-band keys matter during a prompt (opt-out) and on legs the engine taps for
            // analysis; legs tapped only for a recording skip the detector's cost.
            if l.prompt.is_some() || l.tap_asked {
                if let Some(digit) = l.tones.push(&self.pcm) {
                    self.events.push_back(MediaEvent::Dtmf { leg: l.id, digit });
                }
            }
            if let Some(tap) = l.tap.as_mut() {
                tap.push(pkt.ssrc, pkt.ts, &self.pcm, slot);
                // A whole frame goes to the analysis and the recording now, not at the next slot.
                let (id, taps) = (l.id, &mut self.taps);
                tap.drain(slot, |s, pcm| {
                    taps.push_back(TapFrame {
                        leg: id,
                        slot: s,
                        pcm,
                    })
                });
            }
        }

        // The relay.
        let Some(pix) = l.partner else { return };
        let (in_id, in_role) = (l.id, l.role);
        let connect = std::mem::take(&mut l.connect_pending);
        let Some(out) = self.legs.get_mut(pix).and_then(Option::as_mut) else {
            return;
        };
        let (Some(to), Some(remote)) = (out.send_to, out.remote.as_ref()) else {
            return;
        };
        if out.prompt.is_some() {
            return;
        }
        let pt = match (is_event, codec) {
            (true, _) => match remote.dtmf_pt {
                Some(pt) => pt,
                None => return,
            },
            (false, Some(_)) => remote.pt,
            (false, None) => return,
        };
        let stamp = out.tx.stamp(
            now,
            (ix as u64) << 32 | u64::from(pkt.ssrc),
            pkt.seq,
            pkt.ts,
        );
        let mut buf = Vec::with_capacity(rtp::HEADER_LEN + pkt.payload.len());
        rtp::write_header(
            &mut buf,
            pkt.marker || stamp.new_source,
            pt,
            stamp.seq,
            stamp.ts,
            out.tx.ssrc,
        );
        match codec {
            Some(c) => transcode::append(c, remote.codec, pkt.payload, &mut buf),
            None => buf.extend_from_slice(pkt.payload),
        }
        out.tx.sent(now, pkt.payload.len());
        self.counters.relayed += 1;
        let out_id = out.id;
        self.transmits.push_back(Transmit {
            local_port: out.port,
            to,
            payload: buf,
        });
        if connect && in_role == LegRole::Customer {
            self.events.push_back(MediaEvent::Connected {
                customer: in_id,
                agent: out_id,
            });
        }
    }

    /// Time passed (prompts' next frame, RTCP, timeouts).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.wake = None;
        let slot = self.slot(now);
        let next_slot = self.slot_start(slot + 1);
        for ix in 0..self.legs.len() {
            if self.legs[ix].is_none() {
                continue;
            }
            self.advance_prompt(now, ix);
            self.check_timeout(now, ix);
            self.maybe_rtcp(now, ix);
            let Some(l) = self.legs[ix].as_mut() else {
                continue;
            };
            if let Some(tap) = l.tap.as_mut() {
                let id = l.id;
                let taps = &mut self.taps;
                tap.drain(slot, |s, pcm| {
                    taps.push_back(TapFrame {
                        leg: id,
                        slot: s,
                        pcm,
                    })
                });
                self.wake = earliest(self.wake, Some(next_slot));
            }
        }
    }

    fn check_timeout(&mut self, now: Instant, ix: usize) {
        let timeout = self.cfg.rtp_timeout;
        let Some(l) = self.legs[ix].as_mut() else {
            return;
        };
        if l.timed_out || l.remote.is_none() {
            return;
        }
        // From the later of the SDP's arrival and the last packet.
        let since = match (l.last_rx, l.remote_since) {
            (Some(a), Some(b)) => a.max(b),
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => return,
        };
        let due = since + timeout;
        if now >= due {
            l.timed_out = true;
            self.events.push_back(MediaEvent::Timeout { leg: l.id });
        } else {
            self.wake = earliest(self.wake, Some(due));
        }
    }

    fn maybe_rtcp(&mut self, now: Instant, ix: usize) {
        let interval = self.cfg.rtcp_interval;
        let since_start = now.saturating_duration_since(self.start);
        let Some(l) = self.legs[ix].as_mut() else {
            return;
        };
        let Some(due) = l.rtcp_next else { return };
        if now < due {
            self.wake = earliest(self.wake, Some(due));
            return;
        }
        let next = now + interval;
        l.rtcp_next = Some(next);
        self.wake = earliest(self.wake, Some(next));
        let to = l.rtcp_to.or_else(|| {
            l.send_to
                .map(|a| SocketAddr::new(a.ip(), a.port().wrapping_add(1)))
        });
        let Some(to) = to else { return };
        let block = l.rx.ssrc().map(|ssrc| {
            let (lsr, dlsr) = l.last_sr.map_or((0, 0), |(mid, at)| {
                let d = now.saturating_duration_since(at);
                (mid, (d.as_micros() * 65536 / 1_000_000) as u32)
            });
            ReportBlock {
                ssrc,
                fraction_lost: l.rx.take_fraction_lost(),
                cumulative_lost: u32::try_from(l.rx.lost()).unwrap_or(u32::MAX),
                ext_highest: l.rx.ext_highest(),
                jitter: l.rx.jitter_units(),
                lsr,
                dlsr,
            }
        });
        let sender = (l.tx.packets > 0).then(|| SenderInfo {
            ntp: (since_start.as_secs() << 32)
                | ((u64::from(since_start.subsec_nanos()) << 32) / 1_000_000_000),
            rtp_ts: l.tx.last_ts(),
            packets: l.tx.packets as u32,
            octets: l.tx.octets as u32,
        });
        let payload = rtcp::build(l.tx.ssrc, sender, block);
        self.transmits.push_back(Transmit {
            local_port: l.port.wrapping_add(1),
            to,
            payload,
        });
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the engine.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// The next tap frame (recording, analysis).
    pub fn poll_tap(&mut self) -> Option<TapFrame> {
        self.taps.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.wake
    }
}

#[cfg(test)]
mod tests;
