//! Integration tests: `bt-make` against `mktorrent` and `transmission-create`, and its own
//! promises (reproducible bytes, no overwrite without --force, hidden files, symlinks, globs,
//! errors).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bt::bencode::{self, Node};
use sha1::{Digest, Sha1};

use crate::common::{bin, bt_in, have, run_cmd, tempdir, write_tree, Run};

/// The decoded torrent and the raw bytes of its `info` value.
fn info_bytes(torrent: &[u8]) -> Vec<u8> {
    let d = bencode::decode(torrent, &Default::default()).expect("torrent decodes");
    let info = d.root.as_dict().unwrap().get("info").expect("has info");
    torrent[info.span.clone()].to_vec()
}

fn info_hash(torrent: &[u8]) -> String {
    bt::metainfo::hex(&Sha1::digest(info_bytes(torrent)))
}

/// The info hash `bt-info` reads from a torrent file.
fn bt_info_hash(dir: &Path, file: &str) -> String {
    let r = bt_in("bt-info", dir, &["--json", file], None);
    assert_eq!(r.code, 0, "bt-info {file}: {}", r.stderr);
    r.json()["info_hash"].as_str().unwrap().to_string()
}

/// File paths in the torrent, joined with `/`, in order.
fn paths(torrent: &[u8]) -> Vec<String> {
    let d = bencode::decode(torrent, &Default::default()).unwrap();
    let info = d
        .root
        .as_dict()
        .unwrap()
        .get("info")
        .unwrap()
        .as_dict()
        .unwrap();
    let Some(files) = info.get("files") else {
        return vec![info.get("name").unwrap().as_str().unwrap().to_string()];
    };
    files
        .as_list()
        .unwrap()
        .iter()
        .map(|f| {
            let p = f.as_dict().unwrap().get("path").unwrap().as_list().unwrap();
            p.iter()
                .map(|c| c.as_str().unwrap())
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect()
}

fn top<'a>(d: &'a bencode::Decoded<'a>, key: &str) -> Option<&'a Node<'a>> {
    d.root.as_dict().unwrap().get(key)
}

/// Run bt-make in `dir` and check it succeeded.
fn make(dir: &Path, args: &[&str]) -> Run {
    let r = bt_in("bt-make", dir, args, None);
    assert_eq!(r.code, 0, "bt-make {args:?} failed: {}", r.stderr);
    r
}

fn other(dir: &Path, prog: &str, args: &[&str]) {
    assert!(
        have(prog),
        "{prog} is not installed (see README: the test command installs it)"
    );
    let r = run_cmd(
        Command::new(prog).args(args).current_dir(dir),
        None,
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 0, "{prog} {args:?}: {}", r.stderr);
}

#[test]
fn same_info_as_mktorrent_single_file() {
    let t = tempdir();
    write_tree(t.path(), &[("big.bin", 1_000_003)]);
    for (exp, size) in [(15, "32K"), (18, "256K")] {
        let ours = format!("ours{exp}.torrent");
        let theirs = format!("theirs{exp}.torrent");
        let r = make(t.path(), &["--json", "-l", size, "-o", &ours, "big.bin"]);
        other(
            t.path(),
            "mktorrent",
            &["-d", "-l", &exp.to_string(), "-o", &theirs, "big.bin"],
        );
        let ours = std::fs::read(t.path().join(ours)).unwrap();
        let theirs = std::fs::read(t.path().join(theirs)).unwrap();
        assert_eq!(info_bytes(&ours), info_bytes(&theirs), "2^{exp}");
        let rec = &r.of_type("torrent")[0];
        assert_eq!(rec["info_hash"], info_hash(&theirs));
        assert_eq!(rec["piece_count"], 1_000_003u64.div_ceil(1 << exp));
        assert_eq!(rec["total_length"], 1_000_003);
    }
}

/// Uneven sizes so pieces cross file boundaries, a zero-length file in the middle, and names
/// whose order differs between "path bytes" and "component by component" (`a b`, `a.txt`,
/// `a/b`): mktorrent sorts by the whole path, and so do we.
#[test]
fn same_info_as_mktorrent_directory() {
    let t = tempdir();
    let root = t.path().join("tree");
    write_tree(
        &root,
        &[
            ("a/b", 100_001),
            ("a b", 0),
            ("a.txt", 40_000),
            ("Upper/x", 12_345),
            ("sub/deep/x", 33_333),
            ("z", 7),
        ],
    );
    make(
        t.path(),
        &[
            "--json",
            "-l",
            "32K",
            "-p",
            "-s",
            "SRC",
            "-o",
            "ours.torrent",
            "tree",
        ],
    );
    other(
        t.path(),
        "mktorrent",
        &[
            "-d",
            "-l",
            "15",
            "-p",
            "-s",
            "SRC",
            "-o",
            "theirs.torrent",
            "tree",
        ],
    );
    let ours = std::fs::read(t.path().join("ours.torrent")).unwrap();
    let theirs = std::fs::read(t.path().join("theirs.torrent")).unwrap();
    assert_eq!(
        paths(&ours),
        ["Upper/x", "a b", "a.txt", "a/b", "sub/deep/x", "z"]
    );
    assert_eq!(info_bytes(&ours), info_bytes(&theirs));
    assert_eq!(
        bt_info_hash(t.path(), "ours.torrent"),
        bt_info_hash(t.path(), "theirs.torrent")
    );
}

/// transmission-create writes `private: 0` into public torrents and leaves zero-length files
/// out, so compare private torrents of a directory without empty files.
#[test]
fn same_info_hash_as_transmission_create() {
    let t = tempdir();
    let root = t.path().join("tree");
    write_tree(
        &root,
        &[
            ("a/b", 70_001),
            ("a b", 3),
            ("a.txt", 40_000),
            ("sub/deep/x", 33_333),
            ("z", 65_536),
        ],
    );
    let r = make(
        t.path(),
        &[
            "--json",
            "-l",
            "16K",
            "-p",
            "-a",
            "http://t/a",
            "-o",
            "ours.torrent",
            "tree",
        ],
    );
    other(
        t.path(),
        "transmission-create",
        &[
            "-p",
            "-s",
            "16",
            "-t",
            "http://t/a",
            "-o",
            "theirs.torrent",
            "tree",
        ],
    );
    let theirs = std::fs::read(t.path().join("theirs.torrent")).unwrap();
    assert_eq!(r.of_type("torrent")[0]["info_hash"], info_hash(&theirs));
    assert_eq!(
        r.of_type("torrent")[0]["info_hash"],
        bt_info_hash(t.path(), "theirs.torrent")
    );
}

#[test]
fn reproducible_and_source_date_epoch() {
    let t = tempdir();
    write_tree(&t.path().join("d"), &[("x", 50_000), ("y/z", 20_000)]);
    let run = |out: &str| {
        let r = run_cmd(
            Command::new(bin("bt-make"))
                .args(["--json", "-a", "http://t/a", "-o", out, "d"])
                .env("SOURCE_DATE_EPOCH", "1234567890")
                .current_dir(t.path()),
            None,
            Duration::from_secs(60),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        std::fs::read(t.path().join(out)).unwrap()
    };
    let one = run("1.torrent");
    let two = run("2.torrent");
    assert_eq!(one, two);
    let d = bencode::decode(&one, &Default::default()).unwrap();
    assert_eq!(top(&d, "creation date").unwrap().as_int(), Some(1234567890));
    let created_by = top(&d, "created by").unwrap().as_str().unwrap();
    assert!(created_by.starts_with("bt/"), "{created_by}");

    make(
        t.path(),
        &[
            "--no-creation-date",
            "--no-created-by",
            "-o",
            "3.torrent",
            "d",
        ],
    );
    let three = std::fs::read(t.path().join("3.torrent")).unwrap();
    let d = bencode::decode(&three, &Default::default()).unwrap();
    assert!(top(&d, "creation date").is_none());
    assert!(top(&d, "created by").is_none());
    assert_eq!(info_bytes(&three), info_bytes(&one));

    let bad = run_cmd(
        Command::new(bin("bt-make"))
            .args(["-o", "4.torrent", "d"])
            .env("SOURCE_DATE_EPOCH", "yesterday")
            .current_dir(t.path()),
        None,
        Duration::from_secs(60),
    );
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("SOURCE_DATE_EPOCH"), "{}", bad.stderr);
}

#[test]
fn refuses_to_overwrite_without_force() {
    let t = tempdir();
    write_tree(t.path(), &[("f", 1000)]);
    std::fs::write(t.path().join("f.torrent"), b"keep").unwrap();
    let r = bt_in("bt-make", t.path(), &["--json", "f"], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert_eq!(std::fs::read(t.path().join("f.torrent")).unwrap(), b"keep");
    let r = make(t.path(), &["--json", "-f", "f"]);
    let written = std::fs::read(t.path().join("f.torrent")).unwrap();
    assert_eq!(r.of_type("torrent")[0]["info_hash"], info_hash(&written));
    assert_eq!(r.of_type("torrent")[0]["output"], "f.torrent");
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(t.path()).unwrap().collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn output_dash_writes_the_torrent_to_stdout() {
    let t = tempdir();
    write_tree(t.path(), &[("f", 100_000)]);
    let r = make(t.path(), &["--json", "--no-creation-date", "-o", "-", "f"]);
    assert!(r.stdout.starts_with(b"d"), "{}", r.stdout_str());
    let r2 = make(t.path(), &["--json", "--no-creation-date", "f"]);
    assert_eq!(r.stdout, std::fs::read(t.path().join("f.torrent")).unwrap());
    let rec = &r2.of_type("torrent")[0];
    assert_eq!(rec["info_hash"], info_hash(&r.stdout));
    let magnet = rec["magnet"].as_str().unwrap();
    assert!(
        magnet.starts_with(&format!(
            "magnet:?xt=urn:btih:{}",
            rec["info_hash"].as_str().unwrap()
        )),
        "{magnet}"
    );
    assert!(magnet.contains("&dn=f"), "{magnet}");
    assert_eq!(rec["name"], "f");
    assert_eq!(rec["piece_length"], 16384);
    assert_eq!(rec["piece_count"], 7);
    // Nothing but the summary on stdout.
    assert_eq!(r2.records().len(), 1);
}

#[test]
fn hidden_files() {
    let t = tempdir();
    write_tree(
        &t.path().join("d"),
        &[("v", 10), (".h", 10), (".git/config", 10), ("s/.x", 10)],
    );
    make(t.path(), &["-o", "a.torrent", "d"]);
    assert_eq!(
        paths(&std::fs::read(t.path().join("a.torrent")).unwrap()),
        ["v"]
    );
    make(t.path(), &["--include-hidden", "-o", "b.torrent", "d"]);
    assert_eq!(
        paths(&std::fs::read(t.path().join("b.torrent")).unwrap()),
        [".git/config", ".h", "s/.x", "v"]
    );
}

#[test]
fn symlinks() {
    let t = tempdir();
    let d = t.path().join("d");
    write_tree(&d, &[("real", 10), ("sub/f", 20)]);
    std::os::unix::fs::symlink("real", d.join("link")).unwrap();
    std::os::unix::fs::symlink("..", d.join("sub/up")).unwrap();
    std::os::unix::fs::symlink("nowhere", d.join("dangling")).unwrap();
    make(t.path(), &["-o", "a.torrent", "d"]);
    assert_eq!(
        paths(&std::fs::read(t.path().join("a.torrent")).unwrap()),
        ["real", "sub/f"]
    );
    let r = make(t.path(), &["--follow-symlinks", "-o", "b.torrent", "d"]);
    assert_eq!(
        paths(&std::fs::read(t.path().join("b.torrent")).unwrap()),
        ["link", "real", "sub/f"]
    );
    assert!(r.stderr.contains("loop"), "{}", r.stderr);
    assert!(r.stderr.contains("dangling"), "{}", r.stderr);
}

#[test]
fn exclude_globs() {
    let t = tempdir();
    write_tree(
        &t.path().join("d"),
        &[
            ("a.log", 10),
            ("b.txt", 10),
            ("cache/c.txt", 10),
            ("sub/d.log", 10),
            ("sub/e.txt", 10),
            ("sub/f1.txt", 10),
        ],
    );
    make(
        t.path(),
        &[
            "--exclude",
            "*.log",
            "--exclude",
            "cache",
            "--exclude",
            "sub/f[0-9].*",
            "-o",
            "a.torrent",
            "d",
        ],
    );
    assert_eq!(
        paths(&std::fs::read(t.path().join("a.torrent")).unwrap()),
        ["b.txt", "sub/e.txt"]
    );
}

#[test]
fn errors_exit_2_with_one_line() {
    let t = tempdir();
    std::fs::create_dir(t.path().join("empty")).unwrap();
    write_tree(&t.path().join("zeros"), &[("z", 0)]);
    write_tree(t.path(), &[("f", 100)]);
    let cases: &[(&[&str], &str)] = &[
        (&["empty"], "no data"),
        (&["zeros"], "no data"),
        (&["missing"], "missing"),
        (&["-l", "1000", "f"], "power of two"),
        (&["-l", "8K", "f"], "power of two"),
        (&["-l", "3M", "f"], "power of two"),
        (&["-l", "lots", "f"], "lots"),
        (&["-n", "a/b", "f"], "a/b"),
    ];
    for (args, needle) in cases {
        let r = bt_in("bt-make", t.path(), args, None);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?}");
    }
    assert!(!t.path().join("empty.torrent").exists());
    // Not even --force replaces the input with its own torrent.
    let r = bt_in("bt-make", t.path(), &["-f", "-o", "f", "f"], None);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("replace the input"), "{}", r.stderr);
    assert_eq!(std::fs::metadata(t.path().join("f")).unwrap().len(), 100);
}

#[test]
fn tiers_from_announce() {
    let t = tempdir();
    write_tree(t.path(), &[("f", 100)]);
    make(
        t.path(),
        &[
            "-a",
            "http://a/1,http://a/2",
            "-a",
            "udp://b:1",
            "-w",
            "http://w/",
            "-c",
            "hi",
            "-n",
            "named",
            "f",
        ],
    );
    let bytes = std::fs::read(t.path().join("named.torrent")).unwrap();
    let d = bencode::decode(&bytes, &Default::default()).unwrap();
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    assert_eq!(top(&d, "announce").unwrap().as_str(), Some("http://a/1"));
    let tiers: Vec<Vec<&str>> = top(&d, "announce-list")
        .unwrap()
        .as_list()
        .unwrap()
        .iter()
        .map(|t| {
            t.as_list()
                .unwrap()
                .iter()
                .map(|u| u.as_str().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(tiers, [vec!["http://a/1", "http://a/2"], vec!["udp://b:1"]]);
    let seeds = top(&d, "url-list").unwrap().as_list().unwrap();
    assert_eq!(seeds[0].as_str(), Some("http://w/"));
    assert_eq!(top(&d, "comment").unwrap().as_str(), Some("hi"));
    assert_eq!(paths(&bytes), ["named"]);

    // One URL: `announce` only, like mktorrent.
    make(t.path(), &["-a", "http://a/1", "-o", "one.torrent", "f"]);
    let bytes = std::fs::read(t.path().join("one.torrent")).unwrap();
    let d = bencode::decode(&bytes, &Default::default()).unwrap();
    assert!(top(&d, "announce-list").is_none());
    assert_eq!(top(&d, "announce").unwrap().as_str(), Some("http://a/1"));
}

#[test]
fn default_piece_length_and_output_name() {
    let t = tempdir();
    write_tree(&t.path().join("data"), &[("x", 5 << 20)]);
    let r = make(t.path(), &["--json", "data"]);
    let rec = &r.of_type("torrent")[0];
    assert_eq!(rec["output"], "data.torrent");
    // 5 MiB / 2000 -> 2622 bytes -> clamped up to 16 KiB.
    assert_eq!(rec["piece_length"], 16384);
    assert_eq!(rec["piece_count"], 320);
    assert!(t.path().join("data.torrent").exists());
}

/// `bt-make .` inside the input writes `<dir>.torrent` into it; a rerun with --force must not
/// hash the previous torrent.
#[test]
fn output_inside_the_input_is_left_out() {
    let t = tempdir();
    let d = t.path().join("d");
    write_tree(&d, &[("x", 40_000)]);
    let r1 = make(&d, &["--json", "--no-creation-date", "."]);
    let first = std::fs::read(d.join("d.torrent")).unwrap();
    let r2 = make(&d, &["--json", "--no-creation-date", "-f", "."]);
    let second = std::fs::read(d.join("d.torrent")).unwrap();
    assert_eq!(first, second);
    assert_eq!(paths(&second), ["x"]);
    assert_eq!(r1.records(), r2.records());
}

#[test]
fn non_utf8_names_are_kept_as_bytes() {
    use std::os::unix::ffi::OsStrExt;
    let t = tempdir();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9");
    std::fs::write(t.path().join(name), b"data").unwrap();
    let r = bt_in("bt-make", t.path(), &["--json"], None);
    assert_eq!(r.code, 2, "no path given is a usage error");
    let r = run_cmd(
        Command::new(bin("bt-make"))
            .args(["--json", "-o", "x.torrent"])
            .arg(name)
            .current_dir(t.path()),
        None,
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rec = &r.of_type("torrent")[0];
    assert_eq!(rec["name_hex"], "636166e9");
    let bytes = std::fs::read(t.path().join("x.torrent")).unwrap();
    let d = bencode::decode(&bytes, &Default::default()).unwrap();
    let info = top(&d, "info").unwrap().as_dict().unwrap();
    assert_eq!(info.get("name").unwrap().as_bytes(), Some(&b"caf\xe9"[..]));
}

/// A file truncated by another program while bt-make hashes it is an error naming the file,
/// never a SIGBUS death (the hashing reads through memory maps).
#[test]
fn truncation_while_hashing_is_an_error_not_a_crash() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempdir();
    let data = dir.path().join("big.bin");
    let content = crate::common::data(48 << 20, 7);
    let mut outcomes = Vec::new();
    for round in 0..6 {
        std::fs::write(&data, &content).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let truncator = {
            let (stop, data) = (stop.clone(), data.clone());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(2 * round));
                let f = std::fs::OpenOptions::new().write(true).open(&data).unwrap();
                let mut len = 48u64 << 20;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && len > 0 {
                    len = len.saturating_sub(3 << 20);
                    f.set_len(len).unwrap();
                    std::thread::sleep(Duration::from_micros(300));
                }
            })
        };
        let out = Command::new(bin("bt-make"))
            .args(["-l", "256K", "-f", "-o"])
            .arg(dir.path().join("x.torrent"))
            .arg(&data)
            .output()
            .unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        truncator.join().unwrap();
        assert_eq!(out.status.signal(), None, "bt-make died of a signal");
        let code = out.status.code().unwrap();
        assert!(code == 0 || code == 2, "exit {code}");
        if code == 2 {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("big.bin"), "error names the file: {err}");
            assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        }
        outcomes.push(code);
    }
    assert!(
        outcomes.contains(&2),
        "no round caught the truncation: {outcomes:?}"
    );
}

