//! Version order, as the original Director sorts package files.
//!
//! A version splits into runs of digits (compared as numbers) and runs of
//! anything else (compared as text); a number sorts below text; a shorter
//! prefix sorts lower; no version sorts lowest. So `1.10 > 1.9`,
//! `15a > 15.2.1 > 15`, and a `version:date` (`YYYYMMDDHHMM`) beats any
//! ordinary release number.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// Digits with leading zeros removed ("" for zero), compared by value.
    Num(String),
    Text(String),
}

impl Ord for Token {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Token::Num(a), Token::Num(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Token::Num(_), Token::Text(_)) => Ordering::Less,
            (Token::Text(_), Token::Num(_)) => Ordering::Greater,
            (Token::Text(a), Token::Text(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Token {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The sort key of a version; compare keys to order versions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct VersionKey(Vec<Token>);

impl VersionKey {
    /// The key of `version` (`None`: unversioned, lowest of all).
    pub fn of(version: Option<&str>) -> VersionKey {
        let mut tokens = Vec::new();
        let text = version.unwrap_or("");
        let mut chars = text.char_indices().peekable();
        while let Some(&(start, c)) = chars.peek() {
            let digit = c.is_ascii_digit();
            let mut end = start;
            while let Some(&(i, c)) = chars.peek() {
                if c.is_ascii_digit() != digit {
                    break;
                }
                end = i + c.len_utf8();
                chars.next();
            }
            let run = &text[start..end];
            tokens.push(if digit {
                Token::Num(run.trim_start_matches('0').to_string())
            } else {
                Token::Text(run.into())
            });
        }
        VersionKey(tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(v: &str) -> VersionKey {
        VersionKey::of(Some(v))
    }

    #[test]
    fn the_original_directors_order_newest_first() {
        let newest_first = [
            "201601280945",
            "201601251343",
            "15a5gamma1",
            "15a5beta4",
            "15a3",
            "15a1",
            "15a",
            "15.2.1",
            "15.2",
            "15.1",
            "15",
            "05",
            "1",
            "0",
        ];
        for pair in newest_first.windows(2) {
            assert!(k(pair[0]) > k(pair[1]), "{} must sort above {}", pair[0], pair[1]);
        }
        assert!(k("0") > VersionKey::of(None), "no version sorts lowest");
    }

    #[test]
    fn the_issue_table() {
        let table: [(&str, &str); 6] = [
            ("1.10", "1.9"),
            ("15a", "15.2.1"),
            ("15.2.1", "15"),
            ("202611271830", "15a"),
            ("202611271830", "99999.9"),
            ("2.0", "1.0"),
        ];
        for (high, low) in table {
            assert!(k(high) > k(low), "{high} > {low}");
            assert!(k(low) < k(high), "{low} < {high}");
        }
        assert_eq!(k("1.05").cmp(&k("1.5")), Ordering::Equal, "leading zeros do not count");
        assert!(k("12345678901234567890123") > k("9"), "numbers longer than u64 still compare");
    }
}
