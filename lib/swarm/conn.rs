//! One connection: the handshake, a reader thread that owns the connection's download state,
//! and a writer thread that sends queued messages and serves blocks.
//!
//! Invariants: every block in `outstanding` was requested from this peer and is released back
//! to the picker when the connection ends, when the peer chokes us or rejects it, or when it has
//! waited longer than the snub timeout. Blocks are served only while the peer is unchoked and
//! only from verified pieces.

use super::outbox::{self, Inbox, Outbox};
use super::picker::PeerPieces;
use super::stream::{self, DialError, PeerStream};
use super::{Event, Out, PeerEntry, Swarm};
use crate::peer::{self, Block, ExtHandshake, Handshake, Message};
use std::collections::HashMap;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MIN_REQUESTS: usize = 16;
const TICK: Duration = Duration::from_secs(1);
/// How long a read waits while the picker holds the connection to its cap (a new peer's
/// pieces in flight until one of them verifies): the verdict comes from another thread, and
/// waiting a whole [`TICK`] for it stalled a 1 GiB download for a second in a third of runs.
const CAPPED_WAIT: Duration = Duration::from_millis(10);
const KEEPALIVE: Duration = Duration::from_secs(60);
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Room for received bytes of a new connection (beyond one frame).
const RECV_START: usize = 256 << 10;
/// Room for received bytes of a connection whose reads fill its buffer (beyond one frame).
const RECV_MAX: usize = 1 << 20;
/// Most requests from one peer queued for serving; more are rejected.
const MAX_QUEUED_UPLOADS: usize = 2048;
/// Most blocks the writer gathers into one batch (see [`Batch`]).
const MAX_BATCH: usize = 64;

/// Read exactly `buf.len()` bytes before `deadline`.
pub(super) fn read_full(
    stream: &mut TcpStream,
    buf: &mut [u8],
    deadline: Instant,
) -> io::Result<()> {
    let mut got = 0;
    while got < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "handshake timed out",
            ));
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf[got..]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// How an outgoing connection ended, for the dialer's retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialed {
    /// No connection or no matching handshake.
    Failed,
    /// The connection was refused, or the encrypted handshake closed: retried after a second.
    Refused,
    /// A session ran and ended for an ordinary reason.
    Worked,
    /// The peer broke the protocol: never dial it again in this run.
    Misbehaved,
    /// The peer is of no use to dial again: ourselves, or a seed while we seed too.
    Useless,
}

/// Dial `addr`, handshake (encrypted as the swarm's policy says), and run the session; says
/// how it ended. An encryption failure is reported as a `Disconnected` event naming the peer.
pub(super) fn outgoing(s: &Arc<Swarm>, addr: SocketAddr) -> Dialed {
    let (stream, theirs) = match stream::dial(s, addr) {
        Ok(x) => x,
        Err(DialError::Refused) => return Dialed::Refused,
        Err(DialError::Failed(None)) => return Dialed::Failed,
        // A peer that closes the encrypted handshake may be plaintext-only, or may not have
        // loaded the torrent yet (qBittorrent closes it then): retried soon, like a refusal,
        // and given up after the usual number of failures.
        Err(DialError::Failed(Some(reason))) => {
            s.emit(Event::Disconnected {
                addr,
                reason,
                downloaded: 0,
                uploaded: 0,
            });
            return Dialed::Refused;
        }
    };
    // A hybrid dialled on its v1 hash may be answered on the v2 one (BEP 52 upgrade).
    if !s.answers(&theirs.info_hash) {
        return Dialed::Failed;
    }
    if theirs.peer_id == s.peer_id {
        return Dialed::Useless;
    }
    match run(s, stream, addr, theirs, false).as_str() {
        r if r.starts_with(PROTOCOL_ERROR) => Dialed::Misbehaved,
        BOTH_SEEDS => Dialed::Useless,
        _ => Dialed::Worked,
    }
}

