//! Keeping a torrent's trackers informed while a swarm runs: `started`, re-announces on the
//! tracker's interval (peers go to the swarm), `completed` when the download finishes, and
//! `stopped` when the swarm stops, on the schedule of [`tracker::Announcer`].

use super::Swarm;
use crate::tracker::{self, AnnounceRequest, AnnounceResponse, Announcer, Attempt, Event, Tiers};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
/// announce `stopped` (waiting at most [`super::session::STOP_GRACE`]) and end. `port` is our
/// listen port; `report` is told about each round. The schedule is [`Announcer`]'s.
pub fn spawn(
    swarm: Arc<Swarm>,
    tiers: Tiers,
    port: u16,
    opts: tracker::Options,
    stop: Arc<AtomicBool>,
    report: Box<dyn Fn(Announced) + Send>,
) -> std::thread::JoinHandle<()> {
    // Open as a peer source until the first round shows whether a tracker answers.
    swarm.source_opened();
    std::thread::spawn(move || run(&swarm, tiers, port, opts, &stop, &*report))
}

fn run(
    s: &Arc<Swarm>,
    tiers: Tiers,
    port: u16,
    opts: tracker::Options,
    stop: &AtomicBool,
    report: &dyn Fn(Announced),
) {
    let mut req = match AnnounceRequest::new(s.info_hash(), port, s.left()) {
        Ok(r) => r,
        Err(e) => {
            report(Announced {
                event: Event::Started.as_str(),
                tracker: None,
                peers: 0,
                error: Some(format!("no random tracker key: {e}")),
            });
            s.source_closed();
            return;
        }
    };
    req.peer_id = s.peer_id().0;
    let mut a = Announcer::new(tiers, req, opts);
    let mut was_complete = s.complete();
    let mut source = true;
    let mut event = None;
    let stopping = loop {
        let st = s.stats();
        a.progress(st.uploaded, st.downloaded, s.left());
        let attempts = match event.take() {
            Some(e) => a.announce_event(e),
            None => a.announce(),
        };
        let mut r = round(&a, &attempts);
        r.peers = Announcer::peers(&attempts).len();
        s.add_peers(&Announcer::peers(&attempts));
        let ok = r.tracker.is_some();
        report(r);
        // A tracker that answers keeps the swarm from giving up for lack of peers.
        if ok != source {
            source = ok;
            if ok {
                s.source_opened();
            } else {
                s.source_closed();
            }
        }
        let stopping = loop {
            if stop.load(Ordering::Relaxed) || s.stopped() {
                break true;
            }
            if !was_complete && s.complete() {
                was_complete = true;
                event = Some(Event::Completed);
                break false;
            }
            if a.due() {
                break false;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        if stopping {
            break true;
        }
    };
    if stopping {
        // Keep the last word short: the process is ending.
        a.opts.timeout = a.opts.timeout.min(super::session::STOP_GRACE);
        let st = s.stats();
        a.progress(st.uploaded, st.downloaded, s.left());
        let attempts = a.announce_event(Event::Stopped);
        report(round(&a, &attempts));
    }
    if source {
        s.source_closed();
    }
}

/// The report of one round: the first tracker that answered, else the last error.
fn round(a: &Announcer, attempts: &[Attempt<AnnounceResponse>]) -> Announced {
    let tracker = attempts
        .iter()
        .find(|x| x.result.is_ok())
        .map(|x| x.tracker.clone());
    let error = match tracker {
        Some(_) => None,
        None => attempts
            .iter()
            .rev()
            .find_map(|x| x.result.as_ref().err().map(|e| e.to_string())),
    };
    Announced {
        event: a.req.event.as_str(),
        tracker,
        peers: 0,
        error,
    }
}
