//! Hashing the piece stream of a new torrent: SHA-1 of every piece, in parallel, in bounded
//! memory.
//!
//! The files are one stream in layout order; pieces cross file boundaries. The stream is cut
//! into jobs of whole pieces (about [`JOB_BYTES`] each, at least one piece) and rayon hashes jobs
//! in parallel, each job walking its byte range file by file. Large runs of a file are
//! memory-mapped a window of at most [`WINDOW`] bytes at a time (page-cached data is hashed where
//! it lies, no copy) and unmapped before the next window, so resident memory stays near
//! `threads x WINDOW` whatever the input size; short runs are read into a small buffer.
//! A file that is shorter than when it was walked is an error, never a shifted stream.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use rayon::prelude::*;
use sha1::{Digest, Sha1};

use super::{Error, InputFile};
use crate::sha1_lanes::{Lanes, LANES};

/// Bytes of stream per parallel job (rounded to whole pieces, at least one piece).
pub const JOB_BYTES: u64 = 4 << 20;
/// Largest span of a file mapped at once.
pub const WINDOW: u64 = 4 << 20;
/// Runs shorter than this are read into a buffer rather than mapped.
const MAP_MIN: u64 = 256 << 10;

/// SHA-1 of every piece of the concatenation of `files`, in order. `progress` is called with
/// the number of bytes hashed since its last call, from any thread.
pub fn hash_pieces(
    files: &[InputFile],
    piece_length: u64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<[u8; 20]>, Error> {
    assert!(piece_length > 0, "piece length must be positive");
    let mut offsets = Vec::with_capacity(files.len());
    let mut total = 0u64;
    for f in files {
        offsets.push(total);
        total += f.length;
    }
    let piece_count = total.div_ceil(piece_length);
    // At least LANES pieces per job, so that long pieces are hashed side by side too.
    let per_job = (JOB_BYTES / piece_length).max(crate::sha1_lanes::LANES as u64);
    let jobs = piece_count.div_ceil(per_job);
    let stream = Stream {
        files,
        offsets: &offsets,
        total,
        piece_length,
    };
    let parts: Vec<Vec<[u8; 20]>> = (0..jobs)
        .into_par_iter()
        .map(|j| {
            let start = j * per_job * piece_length;
            let end = ((j + 1) * per_job * piece_length).min(total);
            stream.hash_range(start, end, progress)
        })
        .collect::<Result<_, _>>()?;
    Ok(parts.concat())
}

struct Stream<'a> {
    files: &'a [InputFile],
    offsets: &'a [u64],
    total: u64,
    piece_length: u64,
}

/// SHA-1 over a stream of slices, cut into pieces.
pub(super) struct Pieces {
    sha: Sha1,
    filled: u64,
    piece_length: u64,
    out: Vec<[u8; 20]>,
}

impl Pieces {
    pub(super) fn new(piece_length: u64, capacity: usize) -> Pieces {
        Pieces {
            sha: Sha1::new(),
            filled: 0,
            piece_length,
            out: Vec::with_capacity(capacity),
        }
    }

    pub(super) fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.filled == 0 {
                // Whole pieces lying in `data`: several at once (see `sha1_lanes`).
                let out = &mut self.out;
                let used =
                    crate::sha1_lanes::whole_pieces(data, self.piece_length as usize, &mut |d| {
                        out.push(d)
                    });
                data = &data[used..];
                if data.is_empty() {
                    break;
                }
            }
            let take = ((self.piece_length - self.filled) as usize).min(data.len());
            self.sha.update(&data[..take]);
            self.filled += take as u64;
            data = &data[take..];
            if self.filled == self.piece_length {
                self.out.push(self.sha.finalize_reset().into());
                self.filled = 0;
            }
        }
    }

    pub(super) fn finish(mut self) -> Vec<[u8; 20]> {
        if self.filled > 0 {
            self.out.push(self.sha.finalize().into());
        }
        self.out
    }
}

