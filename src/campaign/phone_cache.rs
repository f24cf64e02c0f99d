//! A memo of the `phonenumber` crate's verdicts on digit-only numbers, so that loading a list of
//! a million numbers does not pay the crate's full parse for every row (≈ 20 µs: each metadata
//! regex is fetched from a mutex-guarded LRU keyed by its multi-kilobyte source text). Owns no
//! rules of its own: every verdict it returns is one the crate gave.
//!
//! libphonenumber's metadata decides validity, type and national-prefix stripping from a number's
//! leading digits and its length (its patterns are ranges of leading digits followed by `\d{n}`).
//! The memo is keyed on exactly that: the leading `+` or not, the digit count, and every digit
//! but the last [`FREE_TAIL`]. It stores the crate's "valid" answer for the first number seen with
//! a key as a rule over the digits (E.164 = `+`, country code, the digits after a fixed skip), so
//! the same rule yields the crate's answer for every number sharing the key. Inputs with any other
//! character (spaces, dashes, brackets), very short or very long ones, rejected numbers and answers
//! that are not such a rule always go to the crate. The tests below check the memo against the
//! full parse (property tests over random CN and US numbers sharing a key, and every 3-digit head).

use std::collections::HashMap;

use phonenumber::country;

use super::phone::{classify, e164, invalid, not_a_number, PhoneError, Verdict};

/// Trailing digits the metadata leaves free (`\d{n}` with n ≥ 4 ends every pattern it applies to
/// numbers of the lengths cached): they are not part of the key.
pub const FREE_TAIL: usize = 4;
/// Shorter inputs always go to the crate (short codes and fragments, decided digit by digit).
const MIN_DIGITS: usize = 8;
/// Valid answers are memoised only for national numbers this long (FREE_TAIL free digits plus
/// at least six leading ones in the key: with fewer, the tests find ranges decided later).
const MIN_NATIONAL: usize = 10;
/// Longer inputs always go to the crate (the key must fit a u64: 17 - 4 = 13 digits).
const MAX_DIGITS: usize = 17;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    plus: bool,
    len: u8,
    head: u64,
}

#[derive(Clone, Copy, Debug)]
enum Rule {
    /// Valid: `+`, `code`, then the input's digits from `skip` on.
    Valid { code: u16, skip: u8 },
    /// The crate's answer is not a function of the digits we can replay: always ask it.
    Ask,
}

/// E.164 normalisation for one region with the crate's verdicts memoised by leading digits.
pub struct PhoneCache {
    region: country::Id,
    rules: HashMap<Key, Rule>,
    /// Inputs answered from the memo (for tests and profiling).
    pub hits: u64,
}

impl PhoneCache {
    /// An empty memo for numbers read in `region`.
    pub fn new(region: country::Id) -> PhoneCache {
        PhoneCache {
            region,
            rules: HashMap::new(),
            hits: 0,
        }
    }

    /// Same contract and same results as [`super::normalize_e164`] for `self.region`.
    pub fn normalize(&mut self, raw: &str) -> Result<String, PhoneError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(PhoneError::Missing);
        }
        let Some((key, digits)) = key_of(raw) else {
            return finish(raw, classify(raw, self.region));
        };
        if let Some(rule) = self.rules.get(&key) {
            let answer = match *rule {
                Rule::Valid { code, skip } => {
                    Some(e164(raw, code, digits.get(skip as usize..).unwrap_or("")))
                }
                Rule::Ask => None,
            };
            if let Some(a) = answer {
                self.hits += 1;
                return a;
            }
            return finish(raw, classify(raw, self.region));
        }
        let verdict = classify(raw, self.region);
        let rule = match &verdict {
            // The national number must be the input's own trailing digits (no rewrite rule
            // applied), and long enough that the key holds its leading digits, which decide.
            Verdict::Valid { code, national }
                if digits.ends_with(national.as_str()) && national.len() >= MIN_NATIONAL =>
            {
                Some(Rule::Valid {
                    code: *code,
                    skip: (digits.len() - national.len()) as u8,
                })
            }
            Verdict::Valid { .. } => Some(Rule::Ask),
            // Rejects are not memoised: why a number is rejected (no number at all, too short
            // after an international prefix, no matching range) can hinge on its last digits, and
            // they are rare in real lists. A later valid number may still fill the key.
            Verdict::NotANumber | Verdict::Invalid => None,
        };
        if let Some(rule) = rule {
            self.rules.insert(key, rule);
        }
        finish(raw, verdict)
    }
}

