//! Piece geometry: where the bytes of a piece live on disk.
//!
//! A torrent's files are concatenated, in order, into one byte stream that is cut into pieces of
//! `piece_length` bytes (the last piece may be shorter). A piece is therefore a list of
//! [`Segment`]s, each a byte range of one file; a piece can cross any number of file boundaries.
//! Zero-length files own no bytes and never appear in a segment. BEP 47 pad files appear in
//! segments flagged `pad`: their bytes are zeros that are never read from or written to disk.
//!
//! A v2-only torrent (BEP 52) has no pad files, but every file starts on a piece boundary: the
//! stream has gaps of implied zeros after each file up to the next piece boundary, the last file
//! included (so every piece of a v2-only torrent is `piece_length` long, as libtorrent has it).
//! A gap shows as a `pad` segment naming the file it follows, with offsets past that file's end.
//! Pieces are requested in blocks of [`BLOCK`] bytes (the last block of a piece may be shorter).
//!
//! Everything here is pure arithmetic over lengths. Lookups are a binary search over file end
//! offsets, so torrents with 100 000 files cost `O(log n)` per lookup.

use std::fmt;
use std::ops::Range;

use crate::metainfo::{Torrent, Version};

/// The block size: the unit of a peer request (16 KiB).
pub const BLOCK: u32 = 16 * 1024;

/// Length of piece `piece` of a stream of `total_length` bytes in pieces of `piece_length`:
/// `piece_length`, except for the last one; 0 past the end. The one formula for piece sizes
/// (used by [`Geometry`] and by the wire codec's `peer::Limits`).
pub fn piece_len(piece_length: u64, total_length: u64, piece: u64) -> u64 {
    match piece.checked_mul(piece_length) {
        Some(start) if start < total_length => piece_length.min(total_length - start),
        _ => 0,
    }
}

/// A byte range of one file that is part of a piece (or of any range of the stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Index of the file in the torrent's file list.
    pub file: usize,
    /// Offset of the first byte inside that file.
    pub file_offset: u64,
    /// Number of bytes (never zero).
    pub len: u64,
    /// A pad file's bytes: zeros, never on disk.
    pub pad: bool,
}

