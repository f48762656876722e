//! Integration tests: encrypted connections (MSE/PE) with real clients, and bt-seed dialing
//! out. aria2c set to `--bt-require-crypto=true --bt-min-crypto-level=arc4` accepts nothing
//! but RC4 for the whole stream, so a completed transfer proves the encryption works both ways.

use crate::common::*;
use crate::harness::*;
use std::time::{Duration, Instant};

#[test]
fn fetch_from_aria2c_requiring_rc4() {
    let s = Sample::standard();
    let (_aria2c, peer) = aria2c_seeder("127.0.0.41", &s, &ARIA2C_REQUIRE_RC4);
    // The default (prefer) and require both reach it; bt-fetch retries until it listens.
    for (i, mode) in ["prefer", "require"].iter().enumerate() {
        let dl = s.path(&format!("dl{i}"));
        let r = Fetcher::new(&s.torrent, &dl)
            .peer(&peer)
            .args(&["--encryption", mode])
            .run();
        assert_eq!(r.code, 0, "{mode}: {}\n{}", r.stdout_str(), r.stderr);
        assert!(summary(&r).complete);
        s.assert_same(&dl);
    }
}

#[test]
fn aria2c_requiring_rc4_downloads_from_bt_seed() {
    for (i, mode) in ["prefer", "require"].iter().enumerate() {
        let s = Sample::standard();
        let tracker = Opentracker::start(&[s.info_hash_hex()]);
        s.announce_to(&tracker.http());
        let _seed = Seeder::of(&s)
            .announce()
            .args(&["--encryption", mode])
            .start();
        let dl = s.path("dl");
        std::fs::create_dir_all(&dl).unwrap();
        let r = run_cmd(
            aria2c(&format!("127.0.0.{}", 42 + i))
                .arg("--seed-time=0")
                .args(ARIA2C_REQUIRE_RC4)
                .arg(format!("--listen-port={}", free_port()))
                .arg(format!("--dir={}", dl.display()))
                .arg(&s.torrent),
            None,
            Duration::from_secs(90),
        );
        assert_eq!(r.code, 0, "aria2c ({mode}): {}{}", r.stdout_str(), r.stderr);
        s.assert_same(&dl);
    }
}

#[test]
fn bt_seed_and_bt_fetch_agree_or_fail_cleanly() {
    let s = Sample::standard();
    // RC4 between our own tools, both requiring it.
    let rc4 = Seeder::of(&s).args(&["--encryption", "require"]).start();
    let dl = s.path("dl");
    let r = Fetcher::new(&s.torrent, &dl)
        .peer(rc4.peer())
        .args(&["--encryption", "require"])
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    s.assert_same(&dl);
    // A plain-only fetcher cannot reach a seeder that requires encryption.
    let r = Fetcher::new(&s.torrent, &s.path("dl-off"))
        .peer(rc4.peer())
        .args(&["--encryption", "off"])
        .timeout(30)
        .run();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!summary(&r).complete);
    // require against a plaintext-only peer: exit 1, the peer named, quickly (not retried).
    let plain = Seeder::of(&s).args(&["--encryption", "off"]).start();
    let started = Instant::now();
    let r = Fetcher::new(&s.torrent, &s.path("dl-req"))
        .peer(plain.peer())
        .args(&["--encryption", "require"])
        .timeout(30)
        .run();
    assert_eq!(r.code, 1, "{}", r.stderr);
    let sum = summary(&r);
    let reason = sum.reason.clone().unwrap_or_default();
    assert!(reason.contains(&plain.peer()), "{sum:?}");
    assert!(reason.contains("encryption required"), "{sum:?}");
    assert!(r.stderr.contains(&plain.peer()), "{}", r.stderr);
    assert!(started.elapsed() < Duration::from_secs(20), "{sum:?}");
    // prefer reaches it (MSE with plaintext selected).
    let dl = s.path("dl-prefer");
    let r = Fetcher::new(&s.torrent, &dl).peer(plain.peer()).run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    s.assert_same(&dl);
}

/// A seeder connects to a downloader it was told about (`--peer`): the downloader, which knows
/// no seeder, completes from it.
#[test]
fn bt_seed_dials_the_peers_it_is_given() {
    let s = Sample::standard();
    let tracker = Opentracker::start(&[s.info_hash_hex()]);
    s.announce_to(&tracker.http());
    // bt-fetch learns nobody from the tracker (it is alone there) but keeps waiting on it.
    let mut fetch = Fetcher::new(&s.torrent, &s.path("dl"))
        .announce()
        .bind("127.0.0.44")
        .args(&["--port", "0", "--encryption", "require"])
        .timeout(60)
        .spawn();
    assert!(
        wait_for(20, || !fetch.records::<Listening>().is_empty()),
        "no listening record: {}",
        fetch.stderr()
    );
    let port = fetch.records::<Listening>()[0].port;
    let seed = Seeder::of(&s)
        .args(&[
            "--peer",
            &format!("127.0.0.44:{port}"),
            "--encryption",
            "require",
        ])
        .start();
    let (code, sum) = fetch.finish(70);
    assert_eq!(code, 0, "{sum:?} {}", fetch.stderr());
    assert!(sum.complete);
    s.assert_same(&s.path("dl"));
    let connected = peer_events(&seed.records(), "connected", Some("127.0.0.44"), None);
    assert!(
        connected.iter().any(|p| p.incoming == Some(false)),
        "{:?}",
        seed.records::<PeerEvent>()
    );
}

/// qBittorrent requiring encryption downloads from bt-seed (which dials it: `--peer`), then
/// seeds to bt-fetch requiring encryption.
#[test]
fn qbittorrent_requiring_rc4_downloads_from_bt_seed_and_seeds_to_bt_fetch() {
    let s = Sample::standard();
    let save = s.path("qbt-dl");
    std::fs::create_dir_all(&save).unwrap();
    let (_qbt, qpeer) = qbittorrent_requiring_rc4("127.0.0.45", &s.path("qbt"), &s.torrent, &save);
    let _seed = Seeder::of(&s)
        .args(&["--peer", &qpeer, "--encryption", "require"])
        .start();
    let same = || {
        s.files.iter().all(|(p, n)| {
            std::fs::read(save.join(p))
                .is_ok_and(|d| d.len() == *n && d == std::fs::read(s.seed_dir().join(p)).unwrap())
        })
    };
    assert!(
        wait_for(90, same),
        "qBittorrent did not complete the download"
    );
    s.assert_same(&save);
    // qBittorrent now seeds: bt-fetch requiring encryption downloads from it.
    let dl = s.path("dl");
    let r = Fetcher::new(&s.torrent, &dl)
        .peer(&qpeer)
        .args(&["--encryption", "require"])
        .timeout(60)
        .run();
    assert_eq!(r.code, 0, "{}\n{}", r.stdout_str(), r.stderr);
    s.assert_same(&dl);
}
