//! The daemon behind `bt-seed --control`: many torrents in one long-running process, each run
//! as its own job on the engine's entry points, controlled by JSON Lines commands on a Unix
//! socket that only its owner may use ([`Command`]; answers are records: zero or more, then one
//! `ok` or `error`). `--state FILE` keeps what was added, paused and limited across restarts;
//! `--watch-dir DIR` adds the `.torrent` files dropped there and removes those that disappear.
//!
//! Invariants: a torrent (by info hash) is in the table at most once and has at most one job;
//! pausing or removing a torrent stops its job and never touches its files; the state file is
//! rewritten whole (a temporary file renamed over it) after every change of what it lists, so a
//! `kill -9` leaves the last complete version; resuming is by verification only (nothing else
//! is stored).

pub mod client;
mod control;
mod job;
mod proto;
mod state;
mod watch;

pub use job::{Engine, Mode};
pub use proto::Command;

use crate::metainfo::{Magnet, Torrent};
use crate::record::{ErrorRecord, LimitsRecord, OkRecord, Record, StatusFile, StatusRecord};
use crate::swarm::rate::RateLimit;
use job::{lock, Job, Live, Spec};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most peers in a `status` record's `peer_list` (the fastest).
pub const MAX_LISTED_PEERS: usize = 50;

/// What `bt-seed --control` runs; built by the binary from its flags.
pub struct DaemonOptions {
    /// The control socket.
    pub socket: PathBuf,
    /// The state file (`None`: nothing survives a restart).
    pub state: Option<PathBuf>,
    /// The watched directory.
    pub watch_dir: Option<PathBuf>,
    /// Time between two looks at the watched directory.
    pub watch_interval: Duration,
    /// Directory of the torrents on the command line and in the watched directory.
    pub dir: PathBuf,
    /// Torrents from the command line (served, not listed in the state file), with their paths.
    pub torrents: Vec<(PathBuf, Torrent)>,
    /// Peers the command-line torrents and those of the watched directory dial.
    pub peers: Vec<SocketAddr>,
    /// Engine settings of every job.
    pub engine: Engine,
    /// The global upload limit at start (bytes per second), instead of the state file's.
    pub upload_limit: Option<u64>,
    /// Raised to end the daemon.
    pub stop: Arc<AtomicBool>,
    /// Also take commands on this TCP address; clients must first send the token held in the
    /// file (mode 0600 or stricter).
    pub tcp: Option<(SocketAddr, PathBuf)>,
}

impl DaemonOptions {
    /// Options with the default socket, no state file and no watched directory.
    pub fn new(
        dir: PathBuf,
        torrents: Vec<(PathBuf, Torrent)>,
        peers: Vec<SocketAddr>,
        engine: Engine,
        stop: Arc<AtomicBool>,
    ) -> Self {
        DaemonOptions {
            socket: client::default_socket(),
            state: None,
            watch_dir: None,
            watch_interval: Duration::from_secs(1),
            dir,
            torrents,
            peers,
            engine,
            upload_limit: None,
            stop,
            tcp: None,
        }
    }
}

/// Why the daemon could not start.
#[derive(Debug)]
pub enum DaemonError {
    /// The control socket could not be created.
    Socket(PathBuf, std::io::Error),
    /// Another daemon answers on the socket.
    InUse(PathBuf),
    /// The state file is unreadable or malformed.
    State(PathBuf, String),
    /// The TCP control socket could not be bound.
    Tcp(SocketAddr, std::io::Error),
    /// The token file is unreadable, empty or readable by others; or missing for TCP control.
    Token(PathBuf, String),
}

impl fmt::Display for DaemonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaemonError::Socket(p, e) => write!(f, "control socket {}: {e}", p.display()),
            DaemonError::InUse(p) => {
                write!(
                    f,
                    "control socket {}: another daemon answers there",
                    p.display()
                )
            }
            DaemonError::State(p, e) => write!(f, "state file {}: {e}", p.display()),
            DaemonError::Tcp(a, e) => write!(f, "TCP control address {a}: {e}"),
            DaemonError::Token(p, e) => write!(f, "control token {}: {e}", p.display()),
        }
    }
}

impl std::error::Error for DaemonError {}

/// Where a torrent came from (only `Ctl` torrents are listed in the state file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Cli,
    Ctl,
    Watch,
}

