//! Verifying v2-only and hybrid torrents (BEP 52): each file is judged by its own hashes.
//!
//! A file's pieces are hashed as a merkle tree of 16 KiB leaves ([`crate::merkle`]) and each
//! piece compared with the file's `piece layers` entry (a file of one piece: with its `pieces
//! root`). A file of several pieces whose layer the torrent lacks is judged whole against its
//! root: all its pieces good or all bad. Every file starts on a piece boundary, so no piece is
//! shared with a neighbour and a bad file never spoils another.
//!
//! For a hybrid the same bytes also go through SHA-1 in the same pass (the file's last piece
//! followed by its pad file's zeros) and are compared with the v1 `pieces`: a piece judged good
//! by one hash set and bad by the other is an error of the torrent ([`Error::HashesDisagree`]),
//! not of the data. Runs of at most [`storage::WINDOW`] bytes are hashed in parallel (rayon).
//!
//! [`PieceCheck`] judges one piece at a time, as the swarm completes them: SHA-1 against the v1
//! `pieces` (v1 and hybrid), and the merkle subtree of the file bytes in the piece against the
//! file's piece layer, or its `pieces root` for a file of one piece (v2 and hybrid). Both must
//! hold. It also holds the piece layers that bt-seed answers `hash request`s from.

use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};

use crate::sha1_lanes::{State, Stream};
use rayon::prelude::*;
use sha1::{Digest, Sha1};

use super::{Error, FileReport, FileStatus, Report};
use crate::geometry::Geometry;
use crate::merkle::{file_root, PieceHasher};
use crate::metainfo::{Torrent, Version};
use crate::sha1_lanes;
use crate::storage::{self, FileState, Storage};

/// The hashes a piece completed by the swarm is judged by (see the module notes).
#[derive(Debug, Clone, Default)]
pub struct PieceCheck {
    v1: Vec<[u8; 20]>,
    /// Set for v2-only and hybrid torrents.
    v2: Option<V2Hashes>,
}

#[derive(Debug, Clone)]
struct V2Hashes {
    geo: Geometry,
    roots: Vec<Option<[u8; 32]>>,
    layers: std::collections::HashMap<[u8; 32], Vec<[u8; 32]>>,
    /// The trees above the layers, built on the first hash request (then each answer costs
    /// only the hashes it carries).
    trees: Arc<OnceLock<Trees>>,
}

type Trees = std::collections::HashMap<[u8; 32], Vec<Vec<[u8; 32]>>>;

impl PieceCheck {
    /// SHA-1 only, against these piece hashes.
    pub fn v1(hashes: Vec<[u8; 20]>) -> PieceCheck {
        PieceCheck {
            v1: hashes,
            v2: None,
        }
    }

    /// Every hash a validated torrent has.
    pub fn new(t: &Torrent) -> PieceCheck {
        let v2 = (t.version != Version::V1).then(|| V2Hashes {
            geo: Geometry::new(t),
            roots: t.files.iter().map(|f| f.pieces_root).collect(),
            layers: t.piece_layers.clone(),
            trees: Arc::default(),
        });
        PieceCheck {
            v1: t.pieces.clone(),
            v2,
        }
    }

    /// Whether the merkle trees take part (v2-only and hybrid torrents).
    pub fn has_v2(&self) -> bool {
        self.v2.is_some()
    }

    /// The piece layer of the file with this `pieces root`, when the torrent has it.
    pub fn layer(&self, root: &[u8; 32]) -> Option<&[[u8; 32]]> {
        self.v2.as_ref()?.layers.get(root).map(Vec::as_slice)
    }

    /// The answer to a BEP 52 hash request for a piece layer (see
    /// [`crate::merkle::tree_hashes`]); None: no such layer, or outside it.
    pub fn answer(&self, req: &crate::peer::hashes::HashRequest) -> Option<Vec<[u8; 32]>> {
        let v2 = self.v2.as_ref()?;
        let pl = v2.geo.piece_length();
        let trees = v2.trees.get_or_init(|| {
            v2.layers
                .iter()
                .map(|(root, layer)| (*root, crate::merkle::layer_tree(layer, pl)))
                .collect()
        });
        crate::merkle::tree_hashes(trees.get(&req.pieces_root)?, pl, req)
    }

