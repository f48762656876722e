//! Creating torrents (v1 by default; v2-only and hybrid in [`v2`]): walk a path, choose the
//! piece length, hash in parallel, write the metainfo.
//!
//! The output is reproducible: the same files and [`Options`] give the same bytes on every run
//! and machine (files sorted by path bytes, keys written in canonical sorted order, no hidden
//! inputs such as the clock: the caller passes the creation date). The info hash is SHA-1 over
//! the exact `info` bytes written.
//!
//! Steps, usable one by one (the binary does, to size its progress bar between them) or at once
//! through [`create`]: [`walk()`] gives a [`Layout`], [`default_piece_length`] or a checked
//! [`Options::piece_length`] the piece length, [`hash_pieces`] the piece hashes, [`build`] the
//! torrent bytes; [`write_torrent`] puts them in place atomically. [`Plan`] does the first two
//! steps and then the rest with a read-back check; [`output_path`] chooses where it goes.
//! [`hash_and_build`] does the hashing and building for any [`Options::version`].

mod hash;
mod plan;
pub mod v2;
mod walk;

pub use hash::hash_pieces;
pub use plan::{output_path, split_urls, Plan};
pub use walk::{torrent_name, walk, Globs, InputFile, Layout, WalkOptions};

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_bytes::Bytes;
use sha1::{Digest, Sha1};

use crate::metainfo::{InfoHash, InfoHashV2, Version};

/// `created by` unless told otherwise: `bt/<version>`.
pub const CREATED_BY: &str = concat!("bt/", env!("CARGO_PKG_VERSION"));
/// Smallest piece length accepted (and chosen): 16 KiB.
pub const MIN_PIECE_LENGTH: u64 = 16 << 10;
/// Largest piece length chosen by [`default_piece_length`]: 16 MiB.
pub const MAX_DEFAULT_PIECE_LENGTH: u64 = 16 << 20;
/// Largest piece length accepted: 64 MiB (the largest libtorrent and qBittorrent offer when
/// creating; larger pieces make every hash failure cost more than it is worth).
pub const MAX_PIECE_LENGTH: u64 = 64 << 20;
/// [`default_piece_length`] aims at no more than this many pieces.
pub const TARGET_PIECES: u64 = 2000;

/// Why a torrent could not be created.
#[derive(Debug)]
pub enum Error {
    /// Reading the input failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The input has no data (no files, or only empty ones).
    Empty(PathBuf),
    /// The input is neither a regular file nor a directory.
    NotFileOrDir(PathBuf),
    /// The torrent name is not one plain path component.
    BadName(String),
    /// The piece length is not a power of two in range.
    PieceLength(u64),
    /// A file is shorter than when the input was walked.
    Changed(PathBuf),
    /// The output file exists and overwriting was not asked for.
    Exists(PathBuf),
    /// The output path is the input file itself.
    OutputIsInput(PathBuf),
    /// A glob pattern does not compile.
    Glob {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The input is one file, and the exclude or include patterns leave it out.
    Filtered(PathBuf),
    /// Encoding the metainfo failed (an internal error).
    Encode(String),
    /// The torrent built does not parse (an internal error).
    Unparsable(crate::metainfo::Error),
    /// The torrent built parses, but not as what was built (an internal error).
    ReadsBackDifferently,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Empty(p) => write!(f, "{}: no data to make a torrent of", p.display()),
            Error::NotFileOrDir(p) => {
                write!(f, "{}: not a regular file or a directory", p.display())
            }
            Error::BadName(n) => write!(f, "torrent name {n:?} is not one plain path component"),
            Error::PieceLength(n) => write!(
                f,
                "piece length {n} is not a power of two from 16 KiB to 64 MiB"
            ),
            Error::Changed(p) => write!(f, "{}: file changed while hashing", p.display()),
            Error::Exists(p) => write!(f, "{} exists (use --force to overwrite)", p.display()),
            Error::OutputIsInput(p) => {
                write!(f, "{}: the output would replace the input", p.display())
            }
            Error::Glob { pattern, reason } => write!(f, "glob {pattern:?}: {reason}"),
            Error::Encode(e) => write!(f, "internal error: cannot encode the torrent: {e}"),
            Error::Unparsable(_) => f.write_str("internal error: the created torrent does not parse"),
            Error::ReadsBackDifferently => {
                f.write_str("internal error: the created torrent reads back differently")
            }
            Error::Filtered(p) => write!(
                f,
                "{}: the exclude or include patterns leave this file out: no data to make a torrent of",
                p.display()
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Unparsable(e) => Some(e),
            _ => None,
        }
    }
}

