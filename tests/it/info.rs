//! Integration tests: info. `bt-info` over the whole torrent corpus (`tests/corpus`), hostile inputs generated
//! here, stdin and magnet inputs, the JSON shape, the human view, and a 100,000-file torrent.

use std::time::{Duration, Instant};

use crate::common::{bt, bt_in, corpus, run_cmd, tempdir, Run};

// ---- a tiny canonical bencode writer for generated torrents ----

fn s(b: &[u8]) -> Vec<u8> {
    [format!("{}:", b.len()).as_bytes(), b].concat()
}
fn i(n: i64) -> Vec<u8> {
    format!("i{n}e").into_bytes()
}
fn l(items: &[Vec<u8>]) -> Vec<u8> {
    [b"l".to_vec(), items.concat(), b"e".to_vec()].concat()
}
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
    d(&[(b"info", info)])
}
fn single(name: &[u8], len: i64) -> Vec<u8> {
    // Absurd lengths get one hash (the torrent is refused before the count matters).
    let n = ((len.max(0) as u64).div_ceil(16384) as usize).min(1000);
    torrent(d(&[
        (b"length", i(len)),
        (b"name", s(name)),
        (b"piece length", i(16384)),
        (b"pieces", s(&vec![0; 20 * n])),
    ]))
}
fn multi(files: &[(Vec<Vec<u8>>, i64)]) -> Vec<u8> {
    let total: i64 = files.iter().map(|f| f.1.max(0)).sum();
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
        (b"pieces", s(&vec![0; 20 * n])),
    ]))
}
fn p(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|c| c.to_vec()).collect()
}

/// Run `bt-info --json <file>` on bytes written to a temp file (kept while the returned
/// directory lives).
fn info_of(bytes: &[u8], extra: &[&str]) -> (Run, String, tempfile::TempDir) {
    let dir = tempdir();
    let path = dir.path().join("input.torrent");
    std::fs::write(&path, bytes).unwrap();
    let path = path.to_str().unwrap().to_string();
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    args.push(&path);
    let mut cmd = std::process::Command::new(crate::common::bin("bt-info"));
    cmd.args(&args);
    (run_cmd(&mut cmd, None, Duration::from_secs(10)), path, dir)
}

/// The refusal contract: exit 2, nothing on stdout, one line on stderr that names the input,
/// and no panic.
fn assert_refused(run: &Run, input: &str, what: &str) {
    let err = run.stderr.trim_end();
    assert_eq!(run.code, 2, "{what}: exit {} ({err})", run.code);
    assert!(
        run.stdout.is_empty(),
        "{what}: printed {}",
        run.stdout_str()
    );
    assert!(
        !err.is_empty() && !err.contains('\n'),
        "{what}: stderr {err:?}"
    );
    assert!(err.starts_with("bt-info: error: "), "{what}: {err}");
    assert!(
        err.contains(input),
        "{what}: error does not name {input}: {err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("internal error"),
        "{what}: {err}"
    );
}

/// Text as the corpus manifest writes it: invalid UTF-8 bytes and control characters as
/// `\xNN`, a backslash as `\\`.
fn manifest_text(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    out.push_str(&format!("\\x{:02x}", c as u32))
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

fn unhex(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|k| u8::from_str_radix(&h[k..k + 2], 16).unwrap())
        .collect()
}

fn opt_num(v: Option<u64>) -> String {
    v.map_or("null".into(), |n| n.to_string())
}