impl Stream<'_> {
    /// Hashes of the pieces in `[start, end)`; `start` is on a piece boundary and `end` is one
    /// too, or the end of the stream.
    fn hash_range(
        &self,
        start: u64,
        end: u64,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<[u8; 20]>, Error> {
        debug_assert!(start.is_multiple_of(self.piece_length) && end <= self.total);
        let mut pieces = Pieces::new(
            self.piece_length,
            ((end - start).div_ceil(self.piece_length)) as usize,
        );
        let mut buf = Vec::new();
        // First file whose data reaches past `start`.
        let mut i = self
            .offsets
            .partition_point(|&o| o <= start)
            .saturating_sub(1);
        let mut pos = start;
        // Pieces too long for LANES of them to lie whole in one window, inside one file: side
        // by side, a slice of each per window. The rest (and every other case) streams below.
        let pl = self.piece_length;
        let (file, off) = (&self.files[i], self.offsets[i]);
        if crate::sha1_lanes::side_by_side(pl, WINDOW) && end <= off + file.length {
            while end - pos >= 2 * pl {
                let k = ((end - pos) / pl).min(LANES as u64) as usize;
                hash_side_by_side(file, pos - off, k, pl, &mut pieces.out, progress)?;
                pos += k as u64 * pl;
            }
        }
        while pos < end {
            let (file, off) = (&self.files[i], self.offsets[i]);
            let stop = (off + file.length).min(end);
            if stop > pos {
                read_run(file, pos - off, stop - off, &mut buf, progress, &mut |b| {
                    pieces.feed(b)
                })?;
                pos = stop;
            }
            i += 1;
        }
        Ok(pieces.finish())
    }
}

/// Append the SHA-1 of the `k` pieces of `pl` bytes at `from` in `file` to `out`: hashed side
/// by side ([`Lanes`]), one mapped window at a time holding the next slice of each piece (only
/// those slices are touched, so resident memory stays near one [`WINDOW`]).
fn hash_side_by_side(
    file: &InputFile,
    from: u64,
    k: usize,
    pl: u64,
    out: &mut Vec<[u8; 20]>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(), Error> {
    let to = from + k as u64 * pl;
    let (f, len) = open_at_least(file, to)?;
    // The slices are read in k places at once, which the kernel's own read-ahead does not
    // follow: ask for the whole range, and the next job's start.
    crate::storage::read_ahead(&f, from, to - from);
    crate::storage::read_ahead(&f, to, crate::storage::READAHEAD.min(len - to));
    let step = crate::sha1_lanes::slice(WINDOW);
    let mut lanes = Lanes::new(k);
    let mut at = 0;
    while at < pl {
        let n = (pl - at).min(step);
        let map = map_window(&f, from + at, (k as u64 - 1) * pl + n, &file.disk)?;
        let ((), faulted) = crate::storage::guard::guarded(map.bytes(), |b| {
            let mut parts: [&[u8]; LANES] = [&[]; LANES];
            for (j, p) in parts.iter_mut().take(k).enumerate() {
                let s = j * pl as usize;
                *p = &b[s..s + n as usize];
            }
            lanes.update(&parts[..k]);
        });
        if faulted {
            return Err(Error::Changed(file.disk.clone()));
        }
        progress(k as u64 * n);
        at += n;
    }
    lanes.finish(out);
    Ok(())
}

/// Feed bytes `[from, to)` of one file to `feed`, in order, mapped or through `buf`.
pub(super) fn read_run(
    file: &InputFile,
    from: u64,
    to: u64,
    buf: &mut Vec<u8>,
    progress: &(dyn Fn(u64) + Sync),
    feed: &mut dyn FnMut(&[u8]),
) -> Result<(), Error> {
    let io = |e| Error::Io {
        path: file.disk.clone(),
        source: e,
    };
    let (f, len) = open_at_least(file, to)?;
    // The next job's bytes of this file: queued for the disk while this run is hashed.
    crate::storage::read_ahead(&f, to, crate::storage::READAHEAD.min(len - to));
    let mut at = from;
    while at < to {
        let n = (to - at).min(WINDOW);
        if n >= MAP_MIN {
            let map = map_window(&f, at, n, &file.disk)?;
            // A file truncated by another program while mapped would raise SIGBUS: the
            // storage guard turns that into zeros plus a flag, reported as a changed file.
            let ((), faulted) = crate::storage::guard::guarded(map.bytes(), |b| feed(b));
            if faulted {
                return Err(Error::Changed(file.disk.clone()));
            }
        } else {
            buf.resize(n as usize, 0);
            f.read_exact_at(buf, at).map_err(|e| {
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    Error::Changed(file.disk.clone())
                } else {
                    io(e)
                }
            })?;
            feed(buf);
        }
        progress(n);
        at += n;
    }
    Ok(())
}

/// `file` opened, with its length, which must be at least `to` (else it changed since the walk).
fn open_at_least(file: &InputFile, to: u64) -> Result<(File, u64), Error> {
    let io = |e| Error::Io {
        path: file.disk.clone(),
        source: e,
    };
    let f = File::open(&file.disk).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    if len < to {
        return Err(Error::Changed(file.disk.clone()));
    }
    Ok((f, len))
}

