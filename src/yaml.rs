//! Shared YAML loading for campaign, scenario and engine config files: errors name the file, the
//! line and the field, and durations are written the way people say them (`500ms`, `2s`, `3m`, `8h`).
//! Owns no domain rules; each config type validates its own values and reports them through
//! [`YamlError::invalid`].

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A config file that could not be read, parsed or validated.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    /// The file could not be read.
    // Not a `source`: the message already says it, and the binary prints the chain of causes.
    #[error("{file}: cannot read: {error}")]
    Read {
        /// The file named by the user.
        file: String,
        /// What the OS said.
        error: std::io::Error,
    },
    /// The YAML is malformed, has an unknown key or a value of the wrong type.
    #[error("{file}:{line}: {field}: {message}")]
    Parse {
        /// The file named by the user.
        file: String,
        /// 1-based line number (0 when unknown).
        line: usize,
        /// Dotted path of the offending field (`.` for the document).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A value parsed but breaks a rule (a window that ends before it starts, say).
    #[error("{file}:{line}: {field}: {message}")]
    Invalid {
        /// The file named by the user.
        file: String,
        /// 1-based line number of the field (0 when the field is absent from the file).
        line: usize,
        /// Dotted path of the offending field.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl YamlError {
    /// A rule violation on `field` (dotted path), with the line looked up in `text`.
    pub fn invalid(file: &str, text: &str, field: &str, message: impl Into<String>) -> Self {
        YamlError::Invalid {
            file: file.to_string(),
            line: line_of_key(text, field).unwrap_or(0),
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// Deepest nesting of flow collections (`[`, `{`) and block levels accepted in a config file.
/// Real files nest four or five levels; the parser takes seconds on tens of thousands.
pub const MAX_DEPTH: usize = 64;

/// Longest config file accepted, in bytes (the shipped ones are a few KiB).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Longest duration any config value may hold: 3650 days. Each field has its own, tighter bound
/// (see [`check_dur`]); this one keeps every duration far from the overflow of clock arithmetic.
pub const MAX_DURATION: Duration = Duration::from_secs(3650 * 86_400);

/// Reads `path` as UTF-8 text, naming the line of the first invalid byte.
pub fn read(path: &Path) -> Result<String, YamlError> {
    let file = path.display().to_string();
    let read_err = |error| YamlError::Read {
        file: file.clone(),
        error,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.is_file() && meta.len() > MAX_FILE_BYTES {
        return Err(YamlError::Parse {
            file,
            line: 0,
            field: ".".into(),
            message: format!(
                "the file is {} bytes, over the {MAX_FILE_BYTES}-byte limit",
                meta.len()
            ),
        });
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
        let col = 1 + at
            - bytes[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
        YamlError::Parse {
            file,
            line,
            field: ".".into(),
            message: format!("invalid UTF-8 at column {col}"),
        }
    })
}

/// Reads and parses `path` into `T`, turning serde errors into file/line/field messages.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<(T, String), YamlError> {
    let file = path.display().to_string();
    let text = read(path)?;
    let value = parse(&file, &text)?;
    Ok((value, text))
}

/// Refuses text nested deeper than [`MAX_DEPTH`] before the YAML parser sees it (it slows down
/// sharply on deep nesting). Counts open flow brackets outside quotes and comments, plus block
/// levels (`- ` items and indentation steps); over-counts a plain scalar holding an unmatched
/// bracket, which is harmless at this limit.
fn check_depth(file: &str, text: &str) -> Result<(), YamlError> {
    let mut flow = 0usize;
    for (n, line) in text.lines().enumerate() {
        // Block depth: every two columns of indentation and every `- ` item marker can open a
        // level (a bound, not an exact count).
        let mut rest = line;
        let mut columns = 0usize;
        loop {
            if let Some(r) = rest.strip_prefix("- ") {
                (columns, rest) = (columns + 2, r);
            } else if let Some(r) = rest.strip_prefix(' ') {
                (columns, rest) = (columns + 1, r);
            } else {
                break;
            }
        }
        let block = columns.div_ceil(2);
        let trimmed = rest;
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        for c in trimmed.chars() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '\'' | '"' if prev.is_whitespace() || "[{,:".contains(prev) => quote = Some(c),
                    '#' if prev.is_whitespace() => break,
                    '[' | '{' => flow += 1,
                    ']' | '}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            prev = c;
            if flow + block > MAX_DEPTH {
                break;
            }
        }
        if flow + block > MAX_DEPTH {
            return Err(YamlError::Parse {
                file: file.to_string(),
                line: n + 1,
                field: ".".into(),
                message: format!("nested deeper than {MAX_DEPTH} levels"),
            });
        }
    }
    Ok(())
}

/// Checks that `value` of `field` lies in `min..=max`, with a message naming the bound.
pub fn check_dur(
    field: &str,
    value: Dur,
    min: Duration,
    max: Duration,
) -> Result<(), (String, String)> {
    if value.0 < min {
        let what = if min == Duration::from_millis(1) {
            "must be above 0".to_string()
        } else {
            format!("{value} is under the minimum of {}", Dur(min))
        };
        return Err((field.to_string(), what));
    }
    if value.0 > max {
        return Err((
            field.to_string(),
            format!("{value} is over the maximum of {}", Dur(max)),
        ));
    }
    Ok(())
}

/// Checks that the count `value` of `field` lies in `min..=max`.
pub fn check_count(field: &str, value: u64, min: u64, max: u64) -> Result<(), (String, String)> {
    if value < min || value > max {
        return Err((
            field.to_string(),
            format!("{value} is out of range: give {min} to {max}"),
        ));
    }
    Ok(())
}

/// Checks that every parameter of the distribution `value` of `field` (mean, sd, min, max) is at
/// most `max`, so that its samples stay within clock arithmetic and memory.
pub fn check_dist(
    field: &str,
    value: &crate::pacing::dist::Dist,
    max: Duration,
) -> Result<(), (String, String)> {
    use crate::pacing::dist::Dist;
    let params = match value {
        Dist::Constant { mean } | Dist::Exponential { mean } => [*mean, 0.0],
        Dist::LogNormal { mean, sd, .. } => [*mean, *sd],
        Dist::Uniform { min, max } => [*min, *max],
    };
    if params
        .iter()
        .any(|p| !(p.is_finite() && *p <= max.as_secs_f64()))
    {
        return Err((
            field.to_string(),
            format!("every parameter must be at most {}", Dur(max)),
        ));
    }
    Ok(())
}

/// Parses `text` (named `file` in errors) into `T`.
pub fn parse<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, YamlError> {
    check_depth(file, text)?;
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let field = err.path().to_string();
        let inner = err.into_inner();
        let mut message = inner.to_string();
        // A value refused by its own type (a duration, a distribution) is reported by serde_yaml
        // at some enclosing node: the field's own line is better. Syntax errors keep theirs.
        let syntax = [
            "while parsing",
            "while scanning",
            "did not find",
            "recursion limit",
        ]
        .iter()
        .any(|m| message.contains(m));
        let by_key = (!syntax && field != ".")
            .then(|| line_of_key(text, &field))
            .flatten();
        let line = by_key
            .or_else(|| inner.location().map(|l| l.line()))
            .or_else(|| line_of_key(text, &field))
            .unwrap_or(0);
        // serde_yaml appends " at line N column M"; the line is already in front.
        if let Some(pos) = message.find(" at line ") {
            message.truncate(pos);
        }
        // serde_yaml also prefixes its own (shorter) path, "window: …"; the field is in front.
        if let Some((prefix, rest)) = message.split_once(": ") {
            if !prefix.contains(' ') && field.starts_with(prefix) {
                message = rest.to_string();
            }
        }
        YamlError::Parse {
            file: file.to_string(),
            line,
            field,
            message,
        }
    })
}

/// Finds the 1-based line on which the dotted key path (`window.monday.end`) is written, by
/// following indentation. Sequence indices (`strategies[2]`) are matched to the n-th `- ` item.
pub fn line_of_key(text: &str, path: &str) -> Option<usize> {
    let parts: Vec<&str> = path.split('.').filter(|p| !p.is_empty()).collect();
    let mut min_indent: isize = -1;
    let mut start = 0usize;
    let lines: Vec<&str> = text.lines().collect();
    let mut found = None;
    for part in parts {
        let (key, index) = match part.find('[') {
            Some(b) => (
                &part[..b],
                part[b + 1..].trim_end_matches(']').parse::<usize>().ok(),
            ),
            None => (part, None),
        };
        let mut hit = None;
        let mut level_indent: Option<isize> = None;
        let first = if min_indent < 0 { start } else { start + 1 };
        for (i, line) in lines.iter().enumerate().skip(first) {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = (line.len() - trimmed.len()) as isize;
            if indent <= min_indent {
                break;
            }
            // Only keys at this level count, not keys of nested mappings.
            if *level_indent.get_or_insert(indent) != indent {
                continue;
            }
            let bare = trimmed.trim_start_matches("- ");
            let quoted = format!("\"{key}\":");
            if bare.starts_with(&format!("{key}:")) || bare.starts_with(&quoted) {
                hit = Some((i, indent));
                break;
            }
        }
        let Some((i, indent)) = hit else {
            // A key inside a flow mapping (`inbound: {rate: 0}`) is on its parent's line.
            return found.filter(|&l: &usize| lines[l - 1].contains(&format!("{key}:")));
        };
        found = Some(i + 1);
        min_indent = indent;
        start = i;
        if let Some(n) = index {
            let mut count = 0;
            for (j, line) in lines.iter().enumerate().skip(i + 1) {
                let trimmed = line.trim_start();
                if trimmed.starts_with("- ") {
                    if count == n {
                        found = Some(j + 1);
                        start = j;
                        break;
                    }
                    count += 1;
                }
            }
        }
    }
    found
}

/// A duration written as `500ms`, `2s`, `3m`, `8h`, `30d` (humantime syntax) in config files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dur(pub Duration);

impl Dur {
    /// Seconds as a float.
    pub fn secs_f64(self) -> f64 {
        self.0.as_secs_f64()
    }
    /// Whole milliseconds.
    pub fn millis(self) -> i64 {
        self.0.as_millis() as i64
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl std::str::FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let d = humantime::parse_duration(s.trim())
            .map_err(|e| format!("invalid duration {s:?}: {e} (write e.g. 500ms, 2s, 3m, 8h)"))?;
        if d > MAX_DURATION {
            return Err(format!(
                "duration {s:?} is over the {}d that any duration may be",
                MAX_DURATION.as_secs() / 86_400
            ));
        }
        Ok(Dur(d))
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        end: Dur,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        name: String,
        window: Inner,
    }

    #[test]
    fn unknown_key_names_line_and_field() {
        let text = "name: x\nwindow:\n  end: 2s\n  bogus: 1\n";
        let err = parse::<Doc>("c.yaml", text).unwrap_err().to_string();
        assert!(
            err.starts_with("c.yaml:4: window.bogus: unknown field `bogus`"),
            "{err}"
        );
    }

    #[test]
    fn bad_duration_names_field() {
        let text = "name: x\nwindow:\n  end: soon\n";
        let err = parse::<Doc>("c.yaml", text).unwrap_err().to_string();
        assert!(
            err.contains("c.yaml:3: window.end: invalid duration"),
            "{err}"
        );
    }

    #[test]
    fn line_of_nested_key() {
        let text = "a: 1\nwindow:\n  start: 1\n  end: 2\nend: 3\n";
        assert_eq!(line_of_key(text, "window.end"), Some(4));
        assert_eq!(line_of_key(text, "end"), Some(5));
        assert_eq!(line_of_key(text, "missing"), None);
    }

    #[test]
    fn nesting_is_limited_before_parsing_and_quotes_comments_and_dash_lines_do_not_count() {
        let deep = format!("name: {}\n", "[".repeat(MAX_DEPTH + 1));
        let err = parse::<Doc>("c.yaml", &deep).unwrap_err().to_string();
        assert_eq!(err, "c.yaml:1: .: nested deeper than 64 levels");
        let deep = format!("name: x\nwindow:\n{}end: 2s\n", "- ".repeat(MAX_DEPTH + 1));
        let err = parse::<Doc>("c.yaml", &deep).unwrap_err().to_string();
        assert!(err.starts_with("c.yaml:3: .: nested deeper"), "{err}");
        // Brackets in quotes and comments, and a line of dashes, are not nesting.
        let text = format!(
            "# {}\nname: \"{}\"\nwindow:\n  end: 2s\n{}\n",
            "[".repeat(100),
            "{".repeat(100),
            "-".repeat(200)
        );
        assert!(check_depth("c.yaml", &text).is_ok());
    }

    #[test]
    fn durations_parse() {
        assert_eq!("500ms".parse::<Dur>().unwrap().millis(), 500);
        assert_eq!("8h".parse::<Dur>().unwrap().millis(), 8 * 3_600_000);
        assert!("2 parsecs".parse::<Dur>().is_err());
        assert_eq!("3650d".parse::<Dur>().unwrap().0, MAX_DURATION);
        let err = "3651d".parse::<Dur>().unwrap_err();
        assert!(err.contains("over the 3650d"), "{err}");
    }
}
