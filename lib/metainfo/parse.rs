//! From untrusted bytes to a validated [`Torrent`]: the strict bencode scan, the info hashes over
//! the raw `info` span, the v1 file list and piece geometry, and the optional top-level fields.
//! The v2 file tree and piece layers are read in [`super::v2`].
//!
//! Required fields of the wrong kind are errors; optional fields of the wrong kind (a `url-list`
//! entry that is an integer, say) are skipped with a warning, as real torrents contain them.

use sha1::{Digest, Sha1};
use sha2::Sha256;

use super::{paths, v2, Error, FileEntry, InfoHash, InfoHashV2, Torrent, Version};
use super::{MAX_FILE_LENGTH, MAX_PIECES};
use crate::bencode::{self, Dict, Limits, Node};

/// Parse and validate a whole `.torrent` file.
pub(super) fn torrent(bytes: &[u8]) -> Result<Torrent, Error> {
    let dec = bencode::decode(bytes, &Limits::default())?;
    let mut warnings = dec.warnings;
    let root = dec.root.as_dict().ok_or(Error::NotADictionary {
        found: dec.root.kind(),
    })?;
    let info_node = root.get("info").ok_or_else(|| Error::Missing {
        within: "the torrent".into(),
        key: "info",
    })?;
    let info = dict(info_node, "info")?;
    let raw_info = &bytes[info_node.span.clone()];

    let name = match info.get("name.utf-8") {
        Some(n) if n.as_bytes().is_some() => n.as_bytes().unwrap_or_default(),
        other => {
            if other.is_some() {
                warnings.push("ignoring \"name.utf-8\", which is not a string".into());
            }
            req_bytes(info, "name", "info")?
        }
    };
    paths::check_name(name)?;
    let piece_length = req_int(info, "piece length", "info")?;
    if piece_length <= 0 {
        return Err(Error::PieceLength(piece_length));
    }
    let piece_length = piece_length as u64;
    if piece_length > super::MAX_PIECE_LENGTH {
        return Err(Error::PieceLengthTooLarge(piece_length));
    }

    let has_v1 = info.get("pieces").is_some();
    let has_v2 = match opt_int(info, "meta version", "info")? {
        Some(2) => true,
        Some(v) if has_v1 => {
            warnings.push(format!("ignoring unknown meta version {v}"));
            false
        }
        Some(v) => return Err(Error::UnsupportedVersion(v)),
        None => false,
    };
    if !has_v1 && !has_v2 {
        return Err(Error::NoVersion);
    }

    let mut t = Torrent {
        name: name.to_vec(),
        piece_length,
        private: match info.get("private") {
            None => false,
            Some(n) => match n.as_int() {
                Some(0) => false,
                Some(1) => true,
                Some(v) => return Err(Error::BadPrivate(v.to_string())),
                None => return Err(Error::BadPrivate(n.kind().to_string())),
            },
        },
        version: match (has_v1, has_v2) {
            (true, true) => Version::Hybrid,
            (false, true) => Version::V2,
            _ => Version::V1,
        },
        info_hash: has_v1.then(|| InfoHash(Sha1::digest(raw_info).into())),
        info_hash_v2: has_v2.then(|| InfoHashV2(Sha256::digest(raw_info).into())),
        info_bytes: raw_info.to_vec(),
        ..Torrent::default()
    };

    if has_v1 {
        let (files, single) = v1_files(info, name, &mut warnings)?;
        t.total_length = files.last().map_or(0, |f| f.offset + f.length);
        t.files = files;
        t.single_file = single;
        t.pieces = v1_pieces(info, t.total_length, piece_length)?;
    }
    if has_v2 {
        v2::read(root, info, &mut t)?;
    }
    let count = t.total_length.div_ceil(piece_length);
    if count > MAX_PIECES {
        return Err(Error::TooManyPieces(count));
    }
    paths::check_unique(t.files.iter().filter(|f| !f.pad).map(|f| f.path.as_slice()))?;

    optional_fields(root, info, &mut t, &mut warnings);
    t.warnings = warnings;
    Ok(t)
}

