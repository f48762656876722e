//! The engine's two entry points: [`fetch`] (download one torrent, optionally keep seeding it)
//! and [`seed`] (serve one or more torrents on one port). Each is one blocking call that takes a
//! typed options struct (whose `Default` is the tools' defaults), sets up storage, verifies what
//! is on disk, listens, announces, connects, waits, and shuts down; it reports what happens as
//! [`Event`]s on the caller's thread and returns a report or a [`SessionError`].
//!
//! Invariants: every event reaches the callback on the calling thread (the engine's threads
//! send them through a channel); the call returns within about [`STOP_GRACE`] after the stop
//! flag is raised, whatever the trackers do (an announce thread still blocked then is left
//! behind, never joined forever); every wait is bounded by a deadline or the stop flag.

use super::announce::{self, Announced};
use super::rate::RateLimit;
use super::webseed::{self, WebSeed};
use super::{Listener, Options, Outcome, Stats, Swarm, SwarmConfig};
use crate::metainfo::{InfoHash, Torrent, Version};
use crate::peer::mse::Policy;
use crate::storage::{Io, Storage};
use crate::tracker::{self, Tiers};
use crate::verify::PieceCheck;
use std::fmt;
use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an ending download waits for the blocks being written and the pieces being hashed.
const SETTLE: Duration = Duration::from_secs(10);
/// How long a stopping session waits for its trackers' `stopped` answers.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

/// What a download does; `Default` holds the defaults of `bt-fetch`'s flags.
pub struct FetchOptions {
    /// Download directory: the data goes to `dir/<name>`.
    pub dir: PathBuf,
    /// Peers to connect to. When empty, peers come from `peer_lines`, else from the trackers.
    pub peers: Vec<SocketAddr>,
    /// A reader of peer lines (`peer` records or `ip:port`), such as standard input; when it
    /// ends without naming a peer, the trackers are asked instead.
    pub peer_lines: Option<Box<dyn BufRead + Send>>,
    /// Announce to the torrent's trackers.
    pub announce: bool,
    /// Web seeds (HTTP mirrors, BEP 19) to fetch from besides the torrent's `url-list`.
    pub web_seeds: Vec<String>,
    /// Give up after this long (from the start of the call).
    pub timeout: Option<Duration>,
    /// Keep seeding after completion, until `stop` is raised.
    pub seed: bool,
    /// Address to listen on (and to connect from, when not unspecified).
    pub bind: IpAddr,
    /// Port to listen on (0: any free port).
    pub port: u16,
    /// Most simultaneous connections (at least 1).
    pub max_peers: usize,
    /// Peers unchoked at once when uploading.
    pub upload_slots: usize,
    /// The upload cap over every peer (share one `Arc` among sessions for a global cap, or
    /// give a [`RateLimit::child`] of it for a per-torrent cap under a global one).
    pub upload_limit: Arc<RateLimit>,
    /// The download cap over every peer and web seed (shared like `upload_limit`).
    pub download_limit: Arc<RateLimit>,
    /// Drop a peer that sends no requested block for this long.
    pub snub_timeout: Duration,
    /// Time between [`Event::Progress`] events.
    pub progress_interval: Duration,
    /// Which connections are encrypted (MSE/PE), dialed and accepted.
    pub encryption: Policy,
    /// Raised by the caller (a signal handler, a test) to end the session.
    pub stop: Arc<AtomicBool>,
    /// The files to download, one flag per entry of the torrent's file list (`None`: all);
    /// see [`crate::select`]. Only the pieces they need are requested.
    pub chosen: Option<Vec<bool>>,
    /// Request pieces in order (the streaming picker without a stream).
    pub sequential: bool,
    /// Write the content in order to a writer while it downloads.
    pub stream: Option<super::pipe::StreamOptions>,
    /// A DHT node to find peers with (never used for a private torrent).
    pub dht: Option<Arc<crate::dht::Node>>,
    /// Called with each swarm once it exists (a status display reads its
    /// [`Swarm::peer_snapshot`] and [`Swarm::bitfield`]).
    pub on_swarm: Option<SwarmHook>,
}

