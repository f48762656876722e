//! The peer wire protocol codec (BEP 3, BEP 6 fast extension, BEP 10 extension protocol, BEP 52
//! hash messages).
//!
//! Pure functions, no I/O: [`Handshake::decode`] and [`decode`] turn bytes into values and
//! report `Ok(None)` when more bytes are needed; [`Message::encode`] appends the wire form to a
//! buffer. Sockets, timeouts and keep-alives live in `swarm`.
//!
//! Invariants: a frame whose length prefix is larger than [`Limits::max_frame`] is an error before
//! anything is allocated for it, and every message [`decode`] returns is valid for the torrent the
//! [`Limits`] were made from: piece indices are in range, a bitfield has exactly the right length
//! and no spare bit set, a request, cancel or reject lies inside its piece and is at most
//! [`BLOCK`] bytes, a piece message's data lies inside its piece, a hash request asks for a
//! power of two of at most [`hashes::MAX_HASHES`] aligned hashes. A caller drops a peer on any
//! [`Error`]; nothing else needs checking.

pub mod ext;
pub mod hashes;
pub mod metadata;
pub mod mse;
pub mod pex;

use std::fmt;

/// The protocol string, with its length byte in front.
pub const PROTOCOL: &[u8; 20] = b"\x13BitTorrent protocol";
/// Length of a handshake on the wire.
pub const HANDSHAKE_LEN: usize = 68;
use crate::geometry::{Geometry, BLOCK};
/// Largest BEP 10 extended message we accept by default.
pub const MAX_EXTENDED: u32 = 64 * 1024;

/// Reserved bit (byte 5, 0x10): the BEP 10 extension protocol.
const EXTENSION_BYTE: usize = 5;
const EXTENSION_BIT: u8 = 0x10;
/// Reserved bit (byte 7, 0x04): the BEP 6 fast extension.
const FAST_BYTE: usize = 7;
const FAST_BIT: u8 = 0x04;
/// Reserved bit (byte 7, 0x10): BitTorrent v2 (BEP 52), set for v2 and hybrid torrents.
const V2_BYTE: usize = 7;
const V2_BIT: u8 = 0x10;

/// A 20-byte peer id.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerId(pub [u8; 20]);

impl PeerId {
    /// A fresh Azureus-style id: `-BT0100-` followed by 12 random bytes from the operating
    /// system (`getrandom`); an error when it has none to give (no predictable fallback).
    pub fn generate() -> Result<PeerId, getrandom::Error> {
        let mut id = [0u8; 20];
        id[..8].copy_from_slice(b"-BT0100-");
        getrandom::fill(&mut id[8..])?;
        Ok(PeerId(id))
    }

    /// Lowercase hex.
    pub fn hex(&self) -> String {
        crate::metainfo::hex(&self.0)
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({})", self.hex())
    }
}

/// Why bytes from a peer are unacceptable. Every variant means: drop the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The handshake does not start with the BitTorrent protocol string.
    NotBitTorrent,
    /// A length prefix larger than this torrent allows.
    FrameTooLarge {
        /// The announced length.
        len: u32,
        /// The cap.
        max: u32,
    },
    /// A message id we do not know.
    UnknownMessage(u8),
    /// A message whose length does not fit its id.
    BadLength {
        /// Message id.
        id: u8,
        /// Payload length.
        len: u32,
    },
    /// A piece index out of range.
    PieceOutOfRange(u32),
    /// A bitfield of the wrong length.
    BitfieldLength {
        /// Bytes received.
        got: usize,
        /// Bytes expected.
        want: usize,
    },
    /// A bitfield with bits set past the last piece.
    BitfieldSpareBits,
    /// A block range that is not inside its piece, empty, or larger than [`BLOCK`].
    BadBlock {
        /// Piece index.
        piece: u32,
        /// Offset in the piece.
        offset: u32,
        /// Length.
        length: u32,
    },
    /// An extension handshake that is not a bencoded dictionary.
    BadExtension(String),
    /// A BEP 52 hash request (or reject, or the head of hashes) that breaks the rules of
    /// [`hashes::HashRequest`].
    BadHashRequest(hashes::HashRequest),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotBitTorrent => write!(f, "not a BitTorrent handshake"),
            Error::FrameTooLarge { len, max } => {
                write!(f, "frame of {len} bytes is larger than the {max} allowed")
            }
            Error::UnknownMessage(id) => write!(f, "unknown message id {id}"),
            Error::BadLength { id, len } => {
                write!(f, "message id {id} with a payload of {len} bytes")
            }
            Error::PieceOutOfRange(p) => write!(f, "piece {p} is out of range"),
            Error::BitfieldLength { got, want } => {
                write!(f, "bitfield of {got} bytes, expected {want}")
            }
            Error::BitfieldSpareBits => write!(f, "bitfield has spare bits set"),
            Error::BadBlock {
                piece,
                offset,
                length,
            } => write!(
                f,
                "block (piece {piece}, offset {offset}, length {length}) is not inside the torrent"
            ),
            Error::BadExtension(e) => write!(f, "bad extension handshake: {e}"),
            Error::BadHashRequest(r) => write!(
                f,
                "hash request for {} hashes at {} of layer {} with {} proof layers",
                r.length, r.index, r.base_layer, r.proof_layers
            ),
        }
    }
}

