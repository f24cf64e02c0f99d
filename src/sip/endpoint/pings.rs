//! Trunk health: the OPTIONS ping of each trunk (every `ping_interval` in service, with back-off
//! once out of service) and the up/down events. A trunk is marked down here, by a failed ping,
//! or by the call layer when an INVITE gets no response at all; it comes back only by a ping.
//! Failover itself (which trunk a call moves to) is the call layer's.

use std::time::Instant;

use rsip::Method;

use super::shared::Shared;
use super::Event;
use crate::sip::message::Builder;
use crate::sip::timer::Timer;
use crate::sip::transaction::{TransactionKey, TxMethod, TxOwner};
use crate::sip::trunk::Health;

impl Shared {
    /// Trunk `t` failed (no response, or 503: `why`): out of service, pinged again after its
    /// back-off.
    pub(in crate::sip) fn trunk_down(&mut self, now: Instant, t: usize, why: &'static str) {
        let trunk = self.trunks.trunk_mut(t);
        trunk.last_error = Some((now, why));
        if trunk.mark_down(now) {
            self.events.push_back(Event::TrunkDown {
                trunk: trunk.config.name.clone(),
            });
        }
        if let Health::OutOfService { retry_at, .. } = trunk.health {
            if !self.ping_in_flight[t] {
                self.timers.set(retry_at, Timer::TrunkPing(t));
            }
        }
    }

    pub(super) fn send_ping(&mut self, now: Instant, t: usize) {
        if self.ping_in_flight[t] {
            return;
        }
        self.ping_in_flight[t] = true;
        let tx = self.id();
        let trunk = self.trunks.trunk(t);
        let (addr, transport) = (trunk.addr, trunk.config.transport);
        let tag = self.tag();
        let bytes = Builder::request(Method::Options, &format!("sip:{addr}"))
            .header("Via", self.via(transport, tx))
            .header("Max-Forwards", 70)
            .header(
                "From",
                format_args!("<sip:outdial@{}>;tag={tag}", self.cfg.local_addr.ip()),
            )
            .header("To", format_args!("<sip:{addr}>"))
            .header(
                "Call-ID",
                format_args!("ping{tx:x}.{:x}@{}", self.salt, self.cfg.local_addr.ip()),
            )
            .header("CSeq", "1 OPTIONS")
            .finish(None);
        let key = TransactionKey {
            branch: tx,
            method: TxMethod::Options,
        };
        self.start_tx(now, key, TxOwner::Trunk(t), (addr, transport), bytes);
    }

    /// The ping of trunk `t` got `code` (`None`: no response).
    pub(super) fn on_ping_result(&mut self, now: Instant, t: usize, code: Option<u16>) {
        self.ping_in_flight[t] = false;
        match code {
            None => self.trunk_down(now, t, "OPTIONS ping: no response"),
            Some(503) => self.trunk_down(now, t, "OPTIONS ping: 503"),
            Some(_) => {
                let trunk = self.trunks.trunk_mut(t);
                if trunk.mark_up() {
                    self.events.push_back(Event::TrunkUp {
                        trunk: trunk.config.name.clone(),
                    });
                }
                if let Some(iv) = trunk.ping_interval() {
                    self.timers.set(now + iv, Timer::TrunkPing(t));
                }
            }
        }
    }
}