/// A caller's look at a session's swarms: the torrent's index and its swarm.
pub type SwarmHook = Arc<dyn Fn(usize, &Arc<Swarm>) + Send + Sync>;

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            dir: PathBuf::from("."),
            peers: Vec::new(),
            peer_lines: None,
            announce: true,
            web_seeds: Vec::new(),
            timeout: None,
            seed: false,
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 0,
            max_peers: 30,
            upload_slots: 4,
            upload_limit: RateLimit::unlimited(),
            download_limit: RateLimit::unlimited(),
            snub_timeout: Duration::from_secs(20),
            progress_interval: Duration::from_secs(1),
            encryption: Policy::default(),
            stop: Arc::default(),
            chosen: None,
            sequential: false,
            stream: None,
            dht: None,
            on_swarm: None,
        }
    }
}

/// What a seed does; `Default` holds the defaults of `bt-seed`'s flags.
pub struct SeedOptions {
    /// Directory holding `dir/<name>` of each torrent.
    pub dir: PathBuf,
    /// Address to listen on (and to connect from, when not unspecified).
    pub bind: IpAddr,
    /// Port to listen on (0: any free port).
    pub port: u16,
    /// Trust the data without verifying it.
    pub skip_verify: bool,
    /// Announce to the torrents' trackers.
    pub announce: bool,
    /// Most simultaneous connections per torrent (at least 1).
    pub max_peers: usize,
    /// Peers unchoked at once per torrent (plus one optimistic unchoke).
    pub upload_slots: usize,
    /// The upload cap over every peer of every torrent served.
    pub upload_limit: Arc<RateLimit>,
    /// Time between [`Event::Stats`] events.
    pub stats_interval: Duration,
    /// Time between [`Event::Progress`] events.
    pub progress_interval: Duration,
    /// Which connections are encrypted (MSE/PE), dialed and accepted.
    pub encryption: Policy,
    /// Peers to connect to (each torrent dials them, as it dials peers its trackers name, while
    /// they may lack pieces).
    pub peers: Vec<SocketAddr>,
    /// Raised by the caller to end the session.
    pub stop: Arc<AtomicBool>,
    /// A DHT node to announce each non-private torrent into.
    pub dht: Option<Arc<crate::dht::Node>>,
    /// Called with each torrent's swarm once it exists.
    pub on_swarm: Option<SwarmHook>,
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions {
            dir: PathBuf::from("."),
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 6881,
            skip_verify: false,
            announce: true,
            max_peers: 200,
            upload_slots: 4,
            upload_limit: RateLimit::unlimited(),
            stats_interval: Duration::from_secs(10),
            progress_interval: Duration::from_secs(1),
            encryption: Policy::default(),
            peers: Vec::new(),
            stop: Arc::default(),
            dht: None,
            on_swarm: None,
        }
    }
}