impl std::error::Error for Error {}

/// A handshake: reserved bits, info hash and peer id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake {
    /// The 8 reserved bytes.
    pub reserved: [u8; 8],
    /// The torrent's v1 info hash.
    pub info_hash: [u8; 20],
    /// The sender's peer id.
    pub peer_id: PeerId,
}

impl Handshake {
    /// Our handshake: extension protocol and fast extension bits set.
    pub fn new(info_hash: [u8; 20], peer_id: PeerId) -> Handshake {
        let mut reserved = [0u8; 8];
        reserved[EXTENSION_BYTE] |= EXTENSION_BIT;
        reserved[FAST_BYTE] |= FAST_BIT;
        Handshake {
            reserved,
            info_hash,
            peer_id,
        }
    }

    /// Whether the sender speaks BEP 10.
    pub fn supports_extended(&self) -> bool {
        self.reserved[EXTENSION_BYTE] & EXTENSION_BIT != 0
    }

    /// Whether the sender speaks BEP 6.
    pub fn supports_fast(&self) -> bool {
        self.reserved[FAST_BYTE] & FAST_BIT != 0
    }

    /// This handshake with the BEP 52 v2 bit set when `v2` (a v2 or hybrid torrent).
    pub fn with_v2(mut self, v2: bool) -> Handshake {
        if v2 {
            self.reserved[V2_BYTE] |= V2_BIT;
        }
        self
    }

    /// Whether the sender has the torrent as v2 (BEP 52): it may send and answer `hash
    /// request`s, and on a hybrid it would rather use the v2 hashes.
    pub fn supports_v2(&self) -> bool {
        self.reserved[V2_BYTE] & V2_BIT != 0
    }

    /// The 68 bytes on the wire.
    pub fn encode(&self) -> [u8; HANDSHAKE_LEN] {
        let mut b = [0u8; HANDSHAKE_LEN];
        b[..20].copy_from_slice(PROTOCOL);
        b[20..28].copy_from_slice(&self.reserved);
        b[28..48].copy_from_slice(&self.info_hash);
        b[48..68].copy_from_slice(&self.peer_id.0);
        b
    }

    /// Decode a handshake at the start of `buf`: `Ok(None)` until 68 bytes are there. A wrong
    /// protocol string is an error as soon as the bytes that differ have arrived.
    pub fn decode(buf: &[u8]) -> Result<Option<Handshake>, Error> {
        let n = buf.len().min(20);
        if buf[..n] != PROTOCOL[..n] {
            return Err(Error::NotBitTorrent);
        }
        if buf.len() < HANDSHAKE_LEN {
            return Ok(None);
        }
        let mut h = Handshake {
            reserved: [0; 8],
            info_hash: [0; 20],
            peer_id: PeerId([0; 20]),
        };
        h.reserved.copy_from_slice(&buf[20..28]);
        h.info_hash.copy_from_slice(&buf[28..48]);
        h.peer_id.0.copy_from_slice(&buf[48..68]);
        Ok(Some(h))
    }
}

/// One peer wire message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A zero-length frame.
    KeepAlive,
    /// 0: no requests will be answered.
    Choke,
    /// 1: requests will be answered.
    Unchoke,
    /// 2: the sender wants pieces we have.
    Interested,
    /// 3: the sender wants nothing from us.
    NotInterested,
    /// 4: the sender now has this piece.
    Have(u32),
    /// 5: the pieces the sender has, high bit first.
    Bitfield(Vec<u8>),
    /// 6: please send this block.
    Request(Block),
    /// 7: a block of data.
    Piece {
        /// Piece index.
        piece: u32,
        /// Offset in the piece.
        offset: u32,
        /// The bytes.
        data: Vec<u8>,
    },
    /// 8: forget that request.
    Cancel(Block),
    /// 9: the sender's DHT port.
    Port(u16),
    /// 14 (BEP 6): the sender has every piece.
    HaveAll,
    /// 15 (BEP 6): the sender has no piece.
    HaveNone,
    /// 13 (BEP 6): the sender suggests this piece.
    Suggest(u32),
    /// 16 (BEP 6): that request will not be answered.
    Reject(Block),
    /// 17 (BEP 6): this piece may be requested while choked.
    AllowedFast(u32),
    /// 20 (BEP 10): an extension message; id 0 is the extension handshake.
    Extended {
        /// Extension message id (0 = handshake).
        id: u8,
        /// The payload (bencoded for the handshake).
        payload: Vec<u8>,
    },
    /// 21 (BEP 52): please send these merkle tree hashes.
    HashRequest(hashes::HashRequest),
    /// 22 (BEP 52): the hashes asked for, then uncle hashes up towards the root.
    Hashes {
        /// What they answer.
        request: hashes::HashRequest,
        /// `request.length` hashes, then the proof.
        hashes: Vec<[u8; 32]>,
    },
    /// 23 (BEP 52): that hash request will not be answered.
    HashReject(hashes::HashRequest),
}

