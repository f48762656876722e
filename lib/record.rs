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
//! | `file`, `extra`, `summary` | `bt-verify` |
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

// -- create records (bt-make) --

/// `bt-make`'s summary of the torrent it wrote to a file (`"type": "torrent"`), one line on
/// stdout. (With `-o -` the torrent itself goes to stdout and no record is written.)
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MadeTorrent {
    /// Always `"torrent"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// v1 info hash, lowercase hex.
    pub info_hash: String,
    /// The torrent's name (lossy if the name is not UTF-8).
    pub name: String,
    /// The raw name as hex when it is not UTF-8, else `null`.
    pub name_hex: Option<String>,
    /// Bytes per piece.
    pub piece_length: u64,
    /// Number of pieces.
    pub piece_count: u64,
    /// Sum of the file lengths.
    pub total_length: u64,
    /// Number of files.
    pub file_count: u64,
    /// BEP 27 private flag.
    pub private: bool,
    /// Magnet link of the torrent.
    pub magnet: String,
    /// Path of the torrent file written.
    pub output: String,
}

// ---- verify records (bt-verify) ----

/// `file` (bt-verify): the verdict on one file of the torrent (pad files are not reported).
///
/// `{"type":"file","path":"name/dir/f.bin","length":70000,"status":"incomplete",
/// "bad_pieces":1,"shared_bad_pieces":0,"pieces":5,"bytes_on_disk":70000}`
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct VerifyFile {
    /// Always `"file"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Path relative to the download directory (`<name>/<path...>`, or `<name>` for a
    /// single-file torrent), `/`-separated.
    pub path: String,
    /// The raw path bytes in hex, only when the path is not UTF-8 (`path` is then lossy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    /// Length the torrent gives.
    pub length: u64,
    /// `complete`, `incomplete`, `missing`, `wrong_size` or `unreadable`.
    pub status: String,
    /// How many of the pieces touching the file are bad.
    pub bad_pieces: usize,
    /// How many of those also touch other files (a piece spanning several files that fails is
    /// charged to each of them).
    pub shared_bad_pieces: usize,
    /// How many pieces touch the file (0 for a zero-length file).
    pub pieces: usize,
    /// Length on disk (0 when missing).
    pub bytes_on_disk: u64,
    /// With `--bad-pieces`: the bad piece indices, ascending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad_piece_indices: Option<Vec<usize>>,
    /// Why the file is unreadable (or the read error met).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `extra` (bt-verify `--extra`): a file under the torrent's directory that the torrent does
/// not list. `{"type":"extra","path":"name/notes.txt","bytes":12}`
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct VerifyExtra {
    /// Always `"extra"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Path relative to the download directory, `/`-separated.
    pub path: String,
    /// The raw path bytes in hex, only when the path is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    /// Its length.
    pub bytes: u64,
}

/// `summary` (bt-verify): the last record.
///
/// `{"type":"summary","ok":false,"pieces":8,"good_pieces":7,"bad_pieces":1,
/// "bytes_checked":131172,"seconds":0.002,"info_hash":"..."}`
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct VerifySummary {
    /// Always `"summary"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Every piece matches and every file has its exact length (the exit code is 0).
    pub ok: bool,
    /// Pieces in the torrent.
    pub pieces: usize,
    /// Pieces that match their hash.
    pub good_pieces: usize,
    /// Pieces that do not (or could not be read).
    pub bad_pieces: usize,
    /// Bytes read and hashed.
    pub bytes_checked: u64,
    /// Wall-clock seconds spent verifying.
    pub seconds: f64,
    /// Files reported (pad files excluded).
    pub files: usize,
    /// Files not `complete`.
    pub bad_files: usize,
    /// With `--extra`: files found that the torrent does not list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_files: Option<usize>,
    /// v1 info hash, lowercase hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info_hash: Option<String>,
    /// With `--bad-pieces`: the bad piece indices, ascending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad_piece_indices: Option<Vec<usize>>,
}

// ---- tracker records (bt-announce) ----

/// `peer`: one peer address, as `bt-announce` writes it and `bt-fetch` reads it.
///
/// `{"type":"peer","ip":"127.0.0.1","port":6881,"tracker":"http://t/announce"}`. `ip` is an IPv4
/// or IPv6 address in its usual text form (IPv6 without brackets); `tracker` names the tracker
/// that gave the peer (absent when the peer came from elsewhere).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename = "peer")]
pub struct PeerRecord {
    /// The peer's address.
    pub ip: String,
    /// The peer's port.
    pub port: u16,
    /// The tracker that named this peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracker: Option<String>,
}

impl PeerRecord {
    /// A record for an address found by `tracker`.
    pub fn new(addr: std::net::SocketAddr, tracker: Option<&str>) -> Self {
        PeerRecord {
            ip: addr.ip().to_string(),
            port: addr.port(),
            tracker: tracker.map(str::to_string),
        }
    }

    /// The socket address, if `ip` is a valid address.
    pub fn addr(&self) -> Option<std::net::SocketAddr> {
        let ip: std::net::IpAddr = self.ip.parse().ok()?;
        Some(std::net::SocketAddr::new(ip, self.port))
    }
}

/// Read one line of a peer stream: a JSON `peer` record, or a plain `ip:port` / `[ipv6]:port`.
/// Blank lines and JSON records of other types give `Ok(None)` (readers skip them); anything
/// else is an error naming the line.
pub fn peer_from_line(line: &str) -> Result<Option<std::net::SocketAddr>, String> {
    let t = line.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(t).map_err(|e| format!("line {t:?} is not JSON: {e}"))?;
        if v.get("type").and_then(|x| x.as_str()) != Some("peer") {
            return Ok(None);
        }
        let r: PeerRecord = serde_json::from_value(v)
            .map_err(|e| format!("peer record {t:?} is not valid: {e}"))?;
        return r
            .addr()
            .map(Some)
            .ok_or_else(|| format!("peer record {t:?} has an invalid ip"));
    }
    t.parse()
        .map(Some)
        .map_err(|_| format!("line {t:?} is neither a peer record nor ip:port"))
}

