//! The JSON records that travel on pipes: the format reference.
//!
//! Every stream is JSON Lines: one object per line, each with a `"type"` field naming the record
//! type. Every record is one variant of [`Record`] (one serde envelope, `#[serde(tag = "type")]`),
//! and a type name means one shape in every tool. Every field listed here is always present:
//! `null` when the tool does not know or measure it, `[]` for an empty list. Readers must ignore
//! fields and record types they do not know, so the format can grow ([`Record::Unknown`] is what
//! an unknown type reads as). Info hashes and peer ids are lowercase hex. A byte string that is
//! not UTF-8 is never converted lossily: it is shown with replacement characters and its raw
//! bytes are in a `<field>_hex` sibling (`null` when the text is UTF-8).
//!
//! | type | written by | one line per |
//! |---|---|---|
//! | `torrent` | `bt-info` (what a torrent or magnet holds), `bt-make` (the torrent it wrote) | torrent |
//! | `file`, `extra` | `bt-verify` | file of the torrent / file the torrent does not list |
//! | `summary` | `bt-verify`, `bt-fetch` (the last line) | run |
//! | `peer` | `bt-announce` (an address), `bt-fetch` / `bt-seed` (a connection event); read by `bt-fetch` | peer or event |
//! | `announce`, `scrape` | `bt-announce` | tracker asked |
//! | `listening`, `stats` | `bt-seed` (`listening` also `bt-fetch --seed`) | torrent served |
//! | `progress` | `bt-fetch --progress-json` | second |
//! | `web_seed` | `bt-fetch` (a torrent with `url-list`, or `--web-seed`) | web seed event |
//! | `status` | `bt-seed --control` (`list`, `watch`), `bt-ctl ls` | torrent of the daemon |
//! | `limits` | `bt-seed --control` (`limit`), `bt-ctl limit` | change of the rate limits |
//! | `ok`, `error` | `bt-seed --control`, `bt-ctl` | command answered (the last line of an answer) |
//!
//! One example line per type (long values shortened with `…`):
//!
//! ```text
//! {"type":"torrent","input":"torrent","info_hash":"c0fd…","info_hash_v2":null,"version":1,"name":"sample","name_hex":null,"piece_length":16384,"piece_count":11,"total_length":170000,"file_count":2,"private":false,"files":[{"path":"a.bin","path_hex":null,"length":100000,"offset":0,"pad":false,"symlink":null,"pieces_root":null},…],"announce":"http://127.0.0.1:6969/announce","announce_list":[["http://127.0.0.1:6969/announce"]],"url_list":[],"comment":null,"created_by":"bt/0.1.0","creation_date":1700000000,"source":null,"magnet":"magnet:?xt=urn:btih:c0fd…","peers":[],"warnings":[],"pieces":null,"piece_layers":null,"piece_layers_missing":null,"output":null}
//! {"type":"file","path":"sample/a.bin","path_hex":null,"length":100000,"status":"incomplete","bad_pieces":1,"shared_bad_pieces":0,"pieces":7,"bytes_on_disk":100000,"bad_piece_indices":null,"error":null,"hash":"v1"}
//! {"type":"extra","path":"sample/notes.txt","path_hex":null,"bytes":12}
//! {"type":"summary","ok":false,"info_hash":"c0fd…","pieces":11,"good_pieces":10,"bad_pieces":1,"seconds":0.002,"bytes_checked":170000,"files":2,"bad_files":1,"shared_bad_files":0,"extra_files":null,"bad_piece_indices":null,"complete":false,"bytes_downloaded":null,"bytes_uploaded":null,"peers_used":null,"pieces_at_start":null,"pieces_fetched":null,"reason":null}
//! {"type":"peer","ip":"127.0.0.1","port":6881,"tracker":"http://127.0.0.1:6969/announce","event":null,"info_hash":null,"peer_id":null,"incoming":null,"reason":null,"downloaded":null,"uploaded":null}
//! {"type":"announce","tracker":"http://127.0.0.1:6969/announce","ok":true,"interval":1800,"min_interval":null,"complete":1,"incomplete":0,"peers":1,"error":null,"warning":null,"notes":[]}
//! {"type":"scrape","tracker":"udp://127.0.0.1:6969","ok":true,"info_hash":"c0fd…","complete":1,"incomplete":0,"downloaded":3,"error":null}
//! {"type":"listening","addr":"0.0.0.0","port":6881,"info_hash":"c0fd…","name":"sample"}
//! {"type":"stats","info_hash":"c0fd…","uploaded":170000,"peers":1,"pieces":11,"seconds":10.0}
//! {"type":"web_seed","url":"http://127.0.0.1:8080/files/","info_hash":"c0fd…","event":"stopped","location":null,"reason":"complete","status":null,"downloaded":81920}
//! {"type":"progress","pieces_have":5,"pieces":11,"bytes_have":81920,"bytes_total":170000,"bytes_downloaded":81920,"rate":4000000,"peers":2,"seconds":0.5}
//! {"type":"status","info_hash":"c0fd…","name":"sample","state":"downloading","progress":0.48,"pieces_have":5,"pieces":11,"bytes_have":81920,"bytes_total":170000,"down_rate":4000000,"up_rate":0,"peers":2,"uploaded":0,"downloaded":81920,"ratio":0.0,"eta":1.0,"dir":"/srv/dl","mode":"fetch","down_limit":null,"up_limit":null,"port":41234,"error":null,"files":null,"peer_list":null}
//! {"type":"limits","info_hash":null,"down":2097152,"up":null}
//! {"type":"ok","cmd":"pause","info_hash":"c0fd…","count":null}
//! {"type":"error","cmd":"pause","code":"not_found","error":"no torrent matches \"x\""}
//! ```
//!
//! Shapes shared by several tools:
//! - `torrent`: `bt-make` writes the record `bt-info` prints for the torrent it made, with
//!   `output` set to the path it wrote (`null` from `bt-info`).
//! - `summary`: the union of what `bt-verify` and `bt-fetch` measure; each fills its own
//!   fields and leaves the other's `null`. `ok`, `info_hash`, `pieces`, `good_pieces`,
//!   `bad_pieces`, `seconds` and `complete` are filled by both (`bt-fetch` leaves `info_hash`
//!   `null`). `bad_pieces` counts pieces that failed their hash: on disk for `bt-verify`,
//!   received (and fetched again) for `bt-fetch`.
//! - `peer`: `ip` and `port` always; `tracker` when a tracker named the peer (`bt-announce`);
//!   `event` (`connected`, `disconnected`, `banned`), `info_hash` and the event's details when
//!   the record reports a connection (`bt-fetch --peer-records`, `bt-seed`). Either kind can be
//!   fed to `bt-fetch`, which reads only `ip` and `port`.
//!
//! Format changes (see README): `bt-make`'s `torrent` record and `bt-fetch`'s `summary` record
//! took the common shapes (their earlier fields keep their names and meaning); fields that used
//! to be left out when unknown (`path_hex`, `min_interval`, `tracker`, `error`, `warning`,
//! `pieces`, ...) are now `null`; `summary.bad_files` no longer counts files whose only fault is a
//! bad piece shared with a bad neighbour (they are in `shared_bad_files`).