/// Something a session reports. `torrent` is the index of the torrent in the caller's list
/// (always 0 for [`fetch`]).
#[derive(Debug, Clone)]
pub enum Event {
    /// Data on disk is being verified: `done` of `total` bytes checked.
    Verifying {
        /// The torrent.
        torrent: usize,
        /// Bytes checked so far.
        done: u64,
        /// Bytes to check.
        total: u64,
    },
    /// Verification ended: `have` of `pieces` pieces are good (sent once per torrent).
    Verified {
        /// The torrent.
        torrent: usize,
        /// Good pieces.
        have: u32,
        /// Pieces in the torrent.
        pieces: u32,
    },
    /// The listening socket is bound (once per torrent).
    Listening {
        /// The torrent.
        torrent: usize,
        /// The bound address.
        addr: SocketAddr,
    },
    /// A connection event of the swarm.
    Peer {
        /// The torrent.
        torrent: usize,
        /// What happened.
        event: super::Event,
    },
    /// An announce round ended.
    Announced {
        /// The torrent.
        torrent: usize,
        /// Its result.
        result: Announced,
    },
    /// A peer line could not be read.
    BadPeerLine(String),
    /// Periodic state of a torrent.
    Progress {
        /// The torrent.
        torrent: usize,
        /// Counters.
        stats: Stats,
        /// Download rate over the last interval, bytes per second.
        down_rate: u64,
        /// Upload rate over the last interval, bytes per second.
        up_rate: u64,
        /// Time since the session started.
        elapsed: Duration,
    },
    /// `bt-seed`'s periodic counters (every `stats_interval`).
    Stats {
        /// The torrent.
        torrent: usize,
        /// Counters.
        stats: Stats,
        /// Time since the session started.
        elapsed: Duration,
    },
    /// The download completed and the session keeps seeding until stopped.
    Seeding,
}

/// How a download ended.
#[derive(Debug, Clone)]
pub struct FetchReport {
    /// Why the wait ended.
    pub outcome: Outcome,
    /// The final counters.
    pub stats: Stats,
    /// Pieces already verified on disk at the start.
    pub pieces_at_start: u32,
    /// The duration of the session.
    pub elapsed: Duration,
    /// The last encryption failure of a dialed peer, naming it (for the reason of a download
    /// that found no peer).
    pub peer_error: Option<String>,
    /// The stream's reader went away (a closed pipe) before the end.
    pub output_closed: bool,
}

/// Why a session could not run.
#[derive(Debug)]
pub enum SessionError {
    /// A magnet link without an info hash (neither `btih` nor `btmh`).
    NoInfoHash,
    /// The directory is missing or unusable.
    Dir(PathBuf, std::io::Error),
    /// Storage could not be prepared.
    Storage(PathBuf, crate::storage::Error),
    /// Verification failed.
    Verify(crate::verify::Error),
    /// The listening socket could not be bound.
    Listen(SocketAddr, std::io::Error),
    /// No peer source: no peers given, no peer lines, no trackers (or announcing is off).
    NoPeerSource {
        /// Announcing was switched off.
        announce_off: bool,
    },
    /// A seed has none of its pieces.
    NothingToServe,
    /// The system gave no random bytes for our peer id.
    Random(crate::tracker::RandomError),
    /// A magnet's info dictionary could not be had (timed out, stopped, or unusable).
    NoMetadata(String),
    /// The magnet link is unusable.
    Magnet(crate::metainfo::Error),
    /// The `.torrent` could not be written (or exists and `--force` was not given).
    TorrentOut(PathBuf, std::io::Error),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::NoInfoHash => write!(f, "the magnet link has no info hash"),
            SessionError::Dir(p, e) => write!(f, "directory {}: {e}", p.display()),
            SessionError::Storage(p, e) => write!(f, "preparing {}: {e}", p.display()),
            SessionError::Verify(e) => write!(f, "verifying: {e}"),
            SessionError::Listen(a, e) => write!(f, "listening on {a}: {e}"),
            SessionError::NoPeerSource { announce_off: true } => write!(
                f,
                "no peers: give --peer ADDR:PORT or pipe peers into stdin (--no-announce is set)"
            ),
            SessionError::NoPeerSource { announce_off: false } => write!(
                f,
                "no peers: the torrent has no trackers; give --peer ADDR:PORT or pipe peers into stdin"
            ),
            SessionError::Random(e) => write!(f, "no random peer id: {e}"),
            SessionError::NoMetadata(why) => write!(f, "metadata: {why}"),
            SessionError::TorrentOut(p, e) => write!(f, "{}: {e}", p.display()),
            SessionError::Magnet(e) => e.fmt(f),
            SessionError::NothingToServe => write!(
                f,
                "none of the pieces is present and intact: nothing to serve"
            ),
        }
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SessionError::Dir(_, e) | SessionError::Listen(_, e) => Some(e),
            SessionError::TorrentOut(_, e) => Some(e),
            SessionError::Storage(_, e) => Some(e),
            SessionError::Verify(e) => Some(e),
            _ => None,
        }
    }
}

