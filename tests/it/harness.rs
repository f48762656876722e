//! The one harness of the swarm and stress tests.
//!
//! - [`records`]: a tool's stdout read into the library's typed records (the only place that
//!   knows how a line maps to a record type).
//! - [`Sample`]: deterministic files and their torrent (made by mktorrent or bt-make).
//! - [`Seeder`]: bt-seed in the background on its own loopback address, started once it wrote
//!   its `listening` record, killed by PID when dropped.
//! - [`Fetcher`]: a builder for bt-fetch, run to completion ([`Fetcher::run`]) or in the
//!   background ([`Fetcher::spawn`]) with its records collected as they come.
//! - [`Wire`]: one connection speaking the real wire protocol (encoded and decoded by
//!   `bt::peer`), dialed to a seeder or accepted by a [`FakePeer`], which listens on its own
//!   loopback address and plays a scripted [`Behaviour`] on every connection.
//! - [`Watch`]: a process's peak threads and memory while a scenario runs.
//!
//! Every socket has a timeout, every wait a bound, every process is killed by PID; nothing
//! leaves 127.0.0.0/8.
#![allow(dead_code)]

use crate::common::*;
use bt::peer::{self, Block, Handshake, Limits, Message, PeerId};
use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Records.

pub use bt::record::{
    FetchSummaryRecord as Summary, ListeningRecord as Listening, MadeTorrent as Made,
    PeerEventRecord as PeerEvent, PeerRecord as Peer, ProgressRecord as Progress,
    StatsRecord as Stats, TorrentRecord as Torrent, VerifySummary,
};

/// One line of a tool's stdout, read into the library's record type.
#[derive(Debug, Clone)]
pub enum Record {
    Listening(Listening),
    PeerEvent(PeerEvent),
    Peer(Peer),
    Stats(Stats),
    Progress(Progress),
    Summary(Summary),
    VerifySummary(VerifySummary),
    Made(Made),
    Torrent(Box<Torrent>),
    Other(serde_json::Value),
}

/// Every line of `out` as a typed record; panics on a line that is not JSON or that does not
/// fit the type its `type` names.
pub fn records(out: &str) -> Vec<Record> {
    fn typed<T: serde::de::DeserializeOwned>(line: &str) -> T {
        serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("record {line:?} does not fit its type: {e}"))
    }
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}"));
            let has = |k: &str| v.get(k).is_some();
            match v["type"].as_str().unwrap_or("") {
                "listening" => Record::Listening(typed(line)),
                "peer" if has("event") => Record::PeerEvent(typed(line)),
                "peer" => Record::Peer(typed(line)),
                "stats" => Record::Stats(typed(line)),
                "progress" => Record::Progress(typed(line)),
                "summary" if has("pieces_fetched") => Record::Summary(typed(line)),
                "summary" => Record::VerifySummary(typed(line)),
                "torrent" if has("output") => Record::Made(typed(line)),
                "torrent" => Record::Torrent(typed(line)),
                _ => Record::Other(v),
            }
        })
        .collect()
}

/// A record type that [`of`] can pick out of a stream.
pub trait Kind: Clone {
    fn pick(r: &Record) -> Option<&Self>;
}

macro_rules! kinds {
    ($($t:ident),*) => {$(
        impl Kind for $t {
            fn pick(r: &Record) -> Option<&Self> {
                match r {
                    Record::$t(x) => Some(std::borrow::Borrow::borrow(x)),
                    _ => None,
                }
            }
        }
    )*};
}
kinds!(
    Listening,
    PeerEvent,
    Peer,
    Stats,
    Progress,
    Summary,
    VerifySummary,
    Made,
    Torrent
);

/// The records of one type in `out`.
pub fn of<T: Kind>(out: &str) -> Vec<T> {
    records(out).iter().filter_map(T::pick).cloned().collect()
}

/// bt-fetch's summary: exactly one.
pub fn summary(r: &Run) -> Summary {
    let s = of::<Summary>(&r.stdout_str());
    assert_eq!(s.len(), 1, "one summary: {}\n{}", r.stdout_str(), r.stderr);
    s[0].clone()
}

/// `peer` records of `event` for the peer at `ip` (any port when `port` is None).
pub fn peer_events(recs: &[PeerEvent], event: &str, ip: &str, port: Option<u16>) -> Vec<PeerEvent> {
    recs.iter()
        .filter(|p| p.event == event && p.ip == ip && port.is_none_or(|x| x == p.port))
        .cloned()
        .collect()
}