/// A block address: piece, offset in the piece, length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Block {
    /// Piece index.
    pub piece: u32,
    /// Offset in the piece.
    pub offset: u32,
    /// Length in bytes.
    pub length: u32,
}

mod id {
    pub const CHOKE: u8 = 0;
    pub const UNCHOKE: u8 = 1;
    pub const INTERESTED: u8 = 2;
    pub const NOT_INTERESTED: u8 = 3;
    pub const HAVE: u8 = 4;
    pub const BITFIELD: u8 = 5;
    pub const REQUEST: u8 = 6;
    pub const PIECE: u8 = 7;
    pub const CANCEL: u8 = 8;
    pub const PORT: u8 = 9;
    pub const SUGGEST: u8 = 13;
    pub const HAVE_ALL: u8 = 14;
    pub const HAVE_NONE: u8 = 15;
    pub const REJECT: u8 = 16;
    pub const ALLOWED_FAST: u8 = 17;
    pub const EXTENDED: u8 = 20;
    pub const HASH_REQUEST: u8 = 21;
    pub const HASHES: u8 = 22;
    pub const HASH_REJECT: u8 = 23;
}

/// What one torrent allows on the wire: the small `Copy` view of a [`Geometry`] that the codec
/// validates against (piece count and sizes come from the geometry's arithmetic, never
/// recomputed here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Number of pieces.
    pub piece_count: u32,
    /// Bytes per piece (all but the last).
    pub piece_length: u64,
    /// Total bytes of the torrent.
    pub total_length: u64,
    /// Largest extended message payload.
    pub max_extended: u32,
}

impl From<&Geometry> for Limits {
    fn from(g: &Geometry) -> Limits {
        Limits {
            piece_count: g.piece_count().min(u32::MAX as usize) as u32,
            piece_length: g.piece_length(),
            total_length: g.total_length(),
            max_extended: MAX_EXTENDED,
        }
    }
}

impl Limits {
    /// Limits for a torrent of `total_length` bytes in pieces of `piece_length`.
    pub fn new(piece_length: u64, total_length: u64) -> Limits {
        Limits::from(&Geometry::from_lengths(
            piece_length,
            &[(total_length, false)],
        ))
    }

    /// Limits for a torrent.
    pub fn for_torrent(t: &crate::metainfo::Torrent) -> Limits {
        Limits::from(&Geometry::new(t))
    }

    /// Bytes of a bitfield for this torrent.
    pub fn bitfield_len(&self) -> usize {
        (self.piece_count as usize).div_ceil(8)
    }

    /// Bytes of piece `piece` (0 when out of range).
    pub fn piece_size(&self, piece: u32) -> u64 {
        crate::geometry::piece_len(self.piece_length, self.total_length, piece as u64)
    }

    /// The largest frame (id + payload) this torrent allows.
    pub fn max_frame(&self) -> u32 {
        let block = 9 + BLOCK;
        let bitfield = 1 + self.bitfield_len().min(u32::MAX as usize - 1) as u32;
        let ext = 2u32.saturating_add(self.max_extended);
        block.max(bitfield).max(ext).max(hashes::MAX_FRAME)
    }

    fn check_piece(&self, piece: u32) -> Result<(), Error> {
        if piece < self.piece_count {
            Ok(())
        } else {
            Err(Error::PieceOutOfRange(piece))
        }
    }

    /// Check a request, cancel or reject: inside its piece, 1..=16 KiB.
    pub fn check_block(&self, b: &Block) -> Result<(), Error> {
        let size = self.piece_size(b.piece);
        if b.piece >= self.piece_count
            || b.length == 0
            || b.length > BLOCK
            || b.offset as u64 + b.length as u64 > size
        {
            return Err(Error::BadBlock {
                piece: b.piece,
                offset: b.offset,
                length: b.length,
            });
        }
        Ok(())
    }

    /// Check a bitfield: right length, no spare bit set.
    pub fn check_bitfield(&self, bits: &[u8]) -> Result<(), Error> {
        let want = self.bitfield_len();
        if bits.len() != want {
            return Err(Error::BitfieldLength {
                got: bits.len(),
                want,
            });
        }
        let spare = want * 8 - self.piece_count as usize;
        if spare > 0 && bits[want - 1] & ((1u16 << spare) - 1) as u8 != 0 {
            return Err(Error::BitfieldSpareBits);
        }
        Ok(())
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The payload of a `piece` message checked against the torrent: piece, offset, data.
fn piece_payload<'a>(p: &'a [u8], limits: &Limits) -> Result<(u32, u32, &'a [u8]), Error> {
    if p.len() < 8 {
        return Err(Error::BadLength {
            id: id::PIECE,
            len: p.len() as u32,
        });
    }
    let (piece, offset) = (be32(p), be32(&p[4..]));
    let data = &p[8..];
    if piece >= limits.piece_count
        || data.is_empty()
        || offset as u64 + data.len() as u64 > limits.piece_size(piece)
    {
        return Err(Error::BadBlock {
            piece,
            offset,
            length: data.len() as u32,
        });
    }
    Ok((piece, offset, data))
}

/// A `piece` message decoded in place (see [`decode_piece`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PieceFrame<'a> {
    /// The piece index.
    pub piece: u32,
    /// The block's offset in the piece.
    pub offset: u32,
    /// The block's data, inside the buffer decoded.
    pub data: &'a [u8],
    /// Bytes of the buffer the whole message takes.
    pub used: usize,
}