/// Download `t` into `opts.dir`, verifying what is already there first.
pub fn fetch(
    t: &Torrent,
    mut opts: FetchOptions,
    events: &mut dyn FnMut(Event),
) -> Result<FetchReport, SessionError> {
    let started = Instant::now();
    let info_hash = t.swarm_hash();
    let (tx, rx) = mpsc::channel();
    let chosen = opts.chosen.take();
    let (store, have, mem) = match &opts.stream {
        Some(st) if st.no_store => {
            let m = Arc::new(super::pipe::MemWindow::new(t.piece_length, t.total_length));
            (m.clone() as _, vec![false; t.piece_count()], Some(m))
        }
        _ => {
            let (storage, have) = prepare(t, &opts.dir, chosen.as_deref(), events)?;
            // Blocks are small: pread/pwrite beat mapping a window per block.
            (Arc::new(storage.with_io(Io::Plain)) as _, have, None)
        }
    };
    let at_start = have.iter().filter(|h| **h).count() as u32;

    let (listener, local) = listen(opts.bind, opts.port)?;
    let swarm_opts = Options {
        max_peers: opts.max_peers.max(1),
        upload_slots: opts.upload_slots,
        upload_limit: opts.upload_limit.clone(),
        download_limit: opts.download_limit.clone(),
        snub_timeout: opts.snub_timeout.max(Duration::from_secs(1)),
        listen_port: local.port(),
        bind: (!opts.bind.is_unspecified()).then_some(opts.bind),
        encryption: opts.encryption,
        ..Options::default()
    };
    let s = new_swarm(t, info_hash, &have, store, swarm_opts, 0, &tx)?;
    if let Some(hook) = &opts.on_swarm {
        hook(0, &s);
    }
    if let Some(c) = &chosen {
        s.lock()
            .picker
            .choose(&crate::geometry::Geometry::new(t).pieces_of(c));
    }
    if opts.sequential {
        s.lock().picker.set_window(0, u32::MAX, false);
    }
    let lstop = Arc::new(AtomicBool::new(false));
    let closer = listener
        .spawn(vec![s.clone()], 64, s.handshake_timeout(), lstop.clone())
        .map_err(|e| SessionError::Listen(local, e))?;
    events(Event::Listening {
        torrent: 0,
        addr: local,
    });

    let mirrors = web_seeds(t, &opts.web_seeds, events);
    // Peer sources, in order of precedence: peers, peer lines, trackers. Peer lines that end
    // without naming any peer (such as /dev/null) fall through to the trackers. The DHT (not
    // for a private torrent) runs alongside; it counts as a source until a lookup finds peers
    // or three have found none.
    let dht = opts.dht.take().filter(|_| !t.private);
    if let Some(node) = dht.clone() {
        s.source_opened();
        let (s2, mut open) = (s.clone(), true);
        let port = Some(local.port());
        super::dht::spawn(
            node,
            info_hash.0,
            port,
            super::dht::REQUERY,
            lstop.clone(),
            move |p, round| {
                s2.add_peers(p);
                if open && (!p.is_empty() || round >= 2) {
                    (open, _) = (false, s2.source_closed());
                }
                true
            },
        )
        .map_err(|e| SessionError::Listen(local, e))?;
    }
    let tiers = Tiers::from_torrent(t);
    let announce = opts.announce && !tiers.is_empty();
    let announcers: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
    let start_announcer = {
        let (s, lstop, tx, bind, announcers) = (
            s.clone(),
            lstop.clone(),
            tx.clone(),
            opts.bind,
            announcers.clone(),
        );
        move || {
            let h = spawn_announcer(&s, tiers, 0, local.port(), bind, &lstop, &tx);
            announcers.lock().unwrap_or_else(|e| e.into_inner()).push(h);
        }
    };
    if !opts.peers.is_empty() {
        s.add_peers(&opts.peers);
    } else if let Some(lines) = opts.peer_lines.take() {
        s.source_opened();
        let (s2, tx) = (s.clone(), tx.clone());
        std::thread::spawn(move || {
            let n = read_peer_lines(lines, &s2, &tx);
            if n == 0 && announce {
                start_announcer();
            }
            s2.source_closed();
        });
    } else if announce {
        start_announcer();
    } else if !s.complete() && mirrors.is_empty() && dht.is_none() {
        s.shutdown();
        closer.close();
        return Err(SessionError::NoPeerSource {
            announce_off: !opts.announce,
        });
    }
    drop(tx);
    s.start();
    let pipe = opts
        .stream
        .take()
        .map(|st| super::pipe::start(&s, t, st, mem));
    if !s.complete() {
        for m in mirrors {
            webseed::start(&s, m);
        }
    }

    let deadline = opts.timeout.map(|d| started + d);
    let mut ticker = Ticker::new(&s, opts.progress_interval);
    let mut idle = None;
    let mut peer_error = None;
    let mut events = |e: Event| {
        if let Event::Peer {
            event: super::Event::Disconnected { reason, .. },
            ..
        } = &e
        {
            if reason.starts_with(super::stream::ENCRYPTION_FAILED) {
                peer_error = Some(reason.clone());
            }
        }
        events(e)
    };
    let events = &mut events;
    let outcome = loop {
        pump(&rx, Duration::from_millis(50), events);
        if let Some(o) = s.check(&mut idle, &opts.stop) {
            break o;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break Outcome::TimedOut;
        }
        ticker.tick(&s, 0, started, events);
    };
    let (outcome, output_closed) = match pipe {
        Some(p) => p.finish(&s, outcome, &opts.stop, &mut |w| pump(&rx, w, events)),
        None => (outcome, false),
    };
    if outcome == Outcome::Complete && opts.seed {
        events(Event::Seeding);
        while !opts.stop.load(Ordering::Relaxed) {
            pump(&rx, Duration::from_millis(100), events);
            ticker.tick(&s, 0, started, events);
        }
    }
    // Pieces still being written or hashed count before the report is taken.
    s.settle(SETTLE);
    let stats = s.stats();
    s.shutdown();
    closer.close();
    // Web seeds say what they fetched (their requests notice the stop within a read).
    let until = Instant::now() + STOP_GRACE;
    while s.web_seeds() > 0 && Instant::now() < until {
        pump(&rx, Duration::from_millis(20), events);
    }
    let _ = dht.map(|n| n.save());
    let handles = std::mem::take(&mut *announcers.lock().unwrap_or_else(|e| e.into_inner()));
    finish(handles, &rx, events);
    Ok(FetchReport {
        outcome,
        stats,
        pieces_at_start: at_start,
        elapsed: started.elapsed(),
        peer_error,
        output_closed,
    })
}

