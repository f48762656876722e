//! BEP 9 `ut_metadata`: fetching a torrent's info dictionary from peers, and serving ours.
//!
//! No I/O: [`Message`] is the codec of one extended message (a bencoded dictionary, followed by
//! the raw piece for `data`); [`MetadataAssembler`] is the state machine of one download of the
//! info dictionary, driven by the caller's clock; [`answer`] serves a request from our own info
//! bytes.
//!
//! Invariants: no size above [`MAX_METADATA_SIZE`] (or the cap given) is believed, and nothing is
//! allocated for metadata before a size under the cap is chosen. Each 16 KiB piece of the chosen
//! size is in exactly one of: missing, in flight (asked from one peer, since an instant), held
//! (with the peer it came from). A peer is asked only for pieces of the size it announced, at
//! most [`PIPELINE`] at a time. Completed bytes are handed out only after their SHA-1 matched the
//! info hash; on a mismatch every peer that contributed is blocked and everything starts over.

use crate::bencode;
use sha1::{Digest, Sha1};
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// The size of a metadata piece (the last one may be shorter).
pub const METADATA_PIECE: usize = 16 * 1024;
/// The largest info dictionary believed: 32 MiB, as rqbit (libtorrent uses 30 MiB). The largest
/// real torrents (hundreds of thousands of files) stay well below it.
pub const MAX_METADATA_SIZE: u64 = 32 << 20;
/// How long a requested piece may stay unanswered before it is asked from another peer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Most pieces in flight from one peer at once.
pub const PIPELINE: usize = 4;

const MSG_REQUEST: i64 = 0;
const MSG_DATA: i64 = 1;
const MSG_REJECT: i64 = 2;

/// Why a `ut_metadata` message is unacceptable. Every variant means: drop the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The header is not strict bencode.
    Bencode(String),
    /// The header is not a dictionary.
    NotDict,
    /// A required key is missing or of the wrong kind or range.
    Field(&'static str),
    /// An unknown `msg_type`.
    MsgType(i64),
    /// Bytes after the header of a request or reject.
    Trailing(usize),
    /// A data piece larger than 16 KiB.
    PieceTooLarge(usize),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Bencode(e) => write!(f, "ut_metadata: {e}"),
            Error::NotDict => write!(f, "ut_metadata: the header is not a dictionary"),
            Error::Field(k) => write!(f, "ut_metadata: missing or invalid {k:?}"),
            Error::MsgType(t) => write!(f, "ut_metadata: unknown msg_type {t}"),
            Error::Trailing(n) => write!(f, "ut_metadata: {n} bytes after a request or reject"),
            Error::PieceTooLarge(n) => {
                write!(f, "ut_metadata: data piece of {n} bytes is over 16 KiB")
            }
        }
    }
}

impl std::error::Error for Error {}

/// One `ut_metadata` message (the payload of an extended message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `msg_type 0`: send me this piece.
    Request(u32),
    /// `msg_type 1`: this piece, of an info dictionary of `total_size` bytes.
    Data {
        /// Piece index.
        piece: u32,
        /// The whole info dictionary's size, as the sender says.
        total_size: u64,
        /// The piece's bytes.
        data: Vec<u8>,
    },
    /// `msg_type 2`: I will not send this piece.
    Reject(u32),
}

impl Message {
    /// Decode a payload strictly: canonical bencode (through [`crate::bencode`]), a
    /// dictionary with an integer `msg_type` and a `piece` that fits 32 bits, a positive
    /// `total_size` for data; raw bytes follow only a data header, at most 16 KiB of them.
    /// Unknown keys are ignored.
    pub fn decode(payload: &[u8]) -> Result<Message, Error> {
        let limits = bencode::Limits {
            max_depth: 4,
            max_size: payload.len(),
            max_tokens: 64,
        };
        let (node, used) =
            bencode::decode_prefix(payload, &limits).map_err(|e| Error::Bencode(e.to_string()))?;
        let dict = node.as_dict().ok_or(Error::NotDict)?;
        let int = |k: &'static str| dict.get(k).and_then(|v| v.as_int()).ok_or(Error::Field(k));
        let msg_type = int("msg_type")?;
        let piece = u32::try_from(int("piece")?).map_err(|_| Error::Field("piece"))?;
        let rest = &payload[used..];
        match msg_type {
            MSG_DATA => {
                let total_size = u64::try_from(int("total_size")?)
                    .ok()
                    .filter(|&s| s > 0)
                    .ok_or(Error::Field("total_size"))?;
                if rest.len() > METADATA_PIECE {
                    return Err(Error::PieceTooLarge(rest.len()));
                }
                Ok(Message::Data {
                    piece,
                    total_size,
                    data: rest.to_vec(),
                })
            }
            MSG_REQUEST | MSG_REJECT if !rest.is_empty() => Err(Error::Trailing(rest.len())),
            MSG_REQUEST => Ok(Message::Request(piece)),
            MSG_REJECT => Ok(Message::Reject(piece)),
            other => Err(Error::MsgType(other)),
        }
    }

