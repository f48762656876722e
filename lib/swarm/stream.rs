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
use super::store::Extent;
use super::Swarm;
use crate::peer::mse::{self, Cipher, Keystream, Policy};
use crate::peer::{self, Block, Handshake};
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
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

    /// How long a read waits for data before it gives up (`WouldBlock`/`TimedOut`).
    pub(super) fn set_read_timeout(&self, t: Duration) -> io::Result<()> {
        self.stream.set_read_timeout(Some(t))
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
            out: Paced::new(&self.stream),
            ks: &mut self.ks,
            // Zeroed once here; blocks are read into it without clearing it again.
            buf: vec![0; capacity.max(BLOCK_ROOM)],
            used: 0,
            corked: false,
            no_sendfile: false,
            header: Vec::with_capacity(PIECE_HEADER),
            data: Vec::new(),
        }
    }

    pub(super) fn shutdown(&self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Both)
    }
}

/// The header of a `piece` message.
const PIECE_HEADER: usize = 13;
/// Room for the largest block message.
const BLOCK_ROOM: usize = PIECE_HEADER + crate::geometry::BLOCK as usize;

/// Buffered, encrypting writes; blocks read in batches, or sent straight from their files.
///
/// Invariants: bytes reach the socket in the order they were handed in; each byte is encrypted
/// exactly once, when it enters the buffer or a batch. Data sent with `sendfile` never passes
/// through this process, so it is used only while the stream is plain; the socket is then
/// corked, so headers and file data leave in full segments, and uncorked by [`Sink::flush`].
/// A batch ([`Sink::blocks_read`]) needs no cork: one `writev` hands the kernel the buffer,
/// then header, data, header, data...
///
/// Why batches: per 16 KiB block, `sendfile` costs two system calls (the header, then the
/// data) and hands the receiver page-cache pages in fragments; one `writev` per batch copies
/// the data once into the socket instead, and the receiver gets whole runs of bytes. Measured
/// on loopback, 1 GiB in 1 MiB pieces from /dev/shm, medians of 9 runs alternating with
/// `sendfile` on a loaded machine: bt-fetch <- bt-seed, seeder CPU 0.77 -> 0.48 s, bt-fetch's
/// 1.72 -> 1.58 s, their sum 2.52 -> 2.10 s, wall 2.50 -> 2.20 s; libtorrent <- bt-seed,
/// seeder CPU 0.84 -> 0.48 s, sum 3.62 -> 3.08 s, wall 3.33 -> 3.01 s. `sendfile` stays for
/// throttled uploads (one block at a time anyway).
///
/// Why read the batch into a buffer rather than hand `writev` read-only maps of the files (as
/// before 2026-12-03): the buffer's second copy is into memory that stays in this core's
/// cache, while mapping costs a fault per 16 pages and a teardown per page on tmpfs (4 KiB
/// folios). bt-fetch <- bt-seed from /dev/shm, 1 GiB: perf's samples of one download each,
/// 0.41 -> 0.31 CPU-s in the seeder (the mapping's faults, PTE and rmap work, about 28% of its
/// samples, gone; page-cache lookups for `pread` and the second copy, about 0.06 s, added);
/// 16 alternating pairs, medians, 0.45 -> 0.37 CPU-s, downloader 1.26 -> 1.27; on a busier
/// host, 52 pairs against the previous build, means 0.508 -> 0.484. From ext4's page cache
/// (large folios) 0.325 -> 0.32; libtorrent downloading, 0.565 -> 0.53.
pub(super) struct Sink<'a> {
    out: Paced<'a>,
    ks: &'a mut Keystream,
    buf: Vec<u8>,
    /// Bytes of `buf` waiting to be written.
    used: usize,
    /// TCP_CORK is set.
    corked: bool,
    /// `sendfile` is not supported for the files: blocks are read instead.
    no_sendfile: bool,
    header: Vec<u8>,
    /// The data of the last batch ([`Sink::blocks_read`]), kept for the next one: at most
    /// `MAX_BATCH` blocks, 1 MiB; let go when the peer is choked ([`Sink::release`]).
    data: Vec<u8>,
}