/// A whole `piece` message at the start of `buf`, decoded without copying its data. None when
/// `buf` starts with anything else or with an incomplete frame ([`decode`] then says what it
/// is); the same checks as [`decode`].
pub fn decode_piece<'a>(buf: &'a [u8], limits: &Limits) -> Option<Result<PieceFrame<'a>, Error>> {
    let len = be32(buf.get(..4)?) as usize;
    let used = 4 + len;
    if len == 0 || buf.len() < used || buf[4] != id::PIECE || len > limits.max_frame() as usize {
        return None;
    }
    Some(
        piece_payload(&buf[5..used], limits).map(|(piece, offset, data)| PieceFrame {
            piece,
            offset,
            data,
            used,
        }),
    )
}

/// Decode one message at the start of `buf`.
///
/// `Ok(None)` when more bytes are needed; `Ok(Some((message, used)))` otherwise. The length
/// prefix is checked against `limits` before anything is allocated, and the message is
/// validated against the torrent.
pub fn decode(buf: &[u8], limits: &Limits) -> Result<Option<(Message, usize)>, Error> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = be32(buf);
    let max = limits.max_frame();
    if len > max {
        return Err(Error::FrameTooLarge { len, max });
    }
    let total = 4 + len as usize;
    if buf.len() < total {
        return Ok(None);
    }
    if len == 0 {
        return Ok(Some((Message::KeepAlive, 4)));
    }
    let id = buf[4];
    let p = &buf[5..total];
    let plen = p.len() as u32;
    let fixed = |n: u32| -> Result<(), Error> {
        if plen == n {
            Ok(())
        } else {
            Err(Error::BadLength { id, len: plen })
        }
    };
    let block = |p: &[u8]| Block {
        piece: be32(p),
        offset: be32(&p[4..]),
        length: be32(&p[8..]),
    };
    let msg = match id {
        id::CHOKE => fixed(0).map(|_| Message::Choke)?,
        id::UNCHOKE => fixed(0).map(|_| Message::Unchoke)?,
        id::INTERESTED => fixed(0).map(|_| Message::Interested)?,
        id::NOT_INTERESTED => fixed(0).map(|_| Message::NotInterested)?,
        id::HAVE_ALL => fixed(0).map(|_| Message::HaveAll)?,
        id::HAVE_NONE => fixed(0).map(|_| Message::HaveNone)?,
        id::HAVE | id::SUGGEST | id::ALLOWED_FAST => {
            fixed(4)?;
            let piece = be32(p);
            limits.check_piece(piece)?;
            match id {
                id::HAVE => Message::Have(piece),
                id::SUGGEST => Message::Suggest(piece),
                _ => Message::AllowedFast(piece),
            }
        }
        id::BITFIELD => {
            limits.check_bitfield(p)?;
            Message::Bitfield(p.to_vec())
        }
        id::REQUEST | id::CANCEL | id::REJECT => {
            fixed(12)?;
            let b = block(p);
            limits.check_block(&b)?;
            match id {
                id::REQUEST => Message::Request(b),
                id::CANCEL => Message::Cancel(b),
                _ => Message::Reject(b),
            }
        }
        id::PIECE => {
            let (piece, offset, data) = piece_payload(p, limits)?;
            Message::Piece {
                piece,
                offset,
                data: data.to_vec(),
            }
        }
        id::PORT => {
            fixed(2)?;
            Message::Port(u16::from_be_bytes([p[0], p[1]]))
        }
        id::EXTENDED => {
            if plen < 1 {
                return Err(Error::BadLength { id, len: plen });
            }
            Message::Extended {
                id: p[0],
                payload: p[1..].to_vec(),
            }
        }
        id::HASH_REQUEST | id::HASH_REJECT => {
            fixed(hashes::REQUEST_LEN as u32)?;
            let r = hashes::HashRequest::parse(id, p)?;
            match id {
                id::HASH_REQUEST => Message::HashRequest(r),
                _ => Message::HashReject(r),
            }
        }
        id::HASHES => {
            let request = hashes::HashRequest::parse(id, p)?;
            let hashes = hashes::parse_hashes(id, &request, &p[hashes::REQUEST_LEN..])?;
            Message::Hashes { request, hashes }
        }
        other => return Err(Error::UnknownMessage(other)),
    };
    Ok(Some((msg, total)))
}

