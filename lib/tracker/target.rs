//! What asking trackers about one torrent needs to know: the hash the trackers know it by, its
//! trackers tier by tier, and its length (unknown for a magnet link).
//!
//! Invariant: a [`Target`] always has an info hash (a torrent or a magnet link without one has
//! no target).

use super::{truncated_v2, AnnounceRequest, Attempt, Error, RandomError, Tiers};
use crate::metainfo::{InfoHash, Magnet, Torrent};

/// The `left` announced for a magnet link by default: not 0, which would say we are a seeder.
pub const MAGNET_LEFT: u64 = 16384;

/// A torrent or a magnet link as trackers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The v1 info hash, or the v2 one truncated to 20 bytes (BEP 52).
    pub info_hash: InfoHash,
    /// Its trackers: the torrent's tiers, or one tier per `tr` of a magnet link.
    pub tiers: Vec<Vec<String>>,
    /// Bytes of content (`None` for a magnet link).
    pub length: Option<u64>,
    /// A magnet link's `x.pe` peers (written as `peer` records before the trackers' peers).
    pub peers: Vec<std::net::SocketAddr>,
}

impl Target {
    /// The target of a torrent; `None` when it has no info hash.
    pub fn from_torrent(t: &Torrent) -> Option<Target> {
        Some(Target {
            info_hash: super::announce_hash(t)?,
            tiers: t.tiers(),
            length: Some(t.content_length()),
            peers: Vec::new(),
        })
    }

    /// The target of a magnet link; `None` when it has no info hash.
    pub fn from_magnet(m: &Magnet) -> Option<Target> {
        Some(Target {
            info_hash: m.info_hash.or_else(|| m.info_hash_v2.map(truncated_v2))?,
            tiers: m.trackers.iter().map(|t| vec![t.clone()]).collect(),
            length: None,
            peers: m.peer_addrs(),
        })
    }

    /// A `started` request from `port` with a random peer id and key; `left` defaults to the
    /// whole torrent, or to [`MAGNET_LEFT`] for a magnet link, whose length is unknown.
    pub fn request(&self, port: u16, left: Option<u64>) -> Result<AnnounceRequest, RandomError> {
        let left = left.or(self.length).unwrap_or(MAGNET_LEFT);
        AnnounceRequest::new(self.info_hash, port, left)
    }

    /// The tiers to ask: `trackers`, one tier each in the order given, or the target's own
    /// when `trackers` is empty.
    pub fn tiers(&self, trackers: &[String]) -> Tiers {
        if trackers.is_empty() {
            Tiers::new(self.tiers.clone())
        } else {
            Tiers::new(trackers.iter().map(|t| vec![t.clone()]).collect())
        }
    }
}

/// Longest timeout, in seconds, that [`parse_timeout`] accepts.
pub const MAX_TIMEOUT: f64 = 3600.0;

/// A timeout in seconds as text (fractions allowed): more than 0 and at most [`MAX_TIMEOUT`].
pub fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(t) if t > 0.0 && t <= MAX_TIMEOUT => Ok(t),
        _ => Err(format!(
            "must be seconds, more than 0 and at most {MAX_TIMEOUT}"
        )),
    }
}

/// A tracker URL as text, if [`check_url`](super::check_url) accepts it; else why not.
pub fn parse_url(s: &str) -> Result<String, String> {
    super::check_url(s).map_err(|e| e.detail())?;
    Ok(s.to_string())
}

/// The errors of the attempts that failed, in order.
pub fn failures<T>(attempts: &[Attempt<T>]) -> Vec<&Error> {
    attempts
        .iter()
        .filter_map(|a| a.result.as_ref().err())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magnet_targets_and_tracker_override() {
        let v1 = "magnet:?xt=urn:btih:c0fd1f3a4b5c6d7e8f90a1b2c3d4e5f60718293a&tr=udp://t:1";
        let t = Target::from_magnet(&Magnet::parse(v1).unwrap()).unwrap();
        assert_eq!(
            t.info_hash.hex(),
            "c0fd1f3a4b5c6d7e8f90a1b2c3d4e5f60718293a"
        );
        assert_eq!(t.tiers, vec![vec!["udp://t:1".to_string()]]);
        assert_eq!(t.length, None);
        assert_eq!(t.tiers(&[]).tiers(), t.tiers.as_slice());
        let given = ["http://a/announce".to_string(), "udp://b:2".to_string()];
        assert_eq!(
            t.tiers(&given).tiers(),
            &[vec![given[0].clone()], vec![given[1].clone()]]
        );
        let v2 = format!("magnet:?xt=urn:btmh:1220{}", "ab".repeat(32));
        let t = Target::from_magnet(&Magnet::parse(&v2).unwrap()).unwrap();
        assert_eq!(t.info_hash.hex(), "ab".repeat(20));
        assert!(t.tiers(&[]).is_empty());
    }

    #[test]
    fn flag_values() {
        assert_eq!(parse_timeout(" 0.5 "), Ok(0.5));
        assert_eq!(parse_timeout("3600"), Ok(3600.0));
        for bad in ["0", "-1", "3600.5", "x", "inf", "NaN"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_url("udp://t:1"), Ok("udp://t:1".to_string()));
        assert!(parse_url("ftp://t/announce").is_err());
    }

    #[test]
    fn failures_keep_order() {
        let a = |tracker: &str, ok: bool| Attempt {
            tracker: tracker.to_string(),
            result: if ok {
                Ok(())
            } else {
                Err(Error::TooLarge {
                    tracker: tracker.to_string(),
                })
            },
        };
        let attempts = [a("x", false), a("y", true), a("z", false)];
        let f = failures(&attempts);
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].tracker(), f[1].tracker()), ("x", "z"));
    }
}