/// What goes into the torrent besides the files.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Which files go in, and the name.
    pub walk: WalkOptions,
    /// Tracker tiers (BEP 12). `announce` is the first URL; `announce-list` is written only when
    /// there is more than one URL in all.
    pub announce: Vec<Vec<String>>,
    /// Web seeds (BEP 19 `url-list`).
    pub web_seeds: Vec<String>,
    /// BEP 27 private flag (`private: 1` written only when set).
    pub private: bool,
    /// `source` inside `info` (changes the info hash; used by private trackers).
    pub source: Option<String>,
    /// `comment`.
    pub comment: Option<String>,
    /// Piece length; `None` for [`default_piece_length`].
    pub piece_length: Option<u64>,
    /// `creation date` (seconds since the epoch), or none.
    pub creation_date: Option<i64>,
    /// `created by`, or none.
    pub created_by: Option<String>,
    /// v1 (the default), v2 only, or hybrid (both, with pad files).
    pub version: Version,
}

/// A created torrent.
#[derive(Debug, Clone)]
pub struct Created {
    /// The metainfo file's bytes.
    pub bytes: Vec<u8>,
    /// SHA-1 of the `info` bytes within [`Created::bytes`] (`None` for v2 only).
    pub info_hash: Option<InfoHash>,
    /// SHA-256 of the same bytes (`None` for v1 only).
    pub info_hash_v2: Option<InfoHashV2>,
    /// The torrent's name.
    pub name: Vec<u8>,
    /// Bytes per piece.
    pub piece_length: u64,
    /// Number of pieces (of the stream with every file on a piece boundary for v2 and hybrid).
    pub piece_count: usize,
    /// Sum of the file lengths (pad files aside).
    pub total_length: u64,
    /// Number of files.
    pub file_count: usize,
}

/// The piece length chosen when none is given: the smallest power of two that keeps the piece
/// count at or below [`TARGET_PIECES`] (so between 1000 and 2000 pieces), clamped to
/// 16 KiB..16 MiB. For example 1 GiB gives 1 MiB pieces (1024 of them), 4 GiB 4 MiB.
pub fn default_piece_length(total_length: u64) -> u64 {
    total_length
        .div_ceil(TARGET_PIECES)
        .next_power_of_two()
        .clamp(MIN_PIECE_LENGTH, MAX_DEFAULT_PIECE_LENGTH)
}

/// Accept a piece length only if it is a power of two from 16 KiB to 64 MiB.
pub fn check_piece_length(n: u64) -> Result<u64, Error> {
    if n.is_power_of_two() && (MIN_PIECE_LENGTH..=MAX_PIECE_LENGTH).contains(&n) {
        Ok(n)
    } else {
        Err(Error::PieceLength(n))
    }
}

/// Walk, hash and build in one call.
pub fn create(
    path: &Path,
    opts: &Options,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Created, Error> {
    Plan::new(path, opts)?.build(opts, progress)
}

/// Hash the files of `layout` and build the torrent of the version `opts` asks for.
pub fn hash_and_build(
    layout: &Layout,
    piece_length: u64,
    opts: &Options,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Created, Error> {
    if opts.version == Version::V1 {
        let pieces = hash_pieces(&layout.files, piece_length, progress)?;
        return build(layout, piece_length, &pieces, opts);
    }
    let files = v2::tree_order(layout);
    let hybrid = opts.version == Version::Hybrid;
    let hashes = v2::hash_files(&files, piece_length, hybrid, layout.single_file, progress)?;
    v2::build(layout, &files, piece_length, &hashes, opts)
}

/// The `info` dictionary as written (serde_bencode sorts the keys; `None` fields are left out).
#[derive(Serialize)]
pub(super) struct InfoDict<'a> {
    #[serde(rename = "file tree", skip_serializing_if = "Option::is_none")]
    pub(super) file_tree: Option<v2::TreeNode<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) files: Option<Vec<FileDict<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) length: Option<u64>,
    #[serde(rename = "meta version", skip_serializing_if = "Option::is_none")]
    pub(super) meta_version: Option<u8>,
    pub(super) name: &'a Bytes,
    #[serde(rename = "piece length")]
    pub(super) piece_length: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) pieces: Option<&'a Bytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) private: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) source: Option<&'a str>,
}

