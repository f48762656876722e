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

// ---- verify records (bt-verify) ----

// ---- tracker records (bt-announce) ----

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
