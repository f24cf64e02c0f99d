//! Per-hour campaign figures from call records (`outdial report`), as a pure function over rows
//! the caller fetched from the store. Owns no I/O and no clock (`now` is a value).
//!
//! Definitions (pacing.md's, per hour of the campaign's time zone):
//! - An attempt, and everything about it (live answer, abandon, wait), counts in the hour it was
//!   **dialled**, so `abandon_pct` = abandoned / live answers over the same calls.
//! - live answer: disposition `abandoned`, or the call was connected to an agent (a
//!   `connected_at` time, or a connected code: `connected`, `callback`, `completed`,
//!   `not_interested`, `do_not_call`), unless the agent marked it `machine` (voicemail).
//! - mean wait: mean of connect − answer over connected calls (abandoned calls are not waits that
//!   ended with an agent; the abandon % reports them).
//! - occupancy: busy agent-seconds / staffed agent-seconds in that hour, i.e. busy /
//!   (agents staffed × 3600). Busy time is connect → end of wrap-up (→ end of call when the record
//!   has no wrap-up end), split across the hours it spans. Call records cannot tell staffed time:
//!   it comes from agent session intervals (logged in and not paused). Without session records
//!   (`None`), or in an hour with no staffed time, occupancy is `null`, never guessed.
//! - machines: attempts with disposition `machine` that no agent took (no connect time): with
//!   call-progress analysis, its machine verdicts (a voicemail an agent marked `machine` was
//!   connected, and is not one). `machine_verdicts` are those call-progress analysis hung up
//!   on (a `machine` verdict), `analysed` the calls it listened to. `estimated_amd_fp` =
//!   machine verdicts × the AMD false-positive rate
//!   given to [`Report::with_amd_false_positive`] (the campaign's `amd_false_positive`), and
//!   `abandon_with_fp_pct` = (abandoned + estimated) / (live answers + estimated) × 100: the
//!   abandon figure in its two parts, as UK Ofcom counts AMD false positives. Calls a trunk
//!   reported as machines without analysis count as machines but add nothing to the
//!   estimate: outdial hung up on nobody there, so a campaign without analysis has none.
//! - inbound calls (blended agents): counted in the hour they **arrived**; `inbound_connected`
//!   are those an agent took. Their talk (connect → end) is busy time too; their wrap-up is not
//!   recorded, so it is not counted.

use chrono::{Offset, TimeZone};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::BTreeMap;

const HOUR_MS: i64 = 3_600_000;

pub use crate::store::{CdrRow, InboundRow, StaffedInterval};

// The report's reading of a store row (an inherent impl may sit beside the rules that use it).
impl CdrRow {
    fn is_abandoned(&self) -> bool {
        self.disposition.as_deref() == Some("abandoned")
    }

    fn is_connected(&self) -> bool {
        // Voicemail an agent was handed and marked `machine` was connected, but to no person.
        if self.disposition.as_deref() == Some("machine") {
            return false;
        }
        self.connect_ms.is_some()
            || self
                .disposition
                .as_deref()
                .and_then(|d| d.parse::<crate::campaign::CallDisposition>().ok())
                .is_some_and(|d| d.is_connected())
    }

    fn is_live(&self) -> bool {
        self.is_abandoned() || self.is_connected()
    }

    /// Agent busy interval: connect → wrap-up done (or call end).
    fn busy(&self) -> Option<(i64, i64)> {
        let start = self.connect_ms?;
        let end = self.wrapup_end_ms.or(self.end_ms)?;
        (end > start).then_some((start, end))
    }
}