/// Rate limits, bytes per second (`None`: unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Limits {
    pub down: Option<u64>,
    pub up: Option<u64>,
}

struct Entry {
    /// `None` while only the magnet is known.
    torrent: Option<Arc<Torrent>>,
    /// The magnet link it was added by (kept in the state file until the metadata is known).
    magnet: Option<String>,
    /// The magnet's display name (`dn`).
    magnet_name: Option<String>,
    hash: String,
    source: PathBuf,
    dir: PathBuf,
    mode: Mode,
    peers: Vec<SocketAddr>,
    limits: Limits,
    origin: Origin,
    paused: bool,
    live: Arc<Mutex<Live>>,
    job: Option<Job>,
    /// The torrent's buckets, children of the global ones.
    down: Arc<RateLimit>,
    up: Arc<RateLimit>,
}

#[derive(Default)]
struct Table {
    entries: Vec<Entry>,
    global: Limits,
}

/// The global buckets: every torrent's buckets are their children.
struct Buckets {
    down: Arc<RateLimit>,
    up: Arc<RateLimit>,
}

/// An error answer: its code and message.
pub(crate) struct Refusal(&'static str, String);

/// The daemon's shared state.
pub(crate) struct Daemon {
    table: Mutex<Table>,
    buckets: Buckets,
    engine: Engine,
    state: Option<PathBuf>,
    stop: Arc<AtomicBool>,
    note: Box<dyn Fn(&str) + Send + Sync>,
    /// Held while the state file is written, so that two writers do not interleave.
    saving: Mutex<()>,
}

/// What is added: a torrent, or a magnet link (its URI, parsed).
enum What {
    Torrent(Box<Torrent>),
    Magnet(String, Magnet),
}

impl Entry {
    /// The name shown: the torrent's, else the magnet's `dn`, else the info hash.
    fn name(&self) -> String {
        match (&self.torrent, &self.magnet_name) {
            (Some(t), _) => t.name_lossy(),
            (None, Some(n)) => n.clone(),
            (None, None) => self.hash.clone(),
        }
    }
}

/// Run the daemon until `opts.stop` is raised: bind the socket, re-add the state file's
/// torrents and the command line's, watch the directory, answer commands. `note` receives
/// diagnostics (a torrent of the state file that cannot be read, a bad file in the watched
/// directory); `ready` is called with the socket path once commands are taken.
pub fn run(
    opts: DaemonOptions,
    note: Box<dyn Fn(&str) + Send + Sync>,
    ready: &mut dyn FnMut(&Path),
) -> Result<(), DaemonError> {
    let saved = match &opts.state {
        Some(p) => state::load(p).map_err(|e| DaemonError::State(p.clone(), e))?,
        None => state::Saved::default(),
    };
    let tcp = match &opts.tcp {
        Some((addr, path)) => {
            let token = control::read_token(path)?;
            Some((control::bind_tcp(*addr)?, token))
        }
        None => None,
    };
    let listener = control::bind(&opts.socket)?;
    let mut global = saved.limits;
    global.up = opts.upload_limit.or(global.up);
    let d = Arc::new(Daemon {
        table: Mutex::new(Table::default()),
        buckets: Buckets {
            down: RateLimit::new(global.down),
            up: RateLimit::new(global.up),
        },
        engine: opts.engine.clone(),
        state: opts.state.clone(),
        stop: opts.stop.clone(),
        note,
        saving: Mutex::new(()),
    });
    lock(&d.table).global = global;
    for (path, t) in opts.torrents {
        let peers = opts.peers.clone();
        let t = What::Torrent(Box::new(t));
        let add = d.insert(t, path, opts.dir.clone(), Mode::Seed, peers, Origin::Cli);
        if let Err(Refusal(_, e)) = add.and_then(|h| d.set_paused(&h, false)) {
            (d.note)(&e);
        }
    }
    for s in saved.torrents {
        if let Err(e) = d.restore(s) {
            (d.note)(&e);
        }
    }
    let server = control::spawn(d.clone(), listener);
    let tcp_server = tcp.map(|(l, token)| control::spawn_tcp(d.clone(), l, token));
    let watcher = opts
        .watch_dir
        .map(|w| watch::spawn(d.clone(), w, opts.dir, opts.peers, opts.watch_interval));
    ready(&opts.socket);
    while !opts.stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if let Err(Refusal(_, e)) = d.adopt_metadata() {
            (d.note)(&e);
        }
    }
    let _ = std::fs::remove_file(&opts.socket);
    let jobs: Vec<Job> = lock(&d.table)
        .entries
        .iter_mut()
        .filter_map(|e| e.job.take())
        .collect();
    jobs.iter().for_each(Job::stop);
    let deadline = Instant::now() + crate::swarm::session::STOP_GRACE + Duration::from_secs(2);
    for j in jobs {
        j.stop_and_wait(deadline);
    }
    let _ = server.join();
    if let Some(t) = tcp_server {
        let _ = t.join();
    }
    if let Some(w) = watcher {
        let _ = w.join();
    }
    Ok(())
}

