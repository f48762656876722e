//! A connection's bounded send queue, and a writer that insists on a minimum rate.
//!
//! Everything a connection sends goes through its [`Outbox`] to its writer thread. The queue is
//! bounded by messages and by bytes (counted against the peer: the in-memory size of each queued
//! message and its payload). A send that would overrun either bound is refused and marks the
//! queue overrun; the connection's reader notices and drops the peer. So a peer that sends
//! requests and never reads (while we queue a `reject` per request behind a blocked socket)
//! costs at most [`MAX_QUEUED_BYTES`], not its upload volume. [`Out::Close`] is never refused.
//!
//! [`Paced`] wraps the socket for the writer: while data is pending, the peer must take at
//! least [`MIN_BYTES`] every [`WINDOW`], so a peer that reads a trickle cannot hold a writer
//! (and its queue) forever by restarting a per-write timeout.

use super::Out;
use crate::peer::Message;
use std::fs::File;
use std::io::{self, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most messages queued for one peer.
pub(super) const MAX_QUEUED_MSGS: usize = 16 * 1024;
/// Most bytes (in memory) queued for one peer.
pub(super) const MAX_QUEUED_BYTES: usize = 2 << 20;
/// The writer's window for [`MIN_BYTES`].
pub(super) const WINDOW: Duration = Duration::from_secs(30);
/// Bytes a peer with data pending must take per [`WINDOW`].
pub(super) const MIN_BYTES: u64 = 64 << 10;

#[derive(Default)]
struct Counts {
    msgs: AtomicUsize,
    bytes: AtomicUsize,
    overrun: AtomicBool,
}

/// The sending side of a connection's queue (cloned into the swarm's peer table).
#[derive(Clone)]
pub(super) struct Outbox {
    tx: Sender<Out>,
    counts: Arc<Counts>,
}

/// The writer's side of the queue.
pub(super) struct Inbox {
    rx: Receiver<Out>,
    counts: Arc<Counts>,
}

/// A send was refused: the peer's queue is full (or the writer is gone).
#[derive(Debug)]
pub(super) struct Refused;

/// A queue for one connection.
pub(super) fn queue() -> (Outbox, Inbox) {
    let (tx, rx) = mpsc::channel();
    let counts = Arc::new(Counts::default());
    (
        Outbox {
            tx,
            counts: counts.clone(),
        },
        Inbox { rx, counts },
    )
}

/// What a queued message costs in memory.
fn cost(m: &Out) -> usize {
    std::mem::size_of::<Out>()
        + match m {
            Out::Msg(Message::Bitfield(b)) => b.len(),
            Out::Msg(Message::Extended { payload, .. }) => payload.len(),
            Out::Msg(Message::Piece { data, .. }) => data.len(),
            Out::Raw(r) => r.len(),
            _ => 0,
        }
}

impl Outbox {
    /// Queue `m` for the writer; refused (and the queue marked overrun) when it would exceed
    /// the bounds. [`Out::Close`] always goes.
    pub(super) fn send(&self, m: Out) -> Result<(), Refused> {
        if !matches!(m, Out::Close) {
            let c = cost(&m);
            let msgs = self.counts.msgs.fetch_add(1, Ordering::Relaxed);
            let bytes = self.counts.bytes.fetch_add(c, Ordering::Relaxed);
            if msgs >= MAX_QUEUED_MSGS || bytes + c > MAX_QUEUED_BYTES {
                self.counts.msgs.fetch_sub(1, Ordering::Relaxed);
                self.counts.bytes.fetch_sub(c, Ordering::Relaxed);
                self.counts.overrun.store(true, Ordering::Relaxed);
                return Err(Refused);
            }
            if self.tx.send(m).is_err() {
                self.counts.msgs.fetch_sub(1, Ordering::Relaxed);
                self.counts.bytes.fetch_sub(c, Ordering::Relaxed);
                return Err(Refused);
            }
            return Ok(());
        }
        self.tx.send(m).map_err(|_| Refused)
    }

    /// Whether a send was refused for lack of room (the peer does not read what it is sent).
    pub(super) fn overrun(&self) -> bool {
        self.counts.overrun.load(Ordering::Relaxed)
    }

    /// Bytes queued (in memory).
    #[cfg(test)]
    pub(super) fn queued_bytes(&self) -> usize {
        self.counts.bytes.load(Ordering::Relaxed)
    }
}

impl Inbox {
    fn took(&self, m: &Out) {
        if !matches!(m, Out::Close) {
            self.counts.msgs.fetch_sub(1, Ordering::Relaxed);
            self.counts.bytes.fetch_sub(cost(m), Ordering::Relaxed);
        }
    }

    /// The next message, waiting `d` at most.
    pub(super) fn recv_timeout(&self, d: Duration) -> Result<Out, RecvTimeoutError> {
        let m = self.rx.recv_timeout(d)?;
        self.took(&m);
        Ok(m)
    }

    /// The next message if one is queued.
    pub(super) fn try_recv(&self) -> Option<Out> {
        let m = self.rx.try_recv().ok()?;
        self.took(&m);
        Some(m)
    }
}

/// How far past its window's end a blocked write may run: the socket's write timeout is set
/// again only when the one set last could overrun the window by more than this, so a busy
/// writer pays one `setsockopt` per this much time rather than one per write.
const REARM: Duration = Duration::from_millis(100);

/// The writer's socket: fails a peer that takes less than [`MIN_BYTES`] in a [`WINDOW`] while
/// data is pending (a total deadline, not a timeout that each trickle restarts). A write that
/// times out is not an error by itself: the window is judged again, and a peer that took its
/// minimum goes on into a fresh window.
pub(super) struct Paced<'a> {
    stream: &'a TcpStream,
    window: Instant,
    bytes: u64,
    /// When the socket's write timeout was last set, and to what (None: set it before the next
    /// write).
    armed: Option<(Instant, Duration)>,
}

