//! Piece and block bookkeeping for one download: which pieces we have, which blocks are in
//! flight from whom, which are still wanted. No I/O and no locking: the swarm owns one
//! [`Picker`] behind its state mutex.
//!
//! Invariants: a piece is in exactly one of wanted, active (some blocks requested or written),
//! hashing, have, skipped (no chosen file needs it: see [`Picker::choose`]). A block of an active piece is in exactly one of open, requested (by one or more
//! peers, more than one only in endgame), writing, done. A piece goes to hashing only when every
//! block is done, so the hasher never reads a block that is still being written.
//!
//! Selection: blocks of pieces the asking peer already works on first, then a new piece: the
//! first wanted one inside the in-order window when one is set ([`Picker::set_window`], for
//! streaming: pieces just ahead of the reader, in order), otherwise (or when the window holds
//! none the peer has, unless the window is exclusive) rarest
//! first with random tie-breaks (plain random until [`RANDOM_FIRST`] pieces are complete), then
//! open blocks of pieces other peers started, then, in endgame, blocks already requested from
//! other peers. A new piece belongs to the peer that starts it, so that a piece usually comes
//! from one peer and a bad piece can be blamed on it; a piece that failed its hash is only ever
//! fetched from a single peer again.
//!
//! Cost: the wanted pieces are kept in availability buckets (`picker/rarity.rs`), so a change of
//! availability is O(1) and starting a new piece is O(1) for a peer that has every piece (the
//! lowest bucket, from a random slot). Peers that have every piece are one counter, not a
//! count per piece: their HaveAll, HaveNone and departure are O(1); a bitfield is applied in
//! O(pieces/64 + bits changed). A pick looks at no more than [`SCAN_BUDGET`] slots of the
//! buckets: a peer ([`PeerPieces`]) that has none of the rarest pieces gets the rarest of
//! [`SAMPLE`] of its own wanted pieces from a random place instead, O(pieces/64) at worst.

use crate::geometry::BLOCK as MAX_BLOCK;
use crate::peer::{Block, Limits};
use std::collections::BTreeMap;

mod pieces;
mod rarity;

pub use pieces::{PeerPieces, Pieces};
use rarity::Rarity;

/// A connection's key in the swarm.
pub type PeerKey = u64;

