//! The download and upload engine: connections, piece picking, choking.
//!
//! Std threads and blocking sockets with timeouts, no async runtime. One [`Swarm`] per torrent
//! owns the shared state behind one mutex (the [`picker::Picker`]: which pieces we have, which
//! blocks are in flight from whom, which are wanted; and the table of connected peers). Each
//! connection runs a reader thread (which decodes messages, picks and requests blocks, writes
//! arriving blocks through the [`store::PieceStore`]) and a writer thread (which sends queued
//! messages and serves requested blocks, reading them through the store). A completed piece is
//! hashed on the rayon pool, never on a network thread, and only a piece whose hash matches is
//! ever counted as ours, announced with `have`, or served.
//!
//! Threads are bounded: two per connection, connections capped by [`Options::max_peers`],
//! handshakes of incoming connections capped by [`Listener`] and timed out after
//! [`Options::handshake_timeout`]. Every socket has read and write timeouts; every loop checks the
//! stop flag at least once a second.

pub mod announce;
mod choker;
mod conn;
pub mod dht;
pub mod layers;
mod listen;
pub mod metadata;
mod outbox;
pub mod pex;
pub mod picker;
pub mod pipe;
pub mod rate;
pub mod session;
pub mod store;
pub mod stream;
pub mod webseed;

pub use listen::{Closer, Listener};

use crate::metainfo::InfoHash;
use crate::peer::{Limits, Message, PeerId};
use picker::{PeerKey, Picker};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use store::PieceStore;

/// Tunables of a swarm.
#[derive(Debug, Clone)]
pub struct Options {
    /// Most simultaneous connections.
    pub max_peers: usize,
    /// Peers unchoked by rate (plus one optimistic unchoke).
    pub upload_slots: usize,
    /// The upload cap shared by every peer of this swarm (and of others given the same `Arc`).
    pub upload_limit: Arc<rate::RateLimit>,
    /// The download cap shared by every peer and web seed of this swarm (and of others given
    /// the same `Arc`).
    pub download_limit: Arc<rate::RateLimit>,
    /// A peer with requests outstanding that sends no block for this long is dropped and its
    /// blocks re-queued.
    pub snub_timeout: Duration,
    /// A peer that sends nothing at all for this long is dropped.
    pub idle_timeout: Duration,
    /// Time allowed for connecting and for the handshake.
    pub handshake_timeout: Duration,
    /// Most requests outstanding to one peer (the pipeline adapts between 16 and this).
    pub max_requests: usize,
    /// Our listen port, told to peers in the extension handshake (0: none).
    pub listen_port: u16,
    /// Connection attempts to one address before it is given up.
    pub max_failures: u32,
    /// Request pieces we lack (false for a pure seeder, whose storage is read-only).
    pub download: bool,
    /// Local address for outgoing connections (None: the kernel's choice).
    pub bind: Option<std::net::IpAddr>,
    /// The info dictionary's bytes, served to peers that ask (`ut_metadata`).
    pub info_bytes: Option<pex::InfoBytes>,
    /// A private torrent (BEP 27): no PEX.
    pub private: bool,
    /// Which connections are encrypted (MSE/PE), both ways.
    pub encryption: crate::peer::mse::Policy,
    /// How completed pieces are judged when the torrent has v2 hashes (v2-only, hybrid);
    /// None: SHA-1 against [`SwarmConfig::hashes`].
    pub pieces: Option<Arc<crate::verify::PieceCheck>>,
    /// A second info hash peers may handshake with: a hybrid's truncated v2 hash (BEP 52).
    pub info_hash_v2: Option<InfoHash>,
    /// Pieces that hold zeros no file owns (pad files, a v2 layout's gaps) and how many:
    /// [`crate::geometry::Geometry::padded_pieces`]. Announces leave them out of `left`.
    pub padding: Vec<(usize, u64)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_peers: 30,
            upload_slots: 4,
            upload_limit: rate::RateLimit::unlimited(),
            download_limit: rate::RateLimit::unlimited(),
            snub_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(120),
            handshake_timeout: Duration::from_secs(5),
            max_requests: 500,
            listen_port: 0,
            max_failures: 5,
            download: true,
            bind: None,
            info_bytes: None,
            private: false,
            encryption: crate::peer::mse::Policy::default(),
            pieces: None,
            info_hash_v2: None,
            padding: Vec::new(),
        }
    }
}

/// Everything [`Swarm::new`] needs.
pub struct SwarmConfig<'a> {
    /// The torrent's info hash.
    pub info_hash: InfoHash,
    /// Its piece geometry as the wire sees it.
    pub limits: Limits,
    /// Its piece hashes.
    pub hashes: Vec<[u8; 20]>,
    /// Pieces already verified (empty: none).
    pub have: &'a [bool],
    /// Where piece data lives.
    pub store: Arc<dyn PieceStore>,
    /// Tunables.
    pub opts: Options,
    /// Told about connections, bad pieces and bans, from the swarm's threads.
    pub events: Box<dyn Fn(Event) + Send + Sync>,
}

/// Something the swarm reports through the event callback.
#[derive(Debug, Clone)]
pub enum Event {
    /// A peer completed the handshake.
    Connected {
        /// Its address.
        addr: SocketAddr,
        /// Its peer id.
        peer_id: PeerId,
        /// Whether it connected to us.
        incoming: bool,
    },
    /// A connection ended.
    Disconnected {
        /// Its address.
        addr: SocketAddr,
        /// Why.
        reason: String,
        /// Bytes of verified-or-pending blocks it sent us.
        downloaded: u64,
        /// Bytes we sent it.
        uploaded: u64,
    },
    /// A piece failed its hash.
    BadPiece {
        /// The piece.
        piece: u32,
    },
    /// A peer sent bad data twice and is banned for the rest of the run.
    Banned {
        /// Its address.
        addr: SocketAddr,
    },
    /// Something happened with a web seed (an HTTP mirror, BEP 19).
    WebSeed {
        /// The mirror's URL as given.
        url: String,
        /// What happened.
        event: webseed::WebSeedEvent,
    },
}

/// Counters of a swarm.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Bytes of blocks received and written.
    pub downloaded: u64,
    /// Bytes of blocks sent.
    pub uploaded: u64,
    /// Verified pieces.
    pub have: u32,
    /// Pieces in the torrent.
    pub pieces: u32,
    /// Bytes verified.
    pub have_bytes: u64,
    /// Connected peers.
    pub peers: usize,
    /// Distinct peers that sent at least one block.
    pub peers_used: usize,
    /// Pieces that failed their hash.
    pub bad_pieces: u32,
}

/// How [`Swarm::wait`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every piece is verified (and flushed).
    Complete,
    /// The deadline passed.
    TimedOut,
    /// No peer is connected and every known address was given up.
    NoPeers,
    /// [`Swarm::shutdown`] was called or the stop flag was raised.
    Stopped,
    /// Storage failed.
    Error(String),
}

impl Outcome {
    /// Why a download ended early (None when complete).
    pub fn reason(&self) -> Option<String> {
        match self {
            Outcome::Complete => None,
            Outcome::TimedOut => Some("timeout reached".to_string()),
            Outcome::NoPeers => Some("no peers left".to_string()),
            Outcome::Stopped => Some("interrupted".to_string()),
            Outcome::Error(e) => Some(e.clone()),
        }
    }
}

/// A message for a connection's writer thread.
enum Out {
    Msg(Message),
    Raw(Vec<u8>),
    Block(crate::peer::Block),
    Close,
}

