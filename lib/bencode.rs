//! Strict bencode decoding of untrusted bytes.
//!
//! [`decode`] is the one entry point for every byte string that comes from outside: torrent
//! files, tracker responses, extension messages. It builds a borrowed [`Value`] tree in which
//! every value remembers the exact byte span it was read from, so that the info hash can be
//! computed over the original bytes of the `info` value and never over a re-encoding.
//!
//! Invariants: nesting never exceeds [`Limits::max_depth`], the input never exceeds
//! [`Limits::max_size`] bytes, and no more than [`Limits::max_tokens`] values are built, so hostile
//! input costs bounded time, memory and stack. The values of one input also take no more memory
//! than [`TOKEN_MEMORY_PER_BYTE`] bytes per input byte (or [`TOKEN_MEMORY_FLOOR`]): a first
//! pass counts the values without building anything and refuses dense inputs (a 16 MB list of
//! empty lists, 8 million 48-byte nodes, took 393 MB) before any is allocated. Malformed integers (`i03e`, `i-0e`, `ie`), string
//! lengths with leading zeros or past the end, duplicate dictionary keys and trailing bytes are
//! errors; trailing ASCII whitespace after the top-level value is accepted. Keys out of order are
//! accepted and reported through [`Decoded::warnings`], because real torrents contain them.
//!
//! Reading maps the [`Value`] tree by hand rather than through `serde_bencode`'s derive: errors can
//! then name the offending key, raw bytes of unknown keys survive, and the lenient corners of
//! `serde_bencode` (leading zeros, unsorted or duplicate keys, no depth limit) never see untrusted
//! input. Writing, where we control the bytes, goes through `serde_bencode` (see `create`).

use std::fmt;
use std::ops::Range;

/// Bounds on the work that decoding one input may cost.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest nesting of lists and dictionaries.
    pub max_depth: usize,
    /// Largest input in bytes.
    pub max_size: usize,
    /// Most values (integers, strings, lists, dictionaries) in one input.
    pub max_tokens: usize,
}

impl Default for Limits {
    /// Limits for torrent files: 128 levels, 64 MiB, 8 million values.
    fn default() -> Self {
        Limits {
            max_depth: 128,
            max_size: 64 << 20,
            max_tokens: 8_000_000,
        }
    }
}

/// Node memory allowed per input byte. Real torrents need about 10 (one 48-byte node per ~5
/// bytes of a file list with short names); values of 2 or 3 bytes each (`le`, `0:`, `i0e`)
/// would need 16 to 24.
pub const TOKEN_MEMORY_PER_BYTE: usize = 12;
/// Node memory always allowed, whatever the input size.
pub const TOKEN_MEMORY_FLOOR: usize = 32 << 20;

