//! Trackers: announce and scrape over HTTP(S) (BEP 3, BEP 23, BEP 7, BEP 48) and UDP (BEP 15),
//! and the multi-tracker tiers of BEP 12.
//!
//! The shape: [`http`] and [`udp`] hold pure functions that build requests and parse responses
//! (unit-tested byte for byte) plus one small function each that touches the network. This module
//! dispatches on the URL scheme ([`announce`], [`scrape`]); [`Tiers`] walks the tiers of a torrent;
//! [`Announcer`] keeps the announce schedule of a running client.
//!
//! Invariants: every response is untrusted input. It is read with a size cap
//! ([`MAX_RESPONSE`]), decoded by the strict [`crate::bencode`] scanner with tight limits, and
//! never yields more than [`MAX_PEERS`] peers. Every network wait is bounded by the caller's
//! [`Options::timeout`]; nothing here retries forever. Errors name the tracker URL.

mod announcer;
mod bound;
pub mod http;
mod tiers;
pub mod udp;

pub use announcer::Announcer;
pub use tiers::{peers_of, Attempt, Tiers};

use crate::metainfo::InfoHash;
use crate::peer::PeerId;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Largest tracker response body we read (2 MiB); a larger one is an error.
pub const MAX_RESPONSE: usize = 2 << 20;

/// Most peers kept from one response; the rest are dropped with a note.
pub const MAX_PEERS: usize = 10_000;

/// Our client prefix in Azureus-style peer ids.
pub const PEER_ID_PREFIX: &[u8; 8] = b"-BT0100-";

/// The operating system could not give random bytes.
pub use getrandom::Error as RandomError;

/// The `event` of an announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Event {
    /// A regular re-announce (no `event` parameter).
    #[default]
    None,
    /// The first announce of a download.
    Started,
    /// The download completed (sent once).
    Completed,
    /// We are leaving the swarm.
    Stopped,
}

impl Event {
    /// The BEP 3 word (`""` for [`Event::None`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Event::None => "",
            Event::Started => "started",
            Event::Completed => "completed",
            Event::Stopped => "stopped",
        }
    }

    /// Parse `started`, `completed`, `stopped` or `none`.
    pub fn parse(s: &str) -> Option<Event> {
        match s {
            "none" | "" => Some(Event::None),
            "started" => Some(Event::Started),
            "completed" => Some(Event::Completed),
            "stopped" => Some(Event::Stopped),
            _ => None,
        }
    }
}

/// What we tell a tracker in an announce.
#[derive(Debug, Clone)]
pub struct AnnounceRequest {
    /// The torrent (for a v2-only torrent: the SHA-256 info hash truncated to 20 bytes).
    pub info_hash: InfoHash,
    /// Our peer id (see [`PeerId::generate`]).
    pub peer_id: [u8; 20],
    /// The port we accept peer connections on.
    pub port: u16,
    /// Bytes uploaded since `started`.
    pub uploaded: u64,
    /// Bytes downloaded since `started`.
    pub downloaded: u64,
    /// Bytes still missing.
    pub left: u64,
    /// The event.
    pub event: Event,
    /// How many peers we want (`None`: the tracker's default).
    pub numwant: Option<u32>,
    /// A random number that identifies us across IP changes (stable for a session).
    pub key: u32,
    /// The `tracker id` this tracker gave us before (HTTP only; [`Tiers`] keeps it).
    pub tracker_id: Option<Vec<u8>>,
}

impl AnnounceRequest {
    /// A `started` request with a random peer id and key, nothing transferred yet; an error
    /// when the system has no random bytes to give.
    pub fn new(info_hash: InfoHash, port: u16, left: u64) -> Result<Self, RandomError> {
        Ok(AnnounceRequest {
            info_hash,
            peer_id: PeerId::generate()?.0,
            port,
            uploaded: 0,
            downloaded: 0,
            left,
            event: Event::Started,
            numwant: None,
            key: u32::from_be_bytes(random_bytes::<4>()?),
            tracker_id: None,
        })
    }
}

/// A tracker's answer to an announce.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnnounceResponse {
    /// Seconds to wait before the next regular announce.
    pub interval: Option<u32>,
    /// Seconds the tracker wants at least between announces.
    pub min_interval: Option<u32>,
    /// Seeders.
    pub complete: Option<u64>,
    /// Leechers.
    pub incomplete: Option<u64>,
    /// Peers (IPv4 and IPv6), in the order the tracker sent them, at most [`MAX_PEERS`].
    pub peers: Vec<SocketAddr>,
    /// The tracker's `warning message`.
    pub warning: Option<String>,
    /// The tracker's `tracker id`, to send back on the next announce.
    pub tracker_id: Option<Vec<u8>>,
    /// What we had to drop from a malformed or oversized answer (a partial answer).
    pub notes: Vec<String>,
}

/// Swarm counts for one torrent from a scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrapeStats {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Seeders.
    pub complete: u64,
    /// Leechers.
    pub incomplete: u64,
    /// Completed downloads the tracker has seen.
    pub downloaded: u64,
}

