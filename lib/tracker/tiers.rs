//! BEP 12 multi-tracker: tiers asked in order, each tier shuffled once, the tracker that answers
//! moved to the front of its tier; or every tracker at once ([`Tiers::announce_all`]).
//!
//! Invariants: a URL appears at most once over all tiers; empty tiers are dropped; the `tracker
//! id` a tracker gave is sent back to that tracker only.

use super::{AnnounceRequest, AnnounceResponse, Error, Options, ScrapeStats};
use crate::metainfo::InfoHash;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

/// Most trackers asked at the same time by [`Tiers::announce_all`].
const PARALLEL: usize = 32;

/// The outcome of asking one tracker.
#[derive(Debug, Clone)]
pub struct Attempt<T> {
    /// The tracker URL.
    pub tracker: String,
    /// Its answer or why there is none.
    pub result: Result<T, Error>,
}

/// The trackers of a torrent, tier by tier, with what they told us.
#[derive(Debug, Clone, Default)]
pub struct Tiers {
    tiers: Vec<Vec<String>>,
    tracker_ids: HashMap<String, Vec<u8>>,
}

/// Shuffle a tier (BEP 12). Should the system have no random bytes, the tier keeps the order
/// given: nothing secret depends on it.
fn shuffle<T>(v: &mut [T]) {
    let Ok(seed) = super::random_bytes::<8>() else {
        return;
    };
    let mut x = u64::from_le_bytes(seed) | 1;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

impl Tiers {
    /// Tiers from lists of URLs (duplicates and empty tiers dropped), each tier shuffled once.
    pub fn new(tiers: Vec<Vec<String>>) -> Self {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for tier in tiers {
            let mut t: Vec<String> = tier
                .into_iter()
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty() && seen.insert(u.clone()))
                .collect();
            if !t.is_empty() {
                shuffle(&mut t);
                out.push(t);
            }
        }
        Tiers {
            tiers: out,
            tracker_ids: HashMap::new(),
        }
    }

    /// The tiers of a torrent (`announce-list`, else `announce`).
    pub fn from_torrent(t: &crate::metainfo::Torrent) -> Self {
        Tiers::new(t.tiers())
    }

    /// Whether there is no tracker at all.
    pub fn is_empty(&self) -> bool {
        self.tiers.is_empty()
    }

    /// The tiers in their current order.
    pub fn tiers(&self) -> &[Vec<String>] {
        &self.tiers
    }

    fn request_for(&self, url: &str, req: &AnnounceRequest) -> AnnounceRequest {
        let mut r = req.clone();
        if let Some(id) = self.tracker_ids.get(url) {
            r.tracker_id = Some(id.clone());
        }
        r
    }

    fn learn(&mut self, url: &str, resp: &AnnounceResponse) {
        if let Some(id) = &resp.tracker_id {
            self.tracker_ids.insert(url.to_string(), id.clone());
        }
    }

    /// BEP 12: ask trackers tier by tier, in order, until one answers; that tracker moves to the
    /// front of its tier. Returns every attempt in order; the last one is the answer if any
    /// tracker answered. `opts.timeout` applies to each tracker.
    pub fn announce(
        &mut self,
        req: &AnnounceRequest,
        opts: &Options,
    ) -> Vec<Attempt<AnnounceResponse>> {
        let mut attempts = Vec::new();
        for t in 0..self.tiers.len() {
            for i in 0..self.tiers[t].len() {
                let url = self.tiers[t][i].clone();
                let result = super::announce(&url, &self.request_for(&url, req), opts);
                let ok = result.is_ok();
                if let Ok(r) = &result {
                    self.learn(&url, r);
                }
                attempts.push(Attempt {
                    tracker: url,
                    result,
                });
                if ok {
                    let u = self.tiers[t].remove(i);
                    self.tiers[t].insert(0, u);
                    return attempts;
                }
            }
        }
        attempts
    }

    /// Ask every tracker at once (at most 32 at a time), in threads. Attempts come back in tier
    /// order.
    pub fn announce_all(
        &mut self,
        req: &AnnounceRequest,
        opts: &Options,
    ) -> Vec<Attempt<AnnounceResponse>> {
        let urls: Vec<String> = self.tiers.iter().flatten().cloned().collect();
        let reqs: Vec<AnnounceRequest> = urls.iter().map(|u| self.request_for(u, req)).collect();
        let results = parallel(&urls, |i, url| super::announce(url, &reqs[i], opts));
        for a in &results {
            if let Ok(r) = &a.result {
                self.learn(&a.tracker, r);
            }
        }
        results
    }

    /// Scrape: like [`Tiers::announce`] (first tracker that answers, tier order), or every
    /// tracker in parallel when `all`.
    pub fn scrape(
        &mut self,
        hashes: &[InfoHash],
        opts: &Options,
        all: bool,
    ) -> Vec<Attempt<Vec<ScrapeStats>>> {
        let urls: Vec<String> = self.tiers.iter().flatten().cloned().collect();
        if all {
            return parallel(&urls, |_, url| super::scrape(url, hashes, opts));
        }
        let mut attempts = Vec::new();
        for url in urls {
            let result = super::scrape(&url, hashes, opts);
            let ok = result.is_ok();
            attempts.push(Attempt {
                tracker: url,
                result,
            });
            if ok {
                break;
            }
        }
        attempts
    }
}

