//! Scoring a classifier on a labelled corpus: labels (CSV `file,label[,onset_ms]`) against
//! `outdial cpa classify --json` results, giving the confusion matrix, recall per class, the rate
//! of people classified as anything but human, and decision times per class.
//!
//! Owns the two input formats and the figures; reads two files in [`score_files`] and nothing
//! else (no WAV, no classifier: the results are whatever the classifier printed).
//!
//! - Labels: a header line `file,label` (optionally `,onset_ms`), then one line per file. `label`
//!   is one of [`Verdict::NAMES`](super::Verdict::NAMES); `onset_ms`, when given, is where the
//!   labelled sound starts in the file (an announcement after some line noise), so its decision
//!   time can be counted from there too (issue 18 asks for announcements decided within
//!   [`ONSET_LIMIT_MS`] of their start).
//! - Results: `{"results": [{"file", "verdict", "decided_ms", "detail"}]}`; other fields in an
//!   entry are ignored, so the classifier may add some.
//! - Files are matched by name exactly as written in both (a leading `./` aside): run the
//!   classifier from the labels' folder with the names the labels use. A label without a result,
//!   or a result without a label, is an error naming it, since a silently smaller corpus would
//!   give flattering figures.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use super::{UnknownVerdict, VerdictClass};

/// Issue 18's limit for an announcement's decision, counted from the announcement's start.
pub const ONSET_LIMIT_MS: u32 = 1500;

/// Why the labels or results could not be scored. Every variant names the file, and the line or
/// entry, at fault.
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
    /// The labels CSV is malformed at a line.
    #[error("{path}:{line}: {reason}")]
    Labels {
        /// The labels file.
        path: String,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A label is not one of the seven verdict names.
    #[error("{path}:{line}: label: {source}")]
    Label {
        /// The labels file.
        path: String,
        /// 1-based line.
        line: u64,
        /// The name that was given.
        source: UnknownVerdict,
    },
    /// The same file is labelled twice.
    #[error("{path}:{line}: {file} is already labelled on line {first}")]
    DuplicateLabel {
        /// The labels file.
        path: String,
        /// The second line.
        line: u64,
        /// The file labelled twice.
        file: String,
        /// The first line.
        first: u64,
    },
    /// The labels file has no label at all.
    #[error("{path}: no labels (expected a header line `file,label` and one line per file)")]
    NoLabels {
        /// The labels file.
        path: String,
    },
    /// The results JSON does not have the expected shape.
    #[error("{path}: {reason}")]
    Results {
        /// The results file.
        path: String,
        /// What is wrong, with the JSON path of the field.
        reason: String,
    },
    /// A result's verdict is not one of the seven names.
    #[error("{path}: results[{index}] ({file}): verdict: {source}")]
    Verdict {
        /// The results file.
        path: String,
        /// Index of the entry.
        index: usize,
        /// The entry's file.
        file: String,
        /// The name that was given.
        source: UnknownVerdict,
    },
    /// The same file has two results.
    #[error("{path}: results[{index}]: {file} already has a result (results[{first}])")]
    DuplicateResult {
        /// The results file.
        path: String,
        /// Index of the second entry.
        index: usize,
        /// The file.
        file: String,
        /// Index of the first entry.
        first: usize,
    },
    /// A labelled file has no result.
    #[error("{labels}:{line}: {file} has no result in {results}{}", more_note(*.more))]
    NoResult {
        /// The labels file.
        labels: String,
        /// The label's line.
        line: u64,
        /// The file.
        file: String,
        /// The results file.
        results: String,
        /// How many more labels have no result.
        more: usize,
    },
    /// A result is for a file that has no label.
    #[error("{results}: results[{index}]: {file} has no label in {labels}{}", more_note(*.more))]
    Unlabelled {
        /// The results file.
        results: String,
        /// Index of the entry.
        index: usize,
        /// The file.
        file: String,
        /// The labels file.
        labels: String,
        /// How many more results have no label.
        more: usize,
    },
}

fn more_note(more: usize) -> String {
    if more == 0 {
        String::new()
    } else {
        format!(" (and {more} more)")
    }
}

/// One labelled file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// The file, as the labels name it.
    pub file: String,
    /// What it is.
    pub class: VerdictClass,
    /// Where the labelled sound starts in the file, when the labels say.
    pub onset_ms: Option<u32>,
    /// The label's line in the labels file (1-based).
    pub line: u64,
}