/// A connected peer, as the shared state sees it.
struct PeerEntry {
    addr: SocketAddr,
    peer_id: PeerId,
    tx: outbox::Outbox,
    /// It is interested in us.
    interested: bool,
    /// We choke it.
    choked: Arc<AtomicBool>,
    uploaded: Arc<AtomicU64>,
    downloaded: Arc<AtomicU64>,
    /// Counters at the last choke round, for rates.
    last_up: u64,
    last_down: u64,
    /// Closed to make room for a newcomer.
    closing: bool,
    /// The upload counter when it last moved (or when the peer was unchoked), and when.
    moved: (u64, Instant),
    /// When the connection was made.
    connected: Instant,
    /// The connection is MSE/PE-encrypted (RC4).
    encrypted: bool,
}

/// One connected peer as [`Swarm::peer_snapshot`] sees it (for status displays).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSnapshot {
    /// The peer's address.
    pub addr: SocketAddr,
    /// Its peer id.
    pub peer_id: PeerId,
    /// Bytes of blocks received from it.
    pub downloaded: u64,
    /// Bytes of blocks sent to it.
    pub uploaded: u64,
    /// We choke it.
    pub choked: bool,
    /// It is interested in our pieces.
    pub interested: bool,
    /// The connection is encrypted.
    pub encrypted: bool,
}

/// Most addresses kept to dial; past it, given-up and then the oldest idle ones are dropped.
const MAX_CANDIDATES: usize = 4096;

struct Candidate {
    addr: SocketAddr,
    /// When it was added (a sequence number): the oldest go first when the list is full.
    added: u64,
    failures: u32,
    next_try: Instant,
    busy: bool,
}

struct State {
    picker: Picker,
    peers: HashMap<PeerKey, PeerEntry>,
    next_key: PeerKey,
    candidates: HashMap<SocketAddr, Candidate>,
    candidates_added: u64,
    strikes: HashMap<SocketAddr, u32>,
    banned: HashSet<SocketAddr>,
    banned_ids: HashSet<PeerId>,
    used: HashSet<SocketAddr>,
    optimistic: Option<PeerKey>,
    /// Web seeds at work, by the key they take in the picker.
    mirrors: HashMap<PeerKey, Arc<webseed::Mirror>>,
}

/// One torrent's download and upload engine.
pub struct Swarm {
    info_hash: InfoHash,
    peer_id: PeerId,
    limits: Limits,
    check: Arc<crate::verify::PieceCheck>,
    store: Arc<dyn PieceStore>,
    opts: Options,
    state: Mutex<State>,
    events: Box<dyn Fn(Event) + Send + Sync>,
    downloaded: AtomicU64,
    uploaded: AtomicU64,
    bad_pieces: AtomicU32,
    hashing: AtomicUsize,
    /// Blocks being written by connection threads, each until its piece's hash is queued
    /// (see [`Swarm::settle`]).
    writing: AtomicUsize,
    fatal: Mutex<Option<String>>,
    stop: AtomicBool,
    connections: AtomicUsize,
    /// Peer sources still open (stdin, trackers that answer): while any is, the swarm does not
    /// give up for lack of peers.
    sources: AtomicUsize,
    /// Who we can tell peers about through PEX.
    pex: pex::Hub,
}

impl Swarm {
    /// A swarm for one torrent (see [`SwarmConfig`]). An error when the system has no random
    /// bytes for our peer id.
    pub fn new(c: SwarmConfig<'_>) -> Result<Arc<Swarm>, crate::tracker::RandomError> {
        let SwarmConfig {
            info_hash,
            limits,
            hashes,
            have,
            store,
            opts,
            events,
        } = c;
        Ok(Arc::new(Swarm {
            info_hash,
            peer_id: PeerId::generate()?,
            limits,
            check: opts
                .pieces
                .clone()
                .unwrap_or_else(|| Arc::new(crate::verify::PieceCheck::v1(hashes))),
            store,
            state: Mutex::new(State {
                picker: Picker::new(limits, have),
                peers: HashMap::new(),
                next_key: 1,
                candidates: HashMap::new(),
                candidates_added: 0,
                strikes: HashMap::new(),
                banned: HashSet::new(),
                banned_ids: HashSet::new(),
                used: HashSet::new(),
                optimistic: None,
                mirrors: HashMap::new(),
            }),
            opts,
            events,
            downloaded: AtomicU64::new(0),
            uploaded: AtomicU64::new(0),
            bad_pieces: AtomicU32::new(0),
            hashing: AtomicUsize::new(0),
            writing: AtomicUsize::new(0),
            fatal: Mutex::new(None),
            stop: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            sources: AtomicUsize::new(0),
            pex: pex::Hub::default(),
        }))
    }

    /// The torrent's info hash.
    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// Whether a peer handshaking with `h` wants this torrent (its info hash, or a hybrid's
    /// truncated v2 hash).
    pub fn answers(&self, h: &[u8; 20]) -> bool {
        self.info_hash.0 == *h || self.opts.info_hash_v2.is_some_and(|v| v.0 == *h)
    }

    /// How completed pieces are judged, with the piece layers peers may ask for.
    pub fn piece_check(&self) -> &crate::verify::PieceCheck {
        &self.check
    }

    /// The answer to a BEP 52 hash request: `hashes` from the piece layer of the file it names,
    /// or `hash reject` (no such layer, not the piece layer, outside it).
    fn answer_hashes(&self, r: &crate::peer::hashes::HashRequest) -> Message {
        self.check
            .answer(r)
            .map_or(Message::HashReject(*r), |hashes| Message::Hashes {
                request: *r,
                hashes,
            })
    }

    /// The torrent's piece geometry as the wire sees it.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The swarm's tunables.
    pub fn opts(&self) -> &Options {
        &self.opts
    }

    /// Time allowed for connecting and for the handshake.
    pub fn handshake_timeout(&self) -> Duration {
        self.opts.handshake_timeout
    }

    /// Bytes of files still missing (for announces): pad files and the implied zeros of a v2
    /// layout are not data anyone sends.
    pub fn left(&self) -> u64 {
        let st = self.lock();
        bytes_left(&self.limits, &self.opts.padding, |p| st.picker.have(p))
    }

    /// Write a block's data through the store (the per-block path: no copy, no lock).
    #[inline]
    /// Count a block write in progress until the guard drops (after its piece's hash is
    /// queued); None, and nothing may be written, once the swarm is stopping.
    fn begin_write(self: &Arc<Self>) -> Option<Writing> {
        // SeqCst on both sides with `settle`: either it sees this write, or this sees its stop.
        self.writing.fetch_add(1, Ordering::SeqCst);
        let w = Writing(self.clone());
        (!self.stop.load(Ordering::SeqCst)).then_some(w)
    }

    fn write_block(&self, piece: u32, offset: u32, data: &[u8]) -> std::io::Result<()> {
        self.store.write(piece, offset, data)
    }

    /// Read a block's data from the store into `buf`.
    #[inline]
    fn read_block(&self, piece: u32, offset: u32, buf: &mut [u8]) -> std::io::Result<()> {
        self.store.read(piece, offset, buf)
    }

    /// Where a block's data lies in files, for sending it from them (false: read it).
    #[inline]
    fn block_extents(
        &self,
        piece: u32,
        offset: u32,
        len: u32,
        out: &mut Vec<store::Extent>,
    ) -> std::io::Result<bool> {
        self.store.extents(piece, offset, len, out)
    }

    #[inline]
    fn count_download(&self, n: u64) {
        self.downloaded.fetch_add(n, Ordering::Relaxed);
    }

    #[inline]
    fn count_upload(&self, n: u64) {
        self.uploaded.fetch_add(n, Ordering::Relaxed);
    }

    /// The upload cap.
    fn upload_limit(&self) -> &rate::RateLimit {
        &self.opts.upload_limit
    }

    /// The download cap.
    fn download_limit(&self) -> &rate::RateLimit {
        &self.opts.download_limit
    }

    fn emit(&self, e: Event) {
        (self.events)(e);
    }

    /// Our peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// Our handshake on `info_hash`, with the BEP 52 v2 bit for a v2 or hybrid torrent.
    pub fn handshake(&self, info_hash: [u8; 20]) -> crate::peer::Handshake {
        crate::peer::Handshake::new(info_hash, self.peer_id).with_v2(self.check.has_v2())
    }

