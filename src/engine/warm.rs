//! Warm start of the campaigns' dialers when the engine (re)starts them: each campaign's recent
//! calls on every node are read from the store and fed to its [`crate::pacing::Dialer`]
//! (`warm_start`), so a restart does not forget the trunk (see [`crate::pacing::opening`]).
//! Owns nothing else.

use crate::pacing::PastCall;
use crate::store::{WARM_START_CALLS, WARM_START_WINDOW_MS};

use super::core::Engine;

impl Engine {
    /// Seeds every campaign's dialer from its last [`WARM_START_CALLS`] calls of the last
    /// [`WARM_START_WINDOW_MS`]. Call before the first pacing tick. A store error leaves that
    /// campaign on a (safe) cold start, with a warning.
    pub(crate) async fn warm_start(&mut self) {
        let wall = self.clock.wall_ms();
        // Store times are wall milliseconds; the pacing core runs `time_scale` times faster.
        let scale = self.clock.scale();
        for c in &mut self.camps {
            let calls = match self
                .store
                .recent_calls(&c.name, wall - WARM_START_WINDOW_MS, WARM_START_CALLS, wall)
                .await
            {
                Ok(calls) => calls,
                Err(e) => {
                    tracing::warn!(campaign = %c.name, error = %e, "warm start: cannot read past calls; cold start");
                    continue;
                }
            };
            let scaled: Vec<PastCall> = calls
                .iter()
                .map(|p| PastCall {
                    age_ms: (p.age_ms as f64 * scale) as u64,
                    ring_s: p.ring_s.map(|s| s * scale),
                    talk_s: p.talk_s.map(|s| s * scale),
                    wrap_s: p.wrap_s.map(|s| s * scale),
                    ..*p
                })
                .collect();
            c.dialer.warm_start(&scaled);
            tracing::info!(campaign = %c.name, calls = scaled.len(), "warm start from past calls");
        }
    }
}