/// One result as `outdial cpa classify --json` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classified {
    /// The file, as given on the classifier's command line.
    pub file: String,
    /// The verdict's class.
    pub verdict: VerdictClass,
    /// When it was reached (ms of audio).
    pub decided_ms: u32,
    /// Why, as the classifier said.
    pub detail: String,
}

/// A labelled file with its result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The file.
    pub file: String,
    /// What it is.
    pub label: VerdictClass,
    /// What the classifier said.
    pub verdict: VerdictClass,
    /// When (ms from the start of the file).
    pub decided_ms: u32,
    /// Where the labelled sound starts, when known.
    pub onset_ms: Option<u32>,
    /// The classifier's reason.
    pub detail: String,
}

/// Decision times of the files of one label (whatever their verdict: the time a call of that
/// kind waits for its analysis).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecisionTimes {
    /// Files.
    pub n: usize,
    /// Mean, ms.
    pub mean_ms: f64,
    /// Sample standard deviation, ms (0 for one file).
    pub sd_ms: f64,
    /// 95th percentile (nearest rank), ms.
    pub p95_ms: u32,
    /// Longest, ms.
    pub max_ms: u32,
}

/// A classifier's figures on a corpus.
#[derive(Debug, Default)]
pub struct Scorecard {
    outcomes: Vec<Outcome>,
    /// `confusion[label][verdict]`, indexed by `VerdictClass as usize`.
    confusion: [[u32; 7]; 7],
}

/// Scores `results` (JSON from `outdial cpa classify --json`) against `labels` (CSV).
pub fn score_files(labels: &Path, results: &Path) -> Result<Scorecard, ScoreError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|source| ScoreError::Io {
            path: p.display().to_string(),
            source,
        })
    };
    let (lp, rp) = (labels.display().to_string(), results.display().to_string());
    let labels = parse_labels(&read(labels)?, &lp)?;
    let results = parse_results(&read(results)?, &rp)?;
    Scorecard::new(&labels, &results, &lp, &rp)
}

/// The file name both sides are matched on.
fn key(file: &str) -> &str {
    file.strip_prefix("./").unwrap_or(file)
}

/// Parses a labels CSV; `path` names it in errors.
pub fn parse_labels(text: &str, path: &str) -> Result<Vec<Label>, ScoreError> {
    let bad = |line: u64, reason: String| ScoreError::Labels {
        path: path.to_string(),
        line,
        reason,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = rdr
        .headers()
        .map_err(|e| bad(1, format!("header: {e}")))?
        .clone();
    let names: Vec<&str> = header.iter().collect();
    let with_onset = match names.as_slice() {
        ["file", "label"] => false,
        ["file", "label", "onset_ms"] => true,
        _ => {
            return Err(bad(
                1,
                format!(
                    "header is {:?}, expected `file,label` or `file,label,onset_ms`",
                    header.iter().collect::<Vec<_>>().join(",")
                ),
            ))
        }
    };
    let mut labels = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for record in rdr.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            bad(line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != names.len() {
            return Err(bad(
                line,
                format!("{} fields, expected {}", record.len(), names.len()),
            ));
        }
        let file = record.get(0).unwrap_or_default();
        if file.is_empty() {
            return Err(bad(line, "file: empty".to_string()));
        }
        let class = record
            .get(1)
            .unwrap_or_default()
            .parse::<VerdictClass>()
            .map_err(|source| ScoreError::Label {
                path: path.to_string(),
                line,
                source,
            })?;
        let onset_ms = match (with_onset, record.get(2).unwrap_or_default()) {
            (false, _) | (true, "") => None,
            (true, v) => Some(v.parse::<u32>().map_err(|e| {
                bad(
                    line,
                    format!("onset_ms: {v:?} is not a whole number of ms ({e})"),
                )
            })?),
        };
        if let Some(&first) = seen.get(key(file)) {
            return Err(ScoreError::DuplicateLabel {
                path: path.to_string(),
                line,
                file: file.to_string(),
                first,
            });
        }
        seen.insert(key(file).to_string(), line);
        labels.push(Label {
            file: file.to_string(),
            class,
            onset_ms,
            line,
        });
    }
    if labels.is_empty() {
        return Err(ScoreError::NoLabels {
            path: path.to_string(),
        });
    }
    Ok(labels)
}

#[derive(Deserialize)]
struct ResultsDoc {
    results: Vec<ResultEntry>,
}

#[derive(Deserialize)]
struct ResultEntry {
    file: String,
    verdict: String,
    decided_ms: u32,
    #[serde(default)]
    detail: String,
}

/// Parses `outdial cpa classify --json` output; `path` names it in errors.
pub fn parse_results(text: &str, path: &str) -> Result<Vec<Classified>, ScoreError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let doc: ResultsDoc = serde_path_to_error::deserialize(de).map_err(|e| {
        let at = e.path().to_string();
        let inner = e.into_inner();
        ScoreError::Results {
            path: path.to_string(),
            reason: format!("{at}: {inner}"),
        }
    })?;
    let mut out: Vec<Classified> = Vec::with_capacity(doc.results.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, r) in doc.results.into_iter().enumerate() {
        let verdict = r
            .verdict
            .parse::<VerdictClass>()
            .map_err(|source| ScoreError::Verdict {
                path: path.to_string(),
                index,
                file: r.file.clone(),
                source,
            })?;
        if let Some(&first) = seen.get(key(&r.file)) {
            return Err(ScoreError::DuplicateResult {
                path: path.to_string(),
                index,
                file: r.file,
                first,
            });
        }
        seen.insert(key(&r.file).to_string(), index);
        out.push(Classified {
            file: r.file,
            verdict,
            decided_ms: r.decided_ms,
            detail: r.detail,
        });
    }
    Ok(out)
}

