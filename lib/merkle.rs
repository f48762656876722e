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

use crate::sha256_lanes;

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
            if self.block_fill == 0 {
                // Whole blocks of this piece lying in `data`: several leaves at once (see
                // `sha256_lanes`).
                let room = ((self.piece_length - self.piece_fill) as usize).min(data.len());
                let used =
                    sha256_lanes::digest_chunks(&data[..room], BLOCK as usize, &mut self.leaves);
                data = &data[used..];
                self.piece_fill += used as u64;
                if self.piece_fill == self.piece_length {
                    out(self.piece_root());
                    continue;
                }
                if data.is_empty() {
                    break;
                }
            }
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

/// The merkle layer of a file's pieces (`base_layer`, counted from the 16 KiB leaves).
pub fn piece_layer_index(piece_length: u64) -> u32 {
    (piece_length / BLOCK).max(1).trailing_zeros()
}

/// The merkle tree above a file's piece layer: level 0 is the layer padded to a power of two
/// with [`pad_hash`], the last level is the root.
pub fn layer_tree(layer: &[[u8; 32]], piece_length: u64) -> Vec<Vec<[u8; 32]>> {
    let mut level = layer.to_vec();
    level.resize(layer.len().next_power_of_two(), pad_hash(piece_length));
    let mut tree = vec![level];
    while let Some(top) = tree.last().filter(|l| l.len() > 1) {
        let mut up = Vec::with_capacity(top.len() / 2);
        sha256_lanes::digest_chunks(top.as_flattened(), 64, &mut up);
        tree.push(up);
    }
    tree
}

/// Answer a BEP 52 hash request from a file's piece layer: the `length` hashes at `index` of
/// the layer (padded to a power of two with [`pad_hash`]), then up to `proof_layers` uncle
/// hashes from the sibling of their subtree's root upwards. None when the request is not for
/// the piece layer or lies outside it.
pub fn layer_hashes(
    layer: &[[u8; 32]],
    piece_length: u64,
    req: &crate::peer::hashes::HashRequest,
) -> Option<Vec<[u8; 32]>> {
    tree_hashes(&layer_tree(layer, piece_length), piece_length, req)
}

/// [`layer_hashes`] from a tree made by [`layer_tree`]: costs only the hashes it returns.
pub fn tree_hashes(
    tree: &[Vec<[u8; 32]>],
    piece_length: u64,
    req: &crate::peer::hashes::HashRequest,
) -> Option<Vec<[u8; 32]>> {
    let base = tree.first().filter(|l| !l.is_empty())?;
    let (index, length) = (req.index as usize, req.length as usize);
    if req.base_layer != piece_layer_index(piece_length) || index + length > base.len() {
        return None;
    }
    let mut out = base[index..index + length].to_vec();
    let mut pos = index / length;
    let first = length.trailing_zeros() as usize;
    for level in tree.iter().skip(first).take(req.proof_layers as usize) {
        if level.len() < 2 {
            break;
        }
        out.push(level[pos ^ 1]);
        pos /= 2;
    }
    Some(out)
}

/// Check a `hashes` answer for the piece layer of a file of `pieces` pieces with this `root`:
/// the requested hashes and their uncles must lead exactly to the root. The requested hashes
/// when they do.
pub fn check_layer_hashes(
    root: &[u8; 32],
    piece_length: u64,
    pieces: u64,
    req: &crate::peer::hashes::HashRequest,
    hashes: &[[u8; 32]],
) -> Option<Vec<[u8; 32]>> {
    let width = pieces.max(1).next_power_of_two();
    let length = req.length as usize;
    if req.base_layer != piece_layer_index(piece_length)
        || hashes.len() < length
        || req.index as u64 + length as u64 > width
    {
        return None;
    }
    let (base, uncles) = hashes.split_at(length);
    let height = width.trailing_zeros();
    if length.trailing_zeros() + uncles.len() as u32 != height {
        return None;
    }
    let mut node = merkle_root(base, [0; 32]);
    let mut pos = req.index as u64 / length as u64;
    for u in uncles {
        node = if pos.is_multiple_of(2) {
            hash_pair(&node, u)
        } else {
            hash_pair(u, &node)
        };
        pos /= 2;
    }
    (node == *root).then(|| base.to_vec())
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
    fn hash_requests_are_answered_and_checked_with_their_proofs() {
        use crate::peer::hashes::HashRequest;
        let pl = 2 * BLOCK;
        let layer: Vec<[u8; 32]> = (0..11u8).map(|i| sha(&[i])).collect();
        let root = file_root(&layer, pl);
        let req = |index, length, proof_layers| HashRequest {
            pieces_root: root,
            base_layer: 1,
            index,
            length,
            proof_layers,
        };
        // The whole (padded) layer, no proof needed.
        let all = layer_hashes(&layer, pl, &req(0, 16, 0)).unwrap();
        assert_eq!(all.len(), 16);
        let got = check_layer_hashes(&root, pl, 11, &req(0, 16, 0), &all).unwrap();
        assert_eq!(&got[..11], &layer[..]);
        assert_eq!(got[11], pad_hash(pl));
        // Four at 8 with the two uncles up to the root; asking for more proof gives no more.
        for proof in [2, 5] {
            let part = layer_hashes(&layer, pl, &req(8, 4, proof)).unwrap();
            assert_eq!(part.len(), 6);
            let got = check_layer_hashes(&root, pl, 11, &req(8, 4, proof), &part).unwrap();
            assert_eq!(&got[..3], &layer[8..11]);
            // A wrong hash or uncle, or a missing uncle, proves nothing.
            for i in 0..6 {
                let mut bad = part.clone();
                bad[i][0] ^= 1;
                assert!(check_layer_hashes(&root, pl, 11, &req(8, 4, proof), &bad).is_none());
            }
            assert!(check_layer_hashes(&root, pl, 11, &req(8, 4, 1), &part[..5]).is_none());
        }
        // Outside the layer, or another layer: no answer.
        assert!(layer_hashes(&layer, pl, &req(16, 4, 0)).is_none());
        assert!(layer_hashes(
            &layer,
            pl,
            &HashRequest {
                base_layer: 0,
                ..req(0, 4, 0)
            }
        )
        .is_none());
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
