//! Keeping a torrent's trackers informed while a swarm runs: `started`, re-announces on the
//! tracker's interval (peers go to the swarm), `completed` when the download finishes, and
//! `stopped` when the swarm stops.

use super::Swarm;
use crate::tracker::{self, AnnounceRequest, Event, Tiers};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one announce round gave: the tracker that answered (if any) and how many peers.
#[derive(Debug, Clone)]
pub struct Announced {
    /// The event sent.
    pub event: &'static str,
    /// The tracker that answered, or None when none did.
    pub tracker: Option<String>,
    /// Peers received.
    pub peers: usize,
    /// The last error when no tracker answered.
    pub error: Option<String>,
}

/// Announce for `swarm` to `tiers` on a background thread until `stop` is raised, then
/// announce `stopped` and end. `port` is our listen port; `report` is told about each round.
pub fn spawn(
    swarm: Arc<Swarm>,
    tiers: Tiers,
    port: u16,
    opts: tracker::Options,
    stop: Arc<AtomicBool>,
    report: Box<dyn Fn(Announced) + Send>,
) -> std::thread::JoinHandle<()> {
    swarm.sources.fetch_add(1, Ordering::Relaxed);
    std::thread::spawn(move || run(&swarm, tiers, port, &opts, &stop, &*report))
}

fn run(
    s: &Arc<Swarm>,
    mut tiers: Tiers,
    port: u16,
    opts: &tracker::Options,
    stop: &AtomicBool,
    report: &dyn Fn(Announced),
) {
    let info_hash = crate::metainfo::InfoHash(s.info_hash);
    let mut req = match AnnounceRequest::new(info_hash, port, 0) {
        Ok(r) => r,
        Err(e) => {
            report(Announced {
                event: Event::Started.as_str(),
                tracker: None,
                peers: 0,
                error: Some(format!("no random tracker key: {e}")),
            });
            s.sources.fetch_sub(1, Ordering::Relaxed);
            return;
        }
    };
    req.peer_id = s.peer_id.0;
    let mut event = Event::Started;
    let mut was_complete = s.complete();
    let mut source = true;
    loop {
        let st = s.stats();
        req.event = event;
        req.uploaded = st.uploaded;
        req.downloaded = st.downloaded;
        req.left = s.limits.total_length.saturating_sub(st.have_bytes);
        let attempts = tiers.announce(&req, opts);
        let mut interval = 1800u64;
        let mut answered = None;
        let mut peers: Vec<SocketAddr> = Vec::new();
        let mut error = None;
        for a in &attempts {
            match &a.result {
                Ok(r) => {
                    answered = Some(a.tracker.clone());
                    interval = r.interval.unwrap_or(1800).clamp(30, 3600) as u64;
                    peers.extend(r.peers.iter().copied());
                }
                Err(e) => error = Some(e.to_string()),
            }
        }
        let ok = answered.is_some();
        report(Announced {
            event: event.as_str(),
            tracker: answered,
            peers: peers.len(),
            error: if ok { None } else { error },
        });
        s.add_peers(&peers);
        // A tracker that answers keeps the swarm from giving up for lack of peers.
        if ok != source {
            source = ok;
            if ok {
                s.sources.fetch_add(1, Ordering::Relaxed);
            } else {
                s.sources.fetch_sub(1, Ordering::Relaxed);
            }
        }
        // Failed rounds retry sooner.
        let wait = Duration::from_secs(if ok { interval } else { 30 });
        let until = Instant::now() + wait;
        event = Event::None;
        while Instant::now() < until {
            if !was_complete && s.complete() {
                was_complete = true;
                event = Event::Completed;
                break;
            }
            if stop.load(Ordering::Relaxed) || s.stopped() {
                event = Event::Stopped;
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        if event == Event::Stopped {
            // Keep the last word short: the process is ending.
            let quick = tracker::Options {
                timeout: opts.timeout.min(Duration::from_secs(5)),
                ..opts.clone()
            };
            let st = s.stats();
            req.event = Event::Stopped;
            req.uploaded = st.uploaded;
            req.downloaded = st.downloaded;
            req.left = s.limits.total_length.saturating_sub(st.have_bytes);
            let attempts = tiers.announce(&req, &quick);
            let answered = attempts
                .iter()
                .find(|a| a.result.is_ok())
                .map(|a| a.tracker.clone());
            report(Announced {
                event: "stopped",
                tracker: answered,
                peers: 0,
                error: None,
            });
            break;
        }
    }
    if source {
        s.sources.fetch_sub(1, Ordering::Relaxed);
    }
}