/// Append the header of a piece message carrying `len` bytes (the data follows it on the wire).
pub fn encode_piece_header(piece: u32, offset: u32, len: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&(9 + len).to_be_bytes());
    out.push(id::PIECE);
    out.extend_from_slice(&piece.to_be_bytes());
    out.extend_from_slice(&offset.to_be_bytes());
}

impl Message {
    /// Append the wire form (length prefix included) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let simple = |out: &mut Vec<u8>, id: u8| {
            out.extend_from_slice(&1u32.to_be_bytes());
            out.push(id);
        };
        let index = |out: &mut Vec<u8>, id: u8, i: u32| {
            out.extend_from_slice(&5u32.to_be_bytes());
            out.push(id);
            out.extend_from_slice(&i.to_be_bytes());
        };
        let block = |out: &mut Vec<u8>, id: u8, b: &Block| {
            out.extend_from_slice(&13u32.to_be_bytes());
            out.push(id);
            out.extend_from_slice(&b.piece.to_be_bytes());
            out.extend_from_slice(&b.offset.to_be_bytes());
            out.extend_from_slice(&b.length.to_be_bytes());
        };
        match self {
            Message::KeepAlive => out.extend_from_slice(&[0, 0, 0, 0]),
            Message::Choke => simple(out, id::CHOKE),
            Message::Unchoke => simple(out, id::UNCHOKE),
            Message::Interested => simple(out, id::INTERESTED),
            Message::NotInterested => simple(out, id::NOT_INTERESTED),
            Message::HaveAll => simple(out, id::HAVE_ALL),
            Message::HaveNone => simple(out, id::HAVE_NONE),
            Message::Have(i) => index(out, id::HAVE, *i),
            Message::Suggest(i) => index(out, id::SUGGEST, *i),
            Message::AllowedFast(i) => index(out, id::ALLOWED_FAST, *i),
            Message::Bitfield(bits) => {
                out.extend_from_slice(&(1 + bits.len() as u32).to_be_bytes());
                out.push(id::BITFIELD);
                out.extend_from_slice(bits);
            }
            Message::Request(b) => block(out, id::REQUEST, b),
            Message::Cancel(b) => block(out, id::CANCEL, b),
            Message::Reject(b) => block(out, id::REJECT, b),
            Message::Piece {
                piece,
                offset,
                data,
            } => {
                encode_piece_header(*piece, *offset, data.len() as u32, out);
                out.extend_from_slice(data);
            }
            Message::Port(p) => {
                out.extend_from_slice(&3u32.to_be_bytes());
                out.push(id::PORT);
                out.extend_from_slice(&p.to_be_bytes());
            }
            Message::Extended { id: ext, payload } => {
                out.extend_from_slice(&(2 + payload.len() as u32).to_be_bytes());
                out.push(id::EXTENDED);
                out.push(*ext);
                out.extend_from_slice(payload);
            }
            Message::HashRequest(r) | Message::HashReject(r) => {
                out.extend_from_slice(&(1 + hashes::REQUEST_LEN as u32).to_be_bytes());
                out.push(match self {
                    Message::HashRequest(_) => id::HASH_REQUEST,
                    _ => id::HASH_REJECT,
                });
                r.encode(out);
            }
            Message::Hashes { request, hashes } => {
                let len = 1 + hashes::REQUEST_LEN + 32 * hashes.len();
                out.extend_from_slice(&(len as u32).to_be_bytes());
                out.push(id::HASHES);
                request.encode(out);
                hashes.iter().for_each(|h| out.extend_from_slice(h));
            }
        }
    }

    /// The wire form as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }
}

/// The BEP 10 extension handshake (extended message id 0), the fields we use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtHandshake {
    /// `m`: extension name -> message id.
    pub extensions: Vec<(String, u8)>,
    /// `p`: the sender's listen port.
    pub port: Option<u16>,
    /// `v`: client name and version.
    pub client: Option<String>,
    /// `reqq`: how many outstanding requests the sender queues.
    pub reqq: Option<u32>,
    /// `metadata_size` (BEP 9): bytes of the sender's info dictionary (positive).
    pub metadata_size: Option<u64>,
}

impl ExtHandshake {
    /// Parse the bencoded payload (strictly, through `crate::bencode`). Unknown keys are ignored;
    /// a payload that is not a dictionary is an error.
    pub fn parse(payload: &[u8]) -> Result<ExtHandshake, Error> {
        let limits = crate::bencode::Limits {
            max_depth: 16,
            max_size: MAX_EXTENDED as usize,
            max_tokens: 10_000,
        };
        let d = crate::bencode::decode(payload, &limits)
            .map_err(|e| Error::BadExtension(e.to_string()))?;
        let dict = d.root.as_dict().ok_or_else(|| {
            Error::BadExtension(format!("{} instead of a dictionary", d.root.kind()))
        })?;
        let mut h = ExtHandshake::default();
        if let Some(m) = dict.get("m").and_then(|m| m.as_dict()) {
            for (k, v) in &m.entries {
                if let (Ok(name), Some(id)) = (std::str::from_utf8(k), v.as_int()) {
                    if (0..=255).contains(&id) {
                        h.extensions.push((name.to_string(), id as u8));
                    }
                }
            }
        }
        h.port = dict
            .get("p")
            .and_then(|p| p.as_int())
            .and_then(|p| u16::try_from(p).ok());
        h.client = dict.get("v").and_then(|v| v.as_str()).map(str::to_string);
        h.reqq = dict
            .get("reqq")
            .and_then(|v| v.as_int())
            .and_then(|v| u32::try_from(v).ok());
        h.metadata_size = dict
            .get("metadata_size")
            .and_then(|v| v.as_int())
            .and_then(|v| u64::try_from(v).ok())
            .filter(|&v| v > 0);
        Ok(h)
    }