/// Lines a background process writes on stdout, collected by a thread.
#[derive(Clone, Default)]
pub struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn collect(out: impl Read + Send + 'static) -> Lines {
        let lines = Lines::default();
        let l2 = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                l2.0.lock().unwrap().push(line);
            }
        });
        lines
    }

    /// The records of one type written so far.
    pub fn of<T: Kind>(&self) -> Vec<T> {
        let text = self.0.lock().unwrap().join("\n");
        of(&text)
    }
}

/// Wait until `cond` holds, polling every 20 ms; false after `secs`.
pub fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

// ---------------------------------------------------------------------------------------------
// Sample data and torrents.

/// Four files of uneven sizes with an empty one.
pub const SAMPLE: &[(&str, usize)] = &[
    ("a.bin", 300_001),
    ("docs/b.bin", 77_777),
    ("docs/empty.txt", 0),
    ("z.bin", 654_321),
];

/// A tracker URL where nothing answers (the discard port).
pub const NO_TRACKER: &str = "http://127.0.0.1:9/announce";

/// Which program makes a sample's torrent.
#[derive(Clone, Copy, Debug)]
pub enum Maker {
    Mktorrent,
    BtMake,
}

/// Make a torrent of `src` at `out` announcing to `tracker`, in pieces of 2^`piece_log2`.
pub fn make_torrent(maker: Maker, src: &Path, out: &Path, piece_log2: u32, tracker: &str) {
    let _ = std::fs::remove_file(out);
    match maker {
        Maker::Mktorrent => {
            let r = run_cmd(
                Command::new("mktorrent")
                    .args(["-l", &piece_log2.to_string(), "-d", "-a", tracker, "-o"])
                    .arg(out)
                    .arg(src),
                None,
                Duration::from_secs(30),
            );
            assert_eq!(r.code, 0, "mktorrent: {}", r.stderr);
        }
        Maker::BtMake => {
            let r = bt(
                "bt-make",
                &[
                    src.to_str().unwrap(),
                    "-o",
                    out.to_str().unwrap(),
                    "-a",
                    tracker,
                    "--piece-length",
                    &(1u64 << piece_log2).to_string(),
                    "--json",
                ],
            );
            assert_eq!(r.code, 0, "bt-make: {}", r.stderr);
            let made = of::<Made>(&r.stdout_str()).pop().expect("a torrent record");
            let (info_hash, limits) = torrent_limits(out);
            assert_eq!(made.info_hash, bt::metainfo::hex(&info_hash));
            assert_eq!(limits.piece_count as u64, made.piece_count);
            assert_eq!(made.piece_length, 1 << piece_log2);
        }
    }
}

/// A torrent file's v1 info hash and wire limits, read by the library.
pub fn torrent_limits(t: &Path) -> ([u8; 20], Limits) {
    let bytes = std::fs::read(t).unwrap();
    let tor = bt::metainfo::Torrent::from_bytes(&bytes).unwrap();
    (tor.info_hash.unwrap().0, Limits::for_torrent(&tor))
}

/// Deterministic files under `seed/NAME` in a fresh temporary directory, and their torrent.
pub struct Sample {
    pub dir: tempfile::TempDir,
    pub torrent: PathBuf,
    pub info_hash: [u8; 20],
    pub limits: Limits,
    /// (path below the seed directory, length), in the order they were written.
    pub files: Vec<(String, usize)>,
    name: String,
    maker: Maker,
    piece_log2: u32,
}

impl Sample {
    /// [`SAMPLE`] under `seed/sample`, 32 KiB pieces, made by mktorrent.
    pub fn standard() -> Sample {
        Sample::new(Maker::Mktorrent, "sample", SAMPLE, 15)
    }

    /// `files` under `seed/data` in 64 KiB pieces, made by bt-make.
    pub fn data(files: &[(&str, usize)]) -> Sample {
        Sample::new(Maker::BtMake, "data", files, 16)
    }

    /// `files` (paths below `seed/NAME`) made into a torrent by `maker`.
    pub fn new(maker: Maker, name: &str, files: &[(&str, usize)], piece_log2: u32) -> Sample {
        let dir = tempdir();
        let files: Vec<(String, usize)> = files
            .iter()
            .map(|(p, n)| (format!("{name}/{p}"), *n))
            .collect();
        let tree: Vec<(&str, usize)> = files.iter().map(|(p, n)| (p.as_str(), *n)).collect();
        write_tree(&dir.path().join("seed"), &tree);
        let torrent = dir.path().join(format!("{name}.torrent"));
        let src = dir.path().join("seed").join(name);
        make_torrent(maker, &src, &torrent, piece_log2, NO_TRACKER);
        let (info_hash, limits) = torrent_limits(&torrent);
        Sample {
            dir,
            torrent,
            info_hash,
            limits,
            files,
            name: name.to_string(),
            maker,
            piece_log2,
        }
    }