/// Create (or reopen) the storage of the chosen files in `dir` and verify what is already
/// there (only if something is).
fn prepare(
    t: &Torrent,
    dir: &std::path::Path,
    chosen: Option<&[bool]>,
    events: &mut dyn FnMut(Event),
) -> Result<(Storage, Vec<bool>), SessionError> {
    let existed = crate::storage::parts_path(t, dir).exists()
        || t.files
            .iter()
            .any(|f| !f.pad && dir.join(t.file_path(f)).exists());
    std::fs::create_dir_all(dir).map_err(|e| SessionError::Dir(dir.to_path_buf(), e))?;
    let storage = Storage::create_chosen(t, dir, Io::Mmap, chosen)
        .map_err(|e| SessionError::Storage(dir.join(t.name_lossy()), e))?;
    let have = if existed {
        verify_with_events(t, &storage, chosen, 0, events)?
    } else {
        vec![false; t.piece_count()]
    };
    Ok((storage, have))
}

/// Serve `torrents` (duplicates by info hash are served once) from `opts.dir` on one port until
/// `opts.stop` is raised.
pub fn seed(
    torrents: &[Torrent],
    opts: SeedOptions,
    events: &mut dyn FnMut(Event),
) -> Result<(), SessionError> {
    let started = Instant::now();
    match std::fs::metadata(&opts.dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(SessionError::Dir(
                opts.dir.clone(),
                std::io::Error::other("not a directory"),
            ))
        }
        Err(e) => return Err(SessionError::Dir(opts.dir.clone(), e)),
    }
    let (listener, local) = listen(opts.bind, opts.port)?;
    let swarm_opts = Options {
        max_peers: opts.max_peers.max(1),
        upload_slots: opts.upload_slots.max(1),
        upload_limit: opts.upload_limit.clone(),
        download: false,
        listen_port: local.port(),
        bind: (!opts.bind.is_unspecified()).then_some(opts.bind),
        encryption: opts.encryption,
        ..Options::default()
    };
    let (tx, rx) = mpsc::channel();
    let mut served: Vec<(usize, Arc<Swarm>)> = Vec::new();
    let mut any_piece = false;
    for (i, t) in torrents.iter().enumerate() {
        let info_hash = t.swarm_hash();
        if served
            .iter()
            .any(|(j, _)| torrents[*j].swarm_hash() == info_hash)
        {
            continue;
        }
        let have = if opts.skip_verify {
            vec![true; t.piece_count()]
        } else {
            let storage = Storage::open(t, &opts.dir, Io::Mmap);
            verify_with_events(t, &storage, None, i, events)?
        };
        any_piece |= have.iter().any(|h| *h) || have.is_empty();
        // Blocks are small: pread beats mapping a window per block.
        let store = Arc::new(Storage::open(t, &opts.dir, Io::Plain));
        let s = new_swarm(t, info_hash, &have, store, swarm_opts.clone(), i, &tx)?;
        if let Some(hook) = &opts.on_swarm {
            hook(i, &s);
        }
        served.push((i, s));
    }
    if !any_piece {
        return Err(SessionError::NothingToServe);
    }
    let lstop = Arc::new(AtomicBool::new(false));
    let swarms: Vec<_> = served.iter().map(|(_, s)| s.clone()).collect();
    // Handshakes in progress are capped separately from working connections.
    let closer = listener
        .spawn(swarms, 128, swarm_opts.handshake_timeout, lstop.clone())
        .map_err(|e| SessionError::Listen(local, e))?;
    let mut announcers = Vec::new();
    for (i, s) in &served {
        events(Event::Listening {
            torrent: *i,
            addr: local,
        });
        s.add_peers(&opts.peers);
        s.start();
        if let Some(node) = opts.dht.clone().filter(|_| !torrents[*i].private) {
            let (s2, ih) = (s.clone(), s.info_hash().0);
            let every = super::dht::REANNOUNCE;
            super::dht::spawn(
                node,
                ih,
                Some(local.port()),
                every,
                lstop.clone(),
                move |p, _| {
                    s2.add_peers(p);
                    true
                },
            )
            .map_err(|e| SessionError::Listen(local, e))?;
        }
        let tiers = Tiers::from_torrent(&torrents[*i]);
        if opts.announce && !tiers.is_empty() {
            announcers.push(spawn_announcer(
                s,
                tiers,
                *i,
                local.port(),
                opts.bind,
                &lstop,
                &tx,
            ));
        }
    }
    drop(tx);
    let mut tickers: Vec<Ticker> = served
        .iter()
        .map(|(_, s)| Ticker::new(s, opts.progress_interval))
        .collect();
    let every = opts.stats_interval.max(Duration::from_millis(100));
    let mut next = Instant::now() + every;
    while !opts.stop.load(Ordering::Relaxed) {
        pump(&rx, Duration::from_millis(100), events);
        for ((i, s), ticker) in served.iter().zip(tickers.iter_mut()) {
            ticker.tick(s, *i, started, events);
        }
        if Instant::now() < next {
            continue;
        }
        next += every;
        for (i, s) in &served {
            events(Event::Stats {
                torrent: *i,
                stats: s.stats(),
                elapsed: started.elapsed(),
            });
        }
    }
    // Stopped: say goodbye to the trackers, within the grace period.
    closer.close();
    for (_, s) in &served {
        s.shutdown();
    }
    let _ = opts.dht.map(|n| n.save());
    finish(announcers, &rx, events);
    Ok(())
}

