//! Where the swarm reads and writes piece data: the small [`PieceStore`] trait and the hash of
//! one piece read back from it (verifying whole torrents is `crate::verify`'s job).
//!
//! The swarm never touches files itself; everything goes through a `PieceStore` (implemented by
//! `storage::Storage`, the memory-mapped multi-file storage).

use crate::peer::Limits;
pub use crate::storage::Extent;
use sha1::{Digest, Sha1};
use std::io;

/// Piece data, addressed by piece and offset. Implementations are shared between threads.
pub trait PieceStore: Send + Sync {
    /// Read `buf.len()` bytes of `piece` starting at `offset`.
    fn read(&self, piece: u32, offset: u32, buf: &mut [u8]) -> io::Result<()>;
    /// Write `data` into `piece` at `offset`.
    fn write(&self, piece: u32, offset: u32, data: &[u8]) -> io::Result<()>;
    /// Make written data durable (at least: handed to the kernel).
    fn flush(&self) -> io::Result<()>;
    /// Write several blocks, each `(piece, offset, data)`; a store may gather them into fewer
    /// system calls. On an error, any of them may be unwritten.
    fn write_many(&self, blocks: &[(u32, u32, &[u8])]) -> io::Result<()> {
        blocks
            .iter()
            .try_for_each(|&(piece, offset, data)| self.write(piece, offset, data))
    }
    /// Whether every byte written to `piece` reads back as written (false when some of it is
    /// dropped, such as a pad file's bytes, which read back as zeros): only then may a piece be
    /// judged from the bytes written instead of read back.
    fn verbatim(&self, piece: u32) -> bool {
        let _ = piece;
        true
    }
    /// Where the `len` bytes of `piece` at `offset` lie in files, appended to `out`, for a
    /// writer that sends them from the files without copying them (`sendfile`). False (and
    /// nothing appended) when the store does not keep its data in files: then [`read`] it.
    ///
    /// [`read`]: PieceStore::read
    fn extents(
        &self,
        _piece: u32,
        _offset: u32,
        _len: u32,
        _out: &mut Vec<Extent>,
    ) -> io::Result<bool> {
        Ok(false)
    }
}

/// SHA-1 of a whole piece read from the store.
pub fn hash_piece(store: &dyn PieceStore, limits: &Limits, piece: u32) -> io::Result<[u8; 20]> {
    let mut h = Sha1::new();
    read_piece(store, limits, piece, 0, &mut |c| h.update(c))?;
    Ok(h.finalize().into())
}

/// Read a piece from the store in order, from byte `from` to its end, in chunks of at most
/// 1 MiB.
pub fn read_piece(
    store: &dyn PieceStore,
    limits: &Limits,
    piece: u32,
    from: u64,
    f: &mut dyn FnMut(&[u8]),
) -> io::Result<()> {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let size = limits.piece_size(piece) as usize;
    BUF.with(|b| {
        let mut buf = b.borrow_mut();
        // One reusable buffer per thread, at most 1 MiB: no allocation per piece.
        if buf.len() < size.min(1 << 20) {
            buf.resize(size.min(1 << 20), 0);
        }
        let mut off = (from as usize).min(size);
        while off < size {
            let n = (size - off).min(buf.len());
            store.read(piece, off as u32, &mut buf[..n])?;
            f(&buf[..n]);
            off += n;
        }
        Ok(())
    })
}

/// Pieces one connection is hashing as their blocks arrive, so that a piece sent whole and in
/// order by one peer is judged from the bytes as they were written, while they are still in
/// the cache, and is never read back.
///
/// A piece's hash starts with its block at offset 0 and follows the block that comes right
/// after the bytes hashed so far; blocks that come ahead of it (a peer whose disk threads finish
/// reads out of order, as libtorrent's do, even the block at offset 0 late) are copied and
/// hashed once the gap before them fills, up to `AHEAD_BLOCKS` blocks over all its pieces.
/// Past that bound the piece stops where it is: its hash covers the bytes before the gap, and
/// only the rest is read back once it is complete ([`Hashed`]). A block behind the bytes
/// hashed drops the piece (the store may no longer hold the bytes hashed: it is read back
/// whole). The caller uses a hash only when this connection sent every block of the piece
/// (see `Swarm::land_blocks`), so the bytes hashed are the bytes in the store.
///
/// Bytes taken in order are queued while a job's blocks are noted and hashed at its end
/// (`hash_queued`), each piece's in order, so that the blocks of pieces that arrive
/// interleaved (see `picker::interleave`) are hashed side by side, several SHA-1 streams at
/// once ([`crate::sha1_lanes`]).
#[derive(Default)]
pub struct InOrder {
    open: Vec<Running>,
}

struct Running {
    piece: u32,
    /// Bytes of the piece taken in order so far (hashed, or queued).
    next: u64,
    /// Too many blocks came ahead: nothing more is taken; the bytes from `next` on are read
    /// back once the piece is complete.
    stalled: bool,
    hash: crate::verify::PieceHash,
    /// Blocks that came ahead of `next`, copied until the bytes before them are taken.
    ahead: Vec<(u64, Vec<u8>)>,
    /// Bytes taken in order and not hashed yet, in order.
    queued: Vec<Chunk>,
}

/// Bytes taken in order, waiting to be hashed.
enum Chunk {
    /// The bytes of the job's op at this index (a [`Op::Written`]).
    Op(usize),
    /// Bytes of their own (a block that came ahead of the gap).
    Own(Vec<u8>),
}

