//! The DHT as a peer source: look the torrent up (announcing our port when there is one) at
//! once, again soon while nothing is found, then every `every` until the stop flag is raised.

use crate::dht::Node;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Time allowed for one lookup.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Time between lookups while none has found a peer yet.
pub const RETRY: Duration = Duration::from_secs(5);
/// Time between lookups of a download (a seed re-announces every [`REANNOUNCE`]).
pub const REQUERY: Duration = Duration::from_secs(60);
/// Time between a seed's announces (nodes forget a peer after 30 minutes).
pub const REANNOUNCE: Duration = Duration::from_secs(15 * 60);

/// Run lookups of `info_hash` on a thread, handing each round's peers to `found` (which
/// returns false to end the loop) along with the round number (0 first).
pub fn spawn(
    node: Arc<Node>,
    info_hash: [u8; 20],
    announce: Option<u16>,
    every: Duration,
    stop: Arc<AtomicBool>,
    mut found: impl FnMut(&[SocketAddr], usize) -> bool + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("bt-dht-peers".into())
        .spawn(move || {
            let mut any = false;
            for round in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                // Peers are handed on as nodes name them, and all together at the end.
                let mut early = |p: &[SocketAddr]| {
                    found(p, round);
                };
                let f = node.get_peers_with(info_hash, announce, LOOKUP_TIMEOUT, &mut early);
                any |= !f.peers.is_empty();
                if !found(&f.peers, round) {
                    break;
                }
                let until = Instant::now() + if any { every } else { RETRY.min(every) };
                while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            let _ = node.save();
        })
}