impl Scorecard {
    /// Matches `results` to `labels` by file (`labels_path`/`results_path` name them in errors).
    pub fn new(
        labels: &[Label],
        results: &[Classified],
        labels_path: &str,
        results_path: &str,
    ) -> Result<Scorecard, ScoreError> {
        let by_file: HashMap<&str, (usize, &Classified)> = results
            .iter()
            .enumerate()
            .map(|(i, r)| (key(&r.file), (i, r)))
            .collect();
        let missing: Vec<&Label> = labels
            .iter()
            .filter(|l| !by_file.contains_key(key(&l.file)))
            .collect();
        if let Some(first) = missing.first() {
            return Err(ScoreError::NoResult {
                labels: labels_path.to_string(),
                line: first.line,
                file: first.file.clone(),
                results: results_path.to_string(),
                more: missing.len() - 1,
            });
        }
        let labelled: std::collections::HashSet<&str> =
            labels.iter().map(|l| key(&l.file)).collect();
        let extra: Vec<(usize, &Classified)> = results
            .iter()
            .enumerate()
            .filter(|(_, r)| !labelled.contains(key(&r.file)))
            .collect();
        if let Some((index, first)) = extra.first() {
            return Err(ScoreError::Unlabelled {
                results: results_path.to_string(),
                index: *index,
                file: first.file.clone(),
                labels: labels_path.to_string(),
                more: extra.len() - 1,
            });
        }
        let outcomes = labels
            .iter()
            .filter_map(|l| {
                by_file.get(key(&l.file)).map(|(_, r)| Outcome {
                    file: l.file.clone(),
                    label: l.class,
                    verdict: r.verdict,
                    decided_ms: r.decided_ms,
                    onset_ms: l.onset_ms,
                    detail: r.detail.clone(),
                })
            })
            .collect();
        Ok(Scorecard::from_outcomes(outcomes))
    }

    /// A scorecard of already matched outcomes.
    pub fn from_outcomes(outcomes: Vec<Outcome>) -> Scorecard {
        let mut confusion = [[0u32; 7]; 7];
        for o in &outcomes {
            confusion[o.label as usize][o.verdict as usize] += 1;
        }
        Scorecard {
            outcomes,
            confusion,
        }
    }

    /// Every labelled file with its result, in the labels' order.
    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// Files labelled `label` that the classifier called `verdict`.
    pub fn confusion(&self, label: VerdictClass, verdict: VerdictClass) -> u32 {
        self.confusion[label as usize][verdict as usize]
    }

    /// Files labelled `label`.
    pub fn count(&self, label: VerdictClass) -> u32 {
        self.confusion[label as usize].iter().sum()
    }

    /// Files labelled `label` and classified so.
    pub fn correct(&self, label: VerdictClass) -> u32 {
        self.confusion(label, label)
    }

    /// Correct / labelled for `label`; `None` when no file has that label.
    pub fn recall(&self, label: VerdictClass) -> Option<f64> {
        let n = self.count(label);
        (n > 0).then(|| f64::from(self.correct(label)) / f64::from(n))
    }

    /// People classified as anything but human, and the people there were: the false-positive
    /// count Ofcom asks to be estimated.
    pub fn people_not_human(&self) -> (u32, u32) {
        let n = self.count(VerdictClass::Human);
        (n - self.correct(VerdictClass::Human), n)
    }

