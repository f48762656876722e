//! Integration tests: swarm (bt-seed, bt-fetch, and real clients on loopback).

use crate::common::*;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Files of uneven sizes with an empty one, under `root/sample`.
const SAMPLE: &[(&str, usize)] = &[
    ("sample/a.bin", 300_001),
    ("sample/docs/b.bin", 77_777),
    ("sample/docs/empty.txt", 0),
    ("sample/z.bin", 654_321),
];

fn sample_files() -> Vec<&'static str> {
    SAMPLE.iter().map(|(p, _)| *p).collect()
}

/// A torrent of `root/sample` made by mktorrent, 32 KiB pieces.
fn mktorrent(root: &Path, out: &Path, tracker: &str) {
    let r = run_cmd(
        Command::new("mktorrent")
            .args(["-l", "15", "-d", "-a", tracker, "-o"])
            .arg(out)
            .arg(root.join("sample")),
        None,
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 0, "mktorrent: {}", r.stderr);
}

/// A directory holding the sample data and its torrent.
fn sample(tracker: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempdir();
    write_tree(&dir.path().join("seed"), SAMPLE);
    let t = dir.path().join("sample.torrent");
    mktorrent(&dir.path().join("seed"), &t, tracker);
    (dir, t)
}

fn same_files(a: &Path, b: &Path) {
    for f in sample_files() {
        let x = std::fs::read(a.join(f)).unwrap_or_else(|e| panic!("{f} in {a:?}: {e}"));
        let y = std::fs::read(b.join(f)).unwrap_or_else(|e| panic!("{f} in {b:?}: {e}"));
        assert!(x == y, "{f} differs");
    }
}

/// A running bt-seed and the records it wrote so far.
struct Seeder {
    bg: Bg,
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Seeder {
    fn start(torrent: &Path, dir: &Path, ip: &str, extra: &[&str]) -> Seeder {
        let mut cmd = Command::new(bin("bt-seed"));
        cmd.arg(torrent)
            .arg("-d")
            .arg(dir)
            .args([
                "--bind",
                ip,
                "--port",
                "0",
                "--json",
                "--stats-interval",
                "1",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut bg = Bg::spawn(&mut cmd, "bt-seed");
        let out = bg.child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let l2 = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                l2.lock().unwrap().push(line);
            }
        });
        let start = Instant::now();
        loop {
            let port = lines.lock().unwrap().iter().find_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                (v["type"] == "listening").then(|| v["port"].as_u64().unwrap() as u16)
            });
            if let Some(port) = port {
                return Seeder { bg, port, lines };
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

    fn records(&self, t: &str) -> Vec<serde_json::Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["type"] == t)
            .collect()
    }
}

fn fetch(torrent: &Path, dir: &Path, args: &[&str], deadline: u64) -> Run {
    fetch_with_stdin(torrent, dir, args, None, deadline)
}

/// bt-fetch on 127.0.0.1 without announcing, with `stdin` piped in when given.
fn fetch_with_stdin(
    torrent: &Path,
    dir: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    deadline: u64,
) -> Run {
    run_cmd(
        Command::new(bin("bt-fetch"))
            .arg(torrent)
            .arg("-d")
            .arg(dir)
            .args(["--json", "--no-announce", "--bind", "127.0.0.1"])
            .args(args),
        stdin,
        Duration::from_secs(deadline),
    )
}

fn summary(r: &Run) -> serde_json::Value {
    let s = r.of_type("summary");
    assert_eq!(s.len(), 1, "one summary: {}\n{}", r.stdout_str(), r.stderr);
    s[0].clone()
}