/// Blocks kept while they wait for an earlier block of their piece (a peer whose disk threads
/// finish reads out of order, such as libtorrent), over all the pieces of one connection: at
/// most 2 MiB of 16 KiB blocks, room for two 1 MiB pieces each stuck at its first block. A
/// block past this stalls its piece (read back from the gap). Measured from a libtorrent
/// seeder, 1 GiB in 1 MiB pieces: with 32 blocks per piece, and pieces whose block at offset 0
/// came late not followed, 160-190 of 1024 pieces were read back whole; 128 blocks in all did
/// as well as 256 (6 alternating runs each, medians 1.65 and 1.76 s).
const AHEAD_BLOCKS: usize = 128;

/// Pieces hashed at once by one connection; the oldest is dropped for a new one. Up to
/// [`crate::sha1_lanes::LANES`] pieces arrive interleaved, and the pieces one read completes
/// are noted complete after all its blocks are noted, while the read may already start as
/// many new ones: twice that many, so that none is dropped just before it is complete.
const IN_ORDER_PIECES: usize = 2 * crate::sha1_lanes::LANES;

impl InOrder {
    /// `data`, the bytes of `at`, was written to `piece` at `offset`: queue it to be hashed
    /// when it continues the piece in order (a block of a piece not followed yet starts
    /// following it, waiting for the bytes before it).
    fn note(
        &mut self,
        check: &crate::verify::PieceCheck,
        piece: u32,
        offset: u32,
        data: &[u8],
        at: Chunk,
    ) {
        let fresh = || Running {
            piece,
            next: 0,
            stalled: false,
            hash: check.hasher(piece as usize),
            ahead: Vec::new(),
            queued: Vec::new(),
        };
        let i = match (self.open.iter().position(|r| r.piece == piece), offset) {
            // A fresh start: whatever was taken of this piece before is void (blocks that
            // only wait ahead are the store's latest bytes: kept).
            (Some(i), 0) if self.open[i].next > 0 => {
                self.open[i] = fresh();
                i
            }
            (Some(i), _) => i,
            (None, _) => {
                if self.open.len() >= IN_ORDER_PIECES {
                    self.open.remove(0);
                }
                self.open.push(fresh());
                self.open.len() - 1
            }
        };
        let r = &mut self.open[i];
        let offset = offset as u64;
        if offset < r.next {
            // Sent again behind the bytes taken: the store may now hold other bytes there.
            self.open.remove(i);
        } else if r.stalled {
            // Read back from `next` when complete.
        } else if r.next == offset {
            r.queued.push(at);
            r.next += data.len() as u64;
            while let Some(k) = r.ahead.iter().position(|(o, _)| *o == r.next) {
                let (_, d) = r.ahead.swap_remove(k);
                r.next += d.len() as u64;
                r.queued.push(Chunk::Own(d));
            }
        } else if let Some(a) = r.ahead.iter_mut().find(|(o, _)| *o == offset) {
            // Sent again: the store now holds these bytes.
            a.1 = data.to_vec();
        } else {
            // Counted only here, off the path of blocks that come in order.
            let waiting: usize = self.open.iter().map(|r| r.ahead.len()).sum();
            let r = &mut self.open[i];
            if waiting < AHEAD_BLOCKS {
                r.ahead.push((offset, data.to_vec()));
            } else {
                r.stalled = true;
                r.ahead = Vec::new();
            }
        }
    }

    /// `piece` is complete: the piece when some of its bytes were taken in order, from the
    /// start (None: it must be read back whole), its queued bytes still to hash. It is
    /// forgotten.
    fn take(&mut self, piece: u32) -> Option<Running> {
        let i = self.open.iter().position(|r| r.piece == piece)?;
        let r = self.open.remove(i);
        (r.next > 0).then_some(r)
    }
}

/// Hash the queued bytes of `runs` (each piece's in order), with runs of whole 64-byte blocks
/// of up to [`crate::sha1_lanes::LANES`] pieces side by side; what is left (a piece alone,
/// the short end of a piece, a hybrid torrent's pieces) goes through the piece's own hasher.
fn hash_queued<'r>(runs: impl Iterator<Item = &'r mut Running>, job: &Job) {
    use crate::sha1_lanes::{update_each, LANES};
    let mut taken: Vec<(&mut crate::verify::PieceHash, Vec<Chunk>)> = runs
        .filter(|r| !r.queued.is_empty())
        .map(|r| (&mut r.hash, std::mem::take(&mut r.queued)))
        .collect();
    struct Feed<'a> {
        hash: &'a mut crate::verify::PieceHash,
        parts: Vec<&'a [u8]>,
        /// The part being hashed and the bytes of it hashed so far.
        k: usize,
        at: usize,
    }
    impl<'a> Feed<'a> {
        fn rest(&self) -> &'a [u8] {
            self.parts.get(self.k).map_or(&[], |p| &p[self.at..])
        }
        fn advance(&mut self, n: usize) {
            self.at += n;
            if self.parts.get(self.k).is_none_or(|p| self.at >= p.len()) {
                (self.k, self.at) = (self.k + 1, 0);
            }
        }
    }
    let mut feeds: Vec<Feed> = taken
        .iter_mut()
        .map(|(hash, chunks)| Feed {
            hash,
            parts: chunks.iter().map(|c| job.chunk(c)).collect(),
            k: 0,
            at: 0,
        })
        .collect();
    loop {
        let mut chosen = [0usize; LANES];
        let mut n = 0;
        let mut len = usize::MAX;
        for (i, f) in feeds.iter_mut().enumerate() {
            let rest = f.rest().len();
            if n < LANES && rest >= 64 && f.hash.sha1_blocks().is_some() {
                chosen[n] = i;
                n += 1;
                len = len.min(rest / 64 * 64);
            }
        }
        if n >= 2 {
            let mut states = Vec::with_capacity(n);
            let mut parts = Vec::with_capacity(n);
            for (i, f) in feeds.iter_mut().enumerate() {
                if chosen[..n].contains(&i) {
                    parts.push(&f.rest()[..len]);
                    states.extend(f.hash.sha1_blocks());
                }
            }
            update_each(&mut states, &parts);
            for &i in &chosen[..n] {
                feeds[i].advance(len);
            }
            continue;
        }
        let Some(f) = feeds.iter_mut().find(|f| f.k < f.parts.len()) else {
            break;
        };
        let rest = f.rest();
        f.hash.update(rest);
        f.advance(rest.len());
    }
}