fn parallel<T: Send>(
    urls: &[String],
    f: impl Fn(usize, &str) -> Result<T, Error> + Sync,
) -> Vec<Attempt<T>> {
    let mut out = Vec::with_capacity(urls.len());
    for (batch_no, batch) in urls.chunks(PARALLEL).enumerate() {
        let f = &f;
        let results: Vec<Result<T, Error>> = std::thread::scope(|s| {
            let handles: Vec<_> = batch
                .iter()
                .enumerate()
                .map(|(j, url)| s.spawn(move || f(batch_no * PARALLEL + j, url)))
                .collect();
            handles
                .into_iter()
                .zip(batch)
                .map(|(h, url)| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::Invalid {
                            tracker: url.clone(),
                            reason: "internal error while asking this tracker".into(),
                        })
                    })
                })
                .collect()
        });
        out.extend(
            batch
                .iter()
                .cloned()
                .zip(results)
                .map(|(tracker, result)| Attempt { tracker, result }),
        );
    }
    out
}

/// All peers of the successful attempts, each address once, in order.
pub fn peers_of(attempts: &[Attempt<AnnounceResponse>]) -> Vec<(SocketAddr, &str)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for a in attempts {
        if let Ok(r) = &a.result {
            for p in &r.peers {
                if seen.insert(*p) {
                    out.push((*p, a.tracker.as_str()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::Duration;

    #[test]
    fn tiers_drop_duplicates_and_empties_and_keep_members() {
        let t = Tiers::new(vec![
            vec!["a".into(), "b".into(), "c".into()],
            vec![],
            vec!["b".into(), " ".into()],
            vec!["d".into()],
        ]);
        assert_eq!(t.tiers().len(), 2);
        let mut first = t.tiers()[0].clone();
        first.sort();
        assert_eq!(first, ["a", "b", "c"]);
        assert_eq!(t.tiers()[1], ["d"]);
    }

    #[test]
    fn shuffle_is_a_permutation_and_varies() {
        let orig: Vec<u32> = (0..20).collect();
        let mut differs = false;
        for _ in 0..5 {
            let mut v = orig.clone();
            shuffle(&mut v);
            let mut s = v.clone();
            s.sort();
            assert_eq!(s, orig);
            differs |= v != orig;
        }
        assert!(differs);
    }

    #[test]
    fn failing_trackers_are_all_tried_in_order() {
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let url = format!("udp://{}", silent.local_addr().unwrap());
        let mut t = Tiers::new(vec![vec!["ftp://x".into()], vec![url.clone()]]);
        let req = AnnounceRequest::new(InfoHash([3; 20]), 1, 0).unwrap();
        let opts = Options {
            timeout: Duration::from_millis(200),
            bind: None,
        };
        let a = t.announce(&req, &opts);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].tracker, "ftp://x");
        assert_eq!(a[1].tracker, url);
        assert!(a.iter().all(|a| a.result.is_err()));
        let all = t.announce_all(&req, &opts);
        assert_eq!(all.len(), 2);
        assert!(peers_of(&all).is_empty());
    }
}
