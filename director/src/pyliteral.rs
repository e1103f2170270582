//! A parser for Python literals, and nothing more.
//!
//! The original Director `eval()`s its `.tli` and `.cfg` files, so such a
//! file can run code. This reads the same files as data only: strings
//! (single, double, triple quoted, `r`/`b`/`u` prefixes, adjacent literals
//! joined), integers (decimal, `0x`, `0o`, `0b`, `_` separators), floats,
//! `True`, `False`, `None`, tuples and lists (both become lists) and dicts
//! with string keys, with `#` comments and trailing commas. A name, call,
//! attribute, operator or anything else is refused with its line and column.

use actor_abi::{Map, Value};

/// Where and why parsing failed (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct PyLiteralError {
    /// Line of the offending character.
    pub line: usize,
    /// Column of the offending character.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Nesting deeper than this is refused.
const MAX_DEPTH: usize = 64;

/// Parses `text` as exactly one Python literal.
pub fn parse(text: &str) -> Result<Value, PyLiteralError> {
    let mut p = Parser { text, pos: 0, depth: 0 };
    p.skip_space();
    if p.peek().is_none() {
        return Err(p.error_here("the file is empty; expected a Python literal"));
    }
    let v = p.value()?;
    p.skip_space();
    match p.peek() {
        None => Ok(v),
        Some(c) => Err(p.error_here(&format!("unexpected {c:?} after the value"))),
    }
}