/// A piece's hash over its first `upto` bytes, taken in order as they arrived; the bytes from
/// there to the end of the piece (none when `upto` is its size) are to be read back and hashed
/// after them.
pub struct Hashed {
    /// The hash fed the piece's bytes before `upto`.
    pub hash: crate::verify::PieceHash,
    /// How many bytes of the piece, from its start, `hash` was fed.
    pub upto: u64,
}

/// How a piece hashed in order is judged: its hash over the bytes hashed in order (None: it
/// must be read back whole).
pub type Judge = std::sync::Arc<dyn Fn(u32, Option<Hashed>) + Send + Sync>;

/// Where a delivery notes the blocks it wrote and the pieces they complete (an [`Ordered`],
/// or, on its thread, the notes of one [`Land`]).
pub trait Note {
    /// `data` was written to `piece` at `offset`.
    fn written(&mut self, piece: u32, offset: u32, data: &[u8]);
    /// `piece` is complete: with `judge`, judge it (from its hash over the bytes hashed in
    /// order, the rest read back); without, only forget its hash.
    fn complete(&mut self, piece: u32, judge: bool);
}

/// Blocks handed to [`Ordered::land`]: written (and their pieces noted) on the hashing thread,
/// given the blocks' bytes and where to note them.
pub type Land = Box<dyn FnOnce(&[(crate::peer::Block, &[u8])], &mut dyn Note) + Send>;

/// A connection's [`InOrder`] hashing on a thread of its own, so that SHA-1 runs on the other
/// core while the connection goes on receiving and writing.
///
/// The connection reads into a buffer, hands the blocks in it over unwritten with
/// [`Ordered::land`], then the buffer with [`Ordered::submit`], and goes on with another one
/// (the hashing thread gives it back when done). The hashing thread writes the blocks, notes
/// them and the pieces they complete ([`Note`]), then hashes them, so that the receiving
/// thread only receives (writing into the page cache costs about as much CPU as receiving, on
/// tmpfs more). At most [`BUFFERS`] buffers exist, so memory stays bounded: the connection
/// waits for the hashing thread when it runs ahead. Every piece noted complete is judged
/// exactly once, through the [`Judge`], in the order noted, even when the thread cannot run
/// (then it is read back).
pub struct Ordered {
    check: std::sync::Arc<crate::verify::PieceCheck>,
    judge: Judge,
    /// The thread could not start: pieces are read back.
    broken: bool,
    ops: Vec<Op>,
    /// The address range of the buffer lent to the connection (`start`, `len`).
    lent: (usize, usize),
    jobs: Option<std::sync::mpsc::SyncSender<Job>>,
    back: Option<std::sync::mpsc::Receiver<Vec<u8>>>,
    /// Buffers made so far (at most [`BUFFERS`]).
    made: usize,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Most receive buffers of one connection, its own and the ones being hashed.
pub const BUFFERS: usize = 3;

enum Bytes {
    /// A range of the job's buffer.
    Lent(std::ops::Range<usize>),
    /// Bytes that were not in the buffer (a block decoded into a message of its own).
    Own(Vec<u8>),
}

enum Op {
    Written {
        piece: u32,
        offset: u32,
        at: Bytes,
    },
    /// The piece is complete; `judge`: judge it (else only forget it).
    Complete {
        piece: u32,
        judge: bool,
    },
    /// Blocks to write first (see [`Ordered::land`]): they become the ops they note.
    Land {
        blocks: Vec<(crate::peer::Block, Bytes)>,
        land: Land,
    },
}

/// Where `data` lies: a range of the buffer at `lent` (`start`, `len`), or a copy.
fn bytes_at(lent: (usize, usize), data: &[u8]) -> Bytes {
    let (base, len) = lent;
    let p = data.as_ptr() as usize;
    if p >= base && p + data.len() <= base + len {
        Bytes::Lent(p - base..p - base + data.len())
    } else {
        Bytes::Own(data.to_vec())
    }
}

impl Bytes {
    fn of<'a>(&'a self, buf: &'a [u8]) -> &'a [u8] {
        match self {
            Bytes::Lent(r) => &buf[r.clone()],
            Bytes::Own(v) => v,
        }
    }
}

/// The ops a [`Land`] notes, over the buffer it came in.
struct Notes {
    lent: (usize, usize),
    ops: Vec<Op>,
}

impl Note for Notes {
    fn written(&mut self, piece: u32, offset: u32, data: &[u8]) {
        let at = bytes_at(self.lent, data);
        self.ops.push(Op::Written { piece, offset, at });
    }
    fn complete(&mut self, piece: u32, judge: bool) {
        self.ops.push(Op::Complete { piece, judge });
    }
}

/// Run the [`Op::Land`]s of `ops` (blocks in `buf`): each is replaced by the ops it noted.
fn expand(buf: &[u8], ops: Vec<Op>) -> Vec<Op> {
    if !ops.iter().any(|o| matches!(o, Op::Land { .. })) {
        return ops;
    }
    let mut notes = Notes {
        lent: (buf.as_ptr() as usize, buf.len()),
        ops: Vec::with_capacity(ops.len()),
    };
    for op in ops {
        match op {
            Op::Land { blocks, land } => {
                let slices: Vec<(crate::peer::Block, &[u8])> =
                    blocks.iter().map(|(b, at)| (*b, at.of(buf))).collect();
                land(&slices, &mut notes);
            }
            op => notes.ops.push(op),
        }
    }
    notes.ops
}

struct Job {
    buf: Vec<u8>,
    ops: Vec<Op>,
}

impl Ordered {
    /// Hashing against `check`, judging through `judge`. No thread runs until the first
    /// buffer is submitted.
    pub fn new(check: std::sync::Arc<crate::verify::PieceCheck>, judge: Judge) -> Ordered {
        Ordered {
            check,
            judge,
            broken: false,
            ops: Vec::new(),
            lent: (0, 0),
            jobs: None,
            back: None,
            made: 1,
            thread: None,
        }
    }

