//! A peer connection's byte stream after its set-up: the TCP socket and, when MSE selected RC4,
//! one keystream per direction. Dialing (MSE first or a plain handshake, as the
//! [`Policy`] says) ends here too.
//!
//! Invariants: every byte read from the socket is decrypted exactly once, in place, in the
//! buffer it was read into; every byte written is encrypted exactly once, in place, in the
//! buffer it is written from. With plaintext selected the keystreams are empty and cost one
//! branch per read or write, no copy. An address whose MSE handshake went unanswered is
//! remembered (bounded) so that `prefer` dials it with a plain handshake from then on.

use super::outbox::Paced;
use super::Swarm;
use crate::peer::mse::{self, Cipher, Keystream, Policy};
use crate::peer::{self, Handshake};
use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a dialed peer has to answer our MSE key before it is taken for a peer that does
/// not speak MSE (most such peers close the connection at once).
const MSE_ANSWER: Duration = Duration::from_secs(3);
/// How the reason of a failed encrypted dial begins (it goes on with the address).
pub(super) const ENCRYPTION_FAILED: &str = "no encrypted handshake with";
/// Most addresses remembered as wanting a plain handshake.
const MAX_PLAIN_ONLY: usize = 4096;

/// Addresses that did not answer an MSE handshake (process-wide: a peer that does not speak
/// MSE does not speak it for any torrent).
static PLAIN_ONLY: Mutex<Option<HashSet<SocketAddr>>> = Mutex::new(None);

fn plain_only(addr: SocketAddr) -> bool {
    let set = PLAIN_ONLY.lock().unwrap_or_else(|e| e.into_inner());
    set.as_ref().is_some_and(|s| s.contains(&addr))
}

fn remember_plain_only(addr: SocketAddr) {
    let mut set = PLAIN_ONLY.lock().unwrap_or_else(|e| e.into_inner());
    let set = set.get_or_insert_with(HashSet::new);
    if set.len() < MAX_PLAIN_ONLY {
        set.insert(addr);
    }
}

/// A connection with its cipher, during the BitTorrent handshake.
pub struct PeerStream {
    stream: TcpStream,
    cipher: Cipher,
}

impl PeerStream {
    /// A stream without encryption.
    pub fn plain(stream: TcpStream) -> PeerStream {
        PeerStream::new(stream, Cipher::plain())
    }

    /// A stream whose every further byte goes through `cipher`.
    pub fn new(stream: TcpStream, cipher: Cipher) -> PeerStream {
        PeerStream { stream, cipher }
    }

    /// The socket (for addresses and timeouts; never read or write it directly).
    pub fn socket(&self) -> &TcpStream {
        &self.stream
    }

    /// Whether the stream is RC4-encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.cipher.is_encrypted()
    }

    /// Encrypt `buf` in place and write it all.
    pub fn send(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.cipher.encrypt(buf);
        self.stream.write_all(buf)
    }

    /// Read exactly `buf.len()` bytes before `deadline`, decrypted in place.
    pub fn read_full(&mut self, buf: &mut [u8], deadline: Instant) -> io::Result<()> {
        super::conn::read_full(&mut self.stream, buf, deadline)?;
        self.cipher.decrypt(buf);
        Ok(())
    }

    /// Read the peer's BitTorrent handshake before `deadline`.
    pub fn read_handshake(&mut self, deadline: Instant) -> io::Result<Handshake> {
        let mut buf = [0u8; peer::HANDSHAKE_LEN];
        self.read_full(&mut buf, deadline)?;
        match Handshake::decode(&buf) {
            Ok(Some(h)) => Ok(h),
            Ok(None) => Err(io::ErrorKind::UnexpectedEof.into()),
            Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        }
    }

    /// The two directions apart, for the reader and the writer threads.
    pub(super) fn split(self) -> io::Result<(Reader, Writer)> {
        let w = self.stream.try_clone()?;
        let (send, recv) = self.cipher.split();
        Ok((
            Reader {
                stream: self.stream,
                ks: recv,
            },
            Writer {
                stream: w,
                ks: send,
            },
        ))
    }
}

/// The receiving half: reads decrypt in place.
pub(super) struct Reader {
    stream: TcpStream,
    ks: Keystream,
}

impl Reader {
    pub(super) fn shutdown(&self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Both)
    }
}

impl Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.stream.read(buf)?;
        self.ks.apply(&mut buf[..n]);
        Ok(n)
    }
}

/// The sending half: [`Sink::send`] encrypts its (owned, mutable) buffer in place.
pub(super) struct Writer {
    stream: TcpStream,
    ks: Keystream,
}