#[test]
fn corpus_every_file_loads_or_is_refused() {
    let root = corpus();
    let manifest = std::fs::read_to_string(root.join("MANIFEST.tsv")).expect("corpus manifest");
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (c_path, c_expect, c_v1, c_v2) = (
        col("path"),
        col("expect"),
        col("infohash_v1"),
        col("infohash_v2"),
    );
    let (c_name, c_files, c_pads) = (col("name"), col("files"), col("pad_files"));
    let (c_total, c_plen) = (col("total_length"), col("piece_length"));
    let mut failures = Vec::new();
    let (mut ok, mut rejected) = (0, 0);
    let start = Instant::now();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let row: Vec<&str> = line.split('\t').collect();
        let path = row[c_path];
        let full = root.join(path);
        let run = run_cmd(
            std::process::Command::new(crate::common::bin("bt-info"))
                .arg("--json")
                .arg(&full),
            None,
            Duration::from_secs(10),
        );
        match row[c_expect] {
            "ok" => {
                if run.code != 0 {
                    failures.push(format!("{path}: exit {} {}", run.code, run.stderr.trim()));
                    continue;
                }
                let j = run.torrent();
                let name = match j.name_hex.as_deref() {
                    Some(h) => manifest_text(&unhex(h)),
                    None => manifest_text(j.name.as_deref().unwrap_or("").as_bytes()),
                };
                let pads = j.files.iter().filter(|f| f.pad).count();
                let got = [
                    j.info_hash.clone().unwrap_or_default(),
                    j.info_hash_v2.clone().unwrap_or_default(),
                    name,
                    (j.files.len() - pads).to_string(),
                    pads.to_string(),
                    opt_num(j.total_length),
                    opt_num(j.piece_length),
                ];
                let want = [
                    row[c_v1],
                    row[c_v2],
                    row[c_name],
                    row[c_files],
                    row[c_pads],
                    row[c_total],
                    row[c_plen],
                ];
                if got.iter().map(String::as_str).ne(want) {
                    failures.push(format!("{path}: got {got:?}, want {want:?}"));
                }
                ok += 1;
            }
            "reject" => {
                let err = run.stderr.trim_end();
                if run.code != 2
                    || !run.stdout.is_empty()
                    || err.is_empty()
                    || err.contains('\n')
                    || !err.contains(path)
                    || err.contains("internal error")
                {
                    failures.push(format!("{path}: exit {} stderr {err:?}", run.code));
                }
                rejected += 1;
            }
            other => failures.push(format!("{path}: unknown expect {other:?}")),
        }
    }
    eprintln!(
        "corpus: {ok} ok, {rejected} rejected in {:.2?}",
        start.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(ok + rejected, 199, "the corpus has 199 files");
}

