//! A running DHT node: one UDP socket, one thread that receives (answers queries, matches
//! responses to pending queries, expires them), a background refresh, and blocking lookups on
//! the caller's thread.
//!
//! Limits: answers are rate limited per source address ([`PER_IP_RATE`]) and in total
//! ([`ANSWER_RATE`]); our own queries are limited to [`SEND_RATE`] and [`MAX_PENDING`] in
//! flight; stored peers to [`MAX_TORRENTS`] torrents of [`MAX_PEERS`] peers, each forgotten
//! after [`PEER_TTL`]. Write tokens are the SHA-1 of a secret and the querier's IP; the secret
//! rotates every [`TOKEN_ROTATION`] and the previous one is still accepted.

use super::krpc::{self, Body, Msg, NodeId, Query, Response, MAX_PACKET};
use super::lookup::{Lookup, QUERY_TIMEOUT};
use super::table::{Table, K};
use sha1::{Digest, Sha1};
use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The routers the tools bootstrap from when the user names no bootstrap node.
pub const DEFAULT_ROUTERS: [&str; 3] = [
    "router.bittorrent.com:6881",
    "dht.transmissionbt.com:6881",
    "router.utorrent.com:6881",
];
/// Queries answered per second per source address (burst: twice as many).
pub const PER_IP_RATE: f64 = 50.0;
/// Queries answered per second in total.
pub const ANSWER_RATE: f64 = 1000.0;
/// Queries we send per second at most.
pub const SEND_RATE: f64 = 500.0;
/// Our queries awaiting an answer at most.
pub const MAX_PENDING: usize = 512;
/// Torrents whose peers we store at most.
pub const MAX_TORRENTS: usize = 2000;
/// Peers stored per torrent at most.
pub const MAX_PEERS: usize = 200;
/// How long an announced peer is kept.
pub const PEER_TTL: Duration = Duration::from_secs(30 * 60);
/// How often the token secret changes.
pub const TOKEN_ROTATION: Duration = Duration::from_secs(5 * 60);
/// Contacts saved in a state file at most.
const MAX_SAVED: usize = 400;
/// Addresses tracked by the per-address rate limit at most (then the map starts over).
const MAX_LIMITED: usize = 4096;
/// How often the routing table is refreshed by a lookup of our own id.
const REFRESH: Duration = Duration::from_secs(10 * 60);

/// How to start a node.
#[derive(Debug, Clone)]
pub struct Config {
    /// The UDP address to bind (a busy port falls back to any free one).
    pub bind: SocketAddr,
    /// `HOST:PORT` of bootstrap nodes (the tools pass the [`DEFAULT_ROUTERS`] when the user
    /// names none; the library never adds them). Resolved on first need.
    pub bootstrap: Vec<String>,
    /// Where the routing table is loaded from and saved to.
    pub state: Option<PathBuf>,
}

/// What a peer lookup found.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Peers of the torrent.
    pub peers: Vec<SocketAddr>,
    /// Nodes that answered.
    pub answers: usize,
    /// Nodes that accepted our announce.
    pub announced: usize,
}

/// Counters of a node, for diagnostics and tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeStats {
    /// Queries answered.
    pub answered: u64,
    /// Queries dropped by the rate limits.
    pub dropped: u64,
    /// Packets that were not KRPC (or too large).
    pub malformed: u64,
    /// Queries we sent.
    pub sent: u64,
    /// Contacts in the routing table.
    pub contacts: usize,
}

enum Reply {
    Answer(SocketAddr, Response),
    Failed(SocketAddr),
}

struct Pending {
    to: SocketAddr,
    sent: Instant,
    reply: Option<Sender<Reply>>,
}

/// A token bucket.
struct Rate {
    tokens: f64,
    last: Instant,
    per_sec: f64,
}

impl Rate {
    fn new(per_sec: f64, now: Instant) -> Rate {
        Rate {
            tokens: per_sec * 2.0,
            last: now,
            per_sec,
        }
    }
    fn take(&mut self, now: Instant) -> bool {
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.per_sec).min(self.per_sec * 2.0);
        (self.tokens >= 1.0).then(|| self.tokens -= 1.0).is_some()
    }
}