impl Daemon {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Add a torrent or magnet (not started); its info hash.
    fn insert(
        &self,
        what: What,
        source: PathBuf,
        dir: PathBuf,
        mode: Mode,
        peers: Vec<SocketAddr>,
        origin: Origin,
    ) -> Result<String, Refusal> {
        let (torrent, magnet, magnet_name, hash) = match what {
            What::Torrent(t) => {
                let hash = t.swarm_hash().hex();
                (Some(Arc::new(*t)), None, None, hash)
            }
            What::Magnet(uri, m) => {
                let hash = match (m.info_hash, m.info_hash_v2) {
                    (Some(h), _) => h.hex(),
                    (None, Some(h)) => h.truncated().hex(),
                    (None, None) => {
                        return Err(Refusal("bad_command", format!("{uri}: no info hash")))
                    }
                };
                (None, Some(uri), m.name, hash)
            }
        };
        let mut table = lock(&self.table);
        if let Some(e) = table.entries.iter().find(|e| e.hash == hash) {
            let e = format!("{hash} ({}) is already added", e.name());
            return Err(Refusal("exists", e));
        }
        table.entries.push(Entry {
            torrent,
            magnet,
            magnet_name,
            hash: hash.clone(),
            source,
            dir,
            mode,
            peers,
            limits: Limits::default(),
            origin,
            paused: true,
            live: Arc::new(Mutex::new(Live::new("paused"))),
            job: None,
            down: self.buckets.down.child(None),
            up: self.buckets.up.child(None),
        });
        Ok(hash)
    }

    fn restore(&self, s: state::SavedTorrent) -> Result<(), String> {
        let (what, source) = match (s.torrent, s.magnet) {
            (Some(p), m) => match (read_torrent(&p), m) {
                (Ok(t), _) => (What::Torrent(Box::new(t)), p),
                (Err(e), None) => return Err(e),
                // The .torrent built from the magnet is gone: fetch the metadata again.
                (Err(_), Some(uri)) => {
                    let m = Magnet::parse(&uri).map_err(|e| e.to_string())?;
                    (What::Magnet(uri, m), PathBuf::new())
                }
            },
            (None, Some(uri)) => {
                let m = Magnet::parse(&uri).map_err(|e| e.to_string())?;
                (What::Magnet(uri, m), PathBuf::new())
            }
            (None, None) => {
                return Err("a torrent of the state file has neither torrent nor magnet".into())
            }
        };
        let hash = self
            .insert(what, source, s.dir, s.mode, s.peers, Origin::Ctl)
            .map_err(|Refusal(_, e)| e)?;
        if let Some(e) = lock(&self.table)
            .entries
            .iter_mut()
            .find(|e| e.hash == hash)
        {
            e.limits = s.limits;
            e.down.set_rate(s.limits.down);
            e.up.set_rate(s.limits.up);
        }
        self.set_paused(&hash, s.paused).map_err(|Refusal(_, e)| e)
    }

    /// Find the torrent `id` names: an info hash, a prefix of one (4 hex digits at least), or
    /// a name; its info hash.
    fn resolve(&self, id: &str) -> Result<String, Refusal> {
        let table = lock(&self.table);
        let id_l = id.to_ascii_lowercase();
        let by_hash: Vec<&Entry> = table
            .entries
            .iter()
            .filter(|e| id.len() >= 4 && e.hash.starts_with(&id_l))
            .collect();
        let found: Vec<&Entry> = if by_hash.is_empty() {
            let name = |e: &&Entry| e.name() == id;
            table.entries.iter().filter(name).collect()
        } else {
            by_hash
        };
        match found.as_slice() {
            [one] => Ok(one.hash.clone()),
            [] => Err(Refusal("not_found", format!("no torrent matches {id:?}"))),
            _ => Err(Refusal(
                "bad_command",
                format!(
                    "{id:?} matches {} torrents: give more of the info hash",
                    found.len()
                ),
            )),
        }
    }