#[test]
fn hostile_inputs_are_refused_cleanly() {
    let nested = |n: usize| [vec![b'l'; n], vec![b'e'; n]].concat();
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("300 KB of nested lists", nested(150_000)),
        (
            "nested lists inside info",
            [b"d4:info".to_vec(), nested(150_000), b"e".to_vec()].concat(),
        ),
        (
            "nested dicts",
            [b"d1:a".repeat(40_000), b"0:".to_vec(), vec![b'e'; 40_000]].concat(),
        ),
        (
            "string length 2^63-1",
            b"d4:info9223372036854775807:abce".to_vec(),
        ),
        (
            "string length 2^63",
            b"d4:info9223372036854775808:abce".to_vec(),
        ),
        (
            "string length 2^64",
            b"d4:info18446744073709551616:abce".to_vec(),
        ),
        (
            "integer past i64",
            single(b"a", 0).replace_all(b"i0e", b"i9223372036854775808e"),
        ),
        ("length i64::MAX", single(b"a", i64::MAX)),
        ("negative length", single(b"a", -5)),
        (
            "leading zero integer",
            single(b"a", 5).replace_all(b"i5e", b"i05e"),
        ),
        ("name ..", single(b"..", 5)),
        ("name .", single(b".", 5)),
        ("empty name", single(b"", 5)),
        ("NUL in name", single(b"a\0b", 5)),
        ("slash in name", single(b"../etc", 5)),
        ("absolute path", multi(&[(p(&[b"/etc", b"passwd"]), 5)])),
        ("dotdot path", multi(&[(p(&[b"a", b"..", b"..", b"x"]), 5)])),
        ("backslash path", multi(&[(p(&[b"..\\x"]), 5)])),
        ("drive prefix", multi(&[(p(&[b"C:", b"x"]), 5)])),
        (
            "duplicate paths",
            multi(&[(p(&[b"a", b"b"]), 5), (p(&[b"a", b"b"]), 5)]),
        ),
        (
            "file that is a directory",
            multi(&[(p(&[b"a"]), 5), (p(&[b"a", b"b"]), 5)]),
        ),
        ("empty files list", multi(&[])),
        (
            "trailing garbage",
            [single(b"a", 5), b"junk".to_vec()].concat(),
        ),
    ];
    // Traversal hidden in path.utf-8 behind an innocent path.
    let entry = d(&[
        (b"length", i(5)),
        (b"path", l(&[s(b"innocent")])),
        (b"path.utf-8", l(&[s(b".."), s(b".."), s(b"etc")])),
    ]);
    cases.push((
        "traversal in path.utf-8",
        torrent(d(&[
            (b"files", l(&[entry])),
            (b"name", s(b"r")),
            (b"piece length", i(16384)),
            (b"pieces", s(&[0; 20])),
        ])),
    ));
    cases.push((
        "name.utf-8 ..",
        torrent(d(&[
            (b"length", i(5)),
            (b"name", s(b"ok")),
            (b"name.utf-8", s(b"..")),
            (b"piece length", i(16384)),
            (b"pieces", s(&[0; 20])),
        ])),
    ));
    // 16 TiB declared with a single hash: refused by arithmetic, nothing allocated.
    cases.push((
        "huge piece count",
        torrent(d(&[
            (b"length", i(1 << 44)),
            (b"name", s(b"a")),
            (b"piece length", i(1)),
            (b"pieces", s(&[0; 20])),
        ])),
    ));
    // v2: 300 files of 16 TiB in 16 KiB pieces is past the piece-index limit.
    let leaf = d(&[(
        b"",
        d(&[(b"length", i(1 << 44)), (b"pieces root", s(&[1; 32]))]),
    )]);
    let tree: Vec<(Vec<u8>, Vec<u8>)> = (0..300)
        .map(|k| (format!("f{k:03}").into_bytes(), leaf.clone()))
        .collect();
    let tree_pairs: Vec<(&[u8], Vec<u8>)> = tree
        .iter()
        .map(|(k, v)| (k.as_slice(), v.clone()))
        .collect();
    cases.push((
        "v2 huge piece count",
        torrent(d(&[
            (b"file tree", d(&tree_pairs)),
            (b"meta version", i(2)),
            (b"name", s(b"v2")),
            (b"piece length", i(16384)),
        ])),
    ));
    // A v2 tree 120 levels deep holding 70,000 files: 2 MB that would spell out 8.5 million
    // path components.
    let mut tree = b"d".to_vec();
    for k in 0..70_000 {
        tree.extend(s(format!("{k:06}").as_bytes()));
        tree.extend(b"d0:d6:lengthi0eee");
    }
    tree.push(b'e');
    for _ in 0..120 {
        tree = [b"d1:a".to_vec(), tree, b"e".to_vec()].concat();
    }
    cases.push((
        "path amplification in a deep v2 tree",
        torrent(d(&[
            (b"file tree", tree),
            (b"meta version", i(2)),
            (b"name", s(b"x")),
            (b"piece length", i(16384)),
        ])),
    ));
    // 200,000 keys in descending order: duplicate-key detection must not be quadratic.
    let mut desc = b"d4:infod".to_vec();
    for k in (0..200_000).rev() {
        desc.extend(s(format!("k{k:07}").as_bytes()));
        desc.extend(b"0:");
    }
    desc.extend(b"ee");
    cases.push(("200,000 descending keys", desc));
    // The rule each case must be refused by (cases not listed: any clean refusal).
    let because = [
        ("300 KB of nested lists", "nesting deeper"),
        ("string length 2^63-1", "malformed string length"),
        ("length i64::MAX", "over the limit"),
        ("negative length", "negative length -5"),
        ("name ..", "name \"..\" is not a plain file name"),
        ("NUL in name", "NUL"),
        ("absolute path", "contains a slash"),
        ("dotdot path", "\"..\" is not allowed"),
        ("drive prefix", "drive prefix"),
        ("duplicate paths", "appears twice"),
        ("file that is a directory", "also a directory"),
        ("traversal in path.utf-8", "\"..\" is not allowed"),
        ("name.utf-8 ..", "name \"..\""),
        ("huge piece count", "pieces holds 1 hashes"),
        ("v2 huge piece count", "pieces is over the limit"),
        (
            "path amplification in a deep v2 tree",
            "file tree paths add up",
        ),
        ("200,000 descending keys", "no \"name\" key"),
    ];
    for (what, bytes) in &cases {
        let (run, path, _dir) = info_of(bytes, &[]);
        assert_refused(&run, &path, what);
        if let Some((_, want)) = because.iter().find(|(w, _)| w == what) {
            assert!(run.stderr.contains(want), "{what}: {}", run.stderr);
        }
    }
}