/// Answer an incoming connection whose handshake was read, and run it.
pub(super) fn incoming(
    s: &Arc<Swarm>,
    mut stream: PeerStream,
    addr: SocketAddr,
    theirs: Handshake,
) {
    let _ = stream
        .socket()
        .set_write_timeout(Some(s.opts().handshake_timeout));
    // A hybrid answers with the hash the peer asked for (v1 or truncated v2), or upgrades a
    // v1 handshake that has the v2 bit to the v2 hash (BEP 52, as libtorrent does).
    let mut ours = s.handshake(s.answer_hash(&theirs)).encode();
    if stream.send(&mut ours).is_ok() {
        run(s, stream, addr, theirs, true);
    }
}

/// Run a session to its end; why it ended.
fn run(
    s: &Arc<Swarm>,
    stream: PeerStream,
    addr: SocketAddr,
    theirs: Handshake,
    incoming: bool,
) -> String {
    if theirs.peer_id == s.peer_id {
        return "connected to ourselves".into();
    }
    let _ = stream.socket().set_nodelay(true);
    let _ = stream.socket().set_write_timeout(Some(WRITE_TIMEOUT));
    let _ = stream.socket().set_read_timeout(Some(TICK));
    let encrypted = stream.is_encrypted();
    let Ok((stream, wstream)) = stream.split() else {
        return "cannot clone the socket".into();
    };
    let (tx, rx) = outbox::queue();
    let choked = Arc::new(AtomicBool::new(true));
    let uploaded = Arc::new(AtomicU64::new(0));
    let downloaded = Arc::new(AtomicU64::new(0));
    let queued = Arc::new(Uploads::default());
    let key = {
        let mut st = s.lock();
        let duplicate = st.peers.values().any(|p| p.peer_id == theirs.peer_id);
        if duplicate || st.banned.contains(&addr) || st.banned_ids.contains(&theirs.peer_id) {
            return "duplicate or banned".into();
        }
        let key = st.next_key;
        st.next_key += 1;
        let cap = super::initial_cap(&st, &addr);
        st.picker.set_cap(key, Some(cap));
        st.peers.insert(
            key,
            PeerEntry {
                addr,
                peer_id: theirs.peer_id,
                tx: tx.clone(),
                interested: false,
                choked: choked.clone(),
                uploaded: uploaded.clone(),
                downloaded: downloaded.clone(),
                last_up: 0,
                last_down: 0,
                closing: false,
                moved: (0, Instant::now()),
                connected: Instant::now(),
                encrypted,
            },
        );
        key
    };
    s.emit(Event::Connected {
        addr,
        peer_id: theirs.peer_id,
        incoming,
    });
    let fast = theirs.supports_fast();
    let writer = {
        let s = s.clone();
        let (uploaded, choked, queued) = (uploaded.clone(), choked.clone(), queued.clone());
        std::thread::Builder::new()
            .name("bt-write".into())
            .stack_size(256 * 1024)
            .spawn(move || write_loop(&s, wstream, rx, &uploaded, &choked, &queued, fast))
    };
    let n = s.limits().piece_count;
    let mut c = Conn {
        s,
        key,
        addr,
        stream,
        tx,
        buf: vec![0; s.limits().max_frame() as usize + 4 + RECV_START],
        start: 0,
        end: 0,
        bits: PeerPieces::new(n),
        peer_choking: true,
        am_interested: false,
        outstanding: HashMap::new(),
        target: 64,
        max_target: s.opts().max_requests.max(MIN_REQUESTS),
        last_block: Instant::now(),
        last_recv: Instant::now(),
        last_tick: Instant::now(),
        choked,
        downloaded: downloaded.clone(),
        queued,
        fast,
        ext: super::pex::ConnExt::new(s, key, addr, incoming),
        rate_cap: s.download_limit().effective_rate().map(|_| MIN_REQUESTS),
        inorder: s.ordered(),
        serving: Vec::new(),
        capped: false,
        read_wait: TICK,
    };
    let reason = if writer.is_err() {
        "cannot start a thread".to_string()
    } else {
        // A panic ends the session like an error: the clean-up below still runs.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            c.greet(&theirs);
            c.run()
        }));
        match ran {
            Ok(Ok(())) => "stopped".to_string(),
            Ok(Err(e)) => e,
            Err(_) => "internal error: connection thread panicked".to_string(),
        }
    };
    // Two seeds have nothing for each other, whichever side closed first.
    let reason = if c.bits.has_all() && s.complete() {
        BOTH_SEEDS.to_string()
    } else {
        reason
    };
    c.finish();
    // Every piece this peer completed is judged before the session is over.
    c.inorder.close();
    let _ = c.tx.send(Out::Close);
    let _ = c.stream.shutdown();
    if let Ok(h) = writer {
        let _ = h.join();
    }
    s.emit(Event::Disconnected {
        addr,
        reason: reason.clone(),
        downloaded: downloaded.load(Ordering::Relaxed),
        uploaded: uploaded.load(Ordering::Relaxed),
    });
    reason
}