    /// The payload: the bencoded header (keys in canonical order), then the piece for data.
    pub fn encode(&self) -> Vec<u8> {
        let (t, piece) = match self {
            Message::Request(p) => (MSG_REQUEST, *p),
            Message::Data { piece, .. } => (MSG_DATA, *piece),
            Message::Reject(p) => (MSG_REJECT, *p),
        };
        let mut out = format!("d8:msg_typei{t}e5:piecei{piece}e").into_bytes();
        if let Message::Data {
            total_size, data, ..
        } = self
        {
            out.extend_from_slice(format!("10:total_sizei{total_size}ee").as_bytes());
            out.extend_from_slice(data);
        } else {
            out.push(b'e');
        }
        out
    }
}

/// Number of 16 KiB pieces of an info dictionary of `size` bytes.
pub fn piece_count(size: u64) -> u32 {
    size.div_ceil(METADATA_PIECE as u64) as u32
}

/// Answer a request for `piece` from our info bytes: the piece, or a reject when it is out of
/// range (or we have no info bytes).
pub fn answer(info_bytes: &[u8], piece: u32) -> Message {
    let start = piece as usize * METADATA_PIECE;
    if info_bytes.is_empty() || start >= info_bytes.len() {
        return Message::Reject(piece);
    }
    let end = (start + METADATA_PIECE).min(info_bytes.len());
    Message::Data {
        piece,
        total_size: info_bytes.len() as u64,
        data: info_bytes[start..end].to_vec(),
    }
}

/// Why a peer's announced size is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeRefused {
    /// No `metadata_size` (or zero): the peer cannot serve metadata.
    Missing,
    /// Larger than the cap.
    TooLarge {
        /// The announced size.
        size: u64,
        /// The cap.
        cap: u64,
    },
    /// The peer was blocked after supplying metadata that failed the hash.
    Blocked,
}

impl fmt::Display for SizeRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SizeRefused::Missing => write!(f, "the peer announces no metadata_size"),
            SizeRefused::TooLarge { size, cap } => {
                write!(f, "metadata_size {size} is over the cap of {cap} bytes")
            }
            SizeRefused::Blocked => write!(f, "the peer supplied metadata that failed the hash"),
        }
    }
}

