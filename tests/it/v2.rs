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

/// A libtorrent session (Debian's python3-libtorrent) on `ip`, DHT, LSD, UPnP, NAT-PMP and uTP
/// off (it dials uTP first, which bt does not speak, and waits for that to time out):
/// `seed` checks `save` and serves until killed; `fetch` downloads into `save` and exits 0 once
/// it is seeding (1 at the deadline). `peer` (`ip:port` or `-`) is dialled every 2 s while not
/// connected. The first line on stdout is `port N`.
const LT_SESSION: &str = r#"
import sys, time, libtorrent as lt
mode, torrent, save, ip, peer, secs = sys.argv[1:7]
s = lt.session({"listen_interfaces": ip + ":0", "enable_dht": False, "enable_lsd": False,
    "enable_upnp": False, "enable_natpmp": False, "allow_multiple_connections_per_ip": True,
    "enable_outgoing_utp": False, "enable_incoming_utp": False})
if torrent.startswith("magnet:"):
    p = lt.parse_magnet_uri(torrent)
else:
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(torrent)
p.save_path = save
p.flags &= ~(lt.torrent_flags.paused | lt.torrent_flags.auto_managed)
h = s.add_torrent(p)
print("port", s.listen_port(), flush=True)
end = time.time() + float(secs)
dialled = 0
while time.time() < end:
    st = h.status()
    if peer != "-" and st.num_peers == 0 and time.time() - dialled > 2:
        host, port = peer.rsplit(":", 1)
        h.connect_peer((host, int(port)))
        dialled = time.time()
    if mode == "fetch" and st.is_seeding:
        print("done", flush=True)
        sys.exit(0)
    time.sleep(0.1)
sys.exit(1 if mode == "fetch" else 0)
"#;

fn libtorrent_session(
    mode: &str,
    torrent: &str,
    save: &Path,
    ip: &str,
    peer: &str,
    secs: u64,
) -> std::process::Command {
    let mut cmd = std::process::Command::new("/usr/bin/python3");
    cmd.args(["-c", LT_SESSION, mode, torrent])
        .arg(save)
        .args([ip, peer, &secs.to_string()]);
    cmd
}

/// Start a libtorrent seeder of `torrent` from `save`; its `ip:port`.
fn libtorrent_seeder(torrent: &Path, save: &Path) -> (crate::common::Bg, String) {
    use std::io::BufRead;
    let ip = crate::harness::next_ip();
    let mut cmd = libtorrent_session("seed", &torrent.to_string_lossy(), save, &ip, "-", 120);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut bg = crate::common::Bg::spawn(&mut cmd, "libtorrent seeder");
    let mut line = String::new();
    let out = bg.child.stdout.take().unwrap();
    std::io::BufReader::new(out).read_line(&mut line).unwrap();
    let port = line
        .trim()
        .strip_prefix("port ")
        .unwrap_or_else(|| panic!("libtorrent seeder said {line:?}"));
    (bg, format!("{ip}:{port}"))
}

