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

// ---- tracker records (bt-announce) ----

// ---- swarm records (bt-fetch, bt-seed) ----
