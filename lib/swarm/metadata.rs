//! The metadata phase of a magnet download (BEP 9): find peers (the magnet's `x.pe` peers,
//! given peers, peer lines, the magnet's `tr=` trackers), connect to them, and fetch the info
//! dictionary from those that offer `ut_metadata` through a [`MetadataAssembler`].
//!
//! One blocking call, [`fetch_metadata`]. A reader thread per connection (at most
//! `max_peers` at once, at most [`MAX_DIALS`] in a run) forwards the peer's extension handshake,
//! `ut_metadata` and `ut_pex` messages to the calling thread, which drives the assembler
//! (several peers, re-requests on timeout or reject) and writes the requests.
//!
//! The phase never gives up before its timeout: when every peer known has failed (refused the
//! connection, offered no metadata, went away) or lied, it keeps taking new peers (the trackers
//! are asked again every [`REANNOUNCE`] at most, peers sent through PEX, peer lines) and dials
//! each failed peer again after the delays of [`RETRY_DELAYS`], newly learned peers first.
//! Invariants: no size above [`MAX_METADATA_SIZE`] is believed; frames over [`MAX_FRAME`] end
//! the connection; a peer that contributed to metadata failing the hash is disconnected and
//! never asked again; at most [`MAX_CANDIDATES`] addresses are remembered and each is dialed at
//! most `RETRY_DELAYS.len() + 1` times; peers learned through PEX are not passed on when the
//! torrent turns out private (BEP 27); every wait is bounded by the timeout or the stop flag.

use super::session::SessionError;
use crate::metainfo::{torrent_from_magnet, torrent_from_magnet_with_layers, Magnet, Torrent};
use crate::peer::metadata::{MetadataAssembler, Progress, MAX_METADATA_SIZE};
use crate::peer::{self, ext, ExtHandshake, Handshake, PeerId};
use crate::tracker::{self, AnnounceRequest, Announcer, Tiers};
use std::fmt;
use std::io::{BufRead, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest frame read during the metadata phase (a bitfield of a huge torrent, a 16 KiB
/// metadata piece): anything longer ends the connection.
pub const MAX_FRAME: usize = 1 << 20;
/// Most connections attempted in one metadata phase (first dials and retries).
pub const MAX_DIALS: usize = 600;
/// Most peer addresses remembered in one metadata phase.
pub const MAX_CANDIDATES: usize = 200;
/// Wait before dialing a peer again after its `n`th connection ended without metadata (a refused
/// or failed connection, no `ut_metadata`, a size not believed, the peer went away): the `n`th
/// entry. After the last one the peer is not dialed again.
pub const RETRY_DELAYS: [Duration; 5] = [
    Duration::from_secs(1),
    Duration::from_secs(3),
    Duration::from_secs(10),
    Duration::from_secs(30),
    Duration::from_secs(60),
];
/// Longest wait between two announces while the metadata is missing (sooner than a tracker's
/// usual interval: it is the way to learn new peers).
pub const REANNOUNCE: Duration = Duration::from_secs(15);
/// Time allowed to connect and complete the handshakes.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// How to find the info dictionary; `Default` holds `bt-fetch`'s defaults.
pub struct MetadataOptions {
    /// Peers to connect to (besides the magnet's `x.pe` peers).
    pub peers: Vec<SocketAddr>,
    /// A reader of peer lines (`peer` records or `ip:port`), such as standard input.
    pub peer_lines: Option<Box<dyn BufRead + Send>>,
    /// Announce to the magnet's trackers.
    pub announce: bool,
    /// Address to connect from (and to announce for).
    pub bind: IpAddr,
    /// Port to announce (0: a free one, reserved for the download that follows).
    pub port: u16,
    /// Most simultaneous connections.
    pub max_peers: usize,
    /// Give up after this long.
    pub timeout: Option<Duration>,
    /// Re-request a metadata piece unanswered for this long.
    pub request_timeout: Duration,
    /// Believe no `metadata_size` above this.
    pub cap: u64,
    /// Raised by the caller to end the phase.
    pub stop: Arc<AtomicBool>,
    /// A DHT node to look the info hash up with.
    pub dht: Option<Arc<crate::dht::Node>>,
}

impl Default for MetadataOptions {
    fn default() -> Self {
        MetadataOptions {
            peers: Vec::new(),
            peer_lines: None,
            announce: true,
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 0,
            max_peers: 30,
            timeout: None,
            request_timeout: peer::metadata::REQUEST_TIMEOUT,
            cap: MAX_METADATA_SIZE,
            stop: Arc::default(),
            dht: None,
        }
    }
}

/// The outcome of a metadata phase.
pub struct Metadata {
    /// The torrent built from the magnet and the verified info dictionary.
    pub torrent: Torrent,
    /// The complete `.torrent` file (for `--torrent-out`).
    pub file: Vec<u8>,
    /// Every peer address learned, except those blocked: candidates for the download.
    pub peers: Vec<SocketAddr>,
    /// The port announced to the trackers (use it for the download's listener).
    pub port: u16,
}

/// Something the metadata phase reports.
#[derive(Debug, Clone)]
pub enum MetadataEvent {
    /// A peer's `metadata_size` was not used (or it offers no `ut_metadata`).
    Refused {
        /// The peer.
        addr: SocketAddr,
        /// Why.
        why: String,
    },
    /// A peer supplied metadata that failed the hash: blocked.
    Blocked {
        /// The peer.
        addr: SocketAddr,
    },
    /// The info dictionary arrived and matches the info hash.
    Complete {
        /// Its size in bytes.
        size: u64,
    },
}

impl fmt::Display for MetadataEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataEvent::Refused { addr, why } => write!(f, "metadata from {addr}: {why}"),
            MetadataEvent::Blocked { addr } => {
                write!(f, "blocked {addr}: its metadata failed the info hash")
            }
            MetadataEvent::Complete { size } => write!(f, "metadata: {size} bytes, verified"),
        }
    }
}

