//! Integration tests: the swarm when everyone cooperates: bt-seed and bt-fetch together, with
//! trackers, and with real clients on loopback. Hostile peers and failures are in `stress`.

use crate::common::*;
use crate::harness::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn seed_to_fetch_multi_file_with_empty_file() {
    let s = Sample::standard();
    let mut seed = Seeder::of(&s).start();
    let dl = s.path("dl");
    // A file that is not part of the torrent is left alone.
    std::fs::create_dir_all(dl.join("sample")).unwrap();
    std::fs::write(dl.join("sample/mine.txt"), b"keep me").unwrap();
    let r = Fetcher::new(&s.torrent, &dl).peer(seed.peer()).run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sum = summary(&r);
    assert!(sum.complete);
    assert_eq!(sum.pieces_at_start, 0);
    assert_eq!(sum.pieces_fetched, sum.pieces);
    assert_eq!(sum.peers_used, 1);
    assert_eq!(sum.bad_pieces, 0);
    assert_eq!(sum.bytes_downloaded, 300_001 + 77_777 + 654_321);
    s.assert_same(&dl);
    assert_eq!(
        std::fs::read(dl.join("sample/mine.txt")).unwrap(),
        b"keep me"
    );
    // Already complete: no peer is needed.
    let r = Fetcher::new(&s.torrent, &dl).run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(summary(&r).pieces_fetched, 0);
    assert!(summary(&r).complete);
    // The seeder reported the peer and its upload.
    assert!(
        wait_for(10, || seed.records::<Stats>().last().map(|r| r.uploaded)
            == Some(1_032_099)),
        "no stats record with the upload: {:?}",
        seed.records::<Stats>()
    );
    assert!(peer_events(&seed.records(), "connected", None, None)
        .iter()
        .any(|p| p.incoming == Some(true)));
    // SIGTERM: the seeder exits 0.
    signal(seed.pid(), 15);
    let status = seed
        .bg
        .wait_timeout(Duration::from_secs(10))
        .expect("bt-seed exits");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn fetch_from_three_partial_seeders_and_resume() {
    let s = Sample::standard();
    let third = s.total() / 3;
    let seeds: Vec<Seeder> = (0..3)
        .map(|i| {
            let d = s.path(&format!("seed{i}"));
            s.copy_to(&d);
            s.damage(&d, i * third, third);
            Seeder::of(&s).dir(&d).start()
        })
        .collect();
    // Resume: the download directory already holds the data with its middle damaged.
    let dl = s.path("dl");
    s.copy_to(&dl);
    s.damage(&dl, 100_000, 500_000);
    let fetch = seeds
        .iter()
        .fold(Fetcher::new(&s.torrent, &dl), |f, seed| f.peer(seed.peer()));
    let r = fetch.run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sum = summary(&r);
    assert!(sum.complete);
    assert!(sum.pieces_at_start > 0 && sum.pieces_fetched > 0, "{sum:?}");
    // Partial seeders only serve: they never ask bt-fetch for pieces.
    assert_eq!(sum.bytes_uploaded, 0, "{sum:?}");
    assert_eq!(sum.pieces_at_start + sum.pieces_fetched, sum.pieces);
    // Only the damaged range was fetched: about 500 KB of the 1 MB.
    assert!(sum.bytes_downloaded < 600_000, "{sum:?}");
    s.assert_same(&dl);
    // Run again: nothing to fetch.
    let r = fetch.run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(summary(&r).pieces_fetched, 0);
}

#[test]
fn no_seeder_gives_up_with_exit_1() {
    let s = Sample::standard();
    let start = Instant::now();
    let r = Fetcher::new(&s.torrent, &s.path("dl"))
        .peer(format!("127.0.0.1:{}", free_port()))
        .timeout(2)
        .run();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(start.elapsed() < Duration::from_secs(20));
    let sum = summary(&r);
    assert!(!sum.complete);
    assert!(sum.reason.is_some(), "{sum:?}");
}

#[test]
fn bad_input_is_exit_2() {
    let dir = tempdir();
    let junk = dir.path().join("junk.torrent");
    std::fs::write(&junk, b"not bencode").unwrap();
    let r = Fetcher::new(&junk, dir.path()).peer("127.0.0.1:1").run();
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("junk.torrent"), "{}", r.stderr);
    let s = Sample::standard();
    let r = Fetcher::new(&s.torrent, s.dir.path())
        .peer("nonsense")
        .run();
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("nonsense"), "{}", r.stderr);
    let missing = s.path("missing.torrent");
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

// ---- real clients ----

/// aria2c downloading `t` into `dl` (created) from the torrent's tracker, then exiting.
fn aria2c_download(t: &std::path::Path, dl: &std::path::Path, extra: &[String]) -> Run {
    assert!(have("aria2c"), "aria2c is not installed (see README)");
    std::fs::create_dir_all(dl).unwrap();
    run_cmd(
        aria2c("127.0.0.23")
            .arg("--seed-time=0")
            .args(extra)
            .arg(format!("--listen-port={}", free_port()))
            .arg(format!("--dir={}", dl.display()))
            .arg(t),
        None,
        Duration::from_secs(90),
    )
}