/// A read-only mapping of `len` bytes of a file at `offset` (any alignment).
struct Window {
    map: memmap2::Mmap,
    skip: usize,
}

impl Window {
    fn bytes(&self) -> &[u8] {
        &self.map[self.skip..]
    }
}

fn map_window(f: &File, offset: u64, len: u64, path: &Path) -> Result<Window, Error> {
    let page = page_size();
    let aligned = offset - offset % page;
    let skip = (offset - aligned) as usize;
    // Not MAP_POPULATE: on data in small page-cache folios (written in 16 KiB writes) the
    // populate walk (get_user_pages, one follow_page per 4 KiB page) costs more than the
    // faults it saves, each of which maps 16 pages around it (fault-around): measured 6-9%
    // less CPU on such data, the same on large folios. MADV_POPULATE_READ measured like
    // MAP_POPULATE, and pread into a reused buffer (hugepage-backed or not) 2-9% more.
    // SAFETY: the mapping is read-only and private to this function's caller, which drops it
    // before the next window. The file was checked to be long enough just before; a file
    // truncated by another process meanwhile is caught by the caller's SIGBUS guard.
    let map = unsafe {
        memmap2::MmapOptions::new()
            .offset(aligned)
            .len(skip + len as usize)
            .map(f)
    }
    .map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    Ok(Window { map, skip })
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as u64
    } else {
        4096
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(data: &[u8]) -> [u8; 20] {
        Sha1::digest(data).into()
    }

    #[test]
    fn pieces_cross_files_and_windows() {
        let dir = std::env::temp_dir().join(format!("bt-create-hash-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Sizes around the map threshold and the window, with an empty file among them.
        let sizes = [0u64, 1, 300_000, 0, 5 << 20, 16_383, 16_385, 777];
        let mut files = Vec::new();
        let mut all = Vec::new();
        for (i, &n) in sizes.iter().enumerate() {
            let data: Vec<u8> = (0..n).map(|b| (b * 31 + i as u64 * 7) as u8).collect();
            let p = dir.join(format!("f{i}"));
            std::fs::write(&p, &data).unwrap();
            all.extend_from_slice(&data);
            files.push(InputFile {
                path: vec![format!("f{i}").into_bytes()],
                disk: p,
                length: n,
            });
        }
        for pl in [16 << 10, 1 << 20, 8 << 20] {
            let done = std::sync::atomic::AtomicU64::new(0);
            let cb = |n: u64| {
                done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            };
            let got = hash_pieces(&files, pl, &cb).unwrap();
            let want: Vec<[u8; 20]> = all.chunks(pl as usize).map(sha).collect();
            assert_eq!(got, want, "piece length {pl}");
            assert_eq!(done.into_inner(), all.len() as u64);
        }
        // Data written in 16 KiB writes and dropped from the page cache (where the file
        // system allows): the read-ahead path, same hashes.
        let mut at = 0usize;
        for f in &files {
            let h = File::options().write(true).open(&f.disk).unwrap();
            h.set_len(0).unwrap();
            crate::storage::tests::write_small_and_drop(&h, &all[at..at + f.length as usize]);
            at += f.length as usize;
        }
        let got = hash_pieces(&files, 1 << 20, &|_| {}).unwrap();
        let want: Vec<[u8; 20]> = all.chunks(1 << 20).map(sha).collect();
        assert_eq!(got, want, "after small writes, cold");
        // One file of long pieces: hashed side by side, a window's slice of each at a time,
        // with a short last piece and a lone whole one streamed.
        let long: Vec<u8> = (0..(9u64 << 20) + 100)
            .map(|b| (b * 7 + b / 4093) as u8)
            .collect();
        let p = dir.join("long");
        std::fs::write(&p, &long).unwrap();
        let one = [InputFile {
            path: vec![b"long".to_vec()],
            disk: p,
            length: long.len() as u64,
        }];
        for pl in [2u64 << 20, 4 << 20] {
            let got = hash_pieces(&one, pl, &|_| {}).unwrap();
            let want: Vec<[u8; 20]> = long.chunks(pl as usize).map(sha).collect();
            assert_eq!(got, want, "one file, piece length {pl}");
        }
        // A file that shrank since the walk is reported, not hashed short.
        files[4].length += 1;
        let err = hash_pieces(&files, 1 << 20, &|_| {}).unwrap_err();
        assert!(matches!(err, Error::Changed(_)), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
