//! Choking (the upload rate limit is [`super::rate`]).
//!
//! Every 10 s the interested peers are ranked by rate (the rate they upload to us while we
//! download, the rate we upload to them once we seed) and the best [`Options::upload_slots`]
//! are unchoked, plus one optimistic unchoke rotated every 30 s. Between rounds a peer that
//! becomes interested is unchoked at once while a slot is free, so a fresh downloader does not
//! wait for the next round. Every second, while an interested peer waits choked, an unchoked
//! peer whose uploads have not moved for [`STALL`] (a peer that asks and never reads, or a dead
//! link) is choked and its slot given to a waiting peer.
//!
//! [`Options::upload_slots`]: super::Options::upload_slots

use super::{Out, State, Swarm};
use crate::peer::Message;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROUND: Duration = Duration::from_secs(10);
const OPTIMISTIC_EVERY: u32 = 3;
/// How long an unchoked peer may take no upload data before its slot goes to a waiting peer.
const STALL: Duration = Duration::from_secs(3);

pub(super) fn run(s: &Arc<Swarm>) {
    let mut last = Instant::now();
    let mut last_stall_check = Instant::now();
    let mut rounds = 0u32;
    while !s.stopped() {
        std::thread::sleep(Duration::from_millis(250));
        if last.elapsed() >= ROUND {
            last = Instant::now();
            rounds += 1;
            round(s, &mut s.lock(), rounds.is_multiple_of(OPTIMISTIC_EVERY));
        }
        if last_stall_check.elapsed() >= Duration::from_secs(1) {
            last_stall_check = Instant::now();
            unstick(&mut s.lock(), last_stall_check);
        }
    }
}

/// Give the slot of each stalled unchoked peer to a peer waiting choked, if any waits.
fn unstick(st: &mut State, now: Instant) {
    let mut waiting: Vec<u64> = st
        .peers
        .iter()
        .filter(|(_, p)| p.interested && !p.closing && p.choked.load(Ordering::Relaxed))
        .map(|(k, _)| *k)
        .collect();
    let mut stalled = Vec::new();
    for (k, p) in st.peers.iter_mut() {
        let up = p.uploaded.load(Ordering::Relaxed);
        if up != p.moved.0 || p.choked.load(Ordering::Relaxed) {
            p.moved = (up, now);
        } else if now.duration_since(p.moved.1) >= STALL {
            stalled.push(*k);
        }
    }
    for k in stalled {
        let Some(next) = waiting.pop() else { break };
        set_choke(st, k, true);
        set_choke(st, next, false);
    }
}

fn set_choke(st: &mut State, key: u64, choke: bool) {
    if let Some(p) = st.peers.get_mut(&key) {
        if !choke {
            // A fresh unchoke starts a fresh stall clock.
            p.moved = (p.uploaded.load(Ordering::Relaxed), Instant::now());
        }
        if p.choked.swap(choke, Ordering::Relaxed) != choke {
            let _ = p.tx.send(Out::Msg(if choke {
                Message::Choke
            } else {
                Message::Unchoke
            }));
        }
    }
}

fn unchoked(st: &State) -> usize {
    st.peers
        .values()
        .filter(|p| !p.choked.load(Ordering::Relaxed))
        .count()
}

/// A peer said it is interested: unchoke it now if a slot is free.
pub(super) fn on_interested(s: &Swarm, st: &mut State, key: u64) {
    if unchoked(st) < s.opts().upload_slots + 1 {
        set_choke(st, key, false);
    }
}

fn round(s: &Swarm, st: &mut State, rotate: bool) {
    let seeding = st.picker.complete();
    let mut ranked: Vec<(u64, u64)> = Vec::new();
    for (k, p) in st.peers.iter_mut() {
        let up = p.uploaded.load(Ordering::Relaxed);
        let down = p.downloaded.load(Ordering::Relaxed);
        let rate = if seeding {
            up - p.last_up
        } else {
            down - p.last_down
        };
        p.last_up = up;
        p.last_down = down;
        if p.interested {
            ranked.push((rate, *k));
        }
    }
    ranked.sort_by(|a, b| b.cmp(a));
    let keep: Vec<u64> = ranked
        .iter()
        .take(s.opts().upload_slots)
        .map(|r| r.1)
        .collect();
    let rest: Vec<u64> = ranked
        .iter()
        .skip(s.opts().upload_slots)
        .map(|r| r.1)
        .collect();
    let still = st.optimistic.filter(|k| rest.contains(k));
    st.optimistic = if rotate || still.is_none() {
        if rest.is_empty() {
            None
        } else {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let i =
                (nanos as usize ^ std::process::id() as usize ^ st.next_key as usize) % rest.len();
            Some(rest[i])
        }
    } else {
        still
    };
    let keys: Vec<u64> = st.peers.keys().copied().collect();
    for k in keys {
        let open = keep.contains(&k) || st.optimistic == Some(k);
        set_choke(st, k, !open);
    }
}