/// bt-fetch of `s` from `peer` alone, with `--timeout SECS`: it completes with the data.
fn fetch_all_from(s: &Sample, peer: &str, secs: u64) {
    let dl = s.path("dl");
    let r = Fetcher::new(&s.torrent, &dl).peer(peer).timeout(secs).run();
    assert_eq!(r.code, 0, "{}\n{}", r.stdout_str(), r.stderr);
    assert!(summary(&r).complete);
    s.assert_same(&dl);
}

#[test]
fn fetch_from_aria2c() {
    let s = Sample::standard();
    let (_a, peer) = aria2c_seeder("127.0.0.21", &s, &["--bt-require-crypto=false"]);
    // bt-fetch retries a peer that is not listening yet.
    fetch_all_from(&s, &peer, 60);
}

#[test]
fn fetch_from_transmission() {
    assert!(
        have("transmission-cli"),
        "transmission-cli is not installed"
    );
    let s = Sample::standard();
    let port = free_port();
    let conf = s.path("tr");
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
            .arg(s.seed_dir())
            .args(["-p", &port.to_string(), "-et", "-M"])
            .arg(&s.torrent)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        "transmission-cli",
    );
    fetch_all_from(&s, &format!("127.0.0.22:{port}"), 90);
}

#[test]
fn aria2c_downloads_from_bt_seed_through_opentracker() {
    let (s, _tracker) = tracked_sample();
    let _seed = Seeder::of(&s).announce().start();
    let dl = s.path("dl");
    let r = aria2c_download(&s.torrent, &dl, &["--bt-require-crypto=false".into()]);
    assert_eq!(r.code, 0, "aria2c: {}{}", r.stdout_str(), r.stderr);
    s.assert_same(&dl);
}

