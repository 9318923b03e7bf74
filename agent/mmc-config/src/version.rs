//! Munki 7's version comparison (`MunkiVersion.compare`), bit for bit.
//!
//! 1. Split each version on `.`, dropping empty components.
//! 2. Pad both with `"0"` components up to N, the larger of the two strings' character counts
//!    (over-padding is harmless: both sides get the same N), so trailing `.0`s never matter.
//! 3. Join with `.` and compare the way `NSString compare:options:NSNumericSearch` does:
//!    where both strings have a digit, the whole digit runs are read as `u64` numbers (wrapping
//!    on overflow, as CoreFoundation does) and compared by value, with no tie-break on leading
//!    zeros; anything else compares by UTF-16 code unit; a string that runs out first is smaller.
//!
//! The consequences surprise people, and are Munki's: `1.0b1 > 1.0`, `1.0-1 < 1.0`,
//! `1.2.3 (100) < 1.2.3`. The 53 vectors in `tests/data/version_vectors.tsv` pin them.

use std::cmp::Ordering;

/// Compares two versions as Munki 7 does.
pub fn compare(a: &str, b: &str) -> Ordering {
    let width = a.chars().count().max(b.chars().count());
    numeric_compare(&padded(a, width), &padded(b, width))
}

/// The components of `version` joined again, padded with `0` components to `width`.
fn padded(version: &str, width: usize) -> Vec<u16> {
    let mut parts: Vec<&str> = version.split('.').filter(|p| !p.is_empty()).collect();
    while parts.len() < width {
        parts.push("0");
    }
    parts.join(".").encode_utf16().collect()
}

fn is_digit(unit: u16) -> bool {
    (u16::from(b'0')..=u16::from(b'9')).contains(&unit)
}

/// `CFStringCompare` with `kCFCompareNumerically` and no other option.
fn numeric_compare(a: &[u16], b: &[u16]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if is_digit(a[i]) && is_digit(b[j]) {
            let (x, next_i) = digit_run(a, i);
            let (y, next_j) = digit_run(b, j);
            match x.cmp(&y) {
                Ordering::Equal => (i, j) = (next_i, next_j),
                other => return other,
            }
        } else {
            match a[i].cmp(&b[j]) {
                Ordering::Equal => (i, j) = (i + 1, j + 1),
                other => return other,
            }
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

/// The value of the digit run starting at `start` (wrapping like CoreFoundation's `uint64_t`),
/// and the index after it.
fn digit_run(s: &[u16], start: usize) -> (u64, usize) {
    let mut value: u64 = 0;
    let mut end = start;
    while end < s.len() && is_digit(s[end]) {
        value = value
            .wrapping_mul(10)
            .wrapping_add(u64::from(s[end] - u16::from(b'0')));
        end += 1;
    }
    (value, end)
}

/// Munki's `trimVersionString`: drops trailing lone `0` components beyond major.minor
/// (`10.0.0.0` → `10.0`), the form catalogs index versions by.
pub fn trim(version: &str) -> String {
    let mut parts: Vec<&str> = version.split('.').collect();
    while parts.len() > 2 && parts.last() == Some(&"0") {
        parts.pop();
    }
    parts.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_zero_components_do_not_matter() {
        assert_eq!(compare("1.0", "1.0.0.0"), Ordering::Equal);
        assert_eq!(compare("", "0"), Ordering::Equal);
        assert_eq!(compare("1..2", "1.2"), Ordering::Equal);
    }

    #[test]
    fn digit_runs_compare_by_value() {
        assert_eq!(compare("1.2", "1.10"), Ordering::Less);
        assert_eq!(compare("1.01", "1.1"), Ordering::Equal);
        assert_eq!(compare("1.963", "1.97"), Ordering::Greater);
    }

    #[test]
    fn punctuation_below_the_dot_sorts_first() {
        assert_eq!(compare("1.0-1", "1.0"), Ordering::Less);
        assert_eq!(compare("1.0 beta", "1.0"), Ordering::Less);
        assert_eq!(compare("1.0b1", "1.0"), Ordering::Greater);
    }

    #[test]
    fn overflowing_digit_runs_wrap() {
        assert_eq!(compare("18446744073709551616", "1"), Ordering::Less);
        assert_eq!(compare("18446744073709551616", "0"), Ordering::Equal);
    }

    #[test]
    fn trimming() {
        assert_eq!(trim("10.0.0.0"), "10.0");
        assert_eq!(trim("10.0.0-abc1.0"), "10.0.0-abc1");
        assert_eq!(trim("1.0"), "1.0");
        assert_eq!(trim("1.2.3"), "1.2.3");
    }
}
