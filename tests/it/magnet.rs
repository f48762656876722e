//! Magnet links (BEP 9), metadata served and fetched, and peer exchange (BEP 11), against
//! aria2c, opentracker, bt-seed and fake peers.

use crate::common::*;
use crate::harness::*;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

#[test]
fn aria2c_gets_metadata_and_data_from_bt_seed_by_magnet() {
    let (s, tracker) = tracked_sample();
    let _seed = Seeder::of(&s).announce().start();
    let dl = s.path("dl");
    std::fs::create_dir_all(&dl).unwrap();
    let magnet = magnet_of(&s, &[&tracker.http()], &[]);
    let r = run_cmd(
        aria2c("127.0.0.24")
            .args(["--seed-time=0", "--bt-require-crypto=false"])
            .arg("--bt-save-metadata=false")
            .arg(format!("--listen-port={}", free_port()))
            .arg(format!("--dir={}", dl.display()))
            .arg(&magnet),
        None,
        Duration::from_secs(90),
    );
    assert_eq!(r.code, 0, "aria2c: {}{}", r.stdout_str(), r.stderr);
    s.assert_same(&dl);
}

/// An aria2c seeder of `s` that announces to the sample's tracker from `ip`.
fn aria2c_seeder(s: &Sample, ip: &str) -> Bg {
    Bg::spawn(
        aria2c(ip)
            .args([
                "--check-integrity=true",
                "--seed-ratio=0.0",
                "--bt-require-crypto=false",
            ])
            .arg(format!("--listen-port={}", free_port()))
            .arg(format!("--dir={}", s.seed_dir().display()))
            .arg(&s.torrent)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        "aria2c",
    )
}

#[test]
fn bt_fetch_magnet_from_aria2c_through_opentracker() {
    let (s, tracker) = tracked_sample();
    let _a = aria2c_seeder(&s, "127.0.0.25");
    let magnet = magnet_of(&s, &[&tracker.http()], &[]);

    // --metadata-only: the .torrent is written, nothing is downloaded, exit 0.
    let meta = s.path("meta");
    std::fs::create_dir_all(&meta).unwrap();
    let out = meta.join("m.torrent");
    let out_s = out.to_str().unwrap();
    let dl0 = s.path("dl0");
    let r = Fetcher::new(Path::new(&magnet), &dl0)
        .announce()
        .args(&["--torrent-out", out_s, "--metadata-only"])
        .run();
    assert_eq!(r.code, 0, "{}\n{}", r.stdout_str(), r.stderr);
    let written = std::fs::read_dir(&dl0).map_or(0, |d| d.count());
    assert_eq!(
        written, 0,
        "--metadata-only wrote into the download directory"
    );
    let info = bt("bt-info", &[out_s, "--json"]);
    assert_eq!(info.code, 0, "{}", info.stderr);
    assert_eq!(
        info.torrent().info_hash.as_deref(),
        Some(&*s.info_hash_hex())
    );
    let v = bt(
        "bt-verify",
        &[out_s, "-d", s.seed_dir().to_str().unwrap(), "--json"],
    );
    assert_eq!(v.code, 0, "bt-verify: {}{}", v.stdout_str(), v.stderr);

    // The file exists: refused without --force.
    let r = Fetcher::new(Path::new(&magnet), &dl0)
        .announce()
        .args(&["--torrent-out", out_s, "--metadata-only"])
        .run();
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("m.torrent"), "{}", r.stderr);

    // The whole download, writing the .torrent again with --force.
    let dl = s.path("dl");
    let r = Fetcher::new(Path::new(&magnet), &dl)
        .announce()
        .args(&["--torrent-out", out_s, "--force"])
        .run();
    assert_eq!(r.code, 0, "{}\n{}", r.stdout_str(), r.stderr);
    assert!(summary(&r).complete);
    s.assert_same(&dl);
    let t = bt::metainfo::Torrent::from_bytes(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(t.info_hash.map(|h| h.hex()), Some(s.info_hash_hex()));
    assert_eq!(t.announce.as_deref(), Some(&*tracker.http()));
}

/// Two fake peers of `s` offering `ut_metadata`: one announcing a 1 GiB `metadata_size`, one
/// serving the info dictionary with a byte flipped (it fails the info hash).
fn metadata_fakes(s: &Sample) -> (FakePeer, FakePeer) {
    let mut bad = bt::metainfo::Torrent::from_bytes(&std::fs::read(&s.torrent).unwrap())
        .unwrap()
        .info_bytes;
    let mid = bad.len() / 2;
    bad[mid] ^= 0x55;
    let huge = FakePeer::start(
        s,
        Behaviour::Metadata {
            size: 1 << 30,
            info: Vec::new(),
        },
    );
    let liar = FakePeer::start(
        s,
        Behaviour::Metadata {
            size: bad.len() as u64,
            info: bad,
        },
    );
    (huge, liar)
}