/// The first line of a run's stderr.
fn first_line(r: &Run) -> &str {
    r.stderr.lines().next().unwrap_or("")
}

/// Make a torrent of `d` with extra flags and return its file paths.
fn made_paths(dir: &Path, flags: &[&str]) -> Vec<String> {
    let mut args = flags.to_vec();
    args.extend(["-f", "-o", "g.torrent", "d"]);
    make(dir, &args);
    paths(&std::fs::read(dir.join("g.torrent")).unwrap())
}

#[test]
fn glob_semantics_are_gitignore_like() {
    let t = tempdir();
    write_tree(
        &t.path().join("d"),
        &[
            ("a.bin", 10),
            ("c.txt", 10),
            ("x/b.bin", 10),
            ("x/y/b.bin", 10),
            ("x/y/n.txt", 10),
            ("build/o.txt", 10),
            ("z/build", 10),
        ],
    );
    // `**/` matches zero directories too: the top-level a.bin goes.
    assert_eq!(
        made_paths(t.path(), &["--exclude", "**/*.bin"]),
        ["build/o.txt", "c.txt", "x/y/n.txt", "z/build"]
    );
    // `*` does not cross `/`, and a pattern with a `/` is anchored at the root.
    assert_eq!(
        made_paths(t.path(), &["--exclude", "*/b.bin"]),
        [
            "a.bin",
            "build/o.txt",
            "c.txt",
            "x/y/b.bin",
            "x/y/n.txt",
            "z/build"
        ]
    );
    // A pattern without `/` matches the name at any depth.
    assert_eq!(
        made_paths(t.path(), &["--exclude", "b.bin"]),
        ["a.bin", "build/o.txt", "c.txt", "x/y/n.txt", "z/build"]
    );
    // `dir/**` takes everything below; a trailing `/` matches directories only.
    assert_eq!(
        made_paths(t.path(), &["--exclude", "x/**", "--exclude", "build/"]),
        ["a.bin", "c.txt", "z/build"]
    );
}