fn finish(raw: &str, v: Verdict) -> Result<String, PhoneError> {
    match v {
        Verdict::Valid { code, national } => e164(raw, code, &national),
        Verdict::NotANumber => Err(not_a_number(raw)),
        Verdict::Invalid => Err(invalid(raw)),
    }
}

/// The memo key and the digits of `raw`, when `raw` is `+`? then ASCII digits only, of a length
/// the memo handles.
fn key_of(raw: &str) -> Option<(Key, &str)> {
    let (plus, digits) = match raw.strip_prefix('+') {
        Some(d) => (true, d),
        None => (false, raw),
    };
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits.len())
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let head = digits[..digits.len() - FREE_TAIL]
        .bytes()
        .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'));
    Some((
        Key {
            plus,
            len: digits.len() as u8,
            head,
        },
        digits,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::normalize_e164;
    use proptest::prelude::*;

    /// Leading digits that exercise every branch of the CN and US metadata: mobile ranges,
    /// area codes with and without the trunk 0, carrier-select prefixes, IDD, country codes,
    /// toll-free, shared-cost and premium ranges, and plain noise.
    const HEADS: &[&str] = &[
        "", "1", "13", "135", "138", "145", "147", "166", "170", "1740", "1741", "175", "199",
        "10", "010", "021", "0755", "0371", "0", "00", "0086", "86", "8613", "861", "+86", "+8613",
        "+1", "1201", "201", "212", "555", "800", "400", "95", "106", "12593", "17951", "17911",
        "11", "12", "179", "001", "011", "0111", "+44", "+0086", "2", "3", "9", "8", "6", "5",
    ];

    fn digits(n: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(0u8..10, n)
            .prop_map(|v| v.iter().map(|d| (b'0' + d) as char).collect())
    }

    /// A head, a middle, then two different tails of FREE_TAIL digits: the first number fills the
    /// memo, the second must get the crate's own answer from it.
    fn pair() -> impl Strategy<Value = (String, String)> {
        (
            proptest::sample::select(HEADS),
            (0usize..14).prop_flat_map(digits),
            digits(FREE_TAIL),
            digits(FREE_TAIL),
        )
            .prop_map(|(h, m, t1, t2)| (format!("{h}{m}{t1}"), format!("{h}{m}{t2}")))
    }

    fn check_region(region: country::Id, (a, b): (String, String)) -> Result<(), TestCaseError> {
        let mut cache = PhoneCache::new(region);
        prop_assert_eq!(cache.normalize(&a), normalize_e164(&a, region), "{}", a);
        prop_assert_eq!(
            cache.normalize(&b),
            normalize_e164(&b, region),
            "{} after {}",
            b,
            a
        );
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn memo_matches_full_parse_cn(p in pair()) {
            check_region(country::Id::CN, p)?;
        }

        #[test]
        fn memo_matches_full_parse_us(p in pair()) {
            check_region(country::Id::US, p)?;
        }
    }

    /// Every three-digit start of an 11-digit CN number and a 10-digit US number, with several
    /// tails each: the ranges lists are made of.
    #[test]
    fn memo_matches_full_parse_on_every_short_head() {
        for (region, len) in [
            (country::Id::CN, 11),
            (country::Id::CN, 12),
            (country::Id::US, 10),
        ] {
            let mut cache = PhoneCache::new(region);
            for head in 0..1000u32 {
                for k in 0..4u64 {
                    let rest = (u64::from(head) * 7_919 + k * 104_729) % 10u64.pow(len - 3);
                    let n = format!("{head:03}{rest:0w$}", w = (len - 3) as usize);
                    assert_eq!(cache.normalize(&n), normalize_e164(&n, region), "{n}");
                }
            }
        }
    }

    #[test]
    fn hits_and_fallbacks() {
        let mut c = PhoneCache::new(country::Id::CN);
        assert_eq!(c.normalize("13800138000").unwrap(), "+8613800138000");
        assert_eq!(c.normalize("13800139999").unwrap(), "+8613800139999");
        assert_eq!(c.hits, 1);
        // Not digits only: straight to the crate.
        assert_eq!(c.normalize("138 0013 8000").unwrap(), "+8613800138000");
        assert_eq!(c.normalize("+86 138-0013-8001").unwrap(), "+8613800138001");
        assert_eq!(c.hits, 1);
        assert!(c
            .normalize("12345")
            .unwrap_err()
            .to_string()
            .contains("12345"));
        assert!(c
            .normalize("  ")
            .unwrap_err()
            .to_string()
            .contains("missing"));
        assert!(c.normalize("138\r\nVia: evil").is_err());
        assert_eq!(c.normalize("+8613800138002").unwrap(), "+8613800138002");
        assert_eq!(c.normalize("008613800138003").unwrap(), "+8613800138003");
    }
}
