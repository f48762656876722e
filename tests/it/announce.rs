//! Integration tests: announce. bt-announce against a real opentracker on 127.0.0.1 (HTTP and
//! UDP on one port), dead and silent trackers in tiers, and hostile tracker servers written here.

use crate::common::*;
use sha1::Digest;
use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A small valid single-file torrent with the given tiers; returns its path and info hash.
fn torrent(dir: &Path, name: &str, tiers: &[&[&str]]) -> (PathBuf, [u8; 20]) {
    let content = data(100, name.len() as u64);
    let piece: [u8; 20] = sha1::Sha1::digest(&content).into();
    let mut info = format!(
        "d6:lengthi100e4:name{}:{name}12:piece lengthi16384e6:pieces20:",
        name.len()
    )
    .into_bytes();
    info.extend_from_slice(&piece);
    info.push(b'e');
    let hash: [u8; 20] = sha1::Sha1::digest(&info).into();
    let s = |x: &str| format!("{}:{x}", x.len());
    let mut t = format!("d8:announce{}", s(tiers[0][0]));
    if tiers.len() > 1 || tiers[0].len() > 1 {
        t.push_str("13:announce-listl");
        for tier in tiers {
            t.push('l');
            for u in *tier {
                t.push_str(&s(u));
            }
            t.push('e');
        }
        t.push('e');
    }
    t.push_str("4:info");
    let mut bytes = t.into_bytes();
    bytes.extend_from_slice(&info);
    bytes.push(b'e');
    let path = dir.join(format!("{name}.torrent"));
    std::fs::write(&path, bytes).unwrap();
    (path, hash)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// opentracker on 127.0.0.1 whitelisting raw hashes.
struct Tracker;

impl Tracker {
    fn start(hashes: &[[u8; 20]]) -> Opentracker {
        Opentracker::start(&hashes.iter().map(|h| hex(h)).collect::<Vec<_>>())
    }
}

fn announce(args: &[&str]) -> Run {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    run_cmd(
        Command::new(bin("bt-announce")).args(&all),
        None,
        Duration::from_secs(30),
    )
}

fn peers(r: &Run) -> Vec<String> {
    r.of_type("peer")
        .iter()
        .map(|p| format!("{}:{}", p["ip"].as_str().unwrap(), p["port"]))
        .collect()
}

#[test]
fn http_and_udp_return_a_client_that_announced_before() {
    let dir = tempdir();
    let (t0, h) = torrent(dir.path(), "a", &[&["http://unused.invalid/announce"]]);
    let tr = Tracker::start(&[h]);
    let t = t0.to_str().unwrap();
    // HTTP: opentracker tells peers apart by (source address, port).
    let first = announce(&[t, "--tracker", &tr.http(), "--port", "1111"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let second = announce(&[t, "--tracker", &tr.http(), "--port", "2222"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        peers(&second).contains(&"127.0.0.1:1111".to_string()),
        "{:?}",
        peers(&second)
    );
    let rec = &second.of_type("announce")[0];
    assert_eq!(rec["ok"], true);
    assert_eq!(rec["tracker"], tr.http());
    assert!(rec["interval"].as_u64().unwrap() > 0);
    assert_eq!(
        rec["peers"].as_u64().unwrap() as usize,
        peers(&second).len()
    );
    assert!(second
        .of_type("peer")
        .iter()
        .all(|p| p["tracker"] == tr.http()));

    // HTTP from a chosen loopback address: the tracker records that address.
    let c = announce(&[
        t,
        "--tracker",
        &tr.http(),
        "--bind",
        "127.0.0.4",
        "--port",
        "5555",
    ]);
    assert_eq!(c.code, 0, "{}", c.stderr);
    assert!(
        peers(&c).contains(&"127.0.0.4:5555".to_string()),
        "{:?}",
        peers(&c)
    );

    // UDP, each client from its own loopback address.
    let a = announce(&[
        t,
        "--tracker",
        &tr.udp(),
        "--bind",
        "127.0.0.2",
        "--port",
        "3333",
    ]);
    assert_eq!(a.code, 0, "{}", a.stderr);
    let b = announce(&[
        t,
        "--tracker",
        &tr.udp(),
        "--bind",
        "127.0.0.3",
        "--port",
        "4444",
    ]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    let got = peers(&b);
    for p in [
        "127.0.0.2:3333",
        "127.0.0.1:1111",
        "127.0.0.3:4444",
        "127.0.0.4:5555",
    ] {
        assert!(got.contains(&p.to_string()), "{p} missing from {got:?}");
    }
    assert_eq!(b.of_type("announce")[0]["tracker"], tr.udp());
}

fn scrape_counts(t: &str, tracker: &str) -> (u64, u64) {
    let r = announce(&[t, "--tracker", tracker, "--scrape"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = &r.of_type("scrape")[0];
    assert_eq!(s["ok"], true, "{s}");
    (
        s["complete"].as_u64().unwrap(),
        s["incomplete"].as_u64().unwrap(),
    )
}

#[test]
fn stopped_removes_us_and_scrape_counts_follow() {
    let dir = tempdir();
    let (t0, h) = torrent(dir.path(), "b", &[&["http://unused.invalid/announce"]]);
    let tr = Tracker::start(&[h]);
    let t = t0.to_str().unwrap();
    let http = tr.http();
    let udp = tr.udp();
    let seeder = ["--tracker", &http, "--port", "1111", "--left", "0"];
    let r = announce(&[&[t][..], &seeder].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = announce(&[
        t,
        "--tracker",
        &udp,
        "--bind",
        "127.0.0.2",
        "--port",
        "2222",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(scrape_counts(t, &http), (1, 1));
    assert_eq!(scrape_counts(t, &udp), (1, 1));

    let r = announce(&[&[t][..], &seeder, &["--event", "stopped"]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(scrape_counts(t, &http), (0, 1));
    assert_eq!(scrape_counts(t, &udp), (0, 1));
    let r = announce(&[
        t,
        "--tracker",
        &udp,
        "--bind",
        "127.0.0.2",
        "--port",
        "2222",
        "--event",
        "none",
    ]);
    assert!(
        !peers(&r).contains(&"127.0.0.1:1111".to_string()),
        "{:?}",
        peers(&r)
    );

    let r = announce(&[
        t,
        "--tracker",
        &udp,
        "--bind",
        "127.0.0.2",
        "--port",
        "2222",
        "--event",
        "stopped",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(scrape_counts(t, &udp), (0, 0));

    // A tracker without a scrape URL is named, and nothing answered means exit 1.
    let r = announce(&[t, "--tracker", "http://127.0.0.1:1/tracker", "--scrape"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no scrape url"), "{}", r.stderr);
}

#[test]
fn dead_first_tier_falls_through_to_the_second_within_the_timeout() {
    let dir = tempdir();
    let closed = format!("http://127.0.0.1:{}/announce", free_port());
    let silent_tcp = TcpListener::bind("127.0.0.1:0").unwrap(); // accepts into backlog, never answers
    let silent_tcp_url = format!("http://{}/announce", silent_tcp.local_addr().unwrap());
    let silent_udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_udp_url = format!("udp://{}/announce", silent_udp.local_addr().unwrap());
    let closed_udp = format!("udp://127.0.0.1:{}", {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    });
    // The info hash does not depend on the trackers: whitelist it, then name the real port.
    let (_, h) = torrent(dir.path(), "c", &[&["http://unused.invalid/announce"]]);
    let tr = Tracker::start(&[h]);
    let good = tr.http();
    let (t0, _) = torrent(
        dir.path(),
        "c",
        &[
            &[&closed, &silent_tcp_url, &silent_udp_url, &closed_udp],
            &[&good],
        ],
    );
    let t = t0.to_str().unwrap();
    let pre = announce(&[t, "--tracker", &tr.http(), "--port", "1111"]);
    assert_eq!(pre.code, 0, "{}", pre.stderr);

    let start = Instant::now();
    let r = announce(&[t, "--timeout", "1", "--port", "2222"]);
    let took = start.elapsed();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert!(peers(&r).contains(&"127.0.0.1:1111".to_string()));
    let recs = r.of_type("announce");
    assert_eq!(recs.len(), 5, "{recs:?}");
    assert_eq!(recs.iter().filter(|a| a["ok"] == true).count(), 1);
    assert_eq!(recs.last().unwrap()["tracker"], tr.http());
    for dead in [&closed, &silent_tcp_url, &silent_udp_url, &closed_udp] {
        assert!(
            r.stderr.contains(dead.as_str()),
            "{dead} not named in {}",
            r.stderr
        );
    }
    let silent = recs
        .iter()
        .find(|a| a["tracker"] == silent_udp_url.as_str())
        .unwrap();
    assert!(
        silent["error"]
            .as_str()
            .unwrap()
            .contains("no answer within 1.0 s"),
        "{silent}"
    );

    // The same through the bound HTTP client.
    let start = Instant::now();
    let r = announce(&[t, "--timeout", "1", "--port", "2222", "--bind", "127.0.0.1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(start.elapsed() < Duration::from_secs(8));
    assert_eq!(r.of_type("announce").len(), 5);
    let silent = r
        .of_type("announce")
        .into_iter()
        .find(|a| a["tracker"] == silent_tcp_url.as_str())
        .unwrap();
    assert!(
        silent["error"]
            .as_str()
            .unwrap()
            .contains("no answer within"),
        "{silent}"
    );

    // --all asks everyone at once: the same answer in about one timeout.
    let start = Instant::now();
    let r = announce(&[t, "--timeout", "1", "--port", "2222", "--all"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(r.of_type("announce").len(), 5);
    drop(silent_tcp);
}

/// A hostile HTTP tracker: answers every request with `respond(request_line)`, records the
/// request lines, stops when dropped or after 20 s.
struct HttpServer {
    port: u16,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<String>>>,
    handle: Option<JoinHandle<()>>,
}

impl HttpServer {
    fn start(respond: impl Fn(&str, u16) -> Vec<u8> + Send + 'static) -> HttpServer {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (stop2, reqs2) = (stop.clone(), requests.clone());
        let handle = std::thread::spawn(move || {
            let start = Instant::now();
            while !stop2.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(20) {
                let Ok((mut s, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16384 {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&buf).into_owned();
                let line = text.lines().next().unwrap_or("").to_string();
                reqs2.lock().unwrap().push(line.clone());
                let _ = s.write_all(&respond(&line, port));
            }
        });
        HttpServer {
            port,
            stop,
            requests,
            handle: Some(handle),
        }
    }
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/announce", self.port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn ok_body(body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// Run bt-announce against a server answering `body`, twice: through ureq, and through the
/// bound HTTP client (`--bind 127.0.0.1`); both must behave the same.
fn against(body: Vec<u8>) -> Vec<Run> {
    let dir = tempdir();
    let (t, _) = torrent(dir.path(), "h", &[&["http://unused.invalid/announce"]]);
    let srv = HttpServer::start(move |_, _| ok_body(&body));
    let base = [
        t.to_str().unwrap(),
        "--tracker",
        &srv.url(),
        "--timeout",
        "5",
    ];
    let runs = vec![
        announce(&base),
        announce(&[&base[..], &["--bind", "127.0.0.1"]].concat()),
    ];
    assert_eq!(srv.requests.lock().unwrap().len(), 2);
    runs
}

#[test]
fn the_query_is_percent_encoded_byte_for_byte() {
    let dir = tempdir();
    let (t, h) = torrent(dir.path(), "q", &[&["http://unused.invalid/announce"]]);
    let srv = HttpServer::start(|_, _| ok_body(b"d8:intervali60e5:peers0:e"));
    let url = format!("{}?passkey=k%2F1", srv.url());
    let id = "2d42543031303021ff00207e2e5f2d41615a7a30";
    let r = announce(&[
        t.to_str().unwrap(),
        "--tracker",
        &url,
        "--peer-id",
        id,
        "--port",
        "7",
        "--numwant",
        "3",
        "--left",
        "9",
        "--event",
        "completed",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let expect_hash: String = h
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let line = srv.requests.lock().unwrap()[0].clone();
    let expect = format!(
        "GET /announce?passkey=k%2F1&info_hash={expect_hash}&peer_id=-BT0100%21%FF%00%20~._-AaZz0\
         &port=7&uploaded=0&downloaded=0&left=9&compact=1&event=completed&numwant=3&key="
    );
    assert!(line.starts_with(&expect), "\n{line}\n{expect}");
}

#[test]
fn truncated_bencode_is_a_clear_error() {
    for r in against(b"d8:intervali1800e5:peers12:abc".to_vec()) {
        assert_eq!(r.code, 1);
        assert!(
            r.stderr.contains("invalid response: not bencode"),
            "{}",
            r.stderr
        );
        let a = &r.of_type("announce")[0];
        assert_eq!(a["ok"], false);
        assert!(a["error"].as_str().unwrap().contains("not bencode"));
    }
}

#[test]
fn huge_peer_lists_are_capped_or_refused() {
    let n = 200_000; // 1.2 MB of compact peers: under the size cap, over the peer cap
    let mut body = format!("d8:intervali60e5:peers{}:", n * 6).into_bytes();
    for i in 0..n as u32 {
        body.extend_from_slice(&(0x0a00_0000 + i).to_be_bytes());
        body.extend_from_slice(&[0x1a, 0xe1]);
    }
    body.push(b'e');
    for r in against(body) {
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(r.of_type("peer").len(), 10_000);
        assert!(r.stderr.contains("kept the first 10000"), "{}", r.stderr);
        let a = &r.of_type("announce")[0];
        assert_eq!(a["peers"], 10_000);
        assert!(a["notes"][0].as_str().unwrap().contains("200000 peers"));
    }

    let mut big = b"d5:peers3000000:".to_vec();
    big.resize(big.len() + 3_000_000, 1);
    big.push(b'e');
    for r in against(big) {
        assert_eq!(r.code, 1);
        assert!(r.stderr.contains("response larger than"), "{}", r.stderr);
    }
}

#[test]
fn a_peers_string_not_a_multiple_of_six_is_a_partial_answer() {
    let mut body = b"d8:intervali60e5:peers14:".to_vec();
    body.extend_from_slice(&[127, 0, 0, 9, 0, 80, 127, 0, 0, 8, 0, 81, 1, 2]);
    body.push(b'e');
    for r in against(body) {
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(peers(&r), ["127.0.0.9:80", "127.0.0.8:81"]);
        assert!(r.stderr.contains("not a multiple of 6"), "{}", r.stderr);
    }
}

#[test]
fn a_failure_reason_with_control_characters_is_escaped() {
    let reason = "go \u{1b}[2J\u{7}away\nnow";
    let body = format!("d14:failure reason{}:{reason}e", reason.len()).into_bytes();
    for r in against(body.clone()) {
        assert_eq!(r.code, 1);
        assert!(
            !r.stderr.contains('\u{1b}') && !r.stderr.contains('\u{7}'),
            "{:?}",
            r.stderr
        );
        assert!(
            r.stderr
                .contains("tracker refused: go \\x1b[2J\\x07away\\nnow"),
            "{}",
            r.stderr
        );
        assert_eq!(r.stderr.lines().count(), 2, "{}", r.stderr);
        let a = &r.of_type("announce")[0];
        assert_eq!(a["error"], format!("tracker refused: {reason}"));
    }
    // Human output on stdout/stderr is escaped too.
    let dir = tempdir();
    let (t, _) = torrent(dir.path(), "f", &[&["http://unused.invalid/announce"]]);
    let srv = HttpServer::start(move |_, _| ok_body(&body));
    let r = bt(
        "bt-announce",
        &[t.to_str().unwrap(), "--human", "--tracker", &srv.url()],
    );
    assert_eq!(r.code, 1);
    assert!(!r.stderr.contains('\u{1b}'), "{:?}", r.stderr);
}

#[test]
fn a_redirect_loop_is_a_clear_error() {
    let dir = tempdir();
    let (t, _) = torrent(dir.path(), "r", &[&["http://unused.invalid/announce"]]);
    let srv = HttpServer::start(|_, port| {
        format!(
            "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{port}/announce?again\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .into_bytes()
    });
    for bind in [&[][..], &["--bind", "127.0.0.1"]] {
        srv.requests.lock().unwrap().clear();
        let start = Instant::now();
        let args = [
            t.to_str().unwrap(),
            "--tracker",
            &srv.url(),
            "--timeout",
            "5",
        ];
        let r = announce(&[&args[..], bind].concat());
        assert_eq!(r.code, 1);
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(r.stderr.contains("redirect loop"), "{}", r.stderr);
        let n = srv.requests.lock().unwrap().len();
        assert!((5..=6).contains(&n), "{n} requests");
    }
}

/// A hostile UDP tracker: answers each packet with `respond(packet)` (none if empty); stops
/// when the returned flag is set (or after 10 s).
fn udp_server(
    respond: impl Fn(&[u8]) -> Vec<Vec<u8>> + Send + 'static,
) -> (String, Arc<AtomicBool>, JoinHandle<()>) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let url = format!("udp://{}", s.local_addr().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let h = std::thread::spawn(move || {
        let start = Instant::now();
        let mut buf = [0u8; 2048];
        while !stop2.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(10) {
            if let Ok((n, from)) = s.recv_from(&mut buf) {
                for p in respond(&buf[..n]) {
                    let _ = s.send_to(&p, from);
                }
            }
        }
    });
    (url, stop, h)
}

#[test]
fn hostile_udp_trackers_give_clear_errors_not_hangs() {
    let dir = tempdir();
    let (t, _) = torrent(dir.path(), "u", &[&["http://unused.invalid/announce"]]);
    let t = t.to_str().unwrap();
    // Wrong transaction ids and short packets are ignored until the timeout, and counted.
    let (url, stop, h) = udp_server(|p| {
        let mut wrong = p[8..16].to_vec();
        wrong[7] ^= 0xff;
        vec![wrong, vec![0, 0, 0], vec![]]
    });
    let start = Instant::now();
    let r = announce(&[t, "--tracker", &url, "--timeout", "1"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(start.elapsed() < Duration::from_secs(4));
    assert!(
        r.stderr.contains("no answer within 1.0 s (ignored"),
        "{}",
        r.stderr
    );
    stop.store(true, Ordering::SeqCst);
    h.join().unwrap();

    // Our transaction id but a short announce answer: an error at once.
    let (url, stop, h) = udp_server(|p| {
        let tid = p[12..16].to_vec();
        if p.len() == 16 {
            let mut a = vec![0, 0, 0, 0];
            a.extend_from_slice(&tid);
            a.extend_from_slice(&[9; 8]);
            vec![a]
        } else {
            let mut a = vec![0, 0, 0, 1];
            a.extend_from_slice(&tid);
            a.extend_from_slice(&[0, 0]);
            vec![a]
        }
    });
    let r = announce(&[t, "--tracker", &url, "--timeout", "3"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("announce answer of 10 bytes is shorter than 20"),
        "{}",
        r.stderr
    );
    stop.store(true, Ordering::SeqCst);
    h.join().unwrap();

    // An error packet with control characters is the tracker's refusal, escaped.
    let (url, stop, h) = udp_server(|p| {
        let mut a = vec![0, 0, 0, 3];
        a.extend_from_slice(&p[12..16]);
        a.extend_from_slice(b"banned\x1b[0m");
        vec![a]
    });
    let r = announce(&[t, "--tracker", &url, "--timeout", "3"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("tracker refused: banned\\x1b[0m"),
        "{}",
        r.stderr
    );
    stop.store(true, Ordering::SeqCst);
    h.join().unwrap();
}

#[test]
fn bad_input_exits_2() {
    let dir = tempdir();
    let junk = dir.path().join("junk.torrent");
    std::fs::write(&junk, b"not a torrent").unwrap();
    let r = announce(&[junk.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("junk.torrent"), "{}", r.stderr);
    let (t, _) = torrent(dir.path(), "x", &[&["http://unused.invalid/announce"]]);
    let r = announce(&[t.to_str().unwrap(), "--peer-id", "xyz"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--peer-id"), "{}", r.stderr);
    let r = announce(&[t.to_str().unwrap(), "--event", "begun"]);
    assert_eq!(r.code, 2);
    let r = announce(&[dir.path().join("missing").to_str().unwrap()]);
    assert_eq!(r.code, 2);
}

#[test]
fn readme_pipeline_through_jq() {
    assert!(have("jq"), "jq is not installed (see README)");
    let dir = tempdir();
    let (_, h) = torrent(dir.path(), "p", &[&["http://unused.invalid/announce"]]);
    let tr = Tracker::start(&[h]);
    let (t, h2) = torrent(dir.path(), "p", &[&[&tr.http()]]);
    assert_eq!(h, h2);
    let r = announce(&[t.to_str().unwrap(), "--port", "5555"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let script = format!(
        "{} {} --json | jq -r 'select(.type==\"peer\") | \"\\(.ip):\\(.port)\"'",
        bin("bt-announce").display(),
        t.display()
    );
    let out = run_cmd(
        Command::new("sh")
            .args(["-c", &script])
            .current_dir(dir.path()),
        None,
        Duration::from_secs(30),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<String> = out.stdout_str().lines().map(str::to_string).collect();
    assert!(lines.contains(&"127.0.0.1:5555".to_string()), "{lines:?}");
    assert!(lines.contains(&"127.0.0.1:6881".to_string()), "{lines:?}");
    // The same projection in Rust, through the library's reader of peer lines.
    let direct = announce(&[t.to_str().unwrap()]);
    let addrs: Vec<String> = direct
        .stdout_str()
        .lines()
        .filter_map(|l| bt::record::peer_from_line(l).unwrap())
        .map(|a| a.to_string())
        .collect();
    assert_eq!(addrs.len(), direct.of_type("peer").len());
    assert!(addrs.contains(&"127.0.0.1:5555".to_string()));
    // Human output: one ip:port per line on stdout, tracker summaries on stderr.
    let human = bt("bt-announce", &[t.to_str().unwrap(), "--human"]);
    assert_eq!(human.code, 0, "{}", human.stderr);
    let mut lines: Vec<&str> = Vec::new();
    let text = human.stdout_str();
    lines.extend(text.lines());
    assert!(lines.contains(&"127.0.0.1:5555"), "{lines:?}");
    assert!(
        human.stderr.contains("2 peers, 0 seeders, 2 leechers"),
        "{}",
        human.stderr
    );
    let sc = bt("bt-announce", &[t.to_str().unwrap(), "--human", "--scrape"]);
    assert_eq!(sc.code, 0, "{}", sc.stderr);
    assert_eq!(
        sc.stdout_str().trim(),
        format!("{}: 0 seeders, 2 leechers, 0 downloads", tr.http())
    );
}

#[test]
fn magnet_links_and_stdin_are_inputs_too() {
    let dir = tempdir();
    let (t, h) = torrent(dir.path(), "m", &[&["http://unused.invalid/announce"]]);
    let srv =
        HttpServer::start(|_, _| ok_body(b"d8:intervali60e5:peers6:\x7f\x00\x00\x05\x00\x07e"));
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let magnet = format!("magnet:?xt=urn:btih:{}&tr={}", hex(&h), enc(&srv.url()));
    let r = announce(&[&magnet]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(peers(&r), ["127.0.0.5:7"]);
    let bytes = std::fs::read(&t).unwrap();
    let r = run_cmd(
        Command::new(bin("bt-announce")).args(["--json", "-", "--tracker", &srv.url()]),
        Some(&bytes),
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let reqs = srv.requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 2);
    // A magnet's size is unknown: left=16384; a torrent's default is its whole length.
    assert!(reqs[0].contains("&left=16384&"), "{}", reqs[0]);
    assert!(reqs[1].contains("&left=100&"), "{}", reqs[1]);
    assert!(reqs.iter().all(|q| q.contains("&event=started&")));
    // A magnet link without trackers and without --tracker is bad input.
    let r = announce(&[&format!("magnet:?xt=urn:btih:{}", hex(&h))]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no trackers"), "{}", r.stderr);
}

#[test]
fn a_bad_tracker_url_is_a_usage_error_naming_it() {
    let dir = tempdir();
    let (t, _) = torrent(dir.path(), "u", &[&["http://unused.invalid/announce"]]);
    for url in [
        "ftp://x/",
        "wss://x/announce",
        "udp://x.invalid/announce",
        "http://",
        "not a url",
    ] {
        let r = announce(&[t.to_str().unwrap(), "--tracker", url]);
        assert_eq!(r.code, 2, "{url}: {}", r.stderr);
        let first = r.stderr.lines().next().unwrap_or("");
        assert!(first.contains(url), "{url}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{url}");
    }
}

#[test]
fn timeout_range_agrees_in_error_help_and_readme() {
    let dir = tempdir();
    let (t, _) = torrent(dir.path(), "t", &[&["http://unused.invalid/announce"]]);
    let range = "more than 0 and at most 3600";
    for bad in ["0", "-1", "3601", "-0.5", "nan", "soon"] {
        let r = announce(&[t.to_str().unwrap(), "--timeout", bad]);
        assert_eq!(r.code, 2, "--timeout {bad}: {}", r.stderr);
        let first = r.stderr.lines().next().unwrap_or("");
        assert!(
            first.contains(range) && first.contains(bad),
            "--timeout {bad}: {}",
            r.stderr
        );
    }
    let help = bt("bt-announce", &["--help"]);
    assert!(help.stdout_str().contains(range), "{}", help.stdout_str());
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(readme.contains(&format!("`--timeout SECONDS` ({range})")));
}