    /// Make the torrent again announcing to `url` (the info hash does not change).
    pub fn announce_to(&self, url: &str) {
        let src = self.seed_dir().join(&self.name);
        make_torrent(self.maker, &src, &self.torrent, self.piece_log2, url);
        assert_eq!(torrent_limits(&self.torrent).0, self.info_hash);
    }

    pub fn info_hash_hex(&self) -> String {
        bt::metainfo::hex(&self.info_hash)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn seed_dir(&self) -> PathBuf {
        self.path("seed")
    }

    /// Pieces in the torrent.
    pub fn pieces(&self) -> u64 {
        self.limits.piece_count as u64
    }

    /// Bytes of content.
    pub fn total(&self) -> usize {
        self.files.iter().map(|f| f.1).sum()
    }

    /// The content as one stream, in torrent order (the sample files' names sort in the
    /// order they are listed).
    pub fn stream(&self) -> Vec<u8> {
        self.files
            .iter()
            .flat_map(|(p, _)| std::fs::read(self.seed_dir().join(p)).unwrap())
            .collect()
    }

    /// Write the sample's files under `root`, as in the seed directory.
    pub fn copy_to(&self, root: &Path) {
        for (p, _) in &self.files {
            std::fs::create_dir_all(root.join(p).parent().unwrap()).unwrap();
            std::fs::copy(self.seed_dir().join(p), root.join(p)).unwrap();
        }
    }

    /// The files under `dl` are byte for byte the seeder's.
    pub fn assert_same(&self, dl: &Path) {
        for (p, _) in &self.files {
            let a = std::fs::read(self.seed_dir().join(p)).unwrap();
            let b = std::fs::read(dl.join(p)).unwrap_or_else(|e| panic!("{p} in {dl:?}: {e}"));
            assert!(a == b, "{p} differs from the seeder's copy");
        }
    }

    /// Overwrite `len` bytes at `at` of the content stream as it lies under `root`.
    pub fn damage(&self, root: &Path, mut at: usize, mut len: usize) {
        for (p, size) in &self.files {
            if len == 0 {
                break;
            }
            if at >= *size {
                at -= size;
                continue;
            }
            let path = root.join(p);
            let mut d = std::fs::read(&path).unwrap();
            let n = len.min(size - at);
            for b in &mut d[at..at + n] {
                *b ^= 0xa5;
            }
            std::fs::write(&path, d).unwrap();
            len -= n;
            at = 0;
        }
    }

    /// bt-verify over `dl`: (exit code, good pieces, sorted bad piece indices).
    pub fn verify(&self, dl: &Path) -> (i32, u64, Vec<u64>) {
        let r = bt(
            "bt-verify",
            &[
                self.torrent.to_str().unwrap(),
                "-d",
                dl.to_str().unwrap(),
                "--bad-pieces",
                "--json",
            ],
        );
        assert!(r.code == 0 || r.code == 1, "bt-verify: {}", r.stderr);
        let s = of::<VerifySummary>(&r.stdout_str())
            .pop()
            .expect("a verify summary");
        let mut bad: Vec<u64> = s
            .bad_piece_indices
            .unwrap_or_default()
            .into_iter()
            .map(|p| p as u64)
            .collect();
        bad.sort_unstable();
        (r.code, s.good_pieces as u64, bad)
    }
}

/// A loopback address of its own for each seeder and fake peer of this test binary
/// (127.0.1.1, 127.0.1.2, ...; tests that name addresses use 127.0.0.x).
pub fn next_ip() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("127.0.{}.{}", 1 + n / 254, 1 + n % 254)
}

// ---------------------------------------------------------------------------------------------
// bt-seed.

/// How to start a bt-seed: [`Seeder::of`], then options, then [`SeederOpts::start`].
pub struct SeederOpts {
    torrent: PathBuf,
    dir: PathBuf,
    ip: String,
    args: Vec<String>,
    announce: bool,
}

