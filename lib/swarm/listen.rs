//! Accepting incoming connections for one or more torrents.
//!
//! One accept thread, blocked in accept(2); each accepted connection gets a thread that reads the
//! handshake before a deadline and hands the connection to the swarm of its info hash. At most
//! `max_handshakes` handshake threads run at once (counted before each is spawned; an evicted one
//! counts until it ends); when a new connection arrives and all are taken, the oldest pending one
//! is closed to make room and the newcomer waits for its thread to end. So a flood of idle connections costs bounded
//! threads and memory, and a newcomer that speaks promptly always gets its turn. Working
//! connections are counted separately, by each swarm's `max_peers`.
//!
//! A connection that does not start with the BitTorrent protocol string is taken for an MSE
//! (Message Stream Encryption) handshake, as aria2, Transmission and libtorrent send first:
//! [`crate::peer::mse::Responder`] runs it within the same deadline, accepting the methods of
//! the swarms' [`mse::Policy`] (plaintext preferred when both are offered and allowed; RC4 for
//! the whole stream otherwise). The BitTorrent handshake then comes in the MSE initial payload
//! or, after it, on the wire (through the cipher). `require` refuses a plain handshake.

use super::stream::PeerStream;
use super::{conn, Swarm};
use crate::peer::{self, mse, Handshake};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A bound listening socket.
pub struct Listener {
    inner: TcpListener,
}

impl Listener {
    /// Bind `addr` (port 0: any free port).
    pub fn bind(addr: SocketAddr) -> io::Result<Listener> {
        Ok(Listener {
            inner: TcpListener::bind(addr)?,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Accept connections for `swarms` on a background thread until `stop` is raised.
    ///
    /// The thread blocks in accept(2). It sees `stop` within a second (the listening
    /// socket's receive timeout); [`Closer::close`] on the handle returned wakes it at once.
    pub fn spawn(
        self,
        swarms: Vec<Arc<Swarm>>,
        max_handshakes: usize,
        handshake_timeout: Duration,
        stop: Arc<AtomicBool>,
    ) -> io::Result<Closer> {
        self.inner.set_nonblocking(false)?;
        // Linux's accept(2) honours SO_RCVTIMEO: the thread wakes to look at `stop` now and
        // then without polling.
        socket2::SockRef::from(&self.inner).set_read_timeout(Some(STOP_CHECK))?;
        let closer = Closer {
            socket: self.inner.try_clone()?,
            stop: stop.clone(),
            handshakes: Arc::new(Handshakes::new(max_handshakes)),
        };
        let handshakes = closer.handshakes.clone();
        std::thread::Builder::new()
            .name("bt-listen".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                let mut next_id = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let (stream, _) = match self.inner.accept() {
                        Ok(x) => x,
                        Err(e) => {
                            // The receive timeout ran out or a signal came: look at `stop`
                            // again. Out of descriptors or similar: back off, not spin.
                            use io::ErrorKind::{Interrupted, TimedOut, WouldBlock};
                            if !matches!(e.kind(), WouldBlock | TimedOut | Interrupted) {
                                std::thread::sleep(Duration::from_millis(100));
                            }
                            continue;
                        }
                    };
                    // Accepted sockets inherit the listener's receive timeout.
                    if stream.set_read_timeout(None).is_err() {
                        continue;
                    }
                    let Ok(clone) = stream.try_clone() else {
                        continue;
                    };
                    next_id += 1;
                    let id = next_id;
                    // A thread slot is taken before the thread is spawned: at most
                    // `max_handshakes` handshake threads run, evicted ones included.
                    if !handshakes.enter(id, clone, &stop) {
                        break;
                    }
                    let swarms = swarms.clone();
                    let hashes: Vec<[u8; 20]> = swarms
                        .iter()
                        .flat_map(|s| std::iter::once(s.info_hash()).chain(s.opts().info_hash_v2))
                        .map(|h| h.0)
                        .collect();
                    let policy = swarms
                        .first()
                        .map_or(mse::Policy::default(), |s| s.opts().encryption);
                    let slots = handshakes.clone();
                    let spawned = std::thread::Builder::new()
                        .name("bt-accept".into())
                        .stack_size(256 * 1024)
                        .spawn(move || {
                            let _ = stream.set_nonblocking(false);
                            let deadline = Instant::now() + handshake_timeout;
                            let h = read_any_handshake(stream, &hashes, policy, deadline);
                            slots.leave(id);
                            if let Ok((stream, h)) = h {
                                if let Some(s) = swarms.iter().find(|s| s.answers(&h.info_hash)) {
                                    if !s.stopped() {
                                        s.accept(stream, h);
                                    }
                                }
                            }
                        });
                    if spawned.is_err() {
                        handshakes.leave(id);
                    }
                }
            })?;
        Ok(closer)
    }
}

/// How often a listener blocked in accept looks at its stop flag when nobody wakes it.
pub const STOP_CHECK: Duration = Duration::from_secs(1);

/// Stops a spawned [`Listener`] at once: raises its stop flag and shuts its socket down, which
/// wakes the accept. Dropping it does nothing (the listener then stops within a second
/// of its flag being raised).
pub struct Closer {
    socket: TcpListener,
    stop: Arc<AtomicBool>,
    handshakes: Arc<Handshakes>,
}

impl Closer {
    /// Raise the stop flag and wake the accept thread; the port is free once it has returned.
    pub fn close(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = socket2::SockRef::from(&self.socket).shutdown(Shutdown::Both);
    }

