//! Warm start of the campaigns' dialers when the engine (re)starts them: each campaign's recent
//! calls on every node, read from the store by the shell ([`StoreResult::PastCalls`]), are fed
//! to its [`crate::pacing::Dialer`] so a restart does not forget the trunk (see
//! [`crate::pacing::opening`]). Owns nothing else.
//!
//! [`StoreResult::PastCalls`]: super::StoreResult::PastCalls

use crate::pacing::PastCall;

use super::Core;

impl Core {
    /// Seeds campaign `ci`'s dialer from its past calls (store times, wall clock). Call before
    /// the first pacing tick.
    pub(crate) fn warm_start(&mut self, ci: usize, calls: &[PastCall]) {
        // Store times are wall milliseconds; the pacing core runs `time_scale` times faster.
        let scale = self.clock.scale();
        let Some(c) = self.camps.get_mut(ci) else {
            return;
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