    /// People classified as neither human nor unsure (unsure connects by default): the people a
    /// default policy hangs up on, and the people there were.
    pub fn people_hung_up(&self) -> (u32, u32) {
        let (not_human, n) = self.people_not_human();
        (
            not_human - self.confusion(VerdictClass::Human, VerdictClass::Unsure),
            n,
        )
    }

    /// Decision times of the files labelled `label`; `None` when there is none.
    pub fn decision_times(&self, label: VerdictClass) -> Option<DecisionTimes> {
        let ms: Vec<u32> = self
            .outcomes
            .iter()
            .filter(|o| o.label == label)
            .map(|o| o.decided_ms)
            .collect();
        DecisionTimes::of(ms)
    }

    /// Files labelled `label` with an onset that were classified so within `limit_ms` of their
    /// onset, and the files labelled `label` with an onset.
    pub fn correct_within_onset(&self, label: VerdictClass, limit_ms: u32) -> (u32, u32) {
        let mut hit = 0;
        let mut n = 0;
        for o in self.outcomes.iter().filter(|o| o.label == label) {
            let Some(onset) = o.onset_ms else { continue };
            n += 1;
            if o.verdict == label && o.decided_ms <= onset.saturating_add(limit_ms) {
                hit += 1;
            }
        }
        (hit, n)
    }
}

impl DecisionTimes {
    /// The figures of `ms`; `None` when empty.
    pub fn of(mut ms: Vec<u32>) -> Option<DecisionTimes> {
        if ms.is_empty() {
            return None;
        }
        ms.sort_unstable();
        let n = ms.len();
        let mean = ms.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
        let var = if n > 1 {
            ms.iter()
                .map(|&v| (f64::from(v) - mean).powi(2))
                .sum::<f64>()
                / (n - 1) as f64
        } else {
            0.0
        };
        // Nearest rank: the smallest value with at least 95 % of the files at or below it.
        let rank = (0.95 * n as f64).ceil() as usize;
        Some(DecisionTimes {
            n,
            mean_ms: mean,
            sd_ms: var.sqrt(),
            p95_ms: ms[rank.clamp(1, n) - 1],
            max_ms: ms[n - 1],
        })
    }
}