    /// The most handshake threads that have run at once (for tests).
    pub fn peak_handshakes(&self) -> usize {
        self.handshakes.lock().peak
    }
}

/// Handshake thread slots: the connections still handshaking (oldest first) and how many
/// handshake threads are alive, evicted ones included until they notice.
struct Handshakes {
    max: usize,
    state: Mutex<Slots>,
    freed: Condvar,
}

#[derive(Default)]
struct Slots {
    pending: VecDeque<(u64, TcpStream)>,
    running: usize,
    peak: usize,
}

impl Handshakes {
    fn new(max: usize) -> Handshakes {
        Handshakes {
            max: max.max(1),
            state: Mutex::default(),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take a slot for connection `id` (its socket `clone` lets it be evicted). When every
    /// slot is taken, the oldest pending handshake is shut down (its thread then ends at its
    /// next read) and this waits until a thread has ended; false if `stop` is raised first.
    fn enter(&self, id: u64, clone: TcpStream, stop: &AtomicBool) -> bool {
        let mut st = self.lock();
        while st.running >= self.max {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            // Threads running but no longer pending were evicted and are on their way out:
            // evict another only when none is.
            if st.running <= st.pending.len() {
                if let Some((_, old)) = st.pending.pop_front() {
                    let _ = old.shutdown(Shutdown::Both);
                }
            }
            st = self
                .freed
                .wait_timeout(st, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        st.running += 1;
        st.peak = st.peak.max(st.running);
        st.pending.push_back((id, clone));
        true
    }

    /// The handshake thread of connection `id` is done with its handshake.
    fn leave(&self, id: u64) {
        let mut st = self.lock();
        st.pending.retain(|(i, _)| *i != id);
        st.running = st.running.saturating_sub(1);
        drop(st);
        self.freed.notify_one();
    }
}

/// Read the first handshake of an incoming connection before `deadline`: a plain BitTorrent
/// handshake (unless `policy` requires encryption), or an MSE handshake carrying one, answered
/// with a method `policy` accepts. The stream comes back with its cipher.
fn read_any_handshake(
    mut stream: TcpStream,
    info_hashes: &[[u8; 20]],
    policy: mse::Policy,
    deadline: Instant,
) -> io::Result<(PeerStream, Handshake)> {
    let mut buf = [0u8; peer::HANDSHAKE_LEN];
    conn::read_full(&mut stream, &mut buf[..20], deadline)?;
    if &buf[..20] == peer::PROTOCOL {
        if !policy.accepts_plain() {
            return Err(invalid("plain handshake refused: encryption is required"));
        }
        conn::read_full(&mut stream, &mut buf[20..], deadline)?;
        return Ok((PeerStream::plain(stream), decode_handshake(&buf)?));
    }
    let (ia, cipher) = mse_accept(&mut stream, &buf[..20], info_hashes, policy, deadline)?;
    // The BitTorrent handshake is in the initial payload, or follows it on the wire. The
    // responder refuses a longer payload (bytes after the handshake would have to be replayed
    // to the connection, which is not supported); checked again so nothing can panic.
    if ia.len() > peer::HANDSHAKE_LEN {
        return Err(invalid("MSE initial payload longer than a handshake"));
    }
    buf[..ia.len()].copy_from_slice(&ia);
    let mut ps = PeerStream::new(stream, cipher);
    ps.read_full(&mut buf[ia.len()..], deadline)?;
    let h = decode_handshake(&buf)?;
    Ok((ps, h))
}

fn decode_handshake(buf: &[u8; peer::HANDSHAKE_LEN]) -> io::Result<Handshake> {
    match Handshake::decode(buf) {
        Ok(Some(h)) => Ok(h),
        Ok(None) => Err(io::ErrorKind::UnexpectedEof.into()),
        Err(e) => Err(invalid(e)),
    }
}

fn invalid<E: Into<Box<dyn std::error::Error + Send + Sync>>>(e: E) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Run the responder side of an MSE handshake whose first bytes `first` were read; returns the
/// decrypted initial payload and the cipher of the rest of the stream. An initiator offering
/// no method `policy` accepts is refused (the connection is closed).
fn mse_accept(
    stream: &mut TcpStream,
    first: &[u8],
    info_hashes: &[[u8; 20]],
    policy: mse::Policy,
    deadline: Instant,
) -> io::Result<(Vec<u8>, mse::Cipher)> {
    // No random bytes, no handshake: a predictable private key would let anyone decrypt.
    let pad_len = crate::tracker::random_bytes::<1>()?[0] as usize % 64;
    let pad: [u8; 64] = crate::tracker::random_bytes()?;
    let mut r = mse::Responder::new(
        crate::tracker::random_bytes()?,
        pad[..pad_len].to_vec(),
        info_hashes.to_vec(),
        policy.methods(),
    )
    .max_initial_payload(peer::HANDSHAKE_LEN);
    let mut out = r.feed(first).map_err(invalid)?;
    let mut chunk = [0u8; 128];
    // Bounded: every read makes progress or fails, and the responder needs at most
    // 96 + 512 + 20 + 34 + 514 + 68 bytes.
    while r.want() > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "MSE handshake timed out",
            ));
        }
        if !out.is_empty() {
            stream.set_write_timeout(Some(left))?;
            stream.write_all(&out)?;
            out.clear();
            continue;
        }
        stream.set_read_timeout(Some(left))?;
        let n = r.want().min(chunk.len());
        match stream.read(&mut chunk[..n]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(got) => out = r.feed(&chunk[..got]).map_err(invalid)?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if !out.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        stream.set_write_timeout(Some(left.max(Duration::from_millis(1))))?;
        stream.write_all(&out)?;
    }
    let outcome = r
        .finish()
        .ok_or_else(|| invalid("MSE handshake incomplete"))?;
    Ok((outcome.ia, outcome.cipher))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::mse::{req1, req23, KeyPair, Rc4, CRYPTO_PLAIN, CRYPTO_RC4, KEY_LEN};
    use std::net::TcpListener;

    const IH: [u8; 20] = [0x42; 20];

    /// A connected loopback pair: (initiator side, responder side), both with timeouts.
    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        for s in [&a, &b] {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        }
        (a, b)
    }

