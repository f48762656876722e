//! One torrent of the daemon run as a job: a thread that calls one of the engine's entry points
//! ([`session::fetch`] with `seed`, or [`session::seed`]) until its stop flag is raised, and
//! starts it again after a growing pause when the engine ends on its own (no peer left, an
//! error). A job added by magnet link first fetches the info dictionary (state `metadata`),
//! writes the `.torrent` and hands the torrent to the daemon, which lists it from then on. What the engine reports is folded into a [`Live`] status that the daemon reads.
//!
//! Invariants: the job's thread is the only writer of the counters of its [`Live`] (the daemon
//! only reads them, and sets `state` before the job starts or after it ends); a stopped job
//! leaves its data on disk as it is (a later job resumes by verification).

use crate::metainfo::Torrent;
use crate::peer::mse::Policy;
use crate::record::StatusPeer;
use crate::swarm::metadata;
use crate::swarm::rate::RateLimit;
use crate::swarm::session::{self, Event, FetchOptions, SeedOptions, SessionError};
use crate::swarm::Swarm;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest pause before an engine that ended on its own is started again.
const MAX_RETRY: Duration = Duration::from_secs(60);

/// How a torrent is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Download what is missing, then seed.
    Fetch,
    /// Serve the verified pieces on disk, never download.
    Seed,
}

impl Mode {
    /// The name used in records and the state file.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Fetch => "fetch",
            Mode::Seed => "seed",
        }
    }
}

/// Engine settings shared by every job of a daemon.
#[derive(Clone)]
pub struct Engine {
    /// Address to listen on and connect from.
    pub bind: IpAddr,
    /// Announce to the torrents' trackers.
    pub announce: bool,
    /// Most connections per torrent.
    pub max_peers: usize,
    /// Unchoked peers per torrent.
    pub upload_slots: usize,
    /// MSE/PE policy.
    pub encryption: Policy,
    /// Trust seeded data without verifying it.
    pub skip_verify: bool,
    /// The daemon's one DHT node (`None`: no DHT); each job looks its torrent up and
    /// announces it there while it runs (never a private torrent).
    pub dht: Option<Arc<crate::dht::Node>>,
}

/// What one job runs.
pub(crate) struct Spec {
    /// The torrent, or `None` while only the magnet is known.
    pub torrent: Option<Arc<Torrent>>,
    /// The magnet link whose metadata is fetched first when `torrent` is `None`.
    pub magnet: Option<String>,
    /// Where the `.torrent` built from the magnet's metadata is written.
    pub torrent_out: Option<PathBuf>,
    pub dir: PathBuf,
    pub mode: Mode,
    pub peers: Vec<SocketAddr>,
    pub down: Arc<RateLimit>,
    pub up: Arc<RateLimit>,
    pub engine: Engine,
}

/// Most runs of pieces in a `piece_map`.
pub(crate) const PIECE_MAP_RUNS: u32 = 64;

/// The latest state of a torrent, from its engine's events.
#[derive(Clone)]
pub(crate) struct Live {
    pub state: &'static str,
    pub error: Option<String>,
    pub pieces_have: u32,
    pub bytes_have: u64,
    pub down_rate: u64,
    pub up_rate: u64,
    pub peers: usize,
    pub port: Option<u16>,
    /// Counters of the jobs that ended, and of the running one.
    pub done: (u64, u64),
    pub run: (u64, u64),
    pub peer_list: BTreeMap<SocketAddr, StatusPeer>,
    /// The torrent a magnet's metadata phase built (and where its `.torrent` was written),
    /// until the daemon takes it.
    pub metadata: Option<(Arc<Torrent>, Option<PathBuf>)>,
    /// The running engine's swarm (peers and pieces are read from it at each progress
    /// report), and each peer's counters at the last report, for rates.
    swarm: Option<Arc<Swarm>>,
    sampled: (Instant, HashMap<SocketAddr, (u64, u64)>),
    /// The verified share of each run of pieces, in percent (see [`piece_map`]).
    pub piece_map: Option<Vec<u8>>,
}