    /// The info hash to answer an incoming handshake with: a hybrid's truncated v2 hash when
    /// the peer came on the v1 hash with the v2 bit set (BEP 52's upgrade), else the hash it
    /// came with.
    pub fn answer_hash(&self, theirs: &crate::peer::Handshake) -> [u8; 20] {
        match self.opts.info_hash_v2 {
            Some(v2) if theirs.supports_v2() && theirs.info_hash == self.info_hash.0 => v2.0,
            _ => theirs.info_hash,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Add addresses to connect to (duplicates and banned addresses are ignored). At most
    /// 4096 are kept: when full, addresses given up on go first, then the oldest
    /// that are not connected.
    pub fn add_peers(&self, addrs: &[SocketAddr]) {
        let mut guard = self.lock();
        let st = &mut *guard;
        for a in addrs {
            if st.banned.contains(a) || st.candidates.contains_key(a) {
                continue;
            }
            if st.candidates.len() >= MAX_CANDIDATES {
                prune_candidates(&mut st.candidates, self.opts.max_failures);
                if st.candidates.len() >= MAX_CANDIDATES {
                    continue;
                }
            }
            st.candidates_added += 1;
            st.candidates.insert(
                *a,
                Candidate {
                    addr: *a,
                    added: st.candidates_added,
                    failures: 0,
                    next_try: Instant::now(),
                    busy: false,
                },
            );
        }
    }

    /// A source of peers (such as standard input) opened: the swarm does not give up for lack
    /// of peers until it is closed with [`Swarm::source_closed`].
    pub fn source_opened(&self) {
        self.sources.fetch_add(1, Ordering::Relaxed);
    }

    /// A source of peers ended.
    pub fn source_closed(&self) {
        self.sources.fetch_sub(1, Ordering::Relaxed);
    }

    /// Start the connector and choker threads.
    pub fn start(self: &Arc<Self>) {
        let s = self.clone();
        spawn("bt-connect", move || s.connector());
        let s = self.clone();
        spawn("bt-choke", move || choker::run(&s));
    }

    fn connector(self: Arc<Self>) {
        while !self.stopped() {
            let now = Instant::now();
            let mut dial = Vec::new();
            {
                let mut guard = self.lock();
                let st = &mut *guard;
                let complete = st.picker.complete();
                let mut n = self.connections.load(Ordering::Relaxed);
                let max_failures = self.opts.max_failures;
                for c in st.candidates.values_mut() {
                    // A download stops dialing once complete; a pure seeder dials peers that
                    // may lack pieces (a connection to another seed ends at once).
                    if n >= self.opts.max_peers || (complete && self.opts.download) {
                        break;
                    }
                    let banned = st.banned.contains(&c.addr);
                    if !c.busy && !banned && c.failures < max_failures && c.next_try <= now {
                        c.busy = true;
                        n += 1;
                        dial.push(c.addr);
                    }
                }
            }
            for addr in dial {
                let s = self.clone();
                self.connections.fetch_add(1, Ordering::Relaxed);
                spawn("bt-peer", move || {
                    let dialed = conn::outgoing(&s, addr);
                    s.connections.fetch_sub(1, Ordering::Relaxed);
                    let mut st = s.lock();
                    let max_failures = s.opts.max_failures;
                    if let Some(c) = st.candidates.get_mut(&addr) {
                        c.busy = false;
                        c.failures = match dialed {
                            conn::Dialed::Worked => 1,
                            conn::Dialed::Failed | conn::Dialed::Refused => c.failures + 1,
                            // A peer that broke the protocol is not dialed again.
                            conn::Dialed::Misbehaved | conn::Dialed::Useless => max_failures,
                        };
                        // A refusal is immediate and cheap to retry: an address where nobody
                        // listens is given up within a few seconds, not half a minute.
                        let backoff = match dialed {
                            conn::Dialed::Refused => 1000,
                            _ => 500u64 << c.failures.min(7),
                        };
                        c.next_try = Instant::now() + Duration::from_millis(backoff);
                    }
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A block arrived from `key` (a web seed; connections hand theirs to their hashing
    /// thread, see `Conn::arrived`): [`Swarm::accept_blocks`], then [`Swarm::land_blocks`],
    /// read back to be hashed. Whether it was written; an error (the swarm then stops) when
    /// storage fails.
    fn deliver(
        self: &Arc<Self>,
        key: PeerKey,
        from: Option<SocketAddr>,
        b: &crate::peer::Block,
        data: &[u8],
    ) -> Result<bool, String> {
        let wanted = self.accept_blocks(key, from, &[(*b, data)]);
        Ok(self.land_blocks(key, &wanted, None)? > 0)
    }

    /// Blocks arrived from `key` (a connection from `from`, or a web seed), in the order given:
    /// hand them to the picker (under one lock) and keep the ones to write (blocks not wanted
    /// from this source any more are dropped).
    fn accept_blocks<'d>(
        &self,
        key: PeerKey,
        from: Option<SocketAddr>,
        blocks: &[(crate::peer::Block, &'d [u8])],
    ) -> Vec<(crate::peer::Block, &'d [u8])> {
        {
            let mut st = self.lock();
            if let Some(a) = from {
                st.used.insert(a);
            }
            let mut wanted = Vec::with_capacity(blocks.len());
            for &(b, data) in blocks {
                if let picker::Arrival::Write { cancel } = st.picker.arrived(key, &b) {
                    for k in &cancel {
                        if let Some(p) = st.peers.get(k) {
                            let _ = p.tx.send(Out::Msg(Message::Cancel(b)));
                        }
                    }
                    wanted.push((b, data));
                }
            }
            wanted
        }
    }

    /// Write `wanted` (accepted by [`Swarm::accept_blocks`]; the ones that follow each other in
    /// a file in one system call), note them in `inorder`, and hash the pieces they complete
    /// (from `inorder`'s in-order hashes when this source sent the whole piece, else read
    /// back). The bytes written; an error (the swarm then stops) when storage fails.
    fn land_blocks(
        self: &Arc<Self>,
        key: PeerKey,
        wanted: &[(crate::peer::Block, &[u8])],
        mut inorder: Option<&mut dyn store::Note>,
    ) -> Result<u64, String> {
        if wanted.is_empty() {
            return Ok(0);
        }
        // Blocks may come out of order (a libtorrent seeder's disk threads) or interleaved
        // over several pieces (round-robin requests): write them in file order, so that those
        // that follow each other in a file still go in one system call. The sort is stable: a
        // block sent twice keeps its order.
        let sorted;
        let wanted = if wanted.is_sorted_by_key(|(b, _)| (b.piece, b.offset)) {
            wanted
        } else {
            let mut w = wanted.to_vec();
            w.sort_by_key(|(b, _)| (b.piece, b.offset));
            sorted = w;
            &sorted[..]
        };
        // The blocks written (a prefix of `wanted`), and the error that stopped the rest.
        let (ok, err) = match self.write_all(wanted) {
            Ok(()) => (wanted.len(), None),
            Err(e) if wanted.len() == 1 => (0, Some(e)),
            // Part of a gathered write may have landed: find out block by block, so that
            // every block written is counted (and its piece kept) as when written alone.
            Err(e) => {
                let ok = wanted
                    .iter()
                    .position(|(b, d)| self.write_block(b.piece, b.offset, d).is_err())
                    .unwrap_or(wanted.len());
                (ok, (ok < wanted.len()).then_some(e))
            }
        };
        if let Some(h) = inorder.as_deref_mut() {
            for (b, data) in &wanted[..ok] {
                h.written(b.piece, b.offset, data);
            }
        }
        // The pieces these blocks complete, and whether `key` alone sent each.
        let mut complete = Vec::new();
        {
            let mut st = self.lock();
            for (i, (b, _)) in wanted.iter().enumerate() {
                if st.picker.written(b, i < ok) {
                    complete.push((b.piece, st.picker.contributors(b.piece) == [key]));
                }
            }
        }
        let bytes: u64 = wanted[..ok].iter().map(|(_, d)| d.len() as u64).sum();
        self.count_download(bytes);
        for (piece, sole) in complete {
            // Hashed as it arrives when this source sent all of it, to a store that keeps
            // every byte: judged from that hash (on the source's hashing thread; what it did
            // not hash in order is read back).
            match inorder.as_deref_mut() {
                Some(h) if sole && self.store.verbatim(piece) => {
                    // Counted from now until judged (see `Swarm::judge`).
                    self.hashing.fetch_add(1, Ordering::SeqCst);
                    h.complete(piece, true);
                }
                Some(h) => {
                    h.complete(piece, false);
                    self.hash(piece, None);
                }
                None => self.hash(piece, None),
            }
        }
        if let Some(e) = err {
            let msg = format!("writing piece {}: {e}", wanted[ok].0.piece);
            self.fail(msg.clone());
            return Err(msg);
        }
        Ok(bytes)
    }

    /// Write `blocks` to the store, gathered when there are several.
    fn write_all(&self, blocks: &[(crate::peer::Block, &[u8])]) -> std::io::Result<()> {
        match blocks {
            [(b, data)] => self.write_block(b.piece, b.offset, data),
            _ => {
                let all: Vec<(u32, u32, &[u8])> = blocks
                    .iter()
                    .map(|(b, d)| (b.piece, b.offset, *d))
                    .collect();
                self.store.write_many(&all)
            }
        }
    }

    /// Take over an incoming connection whose handshake `theirs` was read by a listener.
    pub fn accept(self: &Arc<Self>, stream: stream::PeerStream, theirs: crate::peer::Handshake) {
        let addr = match stream.socket().peer_addr() {
            Ok(a) => a,
            Err(_) => return,
        };
        if self.connections.fetch_add(1, Ordering::Relaxed) >= self.opts.max_peers
            && !self.make_room()
        {
            self.connections.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        conn::incoming(self, stream, addr, theirs);
        self.connections.fetch_sub(1, Ordering::Relaxed);
    }

    /// Every connection slot is taken: close a peer that takes no data, so that a flood of idle
    /// or hostile peers cannot lock working peers out. False when every peer is useful (the
    /// newcomer is then refused). See [`evictable`] for who goes first.
    fn make_room(&self) -> bool {
        let mut st = self.lock();
        let now = Instant::now();
        let victim = st
            .peers
            .iter()
            .filter_map(|(k, p)| evictable(p, now).map(|rank| (rank, *k)))
            .min();
        match victim.and_then(|(_, k)| st.peers.get_mut(&k)) {
            Some(p) => {
                p.closing = true;
                let _ = p.tx.send(Out::Close);
                true
            }
            None => false,
        }
    }

    /// Whether the swarm is stopping.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Stop every thread of this swarm (they notice within about a second).
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let st = self.lock();
        for p in st.peers.values() {
            let _ = p.tx.send(Out::Close);
        }
    }

    /// Stop the swarm and wait, at most `within`, until no block is being written and no
    /// piece hashed: the counters ([`Swarm::stats`]) then include every piece that reached the
    /// store whole, so a session that ends on an error, a deadline or a stop reports exactly
    /// the pieces it keeps (a piece still being hashed when the first write failed used to be
    /// on disk, verified, and missing from the report).
    pub fn settle(&self, within: Duration) {
        self.stop.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + within;
        while (self.writing.load(Ordering::SeqCst) > 0 || self.hashing.load(Ordering::SeqCst) > 0)
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Web seeds still at work.
    pub fn web_seeds(&self) -> usize {
        self.lock().mirrors.len()
    }

    /// Whether every piece is verified.
    pub fn complete(&self) -> bool {
        self.lock().picker.complete()
    }

    /// The connected peers and their counters, read under the state lock (no accounting
    /// changes: the counters are the ones the connections keep).
    pub fn peer_snapshot(&self) -> Vec<PeerSnapshot> {
        let st = self.lock();
        let peers = st.peers.values().filter(|p| !p.closing);
        peers
            .map(|p| PeerSnapshot {
                addr: p.addr,
                peer_id: p.peer_id,
                downloaded: p.downloaded.load(Ordering::Relaxed),
                uploaded: p.uploaded.load(Ordering::Relaxed),
                choked: p.choked.load(Ordering::Relaxed),
                interested: p.interested,
                encrypted: p.encrypted,
            })
            .collect()
    }

    /// Our verified pieces as a bitfield, high bit first.
    pub fn bitfield(&self) -> Vec<u8> {
        self.lock().picker.bitfield()
    }

    /// Current counters.
    pub fn stats(&self) -> Stats {
        let st = self.lock();
        let have = st.picker.have_count();
        let have_bytes = (0..self.limits.piece_count)
            .filter(|i| st.picker.have(*i))
            .map(|i| self.limits.piece_size(i))
            .sum();
        Stats {
            downloaded: self.downloaded.load(Ordering::Relaxed),
            uploaded: self.uploaded.load(Ordering::Relaxed),
            have,
            pieces: self.limits.piece_count,
            have_bytes,
            peers: st.peers.len(),
            peers_used: st.used.len(),
            bad_pieces: self.bad_pieces.load(Ordering::Relaxed),
        }
    }

    /// Wait until the download completes, `deadline` passes, no peer is left, storage fails, or
    /// `stop` is raised. A complete download is flushed before this returns.
    pub fn wait(&self, deadline: Option<Instant>, stop: &AtomicBool) -> Outcome {
        let mut idle_since: Option<Instant> = None;
        loop {
            if let Some(o) = self.check(&mut idle_since, stop) {
                return o;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Outcome::TimedOut;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One look at the swarm for [`Swarm::wait`]: the outcome when the wait is over (other
    /// than a deadline), None to keep waiting. `idle_since` carries how long no peer has been
    /// left between calls (the swarm gives up after 2 s of that).
    pub fn check(&self, idle_since: &mut Option<Instant>, stop: &AtomicBool) -> Option<Outcome> {
        if let Some(e) = self.fatal.lock().ok().and_then(|f| f.clone()) {
            return Some(Outcome::Error(e));
        }
        let (complete, no_peers) = {
            let st = self.lock();
            // A piece still being hashed may yet count (or ban its sender).
            let alive = !st.peers.is_empty()
                || self.hashing.load(Ordering::SeqCst) > 0
                || self.connections.load(Ordering::Relaxed) > 0
                || self.sources.load(Ordering::Relaxed) > 0
                || st.candidates.values().any(|c| {
                    c.busy || (c.failures < self.opts.max_failures && !st.banned.contains(&c.addr))
                });
            (st.picker.complete(), !alive)
        };
        if complete && self.hashing.load(Ordering::SeqCst) == 0 {
            return Some(match self.store.flush() {
                Ok(()) => Outcome::Complete,
                Err(e) => Outcome::Error(format!("flushing the download: {e}")),
            });
        }
        if stop.load(Ordering::Relaxed) || self.stopped() {
            return Some(Outcome::Stopped);
        }
        if no_peers {
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_secs(2) {
                return Some(Outcome::NoPeers);
            }
        } else {
            *idle_since = None;
        }
        None
    }

    fn fail(&self, msg: String) {
        if let Ok(mut f) = self.fatal.lock() {
            f.get_or_insert(msg);
        }
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The in-order hashing of one connection, judging through [`Swarm::judge`].
    fn ordered(self: &Arc<Self>) -> store::Ordered {
        let s = self.clone();
        store::Ordered::new(self.check.clone(), Arc::new(move |p, h| s.judge(p, h)))
    }

    /// Judge `piece`, counted in `hashing` by the caller: by its hash when it was hashed whole
    /// in order, else with the rest read back on the rayon pool.
    fn judge(self: &Arc<Self>, piece: u32, hashed: Option<store::Hashed>) {
        match hashed {
            Some(h) if h.upto == self.limits.piece_size(piece) => self.hashed(piece, h.hash.good()),
            h => self.hash(piece, h),
        }
        self.hashing.fetch_sub(1, Ordering::SeqCst);
    }

    /// Hash a complete piece on the rayon pool: all of it read back, or (`from`) the bytes
    /// after those already hashed.
    fn hash(self: &Arc<Self>, piece: u32, from: Option<store::Hashed>) {
        self.hashing.fetch_add(1, Ordering::SeqCst);
        let s = self.clone();
        rayon::spawn(move || {
            let (mut h, upto) = match from {
                Some(f) => (f.hash, f.upto),
                None => (s.check.hasher(piece as usize), 0),
            };
            let read = store::read_piece(&*s.store, &s.limits, piece, upto, &mut |c| h.update(c));
            let ok = match read {
                Ok(()) => h.good(),
                Err(e) => {
                    s.fail(format!("reading piece {piece} back: {e}"));
                    false
                }
            };
            s.hashed(piece, ok);
            s.hashing.fetch_sub(1, Ordering::SeqCst);
        });
    }

    fn hashed(&self, piece: u32, ok: bool) {
        let mut st = self.lock();
        if ok {
            trust(&mut st, piece);
        }
        let failed = st.picker.hashed(piece, ok);
        if ok {
            for p in st.peers.values() {
                let _ = p.tx.send(Out::Msg(Message::Have(piece)));
            }
            return;
        }
        self.bad_pieces.fetch_add(1, Ordering::Relaxed);
        self.emit(Event::BadPiece { piece });
        let Some(failed) = failed else { return };
        // Blame only a peer that sent the whole piece: a shared piece is re-fetched from one.
        if let [key] = failed.contributors[..] {
            if let Some(m) = st.mirrors.get(&key) {
                if m.strike() {
                    self.emit(Event::WebSeed {
                        url: m.url().to_string(),
                        event: webseed::WebSeedEvent::Banned,
                    });
                }
                return;
            }
            let Some((addr, id)) = st.peers.get(&key).map(|p| (p.addr, p.peer_id)) else {
                return;
            };
            // One piece at a time from now on: its next bad piece is its own, and the last.
            st.picker.set_cap(key, Some(STRUCK_CAP));
            let strikes = st.strikes.entry(addr).or_insert(0);
            *strikes += 1;
            if *strikes >= 2 && st.banned.insert(addr) {
                st.banned_ids.insert(id);
                if let Some(p) = st.peers.get(&key) {
                    let _ = p.tx.send(Out::Close);
                }
                self.emit(Event::Banned { addr });
            }
        }
    }
}

/// A block write in progress (see [`Swarm::begin_write`]).
struct Writing(Arc<Swarm>);

impl Drop for Writing {
    fn drop(&mut self) {
        self.0.writing.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Pieces in flight from a peer until a piece it sent verifies (so that a liar's first
/// pipeline costs two bad pieces, not a dozen).
const UNPROVEN_CAP: usize = 2;
/// Pieces in flight from a peer that sent a bad piece.
const STRUCK_CAP: usize = 1;

/// The cap of a new connection from `addr` (see [`picker::Picker::set_cap`]).
fn initial_cap(st: &State, addr: &SocketAddr) -> usize {
    if st.strikes.get(addr).is_some_and(|n| *n > 0) {
        STRUCK_CAP
    } else {
        UNPROVEN_CAP
    }
}

/// `piece` verified: the peers that sent it, unless caught sending bad data before, are
/// trusted with any number of pieces.
fn trust(st: &mut State, piece: u32) {
    let senders = st.picker.contributors(piece).to_vec();
    for k in senders {
        let struck = st
            .peers
            .get(&k)
            .is_some_and(|p| st.strikes.get(&p.addr).is_some_and(|n| *n > 0));
        if !struck {
            st.picker.set_cap(k, None);
        }
    }
}

/// A connection this young is not closed for taking no data (it has had no chance yet).
const EVICT_GRACE: Duration = Duration::from_secs(5);
/// An unchoked peer whose uploads have not moved for this long takes no data.
const EVICT_STALLED: Duration = Duration::from_secs(30);

/// Whether `p` may be closed to make room for a newcomer, and how soon (lower first; the
/// oldest connection first within a rank): 0, exchanged no data and not interested; 1,
/// unchoked and its uploads have not moved for [`EVICT_STALLED`] (it asks and never reads);
/// 2, interested but never took or gave a byte, past [`EVICT_GRACE`] (it says "interested"
/// and never reads). None for a peer that is closing or useful.
fn evictable(p: &PeerEntry, now: Instant) -> Option<u8> {
    if p.closing {
        return None;
    }
    let up = p.uploaded.load(Ordering::Relaxed);
    let down = p.downloaded.load(Ordering::Relaxed);
    let silent = up == 0 && down == 0;
    if silent && !p.interested {
        Some(0)
    } else if !p.choked.load(Ordering::Relaxed)
        && up == p.moved.0
        && now.duration_since(p.moved.1) >= EVICT_STALLED
    {
        Some(1)
    } else if silent && now.duration_since(p.connected) >= EVICT_GRACE {
        Some(2)
    } else {
        None
    }
}

/// Make room in a full candidate list, down to three quarters of [`MAX_CANDIDATES`] (so that
/// the O(n) pass is paid once per quarter of the list): addresses given up on first, then the
/// oldest that are not being dialed or connected.
fn prune_candidates(c: &mut HashMap<SocketAddr, Candidate>, max_failures: u32) {
    let keep = MAX_CANDIDATES * 3 / 4;
    c.retain(|_, x| x.busy || x.failures < max_failures);
    if c.len() <= keep {
        return;
    }
    let mut idle: Vec<(u64, SocketAddr)> = c
        .values()
        .filter(|x| !x.busy)
        .map(|x| (x.added, x.addr))
        .collect();
    idle.sort_unstable();
    for (_, a) in idle.iter().take(c.len() - keep) {
        c.remove(a);
    }
}

/// Spawn a named thread with a small stack; a failure to spawn is ignored (the work is skipped).
fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    let _ = std::thread::Builder::new()
        .name(name.to_string())
        .stack_size(256 * 1024)
        .spawn(f);
}

/// Bytes of files in the pieces `have` says are missing: the stream's pieces less the zeros of
/// `padding` (piece, zero bytes) in them.
fn bytes_left(limits: &Limits, padding: &[(usize, u64)], have: impl Fn(u32) -> bool) -> u64 {
    let missing: u64 = (0..limits.piece_count)
        .filter(|&p| !have(p))
        .map(|p| limits.piece_size(p))
        .sum();
    let zeros: u64 = padding
        .iter()
        .filter(|&&(p, _)| !have(p as u32))
        .map(|&(_, z)| z)
        .sum();
    missing.saturating_sub(zeros)
}

#[cfg(test)]
mod tests {
    use super::store::MemStore;
    use super::*;
    use sha1::{Digest, Sha1};

    #[test]
    fn left_counts_file_bytes_not_the_zeros_of_a_v2_layout() {
        // v2: files of 40000 and 5 bytes in 16 KiB pieces: 4 pieces, 65536 bytes on the wire,
        // 40005 bytes of files.
        let g = crate::geometry::Geometry::aligned(16384, [40000, 5].into_iter());
        let (limits, padding) = (Limits::from(&g), g.padded_pieces());
        assert_eq!(limits.total_length, 65536);
        assert_eq!(bytes_left(&limits, &padding, |_| false), 40005);
        // Piece 2 holds 7232 bytes of the first file; piece 3 the 5 of the second.
        assert_eq!(bytes_left(&limits, &padding, |p| p == 2), 40005 - 7232);
        assert_eq!(bytes_left(&limits, &padding, |p| p != 3), 5);
        assert_eq!(bytes_left(&limits, &padding, |_| true), 0);
        // Without padding (v1), the stream is the files.
        let v1 = Limits::new(16384, 40005);
        assert_eq!(bytes_left(&v1, &[], |p| p == 0), 40005 - 16384);
    }

    fn sample(len: usize, piece: usize) -> (Vec<u8>, Vec<[u8; 20]>) {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let data: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let hashes = data.chunks(piece).map(|c| Sha1::digest(c).into()).collect();
        (data, hashes)
    }

    fn seeder(
        data: &[u8],
        hashes: &[[u8; 20]],
        piece: usize,
        have: &[bool],
        stop: &Arc<AtomicBool>,
    ) -> (Arc<Swarm>, SocketAddr) {
        let limits = Limits::new(piece as u64, data.len() as u64);
        let store = Arc::new(MemStore::new(data.to_vec(), piece as u64));
        let s = Swarm::new(SwarmConfig {
            info_hash: InfoHash([1; 20]),
            limits,
            hashes: hashes.to_vec(),
            have,
            store,
            opts: Options::default(),
            events: Box::new(|_| {}),
        })
        .unwrap();
        s.start();
        let l = Listener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = l.local_addr().unwrap();
        l.spawn(vec![s.clone()], 16, Duration::from_secs(2), stop.clone())
            .unwrap();
        (s, addr)
    }

    #[test]
    fn fetch_from_two_partial_seeders_and_one_liar() {
        let piece = 32768;
        let (data, hashes) = sample(40 * piece + 1234, piece);
        let n = hashes.len();
        let stop = Arc::new(AtomicBool::new(false));
        let first: Vec<bool> = (0..n).map(|i| i < 25).collect();
        let second: Vec<bool> = (0..n).map(|i| i >= 15).collect();
        let (a, addr_a) = seeder(&data, &hashes, piece, &first, &stop);
        let (b, addr_b) = seeder(&data, &hashes, piece, &second, &stop);
        // A liar claims everything and serves garbage.
        let garbage = vec![0x55u8; data.len()];
        let (c, addr_c) = seeder(&garbage, &hashes, piece, &vec![true; n], &stop);

        let limits = Limits::new(piece as u64, data.len() as u64);
        let store = Arc::new(MemStore::new(vec![0; data.len()], piece as u64));
        let banned = Arc::new(AtomicUsize::new(0));
        let banned2 = banned.clone();
        let f = Swarm::new(SwarmConfig {
            info_hash: InfoHash([1; 20]),
            limits,
            hashes: hashes.clone(),
            have: &[],
            store: store.clone(),
            opts: Options::default(),
            events: Box::new(move |e| {
                if let Event::Banned { .. } = e {
                    banned2.fetch_add(1, Ordering::Relaxed);
                }
            }),
        })
        .unwrap();
        // The liar alone first: banned after two bad pieces, then nobody is left.
        f.add_peers(&[addr_c]);
        f.start();
        let never = AtomicBool::new(false);
        let first = f.wait(Some(Instant::now() + Duration::from_secs(20)), &never);
        let liar_stats = f.stats();
        // Then the honest partial seeders finish the job.
        f.add_peers(&[addr_a, addr_b]);
        let outcome = f.wait(Some(Instant::now() + Duration::from_secs(30)), &never);
        let stats = f.stats();
        f.shutdown();
        for s in [&a, &b, &c] {
            s.shutdown();
        }
        stop.store(true, Ordering::Relaxed);
        assert_eq!(first, Outcome::NoPeers);
        assert!(liar_stats.bad_pieces >= 2, "the liar's pieces failed");
        assert_eq!(liar_stats.have, 0);
        assert_eq!(banned.load(Ordering::Relaxed), 1, "the liar is banned");
        assert_eq!(outcome, Outcome::Complete);
        assert!(store.contents() == data, "downloaded data differs");
        assert_eq!(stats.have as usize, n);
    }

    /// A downloading swarm of `pieces` pieces of 32 KiB (not started), with nothing yet.
    fn fetcher(
        pieces: usize,
        opts: Options,
        events: Box<dyn Fn(Event) + Send + Sync>,
    ) -> Arc<Swarm> {
        let piece = 32768;
        let (data, hashes) = sample(pieces * piece, piece);
        Swarm::new(SwarmConfig {
            info_hash: InfoHash([1; 20]),
            limits: Limits::new(piece as u64, data.len() as u64),
            hashes,
            have: &[],
            store: Arc::new(MemStore::new(vec![0; data.len()], piece as u64)),
            opts,
            events,
        })
        .unwrap()
    }

    /// The swarm's connection to a fake peer on `l` (plain handshake): it has every piece and
    /// unchokes.
    fn fake_seed(l: &std::net::TcpListener) -> std::net::TcpStream {
        use std::io::{Read, Write};
        let (mut c, _) = l.accept().unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut hs = [0u8; crate::peer::HANDSHAKE_LEN];
        c.read_exact(&mut hs).unwrap();
        let ours = crate::peer::Handshake::new([1; 20], PeerId([7; 20]));
        c.write_all(&ours.encode()).unwrap();
        c.write_all(&Message::HaveAll.to_bytes()).unwrap();
        c.write_all(&Message::Unchoke.to_bytes()).unwrap();
        c
    }

    /// A swarm fetching from a fake peer that speaks a plain handshake only, started, and the
    /// listener it dials.
    fn plain_fetcher(
        limits: Limits,
        hashes: Vec<[u8; 20]>,
        store: Arc<dyn PieceStore>,
    ) -> (Arc<Swarm>, std::net::TcpListener) {
        let f = Swarm::new(SwarmConfig {
            info_hash: InfoHash([1; 20]),
            limits,
            hashes,
            have: &[],
            store,
            opts: Options {
                encryption: crate::peer::mse::Policy::Off,
                ..Options::default()
            },
            events: Box::new(|_| {}),
        })
        .unwrap();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        f.add_peers(&[l.local_addr().unwrap()]);
        f.start();
        (f, l)
    }

    /// One read by a fake peer: the requests it completes go to `asked` (`buf` keeps a partial
    /// message); the bytes read.
    fn read_requests(
        c: &mut std::net::TcpStream,
        buf: &mut Vec<u8>,
        limits: &Limits,
        asked: &mut Vec<crate::peer::Block>,
    ) -> usize {
        use std::io::Read;
        let mut chunk = [0u8; 4096];
        let n = c.read(&mut chunk).unwrap_or(0);
        buf.extend_from_slice(&chunk[..n]);
        let mut used = 0;
        while let Ok(Some((m, u))) = crate::peer::decode(&buf[used..], limits) {
            if let Message::Request(b) = m {
                asked.push(b);
            }
            used += u;
        }
        buf.drain(..used);
        n
    }

    /// A store whose reads of piece 0 are slow (its hash is still running when piece 1
    /// fails) and whose writes to piece 1 fail.
    struct SlowStore(MemStore);

    impl PieceStore for SlowStore {
        fn read(&self, piece: u32, offset: u32, buf: &mut [u8]) -> std::io::Result<()> {
            if piece == 0 {
                std::thread::sleep(Duration::from_millis(400));
            }
            self.0.read(piece, offset, buf)
        }
        fn write(&self, piece: u32, offset: u32, data: &[u8]) -> std::io::Result<()> {
            if piece == 1 {
                return Err(std::io::Error::other("no room for piece 1"));
            }
            self.0.write(piece, offset, data)
        }
        fn flush(&self) -> std::io::Result<()> {
            self.0.flush()
        }
    }

    /// A download that ends on a storage error while a piece it received whole is still
    /// being hashed: once settled, its counters include that piece (it is on disk, verified;
    /// the report used to miss it, 1 run in 5 of the file-size-limit stress test).
    #[test]
    fn settle_counts_the_pieces_still_being_hashed() {
        use std::io::Write;
        let piece = 32768;
        let (data, hashes) = sample(2 * piece, piece);
        let limits = Limits::new(piece as u64, data.len() as u64);
        let store = SlowStore(MemStore::new(vec![0; data.len()], piece as u64));
        let (f, l) = plain_fetcher(limits, hashes, Arc::new(store));
        // The fake peer: have-all, unchoke, piece 0 whole, then a block of piece 1.
        let mut c = fake_seed(&l);
        let (mut buf, mut asked) = (Vec::new(), Vec::new());
        let deadline = Instant::now() + Duration::from_secs(10);
        while asked.len() < 4 && Instant::now() < deadline {
            read_requests(&mut c, &mut buf, &limits, &mut asked);
        }
        asked.sort_by_key(|b| (b.piece, b.offset));
        assert_eq!(asked.len(), 4, "both pieces asked for: {asked:?}");
        let answer = |c: &mut std::net::TcpStream, b: &crate::peer::Block| {
            let at = (b.piece as usize) * piece + b.offset as usize;
            let m = Message::Piece {
                piece: b.piece,
                offset: b.offset,
                data: data[at..at + b.length as usize].to_vec(),
            };
            c.write_all(&m.to_bytes()).unwrap();
        };
        // Piece 0's blocks out of order: it is read back to be hashed, slowly.
        answer(&mut c, &asked[1]);
        answer(&mut c, &asked[0]);
        std::thread::sleep(Duration::from_millis(100));
        answer(&mut c, &asked[2]);
        let never = AtomicBool::new(false);
        let outcome = f.wait(Some(Instant::now() + Duration::from_secs(10)), &never);
        assert!(
            matches!(&outcome, Outcome::Error(e) if e.contains("no room for piece 1")),
            "{outcome:?}"
        );
        f.settle(Duration::from_secs(10));
        let have = f.stats().have;
        f.shutdown();
        assert_eq!(have, 1, "piece 0, hashed after the error, is not counted");
    }

    /// Issue 11 #9: the candidate list is bounded and adding to it does not scan it.
    #[test]
    fn the_candidate_list_is_bounded() {
        let f = fetcher(4, Options::default(), Box::new(|_| {}));
        let addrs: Vec<SocketAddr> = (0..200_000u32)
            .map(|i| SocketAddr::from(([127, (i >> 16) as u8, (i >> 8) as u8, i as u8], 6881)))
            .collect();
        let t = Instant::now();
        for chunk in addrs.chunks(50) {
            f.add_peers(chunk);
            // Duplicates are ignored.
            f.add_peers(chunk);
        }
        let took = t.elapsed();
        let st = f.lock();
        assert!(
            st.candidates.len() <= MAX_CANDIDATES,
            "{}",
            st.candidates.len()
        );
        // The newest are kept.
        assert!(st.candidates.contains_key(addrs.last().unwrap()));
        assert!(!st.candidates.contains_key(&addrs[0]));
        // A linear scan per address took minutes here (debug build).
        assert!(took < Duration::from_secs(20), "{took:?}");
    }

    #[test]
    fn no_peers_gives_up() {
        let opts = Options {
            max_failures: 1,
            ..Options::default()
        };
        let f = fetcher(4, opts, Box::new(|_| {}));
        // A port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        f.add_peers(&[port]);
        f.start();
        let outcome = f.wait(
            Some(Instant::now() + Duration::from_secs(20)),
            &AtomicBool::new(false),
        );
        f.shutdown();
        assert_eq!(outcome, Outcome::NoPeers);
    }

    /// Issue 11 #2: a connection thread that panics cleans up like one that closes: its peer
    /// leaves the table, its blocks are free again, and its address is dialed again.
    #[test]
    fn a_panicking_connection_cleans_up() {
        use std::io::{Read, Write};
        let reasons = Arc::new(Mutex::new(Vec::new()));
        let r2 = reasons.clone();
        let events = Box::new(move |e| {
            if let Event::Disconnected { reason, .. } = e {
                r2.lock().unwrap().push(reason);
            }
        });
        // The fake peer speaks a plain handshake only.
        let opts = Options {
            encryption: crate::peer::mse::Policy::Off,
            ..Options::default()
        };
        let f = fetcher(8, opts, events);
        let limits = *f.limits();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        f.add_peers(&[l.local_addr().unwrap()]);
        f.start();
        // One connection of the fake peer: handshake, have-all, unchoke, read the first
        // requests; the requested pieces.
        let session = |panic: bool| -> Vec<u32> {
            let mut c = fake_seed(&l);
            let mut buf = Vec::new();
            let mut pieces = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(10);
            while pieces.is_empty() && Instant::now() < deadline {
                let mut chunk = [0u8; 4096];
                let n = c.read(&mut chunk).unwrap_or(0);
                buf.extend_from_slice(&chunk[..n]);
                let mut rest = &buf[..];
                while let Ok(Some((m, used))) = crate::peer::decode(rest, &limits) {
                    if let Message::Request(b) = m {
                        pieces.push(b.piece);
                    }
                    rest = &rest[used..];
                }
            }
            if panic {
                c.write_all(&Message::Port(conn::PANIC_PORT).to_bytes())
                    .unwrap();
                // The connection is closed by the clean-up.
                let mut sink = [0u8; 4096];
                let closed = (0..100).any(|_| matches!(c.read(&mut sink), Ok(0) | Err(_)));
                assert!(closed, "the panicked connection stayed open");
            }
            pieces
        };
        let first = session(true);
        assert!(!first.is_empty(), "no requests before the panic");
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            f.stats().peers == 0
        });
        assert!(gone, "the panicked peer is still in the table");
        // Its address is dialed again, and its blocks are asked for again.
        let again = session(false);
        f.shutdown();
        assert!(
            again.iter().any(|p| first.contains(p)),
            "blocks of the panicked connection were not asked again: {first:?} then {again:?}"
        );
        let reasons = reasons.lock().unwrap();
        assert!(reasons[0].contains("panicked"), "{reasons:?}");
    }

    /// A store that keeps where each piece was read (a piece hashed as it arrived is never
    /// read back) and counts the writes of several blocks at once.
    struct CountingStore<S>(S, Mutex<HashMap<u32, Vec<u32>>>, AtomicUsize);

    impl<S: PieceStore> PieceStore for CountingStore<S> {
        fn read(&self, piece: u32, offset: u32, buf: &mut [u8]) -> std::io::Result<()> {
            self.1
                .lock()
                .unwrap()
                .entry(piece)
                .or_default()
                .push(offset);
            self.0.read(piece, offset, buf)
        }
        fn write(&self, piece: u32, offset: u32, data: &[u8]) -> std::io::Result<()> {
            self.0.write(piece, offset, data)
        }
        fn write_many(&self, blocks: &[(u32, u32, &[u8])]) -> std::io::Result<()> {
            self.2.fetch_add(1, Ordering::Relaxed);
            self.0.write_many(blocks)
        }
        fn flush(&self) -> std::io::Result<()> {
            self.0.flush()
        }
    }

    /// A download of `pieces` pieces of 32 KiB from one fake peer that answers each round of
    /// requests with `answer(round, requests sorted)`: the blocks to send, in that order, as
    /// (block, data); rounds end when the download completes or after 10 s. The swarm's
    /// outcome, bad pieces, the pieces read back, and whether the store holds the data.
    fn fake_download(
        pieces: usize,
        answer: impl Fn(usize, &[crate::peer::Block], &[u8]) -> Vec<(crate::peer::Block, Vec<u8>)>,
    ) -> (Outcome, u32, Vec<u32>, bool) {
        let piece = 32768;
        let (data, hashes) = sample(pieces * piece, piece);
        let store = Arc::new(CountingStore(
            MemStore::new(vec![0; data.len()], piece as u64),
            Mutex::default(),
            AtomicUsize::new(0),
        ));
        let (outcome, bad, read) = fetch_from_fake(&data, hashes, piece, store.clone(), answer);
        (outcome, bad, read, store.0.contents() == data)
    }

    /// [`fake_download`] of `data` (pieces of `piece` bytes) into `store`; each round's blocks go out
    /// in one write, so that one read by the swarm holds several (a block of no bytes in an
    /// answer goes out as a keep-alive, which ends a delivery: the blocks before it are
    /// written before the ones after it). The swarm's outcome, bad
    /// pieces and the pieces read back.
    fn fetch_from_fake<S: PieceStore + 'static>(
        data: &[u8],
        hashes: Vec<[u8; 20]>,
        piece: usize,
        store: Arc<CountingStore<S>>,
        answer: impl Fn(usize, &[crate::peer::Block], &[u8]) -> Vec<(crate::peer::Block, Vec<u8>)>,
    ) -> (Outcome, u32, Vec<u32>) {
        use std::io::Write;
        let limits = Limits::new(piece as u64, data.len() as u64);
        let (f, l) = plain_fetcher(limits, hashes, store.clone());
        let mut c = fake_seed(&l);
        c.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let (mut buf, mut asked) = (Vec::new(), Vec::new());
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut round = 0;
        while !f.complete() && Instant::now() < deadline {
            let n = read_requests(&mut c, &mut buf, &limits, &mut asked);
            if n == 0 && !asked.is_empty() {
                asked.sort_by_key(|b| (b.piece, b.offset));
                let mut out = Vec::new();
                for (b, d) in answer(round, &asked, data) {
                    let m = if d.is_empty() {
                        Message::KeepAlive
                    } else {
                        Message::Piece {
                            piece: b.piece,
                            offset: b.offset,
                            data: d,
                        }
                    };
                    m.encode(&mut out);
                }
                c.write_all(&out).unwrap();
                asked.clear();
                round += 1;
            }
        }
        let outcome = f.wait(
            Some(Instant::now() + Duration::from_secs(5)),
            &AtomicBool::new(false),
        );
        let bad = f.stats().bad_pieces;
        f.shutdown();
        let mut read: Vec<u32> = store.1.lock().unwrap().keys().copied().collect();
        read.sort_unstable();
        (outcome, bad, read)
    }

    /// Blocks that come in one read are written together (one vectored write per run in a
    /// file): two pieces in one read, a piece across two files, and a piece whose blocks
    /// come out of order, all land where they belong and verify.
    #[test]
    fn blocks_read_together_are_written_together_across_files_and_pieces() {
        let piece = 32768;
        let (data, hashes) = sample(3 * piece, piece);
        // Piece 1 is split between the two files.
        let t = crate::storage::tests::torrent(
            "t",
            piece as u64,
            &[("a", 40000, false), ("b", 3 * 32768 - 40000, false)],
        );
        let dir = tempfile::tempdir().unwrap();
        let storage =
            crate::storage::Storage::create(&t, dir.path(), crate::storage::Io::Plain).unwrap();
        let store = Arc::new(CountingStore(
            storage,
            Mutex::default(),
            AtomicUsize::new(0),
        ));
        // Piece 2's two blocks swapped: written in file order when one read holds both, else
        // the second kept until the first comes; hashed as they arrive, never read back.
        let (outcome, bad, read) =
            fetch_from_fake(&data, hashes, piece, store.clone(), swapping(2, false));
        assert_eq!(outcome, Outcome::Complete);
        assert_eq!(bad, 0);
        assert!(read.is_empty(), "read back: {read:?}");
        assert!(
            store.2.load(Ordering::Relaxed) > 0,
            "no blocks written together"
        );
        let file = |p: &str| std::fs::read(dir.path().join("t").join(p)).unwrap();
        assert!(file("a") == data[..40000], "file a differs");
        assert!(file("b") == data[40000..], "file b differs");
    }

    /// Blocks a fake peer sends, in order, with their data.
    type Sent = Vec<(crate::peer::Block, Vec<u8>)>;

    /// A fake peer's answer: every block asked, in order, but `piece`'s first two swapped;
    /// `split`: with a keep-alive between them, so that they are delivered apart.
    fn swapping(piece: u32, split: bool) -> impl Fn(usize, &[crate::peer::Block], &[u8]) -> Sent {
        move |_, asked, data| {
            let mut out: Vec<_> = asked.iter().map(|b| (*b, block_of(data, b))).collect();
            if let Some(i) = out.iter().position(|(b, _)| b.piece == piece) {
                out.swap(i, i + 1);
                if split {
                    out.insert(i + 1, (out[i].0, Vec::new()));
                }
            }
            out
        }
    }

    /// The data of block `b` of `data` (pieces of 32 KiB).
    fn block_of(data: &[u8], b: &crate::peer::Block) -> Vec<u8> {
        let at = b.piece as usize * 32768 + b.offset as usize;
        data[at..at + b.length as usize].to_vec()
    }

    /// Pieces are judged as they arrive (never read back), also one whose blocks come out of
    /// order in different deliveries: the later block waits for the earlier one.
    #[test]
    fn pieces_are_hashed_as_they_arrive_even_out_of_order() {
        // Piece 1's two blocks swapped, a keep-alive between them.
        let (outcome, bad, read, same) = fake_download(3, swapping(1, true));
        assert_eq!(outcome, Outcome::Complete);
        assert_eq!(bad, 0);
        assert!(read.is_empty(), "read back: {read:?}");
        assert!(same, "downloaded data differs");
    }

    /// A piece whose second block comes after more blocks than are kept waiting for it (a
    /// seeder with a block stuck in a disk queue): hashed in order up to the gap, then only
    /// the rest is read back, and the piece verifies.
    #[test]
    fn a_piece_with_a_long_gap_reads_back_only_what_follows_it() {
        const PIECE: usize = 8 << 20;
        let (data, hashes) = sample(PIECE, PIECE);
        let store = Arc::new(CountingStore(
            MemStore::new(vec![0; data.len()], PIECE as u64),
            Mutex::default(),
            AtomicUsize::new(0),
        ));
        let last = (PIECE - 16384) as u32;
        let held = Mutex::new(None);
        let (outcome, bad, read) =
            fetch_from_fake(&data, hashes, PIECE, store.clone(), |_, asked, data| {
                let mut out = Vec::new();
                for b in asked {
                    let d = data[b.offset as usize..][..b.length as usize].to_vec();
                    if b.offset == 16384 {
                        *held.lock().unwrap() = Some((*b, d));
                    } else {
                        out.push((*b, d));
                    }
                }
                if asked.iter().any(|b| b.offset == last) {
                    out.extend(held.lock().unwrap().take());
                }
                out
            });
        assert_eq!(outcome, Outcome::Complete);
        assert_eq!(bad, 0);
        assert_eq!(read, vec![0]);
        let offsets = store.1.lock().unwrap()[&0].clone();
        assert_eq!(
            offsets.iter().min(),
            Some(&16384),
            "read back from: {offsets:?}"
        );
        assert!(store.0.contents() == data, "downloaded data differs");
    }

    /// A corrupt block in a piece sent in order fails the piece with the hash taken as it
    /// arrived; the piece is fetched again and the download completes with the right data.
    #[test]
    fn a_corrupt_block_in_order_fails_its_piece() {
        let (outcome, bad, read, same) = fake_download(2, |round, asked, data| {
            asked
                .iter()
                .map(|b| {
                    let mut d = block_of(data, b);
                    if round == 0 && b.piece == 0 && b.offset > 0 {
                        d[100] ^= 1;
                    }
                    (*b, d)
                })
                .collect()
        });
        assert_eq!(outcome, Outcome::Complete);
        assert_eq!(bad, 1, "the corrupt piece failed once");
        assert!(read.is_empty(), "nothing read back: {read:?}");
        assert!(same, "downloaded data differs");
    }
}