    /// Run the responder (policy `prefer`) on a thread; the test drives the initiator side.
    fn respond(b: TcpStream) -> std::thread::JoinHandle<io::Result<Handshake>> {
        respond_with(b, mse::Policy::Prefer)
    }

    fn respond_with(
        b: TcpStream,
        policy: mse::Policy,
    ) -> std::thread::JoinHandle<io::Result<Handshake>> {
        std::thread::spawn(move || {
            read_any_handshake(
                b,
                &[[1; 20], IH],
                policy,
                Instant::now() + Duration::from_secs(5),
            )
            .map(|(_, h)| h)
        })
    }

    /// An initiator: sends Ya and padding, reads Yb, sends the rest offering `provide` with
    /// `ia` as initial payload, then `after` in plain. Returns the decrypted crypto_select, or
    /// None when the responder closed the connection.
    fn initiate(a: &mut TcpStream, provide: u32, ia: &[u8], after: &[u8]) -> Option<u32> {
        let keys = KeyPair::new([0x33; 20]);
        let mut first = keys.public.to_vec();
        first.extend_from_slice(&[7; 100]);
        a.write_all(&first).unwrap();
        let mut yb = [0u8; KEY_LEN];
        a.read_exact(&mut yb).unwrap();
        let s = keys.shared(&yb).unwrap();
        let mut msg = req1(&s).to_vec();
        msg.extend_from_slice(&req23(&IH, &s));
        let mut tail = vec![0u8; 8];
        tail.extend_from_slice(&provide.to_be_bytes());
        tail.extend_from_slice(&3u16.to_be_bytes());
        tail.extend_from_slice(&[0; 3]);
        tail.extend_from_slice(&(ia.len() as u16).to_be_bytes());
        tail.extend_from_slice(ia);
        Rc4::mse(b"keyA", &s, &IH).apply(&mut tail);
        msg.extend_from_slice(&tail);
        msg.extend_from_slice(after);
        a.write_all(&msg).unwrap();
        // Skip PadB: find the encrypted VC.
        let mut vc = [0u8; 8];
        Rc4::mse(b"keyB", &s, &IH).apply(&mut vc);
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(&vc) {
            assert!(got.len() < 600, "no VC from the responder");
            match a.read(&mut byte) {
                Ok(1) => got.push(byte[0]),
                _ => return None,
            }
        }
        let mut rest = [0u8; 6];
        a.read_exact(&mut rest).unwrap();
        let mut dec = Rc4::mse(b"keyB", &s, &IH);
        dec.apply(&mut [0u8; 8]);
        dec.apply(&mut rest);
        Some(u32::from_be_bytes(rest[..4].try_into().unwrap()))
    }