    /// The bencoded payload (keys in canonical order).
    pub fn encode(&self) -> Vec<u8> {
        fn bytes(out: &mut Vec<u8>, b: &[u8]) {
            out.extend_from_slice(b.len().to_string().as_bytes());
            out.push(b':');
            out.extend_from_slice(b);
        }
        fn int(out: &mut Vec<u8>, i: i64) {
            out.push(b'i');
            out.extend_from_slice(i.to_string().as_bytes());
            out.push(b'e');
        }
        let mut out = b"d".to_vec();
        bytes(&mut out, b"m");
        out.push(b'd');
        let mut ext = self.extensions.clone();
        ext.sort();
        for (name, id) in &ext {
            bytes(&mut out, name.as_bytes());
            int(&mut out, *id as i64);
        }
        out.push(b'e');
        if let Some(n) = self.metadata_size {
            bytes(&mut out, b"metadata_size");
            int(&mut out, n.min(i64::MAX as u64) as i64);
        }
        if let Some(p) = self.port {
            bytes(&mut out, b"p");
            int(&mut out, p as i64);
        }
        if let Some(q) = self.reqq {
            bytes(&mut out, b"reqq");
            int(&mut out, q as i64);
        }
        if let Some(v) = &self.client {
            bytes(&mut out, b"v");
            bytes(&mut out, v.as_bytes());
        }
        out.push(b'e');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        // 10 pieces of 32 KiB, the last one 1000 bytes.
        Limits::new(32 * 1024, 9 * 32 * 1024 + 1000)
    }

    #[test]
    fn decode_piece_agrees_with_decode_without_copying() {
        let l = limits();
        let m = Message::Piece {
            piece: 9,
            offset: 16,
            data: vec![7; 900],
        };
        let mut buf = m.to_bytes();
        buf.extend_from_slice(&Message::Unchoke.to_bytes());
        let f = decode_piece(&buf, &l).unwrap().unwrap();
        let (whole, used) = decode(&buf, &l).unwrap().unwrap();
        assert_eq!(f.used, used);
        assert_eq!(
            whole,
            Message::Piece {
                piece: f.piece,
                offset: f.offset,
                data: f.data.to_vec()
            }
        );
        // Not a piece, or not whole yet: left to `decode`.
        assert!(decode_piece(&buf[used..], &l).is_none());
        assert!(decode_piece(&buf[..used - 1], &l).is_none());
        // Past the end of the last piece: the same error as `decode`.
        let bad = Message::Piece {
            piece: 9,
            offset: 200,
            data: vec![7; 900],
        }
        .to_bytes();
        assert_eq!(
            decode_piece(&bad, &l).unwrap().unwrap_err(),
            decode(&bad, &l).unwrap_err()
        );
    }

    fn every_message() -> Vec<Message> {
        let b = Block {
            piece: 3,
            offset: 16384,
            length: 16384,
        };
        let mut bits = vec![0u8; 2];
        bits[0] = 0b1010_0001;
        bits[1] = 0b1100_0000;
        vec![
            Message::KeepAlive,
            Message::Choke,
            Message::Unchoke,
            Message::Interested,
            Message::NotInterested,
            Message::Have(9),
            Message::Bitfield(bits),
            Message::Request(b),
            Message::Piece {
                piece: 9,
                offset: 0,
                data: (0..1000).map(|i| i as u8).collect(),
            },
            Message::Cancel(b),
            Message::Port(6881),
            Message::HaveAll,
            Message::HaveNone,
            Message::Suggest(1),
            Message::Reject(b),
            Message::AllowedFast(0),
            Message::Extended {
                id: 0,
                payload: ExtHandshake {
                    extensions: vec![("ut_pex".into(), 1)],
                    port: Some(6881),
                    client: Some("bt 0.1".into()),
                    reqq: Some(500),
                    metadata_size: Some(31_337),
                }
                .encode(),
            },
            Message::HashRequest(HASH_REQ),
            Message::Hashes {
                request: HASH_REQ,
                hashes: (0..6u8).map(|i| [i; 32]).collect(),
            },
            Message::HashReject(HASH_REQ),
        ]
    }

    const HASH_REQ: hashes::HashRequest = hashes::HashRequest {
        pieces_root: [7; 32],
        base_layer: 1,
        index: 8,
        length: 4,
        proof_layers: 3,
    };

