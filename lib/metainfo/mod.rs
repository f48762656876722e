//! Torrent metainfo (BEP 3, BEP 12, BEP 19, BEP 27, BEP 47, BEP 52): parsing, validation,
//! info hashes and magnet links.
//!
//! A [`Torrent`] only exists validated: every path is safe to join under a target directory,
//! the piece hashes match the geometry, lengths and offsets do not overflow. Storage accepts
//! nothing else. The v1 info hash is SHA-1 and the v2 info hash SHA-256 over the original bytes of
//! the `info` value as found in the file, never over a re-encoding.
//!
//! [`Torrent::from_bytes`] refuses (with an [`Error`] naming the offending value):
//! - bytes the strict scanner in [`crate::bencode`] refuses (depth, size, malformed integers,
//!   duplicate keys, trailing data), a top level that is not a dictionary, a missing `info`;
//! - `piece length` <= 0 or over [`MAX_PIECE_LENGTH`]; `pieces` not a multiple of 20 or not 20 x ceil(total / piece length),
//!   pad files included; a file over [`MAX_FILE_LENGTH`], more than [`MAX_PIECES`] pieces, sums
//!   past 2^64, negative lengths, required keys of the wrong kind;
//! - a `name` that is not one plain component; an empty, `.` or `..` component, a `/`, `\` or
//!   NUL inside one, or a drive prefix (`C:`), in any path or symlink target (`name.utf-8` and
//!   `path.utf-8` win when present, and are checked the same way); duplicate paths; a file that is
//!   also a directory of another file; `length` next to `files` (BEP 3: one file or several?);
//!   an `attr` marking a file both pad file and symlink (BEP 47); `private` other than the
//!   integer 0 or 1 (BEP 27);
//! - v2 (BEP 52): a piece length that is not a power of two >= 16 KiB, unsorted `file tree`
//!   keys, a non-empty file without a non-zero 32-byte `pieces root`, a pad file in the tree, a
//!   `piece layers` entry that matches no file, has the wrong number of hashes or does not hash
//!   up to its root; for hybrids, v1 files that differ from the tree or do not start on a piece
//!   boundary.
//!
//! It accepts, as real torrents need: unsorted keys outside the v2 tree (with a warning),
//! trailing whitespace, malformed optional fields (skipped with a warning), non-UTF-8 names (kept
//! as bytes), pad files without a path (named `.pad/<length>`), BEP 47 symlinks (0 bytes in the
//! piece stream), v1 piece lengths that are not powers of two, 0-byte torrents, and v2 torrents
//! without some or all piece layers.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

mod error;
mod from_magnet;
mod magnet;
mod parse;
mod paths;
pub mod v2;

pub use error::Error;
pub use from_magnet::{torrent_from_magnet, torrent_from_magnet_with_layers};
pub use magnet::{percent_decode, percent_encode, Magnet};

/// Longest file accepted: 16 TiB (2^44 bytes). A v2 file of that size already has 2^30
/// blocks of 16 KiB in its merkle tree.
pub const MAX_FILE_LENGTH: u64 = 1 << 44;

/// Largest `piece length` accepted: 512 MiB, libtorrent's `file_storage::max_piece_size`.
/// BEP 3 block offsets are 32-bit, so pieces of 4 GiB and more cannot even be addressed on the
/// wire; no real torrent comes close to this limit.
pub const MAX_PIECE_LENGTH: u64 = 1 << 29;

/// Most pieces accepted in one torrent: piece indices must fit a signed 32-bit integer.
pub const MAX_PIECES: u64 = (1 << 31) - 1;

/// A v1 info hash: SHA-1 of the raw `info` bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoHash(pub [u8; 20]);

/// A v2 info hash: SHA-256 of the raw `info` bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoHashV2(pub [u8; 32]);

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Bytes from hex (either case); `None` unless the text is exactly `N` bytes of hex.
pub fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in b.chunks(2).enumerate() {
        let h = (pair[0] as char).to_digit(16)?;
        let l = (pair[1] as char).to_digit(16)?;
        out[i] = (h * 16 + l) as u8;
    }
    Some(out)
}

impl InfoHash {
    /// Lowercase hex.
    pub fn hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Display for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHash({})", self.hex())
    }
}

impl InfoHashV2 {
    /// Lowercase hex.
    pub fn hex(&self) -> String {
        hex(&self.0)
    }

    /// Its first 20 bytes: what v2 peers put in the handshake and trackers see (BEP 52).
    pub fn truncated(&self) -> InfoHash {
        let mut h = [0u8; 20];
        h.copy_from_slice(&self.0[..20]);
        InfoHash(h)
    }
}

impl fmt::Display for InfoHashV2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for InfoHashV2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHashV2({})", self.hex())
    }
}

/// Which metainfo versions a torrent carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Version {
    /// BEP 3 only.
    #[default]
    V1,
    /// BEP 52 only.
    V2,
    /// Both, describing the same files.
    Hybrid,
}

/// One file of a torrent, in piece-stream order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileEntry {
    /// Path components below the torrent's root directory (`path.utf-8` preferred). For a
    /// single-file torrent this is `[name]`. Each component is validated: non-empty, not `.` or
    /// `..`, no `/`, `\` or NUL.
    pub path: Vec<Vec<u8>>,
    /// Length in bytes.
    pub length: u64,
    /// Offset of the first byte in the v1 piece stream (pad files included).
    pub offset: u64,
    /// A BEP 47 pad file (`attr` contains `p`): zeros that are never written to disk.
    pub pad: bool,
    /// BEP 52 `pieces root`, for v2 and hybrid torrents (None for empty files).
    pub pieces_root: Option<[u8; 32]>,
    /// A BEP 47 symlink (`attr` contains `l`): the target's components, relative to the
    /// torrent's root and validated like paths. A symlink takes 0 bytes (`length` is 0).
    pub symlink: Option<Vec<Vec<u8>>>,
}