    /// Pause (stop the job) or resume (start one) the torrent `hash`.
    fn set_paused(&self, hash: &str, paused: bool) -> Result<(), Refusal> {
        // A job still stopping is waited for outside the lock, so that its successor does
        // not open the same files while it writes.
        let old = {
            let mut table = lock(&self.table);
            let e = entry(&mut table, hash)?;
            e.paused = paused;
            let old = if paused { e.job.take() } else { None };
            if let Some(j) = &old {
                j.stop();
            }
            old
        };
        if let Some(j) = old {
            j.stop_and_wait(Instant::now() + Duration::from_secs(30));
        }
        let mut table = lock(&self.table);
        let e = entry(&mut table, hash)?;
        if e.paused {
            lock(&e.live).state = "paused";
        } else if e.job.is_none() {
            let spec = Spec {
                torrent: e.torrent.clone(),
                magnet: e.magnet.clone(),
                torrent_out: self.state.as_deref().map(|s| metadata_file(s, hash)),
                dir: e.dir.clone(),
                mode: e.mode,
                peers: e.peers.clone(),
                down: e.down.clone(),
                up: e.up.clone(),
                engine: self.engine.clone(),
            };
            let job = Job::start(spec, e.live.clone())
                .map_err(|err| Refusal("failed", format!("starting {hash}: {err}")))?;
            e.job = Some(job);
        }
        Ok(())
    }

    /// Stop and forget the torrent `hash` (its files stay).
    fn remove(&self, hash: &str) -> Result<(), Refusal> {
        let e = {
            let mut table = lock(&self.table);
            let i = table.entries.iter().position(|e| e.hash == hash);
            let i = i.ok_or_else(|| Refusal("not_found", format!("no torrent {hash}")))?;
            table.entries.remove(i)
        };
        if let Some(j) = e.job {
            j.stop();
        }
        Ok(())
    }

    /// The torrents whose files the watcher added (path, info hash).
    fn watched(&self) -> Vec<(PathBuf, String)> {
        let table = lock(&self.table);
        let watched = table.entries.iter().filter(|e| e.origin == Origin::Watch);
        watched
            .map(|e| (e.source.clone(), e.hash.clone()))
            .collect()
    }

    /// Take the torrents that magnet jobs built from their metadata (they are listed from then
    /// on and the state file names their `.torrent` instead of the magnet).
    fn adopt_metadata(&self) -> Result<(), Refusal> {
        let mut adopted = false;
        for e in lock(&self.table).entries.iter_mut() {
            if e.torrent.is_some() {
                continue;
            }
            if let Some((t, out)) = lock(&e.live).metadata.take() {
                e.torrent = Some(t);
                e.source = out.unwrap_or_default();
                adopted = true;
            }
        }
        if adopted {
            self.save()?;
        }
        Ok(())
    }

    /// Rewrite the state file with the torrents added by commands.
    fn save(&self) -> Result<(), Refusal> {
        let Some(path) = &self.state else {
            return Ok(());
        };
        let _saving = lock(&self.saving);
        let saved = {
            let table = lock(&self.table);
            let ctl = table.entries.iter().filter(|e| e.origin == Origin::Ctl);
            state::Saved {
                limits: table.global,
                torrents: ctl
                    .map(|e| state::SavedTorrent {
                        torrent: e.torrent.is_some().then(|| e.source.clone()),
                        magnet: e.magnet.clone(),
                        dir: e.dir.clone(),
                        mode: e.mode,
                        paused: e.paused,
                        peers: e.peers.clone(),
                        limits: e.limits,
                    })
                    .collect(),
            }
        };
        state::save(path, &saved).map_err(|e| {
            Refusal(
                "failed",
                format!("writing the state file {}: {e}", path.display()),
            )
        })
    }