/// A `port` message with this port panics the connection thread (tests of the clean-up only).
#[cfg(test)]
pub(super) const PANIC_PORT: u16 = 0xdead;

/// Why a peer whose send queue overran is dropped.
const OVERRUN: &str = "send queue full: the peer does not read what it is sent";

/// How a session that ended on a protocol violation names its reason.
const PROTOCOL_ERROR: &str = "protocol error";
/// How a session between two seeds names its reason.
const BOTH_SEEDS: &str = "both sides have every piece";

struct Conn<'a> {
    s: &'a Arc<Swarm>,
    key: u64,
    addr: SocketAddr,
    stream: stream::Reader,
    tx: Outbox,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The peer's pieces, kept in step with the picker's availability.
    bits: PeerPieces,
    peer_choking: bool,
    am_interested: bool,
    outstanding: HashMap<(u32, u32), (Block, Instant)>,
    target: usize,
    max_target: usize,
    last_block: Instant,
    last_recv: Instant,
    last_tick: Instant,
    choked: Arc<AtomicBool>,
    downloaded: Arc<AtomicU64>,
    queued: Arc<Uploads>,
    fast: bool,
    ext: super::pex::ConnExt,
    /// Most requests outstanding under a download cap (None: no cap).
    rate_cap: Option<usize>,
    /// The pieces this peer is sending in order, hashed as they arrive.
    inorder: super::store::Ordered,
    /// Requests read in this drain, handed to the writer together at its end.
    serving: Vec<Block>,
    /// The last fill got fewer blocks than it had room for because the picker caps this peer.
    capped: bool,
    /// The socket's read timeout now.
    read_wait: Duration,
}

/// Requests queued for the writer, and the ones the peer cancelled before they were served.
#[derive(Default)]
struct Uploads {
    queued: AtomicUsize,
    cancelled: std::sync::Mutex<Vec<Block>>,
    any_cancelled: AtomicBool,
}

impl Uploads {
    /// Whether `b` was cancelled (and forget the cancel).
    fn take_cancel(&self, b: &Block) -> bool {
        if !self.any_cancelled.load(Ordering::Relaxed) {
            return false;
        }
        let mut c = self.cancelled.lock().unwrap_or_else(|e| e.into_inner());
        let hit = c.iter().position(|x| x == b).map(|i| c.swap_remove(i));
        self.any_cancelled.store(!c.is_empty(), Ordering::Relaxed);
        hit.is_some()
    }
}

type Res = Result<(), String>;