/// `announce`: what one tracker said to an announce (`ok` false with `error` when it failed).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename = "announce")]
pub struct AnnounceRecord {
    /// The tracker URL.
    pub tracker: String,
    /// Whether the tracker answered.
    pub ok: bool,
    /// Seconds until the next regular announce.
    pub interval: Option<u32>,
    /// The tracker's minimum seconds between announces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_interval: Option<u32>,
    /// Seeders.
    pub complete: Option<u64>,
    /// Leechers.
    pub incomplete: Option<u64>,
    /// Number of peers in the answer.
    pub peers: usize,
    /// Why the tracker gave no answer (its failure reason, a timeout, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The tracker's warning message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// What was dropped from a malformed or oversized answer (a partial answer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// `scrape`: swarm counts for one torrent from one tracker (`ok` false with `error` when the
/// tracker gave none).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename = "scrape")]
pub struct ScrapeRecord {
    /// The tracker URL.
    pub tracker: String,
    /// Whether the tracker answered for this torrent.
    pub ok: bool,
    /// The torrent, lowercase hex.
    pub info_hash: String,
    /// Seeders.
    pub complete: Option<u64>,
    /// Leechers.
    pub incomplete: Option<u64>,
    /// Completed downloads.
    pub downloaded: Option<u64>,
    /// Why there are no counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl AnnounceRecord {
    /// The record for one tracker's answer or failure.
    pub fn from_attempt(a: &crate::tracker::Attempt<crate::tracker::AnnounceResponse>) -> Self {
        let mut rec = AnnounceRecord {
            tracker: a.tracker.clone(),
            ok: a.result.is_ok(),
            interval: None,
            min_interval: None,
            complete: None,
            incomplete: None,
            peers: 0,
            error: None,
            warning: None,
            notes: vec![],
        };
        match &a.result {
            Ok(r) => {
                rec.interval = r.interval;
                rec.min_interval = r.min_interval;
                rec.complete = r.complete;
                rec.incomplete = r.incomplete;
                rec.peers = r.peers.len();
                rec.warning = r.warning.clone();
                rec.notes = r.notes.clone();
            }
            Err(e) => rec.error = Some(e.detail()),
        }
        rec
    }
    /// One line for people, control characters escaped: the counts, or the error.
    pub fn human(&self) -> String {
        let t = crate::cli::escape_controls(&self.tracker);
        let n = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
        match &self.error {
            None => format!(
                "tracker {t}: {} peers, {} seeders, {} leechers, interval {} s",
                self.peers,
                n(self.complete),
                n(self.incomplete),
                n(self.interval.map(u64::from))
            ),
            Some(e) => format!("tracker {t}: {}", crate::cli::escape_controls(e)),
        }
    }
}

impl ScrapeRecord {
    /// The record for one torrent in one tracker's scrape answer (or its failure).
    pub fn from_attempt(
        a: &crate::tracker::Attempt<Vec<crate::tracker::ScrapeStats>>,
        info_hash: crate::metainfo::InfoHash,
    ) -> Self {
        let mut rec = ScrapeRecord {
            tracker: a.tracker.clone(),
            ok: false,
            info_hash: info_hash.hex(),
            complete: None,
            incomplete: None,
            downloaded: None,
            error: None,
        };
        match &a.result {
            Ok(stats) => match stats.iter().find(|s| s.info_hash == info_hash) {
                Some(s) => {
                    rec.ok = true;
                    rec.complete = Some(s.complete);
                    rec.incomplete = Some(s.incomplete);
                    rec.downloaded = Some(s.downloaded);
                }
                None => rec.error = Some("the tracker does not know this torrent".into()),
            },
            Err(e) => rec.error = Some(e.detail()),
        }
        rec
    }

