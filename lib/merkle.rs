//! BEP 52 merkle hashing of file data: SHA-256 leaves of 16 KiB blocks, one subtree per piece,
//! one tree per file. Shared by torrent creation and verification.
//!
//! Rules (BEP 52): a leaf is the SHA-256 of one 16 KiB block of a file (the last block of the
//! file is hashed as it is, short); leaves past the end of the file are 32 zero bytes. A piece's
//! hash in the `piece layers` is the root of the subtree of its `piece_length / 16 KiB` leaves,
//! so the last piece of a file is padded with zero leaves to a full piece. A file that fits in
//! one piece has no layer: its `pieces root` is the root over its leaves padded to the next
//! power of two only. The layer is padded to a power of two with the root of an all-zero piece
//! ([`pad_hash`]) to give the `pieces root`.

use sha2::{Digest, Sha256};

pub use crate::metainfo::v2::{merkle_root, pad_hash, BLOCK};

/// Streams one file's bytes and yields the hash of each piece (see the module rules).
pub struct PieceHasher {
    piece_length: u64,
    /// The file spans more than one piece: its last piece is padded to a full piece.
    multi: bool,
    block: Sha256,
    block_fill: u64,
    piece_fill: u64,
    leaves: Vec<[u8; 32]>,
}

impl PieceHasher {
    /// A hasher for a file of `file_length` bytes cut into pieces of `piece_length` (a power of
    /// two of at least 16 KiB).
    pub fn new(piece_length: u64, file_length: u64) -> PieceHasher {
        PieceHasher {
            piece_length,
            multi: file_length > piece_length,
            block: Sha256::new(),
            block_fill: 0,
            piece_fill: 0,
            leaves: Vec::with_capacity((piece_length / BLOCK) as usize),
        }
    }

    /// Feed the next bytes; `out` gets the hash of every piece completed.
    pub fn feed(&mut self, mut data: &[u8], out: &mut impl FnMut([u8; 32])) {
        while !data.is_empty() {
            let take = ((BLOCK - self.block_fill) as usize).min(data.len());
            self.block.update(&data[..take]);
            data = &data[take..];
            self.block_fill += take as u64;
            self.piece_fill += take as u64;
            if self.block_fill == BLOCK {
                self.leaves.push(self.block.finalize_reset().into());
                self.block_fill = 0;
                if self.piece_fill == self.piece_length {
                    out(self.piece_root());
                }
            }
        }
    }

    /// End of the file: `out` gets the hash of the last, partial piece if there is one.
    pub fn finish(mut self, out: &mut impl FnMut([u8; 32])) {
        if self.block_fill > 0 {
            self.leaves.push(self.block.finalize_reset().into());
        }
        if !self.leaves.is_empty() {
            out(self.piece_root());
        }
    }

    fn piece_root(&mut self) -> [u8; 32] {
        let n = self.leaves.len() as u64;
        let mut root = merkle_root(&self.leaves, [0; 32]);
        if self.multi {
            // Lift a short last piece to the height of a full piece with all-zero siblings.
            let mut width = n.next_power_of_two() * BLOCK;
            while width < self.piece_length {
                root = hash_pair(&root, &pad_hash(width));
                width *= 2;
            }
        }
        self.leaves.clear();
        self.piece_fill = 0;
        root
    }
}

/// The `pieces root` of a file from its piece hashes (one piece: that piece's hash).
pub fn file_root(layer: &[[u8; 32]], piece_length: u64) -> [u8; 32] {
    merkle_root(layer, pad_hash(piece_length))
}

fn hash_pair(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(a);
    h.update(b);
    h.finalize().into()
}

/// Piece hashes of a whole file held in memory (for tests and small inputs).
pub fn piece_hashes(data: &[u8], piece_length: u64) -> Vec<[u8; 32]> {
    let mut out = Vec::new();
    let mut h = PieceHasher::new(piece_length, data.len() as u64);
    h.feed(data, &mut |r| out.push(r));
    h.finish(&mut |r| out.push(r));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(d: &[u8]) -> [u8; 32] {
        Sha256::digest(d).into()
    }

    #[test]
    fn small_file_root_pads_to_a_power_of_two_only() {
        // Three blocks, the last one short: root over [h0, h1, h2, 0].
        let data: Vec<u8> = (0..40_000u32).map(|i| (i * 7) as u8).collect();
        let l: Vec<[u8; 32]> = data.chunks(BLOCK as usize).map(sha).collect();
        let want = hash_pair(&hash_pair(&l[0], &l[1]), &hash_pair(&l[2], &[0; 32]));
        assert_eq!(piece_hashes(&data, 1 << 20), vec![want]);
        assert_eq!(file_root(&[want], 1 << 20), want);
    }

    #[test]
    fn last_piece_of_a_long_file_is_padded_to_a_full_piece() {
        // Pieces of 4 blocks; 5 blocks of data: piece 1 is [h4, 0, 0, 0].
        let pl = 4 * BLOCK;
        let data: Vec<u8> = (0..5 * BLOCK as u32).map(|i| (i % 251) as u8).collect();
        let l: Vec<[u8; 32]> = data.chunks(BLOCK as usize).map(sha).collect();
        let z = [0u8; 32];
        let p0 = hash_pair(&hash_pair(&l[0], &l[1]), &hash_pair(&l[2], &l[3]));
        let p1 = hash_pair(&hash_pair(&l[4], &z), &hash_pair(&z, &z));
        let layer = piece_hashes(&data, pl);
        assert_eq!(layer, vec![p0, p1]);
        assert_eq!(file_root(&layer, pl), hash_pair(&p0, &p1));
        // Fed in odd slices, the same hashes.
        let mut h = PieceHasher::new(pl, data.len() as u64);
        let mut got = Vec::new();
        for c in data.chunks(7777) {
            h.feed(c, &mut |r| got.push(r));
        }
        h.finish(&mut |r| got.push(r));
        assert_eq!(got, layer);
        // Three pieces: the layer is padded with the root of an all-zero piece.
        let data3: Vec<u8> = (0..9 * BLOCK as u32).map(|i| (i % 13) as u8).collect();
        let layer3 = piece_hashes(&data3, pl);
        assert_eq!(layer3.len(), 3);
        assert_eq!(
            file_root(&layer3, pl),
            hash_pair(
                &hash_pair(&layer3[0], &layer3[1]),
                &hash_pair(&layer3[2], &pad_hash(pl))
            )
        );
    }
}
