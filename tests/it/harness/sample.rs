//! Sample data and torrents, and loopback addresses of their own.

use super::*;
use crate::common::*;
use bt::peer::Limits;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Four files of uneven sizes with an empty one.
pub const SAMPLE: &[(&str, usize)] = &[
    ("a.bin", 300_001),
    ("docs/b.bin", 77_777),
    ("docs/empty.txt", 0),
    ("z.bin", 654_321),
];

/// A tracker URL where nothing answers (the discard port).
pub const NO_TRACKER: &str = "http://127.0.0.1:9/announce";

/// Which program makes a sample's torrent.
#[derive(Clone, Copy, Debug)]
pub enum Maker {
    Mktorrent,
    BtMake,
}

/// Make a torrent of `src` at `out` announcing to `tracker`, in pieces of 2^`piece_log2`.
pub fn make_torrent(maker: Maker, src: &Path, out: &Path, piece_log2: u32, tracker: &str) {
    let _ = std::fs::remove_file(out);
    match maker {
        Maker::Mktorrent => {
            let r = run_cmd(
                Command::new("mktorrent")
                    .args(["-l", &piece_log2.to_string(), "-d", "-a", tracker, "-o"])
                    .arg(out)
                    .arg(src),
                None,
                Duration::from_secs(30),
            );
            assert_eq!(r.code, 0, "mktorrent: {}", r.stderr);
        }
        Maker::BtMake => {
            let r = bt(
                "bt-make",
                &[
                    src.to_str().unwrap(),
                    "-o",
                    out.to_str().unwrap(),
                    "-a",
                    tracker,
                    "--piece-length",
                    &(1u64 << piece_log2).to_string(),
                    "--json",
                ],
            );
            assert_eq!(r.code, 0, "bt-make: {}", r.stderr);
            let made = of::<Made>(&r.stdout_str()).pop().expect("a torrent record");
            let (info_hash, limits) = torrent_limits(out);
            assert_eq!(made.info_hash, bt::metainfo::hex(&info_hash));
            assert_eq!(limits.piece_count as u64, made.piece_count);
            assert_eq!(made.piece_length, 1 << piece_log2);
        }
    }
}

/// A torrent file's v1 info hash and wire limits, read by the library.
pub fn torrent_limits(t: &Path) -> ([u8; 20], Limits) {
    let bytes = std::fs::read(t).unwrap();
    let tor = bt::metainfo::Torrent::from_bytes(&bytes).unwrap();
    (tor.info_hash.unwrap().0, Limits::for_torrent(&tor))
}

/// Deterministic files under `seed/NAME` in a fresh temporary directory, and their torrent.
pub struct Sample {
    pub dir: tempfile::TempDir,
    pub torrent: PathBuf,
    pub info_hash: [u8; 20],
    pub limits: Limits,
    /// (path below the seed directory, length), in the order they were written.
    pub files: Vec<(String, usize)>,
    name: String,
    maker: Maker,
    piece_log2: u32,
}

impl Sample {
    /// [`SAMPLE`] under `seed/sample`, 32 KiB pieces, made by mktorrent.
    pub fn standard() -> Sample {
        Sample::new(Maker::Mktorrent, "sample", SAMPLE, 15)
    }

    /// `files` under `seed/data` in 64 KiB pieces, made by bt-make.
    pub fn data(files: &[(&str, usize)]) -> Sample {
        Sample::new(Maker::BtMake, "data", files, 16)
    }

    /// `files` (paths below `seed/NAME`) made into a torrent by `maker`.
    pub fn new(maker: Maker, name: &str, files: &[(&str, usize)], piece_log2: u32) -> Sample {
        let dir = tempdir();
        let files: Vec<(String, usize)> = files
            .iter()
            .map(|(p, n)| (format!("{name}/{p}"), *n))
            .collect();
        let tree: Vec<(&str, usize)> = files.iter().map(|(p, n)| (p.as_str(), *n)).collect();
        write_tree(&dir.path().join("seed"), &tree);
        let torrent = dir.path().join(format!("{name}.torrent"));
        let src = dir.path().join("seed").join(name);
        make_torrent(maker, &src, &torrent, piece_log2, NO_TRACKER);
        let (info_hash, limits) = torrent_limits(&torrent);
        Sample {
            dir,
            torrent,
            info_hash,
            limits,
            files,
            name: name.to_string(),
            maker,
            piece_log2,
        }
    }

