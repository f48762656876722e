//! The JSON records that travel on pipes: the format reference.
//!
//! Every stream is JSON Lines: one object per line, each with a `"type"` field. Readers must
//! ignore fields and record types they do not know, so the format can grow. Info hashes and peer
//! ids are lowercase hex. A byte string that is not UTF-8 is never converted lossily: such a
//! field is accompanied by a `<field>_hex` sibling holding the raw bytes.
//!
//! Which tool writes which record:
//!
//! | record | written by |
//! |---|---|
//! | `torrent` | `bt-info` (one object, not a stream), `bt-make` (summary of the created torrent) |
//! | `file`, `summary` | `bt-verify` |
//! | `peer`, `announce`, `scrape` | `bt-announce`; `peer` is read by `bt-fetch` |
//! | `listening`, `peer`, `stats` | `bt-seed` |
//! | `progress`, `summary` | `bt-fetch` |

// ---- metainfo records (bt-info, bt-make) ----

use crate::metainfo::{self, Magnet, Torrent, Version};

/// `{"type": "torrent"}`: what a torrent file or a magnet link holds (written by `bt-info`).
///
/// Every field is always present: optional values are `null` or `[]`, so the shape never
/// changes. A magnet link fills what it carries (`info_hash`, `info_hash_v2`, `name`,
/// `announce_list` with one tier per `tr`, `url_list` from `ws`, `peers` from `x.pe`) and leaves
/// the rest `null` / `[]`; `input` tells the two apart. `total_length` counts content bytes
/// (pad files and symlinks excluded); `files` lists pad files too, with `"pad": true`, so that
/// `offset` + `length` tile the v1 piece stream. A name or path that is not UTF-8 is shown with
/// replacement characters and its raw bytes are in `name_hex` / `path_hex` (else `null`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct TorrentRecord {
    /// Always `"torrent"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `"torrent"` (a .torrent file) or `"magnet"`.
    pub input: String,
    /// v1 info hash, lowercase hex; `null` for v2-only.
    pub info_hash: Option<String>,
    /// v2 info hash (SHA-256), lowercase hex; `null` for v1-only.
    pub info_hash_v2: Option<String>,
    /// `1`, `2` or `"hybrid"`.
    pub version: serde_json::Value,
    /// The name (lossy if not UTF-8).
    pub name: Option<String>,
    /// Hex of the raw name bytes when they are not UTF-8, else `null`.
    pub name_hex: Option<String>,
    /// Bytes per piece.
    pub piece_length: Option<u64>,
    /// Number of pieces.
    pub piece_count: Option<u64>,
    /// Bytes of content (pad files and symlinks excluded).
    pub total_length: Option<u64>,
    /// BEP 27 private flag.
    pub private: Option<bool>,
    /// Files in piece-stream order.
    pub files: Vec<FileRecord>,
    /// `announce`.
    pub announce: Option<String>,
    /// Tracker tiers.
    pub announce_list: Vec<Vec<String>>,
    /// Web seeds.
    pub url_list: Vec<String>,
    /// `comment`.
    pub comment: Option<String>,
    /// `created by`.
    pub created_by: Option<String>,
    /// `creation date`, seconds since the epoch.
    pub creation_date: Option<i64>,
    /// `source`.
    pub source: Option<String>,
    /// The magnet link.
    pub magnet: String,
    /// Peer addresses from a magnet's `x.pe`.
    pub peers: Vec<String>,
    /// Non-fatal findings.
    pub warnings: Vec<String>,
    /// v1 piece hashes in hex; only with `bt-info --pieces`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pieces: Option<Vec<String>>,
}

/// One entry of [`TorrentRecord::files`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct FileRecord {
    /// Path below the torrent's directory joined with `/` (the name, for a single file).
    pub path: String,
    /// Hex of the raw joined path when it is not UTF-8, else `null`.
    pub path_hex: Option<String>,
    /// Length in bytes.
    pub length: u64,
    /// Offset in the piece stream.
    pub offset: u64,
    /// A BEP 47 pad file.
    pub pad: bool,
    /// A BEP 47 symlink's target (joined with `/`), else `null`.
    pub symlink: Option<String>,
    /// BEP 52 `pieces root` in hex, else `null`.
    pub pieces_root: Option<String>,
}

/// Text and, when it is not UTF-8, the hex of the raw bytes.
fn text_and_hex(bytes: &[u8]) -> (String, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), None),
        Err(_) => (
            String::from_utf8_lossy(bytes).into_owned(),
            Some(metainfo::hex(bytes)),
        ),
    }
}

fn join(path: &[Vec<u8>]) -> Vec<u8> {
    path.join(&b'/')
}