impl Live {
    pub fn new(state: &'static str) -> Live {
        Live {
            state,
            error: None,
            pieces_have: 0,
            bytes_have: 0,
            down_rate: 0,
            up_rate: 0,
            peers: 0,
            port: None,
            done: (0, 0),
            run: (0, 0),
            peer_list: BTreeMap::new(),
            metadata: None,
            swarm: None,
            sampled: (Instant::now(), HashMap::new()),
            piece_map: None,
        }
    }

    /// Bytes downloaded and uploaded since the daemon started.
    pub fn totals(&self) -> (u64, u64) {
        (self.done.0 + self.run.0, self.done.1 + self.run.1)
    }

    fn apply(&mut self, e: Event, t: &Torrent) {
        match e {
            Event::Verifying { .. } => self.state = "verifying",
            Event::Verified { have, .. } => {
                self.pieces_have = have;
                self.bytes_have = (have as u64 * t.piece_length).min(t.total_length);
                self.state = "starting";
            }
            Event::Listening { addr, .. } => self.port = Some(addr.port()),
            Event::Peer { event, .. } => match event {
                crate::swarm::Event::Connected {
                    addr,
                    peer_id,
                    incoming,
                } => {
                    let peer = status_peer(addr, peer_id.0, incoming);
                    self.peer_list.insert(addr, peer);
                }
                crate::swarm::Event::Disconnected { addr, .. }
                | crate::swarm::Event::Banned { addr } => {
                    self.peer_list.remove(&addr);
                }
                crate::swarm::Event::BadPiece { .. } | crate::swarm::Event::WebSeed { .. } => {}
            },
            Event::Progress {
                stats,
                down_rate,
                up_rate,
                ..
            } => {
                self.pieces_have = stats.have;
                self.bytes_have = stats.have_bytes;
                self.down_rate = down_rate;
                self.up_rate = up_rate;
                self.peers = stats.peers;
                self.run = (stats.downloaded, stats.uploaded);
                self.error = None;
                self.state = if stats.have == stats.pieces {
                    "seeding"
                } else {
                    "downloading"
                };
                if let Some(s) = self.swarm.clone() {
                    self.sample(&s, stats.pieces);
                }
            }
            Event::Seeding => self.state = "seeding",
            Event::Stats { .. } | Event::Announced { .. } | Event::BadPeerLine(_) => {}
        }
    }

    /// Read the swarm's peers (their rates since the last sample) and pieces.
    fn sample(&mut self, s: &Swarm, pieces: u32) {
        let now = Instant::now();
        let secs = now.duration_since(self.sampled.0).as_secs_f64().max(0.001);
        let mut counters = HashMap::new();
        let mut list = BTreeMap::new();
        for p in s.peer_snapshot() {
            let (down, up) = self.sampled.1.get(&p.addr).copied().unwrap_or_default();
            let rate = |now: u64, then: u64| (now.saturating_sub(then) as f64 / secs) as u64;
            let incoming = self.peer_list.get(&p.addr).is_some_and(|o| o.incoming);
            let peer = StatusPeer {
                down_rate: rate(p.downloaded, down),
                up_rate: rate(p.uploaded, up),
                choked: p.choked,
                interested: p.interested,
                encrypted: p.encrypted,
                ..status_peer(p.addr, p.peer_id.0, incoming)
            };
            counters.insert(p.addr, (p.downloaded, p.uploaded));
            list.insert(p.addr, peer);
        }
        self.sampled = (now, counters);
        self.peer_list = list;
        self.piece_map = Some(piece_map(&s.bitfield(), pieces, PIECE_MAP_RUNS));
    }

    /// The engine ended: its counters join the totals, its connections are gone.
    fn ended(&mut self, state: &'static str, error: Option<String>) {
        self.swarm = None;
        self.sampled.1.clear();
        self.done = self.totals();
        self.run = (0, 0);
        self.down_rate = 0;
        self.up_rate = 0;
        self.peers = 0;
        self.port = None;
        self.peer_list.clear();
        self.state = state;
        self.error = error;
    }
}

