//! Web seeds (BEP 19, issue 15 must-show 3): bt-fetch downloading from HTTP mirrors served by a
//! real nginx on loopback (started and stopped by PID, config in a temp dir): single-file and
//! multi-file torrents from mirrors alone, redirects and errors named in `web_seed` records, a
//! corrupting mirror banned, a slow mirror handed fewer pieces, mirrors beside a bt-seed.

use crate::common::*;
use crate::harness::*;
use std::path::Path;

/// The `web_seed` records of `event` for the mirror `url`.
fn events<'a>(recs: &'a [WebSeed], url: &str, event: &str) -> Vec<&'a WebSeed> {
    recs.iter()
        .filter(|r| r.url == url && r.event == event)
        .collect()
}

/// Bytes the mirror `url` sent, from its `stopped` record.
fn sent(recs: &[WebSeed], url: &str) -> u64 {
    let stopped = events(recs, url, "stopped");
    assert_eq!(stopped.len(), 1, "one stopped record for {url}: {recs:?}");
    stopped[0].downloaded.expect("stopped has downloaded")
}

/// Run bt-fetch (no peers, stdin empty) to the end; its records, summary and exit code.
fn fetch(torrent: &Path, dl: &Path, args: &[&str]) -> (i32, Vec<WebSeed>, Summary, String) {
    let r = Fetcher::new(torrent, dl).args(args).run();
    let out = r.stdout_str();
    (r.code, of::<WebSeed>(&out), summary(&r), r.stderr)
}

/// Copy every file below `from` to `to`, XOR-ing one byte in every 1000 (`corrupt`).
fn copy_tree(from: &Path, to: &Path, corrupt: bool) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(&e.path(), &dest, corrupt);
        } else {
            let mut d = std::fs::read(e.path()).unwrap();
            if corrupt {
                for b in d.iter_mut().step_by(1000) {
                    *b ^= 0xff;
                }
            }
            std::fs::write(dest, d).unwrap();
        }
    }
}

/// nginx serving two copies of the sample's files, under `/a/` and `/b/` (the second one
/// corrupted when `corrupt_b`), with `extra` in its server block; and the two mirror URLs.
fn two_mirrors(s: &Sample, corrupt_b: bool, extra: &str) -> (Nginx, String, String) {
    let www = s.path("www");
    copy_tree(&s.seed_dir(), &www.join("a"), false);
    copy_tree(&s.seed_dir(), &www.join("b"), corrupt_b);
    let nginx = Nginx::start(&www, extra);
    let (a, b) = (nginx.url("a/"), nginx.url("b/"));
    (nginx, a, b)
}

/// A multi-file sample whose paths need percent-encoding, with an empty file.
fn multi() -> Sample {
    Sample::data(&[
        ("a.bin", (3 << 20) + 1234),
        ("sub dir/b #1.bin", 700_000),
        ("sub dir/empty", 0),
        ("z.bin", 1 << 20),
    ])
}