use crate::metainfo::{self, Magnet, Torrent, Version};

/// One JSON line: the envelope of every record type (`"type"` names the variant).
// A record is built, written and dropped one line at a time: its size does not matter, and
// boxing the large variant would only make every match and constructor noisier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// What a torrent file or a magnet link holds.
    Torrent(TorrentRecord),
    /// `bt-verify`'s verdict on one file.
    File(VerifyFile),
    /// A file the torrent does not list (`bt-verify --extra`).
    Extra(VerifyExtra),
    /// The last record of `bt-verify` and `bt-fetch`.
    Summary(SummaryRecord),
    /// A peer address, or an event about a connection to a peer.
    Peer(PeerRecord),
    /// One tracker's answer to an announce.
    Announce(AnnounceRecord),
    /// One tracker's swarm counts.
    Scrape(ScrapeRecord),
    /// The address a seeder accepts connections on.
    Listening(ListeningRecord),
    /// A seeder's periodic counters.
    Stats(StatsRecord),
    /// A fetcher's periodic progress.
    Progress(ProgressRecord),
    /// An event about a web seed (an HTTP mirror, BEP 19) of a fetcher.
    WebSeed(WebSeedRecord),
    /// One torrent of the daemon (`bt-seed --control`).
    Status(StatusRecord),
    /// The daemon's rate limits, global or of one torrent.
    Limits(LimitsRecord),
    /// The daemon carried out a command (the last record of its answer).
    Ok(OkRecord),
    /// The daemon refused or failed a command (the last record of its answer).
    Error(ErrorRecord),
    /// A record type this version does not know (never written).
    #[serde(other, skip_serializing)]
    Unknown,
}

impl Record {
    /// The `"type"` of the record.
    pub fn type_name(&self) -> &'static str {
        match self {
            Record::Torrent(_) => "torrent",
            Record::File(_) => "file",
            Record::Extra(_) => "extra",
            Record::Summary(_) => "summary",
            Record::Peer(_) => "peer",
            Record::Announce(_) => "announce",
            Record::Scrape(_) => "scrape",
            Record::Listening(_) => "listening",
            Record::Stats(_) => "stats",
            Record::Progress(_) => "progress",
            Record::WebSeed(_) => "web_seed",
            Record::Status(_) => "status",
            Record::Limits(_) => "limits",
            Record::Ok(_) => "ok",
            Record::Error(_) => "error",
            Record::Unknown => "unknown",
        }
    }
}

/// `From<T>` and `From<&T>` for each record struct, so writers can pass either.
macro_rules! into_record {
    ($($ty:ty => $variant:ident),* $(,)?) => {$(
        impl From<$ty> for Record {
            fn from(r: $ty) -> Record {
                Record::$variant(r)
            }
        }
        impl From<&$ty> for Record {
            fn from(r: &$ty) -> Record {
                Record::$variant(r.clone())
            }
        }
    )*};
}

into_record! {
    TorrentRecord => Torrent,
    VerifyFile => File,
    VerifyExtra => Extra,
    SummaryRecord => Summary,
    PeerRecord => Peer,
    AnnounceRecord => Announce,
    ScrapeRecord => Scrape,
    ListeningRecord => Listening,
    StatsRecord => Stats,
    ProgressRecord => Progress,
    WebSeedRecord => WebSeed,
    StatusRecord => Status,
    LimitsRecord => Limits,
    OkRecord => Ok,
    ErrorRecord => Error,
}

/// Escape control characters (and DEL) as `\xNN` / `\n` so untrusted text cannot drive the
/// terminal. Everything else, including non-ASCII, is kept.
pub fn escape_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

// ---- metainfo records (bt-info, bt-make) ----
/// `torrent`: what a torrent file or a magnet link holds (`bt-info`), or the torrent `bt-make`
/// wrote (with `output`).
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
    /// Entries of `files` that are not pad files.
    pub file_count: Option<u64>,
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
    /// v1 piece hashes in hex with `bt-info --pieces`, else `null`.
    pub pieces: Option<Vec<String>>,
    /// BEP 52: files of more than one piece whose piece layer the torrent holds (in `piece
    /// layers`, outside `info`); `null` for v1-only torrents and magnets.
    pub piece_layers: Option<u64>,
    /// BEP 52: files of more than one piece whose piece layer is missing (0: the torrent
    /// verifies on its own; a torrent from a `btmh` magnet gets them from peers); `null` for
    /// v1-only torrents and magnets.
    pub piece_layers_missing: Option<u64>,
    /// The path `bt-make` wrote the torrent to; `null` from `bt-info`.
    pub output: Option<String>,
}