/// aria2c opens with an MSE handshake: bt-seed answers it (selecting plaintext) instead of
/// dropping the connection and making aria2c retry with the legacy handshake a second later.
/// With `--bt-require-crypto=true` aria2c never falls back to the legacy handshake, so the
/// download completes only through MSE.
#[test]
fn aria2c_mse_handshake_is_accepted_by_bt_seed() {
    let (s, _tracker) = tracked_sample();
    let _seed = Seeder::of(&s).announce().start();
    for (i, require) in ["true", "false"].iter().enumerate() {
        let dl = s.path(&format!("dl{i}"));
        let log = s.path(&format!("aria2c-{i}.log"));
        let started = Instant::now();
        let r = aria2c_download(
            &s.torrent,
            &dl,
            &[
                "--bt-min-crypto-level=plain".into(),
                "--log-level=info".into(),
                format!("--bt-require-crypto={require}"),
                format!("--log={}", log.display()),
            ],
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
        s.assert_same(&dl);
        eprintln!("require crypto {require}: {:?}", started.elapsed());
    }
}

// ---- trackers and peer lists ----

#[test]
fn fetch_announces_itself_when_stdin_names_no_peer() {
    let (s, _tracker) = tracked_sample();
    // bt-seed announces `started` when it begins listening.
    let _seed = Seeder::of(&s).announce().start();
    let dl = s.path("dl");
    // stdin is /dev/null: no peers there, so bt-fetch asks the tracker.
    let r = Fetcher::new(&s.torrent, &dl).announce().run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(summary(&r).complete);
    s.assert_same(&dl);
}

#[test]
fn fetch_reads_peer_records_and_lines_from_stdin() {
    let s = Sample::standard();
    let a = Seeder::of(&s).start();
    let b = Seeder::of(&s).start();
    let input = format!(
        "{{\"type\":\"announce\",\"tracker\":\"x\",\"ok\":true}}\n{{\"type\":\"peer\",\"ip\":\"{}\",\"port\":{}}}\n{}\n",
        a.ip(),
        a.port(),
        b.peer()
    );
    let dl = s.path("dl");
    let r = Fetcher::new(&s.torrent, &dl).run_with_stdin(Some(input.as_bytes()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(summary(&r).complete);
    s.assert_same(&dl);
}

#[test]
fn make_seed_announce_fetch_verify_through_opentracker() {
    // bt-make makes the torrent, bt-info reads its hash, opentracker whitelists it, bt-seed
    // announces, bt-announce's peers are piped into bt-fetch, bt-verify checks the result.
    let s = Sample::new(Maker::BtMake, "sample", SAMPLE, 15);
    let info = bt("bt-info", &[s.torrent.to_str().unwrap(), "--json"]);
    assert_eq!(info.code, 0, "{}", info.stderr);
    let ih = of::<Torrent>(&info.stdout_str())
        .pop()
        .expect("a torrent record");
    assert_eq!(ih.info_hash, Some(s.info_hash_hex()));
    let tracker = Opentracker::start(&[s.info_hash_hex()]);
    s.announce_to(&tracker.http());
    let seed = Seeder::of(&s).announce().start();
    // Wait until the tracker lists the seeder, then pipe bt-announce into bt-fetch.
    let start = Instant::now();
    let peers = loop {
        let r = bt(
            "bt-announce",
            &[s.torrent.to_str().unwrap(), "--port", "1", "--json"],
        );
        assert_eq!(r.code, 0, "bt-announce: {}", r.stderr);
        let listed = of::<Peer>(&r.stdout_str())
            .iter()
            .any(|p| p.port == seed.port() && p.ip == seed.ip());
        if listed {
            break r.stdout;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "seeder never announced"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let dl = s.path("dl");
    let r = Fetcher::new(&s.torrent, &dl).run_with_stdin(Some(&peers));
    assert_eq!(r.code, 0, "bt-fetch: {}", r.stderr);
    assert!(summary(&r).complete);
    assert_eq!(s.verify(&dl).0, 0, "bt-verify");
    s.assert_same(&dl);
}

#[test]
fn one_seeder_serves_two_torrents_on_one_port() {
    let s = Sample::standard();
    let seed_dir = s.seed_dir();
    std::fs::write(seed_dir.join("single.bin"), data(100_000, 42)).unwrap();
    let t2 = s.path("single.torrent");
    make_torrent(
        Maker::Mktorrent,
        &seed_dir.join("single.bin"),
        &t2,
        15,
        NO_TRACKER,
    );
    let seed = Seeder::of(&s).args(&[t2.to_str().unwrap()]).start();
    // One record per torrent (the start returned on the first).
    wait_for(5, || seed.records::<Listening>().len() >= 2);
    let listening = seed.records::<Listening>();
    assert_eq!(listening.len(), 2, "{listening:?}");
    assert!(listening.iter().all(|l| l.port == seed.port()));
    assert_ne!(listening[0].info_hash, listening[1].info_hash);
    let dl = s.path("dl");
    for torrent in [&s.torrent, &t2] {
        let r = Fetcher::new(torrent, &dl).peer(seed.peer()).run();
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    s.assert_same(&dl);
    assert_eq!(
        std::fs::read(dl.join("single.bin")).unwrap(),
        data(100_000, 42)
    );
    // With --bind, outgoing connections leave from that address too.
    let ip = next_ip();
    let r = Fetcher::new(&t2, &s.path("dl2"))
        .bind(&ip)
        .peer(seed.peer())
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        wait_for(10, || !peer_events(
            &seed.records(),
            "connected",
            Some(&ip),
            None
        )
        .is_empty()),
        "{:?}",
        seed.records::<PeerEvent>()
    );
}

// ---- the seeder's send path ----

/// Blocks that span several files (tiny ones, an empty one, a block holding four files) go out
/// straight from the files (`sendfile`) on plain connections and through the read-and-encrypt
/// path on RC4 ones: bt-fetch and aria2c, each both ways, get the whole torrent.
#[test]
fn blocks_spanning_files_reach_bt_fetch_and_aria2c_plain_and_encrypted() {
    let files = [
        ("a", 1),
        ("b", 5000),
        ("c/d", 16_385),
        ("e", 0),
        ("f", 3),
        ("g", 40_001),
        ("h", 123_457),
        ("i", 7),
    ];
    let total: usize = files.iter().map(|f| f.1).sum();
    let s = Sample::new(Maker::Mktorrent, "span", &files, 15);
    let tracker = Opentracker::start(&[s.info_hash_hex()]);
    s.announce_to(&tracker.http());
    let seed = Seeder::of(&s).announce().start();
    for mode in ["off", "require"] {
        let dl = s.path(&format!("dl-{mode}"));
        let r = Fetcher::new(&s.torrent, &dl)
            .peer(seed.peer())
            .args(&["--encryption", mode])
            .run();
        assert_eq!(r.code, 0, "--encryption {mode}: {}", r.stderr);
        let sum = summary(&r);
        assert!(sum.complete, "--encryption {mode}: {sum:?}");
        assert_eq!(sum.bytes_downloaded, total as u64, "--encryption {mode}");
        assert_eq!(sum.bad_pieces, 0, "--encryption {mode}");
        s.assert_same(&dl);
    }
    for (i, crypto) in [
        ["--bt-require-crypto=false"; 1].as_slice(),
        &ARIA2C_REQUIRE_RC4,
    ]
    .iter()
    .enumerate()
    {
        let dl = s.path(&format!("aria2c-{i}"));
        let extra: Vec<String> = crypto.iter().map(|a| a.to_string()).collect();
        let r = aria2c_download(&s.torrent, &dl, &extra);
        assert_eq!(
            r.code,
            0,
            "aria2c {crypto:?}: {}{}",
            r.stdout_str(),
            r.stderr
        );
        s.assert_same(&dl);
    }
}