struct State {
    table: Table,
    pending: HashMap<[u8; 2], Pending>,
    next_tid: u16,
    peers: HashMap<NodeId, Vec<(SocketAddr, Instant)>>,
    secret: ([u8; 16], [u8; 16], Instant),
    per_ip: HashMap<IpAddr, Rate>,
    answers: Rate,
    sends: Rate,
}

struct Inner {
    sock: UdpSocket,
    addr: SocketAddr,
    id: NodeId,
    bootstrap: Vec<String>,
    resolved: Mutex<Option<Vec<SocketAddr>>>,
    loopback_ok: bool,
    state_path: Option<PathBuf>,
    /// Held while the state file is written: the daemon's jobs share one node and may all save
    /// it at once (they would write the same temporary file).
    saving: Mutex<()>,
    st: Mutex<State>,
    stop: AtomicBool,
    answered: AtomicU64,
    dropped: AtomicU64,
    malformed: AtomicU64,
    sent: AtomicU64,
}

/// A DHT node (see the module docs). Dropping it stops its threads and saves its table.
pub struct Node {
    inner: Arc<Inner>,
    threads: Vec<JoinHandle<()>>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    id: String,
    nodes: Vec<(String, SocketAddr)>,
}

fn random<const N: usize>() -> io::Result<[u8; N]> {
    crate::tracker::random_bytes::<N>().map_err(io::Error::other)
}

fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let try_bind = |a: SocketAddr| -> io::Result<UdpSocket> {
        let s = Socket::new(Domain::for_address(a), Type::DGRAM, Some(Protocol::UDP))?;
        if a.is_ipv6() {
            s.set_only_v6(true)?;
        }
        s.bind(&a.into())?;
        Ok(s.into())
    };
    try_bind(addr).or_else(|e| match e.kind() {
        io::ErrorKind::AddrInUse if addr.port() != 0 => try_bind(SocketAddr::new(addr.ip(), 0)),
        _ => Err(e),
    })
}

impl Node {
    /// Bind, load the saved table (if any), and start the receiving and refresh threads. The
    /// bootstrap nodes are resolved only when a lookup finds the table empty or silent.
    pub fn start(config: Config) -> io::Result<Node> {
        let sock = bind(config.bind)?;
        let addr = sock.local_addr()?;
        sock.set_read_timeout(Some(Duration::from_millis(100)))?;
        let saved = config.state.as_ref().and_then(load);
        let id = match saved
            .as_ref()
            .and_then(|s| crate::metainfo::unhex::<20>(&s.id))
        {
            Some(id) => NodeId(id),
            None => NodeId(random()?),
        };
        let now = Instant::now();
        let mut table = Table::new(id);
        let loopback_ok = addr.ip().is_loopback()
            || config
                .bootstrap
                .iter()
                .any(|b| b.parse::<SocketAddr>().is_ok_and(|a| a.ip().is_loopback()));
        let inner = Arc::new(Inner {
            sock,
            addr,
            id,
            bootstrap: config.bootstrap,
            resolved: Mutex::new(None),
            loopback_ok,
            state_path: config.state,
            saving: Mutex::new(()),
            st: Mutex::new(State {
                table: Table::new(id),
                pending: HashMap::new(),
                next_tid: u16::from_be_bytes(random()?),
                peers: HashMap::new(),
                secret: (random()?, random()?, now),
                per_ip: HashMap::new(),
                answers: Rate::new(ANSWER_RATE, now),
                sends: Rate::new(SEND_RATE, now),
            }),
            stop: AtomicBool::new(false),
            answered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        });
        for (hex, a) in saved.map(|s| s.nodes).unwrap_or_default() {
            if let (Some(nid), true) = (crate::metainfo::unhex::<20>(&hex), inner.routable(&a)) {
                table.seen(NodeId(nid), a, now);
            }
        }
        inner.lock().table = table;
        let (i1, i2) = (inner.clone(), inner.clone());
        let threads = vec![
            std::thread::Builder::new()
                .name("bt-dht".into())
                .spawn(move || i1.receive())?,
            std::thread::Builder::new()
                .name("bt-dht-refresh".into())
                .spawn(move || i2.refresh())?,
        ];
        Ok(Node { inner, threads })
    }

    /// Our UDP address.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Our node id.
    pub fn id(&self) -> NodeId {
        self.inner.id
    }