/// One entry of [`TorrentRecord::files`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct FileRecord {
    /// Index in the torrent's file list (pad files counted): what `--file INDEX` takes.
    #[serde(default)]
    pub index: usize,
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
            .enumerate()
            .map(|(index, f)| {
                let (path, path_hex) = text_and_hex(&join(&f.path));
                FileRecord {
                    index,
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
            input: "torrent".into(),
            info_hash: t.info_hash.map(|h| h.hex()),
            info_hash_v2: t.info_hash_v2.map(|h| h.hex()),
            version: version_value(t.version),
            name: Some(name),
            name_hex,
            piece_length: Some(t.piece_length),
            piece_count: Some(t.piece_count() as u64),
            total_length: Some(t.content_length()),
            file_count: Some(t.files.iter().filter(|f| !f.pad).count() as u64),
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
            piece_layers: t.info_hash_v2.map(|_| {
                let (want, missing) = (t.wanted_piece_layers(), t.missing_piece_layers());
                (want.len() - missing.len()) as u64
            }),
            piece_layers_missing: t
                .info_hash_v2
                .map(|_| t.missing_piece_layers().len() as u64),
            output: None,
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
            input: "magnet".into(),
            info_hash: m.info_hash.map(|h| h.hex()),
            info_hash_v2: m.info_hash_v2.map(|h| h.hex()),
            version: version_value(version),
            name: m.name.clone(),
            name_hex: None,
            piece_length: None,
            piece_count: None,
            total_length: None,
            file_count: None,
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
            piece_layers: None,
            piece_layers_missing: None,
            output: None,
        }
    }

    /// The record `bt-make` writes: the torrent it made and the path it wrote it to.
    pub fn made(t: &Torrent, output: &std::path::Path) -> Self {
        TorrentRecord {
            output: Some(output.display().to_string()),
            ..Self::from_torrent(t, false)
        }
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

/// `file` (bt-verify): the verdict on one file of the torrent (pad files are not reported).
///
/// `{"type":"file","path":"name/dir/f.bin","path_hex":null,"length":70000,
/// "status":"incomplete","bad_pieces":1,"shared_bad_pieces":0,"pieces":5,"bytes_on_disk":70000,
/// "bad_piece_indices":null,"error":null,"hash":"v1"}`
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VerifyFile {
    /// Path relative to the download directory (`<name>/<path...>`, or `<name>` for a
    /// single-file torrent), `/`-separated.
    pub path: String,
    /// The raw path bytes in hex when the path is not UTF-8 (`path` is then lossy), else `null`.
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
    /// With `--bad-pieces`: the bad piece indices, ascending; else `null`.
    pub bad_piece_indices: Option<Vec<usize>>,
    /// Why the file is unreadable (or the read error met), else `null`.
    pub error: Option<String>,
    /// Which hashes judged the file: `"v1"` (SHA-1 pieces), `"v2"` (the file's own SHA-256
    /// merkle tree) or `"v1+v2"` (a hybrid: both, which must agree); `null` for an empty file.
    pub hash: Option<String>,
}

/// `extra` (bt-verify `--extra`): a file under the torrent's directory that the torrent does
/// not list. `{"type":"extra","path":"name/notes.txt","path_hex":null,"bytes":12}`
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VerifyExtra {
    /// Path relative to the download directory, `/`-separated.
    pub path: String,
    /// The raw path bytes in hex when the path is not UTF-8, else `null`.
    pub path_hex: Option<String>,
    /// Its length.
    pub bytes: u64,
}

/// `path` as text, plus its raw bytes in hex when it is not UTF-8.
fn path_text(p: &std::path::Path) -> (String, Option<String>) {
    use std::os::unix::ffi::OsStrExt;
    text_and_hex(p.as_os_str().as_bytes())
}

impl VerifyFile {
    /// The record of one file's verdict; `indices` adds the bad piece indices.
    pub fn from_report(t: &Torrent, f: &crate::verify::FileReport, indices: bool) -> Self {
        let (path, path_hex) = path_text(&t.file_path(&t.files[f.file]));
        VerifyFile {
            path,
            path_hex,
            length: f.length,
            status: f.status.as_str().into(),
            bad_pieces: f.bad_pieces.len(),
            shared_bad_pieces: f.shared_bad_pieces,
            pieces: f.pieces.len(),
            bytes_on_disk: f.bytes_on_disk,
            bad_piece_indices: indices.then(|| f.bad_pieces.clone()),
            error: f.error.clone(),
            hash: f.hash.map(String::from),
        }
    }
}

impl VerifyExtra {
    /// The record of a file the torrent does not list, at `rel` below the download directory.
    pub fn new(rel: &std::path::Path, bytes: u64) -> Self {
        let (path, path_hex) = path_text(rel);
        VerifyExtra {
            path,
            path_hex,
            bytes,
        }
    }
}

/// Everything `bt-verify` writes for one report: a `file` record per file, an `extra` record
/// per file found that the torrent does not list, then the `summary`.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyRecords {
    /// One per file of the report.
    pub files: Vec<VerifyFile>,
    /// One per extra file found (`--extra`).
    pub extras: Vec<VerifyExtra>,
    /// The summary.
    pub summary: SummaryRecord,
    /// [`shared_only`] of the report, for the human view.
    pub shared: Vec<bool>,
}

impl VerifyRecords {
    /// The records of a report that took `seconds`: `extras` (paths below the download
    /// directory, lengths) with `--extra`, `indices` (the bad piece indices) with
    /// `--bad-pieces`.
    pub fn new(
        t: &Torrent,
        report: &crate::verify::Report,
        seconds: f64,
        extras: Option<&[(std::path::PathBuf, u64)]>,
        indices: bool,
    ) -> Self {
        let extra_count = extras.map(<[_]>::len);
        VerifyRecords {
            files: (report.files.iter())
                .map(|f| VerifyFile::from_report(t, f, indices))
                .collect(),
            extras: (extras.unwrap_or_default().iter())
                .map(|(p, bytes)| VerifyExtra::new(p, *bytes))
                .collect(),
            summary: SummaryRecord::from_verify(t, report, seconds, extra_count, indices),
            shared: shared_only(report),
        }
    }

    /// The records in the order they are written.
    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        let files = self.files.iter().map(Record::from);
        let extras = self.extras.iter().map(Record::from);
        files.chain(extras).chain([Record::from(&self.summary)])
    }
}

