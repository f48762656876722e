//! The wire protocol ([`Wire`]) and fake peers with a scripted [`Behaviour`].

use super::*;
use bt::peer::{self, Block, Handshake, Limits, Message, PeerId};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One connection past the handshake, reading and writing with `bt::peer`'s codec.
pub struct Wire {
    pub stream: TcpStream,
    buf: Vec<u8>,
    limits: Limits,
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

impl Wire {
    /// Connect to `addr` and exchange handshakes for `s`'s torrent (5 s timeouts); panics if
    /// that fails.
    pub fn dial(addr: SocketAddr, s: &Sample) -> Wire {
        Wire::try_dial(addr, s).unwrap_or_else(|e| panic!("handshake with {addr}: {e}"))
    }

    /// Connect to `addr` and exchange handshakes for `s`'s torrent (5 s timeouts).
    pub fn try_dial(addr: SocketAddr, s: &Sample) -> std::io::Result<Wire> {
        Wire::try_dial_to(addr, s.info_hash, s.limits)
    }

    /// Connect to `addr` and exchange handshakes for the torrent of `info_hash` and `limits`
    /// (5 s timeouts), offering the fast and extension protocols.
    pub fn try_dial_to(
        addr: SocketAddr,
        info_hash: [u8; 20],
        limits: Limits,
    ) -> std::io::Result<Wire> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        Wire::handshake(stream, info_hash, limits)
    }

    /// [`Wire::dial`] with the receive buffer fixed at `bytes` before connecting (the kernel
    /// then never grows it), so that a test that stops reading knows how little the
    /// connection holds on our side.
    pub fn dial_with_receive_buffer(addr: SocketAddr, s: &Sample, bytes: usize) -> Wire {
        let dialed = (|| {
            let sock = socket2::Socket::new(
                socket2::Domain::for_address(addr),
                socket2::Type::STREAM,
                None,
            )?;
            sock.set_recv_buffer_size(bytes)?;
            sock.connect_timeout(&addr.into(), Duration::from_secs(5))?;
            Wire::handshake(sock.into(), s.info_hash, s.limits)
        })();
        dialed.unwrap_or_else(|e| panic!("handshake with {addr}: {e}"))
    }

    /// Exchange handshakes over `stream` (5 s timeouts from now on).
    fn handshake(
        mut stream: TcpStream,
        info_hash: [u8; 20],
        limits: Limits,
    ) -> std::io::Result<Wire> {
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(&Handshake::new(info_hash, PeerId::generate().unwrap()).encode())?;
        let mut hs = [0u8; peer::HANDSHAKE_LEN];
        stream.read_exact(&mut hs)?;
        Ok(Wire {
            stream,
            buf: Vec::new(),
            limits,
        })
    }

    /// Read the handshake of a peer that connected, answer it if it is for `info_hash`.
    fn accept(mut stream: TcpStream, info_hash: [u8; 20], limits: Limits) -> Option<Wire> {
        stream.set_nonblocking(false).ok()?;
        stream
            .set_write_timeout(Some(Duration::from_secs(5)))
            .ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut hs = [0u8; peer::HANDSHAKE_LEN];
        stream.read_exact(&mut hs).ok()?;
        match Handshake::decode(&hs) {
            Ok(Some(h)) if h.info_hash == info_hash => {}
            _ => return None,
        }
        let ours = Handshake::new(info_hash, PeerId::generate().unwrap());
        stream.write_all(&ours.encode()).ok()?;
        Some(Wire {
            stream,
            buf: Vec::new(),
            limits,
        })
    }

    /// Send one message; false if the connection is gone.
    pub fn send(&mut self, m: &Message) -> bool {
        self.stream.write_all(&m.to_bytes()).is_ok()
    }

    /// Send raw bytes; false if the connection is gone.
    pub fn send_raw(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// Read what has come (200 ms at most) into the buffer: false once the connection is
    /// closed.
    fn fill(&mut self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        self.stream
            .set_read_timeout(Some(
                left.clamp(Duration::from_millis(1), Duration::from_millis(200)),
            ))
            .unwrap();
        let mut chunk = [0u8; 64 << 10];
        match self.stream.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) => timed_out(&e),
        }
    }

    /// The next message; None on a close or when `deadline` passes. Panics on bytes the codec
    /// refuses (the other side broke the protocol).
    pub fn recv(&mut self, deadline: Instant) -> Option<Message> {
        loop {
            match peer::decode(&self.buf, &self.limits) {
                Ok(Some((m, used))) => {
                    self.buf.drain(..used);
                    return Some(m);
                }
                Ok(None) => {}
                Err(e) => panic!("the fake peer could not decode what it was sent: {e}"),
            }
            if Instant::now() >= deadline || !self.fill(deadline) {
                return None;
            }
        }
    }

    /// Read messages until one matches `want` (true) or `secs` pass or the connection closes.
    pub fn wait_for(&mut self, secs: u64, mut want: impl FnMut(&Message) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while let Some(m) = self.recv(deadline) {
            if want(&m) {
                return true;
            }
        }
        false
    }

    /// Whether the other side closed the connection before `secs` pass; what it sent
    /// meanwhile is decoded into the returned messages (up to the first undecodable frame).
    pub fn read_until_close(&mut self, secs: u64) -> (bool, Vec<Message>) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut closed = false;
        while Instant::now() < deadline {
            if !self.fill(deadline) {
                closed = true;
                break;
            }
            // Keep what can matter to the caller, not megabytes of junk.
            self.buf.truncate(1 << 20);
        }
        let mut got = Vec::new();
        let mut rest = &self.buf[..];
        while let Ok(Some((m, used))) = peer::decode(rest, &self.limits) {
            got.push(m);
            rest = &rest[used..];
        }
        (closed, got)
    }

    /// Whether the other side closed the connection before `secs` pass.
    pub fn closed_within(&mut self, secs: u64) -> bool {
        self.read_until_close(secs).0
    }
}