/// Pieces picked at random before rarest-first starts.
pub const RANDOM_FIRST: u32 = 4;
/// Slots of the availability buckets a pick looks at before it falls back to the peer's own
/// bitset.
pub const SCAN_BUDGET: usize = 256;
/// Wanted pieces of its own a peer's fallback pick compares by availability.
pub const SAMPLE: usize = 32;
/// Most peers a block is requested from at once in endgame.
const ENDGAME_DUPLICATES: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PieceState {
    Wanted,
    Active,
    Hashing,
    Have,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum BlockState {
    Open,
    Requested(Vec<PeerKey>),
    Writing,
    Done,
}

impl BlockState {
    /// Asked of `peer` and not yet answered.
    fn asked_of(&self, peer: PeerKey) -> bool {
        matches!(self, BlockState::Requested(k) if k.contains(&peer))
    }
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
    /// Verified pieces, one bit each (bit `i % 64` of word `i / 64`).
    have_bits: Vec<u64>,
    /// Wanted pieces by availability (counted over peers without every piece).
    rarity: Rarity,
    /// Wanted pieces, one bit each (the fallback pick intersects it with a peer's bitset).
    wanted_bits: Vec<u64>,
    /// Peers that have every piece.
    seeds: u32,
    /// Peers allowed only this many pieces in flight (unproven or caught sending bad data);
    /// a capped peer takes pieces of its own while there are any.
    caps: std::collections::HashMap<PeerKey, usize>,
    partial: BTreeMap<u32, Partial>,
    have_count: u32,
    wanted_count: u32,
    skipped: u32,
    /// Pieces that are not skipped, one bit each.
    needed_bits: Vec<u64>,
    window: Option<Window>,
    rng: u64,
}

/// The in-order window of [`Picker::set_window`].
#[derive(Debug, Clone, Copy)]
struct Window {
    start: u32,
    len: u32,
    exclusive: bool,
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
        let mut have_bits = vec![0u64; n.div_ceil(64)];
        for (i, s) in state.iter().enumerate() {
            if *s == PieceState::Have {
                have_bits[i / 64] |= 1 << (i % 64);
            }
        }
        // Tie-breaks only, nothing secret: without random bytes (the swarm's peer id would have
        // failed first) any odd seed does.
        let seed = u64::from_le_bytes(crate::tracker::random_bytes::<8>().unwrap_or([0x9e; 8]));
        let rarity = Rarity::new(n, seed, |i| state[i] == PieceState::Wanted);
        let mut wanted_bits = vec![0u64; n.div_ceil(64)];
        for (i, s) in state.iter().enumerate() {
            if *s == PieceState::Wanted {
                wanted_bits[i / 64] |= 1 << (i % 64);
            }
        }
        Picker {
            limits,
            wanted_count: n as u32 - have_count,
            state,
            have_bits,
            wanted_bits,
            rarity,
            seeds: 0,
            caps: std::collections::HashMap::new(),
            partial: BTreeMap::new(),
            have_count,
            skipped: 0,
            needed_bits: vec![u64::MAX; n.div_ceil(64)],
            window: None,
            rng: seed.rotate_left(32) | 1,
        }
    }

    /// Want only the pieces marked in `needed` (those of the chosen files): the others that
    /// are not verified yet are skipped, never requested, and [`Picker::complete`] no longer
    /// waits for them. Call before any piece is started.
    pub fn choose(&mut self, needed: &[bool]) {
        for i in 0..self.state.len() {
            if needed.get(i).copied().unwrap_or(false) {
                continue;
            }
            self.needed_bits[i / 64] &= !(1 << (i % 64));
            if self.state[i] == PieceState::Wanted {
                self.state[i] = PieceState::Skipped;
                self.rarity.remove(i as u32);
                self.wanted_bits[i / 64] &= !(1 << (i % 64));
                self.wanted_count -= 1;
                self.skipped += 1;
            }
        }
    }

    /// New pieces are taken in order from the `len` pieces starting at `start` first (the
    /// wanted ones a peer has); with `exclusive`, from nowhere else (a bounded memory window).
    pub fn set_window(&mut self, start: u32, len: u32, exclusive: bool) {
        self.window = Some(Window {
            start,
            len,
            exclusive,
        });
    }

    /// Back to rarest-first everywhere.
    pub fn clear_window(&mut self) {
        self.window = None;
    }

    /// The first wanted piece in the window that `has` holds for (`Err` when the window is
    /// exclusive and has none, `Ok(None)` when there is no window or it has none).
    fn in_window(&self, has: impl Fn(u32) -> bool) -> Result<Option<u32>, ()> {
        let Some(w) = self.window else {
            return Ok(None);
        };
        let end = w.start.saturating_add(w.len).min(self.limits.piece_count);
        let mut i = w.start;
        while i < end {
            let word = self.wanted_bits[i as usize / 64] >> (i % 64);
            if word == 0 {
                i = (i / 64 + 1) * 64;
                continue;
            }
            i += word.trailing_zeros();
            if i < end && has(i) {
                return Ok(Some(i));
            }
            i += 1;
        }
        if w.exclusive {
            Err(())
        } else {
            Ok(None)
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

    /// Whether piece `i` is complete and waiting for its hash verdict.
    pub fn hashing(&self, i: u32) -> bool {
        self.state.get(i as usize) == Some(&PieceState::Hashing)
    }

    /// Number of verified pieces.
    pub fn have_count(&self) -> u32 {
        self.have_count
    }

    /// Whether every piece wanted is verified (every piece, unless [`Picker::choose`] skipped
    /// some).
    pub fn complete(&self) -> bool {
        self.have_count + self.skipped == self.limits.piece_count
    }

    /// Whether every piece of the torrent is verified (what `HaveAll` claims).
    pub fn all(&self) -> bool {
        self.have_count == self.limits.piece_count
    }

    /// Our bitfield, high bit first.
    pub fn bitfield(&self) -> Vec<u8> {
        let mut bits = vec![0u8; self.limits.bitfield_len()];
        for (j, b) in bits.iter_mut().enumerate() {
            *b = ((self.have_bits[j / 8] >> (8 * (j % 8))) as u8).reverse_bits();
        }
        bits
    }

    /// Whether a peer with these pieces has something we still need: O(pieces/64) for
    /// [`PeerPieces`], O(1) when it has every piece.
    pub fn interesting<P: Pieces + ?Sized>(&self, peer: &P) -> bool {
        match peer.as_peer_pieces() {
            Some(pp) if pp.all => !self.complete(),
            Some(pp) if pp.count == 0 => false,
            Some(pp) => pp
                .words
                .iter()
                .zip(&self.have_bits)
                .zip(&self.needed_bits)
                .any(|((p, h), n)| p & !h & n != 0),
            None => (0..self.limits.piece_count).any(|i| {
                peer.has(i) && !self.have(i) && self.state[i as usize] != PieceState::Skipped
            }),
        }
    }

    /// A peer announced piece `i` (or lost it, with `delta` -1). For peers kept as a plain
    /// `[bool]`; [`PeerPieces`] go through the `peer_*` methods.
    pub fn availability(&mut self, i: u32, delta: i32) {
        for _ in 0..delta.unsigned_abs() {
            if delta > 0 {
                self.rarity.up(i);
            } else {
                self.rarity.down(i);
            }
        }
    }

    /// A peer sent `have` for piece `i`. Returns whether that is news (in range, not had yet).
    pub fn peer_have(&mut self, peer: &mut PeerPieces, i: u32) -> bool {
        if i >= peer.len || peer.has(i) {
            return false;
        }
        peer.set(i);
        self.rarity.up(i);
        if peer.count == peer.len {
            // Complete now: count it as a seed, O(pieces/64) once.
            self.peer_have_all(peer);
        }
        true
    }

    /// A peer has every piece (HaveAll, or a full bitfield): O(1) unless it had announced some
    /// pieces one by one, which are then taken back.
    pub fn peer_have_all(&mut self, peer: &mut PeerPieces) {
        if peer.all {
            return;
        }
        self.drop_bits(peer);
        peer.all = true;
        peer.count = peer.len;
        self.seeds += 1;
    }

    /// A peer has no pieces (HaveNone, or it is gone): O(1) for a peer with every piece.
    pub fn peer_have_none(&mut self, peer: &mut PeerPieces) {
        if peer.all {
            peer.all = false;
            self.seeds -= 1;
        } else {
            self.drop_bits(peer);
        }
        peer.count = 0;
    }

    /// A peer sent its bitfield (high bit first; bits past the last piece are ignored):
    /// O(pieces/64 + bits that changed).
    pub fn peer_bitfield(&mut self, peer: &mut PeerPieces, bitfield: &[u8]) {
        let words = peer.words.len();
        let full = (0..words).all(|k| {
            let bits = (peer.len as usize - k * 64).min(64);
            peer.word_of(bitfield, k).count_ones() as usize == bits
        });
        if full && peer.len > 0 {
            return self.peer_have_all(peer);
        }
        if peer.all {
            self.peer_have_none(peer);
        }
        for k in 0..words {
            let new = peer.word_of(bitfield, k);
            let mut diff = peer.words[k] ^ new;
            while diff != 0 {
                let b = diff.trailing_zeros();
                diff &= diff - 1;
                let i = (k * 64) as u32 + b;
                if new >> b & 1 == 1 {
                    self.rarity.up(i);
                } else {
                    self.rarity.down(i);
                }
            }
            peer.count = peer.count - peer.words[k].count_ones() + new.count_ones();
            peer.words[k] = new;
        }
    }

    /// Take back the availability of a peer's bits and clear them.
    fn drop_bits(&mut self, peer: &mut PeerPieces) {
        if peer.count == 0 {
            // Nothing set (a HaveNone, or HaveAll after HaveNone): O(1).
            return;
        }
        for k in 0..peer.words.len() {
            let mut w = std::mem::take(&mut peer.words[k]);
            while w != 0 {
                self.rarity.down((k * 64) as u32 + w.trailing_zeros());
                w &= w - 1;
            }
        }
        peer.count = 0;
    }

    /// Peers known to have every piece.
    pub fn seeds(&self) -> u32 {
        self.seeds
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
        self.rarity.remove(piece);
        self.wanted_bits[piece as usize / 64] &= !(1 << (piece % 64));
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
    pub fn pick<P: Pieces + ?Sized>(
        &mut self,
        peer: PeerKey,
        bits: &P,
        n: usize,
        out: &mut Vec<Block>,
    ) {
        let start = out.len();
        // 1. open blocks of pieces this peer owns.
        self.take_open(peer, bits, n, out, |p| p.owner == Some(peer));
        if let Some(&cap) = self.caps.get(&peer) {
            return self.pick_capped(peer, bits, n - (out.len() - start), cap, out);
        }
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
        // 4. endgame: blocks requested from others (also when an exclusive window holds no
        // wanted piece: the rest waits for the window to move).
        let drained = self.window.is_some_and(|w| w.exclusive) && self.in_window(|_| true).is_err();
        if out.len() - start < n && (self.wanted_count == 0 || drained) {
            let want = n - (out.len() - start);
            self.endgame(peer, bits, want, out);
        }
    }

    /// Limit `peer` to `cap` pieces in flight at once (None: no limit), each its own (new
    /// pieces or pieces nobody owns) while there are any, then pieces others started.
    pub fn set_cap(&mut self, peer: PeerKey, cap: Option<usize>) {
        match cap {
            Some(c) => self.caps.insert(peer, c),
            None => self.caps.remove(&peer),
        };
    }

    /// Whether `peer` is limited to a number of pieces in flight (see [`Picker::set_cap`]).
    pub fn capped(&self, peer: PeerKey) -> bool {
        self.caps.contains_key(&peer)
    }

    /// The peers that sent blocks of `piece` so far.
    pub fn contributors(&self, piece: u32) -> &[PeerKey] {
        self.partial
            .get(&piece)
            .map_or(&[], |p| p.contributors.as_slice())
    }

    /// Steps 2 and 3 of [`Picker::pick`] for a capped peer: whole pieces of its own only.
    fn pick_capped<P: Pieces + ?Sized>(
        &mut self,
        peer: PeerKey,
        bits: &P,
        n: usize,
        cap: usize,
        out: &mut Vec<Block>,
    ) {
        let start = out.len();
        let owned = |p: &Picker| p.partial.values().filter(|x| x.owner == Some(peer)).count();
        while out.len() - start < n && owned(self) < cap {
            // An orphaned piece (its owner left, or it failed its hash) before a new one.
            let orphan = self
                .partial
                .iter()
                .find(|(i, p)| {
                    p.owner.is_none() && bits.has(**i) && p.blocks.contains(&BlockState::Open)
                })
                .map(|(i, _)| *i);
            let piece = match orphan {
                Some(i) => {
                    if let Some(p) = self.partial.get_mut(&i) {
                        p.owner = Some(peer);
                    }
                    i
                }
                None => match self.choose_new(bits) {
                    Some(i) => {
                        self.start(i, peer);
                        i
                    }
                    None => break,
                },
            };
            let want = n - (out.len() - start);
            self.take_from(piece, peer, want, out);
        }
        // Every piece it has was started by others (it came late, or a trusted peer's pipeline
        // holds them all): share theirs, open blocks first, then endgame copies, still at most
        // `cap` pieces at once; otherwise it stays idle and can never prove itself. A shared
        // piece that fails blames no one and is fetched again from a single peer.
        while out.len() - start < n && self.involved(peer) < cap {
            let endgame = self.wanted_count == 0;
            let joinable = |p: &Partial| {
                !p.exclusive
                    && !p.blocks.iter().any(|b| b.asked_of(peer))
                    && p.blocks.iter().any(|b| match b {
                        BlockState::Open => true,
                        BlockState::Requested(k) => endgame && k.len() < ENDGAME_DUPLICATES,
                        _ => false,
                    })
            };
            let Some(piece) = self
                .partial
                .iter()
                .find(|(i, p)| bits.has(**i) && joinable(p))
                .map(|(i, _)| *i)
            else {
                break;
            };
            self.take_from(piece, peer, n - (out.len() - start), out);
            if endgame {
                self.duplicate(piece, peer, n - (out.len() - start), out);
            }
        }
    }

    /// The pieces `peer` owns or has blocks asked of.
    fn involved(&self, peer: PeerKey) -> usize {
        self.partial
            .values()
            .filter(|p| p.owner == Some(peer) || p.blocks.iter().any(|b| b.asked_of(peer)))
            .count()
    }

    fn take_open<P: Pieces + ?Sized>(
        &mut self,
        peer: PeerKey,
        bits: &P,
        n: usize,
        out: &mut Vec<Block>,
        eligible: impl Fn(&Partial) -> bool,
    ) {
        let pieces: Vec<u32> = self
            .partial
            .iter()
            .filter(|(i, p)| bits.has(**i) && eligible(p))
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

    fn choose_new<P: Pieces + ?Sized>(&mut self, bits: &P) -> Option<u32> {
        if self.wanted_count == 0 {
            return None;
        }
        match self.in_window(|i| bits.has(i)) {
            Ok(Some(i)) => return Some(i),
            Err(()) => return None,
            Ok(None) => {}
        }
        let random = self.have_count < RANDOM_FIRST;
        let r = self.random() >> 11;
        let Some(pp) = bits.as_peer_pieces() else {
            return self
                .rarity
                .choose(random, r, usize::MAX, |i| bits.has(i))
                .ok()?;
        };
        if let Ok(found) = self.rarity.choose(random, r, SCAN_BUDGET, |i| pp.has(i)) {
            return found;
        }
        // The rarest pieces are not this peer's: the rarest of a sample of its own wanted
        // pieces, from a random word on, O(pieces/64) at worst.
        let words = pp.words.len();
        let mut best: Option<u32> = None;
        let mut seen = 0;
        for k in 0..words {
            let w = (r as usize + k) % words;
            let mut m = pp.words[w] & self.wanted_bits[w];
            while m != 0 && seen < SAMPLE {
                let i = (w * 64) as u32 + m.trailing_zeros();
                m &= m - 1;
                seen += 1;
                if best.is_none_or(|b| self.rarity.avail(i) < self.rarity.avail(b)) {
                    best = Some(i);
                }
            }
            if seen == SAMPLE {
                break;
            }
        }
        best
    }

    fn endgame<P: Pieces + ?Sized>(
        &mut self,
        peer: PeerKey,
        bits: &P,
        n: usize,
        out: &mut Vec<Block>,
    ) {
        let pieces: Vec<u32> = self
            .partial
            .iter()
            .filter(|(i, p)| bits.has(**i) && !p.exclusive)
            .map(|(i, _)| *i)
            .collect();
        let start = out.len();
        for piece in pieces {
            let want = n - (out.len() - start);
            if want == 0 {
                break;
            }
            self.duplicate(piece, peer, want, out);
        }
    }

    /// Ask `peer` too for up to `n` blocks of `piece` already asked of others (endgame).
    fn duplicate(&mut self, piece: u32, peer: PeerKey, n: usize, out: &mut Vec<Block>) {
        let mut picked = Vec::new();
        if let Some(p) = self.partial.get_mut(&piece) {
            for (b, st) in p.blocks.iter_mut().enumerate() {
                if picked.len() == n {
                    break;
                }
                if let BlockState::Requested(peers) = st {
                    if peers.len() < ENDGAME_DUPLICATES && !peers.contains(&peer) {
                        peers.push(peer);
                        picked.push(b as u32);
                    }
                }
            }
        }
        out.extend(picked.into_iter().map(|b| self.block(piece, b)));
    }

    fn locate(&self, block: &Block) -> Option<(u32, usize)> {
        let b = self.slot(block)?;
        (self.block(block.piece, b as u32).length == block.length).then_some((block.piece, b))
    }

    /// The index within its piece of the block starting at `block.offset`, when that is a block
    /// boundary inside the torrent (the length is not looked at).
    fn slot(&self, block: &Block) -> Option<usize> {
        if block.piece as usize >= self.state.len() || !block.offset.is_multiple_of(MAX_BLOCK) {
            return None;
        }
        let b = (block.offset / MAX_BLOCK) as usize;
        (b < self.block_count(block.piece) as usize).then_some(b)
    }

    /// A block arrived from `peer`.
    pub fn arrived(&mut self, peer: PeerKey, block: &Block) -> Arrival {
        let Some((piece, b)) = self.locate(block) else {
            // A block of the wrong size at a block boundary answers (badly) a request the
            // connection has now forgotten: free it, or it stays asked of this peer forever and
            // endgame (at most two askers per block) can stall the download.
            if let Some(b) = self.slot(block) {
                let asked = self.block(block.piece, b as u32);
                self.release(peer, &asked);
            }
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
            .is_some_and(|p| p.blocks[b].asked_of(peer))
    }

    /// `peer` is gone: the pieces it owned are open to anyone (those that failed before wait
    /// for a new single owner).
    pub fn peer_gone(&mut self, peer: PeerKey) {
        self.caps.remove(&peer);
        for p in self.partial.values_mut() {
            if p.owner == Some(peer) {
                p.owner = None;
            }
            // Requests it never answered are free again, whatever the connection remembered.
            for blk in p.blocks.iter_mut() {
                if let BlockState::Requested(peers) = blk {
                    peers.retain(|k| *k != peer);
                    if peers.is_empty() {
                        *blk = BlockState::Open;
                    }
                }
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
            self.have_bits[piece as usize / 64] |= 1 << (piece % 64);
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

/// Put a batch of requests (as [`Picker::pick`] gives them: grouped by piece) in the order to
/// send them: up to `lanes` pieces at a time round-robin, one block of each in turn (A0 B0 C0
/// A1 B1 C1 ...), the next piece taking the place of one whose blocks run out. Every piece's
/// blocks keep their order, and the same blocks go out. Peers answer in request order, so the
/// pieces arrive interleaved and the hashing thread can hash them side by side
/// ([`crate::sha1_lanes`]); no more than `lanes` pieces are in transit at once, so a piece
/// completes at most about `lanes` times later than piece after piece.
pub fn interleave(blocks: &mut Vec<Block>, lanes: usize) {
    let mut groups: Vec<std::collections::VecDeque<Block>> = Vec::new();
    for b in blocks.drain(..) {
        match groups.iter_mut().rev().find(|g| g[0].piece == b.piece) {
            Some(g) => g.push_back(b),
            None => groups.push([b].into()),
        }
    }
    let mut next = groups.iter_mut();
    let mut live: Vec<_> = next.by_ref().take(lanes.max(1)).collect();
    while !live.is_empty() {
        for g in live.iter_mut() {
            blocks.extend(g.pop_front());
        }
        for slot in live.iter_mut() {
            if slot.is_empty() {
                if let Some(g) = next.next() {
                    *slot = g;
                }
            }
        }
        live.retain(|g| !g.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

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
    fn skipped_pieces_are_never_picked_and_do_not_count() {
        let mut p = picker(10);
        let need: Vec<bool> = (0..10).map(|i| (3..6).contains(&i)).collect();
        p.choose(&need);
        assert!(!p.complete());
        let mut blocks = Vec::new();
        p.pick(1, &[true; 10], 100, &mut blocks);
        let pieces: BTreeSet<u32> = blocks.iter().map(|b| b.piece).collect();
        assert_eq!(pieces, BTreeSet::from([3, 4, 5]));
        for piece in complete(&mut p, 1, &blocks) {
            p.hashed(piece, true);
        }
        assert!(p.complete() && !p.all());
        assert!(!p.interesting(&[true; 10]));
        let mut more = Vec::new();
        p.pick(1, &[true; 10], 100, &mut more);
        assert!(more.is_empty());
    }

    #[test]
    fn the_window_comes_first_in_order() {
        let mut p = picker(10);
        p.set_window(4, 3, false);
        let mut got = Vec::new();
        for _ in 0..3 {
            let mut blocks = Vec::new();
            p.pick(1, &[true; 10], 1, &mut blocks);
            p.pick(1, &[true; 10], 3, &mut blocks);
            got.push(blocks[0].piece);
            for piece in complete(&mut p, 1, &blocks) {
                p.hashed(piece, true);
            }
        }
        assert_eq!(got, [4, 5, 6]);
        // Past the window: anything; an exclusive window gives nothing outside it.
        let mut only0 = [false; 10];
        only0[0] = true;
        let mut blocks = Vec::new();
        p.pick(1, &only0, 1, &mut blocks);
        assert_eq!(blocks[0].piece, 0);
        p.set_window(8, 2, true);
        let mut bits = [false; 10];
        bits[2] = true;
        let mut none = Vec::new();
        p.pick(2, &bits, 10, &mut none);
        assert!(none.is_empty(), "{none:?}");
        bits[9] = true;
        p.pick(2, &bits, 1, &mut none);
        assert_eq!(none[0].piece, 9);
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

    /// Found by the picker fuzz target: two endgame peers that each answer with a short block
    /// and leave used to keep the block asked of them forever, and the download stalled.
    #[test]
    fn short_answers_and_departed_peers_free_their_requests() {
        let mut p = picker(2);
        let all = [true, true];
        let (mut a, mut b) = (Vec::new(), Vec::new());
        p.pick(1, &all, 100, &mut a);
        p.pick(2, &all, 100, &mut b);
        assert_eq!(a.len(), 6);
        assert_eq!(b.len(), 6);
        // Peer 1 answers every block short; peer 2 leaves without answering.
        for blk in &a {
            let short = Block {
                length: blk.length - 1,
                ..*blk
            };
            assert_eq!(p.arrived(1, &short), Arrival::Discard);
        }
        p.peer_gone(1);
        p.peer_gone(2);
        let mut c = Vec::new();
        p.pick(3, &all, 100, &mut c);
        assert_eq!(c.len(), 6, "every block is open again for a new peer");
        assert!(complete(&mut p, 3, &c).len() == 2);
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
    fn a_capped_peer_gets_whole_pieces_of_its_own_only() {
        let mut p = picker(10);
        let all = vec![true; 10];
        assert!(!p.capped(1));
        p.set_cap(1, Some(1));
        // A capped connection reads with a short timeout (so that it asks again as soon as
        // a verdict lifts the cap): it learns it is capped here.
        assert!(p.capped(1) && !p.capped(2));
        let mut a = Vec::new();
        p.pick(1, &all, 100, &mut a);
        // One whole piece (4 blocks, 2 for the last one, picked at random), however many
        // were asked for.
        let blocks = if a[0].piece == 9 { 2 } else { 4 };
        assert_eq!(a.len(), blocks, "{a:?}");
        assert!(a.iter().all(|b| b.piece == a[0].piece));
        let mut again = Vec::new();
        p.pick(1, &all, 100, &mut again);
        assert!(again.is_empty(), "{again:?}");
        // Another peer's open blocks are not shared with it.
        let mut b = Vec::new();
        p.pick(2, &all, 2, &mut b);
        complete(&mut p, 1, &a);
        assert_eq!(p.hashed(a[0].piece, false).unwrap().contributors, vec![1]);
        let mut c = Vec::new();
        p.pick(1, &all, 100, &mut c);
        assert!(c.iter().all(|x| x.piece != b[0].piece), "{c:?}");
        // The failed piece, orphaned, is its one piece now.
        assert!(
            c.iter().all(|x| x.piece == a[0].piece) && c.len() == blocks,
            "{c:?}"
        );
        p.set_cap(1, None);
        assert!(!p.capped(1));
        let mut d = Vec::new();
        p.pick(1, &all, 100, &mut d);
        assert!(d.len() > 4);
    }

    /// A capped peer that comes after a trusted peer asked for every block is not left idle
    /// (it never could prove itself): it gets endgame copies, of at most `cap` pieces.
    #[test]
    fn a_late_capped_peer_shares_pieces_others_started() {
        let mut p = picker(4);
        let all = vec![true; 4];
        let mut a = Vec::new();
        p.pick(1, &all, 100, &mut a);
        assert_eq!(a.len(), 14, "{a:?}");
        p.set_cap(2, Some(2));
        let mut b = Vec::new();
        p.pick(2, &all, 100, &mut b);
        let mut pieces: Vec<u32> = b.iter().map(|x| x.piece).collect();
        pieces.dedup();
        assert_eq!(pieces.len(), 2, "{b:?}");
        assert!(b.len() >= 4, "{b:?}");
        // Its blocks count: a block it sends first is taken, and the piece can verify.
        assert!(matches!(p.arrived(2, &b[0]), Arrival::Write { .. }));
        let mut again = Vec::new();
        p.pick(2, &all, 100, &mut again);
        assert!(again.is_empty(), "past its cap: {again:?}");
        // A block peer 1 released is open to it within its pieces' count only.
        p.release(1, &a[13]);
        let mut c = Vec::new();
        p.pick(2, &all, 100, &mut c);
        assert!(c.iter().all(|x| pieces.contains(&x.piece)), "{c:?}");
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

    fn bitfield_of(bits: &[bool]) -> Vec<u8> {
        let mut b = vec![0u8; bits.len().div_ceil(8)];
        for (i, x) in bits.iter().enumerate() {
            if *x {
                b[i / 8] |= 0x80 >> (i % 8);
            }
        }
        b
    }

    #[test]
    fn have_all_and_have_none_are_a_counter() {
        let n = 1 << 20;
        let mut p = Picker::new(Limits::new(16384, n as u64 * 16384), &[]);
        let mut peer = PeerPieces::new(n);
        // A flood of HaveAll / HaveNone: each is O(1) (this loop took minutes per-piece).
        for _ in 0..100_000 {
            p.peer_have_all(&mut peer);
            p.peer_have_all(&mut peer);
            assert_eq!(p.seeds(), 1);
            p.peer_have_none(&mut peer);
        }
        assert_eq!(p.seeds(), 0);
        assert!(!p.interesting(&peer));
        p.peer_have_all(&mut peer);
        assert!(p.interesting(&peer) && peer.has(n - 1) && peer.has_all());
        assert!(!peer.has(n));
        // A piece announced one by one, then HaveAll: counted once, as a seed.
        let mut other = PeerPieces::new(n);
        assert!(p.peer_have(&mut other, 5));
        assert!(!p.peer_have(&mut other, 5));
        assert!(!p.peer_have(&mut other, n));
        assert!(p.interesting(&other));
        p.peer_have_all(&mut other);
        assert_eq!(p.seeds(), 2);
        p.peer_have_none(&mut other);
        p.peer_have_none(&mut peer);
        assert_eq!(p.seeds(), 0);
        assert_eq!(other.count(), 0);
    }

    #[test]
    fn bitfields_and_haves_drive_rarest_first() {
        let n = 300u32;
        let have: Vec<bool> = (0..n).map(|i| i < RANDOM_FIRST).collect();
        let mut p = Picker::new(Limits::new(16384, n as u64 * 16384), &have);
        // Three peers have every piece but 200 and 250; one also lacks 250.
        let mut peers: Vec<PeerPieces> = (0..3).map(|_| PeerPieces::new(n)).collect();
        for (k, peer) in peers.iter_mut().enumerate() {
            let bits: Vec<bool> = (0..n).map(|i| i != 200 && (i != 250 || k == 0)).collect();
            p.peer_bitfield(peer, &bitfield_of(&bits));
            assert_eq!(peer.count(), n - 1 - (k > 0) as u32);
        }
        let mut seed = PeerPieces::new(n);
        p.peer_bitfield(&mut seed, &bitfield_of(&vec![true; n as usize]));
        assert_eq!(p.seeds(), 1);
        // The seed gets 200 (no one else has it), then 250 (only peer 0 has it).
        let mut out = Vec::new();
        p.pick(9, &seed, 1, &mut out);
        p.pick(8, &seed, 1, &mut out);
        assert_eq!(out.iter().map(|b| b.piece).collect::<Vec<_>>(), [200, 250]);
        // Peer 1 announces 150 gone (a new bitfield): 150 is now the rarest it can give.
        let bits: Vec<bool> = (0..n).map(|i| i != 200 && i != 250 && i != 150).collect();
        p.peer_bitfield(&mut peers[1], &bitfield_of(&bits));
        out.clear();
        p.pick(7, &peers[0], 1, &mut out);
        assert_eq!(out[0].piece, 150);
        // Peers leave: their availability goes with them, and nothing is left to want from
        // a peer without pieces.
        for peer in &mut peers {
            p.peer_have_none(peer);
        }
        p.peer_have_none(&mut seed);
        assert_eq!(p.seeds(), 0);
        assert!(!p.interesting(&seed));
        // The last missing piece by `have` makes a peer a seed.
        let mut late = PeerPieces::new(n);
        let mut bits = vec![true; n as usize];
        bits[17] = false;
        p.peer_bitfield(&mut late, &bitfield_of(&bits));
        assert_eq!(p.seeds(), 0);
        p.peer_have(&mut late, 17);
        assert_eq!(p.seeds(), 1);
        assert!(late.has_all());
    }

    #[test]
    fn our_bitfield_and_interest_follow_the_hashes() {
        let mut p = picker(70);
        let mut peer = PeerPieces::new(70);
        p.peer_have(&mut peer, 66);
        let mut out = Vec::new();
        p.pick(1, &peer, 100, &mut out);
        assert!(out.iter().all(|b| b.piece == 66) && out.len() == 4);
        complete(&mut p, 1, &out);
        assert!(p.interesting(&peer));
        p.hashed(66, true);
        assert!(!p.interesting(&peer));
        let mut want = vec![0u8; 9];
        want[8] = 0x20;
        assert_eq!(p.bitfield(), want);
    }

    /// Issue 11 #4: a download of 2^20 pieces through the picker completes (the speed is
    /// measured by `scripts/bench-picker`; before buckets this took about an hour).
    #[test]
    fn a_million_piece_download_completes() {
        let n = 1u32 << 20;
        let mut p = Picker::new(Limits::new(16384, n as u64 * 16384), &[]);
        let mut peers: Vec<PeerPieces> = (0..6).map(|_| PeerPieces::new(n)).collect();
        for peer in &mut peers[..4] {
            p.peer_have_all(peer);
        }
        let half: Vec<u8> = (0..n / 8).map(|j| (j as u8).wrapping_mul(37)).collect();
        for peer in &mut peers[4..] {
            p.peer_bitfield(peer, &half);
        }
        let mut blocks = 0u32;
        let mut out = Vec::new();
        for _ in 0..n {
            if p.complete() {
                break;
            }
            for (k, peer) in peers.iter().enumerate() {
                out.clear();
                p.pick(k as PeerKey, peer, 64, &mut out);
                for b in &out {
                    if matches!(p.arrived(k as PeerKey, b), Arrival::Write { .. })
                        && p.written(b, true)
                    {
                        assert_eq!(p.hashed(b.piece, true), None);
                        blocks += 1;
                    }
                }
            }
        }
        assert!(p.complete());
        assert_eq!(blocks, n);
    }

    #[test]
    fn interleave_sends_pieces_round_robin_in_their_own_order() {
        let b = |piece: u32, k: u32| Block {
            piece,
            offset: k * MAX_BLOCK,
            length: MAX_BLOCK,
        };
        let batch: Vec<Block> = [(7, 3), (2, 1), (9, 2), (4, 2), (5, 1)]
            .iter()
            .flat_map(|&(p, n)| (0..n).map(move |k| b(p, k)))
            .collect();
        let mut got = batch.clone();
        interleave(&mut got, 2);
        let want = [
            (7, 0),
            (2, 0),
            (7, 1),
            (9, 0),
            (7, 2),
            (9, 1),
            (4, 0),
            (5, 0),
            (4, 1),
        ];
        assert_eq!(got, want.map(|(p, k)| b(p, k)));
        for lanes in 0..=6 {
            let mut got = batch.clone();
            interleave(&mut got, lanes);
            let mut sorted = got.clone();
            sorted.sort_by_key(|x| (x.piece, x.offset));
            let mut all = batch.clone();
            all.sort_by_key(|x| (x.piece, x.offset));
            assert_eq!(sorted, all, "the same blocks, {lanes} lanes");
            // Each piece's blocks in order, and at most `lanes` pieces begun and unfinished.
            for (i, x) in got.iter().enumerate() {
                let earlier = got[..i].iter().filter(|y| y.piece == x.piece);
                assert!(earlier.clone().all(|y| y.offset < x.offset));
                let open: BTreeSet<u32> = got[..=i]
                    .iter()
                    .filter(|y| got[i..].iter().any(|z| z.piece == y.piece))
                    .map(|y| y.piece)
                    .collect();
                assert!(open.len() <= lanes.max(1), "{lanes} lanes: {got:?}");
            }
        }
        let mut one = vec![b(3, 0), b(3, 1)];
        interleave(&mut one, 4);
        assert_eq!(one, vec![b(3, 0), b(3, 1)]);
    }
}