/// A validated torrent.
#[derive(Debug, Clone, Default)]
pub struct Torrent {
    /// `name.utf-8` if present, else `name`: one plain path component, as bytes.
    pub name: Vec<u8>,
    /// Bytes per piece.
    pub piece_length: u64,
    /// v1 piece hashes (empty for a v2-only torrent).
    pub pieces: Vec<[u8; 20]>,
    /// Files in piece-stream order (pad files included, marked).
    pub files: Vec<FileEntry>,
    /// True when the info dictionary has no `files` list (v1) / the v2 tree is one file named
    /// like the torrent: the content is the file `DIR/<name>` itself.
    pub single_file: bool,
    /// Length of the piece stream: the end of the last file, pad files included. For a v2-only
    /// torrent every file starts on a piece boundary (as if padded), so `piece_count()` holds.
    /// The bytes of content are [`Torrent::content_length`].
    pub total_length: u64,
    /// BEP 27 private flag.
    pub private: bool,
    /// v1, v2 or hybrid.
    pub version: Version,
    /// v1 info hash (None for a v2-only torrent).
    pub info_hash: Option<InfoHash>,
    /// v2 info hash (None for a v1-only torrent).
    pub info_hash_v2: Option<InfoHashV2>,
    /// `announce`.
    pub announce: Option<String>,
    /// `announce-list` tiers (BEP 12), empty tiers dropped.
    pub announce_list: Vec<Vec<String>>,
    /// `url-list` web seeds (BEP 19), a single string becomes one entry.
    pub url_list: Vec<String>,
    /// `comment`.
    pub comment: Option<String>,
    /// `created by`.
    pub created_by: Option<String>,
    /// `creation date`, seconds since the epoch.
    pub creation_date: Option<i64>,
    /// `source` inside `info`.
    pub source: Option<String>,
    /// Non-fatal findings (non-canonical encoding, ignored keys, ...).
    pub warnings: Vec<String>,
    /// The raw bytes of the `info` value as found in the file (for BEP 9 metadata exchange).
    pub info_bytes: Vec<u8>,
    /// BEP 52 piece layers that were present and verified: `pieces root` -> piece hashes.
    pub piece_layers: HashMap<[u8; 32], Vec<[u8; 32]>>,
}

impl Torrent {
    /// Parse and validate a `.torrent` file: strict bencode, info hashes over the raw `info`
    /// bytes, geometry and path safety. Nothing unvalidated is ever returned.
    pub fn from_bytes(bytes: &[u8]) -> Result<Torrent, Error> {
        parse::torrent(bytes)
    }

    /// Bytes of content: the sum of the lengths of files that are neither pad files nor
    /// symlinks.
    pub fn content_length(&self) -> u64 {
        self.files
            .iter()
            .filter(|f| !f.pad && f.symlink.is_none())
            .map(|f| f.length)
            .sum()
    }

    /// Number of v1 pieces (or of v2 pieces, for a v2-only torrent).
    pub fn piece_count(&self) -> usize {
        if self.piece_length == 0 {
            0
        } else {
            self.total_length.div_ceil(self.piece_length) as usize
        }
    }

    /// Where a file lives relative to the download directory: `<name>` for a single-file
    /// torrent, `<name>/<path...>` otherwise. Components are validated, so the result never
    /// leaves the directory it is joined to.
    pub fn file_path(&self, file: &FileEntry) -> PathBuf {
        use std::os::unix::ffi::OsStrExt;
        let mut p = PathBuf::new();
        if !self.single_file {
            p.push(std::ffi::OsStr::from_bytes(&self.name));
        }
        for c in &file.path {
            p.push(std::ffi::OsStr::from_bytes(c));
        }
        p
    }

    /// The name as text (lossless when it is UTF-8; otherwise with replacement characters:
    /// use it for display only).
    pub fn name_lossy(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    /// The info hash of the swarm: the v1 hash, or for a v2-only torrent the truncated v2
    /// hash. Every validated torrent has one of the two.
    pub fn swarm_hash(&self) -> InfoHash {
        match (self.info_hash, self.info_hash_v2) {
            (Some(h), _) => h,
            (None, Some(h)) => h.truncated(),
            (None, None) => InfoHash([0; 20]),
        }
    }

    /// The v2 piece layers this torrent needs: `(pieces root, piece count)` of every file of more
    /// than one piece (a file of one piece is judged by its root alone), sorted, each root once.
    pub fn wanted_piece_layers(&self) -> Vec<([u8; 32], u64)> {
        let pl = self.piece_length;
        let mut v: Vec<([u8; 32], u64)> = self
            .files
            .iter()
            .filter(|f| self.info_hash_v2.is_some() && pl > 0 && f.length > pl)
            .filter_map(|f| Some((f.pieces_root?, f.length.div_ceil(pl))))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// [`Torrent::wanted_piece_layers`] that `piece_layers` does not hold yet.
    pub fn missing_piece_layers(&self) -> Vec<([u8; 32], u64)> {
        let mut v = self.wanted_piece_layers();
        v.retain(|(r, _)| !self.piece_layers.contains_key(r));
        v
    }

    /// Every tracker, tier by tier: `announce-list` when present, else `announce`.
    pub fn tiers(&self) -> Vec<Vec<String>> {
        if !self.announce_list.is_empty() {
            self.announce_list.clone()
        } else {
            self.announce.iter().map(|a| vec![a.clone()]).collect()
        }
    }
}

#[cfg(test)]
mod tests;