/// Figures of one hour (or of the whole report, for the total).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourRow {
    /// Start of the hour, epoch ms UTC.
    pub hour_start_ms: i64,
    /// Start of the hour in the campaign's time zone, `YYYY-MM-DD HH:00`.
    pub hour: String,
    /// Calls dialled.
    pub attempts: u64,
    /// Calls answered by a person.
    pub live_answers: u64,
    /// Live answers not connected within patience.
    pub abandoned: u64,
    /// abandoned / live answers × 100; `null` without live answers.
    pub abandon_pct: Option<f64>,
    /// Calls hung up on as machines (disposition `machine`, never connected).
    pub machines: u64,
    /// Calls call-progress analysis listened to (any verdict).
    pub analysed: u64,
    /// Of `machines`, those hung up on by call-progress analysis (a `machine` verdict): the
    /// calls a person may have been among. A trunk's own machine report is not outdial's
    /// decision and adds nothing to the estimate.
    pub machine_verdicts: u64,
    /// Estimated people among them (AMD false positives): machine verdicts × the rate in use;
    /// 0 without analysis.
    pub estimated_amd_fp: f64,
    /// (abandoned + estimated_amd_fp) / (live answers + estimated_amd_fp) × 100; `null`
    /// without either.
    pub abandon_with_fp_pct: Option<f64>,
    /// busy / staffed agent time (0–1); `null` without session records or staffed time.
    pub occupancy: Option<f64>,
    /// Mean answer → connect seconds of connected calls; `null` without any.
    pub mean_wait_s: Option<f64>,
    /// Inbound calls that arrived.
    pub inbound_calls: u64,
    /// Inbound calls an agent took.
    pub inbound_connected: u64,
}

#[derive(Debug, Default, Clone)]
struct Acc {
    attempts: u64,
    live: u64,
    abandoned: u64,
    machines: u64,
    analysed: u64,
    machine_verdicts: u64,
    wait_ms_sum: i64,
    waits: u64,
    busy_ms: i64,
    staffed_ms: i64,
    inbound: u64,
    inbound_connected: u64,
}

impl Acc {
    fn add(&mut self, o: &Acc) {
        self.attempts += o.attempts;
        self.live += o.live;
        self.abandoned += o.abandoned;
        self.machines += o.machines;
        self.analysed += o.analysed;
        self.machine_verdicts += o.machine_verdicts;
        self.wait_ms_sum += o.wait_ms_sum;
        self.waits += o.waits;
        self.busy_ms += o.busy_ms;
        self.staffed_ms += o.staffed_ms;
        self.inbound += o.inbound;
        self.inbound_connected += o.inbound_connected;
    }

    fn row(&self, hour_start_ms: i64, hour: String, sessions_known: bool) -> HourRow {
        HourRow {
            hour_start_ms,
            hour,
            attempts: self.attempts,
            live_answers: self.live,
            abandoned: self.abandoned,
            abandon_pct: (self.live > 0).then(|| self.abandoned as f64 / self.live as f64 * 100.0),
            machines: self.machines,
            analysed: self.analysed,
            machine_verdicts: self.machine_verdicts,
            estimated_amd_fp: 0.0,
            abandon_with_fp_pct: (self.live > 0)
                .then(|| self.abandoned as f64 / self.live as f64 * 100.0),
            occupancy: (sessions_known && self.staffed_ms > 0)
                .then(|| self.busy_ms as f64 / self.staffed_ms as f64),
            mean_wait_s: (self.waits > 0)
                .then(|| self.wait_ms_sum as f64 / self.waits as f64 / 1000.0),
            inbound_calls: self.inbound,
            inbound_connected: self.inbound_connected,
        }
    }
}

/// Start of the local hour (in `tz`) containing `ms`. Works for zones whose offset is not a whole
/// number of hours, and across DST changes (the offset in force at `ms` is used).
pub fn hour_start(ms: i64, tz: Tz) -> i64 {
    let offset_ms = offset_ms(ms, tz);
    ms - (ms + offset_ms).rem_euclid(HOUR_MS)
}

fn offset_ms(ms: i64, tz: Tz) -> i64 {
    match tz.timestamp_millis_opt(ms).single() {
        Some(t) => i64::from(t.offset().fix().local_minus_utc()) * 1000,
        // A UTC instant always maps to exactly one local time; keep UTC if chrono says otherwise.
        None => 0,
    }
}

fn hour_label(ms: i64, tz: Tz) -> String {
    match tz.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%Y-%m-%d %H:00").to_string(),
        None => ms.to_string(),
    }
}

/// Adds `[start, end)` to `put(hour, ms)` split by local hours.
fn split_hours(start: i64, end: i64, tz: Tz, mut put: impl FnMut(i64, i64)) {
    let mut t = start;
    while t < end {
        let h = hour_start(t, tz);
        let next = (h + HOUR_MS).min(end);
        put(h, next - t);
        t = next;
    }
}

