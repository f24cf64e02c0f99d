//! A minimal relay core for measuring the media shell alone: latches each leg to the source of
//! its packets and forwards RTP between bridged legs byte for byte. Not outdial's media core
//! (no RTCP, prompts, DTMF, tap or figures beyond packet counts): a baseline and a test double.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use crate::media::core::MediaConfig;
use crate::media::io::{LegId, LegStats, MediaCommand, MediaEvent, TapFrame, Transmit};
use crate::media::shell::ShellCore;

#[derive(Debug)]
struct Leg {
    port: u16,
    /// Where to send: the SDP address, then the latched source.
    to: Option<SocketAddr>,
    latched: bool,
    partner: Option<LegId>,
    stats: LegStats,
}

/// The pass-through relay (see the module doc).
#[derive(Debug, Default)]
pub struct PassThrough {
    legs: HashMap<LegId, Leg>,
    by_port: HashMap<u16, LegId>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<MediaEvent>,
}

impl PassThrough {
    /// A relay with no legs (the signature of [`MediaShell::start_with`]'s factory).
    ///
    /// [`MediaShell::start_with`]: crate::media::shell::MediaShell::start_with
    pub fn new(_cfg: MediaConfig, _now: Instant) -> Self {
        PassThrough::default()
    }

    fn unbridge(&mut self, leg: LegId) {
        if let Some(partner) = self.legs.get_mut(&leg).and_then(|l| l.partner.take()) {
            if let Some(p) = self.legs.get_mut(&partner) {
                p.partner = None;
            }
        }
    }
}

impl ShellCore for PassThrough {
    fn handle_command(&mut self, _now: Instant, cmd: MediaCommand) {
        match cmd {
            MediaCommand::Open {
                leg, local_port, ..
            } => {
                self.by_port.insert(local_port, leg);
                self.legs.insert(
                    leg,
                    Leg {
                        port: local_port,
                        to: None,
                        latched: false,
                        partner: None,
                        stats: LegStats::default(),
                    },
                );
            }
            MediaCommand::Remote { leg, remote } => {
                if let Some(l) = self.legs.get_mut(&leg) {
                    if !l.latched {
                        l.to = Some(remote.addr);
                    }
                }
            }
            MediaCommand::Bridge { customer, agent } => {
                self.unbridge(customer);
                self.unbridge(agent);
                if self.legs.contains_key(&customer) && self.legs.contains_key(&agent) {
                    if let Some(c) = self.legs.get_mut(&customer) {
                        c.partner = Some(agent);
                    }
                    if let Some(a) = self.legs.get_mut(&agent) {
                        a.partner = Some(customer);
                    }
                }
            }
            MediaCommand::Unbridge { leg } => self.unbridge(leg),
            MediaCommand::Close { leg } => {
                self.unbridge(leg);
                if let Some(l) = self.legs.remove(&leg) {
                    self.by_port.remove(&l.port);
                    self.events.push_back(MediaEvent::Closed {
                        leg,
                        stats: l.stats,
                    });
                }
            }
            MediaCommand::Play { .. }
            | MediaCommand::Tap { .. }
            | MediaCommand::Record { .. }
            | MediaCommand::Analyse { .. }
            | MediaCommand::StopAnalysis { .. } => {}
        }
    }

    fn handle_datagram(&mut self, _now: Instant, local_port: u16, from: SocketAddr, data: &[u8]) {
        // RTP only (RTCP arrives on odd ports, which are not legs' ports here), version 2.
        let Some(&id) = self.by_port.get(&local_port) else {
            return;
        };
        if data.len() < 12 || data[0] >> 6 != 2 {
            return;
        }
        let Some(leg) = self.legs.get_mut(&id) else {
            return;
        };
        leg.stats.packets_in += 1;
        leg.to = Some(from);
        if !leg.latched {
            leg.latched = true;
            self.events.push_back(MediaEvent::FirstPacket { leg: id });
        }
        let Some(partner) = leg.partner else { return };
        if let Some(p) = self.legs.get_mut(&partner) {
            if let Some(to) = p.to {
                p.stats.packets_out += 1;
                self.transmits.push_back(Transmit {
                    local_port: p.port,
                    to,
                    payload: data.to_vec(),
                });
            }
        }
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    fn poll_tap(&mut self) -> Option<TapFrame> {
        None
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}
