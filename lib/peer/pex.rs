//! BEP 11 `ut_pex`: peer exchange messages and the per-connection state that sends them.
//!
//! No I/O: [`Message`] is the codec (`added`, `added.f`, `dropped`, `added6`, `added6.f`,
//! `dropped6`, compact addresses), [`PexState`] decides what to tell one peer and when, from the
//! caller's clock.
//!
//! Invariants: a payload over [`MAX_PEX_MESSAGE`] bytes is refused before it is parsed; a
//! decoded message holds at most [`MAX_PEX_PEERS`] added and as many dropped addresses (the rest
//! are ignored), never port 0; a message [`PexState`] produces has at most
//! [`MAX_ADDED_PER_MESSAGE`] added and as many dropped, comes at least [`PEX_INTERVAL`] after the
//! previous one on the same connection, and never comes at all for a private torrent (BEP 27).

use crate::bencode;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

/// The largest `ut_pex` payload accepted.
pub const MAX_PEX_MESSAGE: usize = 32 * 1024;
/// Most added (and most dropped) addresses taken from one message; the rest are ignored.
pub const MAX_PEX_PEERS: usize = 200;
/// Most added (and dropped) addresses we put in one message (BEP 11: 50).
pub const MAX_ADDED_PER_MESSAGE: usize = 50;
/// The shortest time between two messages to one peer.
pub const PEX_INTERVAL: Duration = Duration::from_secs(60);

/// The `added.f` flag bits.
pub mod flags {
    /// The peer prefers encryption.
    pub const ENCRYPTION: u8 = 0x01;
    /// The peer is a seed (or upload only).
    pub const SEED: u8 = 0x02;
    /// The peer supports uTP.
    pub const UTP: u8 = 0x04;
    /// The peer supports the holepunch extension.
    pub const HOLEPUNCH: u8 = 0x08;
    /// The peer is reachable (an outgoing connection, or one that said so).
    pub const CONNECTABLE: u8 = 0x10;
}

/// Why a `ut_pex` message is unacceptable. Every variant means: drop the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Larger than [`MAX_PEX_MESSAGE`].
    TooLarge(usize),
    /// Not strict bencode.
    Bencode(String),
    /// Not a dictionary.
    NotDict,
    /// A key that is not a string of whole compact addresses, or flags whose count differs
    /// from the addresses'.
    Field(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TooLarge(n) => write!(
                f,
                "ut_pex: message of {n} bytes is over the {MAX_PEX_MESSAGE} allowed"
            ),
            Error::Bencode(e) => write!(f, "ut_pex: {e}"),
            Error::NotDict => write!(f, "ut_pex: not a dictionary"),
            Error::Field(k) => write!(f, "ut_pex: malformed {k:?}"),
        }
    }
}

impl std::error::Error for Error {}

/// One `ut_pex` message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Peers the sender connected to since its last message, with their [`flags`].
    pub added: Vec<(SocketAddr, u8)>,
    /// Peers the sender disconnected from since its last message.
    pub dropped: Vec<SocketAddr>,
}

fn compact(addr: &SocketAddr, out4: &mut Vec<u8>, out6: &mut Vec<u8>) -> bool {
    match addr.ip() {
        IpAddr::V4(ip) => {
            out4.extend_from_slice(&ip.octets());
            out4.extend_from_slice(&addr.port().to_be_bytes());
            true
        }
        IpAddr::V6(ip) => {
            out6.extend_from_slice(&ip.octets());
            out6.extend_from_slice(&addr.port().to_be_bytes());
            false
        }
    }
}

fn parse_compact(b: &[u8]) -> SocketAddr {
    let port = u16::from_be_bytes([b[b.len() - 2], b[b.len() - 1]]);
    let ip = if b.len() == 6 {
        IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    } else {
        let o: [u8; 16] = b[..16].try_into().expect("16 bytes");
        IpAddr::V6(Ipv6Addr::from(o))
    };
    SocketAddr::new(ip, port)
}

fn put(out: &mut Vec<u8>, key: &str, val: &[u8]) {
    out.extend_from_slice(format!("{}:{key}{}:", key.len(), val.len()).as_bytes());
    out.extend_from_slice(val);
}

