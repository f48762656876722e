//! Choosing files: `--file`, `--only`, `--skip` on bt-fetch and bt-verify, the parts file for
//! shared boundary pieces, and bt-info's file indices.

use crate::common::*;
use crate::harness::*;
use bt::geometry::Geometry;
use std::collections::BTreeSet;

/// Four files in 64 KiB pieces, none a whole number of pieces: every neighbour shares a piece.
const FILES: &[(&str, usize)] = &[
    ("a.bin", 300_001),
    ("b.bin", 500_000),
    ("c/d.bin", 200_003),
    ("e.bin", 90_000),
];

fn geometry(s: &Sample) -> Geometry {
    let t = bt::metainfo::Torrent::from_bytes(&std::fs::read(&s.torrent).unwrap()).unwrap();
    Geometry::new(&t)
}

/// Bytes of the pieces holding file `f` that do not hold any file in `had`.
fn new_bytes(g: &Geometry, f: usize, had: &[usize]) -> u64 {
    let old: BTreeSet<usize> = had.iter().flat_map(|&h| g.file_pieces(h)).collect();
    g.file_pieces(f)
        .filter(|p| !old.contains(p))
        .map(|p| g.piece_len(p))
        .sum()
}

fn fetch(s: &Sample, seeder: &Seeder, dl: &std::path::Path, args: &[&str]) -> Summary {
    let r = Fetcher::new(&s.torrent, dl)
        .peer(seeder.peer())
        .args(args)
        .run();
    assert_eq!(r.code, 0, "bt-fetch {args:?}: {}", r.stderr);
    summary(&r)
}

fn verify(s: &Sample, dl: &std::path::Path, args: &[&str]) -> (i32, VerifySummary) {
    let d = dl.to_str().unwrap();
    let t = s.torrent.to_str().unwrap();
    let r = bt("bt-verify", &[&[t, "-d", d, "--json"], args].concat());
    assert!(
        r.code == 0 || r.code == 1,
        "bt-verify {args:?}: {}",
        r.stderr
    );
    (r.code, of::<VerifySummary>(&r.stdout_str()).pop().unwrap())
}

#[test]
fn one_middle_file_then_its_neighbour_without_refetching() {
    let s = Sample::data(FILES);
    let g = geometry(&s);
    let plen = g.piece_length();
    let seeder = Seeder::of(&s).start();
    let out = tempdir();
    let dl = out.path().join("dl");
    let root = dl.join("data");

    // 1. Only b.bin: fewer bytes than it plus two pieces, identical, no other file created.
    let sum = fetch(&s, &seeder, &dl, &["--file", "b.bin"]);
    assert!(sum.complete);
    assert!(
        sum.bytes_downloaded < 500_000 + 2 * plen,
        "{} bytes downloaded for a 500000-byte file",
        sum.bytes_downloaded
    );
    assert_eq!(sum.bytes_downloaded, new_bytes(&g, 1, &[]));
    assert_eq!(
        std::fs::read(root.join("b.bin")).unwrap(),
        std::fs::read(s.seed_dir().join("data/b.bin")).unwrap()
    );
    for other in ["a.bin", "c", "e.bin"] {
        assert!(!root.join(other).exists(), "{other} was created");
    }
    let mut listed: Vec<String> = std::fs::read_dir(&dl)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [".data.parts", "data"],
        "only the content and the parts file"
    );

    // bt-verify judges the chosen file alone: complete; the whole torrent is not.
    let (code, v) = verify(&s, &dl, &["--file", "b.bin"]);
    assert_eq!((code, v.ok), (0, true), "{v:?}");
    assert_eq!(v.files, Some(1));
    assert_eq!(v.pieces, g.file_pieces(1).len() as u64);
    assert_eq!(verify(&s, &dl, &[]).0, 1);

    // 2. Its neighbour by index: the shared piece's bytes come back from the parts file.
    let sum = fetch(&s, &seeder, &dl, &["--file", "2"]);
    assert!(sum.complete);
    assert_eq!(sum.bytes_downloaded, new_bytes(&g, 2, &[1]), "{sum:?}");
    assert!(sum.pieces_at_start > 0, "the shared piece was kept");
    assert_eq!(
        std::fs::read(root.join("c/d.bin")).unwrap(),
        std::fs::read(s.seed_dir().join("data/c/d.bin")).unwrap()
    );
    assert!(!root.join("a.bin").exists() && !root.join("e.bin").exists());
    let (code, v) = verify(
        &s,
        &dl,
        &["--only", "*.bin", "--skip", "a.bin", "--skip", "e.*"],
    );
    assert_eq!((code, v.files), (0, Some(2)), "{v:?}");

    // 3. The rest: exactly the bytes not fetched yet, and then everything verifies.
    let sum = fetch(&s, &seeder, &dl, &[]);
    assert!(sum.complete);
    let fetched_before: BTreeSet<usize> = g.file_pieces(1).chain(g.file_pieces(2)).collect();
    let rest: u64 = (0..g.piece_count())
        .filter(|p| !fetched_before.contains(p))
        .map(|p| g.piece_len(p))
        .sum();
    assert_eq!(sum.bytes_downloaded, rest);
    s.assert_same(&dl);
    assert_eq!(verify(&s, &dl, &[]).0, 0);
}

#[test]
fn bad_choices_are_errors_naming_the_flag() {
    let s = Sample::data(FILES);
    let out = tempdir();
    let t = s.torrent.to_str().unwrap();
    let d = out.path().to_str().unwrap();
    for (args, says) in [
        (&["--file", "nope.bin"][..], "nope.bin"),
        (&["--file", "9"][..], "\"9\""),
        (&["--only", "*.iso"][..], "*.iso"),
        (&["--skip", "*"][..], "no file"),
    ] {
        let r = bt(
            "bt-fetch",
            &[&[t, "-d", d, "--peer", "127.0.0.1:9"], args].concat(),
        );
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        let r = bt("bt-verify", &[&[t, "-d", d], args].concat());
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
    }
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        0,
        "nothing created"
    );
}

#[test]
fn bt_info_gives_each_file_its_index() {
    let s = Sample::data(FILES);
    let r = bt("bt-info", &[s.torrent.to_str().unwrap(), "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = of::<Torrent>(&r.stdout_str()).pop().unwrap();
    let got: Vec<(usize, &str)> = t.files.iter().map(|f| (f.index, f.path.as_str())).collect();
    assert_eq!(
        got,
        [(0, "a.bin"), (1, "b.bin"), (2, "c/d.bin"), (3, "e.bin")]
    );
}
