//! Integration tests: bt-verify over real data and torrents made by mktorrent.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::common::*;

/// The sample tree, in torrent (alphabetical) order, with 32 KiB pieces:
/// a.bin 0..100000 (pieces 0-3), b-empty (none), c.bin 100000..131072 (piece 3, shared with
/// a.bin), d/e.bin 131072..381073 (pieces 4-11), f.bin 381073..381080 (piece 11, shared).
const FILES: &[(&str, usize)] = &[
    ("t/a.bin", 100_000),
    ("t/b-empty", 0),
    ("t/c.bin", 31_072),
    ("t/d/e.bin", 250_001),
    ("t/f.bin", 7),
];

fn mktorrent(src: &Path, out: &Path, piece_log2: u32) {
    let r = run_cmd(
        Command::new("mktorrent")
            .arg("-l")
            .arg(piece_log2.to_string())
            .arg("-d")
            .arg("-o")
            .arg(out)
            .arg(src),
        None,
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 0, "mktorrent failed: {}", r.stderr);
}

/// A temp dir holding the sample tree under `t/` and `t.torrent` next to it.
fn sample() -> (tempfile::TempDir, PathBuf) {
    let dir = tempdir();
    write_tree(dir.path(), FILES);
    let torrent = dir.path().join("t.torrent");
    mktorrent(&dir.path().join("t"), &torrent, 15);
    (dir, torrent)
}

fn verify(args: &[&str]) -> Run {
    let r = bt("bt-verify", args);
    assert!(
        !r.stderr.contains("panicked") && !r.stderr.contains("internal error"),
        "{}",
        r.stderr
    );
    r
}

fn verify_dir(dir: &Path, torrent: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        torrent.to_str().unwrap(),
        "-d",
        dir.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    verify(&args)
}