enum PeerEv {
    Ready(usize, TcpStream, ExtHandshake),
    Msg(usize, u8, Vec<u8>),
    Gone(usize),
}

enum Input {
    /// A peer address, and whether it came through PEX.
    Candidate(SocketAddr, bool),
    Peer(PeerEv),
}

/// A peer address learned in the metadata phase.
struct Candidate {
    addr: SocketAddr,
    /// Learned only through PEX (not passed on if the torrent is private).
    pex: bool,
    /// Connections attempted so far.
    dials: usize,
    /// A connection to it is open (or being opened).
    busy: bool,
    /// Blocked (its metadata failed the hash): never dialed again.
    blocked: bool,
    /// Not to be dialed again before this.
    next: Instant,
}

/// The peers to dial and when: new ones first, then failed ones again after [`RETRY_DELAYS`].
#[derive(Default)]
struct Candidates {
    list: Vec<Candidate>,
    dials: usize,
}

impl Candidates {
    /// Remember `addr` (once; [`MAX_CANDIDATES`] at most).
    fn add(&mut self, addr: SocketAddr, pex: bool, now: Instant) {
        if let Some(c) = self.list.iter_mut().find(|c| c.addr == addr) {
            c.pex &= pex;
        } else if self.list.len() < MAX_CANDIDATES {
            self.list.push(Candidate {
                addr,
                pex,
                dials: 0,
                busy: false,
                blocked: false,
                next: now,
            });
        }
    }

    /// The next peer to dial at `now`, marked busy: one never dialed, else one whose retry is
    /// due; None when none is (or [`MAX_DIALS`] were made).
    fn next_dial(&mut self, now: Instant) -> Option<SocketAddr> {
        if self.dials >= MAX_DIALS {
            return None;
        }
        let free = |c: &Candidate| !c.busy && !c.blocked;
        let pick = self
            .list
            .iter()
            .position(|c| free(c) && c.dials == 0)
            .or_else(|| {
                self.list
                    .iter()
                    .position(|c| free(c) && c.dials <= RETRY_DELAYS.len() && c.next <= now)
            })?;
        let c = &mut self.list[pick];
        c.busy = true;
        c.dials += 1;
        self.dials += 1;
        Some(c.addr)
    }

    /// The connection to `addr` ended at `now` (without metadata): schedule its retry.
    fn ended(&mut self, addr: SocketAddr, now: Instant) {
        if let Some(c) = self.list.iter_mut().find(|c| c.addr == addr) {
            c.busy = false;
            c.next = now + RETRY_DELAYS[(c.dials.max(1) - 1).min(RETRY_DELAYS.len() - 1)];
        }
    }

    fn block(&mut self, addr: SocketAddr) {
        if let Some(c) = self.list.iter_mut().find(|c| c.addr == addr) {
            c.blocked = true;
        }
    }