impl SeederOpts {
    /// Serve from `dir` instead of the sample's seed directory.
    pub fn dir(mut self, dir: &Path) -> Self {
        self.dir = dir.to_path_buf();
        self
    }
    pub fn ip(mut self, ip: &str) -> Self {
        self.ip = ip.to_string();
        self
    }
    /// `--max-upload-rate RATE`.
    pub fn rate(self, rate: &str) -> Self {
        self.args(&["--max-upload-rate", rate])
    }
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|s| s.to_string()));
        self
    }
    /// Announce to the torrent's trackers (the default is `--no-announce`).
    pub fn announce(mut self) -> Self {
        self.announce = true;
        self
    }

    /// Start it and wait (30 s at most) for its `listening` record.
    pub fn start(self) -> Seeder {
        let mut cmd = Command::new(bin("bt-seed"));
        cmd.arg(&self.torrent)
            .arg("-d")
            .arg(&self.dir)
            .args(["--bind", &self.ip, "--port", "0", "--json"])
            .args(["--stats-interval", "1"])
            .args(if self.announce {
                &[][..]
            } else {
                &["--no-announce"][..]
            })
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut bg = Bg::spawn(&mut cmd, "bt-seed");
        let lines = Lines::collect(bg.child.stdout.take().unwrap());
        let start = Instant::now();
        loop {
            if let Some(l) = lines.of::<Listening>().pop() {
                let addr = format!("{}:{}", self.ip, l.port).parse().unwrap();
                return Seeder { bg, addr, lines };
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "bt-seed wrote no listening record"
            );
            if let Some(status) = bg.child.try_wait().unwrap() {
                panic!("bt-seed exited early: {status}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A running bt-seed, killed by PID when dropped.
pub struct Seeder {
    pub bg: Bg,
    pub addr: SocketAddr,
    lines: Lines,
}

impl Seeder {
    /// A seeder of `s` from its seed directory, on an address of its own, `--no-announce`.
    pub fn of(s: &Sample) -> SeederOpts {
        Seeder::of_torrent(&s.torrent, &s.seed_dir())
    }

    /// A seeder of `torrent` from `dir`, on an address of its own, `--no-announce`.
    pub fn of_torrent(torrent: &Path, dir: &Path) -> SeederOpts {
        SeederOpts {
            torrent: torrent.to_path_buf(),
            dir: dir.to_path_buf(),
            ip: next_ip(),
            args: Vec::new(),
            announce: false,
        }
    }

    /// `ip:port`, as `--peer` takes it.
    pub fn peer(&self) -> String {
        self.addr.to_string()
    }
    pub fn ip(&self) -> String {
        self.addr.ip().to_string()
    }
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
    pub fn pid(&self) -> u32 {
        self.bg.pid()
    }
    /// The records of one type it wrote so far.
    pub fn records<T: Kind>(&self) -> Vec<T> {
        self.lines.of()
    }
    /// SIGKILL, and wait (10 s at most) until it is gone.
    pub fn kill(&mut self) {
        signal(self.pid(), 9);
        self.bg
            .wait_timeout(Duration::from_secs(10))
            .expect("bt-seed killed");
    }
}

// ---------------------------------------------------------------------------------------------
// bt-fetch.

/// A bt-fetch command line: `--json --no-announce --bind 127.0.0.1 --timeout 60` unless told
/// otherwise.
#[derive(Clone)]
pub struct Fetcher {
    torrent: PathBuf,
    dir: PathBuf,
    bind: String,
    timeout: u64,
    announce: bool,
    args: Vec<String>,
    fsize_blocks: Option<u64>,
}

impl Fetcher {
    pub fn new(torrent: &Path, dir: &Path) -> Fetcher {
        Fetcher {
            torrent: torrent.to_path_buf(),
            dir: dir.to_path_buf(),
            bind: "127.0.0.1".into(),
            timeout: 60,
            announce: false,
            args: Vec::new(),
            fsize_blocks: None,
        }
    }
    /// `--peer ADDR`.
    pub fn peer(self, addr: impl std::fmt::Display) -> Self {
        self.args(&["--peer", &addr.to_string()])
    }
    /// `--timeout SECS` (the run's deadline is 30 s more).
    pub fn timeout(mut self, secs: u64) -> Self {
        self.timeout = secs;
        self
    }
    pub fn bind(mut self, ip: &str) -> Self {
        self.bind = ip.to_string();
        self
    }
    /// Announce to the torrent's trackers (the default is `--no-announce`).
    pub fn announce(mut self) -> Self {
        self.announce = true;
        self
    }
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|s| s.to_string()));
        self
    }
    /// Run under `ulimit -f BLOCKS` (dash counts 512-byte blocks).
    pub fn fsize_limit(mut self, blocks: u64) -> Self {
        self.fsize_blocks = Some(blocks);
        self
    }

    fn command(&self) -> Command {
        let mut cmd = match self.fsize_blocks {
            None => Command::new(bin("bt-fetch")),
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -f {n} && exec \"$0\" \"$@\""))
                    .arg(bin("bt-fetch"));
                c
            }
        };
        cmd.arg(&self.torrent)
            .arg("-d")
            .arg(&self.dir)
            .args(["--json", "--bind", &self.bind])
            .args(["--timeout", &self.timeout.to_string()])
            .args(if self.announce {
                &[][..]
            } else {
                &["--no-announce"][..]
            })
            .args(&self.args);
        cmd
    }

    /// Run to completion, stdin empty; panics after `--timeout` + 30 s.
    pub fn run(&self) -> Run {
        self.run_with_stdin(None)
    }

    /// Run to completion with `stdin` piped in when given.
    pub fn run_with_stdin(&self, stdin: Option<&[u8]>) -> Run {
        let deadline = Duration::from_secs(self.timeout + 30);
        run_cmd(&mut self.command(), stdin, deadline)
    }

    /// Start in the background; records are collected as they come.
    pub fn spawn(&self) -> Fetching {
        let mut cmd = self.command();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut bg = Bg::spawn(&mut cmd, "bt-fetch");
        let lines = Lines::collect(bg.child.stdout.take().unwrap());
        let err = bg.child.stderr.take().unwrap();
        let stderr = Arc::new(Mutex::new(None));
        let e2 = stderr.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::BufReader::new(err).read_to_string(&mut s);
            *e2.lock().unwrap() = Some(s);
        });
        Fetching { bg, lines, stderr }
    }
}