/// Most values `input` may hold: [`Limits::max_tokens`], and no more nodes than
/// [`TOKEN_MEMORY_PER_BYTE`] per input byte (or [`TOKEN_MEMORY_FLOOR`]) can hold.
pub fn token_limit(input: &[u8], limits: &Limits) -> usize {
    let memory = (input.len() * TOKEN_MEMORY_PER_BYTE).max(TOKEN_MEMORY_FLOOR);
    limits
        .max_tokens
        .min(memory / std::mem::size_of::<Node<'_>>())
}

/// Values in `input`, counted without building them (stops past `stop`, or at the first byte
/// that is not bencode: the parser then reports it).
fn count_tokens(input: &[u8], stop: usize) -> usize {
    let (mut i, mut n) = (0, 0);
    while n <= stop {
        match input.get(i) {
            Some(b'i') => match input[i..].iter().position(|&c| c == b'e') {
                Some(e) => i += e + 1,
                None => break,
            },
            Some(b'0'..=b'9') => {
                let Some(colon) = input[i..].iter().take(21).position(|&c| c == b':') else {
                    break;
                };
                let len = std::str::from_utf8(&input[i..i + colon])
                    .ok()
                    .and_then(|t| t.parse::<usize>().ok());
                match len.and_then(|l| (i + colon + 1).checked_add(l)) {
                    Some(next) => i = next,
                    None => break,
                }
            }
            Some(b'l' | b'd') => i += 1,
            Some(b'e') => {
                i += 1;
                continue;
            }
            _ => break,
        }
        n += 1;
    }
    n
}

/// Why a byte string is not acceptable bencode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The input is larger than the size limit.
    TooLarge {
        /// Input size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Lists and dictionaries nest deeper than the limit.
    TooDeep {
        /// Byte offset of the value that went too deep.
        offset: usize,
        /// The limit.
        limit: usize,
    },
    /// More values than the token limit.
    TooManyTokens {
        /// The limit.
        limit: usize,
    },
    /// The input ended inside a value.
    Eof {
        /// Where the unfinished value started.
        offset: usize,
    },
    /// A byte that cannot start or continue a value here.
    Unexpected {
        /// The byte.
        byte: u8,
        /// Its offset.
        offset: usize,
    },
    /// An integer that is not canonical decimal or does not fit in 64 bits.
    BadInteger {
        /// Offset of the `i`.
        offset: usize,
    },
    /// A string length with leading zeros, too many digits, or past the end of the input.
    BadLength {
        /// Offset of the length.
        offset: usize,
    },
    /// A dictionary key that is not a byte string.
    KeyNotString {
        /// Offset of the key.
        offset: usize,
    },
    /// The same key twice in one dictionary.
    DuplicateKey {
        /// The key, lossily printed.
        key: String,
        /// Offset of the second occurrence.
        offset: usize,
    },
    /// Bytes after the end of the top-level value.
    Trailing {
        /// Offset of the first trailing byte.
        offset: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TooLarge { size, limit } => {
                write!(
                    f,
                    "input of {size} bytes is over the limit of {limit} bytes"
                )
            }
            Error::TooDeep { offset, limit } => {
                write!(f, "nesting deeper than {limit} levels at byte {offset}")
            }
            Error::TooManyTokens { limit } => write!(f, "more than {limit} values"),
            Error::Eof { offset } => write!(f, "input ends inside the value at byte {offset}"),
            Error::Unexpected { byte, offset } => {
                write!(f, "unexpected byte 0x{byte:02x} at byte {offset}")
            }
            Error::BadInteger { offset } => write!(f, "malformed integer at byte {offset}"),
            Error::BadLength { offset } => write!(f, "malformed string length at byte {offset}"),
            Error::KeyNotString { offset } => {
                write!(f, "dictionary key at byte {offset} is not a string")
            }
            Error::DuplicateKey { key, offset } => {
                write!(f, "duplicate dictionary key {key:?} at byte {offset}")
            }
            Error::Trailing { offset } => {
                write!(f, "trailing data after the value at byte {offset}")
            }
        }
    }
}

impl std::error::Error for Error {}

/// One decoded value, borrowing from the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// `i...e`
    Int(i64),
    /// `N:...`
    Bytes(&'a [u8]),
    /// `l...e`
    List(Vec<Node<'a>>),
    /// `d...e`: entries in input order.
    Dict(Dict<'a>),
}

/// A value and the byte span it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Node<'a> {
    /// The value.
    pub value: Value<'a>,
    /// Its exact span in the input.
    pub span: Range<usize>,
}

/// A dictionary in input order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dict<'a> {
    /// Entries in the order they appear.
    pub entries: Vec<(&'a [u8], Node<'a>)>,
    /// Whether the keys appear in strictly ascending byte order (canonical bencode).
    pub sorted: bool,
}

impl<'a> Dict<'a> {
    /// The value for `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        self.entries
            .iter()
            .find(|(k, _)| *k == key.as_bytes())
            .map(|(_, v)| v)
    }
}

impl<'a> Node<'a> {
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self.value {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }
    /// The byte string, if this is one.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self.value {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
    /// The byte string as UTF-8, if this is a byte string holding valid UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }
    /// The list, if this is one.
    pub fn as_list(&self) -> Option<&[Node<'a>]> {
        match &self.value {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<&Dict<'a>> {
        match &self.value {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }
    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Int(_) => "an integer",
            Value::Bytes(_) => "a string",
            Value::List(_) => "a list",
            Value::Dict(_) => "a dictionary",
        }
    }
}

/// The result of decoding a whole input.
#[derive(Debug, Clone)]
pub struct Decoded<'a> {
    /// The top-level value.
    pub root: Node<'a>,
    /// Non-fatal findings, such as dictionaries whose keys are out of order.
    pub warnings: Vec<String>,
}