/// The v1 file list (single-file or `files`), with stream offsets, plus whether it is a
/// single-file torrent.
fn v1_files(
    info: &Dict,
    name: &[u8],
    warnings: &mut Vec<String>,
) -> Result<(Vec<FileEntry>, bool), Error> {
    let Some(list_node) = info.get("files") else {
        let length = req_int(info, "length", "info")?;
        let file = String::from_utf8_lossy(name).into_owned();
        let length = file_length(length, &file)?;
        let entry = FileEntry {
            path: vec![name.to_vec()],
            length,
            ..FileEntry::default()
        };
        return Ok((vec![entry], true));
    };
    if info.get("length").is_some() {
        return Err(Error::LengthAndFiles);
    }
    let list = list_node.as_list().ok_or_else(|| Error::WrongType {
        key: "info.files".into(),
        expected: "a list",
        found: list_node.kind(),
    })?;
    if list.is_empty() {
        return Err(Error::NoFiles);
    }
    let mut files = Vec::with_capacity(list.len());
    let mut offset = 0u64;
    for (i, node) in list.iter().enumerate() {
        let ctx = format!("info.files[{i}]");
        let d = dict(node, &ctx)?;
        let attr = d.get("attr").and_then(Node::as_bytes).unwrap_or_default();
        let path_node = match d.get("path.utf-8") {
            Some(n) if n.as_list().is_some() => Some(n),
            other => {
                if other.is_some() {
                    warnings.push(format!("ignoring {ctx}.path.utf-8, which is not a list"));
                }
                d.get("path")
            }
        };
        let mut path = match path_node {
            Some(n) => Some(str_list(n, &format!("{ctx}.path"))?),
            None => None,
        };
        if attr.contains(&b'p') && attr.contains(&b'l') {
            return Err(Error::PadSymlink { file: ctx });
        }
        let pad = attr.contains(&b'p')
            || path
                .iter()
                .flatten()
                .any(|c| c.starts_with(b"_____padding_file_"));
        let symlink = if attr.contains(&b'l') {
            let target = d.get("symlink path").ok_or_else(|| Error::Missing {
                within: format!("symlink {ctx}"),
                key: "symlink path",
            })?;
            Some(str_list(target, &format!("{ctx}.symlink path"))?)
        } else {
            None
        };
        let display = path.as_deref().map(paths::display).unwrap_or(ctx.clone());
        let length = match d.get("length") {
            // BEP 47: a symlink takes no bytes in the piece stream, whatever it declares.
            _ if symlink.is_some() => 0,
            Some(n) => file_length(int(n, &format!("{ctx}.length"))?, &display)?,
            None => {
                return Err(Error::Missing {
                    within: ctx,
                    key: "length",
                })
            }
        };
        match &path {
            Some(p) if !p.is_empty() => paths::check_path(p)?,
            _ if pad => path = Some(vec![b".pad".to_vec(), length.to_string().into_bytes()]),
            Some(_) => return Err(Error::EmptyPath { index: i }),
            None => {
                return Err(Error::Missing {
                    within: ctx,
                    key: "path",
                })
            }
        }
        if let Some(target) = &symlink {
            paths::check_path(target)?;
        }
        files.push(FileEntry {
            path: path.unwrap_or_default(),
            length,
            offset,
            pad,
            pieces_root: None,
            symlink,
        });
        offset = offset.checked_add(length).ok_or(Error::Overflow)?;
    }
    Ok((files, false))
}

/// A file length: non-negative and within [`MAX_FILE_LENGTH`].
pub(super) fn file_length(length: i64, file: &str) -> Result<u64, Error> {
    if length < 0 {
        return Err(Error::NegativeLength {
            file: file.to_string(),
            length,
        });
    }
    let length = length as u64;
    if length > MAX_FILE_LENGTH {
        return Err(Error::FileTooLarge {
            file: file.to_string(),
            length,
        });
    }
    Ok(length)
}

/// The v1 piece hashes, checked against the geometry.
fn v1_pieces(info: &Dict, total: u64, piece_length: u64) -> Result<Vec<[u8; 20]>, Error> {
    let pieces = req_bytes(info, "pieces", "info")?;
    if pieces.len() % 20 != 0 {
        return Err(Error::PiecesNotMultipleOf20(pieces.len()));
    }
    let expected = total.div_ceil(piece_length);
    if pieces.len() as u64 / 20 != expected {
        return Err(Error::PieceCount {
            hashes: pieces.len() / 20,
            expected,
            total,
            piece_length,
        });
    }
    Ok(pieces
        .chunks_exact(20)
        .map(|c| c.try_into().unwrap_or([0; 20]))
        .collect())
}