impl Writer {
    /// A buffered sink of `capacity` bytes over this half, whose peer must take a minimum
    /// rate while data is pending ([`Paced`]).
    pub(super) fn sink(&mut self, capacity: usize) -> Sink<'_> {
        Sink {
            w: io::BufWriter::with_capacity(capacity, Paced::new(&self.stream)),
            ks: &mut self.ks,
        }
    }

    pub(super) fn shutdown(&self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Both)
    }
}

/// Buffered, encrypting writes.
pub(super) struct Sink<'a> {
    w: io::BufWriter<Paced<'a>>,
    ks: &'a mut Keystream,
}

impl Sink<'_> {
    /// Encrypt `buf` in place (nothing when plain) and write it.
    #[inline]
    pub(super) fn send(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.ks.apply(buf);
        self.w.write_all(buf)
    }

    pub(super) fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// Everything was sent: the minimum rate's next window starts with the next write.
    pub(super) fn idle(&mut self) {
        self.w.get_mut().idle();
    }
}

/// Why a dial did not give a handshaken stream.
pub(super) enum DialError {
    /// Nobody listens there (now).
    Refused,
    /// Anything else; with a reason worth reporting (encryption failures).
    Failed(Option<String>),
}

fn connect(s: &Swarm, addr: SocketAddr) -> Result<TcpStream, DialError> {
    let t = s.opts().handshake_timeout;
    let connected = match s.opts().bind {
        Some(local) if local.is_ipv4() == addr.is_ipv4() => {
            crate::net::connect_from(local, addr, t)
        }
        _ => TcpStream::connect_timeout(&addr, t),
    };
    match connected {
        Ok(c) => {
            let _ = c.set_write_timeout(Some(t));
            Ok(c)
        }
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Err(DialError::Refused),
        Err(_) => Err(DialError::Failed(None)),
    }
}

/// Connect to `addr` and exchange handshakes as the swarm's encryption policy says: MSE first
/// (`prefer`, `require`), falling back to a plain handshake on a peer that does not answer it
/// (`prefer` only, remembered per address), or plain only (`off`).
pub(super) fn dial(s: &Swarm, addr: SocketAddr) -> Result<(PeerStream, Handshake), DialError> {
    let policy = s.opts().encryption;
    let t = s.opts().handshake_timeout;
    let ours = s.handshake(s.info_hash().0).encode();
    if policy.dial_encrypted() && !(policy.plain_fallback() && plain_only(addr)) {
        let stream = connect(s, addr)?;
        match mse_dial(stream, s.info_hash().0, policy, ours.to_vec(), t) {
            Ok(mut ps) => {
                let theirs = ps
                    .read_handshake(Instant::now() + t)
                    .map_err(|_| DialError::Failed(None))?;
                return Ok((ps, theirs));
            }
            Err(_) if policy.plain_fallback() => remember_plain_only(addr),
            Err(e) => {
                return Err(DialError::Failed(Some(format!(
                    "{ENCRYPTION_FAILED} {addr} (encryption required): {e}"
                ))))
            }
        }
    }
    let mut ps = PeerStream::plain(connect(s, addr)?);
    let mut buf = ours;
    ps.send(&mut buf).map_err(|_| DialError::Failed(None))?;
    let theirs = ps
        .read_handshake(Instant::now() + t)
        .map_err(|_| DialError::Failed(None))?;
    Ok((ps, theirs))
}