/// A peer's row before its first sample: no rates, no flags.
fn status_peer(addr: SocketAddr, peer_id: [u8; 20], incoming: bool) -> StatusPeer {
    StatusPeer {
        ip: addr.ip().to_string(),
        port: addr.port(),
        client: client_name(peer_id),
        incoming,
        down_rate: 0,
        up_rate: 0,
        choked: true,
        interested: false,
        encrypted: false,
    }
}

/// The verified share, in percent, of each of `runs` (at most; fewer for a smaller torrent)
/// equal runs of the `pieces` pieces of `bitfield` (high bit first).
pub(crate) fn piece_map(bitfield: &[u8], pieces: u32, runs: u32) -> Vec<u8> {
    let n = runs.min(pieces) as u64;
    let has = |i: u64| {
        bitfield
            .get(i as usize / 8)
            .is_some_and(|b| b & (0x80 >> (i % 8)) != 0)
    };
    (0..n)
        .map(|r| {
            let (from, to) = (r * pieces as u64 / n, (r + 1) * pieces as u64 / n);
            let have = (from..to).filter(|i| has(*i)).count() as u64;
            (have * 100 / (to - from).max(1)) as u8
        })
        .collect()
}

/// The client of an Azureus-style peer id (`-qB4250-…` gives `qB4250`).
fn client_name(id: [u8; 20]) -> Option<String> {
    let code = &id[1..7];
    (id[0] == b'-' && id[7] == b'-' && code.iter().all(u8::is_ascii_alphanumeric))
        .then(|| String::from_utf8_lossy(code).into_owned())
}

/// A running job.
pub(crate) struct Job {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

impl Job {
    /// Start `spec` on its own thread, reporting into `live`.
    pub fn start(spec: Spec, live: Arc<Mutex<Live>>) -> std::io::Result<Job> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        lock(&live).state = "starting";
        let handle = std::thread::Builder::new()
            .name("bt-daemon-job".into())
            .spawn(move || run(spec, &live, &flag))?;
        Ok(Job { stop, handle })
    }

    /// Raise the stop flag; the thread ends within about [`session::STOP_GRACE`] (or when a
    /// verification under way ends).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Stop and wait for the thread until `deadline`; false if it is still running then.
    pub fn stop_and_wait(self, deadline: Instant) -> bool {
        self.stop();
        while !self.handle.is_finished() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.handle.join();
        true
    }
}

/// Lock a mutex, ignoring poisoning (a status is plain data).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Fetch the info dictionary of the job's magnet (see [`metadata::magnet_torrent`]), write
/// its `.torrent` to `spec.torrent_out` and hand the torrent to the daemon through `live`; the
/// torrent and the peers the phase learned.
fn metadata(
    spec: &Spec,
    magnet: &str,
    live: &Mutex<Live>,
    stop: &Arc<AtomicBool>,
) -> Result<(Arc<Torrent>, Vec<SocketAddr>), SessionError> {
    lock(live).state = "metadata";
    let out = spec.torrent_out.as_deref();
    if let Some(dir) = out.and_then(|p| p.parent()) {
        let made = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir);
        made.map_err(|e| SessionError::TorrentOut(dir.to_path_buf(), e))?;
    }
    let mut opts = FetchOptions {
        peers: spec.peers.clone(),
        announce: spec.engine.announce,
        bind: spec.engine.bind,
        max_peers: spec.engine.max_peers,
        dht: spec.engine.dht.clone(),
        stop: stop.clone(),
        ..FetchOptions::default()
    };
    let t = Arc::new(metadata::magnet_torrent(
        magnet,
        &mut opts,
        out,
        true,
        &mut |_| {},
    )?);
    let mut l = lock(live);
    l.metadata = Some((t.clone(), spec.torrent_out.clone()));
    l.state = "starting";
    Ok((t, opts.peers))
}