/// A bt-fetch running in the background, killed by PID when dropped.
pub struct Fetching {
    pub bg: Bg,
    lines: Lines,
    stderr: Arc<Mutex<Option<String>>>,
}

impl Fetching {
    pub fn pid(&self) -> u32 {
        self.bg.pid()
    }

    /// The records of one type it wrote so far.
    pub fn records<T: Kind>(&self) -> Vec<T> {
        self.lines.of()
    }

    /// The latest `progress` record (with `--progress-json`).
    pub fn progress(&self) -> Option<Progress> {
        self.records::<Progress>().pop()
    }

    /// The latest `progress` record's `pieces_have`.
    pub fn pieces_have(&self) -> u64 {
        self.progress().map_or(0, |p| p.pieces_have as u64)
    }

    /// Wait (`secs` at most, else panic) until a `progress` record says `k` pieces are
    /// verified; that record's count.
    pub fn wait_pieces(&self, k: u64, secs: u64) -> u64 {
        assert!(
            wait_for(secs, || self.pieces_have() >= k),
            "bt-fetch never reached {k} pieces; stderr: {}",
            self.stderr()
        );
        self.pieces_have()
    }

    /// Wait for exit (panics after `secs`); the exit code and the summary record.
    pub fn finish(&mut self, secs: u64) -> (i32, Summary) {
        let code = self.wait(secs);
        // The reader threads drain the pipes after the exit.
        wait_for(5, || !self.records::<Summary>().is_empty());
        let s = self
            .records::<Summary>()
            .pop()
            .unwrap_or_else(|| panic!("no summary (exit {code}): {}", self.stderr()));
        (code, s)
    }

    /// Wait for exit (panics after `secs`); the exit code.
    pub fn wait(&mut self, secs: u64) -> i32 {
        let status = self
            .bg
            .wait_timeout(Duration::from_secs(secs))
            .unwrap_or_else(|| panic!("bt-fetch still running after {secs} s"));
        status.code().unwrap_or(-1)
    }

    /// SIGKILL, and wait (10 s at most) until it is gone.
    pub fn kill(&mut self) {
        signal(self.pid(), 9);
        self.bg
            .wait_timeout(Duration::from_secs(10))
            .expect("bt-fetch killed");
    }