/// A full bitfield (every piece), spare bits clear.
pub fn full_bitfield(limits: &Limits) -> Vec<u8> {
    let mut bits = vec![0xffu8; limits.bitfield_len()];
    let spare = bits.len() * 8 - limits.piece_count as usize;
    if let Some(last) = bits.last_mut() {
        *last &= 0xffu8 << spare;
    }
    bits
}

/// Every block of the torrent, in order.
pub fn all_blocks(l: &Limits) -> Vec<Block> {
    (0..l.piece_count)
        .flat_map(|piece| {
            (0..l.piece_size(piece) as u32)
                .step_by(bt::geometry::BLOCK as usize)
                .map(move |offset| Block {
                    piece,
                    offset,
                    length: (l.piece_size(piece) as u32 - offset).min(bt::geometry::BLOCK),
                })
        })
        .collect()
}

/// What a fake peer saw.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Connections that completed the handshake.
    pub handshakes: usize,
    /// Requests received.
    pub requests: usize,
    /// Blocks sent.
    pub blocks_sent: usize,
    /// Connections the other side closed.
    pub closed: usize,
    /// Seconds from the hostile act to the close, per connection.
    pub close_after: Vec<f64>,
}

/// What a fake peer does on each connection after the handshake.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Claims every piece (BEP 6 have-all), unchokes, answers every request with garbage of
    /// the right length.
    Liar,
    /// Claims every piece (a bitfield), unchokes, takes requests and never answers them; the
    /// close is timed from the first request.
    Staller,
    /// Claims every piece, unchokes, then announces a frame of 4 GiB - 1 bytes and keeps
    /// sending junk (64 MiB at most).
    HugeFrame,
    /// Sends these bytes right after the handshake (a bad bitfield, a have out of range...).
    Raw(Vec<u8>),
    /// Has nothing, unchokes, and sprays unrequested blocks of garbage for every piece for
    /// 20 s.
    Sprayer,
    /// Sends this extension handshake payload, then a full bitfield, and reads until closed.
    Extension(Vec<u8>),
    /// Offers `ut_metadata` with `metadata_size` = `size` and answers every metadata request
    /// from `info` (counted in `requests`); has no pieces; closes after 3 s without a request.
    Metadata { size: u64, info: Vec<u8> },
}