/// The torrent's `url-list` and `extra` mirrors, each once; a URL that cannot be a web seed is
/// reported as an error event and skipped.
fn web_seeds(t: &Torrent, extra: &[String], events: &mut dyn FnMut(Event)) -> Vec<WebSeed> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for url in t.url_list.iter().chain(extra) {
        if !seen.insert(url.as_str()) {
            continue;
        }
        match WebSeed::new(t, url) {
            Ok(w) => out.push(w),
            Err(e) => events(Event::Peer {
                torrent: 0,
                event: super::Event::WebSeed {
                    url: url.clone(),
                    event: webseed::WebSeedEvent::Error {
                        reason: e.reason,
                        status: None,
                    },
                },
            }),
        }
    }
    out
}

fn listen(bind: IpAddr, port: u16) -> Result<(Listener, SocketAddr), SessionError> {
    let want = SocketAddr::new(bind, port);
    let listener = Listener::bind(want).map_err(|e| SessionError::Listen(want, e))?;
    let local = listener
        .local_addr()
        .map_err(|e| SessionError::Listen(want, e))?;
    Ok((listener, local))
}

fn new_swarm(
    t: &Torrent,
    info_hash: InfoHash,
    have: &[bool],
    store: Arc<dyn super::store::PieceStore>,
    mut opts: Options,
    torrent: usize,
    tx: &Sender<Event>,
) -> Result<Arc<Swarm>, SessionError> {
    let tx = tx.clone();
    opts.private = t.private;
    if t.version != Version::V1 {
        opts.pieces = Some(Arc::new(PieceCheck::new(t)));
        opts.info_hash_v2 = t
            .info_hash_v2
            .map(|h| h.truncated())
            .filter(|h| *h != info_hash);
    }
    opts.padding = crate::geometry::Geometry::new(t).padded_pieces();
    opts.info_bytes = (!t.info_bytes.is_empty())
        .then(|| super::pex::InfoBytes(Arc::from(t.info_bytes.as_slice())));
    Swarm::new(SwarmConfig {
        info_hash,
        limits: crate::peer::Limits::for_torrent(t),
        hashes: t.pieces.clone(),
        have,
        store,
        opts,
        events: Box::new(move |event| {
            let _ = tx.send(Event::Peer { torrent, event });
        }),
    })
    .map_err(SessionError::Random)
}