    fn handshake_bytes() -> Vec<u8> {
        Handshake::new(IH, peer::PeerId([9; 20])).encode().to_vec()
    }

    /// A listener for no swarm on a free loopback port: its address, stop flag and closer.
    fn listening(
        max_handshakes: usize,
        timeout: Duration,
    ) -> (SocketAddr, Arc<AtomicBool>, Closer) {
        let l = Listener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = l.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let closer = l
            .spawn(Vec::new(), max_handshakes, timeout, stop.clone())
            .unwrap();
        (addr, stop, closer)
    }

    #[test]
    fn close_frees_the_port_at_once_and_the_flag_alone_within_stop_check() {
        for wake in [true, false] {
            let (addr, stop, closer) = listening(4, Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(50));
            let t0 = Instant::now();
            if wake {
                closer.close();
            } else {
                stop.store(true, Ordering::Relaxed);
                drop(closer);
            }
            let limit = if wake {
                Duration::from_millis(300)
            } else {
                STOP_CHECK + Duration::from_secs(1)
            };
            // The port is free once the accept thread has returned and dropped its socket.
            while TcpListener::bind(addr).is_err() {
                assert!(t0.elapsed() < limit, "port still held (wake: {wake})");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    #[test]
    fn handshake_threads_never_exceed_the_cap_and_evicted_peers_are_closed() {
        let (addr, _stop, closer) = listening(4, Duration::from_secs(30));
        // Silent connections: each holds a handshake thread until evicted.
        let conns: Vec<TcpStream> = (0..40)
            .map(|_| {
                let c = TcpStream::connect(addr).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                c
            })
            .collect();
        // All but the last four are evicted long before the 30 s handshake deadline.
        let t0 = Instant::now();
        for mut c in conns.iter().take(36) {
            assert_eq!(c.read(&mut [0u8; 1]).unwrap_or(0), 0);
        }
        assert!(t0.elapsed() < Duration::from_secs(10));
        assert!(
            closer.peak_handshakes() <= 4,
            "{} handshake threads at once",
            closer.peak_handshakes()
        );
        assert!(closer.peak_handshakes() >= 1);
        closer.close();
    }

    #[test]
    fn mse_with_the_handshake_in_the_initial_payload() {
        let (mut a, b) = pair();
        let t = respond(b);
        let hs = handshake_bytes();
        let select = initiate(&mut a, CRYPTO_PLAIN | CRYPTO_RC4, &hs, &[]);
        assert_eq!(select, Some(CRYPTO_PLAIN));
        let h = t.join().unwrap().unwrap();
        assert_eq!((h.info_hash, h.peer_id.0), (IH, [9; 20]));
    }

    #[test]
    fn mse_with_the_handshake_after_it_in_plain() {
        let (mut a, b) = pair();
        let t = respond(b);
        let hs = handshake_bytes();
        // Split across the initial payload and the wire.
        let select = initiate(&mut a, CRYPTO_PLAIN | CRYPTO_RC4, &hs[..30], &hs[30..]);
        assert_eq!(select, Some(CRYPTO_PLAIN));
        assert_eq!(t.join().unwrap().unwrap().peer_id.0, [9; 20]);
        let (mut a, b) = pair();
        let t = respond(b);
        assert_eq!(initiate(&mut a, CRYPTO_PLAIN, &[], &hs), Some(CRYPTO_PLAIN));
        assert_eq!(t.join().unwrap().unwrap().info_hash, IH);
    }

    #[test]
    fn legacy_handshake_works_unless_encryption_is_required() {
        let (mut a, b) = pair();
        let t = respond(b);
        a.write_all(&handshake_bytes()).unwrap();
        assert_eq!(t.join().unwrap().unwrap().peer_id.0, [9; 20]);
        let (mut a, b) = pair();
        let t = respond_with(b, mse::Policy::Require);
        a.write_all(&handshake_bytes()).unwrap();
        assert!(t.join().unwrap().is_err(), "plain accepted under require");
    }

    #[test]
    fn rc4_only_is_accepted_unless_encryption_is_off() {
        // Prefer and require select RC4 for an RC4-only initiator; the handshake that follows
        // on the wire is encrypted, and read through the cipher.
        for policy in [mse::Policy::Prefer, mse::Policy::Require] {
            let (mut a, b) = pair();
            let t = respond_with(b, policy);
            let hs = handshake_bytes();
            assert_eq!(
                initiate(&mut a, CRYPTO_RC4, &hs, &[]),
                Some(CRYPTO_RC4),
                "{policy:?}"
            );
            let h = t.join().unwrap().unwrap();
            assert_eq!((h.info_hash, h.peer_id.0), (IH, [9; 20]));
        }
        // Require selects RC4 even when plaintext is offered too.
        let (mut a, b) = pair();
        let t = respond_with(b, mse::Policy::Require);
        let select = initiate(&mut a, CRYPTO_PLAIN | CRYPTO_RC4, &handshake_bytes(), &[]);
        assert_eq!(select, Some(CRYPTO_RC4));
        assert_eq!(t.join().unwrap().unwrap().info_hash, IH);
        // Off refuses RC4-only.
        let (mut a, b) = pair();
        let t = respond_with(b, mse::Policy::Off);
        assert_eq!(initiate(&mut a, CRYPTO_RC4, &[], &[]), None);
        assert!(t.join().unwrap().is_err());
    }
}
