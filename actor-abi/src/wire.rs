//! The byte encoding of a [`Value`] when it crosses the host/plugin boundary.
//!
//! Values never cross as Rust objects (each side has its own allocator view
//! and its own copy of this crate); they cross as bytes that the receiving
//! side decodes into values it owns. The format is part of the ABI version.
//!
//! Layout: one tag byte, then for `int` a zig-zag LEB128 varint, for `float`
//! eight little-endian bytes, for `string`/`bytes` a varint length and the
//! bytes, for `list` a varint count and the items, for `map` a varint count
//! and (string, value) pairs in ascending key order.

use crate::value::{Map, Value};

const T_NULL: u8 = 0;
const T_FALSE: u8 = 1;
const T_TRUE: u8 = 2;
const T_INT: u8 = 3;
const T_FLOAT: u8 = 4;
const T_STRING: u8 = 5;
const T_BYTES: u8 = 6;
const T_LIST: u8 = 7;
const T_MAP: u8 = 8;

/// Deepest nesting accepted by [`decode`]; deeper input is refused rather
/// than risking the decoder's stack.
pub const MAX_DEPTH: usize = 256;

/// Why bytes could not be decoded into a [`Value`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The input ended inside a value.
    #[error("value encoding truncated at byte {offset}")]
    Truncated {
        /// Where more bytes were needed.
        offset: usize,
    },
    /// A tag byte that no value kind uses.
    #[error("unknown value tag {tag} at byte {offset}")]
    UnknownTag {
        /// The tag found.
        tag: u8,
        /// Where it was found.
        offset: usize,
    },
    /// A varint longer than 64 bits.
    #[error("malformed length or integer at byte {offset}")]
    BadVarint {
        /// Where the varint started.
        offset: usize,
    },
    /// A string that is not UTF-8.
    #[error("string at byte {offset} is not UTF-8")]
    BadUtf8 {
        /// Where the string's bytes started.
        offset: usize,
    },
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("value nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// A map that repeats a key.
    #[error("map repeats key {key:?}")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// Bytes left over after the value.
    #[error("{extra} unexpected bytes after the value")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
}

/// Appends the encoding of `value` to `out`.
pub fn encode_into(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(T_NULL),
        Value::Bool(false) => out.push(T_FALSE),
        Value::Bool(true) => out.push(T_TRUE),
        Value::Int(i) => {
            out.push(T_INT);
            put_varint(out, ((i << 1) ^ (i >> 63)) as u64);
        }
        Value::Float(f) => {
            out.push(T_FLOAT);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::String(s) => put_blob(out, T_STRING, s.as_bytes()),
        Value::Bytes(b) => put_blob(out, T_BYTES, b),
        Value::List(l) => {
            out.push(T_LIST);
            put_varint(out, l.len() as u64);
            l.iter().for_each(|v| encode_into(v, out));
        }
        Value::Map(m) => {
            out.push(T_MAP);
            put_varint(out, m.len() as u64);
            for (k, v) in m {
                put_varint(out, k.len() as u64);
                out.extend_from_slice(k.as_bytes());
                encode_into(v, out);
            }
        }
    }
}

/// Encodes `value` into a new buffer.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(value, &mut out);
    out
}