    /// A hasher for piece `piece`: feed it the whole piece (pad bytes included), then ask.
    pub fn hasher(&self, piece: usize) -> PieceHash {
        let merkle = self.v2.as_ref().and_then(|v2| {
            let (file, len) = v2.geo.piece_file(piece)?;
            let pl = v2.geo.piece_length();
            let file_len = v2.geo.file_len(file);
            let root = v2.roots.get(file).copied().flatten()?;
            let k = piece - (v2.geo.file_start(file) / pl) as usize;
            let want = if file_len <= pl {
                Some(root)
            } else {
                v2.layers.get(&root).and_then(|l| l.get(k)).copied()
            };
            Some(Merkle {
                hasher: PieceHasher::new(pl, file_len),
                left: len,
                want,
                got: None,
            })
        });
        PieceHash {
            sha1: self.v1.get(piece).map(|h| (Stream::new(), *h)),
            v1_expected: !self.v1.is_empty(),
            merkle,
            v2_expected: self.v2.is_some(),
        }
    }
}

/// One piece being hashed for a [`PieceCheck`].
pub struct PieceHash {
    sha1: Option<(Stream, [u8; 20])>,
    v1_expected: bool,
    merkle: Option<Merkle>,
    v2_expected: bool,
}

struct Merkle {
    hasher: PieceHasher,
    /// File bytes of the piece still to come (the rest of the piece is pad).
    left: u64,
    /// None: the torrent lacks the file's piece layer, so v2 cannot judge the piece.
    want: Option<[u8; 32]>,
    got: Option<[u8; 32]>,
}

impl PieceHash {
    /// The next bytes of the piece.
    pub fn update(&mut self, data: &[u8]) {
        if let Some((h, _)) = &mut self.sha1 {
            h.update(data);
        }
        if let Some(m) = &mut self.merkle {
            let k = m.left.min(data.len() as u64) as usize;
            let got = &mut m.got;
            m.hasher.feed(&data[..k], &mut |r| *got = Some(r));
            m.left -= k as u64;
        }
    }

    /// The SHA-1 state, when SHA-1 alone judges the piece (a v1 torrent) and the bytes so far
    /// are whole 64-byte blocks: whole blocks may then be fed to it directly, side by side
    /// with other pieces' ([`crate::sha1_lanes::update_each`]), instead of through `update`.
    pub fn sha1_blocks(&mut self) -> Option<&mut State> {
        match (&mut self.sha1, &self.merkle) {
            (Some((h, _)), None) => h.blocks(),
            _ => None,
        }
    }

    /// Whether the piece is good by every hash set the torrent has.
    pub fn good(self) -> bool {
        let v1 = match self.sha1 {
            Some((h, want)) => h.finish() == want,
            None => !self.v1_expected,
        };
        let v2 = match self.merkle {
            Some(Merkle {
                hasher,
                left: 0,
                want: Some(want),
                mut got,
            }) => {
                hasher.finish(&mut |r| got = Some(r));
                got == Some(want)
            }
            // A hybrid without this layer is judged by SHA-1 alone.
            Some(Merkle { want: None, .. }) => self.v1_expected,
            Some(_) => false,
            None => !self.v2_expected,
        };
        v1 && v2
    }
}

/// One run of consecutive pieces of one file, hashed by one worker.
struct Run {
    file: usize,
    /// Piece indices inside the file.
    pieces: Range<u64>,
}

/// What a run found, piece by piece (indices inside the file).
struct Found {
    run: usize,
    v2: Vec<[u8; 32]>,
    v1: Vec<[u8; 20]>,
    error: Option<String>,
}

