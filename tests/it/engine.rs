//! The engine in-process: a seed and a download through `bt::swarm::session`, no binaries.

use crate::common::{tempdir, write_tree};
use bt::metainfo::Torrent;
use bt::swarm::session::{self, Event, FetchOptions, SeedOptions};
use bt::swarm::Outcome;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Uneven sizes across piece boundaries, an empty file, a nested directory.
const FILES: &[(&str, usize)] = &[
    ("a.bin", 70_001),
    ("empty", 0),
    ("sub/b.bin", 16_384),
    ("sub/deeper/c.bin", 123_457),
    ("z", 1),
];

fn make(root: &std::path::Path) -> Torrent {
    write_tree(&root.join("set"), FILES);
    let opts = bt::create::Options {
        piece_length: Some(32768),
        ..Default::default()
    };
    let made = bt::create::create(&root.join("set"), &opts, &|_| {}).expect("create");
    Torrent::from_bytes(&made.bytes).expect("load")
}

#[test]
fn fetch_from_a_seed_in_process() {
    let src = tempdir();
    let t = make(src.path());
    assert_eq!(t.files.len(), FILES.len());

    // The seeder on a thread; it reports its address through a channel.
    let stop = Arc::new(AtomicBool::new(false));
    let (addr_tx, addr_rx) = mpsc::channel();
    let seeder = {
        let (t, dir, stop) = (t.clone(), src.path().to_path_buf(), stop.clone());
        std::thread::spawn(move || {
            let opts = SeedOptions {
                dir,
                bind: LOCAL,
                port: 0,
                announce: false,
                stop,
                ..SeedOptions::default()
            };
            let mut verified = None;
            let r = session::seed(std::slice::from_ref(&t), opts, &mut |e| match e {
                Event::Verified { have, pieces, .. } => verified = Some((have, pieces)),
                Event::Listening { addr, .. } => {
                    let _ = addr_tx.send(addr);
                }
                _ => {}
            });
            (r.map_err(|e| e.to_string()), verified)
        })
    };
    let addr: SocketAddr = addr_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the seeder listens");
    assert_eq!(addr.ip(), LOCAL);
    assert_ne!(addr.port(), 0);

    let dl = tempdir();
    let mut connected = 0;
    let mut listening = None;
    let opts = FetchOptions {
        dir: dl.path().to_path_buf(),
        peers: vec![addr],
        announce: false,
        bind: LOCAL,
        timeout: Some(Duration::from_secs(60)),
        ..FetchOptions::default()
    };
    let started = Instant::now();
    let report = session::fetch(&t, opts, &mut |e| match e {
        Event::Peer {
            event: bt::swarm::Event::Connected { .. },
            ..
        } => connected += 1,
        Event::Listening { addr, .. } => listening = Some(addr),
        _ => {}
    })
    .expect("fetch runs");
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(report.outcome, Outcome::Complete, "{report:?}");
    assert_eq!(report.pieces_at_start, 0);
    assert_eq!(report.stats.have as usize, t.pieces.len());
    assert_eq!(report.stats.downloaded, t.total_length);
    assert!(connected >= 1, "a connected event");
    assert_eq!(listening.map(|a| a.ip()), Some(LOCAL));

    // Byte for byte, the empty file included.
    for (name, len) in FILES {
        let got = std::fs::read(dl.path().join("set").join(name)).expect(name);
        let want = std::fs::read(src.path().join("set").join(name)).unwrap();
        assert_eq!(got.len(), *len, "{name}");
        assert!(got == want, "{name} differs");
    }

    // The stop flag ends the seeder promptly.
    stop.store(true, Ordering::Relaxed);
    let until = Instant::now() + Duration::from_secs(10);
    while !seeder.is_finished() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        seeder.is_finished(),
        "the seeder stops within 10 s of its flag"
    );
    let (r, verified) = seeder.join().unwrap();
    assert_eq!(r, Ok(()));
    let n = t.pieces.len() as u32;
    assert_eq!(verified, Some((n, n)), "the seeder verified every piece");
}

#[test]
fn seed_of_missing_data_and_fetch_without_peers_are_refused() {
    let src = tempdir();
    let t = make(src.path());
    let empty = tempdir();
    let opts = SeedOptions {
        dir: empty.path().to_path_buf(),
        bind: LOCAL,
        port: 0,
        announce: false,
        ..SeedOptions::default()
    };
    let r = session::seed(std::slice::from_ref(&t), opts, &mut |_| {});
    assert!(
        matches!(r, Err(session::SessionError::NothingToServe)),
        "{r:?}"
    );

    let opts = FetchOptions {
        dir: empty.path().join("dl"),
        announce: false,
        bind: LOCAL,
        ..FetchOptions::default()
    };
    let r = session::fetch(&t, opts, &mut |_| {});
    assert!(
        matches!(
            r,
            Err(session::SessionError::NoPeerSource { announce_off: true })
        ),
        "{r:?}"
    );
}

// ---- the tools' answers on missing peers, missing data, bad flags and signals ----

use crate::common::{bin, bt, free_port, run_cmd, signal};
use crate::harness::{Fetcher, Sample};
use std::io::BufRead;
use std::process::{Command, Stdio};

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