    /// Counters.
    pub fn stats(&self) -> NodeStats {
        let i = &self.inner;
        NodeStats {
            answered: i.answered.load(Ordering::Relaxed),
            dropped: i.dropped.load(Ordering::Relaxed),
            malformed: i.malformed.load(Ordering::Relaxed),
            sent: i.sent.load(Ordering::Relaxed),
            contacts: i.lock().table.len(),
        }
    }

    /// Fill the routing table: a lookup of our own id. Returns how many nodes answered.
    pub fn bootstrap(&self, timeout: Duration) -> usize {
        self.inner.bootstrap_once(Instant::now() + timeout)
    }

    /// Ask the DHT for peers of `info_hash`; with `announce`, then announce us at that port to
    /// the closest nodes that answered. Returns within about `timeout`.
    pub fn get_peers(
        &self,
        info_hash: [u8; 20],
        announce: Option<u16>,
        timeout: Duration,
    ) -> Found {
        self.get_peers_with(info_hash, announce, timeout, &mut |_| {})
    }

    /// [`Node::get_peers`], handing each batch of new peers to `on_peers` as soon as a node
    /// names them (a download can dial them before the lookup ends).
    pub fn get_peers_with(
        &self,
        info_hash: [u8; 20],
        announce: Option<u16>,
        timeout: Duration,
        on_peers: &mut dyn FnMut(&[SocketAddr]),
    ) -> Found {
        let deadline = Instant::now() + timeout;
        let target = NodeId(info_hash);
        let query = Query::GetPeers { info_hash: target };
        let (l, peers) = self.inner.lookup(target, query, deadline, on_peers);
        let mut found = Found {
            peers: peers.into_iter().collect(),
            answers: l.answers(),
            announced: 0,
        };
        if let Some(port) = announce {
            found.announced = self.inner.announce(target, port, &l, deadline);
        }
        found
    }

