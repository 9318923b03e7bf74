//! `[c]` and `[d]` folding, and LIKE's wildcard match.
//!
//! `[c]` lower-cases with Unicode's full lower-case mapping. `[d]` removes diacritics the way
//! Apple's diacritic-insensitive comparison does for Latin text: a precomposed Latin letter
//! becomes its base letter (`é` → `e`, `Ł` stays `Ł` because it has no decomposition) and
//! combining marks are dropped. Non-Latin precomposed letters (Greek tonos, Cyrillic `й`, …)
//! are left alone: a documented limitation that avoids shipping Unicode's normalisation tables.

use std::borrow::Cow;

use crate::StrOptions;

#[path = "fold_table.rs"]
mod table;

/// Combining diacritical marks (the blocks NFD moves accents into).
fn is_combining_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}')
}

fn strip_diacritics(text: &str) -> String {
    text.chars()
        .filter(|&c| !is_combining_mark(c))
        .map(
            |c| match table::DECOMPOSED.binary_search_by_key(&c, |&(from, _)| from) {
                Ok(i) => table::DECOMPOSED[i].1,
                Err(_) => c,
            },
        )
        .collect()
}

/// `text` as a comparison with `options` sees it.
pub(crate) fn fold(text: &str, options: StrOptions) -> Cow<'_, str> {
    match (options.case_insensitive, options.diacritic_insensitive) {
        (false, false) => Cow::Borrowed(text),
        (true, false) => Cow::Owned(text.to_lowercase()),
        (false, true) => Cow::Owned(strip_diacritics(text)),
        // Lower-case first: `İ` lower-cases to `i` plus a combining dot, which [d] then drops.
        (true, true) => Cow::Owned(strip_diacritics(&text.to_lowercase())),
    }
}

/// LIKE: the whole of `text` matches `pattern`, where `*` is any run of characters (possibly
/// none), `?` exactly one character, and every other character stands for itself.
pub(crate) fn like(text: &str, pattern: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let pattern: Vec<char> = pattern.chars().collect();
    let (mut t, mut p) = (0, 0);
    // After a `*`: where in the pattern to resume, and the text position it has consumed up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p + 1, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more character and retry.
                Some((resume, consumed)) => {
                    star = Some((resume, consumed + 1));
                    p = resume;
                    t = consumed + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: StrOptions = StrOptions {
        case_insensitive: true,
        diacritic_insensitive: false,
    };
    const D: StrOptions = StrOptions {
        case_insensitive: false,
        diacritic_insensitive: true,
    };
    const CD: StrOptions = StrOptions {
        case_insensitive: true,
        diacritic_insensitive: true,
    };

    #[test]
    fn table_is_sorted() {
        assert!(table::DECOMPOSED.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn folding() {
        assert_eq!(fold("Café", StrOptions::default()), "Café");
        assert_eq!(fold("Café", C), "café");
        assert_eq!(fold("Café Ǖber Ḗ", D), "Cafe Uber E");
        // Decomposed input: e + combining acute.
        assert_eq!(fold("Cafe\u{301}", D), "Cafe");
        assert_eq!(fold("ÉCOLE İ", CD), "ecole i");
        // No decomposition: stays.
        assert_eq!(fold("Łódź ß", D), "Łodz ß");
    }

    #[test]
    fn like_wildcards() {
        for (text, pattern, expected) in [
            ("7.0.0.5096", "7.*", true),
            ("7.0.0.5096", "7.?.*", true),
            ("7x0", "7.?", false),
            ("7.0", "7.?", true),
            ("7.", "7.?", false),
            ("0.8.3", "*0.8.3*", true),
            ("10.8.3.1", "*0.8.3*", true),
            ("0x8y3", "*0.8.3*", false),
            ("", "*", true),
            ("", "", true),
            ("a", "", false),
            ("", "?", false),
            ("abc", "a*c", true),
            ("abcbc", "a*bc", true),
            ("abcb", "a*bc", false),
            ("aaa", "a**a", true),
            ("mississippi", "m*iss*ppi", true),
            ("mississippi", "m*iss*pp", false),
            ("Ünïcödé", "Ü?ï*é", true),
            ("back\\slash", "back\\*", true),
            ("[x]", "[?]", true),
        ] {
            assert_eq!(like(text, pattern), expected, "{text:?} LIKE {pattern:?}");
        }
    }
}
