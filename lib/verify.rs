//! Parallel piece verification with a per-file report.
//!
//! [`verify`] hashes every piece whose bytes are all present on disk, in parallel (rayon), and
//! compares it with the torrent's SHA-1. It answers which pieces are good (the bitfield that
//! bt-fetch resumes from and bt-seed serves) and, per file, what is wrong. Invariants:
//!
//! - A missing or short file is a hole at its own offset: only the pieces touching the hole are
//!   bad; pieces of other files keep their places and are checked normally.
//! - A bad piece that spans several files is charged to each of them
//!   ([`FileReport::shared_bad_pieces`] counts those).
//! - Memory is bounded: each worker streams runs of consecutive pieces of at most
//!   [`storage::WINDOW`] bytes through one reusable buffer (or a map of that size), and no
//!   piece is allocated.
//! - An I/O error never aborts the run: it marks the pieces it touches bad and the file
//!   `unreadable`, with the message.
//!
//! [`Content::open`] finds a torrent's content at a [`Place`] (`DIR/<name>` or the content's
//! own path) and refuses a place that cannot hold it before anything is read.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;
use sha1::{Digest, Sha1};

use crate::metainfo::{Torrent, Version};
use crate::sha1_lanes;
use crate::storage::{self, FileState, Storage};

mod v2;

pub use v2::{PieceCheck, PieceHash};

/// What verification found for one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    /// Right length and every piece touching it is good.
    Complete,
    /// Right length, but some piece touching it is bad.
    Incomplete,
    /// Not on disk.
    Missing,
    /// On disk with a length other than the torrent's (its pieces are still checked).
    WrongSize,
    /// Cannot be read (permissions, a symlink, not a regular file, changed while read...).
    Unreadable,
}

impl FileStatus {
    /// The word used in records: `complete`, `incomplete`, `missing`, `wrong_size`,
    /// `unreadable`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Complete => "complete",
            FileStatus::Incomplete => "incomplete",
            FileStatus::Missing => "missing",
            FileStatus::WrongSize => "wrong_size",
            FileStatus::Unreadable => "unreadable",
        }
    }
}

impl fmt::Display for FileStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict on one (non-pad) file.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// Index in the torrent's file list.
    pub file: usize,
    /// Length the torrent gives.
    pub length: u64,
    /// The verdict.
    pub status: FileStatus,
    /// The pieces holding bytes of this file (empty for a zero-length file).
    pub pieces: Range<usize>,
    /// The bad pieces among them, ascending.
    pub bad_pieces: Vec<usize>,
    /// How many of `bad_pieces` also hold bytes of other files (charged to each of them).
    pub shared_bad_pieces: usize,
    /// Length on disk (0 when missing).
    pub bytes_on_disk: u64,
    /// Why the file is unreadable or the first read error met, if any.
    pub error: Option<String>,
    /// Which hashes judged the file: `v1`, `v2` or `v1+v2` (a hybrid); `None` for an empty
    /// file, which has nothing to hash.
    pub hash: Option<&'static str>,
}

/// The result of a verification.
#[derive(Debug, Clone)]
pub struct Report {
    /// `have[p]` is true when piece `p` matches its hash.
    pub have: Vec<bool>,
    /// One report per file, in torrent order; pad files and BEP 47 symlink entries (which
    /// hold no bytes and are not created) are left out.
    pub files: Vec<FileReport>,
    /// Bytes actually read and hashed.
    pub bytes_checked: u64,
    /// The pieces judged, when only some files were chosen (`None`: every piece); pieces
    /// outside it are neither good nor bad and `files` lists only the chosen files.
    pub wanted: Option<Vec<bool>>,
}

impl Report {
    /// Number of good pieces.
    pub fn good_pieces(&self) -> usize {
        (0..self.have.len())
            .filter(|&p| self.have[p] && self.judged(p))
            .count()
    }

    /// Indices of the bad pieces, ascending.
    pub fn bad_pieces(&self) -> Vec<usize> {
        (0..self.have.len())
            .filter(|&p| !self.have[p] && self.judged(p))
            .collect()
    }

    /// Whether piece `p` was judged (see [`Report::wanted`]).
    pub fn judged(&self, p: usize) -> bool {
        self.wanted.as_ref().is_none_or(|w| w[p])
    }

    /// How many pieces were judged.
    pub fn piece_count(&self) -> usize {
        (0..self.have.len()).filter(|&p| self.judged(p)).count()
    }

    /// Every piece judged good and every file reported complete (right length).
    pub fn ok(&self) -> bool {
        self.bad_pieces().is_empty() && self.files.iter().all(|f| f.status == FileStatus::Complete)
    }
}