    /// The connection's blocks from now on lie in `buf` (until [`Ordered::submit`]).
    pub fn lend(&mut self, buf: &[u8]) {
        self.lent = (buf.as_ptr() as usize, buf.len());
    }

    /// `blocks` (in the lent buffer or not) are to be written by `land` on the hashing thread
    /// (here, when no thread runs), which notes what it wrote; then they are hashed as if
    /// noted here.
    pub fn land(&mut self, blocks: &[(crate::peer::Block, &[u8])], land: Land) {
        let blocks = blocks
            .iter()
            .map(|(b, d)| (*b, bytes_at(self.lent, d)))
            .collect();
        self.ops.push(Op::Land { blocks, land });
    }

    /// Hand `buf` over with the blocks noted since [`Ordered::lend`] and get a buffer of the
    /// same size back, holding `buf[*start..*end]` at its start (`start` and `end` are moved
    /// to match). `buf` itself comes back when nothing was noted.
    pub fn submit(&mut self, buf: Vec<u8>, start: &mut usize, end: &mut usize) -> Vec<u8> {
        self.lent = (0, 0);
        if self.ops.is_empty() {
            return buf;
        }
        let mut fresh = match self.fresh(buf.len()) {
            Some(b) => b,
            None => {
                // No thread: judge what was noted by reading it back, and keep the buffer.
                let ops = std::mem::take(&mut self.ops);
                self.fallback(&buf, ops);
                return buf;
            }
        };
        if fresh.len() < buf.len() {
            fresh.resize(buf.len(), 0);
        }
        let rest = *end - *start;
        fresh[..rest].copy_from_slice(&buf[*start..*end]);
        (*start, *end) = (0, rest);
        let job = Job {
            buf,
            ops: std::mem::take(&mut self.ops),
        };
        let sent = match &self.jobs {
            Some(j) => j.send(job).map_err(|e| e.0),
            None => Err(job),
        };
        if let Err(job) = sent {
            // The thread is gone: never judged twice, never lost.
            self.jobs = None;
            self.fallback(&job.buf, job.ops);
        }
        fresh
    }

    /// A buffer for the connection: one given back, a new one while fewer than [`BUFFERS`]
    /// exist, else one given back once the thread is done with it. None when no thread runs.
    fn fresh(&mut self, len: usize) -> Option<Vec<u8>> {
        if self.thread.is_none() && !self.broken {
            self.spawn();
        }
        let back = self.back.as_ref()?;
        self.jobs.as_ref()?;
        if let Ok(b) = back.try_recv() {
            return Some(b);
        }
        if self.made < BUFFERS {
            self.made += 1;
            return Some(vec![0; len]);
        }
        back.recv().ok()
    }

    fn spawn(&mut self) {
        let judge = self.judge.clone();
        let (jobs, rx) = std::sync::mpsc::sync_channel::<Job>(BUFFERS);
        let (tx, back) = std::sync::mpsc::channel();
        let check = self.check.clone();
        let run = move || {
            let mut h = InOrder::default();
            for mut job in rx {
                job.ops = expand(&job.buf, std::mem::take(&mut job.ops));
                run_job(&mut h, &check, &*judge, &job);
                // The connection may be gone: the buffer is then freed here.
                let _ = tx.send(job.buf);
            }
        };
        match std::thread::Builder::new()
            .name("bt-hash".into())
            .stack_size(256 * 1024)
            .spawn(run)
        {
            Ok(t) => {
                self.thread = Some(t);
                self.jobs = Some(jobs);
                self.back = Some(back);
            }
            Err(_) => self.broken = true,
        }
    }

    /// Judge the complete pieces of `ops` (blocks in `buf`) without the thread: read back.
    fn fallback(&self, buf: &[u8], ops: Vec<Op>) {
        for op in expand(buf, ops) {
            if let Op::Complete {
                piece, judge: true, ..
            } = op
            {
                (self.judge)(piece, None);
            }
        }
    }

