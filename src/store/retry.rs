//! What happens to a lead after an attempt: the pure rule (no database), so it can be tested
//! exhaustively and reused by the simulator. Inputs are the campaign, the lead's counters *after*
//! the attempt was counted, and the outcome.

use chrono_tz::Tz;

use crate::campaign::window::{local_day, next_local_midnight};
use crate::campaign::{CallDisposition, Campaign};

/// The lead's next state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Dial again from `due_ms` on (window and caps are checked again at lease time).
    Retry {
        /// Earliest time of the next attempt (epoch ms).
        due_ms: i64,
    },
    /// Never dial this lead again.
    Done,
}

/// The lead's attempt counters after the attempt that just ended was counted.
#[derive(Clone, Copy, Debug)]
pub struct Counters {
    /// Attempts over the lead's lifetime.
    pub attempts: u32,
    /// `yyyymmdd` of the callee-local day the counter below belongs to.
    pub day_key: i64,
    /// Attempts on that day.
    pub day_attempts: u32,
}

/// Decides the next state after an attempt that ended at `end_ms` with `disposition`.
/// `callback_at_ms` is the time an agent agreed with the customer (disposition `callback`).
pub fn next_after(
    campaign: &Campaign,
    tz: Tz,
    counters: Counters,
    disposition: CallDisposition,
    callback_at_ms: Option<i64>,
    end_ms: i64,
) -> Next {
    let rule = campaign.rule(disposition);
    if disposition == CallDisposition::DoNotCall || !rule.retry {
        return Next::Done;
    }
    if counters.attempts >= campaign.retry.max_attempts {
        return Next::Done;
    }
    let mut due = end_ms.saturating_add(rule.delay.millis());
    if disposition == CallDisposition::Callback {
        if let Some(at) = callback_at_ms {
            due = at.max(end_ms);
        }
    }
    if disposition == CallDisposition::Abandoned {
        due = due.max(end_ms.saturating_add(campaign.retry.abandon_cooldown.millis()));
    }
    // Per-day cap: once today's attempts are used up, nothing before the next local day.
    if counters.day_attempts >= campaign.retry.max_attempts_per_day
        && local_day(tz, due) == counters.day_key
    {
        due = next_local_midnight(tz, due);
    }
    Next::Retry { due_ms: due }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn campaign() -> Campaign {
        Campaign::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("campaigns/repayment-reminder.yaml"),
        )
        .unwrap()
    }

    const SH: Tz = chrono_tz::Asia::Shanghai;

    fn at(h: u32, m: u32) -> i64 {
        SH.with_ymd_and_hms(2026, 3, 4, h, m, 0)
            .single()
            .unwrap()
            .timestamp_millis()
    }

    fn fresh() -> Counters {
        Counters {
            attempts: 1,
            day_key: 20260304,
            day_attempts: 1,
        }
    }

    #[test]
    fn each_disposition_follows_its_rule() {
        let c = campaign();
        let end = at(10, 0);
        for d in CallDisposition::ALL {
            let next = next_after(&c, SH, fresh(), d, None, end);
            let rule = c.rule(d);
            if !rule.retry || d == CallDisposition::DoNotCall {
                assert_eq!(next, Next::Done, "{d}");
                continue;
            }
            let expect = if d == CallDisposition::Abandoned {
                end + rule.delay.millis().max(c.retry.abandon_cooldown.millis())
            } else {
                end + rule.delay.millis()
            };
            assert_eq!(next, Next::Retry { due_ms: expect }, "{d}");
        }
    }

    #[test]
    fn caps_and_callbacks() {
        let c = campaign();
        let end = at(10, 0);
        // Lifetime cap reached: done, whatever the disposition.
        let mut k = fresh();
        k.attempts = c.retry.max_attempts;
        assert_eq!(
            next_after(&c, SH, k, CallDisposition::Busy, None, end),
            Next::Done
        );
        // Per-day cap reached: the next attempt waits for local midnight.
        let mut k = fresh();
        k.day_attempts = c.retry.max_attempts_per_day;
        let midnight = SH
            .with_ymd_and_hms(2026, 3, 5, 0, 0, 0)
            .single()
            .unwrap()
            .timestamp_millis();
        assert_eq!(
            next_after(&c, SH, k, CallDisposition::Busy, None, end),
            Next::Retry { due_ms: midnight }
        );
        // Callback at an agreed time.
        let cb = at(15, 30);
        assert_eq!(
            next_after(&c, SH, fresh(), CallDisposition::Callback, Some(cb), end),
            Next::Retry { due_ms: cb }
        );
    }
}
