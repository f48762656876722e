//! Unit tests: known-hash fixtures, hostile paths and geometry, v2 merkle layers, magnets.

use sha1::{Digest, Sha1};
use sha2::Sha256;

use super::v2::{merkle_root, pad_hash};
use super::*;

// A tiny canonical bencode writer for building fixtures.
fn s(b: &[u8]) -> Vec<u8> {
    [format!("{}:", b.len()).as_bytes(), b].concat()
}
fn i(n: i64) -> Vec<u8> {
    format!("i{n}e").into_bytes()
}
fn l(items: &[Vec<u8>]) -> Vec<u8> {
    [b"l".to_vec(), items.concat(), b"e".to_vec()].concat()
}
/// A dictionary with its keys sorted (canonical).
fn d(pairs: &[(&[u8], Vec<u8>)]) -> Vec<u8> {
    let mut p: Vec<&(&[u8], Vec<u8>)> = pairs.iter().collect();
    p.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = b"d".to_vec();
    for (k, v) in p {
        out.extend(s(k));
        out.extend(v);
    }
    out.push(b'e');
    out
}
fn torrent(info: Vec<u8>) -> Vec<u8> {
    d(&[
        (b"announce", s(b"http://t.example/announce")),
        (b"info", info),
    ])
}
fn sha1(b: &[u8]) -> [u8; 20] {
    Sha1::digest(b).into()
}
fn multi(files: &[(&[&[u8]], i64)]) -> Vec<u8> {
    let total: i64 = files.iter().map(|f| f.1).sum();
    let n = (total as u64).div_ceil(16384) as usize;
    let entries: Vec<Vec<u8>> = files
        .iter()
        .map(|(p, len)| {
            let comps: Vec<Vec<u8>> = p.iter().map(|c| s(c)).collect();
            d(&[(b"length", i(*len)), (b"path", l(&comps))])
        })
        .collect();
    torrent(d(&[
        (b"files", l(&entries)),
        (b"name", s(b"root")),
        (b"piece length", i(16384)),
        (b"pieces", s(&vec![7u8; 20 * n])),
    ]))
}
fn err(bytes: &[u8]) -> String {
    match Torrent::from_bytes(bytes) {
        Ok(t) => panic!("accepted: {t:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn v1_single_file_known_hash() {
    let info = d(&[
        (b"length", i(3)),
        (b"name", s(b"a.txt")),
        (b"piece length", i(16384)),
        (b"pieces", s(&sha1(b"abc"))),
    ]);
    let t = Torrent::from_bytes(&torrent(info)).unwrap();
    assert_eq!(
        t.info_hash.unwrap().hex(),
        "351c57d9dcabc5c94d4597b137e1b94bea21504c"
    );
    assert_eq!(t.info_hash_v2, None);
    assert_eq!(t.version, Version::V1);
    assert!(t.single_file);
    assert_eq!(t.files.len(), 1);
    assert_eq!(t.file_path(&t.files[0]), std::path::PathBuf::from("a.txt"));
    assert_eq!(t.pieces, vec![sha1(b"abc")]);
    assert_eq!(t.piece_count(), 1);
    assert_eq!(t.announce.as_deref(), Some("http://t.example/announce"));
    assert!(t.warnings.is_empty());
}

#[test]
fn hash_is_over_the_raw_unsorted_bytes() {
    // Keys out of order: a re-encoding would sort them and change the hash.
    let mut info = b"d4:name5:a.txt6:lengthi3e12:piece lengthi16384e6:pieces20:".to_vec();
    info.extend(sha1(b"abc"));
    info.push(b'e');
    let t = Torrent::from_bytes(&torrent(info.clone())).unwrap();
    assert_eq!(
        t.info_hash.unwrap().hex(),
        "f35e0f76839ebfa31c26e290ec72318bca21b47b"
    );
    assert_eq!(t.info_bytes, info);
    assert!(t.warnings.iter().any(|w| w.contains("non-canonical")));
}

#[test]
fn multi_file_offsets_and_paths() {
    let t = Torrent::from_bytes(&multi(&[
        (&[b"a", b"x.bin"], 20000),
        (&[b"b.bin"], 0),
        (&[b"c.bin"], 13000),
    ]))
    .unwrap();
    assert!(!t.single_file);
    let offs: Vec<u64> = t.files.iter().map(|f| f.offset).collect();
    assert_eq!(offs, vec![0, 20000, 20000]);
    assert_eq!(t.total_length, 33000);
    assert_eq!(t.piece_count(), 3);
    assert_eq!(
        t.file_path(&t.files[0]),
        std::path::PathBuf::from("root/a/x.bin")
    );
}

#[test]
fn hostile_paths_are_refused() {
    let cases: &[(&[&[u8]], &str)] = &[
        (&[b".."], "\"..\" is not allowed"),
        (&[b"a", b".", b"b"], "\".\" is not allowed"),
        (&[b""], "is empty"),
        (&[b"a/../../b"], "contains a slash"),
        (&[b"/etc", b"passwd"], "contains a slash"),
        (&[b"..\\..\\x"], "contains a backslash"),
        (&[b"a\0b"], "NUL"),
        (&[b"C:", b"x"], "drive prefix"),
        (&[b"c:evil"], "drive prefix"),
    ];
    for (path, want) in cases {
        let e = err(&multi(&[(path, 5)]));
        assert!(e.contains(want), "{path:?}: {e}");
    }
    assert!(err(&multi(&[(&[], 5)])).contains("empty path"));
}

#[test]
fn traversal_hidden_in_utf8_variants_is_refused() {
    let entry = d(&[
        (b"length", i(5)),
        (b"path", l(&[s(b"fine")])),
        (b"path.utf-8", l(&[s(b".."), s(b"x")])),
    ]);
    let info = d(&[
        (b"files", l(&[entry])),
        (b"name", s(b"root")),
        (b"piece length", i(16384)),
        (b"pieces", s(&[0; 20])),
    ]);
    assert!(err(&torrent(info)).contains("\"..\" is not allowed"));
    let info = d(&[
        (b"length", i(5)),
        (b"name", s(b"fine")),
        (b"name.utf-8", s(b"..")),
        (b"piece length", i(16384)),
        (b"pieces", s(&[0; 20])),
    ]);
    assert!(err(&torrent(info)).contains("name \"..\""));
}

#[test]
fn utf8_variants_win_and_raw_bytes_survive() {
    let entry = d(&[
        (b"length", i(5)),
        (b"path", l(&[s(b"old")])),
        (b"path.utf-8", l(&[s("néw".as_bytes())])),
    ]);
    let raw = d(&[(b"length", i(5)), (b"path", l(&[s(b"file\x80.bin")]))]);
    let info = d(&[
        (b"files", l(&[entry, raw])),
        (b"name", s(b"old")),
        (b"name.utf-8", s("nâme".as_bytes())),
        (b"piece length", i(16384)),
        (b"pieces", s(&[0; 20])),
    ]);
    let t = Torrent::from_bytes(&torrent(info)).unwrap();
    assert_eq!(t.name, "nâme".as_bytes());
    assert_eq!(t.files[0].path, vec!["néw".as_bytes().to_vec()]);
    assert_eq!(t.files[1].path, vec![b"file\x80.bin".to_vec()]);
}

#[test]
fn duplicates_and_file_directory_clashes() {
    let e = err(&multi(&[(&[b"a", b"b"], 1), (&[b"a", b"b"], 1)]));
    assert!(e.contains("appears twice"), "{e}");
    let e = err(&multi(&[(&[b"a"], 1), (&[b"a", b"b"], 1)]));
    assert!(e.contains("also a directory"), "{e}");
    let e = err(&multi(&[(&[b"a", b"b", b"c"], 1), (&[b"a", b"b"], 1)]));
    assert!(e.contains("also a directory"), "{e}");
    // A sibling that sorts between a file and its would-be children as bytes ("b!" < "b/c").
    let e = err(&multi(&[
        (&[b"a", b"b"], 1),
        (&[b"a", b"b!"], 1),
        (&[b"a", b"b", b"c"], 1),
    ]));
    assert!(e.contains("also a directory"), "{e}");
    // Siblings sharing a directory are fine.
    Torrent::from_bytes(&multi(&[(&[b"a", b"b"], 1), (&[b"a", b"c"], 1)])).unwrap();
}

#[test]
fn geometry_is_checked() {
    let one = |len: i64, pl: i64, pieces: usize| {
        torrent(d(&[
            (b"length", i(len)),
            (b"name", s(b"f")),
            (b"piece length", i(pl)),
            (b"pieces", s(&vec![1u8; pieces])),
        ]))
    };
    assert!(err(&one(5, 0, 20)).contains("piece length 0 is not positive"));
    assert!(err(&one(5, -16384, 20)).contains("piece length -16384"));
    assert!(err(&one(5, 16384, 24)).contains("not a multiple of 20"));
    assert!(err(&one(40000, 16384, 40)).contains("need 3"));
    assert!(err(&one(-1, 16384, 0)).contains("negative length -1"));
    assert!(err(&one(i64::MAX, 16384, 20)).contains("over the limit"));
    // Huge declared geometry with one hash: refused without allocating anything big.
    assert!(err(&one(1 << 44, 1, 20)).contains("hashes"));
    // 0 bytes, 0 pieces is consistent.
    let t = Torrent::from_bytes(&one(0, 16384, 0)).unwrap();
    assert_eq!(t.piece_count(), 0);
    // Piece lengths past what 32-bit wire offsets address (and libtorrent's cap) are refused;
    // the cap itself is fine.
    assert!(err(&one(5, i64::MAX, 20)).contains("piece length 9223372036854775807 is over"));
    assert!(err(&one(5, 1 << 32, 20)).contains("piece length 4294967296 is over"));
    Torrent::from_bytes(&one(5, MAX_PIECE_LENGTH as i64, 20)).unwrap();
}

#[test]
fn huge_sums_are_refused_cleanly() {
    // Many files at the per-file limit: 2^55 bytes, refused by the geometry, no panic.
    let big = MAX_FILE_LENGTH as i64;
    let names: Vec<Vec<u8>> = (0..2000).map(|k| format!("f{k}").into_bytes()).collect();
    let entries: Vec<Vec<u8>> = names
        .iter()
        .map(|n| d(&[(b"length", i(big)), (b"path", l(&[s(n)]))]))
        .collect();
    let info = d(&[
        (b"files", l(&entries)),
        (b"name", s(b"r")),
        (b"piece length", i(MAX_PIECE_LENGTH as i64)),
        (b"pieces", s(&[0; 20])),
    ]);
    let e = err(&torrent(info));
    assert!(e.contains("hashes") || e.contains("2^64"), "{e}");
}

#[test]
fn pad_files_and_symlinks() {
    let pad = d(&[(b"attr", s(b"p")), (b"length", i(16384 - 100))]);
    let file = |n: &[u8], len| d(&[(b"length", i(len)), (b"path", l(&[s(n)]))]);
    let link = d(&[
        (b"attr", s(b"l")),
        (b"length", i(999)),
        (b"path", l(&[s(b"link")])),
        (b"symlink path", l(&[s(b"a")])),
    ]);
    let info = d(&[
        (b"files", l(&[file(b"a", 100), pad, file(b"b", 10), link])),
        (b"name", s(b"r")),
        (b"piece length", i(16384)),
        (b"pieces", s(&[0; 40])),
    ]);
    let t = Torrent::from_bytes(&torrent(info)).unwrap();
    assert_eq!(t.files.len(), 4);
    assert!(t.files[1].pad);
    assert_eq!(t.files[1].path, vec![b".pad".to_vec(), b"16284".to_vec()]);
    assert_eq!(t.files[2].offset, 16384);
    assert_eq!(t.files[3].length, 0);
    assert_eq!(t.files[3].symlink, Some(vec![b"a".to_vec()]));
    assert_eq!(t.content_length(), 110);
    assert_eq!(t.total_length, 16394);

    let evil = d(&[
        (b"attr", s(b"l")),
        (b"path", l(&[s(b"link")])),
        (b"symlink path", l(&[s(b".."), s(b"etc")])),
    ]);
    let info = d(&[
        (b"files", l(&[file(b"a", 100), evil])),
        (b"name", s(b"r")),
        (b"piece length", i(16384)),
        (b"pieces", s(&[0; 20])),
    ]);
    assert!(err(&torrent(info)).contains("\"..\""));
}

#[test]
fn optional_fields_are_lenient() {
    let info = d(&[
        (b"length", i(3)),
        (b"name", s(b"a")),
        (b"piece length", i(16384)),
        (b"pieces", s(&[0; 20])),
        (b"private", i(1)),
        (b"source", s(b"SRC")),
    ]);
    let bytes = d(&[
        (b"announce", s(b"\t udp://t.example:80 ")),
        (
            b"announce-list",
            l(&[l(&[s(b"http://a"), i(5)]), l(&[]), l(&[s(b"http://b")])]),
        ),
        (b"comment", s(b"hi")),
        (b"creation date", s(b"yesterday")),
        (b"info", info),
        (b"url-list", l(&[s(b"http://w"), l(&[]), i(3), s(b"")])),
    ]);
    let t = Torrent::from_bytes(&bytes).unwrap();
    assert_eq!(t.announce.as_deref(), Some("udp://t.example:80"));
    assert_eq!(
        t.announce_list,
        vec![vec!["http://a".to_string()], vec!["http://b".to_string()]]
    );
    assert_eq!(t.tiers().len(), 2);
    assert_eq!(t.url_list, vec!["http://w".to_string()]);
    assert_eq!(t.creation_date, None);
    assert!(t.warnings.iter().any(|w| w.contains("creation date")));
    assert!(t.private);
    assert_eq!(t.source.as_deref(), Some("SRC"));
    assert_eq!(t.comment.as_deref(), Some("hi"));
}

#[test]
fn required_fields_and_kinds() {
    assert!(err(b"4:spam").contains("not a dictionary"));
    assert!(err(b"de").contains("no \"info\""));
    assert!(err(&d(&[(b"info", s(b"x"))])).contains("expected a dictionary"));
    assert!(err(&torrent(d(&[(b"name", s(b"a")), (b"piece length", i(1))]))).contains("neither"));
    assert!(err(b"d4:infod").contains("invalid bencode"));
    let mut deep = b"d4:info".to_vec();
    deep.extend(vec![b'l'; 200_000]);
    deep.extend(vec![b'e'; 200_000]);
    deep.push(b'e');
    assert!(err(&deep).contains("nesting"));
    assert!(err(b"d4:info9223372036854775807:xe").contains("invalid bencode"));
}

// ---- v2 ----

fn leaf(len: i64, root: &[u8; 32]) -> Vec<u8> {
    d(&[(b"", d(&[(b"length", i(len)), (b"pieces root", s(root))]))])
}

#[test]
fn merkle_padding() {
    assert_eq!(pad_hash(16384), [0; 32]);
    let z: [u8; 32] = Sha256::digest([0u8; 64]).into();
    assert_eq!(pad_hash(32768), z);
    let a = [1u8; 32];
    assert_eq!(merkle_root(&[a], [0; 32]), a);
    let b = [2u8; 32];
    let c = [3u8; 32];
    let ab: [u8; 32] = Sha256::digest([a, b].concat()).into();
    let cp: [u8; 32] = Sha256::digest([c, z].concat()).into();
    let root: [u8; 32] = Sha256::digest([ab, cp].concat()).into();
    assert_eq!(merkle_root(&[a, b, c], z), root);
}

fn v2_torrent(piece_length: i64, tree: Vec<u8>, layers: Option<Vec<u8>>) -> Vec<u8> {
    let info = d(&[
        (b"file tree", tree),
        (b"meta version", i(2)),
        (b"name", s(b"v2")),
        (b"piece length", i(piece_length)),
    ]);
    let mut top: Vec<(&[u8], Vec<u8>)> = vec![(b"info", info)];
    if let Some(pl) = layers {
        top.push((b"piece layers", pl));
    }
    d(&top)
}

#[test]
fn v2_only_with_checked_piece_layers() {
    let layer: Vec<[u8; 32]> = (0..3u8).map(|k| [k + 1; 32]).collect();
    let root = merkle_root(&layer, pad_hash(16384));
    let tree = d(&[(b"big", leaf(40000, &root)), (b"small", leaf(5, &[9; 32]))]);
    let layers = d(&[(&root[..], s(&layer.concat()))]);
    let bytes = v2_torrent(16384, tree.clone(), Some(layers));
    let t = Torrent::from_bytes(&bytes).unwrap();
    assert_eq!(t.version, Version::V2);
    assert_eq!(t.info_hash, None);
    let dec = crate::bencode::decode(&bytes, &Default::default()).unwrap();
    let span = dec
        .root
        .as_dict()
        .unwrap()
        .get("info")
        .unwrap()
        .span
        .clone();
    let want: [u8; 32] = Sha256::digest(&bytes[span]).into();
    assert_eq!(t.info_hash_v2.unwrap().0, want);
    assert_eq!(t.files.len(), 2);
    assert_eq!(
        t.files[1].offset, 49152,
        "v2 files start on piece boundaries"
    );
    assert_eq!(t.piece_count(), 4);
    assert_eq!(t.piece_layers.get(&root), Some(&layer));
    assert_eq!(t.content_length(), 40005);

    // A layer that does not hash to the root.
    let mut wrong = layer.clone();
    wrong[2][0] ^= 1;
    let layers = d(&[(&root[..], s(&wrong.concat()))]);
    assert!(err(&v2_torrent(16384, tree.clone(), Some(layers))).contains("does not hash"));
    // Wrong count, bad size, unknown key.
    let layers = d(&[(&root[..], s(&layer[..2].concat()))]);
    assert!(err(&v2_torrent(16384, tree.clone(), Some(layers))).contains("need 3"));
    let layers = d(&[(&root[..], s(&[0; 33]))]);
    assert!(err(&v2_torrent(16384, tree.clone(), Some(layers))).contains("multiple of 32"));
    let layers = d(&[(&[5u8; 32][..], s(&layer.concat()))]);
    assert!(err(&v2_torrent(16384, tree, Some(layers))).contains("matches no file"));
}

#[test]
fn v2_rules() {
    let ok = d(&[(b"a", leaf(5, &[1; 32]))]);
    assert!(err(&v2_torrent(16383, ok.clone(), None)).contains("power of two"));
    assert!(err(&v2_torrent(8192, ok.clone(), None)).contains("power of two"));
    Torrent::from_bytes(&v2_torrent(16384, ok, None)).unwrap();
    // Unsorted keys in the tree.
    let mut unsorted = b"d".to_vec();
    unsorted.extend(s(b"b"));
    unsorted.extend(leaf(5, &[1; 32]));
    unsorted.extend(s(b"a"));
    unsorted.extend(leaf(5, &[2; 32]));
    unsorted.push(b'e');
    assert!(err(&v2_torrent(16384, unsorted, None)).contains("not sorted"));
    assert!(err(&v2_torrent(16384, d(&[(b"a", leaf(5, &[0; 32]))]), None)).contains("all zeros"));
    let padleaf = d(&[(
        b"",
        d(&[
            (b"attr", s(b"p")),
            (b"length", i(5)),
            (b"pieces root", s(&[1; 32])),
        ]),
    )]);
    assert!(err(&v2_torrent(16384, d(&[(b"a", padleaf)]), None)).contains("pad file"));
    assert!(
        err(&v2_torrent(16384, d(&[(b"..", leaf(5, &[1; 32]))]), None)).contains("not allowed")
    );
    assert!(err(&v2_torrent(16384, d(&[(b"a", d(&[]))]), None)).contains("neither a file"));
    assert!(err(&v2_torrent(16384, d(&[]), None)).contains("neither a file"));
    // Empty files need no root.
    let empty = d(&[(b"", d(&[(b"length", i(0))]))]);
    Torrent::from_bytes(&v2_torrent(16384, d(&[(b"e", empty)]), None)).unwrap();
}

fn hybrid(pad: bool) -> Vec<u8> {
    let f = |n: &[u8], len| d(&[(b"length", i(len)), (b"path", l(&[s(n)]))]);
    let mut files = vec![f(b"a", 100)];
    if pad {
        files.push(d(&[
            (b"attr", s(b"p")),
            (b"length", i(16284)),
            (b"path", l(&[s(b".pad"), s(b"16284")])),
        ]));
    }
    files.push(f(b"b", 10));
    let n = if pad { 2 } else { 1 };
    let info = d(&[
        (
            b"file tree",
            d(&[(b"a", leaf(100, &[1; 32])), (b"b", leaf(10, &[2; 32]))]),
        ),
        (b"files", l(&files)),
        (b"meta version", i(2)),
        (b"name", s(b"h")),
        (b"piece length", i(16384)),
        (b"pieces", s(&vec![0; 20 * n])),
    ]);
    torrent(info)
}

#[test]
fn hybrids_must_agree_and_align() {
    let bytes = hybrid(true);
    let t = Torrent::from_bytes(&bytes).unwrap();
    assert_eq!(t.version, Version::Hybrid);
    assert!(t.info_hash.is_some() && t.info_hash_v2.is_some());
    assert_eq!(t.files[2].pieces_root, Some([2; 32]));
    assert!(err(&hybrid(false)).contains("piece boundary"));
}

// ---- magnets ----

#[test]
fn magnet_round_trip_and_encoding() {
    let m = Magnet {
        info_hash: Some(InfoHash([0xab; 20])),
        info_hash_v2: Some(InfoHashV2([0xcd; 32])),
        name: Some("a b&c=d/é%".into()),
        trackers: vec!["udp://t.example:80/announce?x=1&y=2".into()],
        web_seeds: vec!["http://w.example/f".into()],
        peers: vec!["127.0.0.1:6881".into()],
    };
    let uri = m.to_uri();
    assert!(uri.starts_with(
        "magnet:?xt=urn:btih:abababababababababababababababababababab&xt=urn:btmh:1220cdcd"
    ));
    assert!(uri.contains("dn=a%20b%26c%3Dd%2F%C3%A9%25"), "{uri}");
    assert!(
        uri.contains("tr=udp%3A%2F%2Ft.example%3A80%2Fannounce%3Fx%3D1%26y%3D2"),
        "{uri}"
    );
    assert_eq!(Magnet::parse(&uri).unwrap(), m);
}

#[test]
fn magnet_parsing() {
    let m = Magnet::parse(
        "MAGNET:?xt=urn:btih:EKHEZHTY7RKLPDLEMZPDRYYQ4HF4TAKV&dn=Big+Buck%20Bunny&tr.1=http%3A%2F%2Fa&tr.2=http://b&x.pe=[::1]:5&junk=1",
    )
    .unwrap();
    assert_eq!(
        m.info_hash.unwrap().hex(),
        "228e4c9e78fc54b78d64665e38e310e1cbc98155"
    );
    assert_eq!(m.name.as_deref(), Some("Big Buck Bunny"));
    assert_eq!(
        m.trackers,
        vec!["http://a".to_string(), "http://b".to_string()]
    );
    assert_eq!(m.peers, vec!["[::1]:5".to_string()]);
    assert!(Magnet::parse("magnet:?dn=x").is_err());
    assert!(Magnet::parse("http://x").is_err());
    assert!(Magnet::parse("magnet:?xt=urn:btih:1234").is_err());
    assert!(Magnet::parse("magnet:?xt=urn:btmh:1111aa").is_err());
    assert_eq!(percent_decode("%zz%4", false), b"%zz%4");
}

#[test]
fn torrent_magnet_encodes_raw_name_and_all_trackers() {
    let info = d(&[
        (b"length", i(3)),
        (b"name", s(b"n\xffx y")),
        (b"piece length", i(16384)),
        (b"pieces", s(&[0; 20])),
    ]);
    let bytes = d(&[
        (b"announce", s(b"http://a/")),
        (
            b"announce-list",
            l(&[
                l(&[s(b"http://a/"), s(b"http://b/")]),
                l(&[s(b"udp://c:1")]),
            ]),
        ),
        (b"info", info),
    ]);
    let t = Torrent::from_bytes(&bytes).unwrap();
    let uri = t.magnet();
    let want = format!(
        "magnet:?xt=urn:btih:{}&dn=n%FFx%20y&tr=http%3A%2F%2Fa%2F&tr=http%3A%2F%2Fb%2F&tr=udp%3A%2F%2Fc%3A1",
        t.info_hash.unwrap().hex()
    );
    assert_eq!(uri, want);
}

/// Issue 11 #10, BEP 3: `length` next to `files` is contradictory (one file or several?).
#[test]
fn length_next_to_files_is_refused() {
    let info = d(&[
        (
            b"files",
            l(&[d(&[(b"length", i(3)), (b"path", l(&[s(b"a")]))])]),
        ),
        (b"length", i(3)),
        (b"name", s(b"root")),
        (b"piece length", i(16384)),
        (b"pieces", s(&[7u8; 20])),
    ]);
    assert!(err(&torrent(info)).contains("both \"length\" (a single file) and \"files\""));
}

/// Issue 11 #10, BEP 47: a file cannot be both a pad file and a symlink.
#[test]
fn pad_symlinks_are_refused() {
    let entry = d(&[
        (b"attr", s(b"lp")),
        (b"length", i(3)),
        (b"path", l(&[s(b"a")])),
        (b"symlink path", l(&[s(b"b")])),
    ]);
    let info = d(&[
        (
            b"files",
            l(&[entry, d(&[(b"length", i(3)), (b"path", l(&[s(b"c")]))])]),
        ),
        (b"name", s(b"root")),
        (b"piece length", i(16384)),
        (b"pieces", s(&[7u8; 20])),
    ]);
    assert!(err(&torrent(info)).contains("info.files[0] is marked both pad file and symlink"));
}

/// Issue 11 #10, BEP 27: `private` is the integer 0 or 1; anything else (a string "1", 2) would
/// be guessed public, leaking a private torrent to DHT and PEX.
#[test]
fn private_other_than_0_or_1_is_refused() {
    let with = |v: Vec<u8>| {
        torrent(d(&[
            (b"length", i(3)),
            (b"name", s(b"a")),
            (b"piece length", i(16384)),
            (b"pieces", s(&[7u8; 20])),
            (b"private", v),
        ]))
    };
    assert!(err(&with(s(b"1"))).contains("private is a string, not 0 or 1"));
    assert!(err(&with(i(2))).contains("private is 2, not 0 or 1"));
    assert!(Torrent::from_bytes(&with(i(1))).unwrap().private);
    assert!(!Torrent::from_bytes(&with(i(0))).unwrap().private);
}