/// For each file of a verify report: whether its own bytes are all present (right length) and
/// it fails only because every one of its bad pieces also covers a file that is bad itself
/// (missing, wrong size, unreadable, or with a bad piece of its own). Such a file keeps the
/// status `incomplete`, but it is counted in `shared_bad_files`, not `bad_files`. When two files
/// of the right length share a bad piece, neither can be cleared, and both stay bad.
pub fn shared_only(report: &crate::verify::Report) -> Vec<bool> {
    use crate::verify::FileStatus;
    let bad_itself = |f: &crate::verify::FileReport| match f.status {
        FileStatus::Complete => false,
        FileStatus::Incomplete => f.shared_bad_pieces < f.bad_pieces.len(),
        FileStatus::Missing | FileStatus::WrongSize | FileStatus::Unreadable => true,
    };
    let mut blamed = std::collections::HashSet::new();
    for f in report.files.iter().filter(|f| bad_itself(f)) {
        blamed.extend(f.bad_pieces.iter().copied());
    }
    report
        .files
        .iter()
        .map(|f| {
            f.status == FileStatus::Incomplete
                && !bad_itself(f)
                && f.bad_pieces.iter().all(|p| blamed.contains(p))
        })
        .collect()
}

/// `summary`: the last record of `bt-verify` and of `bt-fetch`, one shape for both.
///
/// Fields a tool does not measure are `null` (see the module documentation for who fills
/// what).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SummaryRecord {
    /// `bt-verify`: every piece matches and every file has its exact length. `bt-fetch`: the
    /// download is complete (the same as `complete`). The exit code is 0 exactly when `ok`.
    pub ok: bool,
    /// v1 info hash, lowercase hex (`bt-verify`; `null` for a v2-only torrent and from
    /// `bt-fetch`).
    pub info_hash: Option<String>,
    /// Pieces in the torrent.
    pub pieces: u64,
    /// Pieces verified good on disk at the end.
    pub good_pieces: Option<u64>,
    /// `bt-verify`: pieces that do not match (or could not be read). `bt-fetch`: pieces
    /// received that failed their hash and were fetched again.
    pub bad_pieces: u64,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
    /// `bt-verify`: bytes read and hashed.
    pub bytes_checked: Option<u64>,
    /// `bt-verify`: files reported (pad files excluded).
    pub files: Option<u64>,
    /// `bt-verify`: files that are bad themselves (not `complete`, leaving out those counted in
    /// `shared_bad_files`).
    pub bad_files: Option<u64>,
    /// `bt-verify`: files whose own bytes are present but which share a bad piece with a bad
    /// neighbour (status `incomplete`).
    pub shared_bad_files: Option<u64>,
    /// `bt-verify --extra`: files found that the torrent does not list.
    pub extra_files: Option<u64>,
    /// `bt-verify --bad-pieces`: the bad piece indices, ascending.
    pub bad_piece_indices: Option<Vec<usize>>,
    /// Every piece verified good on disk.
    pub complete: Option<bool>,
    /// `bt-fetch`: bytes of blocks received in this run (including blocks of pieces that
    /// failed).
    pub bytes_downloaded: Option<u64>,
    /// `bt-fetch`: bytes sent to peers in this run.
    pub bytes_uploaded: Option<u64>,
    /// `bt-fetch`: distinct peers that sent at least one block.
    pub peers_used: Option<u64>,
    /// `bt-fetch`: pieces verified on disk before this run downloaded anything.
    pub pieces_at_start: Option<u64>,
    /// `bt-fetch`: pieces downloaded and verified in this run.
    pub pieces_fetched: Option<u64>,
    /// `bt-fetch`: why the download stopped early (`complete` false).
    pub reason: Option<String>,
}

impl SummaryRecord {
    /// A summary with the common fields set and every tool-specific field `null`.
    fn base(ok: bool, pieces: u64, bad_pieces: u64, seconds: f64) -> Self {
        SummaryRecord {
            ok,
            info_hash: None,
            pieces,
            good_pieces: None,
            bad_pieces,
            seconds,
            bytes_checked: None,
            files: None,
            bad_files: None,
            shared_bad_files: None,
            extra_files: None,
            bad_piece_indices: None,
            complete: None,
            bytes_downloaded: None,
            bytes_uploaded: None,
            peers_used: None,
            pieces_at_start: None,
            pieces_fetched: None,
            reason: None,
        }
    }