impl Sink<'_> {
    /// Encrypt `buf` in place (nothing when plain) and write it.
    pub(super) fn send(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.ks.apply(buf);
        if buf.len() > self.buf.len() - self.used {
            self.write_buf()?;
        }
        if buf.len() >= self.buf.len() {
            return self.out.write_all(buf);
        }
        self.buf[self.used..self.used + buf.len()].copy_from_slice(buf);
        self.used += buf.len();
        Ok(())
    }

    /// Whether blocks may be sent from their files ([`Sink::block_from_files`]).
    pub(super) fn sends_files(&self) -> bool {
        !self.ks.is_encrypted() && !self.no_sendfile
    }

    /// Queue the `piece` message of `b`, its data read by `read` straight into the buffer (no
    /// zero-fill, no copy) and encrypted there.
    pub(super) fn block_read(
        &mut self,
        b: &Block,
        read: impl FnOnce(&mut [u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let n = PIECE_HEADER + b.length as usize;
        if n > self.buf.len() - self.used {
            self.write_buf()?;
        }
        self.header.clear();
        peer::encode_piece_header(b.piece, b.offset, b.length, &mut self.header);
        let msg = &mut self.buf[self.used..self.used + n];
        msg[..PIECE_HEADER].copy_from_slice(&self.header);
        read(&mut msg[PIECE_HEADER..])?;
        self.ks.apply(msg);
        self.used += n;
        Ok(())
    }

    /// Send the `piece` message of `b` whose data lies in `extents` (plain streams only, see
    /// [`Sink::sends_files`]): the header through the buffer, the file data with `sendfile`,
    /// pad bytes as zeros. A file that ends early is an error (the peer gets a cut message and
    /// the connection ends, as when a read fails).
    pub(super) fn block_from_files(&mut self, b: &Block, extents: &[Extent]) -> io::Result<()> {
        debug_assert!(!self.ks.is_encrypted());
        self.cork()?;
        let mut header = std::mem::take(&mut self.header);
        header.clear();
        peer::encode_piece_header(b.piece, b.offset, b.length, &mut header);
        let sent = self.send(&mut header);
        self.header = header;
        sent?;
        for e in extents {
            match e {
                Extent::File { file, offset, len } => self.file(file, *offset, *len)?,
                Extent::Zeros(n) => self.zeros(*n)?,
            }
        }
        Ok(())
    }

    /// Send the `piece` messages of `blocks`, the data of each in its range of `extents`,
    /// after what is buffered: the data read into one reused buffer in file order (a
    /// downloader asks for several pieces at once, their blocks interleaved), each run
    /// contiguous in a file with one `pread`, encrypted in the order it is sent; then header,
    /// data, header, data... in as few `writev` calls as the socket takes. A file shorter than
    /// the torrent says fails the batch before any of it is sent.
    pub(super) fn blocks_read(
        &mut self,
        blocks: &[(Block, std::ops::Range<usize>)],
        extents: &[Extent],
    ) -> io::Result<()> {
        let key = |e: &Extent| match e {
            Extent::File { file, offset, .. } => (0, Arc::as_ptr(file) as usize, *offset),
            Extent::Zeros(_) => (1, 0, 0),
        };
        let mut order: Vec<usize> = blocks.iter().flat_map(|(_, r)| r.clone()).collect();
        order.sort_by_key(|&i| key(&extents[i]));
        // Where each extent's bytes go in `data`: one after another in file order.
        let mut pos = vec![0usize; extents.len()];
        let mut total = 0usize;
        for &i in &order {
            pos[i] = total;
            total += extent_len(&extents[i]);
        }
        if self.data.len() < total {
            self.data.resize(total, 0);
        }
        let mut run: Option<(&File, u64, usize, usize)> = None;
        for &i in &order {
            let at = pos[i];
            match &extents[i] {
                Extent::File { file, offset, len } => {
                    let len = *len as usize;
                    match &mut run {
                        Some((f, o, start, n))
                            if std::ptr::eq(*f, &**file) && *o + *n as u64 == *offset =>
                        {
                            debug_assert_eq!(*start + *n, at);
                            *n += len;
                        }
                        _ => {
                            if let Some((f, o, start, n)) = run.take() {
                                read_exact_at(f, &mut self.data[start..start + n], o)?;
                            }
                            run = Some((file, *offset, at, len));
                        }
                    }
                }
                Extent::Zeros(n) => self.data[at..at + *n as usize].fill(0),
            }
        }
        if let Some((f, o, start, n)) = run.take() {
            read_exact_at(f, &mut self.data[start..start + n], o)?;
        }
        let mut headers = std::mem::take(&mut self.header);
        headers.clear();
        for (i, (b, r)) in blocks.iter().enumerate() {
            peer::encode_piece_header(b.piece, b.offset, b.length, &mut headers);
            if self.ks.is_encrypted() {
                self.ks.apply(&mut headers[i * PIECE_HEADER..]);
                for e in r.clone() {
                    let n = extent_len(&extents[e]);
                    self.ks.apply(&mut self.data[pos[e]..pos[e] + n]);
                }
            }
        }
        let mut iov = Vec::with_capacity(blocks.len() * 2 + 1);
        if self.used > 0 {
            iov.push(IoSlice::new(&self.buf[..self.used]));
        }
        for (i, (_, r)) in blocks.iter().enumerate() {
            iov.push(IoSlice::new(
                &headers[i * PIECE_HEADER..(i + 1) * PIECE_HEADER],
            ));
            for e in r.clone() {
                iov.push(IoSlice::new(
                    &self.data[pos[e]..pos[e] + extent_len(&extents[e])],
                ));
            }
        }
        let sent = write_all_vectored(&mut self.out, &mut iov);
        if sent.is_ok() {
            self.used = 0;
        }
        self.header = headers;
        sent
    }

    /// Let go of the batch buffer (the peer is choked: no blocks for it for a while).
    pub(super) fn release(&mut self) {
        self.data = Vec::new();
    }

    /// Hold partial segments back until [`Sink::flush`] (TCP_CORK).
    fn cork(&mut self) -> io::Result<()> {
        if !self.corked {
            socket2::SockRef::from(self.out.socket()).set_cork(true)?;
            self.corked = true;
        }
        Ok(())
    }

    /// `len` bytes of `file` from `offset`, after what is buffered.
    fn file(&mut self, file: &std::fs::File, offset: u64, len: u64) -> io::Result<()> {
        let mut done = 0;
        while done < len {
            if self.no_sendfile {
                return self.file_read(file, offset + done, len - done);
            }
            self.write_buf()?;
            let want = (len - done).min(1 << 30) as usize;
            match self.out.send_file(file, offset + done, want) {
                Ok(0) => return Err(short_file()),
                Ok(k) => done += k as u64,
                // A file system without `sendfile` support: read from now on.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
                    ) =>
                {
                    self.no_sendfile = true
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The fallback of [`Sink::file`]: read into the buffer.
    fn file_read(&mut self, file: &std::fs::File, offset: u64, len: u64) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let mut done = 0;
        while done < len {
            if self.used == self.buf.len() {
                self.write_buf()?;
            }
            let room = (self.buf.len() - self.used).min((len - done) as usize);
            match file.read_at(&mut self.buf[self.used..self.used + room], offset + done) {
                Ok(0) => return Err(short_file()),
                Ok(k) => {
                    self.ks.apply(&mut self.buf[self.used..self.used + k]);
                    self.used += k;
                    done += k as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// `n` zeros (pad bytes).
    fn zeros(&mut self, mut n: u64) -> io::Result<()> {
        while n > 0 {
            if self.used == self.buf.len() {
                self.write_buf()?;
            }
            let k = (self.buf.len() - self.used).min(n as usize);
            let z = &mut self.buf[self.used..self.used + k];
            z.fill(0);
            self.ks.apply(z);
            self.used += k;
            n -= k as u64;
        }
        Ok(())
    }

    /// Write out what is buffered.
    fn write_buf(&mut self) -> io::Result<()> {
        let used = std::mem::take(&mut self.used);
        self.out.write_all(&self.buf[..used])
    }

    /// Write out everything and let the socket send it now (uncork).
    pub(super) fn flush(&mut self) -> io::Result<()> {
        self.write_buf()?;
        if self.corked {
            self.corked = false;
            socket2::SockRef::from(self.out.socket()).set_cork(false)?;
        }
        Ok(())
    }

    /// Everything was sent: the minimum rate's next window starts with the next write.
    pub(super) fn idle(&mut self) {
        self.out.idle();
    }
}

/// Write all of `iov` to `out`, in as many `writev` calls as it takes.
fn write_all_vectored(out: &mut impl Write, mut iov: &mut [IoSlice<'_>]) -> io::Result<()> {
    while !iov.is_empty() {
        match out.write_vectored(iov) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut iov, n),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// How many bytes an extent holds.
fn extent_len(e: &Extent) -> usize {
    match e {
        Extent::File { len, .. } => *len as usize,
        Extent::Zeros(n) => *n as usize,
    }
}

/// Fill `buf` from `file` at `offset`; a file that ends first is a short file.
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            short_file()
        } else {
            e
        }
    })
}

fn short_file() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "a file being seeded is shorter than the torrent says",
    )
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
    use crate::peer::{Limits, Message, PeerId};
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

    /// A connected pair: our writer's half, and the peer's socket.
    fn pair() -> (Writer, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (theirs, _) = l.accept().unwrap();
        theirs
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let (_, w) = PeerStream::plain(ours).split().unwrap();
        (w, theirs)
    }

    /// Read everything the peer is sent until the writer closes.
    fn drain(mut theirs: TcpStream) -> JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut got = Vec::new();
            theirs.read_to_end(&mut got).unwrap();
            got
        })
    }

    /// A torrent of `files` (name, length, pad) in a temporary directory, its data written: a
    /// pattern that repeats rarely, zeros in pad files. Returns the directory (keep it), the
    /// storage and the torrent's bytes.
    fn stored(
        piece_length: u64,
        files: &[(&str, u64, bool)],
    ) -> (tempfile::TempDir, crate::storage::Storage, Vec<u8>) {
        use crate::storage::{tests::torrent, Io, Storage};
        let dir = tempfile::tempdir().unwrap();
        let st =
            Storage::create(&torrent("t", piece_length, files), dir.path(), Io::Plain).unwrap();
        let g = st.geometry().clone();
        let mut stream: Vec<u8> = (0..g.total_length() as usize)
            .map(|i| (i * 7 + i / 4093) as u8)
            .collect();
        for (k, &(_, len, pad)) in files.iter().enumerate() {
            if pad {
                let at = g.file_start(k) as usize;
                stream[at..at + len as usize].fill(0);
            }
        }
        for p in 0..g.piece_count() {
            let o = g.piece_offset(p) as usize;
            st.write_piece(p, &stream[o..o + g.piece_len(p) as usize])
                .unwrap();
        }
        (dir, st, stream)
    }

    /// Truncate the file at `path` under `dir` to `len` bytes (another program cutting it).
    fn cut(dir: &tempfile::TempDir, path: &str, len: u64) {
        std::fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join(path))
            .unwrap()
            .set_len(len)
            .unwrap();
    }

    /// Blocks sent from the files with `sendfile` (crossing file boundaries, an empty file and
    /// a pad file), interleaved with blocks read into the buffer and with small messages, and
    /// in batches, reach the peer whole and in order, more than the socket buffers hold at once.
    #[test]
    fn blocks_from_files_and_from_reads_arrive_in_order() {
        let (_dir, st, stream) = stored(
            32768,
            &[
                ("a", 5000, false),
                ("empty", 0, false),
                ("b", 16385, false),
                ("pad", 11000, true),
                ("d/c", 700_001, false),
                ("e", 3, false),
            ],
        );
        let g = st.geometry().clone();
        let (mut w, theirs) = pair();
        let reader = drain(theirs);
        let mut want = Vec::new();
        let mut extents = Vec::new();
        let mut sink = w.sink(64 << 10);
        assert!(sink.sends_files());
        // Blocks gathered for one mapped batch, with their extents.
        let mut batch: Vec<(Block, std::ops::Range<usize>)> = Vec::new();
        let mut batch_extents = Vec::new();
        for round in 0..4 {
            for p in 0..g.piece_count() {
                for b in 0..g.block_count(p) {
                    let off = (b * crate::geometry::BLOCK as usize) as u32;
                    let blk = Block {
                        piece: p as u32,
                        offset: off,
                        length: g.block_len(p, b),
                    };
                    let o = g.piece_offset(p) as usize + off as usize;
                    let data = stream[o..o + blk.length as usize].to_vec();
                    Message::Piece {
                        piece: blk.piece,
                        offset: off,
                        data,
                    }
                    .encode(&mut want);
                    if round == 3 {
                        // Batches of 1 to 5 blocks, a small message buffered between them.
                        let from = batch_extents.len();
                        st.extents(p, off as u64, blk.length as u64, &mut batch_extents)
                            .unwrap();
                        batch.push((blk, from..batch_extents.len()));
                        if batch.len() < 1 + (p + b) % 5 {
                            continue;
                        }
                        sink.blocks_read(&batch, &batch_extents).unwrap();
                        batch.clear();
                        batch_extents.clear();
                    } else if (b + round) % 3 == 0 {
                        sink.block_read(&blk, |buf| {
                            st.read_block(p, off as u64, buf).map_err(io::Error::other)
                        })
                        .unwrap();
                    } else {
                        extents.clear();
                        st.extents(p, off as u64, blk.length as u64, &mut extents)
                            .unwrap();
                        sink.block_from_files(&blk, &extents).unwrap();
                    }
                    let mut have = Vec::new();
                    Message::Have(p as u32).encode(&mut have);
                    want.extend_from_slice(&have);
                    sink.send(&mut have).unwrap();
                }
            }
            sink.blocks_read(&batch, &batch_extents).unwrap();
            batch.clear();
            batch_extents.clear();
            sink.flush().unwrap();
            sink.idle();
        }
        drop(sink);
        w.shutdown().unwrap();
        let got = reader.join().unwrap();
        assert_eq!(got.len(), want.len());
        assert!(got == want, "the peer got other bytes than were sent");
    }

    /// A file shorter than the torrent says fails the block (the connection then ends),
    /// instead of sending a message with fewer bytes than its length says.
    #[test]
    fn a_short_file_fails_the_block() {
        let (dir, st, _) = stored(16384, &[("a", 20000, false)]);
        let mut extents = Vec::new();
        st.extents(1, 0, 20000 - 16384, &mut extents).unwrap();
        cut(&dir, "t/a", 17000);
        let (mut w, theirs) = pair();
        let reader = drain(theirs);
        let mut sink = w.sink(64 << 10);
        let blk = Block {
            piece: 1,
            offset: 0,
            length: 20000 - 16384,
        };
        let err = sink.block_from_files(&blk, &extents).expect_err("no error");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
        drop(sink);
        w.shutdown().unwrap();
        // What went out is the header and the bytes the file still had, never more.
        assert_eq!(reader.join().unwrap().len(), 13 + 17000 - 16384);
    }

    /// A batch fails on a short file before any of it is sent (what was buffered before it
    /// stays buffered); the blocks the file still holds go as before.
    #[test]
    fn a_short_file_fails_a_batch_before_sending_it() {
        let (dir, st, _) = stored(16384, &[("a", 65536, false)]);
        let mut extents = Vec::new();
        let batch: Vec<_> = (0..4)
            .map(|p| {
                let from = extents.len();
                st.extents(p, 0, 16384, &mut extents).unwrap();
                let b = Block {
                    piece: p as u32,
                    offset: 0,
                    length: 16384,
                };
                (b, from..extents.len())
            })
            .collect();
        cut(&dir, "t/a", 40000);
        let (mut w, theirs) = pair();
        let reader = drain(theirs);
        let mut sink = w.sink(64 << 10);
        let err = sink.blocks_read(&batch, &extents).expect_err("no error");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
        let mut have = Vec::new();
        Message::Have(1).encode(&mut have);
        sink.send(&mut have).unwrap();
        sink.blocks_read(&batch[..2], &extents).unwrap();
        sink.flush().unwrap();
        drop(sink);
        w.shutdown().unwrap();
        let got = reader.join().unwrap();
        assert_eq!(got.len(), have.len() + 2 * (PIECE_HEADER + 16384));
        assert_eq!(&got[..have.len()], &have[..]);
    }

    /// On an encrypted stream, batches whose blocks come in any order (several pieces
    /// interleaved, read in file order) and a file boundary inside a block reach the peer in
    /// the order they were handed in, each byte encrypted once, with blocks read one at a
    /// time and small messages between them.
    #[test]
    fn batches_in_any_order_arrive_encrypted_in_order() {
        use crate::peer::mse::Rc4;
        let (_dir, st, stream) = stored(
            65536,
            &[
                ("a", 100_000, false),
                ("b", 30_000, false),
                ("c", 200_000, false),
            ],
        );
        let g = st.geometry().clone();
        let mut blocks = Vec::new();
        for p in 0..g.piece_count() {
            for b in 0..g.block_count(p) {
                blocks.push(Block {
                    piece: p as u32,
                    offset: (b * crate::geometry::BLOCK as usize) as u32,
                    length: g.block_len(p, b),
                });
            }
        }
        // Interleave the pieces: the order a downloader with several pieces in flight asks.
        blocks.sort_by_key(|b| (b.offset, b.piece));
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (theirs, _) = l.accept().unwrap();
        theirs
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let key = [7u8; 20];
        let cipher = Cipher::from_rc4(Rc4::new(&key), Rc4::new(&[9u8; 20]));
        let (_, mut w) = PeerStream::new(ours, cipher).split().unwrap();
        let reader = drain(theirs);
        let mut sink = w.sink(64 << 10);
        let mut want = Vec::new();
        let (mut batch, mut extents) = (Vec::new(), Vec::new());
        let mut size = 1;
        for (i, blk) in blocks.iter().enumerate() {
            let o = g.piece_offset(blk.piece as usize) as usize + blk.offset as usize;
            Message::Piece {
                piece: blk.piece,
                offset: blk.offset,
                data: stream[o..o + blk.length as usize].to_vec(),
            }
            .encode(&mut want);
            if i % 7 == 3 {
                // What is gathered goes first, as in the writer.
                sink.blocks_read(&batch, &extents).unwrap();
                batch.clear();
                extents.clear();
                sink.block_read(blk, |buf| {
                    st.read_block(blk.piece as usize, blk.offset as u64, buf)
                        .map_err(io::Error::other)
                })
                .unwrap();
            } else {
                let from = extents.len();
                st.extents(
                    blk.piece as usize,
                    blk.offset as u64,
                    blk.length as u64,
                    &mut extents,
                )
                .unwrap();
                batch.push((*blk, from..extents.len()));
                if batch.len() < size {
                    continue;
                }
                sink.blocks_read(&batch, &extents).unwrap();
                batch.clear();
                extents.clear();
                size = size % 6 + 1;
            }
            let mut have = Vec::new();
            Message::Have(blk.piece).encode(&mut have);
            want.extend_from_slice(&have);
            sink.send(&mut have).unwrap();
        }
        sink.blocks_read(&batch, &extents).unwrap();
        sink.flush().unwrap();
        drop(sink);
        w.shutdown().unwrap();
        let mut got = reader.join().unwrap();
        Rc4::new(&key).apply(&mut got);
        assert_eq!(got.len(), want.len());
        assert!(got == want, "the peer got other bytes than were sent");
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
