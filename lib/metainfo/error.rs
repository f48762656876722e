//! Why a torrent or a magnet link is refused: one variant per rule, each message lowercase and
//! naming the offending value.

use std::fmt;

use crate::bencode;

/// Why metainfo (or a magnet link) is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The bytes are not valid bencode.
    Bencode(bencode::Error),
    /// The top-level value is not a dictionary.
    NotADictionary {
        /// What it is instead ("a string", ...).
        found: &'static str,
    },
    /// A required key is absent.
    Missing {
        /// Where the key was expected (`info`, `file 3`, ...).
        within: String,
        /// The key.
        key: &'static str,
    },
    /// A key holds a value of the wrong kind.
    WrongType {
        /// The key, with its context (`info.piece length`).
        key: String,
        /// What it must be.
        expected: &'static str,
        /// What it is.
        found: &'static str,
    },
    /// `piece length` is zero or negative.
    PieceLength(i64),
    /// `piece length` over [`MAX_PIECE_LENGTH`](super::MAX_PIECE_LENGTH).
    PieceLengthTooLarge(u64),
    /// Both `length` (single file) and `files` (multi-file) in `info` (BEP 3): which is meant?
    LengthAndFiles,
    /// A file whose `attr` says both pad file and symlink (BEP 47).
    PadSymlink {
        /// The entry (`info.files[3]`).
        file: String,
    },
    /// `private` other than the integer 0 or 1 (BEP 27): private or not?
    BadPrivate(String),
    /// A v2 piece length that is not a power of two of at least 16 KiB.
    V2PieceLength(u64),
    /// `pieces` is not a whole number of 20-byte hashes.
    PiecesNotMultipleOf20(usize),
    /// `pieces` holds a different number of hashes than the total length implies.
    PieceCount {
        /// Hashes present.
        hashes: usize,
        /// Hashes the geometry needs.
        expected: u64,
        /// Total length, pad files included.
        total: u64,
        /// Piece length.
        piece_length: u64,
    },
    /// More pieces than piece indices can address.
    TooManyPieces(u64),
    /// A negative file length.
    NegativeLength {
        /// The file.
        file: String,
        /// Its length.
        length: i64,
    },
    /// A file longer than the supported maximum.
    FileTooLarge {
        /// The file.
        file: String,
        /// Its length.
        length: u64,
    },
    /// Lengths or offsets add up past 2^64.
    Overflow,
    /// A multi-file torrent with an empty `files` list (or an empty v2 tree).
    NoFiles,
    /// A file entry with an empty path.
    EmptyPath {
        /// Index of the entry in `files`.
        index: usize,
    },
    /// `name` is not one plain path component.
    UnsafeName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// A path component (or symlink target component) that cannot be joined safely.
    UnsafeComponent {
        /// The component.
        component: String,
        /// The whole path it belongs to.
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// Two files with the same path.
    DuplicatePath(String),
    /// A file whose path is also a directory of another file.
    FileIsDirectory(String),
    /// The info dictionary has neither v1 `pieces` nor a v2 `file tree`.
    NoVersion,
    /// `meta version` other than 2.
    UnsupportedVersion(i64),
    /// A BEP 52 rule is broken (file tree, pieces root, piece layers, hybrid consistency).
    V2(String),
    /// A magnet link that cannot be used.
    Magnet(String),
}

impl From<bencode::Error> for Error {
    fn from(e: bencode::Error) -> Self {
        Error::Bencode(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Bencode(e) => write!(f, "invalid bencode: {e}"),
            Error::NotADictionary { found } => {
                write!(f, "the torrent is {found}, not a dictionary")
            }
            Error::Missing { within, key } => write!(f, "{within} has no {key:?} key"),
            Error::WrongType {
                key,
                expected,
                found,
            } => write!(f, "{key:?} is {found}, expected {expected}"),
            Error::PieceLength(n) => write!(f, "piece length {n} is not positive"),
            Error::LengthAndFiles => write!(
                f,
                "info has both \"length\" (a single file) and \"files\" (several)"
            ),
            Error::PadSymlink { file } => {
                write!(f, "{file} is marked both pad file and symlink (attr)")
            }
            Error::BadPrivate(v) => write!(f, "private is {v}, not 0 or 1"),
            Error::PieceLengthTooLarge(n) => write!(
                f,
                "piece length {n} is over the limit of {} bytes (libtorrent's; the wire \
                 protocol's 32-bit offsets cannot address pieces of 4 GiB)",
                super::MAX_PIECE_LENGTH
            ),
            Error::V2PieceLength(n) => write!(
                f,
                "piece length {n} is not a power of two of at least 16384 (required by v2)"
            ),
            Error::PiecesNotMultipleOf20(n) => {
                write!(f, "pieces is {n} bytes, not a multiple of 20")
            }
            Error::PieceCount {
                hashes,
                expected,
                total,
                piece_length,
            } => write!(
                f,
                "pieces holds {hashes} hashes, but {total} bytes in pieces of {piece_length} \
                 need {expected}"
            ),
            Error::TooManyPieces(n) => {
                write!(f, "{n} pieces is over the limit of {}", super::MAX_PIECES)
            }
            Error::NegativeLength { file, length } => {
                write!(f, "file {file:?} has negative length {length}")
            }
            Error::FileTooLarge { file, length } => write!(
                f,
                "file {file:?} of {length} bytes is over the limit of {} bytes",
                super::MAX_FILE_LENGTH
            ),
            Error::Overflow => write!(f, "file lengths add up past 2^64 bytes"),
            Error::NoFiles => write!(f, "the torrent holds no files"),
            Error::EmptyPath { index } => write!(f, "file {index} has an empty path"),
            Error::UnsafeName { name, reason } => write!(f, "name {name:?} {reason}"),
            Error::UnsafeComponent {
                component,
                path,
                reason,
            } => write!(
                f,
                "file path component {component:?} {reason} (in {path:?})"
            ),
            Error::DuplicatePath(p) => write!(f, "file path {p:?} appears twice"),
            Error::FileIsDirectory(p) => {
                write!(f, "file path {p:?} is also a directory of another file")
            }
            Error::NoVersion => write!(
                f,
                "info has neither v1 \"pieces\" nor a v2 \"file tree\" with meta version 2"
            ),
            Error::UnsupportedVersion(v) => write!(f, "meta version {v} is not supported"),
            Error::V2(msg) => f.write_str(msg),
            Error::Magnet(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Error {}