fn run(spec: Spec, live: &Arc<Mutex<Live>>, stop: &Arc<AtomicBool>) {
    let mut torrent = spec.torrent.clone();
    // The peers of the first run: the given ones, and those a metadata phase learned.
    let mut peers = spec.peers.clone();
    let mut retry = Duration::from_secs(2);
    loop {
        let got = match (&torrent, &spec.magnet) {
            (Some(t), _) => Ok(t.clone()),
            (None, Some(m)) => metadata(&spec, m, live, stop).map(|(t, learned)| {
                peers = learned;
                torrent = Some(t.clone());
                t
            }),
            (None, None) => Err(SessionError::NoInfoHash),
        };
        let result = got.and_then(|t| run_once(&spec, &t, std::mem::take(&mut peers), live, stop));
        peers = spec.peers.clone();
        if stop.load(Ordering::Relaxed) {
            lock(live).ended("paused", None);
            return;
        }
        match result {
            Ok(why) => lock(live).ended("stalled", why),
            Err(e) => lock(live).ended("error", Some(e.to_string())),
        }
        let until = Instant::now() + retry;
        while Instant::now() < until {
            if stop.load(Ordering::Relaxed) {
                lock(live).state = "paused";
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        retry = (retry * 2).min(MAX_RETRY);
    }
}

/// One run of the engine on `t`, dialing `peers`; why it ended on its own.
fn run_once(
    spec: &Spec,
    t: &Torrent,
    peers: Vec<SocketAddr>,
    live: &Arc<Mutex<Live>>,
    stop: &Arc<AtomicBool>,
) -> Result<Option<String>, SessionError> {
    let mut events = |e: Event| lock(live).apply(e, t);
    let hook = {
        let live = live.clone();
        Arc::new(move |_: usize, s: &Arc<Swarm>| lock(&live).swarm = Some(s.clone()))
    };
    match spec.mode {
        Mode::Fetch => {
            let opts = FetchOptions {
                dir: spec.dir.clone(),
                peers,
                announce: spec.engine.announce,
                seed: true,
                bind: spec.engine.bind,
                port: 0,
                max_peers: spec.engine.max_peers,
                upload_slots: spec.engine.upload_slots,
                upload_limit: spec.up.clone(),
                download_limit: spec.down.clone(),
                encryption: spec.engine.encryption,
                dht: spec.engine.dht.clone(),
                stop: stop.clone(),
                on_swarm: Some(hook),
                ..FetchOptions::default()
            };
            session::fetch(t, opts, &mut events).map(|r| r.outcome.reason())
        }
        Mode::Seed => {
            let opts = SeedOptions {
                dir: spec.dir.clone(),
                bind: spec.engine.bind,
                port: 0,
                skip_verify: spec.engine.skip_verify,
                announce: spec.engine.announce,
                max_peers: spec.engine.max_peers,
                upload_slots: spec.engine.upload_slots,
                upload_limit: spec.up.clone(),
                encryption: spec.engine.encryption,
                peers,
                dht: spec.engine.dht.clone(),
                stop: stop.clone(),
                on_swarm: Some(hook),
                ..SeedOptions::default()
            };
            session::seed(std::slice::from_ref(t), opts, &mut events).map(|()| None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piece_maps_give_each_run_its_share() {
        // 10 pieces, the first 5 and the last one verified: 1111_1000 01.
        let bits = [0b1111_1000, 0b0100_0000];
        assert_eq!(
            piece_map(&bits, 10, 64),
            [100, 100, 100, 100, 100, 0, 0, 0, 0, 100]
        );
        assert_eq!(piece_map(&bits, 10, 2), [100, 20]);
        assert_eq!(piece_map(&bits, 10, 3), [100, 66, 25]);
        assert!(piece_map(&[], 0, 64).is_empty());
        assert_eq!(piece_map(&[0xff; 128], 1024, 64), [100; 64]);
    }
}
