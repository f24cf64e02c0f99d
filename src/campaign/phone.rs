//! Phone numbers normalised to E.164 with the `phonenumber` crate (libphonenumber metadata), and
//! IANA time zone names. The E.164 string (`+` then digits) is the only lead data that ever
//! reaches a SIP header.

use chrono_tz::Tz;
use phonenumber::country;

/// The digits and `+` of `s`, in order: all of a configured or received number that may reach a
/// SIP header or a call record.
pub fn dial_chars(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect()
}

/// Why a region, a time zone or a phone number was refused; the message is what the campaign
/// loader, the list loader and the CLI show (after the field or line they name).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Not an ISO 3166 region code (the text as given).
    #[error("unknown region {0:?} (write an ISO 3166 code such as CN)")]
    Region(String),
    /// Not an IANA time zone name (the text as given).
    #[error("unknown time zone {0:?} (write an IANA name such as Asia/Shanghai)")]
    TimeZone(String),
    /// An empty number.
    #[error("missing phone number")]
    Missing,
    /// libphonenumber could not read it as a number at all (first 40 characters).
    #[error("not a phone number: {0:?}")]
    NotANumber(String),
    /// Read as a number, but not a valid one (first 40 characters).
    #[error("invalid phone number: {0:?}")]
    Invalid(String),
}

/// Parses a region code such as `CN` or `US`.
pub fn parse_region(code: &str) -> Result<country::Id, PhoneError> {
    code.trim()
        .to_ascii_uppercase()
        .parse::<country::Id>()
        .map_err(|_| PhoneError::Region(code.to_string()))
}

/// Parses an IANA time zone name such as `Asia/Shanghai`.
pub fn parse_timezone(name: &str) -> Result<Tz, PhoneError> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| PhoneError::TimeZone(name.to_string()))
}

/// Normalises `raw` (national numbers read in `region`) to E.164, e.g. `+8613812345678`.
/// Rejects numbers that libphonenumber does not consider valid.
pub fn normalize_e164(raw: &str, region: country::Id) -> Result<String, PhoneError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(PhoneError::Missing);
    }
    match classify(raw, region) {
        Verdict::Valid { code, national } => e164(raw, code, &national),
        Verdict::NotANumber => Err(not_a_number(raw)),
        Verdict::Invalid => Err(invalid(raw)),
    }
}

/// The `phonenumber` crate's full answer on one trimmed, non-empty input.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Verdict {
    /// Valid: country calling code and national significant number (leading zeros kept).
    Valid {
        /// Country calling code.
        code: u16,
        /// National significant number, digits only.
        national: String,
    },
    /// The crate could not parse it as a phone number at all.
    NotANumber,
    /// Parsed, but not a valid number by the metadata.
    Invalid,
}

/// Runs the crate's full parse and validity check (≈ 20 µs; see `phone_cache` for the fast path).
pub(crate) fn classify(raw: &str, region: country::Id) -> Verdict {
    let Ok(number) = phonenumber::parse(Some(region), raw) else {
        return Verdict::NotANumber;
    };
    if !number.is_valid() {
        return Verdict::Invalid;
    }
    Verdict::Valid {
        code: number.code().value(),
        national: number.national().to_string(),
    }
}

/// E.164 is `+`, country code, national significant number: built from the parsed parts
/// directly, which is much cheaper than the crate's general formatter.
pub(crate) fn e164(raw: &str, code: u16, national: &str) -> Result<String, PhoneError> {
    let out = format!("+{code}{national}");
    // Defence in depth: the dial string must be `+` and digits only.
    if out.len() < 3 || !out[1..].bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(raw));
    }
    Ok(out)
}

pub(crate) fn not_a_number(raw: &str) -> PhoneError {
    PhoneError::NotANumber(shorten(raw))
}

pub(crate) fn invalid(raw: &str) -> PhoneError {
    PhoneError::Invalid(shorten(raw))
}

fn shorten(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cn_numbers() {
        let cn = parse_region("cn").unwrap();
        assert_eq!(
            normalize_e164("138 0013 8000", cn).unwrap(),
            "+8613800138000"
        );
        assert_eq!(
            normalize_e164("+86 138-0013-8000", cn).unwrap(),
            "+8613800138000"
        );
        assert_eq!(
            normalize_e164("010 6552 9988", cn).unwrap(),
            "+861065529988"
        );
        assert!(normalize_e164("12345", cn).is_err());
        assert!(normalize_e164("", cn)
            .unwrap_err()
            .to_string()
            .contains("missing"));
        assert!(normalize_e164("138\r\nVia: evil", cn).is_err());
    }

    #[test]
    fn other_regions_and_zones() {
        let us = parse_region("US").unwrap();
        assert_eq!(
            normalize_e164("(201) 555-0123", us).unwrap(),
            "+12015550123"
        );
        assert!(parse_region("XX").is_err());
        assert!(parse_timezone("Asia/Shanghai").is_ok());
        assert!(parse_timezone("Mars/Olympus").is_err());
    }
}