    /// One line for people, control characters escaped: the counts, or why there are none.
    pub fn human(&self) -> String {
        let t = crate::cli::escape_controls(&self.tracker);
        match (&self.error, self.complete, self.incomplete, self.downloaded) {
            (None, Some(c), Some(i), Some(d)) => {
                format!("{t}: {c} seeders, {i} leechers, {d} downloads")
            }
            (e, ..) => format!(
                "{t}: no counts: {}",
                crate::cli::escape_controls(e.as_deref().unwrap_or("?"))
            ),
        }
    }
}

#[cfg(test)]
mod tracker_tests {
    use super::*;

    #[test]
    fn peer_records_round_trip_and_lines_parse() {
        let r = PeerRecord::new("[::1]:7".parse().unwrap(), Some("udp://t:1"));
        let j = serde_json::to_string(&r).unwrap();
        assert_eq!(
            j,
            r#"{"type":"peer","ip":"::1","port":7,"tracker":"udp://t:1"}"#
        );
        assert_eq!(serde_json::from_str::<PeerRecord>(&j).unwrap(), r);
        assert_eq!(peer_from_line(&j), Ok(Some("[::1]:7".parse().unwrap())));
        assert_eq!(
            peer_from_line(r#"{"type":"peer","ip":"1.2.3.4","port":5,"extra":1}"#),
            Ok(Some("1.2.3.4:5".parse().unwrap()))
        );
        assert_eq!(peer_from_line(r#"{"type":"announce","ok":true}"#), Ok(None));
        assert_eq!(peer_from_line("  "), Ok(None));
        assert_eq!(
            peer_from_line("127.0.0.1:80"),
            Ok(Some("127.0.0.1:80".parse().unwrap()))
        );
        assert!(peer_from_line("[::1]:80").unwrap().is_some());
        assert!(peer_from_line("nonsense").is_err());
        assert!(peer_from_line(r#"{"type":"peer","ip":"x","port":5}"#).is_err());
        assert!(peer_from_line(r#"{"type":"peer","ip":"1.2.3.4","port":70000}"#).is_err());
    }

    #[test]
    fn announce_record_omits_absent_fields() {
        let r = AnnounceRecord {
            tracker: "t".into(),
            ok: false,
            interval: None,
            min_interval: None,
            complete: None,
            incomplete: None,
            peers: 0,
            error: Some("x".into()),
            warning: None,
            notes: vec![],
        };
        let j = serde_json::to_string(&r).unwrap();
        assert_eq!(
            j,
            r#"{"type":"announce","tracker":"t","ok":false,"interval":null,"complete":null,"incomplete":null,"peers":0,"error":"x"}"#
        );
    }
}

// ---- swarm records (bt-fetch, bt-seed) ----

/// `listening`: `bt-seed` (and `bt-fetch`) accept connections for a torrent on this address,
/// written as soon as the socket is bound, one record per torrent.
///
/// `{"type":"listening","addr":"127.0.0.1","port":6881,"info_hash":"…","name":"sample"}`
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename = "listening")]
pub struct ListeningRecord {
    /// The bound address (`0.0.0.0` or `::` for all interfaces).
    pub addr: String,
    /// The bound port.
    pub port: u16,
    /// The torrent's info hash.
    pub info_hash: String,
    /// The torrent's name (display form).
    pub name: String,
}

/// `peer` with an `event`: a connection of `bt-seed` / `bt-fetch` started (`connected`), ended
/// (`disconnected`, with `reason` and the bytes moved), or a peer was `banned` for sending bad
/// data twice. `ip` and `port` are the remote address, as in `bt-announce`'s `peer` records
/// (so these records can be fed to another `bt-fetch`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename = "peer")]
pub struct PeerEventRecord {
    /// `connected`, `disconnected` or `banned`.
    pub event: String,
    /// The remote address.
    pub ip: String,
    /// The remote port.
    pub port: u16,
    /// The torrent's info hash.
    pub info_hash: String,
    /// The remote peer id (`connected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_id: Option<String>,
    /// Whether the peer connected to us (`connected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incoming: Option<bool>,
    /// Why the connection ended (`disconnected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Bytes received from the peer (`disconnected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downloaded: Option<u64>,
    /// Bytes sent to the peer (`disconnected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploaded: Option<u64>,
}

/// `stats`: `bt-seed`'s periodic counters for one torrent.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename = "stats")]
pub struct StatsRecord {
    /// The torrent's info hash.
    pub info_hash: String,
    /// Bytes of blocks sent since start.
    pub uploaded: u64,
    /// Connected peers.
    pub peers: usize,
    /// Verified pieces served.
    pub pieces: u32,
    /// Seconds since start.
    pub seconds: f64,
}

/// `progress`: `bt-fetch`'s state, about once per second with `--progress-json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename = "progress")]
pub struct ProgressRecord {
    /// Verified pieces.
    pub pieces_have: u32,
    /// Pieces in the torrent.
    pub pieces: u32,
    /// Verified bytes.
    pub bytes_have: u64,
    /// Bytes in the torrent.
    pub bytes_total: u64,
    /// Bytes of blocks received so far in this run.
    pub bytes_downloaded: u64,
    /// Download rate over the last interval, bytes per second.
    pub rate: u64,
    /// Connected peers.
    pub peers: usize,
    /// Seconds since start.
    pub seconds: f64,
}

/// `summary`: `bt-fetch`'s last record, always written.
///
/// `complete` is true when every piece is verified on disk (exit 0). `pieces_at_start` counts
/// the pieces found verified on disk before downloading (resume), `pieces_fetched` those
/// downloaded and verified in this run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename = "summary")]
pub struct FetchSummaryRecord {
    /// Every piece verified on disk.
    pub complete: bool,
    /// Bytes of blocks received in this run (including blocks of pieces that failed).
    pub bytes_downloaded: u64,
    /// Bytes sent to peers in this run.
    pub bytes_uploaded: u64,
    /// Seconds of this run.
    pub seconds: f64,
    /// Distinct peers that sent at least one block.
    pub peers_used: usize,
    /// Pieces that failed their hash and were fetched again.
    pub bad_pieces: u32,
    /// Pieces in the torrent.
    pub pieces: u32,
    /// Pieces verified on disk before this run downloaded anything.
    pub pieces_at_start: u32,
    /// Pieces downloaded and verified in this run.
    pub pieces_fetched: u32,
    /// Why the download stopped early (`complete` false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

// ---- records built from the engine's domain types (bt-fetch, bt-seed) ----

impl ListeningRecord {
    /// The `listening` record of torrent `t` on the bound address `addr`.
    pub fn new(addr: std::net::SocketAddr, t: &crate::metainfo::Torrent) -> Self {
        ListeningRecord {
            addr: addr.ip().to_string(),
            port: addr.port(),
            info_hash: t.info_hash.map(|h| h.hex()).unwrap_or_default(),
            name: t.name_lossy(),
        }
    }
}

impl PeerEventRecord {
    /// The `peer` record of a swarm event (None for events that are not about a peer).
    pub fn from_event(
        e: &crate::swarm::Event,
        info_hash: crate::metainfo::InfoHash,
    ) -> Option<Self> {
        use crate::swarm::Event;
        let base = |event: &str, addr: &std::net::SocketAddr| PeerEventRecord {
            event: event.to_string(),
            ip: addr.ip().to_string(),
            port: addr.port(),
            info_hash: info_hash.hex(),
            peer_id: None,
            incoming: None,
            reason: None,
            downloaded: None,
            uploaded: None,
        };
        match e {
            Event::Connected {
                addr,
                peer_id,
                incoming,
            } => Some(PeerEventRecord {
                peer_id: Some(peer_id.hex()),
                incoming: Some(*incoming),
                ..base("connected", addr)
            }),
            Event::Disconnected {
                addr,
                reason,
                downloaded,
                uploaded,
            } => Some(PeerEventRecord {
                reason: Some(reason.clone()),
                downloaded: Some(*downloaded),
                uploaded: Some(*uploaded),
                ..base("disconnected", addr)
            }),
            Event::Banned { addr } => Some(base("banned", addr)),
            Event::BadPiece { .. } => None,
        }
    }
}

impl StatsRecord {
    /// The `stats` record of a seeded torrent.
    pub fn new(
        info_hash: crate::metainfo::InfoHash,
        st: &crate::swarm::Stats,
        elapsed: std::time::Duration,
    ) -> Self {
        StatsRecord {
            info_hash: info_hash.hex(),
            uploaded: st.uploaded,
            peers: st.peers,
            pieces: st.have,
            seconds: elapsed.as_secs_f64(),
        }
    }
}

impl ProgressRecord {
    /// The `progress` record of a download of `total` bytes.
    pub fn new(
        st: &crate::swarm::Stats,
        total: u64,
        rate: u64,
        elapsed: std::time::Duration,
    ) -> Self {
        ProgressRecord {
            pieces_have: st.have,
            pieces: st.pieces,
            bytes_have: st.have_bytes,
            bytes_total: total,
            bytes_downloaded: st.downloaded,
            rate,
            peers: st.peers,
            seconds: elapsed.as_secs_f64(),
        }
    }
}

impl FetchSummaryRecord {
    /// The `summary` record of a finished download.
    pub fn new(r: &crate::swarm::session::FetchReport) -> Self {
        let st = &r.stats;
        FetchSummaryRecord {
            complete: r.outcome == crate::swarm::Outcome::Complete,
            bytes_downloaded: st.downloaded,
            bytes_uploaded: st.uploaded,
            seconds: r.elapsed.as_secs_f64(),
            peers_used: st.peers_used,
            bad_pieces: st.bad_pieces,
            pieces: st.pieces,
            pieces_at_start: r.pieces_at_start,
            pieces_fetched: st.have.saturating_sub(r.pieces_at_start),
            reason: r.outcome.reason(),
        }
    }

    /// The human summary line of a download of `name`.
    pub fn human(&self, name: &str) -> String {
        let reason = self.reason.as_ref().map(|r| format!(" ({r})"));
        format!(
            "{name}: {} of {} pieces ({} fetched, {} at start), {} bytes downloaded in {:.1} s \
             from {} peers, {} bad pieces{}",
            self.pieces_at_start + self.pieces_fetched,
            self.pieces,
            self.pieces_fetched,
            self.pieces_at_start,
            self.bytes_downloaded,
            self.seconds,
            self.peers_used,
            self.bad_pieces,
            reason.unwrap_or_default()
        )
    }
}
