//! Piece and block bookkeeping for one download: which pieces we have, which blocks are in
//! flight from whom, which are still wanted. No I/O and no locking: the swarm owns one
//! [`Picker`] behind its state mutex.
//!
//! Invariants: a piece is in exactly one of wanted, active (some blocks requested or written),
//! hashing, have. A block of an active piece is in exactly one of open, requested (by one or more
//! peers, more than one only in endgame), writing, done. A piece goes to hashing only when every
//! block is done, so the hasher never reads a block that is still being written.
//!
//! Selection: blocks of pieces the asking peer already works on first, then a new piece, rarest
//! first with random tie-breaks (plain random until [`RANDOM_FIRST`] pieces are complete), then
//! open blocks of pieces other peers started, then, in endgame, blocks already requested from
//! other peers. A new piece belongs to the peer that starts it, so that a piece usually comes
//! from one peer and a bad piece can be blamed on it; a piece that failed its hash is only ever
//! fetched from a single peer again.

use crate::geometry::BLOCK as MAX_BLOCK;
use crate::peer::{Block, Limits};
use std::collections::BTreeMap;

/// A connection's key in the swarm.
pub type PeerKey = u64;

/// Pieces picked at random before rarest-first starts.
pub const RANDOM_FIRST: u32 = 4;
/// Most peers a block is requested from at once in endgame.
const ENDGAME_DUPLICATES: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PieceState {
    Wanted,
    Active,
    Hashing,
    Have,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum BlockState {
    Open,
    Requested(Vec<PeerKey>),
    Writing,
    Done,
}

#[derive(Debug)]
struct Partial {
    blocks: Vec<BlockState>,
    done: u32,
    owner: Option<PeerKey>,
    /// Failed its hash before: never shared between peers again.
    exclusive: bool,
    contributors: Vec<PeerKey>,
}

/// What happened to a block that arrived.
#[derive(Debug, PartialEq, Eq)]
pub enum Arrival {
    /// Write it, then call [`Picker::written`]. Send `cancel` for it to these peers.
    Write {
        /// Other peers that were asked for the same block (endgame).
        cancel: Vec<PeerKey>,
    },
    /// Not wanted (already have it, or another peer's copy is being written): drop it.
    Discard,
}

/// The result of hashing a piece.
#[derive(Debug, PartialEq, Eq)]
pub struct Failed {
    /// Peers that sent blocks of the failed piece.
    pub contributors: Vec<PeerKey>,
}

/// Download bookkeeping for one torrent.
#[derive(Debug)]
pub struct Picker {
    limits: Limits,
    state: Vec<PieceState>,
    avail: Vec<u32>,
    partial: BTreeMap<u32, Partial>,
    have_count: u32,
    wanted_count: u32,
    rng: u64,
}

impl Picker {
    /// A picker for a torrent, given which pieces are already verified.
    pub fn new(limits: Limits, have: &[bool]) -> Picker {
        let n = limits.piece_count as usize;
        let state: Vec<PieceState> = (0..n)
            .map(|i| {
                if have.get(i).copied().unwrap_or(false) {
                    PieceState::Have
                } else {
                    PieceState::Wanted
                }
            })
            .collect();
        let have_count = state.iter().filter(|s| **s == PieceState::Have).count() as u32;
        // Tie-breaks only, nothing secret: without random bytes (the swarm's peer id would have
        // failed first) any odd seed does.
        let seed = crate::tracker::random_bytes::<8>().unwrap_or([0x9e; 8]);
        Picker {
            limits,
            wanted_count: n as u32 - have_count,
            state,
            avail: vec![0; n],
            partial: BTreeMap::new(),
            have_count,
            rng: u64::from_le_bytes(seed) | 1,
        }
    }

    fn random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// The torrent's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether piece `i` is verified.
    pub fn have(&self, i: u32) -> bool {
        self.state.get(i as usize) == Some(&PieceState::Have)
    }

    /// Number of verified pieces.
    pub fn have_count(&self) -> u32 {
        self.have_count
    }

    /// Whether every piece is verified.
    pub fn complete(&self) -> bool {
        self.have_count == self.limits.piece_count
    }

    /// Our bitfield, high bit first.
    pub fn bitfield(&self) -> Vec<u8> {
        let mut bits = vec![0u8; self.limits.bitfield_len()];
        for (i, s) in self.state.iter().enumerate() {
            if *s == PieceState::Have {
                bits[i / 8] |= 0x80 >> (i % 8);
            }
        }
        bits
    }

    /// Whether a peer with these pieces has something we still need.
    pub fn interesting(&self, peer: &[bool]) -> bool {
        self.state
            .iter()
            .zip(peer)
            .any(|(s, p)| *p && *s != PieceState::Have)
    }

    /// A peer announced piece `i` (or lost it, with `delta` -1).
    pub fn availability(&mut self, i: u32, delta: i32) {
        if let Some(a) = self.avail.get_mut(i as usize) {
            *a = a.saturating_add_signed(delta);
        }
    }

    fn block_count(&self, piece: u32) -> u32 {
        (self.limits.piece_size(piece) as u32).div_ceil(MAX_BLOCK)
    }

    fn block(&self, piece: u32, b: u32) -> Block {
        let size = self.limits.piece_size(piece) as u32;
        let offset = b * MAX_BLOCK;
        Block {
            piece,
            offset,
            length: (size - offset).min(MAX_BLOCK),
        }
    }

    fn start(&mut self, piece: u32, owner: PeerKey) {
        let n = self.block_count(piece);
        self.state[piece as usize] = PieceState::Active;
        self.wanted_count -= 1;
        self.partial.insert(
            piece,
            Partial {
                blocks: vec![BlockState::Open; n as usize],
                done: 0,
                owner: Some(owner),
                exclusive: false,
                contributors: Vec::new(),
            },
        );
    }

    /// Pick up to `n` blocks for `peer`, which has the pieces marked in `bits`.
    pub fn pick(&mut self, peer: PeerKey, bits: &[bool], n: usize, out: &mut Vec<Block>) {
        let start = out.len();
        // 1. open blocks of pieces this peer owns.
        self.take_open(peer, bits, n, out, |p| p.owner == Some(peer));
        // 2. new pieces.
        while out.len() - start < n {
            let Some(piece) = self.choose_new(bits) else {
                break;
            };
            self.start(piece, peer);
            let want = n - (out.len() - start);
            self.take_from(piece, peer, want, out);
        }
        // 3. open blocks of pieces other peers started (not the ones that failed before).
        if out.len() - start < n {
            let want = n - (out.len() - start);
            self.take_open(peer, bits, want, out, |p| !p.exclusive || p.owner.is_none());
        }
        // 4. endgame: blocks requested from others.
        if out.len() - start < n && self.wanted_count == 0 {
            let want = n - (out.len() - start);
            self.endgame(peer, bits, want, out);
        }
    }

    fn take_open(
        &mut self,
        peer: PeerKey,
        bits: &[bool],
        n: usize,
        out: &mut Vec<Block>,
        eligible: impl Fn(&Partial) -> bool,
    ) {
        let pieces: Vec<u32> = self
            .partial
            .iter()
            .filter(|(i, p)| bits.get(**i as usize) == Some(&true) && eligible(p))
            .filter(|(_, p)| p.blocks.contains(&BlockState::Open))
            .map(|(i, _)| *i)
            .collect();
        let mut left = n;
        for piece in pieces {
            if left == 0 {
                break;
            }
            let before = out.len();
            if let Some(p) = self.partial.get_mut(&piece) {
                if p.owner.is_none() {
                    p.owner = Some(peer);
                }
            }
            self.take_from(piece, peer, left, out);
            left -= out.len() - before;
        }
    }

    fn take_from(&mut self, piece: u32, peer: PeerKey, n: usize, out: &mut Vec<Block>) {
        let mut picked = Vec::new();
        if let Some(p) = self.partial.get_mut(&piece) {
            for (b, st) in p.blocks.iter_mut().enumerate() {
                if picked.len() == n {
                    break;
                }
                if *st == BlockState::Open {
                    *st = BlockState::Requested(vec![peer]);
                    picked.push(b as u32);
                }
            }
        }
        out.extend(picked.into_iter().map(|b| self.block(piece, b)));
    }

    fn choose_new(&mut self, bits: &[bool]) -> Option<u32> {
        if self.wanted_count == 0 {
            return None;
        }
        let random = self.have_count < RANDOM_FIRST;
        let mut best: Option<(u64, u32)> = None;
        for i in 0..self.limits.piece_count {
            if self.state[i as usize] != PieceState::Wanted || bits.get(i as usize) != Some(&true) {
                continue;
            }
            let tie = self.random() >> 40;
            let rank = if random {
                tie
            } else {
                ((self.avail[i as usize] as u64) << 24) | tie
            };
            if best.is_none_or(|(r, _)| rank < r) {
                best = Some((rank, i));
            }
        }
        best.map(|(_, i)| i)
    }

    fn endgame(&mut self, peer: PeerKey, bits: &[bool], n: usize, out: &mut Vec<Block>) {
        let mut picked = Vec::new();
        for (&piece, p) in self.partial.iter_mut() {
            if picked.len() == n {
                break;
            }
            if bits.get(piece as usize) != Some(&true) || p.exclusive {
                continue;
            }
            for (b, st) in p.blocks.iter_mut().enumerate() {
                if picked.len() == n {
                    break;
                }
                if let BlockState::Requested(peers) = st {
                    if peers.len() < ENDGAME_DUPLICATES && !peers.contains(&peer) {
                        peers.push(peer);
                        picked.push((piece, b as u32));
                    }
                }
            }
        }
        out.extend(picked.into_iter().map(|(p, b)| self.block(p, b)));
    }

    fn locate(&self, block: &Block) -> Option<(u32, usize)> {
        let b = block.offset / MAX_BLOCK;
        (block.offset.is_multiple_of(MAX_BLOCK)
            && self.block(block.piece, b).length == block.length)
            .then_some((block.piece, b as usize))
    }

    /// A block arrived from `peer`.
    pub fn arrived(&mut self, peer: PeerKey, block: &Block) -> Arrival {
        let Some((piece, b)) = self.locate(block) else {
            return Arrival::Discard;
        };
        let Some(p) = self.partial.get_mut(&piece) else {
            return Arrival::Discard;
        };
        if p.exclusive && p.owner.is_some_and(|o| o != peer) {
            return Arrival::Discard;
        }
        // Only a block we asked this peer for is taken: unrequested data (a peer spraying
        // garbage into pieces others are sending) would fail the piece with no one to blame.
        let cancel = match &p.blocks[b] {
            BlockState::Requested(peers) if peers.contains(&peer) => {
                peers.iter().copied().filter(|k| *k != peer).collect()
            }
            _ => return Arrival::Discard,
        };
        p.blocks[b] = BlockState::Writing;
        if !p.contributors.contains(&peer) {
            p.contributors.push(peer);
        }
        Arrival::Write { cancel }
    }

    /// A block was written (`ok`) or could not be written. Returns true when its piece is now
    /// complete and must be hashed.
    pub fn written(&mut self, block: &Block, ok: bool) -> bool {
        let Some((piece, b)) = self.locate(block) else {
            return false;
        };
        let Some(p) = self.partial.get_mut(&piece) else {
            return false;
        };
        if p.blocks[b] != BlockState::Writing {
            return false;
        }
        if !ok {
            p.blocks[b] = BlockState::Open;
            return false;
        }
        p.blocks[b] = BlockState::Done;
        p.done += 1;
        if p.done as usize == p.blocks.len() {
            self.state[piece as usize] = PieceState::Hashing;
            return true;
        }
        false
    }

    /// A request to `peer` is void (choked, rejected, timed out, peer gone): reopen the block
    /// unless another peer still has it.
    pub fn release(&mut self, peer: PeerKey, block: &Block) {
        let Some((piece, b)) = self.locate(block) else {
            return;
        };
        if let Some(p) = self.partial.get_mut(&piece) {
            if let BlockState::Requested(peers) = &mut p.blocks[b] {
                peers.retain(|k| *k != peer);
                if peers.is_empty() {
                    p.blocks[b] = BlockState::Open;
                }
            }
        }
    }

    /// Whether `block` is still waiting for an answer from `peer`.
    pub fn requested_by(&self, peer: PeerKey, block: &Block) -> bool {
        let Some((piece, b)) = self.locate(block) else {
            return false;
        };
        self.partial
            .get(&piece)
            .is_some_and(|p| matches!(&p.blocks[b], BlockState::Requested(k) if k.contains(&peer)))
    }

    /// `peer` is gone: the pieces it owned are open to anyone (those that failed before wait
    /// for a new single owner).
    pub fn peer_gone(&mut self, peer: PeerKey) {
        for p in self.partial.values_mut() {
            if p.owner == Some(peer) {
                p.owner = None;
            }
        }
    }

    /// The hash of `piece` was checked. On success the piece is ours; on failure it is wanted
    /// again (from a single peer) and the peers that sent it are returned.
    pub fn hashed(&mut self, piece: u32, ok: bool) -> Option<Failed> {
        if self.state.get(piece as usize) != Some(&PieceState::Hashing) {
            return None;
        }
        let p = self.partial.remove(&piece)?;
        if ok {
            self.state[piece as usize] = PieceState::Have;
            self.have_count += 1;
            None
        } else {
            // Wanted again, and when it is restarted, by one owner only.
            self.state[piece as usize] = PieceState::Active;
            let n = p.blocks.len();
            self.partial.insert(
                piece,
                Partial {
                    blocks: vec![BlockState::Open; n],
                    done: 0,
                    owner: None,
                    exclusive: true,
                    contributors: Vec::new(),
                },
            );
            Some(Failed {
                contributors: p.contributors,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picker(pieces: u32) -> Picker {
        // pieces of 64 KiB (4 blocks), the last one 20000 bytes (2 blocks)
        let total = (pieces as u64 - 1) * 65536 + 20000;
        Picker::new(Limits::new(65536, total), &[])
    }

    fn complete(p: &mut Picker, peer: PeerKey, blocks: &[Block]) -> Vec<u32> {
        let mut done = Vec::new();
        for b in blocks {
            assert!(matches!(p.arrived(peer, b), Arrival::Write { .. }));
            if p.written(b, true) {
                done.push(b.piece);
            }
        }
        done
    }

    #[test]
    fn a_whole_download() {
        let mut p = picker(10);
        let all = vec![true; 10];
        let mut got = 0;
        for _ in 0..100 {
            let mut blocks = Vec::new();
            p.pick(1, &all, 7, &mut blocks);
            if blocks.is_empty() {
                break;
            }
            for piece in complete(&mut p, 1, &blocks) {
                assert_eq!(p.hashed(piece, true), None);
                got += 1;
            }
        }
        assert_eq!(got, 10);
        assert!(p.complete());
        assert_eq!(p.bitfield(), vec![0xff, 0xc0]);
    }

    #[test]
    fn rarest_first_after_random_start() {
        let mut p = picker(10);
        let have: Vec<bool> = (0..10).map(|i| i < 4).collect();
        p = Picker::new(*p.limits(), &have);
        for i in 0..10 {
            p.availability(i, 3);
        }
        p.availability(7, -2);
        let mut blocks = Vec::new();
        p.pick(1, &[true; 10], 1, &mut blocks);
        assert_eq!(blocks[0].piece, 7);
    }

    #[test]
    fn only_pieces_the_peer_has() {
        let mut p = picker(10);
        let mut bits = vec![false; 10];
        bits[9] = true;
        let mut blocks = Vec::new();
        p.pick(1, &bits, 10, &mut blocks);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[1].length, 20000 - 16384);
        assert!(!p.interesting(&[false; 10]));
        assert!(p.interesting(&bits));
    }

    #[test]
    fn released_blocks_are_picked_again_and_endgame_duplicates() {
        let mut p = picker(2);
        let all = [true, true];
        let mut a = Vec::new();
        p.pick(1, &all, 100, &mut a);
        assert_eq!(a.len(), 6);
        // Endgame: peer 2 gets the same blocks, once each.
        let mut b = Vec::new();
        p.pick(2, &all, 100, &mut b);
        assert_eq!(b.len(), 6);
        let mut c = Vec::new();
        p.pick(3, &all, 100, &mut c);
        assert!(c.is_empty(), "at most {ENDGAME_DUPLICATES} copies");
        // Block arrives from 2: cancel it at 1; 1's copy is then discarded.
        assert_eq!(p.arrived(2, &a[0]), Arrival::Write { cancel: vec![1] });
        assert_eq!(p.arrived(1, &a[0]), Arrival::Discard);
        // Peer 1 and 2 release: the blocks are open again for peer 3.
        for x in &a[1..] {
            p.release(1, x);
            p.release(2, x);
        }
        p.pick(3, &all, 100, &mut c);
        assert_eq!(c.len(), 5);
    }

    #[test]
    fn failed_piece_is_refetched_from_one_peer() {
        let mut p = picker(2);
        let mut bits = vec![true, false];
        let mut a = Vec::new();
        p.pick(1, &bits, 4, &mut a);
        assert_eq!(complete(&mut p, 1, &a), vec![0]);
        assert_eq!(
            p.hashed(0, false),
            Some(Failed {
                contributors: vec![1]
            })
        );
        assert!(!p.have(0));
        let mut b = Vec::new();
        p.pick(2, &bits, 2, &mut b);
        assert_eq!(b.len(), 2);
        // peer 3 gets nothing of it: exclusive to peer 2 now.
        let mut c = Vec::new();
        p.pick(3, &bits, 10, &mut c);
        assert!(c.is_empty());
        bits[1] = true;
        assert_eq!(p.arrived(3, &b[0]), Arrival::Discard);
        p.pick(2, &bits, 10, &mut b);
        assert_eq!(complete(&mut p, 2, &b), vec![0, 1]);
        assert_eq!(p.hashed(0, true), None);
        assert_eq!(p.hashed(1, true), None);
        assert!(p.complete());
    }

    #[test]
    fn a_failed_write_reopens_the_block_and_bogus_blocks_are_discarded() {
        let mut p = picker(1);
        let mut a = Vec::new();
        p.pick(1, &[true], 10, &mut a);
        assert_eq!(a.len(), 2);
        assert!(matches!(p.arrived(1, &a[0]), Arrival::Write { .. }));
        assert!(!p.written(&a[0], false));
        let odd = Block {
            piece: 0,
            offset: 1,
            length: 16384,
        };
        assert_eq!(p.arrived(1, &odd), Arrival::Discard);
        let mut b = Vec::new();
        p.pick(2, &[true], 10, &mut b);
        // the reopened block first, then (endgame) a copy of the one peer 1 still has.
        assert_eq!(b, vec![a[0], a[1]]);
    }
}