/// `(path, status, bad_pieces, shared_bad_pieces)` per file record.
fn statuses(r: &Run) -> Vec<(String, String, u64, u64)> {
    r.of_type("file")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
                f["bad_pieces"].as_u64().unwrap(),
                f["shared_bad_pieces"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn summary(r: &Run) -> Value {
    let s = r.of_type("summary");
    assert_eq!(s.len(), 1, "one summary: {}", r.stdout_str());
    assert_eq!(
        r.records().last().unwrap()["type"],
        "summary",
        "summary comes last"
    );
    s[0].clone()
}

fn expect(rows: &[(&str, &str, u64, u64)]) -> Vec<(String, String, u64, u64)> {
    rows.iter()
        .map(|&(p, s, b, sh)| (p.to_string(), s.to_string(), b, sh))
        .collect()
}

#[test]
fn all_good() {
    let (dir, torrent) = sample();
    let r = verify_dir(dir.path(), &torrent, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        statuses(&r),
        expect(&[
            ("t/a.bin", "complete", 0, 0),
            ("t/b-empty", "complete", 0, 0),
            ("t/c.bin", "complete", 0, 0),
            ("t/d/e.bin", "complete", 0, 0),
            ("t/f.bin", "complete", 0, 0),
        ])
    );
    let files = r.of_type("file");
    assert_eq!(files[0]["pieces"], 4);
    assert_eq!(files[1]["pieces"], 0);
    assert_eq!(files[3]["length"], 250_001);
    assert_eq!(files[3]["bytes_on_disk"], 250_001);
    let s = summary(&r);
    assert_eq!(s["ok"], true);
    assert_eq!(s["pieces"], 12);
    assert_eq!(s["good_pieces"], 12);
    assert_eq!(s["bad_pieces"], 0);
    assert_eq!(s["bytes_checked"], 381_080);
    assert!(s["seconds"].as_f64().unwrap() >= 0.0);
}

#[test]
fn one_flipped_byte_reports_only_that_file_and_piece() {
    let (dir, torrent) = sample();
    let e = dir.path().join("t/d/e.bin");
    let mut data = std::fs::read(&e).unwrap();
    data[100_000] ^= 0x40; // stream offset 231072: piece 7, inside e.bin only
    std::fs::write(&e, &data).unwrap();
    let r = verify_dir(dir.path(), &torrent, &["--bad-pieces"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        statuses(&r),
        expect(&[
            ("t/a.bin", "complete", 0, 0),
            ("t/b-empty", "complete", 0, 0),
            ("t/c.bin", "complete", 0, 0),
            ("t/d/e.bin", "incomplete", 1, 0),
            ("t/f.bin", "complete", 0, 0),
        ])
    );
    assert_eq!(
        r.of_type("file")[3]["bad_piece_indices"],
        serde_json::json!([7])
    );
    assert_eq!(
        r.of_type("file")[0]["bad_piece_indices"],
        serde_json::json!([])
    );
    let s = summary(&r);
    assert_eq!(s["ok"], false);
    assert_eq!(s["bad_pieces"], 1);
    assert_eq!(s["good_pieces"], 11);
    assert_eq!(s["bad_piece_indices"], serde_json::json!([7]));

    // --no-mmap gives the same records (timing aside).
    let plain = verify_dir(dir.path(), &torrent, &["--bad-pieces", "--no-mmap"]);
    assert_eq!(plain.code, 1);
    let strip = |r: &Run| {
        r.records()
            .into_iter()
            .map(|mut v| {
                v.as_object_mut().unwrap().remove("seconds");
                v
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&plain), strip(&r));
}

#[test]
fn missing_file_is_a_hole_and_later_files_stay_complete() {
    let (dir, torrent) = sample();
    std::fs::remove_file(dir.path().join("t/c.bin")).unwrap();
    let r = verify_dir(dir.path(), &torrent, &["--bad-pieces"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        statuses(&r),
        expect(&[
            ("t/a.bin", "incomplete", 1, 1),
            ("t/b-empty", "complete", 0, 0),
            ("t/c.bin", "missing", 1, 1),
            ("t/d/e.bin", "complete", 0, 0),
            ("t/f.bin", "complete", 0, 0),
        ])
    );
    assert_eq!(r.of_type("file")[2]["bytes_on_disk"], 0);
    assert_eq!(summary(&r)["bad_piece_indices"], serde_json::json!([3]));

    // A missing zero-length file is missing too.
    std::fs::write(dir.path().join("t/c.bin"), data(31_072, 3)).unwrap();
    std::fs::remove_file(dir.path().join("t/b-empty")).unwrap();
    let r = verify_dir(dir.path(), &torrent, &[]);
    assert_eq!(r.code, 1);
    assert_eq!(statuses(&r)[1].1, "missing");
    assert_eq!(summary(&r)["good_pieces"], 12);
}

#[test]
fn file_too_long_and_file_too_short() {
    let (dir, torrent) = sample();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("t/f.bin"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"tail").unwrap();
    let r = verify_dir(dir.path(), &torrent, &[]);
    assert_eq!(r.code, 1, "extra bytes are not ok");
    assert_eq!(
        statuses(&r)[4],
        ("t/f.bin".into(), "wrong_size".into(), 0, 0)
    );
    assert_eq!(r.of_type("file")[4]["bytes_on_disk"], 11);
    assert_eq!(summary(&r)["good_pieces"], 12);

    std::fs::write(dir.path().join("t/f.bin"), data(7, 5)).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("t/d/e.bin"))
        .unwrap()
        .set_len(100_000)
        .unwrap();
    let r = verify_dir(dir.path(), &torrent, &["--bad-pieces"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        statuses(&r),
        expect(&[
            ("t/a.bin", "complete", 0, 0),
            ("t/b-empty", "complete", 0, 0),
            ("t/c.bin", "complete", 0, 0),
            ("t/d/e.bin", "wrong_size", 5, 1),
            ("t/f.bin", "incomplete", 1, 1),
        ])
    );
    assert_eq!(
        summary(&r)["bad_piece_indices"],
        serde_json::json!([7, 8, 9, 10, 11])
    );
}

#[test]
fn file_truncated_during_verification_is_not_a_crash() {
    let dir = tempdir();
    write_tree(
        dir.path(),
        &[("big/one.bin", 32 << 20), ("big/two.bin", 32 << 20)],
    );
    let torrent = dir.path().join("big.torrent");
    mktorrent(&dir.path().join("big"), &torrent, 18);
    for mode in [&[][..], &["--no-mmap"][..]] {
        let stop = Arc::new(AtomicBool::new(false));
        let victim = dir.path().join("big/one.bin");
        let s2 = stop.clone();
        let cutter = std::thread::spawn(move || {
            let mut n = 0u64;
            while !s2.load(Ordering::Relaxed) && n < 200_000 {
                n += 1;
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&victim)
                    .unwrap();
                f.set_len((n * 7_919_993) % (32 << 20)).unwrap();
                f.set_len(32 << 20).unwrap();
            }
        });
        let mut args = vec![
            torrent.to_str().unwrap(),
            "-d",
            dir.path().to_str().unwrap(),
        ];
        args.push("--json");
        args.extend_from_slice(mode);
        let r = verify(&args);
        stop.store(true, Ordering::Relaxed);
        cutter.join().unwrap();
        assert!(r.code == 1 || r.code == 2, "code {} {}", r.code, r.stderr);
        if r.code == 1 {
            let s = summary(&r);
            assert_eq!(s["ok"], false);
            // The untouched file still verifies.
            assert_eq!(statuses(&r)[1].1, "complete", "{}", r.stdout_str());
        } else {
            assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        }
    }
}

#[test]
fn traversal_torrent_is_refused_before_touching_files() {
    let dir = tempdir();
    let inner = dir.path().join("a/b");
    std::fs::create_dir_all(&inner).unwrap();
    // parent_path.torrent has the path ["..", "..", "bar"]: DIR/../../bar would be dir/bar.
    let sentinel = dir.path().join("bar");
    std::fs::write(&sentinel, b"sentinel").unwrap();
    let torrent = corpus().join("libtorrent/parent_path.torrent");
    let r = verify(&[
        torrent.to_str().unwrap(),
        "-d",
        inner.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "no records: {}", r.stdout_str());
    assert_eq!(r.stderr.lines().count(), 1);
    assert!(r.stderr.starts_with("bt-verify: error:"), "{}", r.stderr);
    assert_eq!(std::fs::read(&sentinel).unwrap(), b"sentinel");
    assert_eq!(std::fs::read_dir(&inner).unwrap().count(), 0);
}

#[test]
fn completions_work_without_a_torrent() {
    let r = verify(&["--completions", "bash"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout_str().contains("bt-verify"));
}

#[test]
fn unreadable_torrent_is_an_error() {
    let dir = tempdir();
    let r = verify(&[dir.path().join("nope.torrent").to_str().unwrap(), "--json"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("nope.torrent"), "{}", r.stderr);
    let r = verify(&["/dev/zero", "--json"]);
    assert_eq!(r.code, 2, "an endless input is refused, not read forever");
    std::fs::write(dir.path().join("junk.torrent"), b"d4:infoi3ee").unwrap();
    let r = verify(&[dir.path().join("junk.torrent").to_str().unwrap(), "--json"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
}

#[test]
fn single_file_content_and_stdin() {
    let dir = tempdir();
    write_tree(dir.path(), &[("movie.bin", 123_457)]);
    let torrent = dir.path().join("movie.torrent");
    mktorrent(&dir.path().join("movie.bin"), &torrent, 15);
    let r = verify_dir(dir.path(), &torrent, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(statuses(&r), expect(&[("movie.bin", "complete", 0, 0)]));
    assert_eq!(summary(&r)["pieces"], 4);

    // --content points at the data itself, under another name.
    let other = dir.path().join("renamed.data");
    std::fs::rename(dir.path().join("movie.bin"), &other).unwrap();
    let r = verify_dir(dir.path(), &torrent, &[]);
    assert_eq!(r.code, 1);
    assert_eq!(statuses(&r)[0].1, "missing");
    let r = verify(&[
        torrent.to_str().unwrap(),
        "--content",
        other.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // The torrent on stdin, the directory by default the current one.
    std::fs::rename(&other, dir.path().join("movie.bin")).unwrap();
    let bytes = std::fs::read(&torrent).unwrap();
    let r = bt_in("bt-verify", dir.path(), &["-", "--json"], Some(&bytes));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(summary(&r)["good_pieces"], 4);
}

#[test]
fn multi_file_content_extra_files_and_human_table() {
    let (dir, torrent) = sample();
    std::fs::write(dir.path().join("t/d/notes.txt"), b"mine").unwrap();
    let r = verify_dir(dir.path(), &torrent, &["--extra"]);
    assert_eq!(
        r.code, 0,
        "extra files do not fail verification: {}",
        r.stderr
    );
    let extra = r.of_type("extra");
    assert_eq!(extra.len(), 1);
    assert_eq!(extra[0]["path"], "t/d/notes.txt");
    assert_eq!(extra[0]["bytes"], 4);
    assert_eq!(summary(&r)["extra_files"], 1);
    // Without --extra they are not mentioned.
    assert!(verify_dir(dir.path(), &torrent, &[])
        .of_type("extra")
        .is_empty());

    let moved = dir.path().join("elsewhere");
    std::fs::rename(dir.path().join("t"), &moved).unwrap();
    let r = verify(&[
        torrent.to_str().unwrap(),
        "--content",
        moved.to_str().unwrap(),
        "--human",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = r.stdout_str();
    assert!(
        text.contains("complete") && text.contains("t/d/e.bin"),
        "{text}"
    );
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("OK: 12/12 pieces good"),
        "{text}"
    );
}

#[test]
fn symlink_inside_the_content_is_not_followed() {
    let (dir, torrent) = sample();
    let outside = tempdir();
    std::fs::rename(dir.path().join("t/d"), outside.path().join("d")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("d"), dir.path().join("t/d")).unwrap();
    let r = verify_dir(dir.path(), &torrent, &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let e = &r.of_type("file")[3];
    assert_eq!(e["status"], "unreadable");
    assert!(e["error"].as_str().unwrap().contains("symlink"), "{e}");
}

#[test]
fn non_utf8_path_is_reported_losslessly() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempdir();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.bin");
    std::fs::create_dir(dir.path().join("n")).unwrap();
    std::fs::write(dir.path().join("n").join(name), data(5000, 9)).unwrap();
    std::fs::write(dir.path().join("n/plain.bin"), data(7000, 8)).unwrap();
    let torrent = dir.path().join("n.torrent");
    mktorrent(&dir.path().join("n"), &torrent, 15);
    let r = verify_dir(dir.path(), &torrent, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let f = r
        .of_type("file")
        .into_iter()
        .find(|f| f.get("path_hex").is_some())
        .expect("a record with path_hex");
    // "n/caf\xe9.bin" in hex.
    assert_eq!(f["path_hex"], "6e2f636166e92e62696e");
    assert_eq!(f["status"], "complete");
}

#[test]
fn content_of_the_wrong_kind_is_one_clear_error() {
    let (dir, torrent) = sample();
    // A file where the multi-file torrent's directory is needed.
    let file = dir.path().join("t/a.bin");
    let r = verify(&[
        torrent.to_str().unwrap(),
        "--content",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stdout.is_empty(),
        "no per-file records: {}",
        r.stdout_str()
    );
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    let first = r.stderr.lines().next().unwrap();
    assert!(
        first.starts_with("bt-verify: ")
            && first.contains("a.bin")
            && first.contains("not a directory")
            && first.contains("5 files"),
        "{first}"
    );
    // `DIR/<name>` that is a file is the same mistake.
    let other = tempdir();
    std::fs::write(other.path().join("t"), b"x").unwrap();
    let r = verify_dir(other.path(), &torrent, &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.lines().next().unwrap().contains("not a directory"));
    // A directory where a single-file torrent's file is needed.
    write_tree(dir.path(), &[("one.bin", 1000)]);
    let single = dir.path().join("one.torrent");
    mktorrent(&dir.path().join("one.bin"), &single, 15);
    let r = verify(&[
        single.to_str().unwrap(),
        "--content",
        dir.path().join("t").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.lines().next().unwrap().contains("is a directory"));
}

#[test]
fn an_absent_directory_is_named_as_such() {
    let (dir, torrent) = sample();
    // -d DIR that does not exist: an error (exit 2) naming DIR, no report.
    let absent = dir.path().join("nonexistent");
    let r = verify_dir(&absent, &torrent, &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let first = r.stderr.lines().next().unwrap_or("");
    assert!(
        first.contains("nonexistent") && first.contains("no such directory"),
        "{first}"
    );
    // The same for --content.
    let r = verify(&[
        torrent.to_str().unwrap(),
        "--content",
        absent.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.lines().next().unwrap().contains("nonexistent"));
    // DIR exists but DIR/<name> does not: every file is missing (exit 1), and a note says why.
    let empty = tempdir();
    let r = verify_dir(empty.path(), &torrent, &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(statuses(&r).iter().all(|s| s.1 == "missing"));
    let first = r.stderr.lines().next().unwrap_or("");
    assert!(
        first.contains(&format!("{}", empty.path().join("t").display()))
            && first.contains("every file is missing"),
        "{first}"
    );
}