    /// Wait until every buffer submitted is hashed and judged; the thread ends.
    pub fn close(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Ordered {
    fn drop(&mut self) {
        self.close();
    }
}

/// Hash one job's blocks in order and judge the pieces it completes, in the order noted.
fn run_job(
    h: &mut InOrder,
    check: &crate::verify::PieceCheck,
    judge: &dyn Fn(u32, Option<Hashed>),
    job: &Job,
) {
    let mut done = Vec::new();
    for (i, op) in job.ops.iter().enumerate() {
        match op {
            Op::Written { piece, offset, at } => {
                h.note(check, *piece, *offset, at.of(&job.buf), Chunk::Op(i));
            }
            Op::Complete { piece, judge: j } => {
                let r = h.take(*piece);
                if *j {
                    done.push((*piece, r));
                }
            }
            // Replaced by what it noted before the job runs (see `expand`).
            Op::Land { .. } => {}
        }
    }
    let finished = done.iter_mut().filter_map(|(_, r)| r.as_mut());
    hash_queued(h.open.iter_mut().chain(finished), job);
    for (piece, r) in done {
        judge(
            piece,
            r.map(|r| Hashed {
                hash: r.hash,
                upto: r.next,
            }),
        );
    }
}

impl Job {
    /// The bytes of a chunk queued while this job's ops were noted.
    fn chunk<'a>(&'a self, c: &'a Chunk) -> &'a [u8] {
        match c {
            Chunk::Op(i) => match &self.ops[*i] {
                Op::Written { at, .. } => at.of(&self.buf),
                _ => &[],
            },
            Chunk::Own(v) => v,
        }
    }
}

impl PieceStore for crate::storage::Storage {
    fn read(&self, piece: u32, offset: u32, buf: &mut [u8]) -> io::Result<()> {
        self.read_block(piece as usize, offset as u64, buf)
            .map_err(io::Error::other)
    }
    fn write(&self, piece: u32, offset: u32, data: &[u8]) -> io::Result<()> {
        self.write_block(piece as usize, offset as u64, data)
            .map_err(io::Error::other)
    }
    fn flush(&self) -> io::Result<()> {
        crate::storage::Storage::flush(self).map_err(io::Error::other)
    }
    fn write_many(&self, blocks: &[(u32, u32, &[u8])]) -> io::Result<()> {
        let blocks: Vec<(usize, u64, &[u8])> = blocks
            .iter()
            .map(|&(p, o, d)| (p as usize, o as u64, d))
            .collect();
        self.write_blocks(&blocks).map_err(io::Error::other)
    }
    fn verbatim(&self, piece: u32) -> bool {
        let geo = self.geometry();
        let stored: u64 = geo
            .piece_segments(piece as usize)
            .filter(|s| !s.pad)
            .map(|s| s.len)
            .sum();
        stored == geo.piece_len(piece as usize)
    }
    fn extents(
        &self,
        piece: u32,
        offset: u32,
        len: u32,
        out: &mut Vec<Extent>,
    ) -> io::Result<bool> {
        self.extents(piece as usize, offset as u64, len as u64, out)
            .map_err(io::Error::other)?;
        Ok(true)
    }
}

/// A store in memory (for tests).
pub struct MemStore {
    data: std::sync::Mutex<Vec<u8>>,
    piece_length: u64,
}

impl MemStore {
    /// A store holding `data`, in pieces of `piece_length`.
    pub fn new(data: Vec<u8>, piece_length: u64) -> MemStore {
        MemStore {
            data: std::sync::Mutex::new(data),
            piece_length,
        }
    }

    /// A copy of the contents.
    pub fn contents(&self) -> Vec<u8> {
        self.data.lock().map(|d| d.clone()).unwrap_or_default()
    }

    fn range(&self, piece: u32, offset: u32, len: usize, total: usize) -> io::Result<usize> {
        let start = piece as u64 * self.piece_length + offset as u64;
        if start + len as u64 > total as u64 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "out of range"));
        }
        Ok(start as usize)
    }
}

impl PieceStore for MemStore {
    fn read(&self, piece: u32, offset: u32, buf: &mut [u8]) -> io::Result<()> {
        let d = self.data.lock().map_err(|_| io::Error::other("poisoned"))?;
        let s = self.range(piece, offset, buf.len(), d.len())?;
        buf.copy_from_slice(&d[s..s + buf.len()]);
        Ok(())
    }
    fn write(&self, piece: u32, offset: u32, data: &[u8]) -> io::Result<()> {
        let mut d = self.data.lock().map_err(|_| io::Error::other("poisoned"))?;
        let s = self.range(piece, offset, data.len(), d.len())?;
        d[s..s + data.len()].copy_from_slice(data);
        Ok(())
    }
    fn flush(&self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job without a buffer: its chunks are bytes of their own.
    const NO_JOB: Job = Job {
        buf: Vec::new(),
        ops: Vec::new(),
    };

    /// `data` written to `piece` at `offset`, hashed at once.
    fn written(
        h: &mut InOrder,
        check: &crate::verify::PieceCheck,
        piece: u32,
        offset: u32,
        data: &[u8],
    ) {
        h.note(check, piece, offset, data, Chunk::Own(data.to_vec()));
        hash_queued(h.open.iter_mut(), &NO_JOB);
    }

    /// The hash of `piece` when it was all taken in order.
    fn take(h: &mut InOrder, piece: u32, size: u64) -> Option<crate::verify::PieceHash> {
        h.take(piece).filter(|r| r.next == size).map(|r| r.hash)
    }

    #[test]
    fn hash_piece_finds_the_bad_piece() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let limits = Limits::new(32768, data.len() as u64);
        let hashes: Vec<[u8; 20]> = data.chunks(32768).map(|c| Sha1::digest(c).into()).collect();
        let store = MemStore::new(data, 32768);
        store.write(1, 5, b"x").unwrap();
        let v: Vec<bool> = (0..limits.piece_count)
            .map(|i| hash_piece(&store, &limits, i).unwrap() == hashes[i as usize])
            .collect();
        assert_eq!(v, vec![true, false, true, true]);
        assert!(store
            .read(3, 0, &mut [0u8; 100_000 - 3 * 32768 + 1])
            .is_err());
    }

    /// A land that writes nothing: it notes its blocks, then (`complete`: whether to judge)
    /// their piece complete.
    fn note_only(complete: Option<bool>) -> Land {
        Box::new(move |blocks, note| {
            for (b, d) in blocks {
                note.written(b.piece, b.offset, d);
            }
            if let (Some(judge), Some((b, _))) = (complete, blocks.last()) {
                note.complete(b.piece, judge);
            }
        })
    }

