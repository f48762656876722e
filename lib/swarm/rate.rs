//! Rate limits: token buckets shared by every connection (and web seed) that moves data one
//! way, whose rate can change while they run.
//!
//! A [`RateLimit`] is handed around as an `Arc`. [`RateLimit::take`] charges bytes that were
//! (or are about to be) moved and sleeps until the bucket has paid them off; several threads
//! taking at once share the rate. A bucket may have a parent ([`RateLimit::child`]): a take is
//! charged to both, and waits for the slower of the two, so a per-torrent limit can sit under a
//! global one. A bucket without a rate (`None`) never waits by itself.
//!
//! Invariants: over any window the bytes taken are at most `rate × window + burst`, where the
//! burst is [`BURST`] of a second's worth; the wait of one take is cut into slices of at most
//! [`SLICE`] that look at the current rate again, so a new rate takes effect within a slice.
//! Unpaid debt is dropped when a rate is lifted and restarts from zero when a rate is set.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Allowance that may build up while idle, as a fraction of a second's worth of the rate.
pub const BURST: f64 = 0.1;
/// Longest single sleep of a waiting take before it looks at the rate again.
pub const SLICE: Duration = Duration::from_millis(100);

#[derive(Debug)]
struct Bucket {
    /// Bytes per second; None: no limit.
    rate: Option<u64>,
    /// Allowance in bytes (negative: debt to be paid off by waiting).
    tokens: f64,
    /// When `tokens` was last brought up to date.
    at: Instant,
}

impl Bucket {
    /// Bring the allowance up to `now`; the rate, when there is one.
    fn refill(&mut self, now: Instant) -> Option<f64> {
        let rate = self.rate? as f64;
        let burst = (rate * BURST).max(16384.0);
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * rate).min(burst);
        self.at = now;
        Some(rate)
    }

    /// Seconds until the debt is paid (0 when there is none or no rate).
    fn wait(&mut self, now: Instant) -> f64 {
        match self.refill(now) {
            Some(rate) if self.tokens < 0.0 => -self.tokens / rate,
            _ => 0.0,
        }
    }
}

/// A token bucket, shared through an `Arc` by the threads it limits.
#[derive(Debug)]
pub struct RateLimit {
    bucket: Mutex<Bucket>,
    parent: Option<Arc<RateLimit>>,
}

impl RateLimit {
    /// A bucket of `rate` bytes per second (None: no limit of its own).
    pub fn new(rate: Option<u64>) -> Arc<RateLimit> {
        Arc::new(RateLimit::bucket(rate, None))
    }

    /// A bucket without a limit (until [`RateLimit::set_rate`] sets one).
    pub fn unlimited() -> Arc<RateLimit> {
        RateLimit::new(None)
    }

    /// A bucket of `rate` under this one: what it lets through is also charged here.
    pub fn child(self: &Arc<Self>, rate: Option<u64>) -> Arc<RateLimit> {
        Arc::new(RateLimit::bucket(rate, Some(self.clone())))
    }

