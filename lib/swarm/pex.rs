//! The BEP 10 extension messages of a swarm's connections: serving our info dictionary
//! (`ut_metadata`, BEP 9) and peer exchange (`ut_pex`, BEP 11).
//!
//! `Hub` is the swarm's side: the connectable addresses of the peers we are (or were, within
//! [`RECENT`]) connected to, and how many addresses PEX has taught us. `ConnExt` is one
//! connection's side: the peer's extension handshake, its [`PexState`], and the answers to its
//! messages. The wire codecs live in [`crate::peer::ext`], [`crate::peer::metadata`] and
//! [`crate::peer::pex`].
//!
//! Invariants: nothing PEX-related is sent or taken on a private torrent (BEP 27); the hub
//! remembers at most [`MAX_KNOWN`] addresses and takes at most [`MAX_LEARNED`] candidates from
//! PEX per run; a metadata request out of range (or made before we have the info dictionary)
//! gets a reject.

use super::Swarm;
use crate::peer::pex::{flags, PexState};
use crate::peer::{self, ext, ExtHandshake, Message};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a peer we were connected to is still offered through PEX after it left (a
/// connection between two seeds ends at once, yet each is worth telling others about).
pub const RECENT: Duration = Duration::from_secs(600);
/// Most addresses the hub remembers.
pub const MAX_KNOWN: usize = 200;
/// Most candidates taken from PEX messages in one run.
pub const MAX_LEARNED: usize = 200;

/// The raw bytes of the info dictionary we serve; debug-printed by length only.
#[derive(Clone)]
pub struct InfoBytes(pub Arc<[u8]>);

impl std::fmt::Debug for InfoBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InfoBytes({} bytes)", self.0.len())
    }
}

struct Known {
    key: u64,
    addr: SocketAddr,
    flags: u8,
    /// None while connected; when it left.
    left: Option<Instant>,
}

/// The swarm's PEX state: who we can tell others about.
#[derive(Default)]
pub(super) struct Hub {
    known: Mutex<Vec<Known>>,
    learned: AtomicUsize,
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Known>> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connection `key` can be reached at `addr`.
    fn connected(&self, key: u64, addr: SocketAddr, flags: u8) {
        let mut k = self.lock();
        k.retain(|e| e.addr != addr && e.key != key);
        if k.len() >= MAX_KNOWN {
            // Forget the one that left longest ago, else the oldest.
            let i = k
                .iter()
                .enumerate()
                .filter_map(|(i, e)| e.left.map(|t| (t, i)))
                .min()
                .map_or(0, |(_, i)| i);
            k.remove(i);
        }
        k.push(Known {
            key,
            addr,
            flags,
            left: None,
        });
    }

    /// Connection `key` ended.
    fn gone(&self, key: u64) {
        let now = Instant::now();
        for e in self.lock().iter_mut().filter(|e| e.key == key) {
            e.left = Some(now);
        }
    }

    /// The addresses to tell a peer at `to` about.
    fn current(&self, to: SocketAddr) -> Vec<(SocketAddr, u8)> {
        let now = Instant::now();
        let mut k = self.lock();
        k.retain(|e| {
            e.left
                .is_none_or(|t| now.saturating_duration_since(t) < RECENT)
        });
        k.iter()
            .filter(|e| e.addr != to)
            .map(|e| (e.addr, e.flags))
            .collect()
    }

    /// How many candidates PEX gave so far.
    pub(super) fn learned(&self) -> usize {
        self.learned.load(Ordering::Relaxed)
    }
}

/// One connection's extension state.
pub(super) struct ConnExt {
    key: u64,
    addr: SocketAddr,
    incoming: bool,
    theirs: Option<ExtHandshake>,
    pex: PexState,
}

impl ConnExt {
    pub(super) fn new(s: &Swarm, key: u64, addr: SocketAddr, incoming: bool) -> ConnExt {
        ConnExt {
            key,
            addr,
            incoming,
            theirs: None,
            pex: PexState::new(s.opts().private),
        }
    }

    /// Our extension handshake for this swarm.
    pub(super) fn ours(s: &Swarm, reqq: u32) -> ExtHandshake {
        let port = s.opts().listen_port;
        ext::ours(
            s.opts().info_bytes.as_ref().map(|b| b.0.len() as u64),
            s.opts().private,
            (port != 0).then_some(port),
            concat!("bt ", env!("CARGO_PKG_VERSION")),
            reqq,
        )
    }

    /// The peer's extension handshake arrived: remember its numbers and where it listens.
    pub(super) fn on_handshake(&mut self, s: &Swarm, h: ExtHandshake, seed: bool) {
        let reachable = match (self.incoming, h.port) {
            (false, _) => Some(self.addr),
            (true, Some(p)) if p != 0 => Some(SocketAddr::new(self.addr.ip(), p)),
            _ => None,
        };
        if let Some(a) = reachable {
            let f = flags::CONNECTABLE | if seed { flags::SEED } else { 0 };
            s.pex.connected(self.key, a, f);
        }
        self.theirs = Some(h);
    }

    /// An extended message other than the handshake; `send` queues a message to the peer.
    pub(super) fn on_message(
        &mut self,
        s: &Swarm,
        id: u8,
        payload: &[u8],
        send: &dyn Fn(Message),
    ) -> Result<(), ext::Error> {
        match ext::decode(id, payload, s.opts().private)? {
            ext::Extended::Metadata(peer::metadata::Message::Request(piece)) => {
                let reply = match &s.opts().info_bytes {
                    Some(b) => peer::metadata::answer(&b.0, piece),
                    None => peer::metadata::Message::Reject(piece),
                };
                if let Some(id) = self.their_id(ext::UT_METADATA) {
                    send(Message::Extended {
                        id,
                        payload: reply.encode(),
                    });
                }
            }
            ext::Extended::Pex(m) if self.pex.enabled() => {
                let room = MAX_LEARNED.saturating_sub(s.pex.learned());
                let addrs: Vec<SocketAddr> = m
                    .added
                    .iter()
                    .map(|(a, _)| *a)
                    .filter(|a| *a != self.addr)
                    .take(room)
                    .collect();
                s.pex.learned.fetch_add(addrs.len(), Ordering::Relaxed);
                s.add_peers(&addrs);
            }
            _ => {}
        }
        Ok(())
    }

    /// Send a PEX message when one is due.
    pub(super) fn tick(&mut self, s: &Swarm, send: &dyn Fn(Message)) {
        let Some(id) = self.their_id(ext::UT_PEX) else {
            return;
        };
        let current = s.pex.current(self.addr);
        if let Some(m) = self.pex.message(Instant::now(), &current) {
            send(Message::Extended {
                id,
                payload: m.encode(),
            });
        }
    }

    fn their_id(&self, name: &str) -> Option<u8> {
        self.theirs.as_ref().and_then(|h| h.id_of(name))
    }

    /// The connection ended.
    pub(super) fn finish(&self, s: &Swarm) {
        s.pex.gone(self.key);
    }
}
