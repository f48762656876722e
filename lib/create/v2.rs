//! Creating v2-only and hybrid torrents (BEP 52, BEP 47): per-file merkle trees, and for a
//! hybrid the v1 piece hashes of the same bytes in the same pass.
//!
//! Layout: files in file-tree order (sorted by path components, as the tree's keys are), each
//! starting on a piece boundary. In a hybrid's v1 list every file whose length is not a multiple
//! of the piece length is followed by a BEP 47 pad file (`.pad/<n>`, `attr` `p`), the last one
//! included, as libtorrent writes them, so a v1 piece never holds bytes of two files and both
//! hash sets cover the same pieces. A single-file input keeps `length` and needs no pad.
//!
//! Hashing: every file is cut into jobs of whole pieces (about 4 MiB), and
//! rayon hashes jobs in parallel, each reading its bytes once (mapped windows, as for v1) and
//! feeding them to SHA-256 (16 KiB leaves, see [`crate::merkle`]) and, for a hybrid, to SHA-1
//! (the file's last piece then takes the pad file's zeros).

use rayon::prelude::*;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_bytes::Bytes;

use super::hash::{read_run, Pieces, JOB_BYTES};
use super::{Error, InputFile, Layout};
use crate::merkle::{file_root, PieceHasher};

/// The hashes of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHashes {
    /// The piece layer: one hash per piece of the file.
    pub layer: Vec<[u8; 32]>,
    /// The `pieces root` (`None` for an empty file).
    pub root: Option<[u8; 32]>,
}

/// What a v2 or hybrid hashing pass gives.
#[derive(Debug, Clone)]
pub struct Hashes {
    /// Per file, in the order given.
    pub files: Vec<FileHashes>,
    /// The v1 piece hashes over the padded stream (empty unless asked for).
    pub v1: Vec<[u8; 20]>,
}

/// The files in file-tree order: sorted by path components.
pub fn tree_order(layout: &Layout) -> Vec<InputFile> {
    let mut files = layout.files.clone();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// Length of the pad file that follows a file of `length` bytes (0: none).
pub fn pad_after(length: u64, piece_length: u64) -> u64 {
    match length % piece_length {
        0 => 0,
        r => piece_length - r,
    }
}

/// Hash `files` (in tree order) for v2, and for v1 too when `v1` is set (with the pad files of
/// [`pad_after`] unless `single_file`: one file has no pad, its last piece is short).
/// `progress` gets the bytes read, from any thread.
pub fn hash_files(
    files: &[InputFile],
    piece_length: u64,
    v1: bool,
    single_file: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Hashes, Error> {
    let per_job = (JOB_BYTES / piece_length).max(1);
    let jobs: Vec<(usize, u64)> = files
        .iter()
        .enumerate()
        .flat_map(|(i, f)| {
            let pieces = f.length.div_ceil(piece_length);
            (0..pieces.div_ceil(per_job)).map(move |j| (i, j * per_job))
        })
        .collect();
    type Part = (Vec<[u8; 32]>, Vec<[u8; 20]>);
    let parts: Vec<Part> = jobs
        .par_iter()
        .map(|&(i, first)| {
            let file = &files[i];
            let from = first * piece_length;
            let to = ((first + per_job) * piece_length).min(file.length);
            let count = (to - from).div_ceil(piece_length) as usize;
            let mut roots = Vec::with_capacity(count);
            let mut sha1 = v1.then(|| Pieces::new(piece_length, count));
            let mut merkle = PieceHasher::new(piece_length, file.length);
            let mut buf = Vec::new();
            read_run(file, from, to, &mut buf, progress, &mut |b| {
                if let Some(s) = &mut sha1 {
                    s.feed(b);
                }
                merkle.feed(b, &mut |r| roots.push(r));
            })?;
            if to == file.length {
                merkle.finish(&mut |r| roots.push(r));
                if let (Some(s), false) = (&mut sha1, single_file) {
                    feed_zeros(s, pad_after(file.length, piece_length));
                }
            }
            Ok((roots, sha1.map(Pieces::finish).unwrap_or_default()))
        })
        .collect::<Result<_, Error>>()?;
    let mut out = Hashes {
        files: files
            .iter()
            .map(|_| FileHashes {
                layer: Vec::new(),
                root: None,
            })
            .collect(),
        v1: Vec::new(),
    };
    for (&(i, _), (roots, sha1)) in jobs.iter().zip(parts) {
        out.files[i].layer.extend(roots);
        out.v1.extend(sha1);
    }
    for f in &mut out.files {
        f.root = (!f.layer.is_empty()).then(|| file_root(&f.layer, piece_length));
    }
    Ok(out)
}

fn feed_zeros(s: &mut Pieces, mut n: u64) {
    const ZEROS: [u8; 16384] = [0; 16384];
    while n > 0 {
        let k = n.min(ZEROS.len() as u64) as usize;
        s.feed(&ZEROS[..k]);
        n -= k as u64;
    }
}

/// A directory of the `file tree` (keys sorted by the map) or a file's `""` entry.
#[doc(hidden)]
pub enum TreeNode<'a> {
    /// A directory: name -> entry.
    Dir(std::collections::BTreeMap<&'a [u8], TreeNode<'a>>),
    /// A file.
    File {
        /// Its length.
        length: u64,
        /// Its pieces root.
        root: Option<[u8; 32]>,
    },
}

impl<'a> TreeNode<'a> {
    /// The tree of `files` (paths relative to the torrent's root; `[name]` for one file).
    pub(super) fn build(files: &'a [InputFile], hashes: &[FileHashes]) -> TreeNode<'a> {
        let mut root = TreeNode::Dir(Default::default());
        for (f, h) in files.iter().zip(hashes) {
            let mut node = &mut root;
            for c in &f.path {
                let TreeNode::Dir(map) = node else {
                    unreachable!("a file is never a directory of another (walk checks)")
                };
                node = map
                    .entry(c.as_slice())
                    .or_insert_with(|| TreeNode::Dir(Default::default()));
            }
            if let TreeNode::Dir(map) = node {
                map.insert(
                    b"",
                    TreeNode::File {
                        length: f.length,
                        root: h.root,
                    },
                );
            }
        }
        root
    }
}

impl Serialize for TreeNode<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TreeNode::Dir(map) => {
                let mut m = s.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    m.serialize_entry(Bytes::new(k), v)?;
                }
                m.end()
            }
            TreeNode::File { length, root } => {
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("length", length)?;
                if let Some(r) = root {
                    m.serialize_entry("pieces root", Bytes::new(r))?;
                }
                m.end()
            }
        }
    }
}

