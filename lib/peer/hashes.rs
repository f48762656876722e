//! BEP 52 hash messages: `hash request` (21), `hashes` (22) and `hash reject` (23), which carry
//! the hashes of one layer of a file's merkle tree (and the uncle hashes that prove them) to a
//! peer that lacks the torrent's `piece layers`, such as one that started from a magnet link.
//!
//! Invariants of every decoded [`HashRequest`]: `length` is a power of two of at most
//! [`MAX_HASHES`], `index` is a multiple of `length`, `base_layer` and `proof_layers` are below
//! [`MAX_LAYERS`]. A `hashes` message holds at least `length` and at most `length +
//! proof_layers` hashes. Whether the pieces root names a file of the torrent is for the
//! receiver to check; the tree arithmetic is [`crate::merkle::layer_hashes`] and
//! [`crate::merkle::check_layer_hashes`].

use super::Error;

/// Most hashes one request may ask for (BEP 52 lets a peer refuse more than 512).
pub const MAX_HASHES: u32 = 512;
/// Layers of the tallest merkle tree a torrent can hold (files of at most 2^44 bytes have at
/// most 2^30 leaves).
pub const MAX_LAYERS: u32 = 32;
/// Bytes of a `hash request` or `hash reject` payload.
pub const REQUEST_LEN: usize = 48;

/// The payload of a `hash request` or `hash reject`, and the head of a `hashes` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashRequest {
    /// The file's `pieces root`.
    pub pieces_root: [u8; 32],
    /// The layer asked for: 0 is the 16 KiB leaves, `log2(piece length / 16 KiB)` the pieces.
    pub base_layer: u32,
    /// Offset of the first hash in that layer.
    pub index: u32,
    /// How many hashes.
    pub length: u32,
    /// How many uncle hashes above the requested ones to include.
    pub proof_layers: u32,
}

impl HashRequest {
    /// Read and check the first [`REQUEST_LEN`] bytes of `p` (message `id`, for errors).
    pub(super) fn parse(id: u8, p: &[u8]) -> Result<HashRequest, Error> {
        if p.len() < REQUEST_LEN {
            return Err(Error::BadLength {
                id,
                len: p.len() as u32,
            });
        }
        let word = |at: usize| u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]);
        let mut pieces_root = [0u8; 32];
        pieces_root.copy_from_slice(&p[..32]);
        let r = HashRequest {
            pieces_root,
            base_layer: word(32),
            index: word(36),
            length: word(40),
            proof_layers: word(44),
        };
        if !r.length.is_power_of_two()
            || r.length > MAX_HASHES
            || !r.index.is_multiple_of(r.length)
            || r.base_layer >= MAX_LAYERS
            || r.proof_layers >= MAX_LAYERS
        {
            return Err(Error::BadHashRequest(r));
        }
        Ok(r)
    }

    /// Append the 48-byte wire form.
    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.pieces_root);
        for w in [self.base_layer, self.index, self.length, self.proof_layers] {
            out.extend_from_slice(&w.to_be_bytes());
        }
    }
}

/// The hashes of a `hashes` message after its 48-byte head: `length` to `length +
/// proof_layers` of them.
pub(super) fn parse_hashes(id: u8, r: &HashRequest, p: &[u8]) -> Result<Vec<[u8; 32]>, Error> {
    let bad = || Error::BadLength {
        id,
        len: (REQUEST_LEN + p.len()) as u32,
    };
    if !p.len().is_multiple_of(32) {
        return Err(bad());
    }
    let n = (p.len() / 32) as u32;
    if n < r.length || n > r.length + r.proof_layers {
        return Err(bad());
    }
    Ok(p.chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

/// Largest `hashes` frame (id + payload).
pub(super) const MAX_FRAME: u32 = 1 + REQUEST_LEN as u32 + 32 * (MAX_HASHES + MAX_LAYERS);