#[test]
fn seed_to_fetch_multi_file_with_empty_file() {
    let (dir, t) = sample("http://127.0.0.1:9/announce");
    let seed = Seeder::start(
        &t,
        &dir.path().join("seed"),
        "127.0.0.1",
        &["--no-announce"],
    );
    let dl = dir.path().join("dl");
    // A file that is not part of the torrent is left alone.
    std::fs::create_dir_all(dl.join("sample")).unwrap();
    std::fs::write(dl.join("sample/mine.txt"), b"keep me").unwrap();
    let peer = format!("127.0.0.1:{}", seed.port);
    let r = fetch(&t, &dl, &["--peer", &peer, "--timeout", "60"], 90);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = summary(&r);
    assert_eq!(s["complete"], true);
    assert_eq!(s["pieces_at_start"], 0);
    assert_eq!(s["pieces_fetched"], s["pieces"]);
    assert_eq!(s["peers_used"], 1);
    assert_eq!(s["bad_pieces"], 0);
    assert_eq!(s["bytes_downloaded"], 300_001 + 77_777 + 654_321);
    same_files(&dir.path().join("seed"), &dl);
    assert_eq!(
        std::fs::read(dl.join("sample/mine.txt")).unwrap(),
        b"keep me"
    );
    // Already complete: no peer is needed.
    let r = fetch(&t, &dl, &[], 30);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(summary(&r)["pieces_fetched"], 0);
    assert_eq!(summary(&r)["complete"], true);
    // The seeder reported the peer and its upload.
    let deadline = Instant::now() + Duration::from_secs(10);
    while seed.records("stats").last().map(|r| r["uploaded"].as_u64()) != Some(Some(1_032_099)) {
        assert!(Instant::now() < deadline, "no stats record with the upload");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(seed
        .records("peer")
        .iter()
        .any(|p| p["event"] == "connected" && p["incoming"] == true));
    // SIGTERM: the seeder exits 0.
    let mut bg = seed.bg;
    signal(bg.pid(), 15);
    let status = bg
        .wait_timeout(Duration::from_secs(10))
        .expect("bt-seed exits");
    assert_eq!(status.code(), Some(0));
}

/// Overwrite `len` bytes at `at` of the concatenated sample stream under `root`.
fn damage(root: &Path, mut at: usize, mut len: usize) {
    for (p, size) in SAMPLE {
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

#[test]
fn fetch_from_three_partial_seeders_and_resume() {
    let (dir, t) = sample("http://127.0.0.1:9/announce");
    let total: usize = SAMPLE.iter().map(|f| f.1).sum();
    let third = total / 3;
    let mut seeds = Vec::new();
    for i in 0..3 {
        let d = dir.path().join(format!("seed{i}"));
        write_tree(&d, SAMPLE);
        damage(&d, i * third, third);
        let ip = format!("127.0.0.{}", 11 + i);
        seeds.push(Seeder::start(&t, &d, &ip, &["--no-announce"]));
    }
    let peers: Vec<String> = seeds
        .iter()
        .enumerate()
        .map(|(i, s)| format!("127.0.0.{}:{}", 11 + i, s.port))
        .collect();
    // Resume: the download directory already holds the data with its middle damaged.
    let dl = dir.path().join("dl");
    write_tree(&dl, SAMPLE);
    damage(&dl, 100_000, 500_000);
    let mut args = vec!["--timeout", "60"];
    for p in &peers {
        args.extend(["--peer", p.as_str()]);
    }
    let r = fetch(&t, &dl, &args, 90);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = summary(&r);
    assert_eq!(s["complete"], true);
    let pieces = s["pieces"].as_u64().unwrap();
    let at_start = s["pieces_at_start"].as_u64().unwrap();
    let fetched = s["pieces_fetched"].as_u64().unwrap();
    assert!(at_start > 0 && fetched > 0, "{s}");
    // Partial seeders only serve: they never ask bt-fetch for pieces.
    assert_eq!(s["bytes_uploaded"], 0, "{s}");
    assert_eq!(at_start + fetched, pieces);
    // Only the damaged range was fetched: about 500 KB of the 1 MB.
    assert!(s["bytes_downloaded"].as_u64().unwrap() < 600_000, "{s}");
    same_files(&dir.path().join("seed"), &dl);
    // Run again: nothing to fetch.
    let r = fetch(&t, &dl, &args, 60);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(summary(&r)["pieces_fetched"], 0);
}

#[test]
fn no_seeder_gives_up_with_exit_1() {
    let (dir, t) = sample("http://127.0.0.1:9/announce");
    let port = free_port();
    let peer = format!("127.0.0.1:{port}");
    let start = Instant::now();
    let r = fetch(
        &t,
        &dir.path().join("dl"),
        &["--peer", &peer, "--timeout", "2"],
        30,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(start.elapsed() < Duration::from_secs(20));
    let s = summary(&r);
    assert_eq!(s["complete"], false);
    assert!(s["reason"].is_string());
}

#[test]
fn bad_input_is_exit_2() {
    let dir = tempdir();
    let junk = dir.path().join("junk.torrent");
    std::fs::write(&junk, b"not bencode").unwrap();
    let r = fetch(&junk, dir.path(), &["--peer", "127.0.0.1:1"], 20);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("junk.torrent"), "{}", r.stderr);
    let (dir, t) = sample("http://127.0.0.1:9/announce");
    let r = fetch(&t, dir.path(), &["--peer", "nonsense"], 20);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("nonsense"), "{}", r.stderr);
    let missing = dir.path().join("missing.torrent");
    let r = bt(
        "bt-seed",
        &[
            missing.to_str().unwrap(),
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--no-announce",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("missing.torrent"), "{}", r.stderr);
}

/// aria2c seeding `dir` on `ip:port` (it listens without a tracker).
fn aria2_seed(t: &Path, dir: &Path, ip: &str, port: u16) -> Bg {
    Bg::spawn(
        Command::new("aria2c")
            .args([
                "--enable-dht=false",
                "--enable-dht6=false",
                "--bt-enable-lpd=false",
                "--enable-peer-exchange=false",
                "--disable-ipv6=true",
                "--check-integrity=true",
                "--seed-ratio=0.0",
                "--bt-require-crypto=false",
                "--console-log-level=warn",
                "--summary-interval=0",
                "--file-allocation=none",
            ])
            .arg(format!("--interface={ip}"))
            .arg(format!("--listen-port={port}"))
            .arg(format!("--dir={}", dir.display()))
            .arg(t)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        "aria2c",
    )
}

/// Retry a fetch from a peer that may not be listening yet.
fn fetch_retrying(t: &Path, dl: &Path, peer: &str, secs: u64) -> Run {
    fetch(
        t,
        dl,
        &["--peer", peer, "--timeout", &secs.to_string()],
        secs + 30,
    )
}

#[test]
fn fetch_from_aria2c() {
    assert!(have("aria2c"), "aria2c is not installed (see README)");
    let (dir, t) = sample("http://127.0.0.1:9/announce");
    let port = free_port();
    let _a = aria2_seed(&t, &dir.path().join("seed"), "127.0.0.21", port);
    let dl = dir.path().join("dl");
    let r = fetch_retrying(&t, &dl, &format!("127.0.0.21:{port}"), 60);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout_str(), r.stderr);
    assert_eq!(summary(&r)["complete"], true);
    same_files(&dir.path().join("seed"), &dl);
}

#[test]
fn fetch_from_transmission() {
    assert!(
        have("transmission-cli"),
        "transmission-cli is not installed"
    );
    let (dir, t) = sample("http://127.0.0.1:9/announce");
    let port = free_port();
    let conf = dir.path().join("tr");
    std::fs::create_dir_all(&conf).unwrap();
    let settings = serde_json::json!({
        "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false,
        "utp-enabled": false, "port-forwarding-enabled": false,
        "bind-address-ipv4": "127.0.0.22", "bind-address-ipv6": "::1",
        "encryption": 0, "peer-port": port, "rpc-enabled": false,
        "speed-limit-up-enabled": false, "ratio-limit-enabled": false,
    });
    std::fs::write(conf.join("settings.json"), settings.to_string()).unwrap();
    let _tr = Bg::spawn(
        Command::new("transmission-cli")
            .arg("-g")
            .arg(&conf)
            .arg("-w")
            .arg(dir.path().join("seed"))
            .args(["-p", &port.to_string(), "-et", "-M"])
            .arg(&t)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        "transmission-cli",
    );
    let dl = dir.path().join("dl");
    let r = fetch_retrying(&t, &dl, &format!("127.0.0.22:{port}"), 90);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout_str(), r.stderr);
    same_files(&dir.path().join("seed"), &dl);
}

/// An opentracker on 127.0.0.1 that whitelists `hashes`; returns it and its announce URL.
fn opentracker(_dir: &Path, hashes: &[String]) -> (Opentracker, String) {
    let t = Opentracker::start(hashes);
    let url = t.http();
    (t, url)
}

/// An opentracker on 127.0.0.1:`port` that whitelists `hashes`.
fn opentracker_on(_dir: &Path, hashes: &[String], port: u16) -> (Opentracker, String) {
    let t = Opentracker::start_on(hashes, port);
    let url = t.http();
    (t, url)
}

fn info_hash(t: &Path) -> String {
    let r = bt("bt-info", &[t.to_str().unwrap(), "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json()["info_hash"].as_str().unwrap().to_string()
}

/// A tracker, a sample torrent announcing to it, whitelisted.
fn tracked_sample() -> (tempfile::TempDir, PathBuf, Opentracker) {
    let dir = tempdir();
    write_tree(&dir.path().join("seed"), SAMPLE);
    // The torrent's info hash does not depend on the tracker: make it once to learn the hash.
    let probe = dir.path().join("probe.torrent");
    mktorrent(
        &dir.path().join("seed"),
        &probe,
        "http://127.0.0.1:9/announce",
    );
    let (tracker, url) = opentracker(dir.path(), &[info_hash(&probe)]);
    let t = dir.path().join("sample.torrent");
    mktorrent(&dir.path().join("seed"), &t, &url);
    (dir, t, tracker)
}

#[test]
fn aria2c_downloads_from_bt_seed_through_opentracker() {
    assert!(have("aria2c"), "aria2c is not installed (see README)");
    let (dir, t, _tracker) = tracked_sample();
    let _seed = Seeder::start(&t, &dir.path().join("seed"), "127.0.0.1", &[]);
    let dl = dir.path().join("dl");
    std::fs::create_dir_all(&dl).unwrap();
    let r = run_cmd(
        Command::new("aria2c")
            .args([
                "--enable-dht=false",
                "--enable-dht6=false",
                "--bt-enable-lpd=false",
                "--enable-peer-exchange=false",
                "--disable-ipv6=true",
                "--bt-require-crypto=false",
                "--seed-time=0",
                "--console-log-level=warn",
                "--summary-interval=0",
                "--interface=127.0.0.23",
                "--file-allocation=none",
            ])
            .arg(format!("--listen-port={}", free_port()))
            .arg(format!("--dir={}", dl.display()))
            .arg(&t),
        None,
        Duration::from_secs(90),
    );
    assert_eq!(r.code, 0, "aria2c: {}{}", r.stdout_str(), r.stderr);
    same_files(&dir.path().join("seed"), &dl);
}

#[test]
fn fetch_announces_itself_when_stdin_names_no_peer() {
    let (dir, t, _tracker) = tracked_sample();
    let _seed = Seeder::start(&t, &dir.path().join("seed"), "127.0.0.1", &[]);
    let dl = dir.path().join("dl");
    // stdin is /dev/null: no peers there, so bt-fetch asks the tracker. bt-seed announced
    // `started` when it began listening.
    let r = run_cmd(
        Command::new(bin("bt-fetch"))
            .arg(&t)
            .arg("-d")
            .arg(&dl)
            .args(["--json", "--bind", "127.0.0.1", "--timeout", "60"]),
        None,
        Duration::from_secs(90),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(summary(&r)["complete"], true);
    same_files(&dir.path().join("seed"), &dl);
}

#[test]
fn fetch_reads_peer_records_and_lines_from_stdin() {
    let (dir, t) = sample("http://127.0.0.1:9/announce");
    let a = Seeder::start(
        &t,
        &dir.path().join("seed"),
        "127.0.0.1",
        &["--no-announce"],
    );
    let b = Seeder::start(
        &t,
        &dir.path().join("seed"),
        "127.0.0.1",
        &["--no-announce"],
    );
    let input = format!(
        "{{\"type\":\"announce\",\"tracker\":\"x\",\"ok\":true}}\n{{\"type\":\"peer\",\"ip\":\"127.0.0.1\",\"port\":{}}}\n127.0.0.1:{}\n",
        a.port, b.port
    );
    let dl = dir.path().join("dl");
    let r = fetch_with_stdin(&t, &dl, &["--timeout", "60"], Some(input.as_bytes()), 90);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(summary(&r)["complete"], true);
    same_files(&dir.path().join("seed"), &dl);
}

// ---- hostile peers, written against the wire protocol ----

use bt::peer::{Block, Handshake, Limits, Message, PeerId};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

#[derive(Clone, Copy)]
enum Hostile {
    /// Claims every piece and answers requests with garbage.
    Liar,
    /// Sends a 4 GiB length prefix.
    HugeFrame,
    /// Sends a bitfield of the wrong length.
    BadBitfield,
    /// Claims every piece, unchokes, then never sends a block.
    Staller,
}

fn torrent_limits(t: &Path) -> ([u8; 20], Limits) {
    let bytes = std::fs::read(t).unwrap();
    let tor = bt::metainfo::Torrent::from_bytes(&bytes).unwrap();
    (tor.info_hash.unwrap().0, Limits::for_torrent(&tor))
}

/// A fake peer on 127.0.0.1 that serves one connection its way; returns its port.
fn hostile_peer(t: &Path, how: Hostile) -> u16 {
    let (info_hash, limits) = torrent_limits(t);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut s = loop {
            match l.accept() {
                Ok((s, _)) => break s,
                Err(_) if start.elapsed() < Duration::from_secs(60) => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(_) => return,
            }
        };
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut hs = [0u8; 68];
        if s.read_exact(&mut hs).is_err() {
            return;
        }
        let _ = s.write_all(&Handshake::new(info_hash, PeerId::generate().unwrap()).encode());
        let mut out = Vec::new();
        match how {
            Hostile::HugeFrame => out.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 7, 0, 0, 0]),
            Hostile::BadBitfield => {
                // One byte too long (spare bits are covered by the codec's unit tests).
                Message::Bitfield(vec![0xffu8; limits.bitfield_len() + 1]).encode(&mut out);
            }
            Hostile::Liar | Hostile::Staller => {
                Message::HaveAll.encode(&mut out);
                Message::Unchoke.encode(&mut out);
            }
        }
        let _ = s.write_all(&out);
        // Read requests until the other side hangs up.
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 65536];
        loop {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            while let Ok(Some((m, used))) = bt::peer::decode(&buf, &limits) {
                buf.drain(..used);
                if let (Hostile::Liar, Message::Request(b)) = (how, m) {
                    let data = vec![0x5a; b.length as usize];
                    let reply = Message::Piece {
                        piece: b.piece,
                        offset: b.offset,
                        data,
                    };
                    if s.write_all(&reply.to_bytes()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    port
}

fn disconnect_reasons(r: &Run, port: u16) -> Vec<String> {
    r.of_type("peer")
        .iter()
        .filter(|p| p["event"] == "disconnected" && p["port"] == port)
        .map(|p| p["reason"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn hostile_peers_are_dropped_and_the_download_completes() {
    let (dir, t) = sample("http://127.0.0.1:9/announce");
    let seed = Seeder::start(
        &t,
        &dir.path().join("seed"),
        "127.0.0.1",
        &["--no-announce"],
    );
    let honest = format!("127.0.0.1:{}", seed.port);
    for (i, how) in [
        Hostile::Liar,
        Hostile::HugeFrame,
        Hostile::BadBitfield,
        Hostile::Staller,
    ]
    .into_iter()
    .enumerate()
    {
        let dl = dir.path().join(format!("dl{i}"));
        let common = ["--peer-records", "--snub-timeout", "2"];
        // 1. The hostile peer alone: it is dropped, and bt-fetch gives up (exit 1).
        let port = hostile_peer(&t, how);
        let bad = format!("127.0.0.1:{port}");
        let mut args = vec!["--peer", bad.as_str(), "--timeout", "5"];
        args.extend(common);
        let r = fetch(&t, &dl, &args, 60);
        assert_eq!(r.code, 1, "case {i}: {}", r.stderr);
        let s = summary(&r);
        let reasons = disconnect_reasons(&r, port);
        match how {
            Hostile::Liar => {
                assert!(s["bad_pieces"].as_u64().unwrap() >= 2, "{s}");
                assert_eq!(s["pieces_fetched"], 0, "{s}");
                assert!(
                    r.of_type("peer")
                        .iter()
                        .any(|p| p["event"] == "banned" && p["port"] == port),
                    "liar banned: {}",
                    r.stdout_str()
                );
            }
            Hostile::HugeFrame => assert!(
                reasons.iter().any(|x| x.contains("larger than")),
                "{reasons:?}"
            ),
            Hostile::BadBitfield => {
                assert!(
                    reasons.iter().any(|x| x.contains("bitfield")),
                    "{reasons:?}"
                )
            }
            Hostile::Staller => {
                assert!(reasons.iter().any(|x| x.contains("snubbed")), "{reasons:?}")
            }
        }
        // 2. A fresh hostile peer and an honest one: the download completes, and none of the
        // hostile peer's data is in the result.
        let port = hostile_peer(&t, how);
        let bad = format!("127.0.0.1:{port}");
        let mut args = vec!["--peer", bad.as_str(), "--peer", honest.as_str()];
        args.extend(common);
        args.extend(["--timeout", "60"]);
        let r = fetch(&t, &dl, &args, 90);
        assert_eq!(r.code, 0, "case {i}: {}", r.stderr);
        assert_eq!(summary(&r)["complete"], true, "case {i}");
        same_files(&dir.path().join("seed"), &dl);
    }
}

/// Connect to a seeder as a downloader, send `msgs` after the handshake, and report whether
/// the seeder closed the connection within a few seconds.
fn seeder_hangs_up(port: u16, info_hash: [u8; 20], msgs: &[Message]) -> bool {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&Handshake::new(info_hash, PeerId::generate().unwrap()).encode())
        .unwrap();
    let mut out = Vec::new();
    for m in msgs {
        m.encode(&mut out);
    }
    s.write_all(&out).unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 65536];
    while start.elapsed() < Duration::from_secs(5) {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn seeder_drops_peers_that_request_outside_the_torrent() {
    let (dir, t) = sample("http://127.0.0.1:9/announce");
    let (info_hash, limits) = torrent_limits(&t);
    let seed = Seeder::start(
        &t,
        &dir.path().join("seed"),
        "127.0.0.1",
        &["--no-announce"],
    );
    let last = limits.piece_count - 1;
    let bad = [
        // past the last piece
        Block {
            piece: limits.piece_count,
            offset: 0,
            length: 16384,
        },
        // larger than 16 KiB
        Block {
            piece: 0,
            offset: 0,
            length: 32768,
        },
        // past the end of the (short) last piece
        Block {
            piece: last,
            offset: limits.piece_size(last) as u32 - 10,
            length: 16384,
        },
    ];
    for b in bad {
        assert!(
            seeder_hangs_up(
                seed.port,
                info_hash,
                &[Message::Interested, Message::Request(b)]
            ),
            "{b:?}"
        );
    }
    // A 4 GiB frame from a downloader: dropped too.
    let mut s = TcpStream::connect(("127.0.0.1", seed.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&Handshake::new(info_hash, PeerId::generate().unwrap()).encode())
        .unwrap();
    s.write_all(&[0xff, 0xff, 0xff, 0xff]).unwrap();
    let mut buf = [0u8; 65536];
    let mut closed = false;
    for _ in 0..100 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => {
                closed = true;
                break;
            }
            Ok(_) => {}
        }
    }
    assert!(closed);
    // The seeder still serves an honest download.
    let dl = dir.path().join("dl");
    let peer = format!("127.0.0.1:{}", seed.port);
    let r = fetch(&t, &dl, &["--peer", &peer, "--timeout", "60"], 90);
    assert_eq!(r.code, 0, "{}", r.stderr);
    same_files(&dir.path().join("seed"), &dl);
}

#[test]
fn idle_connection_flood_does_not_starve_a_downloader() {
    let (dir, t) = sample("http://127.0.0.1:9/announce");
    let seed = Seeder::start(
        &t,
        &dir.path().join("seed"),
        "127.0.0.1",
        &["--no-announce"],
    );
    let mut idle = Vec::new();
    for _ in 0..300 {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", seed.port)) {
            idle.push(s);
        }
    }
    assert!(idle.len() >= 250);
    let dl = dir.path().join("dl");
    let peer = format!("127.0.0.1:{}", seed.port);
    let start = Instant::now();
    let r = fetch(&t, &dl, &["--peer", &peer, "--timeout", "60"], 90);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(start.elapsed() < Duration::from_secs(30));
    same_files(&dir.path().join("seed"), &dl);
    // bt-seed's threads stay bounded.
    let status = std::fs::read_to_string(format!("/proc/{}/status", seed.bg.pid())).unwrap();
    let threads: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(threads < 200, "{threads} threads");
    drop(idle);
}

// ---- the whole pipeline, crashes and losses ----

#[test]
fn make_seed_announce_fetch_verify_through_opentracker() {
    let dir = tempdir();
    write_tree(&dir.path().join("seed"), SAMPLE);
    let tport = free_port();
    let url = format!("http://127.0.0.1:{tport}/announce");
    let t = dir.path().join("sample.torrent");
    let r = bt(
        "bt-make",
        &[
            dir.path().join("seed/sample").to_str().unwrap(),
            "-o",
            t.to_str().unwrap(),
            "-a",
            &url,
            "--piece-length",
            "32K",
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "bt-make: {}", r.stderr);
    let ih = info_hash(&t);
    let (_tracker, url2) = opentracker_on(dir.path(), &[ih], tport);
    assert_eq!(url, url2);
    let seed = Seeder::start(&t, &dir.path().join("seed"), "127.0.0.1", &[]);
    // Wait until the tracker lists the seeder, then pipe bt-announce into bt-fetch.
    let start = Instant::now();
    let peers = loop {
        let r = bt(
            "bt-announce",
            &[t.to_str().unwrap(), "--port", "1", "--json"],
        );
        assert_eq!(r.code, 0, "bt-announce: {}", r.stderr);
        if r.of_type("peer").iter().any(|p| p["port"] == seed.port) {
            break r.stdout;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "seeder never announced"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let dl = dir.path().join("dl");
    let r = fetch_with_stdin(&t, &dl, &["--timeout", "60"], Some(&peers), 90);
    assert_eq!(r.code, 0, "bt-fetch: {}", r.stderr);
    assert_eq!(summary(&r)["complete"], true);
    let v = bt(
        "bt-verify",
        &[t.to_str().unwrap(), "-d", dl.to_str().unwrap(), "--json"],
    );
    assert_eq!(v.code, 0, "bt-verify: {}{}", v.stdout_str(), v.stderr);
    same_files(&dir.path().join("seed"), &dl);
}

fn fetch_bg(t: &Path, dl: &Path, args: &[&str]) -> Bg {
    Bg::spawn(
        Command::new(bin("bt-fetch"))
            .arg(t)
            .arg("-d")
            .arg(dl)
            .args(["--json", "--no-announce", "--bind", "127.0.0.1"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        "bt-fetch",
    )
}

#[test]
fn kill_9_loses_no_verified_piece() {
    let (dir, t) = sample("http://127.0.0.1:9/announce");
    // A slow seeder, so the download is killed in the middle.
    let seed = Seeder::start(
        &t,
        &dir.path().join("seed"),
        "127.0.0.1",
        &["--no-announce", "--max-upload-rate", "300K"],
    );
    let peer = format!("127.0.0.1:{}", seed.port);
    let dl = dir.path().join("dl");
    let mut verified_at_kill = 0;
    for _ in 0..2 {
        let mut bg = fetch_bg(&t, &dl, &["--peer", &peer, "--timeout", "60"]);
        std::thread::sleep(Duration::from_millis(1200));
        signal(bg.pid(), 9);
        let _ = bg.wait_timeout(Duration::from_secs(5));
        // What is on disk after the kill, checked independently.
        let v = bt(
            "bt-verify",
            &[t.to_str().unwrap(), "-d", dl.to_str().unwrap(), "--json"],
        );
        let good = v.of_type("summary")[0]["good_pieces"].as_u64().unwrap();
        assert!(good >= verified_at_kill, "a kill lost verified pieces");
        verified_at_kill = good;
    }
    assert!(verified_at_kill > 0, "the killed runs verified something");
    let r = fetch(&t, &dl, &["--peer", &peer, "--timeout", "60"], 90);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = summary(&r);
    // The rerun fetched only what was not verified when the last run was killed.
    assert_eq!(
        s["pieces_at_start"].as_u64().unwrap(),
        verified_at_kill,
        "{s}"
    );
    assert_eq!(
        verified_at_kill + s["pieces_fetched"].as_u64().unwrap(),
        s["pieces"].as_u64().unwrap()
    );
    same_files(&dir.path().join("seed"), &dl);
}

#[test]
fn seeder_loss_and_all_seeders_gone() {
    let (dir, t) = sample("http://127.0.0.1:9/announce");
    let slow = ["--no-announce", "--max-upload-rate", "200K"];
    let a = Seeder::start(&t, &dir.path().join("seed"), "127.0.0.31", &slow);
    let b = Seeder::start(&t, &dir.path().join("seed"), "127.0.0.32", &slow);
    let pa = format!("127.0.0.31:{}", a.port);
    let pb = format!("127.0.0.32:{}", b.port);
    let dl = dir.path().join("dl");
    let mut bg = Bg::spawn(
        Command::new(bin("bt-fetch"))
            .arg(&t)
            .arg("-d")
            .arg(&dl)
            .args(["--json", "--no-announce", "--peer", &pa, "--peer", &pb])
            .args(["--bind", "127.0.0.1", "--timeout", "60"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
        "bt-fetch",
    );
    std::thread::sleep(Duration::from_millis(1000));
    drop(a); // killed halfway
    let status = bg
        .wait_timeout(Duration::from_secs(60))
        .expect("bt-fetch ends");
    assert_eq!(status.code(), Some(0));
    same_files(&dir.path().join("seed"), &dl);

    // All seeders gone: exit 1 after --timeout, with the verified pieces kept.
    let dl2 = dir.path().join("dl2");
    let mut bg = fetch_bg(&t, &dl2, &["--peer", &pb, "--timeout", "4"]);
    std::thread::sleep(Duration::from_millis(2000));
    drop(b);
    let status = bg
        .wait_timeout(Duration::from_secs(30))
        .expect("bt-fetch ends");
    assert_eq!(status.code(), Some(1));
    let r = fetch(&t, &dl2, &["--peer", "127.0.0.1:1", "--timeout", "1"], 30);
    assert_eq!(r.code, 1);
    assert!(summary(&r)["pieces_at_start"].as_u64().unwrap() > 0);
}

#[test]
fn file_size_limit_is_a_clear_error() {
    let (dir, t) = sample("http://127.0.0.1:9/announce");
    let seed = Seeder::start(
        &t,
        &dir.path().join("seed"),
        "127.0.0.1",
        &["--no-announce"],
    );
    let dl = dir.path().join("dl");
    let cmd = format!(
        "ulimit -f 512; exec '{}' '{}' -d '{}' --json --no-announce --bind 127.0.0.1 --peer 127.0.0.1:{} --timeout 30",
        bin("bt-fetch").display(),
        t.display(),
        dl.display(),
        seed.port
    );
    let r = run_cmd(
        Command::new("sh").args(["-c", &cmd]),
        None,
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout_str(), r.stderr);
    assert!(r.stderr.starts_with("bt-fetch: error:"), "{}", r.stderr);
    assert!(
        r.stderr.contains("file size limit exceeded") && r.stderr.contains("dl/sample/"),
        "names the problem and the file: {}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
}

#[test]
fn one_seeder_serves_two_torrents_on_one_port() {
    let (dir, t) = sample("http://127.0.0.1:9/announce");
    let seed_dir = dir.path().join("seed");
    std::fs::write(seed_dir.join("single.bin"), data(100_000, 42)).unwrap();
    let t2 = dir.path().join("single.torrent");
    let r = run_cmd(
        Command::new("mktorrent")
            .args(["-l", "15", "-d", "-a", "http://127.0.0.1:9/announce", "-o"])
            .arg(&t2)
            .arg(seed_dir.join("single.bin")),
        None,
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let seed = Seeder::start(
        &t,
        &seed_dir,
        "127.0.0.1",
        &["--no-announce", t2.to_str().unwrap()],
    );
    let listening = seed.records("listening");
    assert_eq!(listening.len(), 2, "{listening:?}");
    assert!(listening.iter().all(|l| l["port"] == seed.port));
    assert_ne!(listening[0]["info_hash"], listening[1]["info_hash"]);
    let peer = format!("127.0.0.1:{}", seed.port);
    let dl = dir.path().join("dl");
    for torrent in [&t, &t2] {
        let r = fetch(torrent, &dl, &["--peer", &peer, "--timeout", "60"], 90);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    same_files(&seed_dir, &dl);
    assert_eq!(
        std::fs::read(dl.join("single.bin")).unwrap(),
        data(100_000, 42)
    );
    // With --bind, outgoing connections leave from that address too.
    let r = run_cmd(
        Command::new(bin("bt-fetch"))
            .arg(&t2)
            .arg("-d")
            .arg(dir.path().join("dl2"))
            .args(["--json", "--no-announce", "--bind", "127.0.0.41"])
            .args(["--peer", &peer, "--timeout", "60"]),
        None,
        Duration::from_secs(90),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seed
        .records("peer")
        .iter()
        .any(|p| p["event"] == "connected" && p["ip"] == "127.0.0.41")
    {
        assert!(Instant::now() < deadline, "{:?}", seed.records("peer"));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// aria2c opens with an MSE handshake: bt-seed answers it (selecting plaintext) instead of
/// dropping the connection and making aria2c retry with the legacy handshake a second later.
/// With `--bt-require-crypto=true` aria2c never falls back to the legacy handshake, so the
/// download completes only through MSE.
#[test]
fn aria2c_mse_handshake_is_accepted_by_bt_seed() {
    assert!(have("aria2c"), "aria2c is not installed (see README)");
    let (dir, t, _tracker) = tracked_sample();
    let _seed = Seeder::start(&t, &dir.path().join("seed"), "127.0.0.1", &[]);
    for (i, require) in ["true", "false"].iter().enumerate() {
        let dl = dir.path().join(format!("dl{i}"));
        std::fs::create_dir_all(&dl).unwrap();
        let log = dir.path().join(format!("aria2c-{i}.log"));
        let started = Instant::now();
        let r = run_cmd(
            Command::new("aria2c")
                .args([
                    "--enable-dht=false",
                    "--enable-dht6=false",
                    "--bt-enable-lpd=false",
                    "--enable-peer-exchange=false",
                    "--disable-ipv6=true",
                    "--bt-min-crypto-level=plain",
                    "--seed-time=0",
                    "--console-log-level=warn",
                    "--summary-interval=0",
                    "--interface=127.0.0.23",
                    "--file-allocation=none",
                    "--log-level=info",
                ])
                .arg(format!("--bt-require-crypto={require}"))
                .arg(format!("--log={}", log.display()))
                .arg(format!("--listen-port={}", free_port()))
                .arg(format!("--dir={}", dl.display()))
                .arg(&t),
            None,
            Duration::from_secs(90),
        );
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert_eq!(
            r.code,
            0,
            "aria2c (require crypto {require}): {}{}\n{text}",
            r.stdout_str(),
            r.stderr
        );
        assert!(
            !text.contains("legacy BitTorrent handshake"),
            "aria2c fell back to the legacy handshake (require crypto {require}):\n{text}"
        );
        same_files(&dir.path().join("seed"), &dl);
        eprintln!("require crypto {require}: {:?}", started.elapsed());
    }
}
