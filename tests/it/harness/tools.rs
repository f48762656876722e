//! bt-seed and bt-fetch in the background, and what a process uses (threads, memory).

use super::*;
use crate::common::*;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How to start a bt-seed: [`Seeder::of`], then options, then [`SeederOpts::start`].
pub struct SeederOpts {
    torrent: PathBuf,
    dir: PathBuf,
    ip: String,
    port: u16,
    args: Vec<String>,
    announce: bool,
}

impl SeederOpts {
    /// Serve from `dir` instead of the sample's seed directory.
    pub fn dir(mut self, dir: &Path) -> Self {
        self.dir = dir.to_path_buf();
        self
    }
    /// Bind to `ip` instead of an address of its own on 127.0.0.0/8.
    pub fn bind(mut self, ip: &str) -> Self {
        self.ip = ip.to_string();
        self
    }
    /// Listen on `port` (the default is a free one, `--port 0`).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
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
            .args([
                "--bind",
                &self.ip,
                "--port",
                &self.port.to_string(),
                "--json",
            ])
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
            port: 0,
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

// ---------------------------------------------------------------------------------------------
// Magnet links (aria2c's command line is in clients.rs).

/// The magnet link of `s` with trackers `tr` and peers `pe` (`x.pe`).
pub fn magnet_of(s: &Sample, tr: &[&str], pe: &[&str]) -> String {
    let mut m = format!("magnet:?xt=urn:btih:{}", s.info_hash_hex());
    for t in tr {
        m += &format!("&tr={}", bt::metainfo::percent_encode(t.as_bytes()));
    }
    for p in pe {
        m += &format!("&x.pe={p}");
    }
    m
}

/// The standard sample announcing to an opentracker that whitelists it.
pub fn tracked_sample() -> (Sample, Opentracker) {
    let s = Sample::standard();
    let tracker = Opentracker::start(&[s.info_hash_hex()]);
    s.announce_to(&tracker.http());
    (s, tracker)
}