/// Verify a v2-only or hybrid torrent.
pub(super) fn verify(
    t: &Torrent,
    storage: &Storage,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Report, Error> {
    let geo = storage.geometry();
    let pl = t.piece_length;
    let hybrid = t.version == Version::Hybrid;
    let judged: Vec<usize> = (0..t.files.len())
        .filter(|&f| !t.files[f].pad && t.files[f].symlink.is_none())
        .collect();
    let states: Vec<FileState> = judged.par_iter().map(|&f| storage.stat(f)).collect();

    let mut runs = Vec::new();
    let mut skipped = 0u64;
    for (&f, state) in judged.iter().zip(&states) {
        let len = t.files[f].length;
        let avail = match state {
            FileState::Present(n) => (*n).min(len),
            _ => 0,
        };
        let readable = if avail == len {
            len.div_ceil(pl)
        } else {
            avail / pl
        };
        let base = t.files[f].offset / pl;
        skipped += (readable..len.div_ceil(pl))
            .map(|p| piece_len(t, base + p))
            .sum::<u64>();
        let per_run = (storage::WINDOW / pl).max(1);
        let mut p = 0;
        while p < readable {
            let end = (p + per_run).min(readable);
            runs.push(Run {
                file: f,
                pieces: p..end,
            });
            p = end;
        }
    }
    if skipped > 0 {
        progress(skipped);
    }

    let found: Mutex<Vec<Found>> = Mutex::new(Vec::with_capacity(runs.len()));
    let bytes_checked: u64 = runs
        .par_iter()
        .enumerate()
        .map_init(Vec::new, |scratch, (i, run)| {
            let (res, bytes) = hash_run(t, storage, run, hybrid, scratch, progress);
            found
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Found { run: i, ..res });
            bytes
        })
        .sum();
    let mut found = found.into_inner().unwrap_or_else(|p| p.into_inner());
    found.sort_by_key(|f| f.run);

    // Per file: the hashes computed, in piece order (a run's error leaves its tail out).
    let count = t.piece_count();
    let mut have_v1 = vec![false; count];
    let mut have_v2 = vec![false; count];
    let mut exact_v2 = vec![false; count];
    let mut errors: Vec<(usize, String)> = Vec::new();
    let mut by_file: std::collections::HashMap<usize, Vec<[u8; 32]>> = Default::default();
    for fd in found {
        let run = &runs[fd.run];
        let base = (t.files[run.file].offset / pl) as usize;
        for (k, h) in fd.v1.iter().enumerate() {
            let p = base + run.pieces.start as usize + k;
            have_v1[p] = t.pieces.get(p) == Some(h);
        }
        by_file.entry(run.file).or_default().extend(fd.v2);
        if let Some(e) = fd.error {
            errors.push((run.file, e));
        }
    }
    for (&f, hashes) in &by_file {
        let file = &t.files[f];
        let base = (file.offset / pl) as usize;
        let root = file.pieces_root.unwrap_or_default();
        let n = file.length.div_ceil(pl) as usize;
        if n == 1 {
            have_v2[base] = hashes.first() == Some(&root);
            exact_v2[base] = !hashes.is_empty();
        } else if let Some(layer) = t.piece_layers.get(&root) {
            for (k, h) in hashes.iter().enumerate() {
                have_v2[base + k] = layer.get(k) == Some(h);
                exact_v2[base + k] = true;
            }
        } else if hashes.len() == n && file_root(hashes, pl) == root {
            have_v2[base..base + n].fill(true);
        }
    }
    if hybrid {
        let disagree: Vec<usize> = (0..count)
            .filter(|&p| exact_v2[p] && have_v1[p] != have_v2[p])
            .collect();
        if !disagree.is_empty() {
            return Err(Error::HashesDisagree(disagree));
        }
    }
    let have: Vec<bool> = (0..count)
        .map(|p| have_v2[p] && (!hybrid || have_v1[p]))
        .collect();
    let files = judged
        .iter()
        .zip(states)
        .map(|(&f, state)| {
            let file = &t.files[f];
            let base = (file.offset / pl) as usize;
            let pieces = base..base + file.length.div_ceil(pl) as usize;
            let bad_pieces: Vec<usize> = pieces.clone().filter(|&p| !have[p]).collect();
            let error = errors.iter().find(|(e, _)| *e == f).map(|(_, m)| m.clone());
            let (status, bytes_on_disk, error) = match state {
                FileState::Missing => (FileStatus::Missing, 0, None),
                FileState::Unusable(e) => (FileStatus::Unreadable, 0, Some(e.to_string())),
                FileState::Present(len) => (
                    if error.is_some() {
                        FileStatus::Unreadable
                    } else if len != file.length {
                        FileStatus::WrongSize
                    } else if !bad_pieces.is_empty() {
                        FileStatus::Incomplete
                    } else {
                        FileStatus::Complete
                    },
                    len,
                    error,
                ),
            };
            FileReport {
                file: f,
                length: geo.file_len(f),
                status,
                pieces,
                bad_pieces,
                shared_bad_pieces: 0,
                bytes_on_disk,
                error,
                hash: (file.length > 0).then_some(if hybrid { "v1+v2" } else { "v2" }),
            }
        })
        .collect();
    Ok(Report {
        have,
        files,
        bytes_checked,
        wanted: None,
    })
}

