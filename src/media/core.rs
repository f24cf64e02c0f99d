//! The sans-IO media core: every leg's RTP state, the relay between a customer and an agent,
//! prompts, DTMF, RTCP and figures. Fed datagrams, commands and `now`; drained for transmits,
//! events and tap frames. Owns no socket, clock, thread or file.
//!
//! Call order (as quinn-proto's `Connection`): `handle_*` with the current time, then drain
//! `poll_transmit`, `poll_event`, `poll_tap` until `None`, then wait until `poll_timeout`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::io::{MediaCommand, MediaEvent, TapFrame, Transmit};

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

/// The media core (placeholder: the implementation lands with issue 17's media-core branch).
#[derive(Debug)]
pub struct MediaCore {
    #[allow(dead_code)]
    cfg: MediaConfig,
    #[allow(dead_code)]
    start: Instant,
    transmits: VecDeque<Transmit>,
    events: VecDeque<MediaEvent>,
    taps: VecDeque<TapFrame>,
}

impl MediaCore {
    /// A core with no legs; `now` is slot 0 of the tap's clock.
    pub fn new(cfg: MediaConfig, now: Instant) -> Self {
        MediaCore {
            cfg,
            start: now,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            taps: VecDeque::new(),
        }
    }

    /// A command from the engine.
    pub fn handle_command(&mut self, _now: Instant, _cmd: MediaCommand) {}

    /// A datagram arrived on `local_port` from `from`.
    pub fn handle_datagram(
        &mut self,
        _now: Instant,
        _local_port: u16,
        _from: SocketAddr,
        _data: &[u8],
    ) {
    }

    /// Time passed (prompts' next frame, RTCP, timeouts).
    pub fn handle_timeout(&mut self, _now: Instant) {}

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
        None
    }
}