impl Message {
    /// Decode a payload strictly (through [`crate::bencode`]): every present address key is a
    /// string of whole 6-byte (IPv4) or 18-byte (IPv6) entries, every present flags key has one
    /// byte per address. Unknown keys are ignored; addresses with port 0 are skipped.
    pub fn decode(payload: &[u8]) -> Result<Message, Error> {
        if payload.len() > MAX_PEX_MESSAGE {
            return Err(Error::TooLarge(payload.len()));
        }
        let limits = bencode::Limits {
            max_depth: 4,
            max_size: MAX_PEX_MESSAGE,
            max_tokens: 256,
        };
        let d = bencode::decode(payload, &limits).map_err(|e| Error::Bencode(e.to_string()))?;
        let dict = d.root.as_dict().ok_or(Error::NotDict)?;
        let list = |key: &'static str, width: usize| -> Result<Vec<&[u8]>, Error> {
            match dict.get(key) {
                None => Ok(Vec::new()),
                Some(v) => match v.as_bytes() {
                    Some(b) if b.len() % width == 0 => Ok(b.chunks(width).collect()),
                    _ => Err(Error::Field(key)),
                },
            }
        };
        let flags = |key: &'static str, n: usize| -> Result<Vec<u8>, Error> {
            match dict.get(key) {
                None => Ok(vec![0; n]),
                Some(v) => match v.as_bytes() {
                    Some(b) if b.len() == n => Ok(b.to_vec()),
                    _ => Err(Error::Field(key)),
                },
            }
        };
        let mut m = Message::default();
        for (key, fkey, width) in [("added", "added.f", 6), ("added6", "added6.f", 18)] {
            let addrs = list(key, width)?;
            let f = flags(fkey, addrs.len())?;
            for (a, f) in addrs.iter().zip(f) {
                let addr = parse_compact(a);
                if addr.port() != 0 && m.added.len() < MAX_PEX_PEERS {
                    m.added.push((addr, f));
                }
            }
        }
        for (key, width) in [("dropped", 6), ("dropped6", 18)] {
            for a in list(key, width)? {
                let addr = parse_compact(a);
                if addr.port() != 0 && m.dropped.len() < MAX_PEX_PEERS {
                    m.dropped.push(addr);
                }
            }
        }
        Ok(m)
    }

    /// The bencoded payload, keys in canonical order (`added`, `added.f`, `added6`,
    /// `added6.f`, `dropped`, `dropped6`); IPv6 keys only when there are IPv6 addresses.
    pub fn encode(&self) -> Vec<u8> {
        let (mut a4, mut a6, mut f4, mut f6) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (addr, f) in &self.added {
            if compact(addr, &mut a4, &mut a6) {
                f4.push(*f);
            } else {
                f6.push(*f);
            }
        }
        let (mut d4, mut d6) = (Vec::new(), Vec::new());
        for addr in &self.dropped {
            compact(addr, &mut d4, &mut d6);
        }
        let mut out = b"d".to_vec();
        put(&mut out, "added", &a4);
        put(&mut out, "added.f", &f4);
        if !a6.is_empty() {
            put(&mut out, "added6", &a6);
            put(&mut out, "added6.f", &f6);
        }
        put(&mut out, "dropped", &d4);
        if !d6.is_empty() {
            put(&mut out, "dropped6", &d6);
        }
        out.push(b'e');
        out
    }
}

/// What one connection has been told about our peers, and when.
#[derive(Debug, Clone)]
pub struct PexState {
    enabled: bool,
    /// The peers the other side knows from us, with the flags we gave.
    told: HashMap<SocketAddr, u8>,
    last: Option<Instant>,
}

impl PexState {
    /// The state of a new connection; with `private` (BEP 27) it never yields a message.
    pub fn new(private: bool) -> PexState {
        PexState {
            enabled: !private,
            told: HashMap::new(),
            last: None,
        }
    }