/// How to talk to a tracker.
#[derive(Debug, Clone)]
pub struct Options {
    /// Overall time allowed for one tracker (connect, retransmissions, redirects, body).
    pub timeout: Duration,
    /// Local address to send from (trackers record the announce's source address as the
    /// peer's). Honoured for `udp://` and `http://` trackers; `https://` requests use the
    /// system's choice (ureq 2 cannot bind a local address).
    pub bind: Option<IpAddr>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(15),
            bind: None,
        }
    }
}

/// Why a tracker did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The URL cannot be used.
    BadUrl {
        /// The URL.
        tracker: String,
        /// What is wrong.
        reason: String,
    },
    /// The tracker has no scrape URL (its path does not end in `announce...`).
    NoScrape {
        /// The URL.
        tracker: String,
    },
    /// No answer within the timeout.
    Timeout {
        /// The URL.
        tracker: String,
        /// The timeout.
        after: Duration,
        /// What we received and ignored meanwhile (wrong transaction ids, short packets).
        ignored: Option<String>,
    },
    /// The network failed (DNS, connection refused, reset).
    Network {
        /// The URL.
        tracker: String,
        /// The system's message.
        reason: String,
    },
    /// An HTTP status other than 200, without a `failure reason`.
    Status {
        /// The URL.
        tracker: String,
        /// The status code.
        status: u16,
    },
    /// Redirects went on for too long (a loop).
    TooManyRedirects {
        /// The URL.
        tracker: String,
        /// The limit.
        limit: u32,
    },
    /// The response is larger than [`MAX_RESPONSE`].
    TooLarge {
        /// The URL.
        tracker: String,
    },
    /// The response is not what the protocol allows.
    Invalid {
        /// The URL.
        tracker: String,
        /// What is wrong.
        reason: String,
    },
    /// The tracker refused: its `failure reason` (HTTP) or error message (UDP), as sent.
    Failure {
        /// The URL.
        tracker: String,
        /// The tracker's words (untrusted: escape before printing to a terminal).
        reason: String,
    },
}

impl Error {
    /// The tracker the error is about.
    pub fn tracker(&self) -> &str {
        match self {
            Error::BadUrl { tracker, .. }
            | Error::NoScrape { tracker }
            | Error::Timeout { tracker, .. }
            | Error::Network { tracker, .. }
            | Error::Status { tracker, .. }
            | Error::TooManyRedirects { tracker, .. }
            | Error::TooLarge { tracker }
            | Error::Invalid { tracker, .. }
            | Error::Failure { tracker, .. } => tracker,
        }
    }

    /// The message without the tracker URL (for records that carry the URL separately).
    pub fn detail(&self) -> String {
        match self {
            Error::BadUrl { reason, .. } => format!("unusable url: {reason}"),
            Error::NoScrape { .. } => {
                "no scrape url (the path does not end in \"announce\")".to_string()
            }
            Error::Timeout { after, ignored, .. } => {
                let mut s = format!("no answer within {:.1} s", after.as_secs_f64());
                if let Some(i) = ignored {
                    s.push_str(&format!(" (ignored {i})"));
                }
                s
            }
            Error::Network { reason, .. } => reason.clone(),
            Error::Status { status, .. } => format!("http status {status}"),
            Error::TooManyRedirects { limit, .. } => {
                format!("more than {limit} redirects (a redirect loop?)")
            }
            Error::TooLarge { .. } => {
                format!("response larger than {} bytes", MAX_RESPONSE)
            }
            Error::Invalid { reason, .. } => format!("invalid response: {reason}"),
            Error::Failure { reason, .. } => format!("tracker refused: {reason}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tracker {}: {}", self.tracker(), self.detail())
    }
}

impl std::error::Error for Error {}

/// Announce to one tracker (`http://`, `https://` or `udp://`).
pub fn announce(
    url: &str,
    req: &AnnounceRequest,
    opts: &Options,
) -> Result<AnnounceResponse, Error> {
    match scheme(url) {
        Some("http") | Some("https") => http::announce(url, req, opts),
        Some("udp") => udp::announce(url, req, opts),
        _ => Err(unsupported(url)),
    }
}

/// Scrape one tracker for the given torrents. Torrents the tracker does not know are absent
/// from the answer.
pub fn scrape(url: &str, hashes: &[InfoHash], opts: &Options) -> Result<Vec<ScrapeStats>, Error> {
    match scheme(url) {
        Some("http") | Some("https") => http::scrape(url, hashes, opts),
        Some("udp") => udp::scrape(url, hashes, opts),
        _ => Err(unsupported(url)),
    }
}

/// Check that `url` is a tracker URL we can ask: it parses (RFC 3986, through the `url` crate),
/// its scheme is `http`, `https` or `udp`, it names a host, and a `udp://` URL has a port. The
/// error names the URL and says what is wrong.
pub fn check_url(url: &str) -> Result<(), Error> {
    let bad = |reason: String| Error::BadUrl {
        tracker: url.to_string(),
        reason,
    };
    let parsed = url::Url::parse(url).map_err(|e| bad(format!("not a url ({e})")))?;
    if scheme(url).is_none() || !matches!(parsed.scheme(), "http" | "https" | "udp") {
        return Err(unsupported(url));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host".to_string()));
    }
    if parsed.scheme() == "udp" && parsed.port().is_none() {
        return Err(bad(
            "a udp:// tracker needs a port (udp://host:port)".to_string()
        ));
    }
    Ok(())
}

fn scheme(url: &str) -> Option<&str> {
    let (s, rest) = url.split_once("://")?;
    let ok = !rest.is_empty() && matches!(s, "http" | "https" | "udp");
    ok.then_some(s)
}

fn unsupported(url: &str) -> Error {
    Error::BadUrl {
        tracker: url.to_string(),
        reason: "only http://, https:// and udp:// trackers are supported".to_string(),
    }
}

/// `N` random bytes from the operating system (the `getrandom` crate: the `getrandom(2)` system
/// call). A failure is an error: tracker keys, transaction ids and MSE keys must not be
/// predictable, so nothing falls back on the clock or the process id.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out)?;
    Ok(out)
}