    /// Every address not blocked (and, for a private torrent, not learned through PEX alone).
    fn usable(self, private: bool) -> Vec<SocketAddr> {
        let keep = |c: &Candidate| !(c.blocked || (private && c.pex));
        self.list.into_iter().filter(keep).map(|c| c.addr).collect()
    }
}

/// Fetch the info dictionary of `magnet` from peers (see the module docs).
pub fn fetch_metadata(
    magnet: &Magnet,
    mut opts: MetadataOptions,
    events: &mut dyn FnMut(MetadataEvent),
) -> Result<Metadata, SessionError> {
    let started = Instant::now();
    // A magnet with only btmh: peers handshake with the truncated v2 hash (BEP 52).
    let info_hash = match (magnet.info_hash, magnet.info_hash_v2) {
        (Some(h), _) => h,
        (None, Some(h)) => h.truncated(),
        (None, None) => return Err(SessionError::NoInfoHash),
    };
    let want = SocketAddr::new(opts.bind, opts.port);
    let reserved = TcpListener::bind(want).map_err(|e| SessionError::Listen(want, e))?;
    let port = reserved
        .local_addr()
        .map_err(|e| SessionError::Listen(want, e))?
        .port();
    let peer_id = PeerId::generate().map_err(SessionError::Random)?;
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<Input>();
    for a in opts.peers.iter().chain(&magnet.peer_addrs()) {
        let _ = tx.send(Input::Candidate(*a, false));
    }
    let mut sources = !opts.peers.is_empty() || !magnet.peer_addrs().is_empty();
    if let Some(lines) = opts.peer_lines.take() {
        sources = true;
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in lines.lines() {
                let Ok(line) = line else { break };
                if let Ok(Some(a)) = crate::record::peer_from_line(&line) {
                    if tx.send(Input::Candidate(a, false)).is_err() {
                        break;
                    }
                }
            }
        });
    }
    if opts.announce && !magnet.trackers.is_empty() {
        sources = true;
        let tiers = Tiers::new(magnet.trackers.iter().map(|t| vec![t.clone()]).collect());
        let req = AnnounceRequest::new(info_hash, port, 1).map_err(SessionError::Random)?;
        let topts = tracker::Options {
            bind: (!opts.bind.is_unspecified()).then_some(opts.bind),
            ..tracker::Options::default()
        };
        let (tx, stop) = (tx.clone(), stop.clone());
        std::thread::spawn(move || announce_loop(Announcer::new(tiers, req, topts), &tx, &stop));
    }
    if let Some(node) = opts.dht.clone() {
        sources = true;
        let tx = tx.clone();
        let found = move |p: &[SocketAddr], _| {
            p.iter()
                .all(|a| tx.send(Input::Candidate(*a, false)).is_ok())
        };
        super::dht::spawn(
            node,
            info_hash.0,
            None,
            super::dht::RETRY,
            stop.clone(),
            found,
        )
        .map_err(|e| SessionError::Listen(want, e))?;
    }
    if !sources {
        return Err(SessionError::NoPeerSource {
            announce_off: !opts.announce,
        });
    }
    let mut asm: MetadataAssembler<usize> = MetadataAssembler::new(info_hash.0);
    if let (None, Some(v2)) = (magnet.info_hash, magnet.info_hash_v2) {
        asm = asm.with_v2(v2.0);
    }
    let mut asm = asm.with_cap(opts.cap).with_timeout(opts.request_timeout);
    let mut known = Candidates::default();
    // Connection index -> (address, writer, the peer's ut_metadata number).
    let mut conns: Vec<(SocketAddr, Option<(TcpStream, u8)>)> = Vec::new();
    let mut live = 0usize;
    let deadline = opts.timeout.map(|d| started + d);
    let result = loop {
        if opts.stop.load(Ordering::Relaxed) {
            break Err(SessionError::NoMetadata("stopped".into()));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let why = format!(
                "no metadata after {:?} ({} peers known, {} connections tried)",
                opts.timeout.unwrap_or_default(),
                known.list.len(),
                known.dials
            );
            break Err(SessionError::NoMetadata(why));
        }
        let mut complete = None;
        if let Ok(input) = rx.recv_timeout(Duration::from_millis(100)) {
            match input {
                Input::Candidate(a, pex) => known.add(a, pex, Instant::now()),
                Input::Peer(PeerEv::Ready(i, stream, h)) => {
                    let addr = conns[i].0;
                    let refused =
                        match (h.id_of(ext::UT_METADATA), asm.add_peer(i, h.metadata_size)) {
                            (None, _) => Some("it does not offer ut_metadata".to_string()),
                            (_, Err(e)) => Some(e.to_string()),
                            (Some(id), Ok(())) => {
                                conns[i].1 = Some((stream, id));
                                continue;
                            }
                        };
                    if let Some(why) = refused {
                        asm.remove_peer(i);
                        let _ = stream.shutdown(Shutdown::Both);
                        events(MetadataEvent::Refused { addr, why });
                    }
                }
                Input::Peer(PeerEv::Msg(i, id, payload)) => {
                    let now = Instant::now();
                    match ext::decode(id, &payload, false) {
                        Ok(ext::Extended::Metadata(m)) => match m {
                            peer::metadata::Message::Reject(p) => asm.on_reject(i, p, now),
                            peer::metadata::Message::Data {
                                piece,
                                total_size,
                                data,
                            } => match asm.on_data(i, piece, total_size, &data) {
                                Progress::Complete(bytes) => complete = Some(bytes),
                                Progress::HashMismatch(bad) => {
                                    for b in bad {
                                        let addr = conns[b].0;
                                        known.block(addr);
                                        close(&mut conns[b]);
                                        events(MetadataEvent::Blocked { addr });
                                    }
                                }
                                Progress::Invalid => close(&mut conns[i]),
                                Progress::Stored | Progress::Ignored => {}
                            },
                            peer::metadata::Message::Request(p) => {
                                let r = peer::metadata::Message::Reject(p);
                                write_ext(&mut conns[i], r.encode());
                            }
                        },
                        Ok(ext::Extended::Pex(m)) => {
                            for (a, _) in m.added {
                                known.add(a, true, now);
                            }
                        }
                        Ok(_) => {}
                        Err(_) => {
                            asm.remove_peer(i);
                            close(&mut conns[i]);
                        }
                    }
                }
                Input::Peer(PeerEv::Gone(i)) => {
                    live -= 1;
                    asm.remove_peer(i);
                    close(&mut conns[i]);
                    known.ended(conns[i].0, Instant::now());
                }
            }
        }
        if let Some(bytes) = complete {
            events(MetadataEvent::Complete {
                size: bytes.len() as u64,
            });
            break torrent_from_magnet(magnet, &bytes)
                .map_err(|e| SessionError::NoMetadata(e.to_string()));
        }
        // Dial more while there is room: new peers, then failed ones whose retry is due.
        while live < opts.max_peers.max(1) {
            let Some(addr) = known.next_dial(Instant::now()) else {
                break;
            };
            let i = conns.len();
            conns.push((addr, None));
            live += 1;
            let (tx, stop, bind) = (tx.clone(), stop.clone(), opts.bind);
            let hs = Handshake::new(info_hash.0, peer_id).with_v2(magnet.info_hash_v2.is_some());
            std::thread::spawn(move || {
                peer_thread(i, addr, bind, hs, port, &tx, &stop);
                let _ = tx.send(Input::Peer(PeerEv::Gone(i)));
            });
        }
        for (i, piece) in asm.requests(Instant::now()) {
            let r = peer::metadata::Message::Request(piece);
            if !write_ext(&mut conns[i], r.encode()) {
                asm.remove_peer(i);
            }
        }
    };
    stop.store(true, Ordering::Relaxed);
    for c in &mut conns {
        close(c);
    }
    drop(reserved);
    let (file, torrent) = result?;
    Ok(Metadata {
        peers: known.usable(torrent.private),
        torrent,
        file,
        port,
    })
}