/// Verify `t` in `storage` on a helper thread while this thread reports progress.
fn verify_with_events(
    t: &Torrent,
    storage: &Storage,
    chosen: Option<&[bool]>,
    torrent: usize,
    events: &mut dyn FnMut(Event),
) -> Result<Vec<bool>, SessionError> {
    let done = AtomicU64::new(0);
    let total = t.total_length;
    let report = std::thread::scope(|scope| {
        let job = scope.spawn(|| {
            crate::verify::verify_chosen(t, storage, chosen, &|n| {
                done.fetch_add(n, Ordering::Relaxed);
            })
        });
        let mut shown = 0;
        while !job.is_finished() {
            std::thread::sleep(Duration::from_millis(50));
            let now = done.load(Ordering::Relaxed);
            if now != shown {
                shown = now;
                events(Event::Verifying {
                    torrent,
                    done: now,
                    total,
                });
            }
        }
        job.join()
    });
    let report = match report {
        Ok(r) => r.map_err(SessionError::Verify)?,
        Err(_) => return Err(SessionError::Verify(crate::verify::Error::NoV1Hashes)),
    };
    events(Event::Verified {
        torrent,
        have: report.good_pieces() as u32,
        pieces: report.have.len() as u32,
    });
    Ok(report.have)
}

fn spawn_announcer(
    s: &Arc<Swarm>,
    tiers: Tiers,
    torrent: usize,
    port: u16,
    bind: IpAddr,
    stop: &Arc<AtomicBool>,
    tx: &Sender<Event>,
) -> JoinHandle<()> {
    let tx = tx.clone();
    announce::spawn(
        s.clone(),
        tiers,
        port,
        tracker::Options {
            bind: (!bind.is_unspecified()).then_some(bind),
            ..tracker::Options::default()
        },
        stop.clone(),
        Box::new(move |result| {
            let _ = tx.send(Event::Announced { torrent, result });
        }),
    )
}

