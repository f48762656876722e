//! The bodies of `bt`'s fuzz targets: one function per decoder of untrusted bytes, reached only
//! through the library's public API.
//!
//! The libFuzzer binaries in `fuzz_targets/` call these functions, and the main package's
//! regression replay (`tests/it/fuzz_regressions.rs`, which includes this file) calls the very
//! same functions on every seed and every saved crash, so a finding replays through exactly the
//! code the fuzzer ran, without the fuzzer installed.
//!
//! Every target takes arbitrary bytes and must not panic. Beyond "no panic", each asserts what
//! must hold of what it decoded (re-encoding gives the input back, spans and counts stay inside
//! their bounds, a state machine keeps its invariants); a failed assertion is a finding like any
//! crash.

use bt::geometry::Geometry;
use bt::geometry::BLOCK as MAX_BLOCK;
use bt::metainfo::{percent_decode, percent_encode, Magnet, Torrent, Version};
use bt::peer::mse::{self, KeyPair, Rc4, Responder, KEY_LEN};
use bt::peer::{Block, ExtHandshake, Handshake, Limits, Message};
use bt::swarm::picker::{Arrival, PeerKey, Picker};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// A target: bytes in, panics out.
pub type Target = fn(&[u8]);

/// Every target by name, in the order `scripts/fuzz all` runs them.
pub const TARGETS: &[(&str, Target)] = &[
    ("bencode", bencode),
    ("torrent", torrent),
    ("magnet", magnet),
    ("peer", peer),
    ("handshake", handshake),
    ("mse", mse),
    ("tracker_http", tracker_http),
    ("tracker_udp", tracker_udp),
    ("bound_http", bound_http),
    ("peer_line", peer_line),
    ("picker", picker),
    ("krpc", krpc),
];

