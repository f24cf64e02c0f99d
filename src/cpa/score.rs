//! Scoring a classifier on a labelled corpus: labels (CSV `file,label`) against
//! `outdial cpa classify --json` results, giving the confusion matrix, recall per class, the rate
//! of people classified as anything but human, and decision times per class.
//!
//! SKELETON (owned by the cpa-corpus branch): the signatures are the contract; bodies replaced.

use std::fmt;
use std::path::Path;

/// The labels or results could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A classifier's figures on a corpus.
#[derive(Debug, Default)]
pub struct Scorecard {}

/// Scores `results` (JSON from `outdial cpa classify --json`) against `labels` (CSV).
pub fn score_files(_labels: &Path, _results: &Path) -> Result<Scorecard, ScoreError> {
    todo!("cpa-corpus branch")
}

impl fmt::Display for Scorecard {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!("cpa-corpus branch")
    }
}