    #[test]
    fn hostile_hash_messages_are_errors() {
        let l = limits();
        let frame = |id: u8, r: hashes::HashRequest, extra: usize| {
            let mut v = Vec::new();
            Message::HashRequest(r).encode(&mut v);
            v[4] = id;
            v.extend(std::iter::repeat_n(9u8, extra));
            let n = (v.len() - 4) as u32;
            v[..4].copy_from_slice(&n.to_be_bytes());
            v
        };
        let bad = [
            hashes::HashRequest {
                length: 3,
                ..HASH_REQ
            },
            hashes::HashRequest {
                length: 0,
                ..HASH_REQ
            },
            hashes::HashRequest {
                length: 1024,
                index: 0,
                ..HASH_REQ
            },
            hashes::HashRequest {
                index: 6,
                ..HASH_REQ
            },
            hashes::HashRequest {
                base_layer: 32,
                ..HASH_REQ
            },
            hashes::HashRequest {
                proof_layers: u32::MAX,
                ..HASH_REQ
            },
        ];
        for r in bad {
            for id in [21, 23] {
                assert_eq!(decode(&frame(id, r, 0), &l), Err(Error::BadHashRequest(r)));
            }
            assert_eq!(
                decode(&frame(22, r, 32 * 4), &l),
                Err(Error::BadHashRequest(r))
            );
        }
        // A request or reject of the wrong length; hashes too few, too many, not whole.
        for (id, extra) in [
            (21, 1),
            (23, 32),
            (22, 0),
            (22, 32 * 3),
            (22, 32 * 8),
            (22, 33 * 4),
        ] {
            assert!(
                matches!(
                    decode(&frame(id, HASH_REQ, extra), &l),
                    Err(Error::BadLength { .. })
                ),
                "{id} {extra}"
            );
        }
        // The largest answer fits a frame; a length prefix past it is refused unread.
        let r = hashes::HashRequest {
            length: hashes::MAX_HASHES,
            index: 0,
            proof_layers: hashes::MAX_LAYERS - 1,
            ..HASH_REQ
        };
        let big = frame(
            22,
            r,
            32 * (hashes::MAX_HASHES + hashes::MAX_LAYERS - 1) as usize,
        );
        assert!(decode(&big, &l).unwrap().is_some());
        assert!(decode(&frame(22, r, 0)[..5], &l).unwrap().is_none());
    }

    #[test]
    fn round_trip_from_every_split_point() {
        let l = limits();
        for m in every_message() {
            let bytes = m.to_bytes();
            // Decoding a prefix needs more bytes; the whole decodes to the same message.
            for split in 0..bytes.len() {
                assert_eq!(decode(&bytes[..split], &l), Ok(None), "{m:?} split {split}");
            }
            let mut stream = bytes.clone();
            stream.extend_from_slice(&Message::Unchoke.to_bytes());
            assert_eq!(decode(&stream, &l), Ok(Some((m.clone(), bytes.len()))));
            // Fed through a growing buffer in two halves, as a socket would.
            for split in 0..=bytes.len() {
                let mut buf = bytes[..split].to_vec();
                let first = decode(&buf, &l).unwrap();
                if split < bytes.len() {
                    assert!(first.is_none());
                    buf.extend_from_slice(&bytes[split..]);
                }
                assert_eq!(decode(&buf, &l).unwrap().unwrap().0, m);
            }
        }
    }

    #[test]
    fn handshake_round_trip_and_bits() {
        let h = Handshake::new([7; 20], PeerId([9; 20]));
        assert!(h.supports_extended() && h.supports_fast());
        let b = h.encode();
        assert_eq!(b[25], 0x10);
        assert_eq!(b[27], 0x04);
        assert!(!h.supports_v2());
        assert_eq!(h.with_v2(false), h);
        // BEP 52: bit 0x10 of reserved byte 7, next to the fast extension's 0x04.
        let v2 = h.with_v2(true);
        let b2 = v2.encode();
        assert_eq!(b2[20..28], [0, 0, 0, 0, 0, 0x10, 0, 0x14]);
        assert_eq!(b2[28..], b[28..]);
        let back = Handshake::decode(&b2).unwrap().unwrap();
        assert!(back.supports_v2() && back.supports_fast() && back.supports_extended());
        // A peer's v2 bit alone is read as such.
        let mut only = [0u8; HANDSHAKE_LEN];
        only[..20].copy_from_slice(PROTOCOL);
        only[27] = 0x10;
        let bare = Handshake::decode(&only).unwrap().unwrap();
        assert!(bare.supports_v2() && !bare.supports_fast() && !bare.supports_extended());
        for split in 0..HANDSHAKE_LEN {
            assert_eq!(Handshake::decode(&b[..split]), Ok(None));
        }
        assert_eq!(Handshake::decode(&b), Ok(Some(h)));
        let mut bad = b;
        bad[3] = b'X';
        assert_eq!(Handshake::decode(&bad[..4]), Err(Error::NotBitTorrent));
        assert_eq!(
            Handshake::decode(b"GET / HTTP/1.1"),
            Err(Error::NotBitTorrent)
        );
    }