/// Trackers, web seeds, comment and the like: malformed values are skipped with a warning.
fn optional_fields(root: &Dict, info: &Dict, t: &mut Torrent, warnings: &mut Vec<String>) {
    let mut text = |d: &Dict, keys: &[&str]| -> Option<String> {
        for key in keys {
            match d.get(key) {
                None => continue,
                Some(n) => match n.as_bytes() {
                    Some(b) => {
                        if std::str::from_utf8(b).is_err() {
                            warnings.push(format!("{key:?} is not valid UTF-8"));
                        }
                        return Some(String::from_utf8_lossy(b).into_owned());
                    }
                    None => warnings.push(format!("ignoring {key:?}, which is {}", n.kind())),
                },
            }
        }
        None
    };
    t.announce = text(root, &["announce"])
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    t.comment = text(root, &["comment.utf-8", "comment"]);
    t.created_by = text(root, &["created by.utf-8", "created by"]);
    t.source = text(info, &["source"]);
    match root.get("creation date") {
        None => {}
        Some(n) => match n.as_int() {
            Some(d) => t.creation_date = Some(d),
            None => warnings.push(format!("ignoring \"creation date\", which is {}", n.kind())),
        },
    }
    if let Some(list) = root.get("announce-list").and_then(Node::as_list) {
        for tier in list {
            let urls: Vec<String> = match &tier.value {
                bencode::Value::List(l) => l.iter().filter_map(url).collect(),
                _ => url(tier).into_iter().collect(),
            };
            if !urls.is_empty() {
                t.announce_list.push(urls);
            }
        }
    }
    match root.get("url-list") {
        None => {}
        Some(n) => match &n.value {
            bencode::Value::List(l) => t.url_list = l.iter().filter_map(url).collect(),
            bencode::Value::Bytes(_) => t.url_list = url(n).into_iter().collect(),
            _ => warnings.push(format!("ignoring \"url-list\", which is {}", n.kind())),
        },
    }
}

/// A URL from a string node: trimmed; `None` when empty, not a string or not UTF-8.
fn url(n: &Node) -> Option<String> {
    let s = n.as_str()?.trim();
    (!s.is_empty()).then(|| s.to_string())
}

pub(super) fn dict<'n, 'a>(n: &'n Node<'a>, key: &str) -> Result<&'n Dict<'a>, Error> {
    n.as_dict().ok_or_else(|| Error::WrongType {
        key: key.to_string(),
        expected: "a dictionary",
        found: n.kind(),
    })
}

pub(super) fn int(n: &Node, key: &str) -> Result<i64, Error> {
    n.as_int().ok_or_else(|| Error::WrongType {
        key: key.to_string(),
        expected: "an integer",
        found: n.kind(),
    })
}

fn opt_int(d: &Dict, key: &str, ctx: &str) -> Result<Option<i64>, Error> {
    d.get(key)
        .map(|n| int(n, &format!("{ctx}.{key}")))
        .transpose()
}

fn req_int(d: &Dict, key: &'static str, ctx: &str) -> Result<i64, Error> {
    match d.get(key) {
        Some(n) => int(n, &format!("{ctx}.{key}")),
        None => Err(Error::Missing {
            within: ctx.to_string(),
            key,
        }),
    }
}

pub(super) fn req_bytes<'a>(d: &Dict<'a>, key: &'static str, ctx: &str) -> Result<&'a [u8], Error> {
    match d.get(key) {
        Some(n) => n.as_bytes().ok_or_else(|| Error::WrongType {
            key: format!("{ctx}.{key}"),
            expected: "a string",
            found: n.kind(),
        }),
        None => Err(Error::Missing {
            within: ctx.to_string(),
            key,
        }),
    }
}

/// A list of byte strings (a path).
pub(super) fn str_list(n: &Node, key: &str) -> Result<Vec<Vec<u8>>, Error> {
    let wrong = |found| Error::WrongType {
        key: key.to_string(),
        expected: "a list of strings",
        found,
    };
    let list = n.as_list().ok_or_else(|| wrong(n.kind()))?;
    list.iter()
        .map(|c| {
            c.as_bytes()
                .map(<[u8]>::to_vec)
                .ok_or_else(|| wrong(c.kind()))
        })
        .collect()
}