/// A request that does not fit the torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The piece index is past the last piece.
    NoSuchPiece {
        /// The index asked for.
        piece: usize,
        /// How many pieces the torrent has.
        count: usize,
    },
    /// The byte range is not inside the piece.
    OutsidePiece {
        /// The piece.
        piece: usize,
        /// Offset inside the piece.
        offset: u64,
        /// Length asked for.
        len: u64,
        /// The piece's real length.
        piece_len: u64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoSuchPiece { piece, count } => {
                write!(
                    f,
                    "piece {piece} does not exist (the torrent has {count} pieces)"
                )
            }
            Error::OutsidePiece {
                piece,
                offset,
                len,
                piece_len,
            } => write!(
                f,
                "range {offset}+{len} is outside piece {piece} of {piece_len} bytes"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// The piece layout of one torrent: file offsets and lengths, piece length.
#[derive(Debug, Clone)]
pub struct Geometry {
    piece_length: u64,
    total_length: u64,
    piece_count: usize,
    /// Stream offset where each file starts.
    starts: Vec<u64>,
    /// Stream offset where each file ends (exclusive); non-decreasing.
    ends: Vec<u64>,
    pad: Vec<bool>,
}

impl Geometry {
    /// The geometry of a validated torrent. v1 and hybrid offsets are recomputed from the
    /// lengths (pad files included); a v2-only torrent's files start on piece boundaries and its
    /// stream ends on one (see the module notes).
    pub fn new(t: &Torrent) -> Geometry {
        if t.version == Version::V2 {
            return Geometry::aligned(t.piece_length, t.files.iter().map(|f| f.length));
        }
        let files: Vec<(u64, bool)> = t.files.iter().map(|f| (f.length, f.pad)).collect();
        Geometry::from_lengths(t.piece_length, &files)
    }

    /// The v2-only layout of files of these lengths: each starts on a piece boundary, and the
    /// stream is a whole number of pieces.
    pub fn aligned(piece_length: u64, lengths: impl Iterator<Item = u64>) -> Geometry {
        let mut starts = Vec::new();
        let mut ends = Vec::new();
        let mut at = 0u64;
        for len in lengths {
            if piece_length > 0 {
                at = at.saturating_add((piece_length - at % piece_length) % piece_length);
            }
            starts.push(at);
            at = at.saturating_add(len);
            ends.push(at);
        }
        let piece_count = if piece_length == 0 {
            0
        } else {
            at.div_ceil(piece_length) as usize
        };
        let pad = vec![false; starts.len()];
        Geometry {
            piece_length,
            total_length: (piece_count as u64).saturating_mul(piece_length),
            piece_count,
            starts,
            ends,
            pad,
        }
    }

    /// A geometry from a piece length and `(length, is_pad)` per file, in stream order.
    /// A piece length of zero gives a torrent without pieces.
    pub fn from_lengths(piece_length: u64, files: &[(u64, bool)]) -> Geometry {
        let mut starts = Vec::with_capacity(files.len());
        let mut ends = Vec::with_capacity(files.len());
        let mut pad = Vec::with_capacity(files.len());
        let mut at = 0u64;
        for &(len, p) in files {
            starts.push(at);
            at = at.saturating_add(len);
            ends.push(at);
            pad.push(p);
        }
        let piece_count = if piece_length == 0 {
            0
        } else {
            at.div_ceil(piece_length) as usize
        };
        Geometry {
            piece_length,
            total_length: at,
            piece_count,
            starts,
            ends,
            pad,
        }
    }

    /// Bytes per piece (all but the last).
    pub fn piece_length(&self) -> u64 {
        self.piece_length
    }

    /// Bytes in the whole stream, pad files included.
    pub fn total_length(&self) -> u64 {
        self.total_length
    }

    /// Number of pieces.
    pub fn piece_count(&self) -> usize {
        self.piece_count
    }

    /// The pieces that hold zeros no file owns (BEP 47 pad files, the gaps of a v2 layout),
    /// each with how many such bytes it holds, in piece order: what a tracker's `left` must
    /// not count.
    pub fn padded_pieces(&self) -> Vec<(usize, u64)> {
        let mut zeros: Vec<(u64, u64)> = Vec::new();
        let mut at = 0;
        for ((&start, &end), &pad) in self.starts.iter().zip(&self.ends).zip(&self.pad) {
            zeros.push((at, start));
            if pad {
                zeros.push((start, end));
            }
            at = at.max(end);
        }
        zeros.push((at, self.total_length));
        let mut out: Vec<(usize, u64)> = Vec::new();
        for (mut s, e) in zeros {
            while s < e && self.piece_length > 0 {
                let piece = (s / self.piece_length) as usize;
                let n = e.min((piece as u64 + 1) * self.piece_length) - s;
                match out.last_mut() {
                    Some((p, z)) if *p == piece => *z += n,
                    _ => out.push((piece, n)),
                }
                s += n;
            }
        }
        out
    }

    /// Number of files (pad and zero-length files included).
    pub fn file_count(&self) -> usize {
        self.starts.len()
    }

    /// Stream offset of a file's first byte.
    pub fn file_start(&self, file: usize) -> u64 {
        self.starts[file]
    }

    /// Length of a file.
    pub fn file_len(&self, file: usize) -> u64 {
        self.ends[file] - self.starts[file]
    }

    /// Whether a file is a pad file.
    pub fn is_pad(&self, file: usize) -> bool {
        self.pad[file]
    }

    /// Stream offset of a piece's first byte.
    pub fn piece_offset(&self, piece: usize) -> u64 {
        piece as u64 * self.piece_length
    }

    /// Length of a piece: `piece_length`, except for the last one; 0 past the end.
    pub fn piece_len(&self, piece: usize) -> u64 {
        piece_len(self.piece_length, self.total_length, piece as u64)
    }

    /// Number of blocks in a piece.
    pub fn block_count(&self, piece: usize) -> usize {
        self.piece_len(piece).div_ceil(BLOCK as u64) as usize
    }

    /// Length of block `block` of a piece (the last block may be short); 0 past the end.
    pub fn block_len(&self, piece: usize, block: usize) -> u32 {
        let len = self.piece_len(piece);
        let start = block as u64 * BLOCK as u64;
        if start >= len {
            0
        } else {
            (len - start).min(BLOCK as u64) as u32
        }
    }

    /// Check that `len` bytes at `offset` lie inside `piece`; on success the stream offset.
    pub fn check(&self, piece: usize, offset: u64, len: u64) -> Result<u64, Error> {
        if piece >= self.piece_count {
            return Err(Error::NoSuchPiece {
                piece,
                count: self.piece_count,
            });
        }
        let piece_len = self.piece_len(piece);
        match offset.checked_add(len) {
            Some(end) if end <= piece_len => Ok(self.piece_offset(piece) + offset),
            _ => Err(Error::OutsidePiece {
                piece,
                offset,
                len,
                piece_len,
            }),
        }
    }

    /// The file holding the stream byte at `offset` (never a zero-length file); in a gap of a
    /// v2 layout, the file after the gap; `None` past the last file.
    pub fn file_at(&self, offset: u64) -> Option<usize> {
        let i = self.ends.partition_point(|&end| end <= offset);
        (i < self.ends.len()).then_some(i)
    }

    /// The segments of the stream range `start..start + len`, in order. The range is clipped
    /// to the end of the stream.
    pub fn segments(&self, start: u64, len: u64) -> Segments<'_> {
        let end = start.saturating_add(len).min(self.total_length);
        Segments {
            geo: self,
            at: start,
            end,
            file: self.file_at(start).unwrap_or(self.ends.len()),
        }
    }

    /// The segments of a whole piece.
    pub fn piece_segments(&self, piece: usize) -> Segments<'_> {
        self.segments(self.piece_offset(piece), self.piece_len(piece))
    }

    /// The pieces that hold at least one byte of a file (empty for a zero-length file).
    pub fn file_pieces(&self, file: usize) -> Range<usize> {
        let (s, e) = (self.starts[file], self.ends[file]);
        if s == e || self.piece_length == 0 {
            return 0..0;
        }
        (s / self.piece_length) as usize..e.div_ceil(self.piece_length) as usize
    }

    /// The pieces that hold bytes of the files marked in `files` (one flag per file; a file
    /// past the end of `files` is not chosen): the pieces a download of those files needs.
    pub fn pieces_of(&self, files: &[bool]) -> Vec<bool> {
        let mut need = vec![false; self.piece_count()];
        for (f, _) in files.iter().enumerate().filter(|(_, c)| **c) {
            if f < self.ends.len() && !self.pad[f] {
                need[self.file_pieces(f)].fill(true);
            }
        }
        need
    }

    /// The files (zero-length files excluded) that hold bytes of a piece, as an index range.
    pub fn piece_files(&self, piece: usize) -> Range<usize> {
        let len = self.piece_len(piece);
        if len == 0 {
            return 0..0;
        }
        let start = self.piece_offset(piece);
        let first = self.file_at(start).unwrap_or(self.ends.len());
        // The last byte may be in a gap of a v2 layout: then the file before the gap.
        let end = start + len;
        let last = self.ends.partition_point(|&e| e < end);
        let last = if last < self.ends.len() && self.starts[last] < end {
            last
        } else {
            last.saturating_sub(1)
        };
        first..(last + 1).max(first)
    }

    /// The first file of a piece and how many bytes of the piece are that file's (the rest is
    /// a gap or pad). For v2, where a piece belongs to one file.
    pub fn piece_file(&self, piece: usize) -> Option<(usize, u64)> {
        let start = self.piece_offset(piece);
        let f = self.file_at(start)?;
        if self.starts[f] > start {
            return None;
        }
        Some((f, (self.ends[f] - start).min(self.piece_len(piece))))
    }
}

