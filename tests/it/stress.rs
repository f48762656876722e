//! Integration tests: the swarm under stress (issue 6).
//!
//! Crash-proof resume (`kill -9` at several points), seeder loss, hostile peers (the harness's
//! fake peers, speaking the real wire protocol with a scripted [`Behaviour`]), hostile
//! downloaders of bt-seed, floods of idle connections, and a download that runs out of file
//! size (`ulimit -f`). Every socket has a timeout, every loop a bound, every process is killed
//! by PID.

use crate::harness::*;
use bt::peer::{Block, Message};
use std::io::Read;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// 1. Crash-proof resume.

#[test]
fn kill_9_at_several_points_and_resume_loses_nothing() {
    // 4 MiB in 64 KiB pieces (and an empty file) from two seeders sending 512 KiB/s each, so
    // that each run can be killed midway.
    let s = Sample::data(&[
        ("big.bin", 3 << 20),
        ("empty.txt", 0),
        ("small.bin", (1 << 20) - 1000),
    ]);
    let seeds = [0, 1].map(|_| Seeder::of(&s).rate("512K").start());
    let n = s.pieces();
    let pl = s.limits.piece_length;
    // Slack: one piece in flight per peer.
    let slack = seeds.len() as u64 * pl;
    let dl = s.path("dl");
    let fetch = seeds
        .iter()
        .fold(Fetcher::new(&s.torrent, &dl), |f, seed| f.peer(seed.peer()))
        .args(&["--progress-json"]);
    // Kill points: after a quarter of the pieces, at once (during start-up), after half, after
    // three quarters. Each run after the first starts from what the previous one left.
    let points: [Option<u64>; 4] = [Some(n / 4), None, Some(n / 2), Some(3 * n / 4)];
    let mut good_before = Vec::new();
    for (i, point) in points.iter().enumerate() {
        let (_, good_at_start, bad_at_start) = if i == 0 {
            (1, 0, (0..n).collect())
        } else {
            s.verify(&dl)
        };
        // Nothing verified by an earlier run was lost.
        for p in &good_before {
            assert!(
                !bad_at_start.contains(p),
                "run {i}: verified piece {p} was lost"
            );
        }
        let mut run = fetch.spawn();
        let reported = match point {
            Some(k) => run.wait_pieces(*k, 60),
            None => {
                std::thread::sleep(Duration::from_millis(300));
                0
            }
        };
        run.kill();
        // What this run downloaded, as far as its last progress record tells.
        let downloaded = run.progress().map_or(0, |p| p.bytes_downloaded);
        let missing = n - good_at_start;
        assert!(
            downloaded <= missing * pl + slack,
            "run {i}: {downloaded} bytes downloaded with {missing} pieces missing"
        );
        let (_, good, bad) = s.verify(&dl);
        assert!(
            good >= reported,
            "run {i}: {reported} pieces reported verified, {good} on disk after kill -9"
        );
        assert!(good >= good_at_start, "run {i}: good pieces went down");
        println!("run {i}: killed with {reported} pieces reported, {good} of {n} on disk");
        good_before = (0..n).filter(|p| !bad.contains(p)).collect();
    }
    let (_, good_at_start, _) = s.verify(&dl);
    assert!(good_at_start >= 3 * n / 4, "{good_at_start} of {n}");
    assert!(good_at_start < n, "the kills left nothing to do");
    let mut last = fetch.spawn();
    let (code, sum) = last.finish(90);
    assert_eq!(code, 0, "{sum:?}\n{}", last.stderr());
    assert!(sum.complete);
    assert_eq!(sum.pieces as u64, n);
    // The rerun fetched only what was not verified when the last run was killed.
    assert_eq!(sum.pieces_at_start as u64, good_at_start, "{sum:?}");
    assert_eq!(sum.pieces_fetched as u64, n - good_at_start);
    // Duplicates in endgame are discarded, not counted: a piece fetched twice would exceed this.
    assert!(
        sum.bytes_downloaded <= (n - good_at_start) * pl + slack,
        "{} bytes for {} missing pieces",
        sum.bytes_downloaded,
        n - good_at_start
    );
    assert_eq!(s.verify(&dl).0, 0);
    s.assert_same(&dl);
}

// ---------------------------------------------------------------------------------------------
// 2. Seeder loss.