/// One entry of `files`.
#[derive(Serialize)]
pub(super) struct FileDict<'a> {
    /// `p` for a BEP 47 pad file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) attr: Option<&'static str>,
    pub(super) length: u64,
    pub(super) path: Vec<&'a Bytes>,
}

/// The metainfo file around the `info` dictionary.
#[derive(Serialize)]
struct MetainfoDict<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    announce: Option<&'a str>,
    #[serde(rename = "announce-list", skip_serializing_if = "Option::is_none")]
    announce_list: Option<Vec<&'a Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'a str>,
    #[serde(rename = "created by", skip_serializing_if = "Option::is_none")]
    created_by: Option<&'a str>,
    #[serde(rename = "creation date", skip_serializing_if = "Option::is_none")]
    creation_date: Option<i64>,
    info: &'a InfoDict<'a>,
    #[serde(rename = "piece layers", skip_serializing_if = "Option::is_none")]
    piece_layers: Option<v2::PieceLayers<'a>>,
    #[serde(rename = "url-list", skip_serializing_if = "<[_]>::is_empty")]
    url_list: &'a [String],
}

/// Write the torrent: a canonical bencoded dictionary (keys in sorted order), through
/// `serde_bencode`. The info hash is SHA-1 over the `info` value's encoding, which is the same
/// bytes inside the file (the encoding is deterministic; `bt-make` reads its output back to
/// check).
pub fn build(
    layout: &Layout,
    piece_length: u64,
    pieces: &[[u8; 20]],
    opts: &Options,
) -> Result<Created, Error> {
    let files = (!layout.single_file).then(|| {
        layout
            .files
            .iter()
            .map(|f| FileDict {
                attr: None,
                length: f.length,
                path: f.path.iter().map(|c| Bytes::new(c)).collect(),
            })
            .collect()
    });
    let info = InfoDict {
        file_tree: None,
        files,
        length: layout.single_file.then_some(layout.total_length),
        meta_version: None,
        name: Bytes::new(&layout.name),
        piece_length,
        pieces: Some(Bytes::new(pieces.as_flattened())),
        private: opts.private.then_some(1),
        source: opts.source.as_deref(),
    };
    encode(layout, &info, None, pieces.len(), opts)
}

/// Encode the metainfo around `info`, with the info hashes its version calls for.
pub(super) fn encode(
    layout: &Layout,
    info: &InfoDict<'_>,
    piece_layers: Option<v2::PieceLayers<'_>>,
    piece_count: usize,
    opts: &Options,
) -> Result<Created, Error> {
    let urls: Vec<&String> = opts.announce.iter().flatten().collect();
    let metainfo = MetainfoDict {
        announce: urls.first().map(|u| u.as_str()),
        announce_list: (urls.len() > 1)
            .then(|| opts.announce.iter().filter(|t| !t.is_empty()).collect()),
        comment: opts.comment.as_deref(),
        created_by: opts.created_by.as_deref(),
        creation_date: opts.creation_date,
        info,
        piece_layers,
        url_list: &opts.web_seeds,
    };
    let encode = |e: serde_bencode::Error| Error::Encode(e.to_string());
    let info_bytes = serde_bencode::to_bytes(info).map_err(encode)?;
    let bytes = serde_bencode::to_bytes(&metainfo).map_err(encode)?;
    Ok(Created {
        bytes,
        info_hash: info
            .pieces
            .is_some()
            .then(|| InfoHash(Sha1::digest(&info_bytes).into())),
        info_hash_v2: info
            .file_tree
            .is_some()
            .then(|| InfoHashV2(sha2::Sha256::digest(&info_bytes).into())),
        name: layout.name.clone(),
        piece_length: info.piece_length,
        piece_count,
        total_length: layout.total_length,
        file_count: layout.files.len(),
    })
}