#[test]
fn include_takes_only_matching_files() {
    let t = tempdir();
    write_tree(
        &t.path().join("d"),
        &[
            ("a.bin", 10),
            ("c.txt", 10),
            ("x/y/n.txt", 10),
            ("x/m.txt", 10),
        ],
    );
    assert_eq!(
        made_paths(t.path(), &["--include", "*.txt"]),
        ["c.txt", "x/m.txt", "x/y/n.txt"]
    );
    // Repeatable, and --exclude wins over --include.
    assert_eq!(
        made_paths(
            t.path(),
            &[
                "--include",
                "*.txt",
                "--include",
                "a.*",
                "--exclude",
                "x/y/"
            ]
        ),
        ["a.bin", "c.txt", "x/m.txt"]
    );
    // Nothing included is the usual "no data" error.
    let r = bt_in("bt-make", t.path(), &["--include", "*.iso", "d"], None);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(first_line(&r).contains("no data"), "{}", r.stderr);
}

#[test]
fn exclude_applies_to_a_file_named_directly() {
    let t = tempdir();
    write_tree(t.path(), &[("a.bin", 100)]);
    for flags in [["--exclude", "*.bin"], ["--include", "*.txt"]] {
        let mut args = flags.to_vec();
        args.push("a.bin");
        let r = bt_in("bt-make", t.path(), &args, None);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        let line = first_line(&r);
        assert!(line.starts_with("bt-make: "), "{line}");
        assert!(
            line.contains("a.bin") && line.contains("leave this file out"),
            "{line}"
        );
        assert!(!t.path().join("a.bin.torrent").exists());
    }
    make(t.path(), &["--exclude", "*.txt", "a.bin"]);
}