/// `bt-make FLAG -l 32K` of `dir/src/d` into `torrent`.
fn make_from_src(dir: &Path, flag: &str, torrent: &Path) {
    let out = torrent.to_string_lossy();
    let args = [flag, "-l", "32K", "--json", "-o", &out, "d"];
    let r = bt_in("bt-make", &dir.join("src"), &args, None);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// bt-verify finds the data of `torrent` in `dir` all good.
fn verified(dir: &Path, torrent: &Path, what: &str) {
    let r = verify(dir, &torrent.to_string_lossy());
    assert_eq!(r.code, 0, "{what}: {}", r.stdout_str());
}

/// Every file of `FILES` under `a` and `b` is byte for byte the same.
fn same_files(a: &Path, b: &Path) {
    for (p, n) in FILES {
        let (x, y) = (std::fs::read(a.join(p)), std::fs::read(b.join(p)));
        let (x, y) = (x.unwrap(), y.unwrap_or_else(|e| panic!("{p}: {e}")));
        assert_eq!(x.len(), *n, "{p}");
        assert!(x == y, "{p} differs");
    }
}

#[test]
fn fetch_v2_and_hybrid_from_libtorrent_and_serve_them_to_it() {
    let tmp = tempdir();
    let dir = tmp.path();
    write_tree(&dir.join("src"), FILES);
    for (mode, flag) in [("v2", "--v2"), ("hybrid", "--hybrid")] {
        let torrent = dir.join(format!("{mode}.torrent"));
        make_from_src(dir, flag, &torrent);

        // bt-fetch from a libtorrent seeder.
        let (_lt, addr) = libtorrent_seeder(&torrent, &dir.join("src"));
        let got = dir.join(format!("got-{mode}"));
        let r = crate::harness::Fetcher::new(&torrent, &got)
            .peer(&addr)
            .timeout(60)
            .run();
        assert_eq!(r.code, 0, "{mode}: {}\n{}", r.stdout_str(), r.stderr);
        same_files(&dir.join("src"), &got);
        verified(&got, &torrent, mode);
        let pieces = r.summary().pieces;

        // Resume by verification: one flipped byte costs one piece.
        let victim = got.join("d/x/c");
        let mut bytes = std::fs::read(&victim).unwrap();
        bytes[100_000] ^= 1;
        std::fs::write(&victim, &bytes).unwrap();
        let r = crate::harness::Fetcher::new(&torrent, &got)
            .peer(&addr)
            .timeout(60)
            .run();
        assert_eq!(r.code, 0, "{mode}: {}\n{}", r.stdout_str(), r.stderr);
        assert_eq!(
            r.summary().pieces_at_start,
            Some(pieces as u64 - 1),
            "{mode}"
        );
        same_files(&dir.join("src"), &got);

        // libtorrent fetches from bt-seed.
        let seeder = crate::harness::Seeder::of_torrent(&torrent, &dir.join("src")).start();
        let back = dir.join(format!("lt-{mode}"));
        std::fs::create_dir_all(&back).unwrap();
        let ip = crate::harness::next_ip();
        let mut cmd = libtorrent_session(
            "fetch",
            &torrent.to_string_lossy(),
            &back,
            &ip,
            &seeder.peer(),
            60,
        );
        let r = run_cmd(&mut cmd, None, Duration::from_secs(90));
        assert_eq!(r.code, 0, "libtorrent fetch {mode}: {}", r.stderr);
        same_files(&dir.join("src"), &back);
        verified(&back, &torrent, mode);

        // bt-seed answers a handshake on the v2 hash (truncated), and a hybrid's on the v1 hash
        // too, each with the hash it was asked for; another hash gets no answer.
        let (v1, v2) = hashes(dir, &torrent.to_string_lossy());
        let v2 = v2.unwrap()[..40].to_string();
        let mut asked = vec![(v2.clone(), true), ("ab".repeat(20), false)];
        if let Some(v1) = v1 {
            asked.push((v1, true));
        }
        for (hash, answered) in asked {
            assert_eq!(
                handshake(&seeder.peer(), &hash).map(|(h, _)| h),
                answered.then_some(hash.clone()),
                "{mode} {hash}"
            );
            // bt-seed sets the v2 bit for a v2 or hybrid torrent whichever hash the peer came
            // with; libtorrent only on a hybrid's v1 hash (where it offers the upgrade).
            if answered {
                assert!(v2_bit(&seeder.peer(), &hash, 0).1, "bt-seed {mode} {hash}");
            }
        }
        if let Some(v1) = hashes(dir, &torrent.to_string_lossy()).0 {
            assert!(v2_bit(&addr, &v1, 0).1, "libtorrent {mode} v1");
            // A v1 handshake with the v2 bit is upgraded to the v2 hash by both.
            for peer in [&addr, &seeder.peer()] {
                assert_eq!(v2_bit(peer, &v1, 0x10).0, v2, "{peer} {mode}");
            }
        }
        hash_requests_are_answered(&seeder.peer(), &torrent);
    }
}

/// bt-seed answers BEP 52 hash requests for the piece layer of `d/x/c` (ten 32 KiB pieces)
/// with hashes that prove themselves to its pieces root, and rejects one outside the layer.
fn hash_requests_are_answered(addr: &str, torrent: &Path) {
    use bt::peer::hashes::HashRequest;
    use bt::peer::{decode, Limits, Message};
    use std::io::{Read, Write};
    let t = bt::metainfo::Torrent::from_bytes(&std::fs::read(torrent).unwrap()).unwrap();
    let file = t
        .files
        .iter()
        .find(|f| f.path == [b"x".to_vec(), b"c".to_vec()]);
    let root = file.unwrap().pieces_root.unwrap();
    let hash = t.info_hash_v2.unwrap().truncated().hex();
    let (_, mut s) = handshake(addr, &hash).unwrap();
    let limits = Limits::for_torrent(&t);
    let asks = [
        (0, 16, 0, true),
        (8, 8, 1, true),
        (0, 4, 2, true),
        (16, 16, 0, false),
    ];
    for (index, length, proof_layers, good) in asks {
        let req = HashRequest {
            pieces_root: root,
            base_layer: 1,
            index,
            length,
            proof_layers,
        };
        s.write_all(&Message::HashRequest(req).to_bytes()).unwrap();
        let mut buf = Vec::new();
        let answer = loop {
            match decode(&buf, &limits).unwrap() {
                Some((m @ (Message::Hashes { .. } | Message::HashReject(_)), _)) => break m,
                Some((_, used)) => drop(buf.drain(..used)),
                None => {
                    let mut chunk = [0u8; 4096];
                    let n = s.read(&mut chunk).unwrap();
                    assert!(n > 0, "bt-seed closed the connection");
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
        };
        match answer {
            Message::Hashes { request, hashes } if good => {
                assert_eq!(request, req);
                let got = bt::merkle::check_layer_hashes(&root, 32768, 10, &req, &hashes);
                assert!(
                    got.is_some(),
                    "{req:?}: {} hashes do not prove",
                    hashes.len()
                );
            }
            Message::HashReject(r) if !good => assert_eq!(r, req),
            other => panic!("{req:?} answered with {other:?}"),
        }
    }
}

/// Handshake on `hash` (hex) with `bits` in reserved byte 7: the hash `addr` answers with, and
/// whether its answer sets the BEP 52 v2 bit (0x10 of reserved byte 7).
fn v2_bit(addr: &str, hash: &str, bits: u8) -> (String, bool) {
    let (back, _) = handshake_bytes(addr, hash, bits).expect("an answer");
    let hex = back[28..48].iter().map(|b| format!("{b:02x}")).collect();
    (hex, back[27] & 0x10 != 0)
}

/// Send a plain handshake on `hash` (hex) to `addr`; the hash of the answer (None: no answer)
/// and the connection.
fn handshake(addr: &str, hash: &str) -> Option<(String, std::net::TcpStream)> {
    let (back, s) = handshake_bytes(addr, hash, 0)?;
    Some((back[28..48].iter().map(|b| format!("{b:02x}")).collect(), s))
}

/// Send a plain handshake on `hash` (hex) with `bits` in reserved byte 7 to `addr`; the 68
/// bytes of the answer and the connection.
fn handshake_bytes(addr: &str, hash: &str, bits: u8) -> Option<([u8; 68], std::net::TcpStream)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut h = b"\x13BitTorrent protocol".to_vec();
    h.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, bits]);
    h.extend((0..20).map(|i| u8::from_str_radix(&hash[2 * i..2 * i + 2], 16).unwrap()));
    // A peer id of its own per connection: bt-seed drops a newcomer with the id of a peer it
    // still holds, and an earlier test connection may not be gone yet on a loaded machine.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    h.extend_from_slice(format!("-XX0000-{n:012}").as_bytes());
    s.write_all(&h).unwrap();
    let mut back = [0u8; 68];
    s.read_exact(&mut back).ok()?;
    Some((back, s))
}

