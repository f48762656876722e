//! BEP 52 (v2) metainfo: the `file tree`, each file's `pieces root`, the `piece layers`, and
//! the consistency of hybrid torrents.
//!
//! Invariants after reading: the piece length is a power of two of at least 16 KiB; every
//! level of the file tree has sorted keys and safe names; every non-empty regular file has a
//! non-zero 32-byte `pieces root`; every `piece layers` entry belongs to a file, holds exactly
//! one hash per piece of that file and hashes up to its root; a hybrid's v1 file list (pad files
//! aside) names the same files with the same lengths as its tree, each starting on a piece
//! boundary.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::parse::{dict, file_length, int, str_list};
use super::{hex, paths, Error, FileEntry, Torrent, Version, MAX_PIECES};
use crate::bencode::{Dict, Limits, Node};

/// The v2 block size: leaves of the per-file merkle trees hash 16 KiB each.
pub const BLOCK: u64 = 16 * 1024;

/// Read the v2 parts of the torrent into `t`. For a v2-only torrent this fills the file list
/// (each file starting on a piece boundary); for a hybrid it checks the v1 list against the
/// tree and adds the pieces roots.
pub(super) fn read(root: &Dict, info: &Dict, t: &mut Torrent) -> Result<(), Error> {
    let pl = t.piece_length;
    if pl < BLOCK || !pl.is_power_of_two() {
        return Err(Error::V2PieceLength(pl));
    }
    let tree_node = info.get("file tree").ok_or_else(|| Error::Missing {
        within: "info".into(),
        key: "file tree",
    })?;
    let tree = dict(tree_node, "info.file tree")?;
    let mut files = Vec::new();
    let mut budget = Budget::default();
    walk(tree, &mut Vec::new(), &mut budget, &mut files)?;
    if files.is_empty() {
        return Err(Error::NoFiles);
    }
    let single = tree.entries.len() == 1 && files.len() == 1 && files[0].path == [t.name.clone()];

    if t.version == Version::Hybrid {
        check_hybrid(t, &files)?;
    } else {
        t.total_length = lay_out(&mut files, pl)?;
    }
    let count = t.total_length.div_ceil(pl);
    if count > MAX_PIECES {
        return Err(Error::TooManyPieces(count));
    }
    if let Some(layers) = root.get("piece layers") {
        t.piece_layers = piece_layers(layers, &files, pl)?;
    }
    if t.version == Version::V2 {
        t.files = files;
        t.single_file = single;
    }
    Ok(())
}

/// Offsets for a v2-only torrent: each file starts on a piece boundary, as if pad files were
/// in between. Returns the end of the last file.
fn lay_out(files: &mut [FileEntry], pl: u64) -> Result<u64, Error> {
    let mut offset = 0u64;
    for f in files {
        f.offset = offset.checked_next_multiple_of(pl).ok_or(Error::Overflow)?;
        offset = f.offset.checked_add(f.length).ok_or(Error::Overflow)?;
    }
    Ok(offset)
}

/// What the file paths of a tree may add up to. Directories are shared in a tree, so a small
/// input could otherwise spell out gigabytes of paths (a 13 MB tree 120 levels deep with 500,000
/// files would); the caps are those the bencode scanner puts on a v1 file list, which spells
/// every component out: its value count and its size.
#[derive(Default)]
struct Budget {
    components: usize,
    bytes: usize,
}

impl Budget {
    fn spend(&mut self, path: &[Vec<u8>]) -> Result<(), Error> {
        let limits = Limits::default();
        self.components += path.len();
        self.bytes += path.iter().map(|c| c.len() + 1).sum::<usize>();
        if self.components > limits.max_tokens || self.bytes > limits.max_size {
            return Err(Error::V2(format!(
                "file tree paths add up to over {} components or {} bytes",
                limits.max_tokens, limits.max_size
            )));
        }
        Ok(())
    }
}