/// What a data message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress<P> {
    /// Stored; more pieces are needed.
    Stored,
    /// Not useful (a piece already held, a peer not in use, already complete): nothing changed.
    Ignored,
    /// The peer sent a piece of the wrong length or for another size: it is no longer used
    /// (drop it).
    Invalid,
    /// The info dictionary is complete and its SHA-1 is the info hash: these are its bytes.
    Complete(Vec<u8>),
    /// The info dictionary is complete but its SHA-1 is not the info hash: these peers
    /// contributed pieces and are now blocked (block them in the swarm too); the download
    /// started over.
    HashMismatch(Vec<P>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot<P> {
    Missing,
    InFlight(P, Instant),
    Held(P),
}

#[derive(Debug, Clone)]
struct PeerState {
    size: u64,
    in_flight: usize,
    /// Not asked again before this instant (after a reject or a timeout).
    resting_until: Option<Instant>,
}

/// The download of one info dictionary from several peers. `P` identifies a peer (an address,
/// a connection id).
///
/// Feed it [`add_peer`](Self::add_peer) when a peer's extension handshake arrives,
/// [`on_data`](Self::on_data) / [`on_reject`](Self::on_reject) for its messages,
/// [`remove_peer`](Self::remove_peer) when it goes; call [`requests`](Self::requests) with the
/// current instant after each event and on a timer (at [`next_deadline`](Self::next_deadline)),
/// and send what it returns.
#[derive(Debug, Clone)]
pub struct MetadataAssembler<P> {
    info_hash: [u8; 20],
    /// Set for a magnet with only `btmh`: the metadata is checked with SHA-256 against it.
    info_hash_v2: Option<[u8; 32]>,
    cap: u64,
    timeout: Duration,
    peers: HashMap<P, PeerState>,
    /// Peer order of arrival, for deterministic choices.
    order: Vec<P>,
    blocked: Vec<P>,
    /// The size being fetched, its pieces and bytes.
    size: Option<u64>,
    slots: Vec<Slot<P>>,
    buf: Vec<u8>,
    done: bool,
}

impl<P: Copy + Eq + Hash> MetadataAssembler<P> {
    /// An assembler for the torrent with v1 info hash `info_hash`, with the cap
    /// [`MAX_METADATA_SIZE`] and the timeout [`REQUEST_TIMEOUT`].
    pub fn new(info_hash: [u8; 20]) -> MetadataAssembler<P> {
        MetadataAssembler {
            info_hash,
            info_hash_v2: None,
            cap: MAX_METADATA_SIZE,
            timeout: REQUEST_TIMEOUT,
            peers: HashMap::new(),
            order: Vec::new(),
            blocked: Vec::new(),
            size: None,
            slots: Vec::new(),
            buf: Vec::new(),
            done: false,
        }
    }

    /// Check the metadata with SHA-256 against a v2 info hash (a magnet with only `btmh`,
    /// whose peers handshake with the first 20 bytes of it).
    pub fn with_v2(mut self, info_hash_v2: [u8; 32]) -> Self {
        self.info_hash_v2 = Some(info_hash_v2);
        self
    }

    /// Believe no size above `cap` bytes.
    pub fn with_cap(mut self, cap: u64) -> Self {
        self.cap = cap;
        self
    }

    /// Re-request a piece unanswered for `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether the info dictionary was completed and verified.
    pub fn is_complete(&self) -> bool {
        self.done
    }

    /// The size being fetched, once one is chosen.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// Peers that supplied metadata that failed the hash.
    pub fn blocked(&self) -> &[P] {
        &self.blocked
    }

    /// A peer that offers `ut_metadata` with the `metadata_size` of its extension handshake.
    /// Refused (and never asked) when the size is missing, over the cap, or the peer is blocked.
    pub fn add_peer(&mut self, peer: P, metadata_size: Option<u64>) -> Result<(), SizeRefused> {
        if self.blocked.contains(&peer) {
            return Err(SizeRefused::Blocked);
        }
        let size = metadata_size
            .filter(|&s| s > 0)
            .ok_or(SizeRefused::Missing)?;
        if size > self.cap {
            return Err(SizeRefused::TooLarge {
                size,
                cap: self.cap,
            });
        }
        self.remove_peer(peer);
        self.peers.insert(
            peer,
            PeerState {
                size,
                in_flight: 0,
                resting_until: None,
            },
        );
        self.order.push(peer);
        Ok(())
    }

    /// A peer is gone: its pieces in flight become missing again.
    pub fn remove_peer(&mut self, peer: P) {
        if self.peers.remove(&peer).is_none() {
            return;
        }
        self.order.retain(|p| *p != peer);
        for s in &mut self.slots {
            if matches!(*s, Slot::InFlight(p, _) if p == peer) {
                *s = Slot::Missing;
            }
        }
    }

    /// The size most peers announce (the earliest announced on a tie).
    fn choose_size(&self) -> Option<u64> {
        let mut best: Option<(usize, u64)> = None;
        for p in &self.order {
            let size = self.peers[p].size;
            let n = self
                .order
                .iter()
                .filter(|q| self.peers[*q].size == size)
                .count();
            if best.is_none_or(|(m, _)| n > m) {
                best = Some((n, size));
            }
        }
        best.map(|(_, s)| s)
    }

    fn start(&mut self, size: u64) {
        self.size = Some(size);
        self.slots = vec![Slot::Missing; piece_count(size) as usize];
        self.buf = vec![0; size as usize];
    }

    fn piece_len(&self, piece: u32) -> usize {
        let size = self.size.unwrap_or(0) as usize;
        (size - piece as usize * METADATA_PIECE).min(METADATA_PIECE)
    }

    /// Requests to send now, as `(peer, piece)`: pieces unanswered past the timeout go back to
    /// missing (their peer rests for a timeout), then missing pieces go to peers of the
    /// chosen size that are not resting and have fewer than [`PIPELINE`] in flight.
    pub fn requests(&mut self, now: Instant) -> Vec<(P, u32)> {
        if self.done {
            return Vec::new();
        }
        for s in &mut self.slots {
            if let Slot::InFlight(p, at) = *s {
                if now.saturating_duration_since(at) >= self.timeout {
                    *s = Slot::Missing;
                    if let Some(st) = self.peers.get_mut(&p) {
                        st.in_flight -= 1;
                        st.resting_until = Some(now + self.timeout);
                    }
                }
            }
        }
        if self.size.is_none() {
            match self.choose_size() {
                Some(s) => self.start(s),
                None => return Vec::new(),
            }
        }
        let size = self.size.unwrap_or(0);
        let mut out = Vec::new();
        let missing: Vec<usize> = (0..self.slots.len())
            .filter(|&i| self.slots[i] == Slot::Missing)
            .collect();
        let mut missing = missing.into_iter();
        'peers: for p in &self.order {
            let st = self.peers.get_mut(p).expect("ordered peers are known");
            if st.size != size || st.resting_until.is_some_and(|t| now < t) {
                continue;
            }
            st.resting_until = None;
            while st.in_flight < PIPELINE {
                let Some(i) = missing.next() else {
                    break 'peers;
                };
                self.slots[i] = Slot::InFlight(*p, now);
                st.in_flight += 1;
                out.push((*p, i as u32));
            }
        }
        out
    }

    /// When [`requests`](Self::requests) should next be called even if nothing arrives: the
    /// earliest timeout of a piece in flight or end of a peer's rest.
    pub fn next_deadline(&self) -> Option<Instant> {
        let flights = self.slots.iter().filter_map(|s| match s {
            Slot::InFlight(_, at) => Some(*at + self.timeout),
            _ => None,
        });
        let rests = self.peers.values().filter_map(|st| st.resting_until);
        flights.chain(rests).min()
    }

    /// A reject from `peer`: the piece is missing again and the peer rests for a timeout.
    pub fn on_reject(&mut self, peer: P, piece: u32, now: Instant) {
        if let Some(Slot::InFlight(p, _)) = self.slots.get(piece as usize).copied() {
            if p == peer {
                self.slots[piece as usize] = Slot::Missing;
                if let Some(st) = self.peers.get_mut(&peer) {
                    st.in_flight -= 1;
                }
            }
        }
        if let Some(st) = self.peers.get_mut(&peer) {
            st.resting_until = Some(now + self.timeout);
        }
    }

    /// A data message from `peer`.
    pub fn on_data(&mut self, peer: P, piece: u32, total_size: u64, data: &[u8]) -> Progress<P> {
        let Some(size) = self.size.filter(|_| !self.done) else {
            return Progress::Ignored;
        };
        if !self.peers.contains_key(&peer) {
            return Progress::Ignored;
        }
        if total_size != size
            || piece as usize >= self.slots.len()
            || data.len() != self.piece_len(piece)
        {
            self.remove_peer(peer);
            return Progress::Invalid;
        }
        let i = piece as usize;
        match self.slots[i] {
            Slot::Held(_) => return Progress::Ignored,
            Slot::InFlight(p, _) => {
                if let Some(st) = self.peers.get_mut(&p) {
                    st.in_flight -= 1;
                }
            }
            Slot::Missing => {}
        }
        let at = i * METADATA_PIECE;
        self.buf[at..at + data.len()].copy_from_slice(data);
        self.slots[i] = Slot::Held(peer);
        if self.slots.iter().any(|s| !matches!(s, Slot::Held(_))) {
            return Progress::Stored;
        }
        let good = match self.info_hash_v2 {
            Some(v2) => <[u8; 32]>::from(sha2::Sha256::digest(&self.buf)) == v2,
            None => <[u8; 20]>::from(Sha1::digest(&self.buf)) == self.info_hash,
        };
        if good {
            self.done = true;
            self.slots.clear();
            return Progress::Complete(std::mem::take(&mut self.buf));
        }
        let mut bad: Vec<P> = Vec::new();
        for s in &self.slots {
            if let Slot::Held(p) = *s {
                if !bad.contains(&p) {
                    bad.push(p);
                }
            }
        }
        for p in &bad {
            self.remove_peer(*p);
            self.blocked.push(*p);
        }
        self.size = None;
        self.slots.clear();
        self.buf = Vec::new();
        Progress::HashMismatch(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn hash(b: &[u8]) -> [u8; 20] {
        Sha1::digest(b).into()
    }

    #[test]
    fn messages_round_trip_and_are_canonical() {
        let msgs = [
            Message::Request(0),
            Message::Request(u32::MAX),
            Message::Reject(7),
            Message::Data {
                piece: 2,
                total_size: 40_000,
                data: info(40_000 - 2 * METADATA_PIECE),
            },
            Message::Data {
                piece: 0,
                total_size: 1,
                data: vec![b'e'],
            },
        ];
        for m in msgs {
            let b = m.encode();
            assert_eq!(Message::decode(&b), Ok(m.clone()));
            // Our header is canonical: keys in order.
            let limits = bencode::Limits::default();
            let (node, _) = bencode::decode_prefix(&b, &limits).unwrap();
            assert!(node.as_dict().unwrap().sorted);
        }
        assert_eq!(Message::Request(3).encode(), b"d8:msg_typei0e5:piecei3ee");
        assert_eq!(
            Message::decode(b"d8:msg_typei2e5:piecei1e3:zzz1:xe"),
            Ok(Message::Reject(1))
        );
    }

    #[test]
    fn hostile_messages_are_errors() {
        let cases: [&[u8]; 13] = [
            b"",
            b"le",
            b"d8:msg_typei0ee",
            b"d5:piecei0ee",
            b"d8:msg_typei3e5:piecei0ee",
            b"d8:msg_typei0e5:piecei-1ee",
            b"d8:msg_typei0e5:piecei4294967296ee",
            b"d8:msg_typei0e5:piecei0eexyz",
            b"d8:msg_typei1e5:piecei0ee",
            b"d8:msg_typei1e5:piecei0e10:total_sizei0ee",
            b"d8:msg_typei01e5:piecei0ee",
            b"d8:msg_typei0e8:msg_typei0e5:piecei0ee",
            b"d8:msg_type1:05:piecei0ee",
        ];
        for c in cases {
            assert!(
                Message::decode(c).is_err(),
                "{:?}",
                String::from_utf8_lossy(c)
            );
        }
        let mut big = b"d8:msg_typei1e5:piecei0e10:total_sizei99999ee".to_vec();
        big.extend(vec![0; METADATA_PIECE + 1]);
        assert_eq!(
            Message::decode(&big),
            Err(Error::PieceTooLarge(METADATA_PIECE + 1))
        );
        // Deep nesting is refused by the scanner's limits, not the stack.
        let deep = [b"d8:msg_typel".to_vec(), b"l".repeat(10_000)].concat();
        assert!(Message::decode(&deep).is_err());
    }

    #[test]
    fn serving_answers_in_range_and_rejects_beyond() {
        let bytes = info(2 * METADATA_PIECE + 100);
        let Message::Data {
            piece,
            total_size,
            data,
        } = answer(&bytes, 2)
        else {
            panic!("piece 2 exists");
        };
        assert_eq!(
            (piece, total_size, data.len()),
            (2, bytes.len() as u64, 100)
        );
        assert_eq!(data, bytes[2 * METADATA_PIECE..]);
        assert!(
            matches!(answer(&bytes, 0), Message::Data { data, .. } if data.len() == METADATA_PIECE)
        );
        assert_eq!(answer(&bytes, 3), Message::Reject(3));
        assert_eq!(answer(&bytes, u32::MAX), Message::Reject(u32::MAX));
        assert_eq!(answer(&[], 0), Message::Reject(0));
        let exact = info(METADATA_PIECE);
        assert_eq!(answer(&exact, 1), Message::Reject(1));
    }

    /// Serve every request from `sources` (peer -> bytes it holds) until done or `rounds`.
    fn run(
        a: &mut MetadataAssembler<u8>,
        sources: &HashMap<u8, Vec<u8>>,
        mut now: Instant,
        rounds: usize,
    ) -> Vec<Progress<u8>> {
        let mut events = Vec::new();
        for _ in 0..rounds {
            let reqs = a.requests(now);
            if reqs.is_empty() && a.is_complete() {
                break;
            }
            for (p, piece) in reqs {
                match answer(&sources[&p], piece) {
                    Message::Data {
                        piece,
                        total_size,
                        data,
                    } => {
                        let ev = a.on_data(p, piece, total_size, &data);
                        if ev != Progress::Stored {
                            events.push(ev);
                        }
                    }
                    Message::Reject(piece) => a.on_reject(p, piece, now),
                    Message::Request(_) => unreachable!(),
                }
            }
            now += Duration::from_secs(1);
        }
        events
    }

    #[test]
    fn assembles_from_several_peers_and_checks_the_hash() {
        let bytes = info(5 * METADATA_PIECE + 123);
        let mut a = MetadataAssembler::new(hash(&bytes));
        let sources: HashMap<u8, Vec<u8>> = (1..=3).map(|p| (p, bytes.clone())).collect();
        for p in 1..=3 {
            a.add_peer(p, Some(bytes.len() as u64)).unwrap();
        }
        let now = Instant::now();
        let first = a.requests(now);
        // 6 pieces, PIPELINE 4: the first peer gets 4, the second 2.
        assert_eq!(first.len(), 6);
        assert_eq!(first.iter().filter(|(p, _)| *p == 1).count(), PIPELINE);
        assert!(first.iter().any(|(p, _)| *p == 2));
        let mut done = None;
        for (p, piece) in first {
            if let Message::Data { data, .. } = answer(&sources[&p], piece) {
                match a.on_data(p, piece, bytes.len() as u64, &data) {
                    Progress::Stored => {}
                    Progress::Complete(b) => done = Some(b),
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(done.as_deref(), Some(&bytes[..]));
        assert!(a.is_complete());
        assert!(a.requests(now).is_empty());
        assert_eq!(
            a.on_data(1, 0, bytes.len() as u64, &bytes[..METADATA_PIECE]),
            Progress::Ignored
        );
    }

    #[test]
    fn a_bad_peer_is_blocked_and_the_fetch_completes_from_an_honest_one() {
        let bytes = info(3 * METADATA_PIECE);
        let mut evil = bytes.clone();
        evil[METADATA_PIECE + 5] ^= 1;
        // The liar comes first and announces the right size.
        let mut a = MetadataAssembler::new(hash(&bytes));
        a.add_peer(9, Some(bytes.len() as u64)).unwrap();
        a.add_peer(1, Some(bytes.len() as u64)).unwrap();
        let sources = HashMap::from([(9u8, evil), (1u8, bytes.clone())]);
        let events = run(&mut a, &sources, Instant::now(), 10);
        // Both contributed to the first attempt (liar 4 pieces max, honest the rest) or only
        // the liar: either way the liar is blocked, and the second attempt succeeds.
        let Progress::HashMismatch(bad) = &events[0] else {
            panic!("{events:?}");
        };
        assert!(bad.contains(&9));
        assert_eq!(events.last(), Some(&Progress::Complete(bytes.clone())));
        assert!(a.blocked().contains(&9));
        assert_eq!(
            a.add_peer(9, Some(bytes.len() as u64)),
            Err(SizeRefused::Blocked)
        );
    }

    #[test]
    fn sizes_over_the_cap_are_not_believed() {
        let mut a: MetadataAssembler<u8> = MetadataAssembler::new([0; 20]);
        assert_eq!(
            a.add_peer(1, Some(1 << 30)),
            Err(SizeRefused::TooLarge {
                size: 1 << 30,
                cap: MAX_METADATA_SIZE
            })
        );
        assert_eq!(a.add_peer(2, None), Err(SizeRefused::Missing));
        assert_eq!(a.add_peer(3, Some(0)), Err(SizeRefused::Missing));
        // Nothing is asked and nothing allocated.
        assert!(a.requests(Instant::now()).is_empty());
        assert_eq!(a.size(), None);
        let mut small: MetadataAssembler<u8> = MetadataAssembler::new([0; 20]).with_cap(1000);
        assert!(small.add_peer(1, Some(1001)).is_err());
        assert!(small.add_peer(1, Some(1000)).is_ok());
    }

    #[test]
    fn the_size_most_peers_announce_wins_and_others_are_not_asked() {
        let size = 5 * METADATA_PIECE - 100;
        let bytes = info(size);
        let mut a = MetadataAssembler::new(hash(&bytes));
        a.add_peer(1, Some(99_999)).unwrap();
        a.add_peer(2, Some(size as u64)).unwrap();
        a.add_peer(3, Some(size as u64)).unwrap();
        let reqs = a.requests(Instant::now());
        assert_eq!(a.size(), Some(size as u64));
        assert_eq!(reqs.len(), 5);
        assert!(reqs.iter().all(|(p, _)| *p != 1));
        // Data for another size, or of the wrong length, drops the peer.
        let (p, piece) = reqs[0];
        assert_eq!(
            a.on_data(p, piece, 99_999, &bytes[..METADATA_PIECE]),
            Progress::Invalid
        );
        let (q, piece) = reqs.iter().copied().find(|(q, _)| *q != p).unwrap();
        assert_eq!(
            a.on_data(q, piece, size as u64, &[1, 2, 3]),
            Progress::Invalid
        );
        // Only the peer of the other size is left: it is not asked.
        assert!(a.requests(Instant::now()).is_empty());
    }

    #[test]
    fn timeouts_and_rejects_move_pieces_to_other_peers() {
        let bytes = info(METADATA_PIECE + 10);
        let t0 = Instant::now();
        let mut a = MetadataAssembler::new(hash(&bytes)).with_timeout(Duration::from_secs(5));
        a.add_peer(1, Some(bytes.len() as u64)).unwrap();
        let r = a.requests(t0);
        assert_eq!(r, vec![(1, 0), (1, 1)]);
        assert_eq!(a.next_deadline(), Some(t0 + Duration::from_secs(5)));
        a.add_peer(2, Some(bytes.len() as u64)).unwrap();
        // Nothing new before the timeout: both pieces are in flight.
        assert!(a.requests(t0 + Duration::from_secs(4)).is_empty());
        // After it, both go to peer 2; peer 1 rests.
        let t1 = t0 + Duration::from_secs(5);
        assert_eq!(a.requests(t1), vec![(2, 0), (2, 1)]);
        // A late answer from peer 1 for piece 0 still counts.
        let Message::Data { data, .. } = answer(&bytes, 0) else {
            panic!()
        };
        assert_eq!(a.on_data(1, 0, bytes.len() as u64, &data), Progress::Stored);
        // Peer 2 rejects piece 1: it is asked again from peer 1 once its rest is over.
        a.on_reject(2, 1, t1);
        assert!(a.requests(t1 + Duration::from_secs(1)).is_empty());
        assert_eq!(a.requests(t1 + Duration::from_secs(5)), vec![(1, 1)]);
        // A peer that goes away gives its pieces back.
        a.remove_peer(1);
        assert_eq!(a.requests(t1 + Duration::from_secs(6)), vec![(2, 1)]);
        let Message::Data { data, .. } = answer(&bytes, 1) else {
            panic!()
        };
        assert_eq!(
            a.on_data(2, 1, bytes.len() as u64, &data),
            Progress::Complete(bytes)
        );
    }

    #[test]
    fn mutated_messages_never_panic() {
        let seeds = [
            Message::Request(5).encode(),
            Message::Reject(0).encode(),
            Message::Data {
                piece: 1,
                total_size: 20_000,
                data: info(20_000 - METADATA_PIECE),
            }
            .encode(),
        ];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for seed in &seeds {
            for _ in 0..3000 {
                let mut b = seed.clone();
                for _ in 0..1 + next() % 4 {
                    let at = (next() % b.len().min(64) as u64) as usize;
                    match next() % 3 {
                        0 => b[at] = next() as u8,
                        1 => b.truncate(at),
                        _ => b.insert(at, next() as u8),
                    }
                    if b.is_empty() {
                        break;
                    }
                }
                if let Ok(Message::Data { data, .. }) = Message::decode(&b) {
                    assert!(data.len() <= METADATA_PIECE);
                }
            }
        }
    }
}