/// `FILES` under `dir/src`, `bt-make --v2` of them as `dir/v2.torrent`: its path, its v2 info
/// hash, and a magnet with only that hash (`btmh`).
fn v2_and_its_btmh_magnet(dir: &Path) -> (std::path::PathBuf, Option<String>, String) {
    write_tree(&dir.join("src"), FILES);
    let torrent = dir.join("v2.torrent");
    make_from_src(dir, "--v2", &torrent);
    let (_, v2) = hashes(dir, &torrent.to_string_lossy());
    let magnet = format!("magnet:?xt=urn:btmh:1220{}&dn=d", v2.clone().unwrap());
    (torrent, v2, magnet)
}

#[test]
fn fetch_a_btmh_magnet_from_libtorrent_with_hash_requests() {
    let tmp = tempdir();
    let dir = tmp.path();
    let (torrent, v2, magnet) = v2_and_its_btmh_magnet(dir);
    let (_lt, addr) = libtorrent_seeder(&torrent, &dir.join("src"));
    let got = dir.join("got");
    let r = crate::harness::Fetcher::new(Path::new(&magnet), &got)
        .peer(&addr)
        .timeout(60)
        .args(&["--torrent-out", &dir.join("out.torrent").to_string_lossy()])
        .run();
    // Complete means every piece passed its merkle check: the files of several pieces were
    // judged by piece layers, which only libtorrent's answers to hash requests could supply.
    assert_eq!(r.code, 0, "{}\n{}", r.stdout_str(), r.stderr);
    same_files(&dir.join("src"), &got);
    // The metadata came by ut_metadata: the same v2 info hash as the torrent.
    assert_eq!(
        hashes(dir, "out.torrent"),
        hashes(dir, &torrent.to_string_lossy())
    );
    verified(&got, &torrent, "btmh");
    written_torrent_stands_alone(dir, "out.torrent", &got, &v2);

    // The same off bt-seed, which answers the hash requests itself.
    let seeder = crate::harness::Seeder::of_torrent(&torrent, &dir.join("src")).start();
    let got = dir.join("got-bt");
    let r = crate::harness::Fetcher::new(Path::new(&magnet), &got)
        .peer(seeder.peer())
        .timeout(60)
        .args(&["--torrent-out", &dir.join("bt.torrent").to_string_lossy()])
        .run();
    assert_eq!(r.code, 0, "{}\n{}", r.stdout_str(), r.stderr);
    same_files(&dir.join("src"), &got);
    written_torrent_stands_alone(dir, "bt.torrent", &got, &v2);
}

