//! The CSV call-list reader: header row, UTF-8 (a BOM is accepted), comma separator, quoted fields,
//! CRLF or LF. Rows with a bad phone, an over-long field or the wrong field count are rejected with
//! their physical line number (the header is line 1); errors that make the whole file unusable
//! ([`ListError`]: invalid UTF-8, a quote that never closes) stop the load. Owns no storage and
//! no duplicate/DNC logic (see the store).

use std::io::{BufRead, BufReader, Read};

use chrono_tz::Tz;
use phonenumber::country;

use super::phone::{parse_timezone, PhoneError};
use super::phone_cache::PhoneCache;

/// Longest field accepted, in bytes.
pub const MAX_FIELD_BYTES: usize = 4096;

/// A list that cannot be loaded at all: nothing from it may be stored.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The file could not be opened or read.
    // Not a `source`: the message already says it, and the binary prints the chain of causes.
    #[error("{file}: cannot read: {error}")]
    Io {
        /// The file named by the user (`<stdin>` for `-`).
        file: String,
        /// What the OS said.
        error: std::io::Error,
    },
    /// A line is not valid UTF-8.
    #[error("{file}:{line}: invalid UTF-8")]
    Utf8 {
        /// The file named by the user.
        file: String,
        /// Physical line number (header = 1).
        line: u64,
    },
    /// The file is empty (no header row).
    #[error("{file}: empty file: a header row with a `phone` column is required")]
    NoHeader {
        /// The file named by the user.
        file: String,
    },
    /// The header has no `phone` column.
    #[error("{file}:1: no `phone` column in the header")]
    NoPhoneColumn {
        /// The file named by the user.
        file: String,
    },
    /// A column name appears twice in the header.
    #[error("{file}:1: duplicate column {column:?} in the header")]
    DuplicateColumn {
        /// The file named by the user.
        file: String,
        /// The repeated name.
        column: String,
    },
    /// The CSV structure is broken beyond one row (e.g. an unterminated quote at end of file).
    #[error("{file}:{line}: malformed CSV: {message}")]
    Csv {
        /// The file named by the user.
        file: String,
        /// Physical line number where the problem was seen.
        line: u64,
        /// What the CSV parser said.
        message: String,
    },
}

/// A valid row, ready to become a lead.
#[derive(Clone, Debug, PartialEq)]
pub struct ListRow {
    /// Physical line number of the row.
    pub line: u64,
    /// The number in E.164 (`+` and digits).
    pub phone: String,
    /// Customer name, if given.
    pub name: Option<String>,
    /// The customer's id in the lender's systems, if given.
    pub external_id: Option<String>,
    /// IANA time zone of the callee (the campaign default when the column is absent or empty).
    pub timezone: String,
    /// Priority within the campaign (higher first; 0 by default).
    pub priority: i32,
    /// Tier label (sorted alphabetically: `A` before `B`); empty when not given.
    pub tier: String,
    /// Every other column as a JSON object (the agent's screen pop).
    pub attributes: String,
}

/// A rejected row: its line and why.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RowReject {
    /// Physical line number of the row.
    pub line: u64,
    /// Why it was rejected (one line).
    pub reason: String,
}

/// One step of reading a list.
#[derive(Clone, Debug, PartialEq)]
pub enum ListEvent {
    /// A valid row.
    Row(ListRow),
    /// A row that is skipped, with the reason.
    Reject(RowReject),
}

#[derive(Clone, Copy, PartialEq)]
enum Col {
    Phone,
    Name,
    ExternalId,
    Timezone,
    Priority,
    Tier,
    Attribute(usize),
}

/// Streams a CSV list row by row.
pub struct ListReader<R: Read> {
    file: String,
    csv: csv::Reader<QuoteTracker<BufReader<R>>>,
    columns: Vec<Col>,
    names: Vec<String>,
    phones: PhoneCache,
    default_tz: Tz,
    record: csv::ByteRecord,
    /// Data rows seen so far (valid or rejected).
    pub read: u64,
}

