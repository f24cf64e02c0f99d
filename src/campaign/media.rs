//! A campaign's media settings: its own safe-harbour message (`abandon_message: FILE.wav`,
//! converted to 8 kHz when the file is applied and stored with the definition, so every engine
//! node plays the same audio without reading the file) and its recording policy
//! (`recording: {mode, dir, retention}`). Owns the settings' shapes and checks; the audio
//! conversion is [`crate::media::wav`]; playing and recording are the media plane's.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::media::io::Prompt;
use crate::media::wav;
use crate::yaml::Dur;

/// The message played to an answered customer no agent takes within `patience`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbandonMessage {
    /// The file as the campaign names it (for people; the audio below is what plays).
    pub file: String,
    /// The converted audio: 8 kHz 16-bit little-endian mono, base64.
    pub pcm: String,
}

impl AbandonMessage {
    /// Loads `file` (relative paths from `base`, the campaign file's directory) and converts it.
    pub fn load(file: &str, base: &Path) -> Result<AbandonMessage, wav::WavError> {
        let path = base.join(file);
        let prompt = wav::load(&path)?;
        let bytes: Vec<u8> = prompt.0.iter().flat_map(|s| s.to_le_bytes()).collect();
        Ok(AbandonMessage {
            file: file.to_string(),
            pcm: B64.encode(bytes),
        })
    }

    /// The audio as a prompt (`None` if the stored text was tampered with).
    pub fn prompt(&self) -> Option<Prompt> {
        let bytes = B64.decode(&self.pcm).ok()?;
        let pcm: Vec<i16> = bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        (!pcm.is_empty()).then(|| Prompt(Arc::from(pcm)))
    }

    /// Its length in seconds.
    pub fn seconds(&self) -> f64 {
        // base64: 4 characters per 3 bytes, less the padding; 2 bytes a sample at 8 kHz.
        let pad = self.pcm.bytes().rev().take_while(|&b| b == b'=').count();
        let bytes = (self.pcm.len() / 4 * 3).saturating_sub(pad);
        (bytes / 2) as f64 / f64::from(wav::RATE)
    }
}

/// Which calls are recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingMode {
    /// Every answered call, from the answer (including abandoned calls and their safe-harbour
    /// message): what consumer lenders' compliance expects, and the default.
    #[default]
    All,
    /// Only calls an agent takes, from the bridge.
    Connected,
    /// None.
    None,
}

/// Shortest retention a CN campaign may set (MIIT: keep recordings at least 30 days).
pub const CN_MIN_RETENTION: Duration = Duration::from_secs(30 * 86_400);

/// Longest retention accepted (ten years).
pub const MAX_RETENTION: Duration = Duration::from_secs(10 * 365 * 86_400);

/// A campaign's recording policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingPolicy {
    /// Which calls.
    #[serde(default)]
    pub mode: RecordingMode,
    /// Where the files go (relative paths: from the engine's working directory); one
    /// sub-directory per campaign and day below it.
    #[serde(default = "default_dir")]
    pub dir: String,
    /// How long `outdial recordings purge` keeps them.
    #[serde(default = "thirty_days")]
    pub retention: Dur,
}

impl Default for RecordingPolicy {
    fn default() -> Self {
        RecordingPolicy {
            mode: RecordingMode::default(),
            dir: default_dir(),
            retention: thirty_days(),
        }
    }
}

fn default_dir() -> String {
    "recordings".into()
}

fn thirty_days() -> Dur {
    Dur(CN_MIN_RETENTION)
}

impl RecordingPolicy {
    /// Whether a call is recorded at the moment it is answered (`all`) — otherwise from the
    /// bridge to an agent (`connected`), or never (`none`).
    pub fn from_answer(&self) -> bool {
        self.mode == RecordingMode::All
    }

    /// Whether a call bridged to an agent is recorded.
    pub fn when_connected(&self) -> bool {
        self.mode != RecordingMode::None
    }

    /// Where call record `attempt` of `campaign`, dialled at `dial_ms` (epoch ms) to `phone`
    /// (E.164), is recorded: `<dir>/<campaign>/<YYYY-MM-DD UTC>/<attempt>-<digits>.wav`. One
    /// directory per campaign and day keeps directories small and purges cheap; the attempt id
    /// makes the name unique.
    pub fn path_for(&self, campaign: &str, dial_ms: i64, attempt: i64, phone: &str) -> PathBuf {
        let day = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(dial_ms)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| "unknown-day".into());
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        Path::new(&self.dir)
            .join(campaign)
            .join(day)
            .join(format!("{attempt}-{digits}.wav"))
    }

    /// Checks the policy for a campaign in `region`; `Err` names the field.
    pub fn check(&self, region: &str) -> Result<(), (&'static str, String)> {
        if self.dir.trim().is_empty() {
            return Err(("recording.dir", "dir must not be empty".into()));
        }
        let r = self.retention.0;
        if r < Duration::from_secs(86_400) || r > MAX_RETENTION {
            return Err((
                "recording.retention",
                format!(
                    "retention {} must be between 1d and 10years",
                    self.retention
                ),
            ));
        }
        if region == "CN" && r < CN_MIN_RETENTION {
            return Err((
                "recording.retention",
                format!(
                    "retention {} is under the 30 days CN rules ask recordings to be kept",
                    self.retention
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_call_gets_its_own_file_under_campaign_and_day() {
        let p = RecordingPolicy::default();
        // 2026-03-04 02:00 UTC.
        let path = p.path_for("welcome", 1_772_589_600_000, 42, "+8613800000001");
        assert_eq!(
            path,
            Path::new("recordings/welcome/2026-03-04/42-8613800000001.wav")
        );
        assert!(p.from_answer() && p.when_connected());
        let connected = RecordingPolicy {
            mode: RecordingMode::Connected,
            ..p.clone()
        };
        assert!(!connected.from_answer() && connected.when_connected());
        let none = RecordingPolicy {
            mode: RecordingMode::None,
            ..p
        };
        assert!(!none.from_answer() && !none.when_connected());
    }
}