impl fmt::Display for Scorecard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (not_human, people) = self.people_not_human();
        let (hung_up, _) = self.people_hung_up();
        writeln!(f, "files: {}", self.outcomes.len())?;
        if people > 0 {
            writeln!(
                f,
                "people classified as non-human: {not_human}/{people} ({:.1} %); \
                 of them hung up on (not unsure): {hung_up} ({:.1} %)",
                100.0 * f64::from(not_human) / f64::from(people),
                100.0 * f64::from(hung_up) / f64::from(people),
            )?;
        }
        writeln!(
            f,
            "confusion (rows: label, columns: verdict); decision times over every file of the label"
        )?;
        write!(f, "{:<13}", "label")?;
        for c in VerdictClass::ALL {
            write!(f, " {:>w$}", c.name(), w = c.name().len().max(5))?;
        }
        writeln!(
            f,
            " | {:>5} {:>6} {:>8} {:>7}",
            "n", "recall", "mean ms", "p95 ms"
        )?;
        for label in VerdictClass::ALL {
            let n = self.count(label);
            if n == 0 {
                continue;
            }
            write!(f, "{:<13}", label.name())?;
            for v in VerdictClass::ALL {
                write!(
                    f,
                    " {:>w$}",
                    self.confusion(label, v),
                    w = v.name().len().max(5)
                )?;
            }
            let recall = self.recall(label).unwrap_or(0.0);
            match self.decision_times(label) {
                Some(t) => writeln!(
                    f,
                    " | {n:>5} {recall:>6.3} {:>8.0} {:>7}",
                    t.mean_ms, t.p95_ms
                )?,
                None => writeln!(f, " | {n:>5} {recall:>6.3}")?,
            }
        }
        for label in VerdictClass::ALL {
            let (hit, n) = self.correct_within_onset(label, ONSET_LIMIT_MS);
            if n > 0 {
                writeln!(
                    f,
                    "{}: {hit}/{n} ({:.1} %) correct within {ONSET_LIMIT_MS} ms of the sound's onset",
                    label.name(),
                    100.0 * f64::from(hit) / f64::from(n)
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABELS: &str = "file,label\n\
        p1.wav,human\n\
        p2.wav,human\n\
        p3.wav,human\n\
        p4.wav,human\n\
        m1.wav,machine\n\
        m2.wav,machine\n\
        s1.wav,silence\n";

    fn result(file: &str, verdict: &str, ms: u32) -> String {
        format!(r#"{{"file":"{file}","verdict":"{verdict}","decided_ms":{ms},"detail":"x"}}"#)
    }

    fn results(entries: &[(&str, &str, u32)]) -> String {
        let body: Vec<String> = entries.iter().map(|(f, v, m)| result(f, v, *m)).collect();
        format!(r#"{{"results":[{}]}}"#, body.join(","))
    }

    fn card(labels: &str, res: &str) -> Result<Scorecard, ScoreError> {
        let l = parse_labels(labels, "labels.csv")?;
        let r = parse_results(res, "results.json")?;
        Scorecard::new(&l, &r, "labels.csv", "results.json")
    }

    fn sample() -> Scorecard {
        let res = results(&[
            ("p1.wav", "human", 700),
            ("./p2.wav", "human", 900),
            ("p3.wav", "machine", 2500),
            ("p4.wav", "unsure", 5000),
            ("m1.wav", "machine", 3000),
            ("m2.wav", "human", 1000),
            ("s1.wav", "silence", 4000),
        ]);
        card(LABELS, &res).expect("valid sample")
    }

    #[test]
    fn confusion_rows_are_labels_and_columns_verdicts() {
        let c = sample();
        assert_eq!(c.confusion(VerdictClass::Human, VerdictClass::Human), 2);
        assert_eq!(c.confusion(VerdictClass::Human, VerdictClass::Machine), 1);
        assert_eq!(c.confusion(VerdictClass::Human, VerdictClass::Unsure), 1);
        assert_eq!(c.confusion(VerdictClass::Machine, VerdictClass::Human), 1);
        assert_eq!(c.count(VerdictClass::Human), 4);
        assert_eq!(c.count(VerdictClass::Fax), 0);
        assert_eq!(c.recall(VerdictClass::Human), Some(0.5));
        assert_eq!(c.recall(VerdictClass::Machine), Some(0.5));
        assert_eq!(c.recall(VerdictClass::Silence), Some(1.0));
        assert_eq!(c.recall(VerdictClass::Fax), None);
    }

    #[test]
    fn people_not_human_counts_unsure_but_hung_up_does_not() {
        let c = sample();
        assert_eq!(c.people_not_human(), (2, 4));
        assert_eq!(c.people_hung_up(), (1, 4));
    }

    #[test]
    fn decision_times_cover_every_file_of_the_label() {
        let t = sample()
            .decision_times(VerdictClass::Human)
            .expect("people labelled");
        assert_eq!(t.n, 4);
        assert!((t.mean_ms - (700.0 + 900.0 + 2500.0 + 5000.0) / 4.0).abs() < 1e-9);
        assert_eq!(t.p95_ms, 5000);
        assert_eq!(t.max_ms, 5000);
    }

    #[test]
    fn p95_is_the_nearest_rank() {
        let t = DecisionTimes::of((1..=100).collect()).expect("non-empty");
        assert_eq!(t.p95_ms, 95);
        let t = DecisionTimes::of(vec![10, 20]).expect("non-empty");
        assert_eq!(t.p95_ms, 20);
        assert_eq!(
            DecisionTimes::of(vec![7]).map(|t| (t.p95_ms, t.sd_ms)),
            Some((7, 0.0))
        );
        assert!(DecisionTimes::of(vec![]).is_none());
    }

    #[test]
    fn onsets_count_announcements_decided_in_time() {
        let labels = "file,label,onset_ms\na1.wav,announcement,500\na2.wav,announcement,0\n\
                      a3.wav,announcement,\np.wav,human,\n";
        let res = results(&[
            ("a1.wav", "announcement", 1900),
            ("a2.wav", "announcement", 1600),
            ("a3.wav", "announcement", 900),
            ("p.wav", "human", 800),
        ]);
        let c = card(labels, &res).expect("valid");
        // a1 within 1400 of its onset, a2 100 ms late, a3 has no onset.
        assert_eq!(
            c.correct_within_onset(VerdictClass::Announcement, ONSET_LIMIT_MS),
            (1, 2)
        );
        let text = c.to_string();
        assert!(text.contains("announcement: 1/2 (50.0 %) correct within 1500 ms"));
    }

    #[test]
    fn display_shows_matrix_recall_false_positives_and_times() {
        let text = sample().to_string();
        assert!(text.contains("files: 7"), "{text}");
        assert!(
            text.contains("people classified as non-human: 2/4 (50.0 %)"),
            "{text}"
        );
        assert!(
            text.contains("hung up on (not unsure): 1 (25.0 %)"),
            "{text}"
        );
        let human_row = text
            .lines()
            .find(|l| l.starts_with("human "))
            .expect("a human row");
        let cells: Vec<&str> = human_row.split_whitespace().collect();
        // label, seven verdict counts, "|", n, recall, mean, p95.
        assert_eq!(
            cells,
            ["human", "2", "1", "0", "0", "0", "0", "1", "|", "4", "0.500", "2275", "5000"]
        );
        assert!(
            !text.lines().any(|l| l.starts_with("fax ")),
            "rows only for labels present: {text}"
        );
    }

    #[test]
    fn a_label_without_result_is_named_with_its_line() {
        let res = results(&[("p1.wav", "human", 700)]);
        let e = card(LABELS, &res).expect_err("missing results");
        assert_eq!(
            e.to_string(),
            "labels.csv:3: p2.wav has no result in results.json (and 5 more)"
        );
    }

    #[test]
    fn a_result_without_label_is_named() {
        let res = results(&[
            ("p1.wav", "human", 700),
            ("p2.wav", "human", 900),
            ("p3.wav", "machine", 2500),
            ("p4.wav", "unsure", 5000),
            ("m1.wav", "machine", 3000),
            ("m2.wav", "human", 1000),
            ("s1.wav", "silence", 4000),
            ("x.wav", "fax", 100),
        ]);
        let e = card(LABELS, &res).expect_err("extra result");
        assert_eq!(
            e.to_string(),
            "results.json: results[7]: x.wav has no label in labels.csv"
        );
    }

    #[test]
    fn bad_labels_name_file_and_line() {
        let cases = [
            ("file,verdict\na.wav,human\n", "labels.csv:1: header is"),
            (
                "file,label\na.wav,person\n",
                "labels.csv:2: label: unknown verdict \"person\"",
            ),
            (
                "file,label\na.wav,human\n./a.wav,machine\n",
                "labels.csv:3: ./a.wav is already labelled on line 2",
            ),
            ("file,label\na.wav\n", "labels.csv:2: 1 fields, expected 2"),
            ("file,label\n,human\n", "labels.csv:2: file: empty"),
            (
                "file,label,onset_ms\na.wav,human,soon\n",
                "labels.csv:2: onset_ms: \"soon\"",
            ),
            ("file,label\n", "labels.csv: no labels"),
            ("", "labels.csv:1: header is"),
        ];
        for (text, want) in cases {
            let e = parse_labels(text, "labels.csv").expect_err(text);
            assert!(e.to_string().starts_with(want), "{text:?}: got {e}");
        }
    }

    #[test]
    fn bad_results_name_file_and_field() {
        let cases = [
            ("not json", "results.json: .: expected"),
            (
                r#"{"files": []}"#,
                "results.json: .: missing field `results`",
            ),
            (
                r#"{"results":[{"file":"a.wav","verdict":"human","decided_ms":-1}]}"#,
                "results.json: results[0].decided_ms: invalid value",
            ),
            (
                r#"{"results":[{"file":"a.wav","verdict":"person","decided_ms":1}]}"#,
                "results.json: results[0] (a.wav): verdict: unknown verdict \"person\"",
            ),
            (
                r#"{"results":[{"file":"a.wav","verdict":"human","decided_ms":1},{"file":"a.wav","verdict":"human","decided_ms":2}]}"#,
                "results.json: results[1]: a.wav already has a result (results[0])",
            ),
        ];
        for (text, want) in cases {
            let e = parse_results(text, "results.json").expect_err(text);
            assert!(e.to_string().starts_with(want), "{text:?}: got {e}");
        }
    }

    #[test]
    fn extra_result_fields_and_missing_detail_are_accepted() {
        let r = parse_results(
            r#"{"results":[{"file":"a.wav","verdict":"machine","decided_ms":3000,"beep_ms":5200}]}"#,
            "r.json",
        )
        .expect("valid");
        assert_eq!(r[0].verdict, VerdictClass::Machine);
        assert_eq!(r[0].detail, "");
    }

    #[test]
    fn score_files_names_an_unreadable_file() {
        let e = score_files(
            Path::new("/nonexistent/labels.csv"),
            Path::new("/nonexistent/r.json"),
        )
        .expect_err("no such file");
        assert!(
            e.to_string().starts_with("/nonexistent/labels.csv: "),
            "{e}"
        );
    }
}