/// Decode a whole input: exactly one value, optionally followed by ASCII whitespace.
pub fn decode<'a>(input: &'a [u8], limits: &Limits) -> Result<Decoded<'a>, Error> {
    if input.len() > limits.max_size {
        return Err(Error::TooLarge {
            size: input.len(),
            limit: limits.max_size,
        });
    }
    let max_tokens = token_limit(input, limits);
    if count_tokens(input, max_tokens) > max_tokens {
        return Err(Error::TooManyTokens { limit: max_tokens });
    }
    let mut p = Parser {
        input,
        pos: 0,
        tokens: 0,
        max_tokens,
        limits,
        unsorted: 0,
        first_unsorted: None,
    };
    let root = p.value(0)?;
    if let Some(i) = input[p.pos..].iter().position(|b| !b.is_ascii_whitespace()) {
        return Err(Error::Trailing { offset: p.pos + i });
    }
    let mut warnings = Vec::new();
    if let Some(at) = p.first_unsorted {
        warnings.push(format!(
            "non-canonical bencode: {} dictionar{} with keys out of order (first at byte {at})",
            p.unsorted,
            if p.unsorted == 1 { "y" } else { "ies" }
        ));
    }
    Ok(Decoded { root, warnings })
}

/// Decode one value at the start of `input` and return it with the number of bytes it used;
/// bytes after it are left alone (for protocols that append data after a bencoded header).
pub fn decode_prefix<'a>(input: &'a [u8], limits: &Limits) -> Result<(Node<'a>, usize), Error> {
    let input = &input[..input.len().min(limits.max_size)];
    let mut p = Parser {
        input,
        pos: 0,
        tokens: 0,
        max_tokens: token_limit(input, limits),
        limits,
        unsorted: 0,
        first_unsorted: None,
    };
    let root = p.value(0)?;
    Ok((root, p.pos))
}

struct Parser<'a, 'l> {
    input: &'a [u8],
    pos: usize,
    tokens: usize,
    max_tokens: usize,
    limits: &'l Limits,
    unsorted: usize,
    first_unsorted: Option<usize>,
}