/// The torrent bt-fetch wrote from a `btmh` magnet holds the piece layers peers sent (one for
/// every file of more than one 32 KiB piece) and keeps the magnet's v2 info hash, and
/// bt-verify judges `got` by v2 hashes with it alone.
fn written_torrent_stands_alone(dir: &Path, out: &str, got: &Path, v2: &Option<String>) {
    let r = bt_in("bt-info", dir, &["--json", out], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = r.torrent();
    assert_eq!(t.info_hash_v2.as_ref(), v2.as_ref());
    let multi = FILES.iter().filter(|(_, n)| *n > 32768).count() as u64;
    assert_eq!(
        (t.piece_layers, t.piece_layers_missing),
        (Some(multi), Some(0))
    );
    let r = verify(got, &dir.join(out).to_string_lossy());
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert!(
        r.files()
            .iter()
            .all(|f| f.length == 0 || f.hash.as_deref() == Some("v2")),
        "{}",
        r.stdout_str()
    );
}

#[test]
fn libtorrent_fetches_a_btmh_magnet_from_bt_seed_with_hash_requests() {
    let tmp = tempdir();
    let dir = tmp.path();
    let (torrent, _, magnet) = v2_and_its_btmh_magnet(dir);
    // bt-seed is libtorrent's only peer: it sends the info dictionary (ut_metadata) and,
    // since a magnet carries no piece layers, the hashes of every file of more than one piece
    // with their uncle hashes, which libtorrent checks against each file's root before it
    // can accept a single piece of that file.
    let seeder = crate::harness::Seeder::of_torrent(&torrent, &dir.join("src")).start();
    let back = dir.join("lt");
    std::fs::create_dir_all(&back).unwrap();
    let ip = crate::harness::next_ip();
    let mut cmd = libtorrent_session("fetch", &magnet, &back, &ip, &seeder.peer(), 60);
    let r = run_cmd(&mut cmd, None, Duration::from_secs(90));
    assert_eq!(
        r.code, 0,
        "libtorrent fetch of the btmh magnet: {}",
        r.stderr
    );
    same_files(&dir.join("src"), &back);
    verified(&back, &torrent, "btmh from bt-seed");
}