    /// Make the torrent again announcing to `url` (the info hash does not change).
    pub fn announce_to(&self, url: &str) {
        let src = self.seed_dir().join(&self.name);
        make_torrent(self.maker, &src, &self.torrent, self.piece_log2, url);
        assert_eq!(torrent_limits(&self.torrent).0, self.info_hash);
    }

    pub fn info_hash_hex(&self) -> String {
        bt::metainfo::hex(&self.info_hash)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn seed_dir(&self) -> PathBuf {
        self.path("seed")
    }

    /// Pieces in the torrent.
    pub fn pieces(&self) -> u64 {
        self.limits.piece_count as u64
    }

    /// Bytes of content.
    pub fn total(&self) -> usize {
        self.files.iter().map(|f| f.1).sum()
    }

    /// The content as one stream, in torrent order (the sample files' names sort in the
    /// order they are listed).
    pub fn stream(&self) -> Vec<u8> {
        self.files
            .iter()
            .flat_map(|(p, _)| std::fs::read(self.seed_dir().join(p)).unwrap())
            .collect()
    }

    /// Write the sample's files under `root`, as in the seed directory.
    pub fn copy_to(&self, root: &Path) {
        for (p, _) in &self.files {
            std::fs::create_dir_all(root.join(p).parent().unwrap()).unwrap();
            std::fs::copy(self.seed_dir().join(p), root.join(p)).unwrap();
        }
    }

    /// The files under `dl` are byte for byte the seeder's.
    pub fn assert_same(&self, dl: &Path) {
        for (p, _) in &self.files {
            let a = std::fs::read(self.seed_dir().join(p)).unwrap();
            let b = std::fs::read(dl.join(p)).unwrap_or_else(|e| panic!("{p} in {dl:?}: {e}"));
            assert!(a == b, "{p} differs from the seeder's copy");
        }
    }

    /// Overwrite `len` bytes at `at` of the content stream as it lies under `root`.
    pub fn damage(&self, root: &Path, mut at: usize, mut len: usize) {
        for (p, size) in &self.files {
            if len == 0 {
                break;
            }
            if at >= *size {
                at -= size;
                continue;
            }
            let path = root.join(p);
            let mut d = std::fs::read(&path).unwrap();
            let n = len.min(size - at);
            for b in &mut d[at..at + n] {
                *b ^= 0xa5;
            }
            std::fs::write(&path, d).unwrap();
            len -= n;
            at = 0;
        }
    }

    /// bt-verify over `dl`: (exit code, good pieces, sorted bad piece indices).
    pub fn verify(&self, dl: &Path) -> (i32, u64, Vec<u64>) {
        let r = bt(
            "bt-verify",
            &[
                self.torrent.to_str().unwrap(),
                "-d",
                dl.to_str().unwrap(),
                "--bad-pieces",
                "--json",
            ],
        );
        assert!(r.code == 0 || r.code == 1, "bt-verify: {}", r.stderr);
        let s = of::<VerifySummary>(&r.stdout_str())
            .pop()
            .expect("a verify summary");
        let mut bad: Vec<u64> = s
            .bad_piece_indices
            .unwrap_or_default()
            .into_iter()
            .map(|p| p as u64)
            .collect();
        bad.sort_unstable();
        (r.code, s.good_pieces as u64, bad)
    }
}

/// A loopback address of its own for each seeder and fake peer of this test binary
/// (127.0.1.1, 127.0.1.2, ...; tests that name addresses use 127.0.0.x).
pub fn next_ip() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("127.0.{}.{}", 1 + n / 254, 1 + n % 254)
}