/// Why verification could not run at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A v1 torrent without piece hashes (metainfo validation never lets one through).
    NoV1Hashes,
    /// A hybrid torrent's v1 and v2 hashes judge these pieces differently: the torrent does not
    /// describe one content twice.
    HashesDisagree(Vec<usize>),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoV1Hashes => {
                f.write_str("the torrent has no piece hashes to check against")
            }
            Error::HashesDisagree(p) => write!(
                f,
                "the torrent's v1 and v2 hashes disagree on {} piece(s) (first: {}): the hybrid torrent is inconsistent",
                p.len(),
                p.first().copied().unwrap_or_default()
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Check every piece of `t` stored in `storage`; `progress` is called with bytes done (also
/// for pieces skipped because a file is missing), from several threads. v2-only and hybrid
/// torrents are judged file by file against their merkle trees (a hybrid against its v1
/// hashes too, in the same pass).
pub fn verify(
    t: &Torrent,
    storage: &Storage,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Report, Error> {
    verify_chosen(t, storage, None, progress)
}

/// [`verify`] only the files marked in `chosen` (every file when `None`): only the pieces
/// holding their bytes are read, and the report judges those pieces and lists those files.
/// Bytes of files not chosen that those pieces hold are read from the files, or from the parts
/// file (see [`Storage::create_chosen`]) when the files are not on disk.
pub fn verify_chosen(
    t: &Torrent,
    storage: &Storage,
    chosen: Option<&[bool]>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Report, Error> {
    let wanted = chosen.map(|c| storage.geometry().pieces_of(c));
    let mut report = if t.version != Version::V1 {
        v2::verify(t, storage, progress)?
    } else {
        verify_v1(t, storage, wanted.as_deref(), progress)?
    };
    if let Some(c) = chosen {
        report
            .files
            .retain(|f| c.get(f.file).copied().unwrap_or(false));
        report.wanted = wanted;
    }
    Ok(report)
}

fn verify_v1(
    t: &Torrent,
    storage: &Storage,
    wanted: Option<&[bool]>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Report, Error> {
    let geo = storage.geometry();
    let count = geo.piece_count();
    if t.pieces.len() != count {
        return Err(Error::NoV1Hashes);
    }
    let nfiles = geo.file_count();
    let states: Vec<Option<FileState>> = (0..nfiles)
        .into_par_iter()
        .map(|f| (!geo.is_pad(f) && t.files[f].symlink.is_none()).then(|| storage.stat(f)))
        .collect();
    // Bytes of each file that can be read from the start.
    let avail: Vec<u64> = states
        .iter()
        .enumerate()
        .map(|(f, s)| match s {
            None => geo.file_len(f),
            Some(FileState::Present(len)) => (*len).min(geo.file_len(f)),
            Some(_) => 0,
        })
        .collect();
    // A piece is read when every byte is there; bytes of a file kept in the parts file count
    // as there for a piece that also holds bytes of a file on disk (the only pieces whose
    // bytes go to the parts file).
    let possible = |p: usize| {
        let parted = |f: usize| storage.parted(f);
        wanted.is_none_or(|w| w[p])
            && geo
                .piece_segments(p)
                .all(|s| s.pad || parted(s.file) || s.file_offset + s.len <= avail[s.file])
            && geo.piece_segments(p).any(|s| !s.pad && !parted(s.file))
    };

    // Runs of consecutive readable pieces, at most WINDOW bytes each (at least one piece), or
    // LANES pieces where fewer fit in a window: those are hashed side by side, a slice of each
    // at a time.
    let pl = geo.piece_length();
    let side_by_side = sha1_lanes::side_by_side(pl, storage::WINDOW);
    let run_limit = if side_by_side {
        pl * sha1_lanes::LANES as u64
    } else {
        storage::WINDOW
    };
    let mut runs: Vec<Range<usize>> = Vec::new();
    let mut skipped = 0u64;
    let mut run_bytes = 0u64;
    for p in 0..count {
        if !possible(p) {
            skipped += geo.piece_len(p);
            continue;
        }
        match runs.last_mut() {
            Some(r) if r.end == p && run_bytes + geo.piece_len(p) <= run_limit => {
                r.end = p + 1;
                run_bytes += geo.piece_len(p);
            }
            _ => {
                runs.push(p..p + 1);
                run_bytes = geo.piece_len(p);
            }
        }
    }
    if skipped > 0 {
        progress(skipped);
    }

    let have: Vec<AtomicBool> = (0..count).map(|_| AtomicBool::new(false)).collect();
    let errors: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::new());
    let record = |e: storage::Error| {
        if let Some(f) = e.file() {
            errors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((f, e.to_string()));
        }
    };
    let bytes_checked: u64 = runs
        .par_iter()
        .map_init(
            || (Vec::new(), Sha1::new()),
            |(scratch, hasher), run| {
                let mut p = run.start;
                let mut filled = 0u64;
                let run_end = geo.piece_offset(run.end - 1) + geo.piece_len(run.end - 1);
                storage.prefetch(run_end, storage::READAHEAD);
                // Two or more whole pieces in one file: side by side (all or nothing; on an
                // error the pieces are redone one by one below).
                let whole = (run.start..run.end)
                    .take_while(|&q| geo.piece_len(q) == pl)
                    .count();
                let res = if side_by_side && whole >= 2 {
                    let start = geo.piece_offset(run.start);
                    storage.prefetch(start, whole as u64 * pl);
                    let mut lanes = sha1_lanes::Lanes::new(whole);
                    let step = sha1_lanes::slice(storage::WINDOW);
                    let mut at = 0;
                    let mut res = Ok(true);
                    while at < pl && matches!(res, Ok(true)) {
                        let n = (pl - at).min(step);
                        res = storage.visit_side_by_side(
                            start + at,
                            pl,
                            whole,
                            n as usize,
                            scratch,
                            &mut |parts| lanes.update(parts),
                        );
                        at += n;
                    }
                    match res {
                        Ok(true) => {
                            let mut sums = Vec::with_capacity(whole);
                            lanes.finish(&mut sums);
                            for d in sums {
                                have[p].store(d == t.pieces[p], Ordering::Relaxed);
                                progress(pl);
                                p += 1;
                            }
                            Ok(())
                        }
                        Ok(false) => Ok(()),
                        Err(e) => Err(e),
                    }
                } else {
                    Ok(())
                };
                let res = res.and_then(|()| {
                    if p == run.end {
                        return Ok(());
                    }
                    storage.visit(
                        geo.piece_offset(p),
                        run_end - geo.piece_offset(p),
                        scratch,
                        &mut |mut chunk| {
                            while !chunk.is_empty() {
                                if filled == 0 {
                                    // Whole pieces lying in the chunk: several at once (see
                                    // `sha1_lanes`). Only the torrent's last piece can be shorter,
                                    // and it is the last of its run.
                                    let pl = geo.piece_len(p);
                                    let used =
                                        sha1_lanes::whole_pieces(chunk, pl as usize, &mut |d| {
                                            have[p].store(d == t.pieces[p], Ordering::Relaxed);
                                            progress(pl);
                                            p += 1;
                                        });
                                    chunk = &chunk[used..];
                                    if chunk.is_empty() {
                                        break;
                                    }
                                }
                                let want = (geo.piece_len(p) - filled) as usize;
                                let k = want.min(chunk.len());
                                hasher.update(&chunk[..k]);
                                chunk = &chunk[k..];
                                filled += k as u64;
                                if filled == geo.piece_len(p) {
                                    let ok = hasher.finalize_reset().as_slice() == t.pieces[p];
                                    have[p].store(ok, Ordering::Relaxed);
                                    progress(filled);
                                    p += 1;
                                    filled = 0;
                                }
                            }
                        },
                    )
                });
                if let Err(e) = res {
                    // Redo the rest piece by piece, so one bad file spoils only its pieces.
                    hasher.reset();
                    record(e);
                    for (q, good) in have.iter().enumerate().take(run.end).skip(p) {
                        let len = geo.piece_len(q);
                        let r = storage
                            .visit(geo.piece_offset(q), len, scratch, &mut |c| hasher.update(c));
                        match r {
                            Ok(()) => {
                                let ok = hasher.finalize_reset().as_slice() == t.pieces[q];
                                good.store(ok, Ordering::Relaxed);
                            }
                            Err(e) => {
                                hasher.reset();
                                record(e);
                            }
                        }
                        progress(len);
                    }
                }
                geo.piece_offset(run.end - 1) + geo.piece_len(run.end - 1)
                    - geo.piece_offset(run.start)
            },
        )
        .sum();
    let have: Vec<bool> = have.into_iter().map(|a| a.into_inner()).collect();
    let mut errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
    errors.sort();

    let files = (0..nfiles)
        .filter(|&f| !geo.is_pad(f) && t.files[f].symlink.is_none())
        .map(|f| {
            let pieces = geo.file_pieces(f);
            let bad_pieces: Vec<usize> = pieces.clone().filter(|&p| !have[p]).collect();
            let shared_bad_pieces = bad_pieces
                .iter()
                .filter(|&&p| {
                    geo.piece_files(p)
                        .any(|o| o != f && !geo.is_pad(o) && geo.file_len(o) > 0)
                })
                .count();
            let run_error = errors
                .iter()
                .find(|(ef, _)| *ef == f)
                .map(|(_, m)| m.clone());
            let (status, bytes_on_disk, error) = match &states[f] {
                // Pad files are filtered out above.
                Some(FileState::Missing) => (FileStatus::Missing, 0, None),
                Some(FileState::Unusable(e)) => (FileStatus::Unreadable, 0, Some(e.to_string())),
                Some(FileState::Present(len)) => {
                    let status = if run_error.is_some() {
                        FileStatus::Unreadable
                    } else if *len != geo.file_len(f) {
                        FileStatus::WrongSize
                    } else if !bad_pieces.is_empty() {
                        FileStatus::Incomplete
                    } else {
                        FileStatus::Complete
                    };
                    (status, *len, run_error)
                }
                None => (FileStatus::Complete, 0, None),
            };
            FileReport {
                file: f,
                length: geo.file_len(f),
                status,
                pieces,
                bad_pieces,
                shared_bad_pieces,
                bytes_on_disk,
                error,
                hash: (geo.file_len(f) > 0).then_some("v1"),
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

/// Whether `data` is exactly piece `piece` of `t` (its SHA-1 matches). For the swarm, which
/// hashes each completed piece before writing it.
pub fn piece_matches(t: &Torrent, piece: usize, data: &[u8]) -> bool {
    t.pieces
        .get(piece)
        .is_some_and(|h| Sha1::digest(data).as_slice() == h)
}

/// Files under `root` (the directory of a multi-file torrent) that none of the storage's
/// files is: `(path, length)`, sorted. Symlinks are listed, never followed. Unreadable
/// directories are skipped. At most `limit` entries are returned.
pub fn extra_files(
    storage: &Storage,
    root: &std::path::Path,
    limit: usize,
) -> Vec<(std::path::PathBuf, u64)> {
    use std::collections::HashSet;
    let known: HashSet<&std::path::Path> = (0..storage.geometry().file_count())
        .map(|f| storage.path(f))
        .collect();
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    match std::fs::symlink_metadata(root) {
        Ok(m) if m.is_dir() => {}
        _ => return out,
    }
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(m) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if m.is_dir() {
                stack.push(path);
            } else if !known.contains(path.as_path()) && out.len() < limit {
                out.push((path, m.len()));
            }
        }
    }
    out.sort();
    out
}

/// Where the content of a torrent is looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// In `DIR/<name>` (`-d DIR`).
    Dir(PathBuf),
    /// At this path itself (`--content PATH`): the file of a single-file torrent, the directory
    /// of a multi-file one.
    Content(PathBuf),
}

/// Why a [`Place`] cannot hold the content (a typo, most likely: a report of every file
/// missing would bury it).
#[derive(Debug)]
pub enum PlaceError {
    /// The content of a single-file torrent is a directory.
    IsDir(PathBuf),
    /// The content of a multi-file torrent is not a directory.
    NotDir {
        /// The path.
        path: PathBuf,
        /// How many files the torrent has.
        files: usize,
    },
    /// `--content PATH` does not exist.
    NoContent(PathBuf),
    /// `-d DIR` does not exist.
    NoDir(PathBuf),
    /// `-d DIR` is not a directory.
    DirNotDir(PathBuf),
    /// Looking at the path failed.
    Io {
        /// The place.
        place: Place,
        /// The cause.
        source: std::io::Error,
    },
}

impl fmt::Display for PlaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlaceError::IsDir(p) => write!(
                f,
                "{}: is a directory, but the torrent is one file: --content takes that file",
                p.display()
            ),
            PlaceError::NotDir { path, files } => write!(
                f,
                "{}: not a directory, but the torrent has {files} files: give the directory that holds them",
                path.display()
            ),
            PlaceError::NoContent(p) => {
                write!(f, "--content {}: no such file or directory", p.display())
            }
            PlaceError::NoDir(p) => write!(f, "-d {}: no such directory", p.display()),
            PlaceError::DirNotDir(p) => write!(f, "-d {}: not a directory", p.display()),
            PlaceError::Io { place, source } => match place {
                Place::Content(p) => write!(f, "--content {}: {source}", p.display()),
                Place::Dir(p) => write!(f, "-d {}: {source}", p.display()),
            },
        }
    }
}

impl std::error::Error for PlaceError {}

/// A torrent's content found on disk and opened for reading.
pub struct Content {
    /// The content's files.
    pub storage: Storage,
    /// The file of a single-file torrent, or the directory of a multi-file one.
    pub root: PathBuf,
    /// What the paths of extra files are relative to: the directory holding [`Content::root`].
    pub base: PathBuf,
    /// What to tell the user when `DIR` exists but a multi-file torrent's `DIR/<name>` does
    /// not (every file is missing), else `None`.
    pub note: Option<String>,
}

impl Content {
    /// Find the content of `t` at `place` and open it. Refuses (see [`PlaceError`]) a place
    /// that does not exist, a `DIR` that is not a directory, a multi-file torrent's content that
    /// is a file, a single-file torrent's content that is a directory. When `DIR` exists but a
    /// multi-file torrent's `DIR/<name>` does not, the content opens with every file missing,
    /// and [`Content::note`] says so.
    pub fn open(t: &Torrent, place: &Place, io: storage::Io) -> Result<Content, PlaceError> {
        let io_error = |source| PlaceError::Io {
            place: place.clone(),
            source,
        };
        let kind = |p: &Path, is_dir: bool| match (t.single_file, is_dir) {
            (true, true) => Err(PlaceError::IsDir(p.to_path_buf())),
            (false, false) => Err(PlaceError::NotDir {
                path: p.to_path_buf(),
                files: t.files.len(),
            }),
            _ => Ok(()),
        };
        let (dir, content) = match place {
            Place::Content(c) => match std::fs::metadata(c) {
                Ok(m) => {
                    kind(c, m.is_dir())?;
                    return Ok(Content {
                        storage: Storage::open_content(t, c, io),
                        root: c.clone(),
                        base: c.parent().map(Path::to_path_buf).unwrap_or_default(),
                        note: None,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(PlaceError::NoContent(c.clone()))
                }
                Err(e) => return Err(io_error(e)),
            },
            Place::Dir(d) => (
                d,
                d.join(t.file_path(&t.files[0]).iter().next().unwrap_or_default()),
            ),
        };
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(PlaceError::DirNotDir(dir.clone())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PlaceError::NoDir(dir.clone()))
            }
            Err(e) => return Err(io_error(e)),
        }
        let mut note = None;
        if !t.single_file {
            match std::fs::metadata(&content) {
                Ok(m) => kind(&content, m.is_dir())?,
                Err(_) => {
                    note = Some(format!(
                        "{}: no such directory: every file is missing",
                        content.display()
                    ))
                }
            }
        }
        Ok(Content {
            storage: Storage::open(t, dir, io),
            root: content,
            base: dir.clone(),
            note,
        })
    }

    /// [`verify`] the content; also answers how many seconds it took.
    pub fn verify(
        &self,
        t: &Torrent,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(Report, f64), Error> {
        self.verify_chosen(t, None, progress)
    }

    /// [`verify_chosen`] the content; also answers how many seconds it took.
    pub fn verify_chosen(
        &self,
        t: &Torrent,
        chosen: Option<&[bool]>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(Report, f64), Error> {
        let start = std::time::Instant::now();
        let report = verify_chosen(t, &self.storage, chosen, progress)?;
        Ok((report, start.elapsed().as_secs_f64()))
    }

    /// The [`extra_files`] of a multi-file torrent's directory (none for a single file), at
    /// most `limit`, with paths relative to [`Content::base`].
    pub fn extra_files(&self, t: &Torrent, limit: usize) -> Vec<(PathBuf, u64)> {
        if t.single_file {
            return Vec::new();
        }
        let rel = |p: PathBuf| {
            p.strip_prefix(&self.base)
                .map(Path::to_path_buf)
                .unwrap_or(p)
        };
        extra_files(&self.storage, &self.root, limit)
            .into_iter()
            .map(|(p, bytes)| (rel(p), bytes))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::tests::torrent;
    use crate::storage::Io;

    /// Sample torrent with real hashes and its data written under `dir`.
    fn setup(dir: &std::path::Path) -> (Torrent, Vec<u8>) {
        let mut t = torrent(
            "t",
            16384,
            &[
                ("a", 40000, false),
                ("empty", 0, false),
                ("b", 100, false),
                ("pad", 16284, true),
                ("c", 70000, false),
                ("d", 5, false),
            ],
        );
        let mut stream: Vec<u8> = (0..t.total_length).map(|i| (i * 7 % 251) as u8).collect();
        stream[40100..56384].fill(0);
        t.pieces = stream
            .chunks(16384)
            .map(|c| Sha1::digest(c).into())
            .collect();
        let s = Storage::create(&t, dir, Io::Plain).unwrap();
        for p in 0..t.pieces.len() {
            s.write_piece(p, &stream[p * 16384..(p * 16384 + 16384).min(stream.len())])
                .unwrap();
        }
        (t, stream)
    }

    fn run(t: &Torrent, dir: &std::path::Path) -> Report {
        let reports = [Io::Mmap, Io::Plain].map(|io| {
            let done = std::sync::atomic::AtomicU64::new(0);
            let r = verify(t, &Storage::open(t, dir, io), &|n| {
                done.fetch_add(n, Ordering::Relaxed);
            })
            .unwrap();
            assert_eq!(
                done.into_inner(),
                t.total_length,
                "progress reaches the total"
            );
            r
        });
        // Both I/O modes agree.
        assert_eq!(reports[0].have, reports[1].have);
        let st = |r: &Report| r.files.iter().map(|f| f.status).collect::<Vec<_>>();
        assert_eq!(st(&reports[0]), st(&reports[1]));
        reports.into_iter().next().unwrap()
    }

    fn status(r: &Report) -> Vec<&'static str> {
        r.files.iter().map(|f| f.status.as_str()).collect()
    }

    #[test]
    fn all_good() {
        let dir = tempfile::tempdir().unwrap();
        let (t, _) = setup(dir.path());
        let r = run(&t, dir.path());
        assert!(r.ok());
        assert_eq!(r.good_pieces(), t.pieces.len());
        assert_eq!(r.files.len(), 5, "pad file not reported");
        assert_eq!(r.bytes_checked, t.total_length);
        assert_eq!(r.files[1].pieces, 0..0);
    }

    #[test]
    fn flipped_byte_is_charged_to_the_files_of_its_piece() {
        let dir = tempfile::tempdir().unwrap();
        let (t, _) = setup(dir.path());
        let c = dir.path().join("t/c");
        let mut data = std::fs::read(&c).unwrap();
        data[30000] ^= 1; // stream offset 86384: piece 5, inside c only
        std::fs::write(&c, &data).unwrap();
        let r = run(&t, dir.path());
        assert_eq!(r.bad_pieces(), vec![5]);
        assert_eq!(
            status(&r),
            ["complete", "complete", "complete", "incomplete", "complete"]
        );
        assert_eq!(r.files[3].bad_pieces, vec![5]);
        assert_eq!(r.files[3].shared_bad_pieces, 0);
        // A byte in the piece shared by c and d (the last piece).
        data[30000] ^= 1;
        data[69999] ^= 1;
        std::fs::write(&c, &data).unwrap();
        let r = run(&t, dir.path());
        assert_eq!(r.bad_pieces(), vec![7]);
        assert_eq!(
            status(&r),
            [
                "complete",
                "complete",
                "complete",
                "incomplete",
                "incomplete"
            ]
        );
        assert_eq!(r.files[4].shared_bad_pieces, 1);
    }

    /// Files large enough for mapped windows and read-ahead (x crosses a window boundary),
    /// written in 16 KiB writes as a download writes them, then dropped from the page cache
    /// where the file system allows it (the read-ahead path on cold data).
    fn setup_large(dir: &std::path::Path) -> Torrent {
        let files = [
            ("x", storage::WINDOW + 300_003),
            ("y", 700_000),
            ("z", 300_000),
        ];
        let mut t = torrent("L", 262_144, &files.map(|(n, l)| (n, l, false)));
        let stream: Vec<u8> = (0..t.total_length).map(|i| (i * 13 % 253) as u8).collect();
        t.pieces = stream
            .chunks(262_144)
            .map(|c| Sha1::digest(c).into())
            .collect();
        std::fs::create_dir_all(dir.join("L")).unwrap();
        let mut at = 0;
        for (name, len) in files {
            let f = std::fs::File::create(dir.join("L").join(name)).unwrap();
            crate::storage::tests::write_small_and_drop(&f, &stream[at..at + len as usize]);
            at += len as usize;
        }
        t
    }

    #[test]
    fn long_pieces_side_by_side_in_a_file_and_across_files() {
        // 2 MiB pieces: four of them do not fit in a window, so runs of whole pieces inside x
        // are hashed side by side; the piece across x and y streams as before.
        let dir = tempfile::tempdir().unwrap();
        let files = [("x", (9 << 20) + 5), ("y", 3 << 20)];
        let mut t = torrent("S", 2 << 20, &files.map(|(n, l)| (n, l, false)));
        let stream: Vec<u8> = (0..t.total_length).map(|i| (i * 7 % 251) as u8).collect();
        t.pieces = stream
            .chunks(2 << 20)
            .map(|c| Sha1::digest(c).into())
            .collect();
        std::fs::create_dir_all(dir.path().join("S")).unwrap();
        let mut at = 0;
        for (name, len) in files {
            std::fs::write(
                dir.path().join("S").join(name),
                &stream[at..at + len as usize],
            )
            .unwrap();
            at += len as usize;
        }
        let r = run(&t, dir.path());
        assert!(r.ok(), "{:?}", r.bad_pieces());
        assert_eq!(r.bytes_checked, t.total_length);
        let x = dir.path().join("S/x");
        let mut data = std::fs::read(&x).unwrap();
        data[(3 << 20) + 7] ^= 1;
        std::fs::write(&x, &data).unwrap();
        let r = run(&t, dir.path());
        assert_eq!(r.bad_pieces(), vec![1]);
        assert_eq!(status(&r), ["incomplete", "complete"]);
    }

    #[test]
    fn small_writes_cold_cache_and_both_io_modes_agree() {
        let dir = tempfile::tempdir().unwrap();
        let t = setup_large(dir.path());
        let r = run(&t, dir.path());
        assert!(r.ok(), "{:?}", r.bad_pieces());
        assert_eq!(r.bytes_checked, t.total_length);
        // One flipped byte in y, in a piece of y alone (stream offset WINDOW + 600_003).
        let y = dir.path().join("L/y");
        let mut data = std::fs::read(&y).unwrap();
        data[300_000] ^= 1;
        std::fs::write(&y, &data).unwrap();
        let bad = ((storage::WINDOW + 300_003 + 300_000) / 262_144) as usize;
        let r = run(&t, dir.path());
        assert_eq!(r.bad_pieces(), vec![bad]);
        assert_eq!(status(&r), ["complete", "incomplete", "complete"]);
        // z cut short and y gone: clean statuses, no crash, in both modes (run checks both).
        std::fs::remove_file(&y).unwrap();
        let z = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join("L/z"))
            .unwrap();
        z.set_len(100_000).unwrap();
        let r = run(&t, dir.path());
        assert_eq!(status(&r), ["incomplete", "missing", "wrong_size"]);
        assert!(r.have[..((storage::WINDOW + 300_003) / 262_144) as usize]
            .iter()
            .all(|&h| h));
    }

    #[test]
    fn a_file_truncated_mid_run_is_an_error_not_a_crash() {
        for io in [Io::Mmap, Io::Plain] {
            let dir = tempfile::tempdir().unwrap();
            let t = setup_large(dir.path());
            let x = dir.path().join("L/x");
            let once = std::sync::Once::new();
            let r = verify(&t, &Storage::open(&t, dir.path(), io), &|_| {
                once.call_once(|| {
                    let f = std::fs::OpenOptions::new().write(true).open(&x).unwrap();
                    f.set_len(1000).unwrap();
                })
            })
            .unwrap();
            assert!(once.is_completed());
            assert!(!r.ok(), "{io:?}");
            let fx = &r.files[0];
            assert_ne!(fx.status, FileStatus::Complete, "{io:?}");
            // Pieces read after the cut are not judged good, and the error names the file.
            assert!(!fx.bad_pieces.is_empty(), "{io:?}");
            let e = fx.error.as_deref().unwrap_or_default();
            assert!(e.contains("L/x"), "{io:?}: {e}");
            // y and z are untouched (y shares its first piece with x).
            assert!(r.files[1].error.is_none(), "{io:?}");
            assert_eq!(r.files[2].status, FileStatus::Complete, "{io:?}");
        }
    }

    #[test]
    fn missing_file_is_a_hole_at_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let (t, _) = setup(dir.path());
        std::fs::remove_file(dir.path().join("t/b")).unwrap();
        let r = run(&t, dir.path());
        // b lives in piece 2 only (40000..40100), shared with a.
        assert_eq!(r.bad_pieces(), vec![2]);
        assert_eq!(
            status(&r),
            ["incomplete", "complete", "missing", "complete", "complete"]
        );
        assert_eq!(r.files[2].bytes_on_disk, 0);
        std::fs::remove_file(dir.path().join("t/empty")).unwrap();
        let r = run(&t, dir.path());
        assert_eq!(r.files[1].status, FileStatus::Missing);
    }

    #[test]
    fn wrong_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let (t, _) = setup(dir.path());
        // Too long: the pieces are all good, the file is still wrong.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("t/d"))
            .unwrap();
        std::io::Write::write_all(&mut f, b"extra").unwrap();
        let r = run(&t, dir.path());
        assert_eq!(r.good_pieces(), t.pieces.len());
        assert!(!r.ok());
        assert_eq!(r.files[4].status, FileStatus::WrongSize);
        assert_eq!(r.files[4].bytes_on_disk, 10);
        // Too short: only the pieces past its end are bad.
        std::fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join("t/a"))
            .unwrap()
            .set_len(20000)
            .unwrap();
        let r = run(&t, dir.path());
        assert_eq!(r.bad_pieces(), vec![1, 2]);
        assert_eq!(r.files[0].status, FileStatus::WrongSize);
        assert_eq!(r.files[0].bad_pieces, vec![1, 2]);
        assert_eq!(r.files[2].status, FileStatus::Incomplete);
    }

    #[test]
    fn unreadable_file() {
        let dir = tempfile::tempdir().unwrap();
        let (t, _) = setup(dir.path());
        std::fs::remove_file(dir.path().join("t/c")).unwrap();
        std::fs::create_dir(dir.path().join("t/c")).unwrap();
        let r = run(&t, dir.path());
        assert_eq!(r.files[3].status, FileStatus::Unreadable);
        assert!(r.files[3]
            .error
            .as_deref()
            .unwrap()
            .contains("not a regular file"));
        assert_eq!(r.files[0].status, FileStatus::Complete);
    }

    #[test]
    fn resume_of_a_partial_download() {
        let dir = tempfile::tempdir().unwrap();
        let (t, stream) = setup(dir.path());
        let fresh = tempfile::tempdir().unwrap();
        let s = Storage::create(&t, fresh.path(), Io::Mmap).unwrap();
        // Nothing written yet: sparse zeros everywhere; all files complete in size, no piece.
        let r = verify(&t, &s, &|_| {}).unwrap();
        assert_eq!(r.good_pieces(), 0);
        assert!(r
            .files
            .iter()
            .all(|f| f.status == FileStatus::Incomplete || f.length == 0));
        for p in [0, 3, 7] {
            let data = &stream[p * 16384..(p * 16384 + 16384).min(stream.len())];
            assert!(piece_matches(&t, p, data));
            assert!(!piece_matches(&t, p + 1, data));
            s.write_piece(p, data).unwrap();
        }
        assert!(!piece_matches(&t, 99, b""));
        let r = verify(&t, &s, &|_| {}).unwrap();
        assert_eq!(
            (0..t.pieces.len())
                .filter(|&p| r.have[p])
                .collect::<Vec<_>>(),
            vec![0, 3, 7]
        );
    }

    #[test]
    fn a_v1_torrent_without_piece_hashes_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (mut t, _) = setup(dir.path());
        t.pieces.clear();
        let s = Storage::open(&t, dir.path(), Io::Plain);
        assert_eq!(verify(&t, &s, &|_| {}).unwrap_err(), Error::NoV1Hashes);
    }

    #[test]
    fn places_are_checked_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let (t, _) = setup(dir.path());
        let open = |p: Place| Content::open(&t, &p, Io::Plain).map(|c| (c.root, c.note));
        let err = |p: Place| open(p).err().map(|e| e.to_string()).unwrap_or_default();
        let gone = dir.path().join("gone");
        assert!(err(Place::Dir(gone.clone())).ends_with("gone: no such directory"));
        assert!(err(Place::Content(gone)).ends_with("gone: no such file or directory"));
        let a = dir.path().join("t/a");
        assert!(err(Place::Dir(a.clone())).ends_with("t/a: not a directory"));
        assert!(err(Place::Content(a)).contains("torrent has 6 files"));
        let (root, note) = open(Place::Dir(dir.path().into())).unwrap();
        assert_eq!((root, note), (dir.path().join("t"), None));
        let (root, note) = open(Place::Dir(dir.path().join("t"))).unwrap();
        assert_eq!(root, dir.path().join("t/t"));
        assert!(note
            .unwrap()
            .ends_with("t/t: no such directory: every file is missing"));
        std::fs::write(dir.path().join("t/notes"), b"12345").unwrap();
        let c = Content::open(&t, &Place::Content(dir.path().join("t")), Io::Plain).unwrap();
        assert_eq!(c.extra_files(&t, 10), vec![(PathBuf::from("t/notes"), 5)]);
        let (report, _) = c.verify(&t, &|_| {}).unwrap();
        assert!(report.ok());
    }
}
