//! Integration tests: the swarm under stress (issue 6).
//!
//! Crash-proof resume (`kill -9` at several points), seeder loss, hostile peers written here as
//! small wire-protocol programs (threads on 127.0.0.1 sockets, encoding with `bt::peer`), a
//! flood of idle connections, and a download that runs out of file size (`ulimit -f`). Every
//! socket has a timeout, every loop a bound, every process is killed by PID.

use crate::common::*;
use bt::peer::{self, Block, Handshake, Limits, Message, PeerId};
use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Fixtures: a torrent made by bt-make, seeders, fetchers, bt-verify, /proc.

/// A torrent of deterministic data under `seed/data`, made with bt-make.
struct Fixture {
    dir: tempfile::TempDir,
    torrent: PathBuf,
    info_hash: [u8; 20],
    limits: Limits,
    files: Vec<(String, usize)>,
}

impl Fixture {
    /// `files` are paths below `data/` with their lengths; `piece` as bt-make's `-l`.
    fn new(files: &[(&str, usize)], piece: &str) -> Fixture {
        let dir = tempdir();
        let files: Vec<(String, usize)> = files
            .iter()
            .map(|(p, n)| (format!("data/{p}"), *n))
            .collect();
        let tree: Vec<(&str, usize)> = files.iter().map(|(p, n)| (p.as_str(), *n)).collect();
        write_tree(&dir.path().join("seed"), &tree);
        let torrent = dir.path().join("x.torrent");
        let r = bt(
            "bt-make",
            &[
                dir.path().join("seed/data").to_str().unwrap(),
                "-o",
                torrent.to_str().unwrap(),
                "-l",
                piece,
                "--json",
            ],
        );
        assert_eq!(r.code, 0, "bt-make: {}", r.stderr);
        let made = r.of_type("torrent").pop().expect("a torrent record");
        let hex = made["info_hash"].as_str().unwrap();
        let mut info_hash = [0u8; 20];
        for (i, b) in info_hash.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        let limits = Limits::new(
            made["piece_length"].as_u64().unwrap(),
            made["total_length"].as_u64().unwrap(),
        );
        assert_eq!(
            limits.piece_count as u64,
            made["piece_count"].as_u64().unwrap()
        );
        Fixture {
            dir,
            torrent,
            info_hash,
            limits,
            files,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn seed_dir(&self) -> PathBuf {
        self.path("seed")
    }

    /// The downloaded files under `dl` are byte for byte the seeder's.
    fn assert_same(&self, dl: &Path) {
        for (p, _) in &self.files {
            let a = std::fs::read(self.seed_dir().join(p)).unwrap();
            let b = std::fs::read(dl.join(p)).unwrap_or_else(|e| panic!("{p} in {dl:?}: {e}"));
            assert!(a == b, "{p} differs from the seeder's copy");
        }
    }

    /// bt-verify over `dl`: (exit code, good pieces, sorted bad piece indices).
    fn verify(&self, dl: &Path) -> (i32, u64, Vec<u64>) {
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
        let s = r.of_type("summary").pop().expect("a verify summary");
        let mut bad: Vec<u64> = s["bad_piece_indices"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_u64().unwrap()).collect())
            .unwrap_or_default();
        bad.sort_unstable();
        (r.code, s["good_pieces"].as_u64().unwrap(), bad)
    }
}

/// Lines a background process wrote on stdout, collected by a thread.
type Lines = Arc<Mutex<Vec<String>>>;

fn collect_stdout(bg: &mut Bg) -> Lines {
    let out = bg.child.stdout.take().unwrap();
    let lines: Lines = Arc::new(Mutex::new(Vec::new()));
    let l2 = lines.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            l2.lock().unwrap().push(line);
        }
    });
    lines
}

fn records_of(lines: &Lines, t: &str) -> Vec<serde_json::Value> {
    lines
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == t)
        .collect()
}

/// A running bt-seed.
struct Seeder {
    bg: Bg,
    addr: SocketAddr,
}

