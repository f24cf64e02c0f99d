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

use super::core::{Engine, Msg, HOUSEKEEPING};

/// How long an agent whose leg was still ringing at a crash is held: 64·T1 (RFC 3261 timer B
/// with T1 = 500 ms), after which no 2xx for that INVITE is retransmitted any more.
const SETUP_HOLD: Duration = Duration::from_secs(32);

impl Engine {
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
                since = ?self.last_renew.elapsed(),
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
        let (store, node, tx) = (self.store.clone(), self.cfg.node.clone(), self.tx.clone());
        let (wall, ttl) = (self.clock.wall_ms(), self.cfg.node_ttl.0.as_millis() as i64);
        if renew {
            self.renewing = true;
            let sent = Instant::now();
            tokio::spawn(async move {
                // The loop is gone only when the engine stops.
                match store.renew_node(&node, wall, ttl).await {
                    Ok(true) => {
                        let _ = tx.send(Msg::Renewed(sent));
                    }
                    Ok(false) => {
                        let _ = tx.send(Msg::NodeLost);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "renewing this node's liveness row");
                        let _ = tx.send(Msg::StoreDown);
                    }
                }
            });
        } else {
            tokio::spawn(async move {
                match store.reap_dead_nodes(wall, &node).await {
                    Ok(reaped) => {
                        let legs: Vec<OpenLeg> = reaped
                            .iter()
                            .flat_map(|d| d.recovered.legs.clone())
                            .collect();
                        if !legs.is_empty() {
                            // The loop is gone only when the engine stops.
                            let _ = tx.send(Msg::Recovered(legs));
                        }
                        for d in reaped {
                            tracing::warn!(
                                node = %d.node,
                                by = %node,
                                attempts_closed = d.recovered.attempts_closed,
                                leases_released = d.recovered.leases_released,
                                legs_to_end = d.recovered.legs.len(),
                                sessions_ended = d.sessions_ended,
                                agents_released = d.agents_released,
                                "recovered a node whose liveness row expired"
                            );
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "recovering dead nodes"),
                }
            });
        }
    }

    /// A renewal landed: the row is this node's for `node_ttl` from `sent`. After an outage,
    /// dialling resumes.
    pub(crate) fn on_renewed(&mut self, sent: Instant) {
        self.renewing = false;
        self.last_renew = self.last_renew.max(sent);
        if self.store_down {
            self.store_down = false;
            let (memory, spool) = self.writes.backlog();
            tracing::warn!(
                node = %self.cfg.node,
                writes_queued = memory + spool,
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
            self.begin_stop(Duration::ZERO);
        }
    }

    /// Ends legs a crashed run left up: each is rebuilt from its stored dialog and sent BYE. Their
    /// agents are taken out of dialling until [`Engine::on_released`] (BYE answered or timed out).
    pub(crate) async fn end_legs(&mut self, legs: Vec<OpenLeg>) {
        for leg in legs {
            let Some(dialog) = &leg.dialog else {
                // An agent leg that was still ringing: the agent's phone gives up on it (or its
                // 200 reaches us and is ACKed and ended) within an INVITE transaction's life.
                if let Some(agent) = leg.agent {
                    self.held.push((agent, Instant::now() + SETUP_HOLD));
                }
                continue;
            };
            let Some(snap) = DialogSnapshot::from_json(dialog) else {
                continue;
            };
            let restored = self
                .sip
                .with(move |ep, now| ep.restore_and_end(now, &snap))
                .await;
            match restored {
                Ok(Some(call)) => {
                    tracing::info!(attempt = leg.attempt, agent = ?leg.agent, "ending a leg left up");
                    self.releasing.insert(call, leg.agent);
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "sip driver gone: leg left up not ended"),
            }
        }
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
        let now = Instant::now();
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