/// The whole report: the hours and their total.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Per-hour rows, oldest first.
    pub hours: Vec<HourRow>,
    /// Sums over all hours, ratios recomputed from the sums (`None` when there is no hour).
    pub total: Option<HourRow>,
}

impl HourRow {
    /// Fills the AMD false-positive part of the abandon figure at `fp_rate` (share of machine
    /// verdicts taken to be people).
    fn with_amd_false_positive(&mut self, fp_rate: f64) {
        self.estimated_amd_fp = self.machine_verdicts as f64 * fp_rate;
        let n = self.live_answers as f64 + self.estimated_amd_fp;
        self.abandon_with_fp_pct =
            (n > 0.0).then(|| (self.abandoned as f64 + self.estimated_amd_fp) / n * 100.0);
    }
}

impl Report {
    /// The report with its abandon figures' AMD part at `fp_rate` (the campaign's
    /// `amd_false_positive`); without this call the estimate is 0.
    pub fn with_amd_false_positive(mut self, fp_rate: f64) -> Report {
        for h in self.hours.iter_mut().chain(self.total.iter_mut()) {
            h.with_amd_false_positive(fp_rate);
        }
        self
    }
}

/// Per-hour figures, oldest first, contiguous from the first to the last hour with activity
/// (quiet hours in between appear with zeros). Calls dialled before `since_ms` are ignored, and
/// staffed time before it is clipped. `sessions` are the staffed intervals of the campaign's
/// agents (`None` when not recorded: occupancy is then `null`).
pub fn hourly(
    rows: &[CdrRow],
    sessions: Option<&[StaffedInterval]>,
    tz: Tz,
    since_ms: Option<i64>,
) -> Vec<HourRow> {
    report(rows, sessions, tz, since_ms).hours
}

/// [`hourly`] plus the total row.
pub fn report(
    rows: &[CdrRow],
    sessions: Option<&[StaffedInterval]>,
    tz: Tz,
    since_ms: Option<i64>,
) -> Report {
    report_blended(rows, &[], sessions, tz, since_ms)
}

/// [`report`] with the inbound calls the campaign's agents took (blended operation).
pub fn report_blended(
    rows: &[CdrRow],
    inbound: &[InboundRow],
    sessions: Option<&[StaffedInterval]>,
    tz: Tz,
    since_ms: Option<i64>,
) -> Report {
    let since = since_ms.unwrap_or(i64::MIN);
    let mut hours: BTreeMap<i64, Acc> = BTreeMap::new();
    for r in inbound.iter().filter(|r| r.arrive_ms >= since) {
        let acc = hours.entry(hour_start(r.arrive_ms, tz)).or_default();
        acc.inbound += 1;
        if let Some(c) = r.connect_ms {
            acc.inbound_connected += 1;
            split_hours(c, r.end_ms, tz, |h, ms| {
                hours.entry(h).or_default().busy_ms += ms;
            });
        }
    }
    for r in rows.iter().filter(|r| r.dial_ms >= since) {
        let acc = hours.entry(hour_start(r.dial_ms, tz)).or_default();
        acc.attempts += 1;
        acc.live += u64::from(r.is_live());
        acc.abandoned += u64::from(r.is_abandoned());
        let machine = r.disposition.as_deref() == Some("machine") && r.connect_ms.is_none();
        acc.machines += u64::from(machine);
        acc.analysed += u64::from(r.cpa_verdict.is_some());
        acc.machine_verdicts += u64::from(machine && r.cpa_verdict.as_deref() == Some("machine"));
        if let (Some(a), Some(c)) = (r.answer_ms, r.connect_ms) {
            if c >= a {
                acc.wait_ms_sum += c - a;
                acc.waits += 1;
            }
        }
        if let Some((start, end)) = r.busy() {
            split_hours(start, end, tz, |h, ms| {
                hours.entry(h).or_default().busy_ms += ms;
            });
        }
    }
    let (first, end) = match (hours.keys().next(), hours.keys().next_back()) {
        (Some(&f), Some(&l)) => (f, l + HOUR_MS),
        _ => {
            return Report {
                hours: Vec::new(),
                total: None,
            }
        }
    };
    // Only staffed time inside the hours that saw calls (or busy time) counts: a day of sessions
    // before the first call does not stretch the table.
    for s in sessions.unwrap_or(&[]) {
        split_hours(
            s.start_ms.max(since).max(first),
            s.end_ms.min(end),
            tz,
            |h, ms| {
                hours.entry(h).or_default().staffed_ms += ms;
            },
        );
    }
    let known = sessions.is_some();
    let mut out = Vec::new();
    let mut sum = Acc::default();
    let mut h = first;
    while h < end {
        let acc = hours.get(&h).cloned().unwrap_or_default();
        sum.add(&acc);
        out.push(acc.row(h, hour_label(h, tz), known));
        // Next local hour: +1 h, re-aligned in case the offset changed (DST).
        h = hour_start(h + HOUR_MS, tz).max(h + 1);
    }
    let total = sum.row(
        first,
        format!("{} to {}", hour_label(first, tz), hour_label(end, tz)),
        known,
    );
    Report {
        hours: out,
        total: Some(total),
    }
}