    /// The `status` records of every torrent (or of `only`).
    fn statuses(&self, only: Option<&str>, detail: bool) -> Vec<StatusRecord> {
        let table = lock(&self.table);
        let chosen = table
            .entries
            .iter()
            .filter(|e| only.is_none_or(|h| e.hash == h));
        chosen.map(|e| status(e, detail)).collect()
    }

    /// Carry out one command, writing its answer with `out`.
    fn handle(
        &self,
        cmd: Command,
        out: &mut dyn FnMut(Record) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let name = cmd.name();
        let answer = match cmd {
            Command::Watch { interval } => return self.watch(interval, out),
            Command::List { torrent, detail } => {
                let only = torrent.map(|t| self.resolve(&t)).transpose();
                only.map(|only| {
                    let list = self.statuses(only.as_deref(), detail);
                    let count = list.len();
                    (
                        list.into_iter().map(Record::from).collect(),
                        None,
                        Some(count),
                    )
                })
            }
            Command::Add {
                torrent,
                dir,
                seed_only,
                peers,
                paused,
            } => self.add(&torrent, dir, seed_only, &peers, paused),
            Command::Remove { torrent } => self
                .resolve(&torrent)
                .and_then(|h| self.remove(&h).map(|()| h))
                .and_then(|h| self.save().map(|()| (vec![], Some(h), None))),
            Command::Pause { torrent } | Command::Resume { torrent } => {
                let pause = name == "pause";
                self.resolve(&torrent)
                    .and_then(|h| self.set_paused(&h, pause).map(|()| h))
                    .and_then(|h| self.save().map(|()| (vec![], Some(h), None)))
            }
            Command::Limit { torrent, down, up } => self.limit(torrent.as_deref(), down, up),
        };
        match answer {
            Ok((records, info_hash, count)) => {
                for r in records {
                    out(r)?;
                }
                let cmd = name.to_string();
                out(OkRecord {
                    cmd,
                    info_hash,
                    count,
                }
                .into())
            }
            Err(Refusal(code, error)) => out(error_record(Some(name), code, error)),
        }
    }

    fn add(
        &self,
        torrent: &str,
        dir: Option<String>,
        seed_only: bool,
        peers: &[String],
        paused: bool,
    ) -> Answer {
        let Some(dir) = dir else {
            return Err(Refusal("bad_command", "add: missing field `dir`".into()));
        };
        let dir = absolute("dir", &dir)?;
        let peers = peers
            .iter()
            .map(|p| p.parse().map_err(|_| format!("peer {p:?} is not ip:port")))
            .collect::<Result<Vec<SocketAddr>, String>>()
            .map_err(|e| Refusal("bad_command", e))?;
        let (what, source) = if torrent.starts_with("magnet:") {
            let m = Magnet::parse(torrent).map_err(|e| Refusal("bad_command", e.to_string()))?;
            (What::Magnet(torrent.to_string(), m), PathBuf::new())
        } else {
            let source = absolute("torrent", torrent)?;
            let t = read_torrent(&source).map_err(|e| Refusal("failed", e))?;
            (What::Torrent(Box::new(t)), source)
        };
        let mode = if seed_only { Mode::Seed } else { Mode::Fetch };
        let hash = self.insert(what, source, dir, mode, peers, Origin::Ctl)?;
        self.set_paused(&hash, paused)?;
        self.save()?;
        Ok((vec![], Some(hash), None))
    }

    fn limit(&self, torrent: Option<&str>, down: Option<u64>, up: Option<u64>) -> Answer {
        let hash = torrent.map(|t| self.resolve(t)).transpose()?;
        let set = |old: Option<u64>, new: Option<u64>| match new {
            Some(0) => None,
            Some(n) => Some(n),
            None => old,
        };
        let limits = {
            let mut table = lock(&self.table);
            let (l, buckets) = match &hash {
                Some(h) => {
                    let e = entry(&mut table, h)?;
                    (&mut e.limits, (e.down.clone(), e.up.clone()))
                }
                None => {
                    let b = (self.buckets.down.clone(), self.buckets.up.clone());
                    (&mut table.global, b)
                }
            };
            l.down = set(l.down, down);
            l.up = set(l.up, up);
            // The running jobs see the new rates within a slice of the bucket's wait.
            buckets.0.set_rate(l.down);
            buckets.1.set_rate(l.up);
            *l
        };
        self.save()?;
        let record = LimitsRecord {
            info_hash: hash.clone(),
            down: limits.down,
            up: limits.up,
        };
        Ok((vec![record.into()], hash, None))
    }