#[test]
fn one_of_two_seeders_killed_halfway_fetch_finishes_from_the_other() {
    let s = Sample::data(&[("a.bin", 2 << 20), ("b.bin", (2 << 20) + 12345)]);
    let mut a = Seeder::of(&s).rate("1M").start();
    let b = Seeder::of(&s).rate("1M").start();
    let dl = s.path("dl");
    let n = s.pieces();
    let mut run = Fetcher::new(&s.torrent, &dl)
        .peer(a.peer())
        .peer(b.peer())
        .args(&["--progress-json", "--peer-records"])
        .spawn();
    run.wait_pieces(n / 2, 60);
    a.kill();
    let (code, sum) = run.finish(90);
    assert_eq!(code, 0, "{sum:?}\n{}", run.stderr());
    assert!(sum.complete);
    assert_eq!(sum.peers_used, 2, "{sum:?}");
    // bt-fetch saw the killed seeder go.
    let peers = run.records::<PeerEvent>();
    assert!(
        !peer_events(&peers, "disconnected", Some(&a.ip()), None).is_empty(),
        "no disconnect record for the killed seeder"
    );
    assert_eq!(s.verify(&dl).0, 0);
    s.assert_same(&dl);
    drop(b);
}

#[test]
fn all_seeders_gone_exit_1_after_timeout_keeping_verified_pieces() {
    let s = Sample::data(&[("a.bin", 4 << 20)]);
    let mut seed = Seeder::of(&s).rate("1M").start();
    let dl = s.path("dl");
    let n = s.pieces();
    let timeout = 6;
    let started = Instant::now();
    let mut run = Fetcher::new(&s.torrent, &dl)
        .peer(seed.peer())
        .timeout(timeout)
        .args(&["--progress-json"])
        .spawn();
    run.wait_pieces(n / 4, 30);
    seed.kill();
    let (code, sum) = run.finish(60);
    let took = started.elapsed().as_secs_f64();
    assert_eq!(code, 1, "{sum:?}\n{}", run.stderr());
    assert!(!sum.complete);
    assert!(sum.reason.is_some(), "{sum:?}");
    assert!(
        took < timeout as f64 + 10.0,
        "gave up after {took:.1} s with --timeout {timeout}"
    );
    let reported = (sum.pieces_at_start + sum.pieces_fetched) as u64;
    let (vcode, good, _) = s.verify(&dl);
    assert_eq!(vcode, 1);
    assert!(good > 0 && good < n, "{good} of {n}");
    assert_eq!(good, reported, "verified on disk vs reported: {sum:?}");
    // A run with no seeder at all starts from the pieces kept, and gives up again.
    let r = Fetcher::new(&s.torrent, &dl)
        .peer("127.0.0.1:1")
        .timeout(1)
        .run();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(summary(&r).pieces_at_start as u64, good);
    println!(
        "gave up after {took:.1} s ({:?}), {good} of {n} pieces kept",
        sum.reason
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Hostile peers.

#[test]
fn hostile_peer_alone_is_dropped_and_fetch_gives_up() {
    // Each hostile peer is the only peer of a bt-fetch: it is dropped for what it did, and
    // bt-fetch gives up (exit 1). The four downloads run side by side.
    let s = Sample::standard();
    // A bitfield one byte too long (the other bad bitfields are in the next tests).
    let long_bitfield = Message::Bitfield(vec![0xff; s.limits.bitfield_len() + 1]).to_bytes();
    let cases = [
        ("liar", Behaviour::Liar),
        ("4 GiB frame", Behaviour::HugeFrame),
        ("bad bitfield", Behaviour::Raw(long_bitfield)),
        ("staller", Behaviour::Staller),
    ];
    std::thread::scope(|scope| {
        for (i, (what, behaviour)) in cases.into_iter().enumerate() {
            let s = &s;
            scope.spawn(move || {
                let fake = FakePeer::start(s, behaviour);
                let r = Fetcher::new(&s.torrent, &s.path(&format!("dl{i}")))
                    .peer(fake.addr)
                    .timeout(5)
                    .args(&["--peer-records", "--snub-timeout", "2"])
                    .run();
                assert_eq!(r.code, 1, "{what}: {}", r.stderr);
                let sum = summary(&r);
                let peers = of::<PeerEvent>(&r.stdout_str());
                let ours = |event: &str| {
                    peer_events(&peers, event, Some(&fake.ip()), Some(fake.addr.port()))
                };
                let reasons: Vec<String> = ours("disconnected")
                    .into_iter()
                    .filter_map(|p| p.reason)
                    .collect();
                let has = |x: &str| reasons.iter().any(|r| r.contains(x));
                match what {
                    "liar" => {
                        assert!(sum.bad_pieces >= 2, "{sum:?}");
                        assert_eq!(sum.pieces_fetched, 0, "{sum:?}");
                        assert!(!ours("banned").is_empty(), "liar banned: {peers:?}");
                    }
                    "4 GiB frame" => {
                        assert!(has("larger than") && has("protocol"), "{reasons:?}")
                    }
                    "bad bitfield" => assert!(has("bitfield"), "{reasons:?}"),
                    _ => assert!(has("snubbed"), "{reasons:?}"),
                }
            });
        }
    });
}

#[test]
fn liar_is_banned_after_two_bad_pieces_and_its_data_never_lands() {
    let s = Sample::data(&[("a.bin", 3 << 20), ("b.bin", 777_777)]);
    let liar = FakePeer::start(&s, Behaviour::Liar);
    // The honest seeder is slow so that the liar gets whole pieces to lie about.
    let past = fetch_past(&s, &[&liar], Some("2M"), &["--peer-records"]);
    let sum = &past.summary;
    assert!(sum.bad_pieces >= 2, "{sum:?}");
    // Issue 11 #8: a peer gets two pieces in flight until one it sent verifies, one after its
    // first bad piece (it used to cost 18-25 bad pieces, 1.2 MiB, before the ban).
    assert!(sum.bad_pieces <= 3, "{sum:?}");
    let banned = peer_events(&past.run.records(), "banned", None, None);
    assert_eq!(banned.len(), 1, "one ban: {banned:?}");
    assert_eq!(banned[0].ip, liar.ip());
    assert_eq!(banned[0].port, liar.addr.port());
    let stderr = past.run.stderr();
    assert!(stderr.contains("banned"), "{stderr}");
    let seen = liar.seen();
    assert!(seen.blocks_sent > 0 && seen.closed >= 1, "{seen:?}");
    let wasted = seen.blocks_sent as u64 * 16384;
    assert!(wasted <= 3 * s.limits.piece_length, "{seen:?}");
    println!(
        "liar: {} connections, {} blocks sent; bt-fetch: {} bad pieces",
        seen.handshakes, seen.blocks_sent, sum.bad_pieces
    );
}

#[test]
fn staller_is_timed_out_and_its_blocks_requeued() {
    let s = Sample::data(&[("a.bin", 3 << 20)]);
    let stall = FakePeer::start(&s, Behaviour::Staller);
    let started = Instant::now();
    // The honest seeder is slow enough that the download outlasts the snub timeout.
    let past = fetch_past(
        &s,
        &[&stall],
        Some("512K"),
        &["--snub-timeout", "2", "--peer-records"],
    );
    let seen = stall.seen();
    assert!(seen.requests > 0, "the staller was never asked: {seen:?}");
    let peers = past.run.records::<PeerEvent>();
    let snubbed = peer_events(&peers, "disconnected", Some(&stall.ip()), None);
    assert!(!snubbed.is_empty(), "the staller was never dropped");
    let reason = snubbed[0].reason.clone().unwrap_or_default();
    assert!(reason.contains("snub"), "{reason}");
    assert!(
        seen.close_after.first().is_some_and(|t| *t < 6.0),
        "{seen:?}"
    );
    assert_eq!(past.summary.peers_used, 1, "{:?}", past.summary);
    println!(
        "staller: {} requests held, dropped after {:?} s; download took {:.1} s",
        seen.requests,
        seen.close_after,
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn unrequested_garbage_blocks_never_land() {
    // A peer that has nothing, is never asked for anything, and sprays blocks of garbage for
    // every piece while an honest seeder is sending the real data.
    let s = Sample::data(&[("a.bin", 2 << 20)]);
    let sprayer = FakePeer::start(&s, Behaviour::Sprayer);
    let past = fetch_past(&s, &[&sprayer], Some("1M"), &[]);
    let (seen, sum) = (sprayer.seen(), &past.summary);
    println!("sprayer: {seen:?}; bt-fetch: {sum:?}");
    assert!(seen.blocks_sent > 0, "{seen:?}");
    assert_eq!(
        sum.bad_pieces, 0,
        "unrequested garbage was written: {sum:?}"
    );
}

#[test]
fn hostile_extension_handshakes_do_no_harm() {
    // Deeply nested bencode, absurd `reqq` values, junk: bt-fetch neither crashes nor stalls.
    let s = Sample::data(&[("a.bin", 1 << 20)]);
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
    let fakes: Vec<_> = payloads
        .into_iter()
        .map(|p| FakePeer::start(&s, Behaviour::Extension(p)))
        .collect();
    fetch_past(&s, &fakes.iter().collect::<Vec<_>>(), None, &[]);
    assert!(fakes.iter().all(|p| p.seen().handshakes >= 1));
}

#[test]
fn four_gib_length_prefix_is_dropped_without_allocating() {
    let s = Sample::data(&[("a.bin", 4 << 20)]);
    let hostile = FakePeer::start(&s, Behaviour::HugeFrame);
    let past = fetch_past(&s, &[&hostile], Some("1M"), &["--peer-records"]);
    let hwm = past.peak_rss;
    assert!(hwm < 100 << 10, "bt-fetch peak RSS {hwm} kB");
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
    let peers = past.run.records::<PeerEvent>();
    let reasons: Vec<String> = peer_events(&peers, "disconnected", Some(&hostile.ip()), None)
        .into_iter()
        .filter_map(|r| r.reason)
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("protocol")),
        "{reasons:?}"
    );
    println!(
        "4 GiB prefix: {} connections, dropped after {:?} s; bt-fetch peak RSS {hwm} kB",
        seen.handshakes, seen.close_after
    );
}

#[test]
fn bad_bitfields_and_haves_out_of_range_are_dropped() {
    // 37 pieces: 5 bytes of bitfield with 3 spare bits.
    let s = Sample::data(&[("a.bin", 36 * 65536 + 1000)]);
    assert_eq!(s.limits.piece_count, 37);
    let len = s.limits.bitfield_len();
    let frame = |bits: Vec<u8>| Message::Bitfield(bits).to_bytes();
    let mut spare = full_bitfield(&s.limits);
    spare[len - 1] |= 1;
    let hostile = [
        ("too long", frame(vec![0xff; len + 1])),
        ("too short", frame(vec![0xff; len - 1])),
        ("spare bits set", frame(spare)),
        ("empty", frame(Vec::new())),
        (
            "have out of range",
            Message::Have(s.limits.piece_count).to_bytes(),
        ),
    ];
    let fakes: Vec<_> = hostile
        .iter()
        .map(|(_, bytes)| FakePeer::start(&s, Behaviour::Raw(bytes.clone())))
        .collect();
    let past = fetch_past(&s, &fakes.iter().collect::<Vec<_>>(), None, &[]);
    for ((what, _), p) in hostile.iter().zip(&fakes) {
        // Allow the last ones a moment if the download finished first.
        assert!(wait_for(10, || p.seen().closed >= 1), "{what}: not dropped");
        let seen = p.seen();
        assert!(seen.close_after[0] < 5.0, "{what}: {seen:?}");
    }
    assert_eq!(past.summary.peers_used, 1, "{:?}", past.summary);
}

// ---------------------------------------------------------------------------------------------
// 4. Hostile downloaders of bt-seed.

#[test]
fn bad_requests_to_bt_seed_are_dropped_and_it_keeps_serving() {
    let s = Sample::data(&[("a.bin", 1 << 20), ("b.bin", 100_000)]);
    let mut seed = Seeder::of(&s).start();
    let l = s.limits;
    let last = l.piece_count - 1;
    let last_len = l.piece_size(last) as u32;
    let block = |piece, offset, length| Block {
        piece,
        offset,
        length,
    };
    // (what, the request, whether to send it before bt-seed unchokes us)
    let cases = [
        ("piece out of range", block(l.piece_count, 0, 16384), false),
        ("piece u32::MAX", block(u32::MAX, 0, 16384), false),
        ("block of 32 KiB", block(0, 0, 32768), false),
        ("block of 16 KiB + 1", block(0, 0, 16385), false),
        (
            "past the end of the torrent",
            block(last, last_len - 100, 16384),
            false,
        ),
        ("offset overflowing", block(0, u32::MAX - 10, 16384), false),
        (
            "past the end of a piece",
            block(0, 65536 - 8192, 16384),
            false,
        ),
        ("empty block", block(0, 0, 0), false),
        // The same rules while still choked, with no wait.
        (
            "piece out of range, choked",
            block(l.piece_count, 0, 16384),
            true,
        ),
        ("block of 32 KiB, choked", block(0, 0, 32768), true),
        (
            "past the end of the last piece, choked",
            block(last, last_len - 10, 16384),
            true,
        ),
    ];
    for (what, b, choked) in cases {
        let mut w = Wire::dial(seed.addr, &s);
        w.send(&Message::Interested);
        // Wait to be unchoked, so that only the request's own badness is at stake.
        if !choked {
            assert!(
                w.wait_for(10, |m| *m == Message::Unchoke),
                "{what}: bt-seed never unchoked us"
            );
        }
        w.send(&Message::Request(b));
        // Nothing but a close may follow: no piece, no reject of a bad request.
        let (closed, got) = w.read_until_close(5);
        assert!(closed, "{what}: connection not dropped");
        // Only harmless messages (keep-alive, have, unchoke) may have been in flight.
        assert!(
            !got.iter().any(|m| matches!(m, Message::Piece { .. })),
            "{what}: bt-seed answered with data"
        );
    }
    // A 4 GiB frame from a downloader: dropped too.
    let mut w = Wire::dial(seed.addr, &s);
    w.send_raw(&[0xff, 0xff, 0xff, 0xff]);
    assert!(w.closed_within(5), "4 GiB frame: connection not dropped");
    // A well-formed request still gets its exact bytes.
    let mut w = Wire::dial(seed.addr, &s);
    w.send(&Message::Interested);
    assert!(w.wait_for(10, |m| *m == Message::Unchoke), "never unchoked");
    w.send(&Message::Request(block(last, 0, 1000)));
    let mut data = None;
    w.wait_for(10, |m| match m {
        Message::Piece {
            piece,
            offset,
            data: d,
        } => {
            assert_eq!((*piece, *offset), (last, 0));
            data = Some(d.clone());
            true
        }
        _ => false,
    });
    let at = last as usize * l.piece_length as usize;
    assert_eq!(data.expect("the block"), &s.stream()[at..at + 1000]);
    // And an honest downloader gets everything.
    let dl = s.path("dl");
    let mut run = Fetcher::new(&s.torrent, &dl).peer(seed.peer()).spawn();
    let (code, sum) = run.finish(90);
    assert_eq!(code, 0, "{sum:?}\n{}", run.stderr());
    s.assert_same(&dl);
    assert!(seed.bg.child.try_wait().unwrap().is_none(), "bt-seed died");
}

#[test]
fn peers_that_request_and_never_read_do_not_lock_out_a_downloader() {
    // Five peers (one more than bt-seed's upload slots) ask for every block and never read a
    // byte: their connections fill up and stall. An honest downloader must still be served.
    // bt-seed gives the slot of an unchoked peer whose uploads stall for 3 s to a waiting peer,
    // so the download is served within seconds, not at the next 10 s choke round: bt-fetch's
    // --timeout 8 ends the run (exit 1) if it is not.
    let s = Sample::data(&[("a.bin", 4 << 20)]);
    let seed = Seeder::of(&s).start();
    let mut every_request = Vec::new();
    for b in all_blocks(&s.limits) {
        Message::Request(b).encode(&mut every_request);
    }
    let hogs: Vec<Wire> = (0..5)
        .map(|_| {
            let mut w = Wire::dial(seed.addr, &s);
            w.send(&Message::Interested);
            // Requests may not all fit while bt-seed's replies pile up: best effort.
            w.send_raw(&every_request);
            w
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let f = fetch_under_load(&s, &seed, 8, Watch::start(seed.pid()), "hogs");
    drop(hogs);
    assert_eq!(f.code, 0, "{:?}\n{}", f.summary, f.stderr);
    assert!(f.hwm < 100 << 10, "bt-seed peak RSS {} kB", f.hwm);
}

/// What an honest download from a loaded bt-seed left: bt-fetch's exit code, summary, stderr
/// and wall time, and bt-seed's peak threads and peak RSS (kB).
struct Loaded {
    code: i32,
    summary: Summary,
    stderr: String,
    took: f64,
    threads: u64,
    hwm: u64,
}

/// An honest bt-fetch of `s` from `seed` with `--timeout SECS`, while `watch` watches bt-seed
/// (stopped when bt-fetch ends). A complete download is checked byte for byte.
fn fetch_under_load(s: &Sample, seed: &Seeder, secs: u64, watch: Watch, what: &str) -> Loaded {
    let dl = s.path("dl");
    let started = Instant::now();
    let mut run = Fetcher::new(&s.torrent, &dl)
        .peer(seed.peer())
        .timeout(secs)
        .spawn();
    let (code, summary) = run.finish(secs + 30);
    let took = started.elapsed().as_secs_f64();
    let (threads, hwm) = watch.stop();
    let stderr = run.stderr();
    println!(
        "{what}: download exit {code} in {took:.1} s; bt-seed peak threads {threads}, \
         peak RSS {} MiB",
        hwm >> 10
    );
    if code == 0 {
        s.assert_same(&dl);
    } else {
        println!("bt-fetch: {stderr}");
    }
    Loaded {
        code,
        summary,
        stderr,
        took,
        threads,
        hwm,
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Connection floods.

/// 500 connections to bt-seed that never say a word, held open (and, with `reopen`, opened
/// again whenever bt-seed closes them), then an honest bt-fetch, which must complete while
/// bt-seed keeps under 200 threads and 100 MiB.
fn flood(reopen: bool) -> Loaded {
    let s = Sample::data(&[("a.bin", 4 << 20)]);
    // Paced so that the download lasts while the flood goes on.
    let seed = Seeder::of(&s).rate("1M").start();
    let watch = Watch::start(seed.pid());
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
    assert!(
        wait_for(30, || opened.load(Ordering::Relaxed) >= 500),
        "only {} connections opened",
        opened.load(Ordering::Relaxed)
    );
    std::thread::sleep(Duration::from_millis(500));
    let f = fetch_under_load(&s, &seed, 60, watch, &format!("flood (reopen: {reopen})"));
    flooding.store(false, Ordering::Relaxed);
    let closed_by_seed = flood.join().unwrap();
    println!(
        "flood (reopen: {reopen}): {} connections opened, {closed_by_seed} closed by bt-seed",
        opened.load(Ordering::Relaxed),
    );
    assert_eq!(f.code, 0, "{:?}", f.summary);
    assert!(f.summary.complete);
    assert!(f.threads < 200, "bt-seed ran {} threads", f.threads);
    assert!(f.hwm < 100 << 10, "bt-seed peak RSS {} kB", f.hwm);
    f
}

#[test]
fn flood_of_500_idle_connections_does_not_starve_a_downloader() {
    let f = flood(false);
    assert!(f.took < 30.0, "the download took {:.1} s", f.took);
}

#[test]
fn flood_that_reconnects_does_not_starve_a_downloader() {
    flood(true);
}

#[test]
fn flood_of_300_handshaken_idle_peers_does_not_starve_a_downloader() {
    // Peers that complete the handshake and then say nothing hold real connection slots.
    let s = Sample::data(&[("a.bin", 4 << 20)]);
    let seed = Seeder::of(&s).rate("2M").start();
    let watch = Watch::start(seed.pid());
    let idle: Vec<Wire> = (0..300)
        .filter_map(|_| Wire::try_dial(seed.addr, &s).ok())
        .collect();
    let what = format!("handshaken flood: {} idle peers", idle.len());
    let f = fetch_under_load(&s, &seed, 30, watch, &what);
    drop(idle);
    assert_eq!(f.code, 0, "{:?}\n{}", f.summary, f.stderr);
    assert!(f.hwm < 100 << 10, "bt-seed peak RSS {} kB", f.hwm);
    // Two threads per peer up to bt-seed's --max-peers (200), the handshake slots, a few more.
    assert!(
        f.threads < 2 * 200 + 128 + 32,
        "bt-seed ran {} threads",
        f.threads
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Disk trouble.

/// The one line bt-fetch writes when a write hits the file size limit.
fn assert_file_size_error(stderr: &str, file: &str) {
    assert!(stderr.starts_with("bt-fetch: error:"), "{stderr}");
    assert!(
        stderr.contains("file size limit exceeded") && stderr.contains(file),
        "names the problem and the file {file}: {stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}

#[test]
fn file_size_limit_exit_2_keeps_verified_pieces_and_rerun_completes() {
    let s = Sample::data(&[("a.bin", 4 << 20)]);
    let n = s.pieces();
    let pl = s.limits.piece_length;
    let seed = Seeder::of(&s).rate("4M").start();
    // The last two pieces lie past the limit; dash's `ulimit -f` counts 512-byte blocks.
    let limit_blocks = ((4 << 20) - (128 << 10)) / 512;
    // 1. A fresh download: the file cannot be made at its length.
    let r = Fetcher::new(&s.torrent, &s.path("dl0"))
        .peer(seed.peer())
        .fsize_limit(limit_blocks)
        .run();
    assert_eq!(r.code, 2, "{}{}", r.stdout_str(), r.stderr);
    assert_file_size_error(&r.stderr, "dl0/data/a.bin");
    // 2. The file is already there at full length (sparse), its first MiB downloaded: writes
    // past the limit fail with EFBIG (SIGXFSZ is ignored by bt-fetch) instead of extending it.
    let dl = s.path("dl");
    std::fs::create_dir_all(dl.join("data")).unwrap();
    let data = std::fs::read(s.seed_dir().join("data/a.bin")).unwrap();
    let mut partial = data[..1 << 20].to_vec();
    partial.resize(data.len(), 0);
    std::fs::write(dl.join("data/a.bin"), &partial).unwrap();
    let fetch = Fetcher::new(&s.torrent, &dl).peer(seed.peer());
    let mut run = fetch.clone().fsize_limit(limit_blocks).spawn();
    let (code, sum) = run.finish(90);
    let stderr = run.stderr();
    assert_eq!(code, 2, "{sum:?}\n{stderr}");
    assert!(!sum.complete);
    assert_file_size_error(&stderr, "dl/data/a.bin");
    let at_start = sum.pieces_at_start as u64;
    assert_eq!(at_start, 16);
    let reported = at_start + sum.pieces_fetched as u64;
    let (_, good, bad) = s.verify(&dl);
    assert_eq!(good, reported, "verified on disk vs reported: {sum:?}");
    assert!(bad.iter().all(|p| *p >= 16), "the first MiB was damaged");
    println!("ulimit -f: {stderr}; {good} of {n} pieces kept");
    // 3. The rerun, without the limit, fetches only what is missing.
    let mut rerun = fetch.spawn();
    let (code, sum) = rerun.finish(90);
    assert_eq!(code, 0, "{sum:?}\n{}", rerun.stderr());
    assert_eq!(sum.pieces_at_start as u64, good);
    assert!(sum.bytes_downloaded <= (n - good) * pl + pl, "{sum:?}");
    s.assert_same(&dl);
}

// ---------------------------------------------------------------------------------------------
// 7. Issue 11: costs a hostile peer must not be able to impose on bt-seed.

#[test]
fn choked_requester_that_never_reads_is_dropped_with_bounded_memory() {
    // Issue 11 #1: a peer with the fast extension stays choked (never interested), sends
    // requests and never reads. Each request earns a `reject`; they used to pile up without
    // bound behind the blocked writer (848 MB of RSS after 300 MiB of requests). Now the queue
    // is bounded and the peer dropped when it overruns.
    let s = Sample::data(&[("a.bin", 1 << 20)]);
    let seed = Seeder::of(&s).start();
    let watch = Watch::start(seed.pid());
    let mut w = Wire::dial(seed.addr, &s);
    let mut batch = Vec::new();
    let req = Message::Request(Block {
        piece: 0,
        offset: 0,
        length: 16384,
    });
    while batch.len() < 1 << 20 {
        req.encode(&mut batch);
    }
    let total = 300u64 << 20;
    let mut sent = 0u64;
    let started = Instant::now();
    while sent < total && started.elapsed() < Duration::from_secs(60) {
        if !w.send_raw(&batch) {
            break;
        }
        sent += batch.len() as u64;
    }
    // Dropped (or, at worst, dropped once the last requests are read).
    let closed = sent < total || w.closed_within(10);
    let (_, hwm) = watch.stop();
    println!(
        "choked requester: {} MiB of requests sent before the drop, bt-seed peak RSS {} MiB",
        sent >> 20,
        hwm >> 10
    );
    assert!(hwm < 100 << 10, "bt-seed peak RSS {hwm} kB");
    assert!(closed, "the peer was never dropped");
    // bt-seed still serves.
    let dl = s.path("dl");
    let mut run = Fetcher::new(&s.torrent, &dl).peer(seed.peer()).spawn();
    let (code, sum) = run.finish(60);
    assert_eq!(code, 0, "{sum:?}\n{}", run.stderr());
    s.assert_same(&dl);
}

/// A torrent of `pieces` pieces of 16 bytes over one file of zeros (piece hashes are fake:
/// serve it with `--skip-verify`); (torrent path, seed dir, info hash, limits).
fn tiny_pieces(
    dir: &std::path::Path,
    pieces: u32,
) -> (
    std::path::PathBuf,
    std::path::PathBuf,
    [u8; 20],
    bt::peer::Limits,
) {
    let len = pieces as u64 * 16;
    let seed = dir.join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    std::fs::write(seed.join("z.bin"), vec![0u8; len as usize]).unwrap();
    let mut t =
        format!("d4:infod6:lengthi{len}e4:name5:z.bin12:piece lengthi16e6:pieces").into_bytes();
    t.extend_from_slice(format!("{}:", pieces as u64 * 20).as_bytes());
    t.extend(std::iter::repeat_n(0x11u8, pieces as usize * 20));
    t.extend_from_slice(b"ee");
    let path = dir.join("tiny.torrent");
    std::fs::write(&path, &t).unwrap();
    let (info_hash, limits) = torrent_limits(&path);
    (path, seed, info_hash, limits)
}

#[test]
fn have_all_and_have_none_floods_cost_no_cpu_and_need_the_fast_extension() {
    // Issue 11 #3: with 1,048,576 pieces, each HaveAll / HaveNone used to cost a scan of every
    // piece (20 kB of them: 4.9 s of CPU). Now each is O(1).
    let dir = crate::common::tempdir();
    let (torrent, seed_dir, info_hash, limits) = tiny_pieces(dir.path(), 1 << 20);
    assert_eq!(limits.piece_count, 1 << 20);
    let seed = Seeder::of_torrent(&torrent, &seed_dir)
        .args(&["--skip-verify"])
        .start();
    let mut w = Wire::try_dial_to(seed.addr, info_hash, limits).unwrap();
    let mut flood = Vec::new();
    while flood.len() < 20_000 {
        flood.extend_from_slice(&Message::HaveAll.to_bytes());
        flood.extend_from_slice(&Message::HaveNone.to_bytes());
    }
    // Let start-up work settle before measuring.
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_seconds(seed.pid());
    assert!(w.send_raw(&flood));
    // An answer to a message sent after the flood: the flood was read.
    w.send(&Message::Interested);
    let answered = w.wait_for(30, |m| *m == Message::Unchoke);
    let cpu = cpu_seconds(seed.pid()) - before;
    println!("HaveAll/HaveNone flood of 20 kB with 2^20 pieces: {cpu:.2} s of bt-seed CPU");
    assert!(answered, "bt-seed never answered after the flood");
    assert!(cpu < 0.2, "{cpu:.2} s of CPU");
    // Without the fast extension negotiated, HaveAll is a protocol error.
    let mut plain = std::net::TcpStream::connect(seed.addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut hs = bt::peer::Handshake::new(info_hash, bt::peer::PeerId([3; 20]));
    hs.reserved = [0; 8];
    use std::io::Write;
    plain.write_all(&hs.encode()).unwrap();
    plain.write_all(&Message::HaveAll.to_bytes()).unwrap();
    let mut sink = vec![0u8; 1 << 20];
    let mut closed = false;
    for _ in 0..50 {
        match plain.read(&mut sink) {
            Ok(0) => closed = true,
            Ok(_) => continue,
            Err(e) => {
                closed = !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )
            }
        }
        break;
    }
    assert!(closed, "HaveAll without the fast extension was accepted");
}

#[test]
fn interested_peers_that_never_read_cannot_hold_every_slot() {
    // Issue 11 #7: 250 peers say "interested" and never read, against bt-seed's default 200
    // connection slots. A newcomer used to be refused; slots held by peers that take no data
    // are now reclaimed for it.
    let s = Sample::data(&[("a.bin", 1 << 20)]);
    let seed = Seeder::of(&s).start();
    let hogs: Vec<Wire> = (0..250)
        .filter_map(|_| {
            let mut w = Wire::try_dial(seed.addr, &s).ok()?;
            w.send(&Message::Interested).then_some(w)
        })
        .collect();
    assert!(hogs.len() >= 200, "only {} hogs connected", hogs.len());
    let watch = Watch::start(seed.pid());
    let what = format!("{} interested hogs", hogs.len());
    let f = fetch_under_load(&s, &seed, 40, watch, &what);
    drop(hogs);
    assert_eq!(f.code, 0, "{:?}\n{}", f.summary, f.stderr);
    assert!(f.summary.complete);
}