/// Iterator over the [`Segment`]s of a stream range.
#[derive(Debug, Clone)]
pub struct Segments<'a> {
    geo: &'a Geometry,
    at: u64,
    end: u64,
    file: usize,
}

impl Iterator for Segments<'_> {
    type Item = Segment;

    fn next(&mut self) -> Option<Segment> {
        let g = self.geo;
        // Skip zero-length files (and anything already consumed).
        while self.file < g.ends.len() && g.ends[self.file] <= self.at {
            self.file += 1;
        }
        if self.at >= self.end {
            return None;
        }
        let next_start = g.starts.get(self.file).copied().unwrap_or(u64::MAX);
        if next_start > self.at {
            // A gap of a v2 layout: named after the file before it.
            let f = self.file.checked_sub(1)?;
            let seg_end = next_start.min(self.end);
            let seg = Segment {
                file: f,
                file_offset: self.at - g.starts[f],
                len: seg_end - self.at,
                pad: true,
            };
            self.at = seg_end;
            return Some(seg);
        }
        let f = self.file;
        let seg_end = g.ends[f].min(self.end);
        let seg = Segment {
            file: f,
            file_offset: self.at - g.starts[f],
            len: seg_end - self.at,
            pad: g.pad[f],
        };
        self.at = seg_end;
        Some(seg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(file: usize, file_offset: u64, len: u64) -> Segment {
        Segment {
            file,
            file_offset,
            len,
            pad: false,
        }
    }

    #[test]
    fn padded_pieces_count_the_zeros_no_file_owns() {
        // v2: 40000 bytes in three 16 KiB pieces (9152 implied zeros), then 5 bytes in a piece
        // of its own (16379), then an empty file (no piece), then 16384 bytes exactly.
        let g = Geometry::aligned(16384, [40000, 5, 0, 16384].into_iter());
        assert_eq!(g.padded_pieces(), vec![(2, 9152), (3, 16379)]);
        // v1 with a BEP 47 pad file across a piece boundary, and none after the last file.
        let g = Geometry::from_lengths(16384, &[(10000, false), (20000, true), (5, false)]);
        assert_eq!(g.padded_pieces(), vec![(0, 6384), (1, 13616)]);
        let g = Geometry::from_lengths(16384, &[(40000, false)]);
        assert!(g.padded_pieces().is_empty());
    }

    #[test]
    fn single_file_short_last_piece() {
        let g = Geometry::from_lengths(16, &[(40, false)]);
        assert_eq!(g.piece_count(), 3);
        assert_eq!(g.piece_len(0), 16);
        assert_eq!(g.piece_len(2), 8);
        assert_eq!(g.piece_len(3), 0);
        assert_eq!(g.piece_segments(2).collect::<Vec<_>>(), vec![seg(0, 32, 8)]);
        assert_eq!(g.file_pieces(0), 0..3);
    }

    #[test]
    fn pieces_cross_files_and_skip_empty_ones() {
        // files: 10 bytes, empty, 3 bytes, empty, 20 bytes; pieces of 8.
        let g = Geometry::from_lengths(
            8,
            &[(10, false), (0, false), (3, false), (0, false), (20, false)],
        );
        assert_eq!(g.total_length(), 33);
        assert_eq!(g.piece_count(), 5);
        assert_eq!(
            g.piece_segments(1).collect::<Vec<_>>(),
            vec![seg(0, 8, 2), seg(2, 0, 3), seg(4, 0, 3)]
        );
        assert_eq!(g.piece_segments(4).collect::<Vec<_>>(), vec![seg(4, 19, 1)]);
        assert_eq!(g.file_pieces(1), 0..0);
        assert_eq!(g.file_pieces(2), 1..2);
        assert_eq!(g.file_pieces(4), 1..5);
        assert_eq!(g.piece_files(1), 0..5);
        assert_eq!(g.piece_files(0), 0..1);
        assert_eq!(g.file_at(10), Some(2));
        assert_eq!(g.file_at(13), Some(4));
        assert_eq!(g.file_at(33), None);
        // Every byte is covered exactly once, in order.
        let all: u64 = (0..g.piece_count())
            .flat_map(|p| g.piece_segments(p))
            .map(|s| s.len)
            .sum();
        assert_eq!(all, 33);
    }

    #[test]
    fn pad_segments_are_flagged() {
        let g = Geometry::from_lengths(16, &[(10, false), (6, true), (16, false)]);
        let s: Vec<_> = g.segments(0, 32).collect();
        assert_eq!(s.len(), 3);
        assert!(s[1].pad && !s[0].pad && !s[2].pad);
        assert_eq!(g.piece_segments(1).collect::<Vec<_>>(), vec![seg(2, 0, 16)]);
    }

    #[test]
    fn v2_files_start_on_piece_boundaries_with_gaps_of_zeros() {
        // Files of 20, 0, 5 and 16 bytes in pieces of 16: starts 0, 32, 32, 48; stream of 64.
        let g = Geometry::aligned(16, [20, 0, 5, 16].into_iter());
        assert_eq!(g.piece_count(), 4);
        assert_eq!(g.total_length(), 64);
        assert_eq!((g.file_start(2), g.file_start(3)), (32, 48));
        assert_eq!(g.piece_len(3), 16);
        let gap = |file, file_offset, len| Segment {
            file,
            file_offset,
            len,
            pad: true,
        };
        assert_eq!(
            g.piece_segments(1).collect::<Vec<_>>(),
            vec![seg(0, 16, 4), gap(0, 20, 12)]
        );
        assert_eq!(
            g.piece_segments(2).collect::<Vec<_>>(),
            vec![seg(2, 0, 5), gap(2, 5, 11)]
        );
        assert_eq!(g.piece_segments(3).collect::<Vec<_>>(), vec![seg(3, 0, 16)]);
        assert_eq!(g.piece_files(1), 0..1);
        assert_eq!(g.piece_files(2), 2..3);
        assert_eq!(g.piece_file(1), Some((0, 4)));
        assert_eq!(g.piece_file(2), Some((2, 5)));
        assert_eq!(g.file_pieces(0), 0..2);
        assert_eq!(g.file_pieces(3), 3..4);
        // The last file is padded too.
        let g = Geometry::aligned(16, [20].into_iter());
        assert_eq!((g.total_length(), g.piece_len(1)), (32, 16));
        assert_eq!(
            g.piece_segments(1).collect::<Vec<_>>(),
            vec![seg(0, 16, 4), gap(0, 20, 12)]
        );
        let covered: u64 = g.segments(0, 32).map(|s| s.len).sum();
        assert_eq!(covered, 32);
    }

    #[test]
    fn blocks() {
        let g = Geometry::from_lengths(32768, &[(32768 + 100, false)]);
        assert_eq!(g.block_count(0), 2);
        assert_eq!(g.block_len(0, 1), BLOCK);
        assert_eq!(g.block_count(1), 1);
        assert_eq!(g.block_len(1, 0), 100);
        assert_eq!(g.block_len(1, 1), 0);
    }

    #[test]
    fn check_ranges() {
        let g = Geometry::from_lengths(16, &[(40, false)]);
        assert_eq!(g.check(1, 4, 12), Ok(20));
        assert_eq!(g.check(2, 0, 8), Ok(32));
        assert!(matches!(g.check(2, 0, 9), Err(Error::OutsidePiece { .. })));
        assert!(matches!(g.check(3, 0, 1), Err(Error::NoSuchPiece { .. })));
        assert!(g.check(0, u64::MAX, 2).is_err());
        assert!(g.check(0, 1, u64::MAX).is_err());
    }

    #[test]
    fn empty_and_zero_piece_length() {
        let g = Geometry::from_lengths(0, &[(5, false)]);
        assert_eq!(g.piece_count(), 0);
        assert_eq!(g.file_pieces(0), 0..0);
        let g = Geometry::from_lengths(16, &[(0, false)]);
        assert_eq!(g.piece_count(), 0);
        assert_eq!(g.segments(0, 10).count(), 0);
    }

    #[test]
    fn many_files_are_fast_and_consistent() {
        let files: Vec<(u64, bool)> = (0..100_000u64)
            .map(|i| ((i * 7919) % 5000, false))
            .collect();
        let g = Geometry::from_lengths(1 << 16, &files);
        let mut covered = 0u64;
        let mut last = None;
        for p in 0..g.piece_count() {
            for s in g.piece_segments(p) {
                assert!(s.len > 0 && s.file_offset + s.len <= g.file_len(s.file));
                assert_eq!(g.file_start(s.file) + s.file_offset, covered);
                if let Some((f, end)) = last {
                    assert!(s.file > f || (s.file == f && s.file_offset == end));
                }
                last = Some((s.file, s.file_offset + s.len));
                covered += s.len;
            }
        }
        assert_eq!(covered, g.total_length());
    }
}