    #[test]
    fn peer_ids_are_azureus_style_and_random() {
        let a = PeerId::generate().unwrap();
        let b = PeerId::generate().unwrap();
        assert_eq!(&a.0[..8], b"-BT0100-");
        assert_ne!(a, b);
        assert_eq!(a.hex().len(), 40);
    }

    #[test]
    fn huge_length_prefix_is_refused_before_the_body() {
        let l = limits();
        let frame = [0xff, 0xff, 0xff, 0xff, 7];
        assert!(matches!(
            decode(&frame, &l),
            Err(Error::FrameTooLarge { len: u32::MAX, .. })
        ));
        // Just over a block frame.
        let len = (l.max_frame() + 1).to_be_bytes();
        assert!(matches!(decode(&len, &l), Err(Error::FrameTooLarge { .. })));
    }

    #[test]
    fn hostile_messages_are_errors() {
        let l = limits();
        let raw = |id: u8, payload: &[u8]| {
            let mut v = (1 + payload.len() as u32).to_be_bytes().to_vec();
            v.push(id);
            v.extend_from_slice(payload);
            v
        };
        let req = |p: u32, o: u32, n: u32| {
            let mut v = p.to_be_bytes().to_vec();
            v.extend_from_slice(&o.to_be_bytes());
            v.extend_from_slice(&n.to_be_bytes());
            v
        };
        // have out of range
        assert_eq!(
            decode(&raw(4, &10u32.to_be_bytes()), &l),
            Err(Error::PieceOutOfRange(10))
        );
        // bitfield of the wrong length, and with a spare bit set
        assert!(matches!(
            decode(&raw(5, &[0xff]), &l),
            Err(Error::BitfieldLength { got: 1, want: 2 })
        ));
        assert_eq!(
            decode(&raw(5, &[0xff, 0xe0]), &l),
            Err(Error::BitfieldSpareBits)
        );
        assert!(decode(&raw(5, &[0xff, 0xc0]), &l).unwrap().is_some());
        // requests: too large, past the piece end, past the last piece, empty
        for (p, o, n) in [
            (0, 0, 32 * 1024),
            (0, 16385, 16384),
            (9, 0, 1001),
            (10, 0, 1),
            (0, 0, 0),
            (0, u32::MAX, 16384),
        ] {
            assert!(
                matches!(
                    decode(&raw(6, &req(p, o, n)), &l),
                    Err(Error::BadBlock { .. })
                ),
                "request {p} {o} {n}"
            );
            assert!(matches!(
                decode(&raw(8, &req(p, o, n)), &l),
                Err(Error::BadBlock { .. })
            ));
        }
        assert!(decode(&raw(6, &req(9, 0, 1000)), &l).unwrap().is_some());
        // a piece message past its piece
        let mut piece = req(9, 999, 0)[..8].to_vec();
        piece.extend_from_slice(&[1, 2]);
        assert!(matches!(
            decode(&raw(7, &piece), &l),
            Err(Error::BadBlock { .. })
        ));
        // wrong fixed lengths, unknown ids
        assert!(matches!(
            decode(&raw(0, &[1]), &l),
            Err(Error::BadLength { .. })
        ));
        assert!(matches!(
            decode(&raw(6, &[0; 11]), &l),
            Err(Error::BadLength { .. })
        ));
        assert!(matches!(
            decode(&raw(9, &[1]), &l),
            Err(Error::BadLength { .. })
        ));
        assert_eq!(decode(&raw(99, &[]), &l), Err(Error::UnknownMessage(99)));
        assert!(matches!(
            decode(&raw(20, &[]), &l),
            Err(Error::BadLength { .. })
        ));
    }

    #[test]
    fn extension_handshake() {
        let h = ExtHandshake::parse(
            b"d1:md11:ut_metadatai3e6:ut_pexi1ee1:pi51413e4:reqqi250e1:v5:x 1.0e",
        )
        .unwrap();
        assert_eq!(h.port, Some(51413));
        assert_eq!(h.reqq, Some(250));
        assert_eq!(h.client.as_deref(), Some("x 1.0"));
        assert!(h.extensions.contains(&("ut_pex".into(), 1)));
        assert_eq!(ExtHandshake::parse(&h.encode()).unwrap(), h);
        assert!(ExtHandshake::parse(b"li1ee").is_err());
        assert!(ExtHandshake::parse(b"d1:m").is_err());
        // out of range port ignored, not fatal
        assert_eq!(ExtHandshake::parse(b"d1:pi99999ee").unwrap().port, None);
    }

    #[test]
    fn limits_geometry() {
        let l = limits();
        assert_eq!(l.piece_count, 10);
        assert_eq!(l.piece_size(9), 1000);
        assert_eq!(l.piece_size(10), 0);
        assert_eq!(l.bitfield_len(), 2);
        assert_eq!(l.max_frame(), 2 + MAX_EXTENDED);
        let big = Limits::new(16384, 16384u64 * 100_000_000);
        assert!(big.max_frame() > 12_500_000);
    }
}