    /// The verdict on a piece of `size` bytes from its [`Hashed`]: whether it is good when all
    /// of it was hashed in order; None when it is to be read back, whole or in part.
    fn whole(h: Option<Hashed>, size: u64) -> Option<bool> {
        h.filter(|h| h.upto == size).map(|h| h.hash.good())
    }

    /// Verdicts a [`Judge`] was given, in order: (piece, [`whole`] of pieces of 32 KiB).
    type Judged = std::sync::Arc<std::sync::Mutex<Vec<(u32, Option<bool>)>>>;

    /// `pieces` pieces of 32 KiB of bytes `i * mul`, hashes wrong for piece `bad`, and a judge
    /// recording its verdicts.
    fn pieces_and_judge(
        pieces: u32,
        mul: u32,
        bad: usize,
    ) -> (
        Vec<u8>,
        std::sync::Arc<crate::verify::PieceCheck>,
        Judge,
        Judged,
    ) {
        let data: Vec<u8> = (0..pieces * 32768).map(|i| (i * mul) as u8).collect();
        let mut hashes: Vec<[u8; 20]> =
            data.chunks(32768).map(|c| Sha1::digest(c).into()).collect();
        hashes[bad][0] ^= 1;
        let judged = Judged::default();
        let j = judged.clone();
        let judge: Judge = std::sync::Arc::new(move |p, h: Option<Hashed>| {
            j.lock().unwrap().push((p, whole(h, 32768)));
        });
        let check = std::sync::Arc::new(crate::verify::PieceCheck::v1(hashes));
        (data, check, judge, judged)
    }

    #[test]
    fn ordered_hashes_on_its_thread_and_judges_every_piece_once() {
        let (data, check, judge, judged) = pieces_and_judge(4, 31, 3);
        let mut o = Ordered::new(check, judge);
        let block = |p: usize, b: usize| &data[p * 32768 + b * 16384..][..16384];
        let blk = |p: usize, b: usize| crate::peer::Block {
            piece: p as u32,
            offset: b as u32 * 16384,
            length: 16384,
        };
        // More buffers than the pool holds, each with a partial frame at its end that must
        // move to the next one.
        let mut buf = vec![0u8; 40000];
        for (p, order) in [(0, [0, 1]), (1, [1, 0]), (2, [0, 1]), (3, [0, 1])] {
            for b in order {
                o.lend(&buf);
                buf[..16384].copy_from_slice(block(p, b));
                buf[16384..16390].copy_from_slice(b"tail!!");
                let last = (b == order[1]).then_some(p != 2);
                o.land(&[(blk(p, b), &buf[..16384])], note_only(last));
                let (mut start, mut end) = (16384, 16390);
                buf = o.submit(buf, &mut start, &mut end);
                assert_eq!((start, end), (0, 6));
                assert_eq!(&buf[..6], b"tail!!");
                assert_eq!(buf.len(), 40000);
            }
        }
        // A block that is not in the lent buffer is copied.
        o.land(&[(blk(0, 0), block(0, 0))], note_only(None));
        o.land(&[(blk(0, 1), block(0, 1))], note_only(Some(true)));
        let (mut start, mut end) = (0, 0);
        let _ = o.submit(buf, &mut start, &mut end);
        o.close();
        let judged = judged.lock().unwrap().clone();
        // Piece 1 came out of order (its second block kept until the first came), piece 2 is
        // only forgotten, piece 3 is bad.
        assert_eq!(
            judged,
            vec![
                (0, Some(true)),
                (1, Some(true)),
                (3, Some(false)),
                (0, Some(true))
            ]
        );
        assert!(o.made <= BUFFERS);
    }

    #[test]
    fn landed_blocks_are_written_and_hashed_on_the_thread_from_the_lent_buffer() {
        use crate::peer::Block;
        use std::sync::{Arc, Mutex};
        let (data, check, judge, judged) = pieces_and_judge(3, 29, 1);
        // Twice: on the hashing thread, and without one (the lands then run in `submit`).
        for broken in [false, true] {
            judged.lock().unwrap().clear();
            let disk = Arc::new(Mutex::new(vec![0u8; data.len()]));
            let mut o = Ordered::new(check.clone(), judge.clone());
            o.broken = broken;
            let mut buf = vec![0u8; 40000];
            for p in 0..3u32 {
                for b in 0..2u32 {
                    o.lend(&buf);
                    let at = (p * 32768 + b * 16384) as usize;
                    buf[..16384].copy_from_slice(&data[at..at + 16384]);
                    let blk = Block {
                        piece: p,
                        offset: b * 16384,
                        length: 16384,
                    };
                    let disk = disk.clone();
                    o.land(
                        &[(blk, &buf[..16384])],
                        Box::new(move |blocks, note| {
                            for (b, d) in blocks {
                                let at = (b.piece * 32768 + b.offset) as usize;
                                disk.lock().unwrap()[at..at + d.len()].copy_from_slice(d);
                                note.written(b.piece, b.offset, d);
                                if b.offset == 16384 {
                                    note.complete(b.piece, true);
                                }
                            }
                        }),
                    );
                    let (mut start, mut end) = (16384, 16384);
                    buf = o.submit(buf, &mut start, &mut end);
                    // The connection scribbles over the buffer it got back.
                    buf.fill(0xee);
                }
            }
            o.close();
            assert_eq!(*disk.lock().unwrap(), data, "broken: {broken}");
            let want: Vec<(u32, Option<bool>)> = if broken {
                vec![(0, None), (1, None), (2, None)]
            } else {
                vec![(0, Some(true)), (1, Some(false)), (2, Some(true))]
            };
            assert_eq!(*judged.lock().unwrap(), want, "broken: {broken}");
        }
    }