    /// Write the routing table to the state file (if one was configured).
    pub fn save(&self) -> io::Result<()> {
        let Some(path) = &self.inner.state_path else {
            return Ok(());
        };
        let nodes = {
            let st = self.inner.lock();
            st.table
                .contacts()
                .filter(|c| c.failures == 0)
                .take(MAX_SAVED)
                .map(|c| (c.id.hex(), c.addr))
                .collect()
        };
        let saved = Saved {
            id: self.inner.id.hex(),
            nodes,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let _saving = self.inner.saving.lock().unwrap_or_else(|e| e.into_inner());
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(&saved).map_err(io::Error::other)?)?;
        std::fs::rename(&tmp, path)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        let _ = self.save();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn load(path: &PathBuf) -> Option<Saved> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() > 1 << 20 {
        return None;
    }
    serde_json::from_slice(&bytes).ok()
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a contact or peer at `a` may be used: our family, not ourselves, not an
    /// unspecified, multicast or broadcast address, loopback only in a loopback DHT.
    fn routable(&self, a: &SocketAddr) -> bool {
        let ip = a.ip();
        let v4_broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
        let ourselves = *a == self.addr
            || (self.addr.ip().is_unspecified()
                && a.port() == self.addr.port()
                && ip.is_loopback());
        a.port() != 0
            && a.is_ipv4() == self.addr.is_ipv4()
            && !ourselves
            && !ip.is_unspecified()
            && !ip.is_multicast()
            && !v4_broadcast
            && (self.loopback_ok || !ip.is_loopback())
    }

    fn bootstrap_addrs(&self) -> Vec<SocketAddr> {
        let mut r = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
        r.get_or_insert_with(|| {
            let mut out = Vec::new();
            for n in &self.bootstrap {
                let addrs = n.to_socket_addrs().into_iter().flatten();
                out.extend(addrs.filter(|a| a.is_ipv4() == self.addr.is_ipv4()));
            }
            out
        })
        .clone()
    }

    fn token(&self, secret: &[u8; 16], ip: IpAddr) -> Vec<u8> {
        let mut h = Sha1::new();
        h.update(secret);
        match ip {
            IpAddr::V4(v4) => h.update(v4.octets()),
            IpAddr::V6(v6) => h.update(v6.octets()),
        }
        h.finalize()[..8].to_vec()
    }

    /// Send a query; false when the limits refuse it or the socket fails.
    fn query(&self, to: SocketAddr, query: Query, reply: Option<Sender<Reply>>) -> bool {
        let now = Instant::now();
        let tid = {
            let mut st = self.lock();
            if st.pending.len() >= MAX_PENDING || !st.sends.take(now) {
                return false;
            }
            let mut tid = st.next_tid;
            while st.pending.contains_key(&tid.to_be_bytes()) {
                tid = tid.wrapping_add(1);
            }
            st.next_tid = tid.wrapping_add(1);
            let t = tid.to_be_bytes();
            st.pending.insert(
                t,
                Pending {
                    to,
                    sent: now,
                    reply,
                },
            );
            t
        };
        let msg = Msg::query(&tid, self.id, query);
        if self.sock.send_to(&msg.encode(), to).is_err() {
            self.lock().pending.remove(&tid);
            return false;
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        true
    }

    fn receive(&self) {
        let mut buf = vec![0u8; MAX_PACKET + 1];
        let mut housekeeping = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            if let Ok((n, from)) = self.sock.recv_from(&mut buf) {
                self.handle(&buf[..n], from);
            }
            if housekeeping.elapsed() >= Duration::from_millis(250) {
                housekeeping = Instant::now();
                self.expire(housekeeping);
            }
        }
    }

    fn expire(&self, now: Instant) {
        let mut st = self.lock();
        let old: Vec<[u8; 2]> = st
            .pending
            .iter()
            .filter(|(_, p)| now.duration_since(p.sent) >= QUERY_TIMEOUT * 2)
            .map(|(t, _)| *t)
            .collect();
        for t in old {
            if let Some(p) = st.pending.remove(&t) {
                st.table.failed(&p.to);
                if let Some(r) = p.reply {
                    let _ = r.send(Reply::Failed(p.to));
                }
            }
        }
        if now.duration_since(st.secret.2) >= TOKEN_ROTATION {
            st.secret = (random().unwrap_or(st.secret.0), st.secret.0, now);
        }
        for list in st.peers.values_mut() {
            list.retain(|(_, t)| now.duration_since(*t) < PEER_TTL);
        }
        st.peers.retain(|_, l| !l.is_empty());
    }

    fn handle(&self, packet: &[u8], from: SocketAddr) {
        if packet.len() > MAX_PACKET || from == self.addr {
            self.malformed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let msg = match krpc::decode(packet) {
            Ok(m) => m,
            Err(_) => {
                self.malformed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        match msg.body {
            Body::Query { id, query } => self.answer(msg.tid, id, query, from),
            Body::Response(r) => {
                let mut st = self.lock();
                let Ok(tid) = <[u8; 2]>::try_from(msg.tid.as_slice()) else {
                    return;
                };
                // Only the address we asked may answer (a forged answer is dropped).
                if st.pending.get(&tid).is_none_or(|p| p.to != from) {
                    return;
                }
                let p = st.pending.remove(&tid).expect("checked");
                if let Some(id) = r.id.filter(|_| self.routable(&from)) {
                    st.table.seen(id, from, Instant::now());
                }
                drop(st);
                if let Some(tx) = p.reply {
                    let _ = tx.send(Reply::Answer(from, r));
                }
            }
            Body::Error(..) => {
                let mut st = self.lock();
                let Ok(tid) = <[u8; 2]>::try_from(msg.tid.as_slice()) else {
                    return;
                };
                if st.pending.get(&tid).is_some_and(|p| p.to == from) {
                    if let Some(tx) = st.pending.remove(&tid).and_then(|p| p.reply) {
                        let _ = tx.send(Reply::Failed(from));
                    }
                }
            }
        }
    }

    fn answer(&self, tid: Vec<u8>, id: NodeId, query: Query, from: SocketAddr) {
        let now = Instant::now();
        let mut st = self.lock();
        if st.per_ip.len() >= MAX_LIMITED && !st.per_ip.contains_key(&from.ip()) {
            st.per_ip.clear();
        }
        let ip_ok = st
            .per_ip
            .entry(from.ip())
            .or_insert_with(|| Rate::new(PER_IP_RATE, now))
            .take(now);
        if !ip_ok || !st.answers.take(now) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut r = Response {
            id: Some(self.id),
            ..Response::default()
        };
        let body = match query {
            Query::Ping => Body::Response(r),
            Query::FindNode { target } => {
                r.nodes = st.table.closest(&target, K);
                Body::Response(r)
            }
            Query::GetPeers { info_hash } => {
                r.nodes = st.table.closest(&info_hash, K);
                r.token = Some(self.token(&st.secret.0, from.ip()));
                if let Some(list) = st.peers.get(&info_hash) {
                    r.values = list.iter().rev().take(50).map(|(a, _)| *a).collect();
                }
                Body::Response(r)
            }
            Query::AnnouncePeer {
                info_hash,
                port,
                implied_port,
                token,
            } => {
                let valid = token == self.token(&st.secret.0, from.ip())
                    || token == self.token(&st.secret.1, from.ip());
                if !valid {
                    Body::Error(203, "bad token".into())
                } else {
                    let port = if implied_port { from.port() } else { port };
                    let peer = SocketAddr::new(from.ip(), port);
                    let full = st.peers.len() >= MAX_TORRENTS;
                    if let Some(list) = match st.peers.get_mut(&info_hash) {
                        Some(l) => Some(l),
                        None if !full => Some(st.peers.entry(info_hash).or_default()),
                        None => None,
                    } {
                        list.retain(|(a, _)| *a != peer);
                        if list.len() >= MAX_PEERS {
                            list.remove(0);
                        }
                        list.push((peer, now));
                    }
                    Body::Response(r)
                }
            }
        };
        // A stranger that queries us may be worth a contact: ping it (the answer inserts it).
        let ping = self.routable(&from) && st.table.wants(&id, &from);
        drop(st);
        let msg = Msg { tid, body };
        if self.sock.send_to(&msg.encode(), from).is_ok() {
            self.answered.fetch_add(1, Ordering::Relaxed);
        }
        if ping {
            self.query(from, Query::Ping, None);
        }
    }

    /// One iterative lookup; returns its final state and the peers (`values`) seen.
    fn lookup(
        &self,
        target: NodeId,
        query: Query,
        deadline: Instant,
        on_peers: &mut dyn FnMut(&[SocketAddr]),
    ) -> (Lookup, HashSet<SocketAddr>) {
        let seeds = self.lock().table.closest(&target, 2 * K);
        let from_table = !seeds.is_empty();
        let (mut l, mut peers) = self.run(
            target,
            &query,
            seeds.into_iter().map(|(i, a)| (Some(i), a)),
            deadline,
            on_peers,
        );
        if l.answers() == 0 && from_table && Instant::now() < deadline {
            // Every known contact is silent: start over from the bootstrap nodes.
            let boot = self.bootstrap_addrs().into_iter().map(|a| (None, a));
            (l, peers) = self.run(target, &query, boot.collect::<Vec<_>>(), deadline, on_peers);
        }
        (l, peers)
    }

    fn run(
        &self,
        target: NodeId,
        query: &Query,
        seeds: impl IntoIterator<Item = (Option<NodeId>, SocketAddr)>,
        deadline: Instant,
        on_peers: &mut dyn FnMut(&[SocketAddr]),
    ) -> (Lookup, HashSet<SocketAddr>) {
        let seeds: Vec<_> = seeds.into_iter().collect();
        let seeds = if seeds.is_empty() {
            self.bootstrap_addrs()
                .into_iter()
                .map(|a| (None, a))
                .collect()
        } else {
            seeds
        };
        let mut l = Lookup::new(target, seeds);
        let mut peers = HashSet::new();
        let (tx, rx) = mpsc::channel();
        while Instant::now() < deadline && !self.stop.load(Ordering::Relaxed) {
            for a in l.next(Instant::now()) {
                if !self.query(a, query.clone(), Some(tx.clone())) {
                    l.failed(a);
                }
            }
            if l.done() {
                break;
            }
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Reply::Answer(a, r)) => {
                    let nodes: Vec<_> = r
                        .nodes
                        .into_iter()
                        .filter(|(_, n)| self.routable(n))
                        .collect();
                    if peers.len() < 1000 {
                        let new: Vec<_> = r
                            .values
                            .into_iter()
                            .filter(|p| self.peer_ok(p) && peers.insert(*p))
                            .collect();
                        if !new.is_empty() {
                            on_peers(&new);
                        }
                    }
                    l.answered(a, r.id.unwrap_or(target), &nodes, r.token);
                }
                Ok(Reply::Failed(a)) => l.failed(a),
                Err(_) => {}
            }
        }
        (l, peers)
    }

    fn peer_ok(&self, p: &SocketAddr) -> bool {
        let ip = p.ip();
        p.port() != 0
            && !ip.is_unspecified()
            && !ip.is_multicast()
            && (self.loopback_ok || !ip.is_loopback())
    }

    /// Send `announce_peer` to the closest nodes that gave a token; how many accepted.
    fn announce(&self, target: NodeId, port: u16, l: &Lookup, deadline: Instant) -> usize {
        let (tx, rx) = mpsc::channel();
        let mut waiting = 0;
        for (a, token) in l.tokens(K) {
            let q = Query::AnnouncePeer {
                info_hash: target,
                port,
                implied_port: false,
                token,
            };
            waiting += self.query(a, q, Some(tx.clone())) as usize;
        }
        let until = deadline.min(Instant::now() + QUERY_TIMEOUT);
        let mut ok = 0;
        while waiting > 0 {
            let left = until.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Reply::Answer(..)) => ok += 1,
                Ok(Reply::Failed(_)) => {}
                Err(_) => break,
            }
            waiting -= 1;
        }
        ok
    }

