//! Calling windows in the callee's local time: one open interval per weekday (or closed), plus
//! holidays on which nobody is called. Also the local-day arithmetic the per-day attempt cap needs.
//! Pure functions of (time zone, instant): no clock is read here.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Why a day's window text was refused; the campaign loader shows it after the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// Neither `HH:MM-HH:MM` nor `closed` (the text as given).
    #[error("expected \"HH:MM-HH:MM\" or \"closed\", got {0:?}")]
    Shape(String),
    /// A time that is not `HH:MM` within 00:00–24:00.
    #[error("invalid time {0:?} (write HH:MM, 00:00 to 24:00)")]
    Time(String),
    /// The end is not after the start.
    #[error("window ends ({end}) before it starts ({start})")]
    EndsBeforeStart {
        /// End as written.
        end: String,
        /// Start as written.
        start: String,
    },
}

/// Open interval of one day, in minutes after local midnight: `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayWindow {
    /// First minute at which calls may be placed.
    pub start: u16,
    /// Minute from which no call may be placed (1440 = midnight at the end of the day).
    pub end: u16,
}

impl DayWindow {
    /// Parses `"08:00-21:00"`; `Ok(None)` for `"closed"`. Errors are messages for the YAML loader.
    pub fn parse(text: &str) -> Result<Option<DayWindow>, WindowError> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("closed") {
            return Ok(None);
        }
        let (a, b) = text
            .split_once('-')
            .ok_or_else(|| WindowError::Shape(text.to_string()))?;
        let start = parse_hhmm(a.trim())?;
        let end = parse_hhmm(b.trim())?;
        if end <= start {
            return Err(WindowError::EndsBeforeStart {
                end: b.trim().to_string(),
                start: a.trim().to_string(),
            });
        }
        Ok(Some(DayWindow { start, end }))
    }
}

fn parse_hhmm(s: &str) -> Result<u16, WindowError> {
    let bad = || WindowError::Time(s.to_string());
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn fmt_hhmm(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// When a campaign may call, in the callee's local time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallingWindow {
    /// Monday first; `None` = closed all day.
    pub days: [Option<DayWindow>; 7],
    /// Local dates on which nobody is called.
    pub holidays: BTreeSet<NaiveDate>,
}

impl Default for CallingWindow {
    /// 08:00–21:00 every day, no holidays.
    fn default() -> Self {
        let day = Some(DayWindow {
            start: 8 * 60,
            end: 21 * 60,
        });
        CallingWindow {
            days: [day; 7],
            holidays: BTreeSet::new(),
        }
    }
}

impl CallingWindow {
    /// Whether a callee in `tz` may be called at `now_ms` (epoch milliseconds UTC).
    pub fn is_open(&self, tz: Tz, now_ms: i64) -> bool {
        let Some(utc) = Utc.timestamp_millis_opt(now_ms).single() else {
            return false;
        };
        let local = utc.with_timezone(&tz);
        if self.holidays.contains(&local.date_naive()) {
            return false;
        }
        let Some(day) = self.days[local.weekday().num_days_from_monday() as usize] else {
            return false;
        };
        let minute = (local.hour() * 60 + local.minute()) as u16;
        day.start <= minute && minute < day.end
    }

    /// Human form of one day's window (`"08:00-21:00"` or `"closed"`).
    pub fn describe_day(&self, weekday: usize) -> String {
        match self.days.get(weekday).copied().flatten() {
            Some(d) => format!("{}-{}", fmt_hhmm(d.start), fmt_hhmm(d.end)),
            None => "closed".to_string(),
        }
    }
}

/// The callee-local date at `ms` as `yyyymmdd` (the key of the per-day attempt counter).
pub fn local_day(tz: Tz, ms: i64) -> i64 {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(utc) => {
            let d = utc.with_timezone(&tz).date_naive();
            d.year() as i64 * 10_000 + d.month() as i64 * 100 + d.day() as i64
        }
        None => 0,
    }
}

/// The first instant (epoch ms) of the callee-local day after the one containing `ms`.
pub fn next_local_midnight(tz: Tz, ms: i64) -> i64 {
    let Some(utc) = Utc.timestamp_millis_opt(ms).single() else {
        return ms + 86_400_000;
    };
    let date = utc.with_timezone(&tz).date_naive();
    let Some(next) = date.succ_opt() else {
        return ms + 86_400_000;
    };
    // Midnight may be skipped by a DST change in a few zones: try the following hours.
    for hour in 0..4 {
        if let Some(t) = next
            .and_hms_opt(hour, 0, 0)
            .and_then(|naive| tz.from_local_datetime(&naive).earliest())
        {
            return t.timestamp_millis();
        }
    }
    ms + 86_400_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn parse_windows() {
        assert_eq!(
            DayWindow::parse("08:30-20:00").unwrap(),
            Some(DayWindow {
                start: 510,
                end: 1200
            })
        );
        assert_eq!(DayWindow::parse("closed").unwrap(), None);
        assert!(DayWindow::parse("21:00-08:00")
            .unwrap_err()
            .to_string()
            .contains("before it starts"));
        assert!(DayWindow::parse("25:00-26:00").is_err());
        assert!(DayWindow::parse("nine to five").is_err());
    }

    #[test]
    fn open_in_local_time() {
        let w = CallingWindow::default();
        let sh = chrono_tz::Asia::Shanghai;
        let ny = chrono_tz::America::New_York;
        // 2026-03-04 09:00 in Shanghai is 2026-03-03 20:00 in New York (EST, UTC-5).
        let t = ms(sh, 2026, 3, 4, 9, 0);
        assert!(w.is_open(sh, t));
        assert!(w.is_open(ny, t));
        // One hour later New York is at 21:00: closed.
        assert!(!w.is_open(ny, t + 3_600_000));
        assert!(w.is_open(sh, t + 3_600_000));
        // 07:59 Shanghai closed, 08:00 open, 20:59 open, 21:00 closed.
        assert!(!w.is_open(sh, ms(sh, 2026, 3, 4, 7, 59)));
        assert!(w.is_open(sh, ms(sh, 2026, 3, 4, 8, 0)));
        assert!(w.is_open(sh, ms(sh, 2026, 3, 4, 20, 59)));
        assert!(!w.is_open(sh, ms(sh, 2026, 3, 4, 21, 0)));
    }

    #[test]
    fn holidays_and_closed_days() {
        let sh = chrono_tz::Asia::Shanghai;
        let mut w = CallingWindow::default();
        w.days[6] = None; // Sunday
        w.holidays
            .insert(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap());
        assert!(!w.is_open(sh, ms(sh, 2026, 10, 1, 10, 0)));
        assert!(w.is_open(sh, ms(sh, 2026, 10, 2, 10, 0)));
        assert!(!w.is_open(sh, ms(sh, 2026, 3, 8, 10, 0))); // a Sunday
    }

    #[test]
    fn local_days() {
        let sh = chrono_tz::Asia::Shanghai;
        let t = ms(sh, 2026, 3, 4, 23, 30);
        assert_eq!(local_day(sh, t), 20260304);
        assert_eq!(next_local_midnight(sh, t), ms(sh, 2026, 3, 5, 0, 0));
        assert_eq!(local_day(chrono_tz::UTC, t), 20260304);
    }
}