impl<R: Read> ListReader<R> {
    /// Reads the header of `input` (named `file` in errors). National numbers are read in
    /// `region`; rows without a time zone get `default_tz`.
    pub fn new(
        input: R,
        file: &str,
        region: country::Id,
        default_tz: Tz,
    ) -> Result<Self, ListError> {
        let mut buf = BufReader::with_capacity(1 << 16, input);
        let io = |error| ListError::Io {
            file: file.to_string(),
            error,
        };
        // Skip a UTF-8 byte-order mark.
        if buf.fill_buf().map_err(io)?.starts_with(b"\xEF\xBB\xBF") {
            buf.consume(3);
        }
        // Only LF ends a record: csv's line counter then matches physical lines for CRLF files
        // too; the CR left at the end of the last field is stripped in `field`.
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(QuoteTracker::new(buf));
        let mut header = csv::ByteRecord::new();
        let got = csv
            .read_byte_record(&mut header)
            .map_err(|e| csv_error(file, e))?;
        if !got {
            return Err(ListError::NoHeader {
                file: file.to_string(),
            });
        }
        let mut columns = Vec::with_capacity(header.len());
        let mut names = Vec::with_capacity(header.len());
        for i in 0..header.len() {
            let name = std::str::from_utf8(field(&header, i))
                .map_err(|_| ListError::Utf8 {
                    file: file.to_string(),
                    line: 1,
                })?
                .trim()
                .to_string();
            if names.contains(&name) {
                return Err(ListError::DuplicateColumn {
                    file: file.to_string(),
                    column: name,
                });
            }
            let col = match name.to_ascii_lowercase().as_str() {
                "phone" => Col::Phone,
                "name" => Col::Name,
                "external_id" => Col::ExternalId,
                "timezone" => Col::Timezone,
                "priority" => Col::Priority,
                "tier" => Col::Tier,
                _ => Col::Attribute(names.len()),
            };
            columns.push(col);
            names.push(name);
        }
        if !columns.contains(&Col::Phone) {
            return Err(ListError::NoPhoneColumn {
                file: file.to_string(),
            });
        }
        Ok(ListReader {
            file: file.to_string(),
            csv,
            columns,
            names,
            phones: PhoneCache::new(region),
            default_tz,
            record: csv::ByteRecord::new(),
            read: 0,
        })
    }

    /// The next row or reject; `Ok(None)` at end of file.
    pub fn next_event(&mut self) -> Result<Option<ListEvent>, ListError> {
        loop {
            let got = self
                .csv
                .read_byte_record(&mut self.record)
                .map_err(|e| csv_error(&self.file, e))?;
            // The csv crate ends a quoted field at end of file without complaint, so a stray
            // quote would swallow the rest of the file into one field: refuse the file instead.
            if let Some(opened) = self.csv.get_ref().unterminated() {
                return Err(ListError::Csv {
                    file: self.file.clone(),
                    line: opened,
                    message: "a quoted field opened on this line is never closed".into(),
                });
            }
            if !got {
                return Ok(None);
            }
            // A blank CRLF line reads as one field holding "\r": skip it like a blank LF line.
            if !(self.record.len() == 1 && field(&self.record, 0).is_empty()) {
                break;
            }
        }
        self.read += 1;
        let line = self.record.position().map(|p| p.line()).unwrap_or(0);
        // UTF-8 is checked on every field first: invalid UTF-8 is fatal wherever it appears.
        for i in 0..self.record.len() {
            if std::str::from_utf8(field(&self.record, i)).is_err() {
                return Err(ListError::Utf8 {
                    file: self.file.clone(),
                    line,
                });
            }
        }
        Ok(Some(match self.row(line) {
            Ok(row) => ListEvent::Row(row),
            Err(reason) => ListEvent::Reject(RowReject {
                line,
                reason: reason.to_string(),
            }),
        }))
    }

