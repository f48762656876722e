//! The announce schedule of a running client (bt-fetch, bt-seed): `started` first, regular
//! re-announces on the tracker's interval, `completed` once, `stopped` on the way out.
//!
//! Invariants: the next announce is never sooner than the tracker's `min interval` (when it gave
//! one) nor sooner than [`MIN_INTERVAL`], and never later than [`MAX_INTERVAL`]; after a round in
//! which no tracker answered, the retry delay doubles from [`RETRY_FIRST`] up to
//! [`MAX_INTERVAL`]. The `started` event is repeated until some tracker has answered it.

use super::{AnnounceRequest, AnnounceResponse, Attempt, Event, Options, Tiers};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The shortest re-announce interval we accept from a tracker.
pub const MIN_INTERVAL: Duration = Duration::from_secs(30);
/// The longest wait between announces.
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// The first retry delay after a round in which no tracker answered.
pub const RETRY_FIRST: Duration = Duration::from_secs(15);

/// Announces for one torrent over its lifetime.
#[derive(Debug)]
pub struct Announcer {
    /// The trackers.
    pub tiers: Tiers,
    /// The request; update `uploaded`, `downloaded` and `left` with [`Announcer::progress`].
    pub req: AnnounceRequest,
    /// Timeout and local address.
    pub opts: Options,
    /// Ask every tracker in parallel instead of BEP 12 order.
    pub all: bool,
    started: bool,
    next: Instant,
    failures: u32,
}

impl Announcer {
    /// An announcer whose first announce (`started`) is due now.
    pub fn new(tiers: Tiers, req: AnnounceRequest, opts: Options) -> Self {
        Announcer {
            tiers,
            req,
            opts,
            all: false,
            started: false,
            next: Instant::now(),
            failures: 0,
        }
    }

    /// Record transfer progress for the next announce.
    pub fn progress(&mut self, uploaded: u64, downloaded: u64, left: u64) {
        self.req.uploaded = uploaded;
        self.req.downloaded = downloaded;
        self.req.left = left;
    }

    /// When the next regular announce is due.
    pub fn next_at(&self) -> Instant {
        self.next
    }

    /// Whether the next regular announce is due.
    pub fn due(&self) -> bool {
        Instant::now() >= self.next
    }

    /// Announce now: `started` until a tracker has answered it, else a regular announce.
    pub fn announce(&mut self) -> Vec<Attempt<AnnounceResponse>> {
        let event = if self.started {
            Event::None
        } else {
            Event::Started
        };
        self.announce_event(event)
    }

    /// Announce now with a specific event (`completed` once the download finishes, `stopped`
    /// when leaving), and schedule the next regular announce from the answer.
    pub fn announce_event(&mut self, event: Event) -> Vec<Attempt<AnnounceResponse>> {
        self.req.event = event;
        let attempts = if self.all {
            self.tiers.announce_all(&self.req, &self.opts)
        } else {
            self.tiers.announce(&self.req, &self.opts)
        };
        let answered: Vec<&AnnounceResponse> = attempts
            .iter()
            .filter_map(|a| a.result.as_ref().ok())
            .collect();
        self.next = Instant::now() + next_delay(&answered, &mut self.failures);
        if !answered.is_empty() && event == Event::Started {
            self.started = true;
        }
        attempts
    }

    /// The peers of a round of attempts, each once.
    pub fn peers(attempts: &[Attempt<AnnounceResponse>]) -> Vec<SocketAddr> {
        super::peers_of(attempts)
            .into_iter()
            .map(|(a, _)| a)
            .collect()
    }
}

/// The wait before the next announce after a round: the answering trackers' interval, bounded;
/// or, when none answered, a doubling retry delay.
fn next_delay(answered: &[&AnnounceResponse], failures: &mut u32) -> Duration {
    if answered.is_empty() {
        let d = RETRY_FIRST.saturating_mul(1 << (*failures).min(10));
        *failures += 1;
        return d.min(MAX_INTERVAL);
    }
    *failures = 0;
    let interval = answered
        .iter()
        .filter_map(|r| r.interval)
        .min()
        .map_or(Duration::from_secs(1800), |s| Duration::from_secs(s as u64));
    let floor = answered
        .iter()
        .filter_map(|r| r.min_interval)
        .max()
        .map_or(MIN_INTERVAL, |s| {
            Duration::from_secs(s as u64).max(MIN_INTERVAL)
        });
    interval.max(floor).min(MAX_INTERVAL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metainfo::InfoHash;

    fn resp(interval: Option<u32>, min: Option<u32>) -> AnnounceResponse {
        AnnounceResponse {
            interval,
            min_interval: min,
            ..Default::default()
        }
    }

    #[test]
    fn delays_follow_the_tracker_within_bounds() {
        let mut f = 0;
        assert_eq!(
            next_delay(&[&resp(Some(900), None)], &mut f),
            Duration::from_secs(900)
        );
        assert_eq!(next_delay(&[&resp(Some(1), None)], &mut f), MIN_INTERVAL);
        assert_eq!(
            next_delay(&[&resp(Some(100), Some(300))], &mut f),
            Duration::from_secs(300)
        );
        assert_eq!(
            next_delay(&[&resp(Some(99999), None)], &mut f),
            MAX_INTERVAL
        );
        assert_eq!(
            next_delay(&[&resp(None, None)], &mut f),
            Duration::from_secs(1800)
        );
    }

    #[test]
    fn failures_back_off_and_reset() {
        let mut f = 0;
        assert_eq!(next_delay(&[], &mut f), Duration::from_secs(15));
        assert_eq!(next_delay(&[], &mut f), Duration::from_secs(30));
        assert_eq!(next_delay(&[], &mut f), Duration::from_secs(60));
        for _ in 0..20 {
            assert!(next_delay(&[], &mut f) <= MAX_INTERVAL);
        }
        next_delay(&[&resp(Some(60), None)], &mut f);
        assert_eq!(f, 0);
    }

    #[test]
    fn started_is_repeated_until_answered() {
        let mut a = Announcer::new(
            Tiers::new(vec![vec!["ftp://nowhere".into()]]),
            AnnounceRequest::new(InfoHash([5; 20]), 1, 10).unwrap(),
            Options::default(),
        );
        assert!(a.due());
        let r = a.announce();
        assert_eq!(r.len(), 1);
        assert_eq!(a.req.event, Event::Started);
        assert!(!a.due());
        a.announce();
        assert_eq!(a.req.event, Event::Started);
        a.progress(1, 2, 3);
        assert_eq!((a.req.uploaded, a.req.downloaded, a.req.left), (1, 2, 3));
    }
}