/// A peer whose metadata fails the hash is blocked and the fetch completes from an honest one;
/// a peer announcing a 1 GiB `metadata_size` is not believed. `--max-peers 1` makes bt-fetch
/// meet them in the order given: the huge one, the liar, then the honest bt-seed.
#[test]
fn lying_metadata_peers_are_blocked_or_not_believed() {
    let s = Sample::standard();
    let (huge, liar) = metadata_fakes(&s);
    let honest = Seeder::of(&s).start();
    let dl = s.path("dl");
    let magnet = magnet_of(&s, &[], &[]);
    let r = Fetcher::new(Path::new(&magnet), &dl)
        .peer(huge.addr)
        .peer(liar.addr)
        .peer(honest.peer())
        .args(&["--max-peers", "1"])
        .timeout(60)
        .run();
    assert_eq!(r.code, 0, "{}\n{}", r.stdout_str(), r.stderr);
    s.assert_same(&dl);
    assert!(liar.seen().requests >= 1, "the liar was never asked");
    assert_eq!(huge.seen().requests, 0, "the 1 GiB size was believed");
    assert!(
        r.stderr.contains(&format!("blocked {}", liar.addr)),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!(
            "metadata from {}: metadata_size 1073741824",
            huge.addr
        )),
        "{}",
        r.stderr
    );
}

/// When every peer known has failed or lied, the metadata phase keeps going: a peer that was
/// not listening yet is dialed again (bt::swarm::metadata::RETRY_DELAYS) and supplies the
/// metadata once it listens; the liar is never asked again, the peer announcing a size not
/// believed is dialed again but never asked.
#[test]
fn metadata_phase_retries_when_every_peer_failed() {
    let s = Sample::standard();
    let (huge, liar) = metadata_fakes(&s);
    // The honest peer's address: nothing listens there yet.
    let (ip, port) = (next_ip(), free_port());
    let dl = s.path("dl");
    let magnet = magnet_of(&s, &[], &[]);
    let mut fetch = Fetcher::new(Path::new(&magnet), &dl)
        .peer(huge.addr)
        .peer(liar.addr)
        .peer(format!("{ip}:{port}"))
        .timeout(60)
        .spawn();
    // Every peer failed: the liar answered (and was blocked), the huge one was refused.
    assert!(
        wait_for(20, || liar.seen().requests >= 1
            && huge.seen().handshakes >= 1),
        "bt-fetch did not reach the fake peers"
    );
    std::thread::sleep(Duration::from_millis(500));
    let _honest = Seeder::of(&s).bind(&ip).port(port).start();
    let (code, sum) = fetch.finish(70);
    let err = fetch.stderr();
    assert_eq!(code, 0, "{sum:?}\n{err}");
    s.assert_same(&dl);
    assert!(err.contains(&format!("blocked {}", liar.addr)), "{err}");
    assert_eq!(
        liar.seen().handshakes,
        1,
        "the blocked liar was dialed again"
    );
    assert!(
        huge.seen().handshakes >= 2,
        "a failed peer was not dialed again"
    );
    assert_eq!(huge.seen().requests, 0, "the 1 GiB size was believed");
}

/// Seeder B (bt-seed, upload capped); seeder A (bt-fetch --seed, capped) that downloaded from
/// B alone; then bt-fetch C given only A. Returns C's peer records and B's address.
fn pex_scenario(s: &Sample, torrent: &Path) -> (Vec<PeerEvent>, std::net::SocketAddr, usize) {
    let b = Seeder::of_torrent(torrent, &s.seed_dir())
        .rate("256K")
        .start();
    let a_dir = s.path("a");
    let a = Fetcher::new(torrent, &a_dir)
        .bind(&next_ip())
        .peer(b.peer())
        .args(&["--seed", "--max-upload-rate", "256K", "--progress-json"])
        .spawn();
    assert!(
        wait_for(60, || a
            .progress()
            .is_some_and(|p| p.pieces_have == p.pieces)),
        "A did not complete from B"
    );
    let l = a
        .records::<Listening>()
        .pop()
        .expect("A's listening record");
    let a_addr = format!("{}:{}", l.addr, l.port);
    let dl = s.path("dl");
    let r = Fetcher::new(torrent, &dl)
        .bind(&next_ip())
        .peer(&a_addr)
        .args(&["--peer-records"])
        .timeout(60)
        .run();
    assert_eq!(r.code, 0, "{}\n{}", r.stdout_str(), r.stderr);
    s.assert_same(&dl);
    let used = summary(&r).peers_used;
    (of::<PeerEvent>(&r.stdout_str()), b.addr, used)
}

fn from(events: &[PeerEvent], addr: std::net::SocketAddr) -> Vec<&PeerEvent> {
    let (ip, port) = (addr.ip().to_string(), addr.port());
    events
        .iter()
        .filter(|e| e.ip == ip && e.port == port)
        .collect()
}

#[test]
fn pex_teaches_bt_fetch_a_second_seeder() {
    let s = Sample::standard();
    let (events, b, used) = pex_scenario(&s, &s.torrent);
    assert!(
        from(&events, b).iter().any(|e| e.event == "connected"),
        "never connected to B {b}: {events:?}"
    );
    // Both seeders supplied blocks.
    assert_eq!(used, 2, "{events:?}");
}

#[test]
fn no_pex_for_a_private_torrent() {
    let s = Sample::standard();
    let private = s.path("private.torrent");
    let src = s.seed_dir().join("sample");
    let r = bt(
        "bt-make",
        &[
            src.to_str().unwrap(),
            "-o",
            private.to_str().unwrap(),
            "--private",
            "--piece-length",
            "32768",
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (events, b, used) = pex_scenario(&s, &private);
    assert_eq!(used, 1);
    assert!(from(&events, b).is_empty(), "learned B: {events:?}");
}