impl Conn<'_> {
    fn send(&self, m: Message) {
        let _ = self.tx.send(Out::Msg(m));
    }

    fn greet(&mut self, theirs: &Handshake) {
        if theirs.supports_extended() {
            let ext = super::pex::ConnExt::ours(self.s, MAX_QUEUED_UPLOADS as u32);
            self.send(Message::Extended {
                id: 0,
                payload: ext.encode(),
            });
        }
        let st = self.s.lock();
        let have = st.picker.have_count();
        let msg = if self.fast && have == 0 {
            Some(Message::HaveNone)
        } else if self.fast && st.picker.all() {
            Some(Message::HaveAll)
        } else if have > 0 {
            Some(Message::Bitfield(st.picker.bitfield()))
        } else {
            None
        };
        drop(st);
        if let Some(m) = msg {
            self.send(m);
        }
    }

    fn run(&mut self) -> Res {
        let limits = *self.s.limits();
        loop {
            if self.s.stopped() {
                return Ok(());
            }
            // The buffer is lent out while its messages are handled, so that blocks are
            // written straight from it.
            let buf = std::mem::take(&mut self.buf);
            self.inorder.lend(&buf);
            let drained = self.drain(&buf, &limits);
            // The blocks written from it are hashed from it on the hashing thread: go on in
            // another buffer (holding the bytes not handled yet).
            self.buf = self.inorder.submit(buf, &mut self.start, &mut self.end);
            drained?;
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            } else if self.buf.len() - self.end < (64 << 10) {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            self.fill();
            if self.last_tick.elapsed() >= TICK {
                self.last_tick = Instant::now();
                self.tick()?;
            }
            // Under a download cap, read about a slice of the rate at a time and pay for it.
            let limit = self.s.download_limit();
            let wait = if self.capped { CAPPED_WAIT } else { TICK };
            if wait != self.read_wait && self.stream.set_read_timeout(wait).is_ok() {
                self.read_wait = wait;
            }
            let room = self.buf.len() - self.end;
            let want = if self.rate_cap.is_some() {
                room.min(limit.chunk())
            } else {
                room
            };
            match self.stream.read(&mut self.buf[self.end..self.end + want]) {
                Ok(0) => return Err("closed by peer".into()),
                Ok(n) => {
                    // A read that fills the room: the peer sends faster than we read, so
                    // read more at a time (fewer reads, and fewer ACKs sent from them).
                    if n == want && self.rate_cap.is_none() && self.buf.len() < RECV_MAX {
                        self.buf.resize(self.buf.len() - RECV_START + RECV_MAX, 0);
                    }
                    self.end += n;
                    self.last_recv = Instant::now();
                    if self.rate_cap.is_some() {
                        limit.take(n as u64);
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// Handle every whole message in `buf[start..end]`; blocks are written from `buf` as they
    /// are, all the blocks that come one after another at once (see [`Conn::arrived`]).
    fn drain(&mut self, buf: &[u8], limits: &peer::Limits) -> Res {
        let mut blocks = Vec::new();
        let res = self.drain_into(buf, limits, &mut blocks);
        self.serve_queued();
        // Blocks decoded before a bad message are still written.
        let written = self.arrived(&blocks);
        res.and(written)
    }

    fn drain_into<'b>(
        &mut self,
        buf: &'b [u8],
        limits: &peer::Limits,
        blocks: &mut Vec<(Block, &'b [u8])>,
    ) -> Res {
        loop {
            let rest = &buf[self.start..self.end];
            if let Some(block) = peer::decode_piece(rest, limits) {
                let b = block.map_err(|e| format!("{PROTOCOL_ERROR}: {e}"))?;
                self.start += b.used;
                blocks.push((self.got(b.piece, b.offset, b.data), b.data));
            } else {
                match peer::decode(rest, limits) {
                    Ok(Some((msg, used))) => {
                        self.start += used;
                        // Messages keep their order: the blocks before this one go first.
                        self.arrived(blocks)?;
                        blocks.clear();
                        self.handle(msg)?;
                    }
                    Ok(None) => return Ok(()),
                    Err(e) => return Err(format!("{PROTOCOL_ERROR}: {e}")),
                }
            }
            if self.tx.overrun() {
                return Err(OVERRUN.into());
            }
        }
    }

    fn handle(&mut self, msg: Message) -> Res {
        let fast_only = matches!(
            msg,
            Message::HaveAll
                | Message::HaveNone
                | Message::Reject(_)
                | Message::AllowedFast(_)
                | Message::Suggest(_)
        );
        if fast_only && !self.fast {
            return Err(format!(
                "{PROTOCOL_ERROR}: a fast-extension message without the fast extension"
            ));
        }
        match msg {
            Message::KeepAlive | Message::Suggest(_) => {}
            Message::Port(_port) =>
            {
                #[cfg(test)]
                if _port == PANIC_PORT {
                    panic!("test hook: a connection thread panics");
                }
            }
            Message::AllowedFast(_) => {}
            Message::Cancel(b) => {
                // BEP 6: with the fast extension every request gets exactly one answer, the
                // block or a reject, also when cancelled (a block already sent answered it).
                if let Some(i) = self.serving.iter().position(|x| *x == b) {
                    self.serving.remove(i);
                    if self.fast {
                        self.send(Message::Reject(b));
                    }
                } else if self.queued.queued.load(Ordering::Relaxed) > 0 {
                    let mut c = self
                        .queued
                        .cancelled
                        .lock()
                        .unwrap_or_else(|e| e.into_inner());
                    if c.len() < MAX_QUEUED_UPLOADS {
                        c.push(b);
                        self.queued.any_cancelled.store(true, Ordering::Relaxed);
                    }
                }
            }
            Message::Choke => {
                self.peer_choking = true;
                self.release_all();
            }
            Message::Unchoke => self.peer_choking = false,
            Message::Interested => {
                let mut st = self.s.lock();
                if let Some(p) = st.peers.get_mut(&self.key) {
                    p.interested = true;
                }
                super::choker::on_interested(self.s, &mut st, self.key);
            }
            Message::NotInterested => {
                if let Some(p) = self.s.lock().peers.get_mut(&self.key) {
                    p.interested = false;
                }
            }
            Message::Have(i) => {
                let mut st = self.s.lock();
                if st.picker.peer_have(&mut self.bits, i)
                    && !self.am_interested
                    && !st.picker.have(i)
                {
                    drop(st);
                    self.interest(true);
                }
            }
            Message::Bitfield(b) => {
                let mut st = self.s.lock();
                st.picker.peer_bitfield(&mut self.bits, &b);
                self.update_interest(st);
            }
            Message::HaveAll => {
                let mut st = self.s.lock();
                st.picker.peer_have_all(&mut self.bits);
                self.update_interest(st);
            }
            Message::HaveNone => {
                let mut st = self.s.lock();
                st.picker.peer_have_none(&mut self.bits);
                self.update_interest(st);
            }
            Message::Request(b) => self.serve(b),
            Message::Piece {
                piece,
                offset,
                data,
            } => {
                let b = self.got(piece, offset, &data);
                self.arrived(&[(b, &data)])?
            }
            Message::Reject(b) => {
                if self.outstanding.remove(&(b.piece, b.offset)).is_some() {
                    self.s.lock().picker.release(self.key, &b);
                }
            }
            Message::HashRequest(r) => {
                let _ = self.tx.send(Out::Msg(self.s.answer_hashes(&r)));
            }
            // The swarm asks for no hashes (a magnet's metadata phase does).
            Message::Hashes { .. } | Message::HashReject(_) => {}
            Message::Extended { id: 0, payload } => {
                if let Ok(h) = ExtHandshake::parse(&payload) {
                    if let Some(q) = h.reqq {
                        let q = (q as usize).clamp(MIN_REQUESTS, self.s.opts().max_requests);
                        self.max_target = q;
                        self.target = self.target.min(q);
                    }
                    let seed = self.bits.has_all();
                    self.ext.on_handshake(self.s, h, seed);
                    // The first PEX message goes out now, ahead of any blocks we queue.
                    let tx = self.tx.clone();
                    self.ext.tick(self.s, &move |m| {
                        let _ = tx.send(Out::Msg(m));
                    });
                }
            }
            Message::Extended { id, payload } => {
                let tx = self.tx.clone();
                let send = move |m| {
                    let _ = tx.send(Out::Msg(m));
                };
                self.ext
                    .on_message(self.s, id, &payload, &send)
                    .map_err(|e| format!("{PROTOCOL_ERROR}: {e}"))?;
            }
        }
        Ok(())
    }

    /// After the peer's pieces changed: say whether we are interested.
    fn update_interest(&mut self, st: std::sync::MutexGuard<'_, super::State>) {
        let interesting = st.picker.interesting(&self.bits);
        drop(st);
        self.interest(interesting);
    }

    fn interest(&mut self, on: bool) {
        let on = on && self.s.opts().download;
        if on != self.am_interested {
            self.am_interested = on;
            self.send(if on {
                Message::Interested
            } else {
                Message::NotInterested
            });
        }
    }

    /// A request: kept for [`Conn::serve_queued`] at the end of this read's messages, or
    /// rejected (fast extension) when we choke the peer or its queue is full.
    fn serve(&mut self, b: Block) {
        // A new request supersedes a cancel that arrived after the block was already sent.
        self.queued.take_cancel(&b);
        let room = self.queued.queued.load(Ordering::Relaxed) + self.serving.len();
        if !self.choked.load(Ordering::Relaxed) && room < MAX_QUEUED_UPLOADS {
            self.serving.push(b);
        } else if self.fast {
            self.send(Message::Reject(b));
        }
    }

    /// Hand the requests read since the last call to the writer, checked against our pieces
    /// under one lock: a read holding many requests wakes the writer once, with all of them
    /// queued, so it sends them in one batch (one uncork) instead of a few at a time.
    fn serve_queued(&mut self) {
        if self.serving.is_empty() {
            return;
        }
        let mut serving = std::mem::take(&mut self.serving);
        let mut missing = Vec::new();
        let st = self.s.lock();
        serving.retain(|b| {
            let have = st.picker.have(b.piece);
            if !have {
                missing.push(*b);
            }
            have
        });
        drop(st);
        self.queued
            .queued
            .fetch_add(serving.len(), Ordering::Relaxed);
        for b in serving.drain(..) {
            let _ = self.tx.send(Out::Block(b));
        }
        self.serving = serving;
        if self.fast {
            for b in missing {
                self.send(Message::Reject(b));
            }
        }
    }

    /// A block of `piece` at `offset` came: its request is answered.
    fn got(&mut self, piece: u32, offset: u32, data: &[u8]) -> Block {
        self.outstanding.remove(&(piece, offset));
        self.last_block = Instant::now();
        self.target = (self.target + 1).min(self.max_target);
        Block {
            piece,
            offset,
            length: data.len() as u32,
        }
    }

    /// `blocks` arrived, in this order (their requests already forgotten): write them.
    fn arrived(&mut self, blocks: &[(Block, &[u8])]) -> Res {
        if blocks.is_empty() {
            return Ok(());
        }
        // Counted until the pieces' hashes are queued, so that a stopping session waits for
        // them; once the swarm stops nothing more is written.
        let Some(writing) = self.s.begin_write() else {
            return Ok(());
        };
        let wanted = self.s.accept_blocks(self.key, Some(self.addr), blocks);
        if wanted.is_empty() {
            return Ok(());
        }
        let bytes: u64 = wanted.iter().map(|(_, d)| d.len() as u64).sum();
        self.downloaded.fetch_add(bytes, Ordering::Relaxed);
        // Written on the hashing thread, which hashes them right after: this thread goes on
        // receiving. A failed write stops the swarm (`Swarm::fail`), and with it this
        // connection.
        let (s, key) = (self.s.clone(), self.key);
        self.inorder.land(
            &wanted,
            Box::new(move |blocks, note| {
                let _writing = writing;
                let _ = s.land_blocks(key, blocks, Some(note));
            }),
        );
        Ok(())
    }

    fn fill(&mut self) {
        self.capped = false;
        if self.peer_choking || !self.am_interested {
            return;
        }
        let target = self.rate_cap.map_or(self.target, |c| self.target.min(c));
        let room = target.saturating_sub(self.outstanding.len());
        // Requests go out in batches of a quarter of the target (at least 8 when the target
        // allows): each batch wakes the writer thread once.
        let batch = (target / 4).max(8.min(target / 2));
        if room == 0 || (room < batch && !self.outstanding.is_empty()) {
            return;
        }
        let mut blocks = Vec::new();
        {
            let mut st = self.s.lock();
            st.picker.pick(self.key, &self.bits, room, &mut blocks);
            // Held back by the cap: read with a short timeout, so that the next fill follows
            // the verdict that lifts it.
            self.capped = blocks.len() < room && st.picker.capped(self.key);
        }
        if blocks.is_empty() {
            return;
        }
        // From a fast peer (one that filled a whole read, so the receive buffer grew), several
        // pieces' blocks interleaved on the wire, so that they arrive interleaved and are
        // hashed side by side; a slower peer's pieces come one after another, each complete
        // as soon as it can be.
        if self.buf.len() >= RECV_MAX {
            super::picker::interleave(&mut blocks, crate::sha1_lanes::LANES);
        }
        if self.outstanding.is_empty() {
            self.last_block = Instant::now();
        }
        let mut raw = Vec::with_capacity(blocks.len() * 17);
        let now = Instant::now();
        for b in blocks {
            Message::Request(b).encode(&mut raw);
            self.outstanding.insert((b.piece, b.offset), (b, now));
        }
        let _ = self.tx.send(Out::Raw(raw));
    }

    fn release_all(&mut self) {
        let mut st = self.s.lock();
        for (b, _) in self.outstanding.values() {
            st.picker.release(self.key, b);
        }
        self.outstanding.clear();
    }

    fn tick(&mut self) -> Res {
        if self.tx.overrun() {
            return Err(OVERRUN.into());
        }
        let opts = self.s.opts();
        if self.last_recv.elapsed() > opts.idle_timeout {
            return Err("silent for too long".into());
        }
        if !self.outstanding.is_empty() && self.last_block.elapsed() > opts.snub_timeout {
            return Err("snubbed: no block for too long".into());
        }
        let mut st = self.s.lock();
        // Requests the peer seems to have dropped, or that endgame made moot.
        let snub = opts.snub_timeout;
        let key = self.key;
        let picker = &mut st.picker;
        self.outstanding.retain(|_, (b, at)| {
            if at.elapsed() > snub {
                picker.release(key, b);
                false
            } else {
                picker.requested_by(key, b)
            }
        });
        if self.outstanding.len() < self.target / 2 {
            self.target = (self.target * 3 / 4).max(MIN_REQUESTS);
        }
        // Under a download cap, ask for about two seconds' worth, shared among the peers, so
        // that requests do not wait in line until they look snubbed.
        self.rate_cap = self.s.download_limit().effective_rate().map(|r| {
            let blocks = r.saturating_mul(2) / crate::geometry::BLOCK as u64;
            (blocks / st.peers.len().max(1) as u64).max(2) as usize
        });
        let interesting = st.picker.interesting(&self.bits);
        let both_seeds = st.picker.complete() && self.bits.has_all();
        drop(st);
        self.interest(interesting);
        let tx = self.tx.clone();
        self.ext.tick(self.s, &move |m| {
            let _ = tx.send(Out::Msg(m));
        });
        if both_seeds {
            return Err(BOTH_SEEDS.into());
        }
        Ok(())
    }

    fn finish(&mut self) {
        self.ext.finish(self.s);
        let mut st = self.s.lock();
        for (b, _) in self.outstanding.values() {
            st.picker.release(self.key, b);
        }
        self.outstanding.clear();
        st.picker.peer_have_none(&mut self.bits);
        st.picker.peer_gone(self.key);
        st.peers.remove(&self.key);
        if st.optimistic == Some(self.key) {
            st.optimistic = None;
        }
    }
}

/// Blocks the writer gathered to send together ([`stream::Sink::blocks_read`]):
/// plain, unthrottled blocks that came one after another in its queue.
#[derive(Default)]
struct Batch {
    /// Each block with its range of `extents`.
    blocks: Vec<(Block, std::ops::Range<usize>)>,
    extents: Vec<super::store::Extent>,
}

impl Batch {
    /// Send the gathered blocks (nothing when there are none) and count them as uploaded.
    fn send(
        &mut self,
        s: &Swarm,
        w: &mut stream::Sink<'_>,
        uploaded: &AtomicU64,
    ) -> io::Result<()> {
        if self.blocks.is_empty() {
            return Ok(());
        }
        w.blocks_read(&self.blocks, &self.extents)?;
        let bytes: u64 = self.blocks.iter().map(|(b, _)| b.length as u64).sum();
        uploaded.fetch_add(bytes, Ordering::Relaxed);
        s.count_upload(bytes);
        self.blocks.clear();
        self.extents.clear();
        Ok(())
    }
}

fn write_loop(
    s: &Swarm,
    mut stream: stream::Writer,
    rx: Inbox,
    uploaded: &AtomicU64,
    choked: &AtomicBool,
    queued: &Uploads,
    fast: bool,
) {
    let mut w = stream.sink(256 << 10);
    let mut data = Vec::new();
    let mut extents = Vec::new();
    let mut batch = Batch::default();
    let result = (|| -> io::Result<()> {
        loop {
            let first = match rx.recv_timeout(KEEPALIVE) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => Out::Msg(Message::KeepAlive),
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            let mut next = Some(first);
            while let Some(m) = next {
                next = rx.try_recv();
                // Messages keep their place after the blocks gathered before them.
                let b = match m {
                    Out::Block(b) => b,
                    Out::Msg(m) => {
                        batch.send(s, &mut w, uploaded)?;
                        if matches!(m, Message::Choke) {
                            w.release();
                        }
                        data.clear();
                        m.encode(&mut data);
                        w.send(&mut data)?;
                        continue;
                    }
                    Out::Raw(mut r) => {
                        batch.send(s, &mut w, uploaded)?;
                        w.send(&mut r)?;
                        continue;
                    }
                    Out::Close => return Ok(()),
                };
                queued.queued.fetch_sub(1, Ordering::Relaxed);
                if queued.take_cancel(&b) {
                    // Cancelled before it was served: not sent; rejected under the fast
                    // extension (BEP 6), which answers every request exactly once.
                    if fast {
                        batch.send(s, &mut w, uploaded)?;
                        data.clear();
                        Message::Reject(b).encode(&mut data);
                        w.send(&mut data)?;
                    }
                    continue;
                }
                if choked.load(Ordering::Relaxed) {
                    batch.send(s, &mut w, uploaded)?;
                    if fast {
                        data.clear();
                        Message::Reject(b).encode(&mut data);
                        w.send(&mut data)?;
                    }
                    continue;
                }
                let limited = s.upload_limit().limited();
                // Unthrottled blocks go together, in batches read from their files.
                if !limited {
                    let from = batch.extents.len();
                    if s.block_extents(b.piece, b.offset, b.length, &mut batch.extents)? {
                        batch.blocks.push((b, from..batch.extents.len()));
                        if batch.blocks.len() >= MAX_BATCH {
                            batch.send(s, &mut w, uploaded)?;
                        }
                        continue;
                    }
                }
                batch.send(s, &mut w, uploaded)?;
                if limited {
                    w.flush()?;
                    s.upload_limit().take(b.length as u64);
                    // Nothing of ours is pending: the time spent waiting on our own upload
                    // limit is not the peer reading slowly.
                    w.idle();
                }
                // Plain streams send the data from its files (no copy through this process);
                // encrypted ones, and stores without files, read it into the sink's buffer.
                extents.clear();
                if w.sends_files() && s.block_extents(b.piece, b.offset, b.length, &mut extents)? {
                    w.block_from_files(&b, &extents)?;
                } else {
                    w.block_read(&b, |buf| s.read_block(b.piece, b.offset, buf))?;
                }
                uploaded.fetch_add(b.length as u64, Ordering::Relaxed);
                s.count_upload(b.length as u64);
            }
            batch.send(s, &mut w, uploaded)?;
            w.flush()?;
            w.idle();
        }
    })();
    let _ = result;
    drop(w);
    let _ = stream.shutdown();
}