    /// Whether PEX is used on this connection at all (send, and take what arrives).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The message to send now, given the peers we are connected to (`current`, with their
    /// [`flags`]; leave out the receiver itself): those added and dropped since the last
    /// message, at most [`MAX_ADDED_PER_MESSAGE`] of each (the rest wait for the next). `None`
    /// when PEX is off, within [`PEX_INTERVAL`] of the previous message, or nothing changed.
    pub fn message(&mut self, now: Instant, current: &[(SocketAddr, u8)]) -> Option<Message> {
        if !self.enabled {
            return None;
        }
        if self
            .last
            .is_some_and(|t| now.saturating_duration_since(t) < PEX_INTERVAL)
        {
            return None;
        }
        let mut m = Message::default();
        for (addr, f) in current {
            if m.added.len() == MAX_ADDED_PER_MESSAGE {
                break;
            }
            if !self.told.contains_key(addr) && !m.added.iter().any(|(a, _)| a == addr) {
                m.added.push((*addr, *f));
            }
        }
        let mut gone: Vec<SocketAddr> = self
            .told
            .keys()
            .filter(|a| !current.iter().any(|(c, _)| c == *a))
            .copied()
            .collect();
        gone.sort();
        gone.truncate(MAX_ADDED_PER_MESSAGE);
        m.dropped = gone;
        if m.added.is_empty() && m.dropped.is_empty() {
            return None;
        }
        for (a, f) in &m.added {
            self.told.insert(*a, *f);
        }
        for a in &m.dropped {
            self.told.remove(a);
        }
        self.last = Some(now);
        Some(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(i: u32) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), 6881)
    }

    #[test]
    fn round_trip_both_families_and_flags() {
        let m = Message {
            added: vec![
                (v4(1), flags::SEED | flags::CONNECTABLE),
                ("[2001:db8::1]:51413".parse().unwrap(), flags::ENCRYPTION),
                (v4(2), flags::UTP | flags::HOLEPUNCH),
            ],
            dropped: vec![v4(3), "[::1]:1".parse().unwrap()],
        };
        let b = m.encode();
        let back = Message::decode(&b).unwrap();
        // IPv4 entries come before IPv6 ones after a round trip.
        assert_eq!(back.added, vec![m.added[0], m.added[2], m.added[1]]);
        assert_eq!(back.dropped, m.dropped);
        // Canonical: a strict decoder gives no warning.
        let d = bencode::decode(&b, &bencode::Limits::default()).unwrap();
        assert!(d.warnings.is_empty());
        assert_eq!(
            Message::default().encode(),
            b"d5:added0:7:added.f0:7:dropped0:e"
        );
        // Flags may be absent (0), unknown keys ignored, port 0 skipped.
        let m =
            Message::decode(b"d5:added12:\x7f\0\0\x01\x1a\xe1\x7f\0\0\x02\0\x001:xi1ee").unwrap();
        assert_eq!(m.added, vec![("127.0.0.1:6881".parse().unwrap(), 0)]);
    }

    #[test]
    fn hostile_messages_are_errors_or_capped() {
        for bad in [
            &b"d5:added5:abcdee"[..],
            b"d5:added6:abcdef7:added.f2:xxe",
            b"d7:dropped7:abcdefge",
            b"d6:added617:aaaaaaaaaaaaaaaaae",
            b"d5:addedi1ee",
            b"li1ee",
            b"d5:added0:",
            b"d5:added0:5:added0:e",
        ] {
            assert!(
                Message::decode(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            Message::decode(&vec![b'x'; MAX_PEX_MESSAGE + 1]),
            Err(Error::TooLarge(MAX_PEX_MESSAGE + 1))
        );
        // 1000 added: only the cap is taken.
        let many = Message {
            added: (1..=1000).map(|i| (v4(i), 0)).collect(),
            dropped: (1..=1000).map(v4).collect(),
        };
        let m = Message::decode(&many.encode()).unwrap();
        assert_eq!(m.added.len(), MAX_PEX_PEERS);
        assert_eq!(m.dropped.len(), MAX_PEX_PEERS);
        assert_eq!(m.added[0].0, v4(1));
    }

    #[test]
    fn state_sends_changes_at_most_once_a_minute_and_50_at_a_time() {
        let t0 = Instant::now();
        let mut s = PexState::new(false);
        let peers: Vec<(SocketAddr, u8)> = (1..=70).map(|i| (v4(i), flags::SEED)).collect();
        let m = s.message(t0, &peers).unwrap();
        assert_eq!(m.added.len(), MAX_ADDED_PER_MESSAGE);
        assert!(m.dropped.is_empty());
        // Not again within the minute, whatever changed.
        assert!(s
            .message(t0 + Duration::from_secs(59), &peers[..10])
            .is_none());
        // A minute later: the 20 left over are added, and the peers gone are dropped.
        let now: Vec<_> = peers[..10].iter().chain(&peers[50..]).copied().collect();
        let m = s.message(t0 + PEX_INTERVAL, &now).unwrap();
        assert_eq!(m.added.len(), 20);
        assert_eq!(m.added[0].0, v4(51));
        assert_eq!(m.dropped.len(), 40);
        assert!(m.dropped.contains(&v4(11)) && !m.dropped.contains(&v4(1)));
        // Nothing changed: no message, and the clock is not reset.
        assert!(s.message(t0 + 2 * PEX_INTERVAL, &now).is_none());
        let m = s.message(t0 + 2 * PEX_INTERVAL, &now[..29]).unwrap();
        assert_eq!(m.dropped, vec![v4(70)]);
    }

    #[test]
    fn private_torrents_never_exchange_peers() {
        let mut s = PexState::new(true);
        assert!(!s.enabled());
        assert!(s.message(Instant::now(), &[(v4(1), 0)]).is_none());
        assert!(PexState::new(false).enabled());
    }

    #[test]
    fn mutated_messages_never_panic() {
        let seed = Message {
            added: vec![(v4(1), 3), ("[::2]:5".parse().unwrap(), 1)],
            dropped: vec![v4(9), "[::3]:7".parse().unwrap()],
        }
        .encode();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..5000 {
            let mut b = seed.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % b.len() as u64) as usize;
                match next() % 3 {
                    0 => b[at] = next() as u8,
                    1 => b.truncate(at),
                    _ => b.insert(at, next() as u8),
                }
                if b.is_empty() {
                    break;
                }
            }
            if let Ok(m) = Message::decode(&b) {
                assert!(
                    m.added.len() <= MAX_PEX_PEERS && m.added.iter().all(|(a, _)| a.port() != 0)
                );
            }
        }
    }
}