    fn bootstrap_once(&self, deadline: Instant) -> usize {
        let own = self.id;
        self.lookup(own, Query::FindNode { target: own }, deadline, &mut |_| {})
            .0
            .answers()
    }

    fn refresh(&self) {
        loop {
            self.bootstrap_once(Instant::now() + Duration::from_secs(10));
            let until = Instant::now() + REFRESH;
            while Instant::now() < until {
                if self.stop.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(ip: &str, boot: &[SocketAddr]) -> Node {
        Node::start(Config {
            bind: format!("{ip}:0").parse().unwrap(),
            bootstrap: boot.iter().map(|a| a.to_string()).collect(),
            state: None,
        })
        .unwrap()
    }

    #[test]
    fn a_small_loopback_dht_finds_an_announced_peer() {
        let router = node("127.0.0.1", &[]);
        let boot = [router.addr()];
        let nodes: Vec<Node> = (0..8).map(|_| node("127.0.0.1", &boot)).collect();
        for n in &nodes {
            n.bootstrap(Duration::from_secs(5));
        }
        let ih = [7u8; 20];
        let a = nodes[0].get_peers(ih, Some(4242), Duration::from_secs(5));
        assert!(a.announced > 0, "{a:?}");
        let f = nodes[5].get_peers(ih, None, Duration::from_secs(5));
        let want = SocketAddr::new("127.0.0.1".parse().unwrap(), 4242);
        assert!(f.peers.contains(&want), "{f:?}");
    }

    #[test]
    fn saves_from_many_threads_at_once_all_succeed_and_leave_a_whole_file() {
        let dir = std::env::temp_dir().join(format!("bt-dht-save-{}", std::process::id()));
        let path = dir.join("dht.json");
        let n = Node::start(Config {
            bind: "127.0.0.1:0".parse().unwrap(),
            bootstrap: Vec::new(),
            state: Some(path.clone()),
        })
        .unwrap();
        std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| s.spawn(|| (0..25).map(|_| n.save()).collect::<Vec<_>>()))
                .collect();
            for h in hs {
                for r in h.join().unwrap() {
                    r.expect("a save failed while others ran");
                }
            }
        });
        let saved = load(&path).expect("the state file is whole");
        assert_eq!(saved.id, n.inner.id.hex());
        drop(n);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_tokens_are_refused_and_rates_are_bounded() {
        let n = node("127.0.0.1", &[]);
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let q = Msg::query(
            b"zz",
            NodeId([1; 20]),
            Query::AnnouncePeer {
                info_hash: NodeId([2; 20]),
                port: 1,
                implied_port: false,
                token: b"forged".to_vec(),
            },
        );
        s.send_to(&q.encode(), n.addr()).unwrap();
        let mut buf = [0u8; 2048];
        let (len, _) = s.recv_from(&mut buf).unwrap();
        assert!(matches!(
            krpc::decode(&buf[..len]).unwrap().body,
            Body::Error(203, _)
        ));
        let mut r = Rate::new(10.0, Instant::now());
        let now = Instant::now();
        assert_eq!((0..100).filter(|_| r.take(now)).count(), 20);
    }
}
