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
mod listen;
pub mod metadata;
pub mod pex;
pub mod picker;
pub mod rate;
pub mod session;
pub mod store;
pub mod stream;

pub use listen::Listener;

use crate::metainfo::InfoHash;
use crate::peer::{Limits, Message, PeerId};
use picker::{PeerKey, Picker};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
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
    tx: Sender<Out>,
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
}

struct Candidate {
    addr: SocketAddr,
    failures: u32,
    next_try: Instant,
    busy: bool,
}

struct State {
    picker: Picker,
    peers: HashMap<PeerKey, PeerEntry>,
    next_key: PeerKey,
    candidates: Vec<Candidate>,
    strikes: HashMap<SocketAddr, u32>,
    banned: HashSet<SocketAddr>,
    banned_ids: HashSet<PeerId>,
    used: HashSet<SocketAddr>,
    optimistic: Option<PeerKey>,
}

/// One torrent's download and upload engine.
pub struct Swarm {
    info_hash: InfoHash,
    peer_id: PeerId,
    limits: Limits,
    hashes: Vec<[u8; 20]>,
    store: Arc<dyn PieceStore>,
    opts: Options,
    state: Mutex<State>,
    events: Box<dyn Fn(Event) + Send + Sync>,
    downloaded: AtomicU64,
    uploaded: AtomicU64,
    bad_pieces: AtomicU32,
    hashing: AtomicUsize,
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
            hashes,
            store,
            state: Mutex::new(State {
                picker: Picker::new(limits, have),
                peers: HashMap::new(),
                next_key: 1,
                candidates: Vec::new(),
                strikes: HashMap::new(),
                banned: HashSet::new(),
                banned_ids: HashSet::new(),
                used: HashSet::new(),
                optimistic: None,
            }),
            opts,
            events,
            downloaded: AtomicU64::new(0),
            uploaded: AtomicU64::new(0),
            bad_pieces: AtomicU32::new(0),
            hashing: AtomicUsize::new(0),
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

    /// Bytes still missing (for announces).
    pub fn left(&self) -> u64 {
        self.limits
            .total_length
            .saturating_sub(self.stats().have_bytes)
    }

    /// Write a block's data through the store (the per-block path: no copy, no lock).
    #[inline]
    fn write_block(&self, piece: u32, offset: u32, data: &[u8]) -> std::io::Result<()> {
        self.store.write(piece, offset, data)
    }

    /// Read a block's data from the store into `buf`.
    #[inline]
    fn read_block(&self, piece: u32, offset: u32, buf: &mut [u8]) -> std::io::Result<()> {
        self.store.read(piece, offset, buf)
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

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Add addresses to connect to (duplicates and banned addresses are ignored).
    pub fn add_peers(&self, addrs: &[SocketAddr]) {
        let mut st = self.lock();
        for a in addrs {
            if st.banned.contains(a) || st.candidates.iter().any(|c| c.addr == *a) {
                continue;
            }
            st.candidates.push(Candidate {
                addr: *a,
                failures: 0,
                next_try: Instant::now(),
                busy: false,
            });
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
                for c in st.candidates.iter_mut() {
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
                    if let Some(c) = st.candidates.iter_mut().find(|c| c.addr == addr) {
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

    /// Every connection slot is taken: close the oldest peer that has exchanged no data and is
    /// not interested, so that a flood of idle peers cannot lock working peers out. False when
    /// every peer is useful (the newcomer is then refused).
    fn make_room(&self) -> bool {
        let mut st = self.lock();
        let idle = st
            .peers
            .iter_mut()
            .filter(|(_, p)| {
                !p.closing
                    && !p.interested
                    && p.uploaded.load(Ordering::Relaxed) == 0
                    && p.downloaded.load(Ordering::Relaxed) == 0
            })
            .min_by_key(|(k, _)| **k);
        match idle {
            Some((_, p)) => {
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

    /// Whether every piece is verified.
    pub fn complete(&self) -> bool {
        self.lock().picker.complete()
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
            let alive = !st.peers.is_empty()
                || self.connections.load(Ordering::Relaxed) > 0
                || self.sources.load(Ordering::Relaxed) > 0
                || st.candidates.iter().any(|c| {
                    c.busy || (c.failures < self.opts.max_failures && !st.banned.contains(&c.addr))
                });
            (st.picker.complete(), !alive)
        };
        if complete && self.hashing.load(Ordering::Relaxed) == 0 {
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

    /// Hash a complete piece on the rayon pool.
    fn hash(self: &Arc<Self>, piece: u32) {
        self.hashing.fetch_add(1, Ordering::Relaxed);
        let s = self.clone();
        rayon::spawn(move || {
            let ok = match store::hash_piece(&*s.store, &s.limits, piece) {
                Ok(h) => s.hashes.get(piece as usize) == Some(&h),
                Err(e) => {
                    s.fail(format!("reading piece {piece} back: {e}"));
                    false
                }
            };
            s.hashed(piece, ok);
            s.hashing.fetch_sub(1, Ordering::Relaxed);
        });
    }

    fn hashed(&self, piece: u32, ok: bool) {
        let mut st = self.lock();
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
            let Some((addr, id)) = st.peers.get(&key).map(|p| (p.addr, p.peer_id)) else {
                return;
            };
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

/// Spawn a named thread with a small stack; a failure to spawn is ignored (the work is skipped).
fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    let _ = std::thread::Builder::new()
        .name(name.to_string())
        .stack_size(256 * 1024)
        .spawn(f);
}

#[cfg(test)]
mod tests {
    use super::store::MemStore;
    use super::*;
    use sha1::{Digest, Sha1};

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

    #[test]
    fn no_peers_gives_up() {
        let piece = 32768;
        let (data, hashes) = sample(4 * piece, piece);
        let limits = Limits::new(piece as u64, data.len() as u64);
        let store = Arc::new(MemStore::new(vec![0; data.len()], piece as u64));
        let opts = Options {
            max_failures: 1,
            ..Options::default()
        };
        let f = Swarm::new(SwarmConfig {
            info_hash: InfoHash([1; 20]),
            limits,
            hashes,
            have: &[],
            store,
            opts,
            events: Box::new(|_| {}),
        })
        .unwrap();
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
}