    /// `bt-verify`'s summary of a report that took `seconds`; `extra_files` with `--extra`,
    /// `indices` with `--bad-pieces`.
    pub fn from_verify(
        t: &Torrent,
        report: &crate::verify::Report,
        seconds: f64,
        extra_files: Option<usize>,
        indices: bool,
    ) -> Self {
        let bad = report.bad_pieces();
        let shared = shared_only(report);
        let shared_count = shared.iter().filter(|&&s| s).count() as u64;
        let not_complete = report
            .files
            .iter()
            .filter(|f| f.status != crate::verify::FileStatus::Complete)
            .count() as u64;
        SummaryRecord {
            info_hash: t.info_hash.map(|h| h.hex()),
            good_pieces: Some(report.good_pieces() as u64),
            bytes_checked: Some(report.bytes_checked),
            files: Some(report.files.len() as u64),
            bad_files: Some(not_complete - shared_count),
            shared_bad_files: Some(shared_count),
            extra_files: extra_files.map(|n| n as u64),
            complete: Some(bad.is_empty()),
            bad_piece_indices: indices.then(|| bad.clone()),
            ..Self::base(
                report.ok(),
                report.piece_count() as u64,
                bad.len() as u64,
                seconds,
            )
        }
    }

    /// `bt-fetch`'s summary.
    pub fn from_fetch(f: &FetchSummaryRecord) -> Self {
        SummaryRecord {
            good_pieces: Some(u64::from(f.pieces_at_start) + u64::from(f.pieces_fetched)),
            complete: Some(f.complete),
            bytes_downloaded: Some(f.bytes_downloaded),
            bytes_uploaded: Some(f.bytes_uploaded),
            peers_used: Some(f.peers_used as u64),
            pieces_at_start: Some(f.pieces_at_start.into()),
            pieces_fetched: Some(f.pieces_fetched.into()),
            reason: f.reason.clone(),
            ..Self::base(f.complete, f.pieces.into(), f.bad_pieces.into(), f.seconds)
        }
    }
}

// ---- tracker records (bt-announce) ----

/// `peer`: a peer address (`bt-announce`: `tracker` set, `event` `null`), or an event about a
/// connection (`bt-fetch --peer-records`, `bt-seed`: `event`, `info_hash` and the event's
/// details set, `tracker` `null`). Both kinds feed `bt-fetch`, which reads `ip` and `port`.
///
/// `{"type":"peer","ip":"127.0.0.1","port":6881,"tracker":"http://t/announce","event":null,
/// "info_hash":null,"peer_id":null,"incoming":null,"reason":null,"downloaded":null,
/// "uploaded":null}`. `ip` is an IPv4 or IPv6 address in its usual text form (IPv6 without
/// brackets).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PeerRecord {
    /// The peer's address.
    pub ip: String,
    /// The peer's port.
    pub port: u16,
    /// The tracker that named this peer (`dht` when the DHT did), else `null`.
    pub tracker: Option<String>,
    /// `connected`, `disconnected` or `banned` (a peer that sent bad data twice); `null` for a
    /// plain address.
    pub event: Option<String>,
    /// The torrent's info hash (events).
    pub info_hash: Option<String>,
    /// The remote peer id (`connected`).
    pub peer_id: Option<String>,
    /// Whether the peer connected to us (`connected`).
    pub incoming: Option<bool>,
    /// Why the connection ended (`disconnected`).
    pub reason: Option<String>,
    /// Bytes received from the peer (`disconnected`).
    pub downloaded: Option<u64>,
    /// Bytes sent to the peer (`disconnected`).
    pub uploaded: Option<u64>,
}

impl PeerRecord {
    /// A record for an address found by `tracker`.
    pub fn new(addr: std::net::SocketAddr, tracker: Option<&str>) -> Self {
        PeerRecord {
            ip: addr.ip().to_string(),
            port: addr.port(),
            tracker: tracker.map(str::to_string),
            event: None,
            info_hash: None,
            peer_id: None,
            incoming: None,
            reason: None,
            downloaded: None,
            uploaded: None,
        }
    }

    /// The socket address, if `ip` is a valid address.
    pub fn addr(&self) -> Option<std::net::SocketAddr> {
        let ip: std::net::IpAddr = self.ip.parse().ok()?;
        Some(std::net::SocketAddr::new(ip, self.port))
    }
}

/// The event half of a `peer` record, as the swarm reports a connection; written as a
/// [`PeerRecord`] (`tracker` `null`). Not a record type of its own: it deserializes from a `peer`
/// line whose `event` is set, as a narrower view.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
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
    pub peer_id: Option<String>,
    /// Whether the peer connected to us (`connected`).
    pub incoming: Option<bool>,
    /// Why the connection ended (`disconnected`).
    pub reason: Option<String>,
    /// Bytes received from the peer (`disconnected`).
    pub downloaded: Option<u64>,
    /// Bytes sent to the peer (`disconnected`).
    pub uploaded: Option<u64>,
}

impl From<&PeerEventRecord> for PeerRecord {
    fn from(e: &PeerEventRecord) -> PeerRecord {
        PeerRecord {
            ip: e.ip.clone(),
            port: e.port,
            tracker: None,
            event: Some(e.event.clone()),
            info_hash: Some(e.info_hash.clone()),
            peer_id: e.peer_id.clone(),
            incoming: e.incoming,
            reason: e.reason.clone(),
            downloaded: e.downloaded,
            uploaded: e.uploaded,
        }
    }
}

impl From<&PeerEventRecord> for Record {
    fn from(e: &PeerEventRecord) -> Record {
        Record::Peer(e.into())
    }
}

impl From<PeerEventRecord> for Record {
    fn from(e: PeerEventRecord) -> Record {
        Record::Peer((&e).into())
    }
}

/// Read one line of a peer stream: a JSON `peer` record (of either kind), or a plain `ip:port`
/// / `[ipv6]:port`. Blank lines and JSON records of other types give `Ok(None)` (readers skip
/// them); anything else is an error naming the line.
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
pub struct AnnounceRecord {
    /// The tracker URL.
    pub tracker: String,
    /// Whether the tracker answered.
    pub ok: bool,
    /// Seconds until the next regular announce.
    pub interval: Option<u32>,
    /// The tracker's minimum seconds between announces, else `null`.
    pub min_interval: Option<u32>,
    /// Seeders.
    pub complete: Option<u64>,
    /// Leechers.
    pub incomplete: Option<u64>,
    /// Number of peers in the answer.
    pub peers: usize,
    /// Why the tracker gave no answer (its failure reason, a timeout, ...), else `null`.
    pub error: Option<String>,
    /// The tracker's warning message, else `null`.
    pub warning: Option<String>,
    /// What was dropped from a malformed or oversized answer (a partial answer), else `[]`.
    pub notes: Vec<String>,
}