/// Depth-first over the tree in key order (the bencode scanner bounds the depth).
fn walk(
    d: &Dict,
    prefix: &mut Vec<Vec<u8>>,
    budget: &mut Budget,
    out: &mut Vec<FileEntry>,
) -> Result<(), Error> {
    if !d.sorted {
        return Err(Error::V2(format!(
            "file tree keys are not sorted (in {:?})",
            paths::display(prefix)
        )));
    }
    if d.entries.is_empty() {
        return Err(Error::V2(format!(
            "file tree entry {:?} is neither a file nor a directory with files",
            paths::display(prefix)
        )));
    }
    for (key, node) in &d.entries {
        if key.is_empty() {
            if prefix.is_empty() || d.entries.len() != 1 {
                return Err(Error::V2(format!(
                    "file tree entry {:?} has an empty name next to other entries",
                    paths::display(prefix)
                )));
            }
            budget.spend(prefix)?;
            out.push(leaf(node, prefix)?);
            continue;
        }
        prefix.push(key.to_vec());
        if let Some(reason) = paths::component_problem(key) {
            return Err(Error::UnsafeComponent {
                component: String::from_utf8_lossy(key).into_owned(),
                path: paths::display(prefix),
                reason,
            });
        }
        let child = node.as_dict().ok_or_else(|| Error::WrongType {
            key: format!("file tree entry {}", paths::display(prefix)),
            expected: "a dictionary",
            found: node.kind(),
        })?;
        walk(child, prefix, budget, out)?;
        prefix.pop();
    }
    Ok(())
}

fn leaf(node: &Node, path: &[Vec<u8>]) -> Result<FileEntry, Error> {
    let shown = paths::display(path);
    let d = dict(node, &format!("file tree entry {shown}"))?;
    let attr = d.get("attr").and_then(Node::as_bytes).unwrap_or_default();
    if attr.contains(&b'p') {
        return Err(Error::V2(format!(
            "file {shown:?} is a pad file, which a v2 file tree must not hold"
        )));
    }
    let symlink = if attr.contains(&b'l') {
        let target = d.get("symlink path").ok_or_else(|| Error::Missing {
            within: format!("symlink {shown:?}"),
            key: "symlink path",
        })?;
        let target = str_list(target, &format!("{shown}.symlink path"))?;
        paths::check_path(&target)?;
        Some(target)
    } else {
        None
    };
    let length = match d.get("length") {
        _ if symlink.is_some() => 0,
        Some(n) => file_length(int(n, &format!("{shown}.length"))?, &shown)?,
        None => {
            return Err(Error::Missing {
                within: format!("file {shown:?}"),
                key: "length",
            })
        }
    };
    let pieces_root = if length == 0 {
        None
    } else {
        let r = d
            .get("pieces root")
            .and_then(Node::as_bytes)
            .ok_or_else(|| Error::V2(format!("file {shown:?} has no pieces root")))?;
        let r: [u8; 32] = r.try_into().map_err(|_| {
            Error::V2(format!(
                "pieces root of {shown:?} is {} bytes, not 32",
                r.len()
            ))
        })?;
        if r == [0; 32] {
            return Err(Error::V2(format!("pieces root of {shown:?} is all zeros")));
        }
        Some(r)
    };
    Ok(FileEntry {
        path: path.to_vec(),
        length,
        pieces_root,
        symlink,
        ..FileEntry::default()
    })
}