struct Parser<'a> {
    text: &'a str,
    /// Byte offset of the next character.
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn pos(&self) -> usize {
        self.pos
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn error_at(&self, pos: usize, message: &str) -> PyLiteralError {
        let before = &self.text[..pos.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        PyLiteralError { line, column, message: message.to_string() }
    }

    fn error_here(&self, message: &str) -> PyLiteralError {
        let pos = self.pos();
        self.error_at(pos, message)
    }

    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            if c == '#' {
                while self.peek().is_some_and(|c| c != '\n') {
                    self.bump();
                }
            } else if c.is_whitespace() || c == '\\' && self.text[self.pos()..].starts_with("\\\n") {
                self.bump();
            } else {
                break;
            }
        }
    }

    fn value(&mut self) -> Result<Value, PyLiteralError> {
        self.skip_space();
        let start = self.pos();
        let Some(c) = self.peek() else {
            return Err(self.error_here("unexpected end of file; expected a value"));
        };
        match c {
            '{' => self.nested(|p| p.dict()),
            '[' => self.nested(|p| p.sequence('[', ']').map(Value::List)),
            '(' => self.nested(|p| p.paren()),
            '\'' | '"' => self.strings(),
            '-' | '+' | '.' | '0'..='9' => self.number(),
            c if c.is_alphabetic() || c == '_' => self.word(start),
            other => Err(self.error_here(&format!("{other:?} is not allowed here: only Python literals are accepted"))),
        }
    }

    fn nested(&mut self, f: impl FnOnce(&mut Self) -> Result<Value, PyLiteralError>) -> Result<Value, PyLiteralError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_here(&format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let v = f(self);
        self.depth -= 1;
        v
    }

    /// Items up to `close`, comma separated, trailing comma allowed.
    fn sequence(&mut self, open: char, close: char) -> Result<Vec<Value>, PyLiteralError> {
        self.expect(open)?;
        let mut items = Vec::new();
        loop {
            self.skip_space();
            if self.peek() == Some(close) {
                self.bump();
                return Ok(items);
            }
            items.push(self.value()?);
            if !self.comma_or(close)? {
                return Ok(items);
            }
        }
    }

    /// After an item: a comma (true), or the closing bracket (false, consumed).
    fn comma_or(&mut self, close: char) -> Result<bool, PyLiteralError> {
        self.skip_space();
        match self.peek() {
            Some(',') => {
                self.bump();
                Ok(true)
            }
            Some(c) if c == close => {
                self.bump();
                Ok(false)
            }
            Some(c) => Err(self.error_here(&format!("expected ',' or {close:?}, found {c:?}"))),
            None => Err(self.error_here(&format!("unexpected end of file; expected {close:?}"))),
        }
    }

    fn expect(&mut self, c: char) -> Result<(), PyLiteralError> {
        self.skip_space();
        if self.peek() == Some(c) {
            self.bump();
            Ok(())
        } else {
            let found = self.peek().map_or("end of file".to_string(), |f| format!("{f:?}"));
            Err(self.error_here(&format!("expected {c:?}, found {found}")))
        }
    }

    /// `(` ... `)`: a tuple, or a parenthesised single value.
    fn paren(&mut self) -> Result<Value, PyLiteralError> {
        self.expect('(')?;
        self.skip_space();
        if self.peek() == Some(')') {
            self.bump();
            return Ok(Value::List(Vec::new()));
        }
        let first = self.value()?;
        if !self.comma_or(')')? {
            return Ok(first);
        }
        let mut items = vec![first];
        loop {
            self.skip_space();
            if self.peek() == Some(')') {
                self.bump();
                return Ok(Value::List(items));
            }
            items.push(self.value()?);
            if !self.comma_or(')')? {
                return Ok(Value::List(items));
            }
        }
    }

    fn dict(&mut self) -> Result<Value, PyLiteralError> {
        self.expect('{')?;
        let mut map = Map::new();
        loop {
            self.skip_space();
            if self.peek() == Some('}') {
                self.bump();
                return Ok(Value::Map(map));
            }
            let key_pos = self.pos();
            let key = match self.value()? {
                Value::String(s) => s,
                other => {
                    return Err(self.error_at(key_pos, &format!("dict keys must be strings, found {}", other.kind())));
                }
            };
            self.expect(':')?;
            let value = self.value()?;
            if map.insert(key.clone(), value).is_some() {
                return Err(self.error_at(key_pos, &format!("dict key {key:?} appears twice")));
            }
            if !self.comma_or('}')? {
                return Ok(Value::Map(map));
            }
        }
    }

    fn word(&mut self, start: usize) -> Result<Value, PyLiteralError> {
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.bump();
        }
        let word = &self.text[start..self.pos];
        match word {
            "True" => Ok(Value::Bool(true)),
            "False" => Ok(Value::Bool(false)),
            "None" => Ok(Value::Null),
            w if self.peek().is_some_and(|c| c == '\'' || c == '"') && is_prefix(w) => self.strings_from(start),
            w => Err(self
                .error_at(start, &format!("names are not allowed (found `{w}`): only Python literals are accepted"))),
        }
    }

    fn strings(&mut self) -> Result<Value, PyLiteralError> {
        let start = self.pos();
        self.strings_from(start)
    }

    /// One or more adjacent string literals, joined (all text or all bytes).
    fn strings_from(&mut self, start: usize) -> Result<Value, PyLiteralError> {
        self.pos = start;
        let mut text: Option<String> = None;
        let mut bytes: Option<Vec<u8>> = None;
        loop {
            let lit_pos = self.pos();
            let (is_bytes, s) = self.one_string()?;
            match (is_bytes, &mut text, &mut bytes) {
                (false, Some(t), None) => t.push_str(&s),
                (false, None, None) => text = Some(s),
                (true, None, Some(b)) => b.extend(s.chars().map(|c| c as u32 as u8)),
                (true, None, None) => bytes = Some(s.chars().map(|c| c as u32 as u8).collect()),
                _ => return Err(self.error_at(lit_pos, "cannot join a bytes literal with a text literal")),
            }
            self.skip_space();
            let at = self.pos();
            let rest = &self.text[at..];
            let next_is_string = rest.starts_with(['\'', '"'])
                || rest.find(['\'', '"']).is_some_and(|q| q > 0 && q <= 2 && is_prefix(&rest[..q]));
            if !next_is_string {
                break;
            }
        }
        Ok(match (text, bytes) {
            (_, Some(b)) => Value::Bytes(b),
            (t, None) => Value::String(t.unwrap_or_default()),
        })
    }

    /// One string literal with optional prefix. Bytes literals come back as
    /// chars 0-255 (one per byte).
    fn one_string(&mut self) -> Result<(bool, String), PyLiteralError> {
        let start = self.pos();
        let mut prefix = String::new();
        while let Some(c) = self.peek().filter(|c| c.is_ascii_alphabetic()) {
            prefix.push(c.to_ascii_lowercase());
            self.bump();
        }
        if !is_prefix(&prefix) {
            return Err(self.error_at(start, &format!("unknown string prefix {prefix:?}")));
        }
        let (raw, is_bytes) = (prefix.contains('r'), prefix.contains('b'));
        let Some(quote) = self.bump() else {
            return Err(self.error_here("unexpected end of file in a string"));
        };
        let triple = self.text[self.pos()..].starts_with(&format!("{quote}{quote}"));
        if triple {
            self.bump();
            self.bump();
        }
        let mut out = String::new();
        loop {
            let here = self.pos();
            let Some(c) = self.bump() else {
                return Err(self.error_at(start, "string is not closed"));
            };
            if c == quote && (!triple || self.text[self.pos()..].starts_with(&format!("{quote}{quote}"))) {
                if triple {
                    self.bump();
                    self.bump();
                }
                return Ok((is_bytes, out));
            }
            match c {
                '\n' if !triple => return Err(self.error_at(start, "string is not closed on its line")),
                '\\' if raw => {
                    out.push('\\');
                    if let Some(n) = self.bump() {
                        out.push(n);
                    }
                }
                '\\' => self.escape(here, is_bytes, &mut out)?,
                c if is_bytes && !c.is_ascii() => return Err(self.error_at(here, "bytes literals hold ASCII only")),
                c => out.push(c),
            }
        }
    }

    fn escape(&mut self, at: usize, is_bytes: bool, out: &mut String) -> Result<(), PyLiteralError> {
        let Some(c) = self.bump() else {
            return Err(self.error_at(at, "string ends in a backslash"));
        };
        let simple = match c {
            '\n' => Some(None),
            '\\' => Some(Some('\\')),
            '\'' => Some(Some('\'')),
            '"' => Some(Some('"')),
            'a' => Some(Some('\x07')),
            'b' => Some(Some('\x08')),
            'f' => Some(Some('\x0c')),
            'n' => Some(Some('\n')),
            'r' => Some(Some('\r')),
            't' => Some(Some('\t')),
            'v' => Some(Some('\x0b')),
            _ => None,
        };
        if let Some(ch) = simple {
            out.extend(ch);
            return Ok(());
        }
        let code = match c {
            'x' => self.hex_digits(at, 2)?,
            'u' if !is_bytes => self.hex_digits(at, 4)?,
            'U' if !is_bytes => self.hex_digits(at, 8)?,
            '0'..='7' => {
                let mut n = c.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match self.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            n = n * 8 + d;
                            self.bump();
                        }
                        None => break,
                    }
                }
                n
            }
            other => {
                // Python keeps unknown escapes as they are.
                out.push('\\');
                out.push(other);
                return Ok(());
            }
        };
        let ch = char::from_u32(code).ok_or_else(|| self.error_at(at, "escape is not a valid character"))?;
        out.push(ch);
        Ok(())
    }

    fn hex_digits(&mut self, at: usize, n: usize) -> Result<u32, PyLiteralError> {
        let mut code = 0u32;
        for _ in 0..n {
            let d = self.bump().and_then(|c| c.to_digit(16)).ok_or_else(|| self.error_at(at, "bad hex escape"))?;
            code = code.saturating_mul(16).saturating_add(d);
        }
        Ok(code)
    }

    fn number(&mut self) -> Result<Value, PyLiteralError> {
        let start = self.pos();
        let mut negative = false;
        while let Some(sign @ ('-' | '+')) = self.peek() {
            negative ^= sign == '-';
            self.bump();
            self.skip_space();
        }
        let body_start = self.pos();
        while self.peek().is_some_and(|c| {
            c.is_ascii_alphanumeric()
                || c == '_'
                || c == '.'
                || (matches!(c, '+' | '-')
                    && self.text[..self.pos()].ends_with(['e', 'E'])
                    && !self.is_radix(body_start))
        }) {
            self.bump();
        }
        let body: String = self.text[body_start..self.pos()].chars().filter(|c| *c != '_').collect();
        let bad = |p: &Self| p.error_at(start, &format!("{:?} is not a number literal", &p.text[start..p.pos()]));
        if let Some(v) = parse_int(&body) {
            let v = if negative { v.checked_neg() } else { Some(v) };
            return v.map(Value::Int).ok_or_else(|| self.error_at(start, "integer does not fit in 64 bits"));
        }
        if !body.is_empty() && body.chars().all(|c| c.is_ascii_digit()) && !body.starts_with('0') {
            return Err(self.error_at(start, "integer does not fit in 64 bits"));
        }
        let is_float = body.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
            && body.contains(['.', 'e', 'E'])
            && body.chars().any(|c| c.is_ascii_digit());
        match body.parse::<f64>() {
            Ok(f) if is_float => Ok(Value::Float(if negative { -f } else { f })),
            _ => Err(bad(self)),
        }
    }

    fn is_radix(&self, body_start: usize) -> bool {
        let b = &self.text[body_start..];
        b.len() > 1 && b.starts_with('0') && matches!(b.as_bytes()[1], b'x' | b'X' | b'o' | b'O' | b'b' | b'B')
    }
}

fn is_prefix(p: &str) -> bool {
    matches!(p.to_ascii_lowercase().as_str(), "" | "r" | "u" | "b" | "br" | "rb")
}

fn parse_int(body: &str) -> Option<i64> {
    let lower = body.to_ascii_lowercase();
    let (digits, radix) = match lower.get(..2) {
        Some("0x") => (&lower[2..], 16),
        Some("0o") => (&lower[2..], 8),
        Some("0b") => (&lower[2..], 2),
        _ => (lower.as_str(), 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    if radix == 10 && digits.len() > 1 && digits.starts_with('0') && digits.chars().any(|c| c != '0') {
        return None; // Python 3 refuses 0777
    }
    i64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
#[path = "pyliteral_tests.rs"]
mod tests;