#[test]
fn a_bad_glob_is_an_error_naming_it() {
    let t = tempdir();
    write_tree(&t.path().join("d"), &[("a", 10)]);
    for bad in ["a[", "{x,y"] {
        let r = bt_in("bt-make", t.path(), &["--exclude", bad, "d"], None);
        assert_eq!(r.code, 2, "{bad}: {}", r.stderr);
        assert!(
            first_line(&r).contains(&format!("glob {bad:?}")),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn piece_length_limit_agrees_in_help_error_and_readme() {
    let t = tempdir();
    write_tree(&t.path().join("d"), &[("a", 170_000)]);
    let range = "16 KiB to 64 MiB";
    for big in ["1G", "128M"] {
        let r = bt_in("bt-make", t.path(), &["-l", big, "d"], None);
        assert_eq!(r.code, 2, "{big}: {}", r.stderr);
        assert!(first_line(&r).contains(range), "{big}: {}", r.stderr);
        assert!(!t.path().join("d.torrent").exists());
    }
    let help = bt_in("bt-make", t.path(), &["--help"], None);
    assert!(help.stdout_str().contains(range), "{}", help.stdout_str());
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains(range),
        "README states the piece length range"
    );
    // The largest piece length is taken, with a warning that it makes one piece.
    let r = make(t.path(), &["-l", "64M", "-o", "big.torrent", "d"]);
    assert!(
        first_line(&r).contains("warning") && first_line(&r).contains("one piece"),
        "{}",
        r.stderr
    );
    let r = bt_in("bt-info", t.path(), &["--json", "big.torrent"], None);
    assert_eq!(r.json()["piece_count"], 1);
    assert_eq!(r.json()["piece_length"], 64 << 20);
    // A piece length that fits the data draws no warning.
    let r = make(t.path(), &["-l", "16K", "-o", "small.torrent", "d"]);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
}