/// `scrape`: swarm counts for one torrent from one tracker (`ok` false with `error` when the
/// tracker gave none).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// Why there are no counts, else `null`.
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
        let t = escape_controls(&self.tracker);
        let n = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
        match &self.error {
            None => format!(
                "tracker {t}: {} {}, {} {}, {} {}, interval {} s",
                self.peers,
                if self.peers == 1 { "peer" } else { "peers" },
                n(self.complete),
                if self.complete == Some(1) {
                    "seeder"
                } else {
                    "seeders"
                },
                n(self.incomplete),
                if self.incomplete == Some(1) {
                    "leecher"
                } else {
                    "leechers"
                },
                n(self.interval.map(u64::from))
            ),
            Some(e) => format!("tracker {t}: {}", escape_controls(e)),
        }
    }

    /// The tracker's warning and our notes about its answer, one line each for stderr, control
    /// characters escaped.
    pub fn diagnostics(&self) -> Vec<String> {
        let t = escape_controls(&self.tracker);
        let warning = self.warning.iter().map(|w| format!("warning: {w}"));
        warning
            .chain(self.notes.iter().cloned())
            .map(|n| format!("tracker {t}: {}", escape_controls(&n)))
            .collect()
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
        let t = escape_controls(&self.tracker);
        match (&self.error, self.complete, self.incomplete, self.downloaded) {
            (None, Some(c), Some(i), Some(d)) => {
                let s = |n: u64| if n == 1 { "" } else { "s" };
                format!(
                    "{t}: {c} seeder{}, {i} leecher{}, {d} download{}",
                    s(c),
                    s(i),
                    s(d)
                )
            }
            (e, ..) => format!(
                "{t}: no counts: {}",
                escape_controls(e.as_deref().unwrap_or("?"))
            ),
        }
    }
}

// ---- swarm records (bt-fetch, bt-seed) ----

/// `listening`: `bt-seed` (and `bt-fetch`) accept connections for a torrent on this address,
/// written as soon as the socket is bound, one record per torrent.
///
/// `{"type":"listening","addr":"127.0.0.1","port":6881,"info_hash":"…","name":"sample"}`
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ListeningRecord {
    /// The bound address (`0.0.0.0` or `::` for all interfaces).
    pub addr: String,
    /// The bound port.
    pub port: u16,
    /// The torrent's info hash (for a v2-only torrent, the truncated v2 hash peers use).
    pub info_hash: String,
    /// The torrent's name (display form).
    pub name: String,
}

/// `stats`: `bt-seed`'s periodic counters for one torrent.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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

/// `web_seed`: what happened with one web seed (an HTTP mirror, BEP 19) of `bt-fetch`.
///
/// `event` is `started`, `redirected` (`location` says where to; once per mirror), `error` (a
/// request failed: `reason` names the URL and the cause, `status` is the HTTP status when the
/// server answered with one; the mirror's blocks go to other sources and it retries after a
/// pause), `banned` (two pieces it sent alone failed their hash: no more requests to it) or
/// `stopped` (its last request ended: `reason` is `complete`, `stopped`, `banned: ...` or
/// `given up after 5 failures in a row`; `downloaded` counts the bytes it sent).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WebSeedRecord {
    /// The mirror's URL as the torrent or `--web-seed` gave it.
    pub url: String,
    /// The torrent's info hash.
    pub info_hash: String,
    /// `started`, `redirected`, `error`, `banned` or `stopped`.
    pub event: String,
    /// Where the mirror redirected to (`redirected`).
    pub location: Option<String>,
    /// Why (`error`, `stopped`).
    pub reason: Option<String>,
    /// The HTTP status of an `error` the server answered.
    pub status: Option<u16>,
    /// Bytes received from the mirror (`stopped`).
    pub downloaded: Option<u64>,
}

impl WebSeedRecord {
    /// The record of a web seed event of the swarm (None for other events).
    pub fn from_event(
        e: &crate::swarm::Event,
        info_hash: crate::metainfo::InfoHash,
    ) -> Option<Self> {
        use crate::swarm::webseed::WebSeedEvent as W;
        let crate::swarm::Event::WebSeed { url, event } = e else {
            return None;
        };
        let mut r = WebSeedRecord {
            url: url.clone(),
            info_hash: info_hash.hex(),
            event: String::new(),
            location: None,
            reason: None,
            status: None,
            downloaded: None,
        };
        r.event = match event {
            W::Started => "started",
            W::Redirected { to } => {
                r.location = Some(to.clone());
                "redirected"
            }
            W::Error { reason, status } => {
                r.reason = Some(reason.clone());
                r.status = *status;
                "error"
            }
            W::Banned => "banned",
            W::Stopped { reason, downloaded } => {
                r.reason = Some(reason.clone());
                r.downloaded = Some(*downloaded);
                "stopped"
            }
        }
        .to_string();
        Some(r)
    }
}

/// What `bt-fetch` knows at the end of a run; written as a [`SummaryRecord`] (see
/// [`SummaryRecord::from_fetch`]). Not a record type of its own: it deserializes from
/// `bt-fetch`'s `summary` line as a narrower view.
///
/// `complete` is true when every piece is verified on disk (exit 0). `pieces_at_start` counts
/// the pieces found verified on disk before downloading (resume), `pieces_fetched` those
/// downloaded and verified in this run.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
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
    pub reason: Option<String>,
}