    /// Write every torrent's `status` each `interval` seconds until the reader goes away or
    /// the daemon stops.
    fn watch(
        &self,
        interval: Option<f64>,
        out: &mut dyn FnMut(Record) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let every = Duration::from_secs_f64(interval.unwrap_or(1.0).clamp(0.1, 3600.0));
        while !self.stopping() {
            for s in self.statuses(None, false) {
                out(s.into())?;
            }
            let until = Instant::now() + every;
            while Instant::now() < until && !self.stopping() {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }
}

/// Records before the `ok`, its info hash and count.
type Answer = Result<(Vec<Record>, Option<String>, Option<usize>), Refusal>;

fn entry<'a>(table: &'a mut Table, hash: &str) -> Result<&'a mut Entry, Refusal> {
    let found = table.entries.iter_mut().find(|e| e.hash == hash);
    found.ok_or_else(|| Refusal("not_found", format!("no torrent {hash}")))
}

fn absolute(what: &str, p: &str) -> Result<PathBuf, Refusal> {
    let path = PathBuf::from(p);
    if path.is_absolute() {
        Ok(path)
    } else {
        let e = format!("{what} {p:?} is not an absolute path");
        Err(Refusal("bad_command", e))
    }
}

/// Read and validate a `.torrent` (at most the bencode size limit); errors name the file.
fn read_torrent(path: &Path) -> Result<Torrent, String> {
    use std::io::Read;
    let limit = crate::bencode::Limits::default().max_size as u64 + 1;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limit).read_to_end(&mut bytes))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Torrent::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Where the `.torrent` built from the metadata of the magnet `hash` is kept: a directory
/// beside the state file (`STATE.torrents/HASH.torrent`).
fn metadata_file(state: &Path, hash: &str) -> PathBuf {
    let mut dir = state.as_os_str().to_owned();
    dir.push(".torrents");
    PathBuf::from(dir).join(format!("{hash}.torrent"))
}

fn error_record(cmd: Option<&str>, code: &str, error: String) -> Record {
    let cmd = cmd.map(str::to_string);
    let code = code.to_string();
    ErrorRecord { cmd, code, error }.into()
}

fn status(e: &Entry, detail: bool) -> StatusRecord {
    let live = lock(&e.live).clone();
    let (total, pieces) = e
        .torrent
        .as_ref()
        .map_or((0, 0), |t| (t.total_length, t.piece_count() as u32));
    let (downloaded, uploaded) = live.totals();
    let left = total.saturating_sub(live.bytes_have);
    let eta = (live.state == "downloading" && live.down_rate > 0)
        .then(|| left as f64 / live.down_rate as f64);
    let files = detail.then(|| {
        let Some(t) = &e.torrent else { return vec![] };
        let real = t.files.iter().filter(|f| !f.pad);
        real.map(|f| StatusFile {
            path: t.file_path(f).to_string_lossy().into_owned(),
            length: f.length,
        })
        .collect()
    });
    StatusRecord {
        info_hash: e.hash.clone(),
        name: e.name(),
        state: live.state.to_string(),
        progress: live.bytes_have as f64 / total.max(1) as f64,
        pieces_have: live.pieces_have,
        pieces,
        bytes_have: live.bytes_have,
        bytes_total: total,
        down_rate: live.down_rate,
        up_rate: live.up_rate,
        peers: live.peers,
        uploaded,
        downloaded,
        ratio: uploaded as f64 / total.max(1) as f64,
        eta,
        dir: e.dir.to_string_lossy().into_owned(),
        mode: e.mode.name().to_string(),
        down_limit: e.limits.down,
        up_limit: e.limits.up,
        port: live.port,
        error: live.error,
        files,
        peer_list: detail.then(|| {
            let mut list: Vec<_> = live.peer_list.into_values().collect();
            list.sort_by_key(|p| std::cmp::Reverse(p.down_rate + p.up_rate));
            list.truncate(MAX_LISTED_PEERS);
            list
        }),
        piece_map: live.piece_map.filter(|_| detail),
    }
}