/// Reads numbers off the front of the input; an exhausted input reads as zeros.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }
    fn rest(&mut self) -> &'a [u8] {
        self.take(self.0.len())
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A small deterministic generator for choices the input does not spell out (chunk sizes,
/// bitfield patterns).
struct Rng(u64);

impl Rng {
    fn new(seed: u32) -> Rng {
        Rng((seed as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

// ---------------------------------------------------------------------------------------------
// bencode

#[derive(Default)]
struct TreeStats {
    tokens: usize,
    depth: usize,
}

/// Check a decoded node against the bytes it claims to come from.
fn check_node(data: &[u8], n: &bt::bencode::Node, depth: usize, st: &mut TreeStats) {
    use bt::bencode::Value;
    st.tokens += 1;
    assert!(
        n.span.start < n.span.end && n.span.end <= data.len(),
        "span {:?}",
        n.span
    );
    let text = &data[n.span.clone()];
    match &n.value {
        Value::Int(i) => assert_eq!(text, format!("i{i}e").as_bytes()),
        Value::Bytes(b) => {
            assert_eq!(text, [format!("{}:", b.len()).as_bytes(), b].concat());
        }
        Value::List(items) => {
            st.depth = st.depth.max(depth + 1);
            assert!(text.starts_with(b"l") && text.ends_with(b"e"));
            let mut at = n.span.start + 1;
            for item in items {
                assert_eq!(item.span.start, at);
                check_node(data, item, depth + 1, st);
                at = item.span.end;
            }
            assert_eq!(at + 1, n.span.end);
        }
        Value::Dict(d) => {
            st.depth = st.depth.max(depth + 1);
            assert!(text.starts_with(b"d") && text.ends_with(b"e"));
            let keys: BTreeSet<&[u8]> = d.entries.iter().map(|(k, _)| *k).collect();
            assert_eq!(keys.len(), d.entries.len(), "duplicate keys accepted");
            let ascending = d.entries.windows(2).all(|w| w[0].0 < w[1].0);
            assert_eq!(d.sorted, ascending);
            let mut at = n.span.start + 1;
            for (k, v) in &d.entries {
                st.tokens += 1;
                let key = [format!("{}:", k.len()).as_bytes(), k].concat();
                assert_eq!(&data[at..at + key.len()], key.as_slice());
                assert_eq!(v.span.start, at + key.len());
                check_node(data, v, depth + 1, st);
                at = v.span.end;
            }
            assert_eq!(at + 1, n.span.end);
        }
    }
}

/// Canonical bencode of a tree (dictionary keys sorted).
fn encode_node(n: &bt::bencode::Node, out: &mut Vec<u8>) {
    use bt::bencode::Value;
    match &n.value {
        Value::Int(i) => out.extend_from_slice(format!("i{i}e").as_bytes()),
        Value::Bytes(b) => {
            out.extend_from_slice(format!("{}:", b.len()).as_bytes());
            out.extend_from_slice(b);
        }
        Value::List(items) => {
            out.push(b'l');
            items.iter().for_each(|i| encode_node(i, out));
            out.push(b'e');
        }
        Value::Dict(d) => {
            out.push(b'd');
            let mut entries: Vec<_> = d.entries.iter().collect();
            entries.sort_by_key(|(k, _)| *k);
            for (k, v) in entries {
                out.extend_from_slice(format!("{}:", k.len()).as_bytes());
                out.extend_from_slice(k);
                encode_node(v, out);
            }
            out.push(b'e');
        }
    }
}

/// `bencode::decode` and `decode_prefix` under the torrent limits and under tight ones: spans
/// match the bytes, limits hold, and canonical input re-encodes byte for byte.
pub fn bencode(data: &[u8]) {
    use bt::bencode::{decode, decode_prefix, Limits};
    let tight = Limits {
        max_depth: 6,
        max_size: 2048,
        max_tokens: 100,
    };
    for limits in [Limits::default(), tight] {
        let whole = decode(data, &limits);
        let prefix = decode_prefix(data, &limits);
        if let Ok((root, used)) = &prefix {
            assert_eq!(root.span, 0..*used);
        }
        let Ok(d) = whole else { continue };
        let mut st = TreeStats::default();
        check_node(data, &d.root, 0, &mut st);
        assert!(st.tokens <= limits.max_tokens, "{} values", st.tokens);
        assert!(st.depth <= limits.max_depth, "depth {}", st.depth);
        assert!(data[d.root.span.end..].iter().all(u8::is_ascii_whitespace));
        let (root, used) = prefix.expect("a whole value is also a prefix");
        assert_eq!((root.span, used), (d.root.span.clone(), d.root.span.end));
        let mut canonical = Vec::new();
        encode_node(&d.root, &mut canonical);
        if d.warnings.is_empty() {
            assert_eq!(
                canonical,
                &data[d.root.span.clone()],
                "canonical input changed"
            );
        } else {
            let again = decode(&canonical, &Limits::default()).expect("re-encoding decodes");
            assert!(again.warnings.is_empty(), "{:?}", again.warnings);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// torrent

/// `Torrent::from_bytes`, then the geometry of what it accepted: pieces cover the content,
/// segments stay inside their files, the wire limits agree, the magnet link names the torrent.
pub fn torrent(data: &[u8]) {
    let Ok(t) = Torrent::from_bytes(data) else {
        return;
    };
    let geo = if t.version == Version::V2 {
        // A v2-only torrent starts every file on a piece boundary. `Geometry::new` packs the
        // files back to back (nothing downloads or verifies v2-only torrents yet), so lay the
        // gaps out as pad entries to walk the layout the torrent describes.
        let mut lengths = Vec::new();
        let mut at = 0;
        for f in &t.files {
            assert!(f.offset >= at, "file offsets go backwards");
            if f.offset > at {
                lengths.push((f.offset - at, true));
            }
            lengths.push((f.length, f.pad));
            at = f.offset + f.length;
        }
        Geometry::from_lengths(t.piece_length, &lengths)
    } else {
        let g = Geometry::new(&t);
        assert_eq!(g.file_count(), t.files.len());
        for (i, f) in t.files.iter().enumerate() {
            assert_eq!(
                (g.file_start(i), g.file_len(i)),
                (f.offset, f.length),
                "file {i}"
            );
        }
        g
    };
    assert_eq!(geo.total_length(), t.total_length);
    assert!(t.content_length() <= t.total_length);
    let count = geo.piece_count();
    assert_eq!(count, t.piece_count());
    if !t.pieces.is_empty() {
        assert_eq!(count, t.pieces.len(), "pieces string against the geometry");
    }
    let limits = Limits::from(&geo);
    // Every piece of a small torrent, the first and last 64 of a large one.
    let pieces: Vec<usize> = if count <= 4096 {
        (0..count).collect()
    } else {
        (0..64).chain(count - 64..count).collect()
    };
    for piece in pieces {
        let len = geo.piece_len(piece);
        assert!(len > 0 && len <= geo.piece_length());
        assert_eq!(limits.piece_size(piece as u32), len);
        let mut sum = 0u64;
        let mut last_file = None;
        for s in geo.piece_segments(piece) {
            assert!(s.file < geo.file_count());
            assert!(s.len > 0 && s.file_offset + s.len <= geo.file_len(s.file));
            assert!(last_file < Some(s.file), "segments out of order");
            assert_eq!(s.pad, geo.is_pad(s.file));
            last_file = Some(s.file);
            sum += s.len;
        }
        assert_eq!(sum, len, "segments of piece {piece}");
        let files = geo.piece_files(piece);
        assert!(!files.is_empty() && files.end <= geo.file_count());
        let blocks = geo.block_count(piece);
        let block_sum: u64 = (0..blocks).map(|b| geo.block_len(piece, b) as u64).sum();
        assert_eq!(block_sum, len);
    }
    assert_eq!(geo.piece_len(count), 0);
    for f in 0..geo.file_count() {
        let r = geo.file_pieces(f);
        assert!(r.end <= count);
        assert_eq!(r.is_empty(), geo.file_len(f) == 0 || count == 0);
    }
    let m = Magnet::parse(&t.magnet()).expect("our own magnet link parses");
    assert_eq!((m.info_hash, m.info_hash_v2), (t.info_hash, t.info_hash_v2));
    let _ = bt::record::TorrentRecord::from_torrent(&t, false);
}

// ---------------------------------------------------------------------------------------------
// magnet

/// `Magnet::parse` and percent coding: a parsed link survives `to_uri` unchanged, and percent
/// encoding is undone by decoding.
pub fn magnet(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(m) = Magnet::parse(&text) {
        assert!(m.info_hash.is_some() || m.info_hash_v2.is_some());
        let again = Magnet::parse(&m.to_uri()).expect("our own magnet link parses");
        assert_eq!(again, m);
    }
    for plus in [false, true] {
        let d = percent_decode(&text, plus);
        assert!(d.len() <= text.len());
    }
    assert_eq!(percent_decode(&percent_encode(data), false), data);
}

// ---------------------------------------------------------------------------------------------
// peer wire

/// Wire limits of a torrent a metainfo could describe: piece length 1 B to 16 MiB (any value),
/// up to 2^31 - 1 pieces.
fn limits_from(inp: &mut Input) -> Limits {
    let piece_length = 1 + (inp.u32() as u64 & 0xff_ffff);
    let pieces = 1 + (inp.u32() as u64 & 0x7fff_fffe);
    let last = 1 + inp.u32() as u64 % piece_length;
    Limits::new(piece_length, (pieces - 1) * piece_length + last)
}

/// Messages a torrent's limits allow are the ones `decode` returns.
fn check_message(m: &Message, limits: &Limits) {
    match m {
        Message::Have(i) | Message::Suggest(i) | Message::AllowedFast(i) => {
            assert!(*i < limits.piece_count)
        }
        Message::Bitfield(bits) => assert!(limits.check_bitfield(bits).is_ok()),
        Message::Request(b) | Message::Cancel(b) | Message::Reject(b) => {
            assert!(limits.check_block(b).is_ok())
        }
        Message::Piece {
            piece,
            offset,
            data,
        } => {
            assert!(!data.is_empty());
            assert!(*offset as u64 + data.len() as u64 <= limits.piece_size(*piece));
        }
        _ => {}
    }
}

/// `peer::decode` over a stream, with the torrent's limits taken from the first 12 bytes:
/// every message re-encodes to the bytes it was read from, no shorter prefix of it decodes,
/// and nothing decoded breaks the limits.
pub fn peer(data: &[u8]) {
    let mut inp = Input(data);
    let limits = limits_from(&mut inp);
    let mut buf = inp.rest();
    let mut first = true;
    loop {
        match bt::peer::decode(buf, &limits) {
            Ok(Some((m, used))) => {
                assert!(used >= 4 && used <= buf.len());
                assert!(used as u64 <= 4 + limits.max_frame() as u64);
                check_message(&m, &limits);
                assert_eq!(m.to_bytes(), &buf[..used], "{m:?} re-encoded");
                if first {
                    for cut in (0..used).take(40).chain(used.saturating_sub(8)..used) {
                        assert_eq!(bt::peer::decode(&buf[..cut], &limits), Ok(None));
                    }
                    first = false;
                }
                buf = &buf[used..];
            }
            Ok(None) => {
                let complete = buf.len() >= 4
                    && buf.len() >= 4 + u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize;
                assert!(!complete, "a complete frame reported as incomplete");
                break;
            }
            Err(_) => break,
        }
    }
}

/// The 68-byte handshake (bytes in, the same bytes out) and the BEP 10 extension handshake
/// (parse, encode, parse again gives the same fields).
pub fn handshake(data: &[u8]) {
    match Handshake::decode(data) {
        Ok(Some(h)) => assert_eq!(h.encode(), data[..68]),
        Ok(None) => assert!(data.len() < 68),
        Err(_) => {}
    }
    let payload = data.get(1..).unwrap_or_default();
    if let Ok(h) = ExtHandshake::parse(payload) {
        let again = ExtHandshake::parse(&h.encode()).expect("our own extension handshake");
        let sorted = |h: &ExtHandshake| {
            let mut e = h.extensions.clone();
            e.sort();
            e
        };
        assert_eq!(sorted(&again), sorted(&h));
        assert_eq!(
            (again.port, again.client.as_deref(), again.reqq),
            (h.port, h.client.as_deref(), h.reqq)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// MSE

const MSE_RESPONDER_KEY: [u8; 20] = [0x5a; 20];
const MSE_INITIATOR_KEY: [u8; 20] = [0x33; 20];
const MSE_TORRENTS: [[u8; 20]; 2] = [[1; 20], [0x42; 20]];

/// The initiator's public key and the secret both sides derive (the keys are fixed, so the
/// fuzzer can reach the encrypted part of the handshake without breaking Diffie-Hellman).
fn mse_keys() -> &'static ([u8; KEY_LEN], [u8; KEY_LEN]) {
    static KEYS: OnceLock<([u8; KEY_LEN], [u8; KEY_LEN])> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ours = KeyPair::new(MSE_INITIATOR_KEY);
        let theirs = KeyPair::new(MSE_RESPONDER_KEY);
        (ours.public, ours.shared(&theirs.public).expect("valid key"))
    })
}

/// The MSE responder fed in chunks. The first byte chooses: raw bytes from the start, or a
/// valid key exchange and sync marker built by this target followed by fuzzer-chosen bytes that
/// are RC4-encrypted as the initiator would (so VC, crypto_provide, the padding and the initial
/// payload are reached). The responder must never ask for a byte past the end of the
/// handshake, and a handshake it accepts must match what was sent.
pub fn mse(data: &[u8]) {
    mse_handshake(data);
}

/// The body of [`mse`]; the selected crypto method when the handshake completed.
pub fn mse_handshake(data: &[u8]) -> Option<u32> {
    let mut inp = Input(data);
    let mode = inp.u8();
    let accept = [mse::CRYPTO_PLAIN, mse::CRYPTO_RC4, 3, 0][(mode >> 1) as usize & 3];
    let pad_b = vec![7u8; inp.u16() as usize % 600];
    let pad_b_len = pad_b.len().min(mse::MAX_PAD);
    let max_ia = match inp.u8() {
        0 => 0,
        n => n as usize * 300,
    };
    let mut rng = Rng::new(inp.u32());
    let mut wire = Vec::new();
    let mut plain_tail = None;
    if mode & 1 == 0 {
        wire.extend_from_slice(inp.rest());
    } else {
        let (ya, s) = mse_keys();
        wire.extend_from_slice(ya);
        let pad_a = inp.u16() as usize % 700;
        wire.extend(std::iter::repeat_n(0xa5, pad_a));
        wire.extend_from_slice(&mse::req1(s));
        let torrent = match inp.u8() % 3 {
            0 => MSE_TORRENTS[0],
            1 => MSE_TORRENTS[1],
            _ => [9; 20],
        };
        wire.extend_from_slice(&mse::req23(&torrent, s));
        let mut tail = inp.rest().to_vec();
        plain_tail = Some((wire.len(), tail.clone(), torrent));
        Rc4::mse(b"keyA", s, &torrent).apply(&mut tail);
        wire.extend_from_slice(&tail);
    }
    let mut r = Responder::new(MSE_RESPONDER_KEY, pad_b, MSE_TORRENTS.to_vec(), accept)
        .max_initial_payload(max_ia);
    let mut at = 0;
    let mut sent = Vec::new();
    let mut failed = false;
    while at < wire.len() && r.want() > 0 {
        let want = r.want();
        assert!(want <= u16::MAX as usize + 2, "want {want}");
        let n = (1 + rng.below(want as u64) as usize).min(wire.len() - at);
        match r.feed(&wire[at..at + n]) {
            Ok(out) => sent.extend(out),
            Err(_) => {
                failed = true;
                break;
            }
        }
        at += n;
    }
    assert!(sent.len() <= KEY_LEN + pad_b_len + 14);
    if !sent.is_empty() {
        assert!(sent.len() >= KEY_LEN + pad_b_len);
    }
    if failed || r.want() > 0 {
        return None;
    }
    let o = r
        .finish()
        .expect("want() is zero only when the handshake is done");
    assert!(o.method == mse::CRYPTO_PLAIN || o.method == mse::CRYPTO_RC4);
    assert!(o.method & accept != 0);
    assert!(o.ia.len() <= max_ia);
    assert_eq!(sent.len(), KEY_LEN + pad_b_len + 14);
    let Some((start, plain, torrent)) = plain_tail else {
        return Some(o.method);
    };
    assert_eq!(o.info_hash, torrent);
    // VC (8), crypto_provide (4), len(PadC) (2), PadC, len(IA) (2), IA.
    let provide = u32::from_be_bytes(plain[8..12].try_into().unwrap());
    assert!(plain[..8] == [0; 8] && provide & o.method != 0);
    let pad_c = u16::from_be_bytes([plain[12], plain[13]]) as usize;
    let ia_at = 14 + pad_c + 2;
    let ia_len = u16::from_be_bytes([plain[ia_at - 2], plain[ia_at - 1]]) as usize;
    assert_eq!(o.ia, &plain[ia_at..ia_at + ia_len]);
    assert_eq!(
        at,
        start + ia_at + ia_len,
        "the responder read past the handshake"
    );
    Some(o.method)
}

// ---------------------------------------------------------------------------------------------
// trackers

/// The HTTP tracker's announce and scrape body parsers (first byte chooses): bounded peers.
pub fn tracker_http(data: &[u8]) {
    use bt::tracker::{http, MAX_PEERS};
    let (&which, body) = data.split_first().unwrap_or((&0, &[]));
    if which & 1 == 0 {
        if let Ok(r) = http::parse_announce("http://t/announce", body) {
            assert!(r.peers.len() <= MAX_PEERS);
            assert!(
                r.peers.len() <= body.len() / 6,
                "more peers than bytes allow"
            );
        }
    } else if let Ok(s) = http::parse_scrape("http://t/announce", body) {
        assert!(s.len() * 20 <= body.len());
    }
    let mut notes = Vec::new();
    let v6 = which & 2 != 0;
    let peers = http::compact_peers(body, v6, &mut notes);
    // Every whole entry, less those nobody can dial.
    assert!(peers.len() <= body.len() / if v6 { 18 } else { 6 });
    assert!(peers
        .iter()
        .all(|p| p.port() != 0 && !p.ip().is_unspecified()));
}

/// The UDP tracker's connect, announce and scrape answer parsers (first byte chooses).
pub fn tracker_udp(data: &[u8]) {
    use bt::metainfo::InfoHash;
    use bt::tracker::{udp, MAX_PEERS};
    const TID: u32 = 0x1234_5678;
    let mut inp = Input(data);
    let which = inp.u8();
    let buf = inp.rest();
    match which % 4 {
        0 => {
            if let Ok(id) = udp::parse_connect(buf, TID) {
                assert_eq!(id.to_be_bytes(), buf[8..16]);
            }
        }
        1 | 2 => {
            let v6 = which % 4 == 2;
            if let Ok(r) = udp::parse_announce(buf, TID, v6) {
                let each = if v6 { 18 } else { 6 };
                assert_eq!(r.peers.len(), ((buf.len() - 20) / each).min(MAX_PEERS));
            }
        }
        _ => {
            let n = (which >> 2) as usize;
            let hashes: Vec<InfoHash> = (0..n).map(|i| InfoHash([i as u8; 20])).collect();
            if let Ok(s) = udp::parse_scrape(buf, TID, &hashes) {
                assert!(s.len() <= n && 8 + 12 * s.len() <= buf.len());
            }
        }
    }
}

/// The `--bind` HTTP client's response parser, driven as the client drives it: after every read
/// (read sizes from the first bytes) until an answer is complete, then once more at the end of
/// the stream.
pub fn bound_http(data: &[u8]) {
    use bt::tracker::{parse_bound_response, MAX_RESPONSE};
    let mut inp = Input(data);
    let mut rng = Rng::new(inp.u16() as u32);
    let stream = inp.rest();
    let check = |r: &Result<(u16, Option<String>, Vec<u8>), String>| {
        if let Ok((_, _, body)) = r {
            assert!(body.len() <= MAX_RESPONSE && body.len() <= stream.len());
        }
    };
    let mut at = 0;
    while at < stream.len() {
        at = (at + 1 + rng.below(512) as usize).min(stream.len());
        let r = parse_bound_response(&stream[..at], false);
        check(&r);
        if r.is_ok() {
            return;
        }
    }
    check(&parse_bound_response(stream, true));
}

/// `record::peer_from_line`: an address read from a line reads back the same from its plain and
/// its JSON form.
pub fn peer_line(data: &[u8]) {
    use bt::record::{peer_from_line, PeerRecord, Record};
    let line = String::from_utf8_lossy(data);
    if let Ok(Some(addr)) = peer_from_line(&line) {
        assert_eq!(peer_from_line(&addr.to_string()), Ok(Some(addr)));
        let json = serde_json::to_string(&Record::Peer(PeerRecord::new(addr, Some("http://t/a"))))
            .unwrap();
        assert_eq!(peer_from_line(&json), Ok(Some(addr)));
    }
}

// ---------------------------------------------------------------------------------------------
// picker

/// What the swarm knows about one connection.
struct PeerModel {
    bits: Vec<bool>,
    asked: BTreeSet<(u32, u32)>,
}

/// Drive `swarm::picker::Picker` with a random sequence of the calls the swarm makes (pick,
/// arrived, written, hashed, release, peer_gone, availability) on a torrent of up to 2^20
/// pieces, checking after each call what the picker promises; small torrents are then finished
/// by one fresh peer, which must always be possible.
pub fn picker(data: &[u8]) {
    let mut inp = Input(data);
    // Mostly small torrents (fast executions, and the liveness check below), a tenth up to
    // 2^20 pieces.
    let size = inp.u32();
    let exp = match inp.u8() {
        e @ 0..=229 => e % 11,
        e => 11 + e % 10,
    };
    let count = 1 + size % (1 << exp);
    let piece_length = 1u64 << (10 + inp.u8() % 15); // 1 KiB .. 16 MiB
    let last = 1 + inp.u32() as u64 % piece_length;
    let limits = Limits::new(piece_length, (count as u64 - 1) * piece_length + last);
    assert_eq!(limits.piece_count, count);
    let n = count as usize;
    let mut rng = Rng::new(inp.u32());
    let pattern = |rng: &mut Rng, kind: u8| -> Vec<bool> {
        match kind % 4 {
            0 => vec![true; n],
            1 => vec![false; n],
            2 => (0..n).map(|_| rng.next() & 1 == 1).collect(),
            _ => (0..n).map(|_| rng.below(16) == 0).collect(),
        }
    };
    let have0 = pattern(&mut rng, inp.u8().wrapping_add(1));
    let mut p = Picker::new(limits, &have0);
    assert_eq!(
        p.have_count() as usize,
        have0.iter().filter(|h| **h).count()
    );
    let npeers = if n > 1 << 16 { 2 } else { 6 };
    let mut peers: BTreeMap<PeerKey, PeerModel> = BTreeMap::new();
    let mut writing: BTreeSet<(u32, u32)> = BTreeSet::new();
    let mut hashing: BTreeSet<u32> = BTreeSet::new();
    let mut sent_by: BTreeMap<u32, BTreeSet<PeerKey>> = BTreeMap::new();
    let block_at = |piece: u32, offset: u32| Block {
        piece,
        offset,
        length: (limits.piece_size(piece) - offset as u64).min(MAX_BLOCK as u64) as u32,
    };
    let budget = (1usize << 22) / n.max(1 << 10);
    let mut ops = 0;
    while !inp.is_empty() && ops < budget.min(2000) {
        ops += 1;
        let op = inp.u8();
        let key = (inp.u8() % npeers) as PeerKey + 1;
        peers.entry(key).or_insert_with(|| {
            let bits = pattern(&mut rng, inp.u8());
            for (i, b) in bits.iter().enumerate() {
                if *b {
                    p.availability(i as u32, 1);
                }
            }
            PeerModel {
                bits,
                asked: BTreeSet::new(),
            }
        });
        match op % 8 {
            0 | 1 => {
                let want = 1 + inp.u8() as usize % 64;
                let mut out = Vec::new();
                let peer = peers.get_mut(&key).unwrap();
                p.pick(key, &peer.bits, want, &mut out);
                assert!(out.len() <= want);
                for b in &out {
                    assert!(limits.check_block(b).is_ok(), "picked {b:?}");
                    assert_eq!(b.offset % MAX_BLOCK, 0);
                    assert_eq!(*b, block_at(b.piece, b.offset));
                    assert!(peer.bits[b.piece as usize], "{b:?} from a peer without it");
                    assert!(!p.have(b.piece), "{b:?} of a piece we have");
                    assert!(!hashing.contains(&b.piece), "{b:?} of a piece being hashed");
                    assert!(
                        !writing.contains(&(b.piece, b.offset)),
                        "{b:?} being written"
                    );
                    assert!(p.requested_by(key, b));
                    assert!(peer.asked.insert((b.piece, b.offset)), "{b:?} asked twice");
                }
            }
            2 => {
                // A block arrives: one we asked this peer for, or any block that the wire
                // decoder lets through (inside its piece, not empty), as the swarm sees them.
                let peer = &peers[&key];
                let b = if inp.bool() && !peer.asked.is_empty() {
                    let i = inp.u8() as usize % peer.asked.len();
                    let &(piece, offset) = peer.asked.iter().nth(i).unwrap();
                    block_at(piece, offset)
                } else {
                    let piece = inp.u32() % count;
                    let size = limits.piece_size(piece);
                    let offset = if inp.bool() {
                        (inp.u8() as u64 * MAX_BLOCK as u64) % size
                    } else {
                        inp.u32() as u64 % size
                    };
                    let room = (size - offset).min(2 * MAX_BLOCK as u64);
                    Block {
                        piece,
                        offset: offset as u32,
                        length: 1 + (inp.u16() as u64 % room) as u32,
                    }
                };
                assert!(limits.check_block(&b).is_ok() || b.length > MAX_BLOCK);
                let asked = p.requested_by(key, &b);
                match p.arrived(key, &b) {
                    Arrival::Write { cancel } => {
                        assert!(asked, "{b:?} taken from a peer not asked for it");
                        // Cancels go to the other peers asked (the swarm skips any that left).
                        assert!(!cancel.contains(&key));
                        let unique: BTreeSet<&PeerKey> = cancel.iter().collect();
                        assert_eq!(unique.len(), cancel.len());
                        for m in peers.values_mut() {
                            m.asked.remove(&(b.piece, b.offset));
                        }
                        for k in peers.keys() {
                            assert!(!p.requested_by(*k, &b));
                        }
                        assert!(writing.insert((b.piece, b.offset)));
                        sent_by.entry(b.piece).or_default().insert(key);
                    }
                    Arrival::Discard => {
                        // As the swarm does: whatever the picker says, the request for this
                        // piece and offset is no longer outstanding.
                        if let Some(m) = peers.get_mut(&key) {
                            m.asked.remove(&(b.piece, b.offset));
                        }
                    }
                }
            }
            3 => {
                // A write finishes (or fails).
                if writing.is_empty() {
                    continue;
                }
                let i = inp.u8() as usize % writing.len();
                let (piece, offset) = *writing.iter().nth(i).unwrap();
                writing.remove(&(piece, offset));
                let ok = inp.u8() % 8 != 0;
                let done = p.written(&block_at(piece, offset), ok);
                assert!(!done || ok);
                if done {
                    assert!(!writing.iter().any(|(pc, _)| *pc == piece));
                    assert!(hashing.insert(piece), "piece {piece} complete twice");
                }
            }
            4 => {
                // A hash is checked (or a bogus piece index is reported).
                let piece = if inp.bool() && !hashing.is_empty() {
                    let i = inp.u8() as usize % hashing.len();
                    *hashing.iter().nth(i).unwrap()
                } else {
                    inp.u32() % (count + 1)
                };
                let real = hashing.contains(&piece);
                let before = p.have_count();
                let ok = inp.u8() % 4 != 0;
                let res = p.hashed(piece, ok);
                if real {
                    hashing.remove(&piece);
                    let senders = sent_by.remove(&piece).unwrap_or_default();
                    if ok {
                        assert_eq!(res, None);
                        assert!(p.have(piece));
                        assert_eq!(p.have_count(), before + 1);
                    } else {
                        let f = res.expect("a failed piece names its senders");
                        let blamed: BTreeSet<PeerKey> = f.contributors.iter().copied().collect();
                        assert!(!blamed.is_empty() && blamed.is_subset(&senders));
                        assert!(!p.have(piece));
                    }
                } else {
                    assert_eq!(res, None);
                    assert_eq!(p.have_count(), before);
                }
            }
            5 => {
                // A request is void (choke, reject, timeout).
                let peer = peers.get_mut(&key).unwrap();
                if peer.asked.is_empty() {
                    continue;
                }
                let i = inp.u8() as usize % peer.asked.len();
                let (piece, offset) = *peer.asked.iter().nth(i).unwrap();
                peer.asked.remove(&(piece, offset));
                let b = block_at(piece, offset);
                p.release(key, &b);
                assert!(!p.requested_by(key, &b));
            }
            6 => {
                // The peer says it has a piece.
                let i = inp.u32() % count;
                let peer = peers.get_mut(&key).unwrap();
                if !peer.bits[i as usize] {
                    peer.bits[i as usize] = true;
                    p.availability(i, 1);
                }
            }
            _ => {
                // The connection closes, as the swarm closes it.
                let peer = peers.remove(&key).unwrap();
                for &(piece, offset) in &peer.asked {
                    p.release(key, &block_at(piece, offset));
                }
                for (i, b) in peer.bits.iter().enumerate() {
                    if *b {
                        p.availability(i as u32, -1);
                    }
                }
                p.peer_gone(key);
            }
        }
        assert!(p.have_count() <= count);
        assert_eq!(p.complete(), p.have_count() == count);
    }
    // Whole-torrent checks.
    let have: Vec<bool> = (0..count).map(|i| p.have(i)).collect();
    assert_eq!(p.have_count() as usize, have.iter().filter(|h| **h).count());
    let bits = p.bitfield();
    assert!(limits.check_bitfield(&bits).is_ok());
    for (i, h) in have.iter().enumerate() {
        assert_eq!(bits[i / 8] & (0x80 >> (i % 8)) != 0, *h);
    }
    for m in peers.values() {
        let missing = m.bits.iter().zip(&have).any(|(b, h)| *b && !h);
        assert_eq!(p.interesting(&m.bits), missing);
    }
    if n > 1024 {
        return;
    }
    // Liveness: every peer leaves, pending writes and hashes succeed, and one new peer that
    // has everything must be able to finish the torrent.
    for (key, m) in std::mem::take(&mut peers) {
        for &(piece, offset) in &m.asked {
            p.release(key, &block_at(piece, offset));
        }
        p.peer_gone(key);
    }
    for &(piece, offset) in &writing {
        if p.written(&block_at(piece, offset), true) {
            hashing.insert(piece);
        }
    }
    for piece in std::mem::take(&mut hashing) {
        assert_eq!(p.hashed(piece, true), None);
    }
    let all = vec![true; n];
    let blocks_left: usize = (0..count)
        .filter(|i| !p.have(*i))
        .map(|i| limits.piece_size(i).div_ceil(MAX_BLOCK as u64) as usize)
        .sum();
    for _ in 0..=blocks_left {
        let mut out = Vec::new();
        p.pick(999, &all, 64, &mut out);
        if out.is_empty() {
            break;
        }
        for b in &out {
            assert!(matches!(p.arrived(999, b), Arrival::Write { .. }), "{b:?}");
            if p.written(b, true) {
                assert_eq!(p.hashed(b.piece, true), None);
            }
        }
    }
    assert!(
        p.complete(),
        "{} of {count} pieces after the last peer: {p:#?}",
        p.have_count()
    );
}

// ---------------------------------------------------------------------------------------------
// DHT

/// `dht::krpc::decode` of one UDP payload: whatever decodes re-encodes (when it still fits a
/// packet) into bytes that decode to the same message, within the codec's bounds.
pub fn krpc(data: &[u8]) {
    use bt::dht::krpc::{decode, Body, MAX_PACKET, MAX_TID, MAX_TOKEN, MAX_VALUES};
    let Ok(m) = decode(data) else { return };
    assert!(data.len() <= MAX_PACKET && m.tid.len() <= MAX_TID);
    if let Body::Response(r) = &m.body {
        assert!(r.id.is_some() && r.values.len() <= MAX_VALUES);
        assert!(r.token.as_ref().is_none_or(|t| t.len() <= MAX_TOKEN));
    }
    let again = m.encode();
    if again.len() <= MAX_PACKET {
        assert_eq!(decode(&again).expect("our own encoding decodes"), m);
    }
}