impl From<&FetchSummaryRecord> for Record {
    fn from(f: &FetchSummaryRecord) -> Record {
        Record::Summary(SummaryRecord::from_fetch(f))
    }
}

impl From<FetchSummaryRecord> for Record {
    fn from(f: FetchSummaryRecord) -> Record {
        Record::Summary(SummaryRecord::from_fetch(&f))
    }
}

// ---- daemon records (bt-seed --control, bt-ctl, bt-top) ----

/// `status`: one torrent of the daemon, as `list` and `watch` report it.
///
/// `state` is one of `metadata` (a magnet link's info dictionary is being fetched; `pieces`
/// and `bytes_total` are 0 until it is known), `starting`, `verifying`, `downloading`, `seeding`, `paused`, `stalled`
/// (the engine ended without finishing, for example when no peer is left; it is started again
/// after a pause that grows to a minute) or `error` (`error` names the problem). `downloaded`
/// and `uploaded` count bytes since the daemon started; `ratio` is `uploaded` over the
/// torrent's size. `eta` is in seconds (`null` when not downloading). `files`, `peer_list`
/// and `piece_map` are filled by `list` with `"detail":true`, else `null`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StatusRecord {
    /// The torrent's info hash.
    pub info_hash: String,
    /// The torrent's name (display form).
    pub name: String,
    /// What the torrent is doing (see above).
    pub state: String,
    /// Verified bytes over the torrent's size, 0 to 1.
    pub progress: f64,
    /// Verified pieces.
    pub pieces_have: u32,
    /// Pieces in the torrent.
    pub pieces: u32,
    /// Verified bytes.
    pub bytes_have: u64,
    /// Bytes in the torrent.
    pub bytes_total: u64,
    /// Download rate, bytes per second.
    pub down_rate: u64,
    /// Upload rate, bytes per second.
    pub up_rate: u64,
    /// Connected peers.
    pub peers: usize,
    /// Bytes sent since the daemon started.
    pub uploaded: u64,
    /// Bytes received since the daemon started.
    pub downloaded: u64,
    /// `uploaded` over the torrent's size.
    pub ratio: f64,
    /// Seconds left at the current rate (`null` when not downloading).
    pub eta: Option<f64>,
    /// The directory holding `dir/<name>`.
    pub dir: String,
    /// `fetch` (download, then seed) or `seed` (serve what is on disk).
    pub mode: String,
    /// The torrent's download limit, bytes per second (`null`: none of its own).
    pub down_limit: Option<u64>,
    /// The torrent's upload limit, bytes per second (`null`: none of its own).
    pub up_limit: Option<u64>,
    /// The port the torrent listens on (`null` when not running).
    pub port: Option<u16>,
    /// What went wrong (`state` `error` or `stalled`).
    pub error: Option<String>,
    /// The torrent's files (`list` with `detail`).
    pub files: Option<Vec<StatusFile>>,
    /// The connected peers (`list` with `detail`), the fastest first, at most 50.
    pub peer_list: Option<Vec<StatusPeer>>,
    /// The verified share of each of up to 64 equal runs of pieces, in percent, first to last
    /// (`list` with `detail`; `null` before the engine first reported).
    #[serde(default)]
    pub piece_map: Option<Vec<u8>>,
}

/// A file in a `status` record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatusFile {
    /// Path inside the torrent, `/`-separated (display form).
    pub path: String,
    /// Length in bytes.
    pub length: u64,
}

/// A connected peer in a `status` record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatusPeer {
    /// The peer's address.
    pub ip: String,
    /// The peer's port.
    pub port: u16,
    /// The client named by its peer id (`-qB4250-` style), else `null`.
    pub client: Option<String>,
    /// Whether the peer connected to us.
    pub incoming: bool,
    /// Download rate from it, bytes per second (over the last engine report).
    #[serde(default)]
    pub down_rate: u64,
    /// Upload rate to it, bytes per second.
    #[serde(default)]
    pub up_rate: u64,
    /// We choke it.
    #[serde(default)]
    pub choked: bool,
    /// It is interested in our pieces.
    #[serde(default)]
    pub interested: bool,
    /// The connection is MSE/PE-encrypted.
    #[serde(default)]
    pub encrypted: bool,
}

/// `limits`: the rate limits in force after a `limit` command, global (`info_hash` `null`) or
/// of one torrent; `null` rates are unlimited.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LimitsRecord {
    /// The torrent, or `null` for the global limits.
    pub info_hash: Option<String>,
    /// Download limit, bytes per second.
    pub down: Option<u64>,
    /// Upload limit, bytes per second.
    pub up: Option<u64>,
}

/// `ok`: the daemon carried out `cmd` (for `info_hash` when it names one torrent; `count`
/// records came before it for `list`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OkRecord {
    /// The command.
    pub cmd: String,
    /// The torrent the command acted on.
    pub info_hash: Option<String>,
    /// How many records came before (`list`).
    pub count: Option<usize>,
}

/// `error`: the daemon did not carry out `cmd` (`null` when the line was not a command).
/// `code` is `bad_command` (malformed or unknown), `not_found` (no torrent matches),
/// `exists` (already added), `refused` (another user), `failed` (the rest); `error` names
/// the problem.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorRecord {
    /// The command, if the line named one.
    pub cmd: Option<String>,
    /// The kind of failure (see above).
    pub code: String,
    /// What went wrong, naming the input.
    pub error: String,
}

// ---- records built from the engine's domain types (bt-fetch, bt-seed) ----

