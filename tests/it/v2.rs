//! Integration tests: BitTorrent v2 and hybrid torrents (BEP 52, BEP 47) in `bt-make` and
//! `bt-verify`, against libtorrent's creator (Debian's `python3-libtorrent`).

use std::path::Path;
use std::time::Duration;

use crate::common::{bt_in, run_cmd, tempdir, write_tree, Run};

/// A multi-file input with uneven sizes, an empty file, a file that fills whole pieces, and a
/// name (`x-b`) that sorts differently by path bytes (`x-b` < `x/a`) and by components (`x/a`
/// < `x-b`, the file tree's order).
const FILES: &[(&str, usize)] = &[
    ("d/a.bin", 100_000),
    ("d/empty", 0),
    ("d/x-b", 5),
    ("d/x/a", 70_000),
    ("d/x/c", 300_000),
    ("d/z", 2 * 65536),
];

/// libtorrent creates a torrent of `FILES` under `root`: `mode` is `hybrid` (its default) or
/// `v2` (`v2_only`). The file storage is given in the order listed; libtorrent puts v2 and
/// hybrid file lists in file-tree order itself.
fn libtorrent_make(root: &Path, mode: &str, piece_length: u64, out: &Path) {
    const SCRIPT: &str = r#"
import sys, libtorrent as lt
mode, root, pl, out = sys.argv[1:5]
fs = lt.file_storage()
rest = sys.argv[5:]
for i in range(0, len(rest), 2):
    fs.add_file(rest[i], int(rest[i + 1]))
flags = lt.create_torrent.v2_only if mode == "v2" else 0
t = lt.create_torrent(fs, int(pl), flags)
lt.set_piece_hashes(t, root)
open(out, "wb").write(lt.bencode(t.generate()))
"#;
    let mut cmd = std::process::Command::new("/usr/bin/python3");
    cmd.args(["-c", SCRIPT, mode])
        .arg(root)
        .arg(piece_length.to_string())
        .arg(out);
    for (p, n) in FILES {
        cmd.arg(p).arg(n.to_string());
    }
    let r = run_cmd(&mut cmd, None, Duration::from_secs(60));
    assert_eq!(r.code, 0, "libtorrent create_torrent: {}", r.stderr);
}

/// (v1 info hash, v2 info hash) as bt-info reads them.
fn hashes(dir: &Path, torrent: &str) -> (Option<String>, Option<String>) {
    let r = bt_in("bt-info", dir, &["--json", torrent], None);
    assert_eq!(r.code, 0, "bt-info {torrent}: {}", r.stderr);
    let t = r.torrent();
    (t.info_hash, t.info_hash_v2)
}

fn verify(dir: &Path, torrent: &str) -> Run {
    bt_in("bt-verify", dir, &["--json", torrent, "-d", "."], None)
}

/// `(path, status, bad pieces, hash)` of each file record.
fn verdicts(r: &Run) -> Vec<(String, String, usize, Option<String>)> {
    r.files()
        .into_iter()
        .map(|f| (f.path, f.status, f.bad_pieces, f.hash))
        .collect()
}

#[test]
fn same_info_hashes_as_libtorrent() {
    let tmp = tempdir();
    let dir = tmp.path();
    write_tree(dir, FILES);
    for pl in [16384u64, 65536] {
        for (mode, flag) in [("hybrid", "--hybrid"), ("v2", "--v2")] {
            let ours = format!("ours-{mode}-{pl}.torrent");
            let theirs = format!("lt-{mode}-{pl}.torrent");
            let args = [flag, "-l", &pl.to_string(), "--no-creation-date", "--json"];
            let r = bt_in(
                "bt-make",
                dir,
                &[&args[..], &["-o", &ours, "d"]].concat(),
                None,
            );
            assert_eq!(r.code, 0, "bt-make {flag}: {}", r.stderr);
            libtorrent_make(dir, mode, pl, &dir.join(&theirs));
            let (v1, v2) = hashes(dir, &ours);
            assert_eq!((v1.is_some(), v2.is_some()), (mode == "hybrid", true));
            assert_eq!(
                (v1, v2),
                hashes(dir, &theirs),
                "{mode} with {pl}-byte pieces"
            );
            // Reproducible: the same input and options give the same bytes.
            let again = format!("again-{mode}-{pl}.torrent");
            let r = bt_in(
                "bt-make",
                dir,
                &[&args[..], &["-o", &again, "d"]].concat(),
                None,
            );
            assert_eq!(r.code, 0, "{}", r.stderr);
            assert_eq!(
                std::fs::read(dir.join(&ours)).unwrap(),
                std::fs::read(dir.join(&again)).unwrap()
            );
            // And bt-verify accepts the data against ours.
            let r = verify(dir, &ours);
            assert_eq!(r.code, 0, "{}", r.stdout_str());
        }
    }
}