    #[test]
    fn in_order_hashes_only_whole_pieces_sent_in_order() {
        let data: Vec<u8> = (0..3 * 32768u32).map(|i| (i * 13) as u8).collect();
        let hashes: Vec<[u8; 20]> = data.chunks(32768).map(|c| Sha1::digest(c).into()).collect();
        let check = crate::verify::PieceCheck::v1(hashes);
        let block = |p: usize, b: usize| &data[p * 32768 + b * 16384..][..16384];
        let mut h = InOrder::default();
        // Piece 0 in order: judged good; taken once only.
        written(&mut h, &check, 0, 0, block(0, 0));
        written(&mut h, &check, 0, 16384, block(0, 1));
        assert!(take(&mut h, 0, 32768).unwrap().good());
        assert!(take(&mut h, 0, 32768).is_none());
        // Piece 1 out of order, its first block last: hashed once the first block came.
        written(&mut h, &check, 1, 16384, block(1, 1));
        written(&mut h, &check, 1, 0, block(1, 0));
        assert!(take(&mut h, 1, 32768).unwrap().good());
        // A block behind the bytes hashed drops the piece, even when the rest comes later.
        written(&mut h, &check, 1, 0, block(1, 0));
        written(&mut h, &check, 1, 16384, block(1, 1));
        written(&mut h, &check, 1, 16384, block(1, 1));
        assert!(take(&mut h, 1, 32768).is_none());
        // A restart at offset 0 forgets the bytes hashed before (here: wrong ones).
        written(&mut h, &check, 2, 0, block(0, 0));
        written(&mut h, &check, 2, 0, block(2, 0));
        written(&mut h, &check, 2, 16384, block(2, 1));
        assert!(take(&mut h, 2, 32768).unwrap().good());
        // A wrong byte gives a bad piece; a piece short of its size gives none.
        let mut bad = block(0, 1).to_vec();
        bad[7] ^= 1;
        written(&mut h, &check, 0, 0, block(0, 0));
        written(&mut h, &check, 0, 16384, &bad);
        assert!(!take(&mut h, 0, 32768).unwrap().good());
        written(&mut h, &check, 0, 0, block(0, 0));
        assert!(take(&mut h, 0, 32768).is_none());
        // A piece that never got its first block has no hash at all.
        written(&mut h, &check, 2, 16384, block(2, 1));
        assert!(h.take(2).is_none());
        // At most a few pieces at once: the oldest goes.
        for p in 0..=IN_ORDER_PIECES as u32 {
            written(&mut h, &check, p, 0, block(0, 0));
        }
        assert_eq!(h.open.len(), IN_ORDER_PIECES);
        assert!(h.open.iter().all(|r| r.piece != 0));
    }

    #[test]
    fn in_order_waits_for_a_gap_to_fill() {
        const B: usize = 16384;
        let n = AHEAD_BLOCKS + 3;
        let data: Vec<u8> = (0..(n * B) as u32)
            .map(|i| (i * 31 + i / 7) as u8)
            .collect();
        let check = crate::verify::PieceCheck::v1(vec![Sha1::digest(&data).into()]);
        let block = |b: usize| &data[b * B..][..B];
        let size = data.len() as u64;
        let at = |b: usize| (b * B) as u32;
        let mut h = InOrder::default();
        // 0, 2, 3, 1, 4, ...: the blocks ahead are hashed once block 1 comes.
        written(&mut h, &check, 0, 0, block(0));
        written(&mut h, &check, 0, at(2), block(2));
        written(&mut h, &check, 0, at(3), block(3));
        written(&mut h, &check, 0, at(1), block(1));
        for b in 4..n {
            written(&mut h, &check, 0, at(b), block(b));
        }
        assert!(take(&mut h, 0, size).unwrap().good());
        // A block ahead sent again: its later bytes are the ones in the store and the hash.
        let mut bad = block(1).to_vec();
        bad[3] ^= 1;
        written(&mut h, &check, 0, 0, block(0));
        written(&mut h, &check, 0, at(2), &bad);
        written(&mut h, &check, 0, at(2), block(2));
        written(&mut h, &check, 0, at(1), block(1));
        for b in 3..n {
            written(&mut h, &check, 0, at(b), block(b));
        }
        assert!(take(&mut h, 0, size).unwrap().good());
        written(&mut h, &check, 0, 0, block(0));
        written(&mut h, &check, 0, at(2), block(2));
        written(&mut h, &check, 0, at(2), &bad);
        written(&mut h, &check, 0, at(1), block(1));
        for b in 3..n {
            written(&mut h, &check, 0, at(b), block(b));
        }
        assert!(!take(&mut h, 0, size).unwrap().good());
        // More blocks ahead than kept: the piece stops at the gap, its hash over the bytes
        // before it; the rest (read back) completes it. Nothing ahead is kept any more.
        written(&mut h, &check, 0, 0, block(0));
        for b in 2..n {
            written(&mut h, &check, 0, at(b), block(b));
        }
        assert!(h.open[0].stalled && h.open[0].ahead.is_empty());
        written(&mut h, &check, 0, at(1), block(1));
        let r = h.take(0).unwrap();
        assert_eq!(r.next, B as u64);
        let mut hash = r.hash;
        hash.update(&data[B..]);
        assert!(hash.good());
        // The bound is over all the pieces: a second piece gets no room left by the first.
        let check2 = crate::verify::PieceCheck::v1(vec![Sha1::digest(&data).into(); 2]);
        written(&mut h, &check2, 0, 0, block(0));
        for b in 2..AHEAD_BLOCKS + 2 {
            written(&mut h, &check2, 0, at(b), block(b));
        }
        written(&mut h, &check2, 1, 0, block(0));
        written(&mut h, &check2, 1, at(2), block(2));
        assert!(!h.open[0].stalled && h.open[1].stalled);
        written(&mut h, &check2, 0, at(1), block(1));
        for b in AHEAD_BLOCKS + 2..n {
            written(&mut h, &check2, 0, at(b), block(b));
        }
        assert!(take(&mut h, 0, size).unwrap().good());
        assert_eq!(h.take(1).unwrap().next, B as u64);
    }

