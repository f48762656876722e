//! The one harness of the swarm and stress tests.
//!
//! - [`records`] (here): a tool's stdout read into the library's typed records (the only place
//!   that knows how a line maps to a record type: when `lib/record.rs` changes, change it here).
//! - [`Sample`] (`sample.rs`): deterministic files and their torrent (made by mktorrent or
//!   bt-make).
//! - [`Seeder`] (`tools.rs`): bt-seed in the background on its own loopback address, started once it wrote
//!   its `listening` record, killed by PID when dropped.
//! - [`Fetcher`]: a builder for bt-fetch, run to completion ([`Fetcher::run`]) or in the
//!   background ([`Fetcher::spawn`]) with its records collected as they come.
//! - [`Wire`] (`peer.rs`): one connection speaking the real wire protocol (encoded and decoded by
//!   `bt::peer`), dialed to a seeder or accepted by a [`FakePeer`], which listens on its own
//!   loopback address and plays a scripted [`Behaviour`] on every connection; [`fetch_past`]
//!   downloads past fake peers from an honest seeder.
//! - [`aria2c`] (`clients.rs`): real clients set up for loopback; [`Nginx`], a real HTTP server
//!   for web seeds.
//! - [`Watch`]: a process's peak threads and memory while a scenario runs.
//!
//! - [`in_netns`]: a scenario run inside a network namespace of its own, for clients that never
//!   dial a 127.x peer (Transmission).
//!
//! Every socket has a timeout, every wait a bound, every process is killed by PID; nothing
//! leaves 127.0.0.0/8 (or a namespace of the test's own, whose only interface is `lo`).
#![allow(dead_code)]

mod clients;
mod peer;
mod sample;
mod tools;

pub use clients::*;
pub use peer::*;
pub use sample::*;
pub use tools::*;

use crate::common::*;
use std::io::{BufRead, Read};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use bt::record::{
    FetchSummaryRecord as Summary, ListeningRecord as Listening, PeerEventRecord as PeerEvent,
    PeerRecord as Peer, ProgressRecord as Progress, StatsRecord as Stats,
    SummaryRecord as VerifySummary, TorrentRecord as Torrent, WebSeedRecord as WebSeed,
};

/// One line of a tool's stdout, read into the library's record type.
#[derive(Debug, Clone)]
pub enum Record {
    Listening(Listening),
    PeerEvent(PeerEvent),
    Peer(Peer),
    Stats(Stats),
    Progress(Progress),
    Summary(Summary),
    VerifySummary(VerifySummary),
    Torrent(Box<Torrent>),
    WebSeed(WebSeed),
    Other(serde_json::Value),
}

/// Every line of `out` as a typed record; panics on a line that is not JSON or that does not
/// fit the type its `type` names.
pub fn records(out: &str) -> Vec<Record> {
    fn typed<T: serde::de::DeserializeOwned>(line: &str) -> T {
        serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("record {line:?} does not fit its type: {e}"))
    }
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}"));
            // Every field is present (null when unknown): tell the kinds apart by value.
            let has = |k: &str| v.get(k).is_some_and(|x| !x.is_null());
            match v["type"].as_str().unwrap_or("") {
                "listening" => Record::Listening(typed(line)),
                "peer" if has("event") => Record::PeerEvent(typed(line)),
                "peer" => Record::Peer(typed(line)),
                "stats" => Record::Stats(typed(line)),
                "progress" => Record::Progress(typed(line)),
                "summary" if has("pieces_fetched") => Record::Summary(typed(line)),
                "summary" => Record::VerifySummary(typed(line)),
                "torrent" => Record::Torrent(typed(line)),
                "web_seed" => Record::WebSeed(typed(line)),
                _ => Record::Other(v),
            }
        })
        .collect()
}

/// A record type that [`of`] can pick out of a stream.
pub trait Kind: Clone {
    fn pick(r: &Record) -> Option<&Self>;
}

macro_rules! kinds {
    ($($t:ident),*) => {$(
        impl Kind for $t {
            fn pick(r: &Record) -> Option<&Self> {
                match r {
                    Record::$t(x) => Some(std::borrow::Borrow::borrow(x)),
                    _ => None,
                }
            }
        }
    )*};
}
kinds!(
    Listening,
    PeerEvent,
    Peer,
    Stats,
    Progress,
    Summary,
    VerifySummary,
    Torrent,
    WebSeed
);

/// The records of one type in `out`.
pub fn of<T: Kind>(out: &str) -> Vec<T> {
    records(out).iter().filter_map(T::pick).cloned().collect()
}

/// bt-fetch's summary: exactly one.
pub fn summary(r: &Run) -> Summary {
    let s = of::<Summary>(&r.stdout_str());
    assert_eq!(s.len(), 1, "one summary: {}\n{}", r.stdout_str(), r.stderr);
    s[0].clone()
}

/// `peer` records of `event` (`connected`, `disconnected`, `banned`) for the peer at `ip`
/// (any when None) and `port` (any when None).
pub fn peer_events(
    recs: &[PeerEvent],
    event: &str,
    ip: Option<&str>,
    port: Option<u16>,
) -> Vec<PeerEvent> {
    recs.iter()
        .filter(|p| p.event == event)
        .filter(|p| ip.is_none_or(|x| x == p.ip) && port.is_none_or(|x| x == p.port))
        .cloned()
        .collect()
}

/// Lines a background process writes on stdout, collected by a thread.
#[derive(Clone, Default)]
pub struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    pub fn collect(out: impl Read + Send + 'static) -> Lines {
        let lines = Lines::default();
        let l2 = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                l2.0.lock().unwrap().push(line);
            }
        });
        lines
    }

    /// The records of one type written so far.
    pub fn of<T: Kind>(&self) -> Vec<T> {
        let text = self.0.lock().unwrap().join("\n");
        of(&text)
    }
}

/// Wait until `cond` holds, polling every 20 ms; false after `secs`.
pub fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// Run `f` on a thread of its own that first moves into a new network namespace (needs root:
/// `unshare(CLONE_NEWNET)`, which moves only the calling thread) whose `lo` is up and carries
/// `addrs` (each a /32) besides 127.0.0.1. Every process `f` starts and every socket it opens is
/// inside; nothing there reaches another interface. A panic in `f` is passed on.
pub fn in_netns<T: Send>(addrs: &[&str], f: impl FnOnce() -> T + Send) -> T {
    assert!(
        have("ip"),
        "ip (iproute2) is not installed (run ./scripts/test)"
    );
    let outcome = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // SAFETY: unshare takes no pointers; it changes only this thread's namespace.
                let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
                assert_eq!(
                    rc,
                    0,
                    "unshare(CLONE_NEWNET): {} (the test must run as root)",
                    std::io::Error::last_os_error()
                );
                let ip = |args: &[&str]| {
                    let r = run_cmd(
                        std::process::Command::new("ip").args(args),
                        None,
                        Duration::from_secs(10),
                    );
                    assert_eq!(r.code, 0, "ip {args:?}: {}", r.stderr);
                };
                ip(&["link", "set", "lo", "up"]);
                for a in addrs {
                    ip(&["addr", "add", &format!("{a}/32"), "dev", "lo"]);
                }
                f()
            })
            .join()
    });
    outcome.unwrap_or_else(|e| std::panic::resume_unwind(e))
}