trait ReplaceAll {
    fn replace_all(&self, from: &[u8], to: &[u8]) -> Vec<u8>;
}
impl ReplaceAll for Vec<u8> {
    fn replace_all(&self, from: &[u8], to: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut k = 0;
        while k < self.len() {
            if self[k..].starts_with(from) {
                out.extend_from_slice(to);
                k += from.len();
            } else {
                out.push(self[k]);
                k += 1;
            }
        }
        out
    }
}

#[test]
fn truncated_and_mutated_real_torrents_never_panic() {
    let bytes = std::fs::read(corpus().join("libtorrent/v2_hybrid.torrent")).unwrap();
    let dir = tempdir();
    let path = dir.path().join("cut.torrent");
    let path_s = path.to_str().unwrap();
    for k in 0..40 {
        let cut = bytes.len() * k / 40;
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let run = bt("bt-info", &["--json", path_s]);
        assert_refused(&run, path_s, &format!("cut at {cut}"));
    }
    // Deterministic byte flips: each either loads or is refused, never anything else.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..60 {
        let mut m = bytes.clone();
        for _ in 0..3 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = (x % m.len() as u64) as usize;
            m[at] = (x >> 32) as u8;
        }
        std::fs::write(&path, &m).unwrap();
        let run = bt("bt-info", &["--json", path_s]);
        match run.code {
            0 => assert!(run.torrent().info_hash.is_some()),
            _ => assert_refused(&run, path_s, "mutation"),
        }
    }
}

#[test]
fn json_shape_is_fixed_for_torrents_and_magnets() {
    let (run, _, _dir) = info_of(&single(b"one.bin", 20000), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let t = run.json();
    let m = bt(
        "bt-info",
        &[
            "--json",
            "magnet:?xt=urn:btih:c0fda1edafdbdbb96443424e0b3899af7159d10e&dn=temp",
        ],
    );
    assert_eq!(m.code, 0, "{}", m.stderr);
    let magnet = m;
    let m = magnet.json();
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&t), keys(&m));
    for k in [
        "type",
        "info_hash",
        "info_hash_v2",
        "version",
        "name",
        "piece_length",
        "piece_count",
        "total_length",
        "private",
        "files",
        "announce",
        "announce_list",
        "url_list",
        "comment",
        "created_by",
        "creation_date",
        "source",
        "magnet",
        "warnings",
    ] {
        assert!(t.get(k).is_some(), "missing {k}");
    }
    assert_eq!(t["type"], "torrent");
    assert_eq!(t["pieces"], serde_json::Value::Null);
    assert_eq!(t["output"], serde_json::Value::Null);
    let t = run.torrent();
    assert_eq!(t.version, 1);
    assert_eq!(t.piece_count, Some(2));
    assert_eq!(t.total_length, Some(20000));
    assert_eq!(t.file_count, Some(1));
    assert_eq!(t.private, Some(false));
    assert_eq!(t.info_hash_v2, None);
    assert!(t.announce_list.is_empty());
    assert_eq!(t.files[0].path, "one.bin");
    assert_eq!(t.files[0].offset, 0);
    assert_eq!(t.pieces, None);
    let m = magnet.torrent();
    assert_eq!(m.input, "magnet");
    assert_eq!(
        m.info_hash.as_deref(),
        Some("c0fda1edafdbdbb96443424e0b3899af7159d10e")
    );
    assert_eq!(m.name.as_deref(), Some("temp"));
    assert!(m.files.is_empty());
    assert_eq!(m.piece_length, None);
    assert_eq!(m.file_count, None);

    let (run, _, _dir) = info_of(&single(b"one.bin", 20000), &["--pieces"]);
    let pieces = run.torrent().pieces.unwrap();
    assert_eq!(pieces.len(), 2);
    assert_eq!(pieces[0], "0".repeat(40));
}

#[test]
fn stdin_dash_and_pipe_without_argument() {
    let bytes = std::fs::read(corpus().join("webtorrent-fixtures/leaves.torrent")).unwrap();
    let dir = tempdir();
    let a = bt_in("bt-info", dir.path(), &["--json", "-"], Some(&bytes));
    let b = bt_in("bt-info", dir.path(), &["--json"], Some(&bytes));
    for r in [&a, &b] {
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(
            r.torrent().info_hash.as_deref(),
            Some("d2474e86c95b19b8bcfdb92bc12c9d44667cfa36")
        );
    }
    let bad = bt_in(
        "bt-info",
        dir.path(),
        &["--json", "-"],
        Some(b"d4:infoi3ee"),
    );
    assert_refused(&bad, "<stdin>", "bad stdin");
}