    fn row(&mut self, line: u64) -> Result<ListRow, RowError> {
        if self.record.len() != self.columns.len() {
            return Err(RowError::FieldCount {
                expected: self.columns.len(),
                found: self.record.len(),
            });
        }
        let mut row = ListRow {
            line,
            phone: String::new(),
            name: None,
            external_id: None,
            timezone: String::new(),
            priority: 0,
            tier: String::new(),
            attributes: String::from("{"),
        };
        let mut phone_raw = "";
        let mut tz: Option<Tz> = None;
        for (i, col) in self.columns.iter().enumerate() {
            let field = field(&self.record, i);
            if field.len() > MAX_FIELD_BYTES {
                return Err(RowError::FieldTooLong {
                    name: self.names[i].clone(),
                    bytes: field.len(),
                });
            }
            // Checked valid UTF-8 in next_event.
            let value = std::str::from_utf8(field).unwrap_or_default();
            let trimmed = value.trim();
            let non_empty = (!trimmed.is_empty()).then(|| trimmed.to_string());
            match col {
                Col::Phone => phone_raw = trimmed,
                Col::Name => row.name = non_empty,
                Col::ExternalId => row.external_id = non_empty,
                Col::Timezone => {
                    if !trimmed.is_empty() {
                        tz = Some(parse_timezone(trimmed)?);
                    }
                }
                Col::Priority => {
                    if !trimmed.is_empty() {
                        row.priority = trimmed
                            .parse()
                            .map_err(|_| RowError::Priority(trimmed.to_string()))?;
                    }
                }
                Col::Tier => row.tier = trimmed.to_string(),
                Col::Attribute(n) => {
                    if row.attributes.len() > 1 {
                        row.attributes.push(',');
                    }
                    push_json_str(&mut row.attributes, &self.names[*n]);
                    row.attributes.push(':');
                    push_json_str(&mut row.attributes, value);
                }
            }
        }
        row.attributes.push('}');
        row.phone = self.phones.normalize(phone_raw)?;
        row.timezone = tz.unwrap_or(self.default_tz).name().to_string();
        Ok(row)
    }
}

/// Why one row was rejected (the rest of the list loads); its message is the reject's `reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum RowError {
    /// Not as many fields as the header has columns.
    #[error("expected {expected} fields, found {found}")]
    FieldCount {
        /// Columns in the header.
        expected: usize,
        /// Fields in the row.
        found: usize,
    },
    /// A field over [`MAX_FIELD_BYTES`].
    #[error("field {name:?} is {bytes} bytes, over the {MAX_FIELD_BYTES}-byte limit")]
    FieldTooLong {
        /// Column name.
        name: String,
        /// Length of the field.
        bytes: usize,
    },
    /// A priority that is not an integer (the text as given).
    #[error("invalid priority {0:?}")]
    Priority(String),
    /// A bad time zone or phone number.
    #[error(transparent)]
    Phone(#[from] PhoneError),
}

/// The line on which a quoted field opens that never closes in `text` (CSV as the csv crate reads
/// it by default), if any: the csv crate would read the rest of the file into that one field.
pub fn unterminated_quote(text: &[u8]) -> Option<u64> {
    let mut t = QuoteTracker::new(std::io::empty());
    t.feed(text);
    t.eof = true;
    t.unterminated()
}

/// Follows the quoting state of the bytes the CSV reader pulls, with the csv crate's rules for
/// its default dialect: a `"` opens a quoted field only at the start of a field, `""` inside one
/// is a literal quote, and the next `"` closes it. At end of input it knows whether a quoted
/// field was left open, and on which physical line it opened.
struct QuoteTracker<R> {
    inner: R,
    state: QuoteState,
    line: u64,
    opened: u64,
    eof: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum QuoteState {
    FieldStart,
    Unquoted,
    Quoted,
    /// A `"` seen inside a quoted field: closes it, unless another `"` follows.
    QuoteInQuoted,
}

impl<R> QuoteTracker<R> {
    fn new(inner: R) -> Self {
        QuoteTracker {
            inner,
            state: QuoteState::FieldStart,
            line: 1,
            opened: 0,
            eof: false,
        }
    }

    /// At end of input with a quoted field still open: the line where it opened.
    fn unterminated(&self) -> Option<u64> {
        (self.eof && self.state == QuoteState::Quoted).then_some(self.opened)
    }

    fn feed(&mut self, bytes: &[u8]) {
        use QuoteState::*;
        for &b in bytes {
            self.state = match (self.state, b) {
                (Quoted, b'"') => QuoteInQuoted,
                (Quoted, _) => Quoted,
                (QuoteInQuoted, b'"') => Quoted,
                (FieldStart, b'"') => {
                    self.opened = self.line;
                    Quoted
                }
                (_, b',' | b'\n') => FieldStart,
                _ => Unquoted,
            };
            if b == b'\n' {
                self.line += 1;
            }
        }
    }
}

impl<R: Read> Read for QuoteTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.eof = true;
        }
        self.feed(&buf[..n]);
        Ok(n)
    }
}

/// Field `i` of `record`, without the CR a CRLF line end leaves on the last field.
fn field(record: &csv::ByteRecord, i: usize) -> &[u8] {
    let f = record.get(i).unwrap_or_default();
    if i + 1 == record.len() {
        f.strip_suffix(b"\r").unwrap_or(f)
    } else {
        f
    }
}

