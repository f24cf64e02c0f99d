//! This node's liveness row in the store, and recovery of nodes that died: every third of
//! `node_ttl` the node renews its row and looks for expired ones (`store::nodes`). Owns no call
//! state: a node that lost its row stops through the normal shutdown path.

use std::time::Duration;

use super::core::{Engine, Msg, HOUSEKEEPING};

impl Engine {
    /// Housekeeping ticks between two renewals of this node's row.
    fn liveness_ticks(&self) -> u64 {
        let every = self.cfg.node_ttl.0 / 3;
        (every.as_millis() / HOUSEKEEPING.as_millis()).max(1) as u64
    }

    /// Renews this node's row, then (half a period later) recovers the nodes whose row expired.
    pub(crate) fn node_liveness(&mut self, tick: u64) {
        let period = self.liveness_ticks();
        let renew = tick.is_multiple_of(period);
        let reap = tick % period == period / 2 && self.stopping.is_none();
        if !renew && !reap {
            return;
        }
        let (store, node, tx) = (self.store.clone(), self.cfg.node.clone(), self.tx.clone());
        let (wall, ttl) = (self.clock.wall_ms(), self.cfg.node_ttl.0.as_millis() as i64);
        if renew {
            tokio::spawn(async move {
                match store.renew_node(&node, wall, ttl).await {
                    Ok(true) => {}
                    Ok(false) => {
                        let _ = tx.send(Msg::NodeLost);
                    }
                    Err(e) => tracing::error!(error = %e, "renewing this node's liveness row"),
                }
            });
        } else {
            tokio::spawn(async move {
                match store.reap_dead_nodes(wall, &node).await {
                    Ok(reaped) => {
                        for d in reaped {
                            tracing::warn!(
                                node = %d.node,
                                by = %node,
                                attempts_closed = d.recovered.attempts_closed,
                                leases_released = d.recovered.leases_released,
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

    /// This node's row had expired: another node may already have closed its calls and retaken
    /// its leads, so it must not dial them again nor keep their calls up.
    pub(crate) fn on_node_lost(&mut self) {
        tracing::error!(
            node = %self.cfg.node,
            ttl = ?self.cfg.node_ttl.0,
            "this node's liveness row expired (store unreachable or the node stalled): stopping"
        );
        self.node_lost = true;
        if self.stopping.is_none() {
            self.begin_stop(Duration::ZERO);
        }
    }
}