/// The info hash to announce for a torrent: the v1 hash, or for a v2-only torrent the SHA-256
/// hash truncated to 20 bytes (BEP 52).
pub fn announce_hash(t: &crate::metainfo::Torrent) -> Option<InfoHash> {
    t.info_hash.or_else(|| {
        t.info_hash_v2.map(|h| {
            let mut b = [0u8; 20];
            b.copy_from_slice(&h.0[..20]);
            InfoHash(b)
        })
    })
}

/// Keep at most [`MAX_PEERS`] peers, noting how many were dropped.
fn cap_peers(peers: &mut Vec<SocketAddr>, notes: &mut Vec<String>) {
    if peers.len() > MAX_PEERS {
        notes.push(format!(
            "tracker sent {} peers; kept the first {MAX_PEERS}",
            peers.len()
        ));
        peers.truncate(MAX_PEERS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip() {
        for e in [
            Event::None,
            Event::Started,
            Event::Completed,
            Event::Stopped,
        ] {
            let s = if e == Event::None { "none" } else { e.as_str() };
            assert_eq!(Event::parse(s), Some(e));
        }
        assert_eq!(Event::parse("begun"), None);
    }

    #[test]
    fn requests_get_a_random_peer_id_and_key() {
        let a = AnnounceRequest::new(InfoHash([1; 20]), 1, 0).unwrap();
        let b = AnnounceRequest::new(InfoHash([1; 20]), 1, 0).unwrap();
        assert_eq!(&a.peer_id[..8], PEER_ID_PREFIX);
        assert_ne!(a.peer_id, b.peer_id);
        assert_ne!(a.key, b.key);
        assert_ne!(random_bytes::<16>().unwrap(), random_bytes::<16>().unwrap());
    }

    #[test]
    fn unknown_schemes_are_refused_by_name() {
        let req = AnnounceRequest::new(InfoHash([1; 20]), 6881, 0).unwrap();
        let e = announce("wss://x/announce", &req, &Options::default()).unwrap_err();
        assert!(e.to_string().contains("wss://x/announce"), "{e}");
        assert!(matches!(e, Error::BadUrl { .. }));
        assert!(announce("http://", &req, &Options::default()).is_err());
    }

    #[test]
    fn tracker_urls_are_checked_before_asking() {
        for ok in [
            "http://t.example/announce",
            "https://t.example:8443/a?passkey=x",
            "udp://t.example:6969",
            "udp://[::1]:6969/announce",
            "http://127.0.0.1:1/announce",
        ] {
            assert_eq!(check_url(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("ftp://x/", "only http://"),
            ("wss://x/announce", "only http://"),
            ("HTTP//x", "not a url"),
            ("http://", "not a url"),
            ("http://exa mple/", "not a url"),
            ("udp://t.example/announce", "needs a port"),
            ("", "not a url"),
        ] {
            let e = check_url(bad).unwrap_err();
            let text = e.to_string();
            assert!(text.contains(&format!("tracker {bad}:")), "{text}");
            assert!(text.contains(why), "{bad}: {text}");
        }
    }

    #[test]
    fn errors_name_the_tracker() {
        let e = Error::Failure {
            tracker: "http://t/announce".into(),
            reason: "not authorized".into(),
        };
        assert_eq!(
            e.to_string(),
            "tracker http://t/announce: tracker refused: not authorized"
        );
    }

    #[test]
    fn peers_are_capped() {
        let mut peers = vec!["1.2.3.4:5".parse().unwrap(); MAX_PEERS + 3];
        let mut notes = Vec::new();
        cap_peers(&mut peers, &mut notes);
        assert_eq!(peers.len(), MAX_PEERS);
        assert_eq!(notes.len(), 1);
    }
}
