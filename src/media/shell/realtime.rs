//! Real-time scheduling of the media workers (`SCHED_FIFO`, [`ShellConfig::realtime_priority`]):
//! the validated priority and the one call that puts the calling thread under it. Owns no
//! thread: the shell's worker threads call [`apply`] on themselves when they start; the
//! recording and analysis threads never do.
//!
//! [`ShellConfig::realtime_priority`]: super::ShellConfig::realtime_priority

use std::io;

/// A `SCHED_FIFO` priority, 1 to 99 (Linux's range; higher runs first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(try_from = "u32")]
pub struct RealtimePriority(u8);

/// A priority outside 1..=99.
#[derive(Debug, thiserror::Error)]
#[error("real-time priority {0} is out of range: give 1 to 99")]
pub struct RealtimePriorityError(pub u32);

impl RealtimePriority {
    /// Lowest and highest `SCHED_FIFO` priority on Linux.
    pub const RANGE: std::ops::RangeInclusive<u32> = 1..=99;

    /// The priority `value`, if Linux has it.
    pub fn new(value: u32) -> Result<Self, RealtimePriorityError> {
        if Self::RANGE.contains(&value) {
            // In 1..=99: fits a u8.
            u8::try_from(value)
                .map(RealtimePriority)
                .map_err(|_| RealtimePriorityError(value))
        } else {
            Err(RealtimePriorityError(value))
        }
    }

    /// The number.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u32> for RealtimePriority {
    type Error = RealtimePriorityError;
    fn try_from(value: u32) -> Result<Self, Self::Error> {
        RealtimePriority::new(value)
    }
}

impl std::fmt::Display for RealtimePriority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Puts the calling thread under `SCHED_FIFO` at `priority`; when the OS refuses (`EPERM`
/// without `CAP_SYS_NICE` or an `RLIMIT_RTPRIO` that high), logs a warning naming the setting
/// and leaves the thread as it was: the relay works, only without the priority.
pub(super) fn apply(priority: RealtimePriority) {
    if let Err(err) = set_fifo(priority) {
        tracing::warn!(
            %err,
            %priority,
            "media.realtime_priority: the OS refused SCHED_FIFO for a media worker; it runs \
             at the normal policy"
        );
    }
}

#[cfg(target_os = "linux")]
fn set_fifo(priority: RealtimePriority) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: i32::from(priority.get()),
    };
    // SAFETY: `sched_setscheduler` reads the `sched_param` we pass for the duration of the
    // call only; pid 0 is the calling thread (Linux schedules threads, not processes).
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn set_fifo(_priority: RealtimePriority) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "SCHED_FIFO for one thread is only done on Linux",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_outside_1_to_99_are_refused() {
        assert!(RealtimePriority::new(0).is_err());
        assert!(RealtimePriority::new(100).is_err());
        assert_eq!(RealtimePriority::new(1).unwrap().get(), 1);
        assert_eq!(RealtimePriority::new(99).unwrap().get(), 99);
    }
}