    /// What it wrote on stderr (all of it once it has exited: waits 5 s at most for the pipe).
    pub fn stderr(&self) -> String {
        wait_for(5, || self.stderr.lock().unwrap().is_some());
        self.stderr.lock().unwrap().clone().unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------
// The wire protocol, and fake peers.

/// One connection past the handshake, reading and writing with `bt::peer`'s codec.
pub struct Wire {
    pub stream: TcpStream,
    buf: Vec<u8>,
    limits: Limits,
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

impl Wire {
    /// Connect to `addr` and exchange handshakes for `s`'s torrent (5 s timeouts); panics if
    /// that fails.
    pub fn dial(addr: SocketAddr, s: &Sample) -> Wire {
        Wire::try_dial(addr, s).unwrap_or_else(|e| panic!("handshake with {addr}: {e}"))
    }

    /// Connect to `addr` and exchange handshakes for `s`'s torrent (5 s timeouts).
    pub fn try_dial(addr: SocketAddr, s: &Sample) -> std::io::Result<Wire> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(&Handshake::new(s.info_hash, PeerId::generate()).encode())?;
        let mut hs = [0u8; peer::HANDSHAKE_LEN];
        stream.read_exact(&mut hs)?;
        Ok(Wire {
            stream,
            buf: Vec::new(),
            limits: s.limits,
        })
    }

    /// Read the handshake of a peer that connected, answer it if it is for `info_hash`.
    fn accept(mut stream: TcpStream, info_hash: [u8; 20], limits: Limits) -> Option<Wire> {
        stream.set_nonblocking(false).ok()?;
        stream
            .set_write_timeout(Some(Duration::from_secs(5)))
            .ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut hs = [0u8; peer::HANDSHAKE_LEN];
        stream.read_exact(&mut hs).ok()?;
        match Handshake::decode(&hs) {
            Ok(Some(h)) if h.info_hash == info_hash => {}
            _ => return None,
        }
        let ours = Handshake::new(info_hash, PeerId::generate());
        stream.write_all(&ours.encode()).ok()?;
        Some(Wire {
            stream,
            buf: Vec::new(),
            limits,
        })
    }

    /// Send one message; false if the connection is gone.
    pub fn send(&mut self, m: &Message) -> bool {
        self.stream.write_all(&m.to_bytes()).is_ok()
    }

    /// Send raw bytes; false if the connection is gone.
    pub fn send_raw(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// Read what has come (200 ms at most) into the buffer: false once the connection is
    /// closed.
    fn fill(&mut self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        self.stream
            .set_read_timeout(Some(
                left.clamp(Duration::from_millis(1), Duration::from_millis(200)),
            ))
            .unwrap();
        let mut chunk = [0u8; 64 << 10];
        match self.stream.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) => timed_out(&e),
        }
    }

    /// The next message; None on a close or when `deadline` passes. Panics on bytes the codec
    /// refuses (the other side broke the protocol).
    pub fn recv(&mut self, deadline: Instant) -> Option<Message> {
        loop {
            match peer::decode(&self.buf, &self.limits) {
                Ok(Some((m, used))) => {
                    self.buf.drain(..used);
                    return Some(m);
                }
                Ok(None) => {}
                Err(e) => panic!("the fake peer could not decode what it was sent: {e}"),
            }
            if Instant::now() >= deadline || !self.fill(deadline) {
                return None;
            }
        }
    }

    /// Read messages until one matches `want` (true) or `secs` pass or the connection closes.
    pub fn wait_for(&mut self, secs: u64, mut want: impl FnMut(&Message) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while let Some(m) = self.recv(deadline) {
            if want(&m) {
                return true;
            }
        }
        false
    }

    /// Whether the other side closed the connection before `secs` pass; what it sent
    /// meanwhile is decoded into the returned messages (up to the first undecodable frame).
    pub fn read_until_close(&mut self, secs: u64) -> (bool, Vec<Message>) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut closed = false;
        while Instant::now() < deadline {
            if !self.fill(deadline) {
                closed = true;
                break;
            }
            // Keep what can matter to the caller, not megabytes of junk.
            self.buf.truncate(1 << 20);
        }
        let mut got = Vec::new();
        let mut rest = &self.buf[..];
        while let Ok(Some((m, used))) = peer::decode(rest, &self.limits) {
            got.push(m);
            rest = &rest[used..];
        }
        (closed, got)
    }

    /// Whether the other side closed the connection before `secs` pass.
    pub fn closed_within(&mut self, secs: u64) -> bool {
        self.read_until_close(secs).0
    }
}

/// A full bitfield (every piece), spare bits clear.
pub fn full_bitfield(limits: &Limits) -> Vec<u8> {
    let mut bits = vec![0xffu8; limits.bitfield_len()];
    let spare = bits.len() * 8 - limits.piece_count as usize;
    if let Some(last) = bits.last_mut() {
        *last &= 0xffu8 << spare;
    }
    bits
}