impl TorrentRecord {
    /// The record of a validated torrent; `pieces` adds the v1 piece hashes.
    pub fn from_torrent(t: &Torrent, pieces: bool) -> Self {
        let (name, name_hex) = text_and_hex(&t.name);
        let files = t
            .files
            .iter()
            .map(|f| {
                let (path, path_hex) = text_and_hex(&join(&f.path));
                FileRecord {
                    path,
                    path_hex,
                    length: f.length,
                    offset: f.offset,
                    pad: f.pad,
                    symlink: f
                        .symlink
                        .as_ref()
                        .map(|s| String::from_utf8_lossy(&join(s)).into_owned()),
                    pieces_root: f.pieces_root.map(|r| metainfo::hex(&r)),
                }
            })
            .collect();
        TorrentRecord {
            kind: "torrent".into(),
            input: "torrent".into(),
            info_hash: t.info_hash.map(|h| h.hex()),
            info_hash_v2: t.info_hash_v2.map(|h| h.hex()),
            version: version_value(t.version),
            name: Some(name),
            name_hex,
            piece_length: Some(t.piece_length),
            piece_count: Some(t.piece_count() as u64),
            total_length: Some(t.content_length()),
            private: Some(t.private),
            files,
            announce: t.announce.clone(),
            announce_list: t.announce_list.clone(),
            url_list: t.url_list.clone(),
            comment: t.comment.clone(),
            created_by: t.created_by.clone(),
            creation_date: t.creation_date,
            source: t.source.clone(),
            magnet: t.magnet(),
            peers: Vec::new(),
            warnings: t.warnings.clone(),
            pieces: pieces.then(|| t.pieces.iter().map(|p| metainfo::hex(p)).collect()),
        }
    }

    /// The record of a magnet link: what it carries, `null` / `[]` elsewhere.
    pub fn from_magnet(m: &Magnet) -> Self {
        let version = match (m.info_hash, m.info_hash_v2) {
            (Some(_), Some(_)) => Version::Hybrid,
            (None, Some(_)) => Version::V2,
            _ => Version::V1,
        };
        TorrentRecord {
            kind: "torrent".into(),
            input: "magnet".into(),
            info_hash: m.info_hash.map(|h| h.hex()),
            info_hash_v2: m.info_hash_v2.map(|h| h.hex()),
            version: version_value(version),
            name: m.name.clone(),
            name_hex: None,
            piece_length: None,
            piece_count: None,
            total_length: None,
            private: None,
            files: Vec::new(),
            announce: None,
            announce_list: m.trackers.iter().map(|t| vec![t.clone()]).collect(),
            url_list: m.web_seeds.clone(),
            comment: None,
            created_by: None,
            creation_date: None,
            source: None,
            magnet: m.to_uri(),
            peers: m.peers.clone(),
            warnings: Vec::new(),
            pieces: None,
        }
    }

    /// The aligned human view, control characters escaped.
    pub fn human(&self) -> String {
        use std::fmt::Write;
        let esc = |s: &str| crate::cli::escape_controls(s);
        let opt = |v: &Option<String>| v.as_deref().map(esc).unwrap_or_else(|| "-".into());
        let num = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
        let mut rows: Vec<(&str, String)> = vec![
            ("name", opt(&self.name)),
            ("info hash", opt(&self.info_hash)),
            ("info hash v2", opt(&self.info_hash_v2)),
            ("version", self.version.to_string().replace('"', "")),
            ("piece length", num(self.piece_length)),
            ("pieces", num(self.piece_count)),
            ("total length", num(self.total_length)),
            (
                "private",
                self.private
                    .map(|p| if p { "yes" } else { "no" }.to_string())
                    .unwrap_or("-".into()),
            ),
            ("announce", opt(&self.announce)),
        ];
        for (i, tier) in self.announce_list.iter().enumerate() {
            rows.push(("tier", format!("{}: {}", i + 1, esc(&tier.join(" ")))));
        }
        for u in &self.url_list {
            rows.push(("web seed", esc(u)));
        }
        for p in &self.peers {
            rows.push(("peer", esc(p)));
        }
        rows.push(("comment", opt(&self.comment)));
        rows.push(("created by", opt(&self.created_by)));
        rows.push((
            "creation date",
            self.creation_date
                .map(|d| d.to_string())
                .unwrap_or("-".into()),
        ));
        rows.push(("source", opt(&self.source)));
        rows.push(("magnet", esc(&self.magnet)));
        for w in &self.warnings {
            rows.push(("warning", esc(w)));
        }
        let mut s = String::new();
        for (k, v) in rows {
            let _ = writeln!(s, "{k:>13}  {v}");
        }
        if !self.files.is_empty() {
            let width = self
                .files
                .iter()
                .map(|f| f.length)
                .max()
                .unwrap_or(0)
                .to_string()
                .len();
            let _ = writeln!(s, "{:>13}  {}", "files", self.files.len());
            for f in &self.files {
                let mut line = esc(&f.path);
                if f.pad {
                    line.push_str("  (pad)");
                }
                if let Some(t) = &f.symlink {
                    let _ = write!(line, "  -> {}", esc(t));
                }
                let _ = writeln!(s, "{:>13}  {:>width$}  {line}", "", f.length);
            }
        }
        if let Some(p) = &self.pieces {
            for (i, h) in p.iter().enumerate() {
                let _ = writeln!(s, "{:>13}  {i:>6} {h}", "piece");
            }
        }
        s.pop();
        s
    }
}

fn version_value(v: Version) -> serde_json::Value {
    match v {
        Version::V1 => 1.into(),
        Version::V2 => 2.into(),
        Version::Hybrid => "hybrid".into(),
    }
}

// ---- verify records (bt-verify) ----

// ---- tracker records (bt-announce) ----

// ---- swarm records (bt-fetch, bt-seed) ----
