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
