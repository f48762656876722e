//! The pieces one peer has, as the picker sees them: a bitset of 64-bit words, or, for a peer
//! that has every piece (HaveAll, or a bitfield with every bit set), only a flag. The picker
//! keeps the availability a peer adds in step with it, so a peer's pieces change only through
//! the picker's `peer_*` methods.

/// The pieces one peer has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerPieces {
    pub(super) words: Vec<u64>,
    pub(super) len: u32,
    pub(super) count: u32,
    /// Every piece: `words` is then all zero and unused.
    pub(super) all: bool,
}

impl PeerPieces {
    /// No pieces, in a torrent of `pieces` pieces.
    pub fn new(pieces: u32) -> PeerPieces {
        PeerPieces {
            words: vec![0; (pieces as usize).div_ceil(64)],
            len: pieces,
            count: 0,
            all: false,
        }
    }

    /// Whether the peer has piece `i`.
    pub fn has(&self, i: u32) -> bool {
        i < self.len && (self.all || self.words[i as usize / 64] >> (i % 64) & 1 == 1)
    }

    /// How many pieces the peer has.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Whether the peer has every piece.
    pub fn has_all(&self) -> bool {
        self.all || (self.len > 0 && self.count == self.len)
    }

    /// The torrent's number of pieces.
    pub fn piece_count(&self) -> u32 {
        self.len
    }

    /// Set bit `i` (in range, not yet set).
    pub(super) fn set(&mut self, i: u32) {
        self.words[i as usize / 64] |= 1 << (i % 64);
        self.count += 1;
    }

    /// Word `k` of a bitfield (high bit first, as on the wire), bits past the end cleared.
    pub(super) fn word_of(&self, bitfield: &[u8], k: usize) -> u64 {
        let mut w = 0u64;
        for (m, byte) in bitfield.iter().skip(k * 8).take(8).enumerate() {
            w |= (byte.reverse_bits() as u64) << (8 * m);
        }
        let end = self.len as usize - k * 64;
        if end < 64 {
            w &= (1u64 << end) - 1;
        }
        w
    }
}

/// What [`Picker::pick`](super::Picker::pick) and
/// [`Picker::interesting`](super::Picker::interesting) need to know about a peer's pieces:
/// [`PeerPieces`] (fast: a peer with every piece is found in O(1)) or a plain `[bool]`.
pub trait Pieces {
    /// Whether the peer has piece `i`.
    fn has(&self, i: u32) -> bool;
    /// The bitset form, when there is one.
    fn as_peer_pieces(&self) -> Option<&PeerPieces> {
        None
    }
}

impl Pieces for PeerPieces {
    fn has(&self, i: u32) -> bool {
        PeerPieces::has(self, i)
    }
    fn as_peer_pieces(&self) -> Option<&PeerPieces> {
        Some(self)
    }
}

impl Pieces for [bool] {
    fn has(&self, i: u32) -> bool {
        self.get(i as usize) == Some(&true)
    }
}

impl Pieces for Vec<bool> {
    fn has(&self, i: u32) -> bool {
        self.as_slice().has(i)
    }
}

impl<const N: usize> Pieces for [bool; N] {
    fn has(&self, i: u32) -> bool {
        self.as_slice().has(i)
    }
}