/// Length of piece `p` of the torrent's stream (pad files and v2 alignment included), so that
/// progress adds up to `t.total_length`.
fn piece_len(t: &Torrent, p: u64) -> u64 {
    t.piece_length.min(t.total_length - p * t.piece_length)
}

/// Hash one run: v2 piece hashes, and v1 ones for a hybrid. Returns them and the bytes read.
fn hash_run(
    t: &Torrent,
    storage: &Storage,
    run: &Run,
    hybrid: bool,
    scratch: &mut Vec<u8>,
    progress: &(dyn Fn(u64) + Sync),
) -> (Found, u64) {
    let pl = t.piece_length;
    let len = t.files[run.file].length;
    let geo = storage.geometry();
    let from = run.pieces.start * pl;
    let to = (run.pieces.end * pl).min(len);
    let mut out = Found {
        run: 0,
        v2: Vec::with_capacity((run.pieces.end - run.pieces.start) as usize),
        v1: Vec::new(),
        error: None,
    };
    let mut merkle = PieceHasher::new(pl, len);
    let mut sha1 = Sha1::new();
    let mut at = from;
    storage.prefetch(geo.file_start(run.file) + to, storage::READAHEAD);
    let res = storage.visit(
        geo.file_start(run.file) + from,
        to - from,
        scratch,
        &mut |mut c| {
            if at.is_multiple_of(pl) && c.len() as u64 >= pl {
                // Whole pieces lying in `c`: their SHA-1s several at once (see `sha1_lanes`),
                // their leaves too (see `PieceHasher`). None needs pad: it is `pl` bytes.
                let first = (t.files[run.file].offset + at) / pl;
                let used = (c.len() as u64 / pl * pl) as usize;
                if hybrid {
                    sha1_lanes::whole_pieces(&c[..used], pl as usize, &mut |d| out.v1.push(d));
                }
                merkle.feed(&c[..used], &mut |r| out.v2.push(r));
                for p in first..first + used as u64 / pl {
                    progress(piece_len(t, p));
                }
                c = &c[used..];
                at += used as u64;
            }
            while !c.is_empty() {
                let piece_end = (at / pl + 1) * pl;
                let k = ((piece_end.min(len) - at) as usize).min(c.len());
                if hybrid {
                    sha1.update(&c[..k]);
                }
                merkle.feed(&c[..k], &mut |r| out.v2.push(r));
                c = &c[k..];
                at += k as u64;
                if at == piece_end || at == len {
                    if hybrid {
                        // The pad file's zeros complete the file's last v1 piece.
                        let piece = ((t.files[run.file].offset + at - 1) / pl) as usize;
                        let mut zeros = geo.piece_len(piece) - (at - (at - 1) / pl * pl);
                        static ZEROS: [u8; 16384] = [0; 16384];
                        while zeros > 0 {
                            let z = zeros.min(ZEROS.len() as u64);
                            sha1.update(&ZEROS[..z as usize]);
                            zeros -= z;
                        }
                        out.v1.push(sha1.finalize_reset().into());
                    }
                    progress(piece_len(t, (t.files[run.file].offset + at - 1) / pl));
                }
            }
        },
    );
    match res {
        Ok(()) if to == len => merkle.finish(&mut |r| out.v2.push(r)),
        Ok(()) => {}
        Err(e) => {
            out.error = Some(e.to_string());
            out.v1.truncate(out.v2.len());
        }
    }
    (out, to - from)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::create;
    use crate::storage::Io;

    /// A v2 or hybrid torrent of files under `dir/t`, made by bt-make's library.
    fn make(dir: &std::path::Path, version: Version) -> Torrent {
        let root = dir.join("t");
        std::fs::create_dir_all(root.join("s")).unwrap();
        for (name, n) in [("a", 40_000u32), ("e", 0), ("s/b", 100_000), ("z", 5)] {
            let data: Vec<u8> = (0..n).map(|i| (i * 31 + n) as u8).collect();
            std::fs::write(root.join(name), data).unwrap();
        }
        let opts = create::Options {
            piece_length: Some(16384),
            version,
            ..Default::default()
        };
        let made = create::create(&root, &opts, &|_| {}).unwrap();
        Torrent::from_bytes(&made.bytes).unwrap()
    }

    fn check(t: &Torrent, dir: &std::path::Path) -> Result<Report, Error> {
        let done = AtomicU64::new(0);
        let r = super::super::verify(t, &Storage::open(t, dir, Io::Mmap), &|n| {
            done.fetch_add(n, Ordering::Relaxed);
        });
        if r.is_ok() {
            assert_eq!(done.into_inner(), t.total_length, "progress adds up");
        }
        r
    }

    #[test]
    fn piece_check_judges_each_piece_by_its_own_file() {
        for version in [Version::V2, Version::Hybrid] {
            let dir = tempfile::tempdir().unwrap();
            let t = make(dir.path(), version);
            let storage = Storage::open(&t, dir.path(), Io::Plain);
            let geo = storage.geometry();
            let check = PieceCheck::new(&t);
            assert!(check.has_v2());
            for p in 0..geo.piece_count() {
                let mut data = storage.read_piece(p).unwrap();
                assert_eq!(data.len() as u64, t.piece_length, "{version:?} {p}");
                let mut h = check.hasher(p);
                h.update(&data);
                assert!(h.good(), "{version:?} piece {p}");
                // Fed in odd slices: the same verdict.
                let mut h = check.hasher(p);
                data.chunks(1000).for_each(|c| h.update(c));
                assert!(h.good(), "{version:?} piece {p} in slices");
                data[0] ^= 1;
                let mut h = check.hasher(p);
                h.update(&data);
                assert!(!h.good(), "{version:?} flipped piece {p}");
            }
            // Another file's piece does not pass.
            let mut h = check.hasher(geo.piece_count() - 1);
            h.update(&storage.read_piece(0).unwrap());
            assert!(!h.good());
        }
    }

    #[test]
    fn files_are_judged_alone_and_progress_adds_up() {
        for version in [Version::V2, Version::Hybrid] {
            let dir = tempfile::tempdir().unwrap();
            let t = make(dir.path(), version);
            let r = check(&t, dir.path()).unwrap();
            assert!(r.ok(), "{version:?}");
            assert_eq!(r.have.len(), t.piece_count());
            let want = if version == Version::V2 {
                "v2"
            } else {
                "v1+v2"
            };
            let hashes: Vec<_> = r.files.iter().map(|f| f.hash).collect();
            assert_eq!(hashes, [Some(want), None, Some(want), Some(want)]);

            // s/b shortened: its own last pieces are bad, nothing else.
            let b = dir.path().join("t/s/b");
            let data = std::fs::read(&b).unwrap();
            std::fs::write(&b, &data[..50_000]).unwrap();
            let r = check(&t, dir.path()).unwrap();
            let st: Vec<_> = r.files.iter().map(|f| f.status.as_str()).collect();
            assert_eq!(st, ["complete", "complete", "wrong_size", "complete"]);
            assert_eq!(r.files[2].bad_pieces.len(), 4, "{version:?}");
            assert!(r.files.iter().all(|f| f.shared_bad_pieces == 0));
        }
    }
}