#[test]
fn missing_file_and_bad_magnet_are_errors() {
    let run = bt("bt-info", &["--json", "/nonexistent/x.torrent"]);
    assert_refused(&run, "/nonexistent/x.torrent", "missing file");
    // An endless input is cut at the size limit instead of filling memory.
    let run = bt("bt-info", &["--json", "/dev/zero"]);
    assert_refused(&run, "/dev/zero", "endless input");
    assert!(run.stderr.contains("over the limit"), "{}", run.stderr);
    let run = bt("bt-info", &["--json", "magnet:?xt=urn:btih:1234"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("btih \"1234\""), "{}", run.stderr);
}

#[test]
fn names_that_are_not_utf8_or_hold_controls() {
    let files = vec![(p(&[b"caf\xe9.txt"]), 3), (p(&[b"evil\x1b[2Jname"]), 4)];
    let mut bytes = multi(&files);
    bytes = bytes.replace_all(b"4:root", b"5:r\xffoot");
    let (run, path, _dir) = info_of(&bytes, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let j = run.torrent();
    assert_eq!(j.name_hex.as_deref(), Some("72ff6f6f74"));
    assert_eq!(j.files[0].path_hex.as_deref(), Some("636166e92e747874"));
    assert_eq!(j.files[1].path, "evil\u{1b}[2Jname");
    assert_eq!(j.files[1].path_hex, None);
    assert!(j.magnet.contains("dn=r%FFoot"));

    let human = bt("bt-info", &["--human", &path]);
    assert_eq!(human.code, 0);
    let text = human.stdout_str();
    assert!(!text.contains('\u{1b}'), "raw escape reached the terminal");
    assert!(text.contains("evil\\x1b[2Jname"), "{text}");
    // Aligned: keys right-aligned in one column, values starting in the next one.
    let lines: Vec<&str> = text.lines().collect();
    for (line, key) in lines
        .iter()
        .zip(["name", "info hash", "info hash v2", "version"])
    {
        let (k, v) = line.split_at(13);
        assert_eq!(k.trim_start(), key, "{text}");
        assert!(v.starts_with("  ") && !v[2..].starts_with(' '), "{text}");
    }
}

#[test]
fn hundred_thousand_files_answer_fast() {
    let n = 100_000;
    let mut entries = Vec::with_capacity(n);
    for k in 0..n {
        let dir = format!("d{:03}", k / 1000);
        let name = format!("file-{k:06}.dat");
        entries.push(d(&[
            (b"length", i(1)),
            (b"path", l(&[s(dir.as_bytes()), s(name.as_bytes())])),
        ]));
    }
    let bytes = torrent(d(&[
        (b"files", l(&entries)),
        (b"name", s(b"many")),
        (b"piece length", i(16384)),
        (b"pieces", s(&vec![0; 20 * n.div_ceil(16384)])),
    ]));
    let dir = tempdir();
    let path = dir.path().join("many.torrent");
    std::fs::write(&path, &bytes).unwrap();
    let start = Instant::now();
    let run = bt("bt-info", &["--json", path.to_str().unwrap()]);
    let took = start.elapsed();
    eprintln!(
        "bt-info on {n} files ({} KB torrent): {took:.2?} (debug build)",
        bytes.len() / 1024
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let j = run.torrent();
    assert_eq!(j.files.len(), n);
    assert_eq!(j.total_length, Some(n as u64));
    assert_eq!(j.files[n - 1].offset, n as u64 - 1);
    assert!(took < Duration::from_secs(5), "hang guard: {took:?}");
}

#[test]
fn corpus_v2_and_hybrid_details() {
    let run = bt(
        "bt-info",
        &[
            "--json",
            corpus()
                .join("libtorrent/v2_hybrid.torrent")
                .to_str()
                .unwrap(),
        ],
    );
    let j = run.torrent();
    assert_eq!(j.version, "hybrid");
    // Offsets tile the piece stream, pad files included; real files start on piece boundaries.
    let plen = j.piece_length.unwrap();
    let mut end = 0;
    for f in &j.files {
        assert_eq!(f.offset, end);
        end += f.length;
        if !f.pad && f.length > 0 {
            assert_eq!(f.offset % plen, 0);
            assert_eq!(f.pieces_root.as_ref().unwrap().len(), 64);
        }
    }
    let magnet = &j.magnet;
    assert!(magnet.contains("xt=urn:btih:514c76c1f27ec61ca8b37851bcd1cbf0b26cf120"));
    assert!(magnet.contains(
        "xt=urn:btmh:1220518fbaf39b37020c896e8768a967da6d76bbd5ef7a02c761021b65a72c6cfa11"
    ));
    let run = bt(
        "bt-info",
        &[
            "--json",
            corpus()
                .join("libtorrent/v2_only.torrent")
                .to_str()
                .unwrap(),
        ],
    );
    let j = run.torrent();
    assert_eq!(j.version, 2);
    assert_eq!(j.info_hash, None);
}

/// Issue 10, item 6: an empty file says so; a magnet link without a hash is named once.
#[test]
fn empty_inputs_and_hashless_magnets_say_what_is_wrong() {
    let dir = tempdir();
    let empty = dir.path().join("empty.torrent");
    std::fs::write(&empty, b"").unwrap();
    let empty = empty.to_str().unwrap();
    for input in [empty, "/dev/null"] {
        let run = bt("bt-info", &["--json", input]);
        assert_refused(&run, input, input);
        assert_eq!(
            run.stderr.trim_end(),
            format!("bt-info: error: {input}: the file is empty, not a torrent")
        );
    }
    let run = bt_in("bt-info", dir.path(), &["--json", "-"], Some(b""));
    assert_eq!(
        run.stderr.trim_end(),
        "bt-info: error: <stdin>: the file is empty, not a torrent"
    );
    let run = bt("bt-info", &["--json", "magnet:?dn=foo"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.trim_end(),
        "bt-info: error: magnet link \"magnet:?dn=foo\" has no urn:btih or urn:btmh topic"
    );
}

/// On a terminal: sizes in binary units, an ISO 8601 date, piece size and count on one line,
/// files as a tree with indices and pad files hidden; --bytes and --pad.
#[test]
fn human_view_on_a_terminal() {
    let path = corpus().join("libtorrent/v2_hybrid.torrent");
    let cmd = format!(
        "{} {}",
        crate::common::bin("bt-info").display(),
        path.display()
    );
    let (code, shown) = crate::common::on_terminal(&cmd, &[("NO_COLOR", "1")]);
    assert_eq!(code, 0, "{shown}");
    assert!(!shown.contains('\u{1b}'), "NO_COLOR: {shown:?}");
    assert!(!shown.trim_start().starts_with('{'), "not JSON: {shown}");
    let line = |key: &str| -> String {
        shown
            .lines()
            .find(|l| l.len() > 13 && l[..13].trim_start() == key)
            .unwrap_or_else(|| panic!("no {key} line in {shown}"))[15..]
            .to_string()
    };
    assert_eq!(line("pieces"), "1715 pieces of 512.0 KiB");
    assert_eq!(line("total"), "854.1 MiB in 9 files");
    assert_eq!(line("creation date"), "2022-09-14T14:13:59Z");
    assert_eq!(
        line("files"),
        "9 files (9 pad files hidden, --pad shows them)"
    );
    assert!(
        shown.contains("[12]      61 B  readme.txt"),
        "indices and sizes: {shown}"
    );
    assert!(!shown.contains("(pad)"), "{shown}");

    let run = bt(
        "bt-info",
        &["--human", "--bytes", "--pad", path.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = run.stdout_str();
    assert!(text.contains("1715 pieces of 524288"), "{text}");
    assert!(text.contains("(pad)"), "{text}");
    assert!(text.contains("18 files\n"), "{text}");

    // A multi-file torrent is an indented tree.
    let bytes = multi(&[
        (p(&[b"a", b"x.bin"]), 3),
        (p(&[b"a", b"b", b"y.bin"]), 4),
        (p(&[b"z.bin"]), 5),
    ]);
    let (run, path, _dir) = info_of(&bytes, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = bt("bt-info", &["--human", &path]).stdout_str();
    let tree: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("files  "))
        .collect();
    assert_eq!(
        tree[1..],
        [
            "               a/",
            "                 [0] 3 B  x.bin",
            "                 b/",
            "                   [1] 4 B  y.bin",
            "               [2] 5 B  z.bin",
        ],
        "{text}"
    );
}
