//! This node's liveness row in the store, and recovery of nodes that died: every third of
//! `node_ttl` the node renews its row and looks for expired ones (`store::nodes`).
//!
//! # Store outages (split brain)
//! A node that cannot reach the store cannot know whether another node reaped it, so it stops
//! dialling as soon as the store fails it (a lease, an attempt or a renewal failing to connect),
//! or when two thirds of `node_ttl` pass without a renewal landing — before its row can expire,
//! so no other node can reap it while it still dials. Calls in progress go on; their records
//! wait in the write queue (`writes`). It then tries to renew every second. A renewal takes the
//! row back if it is still there, expired or not, in one statement that a reaper's row lock
//! orders against: either the reaper deleted the row first (the renewal finds nothing: another
//! node closed this node's calls and retook its leads, so it stops and exits with an error), or
//! the renewal landed first (no reaper can take the row for `node_ttl`), and dialling resumes. The SIP legs a crashed run left up (this
//! node's earlier run, or a dead node's) are ended here with BYE from their stored dialogs; an
//! agent whose leg that was is offered no call until the leg is released.

use std::time::{Duration, Instant};

use crate::sip::endpoint::{CallId as SipCall, DialogSnapshot};
use crate::store::OpenLeg;

use super::{Core, SipCommand, StoreCommand, HOUSEKEEPING};

/// How long an agent whose leg was still ringing at a crash is held: 64·T1 (RFC 3261 timer B
/// with T1 = 500 ms), after which no 2xx for that INVITE is retransmitted any more.
const SETUP_HOLD: Duration = Duration::from_secs(32);

impl Core {
    /// Housekeeping ticks between two renewals of this node's row.
    fn liveness_ticks(&self) -> u64 {
        let every = self.cfg.node_ttl.0 / 3;
        (every.as_millis() / HOUSEKEEPING.as_millis()).max(1) as u64
    }

    /// Renews this node's row, then (half a period later) recovers the nodes whose row expired.
    /// While the store is down: no reaping, and a renewal tried every second.
    pub(crate) fn node_liveness(&mut self, tick: u64) {
        if !self.store_down && self.dial_blocked() {
            tracing::error!(
                node = %self.cfg.node,
                since = ?self.now.saturating_duration_since(self.last_renew),
                "this node's liveness row was not renewed in time: no new calls until it is"
            );
            self.on_store_down();
        }
        let period = self.liveness_ticks();
        let renew = if self.store_down {
            tick.is_multiple_of(10) && !self.renewing
        } else {
            tick.is_multiple_of(period)
        };
        let reap = tick % period == period / 2 && self.stopping.is_none() && !self.store_down;
        if !renew && !reap {
            return;
        }
        let (node, wall_ms) = (self.cfg.node.clone(), self.wall_ms());
        if renew {
            self.renewing = true;
            self.emit_store(StoreCommand::RenewNode {
                sent: self.now,
                node,
                wall_ms,
                ttl_ms: self.cfg.node_ttl.0.as_millis() as i64,
            });
        } else {
            self.emit_store(StoreCommand::ReapDeadNodes { node, wall_ms });
        }
    }

    /// A renewal landed: the row is this node's for `node_ttl` from `sent`. After an outage,
    /// dialling resumes.
    pub(crate) fn on_renewed(&mut self, sent: Instant) {
        self.renewing = false;
        self.last_renew = self.last_renew.max(sent);
        if self.store_down {
            self.store_down = false;
            tracing::warn!(
                node = %self.cfg.node,
                writes_queued = self.pending,
                "store reachable again and this node's row still its own: dialling resumes"
            );
        }
    }

    /// The store could not be reached: no lease and no new call until a renewal lands (calls in
    /// progress go on; their writes wait in the queue).
    pub(crate) fn on_store_down(&mut self) {
        self.renewing = false;
        if !self.store_down {
            self.store_down = true;
            tracing::error!(
                node = %self.cfg.node,
                "store unreachable: no new calls until it returns (calls in progress go on)"
            );
            for ci in 0..self.camps.len() {
                self.camps[ci].line_budget = 0;
                self.sync_channels(ci);
            }
        }
    }

    /// This node's row was gone: another node reaped it, closed its calls and retook its leads,
    /// so it must not dial them again nor keep their calls up.
    pub(crate) fn on_node_lost(&mut self) {
        self.renewing = false;
        tracing::error!(
            node = %self.cfg.node,
            ttl = ?self.cfg.node_ttl.0,
            "this node's liveness row was reaped by another node (store unreachable or the node \
             stalled longer than node_ttl): another node took its calls over; stopping"
        );
        self.node_lost = true;
        if self.stopping.is_none() {
            self.stop_within(Duration::ZERO);
        }
    }

    /// Ends legs a crashed run left up: each is rebuilt from its stored dialog and sent BYE
    /// (answered by `SipInput::LegEnding`). Their agents are taken out of dialling until
    /// [`Core::on_released`] (BYE answered or timed out).
    pub(crate) fn end_legs(&mut self, legs: Vec<OpenLeg>) {
        for leg in legs {
            let Some(dialog) = &leg.dialog else {
                // An agent leg that was still ringing: the agent's phone gives up on it (or its
                // 200 reaches us and is ACKed and ended) within an INVITE transaction's life.
                if let Some(agent) = leg.agent {
                    self.held.push((agent, self.now + SETUP_HOLD));
                }
                continue;
            };
            let Some(snapshot) = DialogSnapshot::from_json(dialog) else {
                tracing::warn!(
                    attempt = leg.attempt,
                    "stored dialog unreadable: leg left up not ended"
                );
                continue;
            };
            self.emit_sip(SipCommand::EndLeg {
                snapshot,
                agent: leg.agent,
                attempt: leg.attempt,
            });
        }
        self.hold_agents();
    }

    /// A leg left up is being ended (`call`), or could not be restored (`None`).
    pub(crate) fn on_leg_ending(
        &mut self,
        call: Option<SipCall>,
        agent: Option<String>,
        attempt: i64,
    ) {
        if let Some(call) = call {
            tracing::info!(attempt, agent = ?agent, "ending a leg left up");
            self.releasing.insert(call, agent);
        }
        self.hold_agents();
    }

    /// Logs out the agents whose leg from a crashed run is still up.
    fn hold_agents(&mut self) {
        let held: Vec<usize> = (0..self.agents.len())
            .filter(|&ai| self.agent_held(ai) && self.agents[ai].call.is_none())
            .collect();
        for ai in held {
            if self.agents[ai].logged_in {
                tracing::warn!(agent = %self.agents[ai].spec.id, "agent's previous call still up");
                self.leave(ai);
                self.agents[ai].logged_in = false;
            }
        }
    }

    /// An agent whose leg from a crashed run is still being ended.
    pub(crate) fn agent_held(&self, ai: usize) -> bool {
        let id = &self.agents[ai].spec.id;
        self.releasing.values().any(|a| a.as_ref() == Some(id))
            || self.held.iter().any(|(a, _)| a == id)
    }

    /// Releases the agents whose ringing leg from a crashed run has surely timed out.
    pub(crate) fn expire_holds(&mut self) {
        let now = self.now;
        let before = self.held.len();
        self.held.retain(|(_, until)| *until > now);
        if self.held.len() < before {
            self.login_auto_agents();
        }
    }

    /// A leg left up by a crashed run is over: its agent may take calls again.
    pub(crate) fn on_released(&mut self, call: SipCall) {
        if let Some(Some(agent)) = self.releasing.remove(&call) {
            tracing::info!(%agent, "agent's previous call ended");
            self.login_auto_agents();
        }
    }
}