/// The initiator side of MSE on `stream`, with our BitTorrent handshake `ia` as the initial
/// payload; the peer must answer within [`MSE_ANSWER`] and finish within `timeout`.
fn mse_dial(
    mut stream: TcpStream,
    info_hash: [u8; 20],
    policy: Policy,
    ia: Vec<u8>,
    timeout: Duration,
) -> io::Result<PeerStream> {
    let random = |e: getrandom::Error| io::Error::other(format!("no random bytes: {e}"));
    let mut i = mse::Initiator::new(
        mse::random_private().map_err(random)?,
        mse::random_pad(mse::MAX_PAD).map_err(random)?,
        info_hash,
        policy.methods(),
        ia,
    );
    stream.write_all(&i.hello())?;
    let started = Instant::now();
    let mut chunk = [0u8; 128];
    let mut answered = false;
    // Bounded: every read makes progress or fails, the handshake is at most about 1.2 KB.
    while i.want() > 0 {
        let limit = if answered { timeout } else { MSE_ANSWER };
        let left = limit.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the peer did not answer the MSE handshake in time",
            ));
        }
        stream.set_read_timeout(Some(left))?;
        let n = i.want().min(chunk.len());
        match stream.read(&mut chunk[..n]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed the connection during the MSE handshake",
                ))
            }
            Ok(got) => {
                answered = true;
                let out = i
                    .feed(&chunk[..got])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                if !out.is_empty() {
                    stream.write_all(&out)?;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let outcome = i
        .finish()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "MSE handshake incomplete"))?;
    Ok(PeerStream::new(stream, outcome.cipher))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metainfo::InfoHash;
    use crate::peer::{Limits, PeerId};
    use crate::swarm::store::MemStore;
    use crate::swarm::{Listener, Options, SwarmConfig};
    use std::net::TcpListener;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::thread::JoinHandle;

    const IH: [u8; 20] = [7; 20];

    fn swarm(policy: Policy, have: bool) -> Arc<Swarm> {
        Swarm::new(SwarmConfig {
            info_hash: InfoHash(IH),
            limits: Limits::new(16384, 16384),
            hashes: vec![[0; 20]],
            have: &[have],
            store: Arc::new(MemStore::new(vec![0; 16384], 16384)),
            opts: Options {
                encryption: policy,
                ..Options::default()
            },
            events: Box::new(|_| {}),
        })
        .unwrap()
    }

    /// A peer that speaks only the plain protocol, for `n` connections: it closes one that does
    /// not start with the protocol string and answers a plain handshake. Returns how many it
    /// closed.
    fn plain_only_peer(n: usize) -> (SocketAddr, JoinHandle<usize>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let mut closed = 0;
            for _ in 0..n {
                let (mut c, _) = l.accept().unwrap();
                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut buf = [0u8; peer::HANDSHAKE_LEN];
                c.read_exact(&mut buf[..20]).unwrap();
                if &buf[..20] != peer::PROTOCOL {
                    closed += 1;
                    continue;
                }
                c.read_exact(&mut buf[20..]).unwrap();
                c.write_all(&Handshake::new(IH, PeerId([5; 20])).encode())
                    .unwrap();
            }
            closed
        });
        (addr, t)
    }

    #[test]
    fn prefer_falls_back_to_plain_and_remembers_the_address() {
        let s = swarm(Policy::Prefer, false);
        let (addr, peer) = plain_only_peer(4);
        // MSE (closed by the peer), then plain, in one dial.
        let (ps, h) = dial(&s, addr).ok().expect("fallback to a plain handshake");
        assert!(!ps.is_encrypted());
        assert_eq!(h.peer_id.0, [5; 20]);
        assert!(plain_only(addr));
        // The next dial goes straight to plain.
        let (ps, _) = dial(&s, addr).ok().expect("plain handshake");
        assert!(!ps.is_encrypted());
        drop(ps);
        // Under require the same peer fails, named in the reason.
        let r = swarm(Policy::Require, false);
        match dial(&r, addr) {
            Err(DialError::Failed(Some(reason))) => {
                assert!(reason.contains(&addr.to_string()), "{reason}")
            }
            _ => panic!("require reached a plaintext-only peer"),
        }
        assert_eq!(peer.join().unwrap(), 2, "MSE attempts the peer closed");
    }

    #[test]
    fn dial_selects_rc4_or_plain_as_the_policies_say() {
        let stop = Arc::new(AtomicBool::new(false));
        let mut seeds = Vec::new();
        for (seed_policy, dial_policy, encrypted) in [
            (Policy::Prefer, Policy::Prefer, false),
            (Policy::Prefer, Policy::Require, true),
            (Policy::Require, Policy::Prefer, true),
            (Policy::Off, Policy::Prefer, false),
            (Policy::Prefer, Policy::Off, false),
        ] {
            let seed = swarm(seed_policy, true);
            let l = Listener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = l.local_addr().unwrap();
            l.spawn(vec![seed.clone()], 4, Duration::from_secs(5), stop.clone())
                .unwrap();
            let d = swarm(dial_policy, false);
            let (mut ps, h) = dial(&d, addr)
                .ok()
                .unwrap_or_else(|| panic!("{seed_policy} <- {dial_policy}"));
            assert_eq!(h.peer_id, seed.peer_id());
            assert_eq!(
                ps.is_encrypted(),
                encrypted,
                "{seed_policy} <- {dial_policy}"
            );
            // The seeder's first message (its extension handshake) reads correctly through the
            // cipher.
            let mut first = [0u8; 5];
            ps.read_full(&mut first, Instant::now() + Duration::from_secs(5))
                .unwrap();
            let len = u32::from_be_bytes(first[..4].try_into().unwrap());
            assert!(
                len < 1000 && first[4] == 20,
                "{seed_policy} <- {dial_policy}: {first:?}"
            );
            seeds.push(seed);
        }
        for s in seeds {
            s.shutdown();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