/// Write `bytes` to `path` through a temporary file in the same directory (synced, then
/// renamed or linked into place), so no reader ever sees a half-written torrent and a failure
/// leaves nothing behind. Without `overwrite` an existing file is never replaced, even one that
/// appears while writing.
pub fn write_torrent(path: &Path, bytes: &[u8], overwrite: bool) -> Result<(), Error> {
    use std::io::{ErrorKind, Write};
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Some(file_name) = path.file_name() else {
        return Err(Error::Io {
            path: path.to_path_buf(),
            source: ErrorKind::InvalidInput.into(),
        });
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| -> io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        if overwrite {
            return fs::rename(&tmp, path);
        }
        // A hard link never replaces an existing file; rename where links are not supported.
        match fs::hard_link(&tmp, path) {
            Ok(()) => fs::remove_file(&tmp),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(e),
            Err(_) if fs::symlink_metadata(path).is_ok() => Err(ErrorKind::AlreadyExists.into()),
            Err(_) => fs::rename(&tmp, path),
        }
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        if e.kind() == ErrorKind::AlreadyExists {
            Error::Exists(path.to_path_buf())
        } else {
            Error::Io {
                path: path.to_path_buf(),
                source: e,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piece_length_rule() {
        assert_eq!(default_piece_length(1), 16 << 10);
        assert_eq!(default_piece_length(1 << 30), 1 << 20);
        assert_eq!(default_piece_length(4 << 30), 4 << 20);
        assert_eq!(default_piece_length(1 << 50), 16 << 20);
        for total in [1u64 << 25, 3 << 28, 999_999_999, 30_000_000_000] {
            let n = total.div_ceil(default_piece_length(total));
            assert!((1000..=2000).contains(&n), "{total}: {n} pieces");
        }
        assert!(check_piece_length(16 << 10).is_ok());
        assert!(check_piece_length(8 << 10).is_err());
        assert!(check_piece_length(3 << 20).is_err());
        assert!(check_piece_length(MAX_PIECE_LENGTH).is_ok());
        assert!(check_piece_length(MAX_PIECE_LENGTH * 2).is_err());
        assert!(check_piece_length(1 << 30).is_err());
        assert!(check_piece_length(2 << 30).is_err());
    }

    fn layout() -> Layout {
        Layout {
            name: b"d".to_vec(),
            single_file: false,
            files: vec![
                InputFile {
                    path: vec![b"a".to_vec(), b"b".to_vec()],
                    disk: "/nonexistent".into(),
                    length: 3,
                },
                InputFile {
                    path: vec![b"c".to_vec()],
                    disk: "/nonexistent".into(),
                    length: 0,
                },
            ],
            total_length: 3,
            warnings: vec![],
        }
    }

    #[test]
    fn canonical_bytes_and_info_hash() {
        let opts = Options {
            announce: vec![vec!["http://a/ann".into()], vec!["udp://b:1".into()]],
            web_seeds: vec!["http://w/".into()],
            private: true,
            source: Some("S".into()),
            comment: Some("hi".into()),
            creation_date: Some(1_700_000_000),
            created_by: Some("bt/test".into()),
            ..Options::default()
        };
        let c = build(&layout(), 16384, &[[7u8; 20]], &opts).unwrap();
        let info = format!(
            "d5:filesld6:lengthi3e4:pathl1:a1:beed6:lengthi0e4:pathl1:ceee4:name1:d\
             12:piece lengthi16384e6:pieces20:{}7:privatei1e6:source1:Se",
            "\x07".repeat(20)
        );
        let want = format!(
            "d8:announce12:http://a/ann13:announce-listll12:http://a/annel9:udp://b:1ee\
             7:comment2:hi10:created by7:bt/test13:creation datei1700000000e4:info{info}\
             8:url-listl9:http://w/ee"
        );
        assert_eq!(String::from_utf8(c.bytes.clone()).unwrap(), want);
        assert_eq!(
            c.info_hash.unwrap().0,
            <[u8; 20]>::from(Sha1::digest(info.as_bytes()))
        );
        // The strict decoder accepts it without a warning (keys sorted).
        let d = crate::bencode::decode(&c.bytes, &Default::default()).unwrap();
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    }

    #[test]
    fn one_tracker_has_no_announce_list() {
        let opts = Options {
            announce: vec![vec!["http://a/".into()]],
            ..Options::default()
        };
        let c = build(&layout(), 16384, &[[0u8; 20]], &opts).unwrap();
        let s = String::from_utf8_lossy(&c.bytes);
        assert!(s.starts_with("d8:announce9:http://a/4:info"), "{s}");
        assert!(!s.contains("private"));
    }
}
