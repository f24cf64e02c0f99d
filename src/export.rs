//! Lead data on its way out. Call lists are stored as given (a name or a list column may start
//! with `=` or hold control characters: it is the customer's data), so each place that shows or
//! exports it neutralises it for its reader: JSON escapes every control character, terminal
//! text escapes them, and a CSV export prefixes a cell a spreadsheet would run as a formula.
//! Owns no I/O.
//!
//! Where list data leaves today: the agent's screen pop (`GET /agents/{id}/current`, JSON) and
//! the rejected rows of `outdial campaign load` (their values are quoted with Rust's `{:?}`,
//! which escapes control characters). No command writes lead data as CSV; one that does must pass
//! every cell through [`csv_cell`].

use std::borrow::Cow;

/// A CSV cell safe to open in a spreadsheet: a value starting with `=`, `+`, `-`, `@`, a tab or
/// a carriage return gets a leading `'` (OWASP's rule for CSV injection), so that
/// `=cmd|' /C calc'!A0` is shown as text instead of run. Quoting is the CSV writer's job.
pub fn csv_cell(value: &str) -> Cow<'_, str> {
    match value.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{value}")),
        _ => Cow::Borrowed(value),
    }
}

/// Text for a terminal: control characters (C0, DEL, C1) written as `\u{..}` escapes, so an
/// escape sequence in a list column cannot move the cursor or recolour the screen.
pub fn screen_text(value: &str) -> Cow<'_, str> {
    if !value.chars().any(char::is_control) {
        return Cow::Borrowed(value);
    }
    Cow::Owned(
        value
            .chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// JSON text with every control character escaped. serde_json escapes U+0000–U+001F but writes
/// DEL and the C1 controls (U+007F–U+009F) as they are; they can only occur inside strings, so
/// they are rewritten as `\u00XX` escapes: the same value for a JSON reader, inert on a screen.
pub fn json_text(json: String) -> String {
    if !json.chars().any(char::is_control) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if c.is_control() {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_get_a_quote_and_others_are_untouched() {
        assert_eq!(csv_cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        for v in ["+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(csv_cell(v), format!("'{v}"));
        }
        for v in ["", "Li Wei", "13800138000", "a=b"] {
            assert!(matches!(csv_cell(v), Cow::Borrowed(_)), "{v}");
        }
    }

    #[test]
    fn screens_see_control_characters_escaped() {
        assert_eq!(
            screen_text("a\u{1b}[31mb\u{7f}\u{85}"),
            "a\\u{1b}[31mb\\u{7f}\\u{85}"
        );
        assert!(matches!(screen_text("王伟 ok"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_escapes_del_and_c1_and_reads_back_the_same() {
        let value = serde_json::json!({"note": "x\u{7f}\u{9b}31m\u{1b}y", "f": "=1+1"});
        let text = json_text(serde_json::to_string(&value).unwrap());
        assert!(!text.chars().any(char::is_control), "{text}");
        assert!(
            text.contains("\\u007f") && text.contains("\\u009b"),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }
}