impl ListeningRecord {
    /// The `listening` record of torrent `t` on the bound address `addr`.
    pub fn new(addr: std::net::SocketAddr, t: &crate::metainfo::Torrent) -> Self {
        ListeningRecord {
            addr: addr.ip().to_string(),
            port: addr.port(),
            info_hash: t.swarm_hash().hex(),
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
            Event::BadPiece { .. } | Event::WebSeed { .. } => None,
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
            reason: r.outcome.reason().map(|why| match &r.peer_error {
                _ if r.output_closed => "output closed".to_string(),
                Some(e) if r.outcome != crate::swarm::Outcome::Stopped => format!("{why}: {e}"),
                _ => why,
            }),
        }
    }

    /// The human summary line of a download of `name`.
    pub fn human(&self, name: &str) -> String {
        let reason = self.reason.as_ref().map(|r| format!(" ({r})"));
        let s = |n: u64| if n == 1 { "" } else { "s" };
        format!(
            "{name}: {} of {} piece{} ({} fetched, {} at start), {} byte{} downloaded in {:.1} s \
             from {} peer{}, {} bad piece{}{}",
            self.pieces_at_start + self.pieces_fetched,
            self.pieces,
            s(self.pieces.into()),
            self.pieces_fetched,
            self.pieces_at_start,
            self.bytes_downloaded,
            s(self.bytes_downloaded),
            self.seconds,
            self.peers_used,
            s(self.peers_used as u64),
            self.bad_pieces,
            s(self.bad_pieces.into()),
            reason.unwrap_or_default()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(r: impl Into<Record>) -> String {
        serde_json::to_string(&r.into()).unwrap()
    }

    #[test]
    fn peer_records_round_trip_and_lines_parse() {
        let r = PeerRecord::new("[::1]:7".parse().unwrap(), Some("udp://t:1"));
        let j = line(&r);
        assert_eq!(
            j,
            r#"{"type":"peer","ip":"::1","port":7,"tracker":"udp://t:1","event":null,"info_hash":null,"peer_id":null,"incoming":null,"reason":null,"downloaded":null,"uploaded":null}"#
        );
        assert_eq!(serde_json::from_str::<Record>(&j).unwrap(), Record::Peer(r));
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
    fn peer_events_have_the_peer_shape() {
        let e = PeerEventRecord {
            event: "banned".into(),
            ip: "127.0.0.1".into(),
            port: 9,
            info_hash: "ab".into(),
            peer_id: None,
            incoming: None,
            reason: None,
            downloaded: None,
            uploaded: None,
        };
        let j = line(&e);
        let a = line(PeerRecord::new("127.0.0.1:9".parse().unwrap(), None));
        let keys = |s: &str| -> Vec<String> {
            let v: serde_json::Value = serde_json::from_str(s).unwrap();
            v.as_object().unwrap().keys().cloned().collect()
        };
        assert_eq!(keys(&j), keys(&a));
        assert_eq!(peer_from_line(&j), Ok(Some("127.0.0.1:9".parse().unwrap())));
        match serde_json::from_str::<Record>(&j).unwrap() {
            Record::Peer(p) => assert_eq!(p.event.as_deref(), Some("banned")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn fetch_summary_line_counts_in_singular_and_plural() {
        let mut f = FetchSummaryRecord {
            complete: true,
            bytes_downloaded: 1,
            bytes_uploaded: 0,
            seconds: 1.0,
            peers_used: 1,
            bad_pieces: 1,
            pieces: 1,
            pieces_at_start: 0,
            pieces_fetched: 1,
            reason: None,
        };
        assert_eq!(
            f.human("x"),
            "x: 1 of 1 piece (1 fetched, 0 at start), 1 byte downloaded in 1.0 s from 1 peer, \
             1 bad piece"
        );
        f.peers_used = 2;
        f.bad_pieces = 0;
        assert!(f.human("x").ends_with("from 2 peers, 0 bad pieces"));
    }

    #[test]
    fn absent_values_are_null_not_missing() {
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
        assert_eq!(
            line(&r),
            r#"{"type":"announce","tracker":"t","ok":false,"interval":null,"min_interval":null,"complete":null,"incomplete":null,"peers":0,"error":"x","warning":null,"notes":[]}"#
        );
    }

    #[test]
    fn human_lines_use_singulars() {
        let r = AnnounceRecord {
            tracker: "t".into(),
            ok: true,
            interval: Some(60),
            min_interval: None,
            complete: Some(1),
            incomplete: Some(0),
            peers: 1,
            error: None,
            warning: None,
            notes: vec![],
        };
        assert_eq!(
            r.human(),
            "tracker t: 1 peer, 1 seeder, 0 leechers, interval 60 s"
        );
    }

    #[test]
    fn summaries_of_both_tools_have_one_shape_and_unknown_types_are_skipped() {
        let f = FetchSummaryRecord {
            complete: true,
            bytes_downloaded: 10,
            bytes_uploaded: 0,
            seconds: 1.0,
            peers_used: 1,
            bad_pieces: 0,
            pieces: 2,
            pieces_at_start: 1,
            pieces_fetched: 1,
            reason: None,
        };
        let fetch: serde_json::Value = serde_json::from_str(&line(&f)).unwrap();
        let verify = SummaryRecord::base(false, 2, 1, 0.5);
        let verify: serde_json::Value = serde_json::from_str(&line(verify)).unwrap();
        let keys = |v: &serde_json::Value| -> Vec<String> {
            v.as_object().unwrap().keys().cloned().collect()
        };
        assert_eq!(keys(&fetch), keys(&verify));
        assert_eq!(fetch["ok"], true);
        assert_eq!(fetch["good_pieces"], 2);
        assert_eq!(fetch["bytes_checked"], serde_json::Value::Null);
        let r: Record = serde_json::from_str(r#"{"type":"dht_node","x":1}"#).unwrap();
        assert_eq!(r, Record::Unknown);
        assert!(serde_json::to_string(&Record::Unknown).is_err());
    }
}