/// A `--since` value that is neither a time nor a duration (the text as given).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--since {0:?}: expected an RFC 3339 time (2024-05-01T08:00:00+08:00) or a duration ago (24h)"
)]
pub struct SinceError(pub String);

/// Parses `--since`: an RFC 3339 time (`2024-05-01T08:00:00+08:00`) or a duration ago (`24h`,
/// `30m`, `7days`), relative to `now_ms`.
pub fn parse_since(raw: &str, now_ms: i64) -> Result<i64, SinceError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw.trim()) {
        return Ok(t.timestamp_millis());
    }
    match humantime::parse_duration(raw.trim()) {
        Ok(d) => Ok(now_ms - i64::try_from(d.as_millis()).unwrap_or(i64::MAX).min(now_ms)),
        Err(_) => Err(SinceError(raw.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: i64 = 1000;
    const MIN: i64 = 60 * SEC;

    /// 2024-05-01 09:00 in Shanghai (UTC+8), epoch ms.
    fn nine() -> i64 {
        chrono::DateTime::parse_from_rfc3339("2024-05-01T09:00:00+08:00")
            .unwrap()
            .timestamp_millis()
    }

    fn row(dial: i64, disposition: &str) -> CdrRow {
        CdrRow {
            dial_ms: dial,
            answer_ms: None,
            connect_ms: None,
            end_ms: Some(dial + 20 * SEC),
            wrapup_end_ms: None,
            disposition: Some(disposition.into()),
            cpa_verdict: None,
            cpa_delay_ms: None,
        }
    }

    #[test]
    fn machine_verdicts_add_the_estimated_false_positives_to_the_abandon_figure() {
        let t = nine();
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let mut rows: Vec<CdrRow> = (0..9).map(|i| row(t + i * SEC, "completed")).collect();
        rows.push(row(t + 10 * SEC, "abandoned"));
        rows.extend((0..50).map(|i| {
            let mut r = row(t + (20 + i) * SEC, "machine");
            r.cpa_verdict = Some("machine".into());
            r
        }));
        // A machine the trunk reported (no analysis): a machine, but nobody outdial judged.
        rows.push(row(t + 75 * SEC, "machine"));
        // Voicemail an agent took and marked `machine`: connected, not a machine verdict.
        let mut marked = row(t + 80 * SEC, "machine");
        marked.connect_ms = Some(t + 90 * SEC);
        rows.push(marked);
        let r = report(&rows, None, tz, None).with_amd_false_positive(0.02);
        let total = r.total.unwrap();
        assert_eq!(
            (
                total.live_answers,
                total.abandoned,
                total.machines,
                total.machine_verdicts
            ),
            (10, 1, 51, 50)
        );
        assert!((total.estimated_amd_fp - 1.0).abs() < 1e-12);
        // (1 abandoned + 1 estimated) / (10 live + 1 estimated).
        let want = 2.0 / 11.0 * 100.0;
        assert!((total.abandon_with_fp_pct.unwrap() - want).abs() < 1e-9);
        assert!((total.abandon_pct.unwrap() - 10.0).abs() < 1e-9);
    }

    #[test]
    fn without_analysis_there_is_no_false_positive_estimate() {
        let t = nine();
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let mut rows: Vec<CdrRow> = (0..9).map(|i| row(t + i * SEC, "completed")).collect();
        rows.push(row(t + 10 * SEC, "abandoned"));
        rows.extend((0..50).map(|i| row(t + (20 + i) * SEC, "machine")));
        let total = report(&rows, None, tz, None)
            .with_amd_false_positive(0.02)
            .total
            .unwrap();
        assert_eq!((total.machines, total.analysed), (50, 0));
        assert_eq!(total.estimated_amd_fp, 0.0);
        assert_eq!(total.abandon_with_fp_pct, total.abandon_pct);
    }

    /// The scenario worked out by hand in the comments below.
    fn rows() -> Vec<CdrRow> {
        let t = nine();
        vec![
            row(t + 5 * MIN, "busy"),
            // Connected after a 2 s wait, talks 5 min, wraps 30 s: busy 330 s in hour 09.
            CdrRow {
                answer_ms: Some(t + 10 * MIN + 10 * SEC),
                connect_ms: Some(t + 10 * MIN + 12 * SEC),
                end_ms: Some(t + 15 * MIN + 12 * SEC),
                wrapup_end_ms: Some(t + 15 * MIN + 42 * SEC),
                ..row(t + 10 * MIN, "completed")
            },
            CdrRow {
                answer_ms: Some(t + 20 * MIN + 5 * SEC),
                end_ms: Some(t + 20 * MIN + 7 * SEC),
                ..row(t + 20 * MIN, "abandoned")
            },
            // Waits 4 s, busy 09:55:14 → 10:05:00 with no wrap-up end: 286 s + 300 s.
            CdrRow {
                answer_ms: Some(t + 55 * MIN + 10 * SEC),
                connect_ms: Some(t + 55 * MIN + 14 * SEC),
                end_ms: Some(t + 65 * MIN),
                ..row(t + 55 * MIN, "connected")
            },
            row(t + 150 * MIN, "no_answer"),
        ]
    }

    /// Agent 1 staffed 09:00–12:00, agent 2 09:30–10:30.
    fn sessions() -> Vec<StaffedInterval> {
        let t = nine();
        vec![
            StaffedInterval {
                start_ms: t,
                end_ms: t + 180 * MIN,
            },
            StaffedInterval {
                start_ms: t + 30 * MIN,
                end_ms: t + 90 * MIN,
            },
        ]
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn hourly_figures() {
        let s = sessions();
        let h = hourly(&rows(), Some(&s), Tz::Asia__Shanghai, None);
        let labels: Vec<&str> = h.iter().map(|r| r.hour.as_str()).collect();
        assert_eq!(
            labels,
            ["2024-05-01 09:00", "2024-05-01 10:00", "2024-05-01 11:00"]
        );
        assert_eq!(
            (h[0].attempts, h[0].live_answers, h[0].abandoned),
            (4, 3, 1)
        );
        assert!(close(h[0].abandon_pct, 100.0 / 3.0));
        assert!(close(h[0].mean_wait_s, 3.0));
        assert!(close(h[0].occupancy, 616.0 / 5400.0));
        // Hour 10: no dial, but the call of 09:55 is still busy until 10:05.
        assert_eq!(
            (h[1].attempts, h[1].abandon_pct, h[1].mean_wait_s),
            (0, None, None)
        );
        assert!(close(h[1].occupancy, 300.0 / 5400.0));
        assert_eq!(h[2].attempts, 1);
        assert!(close(h[2].occupancy, 0.0));
        assert_eq!(h[0].hour_start_ms, nine());
    }

    #[test]
    fn total_row() {
        let s = sessions();
        let r = report(&rows(), Some(&s), Tz::Asia__Shanghai, None);
        let t = r.total.unwrap();
        assert_eq!((t.attempts, t.live_answers, t.abandoned), (5, 3, 1));
        assert!(close(t.occupancy, 916.0 / 14400.0));
        assert_eq!(t.hour, "2024-05-01 09:00 to 2024-05-01 12:00");
    }

    #[test]
    fn since_filters_calls_and_clips_sessions() {
        let s = sessions();
        let h = hourly(
            &rows(),
            Some(&s),
            Tz::Asia__Shanghai,
            Some(nine() + 15 * MIN),
        );
        assert_eq!(
            (h[0].attempts, h[0].live_answers, h[0].abandoned),
            (2, 2, 1)
        );
        assert!(close(h[0].occupancy, 286.0 / 4500.0));
        assert!(close(h[0].mean_wait_s, 4.0));
    }

    #[test]
    fn occupancy_is_null_without_sessions() {
        let h = hourly(&rows(), None, Tz::Asia__Shanghai, None);
        assert!(h.iter().all(|r| r.occupancy.is_none()));
        assert!(hourly(&[], None, Tz::UTC, None).is_empty());
        assert_eq!(report(&[], None, Tz::UTC, None).total, None);
    }

    #[test]
    fn open_attempts_count_as_attempts_only_until_connected() {
        let t = nine();
        let ringing = CdrRow {
            disposition: None,
            end_ms: None,
            ..row(t, "")
        };
        let talking = CdrRow {
            answer_ms: Some(t + 10 * SEC),
            connect_ms: Some(t + 11 * SEC),
            ..ringing.clone()
        };
        let h = hourly(&[ringing, talking], None, Tz::Asia__Shanghai, None);
        assert_eq!(
            (h[0].attempts, h[0].live_answers, h[0].abandoned),
            (2, 1, 0)
        );
        assert!(close(h[0].mean_wait_s, 1.0));
    }

    #[test]
    fn local_hours_in_half_hour_zones() {
        // 10:45 UTC is 16:15 in Kolkata (UTC+5:30): the local hour starts at 10:30 UTC.
        let t = chrono::DateTime::parse_from_rfc3339("2024-05-01T10:45:00Z")
            .unwrap()
            .timestamp_millis();
        let h = hourly(&[row(t, "busy")], None, Tz::Asia__Kolkata, None);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].hour, "2024-05-01 16:00");
        assert_eq!(h[0].hour_start_ms, t - 15 * MIN);
    }

    #[test]
    fn inbound_calls_count_in_their_arrival_hour_and_their_talk_is_busy_time() {
        let t = nine();
        let inbound = [
            // Taken after 10 s, talks 09:59:10 → 10:00:50: 50 s busy in each hour.
            InboundRow {
                arrive_ms: t + 59 * MIN,
                connect_ms: Some(t + 59 * MIN + 10 * SEC),
                end_ms: t + 60 * MIN + 50 * SEC,
            },
            // The caller hung up in the queue.
            InboundRow {
                arrive_ms: t + 30 * MIN,
                connect_ms: None,
                end_ms: t + 30 * MIN + 5 * SEC,
            },
        ];
        let staffed = [StaffedInterval {
            start_ms: t,
            end_ms: t + 120 * MIN,
        }];
        let r = report_blended(&[], &inbound, Some(&staffed), Tz::Asia__Shanghai, None);
        assert_eq!(r.hours.len(), 2);
        let (nine_h, ten_h) = (&r.hours[0], &r.hours[1]);
        assert_eq!((nine_h.inbound_calls, nine_h.inbound_connected), (2, 1));
        assert_eq!((ten_h.inbound_calls, ten_h.attempts), (0, 0));
        assert!(close(nine_h.occupancy, 50.0 / 3600.0));
        assert!(close(ten_h.occupancy, 50.0 / 3600.0));
        let total = r.total.expect("total");
        assert_eq!((total.inbound_calls, total.inbound_connected), (2, 1));
        // Without inbound rows the report is the outbound one.
        assert_eq!(
            report(&rows(), None, Tz::Asia__Shanghai, None),
            report_blended(&rows(), &[], None, Tz::Asia__Shanghai, None)
        );
    }

    #[test]
    fn since_values() {
        let now = 10 * 86_400_000;
        assert_eq!(parse_since("24h", now), Ok(now - 86_400_000));
        assert_eq!(parse_since("2024-05-01T09:00:00+08:00", now), Ok(nine()));
        assert!(parse_since("yesterday-ish", now).is_err());
    }
}