#[test]
fn single_file_hybrid_and_v2_match_libtorrent() {
    let tmp = tempdir();
    let dir = tmp.path();
    write_tree(dir, &[("one.bin", 200_000)]);
    const SCRIPT: &str = r#"
import sys, libtorrent as lt
fs = lt.file_storage()
lt.add_files(fs, "one.bin")
flags = lt.create_torrent.v2_only if sys.argv[1] == "v2" else 0
t = lt.create_torrent(fs, 32768, flags)
lt.set_piece_hashes(t, ".")
open(sys.argv[2], "wb").write(lt.bencode(t.generate()))
"#;
    for (mode, flag) in [("hybrid", "--hybrid"), ("v2", "--v2")] {
        let mut cmd = std::process::Command::new("/usr/bin/python3");
        cmd.args(["-c", SCRIPT, mode, "lt.torrent"])
            .current_dir(dir);
        let r = run_cmd(&mut cmd, None, Duration::from_secs(60));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let args = [flag, "-l", "32K", "--no-creation-date", "-f", "--json"];
        let r = bt_in(
            "bt-make",
            dir,
            &[&args[..], &["-o", "ours.torrent", "one.bin"]].concat(),
            None,
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(
            hashes(dir, "ours.torrent"),
            hashes(dir, "lt.torrent"),
            "{mode}"
        );
    }
}

#[test]
fn verify_libtorrent_v2_and_hybrid_torrents() {
    let tmp = tempdir();
    let dir = tmp.path();
    write_tree(dir, FILES);
    for (mode, hash) in [("hybrid", "v1+v2"), ("v2", "v2")] {
        let torrent = format!("lt-{mode}.torrent");
        libtorrent_make(dir, mode, 32768, &dir.join(&torrent));

        // All good: every file complete, judged by the torrent's hashes (an empty file by none).
        let r = verify(dir, &torrent);
        assert_eq!(r.code, 0, "{mode}: {}", r.stdout_str());
        let v = verdicts(&r);
        assert_eq!(v.len(), 6, "{v:?}");
        for (path, status, bad, h) in &v {
            assert_eq!((status.as_str(), *bad), ("complete", 0), "{mode} {path}");
            let want = (path != "d/empty").then(|| hash.to_string());
            assert_eq!(h, &want, "{mode} {path}");
        }
        assert!(r.summary().ok);

        // One flipped byte: that file only, one bad piece.
        let victim = dir.join("d/x/c");
        let good = std::fs::read(&victim).unwrap();
        let mut bad = good.clone();
        bad[200_000] ^= 1;
        std::fs::write(&victim, &bad).unwrap();
        let r = verify(dir, &torrent);
        assert_eq!(r.code, 1, "{mode}: {}", r.stdout_str());
        for (path, status, n, _) in verdicts(&r) {
            if path == "d/x/c" {
                assert_eq!((status.as_str(), n), ("incomplete", 1), "{mode}");
            } else {
                assert_eq!((status.as_str(), n), ("complete", 0), "{mode} {path}");
            }
        }
        assert_eq!(r.summary().bad_pieces, 1);
        std::fs::write(&victim, &good).unwrap();

        // A missing file is reported alone.
        let gone = dir.join("d/x/a");
        let keep = std::fs::read(&gone).unwrap();
        std::fs::remove_file(&gone).unwrap();
        let r = verify(dir, &torrent);
        assert_eq!(r.code, 1, "{mode}: {}", r.stdout_str());
        for (path, status, _, _) in verdicts(&r) {
            let want = if path == "d/x/a" {
                "missing"
            } else {
                "complete"
            };
            assert_eq!(status, want, "{mode} {path}");
        }
        std::fs::write(&gone, keep).unwrap();
    }
}

#[test]
fn hybrid_whose_hash_sets_disagree_is_an_error_of_the_torrent() {
    let tmp = tempdir();
    let dir = tmp.path();
    write_tree(dir, FILES);
    let r = bt_in(
        "bt-make",
        dir,
        &["--hybrid", "-l", "32K", "--json", "-o", "h.torrent", "d"],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Spoil the first v1 piece hash: the data still matches the v2 hashes.
    let mut bytes = std::fs::read(dir.join("h.torrent")).unwrap();
    let at = bytes
        .windows(8)
        .position(|w| w == b"6:pieces")
        .expect("a v1 pieces key");
    let colon = at + 8 + bytes[at + 8..].iter().position(|&b| b == b':').unwrap();
    bytes[colon + 1] ^= 0xff;
    std::fs::write(dir.join("bad.torrent"), &bytes).unwrap();
    let r = verify(dir, "bad.torrent");
    assert_eq!(r.code, 2, "{}", r.stdout_str());
    assert!(
        r.stderr.contains("v1 and v2 hashes disagree"),
        "{}",
        r.stderr
    );
}