fn close(c: &mut (SocketAddr, Option<(TcpStream, u8)>)) {
    if let Some((s, _)) = c.1.take() {
        let _ = s.shutdown(Shutdown::Both);
    }
}

/// Send a `ut_metadata` payload on connection `c`; false when it is closed or the write failed.
fn write_ext(c: &mut (SocketAddr, Option<(TcpStream, u8)>), payload: Vec<u8>) -> bool {
    let Some((s, id)) = c.1.as_mut() else {
        return false;
    };
    let mut out = Vec::new();
    peer::Message::Extended { id: *id, payload }.encode(&mut out);
    if s.write_all(&out).is_ok() {
        return true;
    }
    close(c);
    false
}

fn announce_loop(mut a: Announcer, tx: &Sender<Input>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let attempts = a.announce();
        for p in Announcer::peers(&attempts) {
            if tx.send(Input::Candidate(p, false)).is_err() {
                return;
            }
        }
        // Ask again soon while we have no metadata, not at the tracker's full interval.
        let until = a.next_at().min(Instant::now() + REANNOUNCE);
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Connect, handshake, send our extension handshake, and forward the peer's extended
/// messages until the connection ends or `stop` is raised.
fn peer_thread(
    i: usize,
    addr: SocketAddr,
    bind: IpAddr,
    ours: Handshake,
    port: u16,
    tx: &Sender<Input>,
    stop: &AtomicBool,
) -> Option<()> {
    let mut s = match bind {
        b if !b.is_unspecified() && b.is_ipv4() == addr.is_ipv4() => {
            crate::net::connect_from(b, addr, HANDSHAKE_TIMEOUT).ok()?
        }
        _ => TcpStream::connect_timeout(&addr, HANDSHAKE_TIMEOUT).ok()?,
    };
    s.set_write_timeout(Some(HANDSHAKE_TIMEOUT)).ok()?;
    s.write_all(&ours.encode()).ok()?;
    // A plain connection: the stream wrapper reads the handshake through a clone of the socket.
    let theirs = super::stream::PeerStream::plain(s.try_clone().ok()?)
        .read_handshake(Instant::now() + HANDSHAKE_TIMEOUT)
        .ok()?;
    if theirs.info_hash != ours.info_hash || !theirs.supports_extended() {
        return None;
    }
    let mut out = Vec::new();
    // ut_pex offered (private: false) to learn peers; see `Candidates::usable`.
    let ext = ext::ours(
        None,
        false,
        (port != 0).then_some(port),
        concat!("bt ", env!("CARGO_PKG_VERSION")),
        250,
    );
    peer::Message::Extended {
        id: 0,
        payload: ext.encode(),
    }
    .encode(&mut out);
    s.write_all(&out).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    let mut ready = false;
    let mut last = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let mut len = [0u8; 4];
        match read_some(&mut s, &mut len, stop) {
            Ok(true) => {}
            _ => return None,
        }
        let n = u32::from_be_bytes(len) as usize;
        if n > MAX_FRAME {
            return None;
        }
        let mut frame = vec![0; n];
        if n > 0 && !read_some(&mut s, &mut frame, stop).ok()? {
            return None;
        }
        if last.elapsed() > Duration::from_secs(60) {
            // Keep-alive.
            s.write_all(&[0, 0, 0, 0]).ok()?;
            last = Instant::now();
        }
        if n < 2 || frame[0] != 20 {
            continue;
        }
        let (id, payload) = (frame[1], frame[2..].to_vec());
        if id == 0 && !ready {
            let h = ExtHandshake::parse(&payload).ok()?;
            ready = true;
            let w = s.try_clone().ok()?;
            tx.send(Input::Peer(PeerEv::Ready(i, w, h))).ok()?;
        } else if id != 0 {
            tx.send(Input::Peer(PeerEv::Msg(i, id, payload))).ok()?;
        }
    }
    Some(())
}