impl<'a> Paced<'a> {
    pub(super) fn new(stream: &'a TcpStream) -> Paced<'a> {
        Paced {
            stream,
            window: Instant::now(),
            bytes: 0,
            armed: None,
        }
    }

    /// The socket (for its options; write through [`Paced`]).
    pub(super) fn socket(&self) -> &'a TcpStream {
        self.stream
    }

    /// Everything was sent: the next write starts a fresh window.
    pub(super) fn idle(&mut self) {
        self.window = Instant::now();
        self.bytes = 0;
    }

    /// Before a write: judge a finished window, and make sure a blocked write ends by the
    /// window's end (within [`REARM`]).
    fn arm(&mut self) -> io::Result<()> {
        let now = Instant::now();
        if now.duration_since(self.window) >= WINDOW {
            if self.bytes < MIN_BYTES {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "peer reads too slowly",
                ));
            }
            self.window = now;
            self.bytes = 0;
        }
        let end = self.window + WINDOW;
        if self.armed.is_none_or(|(_, d)| now + d > end + REARM) {
            let left = end
                .saturating_duration_since(now)
                .max(Duration::from_millis(1));
            self.stream.set_write_timeout(Some(left))?;
            self.armed = Some((now, left));
        }
        Ok(())
    }

    /// Run one write (`op`, which sends what it can and says how much) under the window.
    fn paced(&mut self, mut op: impl FnMut(&TcpStream) -> io::Result<usize>) -> io::Result<usize> {
        loop {
            self.arm()?;
            match op(self.stream) {
                Ok(n) => {
                    self.bytes += n as u64;
                    return Ok(n);
                }
                // The timeout ran out (at the window's end, or an older shorter one): judge
                // the window again.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    self.armed = None
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Send up to `len` bytes of `file` from `offset` straight from the page cache; how many
    /// went (0: the file ends at `offset`).
    pub(super) fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        self.paced(|s| sendfile(s, file, offset, len))
    }
}

impl Write for Paced<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.paced(|mut s| s.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.paced(|mut s| s.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `sendfile(2)`: up to `len` bytes of `file` from `offset` into `sock`, moved by the kernel
/// from the page cache to the socket without the two copies through a user buffer that `pread`
/// and `write` cost (the seeder's largest CPU cost). The standard library has no such call and
/// neither has socket2, so this is a direct `libc` call, kept to this one safe function.
fn sendfile(sock: &TcpStream, file: &File, offset: u64, len: usize) -> io::Result<usize> {
    let mut off = libc::off_t::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset too large"))?;
    // SAFETY: both descriptors are open for the whole call (borrowed from live values), and
    // the kernel writes only the offset, which points at a local.
    let n = unsafe { libc::sendfile(sock.as_raw_fd(), file.as_raw_fd(), &mut off, len) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_is_bounded_and_close_always_goes() {
        let (out, inbox) = queue();
        let mut sent = 0;
        while out.send(Out::Msg(Message::HaveNone)).is_ok() {
            sent += 1;
            assert!(sent <= MAX_QUEUED_MSGS, "unbounded");
        }
        assert!(out.overrun());
        assert!(out.queued_bytes() <= MAX_QUEUED_BYTES);
        assert!(out.send(Out::Close).is_ok());
        // Draining frees the room again.
        let mut got = 0;
        while inbox.try_recv().is_some() {
            got += 1;
        }
        assert_eq!(got, sent + 1);
        assert_eq!(out.queued_bytes(), 0);
        assert!(out.send(Out::Raw(vec![0; MAX_QUEUED_BYTES])).is_err());
        assert!(out.send(Out::Raw(vec![0; 1000])).is_ok());
    }

    /// A socket filled up on purpose: nobody reads `_b` yet.
    fn full_socket() -> (TcpStream, TcpStream) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        a.set_nonblocking(true).unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..1000 {
            if (&a).write(&chunk).is_err() {
                break;
            }
        }
        a.set_nonblocking(false).unwrap();
        (a, b)
    }

    /// A write blocked across the end of a window in which the peer took its minimum is not
    /// failed: the next window starts and the write goes on once the peer reads again.
    #[test]
    fn a_write_blocked_at_the_end_of_a_good_window_goes_on() {
        let (a, mut b) = full_socket();
        let mut p = Paced::new(&a);
        p.window = Instant::now() - WINDOW + Duration::from_millis(100);
        p.bytes = MIN_BYTES;
        let reader = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(600));
            b.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut buf = vec![0u8; 1 << 20];
            let mut n = 0u64;
            while let Ok(k @ 1..) = std::io::Read::read(&mut b, &mut buf) {
                n += k as u64;
            }
            n
        });
        let chunk = vec![0u8; 1 << 20];
        let wrote = p.write_all(&chunk);
        assert!(wrote.is_ok(), "{wrote:?}");
        // The window rolled over into a fresh one, counting what went since.
        assert!(p.bytes <= chunk.len() as u64);
        a.shutdown(std::net::Shutdown::Both).unwrap();
        assert!(reader.join().unwrap() > chunk.len() as u64);
    }

    /// `send_file` moves a file's bytes to the peer, says 0 at the file's end, and counts
    /// them toward the window's minimum.
    #[test]
    fn send_file_sends_the_range_asked_for() {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let f = File::open(&path).unwrap();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut b, _) = l.accept().unwrap();
        let mut p = Paced::new(&a);
        let mut done = 0;
        while done < 50_000 {
            let n = p.send_file(&f, 1234 + done as u64, 50_000 - done).unwrap();
            assert!(n > 0);
            done += n;
        }
        assert_eq!(p.bytes, 50_000);
        assert_eq!(p.send_file(&f, 100_000, 10).unwrap(), 0);
        let mut got = vec![0u8; 50_000];
        b.read_exact(&mut got).unwrap();
        assert!(got == data[1234..51_234]);
    }

    #[test]
    fn a_trickling_reader_is_failed_within_the_window() {
        // Nobody reads: the socket buffers are full.
        let (a, _b) = full_socket();
        let chunk = vec![0u8; 1 << 20];
        let mut p = Paced::new(&a);
        p.window = Instant::now() - WINDOW + Duration::from_millis(300);
        let t = Instant::now();
        let err = p.write(&chunk).err();
        assert!(err.is_some(), "never failed");
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }
}