impl Behaviour {
    fn run(&self, w: &mut Wire, seen: &Mutex<Seen>) {
        let limits = w.limits;
        let note_close = |w: &mut Wire, since: Instant, secs: u64| {
            if w.closed_within(secs) {
                let mut s = seen.lock().unwrap();
                s.closed += 1;
                s.close_after.push(since.elapsed().as_secs_f64());
            }
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        match self {
            Behaviour::Liar => {
                w.send(&Message::HaveAll);
                w.send(&Message::Unchoke);
                while let Some(m) = w.recv(deadline) {
                    if let Message::Request(b) = m {
                        seen.lock().unwrap().requests += 1;
                        let reply = Message::Piece {
                            piece: b.piece,
                            offset: b.offset,
                            data: vec![0x5a; b.length as usize],
                        };
                        if !w.send(&reply) {
                            break;
                        }
                        seen.lock().unwrap().blocks_sent += 1;
                    }
                }
                seen.lock().unwrap().closed += 1;
            }
            Behaviour::Staller => {
                w.send(&Message::Bitfield(full_bitfield(&limits)));
                w.send(&Message::Unchoke);
                let mut first: Option<Instant> = None;
                while let Some(m) = w.recv(deadline) {
                    if let Message::Request(_) = m {
                        first.get_or_insert_with(Instant::now);
                        seen.lock().unwrap().requests += 1;
                    }
                }
                let mut st = seen.lock().unwrap();
                if Instant::now() < deadline {
                    st.closed += 1;
                    st.close_after
                        .push(first.map_or(-1.0, |t| t.elapsed().as_secs_f64()));
                }
            }
            Behaviour::HugeFrame => {
                w.send(&Message::Bitfield(full_bitfield(&limits)));
                w.send(&Message::Unchoke);
                std::thread::sleep(Duration::from_millis(200));
                let mut evil = u32::MAX.to_be_bytes().to_vec();
                evil.push(7); // piece
                evil.extend_from_slice(&[0u8; 8]);
                let at = Instant::now();
                w.send_raw(&evil);
                let junk = vec![0x77u8; 1 << 20];
                for _ in 0..64 {
                    if !w.send_raw(&junk) {
                        break;
                    }
                }
                note_close(w, at, 10);
            }
            Behaviour::Raw(bytes) => {
                let at = Instant::now();
                w.send_raw(bytes);
                note_close(w, at, 10);
            }
            Behaviour::Sprayer => {
                w.send(&Message::Unchoke);
                let at = Instant::now();
                let end = at + Duration::from_secs(20);
                'spray: while Instant::now() < end {
                    for b in all_blocks(&limits) {
                        let m = Message::Piece {
                            piece: b.piece,
                            offset: b.offset,
                            data: vec![0xa5; bt::geometry::BLOCK as usize],
                        };
                        if !w.send(&m) {
                            break 'spray;
                        }
                        seen.lock().unwrap().blocks_sent += 1;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                note_close(w, at, 1);
            }
            Behaviour::Extension(payload) => {
                w.send(&Message::Extended {
                    id: 0,
                    payload: payload.clone(),
                });
                w.send(&Message::Bitfield(full_bitfield(&limits)));
                let deadline = Instant::now() + Duration::from_secs(30);
                while w.recv(deadline).is_some() {}
                seen.lock().unwrap().closed += 1;
            }
            Behaviour::Metadata { size, info } => {
                let h = bt::peer::ext::ours(Some(*size), false, None, "fake", 16);
                w.send(&Message::Extended {
                    id: 0,
                    payload: h.encode(),
                });
                let mut quiet_until = Instant::now() + Duration::from_secs(3);
                while let Some(m) = w.recv(quiet_until) {
                    let Message::Extended { id, payload } = m else {
                        continue;
                    };
                    let Ok(bt::peer::ext::Extended::Metadata(
                        bt::peer::metadata::Message::Request(piece),
                    )) = bt::peer::ext::decode(id, &payload, false)
                    else {
                        continue;
                    };
                    seen.lock().unwrap().requests += 1;
                    quiet_until = Instant::now() + Duration::from_secs(3);
                    let reply = bt::peer::metadata::answer(info, piece);
                    // Our ut_metadata number is the one bt's handshake gives.
                    let id = bt::peer::ext::OUR_UT_METADATA;
                    if !w.send(&Message::Extended {
                        id,
                        payload: reply.encode(),
                    }) {
                        break;
                    }
                }
            }
        }
    }
}

/// A fake peer listening on a loopback address of its own, which bt-fetch dials (`--peer`).
/// Each connection for the sample's torrent exchanges handshakes and then plays the
/// behaviour on its own thread. Everything stops after 60 s or when dropped.
pub struct FakePeer {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
}

impl FakePeer {
    pub fn start(s: &Sample, behaviour: Behaviour) -> FakePeer {
        let l = TcpListener::bind((next_ip().as_str(), 0)).unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let (info_hash, limits) = (s.info_hash, s.limits);
        let behaviour = Arc::new(behaviour);
        std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(60);
            while Instant::now() < end && !stop2.load(Ordering::Relaxed) {
                let Ok((stream, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let (seen, behaviour, stop) = (seen2.clone(), behaviour.clone(), stop2.clone());
                std::thread::spawn(move || {
                    let Some(mut w) = Wire::accept(stream, info_hash, limits) else {
                        return;
                    };
                    seen.lock().unwrap().handshakes += 1;
                    if !stop.load(Ordering::Relaxed) {
                        behaviour.run(&mut w, &seen);
                    }
                });
            }
        });
        FakePeer { addr, seen, stop }
    }

    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }
    pub fn ip(&self) -> String {
        self.addr.ip().to_string()
    }
}

impl Drop for FakePeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What [`fetch_past`] saw: the finished bt-fetch, its summary, its peak RSS (kB).
pub struct PastHostile {
    pub run: Fetching,
    pub summary: Summary,
    pub peak_rss: u64,
}

/// bt-fetch of `s` (with `args`) from the `hostile` peers and one honest bt-seed (paced at
/// `rate` when given), dialed in that order. It must complete with the seeder's exact data,
/// bt-verify agreeing.
pub fn fetch_past(
    s: &Sample,
    hostile: &[&FakePeer],
    rate: Option<&str>,
    args: &[&str],
) -> PastHostile {
    let honest = match rate {
        Some(r) => Seeder::of(s).rate(r).start(),
        None => Seeder::of(s).start(),
    };
    let dl = s.path("dl");
    let mut run = hostile
        .iter()
        .fold(Fetcher::new(&s.torrent, &dl), |f, p| f.peer(p.addr))
        .peer(honest.peer())
        .args(args)
        .spawn();
    let watch = Watch::start(run.pid());
    let (code, summary) = run.finish(90);
    let (_, peak_rss) = watch.stop();
    assert_eq!(code, 0, "{summary:?}\n{}", run.stderr());
    assert!(summary.complete, "{summary:?}");
    // The hostile peers' data never reached the finished files.
    assert_eq!(s.verify(&dl).0, 0);
    s.assert_same(&dl);
    PastHostile {
        run,
        summary,
        peak_rss,
    }
}