/// Read peer lines into the swarm; returns how many peers were named.
fn read_peer_lines(lines: Box<dyn BufRead + Send>, s: &Swarm, tx: &Sender<Event>) -> usize {
    let mut n = 0;
    for line in lines.lines() {
        let Ok(line) = line else { break };
        match crate::record::peer_from_line(&line) {
            Ok(Some(a)) => {
                n += 1;
                s.add_peers(&[a]);
            }
            Ok(None) => {}
            Err(e) => {
                let _ = tx.send(Event::BadPeerLine(e.to_string()));
            }
        }
    }
    n
}

/// Deliver queued events, waiting up to `wait` for the first.
fn pump(rx: &Receiver<Event>, wait: Duration, events: &mut dyn FnMut(Event)) {
    if let Ok(e) = rx.recv_timeout(wait) {
        events(e);
        while let Ok(e) = rx.try_recv() {
            events(e);
        }
    }
}

/// Wait for the announce threads (their `stopped` round) within [`STOP_GRACE`], delivering
/// their events; a thread still blocked after that is left behind.
fn finish(handles: Vec<JoinHandle<()>>, rx: &Receiver<Event>, events: &mut dyn FnMut(Event)) {
    let until = Instant::now() + STOP_GRACE;
    while Instant::now() < until && handles.iter().any(|h| !h.is_finished()) {
        pump(rx, Duration::from_millis(50), events);
    }
    while let Ok(e) = rx.try_recv() {
        events(e);
    }
    for h in handles.into_iter().filter(|h| h.is_finished()) {
        let _ = h.join();
    }
}

/// Periodic [`Event::Progress`] of one swarm, with rates over the interval.
struct Ticker {
    every: Duration,
    next: Instant,
    last: (Instant, u64, u64),
}

impl Ticker {
    fn new(s: &Swarm, every: Duration) -> Ticker {
        let st = s.stats();
        let every = every.max(Duration::from_millis(100));
        Ticker {
            every,
            next: Instant::now() + every,
            last: (Instant::now(), st.downloaded, st.uploaded),
        }
    }

    fn tick(&mut self, s: &Swarm, torrent: usize, started: Instant, events: &mut dyn FnMut(Event)) {
        let now = Instant::now();
        if now < self.next {
            return;
        }
        self.next = now + self.every;
        let stats = s.stats();
        let secs = self.last.0.elapsed().as_secs_f64().max(0.001);
        let down_rate = (stats.downloaded.saturating_sub(self.last.1) as f64 / secs) as u64;
        let up_rate = (stats.uploaded.saturating_sub(self.last.2) as f64 / secs) as u64;
        self.last = (now, stats.downloaded, stats.uploaded);
        events(Event::Progress {
            torrent,
            stats,
            down_rate,
            up_rate,
            elapsed: started.elapsed(),
        });
    }
}