    /// Blocks `(piece, offset, bytes)` in the order sent, with a complete noted after the
    /// block that gives a piece its last missing block; judged by `run_job` over jobs cut at
    /// `cuts`, some blocks outside the lent buffer.
    fn run_jobs(
        check: &crate::verify::PieceCheck,
        sizes: &[u64],
        sent: &[(u32, u32, Vec<u8>)],
        cuts: &[usize],
    ) -> Vec<(u32, Option<bool>)> {
        let judged = std::sync::Mutex::new(Vec::new());
        let judge = |p: u32, h: Option<Hashed>| {
            judged
                .lock()
                .unwrap()
                .push((p, whole(h, sizes[p as usize])));
        };
        let mut have: Vec<std::collections::BTreeSet<u32>> = vec![Default::default(); sizes.len()];
        let mut h = InOrder::default();
        let mut job = Job {
            buf: Vec::new(),
            ops: Vec::new(),
        };
        for (n, (piece, offset, data)) in sent.iter().enumerate() {
            let at = if n % 7 == 3 {
                Bytes::Own(data.clone())
            } else {
                job.buf.extend_from_slice(data);
                Bytes::Lent(job.buf.len() - data.len()..job.buf.len())
            };
            job.ops.push(Op::Written {
                piece: *piece,
                offset: *offset,
                at,
            });
            let p = *piece as usize;
            let blocks = sizes[p].div_ceil(16384) as usize;
            if have[p].len() < blocks && have[p].insert(*offset) && have[p].len() == blocks {
                job.ops.push(Op::Complete {
                    piece: *piece,
                    judge: true,
                });
            }
            if cuts.contains(&n) || n + 1 == sent.len() {
                run_job(&mut h, check, &judge, &job);
                job.ops.clear();
                job.buf.clear();
            }
        }
        assert!(h.open.iter().all(|r| r.queued.is_empty()));
        judged.into_inner().unwrap()
    }

    #[test]
    fn interleaved_pieces_are_judged_as_when_hashed_one_by_one() {
        const PL: usize = 65536;
        const B: usize = 16384;
        let len = 6 * PL + 2 * B + 1000;
        let data: Vec<u8> = (0..len as u32).map(|i| (i * 37 + i / 101) as u8).collect();
        let check = crate::verify::PieceCheck::v1(
            data.chunks(PL).map(|c| Sha1::digest(c).into()).collect(),
        );
        let sizes: Vec<u64> = data.chunks(PL).map(|c| c.len() as u64).collect();
        let blocks: Vec<Vec<(u32, u32, Vec<u8>)>> = data
            .chunks(PL)
            .enumerate()
            .map(|(p, c)| {
                c.chunks(B)
                    .enumerate()
                    .map(|(b, d)| (p as u32, (b * B) as u32, d.to_vec()))
                    .collect()
            })
            .collect();
        // Up to `lanes` pieces round-robin (1: piece after piece).
        let round_robin = |lanes: usize| {
            let mut queues: Vec<std::collections::VecDeque<_>> =
                blocks.iter().map(|b| b.iter().cloned().collect()).collect();
            let mut out = Vec::new();
            while queues.iter().any(|q| !q.is_empty()) {
                let live: Vec<usize> = (0..queues.len())
                    .filter(|&i| !queues[i].is_empty())
                    .collect();
                for &i in live.iter().take(lanes) {
                    out.extend(queues[i].pop_front());
                }
            }
            out
        };
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let all_good: Vec<(u32, Option<bool>)> =
            (0..sizes.len() as u32).map(|p| (p, Some(true))).collect();
        for lanes in [1, 2, 3, 4] {
            let sent = round_robin(lanes);
            for cuts in [vec![], vec![0, 5, 6, 17], (0..sent.len()).collect()] {
                let mut got = run_jobs(&check, &sizes, &sent, &cuts);
                got.sort();
                assert_eq!(got, all_good, "{lanes} lanes, cuts {cuts:?}");
            }
        }
        // Disorder: a block held back past later ones (a gap), a block sent twice, a wrong
        // byte; judged as the same blocks hashed one at a time judge them.
        let mut seen = std::collections::BTreeSet::new();
        for round in 0..40 {
            let mut sent = round_robin(1 + round % 4);
            for _ in 0..1 + round % 3 {
                let i = rnd(sent.len() - 3);
                match rnd(3) {
                    0 => {
                        let b = sent.remove(i);
                        sent.insert(i + 1 + rnd(3), b);
                    }
                    1 => {
                        let b = sent[i].clone();
                        sent.insert(i + 1 + rnd(2), b);
                    }
                    _ => {
                        let k = rnd(sent[i].2.len());
                        sent[i].2[k] ^= 1;
                    }
                }
            }
            let cuts: Vec<usize> = (0..6).map(|_| rnd(sent.len())).collect();
            let got = run_jobs(&check, &sizes, &sent, &cuts);
            let one_by_one: Vec<usize> = (0..sent.len()).collect();
            let want = run_jobs(&check, &sizes, &sent, &one_by_one);
            assert_eq!(got, want, "round {round}");
            assert_eq!(got.len(), sizes.len(), "every piece judged once");
            seen.extend(got.iter().map(|j| j.1));
        }
        // Each outcome came up: good, bad, read back.
        assert_eq!(seen.len(), 3, "{seen:?}");
    }
}