fn push_json_str(out: &mut String, s: &str) {
    // serde_json escaping of a &str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

fn csv_error(file: &str, e: csv::Error) -> ListError {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    match e.into_kind() {
        csv::ErrorKind::Io(error) => ListError::Io {
            file: file.to_string(),
            error,
        },
        kind => ListError::Csv {
            file: file.to_string(),
            line,
            message: format!("{kind:?}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &[u8]) -> Result<Vec<ListEvent>, ListError> {
        let mut r = ListReader::new(text, "l.csv", country::Id::CN, chrono_tz::Asia::Shanghai)?;
        let mut out = Vec::new();
        while let Some(ev) = r.next_event()? {
            out.push(ev);
        }
        Ok(out)
    }

    #[test]
    fn rows_rejects_and_lines() {
        let text = "\u{feff}phone,name,timezone,loan\r\n\
                    13800138000,\"Li, Wei\",,5000\r\n\
                    12345,Bad,,1\r\n\
                    13800138001,\"two\nlines\",America/New_York,7\r\n\
                    13800138002,short\r\n\
                    13800138003,X,Mars/Base,1\r\n\
                    \r\n\
                    13800138004,\"Zhang\",,\"9\"\r\n";
        let ev = read_all(text.as_bytes()).unwrap();
        assert_eq!(ev.len(), 6);
        let ListEvent::Row(r) = &ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!(r.line, 2);
        assert_eq!(r.phone, "+8613800138000");
        assert_eq!(r.name.as_deref(), Some("Li, Wei"));
        assert_eq!(r.timezone, "Asia/Shanghai");
        assert_eq!(r.attributes, r#"{"loan":"5000"}"#);
        assert!(matches!(
            &ev[1],
            ListEvent::Reject(RowReject { line: 3, .. })
        ));
        let ListEvent::Row(r) = &ev[2] else {
            panic!("{ev:?}")
        };
        assert_eq!((r.line, r.timezone.as_str()), (4, "America/New_York"));
        // The quoted newline makes the next row start on physical line 6.
        let ListEvent::Reject(j) = &ev[3] else {
            panic!("{ev:?}")
        };
        assert_eq!(j.line, 6);
        assert!(
            j.reason.contains("expected 4 fields, found 2"),
            "{}",
            j.reason
        );
        let ListEvent::Reject(j) = &ev[4] else {
            panic!("{ev:?}")
        };
        assert!(j.reason.contains("time zone"), "{}", j.reason);
        let ListEvent::Row(r) = &ev[5] else {
            panic!("{ev:?}")
        };
        assert_eq!((r.line, r.attributes.as_str()), (9, r#"{"loan":"9"}"#));
    }

    #[test]
    fn long_field_rejected() {
        let text = format!(
            "phone,note\n13800138000,{}\n",
            "x".repeat(MAX_FIELD_BYTES + 1)
        );
        let ev = read_all(text.as_bytes()).unwrap();
        let ListEvent::Reject(j) = &ev[0] else {
            panic!("{ev:?}")
        };
        assert!(j.reason.contains("4096-byte limit"), "{}", j.reason);
    }

    #[test]
    fn fatal_errors() {
        assert!(matches!(read_all(b""), Err(ListError::NoHeader { .. })));
        assert!(matches!(
            read_all(b"name\nx\n"),
            Err(ListError::NoPhoneColumn { .. })
        ));
        let e = read_all(b"phone,name\n13800138000,a\n13800138001,\xff\xfe\n").unwrap_err();
        assert_eq!(e.to_string(), "l.csv:3: invalid UTF-8");
        assert!(matches!(
            read_all(b"phone,phone\n1,2\n"),
            Err(ListError::DuplicateColumn { .. })
        ));
    }

    #[test]
    fn an_unterminated_quote_is_fatal_and_names_the_line_it_opened_on() {
        let text = b"phone,name\n13800138000,a\n13800138001,\"Li\n13800138002,b\n13800138003,c\n";
        let e = read_all(text).unwrap_err();
        assert_eq!(
            e.to_string(),
            "l.csv:3: malformed CSV: a quoted field opened on this line is never closed"
        );
        // Quotes that close, doubled quotes and a quote inside an unquoted field are fine.
        let ok = b"phone,name\n13800138000,\"a \"\"b\"\" c\"\n13800138001,5\" screen\n";
        let ev = read_all(ok).unwrap();
        assert_eq!(ev.len(), 2, "{ev:?}");
    }
}