    fn bucket(rate: Option<u64>, parent: Option<Arc<RateLimit>>) -> RateLimit {
        RateLimit {
            bucket: Mutex::new(Bucket {
                rate: rate.map(|r| r.max(1)),
                tokens: 0.0,
                at: Instant::now(),
            }),
            parent,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        self.bucket.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Change the rate (None: lift the limit); threads waiting on the bucket follow within
    /// [`SLICE`].
    pub fn set_rate(&self, rate: Option<u64>) {
        let mut b = self.lock();
        let now = Instant::now();
        b.refill(now);
        if b.rate.is_none() || rate.is_none() {
            b.tokens = 0.0;
        }
        b.rate = rate.map(|r| r.max(1));
        b.at = now;
    }

    /// This bucket's own rate.
    pub fn rate(&self) -> Option<u64> {
        self.lock().rate
    }

    /// The lowest rate of this bucket and its parents (None: no limit anywhere).
    pub fn effective_rate(&self) -> Option<u64> {
        let own = self.rate();
        let up = self.parent.as_ref().and_then(|p| p.effective_rate());
        match (own, up) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether this bucket or a parent has a rate.
    pub fn limited(&self) -> bool {
        self.effective_rate().is_some()
    }

    /// A good size for one read or write under the limit: about an eighth of a second's worth,
    /// between 1 KiB and 256 KiB (256 KiB without a limit).
    pub fn chunk(&self) -> usize {
        match self.effective_rate() {
            Some(r) => (r / 8).clamp(1024, 256 << 10) as usize,
            None => 256 << 10,
        }
    }

    /// Charge `n` bytes to this bucket and its parents without waiting.
    fn charge(&self, n: u64, now: Instant) {
        let mut b = self.lock();
        if b.refill(now).is_some() {
            b.tokens -= n as f64;
        }
        drop(b);
        if let Some(p) = &self.parent {
            p.charge(n, now);
        }
    }

    /// Seconds until every bucket up the chain is out of debt.
    fn debt(&self, now: Instant) -> f64 {
        let own = self.lock().wait(now);
        let up = self.parent.as_ref().map_or(0.0, |p| p.debt(now));
        own.max(up)
    }

    /// Charge `n` bytes and wait until the buckets have paid them off (at once without a limit).
    pub fn take(&self, n: u64) {
        self.charge(n, Instant::now());
        loop {
            let wait = self.debt(Instant::now());
            if wait <= 0.0 {
                return;
            }
            std::thread::sleep(Duration::from_secs_f64(wait).min(SLICE));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes moved by `threads` threads taking `chunk` at a time for `secs` seconds.
    fn moved(limit: &Arc<RateLimit>, threads: usize, chunk: u64, secs: f64) -> f64 {
        let until = Instant::now() + Duration::from_secs_f64(secs);
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                let l = limit.clone();
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while Instant::now() < until {
                        l.take(chunk);
                        n += chunk;
                    }
                    n
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>() as f64
    }

    #[test]
    fn shared_by_threads_within_ten_percent() {
        let l = RateLimit::new(Some(2_000_000));
        let got = moved(&l, 4, 16384, 2.0) / 2.0;
        assert!((got - 2e6).abs() < 2e5, "{got} B/s for 2 MB/s");
    }

    #[test]
    fn no_limit_never_waits() {
        let l = RateLimit::unlimited();
        let t = Instant::now();
        for _ in 0..10_000 {
            l.take(1 << 20);
        }
        assert!(t.elapsed() < Duration::from_secs(1));
        assert!(!l.limited());
        assert_eq!(l.chunk(), 256 << 10);
    }

    #[test]
    fn a_child_is_held_by_its_parent() {
        let global = RateLimit::new(Some(1_000_000));
        let a = global.child(Some(4_000_000));
        let b = global.child(None);
        assert_eq!(a.effective_rate(), Some(1_000_000));
        assert!(b.limited());
        let (x, y) = std::thread::scope(|s| {
            let x = s.spawn(|| moved(&a, 1, 16384, 1.5));
            let y = s.spawn(|| moved(&b, 1, 16384, 1.5));
            (x.join().unwrap(), y.join().unwrap())
        });
        let got = (x + y) / 1.5;
        assert!((got - 1e6).abs() < 1.5e5, "{got} B/s for 1 MB/s");
    }

    #[test]
    fn set_rate_takes_effect_while_running() {
        let l = RateLimit::new(Some(50_000));
        let l2 = l.clone();
        // A thread stuck in debt at a low rate is freed when the limit is lifted.
        let h = std::thread::spawn(move || {
            let t = Instant::now();
            l2.take(1_000_000);
            t.elapsed()
        });
        std::thread::sleep(Duration::from_millis(200));
        l.set_rate(None);
        let waited = h.join().unwrap();
        assert!(waited < Duration::from_secs(2), "{waited:?}");
        l.set_rate(Some(500_000));
        assert_eq!(l.rate(), Some(500_000));
        let got = moved(&l, 2, 16384, 1.0);
        assert!((got - 5e5).abs() < 1e5, "{got} B in 1 s for 500 kB/s");
    }
}
