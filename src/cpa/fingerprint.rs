//! Known recorded announcements, matched by spectral-peak landmarks (Wang, ISMIR 2003): pairs of
//! peaks hashed with their time gap, matched by the count of hashes agreeing on one offset, so a
//! match survives a different start offset, gain, G.711 and line noise.
//!
//! SKELETON (owned by the cpa-signals branch): the signatures are the contract; bodies replaced.

use std::path::Path;
use std::sync::Arc;

use super::FRAME;

/// A folder of reference recordings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// Reading the folder or a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The fingerprints of a set of reference announcements.
#[derive(Debug, Default)]
pub struct Library {}

impl Library {
    /// Every WAV under `dir` (recursively), named by its path relative to `dir` without the
    /// extension (e.g. `cmn/powered-off`).
    pub fn load_dir(_dir: &Path) -> Result<Library, LibraryError> {
        todo!("cpa-signals branch")
    }

    /// From named 8 kHz clips.
    pub fn from_clips(_clips: Vec<(String, Vec<i16>)>) -> Library {
        todo!("cpa-signals branch")
    }

    /// How many references.
    pub fn len(&self) -> usize {
        0
    }

    /// No references.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A reference recognised in a stream.
#[derive(Clone, Debug, PartialEq)]
pub struct AnnouncementMatch {
    /// The reference's name.
    pub name: String,
    /// Where in the reference the stream's first frame fell, ms (negative: before it began).
    pub offset_ms: i32,
    /// Landmark hashes agreeing on that offset.
    pub votes: u32,
}

/// Matches one stream against a [`Library`].
#[derive(Debug)]
pub struct Matcher {
    _library: Arc<Library>,
}

impl Matcher {
    /// A matcher at the start of a stream.
    pub fn new(library: Arc<Library>) -> Self {
        Matcher { _library: library }
    }

    /// 20 ms more audio; the match once one reference is recognised.
    pub fn push(&mut self, _frame: &[i16; FRAME]) -> Option<AnnouncementMatch> {
        todo!("cpa-signals branch")
    }
}