impl Seeder {
    fn start(f: &Fixture, dir: &Path, ip: &str, extra: &[&str]) -> Seeder {
        let mut cmd = Command::new(bin("bt-seed"));
        cmd.arg(&f.torrent)
            .arg("-d")
            .arg(dir)
            .args(["--bind", ip, "--port", "0", "--json", "--no-announce"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut bg = Bg::spawn(&mut cmd, "bt-seed");
        let lines = collect_stdout(&mut bg);
        let start = Instant::now();
        loop {
            if let Some(r) = records_of(&lines, "listening").pop() {
                let port = r["port"].as_u64().unwrap() as u16;
                let addr = format!("{ip}:{port}").parse().unwrap();
                return Seeder { bg, addr };
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

    fn peer(&self) -> String {
        self.addr.to_string()
    }
}

/// bt-fetch running in the background with `--json` (records collected).
struct Fetcher {
    bg: Bg,
    lines: Lines,
    stderr: Arc<Mutex<String>>,
}

impl Fetcher {
    fn start(f: &Fixture, dl: &Path, args: &[String]) -> Fetcher {
        Fetcher::start_with(Command::new(bin("bt-fetch")), f, dl, args)
    }

    fn start_with(mut cmd: Command, f: &Fixture, dl: &Path, args: &[String]) -> Fetcher {
        cmd.arg(&f.torrent)
            .arg("-d")
            .arg(dl)
            .args(["--json", "--no-announce", "--bind", "127.0.0.1"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut bg = Bg::spawn(&mut cmd, "bt-fetch");
        let lines = collect_stdout(&mut bg);
        let err = bg.child.stderr.take().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let e2 = stderr.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::BufReader::new(err).read_to_string(&mut s);
            *e2.lock().unwrap() = s;
        });
        Fetcher { bg, lines, stderr }
    }

    fn records(&self, t: &str) -> Vec<serde_json::Value> {
        records_of(&self.lines, t)
    }

    /// The latest `progress` record's `pieces_have`.
    fn pieces_have(&self) -> u64 {
        self.records("progress")
            .last()
            .map_or(0, |r| r["pieces_have"].as_u64().unwrap())
    }

    /// Wait for exit (panics after `secs`); the exit code and the summary record.
    fn finish(&mut self, secs: u64) -> (i32, serde_json::Value) {
        let status = self
            .bg
            .wait_timeout(Duration::from_secs(secs))
            .unwrap_or_else(|| panic!("bt-fetch still running after {secs} s"));
        // Let the reader threads drain the pipes.
        let start = Instant::now();
        while self.records("summary").is_empty() && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let code = status.code().unwrap_or(-1);
        let s = self.records("summary").pop().unwrap_or_else(|| {
            panic!(
                "no summary (exit {code}): {}",
                self.stderr.lock().unwrap().clone()
            )
        });
        (code, s)
    }

    fn stderr(&self) -> String {
        std::thread::sleep(Duration::from_millis(100));
        self.stderr.lock().unwrap().clone()
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A field of /proc/PID/status in kB (or a count, for Threads).
fn proc_status(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Wait until `cond` holds, polling every 20 ms; false after `secs`.
fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

// ---------------------------------------------------------------------------------------------
// Hand-written peers speaking the wire protocol.

/// Read one message from `stream` into `buf` (bytes carried over between calls); None on a
/// clean or unclean close, or when `deadline` passes.
fn read_msg(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    limits: &Limits,
    deadline: Instant,
) -> Option<Message> {
    loop {
        match peer::decode(buf, limits) {
            Ok(Some((m, used))) => {
                buf.drain(..used);
                return Some(m);
            }
            Ok(None) => {}
            Err(e) => panic!("our peer could not decode what it was sent: {e}"),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        stream
            .set_read_timeout(Some(left.min(Duration::from_millis(200))))
            .unwrap();
        let mut chunk = [0u8; 64 << 10];
        match stream.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return None,
        }
    }
}

/// Whether the other side closed `stream` before `secs` pass (bytes arriving are read and
/// dropped).
fn closed_within(stream: &mut TcpStream, secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut chunk = [0u8; 64 << 10];
    while Instant::now() < deadline {
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        match stream.read(&mut chunk) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

/// A full bitfield (every piece), spare bits clear.
fn full_bitfield(limits: &Limits) -> Vec<u8> {
    let mut bits = vec![0xffu8; limits.bitfield_len()];
    let spare = bits.len() * 8 - limits.piece_count as usize;
    if let Some(last) = bits.last_mut() {
        *last &= 0xffu8 << spare;
    }
    bits
}

fn send(stream: &mut TcpStream, m: &Message) {
    let _ = stream.write_all(&m.to_bytes());
}

/// What a hand-written peer saw.
#[derive(Debug, Default, Clone)]
struct Seen {
    /// Connections that completed the handshake.
    handshakes: usize,
    /// Requests received.
    requests: usize,
    /// Blocks sent.
    blocks_sent: usize,
    /// Connections the other side closed.
    closed: usize,
    /// Seconds from the hostile act to the close, per connection.
    close_after: Vec<f64>,
}

/// A hand-written peer listening on `ip`, which bt-fetch dials (`--peer`). Each accepted
/// connection exchanges handshakes for the fixture's torrent and then runs `behave` on its own
/// thread. Everything stops after `secs` or when dropped.
struct FakePeer {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
}

type Behaviour = dyn Fn(&mut TcpStream, &Limits, &Mutex<Seen>) + Send + Sync;

impl FakePeer {
    fn start(f: &Fixture, ip: &str, secs: u64, behave: Arc<Behaviour>) -> FakePeer {
        let l = TcpListener::bind((ip, 0)).unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let (info_hash, limits) = (f.info_hash, f.limits);
        std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(secs);
            while Instant::now() < end && !stop2.load(Ordering::Relaxed) {
                let Ok((mut s, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let (seen, behave, stop) = (seen2.clone(), behave.clone(), stop2.clone());
                std::thread::spawn(move || {
                    s.set_nonblocking(false).unwrap();
                    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    let mut hs = [0u8; peer::HANDSHAKE_LEN];
                    if s.read_exact(&mut hs).is_err() {
                        return;
                    }
                    match Handshake::decode(&hs) {
                        Ok(Some(h)) if h.info_hash == info_hash => {}
                        _ => return,
                    }
                    let ours = Handshake::new(info_hash, PeerId::generate().unwrap());
                    if s.write_all(&ours.encode()).is_err() {
                        return;
                    }
                    seen.lock().unwrap().handshakes += 1;
                    if !stop.load(Ordering::Relaxed) {
                        behave(&mut s, &limits, &seen);
                    }
                });
            }
        });
        FakePeer { addr, seen, stop }
    }

    fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakePeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Record that the other side closed the connection `since` the hostile act (or not).
fn note_close(stream: &mut TcpStream, seen: &Mutex<Seen>, since: Instant, secs: u64) {
    if closed_within(stream, secs) {
        let mut s = seen.lock().unwrap();
        s.closed += 1;
        s.close_after.push(since.elapsed().as_secs_f64());
    }
}

/// Claims every piece, unchokes, answers every request with garbage of the right length.
fn liar() -> Arc<Behaviour> {
    Arc::new(|s, limits, seen| {
        send(s, &Message::Bitfield(full_bitfield(limits)));
        send(s, &Message::Unchoke);
        let mut buf = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Some(m) = read_msg(s, &mut buf, limits, deadline) {
            if let Message::Request(b) = m {
                seen.lock().unwrap().requests += 1;
                let reply = Message::Piece {
                    piece: b.piece,
                    offset: b.offset,
                    data: vec![0x5a; b.length as usize],
                };
                if s.write_all(&reply.to_bytes()).is_err() {
                    break;
                }
                seen.lock().unwrap().blocks_sent += 1;
            }
        }
        seen.lock().unwrap().closed += 1;
    })
}

/// Claims every piece, unchokes, takes requests and never answers them.
fn staller() -> Arc<Behaviour> {
    Arc::new(|s, limits, seen| {
        send(s, &Message::Bitfield(full_bitfield(limits)));
        send(s, &Message::Unchoke);
        let mut buf = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut first: Option<Instant> = None;
        while let Some(m) = read_msg(s, &mut buf, limits, deadline) {
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
    })
}

/// Sends raw `bytes` right after the handshake and notes whether the connection is closed.
fn sends_raw(bytes: Vec<u8>) -> Arc<Behaviour> {
    Arc::new(move |s, _limits, seen| {
        let _ = s.write_all(&bytes);
        note_close(s, seen, Instant::now(), 10);
    })
}

// ---------------------------------------------------------------------------------------------
// 1. Crash-proof resume.

#[test]
fn kill_9_at_several_points_and_resume_loses_nothing() {
    // 4 MiB in 64 KiB pieces from two seeders sending 512 KiB/s each, so that each run can be
    // killed midway.
    let f = Fixture::new(
        &[("big.bin", 3 << 20), ("small.bin", (1 << 20) - 1000)],
        "64K",
    );
    let seeds = ["127.0.0.31", "127.0.0.32"]
        .map(|ip| Seeder::start(&f, &f.seed_dir(), ip, &["--max-upload-rate", "512K"]));
    let n = f.limits.piece_count as u64;
    let pl = f.limits.piece_length;
    // Slack: one piece in flight per peer.
    let slack = seeds.len() as u64 * pl;
    let dl = f.path("dl");
    let (a, b) = (seeds[0].peer(), seeds[1].peer());
    let fetch_args = args(&[
        "--peer",
        &a,
        "--peer",
        &b,
        "--timeout",
        "60",
        "--progress-json",
    ]);
    // Kill points: after a quarter of the pieces, at once (during start-up), after half, after
    // three quarters. Each run after the first starts from what the previous one left.
    let points: [Option<u64>; 4] = [Some(n / 4), None, Some(n / 2), Some(3 * n / 4)];
    let mut good_before = Vec::new();
    for (i, point) in points.iter().enumerate() {
        let (_, good_at_start, bad_at_start) = if i == 0 {
            (1, 0, (0..n).collect())
        } else {
            f.verify(&dl)
        };
        // Nothing verified by an earlier run was lost.
        for p in &good_before {
            assert!(
                !bad_at_start.contains(p),
                "run {i}: verified piece {p} was lost"
            );
        }
        let mut run = Fetcher::start(&f, &dl, &fetch_args);
        let reported = match point {
            Some(k) => {
                assert!(
                    wait_for(60, || run.pieces_have() >= *k),
                    "run {i}: never reached {k} pieces; stderr: {}",
                    run.stderr()
                );
                run.pieces_have()
            }
            None => {
                std::thread::sleep(Duration::from_millis(300));
                0
            }
        };
        signal(run.bg.pid(), 9);
        run.bg
            .wait_timeout(Duration::from_secs(10))
            .expect("killed");
        // What this run downloaded, as far as its last progress record tells.
        let downloaded = run
            .records("progress")
            .last()
            .map_or(0, |r| r["bytes_downloaded"].as_u64().unwrap());
        let missing = n - good_at_start;
        assert!(
            downloaded <= missing * pl + slack,
            "run {i}: {downloaded} bytes downloaded with {missing} pieces missing"
        );
        let (_, good, bad) = f.verify(&dl);
        assert!(
            good >= reported,
            "run {i}: {reported} pieces reported verified, {good} on disk after kill -9"
        );
        assert!(good >= good_at_start, "run {i}: good pieces went down");
        println!("run {i}: killed with {reported} pieces reported, {good} of {n} on disk");
        good_before = (0..n).filter(|p| !bad.contains(p)).collect();
    }
    let (_, good_at_start, _) = f.verify(&dl);
    assert!(good_at_start >= 3 * n / 4, "{good_at_start} of {n}");
    assert!(good_at_start < n, "the kills left nothing to do");
    let mut last = Fetcher::start(&f, &dl, &fetch_args);
    let (code, s) = last.finish(90);
    assert_eq!(code, 0, "{s}\n{}", last.stderr());
    assert_eq!(s["complete"], true);
    assert_eq!(s["pieces_at_start"].as_u64().unwrap(), good_at_start, "{s}");
    assert_eq!(s["pieces_fetched"].as_u64().unwrap(), n - good_at_start);
    let downloaded = s["bytes_downloaded"].as_u64().unwrap();
    // Duplicates in endgame are discarded, not counted: a piece fetched twice would exceed this.
    assert!(
        downloaded <= (n - good_at_start) * pl + slack,
        "{downloaded} bytes for {} missing pieces",
        n - good_at_start
    );
    assert_eq!(f.verify(&dl).0, 0);
    f.assert_same(&f.path("dl"));
}

// ---------------------------------------------------------------------------------------------
// 2. Seeder loss.

#[test]
fn one_of_two_seeders_killed_halfway_fetch_finishes_from_the_other() {
    let f = Fixture::new(&[("a.bin", 2 << 20), ("b.bin", (2 << 20) + 12345)], "64K");
    let a = Seeder::start(
        &f,
        &f.seed_dir(),
        "127.0.0.41",
        &["--max-upload-rate", "1M"],
    );
    let b = Seeder::start(
        &f,
        &f.seed_dir(),
        "127.0.0.42",
        &["--max-upload-rate", "1M"],
    );
    let dl = f.path("dl");
    let n = f.limits.piece_count as u64;
    let mut run = Fetcher::start(
        &f,
        &dl,
        &args(&[
            "--peer",
            &a.peer(),
            "--peer",
            &b.peer(),
            "--timeout",
            "60",
            "--progress-json",
            "--peer-records",
        ]),
    );
    assert!(
        wait_for(60, || run.pieces_have() >= n / 2),
        "never got halfway: {}",
        run.stderr()
    );
    let mut a = a;
    signal(a.bg.pid(), 9);
    a.bg.wait_timeout(Duration::from_secs(10)).expect("killed");
    let (code, s) = run.finish(90);
    assert_eq!(code, 0, "{s}\n{}", run.stderr());
    assert_eq!(s["complete"], true);
    assert_eq!(s["peers_used"], 2, "{s}");
    // bt-fetch saw the killed seeder go.
    let gone = run
        .records("peer")
        .iter()
        .any(|r| r["event"] == "disconnected" && r["ip"] == "127.0.0.41");
    assert!(gone, "no disconnect record for the killed seeder");
    assert_eq!(f.verify(&dl).0, 0);
    f.assert_same(&dl);
    drop(b);
}

#[test]
fn all_seeders_gone_exit_1_after_timeout_keeping_verified_pieces() {
    let f = Fixture::new(&[("a.bin", 4 << 20)], "64K");
    let seed = Seeder::start(
        &f,
        &f.seed_dir(),
        "127.0.0.43",
        &["--max-upload-rate", "1M"],
    );
    let dl = f.path("dl");
    let n = f.limits.piece_count as u64;
    let timeout = 6.0;
    let started = Instant::now();
    let mut run = Fetcher::start(
        &f,
        &dl,
        &args(&[
            "--peer",
            &seed.peer(),
            "--timeout",
            &timeout.to_string(),
            "--progress-json",
        ]),
    );
    assert!(
        wait_for(30, || run.pieces_have() >= n / 4),
        "{}",
        run.stderr()
    );
    let mut seed = seed;
    signal(seed.bg.pid(), 9);
    seed.bg
        .wait_timeout(Duration::from_secs(10))
        .expect("killed");
    let (code, s) = run.finish(60);
    let took = started.elapsed().as_secs_f64();
    assert_eq!(code, 1, "{s}\n{}", run.stderr());
    assert_eq!(s["complete"], false);
    assert!(s["reason"].is_string(), "{s}");
    assert!(
        took < timeout + 10.0,
        "gave up after {took:.1} s with --timeout {timeout}"
    );
    let reported = s["pieces_at_start"].as_u64().unwrap() + s["pieces_fetched"].as_u64().unwrap();
    let (vcode, good, _) = f.verify(&dl);
    assert_eq!(vcode, 1);
    assert!(good > 0 && good < n, "{good} of {n}");
    assert_eq!(good, reported, "verified on disk vs reported: {s}");
    println!(
        "gave up after {took:.1} s ({}), {good} of {n} pieces kept",
        s["reason"]
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Hostile peers.

#[test]
fn liar_is_banned_after_two_bad_pieces_and_its_data_never_lands() {
    let f = Fixture::new(&[("a.bin", 3 << 20), ("b.bin", 777_777)], "64K");
    // The honest seeder is slow so that the liar gets whole pieces to lie about.
    let honest = Seeder::start(
        &f,
        &f.seed_dir(),
        "127.0.0.51",
        &["--max-upload-rate", "2M"],
    );
    let liar = FakePeer::start(&f, "127.0.0.52", 60, liar());
    let dl = f.path("dl");
    let mut run = Fetcher::start(
        &f,
        &dl,
        &args(&[
            "--peer",
            &liar.addr.to_string(),
            "--peer",
            &honest.peer(),
            "--timeout",
            "60",
            "--peer-records",
        ]),
    );
    let (code, s) = run.finish(90);
    let stderr = run.stderr();
    assert_eq!(code, 0, "{s}\n{stderr}");
    assert_eq!(s["complete"], true);
    assert!(s["bad_pieces"].as_u64().unwrap() >= 2, "{s}");
    let banned: Vec<_> = run
        .records("peer")
        .into_iter()
        .filter(|r| r["event"] == "banned")
        .collect();
    assert_eq!(banned.len(), 1, "one ban: {banned:?}");
    assert_eq!(banned[0]["ip"], "127.0.0.52");
    assert_eq!(banned[0]["port"], liar.addr.port());
    assert!(stderr.contains("banned"), "{stderr}");
    let seen = liar.seen();
    assert!(seen.blocks_sent > 0 && seen.closed >= 1, "{seen:?}");
    // The corrupt data never reached the finished file.
    assert_eq!(f.verify(&dl).0, 0);
    f.assert_same(&dl);
    println!(
        "liar: {} connections, {} blocks sent; bt-fetch: {} bad pieces",
        seen.handshakes, seen.blocks_sent, s["bad_pieces"]
    );
}

#[test]
fn unrequested_garbage_blocks_never_land() {
    // A peer that has nothing, is never asked for anything, and sprays blocks of garbage for
    // every piece while an honest seeder is sending the real data.
    let f = Fixture::new(&[("a.bin", 2 << 20)], "64K");
    let honest = Seeder::start(
        &f,
        &f.seed_dir(),
        "127.0.0.56",
        &["--max-upload-rate", "1M"],
    );
    let sprayer = FakePeer::start(
        &f,
        "127.0.0.57",
        60,
        Arc::new(|s, limits, seen| {
            send(s, &Message::Unchoke);
            let at = Instant::now();
            let end = at + Duration::from_secs(20);
            'spray: while Instant::now() < end {
                for piece in 0..limits.piece_count {
                    for offset in (0..limits.piece_size(piece) as u32).step_by(16384) {
                        let m = Message::Piece {
                            piece,
                            offset,
                            data: vec![0xa5; 16384],
                        };
                        if s.write_all(&m.to_bytes()).is_err() {
                            break 'spray;
                        }
                        seen.lock().unwrap().blocks_sent += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            note_close(s, seen, at, 1);
        }),
    );
    let dl = f.path("dl");
    let mut run = Fetcher::start(
        &f,
        &dl,
        &args(&[
            "--peer",
            &sprayer.addr.to_string(),
            "--peer",
            &honest.peer(),
            "--timeout",
            "60",
        ]),
    );
    let (code, s) = run.finish(90);
    let seen = sprayer.seen();
    println!("sprayer: {seen:?}; bt-fetch: {s}");
    assert_eq!(code, 0, "{s}\n{}", run.stderr());
    assert!(seen.blocks_sent > 0, "{seen:?}");
    assert_eq!(s["bad_pieces"], 0, "unrequested garbage was written: {s}");
    assert_eq!(f.verify(&dl).0, 0);
    f.assert_same(&dl);
}

#[test]
fn hostile_extension_handshakes_do_no_harm() {
    // Deeply nested bencode, absurd `reqq` values, junk: bt-fetch neither crashes nor stalls.
    let f = Fixture::new(&[("a.bin", 1 << 20)], "64K");
    let honest = Seeder::start(&f, &f.seed_dir(), "127.0.0.58", &[]);
    let nested = {
        let mut v = vec![b'l'; 30_000];
        v.extend(vec![b'e'; 30_000]);
        v
    };
    let payloads: Vec<Vec<u8>> = vec![
        nested,
        b"d4:reqqi0ee".to_vec(),
        b"d4:reqqi99999999999999999999ee".to_vec(),
        b"d4:reqqi-5e1:md6:ut_pexi999eee".to_vec(),
        b"\xff\x00junk".to_vec(),
    ];
    let bits = full_bitfield(&f.limits);
    let fakes: Vec<_> = payloads
        .into_iter()
        .enumerate()
        .map(|(i, payload)| {
            let bits = bits.clone();
            FakePeer::start(
                &f,
                &format!("127.0.0.{}", 100 + i),
                60,
                Arc::new(move |s, limits, seen| {
                    let ext = Message::Extended {
                        id: 0,
                        payload: payload.clone(),
                    };
                    send(s, &ext);
                    // Then behave: serve what is asked, honestly enough to stay connected.
                    send(s, &Message::Bitfield(bits.clone()));
                    let mut buf = Vec::new();
                    let deadline = Instant::now() + Duration::from_secs(30);
                    while read_msg(s, &mut buf, limits, deadline).is_some() {}
                    seen.lock().unwrap().closed += 1;
                }),
            )
        })
        .collect();
    let mut a = Vec::new();
    for p in &fakes {
        a.extend(["--peer".to_string(), p.addr.to_string()]);
    }
    a.extend(args(&["--peer", &honest.peer(), "--timeout", "60"]));
    let dl = f.path("dl");
    let mut run = Fetcher::start(&f, &dl, &a);
    let (code, s) = run.finish(90);
    assert_eq!(code, 0, "{s}\n{}", run.stderr());
    assert!(fakes.iter().all(|p| p.seen().handshakes >= 1));
    assert_eq!(f.verify(&dl).0, 0);
    f.assert_same(&dl);
}

#[test]
fn four_gib_length_prefix_is_dropped_without_allocating() {
    let f = Fixture::new(&[("a.bin", 4 << 20)], "64K");
    let honest = Seeder::start(
        &f,
        &f.seed_dir(),
        "127.0.0.53",
        &["--max-upload-rate", "1M"],
    );
    let bits = full_bitfield(&f.limits);
    let hostile = FakePeer::start(
        &f,
        "127.0.0.54",
        60,
        Arc::new(move |s, _limits, seen| {
            send(s, &Message::Bitfield(bits.clone()));
            send(s, &Message::Unchoke);
            std::thread::sleep(Duration::from_millis(200));
            // A frame of 4 GiB - 1 bytes announced, and then bytes keep coming.
            let mut evil = u32::MAX.to_be_bytes().to_vec();
            evil.push(7); // piece
            evil.extend_from_slice(&[0u8; 8]);
            let at = Instant::now();
            let _ = s.write_all(&evil);
            let junk = vec![0x77u8; 1 << 20];
            for _ in 0..64 {
                if s.write_all(&junk).is_err() {
                    break;
                }
            }
            note_close(s, seen, at, 10);
        }),
    );
    let dl = f.path("dl");
    let mut run = Fetcher::start(
        &f,
        &dl,
        &args(&[
            "--peer",
            &hostile.addr.to_string(),
            "--peer",
            &honest.peer(),
            "--timeout",
            "60",
            "--peer-records",
        ]),
    );
    // Watch bt-fetch's memory while it runs.
    let pid = run.bg.pid();
    let mut hwm = 0;
    while run.bg.child.try_wait().unwrap().is_none() {
        if let Some(k) = proc_status(pid, "VmHWM") {
            hwm = hwm.max(k);
        }
        std::thread::sleep(Duration::from_millis(50));
        assert!(hwm < 100 << 10, "bt-fetch peak RSS {hwm} kB");
    }
    let (code, s) = run.finish(60);
    assert_eq!(code, 0, "{s}\n{}", run.stderr());
    let seen = hostile.seen();
    // Its one connection was dropped at once, and a peer that broke the protocol is not
    // dialed again.
    assert!(
        seen.closed >= 1,
        "the hostile peer was not dropped: {seen:?}"
    );
    assert_eq!(
        seen.handshakes, 1,
        "the hostile peer was dialed again: {seen:?}"
    );
    assert!(seen.close_after.iter().all(|t| *t < 5.0), "{seen:?}");
    let reasons: Vec<_> = run
        .records("peer")
        .into_iter()
        .filter(|r| r["event"] == "disconnected" && r["ip"] == "127.0.0.54")
        .map(|r| r["reason"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("protocol")),
        "{reasons:?}"
    );
    assert_eq!(f.verify(&dl).0, 0);
    f.assert_same(&dl);
    println!(
        "4 GiB prefix: {} connections, dropped after {:?} s; bt-fetch peak RSS {hwm} kB",
        seen.handshakes, seen.close_after
    );
}

#[test]
fn bad_bitfields_and_haves_out_of_range_are_dropped() {
    // 37 pieces: 5 bytes of bitfield with 3 spare bits.
    let f = Fixture::new(&[("a.bin", 36 * 65536 + 1000)], "64K");
    assert_eq!(f.limits.piece_count, 37);
    let honest = Seeder::start(&f, &f.seed_dir(), "127.0.0.55", &[]);
    let len = f.limits.bitfield_len();
    let frame = |bits: Vec<u8>| Message::Bitfield(bits).to_bytes();
    let mut spare = full_bitfield(&f.limits);
    spare[len - 1] |= 1;
    let hostile = [
        ("too long", frame(vec![0xff; len + 1])),
        ("too short", frame(vec![0xff; len - 1])),
        ("spare bits set", frame(spare)),
        ("empty", frame(Vec::new())),
        (
            "have out of range",
            Message::Have(f.limits.piece_count).to_bytes(),
        ),
    ];
    let fakes: Vec<_> = hostile
        .iter()
        .enumerate()
        .map(|(i, (_, bytes))| {
            let ip = format!("127.0.0.{}", 60 + i);
            FakePeer::start(&f, &ip, 60, sends_raw(bytes.clone()))
        })
        .collect();
    let mut a = Vec::new();
    for p in &fakes {
        a.extend(["--peer".to_string(), p.addr.to_string()]);
    }
    a.extend(args(&["--peer", &honest.peer(), "--timeout", "60"]));
    let dl = f.path("dl");
    let mut run = Fetcher::start(&f, &dl, &a);
    let (code, s) = run.finish(90);
    assert_eq!(code, 0, "{s}\n{}", run.stderr());
    for ((what, _), p) in hostile.iter().zip(&fakes) {
        // Allow the last ones a moment if the download finished first.
        assert!(wait_for(10, || p.seen().closed >= 1), "{what}: not dropped");
        let seen = p.seen();
        assert!(seen.close_after[0] < 5.0, "{what}: {seen:?}");
    }
    assert_eq!(s["peers_used"], 1, "{s}");
    assert_eq!(f.verify(&dl).0, 0);
    f.assert_same(&dl);
}

#[test]
fn bad_requests_to_bt_seed_are_dropped_and_it_keeps_serving() {
    let f = Fixture::new(&[("a.bin", 1 << 20), ("b.bin", 100_000)], "64K");
    let seed = Seeder::start(&f, &f.seed_dir(), "127.0.0.70", &[]);
    let l = f.limits;
    let last = l.piece_count - 1;
    let last_len = l.piece_size(last) as u32;
    let block = |piece, offset, length| Block {
        piece,
        offset,
        length,
    };
    let cases = [
        ("piece out of range", block(l.piece_count, 0, 16384)),
        ("piece u32::MAX", block(u32::MAX, 0, 16384)),
        ("block of 32 KiB", block(0, 0, 32768)),
        ("block of 16 KiB + 1", block(0, 0, 16385)),
        (
            "past the end of the torrent",
            block(last, last_len - 100, 16384),
        ),
        ("offset overflowing", block(0, u32::MAX - 10, 16384)),
        ("past the end of a piece", block(0, 65536 - 8192, 16384)),
        ("empty block", block(0, 0, 0)),
    ];
    for (what, b) in cases {
        let mut s = TcpStream::connect_timeout(&seed.addr, Duration::from_secs(5)).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(&Handshake::new(f.info_hash, PeerId::generate().unwrap()).encode())
            .unwrap();
        let mut hs = [0u8; peer::HANDSHAKE_LEN];
        s.read_exact(&mut hs).unwrap();
        send(&mut s, &Message::Interested);
        // Wait to be unchoked, so that only the request's own badness is at stake.
        let mut buf = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut unchoked = false;
        while let Some(m) = read_msg(&mut s, &mut buf, &l, deadline) {
            if m == Message::Unchoke {
                unchoked = true;
                break;
            }
        }
        assert!(unchoked, "{what}: bt-seed never unchoked us");
        let mut raw = Vec::new();
        Message::Request(b).encode(&mut raw);
        s.write_all(&raw).unwrap();
        // Nothing but a close may follow: no piece, no reject of a bad request.
        let mut got = Vec::new();
        let closed = loop {
            let mut chunk = [0u8; 4096];
            match s.read(&mut chunk) {
                Ok(0) => break true,
                Ok(k) => got.extend_from_slice(&chunk[..k]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
                Err(_) => break false,
            }
        };
        assert!(closed, "{what}: connection not dropped");
        // Only harmless messages (keep-alive, have) may have been in flight.
        let mut rest = &got[..];
        while let Ok(Some((m, used))) = peer::decode(rest, &l) {
            assert!(
                !matches!(m, Message::Piece { .. }),
                "{what}: bt-seed answered with data"
            );
            rest = &rest[used..];
        }
    }
    // A well-formed request still gets its exact bytes.
    let mut s = TcpStream::connect_timeout(&seed.addr, Duration::from_secs(5)).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&Handshake::new(f.info_hash, PeerId::generate().unwrap()).encode())
        .unwrap();
    let mut hs = [0u8; peer::HANDSHAKE_LEN];
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.read_exact(&mut hs).unwrap();
    send(&mut s, &Message::Interested);
    let mut buf = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut asked = false;
    let mut data = None;
    while let Some(m) = read_msg(&mut s, &mut buf, &l, deadline) {
        match m {
            Message::Unchoke if !asked => {
                send(&mut s, &Message::Request(block(last, 0, 1000)));
                asked = true;
            }
            Message::Piece {
                piece,
                offset,
                data: d,
            } => {
                assert_eq!((piece, offset), (last, 0));
                data = Some(d);
                break;
            }
            _ => {}
        }
    }
    let whole: Vec<u8> = f
        .files
        .iter()
        .flat_map(|(p, _)| std::fs::read(f.seed_dir().join(p)).unwrap())
        .collect();
    let at = last as usize * l.piece_length as usize;
    assert_eq!(data.expect("the block"), &whole[at..at + 1000]);
    // And an honest downloader gets everything.
    let dl = f.path("dl");
    let mut seed = seed;
    let mut run = Fetcher::start(&f, &dl, &args(&["--peer", &seed.peer(), "--timeout", "60"]));
    let (code, s) = run.finish(90);
    assert_eq!(code, 0, "{s}\n{}", run.stderr());
    f.assert_same(&dl);
    assert!(seed.bg.child.try_wait().unwrap().is_none(), "bt-seed died");
}

#[test]
fn peers_that_request_and_never_read_do_not_lock_out_a_downloader() {
    // Five peers (one more than bt-seed's upload slots) ask for every block and never read a
    // byte: their connections fill up and stall. An honest downloader must still be served.
    // bt-seed gives the slot of an unchoked peer whose uploads stall for 3 s to a waiting peer,
    // so the download is served within seconds, not at the next 10 s choke round: bt-fetch's
    // --timeout 8 ends the run (exit 1) if it is not.
    let f = Fixture::new(&[("a.bin", 4 << 20)], "64K");
    let seed = Seeder::start(&f, &f.seed_dir(), "127.0.0.110", &[]);
    let l = f.limits;
    let hogs: Vec<TcpStream> = (0..5)
        .map(|_| {
            let mut s = TcpStream::connect_timeout(&seed.addr, Duration::from_secs(5)).unwrap();
            s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(&Handshake::new(f.info_hash, PeerId::generate().unwrap()).encode())
                .unwrap();
            let mut hs = [0u8; peer::HANDSHAKE_LEN];
            s.read_exact(&mut hs).unwrap();
            send(&mut s, &Message::Interested);
            let mut raw = Vec::new();
            for piece in 0..l.piece_count {
                for offset in (0..l.piece_size(piece) as u32).step_by(16384) {
                    Message::Request(Block {
                        piece,
                        offset,
                        length: 16384,
                    })
                    .encode(&mut raw);
                }
            }
            // Requests may not all fit while bt-seed's replies pile up: best effort.
            let _ = s.write_all(&raw);
            s
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let busy = Arc::new(AtomicBool::new(true));
    let watcher = watch(seed.bg.pid(), busy.clone());
    let dl = f.path("dl");
    let started = Instant::now();
    let mut run = Fetcher::start(&f, &dl, &args(&["--peer", &seed.peer(), "--timeout", "8"]));
    let (code, s) = run.finish(60);
    let took = started.elapsed().as_secs_f64();
    busy.store(false, Ordering::Relaxed);
    let (threads, hwm) = watcher.join().unwrap();
    println!(
        "hogs: download exit {code} in {took:.1} s; bt-seed peak threads {threads}, RSS {} MiB",
        hwm >> 10
    );
    drop(hogs);
    assert_eq!(code, 0, "{s}\n{}", run.stderr());
    f.assert_same(&dl);
    assert!(hwm < 100 << 10, "bt-seed peak RSS {hwm} kB");
}

#[test]
fn staller_is_timed_out_and_its_blocks_requeued() {
    let f = Fixture::new(&[("a.bin", 3 << 20)], "64K");
    // The honest seeder is slow enough that the download outlasts the snub timeout.
    let honest = Seeder::start(
        &f,
        &f.seed_dir(),
        "127.0.0.71",
        &["--max-upload-rate", "512K"],
    );
    let stall = FakePeer::start(&f, "127.0.0.72", 60, staller());
    let dl = f.path("dl");
    let started = Instant::now();
    let mut run = Fetcher::start(
        &f,
        &dl,
        &args(&[
            "--peer",
            &stall.addr.to_string(),
            "--peer",
            &honest.peer(),
            "--snub-timeout",
            "2",
            "--timeout",
            "60",
            "--peer-records",
        ]),
    );
    let (code, s) = run.finish(90);
    assert_eq!(code, 0, "{s}\n{}", run.stderr());
    assert_eq!(s["complete"], true);
    let seen = stall.seen();
    assert!(seen.requests > 0, "the staller was never asked: {seen:?}");
    let snubbed: Vec<_> = run
        .records("peer")
        .into_iter()
        .filter(|r| r["event"] == "disconnected" && r["ip"] == "127.0.0.72")
        .collect();
    assert!(!snubbed.is_empty(), "the staller was never dropped");
    let reason = snubbed[0]["reason"].as_str().unwrap_or("").to_string();
    assert!(reason.contains("snub"), "{reason}");
    assert!(
        seen.close_after.first().is_some_and(|t| *t < 6.0),
        "{seen:?}"
    );
    assert_eq!(s["peers_used"], 1, "{s}");
    assert_eq!(f.verify(&dl).0, 0);
    f.assert_same(&dl);
    println!(
        "staller: {} requests held, dropped after {:?} s; download took {:.1} s",
        seen.requests,
        seen.close_after,
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Connection flood.

/// Highest Threads and VmHWM (kB) of `pid` while `busy` holds, sampled every 50 ms.
fn watch(pid: u32, busy: Arc<AtomicBool>) -> std::thread::JoinHandle<(u64, u64)> {
    std::thread::spawn(move || {
        let (mut threads, mut hwm) = (0, 0);
        let end = Instant::now() + Duration::from_secs(120);
        while busy.load(Ordering::Relaxed) && Instant::now() < end {
            threads = threads.max(proc_status(pid, "Threads").unwrap_or(0));
            hwm = hwm.max(proc_status(pid, "VmHWM").unwrap_or(0));
            std::thread::sleep(Duration::from_millis(50));
        }
        (threads, hwm)
    })
}

/// 500 connections to bt-seed that never say a word, held open (and, with `reopen`, opened
/// again whenever bt-seed closes them), then an honest bt-fetch. Returns bt-fetch's exit code
/// and summary, and bt-seed's peak threads and peak RSS (kB) over the whole run.
fn flood(reopen: bool, ip: &str) -> (i32, serde_json::Value, u64, u64) {
    let f = Fixture::new(&[("a.bin", 4 << 20)], "64K");
    // Paced so that the download lasts while the flood goes on.
    let seed = Seeder::start(&f, &f.seed_dir(), ip, &["--max-upload-rate", "1M"]);
    let busy = Arc::new(AtomicBool::new(true));
    let watcher = watch(seed.bg.pid(), busy.clone());
    let flooding = Arc::new(AtomicBool::new(true));
    let opened = Arc::new(AtomicUsize::new(0));
    let flood = {
        let (flooding, opened, addr) = (flooding.clone(), opened.clone(), seed.addr);
        std::thread::spawn(move || {
            let connect = || {
                let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
                s.set_nonblocking(true).ok()?;
                opened.fetch_add(1, Ordering::Relaxed);
                Some(s)
            };
            let mut conns: Vec<Option<TcpStream>> = (0..500).map(|_| connect()).collect();
            let mut closed_by_seed = 0;
            let end = Instant::now() + Duration::from_secs(120);
            while flooding.load(Ordering::Relaxed) && Instant::now() < end {
                for c in conns.iter_mut() {
                    let mut b = [0u8; 1];
                    let dead = match c {
                        None => !reopen,
                        Some(s) => match s.read(&mut b) {
                            Ok(0) => true,
                            Ok(_) => false,
                            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                        },
                    };
                    if dead && c.is_some() {
                        closed_by_seed += 1;
                        *c = None;
                    }
                    if dead && reopen {
                        *c = connect();
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            closed_by_seed
        })
    };
    assert!(wait_for(30, || opened.load(Ordering::Relaxed) >= 500));
    std::thread::sleep(Duration::from_millis(500));
    let dl = f.path("dl");
    let started = Instant::now();
    let mut run = Fetcher::start(&f, &dl, &args(&["--peer", &seed.peer(), "--timeout", "60"]));
    let (code, s) = run.finish(90);
    let took = started.elapsed().as_secs_f64();
    flooding.store(false, Ordering::Relaxed);
    let closed_by_seed = flood.join().unwrap();
    busy.store(false, Ordering::Relaxed);
    let (threads, hwm) = watcher.join().unwrap();
    println!(
        "flood (reopen: {reopen}): {} connections opened, {closed_by_seed} closed by bt-seed; \
         download exit {code} in {took:.1} s; bt-seed peak threads {threads}, peak RSS {} MiB",
        opened.load(Ordering::Relaxed),
        hwm >> 10
    );
    if code == 0 {
        f.assert_same(&dl);
    } else {
        println!("bt-fetch: {}", run.stderr());
    }
    drop(seed);
    (code, s, threads, hwm)
}

#[test]
fn flood_of_500_idle_connections_does_not_starve_a_downloader() {
    let (code, s, threads, hwm) = flood(false, "127.0.0.80");
    assert_eq!(code, 0, "{s}");
    assert_eq!(s["complete"], true);
    assert!(threads < 200, "bt-seed ran {threads} threads");
    assert!(hwm < 100 << 10, "bt-seed peak RSS {hwm} kB");
}

#[test]
fn flood_that_reconnects_does_not_starve_a_downloader() {
    let (code, s, threads, hwm) = flood(true, "127.0.0.81");
    assert_eq!(code, 0, "{s}");
    assert_eq!(s["complete"], true);
    assert!(threads < 200, "bt-seed ran {threads} threads");
    assert!(hwm < 100 << 10, "bt-seed peak RSS {hwm} kB");
}

#[test]
fn flood_of_300_handshaken_idle_peers_does_not_starve_a_downloader() {
    // Peers that complete the handshake and then say nothing hold real connection slots.
    let f = Fixture::new(&[("a.bin", 4 << 20)], "64K");
    let seed = Seeder::start(
        &f,
        &f.seed_dir(),
        "127.0.0.82",
        &["--max-upload-rate", "2M"],
    );
    let busy = Arc::new(AtomicBool::new(true));
    let watcher = watch(seed.bg.pid(), busy.clone());
    let mut idle = Vec::new();
    for _ in 0..300 {
        let Ok(mut s) = TcpStream::connect_timeout(&seed.addr, Duration::from_secs(5)) else {
            continue;
        };
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        let ours = Handshake::new(f.info_hash, PeerId::generate().unwrap());
        let mut hs = [0u8; peer::HANDSHAKE_LEN];
        if s.write_all(&ours.encode()).is_ok() && s.read_exact(&mut hs).is_ok() {
            idle.push(s);
        }
    }
    let handshaken = idle.len();
    let dl = f.path("dl");
    let started = Instant::now();
    let mut run = Fetcher::start(&f, &dl, &args(&["--peer", &seed.peer(), "--timeout", "30"]));
    let (code, s) = run.finish(60);
    let took = started.elapsed().as_secs_f64();
    busy.store(false, Ordering::Relaxed);
    let (threads, hwm) = watcher.join().unwrap();
    println!(
        "handshaken flood: {handshaken} idle peers; download exit {code} in {took:.1} s; \
         bt-seed peak threads {threads}, peak RSS {} MiB",
        hwm >> 10
    );
    drop(idle);
    assert_eq!(code, 0, "{s}\n{}", run.stderr());
    f.assert_same(&dl);
    assert!(hwm < 100 << 10, "bt-seed peak RSS {hwm} kB");
    // Two threads per peer up to bt-seed's --max-peers (200), the handshake slots, a few more.
    assert!(
        threads < 2 * 200 + 128 + 32,
        "bt-seed ran {threads} threads"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Disk trouble.

#[test]
fn file_size_limit_exit_2_keeps_verified_pieces_and_rerun_completes() {
    let f = Fixture::new(&[("a.bin", 4 << 20)], "64K");
    let n = f.limits.piece_count as u64;
    let pl = f.limits.piece_length;
    let seed = Seeder::start(
        &f,
        &f.seed_dir(),
        "127.0.0.90",
        &["--max-upload-rate", "4M"],
    );
    let dl = f.path("dl");
    // The file is already there at full length (sparse), its first MiB downloaded: writes past
    // the limit fail with EFBIG (SIGXFSZ is ignored by bt-fetch) instead of extending it.
    std::fs::create_dir_all(dl.join("data")).unwrap();
    let data = std::fs::read(f.seed_dir().join("data/a.bin")).unwrap();
    let mut partial = data[..1 << 20].to_vec();
    partial.resize(data.len(), 0);
    std::fs::write(dl.join("data/a.bin"), &partial).unwrap();
    // The last two pieces lie past the limit; dash's `ulimit -f` counts 512-byte blocks.
    let limit_blocks = ((4 << 20) - (128 << 10)) / 512;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -f {limit_blocks} && exec \"$0\" \"$@\""))
        .arg(bin("bt-fetch"));
    let mut run = Fetcher::start_with(
        cmd,
        &f,
        &dl,
        &args(&["--peer", &seed.peer(), "--timeout", "60"]),
    );
    let (code, s) = run.finish(90);
    let stderr = run.stderr();
    assert_eq!(code, 2, "{s}\n{stderr}");
    assert_eq!(s["complete"], false);
    assert!(
        stderr.contains("a.bin")
            && (stderr.contains("file size limit") || stderr.contains("too large")),
        "unclear message: {stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    let at_start = s["pieces_at_start"].as_u64().unwrap();
    assert_eq!(at_start, 16);
    let reported = at_start + s["pieces_fetched"].as_u64().unwrap();
    let (_, good, bad) = f.verify(&dl);
    assert_eq!(good, reported, "verified on disk vs reported: {s}");
    assert!(bad.iter().all(|p| *p >= 16), "the first MiB was damaged");
    println!("ulimit -f: {stderr}; {good} of {n} pieces kept");
    // The rerun, without the limit, fetches only what is missing.
    let mut rerun = Fetcher::start(&f, &dl, &args(&["--peer", &seed.peer(), "--timeout", "60"]));
    let (code, s) = rerun.finish(90);
    assert_eq!(code, 0, "{s}\n{}", rerun.stderr());
    assert_eq!(s["pieces_at_start"].as_u64().unwrap(), good);
    assert!(
        s["bytes_downloaded"].as_u64().unwrap() <= (n - good) * pl + pl,
        "{s}"
    );
    f.assert_same(&dl);
}
