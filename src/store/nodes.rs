//! Engine nodes alive on one store, as leases: each running node renews its row in `nodes`; a
//! node whose row expired is dead, and any other node closes what it left open (its calls in
//! flight with what each reached, scheduled by the campaign's rules, and its undialled leases)
//! and gets back the SIP legs that were up, to end them with BYE. Without this
//! a node that never comes back would hold its in-flight leads forever. The rows are plain
//! leases taken with `FOR UPDATE SKIP LOCKED`, like the hopper: no cluster protocol.
//! Owns no clock: every call takes `now_ms`.

use super::attempts::RecoverReport;
use super::db::Arg;
use super::engine::{end_sessions_in, release_agents_in};
use super::{Store, StoreError};

impl Store {
    /// Registers `node` as alive until `now_ms + ttl_ms` (a start, or a restart of the same node).
    pub async fn register_node(
        &self,
        node: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        self.write_one(
            "INSERT INTO nodes (node, until_ms) VALUES ($1, $2) \
             ON CONFLICT (node) DO UPDATE SET until_ms = $2",
            &[Arg::S(node), Arg::I(now_ms.saturating_add(ttl_ms))],
        )
        .await?;
        Ok(())
    }

    /// Renews `node` until `now_ms + ttl_ms`, even if its row expired meanwhile, as long as no
    /// other node reaped it. `false`: the row is gone — another node closed its calls and took
    /// back its leads ([`Store::reap_dead_nodes`] deletes the row in the same transaction); the
    /// node must stop dialling. One statement on the row, so it is ordered against a reaper's
    /// row lock: a renewal that lands leaves nothing for a reaper for `ttl_ms`.
    pub async fn renew_node(
        &self,
        node: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = self
            .write_one(
                "UPDATE nodes SET until_ms = $2 WHERE node = $1",
                &[Arg::S(node), Arg::I(now_ms.saturating_add(ttl_ms))],
            )
            .await?;
        Ok(n == 1)
    }

    /// A graceful stop: `node` left nothing open and is no longer alive.
    pub async fn deregister_node(&self, node: &str) -> Result<(), StoreError> {
        self.write_one("DELETE FROM nodes WHERE node = $1", &[Arg::S(node)])
            .await?;
        Ok(())
    }

    /// Recovers every node but `me` whose lease expired by `now_ms` and forgets it, in one
    /// transaction: its calls and leases as [`Store::recover_node`] does, its agent sessions
    /// ended when its lease did (staffed time stops when the node was last known alive), its
    /// agent claims released (another node may take those agents at once). A node never recovers
    /// itself while it runs: if its row was reaped, [`Store::renew_node`] tells it to stop. Two
    /// reapers never recover the same node: its row is locked (`SKIP LOCKED`; SQLite has one
    /// writer at a time).
    pub async fn reap_dead_nodes(
        &self,
        now_ms: i64,
        me: &str,
    ) -> Result<Vec<DeadNode>, StoreError> {
        // Nearly every call finds nobody dead: a read first spares it SQLite's write lock.
        let mut peek = self.read_tx().await?;
        let (expired,): (i64,) = peek
            .one(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM nodes WHERE until_ms <= $1 AND node <> $2",
                &[Arg::I(now_ms), Arg::S(me)],
            )
            .await?;
        peek.commit().await?;
        if expired == 0 {
            return Ok(Vec::new());
        }
        let mut tx = self.write_tx().await?;
        let dead: Vec<(String, i64)> = tx
            .all(
                "SELECT node, until_ms FROM nodes WHERE until_ms <= $1 AND node <> $2 \
                 ORDER BY node FOR UPDATE SKIP LOCKED",
                &[Arg::I(now_ms), Arg::S(me)],
            )
            .await?;
        let mut out = Vec::with_capacity(dead.len());
        for (node, until_ms) in dead {
            let recovered = self.recover_in(&mut tx, &node, now_ms).await?;
            let sessions_ended = end_sessions_in(&mut tx, &node, until_ms).await?;
            let agents_released = release_agents_in(&mut tx, &node).await?;
            tx.exec("DELETE FROM nodes WHERE node = $1", &[Arg::S(&node)])
                .await?;
            out.push(DeadNode {
                node,
                recovered,
                sessions_ended,
                agents_released,
            });
        }
        tx.commit().await?;
        Ok(out)
    }
}

/// What [`Store::reap_dead_nodes`] did for one dead node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadNode {
    /// The node's name.
    pub node: String,
    /// Its calls closed with what they reached, its leases returned, its legs that were up.
    pub recovered: RecoverReport,
    /// Its agent sessions ended (at its lease's end).
    pub sessions_ended: u64,
    /// Its agent claims released.
    pub agents_released: u64,
}