#[test]
fn fetch_without_any_peer_ends_with_no_peers_left() {
    let s = Sample::data(FILES);
    let dl = s.dir.path().join("dl");
    // stdin is /dev/null: no peer source at all.
    let started = Instant::now();
    let r = Fetcher::new(&s.torrent, &dl).run();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        first_line(&r.stderr).contains("no peers left"),
        "{}",
        r.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    // A peer that refuses every connection.
    let started = Instant::now();
    let r = Fetcher::new(&s.torrent, &dl)
        .peer(format!("127.0.0.1:{}", free_port()))
        .run();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        first_line(&r.stderr).contains("no peers left"),
        "{}",
        r.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn seed_of_a_missing_directory_or_missing_data_is_refused() {
    let s = Sample::data(FILES);
    let t = s.torrent.to_str().unwrap();
    let common = [
        "--no-announce",
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
        "--json",
    ];
    let missing = s.dir.path().join("nonexistent");
    let m = missing.to_str().unwrap();
    let r = bt("bt-seed", &[&[t, "-d", m][..], &common].concat());
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        first_line(&r.stderr).starts_with("bt-seed: "),
        "{}",
        r.stderr
    );
    assert!(first_line(&r.stderr).contains(m), "{}", r.stderr);
    // An existing directory without the data: nothing to serve, exit 1.
    let empty = s.dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let r = bt(
        "bt-seed",
        &[&[t, "-d", empty.to_str().unwrap()][..], &common].concat(),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        first_line(&r.stderr).contains("nothing to serve"),
        "{}",
        r.stderr
    );
}

#[test]
fn max_peers_zero_is_a_usage_error() {
    for tool in ["bt-fetch", "bt-seed"] {
        let r = bt(tool, &["x.torrent", "--max-peers", "0"]);
        assert_eq!(r.code, 2, "{tool}: {}", r.stderr);
        assert!(
            first_line(&r.stderr).contains("max-peers"),
            "{tool}: {}",
            r.stderr
        );
    }
}

#[test]
fn fetch_reads_the_torrent_from_stdin_and_says_where_it_listens() {
    let s = Sample::data(FILES);
    let bytes = std::fs::read(&s.torrent).unwrap();
    // The data is already complete in DIR/NAME: no peer is needed.
    let r = run_cmd(
        Command::new(bin("bt-fetch"))
            .args(["-", "--no-announce", "--json", "--bind", "127.0.0.1", "-d"])
            .arg(s.seed_dir()),
        Some(&bytes),
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let listening = r.of_type("listening");
    assert_eq!(listening.len(), 1, "{}", r.stdout_str());
    assert_eq!(listening[0]["addr"], "127.0.0.1");
    assert!(listening[0]["port"].as_u64().unwrap() > 0);
    assert_eq!(r.of_type("summary")[0]["complete"], true);
    let help = bt("bt-fetch", &["--help"]);
    assert!(help.stdout_str().contains("stdin then carries no peers"));
}

/// bt-seed announcing to a tracker that accepts and never answers; SIGINT once (or twice, the
/// second after `second`) while the `started` announce hangs. Returns the exit code, the time
/// from the last signal to the exit, and stderr.
fn interrupted_seed(second: Option<Duration>) -> (i32, Duration, String) {
    let s = Sample::data(FILES);
    let tracker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    s.announce_to(&format!(
        "http://{}/announce",
        tracker.local_addr().unwrap()
    ));
    let mut child = Command::new(bin("bt-seed"))
        .arg(&s.torrent)
        .arg("-d")
        .arg(s.seed_dir())
        .args(["--port", "0", "--bind", "127.0.0.1", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let kill = |why: &str| -> ! {
        signal(pid, 9);
        panic!("{why}");
    };
    // The `listening` record says the handlers are installed and the session runs.
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(l);
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(l) if l.contains("\"listening\"") => {}
        other => kill(&format!("no listening record: {other:?}")),
    }
    // The `started` announce has connected and waits for an answer that never comes.
    tracker.set_nonblocking(true).unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    let held = loop {
        match tracker.accept() {
            Ok((s, _)) => break s,
            Err(_) if Instant::now() < until => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => kill(&format!("no announce reached the tracker: {e}")),
        }
    };
    std::thread::sleep(Duration::from_millis(200));
    signal(pid, 2);
    let mut last = Instant::now();
    if let Some(gap) = second {
        std::thread::sleep(gap);
        signal(pid, 2);
        last = Instant::now();
    }
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if last.elapsed() > Duration::from_secs(15) {
            kill("bt-seed did not exit within 15 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = last.elapsed();
    drop(held);
    let mut stderr = String::new();
    let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr);
    (status.code().unwrap_or(-1), took, stderr)
}

#[test]
fn one_sigint_ends_bt_seed_within_4_s_despite_a_silent_tracker() {
    let (code, took, stderr) = interrupted_seed(None);
    assert_eq!(code, 0, "{stderr}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert_eq!(first_line(&stderr), "bt-seed: stopping (again to quit now)");
}

#[test]
fn a_second_sigint_ends_bt_seed_at_once() {
    let (code, took, stderr) = interrupted_seed(Some(Duration::from_millis(300)));
    assert_eq!(code, 2, "{stderr}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(first_line(&stderr), "bt-seed: stopping (again to quit now)");
}