/// Every block of the torrent, in order.
pub fn all_blocks(l: &Limits) -> Vec<Block> {
    (0..l.piece_count)
        .flat_map(|piece| {
            (0..l.piece_size(piece) as u32)
                .step_by(peer::MAX_BLOCK as usize)
                .map(move |offset| Block {
                    piece,
                    offset,
                    length: (l.piece_size(piece) as u32 - offset).min(peer::MAX_BLOCK),
                })
        })
        .collect()
}

/// What a fake peer saw.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Connections that completed the handshake.
    pub handshakes: usize,
    /// Requests received.
    pub requests: usize,
    /// Blocks sent.
    pub blocks_sent: usize,
    /// Connections the other side closed.
    pub closed: usize,
    /// Seconds from the hostile act to the close, per connection.
    pub close_after: Vec<f64>,
}

/// What a fake peer does on each connection after the handshake.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Claims every piece (BEP 6 have-all), unchokes, answers every request with garbage of
    /// the right length.
    Liar,
    /// Claims every piece (a bitfield), unchokes, takes requests and never answers them; the
    /// close is timed from the first request.
    Staller,
    /// Claims every piece, unchokes, then announces a frame of 4 GiB - 1 bytes and keeps
    /// sending junk (64 MiB at most).
    HugeFrame,
    /// Sends these bytes right after the handshake (a bad bitfield, a have out of range...).
    Raw(Vec<u8>),
    /// Has nothing, unchokes, and sprays unrequested blocks of garbage for every piece for
    /// 20 s.
    Sprayer,
    /// Sends this extension handshake payload, then a full bitfield, and reads until closed.
    Extension(Vec<u8>),
}