/// Decodes exactly one value from `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Value, WireError> {
    let mut r = Reader { bytes, pos: 0 };
    let v = r.value(0)?;
    match bytes.len() - r.pos {
        0 => Ok(v),
        extra => Err(WireError::TrailingBytes { extra }),
    }
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_blob(out: &mut Vec<u8>, tag: u8, b: &[u8]) {
    out.push(tag);
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, WireError> {
        let b = *self.bytes.get(self.pos).ok_or(WireError::Truncated { offset: self.pos })?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let start = self.pos;
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let part = u64::from(b & 0x7f);
            if shift == 63 && part > 1 {
                break;
            }
            n |= part << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(WireError::BadVarint { offset: start })
    }

    /// A length that must fit in what is left of the input (each counted
    /// item takes at least one byte), so hostile counts cannot force huge
    /// allocations.
    fn len(&mut self) -> Result<usize, WireError> {
        let n = self.varint()?;
        let left = (self.bytes.len() - self.pos) as u64;
        if n > left {
            return Err(WireError::Truncated { offset: self.bytes.len() });
        }
        Ok(n as usize)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], WireError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.bytes.len());
        let end = end.ok_or(WireError::Truncated { offset: self.bytes.len() })?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn string(&mut self) -> Result<String, WireError> {
        let n = self.len()?;
        let offset = self.pos;
        let raw = self.take(n)?;
        std::str::from_utf8(raw).map(str::to_string).map_err(|_| WireError::BadUtf8 { offset })
    }

    fn value(&mut self, depth: usize) -> Result<Value, WireError> {
        if depth > MAX_DEPTH {
            return Err(WireError::TooDeep);
        }
        let offset = self.pos;
        Ok(match self.byte()? {
            T_NULL => Value::Null,
            T_FALSE => Value::Bool(false),
            T_TRUE => Value::Bool(true),
            T_INT => {
                let z = self.varint()?;
                Value::Int(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
            T_FLOAT => {
                let raw = self.take(8)?;
                let mut b = [0u8; 8];
                b.copy_from_slice(raw);
                Value::Float(f64::from_le_bytes(b))
            }
            T_STRING => Value::String(self.string()?),
            T_BYTES => {
                let n = self.len()?;
                Value::Bytes(self.take(n)?.to_vec())
            }
            T_LIST => {
                let n = self.len()?;
                let mut l = Vec::with_capacity(n);
                for _ in 0..n {
                    l.push(self.value(depth + 1)?);
                }
                Value::List(l)
            }
            T_MAP => self.map(depth)?,
            tag => return Err(WireError::UnknownTag { tag, offset }),
        })
    }

    fn map(&mut self, depth: usize) -> Result<Value, WireError> {
        let n = self.len()?;
        let mut m = Map::new();
        for _ in 0..n {
            let k = self.string()?;
            let v = self.value(depth + 1)?;
            if m.contains_key(&k) {
                return Err(WireError::DuplicateKey { key: k });
            }
            m.insert(k, v);
        }
        Ok(Value::Map(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(v: Value) {
        assert_eq!(decode(&encode(&v)).unwrap(), v);
    }

    #[test]
    fn every_kind_round_trips() {
        round(Value::Null);
        round(Value::Bool(true));
        round(Value::Bool(false));
        for i in [0, 1, -1, 63, -64, 64, i64::MAX, i64::MIN] {
            round(Value::Int(i));
        }
        round(Value::Float(-2.5));
        round(Value::String("héllo".into()));
        round(Value::Bytes(vec![0, 1, 255]));
        round(crate::value!({"a": [1, {"b": null}], "c": "d"}));
    }

    #[test]
    fn truncated_input_is_refused_at_every_cut() {
        let bytes = encode(&crate::value!({"key": [1, 2, "three", 4.5]}));
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut} decoded");
        }
    }

    #[test]
    fn hostile_inputs_are_refused_with_their_reason() {
        assert_eq!(decode(&[99]), Err(WireError::UnknownTag { tag: 99, offset: 0 }));
        assert_eq!(decode(&[0, 0]), Err(WireError::TrailingBytes { extra: 1 }));
        assert!(matches!(decode(&[T_STRING, 2, 0xff, 0xfe]), Err(WireError::BadUtf8 { .. })));
        let huge_count = [T_LIST, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(matches!(decode(&huge_count), Err(WireError::Truncated { .. })));
        let long_varint = [T_INT, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert!(matches!(decode(&long_varint), Err(WireError::BadVarint { .. })));
        let dup = [T_MAP, 2, 1, b'k', T_NULL, 1, b'k', T_NULL];
        assert_eq!(decode(&dup), Err(WireError::DuplicateKey { key: "k".into() }));
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused() {
        let mut bytes = [T_LIST, 1].repeat(MAX_DEPTH + 2);
        bytes.push(T_NULL);
        assert_eq!(decode(&bytes), Err(WireError::TooDeep));
    }
}