/// `piece layers`: pieces root -> the file's piece hashes, for files of more than one piece.
#[doc(hidden)]
pub struct PieceLayers<'a>(pub &'a [FileHashes]);

impl Serialize for PieceLayers<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        let mut seen = std::collections::BTreeSet::new();
        for f in self.0.iter().filter(|f| f.layer.len() > 1) {
            if let Some(r) = &f.root {
                // Identical files share one root and one entry.
                if seen.insert(r) {
                    m.serialize_entry(Bytes::new(r), Bytes::new(f.layer.as_flattened()))?;
                }
            }
        }
        m.end()
    }
}

/// Build a v2-only or hybrid torrent from `files` in tree order and their [`hash_files`]
/// hashes (with v1 hashes for a hybrid).
pub(super) fn build(
    layout: &Layout,
    files: &[InputFile],
    piece_length: u64,
    hashes: &Hashes,
    opts: &super::Options,
) -> Result<super::Created, Error> {
    let hybrid = opts.version == crate::metainfo::Version::Hybrid;
    let pad_names: Vec<Vec<u8>> = files
        .iter()
        .map(|f| pad_after(f.length, piece_length).to_string().into_bytes())
        .collect();
    let v1_files = (hybrid && !layout.single_file).then(|| {
        let mut list = Vec::with_capacity(files.len() * 2);
        for (f, pad_name) in files.iter().zip(&pad_names) {
            list.push(super::FileDict {
                attr: None,
                length: f.length,
                path: f.path.iter().map(|c| Bytes::new(c)).collect(),
            });
            let pad = pad_after(f.length, piece_length);
            if pad > 0 {
                list.push(super::FileDict {
                    attr: Some("p"),
                    length: pad,
                    path: vec![Bytes::new(b".pad"), Bytes::new(pad_name)],
                });
            }
        }
        list
    });
    let piece_count = files
        .iter()
        .map(|f| f.length.div_ceil(piece_length) as usize)
        .sum();
    let info = super::InfoDict {
        file_tree: Some(TreeNode::build(files, &hashes.files)),
        files: v1_files,
        length: (hybrid && layout.single_file).then_some(layout.total_length),
        meta_version: Some(2),
        name: Bytes::new(&layout.name),
        piece_length,
        pieces: hybrid.then(|| Bytes::new(hashes.v1.as_flattened())),
        private: opts.private.then_some(1),
        source: opts.source.as_deref(),
    };
    let layers = hashes.files.iter().any(|f| f.layer.len() > 1);
    super::encode(
        layout,
        &info,
        layers.then_some(PieceLayers(&hashes.files)),
        piece_count,
        opts,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::piece_hashes;
    use sha1::{Digest, Sha1};

    #[test]
    fn one_pass_gives_both_hash_sets_across_jobs() {
        let dir = tempfile::tempdir().unwrap();
        // An empty file, short ones, one of several jobs (5 MiB > 4 MiB per job), one aligned.
        let sizes = [0u64, 1, 40_000, (5 << 20) + 123, 32768];
        let mut files = Vec::new();
        let mut datas = Vec::new();
        for (i, &n) in sizes.iter().enumerate() {
            let data: Vec<u8> = (0..n).map(|b| (b * 13 + i as u64) as u8).collect();
            let p = dir.path().join(format!("f{i}"));
            std::fs::write(&p, &data).unwrap();
            files.push(InputFile {
                path: vec![format!("f{i}").into_bytes()],
                disk: p,
                length: n,
            });
            datas.push(data);
        }
        for pl in [16384u64, 1 << 20] {
            let got = hash_files(&files, pl, true, false, &|_| {}).unwrap();
            // v1: the stream with each file padded to a piece boundary.
            let mut stream = Vec::new();
            for d in &datas {
                stream.extend_from_slice(d);
                stream.resize(stream.len() + pad_after(d.len() as u64, pl) as usize, 0);
            }
            let v1: Vec<[u8; 20]> = stream
                .chunks(pl as usize)
                .map(|c| Sha1::digest(c).into())
                .collect();
            assert_eq!(got.v1, v1, "piece length {pl}");
            for (d, h) in datas.iter().zip(&got.files) {
                let layer = piece_hashes(d, pl);
                assert_eq!(h.layer, layer);
                assert_eq!(h.root, (!d.is_empty()).then(|| file_root(&layer, pl)));
            }
        }
        // v2 only: no v1 hashes; a single file has no pad.
        let got = hash_files(&files[2..3], 16384, true, true, &|_| {}).unwrap();
        let want: Vec<[u8; 20]> = datas[2]
            .chunks(16384)
            .map(|c| Sha1::digest(c).into())
            .collect();
        assert_eq!(got.v1, want);
        assert!(hash_files(&files, 16384, false, false, &|_| {})
            .unwrap()
            .v1
            .is_empty());
    }
}