impl Behaviour {
    fn run(&self, w: &mut Wire, seen: &Mutex<Seen>) {
        let limits = w.limits;
        let note_close = |w: &mut Wire, since: Instant, secs: u64| {
            if w.closed_within(secs) {
                let mut s = seen.lock().unwrap();
                s.closed += 1;
                s.close_after.push(since.elapsed().as_secs_f64());
            }
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        match self {
            Behaviour::Liar => {
                w.send(&Message::HaveAll);
                w.send(&Message::Unchoke);
                while let Some(m) = w.recv(deadline) {
                    if let Message::Request(b) = m {
                        seen.lock().unwrap().requests += 1;
                        let reply = Message::Piece {
                            piece: b.piece,
                            offset: b.offset,
                            data: vec![0x5a; b.length as usize],
                        };
                        if !w.send(&reply) {
                            break;
                        }
                        seen.lock().unwrap().blocks_sent += 1;
                    }
                }
                seen.lock().unwrap().closed += 1;
            }
            Behaviour::Staller => {
                w.send(&Message::Bitfield(full_bitfield(&limits)));
                w.send(&Message::Unchoke);
                let mut first: Option<Instant> = None;
                while let Some(m) = w.recv(deadline) {
                    if let Message::Request(_) = m {
                        first.get_or_insert_with(Instant::now);
                        seen.lock().unwrap().requests += 1;
                    }
                }
                let mut st = seen.lock().unwrap();
                if Instant::now() < deadline {
                    st.closed += 1;
                    st.close_after
                        .push(first.map_or(-1.0, |t| t.elapsed().as_secs_f64()));
                }
            }
            Behaviour::HugeFrame => {
                w.send(&Message::Bitfield(full_bitfield(&limits)));
                w.send(&Message::Unchoke);
                std::thread::sleep(Duration::from_millis(200));
                let mut evil = u32::MAX.to_be_bytes().to_vec();
                evil.push(7); // piece
                evil.extend_from_slice(&[0u8; 8]);
                let at = Instant::now();
                w.send_raw(&evil);
                let junk = vec![0x77u8; 1 << 20];
                for _ in 0..64 {
                    if !w.send_raw(&junk) {
                        break;
                    }
                }
                note_close(w, at, 10);
            }
            Behaviour::Raw(bytes) => {
                let at = Instant::now();
                w.send_raw(bytes);
                note_close(w, at, 10);
            }
            Behaviour::Sprayer => {
                w.send(&Message::Unchoke);
                let at = Instant::now();
                let end = at + Duration::from_secs(20);
                'spray: while Instant::now() < end {
                    for b in all_blocks(&limits) {
                        let m = Message::Piece {
                            piece: b.piece,
                            offset: b.offset,
                            data: vec![0xa5; peer::MAX_BLOCK as usize],
                        };
                        if !w.send(&m) {
                            break 'spray;
                        }
                        seen.lock().unwrap().blocks_sent += 1;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                note_close(w, at, 1);
            }
            Behaviour::Extension(payload) => {
                w.send(&Message::Extended {
                    id: 0,
                    payload: payload.clone(),
                });
                w.send(&Message::Bitfield(full_bitfield(&limits)));
                let deadline = Instant::now() + Duration::from_secs(30);
                while w.recv(deadline).is_some() {}
                seen.lock().unwrap().closed += 1;
            }
        }
    }
}

/// A fake peer listening on a loopback address of its own, which bt-fetch dials (`--peer`).
/// Each connection for the sample's torrent exchanges handshakes and then plays the
/// behaviour on its own thread. Everything stops after 60 s or when dropped.
pub struct FakePeer {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
}

impl FakePeer {
    pub fn start(s: &Sample, behaviour: Behaviour) -> FakePeer {
        let l = TcpListener::bind((next_ip().as_str(), 0)).unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let (info_hash, limits) = (s.info_hash, s.limits);
        let behaviour = Arc::new(behaviour);
        std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(60);
            while Instant::now() < end && !stop2.load(Ordering::Relaxed) {
                let Ok((stream, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let (seen, behaviour, stop) = (seen2.clone(), behaviour.clone(), stop2.clone());
                std::thread::spawn(move || {
                    let Some(mut w) = Wire::accept(stream, info_hash, limits) else {
                        return;
                    };
                    seen.lock().unwrap().handshakes += 1;
                    if !stop.load(Ordering::Relaxed) {
                        behaviour.run(&mut w, &seen);
                    }
                });
            }
        });
        FakePeer { addr, seen, stop }
    }

    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }
    pub fn ip(&self) -> String {
        self.addr.ip().to_string()
    }
}

impl Drop for FakePeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What [`fetch_past`] saw: the finished bt-fetch, its summary, its peak RSS (kB).
pub struct PastHostile {
    pub run: Fetching,
    pub summary: Summary,
    pub peak_rss: u64,
}

/// bt-fetch of `s` (with `args`) from the `hostile` peers and one honest bt-seed (paced at
/// `rate` when given), dialed in that order. It must complete with the seeder's exact data,
/// bt-verify agreeing.
pub fn fetch_past(
    s: &Sample,
    hostile: &[&FakePeer],
    rate: Option<&str>,
    args: &[&str],
) -> PastHostile {
    let honest = match rate {
        Some(r) => Seeder::of(s).rate(r).start(),
        None => Seeder::of(s).start(),
    };
    let dl = s.path("dl");
    let mut run = hostile
        .iter()
        .fold(Fetcher::new(&s.torrent, &dl), |f, p| f.peer(p.addr))
        .peer(honest.peer())
        .args(args)
        .spawn();
    let watch = Watch::start(run.pid());
    let (code, summary) = run.finish(90);
    let (_, peak_rss) = watch.stop();
    assert_eq!(code, 0, "{summary:?}\n{}", run.stderr());
    assert!(summary.complete, "{summary:?}");
    // The hostile peers' data never reached the finished files.
    assert_eq!(s.verify(&dl).0, 0);
    s.assert_same(&dl);
    PastHostile {
        run,
        summary,
        peak_rss,
    }
}

// ---------------------------------------------------------------------------------------------
// Resources.

/// A field of /proc/PID/status in kB (or a count, for Threads).
pub fn proc_status(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The highest Threads and VmHWM (kB) of a process, sampled every 50 ms (120 s at most)
/// until [`Watch::stop`].
pub struct Watch {
    busy: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u64, u64)>,
}

impl Watch {
    pub fn start(pid: u32) -> Watch {
        let busy = Arc::new(AtomicBool::new(true));
        let b2 = busy.clone();
        let thread = std::thread::spawn(move || {
            let (mut threads, mut hwm) = (0, 0);
            let end = Instant::now() + Duration::from_secs(120);
            while b2.load(Ordering::Relaxed) && Instant::now() < end {
                threads = threads.max(proc_status(pid, "Threads").unwrap_or(0));
                hwm = hwm.max(proc_status(pid, "VmHWM").unwrap_or(0));
                std::thread::sleep(Duration::from_millis(50));
            }
            (threads, hwm)
        });
        Watch { busy, thread }
    }

    /// (peak threads, peak RSS in kB).
    pub fn stop(self) -> (u64, u64) {
        self.busy.store(false, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}