impl<'a> Parser<'a, '_> {
    fn value(&mut self, depth: usize) -> Result<Node<'a>, Error> {
        let start = self.pos;
        self.tokens += 1;
        if self.tokens > self.max_tokens {
            return Err(Error::TooManyTokens {
                limit: self.max_tokens,
            });
        }
        let Some(&b) = self.input.get(self.pos) else {
            return Err(Error::Eof { offset: start });
        };
        let value = match b {
            b'i' => Value::Int(self.int()?),
            b'0'..=b'9' => Value::Bytes(self.bytes()?),
            b'l' | b'd' => {
                if depth >= self.limits.max_depth {
                    return Err(Error::TooDeep {
                        offset: start,
                        limit: self.limits.max_depth,
                    });
                }
                self.pos += 1;
                if b == b'l' {
                    let mut items = Vec::new();
                    while self.peek(start)? != b'e' {
                        items.push(self.value(depth + 1)?);
                    }
                    self.pos += 1;
                    Value::List(items)
                } else {
                    Value::Dict(self.dict(start, depth)?)
                }
            }
            byte => {
                return Err(Error::Unexpected {
                    byte,
                    offset: start,
                })
            }
        };
        Ok(Node {
            value,
            span: start..self.pos,
        })
    }

    fn dict(&mut self, start: usize, depth: usize) -> Result<Dict<'a>, Error> {
        let mut entries: Vec<(&'a [u8], Node<'a>)> = Vec::new();
        let mut sorted = true;
        // Keys seen so far, built at the first out-of-order key: while keys ascend, a duplicate
        // is impossible; after that, every key is checked in O(1) (a linear scan per key would
        // let a few MB of descending keys take hours).
        let mut seen: Option<std::collections::HashSet<&'a [u8]>> = None;
        while self.peek(start)? != b'e' {
            let key_at = self.pos;
            if !self.input[self.pos].is_ascii_digit() {
                return Err(Error::KeyNotString { offset: key_at });
            }
            self.tokens += 1;
            let key = self.bytes()?;
            let out_of_order = entries.last().is_some_and(|(last, _)| key <= *last);
            if out_of_order && seen.is_none() {
                seen = Some(entries.iter().map(|(k, _)| *k).collect());
            }
            if let Some(set) = &mut seen {
                if !set.insert(key) {
                    return Err(Error::DuplicateKey {
                        key: String::from_utf8_lossy(key).into_owned(),
                        offset: key_at,
                    });
                }
            }
            if out_of_order && sorted {
                sorted = false;
                self.unsorted += 1;
                self.first_unsorted.get_or_insert(start);
            }
            let value = self.value(depth + 1)?;
            entries.push((key, value));
        }
        self.pos += 1;
        Ok(Dict { entries, sorted })
    }

    fn peek(&self, start: usize) -> Result<u8, Error> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or(Error::Eof { offset: start })
    }

    fn int(&mut self) -> Result<i64, Error> {
        let start = self.pos;
        let bad = Error::BadInteger { offset: start };
        let rest = &self.input[start + 1..];
        let end = rest
            .iter()
            .position(|&c| c == b'e')
            .ok_or(Error::Eof { offset: start })?;
        let digits = &rest[..end];
        let (neg, mag) = match digits.split_first() {
            Some((b'-', m)) => (true, m),
            _ => (false, digits),
        };
        let canonical = !mag.is_empty()
            && mag.len() <= 19
            && mag.iter().all(u8::is_ascii_digit)
            && (mag[0] != b'0' || mag.len() == 1)
            && !(neg && mag == b"0");
        if !canonical {
            return Err(bad);
        }
        let text = std::str::from_utf8(digits).map_err(|_| bad.clone())?;
        let v: i64 = text.parse().map_err(|_| bad)?;
        self.pos = start + 1 + end + 1;
        Ok(v)
    }

    fn bytes(&mut self) -> Result<&'a [u8], Error> {
        let start = self.pos;
        let bad = Error::BadLength { offset: start };
        let colon = self.input[start..]
            .iter()
            .take(21)
            .position(|&c| c == b':')
            .ok_or_else(|| {
                if self.input.len() - start <= 20 {
                    Error::Eof { offset: start }
                } else {
                    bad.clone()
                }
            })?;
        let digits = &self.input[start..start + colon];
        if digits.is_empty()
            || digits.len() > 19
            || !digits.iter().all(u8::is_ascii_digit)
            || (digits[0] == b'0' && digits.len() > 1)
        {
            return Err(bad);
        }
        let len: usize = std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(bad.clone())?;
        let begin = start + colon + 1;
        let end = begin.checked_add(len).ok_or(bad.clone())?;
        if end > self.input.len() {
            return Err(bad);
        }
        self.pos = end;
        Ok(&self.input[begin..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(input: &[u8]) -> Result<Decoded<'_>, Error> {
        decode(input, &Limits::default())
    }

    #[test]
    fn decodes_values_with_spans() {
        let input = b"d4:infod6:lengthi3ee3:keyl1:ai-5eee";
        let dec = d(input).unwrap();
        let root = dec.root.as_dict().unwrap();
        let info = root.get("info").unwrap();
        assert_eq!(&input[info.span.clone()], b"d6:lengthi3ee");
        assert_eq!(
            info.as_dict().unwrap().get("length").unwrap().as_int(),
            Some(3)
        );
        let l = root.get("key").unwrap().as_list().unwrap();
        assert_eq!(l[0].as_bytes(), Some(&b"a"[..]));
        assert_eq!(l[1].as_int(), Some(-5));
        assert!(dec.warnings.is_empty());
    }

    #[test]
    fn rejects_malformed_integers() {
        for bad in [
            &b"i03e"[..],
            b"i-0e",
            b"ie",
            b"i-e",
            b"i1x2e",
            b"i99999999999999999999e",
            b"i9223372036854775808e",
            b"i12",
        ] {
            assert!(d(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(
            d(b"i9223372036854775807e").unwrap().root.as_int(),
            Some(i64::MAX)
        );
        assert_eq!(
            d(b"i-9223372036854775808e").unwrap().root.as_int(),
            Some(i64::MIN)
        );
        assert_eq!(d(b"i0e").unwrap().root.as_int(), Some(0));
    }

    #[test]
    fn rejects_malformed_lengths() {
        for bad in [
            &b"05:abcde"[..],
            b"5:abc",
            b"9223372036854775807:x",
            b"18446744073709551615:x",
            b"99999999999999999999999:x",
            b"-1:a",
            b"3abc",
        ] {
            assert!(d(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(d(b"0:").unwrap().root.as_bytes(), Some(&b""[..]));
    }

    #[test]
    fn trailing_data() {
        assert!(d(b"de\n").is_ok());
        assert!(d(b"de \r\n\t").is_ok());
        assert!(matches!(d(b"dex"), Err(Error::Trailing { offset: 2 })));
        assert!(matches!(d(b"dede"), Err(Error::Trailing { .. })));
    }

    #[test]
    fn keys_order_and_duplicates() {
        let dec = d(b"d1:bi1e1:ai2ee").unwrap();
        assert!(!dec.root.as_dict().unwrap().sorted);
        assert_eq!(dec.warnings.len(), 1);
        assert!(matches!(
            d(b"d1:ai1e1:ai2ee"),
            Err(Error::DuplicateKey { .. })
        ));
        assert!(matches!(
            d(b"d1:ai1e1:bi1e1:ai2ee"),
            Err(Error::DuplicateKey { .. })
        ));
        // A duplicate that is larger than its predecessor, after the order broke.
        assert!(matches!(
            d(b"d1:ai1e1:ci1e1:bi1e1:ci2ee"),
            Err(Error::DuplicateKey { .. })
        ));
        assert!(matches!(d(b"di1ei2ee"), Err(Error::KeyNotString { .. })));
    }

    #[test]
    fn depth_and_token_limits() {
        let mut deep = vec![b'l'; 300_000];
        deep.extend(vec![b'e'; 300_000]);
        assert!(matches!(d(&deep), Err(Error::TooDeep { .. })));
        let many = [b"l".as_slice(), &b"i1e".repeat(100), b"e"].concat();
        let lim = Limits {
            max_tokens: 50,
            ..Limits::default()
        };
        assert!(matches!(
            decode(&many, &lim),
            Err(Error::TooManyTokens { .. })
        ));
        let lim = Limits {
            max_size: 10,
            ..Limits::default()
        };
        assert!(matches!(decode(&many, &lim), Err(Error::TooLarge { .. })));
    }

    #[test]
    fn truncation_at_every_point_is_an_error_not_a_panic() {
        let input = b"d4:infod6:lengthi3e4:name3:abce3:keyl1:ai-5eee";
        for cut in 0..input.len() {
            assert!(d(&input[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn prefix_decoding_leaves_the_rest() {
        let (v, used) = decode_prefix(b"d1:ai1eeXYZ", &Limits::default()).unwrap();
        assert_eq!(used, 8);
        assert!(v.as_dict().is_some());
    }

    /// Issue 11 #9: a 16 MB list of empty lists (8 million values) took 393 MB; it is now
    /// refused by the counting pass, before a node is built, and what is accepted is bounded by
    /// the input's size.
    #[test]
    fn dense_inputs_are_refused_before_building() {
        let mut input = b"l".to_vec();
        input.extend(b"le".repeat(8_000_000 - 1));
        input.push(b'e');
        let limit = token_limit(&input, &Limits::default());
        assert!(limit * std::mem::size_of::<Node>() <= input.len() * TOKEN_MEMORY_PER_BYTE);
        assert_eq!(
            decode(&input, &Limits::default()).unwrap_err(),
            Error::TooManyTokens { limit }
        );
        // A small input may always use the floor, and a real torrent's density passes.
        let small = b"llelelee";
        assert_eq!(count_tokens(small, 100), 4);
        assert!(decode(small, &Limits::default()).is_ok());
        let files: Vec<u8> = (0..200_000)
            .flat_map(|k| {
                format!("d6:lengthi1e4:pathl2:d{}4:f{:03}ee", k % 10, k % 1000).into_bytes()
            })
            .collect();
        let torrent = [b"l".to_vec(), files, b"e".to_vec()].concat();
        assert!(count_tokens(&torrent, usize::MAX) > 1_000_000);
        assert!(decode(&torrent, &Limits::default()).is_ok());
        // Malformed input stops the count; the parser names the problem.
        assert_eq!(count_tokens(b"l5:abe", 100), 2);
        assert!(matches!(
            decode(b"l99999999999999999999999:e", &Limits::default()),
            Err(Error::BadLength { .. })
        ));
    }
}