#[test]
fn single_file_from_two_mirrors_alone() {
    let dir = tempdir();
    let www = dir.path().join("www");
    write_tree(&www, &[("one.bin", 6 << 20), ("pub/one.bin", 0)]);
    std::fs::copy(www.join("one.bin"), www.join("pub/one.bin")).unwrap();
    let nginx = Nginx::start(&www, "");
    // BEP 19: a URL naming the file itself, and a directory URL ending in `/`.
    let (file_url, dir_url) = (nginx.url("one.bin"), nginx.url("pub/"));
    let torrent = dir.path().join("one.torrent");
    let made = bt(
        "bt-make",
        &[
            www.join("one.bin").to_str().unwrap(),
            "-o",
            torrent.to_str().unwrap(),
            "-w",
            &file_url,
            "-w",
            &dir_url,
            "--json",
        ],
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
    // bt-info shows the url-list.
    let info = bt("bt-info", &[torrent.to_str().unwrap(), "--json"]);
    let t = of::<Torrent>(&info.stdout_str())
        .pop()
        .expect("a torrent record");
    assert_eq!(t.url_list, vec![file_url.clone(), dir_url.clone()]);

    let dl = dir.path().join("dl");
    // Capped so that the download lasts long enough for both mirrors to take part.
    let (code, recs, sum, err) = fetch(&torrent, &dl, &["--max-download-rate", "8M"]);
    assert_eq!(code, 0, "{sum:?}\n{err}");
    assert!(sum.complete);
    assert_eq!(sum.peers_used, 0, "no peers, mirrors only");
    let got = std::fs::read(dl.join("one.bin")).unwrap();
    assert!(
        got == std::fs::read(www.join("one.bin")).unwrap(),
        "data differs"
    );
    for url in [&file_url, &dir_url] {
        assert_eq!(events(&recs, url, "started").len(), 1, "{recs:?}");
        assert!(sent(&recs, url) > 0, "{url} sent nothing: {recs:?}");
        assert!(events(&recs, url, "error").is_empty(), "{recs:?}");
    }
    // Every byte came from the mirrors (they may also have sent a few endgame duplicates).
    assert!(sent(&recs, &file_url) + sent(&recs, &dir_url) >= sum.bytes_downloaded);
    assert!(nginx.requests() > 0);
}

#[test]
fn multi_file_from_mirrors_alone_with_a_redirect_and_a_missing_mirror() {
    let s = multi();
    let nginx = Nginx::start(
        &s.seed_dir(),
        "location /old/ { rewrite ^/old/(.*)$ /$1 redirect; }",
    );
    let (good, moved, missing) = (nginx.url("/"), nginx.url("old/"), nginx.url("gone/"));
    let dl = s.path("dl");
    let (code, recs, sum, err) = fetch(
        &s.torrent,
        &dl,
        &[
            "--web-seed",
            &good,
            "--web-seed",
            &moved,
            "--web-seed",
            &missing,
        ],
    );
    assert_eq!(code, 0, "{sum:?}\n{err}");
    assert!(sum.complete);
    s.assert_same(&dl);
    assert_eq!(s.verify(&dl).0, 0);
    // The redirect is followed and named once.
    let r = events(&recs, &moved, "redirected");
    assert_eq!(r.len(), 1, "{recs:?}");
    let location = r[0].location.as_deref().unwrap();
    assert!(
        location.starts_with(&format!("{}/data/", nginx.base)),
        "{location}"
    );
    // The missing mirror's errors name the file URL and the status.
    let errors = events(&recs, &missing, "error");
    assert!(!errors.is_empty(), "{recs:?}");
    for e in errors {
        assert_eq!(e.status, Some(404), "{e:?}");
        let reason = e.reason.as_deref().unwrap();
        assert!(reason.contains(&format!("{missing}data/")), "{reason}");
        assert!(reason.contains("404"), "{reason}");
    }
    assert_eq!(sent(&recs, &missing), 0);
    assert!(sent(&recs, &good) + sent(&recs, &moved) >= sum.bytes_downloaded);
}

#[test]
fn a_corrupting_mirror_is_banned_and_the_good_one_finishes() {
    let s = multi();
    let (_nginx, good, bad) = two_mirrors(&s, true, "");
    let dl = s.path("dl");
    let (code, recs, sum, err) = fetch(&s.torrent, &dl, &["--web-seed", &bad, "--web-seed", &good]);
    assert_eq!(code, 0, "{sum:?}\n{err}");
    assert!(sum.complete);
    s.assert_same(&dl);
    assert!(sum.bad_pieces >= 2, "{sum:?}");
    assert_eq!(events(&recs, &bad, "banned").len(), 1, "{recs:?}");
    let stopped = events(&recs, &bad, "stopped");
    assert!(
        stopped[0].reason.as_deref().unwrap().starts_with("banned"),
        "{stopped:?}"
    );
    assert!(events(&recs, &good, "banned").is_empty());
    // Banned after two bad pieces: the few in flight then are all it sent.
    let piece = s.limits.piece_length;
    assert!(
        sent(&recs, &bad) <= 2 * webseed_workers() * piece + 2 * piece,
        "the bad mirror kept sending: {recs:?}"
    );
}

fn webseed_workers() -> u64 {
    bt::swarm::webseed::WORKERS as u64
}

#[test]
fn a_slow_mirror_gets_fewer_pieces() {
    let s = multi();
    let (_nginx, fast, slow) = two_mirrors(&s, false, "location /b/ { limit_rate 64k; }");
    let dl = s.path("dl");
    let (code, recs, sum, err) =
        fetch(&s.torrent, &dl, &["--web-seed", &slow, "--web-seed", &fast]);
    assert_eq!(code, 0, "{sum:?}\n{err}");
    s.assert_same(&dl);
    let (f, sl) = (sent(&recs, &fast), sent(&recs, &slow));
    assert!(sl * 4 < f, "slow mirror sent {sl} bytes, fast {f}");
}

#[test]
fn mirrors_beside_a_bt_seed() {
    let s = multi();
    // Both sources are capped so that neither finishes alone before the other starts.
    let seed = Seeder::of(&s).rate("2M").start();
    let nginx = Nginx::start(&s.seed_dir(), "location / { limit_rate 1m; }");
    let mirror = nginx.url("/");
    let dl = s.path("dl");
    let (code, recs, sum, err) = fetch(
        &s.torrent,
        &dl,
        &["--peer", &seed.peer(), "--web-seed", &mirror],
    );
    assert_eq!(code, 0, "{sum:?}\n{err}");
    assert!(sum.complete);
    s.assert_same(&dl);
    assert_eq!(sum.peers_used, 1, "the seeder sent blocks: {sum:?}");
    let from_mirror = sent(&recs, &mirror);
    assert!(from_mirror > 0, "{recs:?}");
    assert!(from_mirror < sum.bytes_downloaded, "{recs:?} {sum:?}");
}

#[test]
fn a_bad_web_seed_flag_is_a_usage_error() {
    fetch_refuses(&["--web-seed", "ftp://127.0.0.1/x"], "ftp://127.0.0.1/x");
    fetch_refuses(&["--web-seed", "not a url"], "not a url");
}