/// Fill `buf`, waiting through read timeouts until `stop`; false on a clean end.
fn read_some(s: &mut TcpStream, buf: &mut [u8], stop: &AtomicBool) -> std::io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        match s.read(&mut buf[got..]) {
            Ok(0) => return Ok(false),
            Ok(n) => got += n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Write a `.torrent` to `path`, refusing to replace an existing file unless `force`.
pub fn write_torrent(path: &std::path::Path, bytes: &[u8], force: bool) -> std::io::Result<()> {
    let mut f = if force {
        std::fs::File::create(path)?
    } else {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?
    };
    f.write_all(bytes)
}

/// `bt-fetch MAGNET`'s first step: parse the link, fetch the info dictionary with the peer sources, address
/// and limits of `opts` (its `peers` and `peer_lines` are taken; afterwards `peers` holds every
/// peer learned, and `port` the port announced), write the `.torrent` to `torrent_out` (which
/// must not exist unless `force`), and return the torrent.
pub fn magnet_torrent(
    magnet: &str,
    opts: &mut super::session::FetchOptions,
    torrent_out: Option<&std::path::Path>,
    force: bool,
    events: &mut dyn FnMut(MetadataEvent),
) -> Result<Torrent, SessionError> {
    let started = Instant::now();
    let magnet = &Magnet::parse(magnet).map_err(SessionError::Magnet)?;
    if let Some(p) = torrent_out.filter(|p| !force && p.exists()) {
        let e = std::io::Error::new(std::io::ErrorKind::AlreadyExists, "exists (give --force)");
        return Err(SessionError::TorrentOut(p.to_path_buf(), e));
    }
    let m = fetch_metadata(
        magnet,
        MetadataOptions {
            peers: std::mem::take(&mut opts.peers),
            peer_lines: opts.peer_lines.take(),
            announce: opts.announce,
            bind: opts.bind,
            port: opts.port,
            max_peers: opts.max_peers,
            timeout: opts.timeout,
            stop: opts.stop.clone(),
            dht: opts.dht.clone(),
            ..MetadataOptions::default()
        },
        events,
    )?;
    let mut m = m;
    if m.torrent.version != crate::metainfo::Version::V1 {
        super::layers::fetch_piece_layers(&mut m.torrent, &m.peers, opts.bind, events)?;
        // The layers go into the written file (outside `info`) so it verifies on its own.
        let (file, torrent) =
            torrent_from_magnet_with_layers(magnet, &m.torrent.info_bytes, &m.torrent.piece_layers)
                .map_err(SessionError::Magnet)?;
        (m.file, m.torrent) = (file, torrent);
    }
    if let Some(p) = torrent_out {
        write_torrent(p, &m.file, force)
            .map_err(|e| SessionError::TorrentOut(p.to_path_buf(), e))?;
    }
    opts.peers = m.peers;
    opts.port = m.port;
    opts.timeout = opts.timeout.map(|t| t.saturating_sub(started.elapsed()));
    Ok(m.torrent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], n))
    }

    #[test]
    fn failed_peers_are_dialed_again_on_a_bounded_schedule() {
        let t0 = Instant::now();
        let mut c = Candidates::default();
        c.add(addr(1), false, t0);
        let mut now = t0;
        let mut dials = Vec::new();
        // Step through 10 minutes in 100 ms steps; every connection fails at once.
        while now < t0 + Duration::from_secs(600) {
            while let Some(a) = c.next_dial(now) {
                assert_eq!(a, addr(1));
                dials.push(now - t0);
                c.ended(a, now);
            }
            now += Duration::from_millis(100);
        }
        assert_eq!(dials.len(), RETRY_DELAYS.len() + 1, "{dials:?}");
        let mut at = Duration::ZERO;
        for (d, wait) in dials[1..].iter().zip(RETRY_DELAYS) {
            at += wait;
            assert!(
                *d >= at && *d < at + Duration::from_millis(200),
                "{dials:?}"
            );
            at = *d;
        }
    }

    #[test]
    fn new_peers_come_before_retries_and_busy_or_blocked_ones_wait() {
        let t0 = Instant::now();
        let mut c = Candidates::default();
        c.add(addr(1), false, t0);
        assert_eq!(c.next_dial(t0), Some(addr(1)));
        // Busy: not dialed twice at once.
        assert_eq!(c.next_dial(t0), None);
        c.ended(addr(1), t0);
        let later = t0 + Duration::from_secs(5);
        c.add(addr(2), false, later);
        c.add(addr(1), false, later); // known: no second entry
        assert_eq!(c.list.len(), 2);
        assert_eq!(c.next_dial(later), Some(addr(2)));
        assert_eq!(c.next_dial(later), Some(addr(1)));
        c.ended(addr(2), later);
        c.block(addr(2));
        c.ended(addr(1), later);
        let much_later = later + Duration::from_secs(60);
        assert_eq!(c.next_dial(much_later), Some(addr(1)));
        assert_eq!(c.next_dial(much_later), None, "a blocked peer was dialed");
        assert_eq!(c.usable(false), vec![addr(1)]);
    }

    #[test]
    fn addresses_and_dials_are_capped_and_pex_peers_dropped_when_private() {
        let t0 = Instant::now();
        let mut c = Candidates::default();
        for n in 0..(MAX_CANDIDATES as u16 + 50) {
            c.add(addr(1000 + n), n % 2 == 0, t0);
        }
        assert_eq!(c.list.len(), MAX_CANDIDATES);
        // A peer given directly that was also sent through PEX is not a PEX-only peer.
        c.add(addr(1000), false, t0);
        let private = c.list.iter().filter(|c| !c.pex).count();
        let mut now = t0;
        let mut made = 0;
        while now < t0 + Duration::from_secs(3600) {
            while let Some(a) = c.next_dial(now) {
                made += 1;
                c.ended(a, now);
            }
            now += Duration::from_secs(1);
        }
        assert_eq!(made, MAX_DIALS);
        assert_eq!(c.usable(true).len(), private);
        assert_eq!(private, MAX_CANDIDATES / 2 + 1);
    }
}