/// Check every `piece layers` entry against the file it belongs to.
fn piece_layers(
    node: &Node,
    files: &[FileEntry],
    pl: u64,
) -> Result<HashMap<[u8; 32], Vec<[u8; 32]>>, Error> {
    let layers = dict(node, "piece layers")?;
    let by_root: HashMap<[u8; 32], &FileEntry> = files
        .iter()
        .filter_map(|f| f.pieces_root.map(|r| (r, f)))
        .collect();
    let pad = pad_hash(pl);
    let mut out = HashMap::with_capacity(layers.entries.len());
    for (key, value) in &layers.entries {
        let file = <[u8; 32]>::try_from(*key)
            .ok()
            .and_then(|k| by_root.get(&k))
            .ok_or_else(|| Error::V2(format!("piece layer key {} matches no file", hex(key))))?;
        let shown = paths::display(&file.path);
        let bytes = value.as_bytes().ok_or_else(|| {
            Error::V2(format!(
                "piece layer of {shown:?} is {}, not a string",
                value.kind()
            ))
        })?;
        if bytes.len() % 32 != 0 {
            return Err(Error::V2(format!(
                "piece layer of {shown:?} is {} bytes, not a multiple of 32",
                bytes.len()
            )));
        }
        let want = file.length.div_ceil(pl);
        if bytes.len() as u64 / 32 != want {
            return Err(Error::V2(format!(
                "piece layer of {shown:?} holds {} hashes, but its {} bytes need {want}",
                bytes.len() / 32,
                file.length
            )));
        }
        let hashes: Vec<[u8; 32]> = bytes
            .chunks_exact(32)
            .map(|c| c.try_into().unwrap_or([0; 32]))
            .collect();
        let root = file.pieces_root.unwrap_or_default();
        if merkle_root(&hashes, pad) != root {
            return Err(Error::V2(format!(
                "piece layer of {shown:?} does not hash to its pieces root {}",
                hex(&root)
            )));
        }
        out.insert(root, hashes);
    }
    Ok(out)
}

/// A hybrid's v1 files (pad files aside) must be the tree's files, each starting on a piece
/// boundary; the tree's pieces roots are added to the v1 entries.
fn check_hybrid(t: &mut Torrent, tree: &[FileEntry]) -> Result<(), Error> {
    let mismatch = |what: String| Error::V2(format!("hybrid: {what}"));
    let mut by_path: HashMap<&[Vec<u8>], &FileEntry> = HashMap::with_capacity(tree.len());
    for f in tree {
        by_path.insert(&f.path, f);
    }
    let mut seen = 0usize;
    for f in t.files.iter_mut().filter(|f| !f.pad) {
        let shown = || paths::display(&f.path);
        let v2 = by_path
            .get(f.path.as_slice())
            .ok_or_else(|| mismatch(format!("v1 file {:?} is not in the v2 file tree", shown())))?;
        seen += 1;
        if v2.length != f.length || v2.symlink != f.symlink {
            return Err(mismatch(format!(
                "v1 file {:?} has {} bytes, the v2 file tree says {}",
                shown(),
                f.length,
                v2.length
            )));
        }
        if f.length > 0 && f.offset % t.piece_length != 0 {
            return Err(mismatch(format!(
                "v1 file {:?} starts at byte {}, not on a piece boundary (pad files misaligned)",
                shown(),
                f.offset
            )));
        }
        f.pieces_root = v2.pieces_root;
    }
    if seen != tree.len() {
        return Err(mismatch(format!(
            "the v1 list has {seen} files, the v2 file tree {}",
            tree.len()
        )));
    }
    Ok(())
}

/// The hash that stands for one piece past the end of a file in a piece layer: the root of a
/// subtree of `piece_length / 16 KiB` all-zero leaf hashes.
pub fn pad_hash(piece_length: u64) -> [u8; 32] {
    let mut h = [0u8; 32];
    let mut n = BLOCK;
    while n < piece_length {
        h = hash_pair(&h, &h);
        n *= 2;
    }
    h
}

/// The root of a binary SHA-256 merkle tree over `leaves`, padded to a power of two with `pad`
/// (whose parents are `sha256(pad || pad)`, and so on up).
pub fn merkle_root(leaves: &[[u8; 32]], pad: [u8; 32]) -> [u8; 32] {
    let mut level = leaves.to_vec();
    let mut pad = pad;
    if level.is_empty() {
        return pad;
    }
    while level.len() > 1 {
        if level.len() % 2 == 1 {
            level.push(pad);
        }
        // The parents of every pair, four at a time (see `sha256_lanes`).
        let mut up = Vec::with_capacity(level.len() / 2);
        crate::sha256_lanes::digest_chunks(level.as_flattened(), 64, &mut up);
        level = up;
        pad = hash_pair(&pad, &pad);
    }
    level[0]
}

fn hash_pair(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(a);
    h.update(b);
    h.finalize().into()
}
