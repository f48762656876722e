//! Multi-file storage: read and write blocks and pieces of a torrent across its files.
//!
//! A [`Storage`] joins a validated [`Torrent`] to a directory: file `f` lives at
//! `DIR/<torrent.file_path(f)>` (or under a content path given by the user). It is `Send + Sync`
//! and every method takes `&self`, so the swarm's threads read and write through one shared
//! value. Invariants:
//!
//! - Nothing outside the target is touched: paths come from validated metainfo, and a torrent
//!   path that runs into a symlink (any component below the target directory) is refused, with
//!   `O_NOFOLLOW` on the final open as well. Files that the torrent does not list are left alone.
//! - Pad files (BEP 47) are never on disk: they read as zeros and writes to them are dropped.
//! - Memory stays bounded: at most [`WINDOW`] bytes are mapped per call, and every map is
//!   unmapped before the call returns, so mapped file pages never pile up in RSS.
//! - Errors name the file: [`Error::file`] says which one failed.
//!
//! I/O choices ([`Io`]): with [`Io::Mmap`] (the default) [`Storage::visit`] maps the range it
//! needs (ranges of 256 KiB and more), at most a window at a time, and hands the mapped page-cache bytes to a callback
//! without any copy: that is what verification hashes from (measured faster than `pread` into a
//! buffer, which costs one extra copy per byte). Reads that copy out anyway
//! ([`Storage::read_block`], [`Storage::read_piece`]) use `pread` in both modes, since mapping a
//! small range costs more than copying it. A file truncated by another
//! program while it is mapped would raise SIGBUS: the length is checked before mapping, and the
//! remaining race is caught by a guard (see `guard.rs`) that turns it into [`Error::Changed`].
//! [`Io::Plain`] makes `visit` read with `pread` into a reusable buffer, 256 KiB at a time so the
//! copy is still in the core's cache when it is hashed, with identical results.
//! [`Storage::prefetch`] asks the kernel to read the next windows (`POSIX_FADV_WILLNEED`) while
//! the current one is hashed, so a file that is not in the page cache is read at the disk's
//! speed; one `RWF_NOWAIT` probe per window skips the advice when the data is cached already.
//! Writes always use `pwrite`, in both modes: a store into a mapped sparse file on a full disk
//! raises SIGBUS instead of returning `ENOSPC`, while `pwrite` reports
//! `no space left on device writing <file>`. A file-size limit (`ulimit -f`) becomes an error
//! too when the process ignores `SIGXFSZ` (`cli::ignore_file_size_signal`, which bt-fetch calls).

pub(crate) mod guard;

use std::collections::HashSet;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::geometry::{self, Geometry};
use crate::metainfo::Torrent;

/// The most bytes mapped (or read into a scratch buffer) at once by one call.
pub const WINDOW: u64 = 4 << 20;

/// How far ahead of the range being hashed verification asks the kernel to read (see
/// [`Storage::prefetch`]): two windows, so a cold file's next reads are queued while both
/// cores hash.
pub const READAHEAD: u64 = 2 * WINDOW;

/// Ask the kernel to start reading `len` bytes of `f` at `at` into the page cache
/// (`POSIX_FADV_WILLNEED`) unless the last of them is cached already; returns at once.
pub(crate) fn read_ahead(f: &File, at: u64, len: u64) {
    if len == 0 || cached(f, at + len - 1) {
        return;
    }
    // SAFETY: posix_fadvise only reads its arguments; the descriptor is open.
    unsafe {
        libc::posix_fadvise(
            f.as_raw_fd(),
            at as libc::off_t,
            len as libc::off_t,
            libc::POSIX_FADV_WILLNEED,
        );
    }
}

/// Whether the byte at `at` of `f` is in the page cache: a one-byte `preadv2` with
/// `RWF_NOWAIT`, which fails with `EAGAIN` instead of waiting for the disk. One probe per
/// window keeps [`Storage::prefetch`] nearly free on cached data (asking the kernel to read
/// ahead walks every cached page of the range: measured 3.5% more CPU on a hot file).
fn cached(f: &File, at: u64) -> bool {
    let mut b = [0u8; 1];
    let iov = libc::iovec {
        iov_base: b.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: one iovec over a live one-byte buffer; the descriptor is open.
    let n = unsafe { libc::preadv2(f.as_raw_fd(), &iov, 1, at as libc::off_t, libc::RWF_NOWAIT) };
    n == 1
}

/// Bytes per `pread` when [`Storage::visit`] reads with [`Io::Plain`].
const PREAD_CHUNK: usize = 256 << 10;

/// Ranges shorter than this are read with `pread` even in [`Io::Mmap`] mode.
const MMAP_MIN: usize = 256 << 10;

/// Open file handles kept at most; older ones are closed as new files are opened.
const MAX_OPEN: usize = 256;

/// How reads reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Io {
    /// Map the range being read (bounded windows, unmapped at once).
    #[default]
    Mmap,
    /// `pread` into buffers (`--no-mmap`).
    Plain,
}

/// What was being done when an I/O error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Opening or creating a file.
    Open,
    /// Reading.
    Read,
    /// Writing or extending.
    Write,
    /// Flushing to the device.
    Sync,
    /// Creating a directory.
    Mkdir,
}

/// A storage failure, naming the file (index in the torrent's list, and path).
#[derive(Debug)]
pub enum Error {
    /// The range asked for is not inside the torrent.
    Geometry(geometry::Error),
    /// The file does not exist.
    Missing {
        /// File index.
        file: usize,
        /// Its path.
        path: PathBuf,
    },
    /// The file is shorter than the range being read.
    Short {
        /// File index.
        file: usize,
        /// Its path.
        path: PathBuf,
        /// Its length on disk.
        len: u64,
        /// The length the read needs.
        need: u64,
    },
    /// The file was truncated (or replaced) while it was being read.
    Changed {
        /// File index.
        file: usize,
        /// Its path.
        path: PathBuf,
    },
    /// The path runs into a symlink or something that is not a regular file or directory.
    Unsafe {
        /// File index.
        file: usize,
        /// The offending path.
        path: PathBuf,
        /// What is wrong with it.
        why: &'static str,
    },
    /// An operating-system error.
    Io {
        /// File index.
        file: usize,
        /// The path.
        path: PathBuf,
        /// What was being done.
        op: Op,
        /// The error.
        source: io::Error,
    },
}

impl Error {
    /// The index of the file that failed, if a file failed.
    pub fn file(&self) -> Option<usize> {
        match self {
            Error::Geometry(_) => None,
            Error::Missing { file, .. }
            | Error::Short { file, .. }
            | Error::Changed { file, .. }
            | Error::Unsafe { file, .. }
            | Error::Io { file, .. } => Some(*file),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Geometry(e) => e.fmt(f),
            Error::Missing { path, .. } => write!(f, "{} does not exist", path.display()),
            Error::Short {
                path, len, need, ..
            } => write!(
                f,
                "{} is {len} bytes, shorter than the {need} needed",
                path.display()
            ),
            Error::Changed { path, .. } => write!(
                f,
                "{} was truncated or replaced while being read",
                path.display()
            ),
            Error::Unsafe { path, why, .. } => write!(f, "refusing {}: {why}", path.display()),
            Error::Io {
                path, op, source, ..
            } => {
                let p = path.display();
                match (source.raw_os_error(), op) {
                    (Some(libc::ENOSPC), _) => write!(f, "no space left on device writing {p}"),
                    (Some(libc::EDQUOT), _) => write!(f, "disk quota exceeded writing {p}"),
                    (Some(libc::EFBIG), _) => write!(f, "file size limit exceeded writing {p}"),
                    (_, Op::Open) => write!(f, "opening {p}: {source}"),
                    (_, Op::Read) => write!(f, "reading {p}: {source}"),
                    (_, Op::Write) => write!(f, "writing {p}: {source}"),
                    (_, Op::Sync) => write!(f, "flushing {p}: {source}"),
                    (_, Op::Mkdir) => write!(f, "creating directory {p}: {source}"),
                }
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Geometry(e) => Some(e),
            _ => None,
        }
    }
}

impl From<geometry::Error> for Error {
    fn from(e: geometry::Error) -> Self {
        Error::Geometry(e)
    }
}

/// Where [`Storage::create_chosen`] keeps the bytes of files not chosen that share a piece
/// with chosen files: `DIR/.<name>.parts`.
pub fn parts_path(t: &Torrent, dir: &Path) -> PathBuf {
    let mut name = b".".to_vec();
    name.extend_from_slice(&t.name);
    name.extend_from_slice(b".parts");
    dir.join(std::ffi::OsStr::from_bytes(&name))
}

/// A piece of a byte range as it lies on disk (see [`Storage::extents`]).
#[derive(Debug, Clone)]
pub enum Extent {
    /// `len` bytes of an open file starting at `offset`.
    File {
        /// The open file (kept open while the caller holds it).
        file: Arc<File>,
        /// Where in the file.
        offset: u64,
        /// How many bytes.
        len: u64,
    },
    /// Pad bytes: this many zeros.
    Zeros(u64),
}

/// What is at a file's path, seen without following symlinks.
#[derive(Debug)]
pub enum FileState {
    /// Nothing.
    Missing,
    /// A regular file of this many bytes.
    Present(u64),
    /// Something that cannot be used (a symlink, a directory, an unreadable parent...).
    Unusable(Error),
}

struct Slot {
    path: PathBuf,
    /// Path components below the trusted base that must not be symlinks.
    checked_from: usize,
    /// The final component was named by the user: it may be a symlink.
    follow: bool,
    handle: Mutex<Option<Arc<File>>>,
    dirty: AtomicBool,
    /// The file is not on disk and its bytes live in the parts file, at `base` (the file's
    /// offset in the piece stream) plus their offset in the file.
    parted: bool,
    base: u64,
}

/// A torrent's files on disk. See the module documentation.
pub struct Storage {
    geo: Geometry,
    slots: Vec<Slot>,
    io: Io,
    writable: bool,
    open: AtomicUsize,
    sweep: AtomicUsize,
}

impl Storage {
    /// Storage for reading (verify, seed) the torrent's data in `DIR/<name>`. Nothing is
    /// opened yet; missing files give [`Error::Missing`] when read.
    /// A file that is missing while the parts file exists is read from the parts file (see
    /// [`Storage::create_chosen`]).
    pub fn open(t: &Torrent, dir: &Path, io: Io) -> Storage {
        let mut s = Storage::build(t, dir, false, io);
        let parts = parts_path(t, dir);
        if std::fs::symlink_metadata(&parts).is_ok_and(|m| m.is_file()) {
            for i in 0..s.slots.len() {
                if !s.geo.is_pad(i) && std::fs::symlink_metadata(&s.slots[i].path).is_err() {
                    s.part(i, &parts);
                }
            }
        }
        s
    }

    /// Send file `i`'s bytes to the parts file at `parts`.
    fn part(&mut self, i: usize, parts: &Path) {
        let slot = &mut self.slots[i];
        slot.path = parts.to_path_buf();
        slot.parted = true;
        slot.base = self.geo.file_start(i);
    }

    /// Whether file `file` is read from and written to the parts file.
    pub fn parted(&self, file: usize) -> bool {
        self.slots[file].parted
    }

    /// Storage for reading the content at `content` itself (the file of a single-file
    /// torrent, or the directory holding a multi-file torrent's files). The user named that
    /// path, so only components below it are checked for symlinks.
    pub fn open_content(t: &Torrent, content: &Path, io: Io) -> Storage {
        let mut s = Storage::build(t, content, false, io);
        for (slot, f) in s.slots.iter_mut().zip(&t.files) {
            slot.path = content.to_path_buf();
            slot.checked_from = slot.path.components().count();
            slot.follow = t.single_file;
            if !t.single_file {
                for c in &f.path {
                    slot.path.push(std::ffi::OsStr::from_bytes(c));
                }
            }
        }
        s
    }

    /// Storage for downloading into `DIR/<name>`: creates the directories and every file
    /// (sparse, extended to its final length if shorter; longer files are left as they are),
    /// refusing to follow symlinks. Pad files and BEP 47 symlink entries are not created.
    pub fn create(t: &Torrent, dir: &Path, io: Io) -> Result<Storage, Error> {
        Storage::create_chosen(t, dir, io, None)
    }

    /// [`Storage::create`] for the files marked in `chosen` (all when `None`). A file not
    /// chosen is not created: when it is not on disk already, its bytes (only those of pieces
    /// it shares with chosen files are ever written) go to the parts file `DIR/.<name>.parts`,
    /// at their offset in the piece stream (a sparse file: only those bytes take disk). A
    /// chosen file that is created while the parts file exists first gets its bytes back from
    /// it, so a later run that chooses more files fetches nothing twice.
    pub fn create_chosen(
        t: &Torrent,
        dir: &Path,
        io: Io,
        chosen: Option<&[bool]>,
    ) -> Result<Storage, Error> {
        let mut s = Storage::build(t, dir, true, io);
        let parts = parts_path(t, dir);
        let mut parts_needed = false;
        if let Some(chosen) = chosen {
            let need = s.geo.pieces_of(chosen);
            for i in 0..s.slots.len() {
                let absent = std::fs::symlink_metadata(&s.slots[i].path).is_err();
                if !chosen.get(i).copied().unwrap_or(false) && !s.geo.is_pad(i) && absent {
                    s.part(i, &parts);
                    parts_needed |= s.geo.file_pieces(i).any(|p| need[p]);
                }
            }
        }
        let restore = std::fs::symlink_metadata(&parts).is_ok_and(|m| m.is_file());
        // Check every path before creating anything, then create.
        let mut dirs_ok = HashSet::new();
        let on_disk =
            |i: usize| !s.geo.is_pad(i) && t.files[i].symlink.is_none() && !s.slots[i].parted;
        for i in (0..s.slots.len()).filter(|&i| on_disk(i)) {
            s.check_path(i, false, &mut dirs_ok)?;
        }
        dirs_ok.clear();
        for i in (0..s.slots.len()).filter(|&i| on_disk(i)) {
            s.check_path(i, true, &mut dirs_ok)?;
            let new = restore && std::fs::symlink_metadata(&s.slots[i].path).is_err();
            let file = s.open_file(i, true)?;
            let len = s.geo.file_len(i);
            let on_disk = file.metadata().map_err(|e| s.io_err(i, Op::Open, e))?.len();
            if on_disk < len {
                file.set_len(len).map_err(|e| s.io_err(i, Op::Write, e))?;
            }
            if new {
                s.restore(i, &file, &parts)?;
            }
        }
        if parts_needed {
            let i = (0..s.slots.len()).find(|&i| s.slots[i].parted).unwrap_or(0);
            s.check_path(i, true, &mut dirs_ok)?;
            s.open_file(i, true)?;
        }
        Ok(s)
    }

    /// Copy into the new file `i` the bytes of its first and last pieces that the parts file
    /// holds (the only ones an earlier run can have put there).
    fn restore(&self, i: usize, file: &File, parts: &Path) -> Result<(), Error> {
        let Ok(from) = File::open(parts) else {
            return Ok(());
        };
        let (start, len) = (self.geo.file_start(i), self.geo.file_len(i));
        let pieces = self.geo.file_pieces(i);
        if pieces.is_empty() {
            return Ok(());
        }
        let first_end = self.geo.piece_offset(pieces.start) + self.geo.piece_len(pieces.start);
        let last_start = self.geo.piece_offset(pieces.end - 1);
        let head = 0..(first_end - start).min(len);
        let tail = last_start.saturating_sub(start).max(head.end)..len;
        let mut buf = Vec::new();
        for r in [head, tail] {
            buf.resize((r.end - r.start) as usize, 0);
            let mut got = 0;
            while got < buf.len() {
                match from.read_at(&mut buf[got..], start + r.start + got as u64) {
                    Ok(0) => break,
                    Ok(k) => got += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(self.io_err(i, Op::Read, e)),
                }
            }
            if got > 0 {
                file.write_all_at(&buf[..got], r.start)
                    .map_err(|e| self.io_err(i, Op::Write, e))?;
            }
        }
        Ok(())
    }

    fn build(t: &Torrent, dir: &Path, writable: bool, io: Io) -> Storage {
        let base = dir.components().count();
        let slots = t
            .files
            .iter()
            .map(|f| Slot {
                path: dir.join(t.file_path(f)),
                checked_from: base,
                follow: false,
                handle: Mutex::new(None),
                dirty: AtomicBool::new(false),
                parted: false,
                base: 0,
            })
            .collect();
        Storage {
            geo: Geometry::new(t),
            slots,
            io,
            writable,
            open: AtomicUsize::new(0),
            sweep: AtomicUsize::new(0),
        }
    }

    /// The piece geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.geo
    }

    /// The same storage with another I/O mode (open handles are kept): bt-fetch verifies
    /// with maps, then moves blocks with `pread`/`pwrite`.
    pub fn with_io(mut self, io: Io) -> Storage {
        self.io = io;
        self
    }

    /// The I/O mode.
    pub fn io(&self) -> Io {
        self.io
    }

    /// Where file `file` lives.
    pub fn path(&self, file: usize) -> &Path {
        &self.slots[file].path
    }

    fn io_err(&self, file: usize, op: Op, source: io::Error) -> Error {
        Error::Io {
            file,
            path: self.slots[file].path.clone(),
            op,
            source,
        }
    }

    /// Check the components below the trusted base: no symlinks, directories where
    /// directories are expected. With `create`, missing directories are made.
    fn check_path(
        &self,
        file: usize,
        create: bool,
        ok: &mut HashSet<PathBuf>,
    ) -> Result<(), Error> {
        let slot = &self.slots[file];
        let comps: Vec<_> = slot.path.components().collect();
        let mut cur: PathBuf = comps[..slot.checked_from.min(comps.len())].iter().collect();
        let n = comps.len();
        for (k, c) in comps.iter().enumerate().skip(slot.checked_from) {
            cur.push(c);
            let last = k + 1 == n;
            if !last && ok.contains(&cur) {
                continue;
            }
            let unsafe_ = |why| Error::Unsafe {
                file,
                path: cur.clone(),
                why,
            };
            match std::fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => return Err(unsafe_("it is a symlink")),
                Ok(m) if !last && !m.is_dir() => return Err(unsafe_("it is not a directory")),
                Ok(m) if last && !m.is_file() => return Err(unsafe_("it is not a regular file")),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if !create || last {
                        return Ok(());
                    }
                    match std::fs::create_dir(&cur) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                            let m = std::fs::symlink_metadata(&cur);
                            if !m.map(|m| m.is_dir()).unwrap_or(false) {
                                return Err(unsafe_("it is not a directory"));
                            }
                        }
                        Err(e) => {
                            return Err(Error::Io {
                                file,
                                path: cur,
                                op: Op::Mkdir,
                                source: e,
                            })
                        }
                    }
                }
                Err(e) => {
                    return Err(Error::Io {
                        file,
                        path: cur,
                        op: Op::Open,
                        source: e,
                    })
                }
            }
            if !last {
                ok.insert(cur.clone());
            }
        }
        Ok(())
    }

    /// What is on disk for a file (without opening it).
    pub fn stat(&self, file: usize) -> FileState {
        if self.slots[file].parted {
            return FileState::Missing;
        }
        if let Err(e) = self.check_path(file, false, &mut HashSet::new()) {
            return FileState::Unusable(e);
        }
        let slot = &self.slots[file];
        let meta = if slot.follow {
            std::fs::metadata(&slot.path)
        } else {
            std::fs::symlink_metadata(&slot.path)
        };
        match meta {
            Ok(m) if !m.is_file() => FileState::Unusable(Error::Unsafe {
                file,
                path: slot.path.clone(),
                why: "it is not a regular file",
            }),
            Ok(m) => FileState::Present(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => FileState::Missing,
            Err(e) => FileState::Unusable(self.io_err(file, Op::Open, e)),
        }
    }

    fn open_file(&self, file: usize, create: bool) -> Result<File, Error> {
        let path = &self.slots[file].path;
        let mut o = OpenOptions::new();
        let nofollow = if self.slots[file].follow {
            0
        } else {
            libc::O_NOFOLLOW
        };
        o.read(true).custom_flags(nofollow | libc::O_CLOEXEC);
        if self.writable {
            o.write(true).create(create);
        }
        o.open(path).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) => Error::Missing {
                file,
                path: path.clone(),
            },
            Some(libc::ELOOP) => Error::Unsafe {
                file,
                path: path.clone(),
                why: "it is a symlink",
            },
            _ => self.io_err(file, Op::Open, e),
        })
    }

    /// The open handle of a file, opening it (after the symlink check) if needed.
    fn handle(&self, file: usize) -> Result<Arc<File>, Error> {
        let slot = &self.slots[file];
        let mut h = slot.handle.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = h.as_ref() {
            return Ok(f.clone());
        }
        self.check_path(file, false, &mut HashSet::new())?;
        let f = self.open_file(file, false)?;
        if !f.metadata().map(|m| m.is_file()).unwrap_or(false) {
            return Err(Error::Unsafe {
                file,
                path: slot.path.clone(),
                why: "it is not a regular file",
            });
        }
        let f = Arc::new(f);
        *h = Some(f.clone());
        drop(h);
        if self.open.fetch_add(1, Ordering::Relaxed) + 1 > MAX_OPEN {
            self.close_some(file);
        }
        Ok(f)
    }

    /// Close handles (other than `keep`) until at most half of `MAX_OPEN` remain; users that
    /// hold an `Arc` keep theirs alive until they are done.
    fn close_some(&self, keep: usize) {
        let n = self.slots.len();
        let mut i = self.sweep.fetch_add(1, Ordering::Relaxed) % n;
        for _ in 0..n {
            if self.open.load(Ordering::Relaxed) <= MAX_OPEN / 2 {
                break;
            }
            if i != keep {
                if let Ok(mut h) = self.slots[i].handle.try_lock() {
                    if h.take().is_some() {
                        self.open.fetch_sub(1, Ordering::Relaxed);
                    }
                }
            }
            i = (i + 1) % n;
        }
        self.sweep.store(i, Ordering::Relaxed);
    }

    /// Close every open file (the next access reopens it).
    pub fn close_all(&self) {
        for s in &self.slots {
            if s.handle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .is_some()
            {
                self.open.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Feed the bytes of the stream range `start..start + len` to `f` in order, in chunks of
    /// at most [`WINDOW`] bytes (pad bytes as zeros). With [`Io::Mmap`] the chunks are the
    /// mapped file pages themselves (no copy); with [`Io::Plain`] they are read into
    /// `scratch`. The range must lie inside the torrent.
    pub fn visit(
        &self,
        start: u64,
        len: u64,
        scratch: &mut Vec<u8>,
        f: &mut dyn FnMut(&[u8]),
    ) -> Result<(), Error> {
        let total = self.geo.total_length();
        if start.checked_add(len).is_none_or(|e| e > total) {
            return Err(geometry::Error::OutsidePiece {
                piece: (start / self.geo.piece_length().max(1)) as usize,
                offset: start,
                len,
                piece_len: total,
            }
            .into());
        }
        for seg in self.geo.segments(start, len) {
            let mut done = 0;
            while done < seg.len {
                let n = (seg.len - done).min(WINDOW);
                let at = seg.file_offset + done;
                if seg.pad {
                    static ZEROS: [u8; 65536] = [0; 65536];
                    let mut left = n;
                    while left > 0 {
                        let k = left.min(ZEROS.len() as u64) as usize;
                        f(&ZEROS[..k]);
                        left -= k as u64;
                    }
                } else {
                    self.visit_file(seg.file, at, n as usize, scratch, f)?;
                }
                done += n;
            }
        }
        Ok(())
    }

    /// Feed `f` the `k` slices of `n` bytes at `start`, `start + stride`, ... side by side, when
    /// they all lie in one file on disk (not a pad file): mapped as one window (only the slices
    /// are touched) or, with [`Io::Plain`] or small slices, read into `scratch`. Returns
    /// `Ok(false)` without reading when they do not lie in one file.
    pub fn visit_side_by_side(
        &self,
        start: u64,
        stride: u64,
        k: usize,
        n: usize,
        scratch: &mut Vec<u8>,
        f: &mut dyn FnMut(&[&[u8]]),
    ) -> Result<bool, Error> {
        let span = (k as u64 - 1) * stride + n as u64;
        let mut segs = self.geo.segments(start, span);
        let seg = match (segs.next(), segs.next()) {
            (Some(seg), None) if !seg.pad && seg.len == span => seg,
            _ => return Ok(false),
        };
        let (file, h) = (seg.file, self.handle(seg.file)?);
        let at = seg.file_offset + self.slots[file].base;
        if self.io == Io::Plain || n < MMAP_MIN {
            if scratch.len() < k * n {
                scratch.resize(k * n, 0);
            }
            for j in 0..k {
                let off = at + j as u64 * stride;
                self.pread(file, &h, off, &mut scratch[j * n..(j + 1) * n])?;
            }
            let parts: Vec<&[u8]> = scratch[..k * n].chunks(n).collect();
            f(&parts);
            return Ok(true);
        }
        let on_disk = h
            .metadata()
            .map_err(|e| self.io_err(file, Op::Read, e))?
            .len();
        if on_disk < at + span {
            return Err(self.short(file, on_disk, at + span));
        }
        // SAFETY: as in `visit_file`: read-only, checked to be inside the file, SIGBUS guarded.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(at)
                .len(span as usize)
                .map(&*h)
        }
        .map_err(|e| self.io_err(file, Op::Read, e))?;
        let ((), faulted) = guard::guarded(&map, |bytes| {
            let parts: Vec<&[u8]> = (0..k)
                .map(|j| &bytes[j * stride as usize..j * stride as usize + n])
                .collect();
            f(&parts)
        });
        if faulted {
            return Err(Error::Changed {
                file,
                path: self.slots[file].path.clone(),
            });
        }
        Ok(true)
    }

    /// Ask the kernel to start reading the stream range `start..start + len` into the page
    /// cache (`POSIX_FADV_WILLNEED`) and return at once, so the disk works on the next window
    /// while the caller hashes this one. Ranges past the end are clipped; pad files, segments
    /// shorter than 256 KiB (many small files: their own reads are cheap) and files that
    /// cannot be opened are skipped: it is only a hint, and reads report errors as usual.
    pub fn prefetch(&self, start: u64, len: u64) {
        let end = start.saturating_add(len).min(self.geo.total_length());
        if start >= end {
            return;
        }
        for seg in self.geo.segments(start, end - start) {
            if seg.pad || seg.len < MMAP_MIN as u64 {
                continue;
            }
            if let Ok(h) = self.handle(seg.file) {
                read_ahead(&h, seg.file_offset + self.slots[seg.file].base, seg.len);
            }
        }
    }

    fn visit_file(
        &self,
        file: usize,
        at: u64,
        n: usize,
        scratch: &mut Vec<u8>,
        f: &mut dyn FnMut(&[u8]),
    ) -> Result<(), Error> {
        let h = self.handle(file)?;
        let at = at + self.slots[file].base;
        // Mapping a small range costs more than copying it (many small files).
        let io = if n < MMAP_MIN { Io::Plain } else { self.io };
        match io {
            Io::Plain => {
                // In chunks that stay in the core's cache between the copy and the hash
                // (measured 4.5% less CPU than one 4 MiB read per window), but holding
                // several whole pieces where they fit in a window, so that those are hashed
                // together (`sha1_lanes`: that saves more than the cache does).
                let chunk = (crate::sha1_lanes::LANES as u64 * self.geo.piece_length())
                    .clamp(PREAD_CHUNK as u64, WINDOW) as usize;
                let mut done = 0;
                while done < n {
                    let k = chunk.min(n - done);
                    if scratch.len() < k {
                        scratch.resize(k, 0);
                    }
                    self.pread(file, &h, at + done as u64, &mut scratch[..k])?;
                    f(&scratch[..k]);
                    done += k;
                }
            }
            Io::Mmap => {
                let on_disk = h
                    .metadata()
                    .map_err(|e| self.io_err(file, Op::Read, e))?
                    .len();
                let need = at + n as u64;
                if on_disk < need {
                    return Err(self.short(file, on_disk, need));
                }
                // Not MAP_POPULATE: faults with fault-around cost less than the populate walk
                // on data in small folios (see create/hash.rs's map_window).
                // SAFETY: a read-only shared map of a range checked to be inside the file. If
                // another program truncates the file meanwhile, the guard turns the SIGBUS
                // into zeros plus `faulted`, reported below as `Changed`.
                let map = unsafe { memmap2::MmapOptions::new().offset(at).len(n).map(&*h) }
                    .map_err(|e| self.io_err(file, Op::Read, e))?;
                let ((), faulted) = guard::guarded(&map, |bytes| f(bytes));
                if faulted {
                    return Err(Error::Changed {
                        file,
                        path: self.slots[file].path.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    fn short(&self, file: usize, len: u64, need: u64) -> Error {
        Error::Short {
            file,
            path: self.slots[file].path.clone(),
            len,
            need,
        }
    }

    fn pread(&self, file: usize, h: &File, at: u64, buf: &mut [u8]) -> Result<(), Error> {
        let mut done = 0;
        while done < buf.len() {
            match h.read_at(&mut buf[done..], at + done as u64) {
                Ok(0) => {
                    let len = h.metadata().map(|m| m.len()).unwrap_or(at + done as u64);
                    return Err(self.short(file, len, at + buf.len() as u64));
                }
                Ok(k) => done += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_err(file, Op::Read, e)),
            }
        }
        Ok(())
    }

    /// Read `buf.len()` bytes at `offset` inside `piece` (a block, or any range of the piece),
    /// with `pread` straight into `buf` in both I/O modes: a copy is needed anyway, and mapping
    /// a 16 KiB block costs about 4x a `pread` of it (measured: 10.6 vs 2.5 µs per block).
    pub fn read_block(&self, piece: usize, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        let start = self.geo.check(piece, offset, buf.len() as u64)?;
        let mut at = 0usize;
        for seg in self.geo.segments(start, buf.len() as u64) {
            let part = &mut buf[at..at + seg.len as usize];
            at += seg.len as usize;
            if seg.pad {
                part.fill(0);
            } else {
                let h = self.handle(seg.file)?;
                let at = seg.file_offset + self.slots[seg.file].base;
                self.pread(seg.file, &h, at, part)?;
            }
        }
        Ok(())
    }

    /// Where the `len` bytes at `offset` inside `piece` lie, in order, for a caller that reads
    /// or sends them from the files itself (a seeder's batched `pread`s, or `sendfile`): each
    /// file's open handle with the offset in it,
    /// or a run of zeros for pad bytes. Nothing is read, so a file shorter than the range shows
    /// only when the caller reads it (as a short read at its end).
    pub fn extents(
        &self,
        piece: usize,
        offset: u64,
        len: u64,
        out: &mut Vec<Extent>,
    ) -> Result<(), Error> {
        let start = self.geo.check(piece, offset, len)?;
        for seg in self.geo.segments(start, len) {
            out.push(if seg.pad {
                Extent::Zeros(seg.len)
            } else {
                Extent::File {
                    file: self.handle(seg.file)?,
                    offset: seg.file_offset + self.slots[seg.file].base,
                    len: seg.len,
                }
            });
        }
        Ok(())
    }

    /// Read a whole piece into `buf`, which is resized to the piece's length.
    pub fn read_piece_into(&self, piece: usize, buf: &mut Vec<u8>) -> Result<(), Error> {
        let len = self
            .geo
            .check(piece, 0, 0)
            .map(|_| self.geo.piece_len(piece))?;
        buf.resize(len as usize, 0);
        self.read_block(piece, 0, buf)
    }

    /// Read a whole piece.
    pub fn read_piece(&self, piece: usize) -> Result<Vec<u8>, Error> {
        let mut v = Vec::new();
        self.read_piece_into(piece, &mut v)?;
        Ok(v)
    }

    /// Write `data` at `offset` inside `piece` (pad bytes are dropped). Only for storage made
    /// by [`Storage::create`].
    pub fn write_block(&self, piece: usize, offset: u64, data: &[u8]) -> Result<(), Error> {
        self.write_blocks(&[(piece, offset, data)])
    }

    /// Write several blocks, each `(piece, offset, data)` as for [`Storage::write_block`]:
    /// the bytes that follow each other in one file go out in one vectored write (`pwritev`),
    /// so a read from a socket holding many blocks costs one system call, not one per block.
    pub fn write_blocks(&self, blocks: &[(usize, u64, &[u8])]) -> Result<(), Error> {
        // The run being gathered: file, where it starts in the file, and its slices.
        let mut run: Option<(usize, u64, u64)> = None;
        let mut parts: Vec<io::IoSlice<'_>> = Vec::new();
        for &(piece, offset, data) in blocks {
            let start = self.geo.check(piece, offset, data.len() as u64)?;
            let mut at = 0usize;
            for seg in self.geo.segments(start, data.len() as u64) {
                let part = &data[at..at + seg.len as usize];
                at += seg.len as usize;
                if seg.pad {
                    continue;
                }
                let follows =
                    matches!(run, Some((f, _, end)) if f == seg.file && end == seg.file_offset);
                if !follows || parts.len() >= MAX_SLICES {
                    if let Some((f, pos, _)) = run.take() {
                        self.write_run(f, pos, &mut parts)?;
                    }
                    run = Some((seg.file, seg.file_offset, seg.file_offset));
                }
                if let Some(r) = run.as_mut() {
                    r.2 += seg.len;
                }
                parts.push(io::IoSlice::new(part));
            }
        }
        if let Some((f, pos, _)) = run {
            self.write_run(f, pos, &mut parts)?;
        }
        Ok(())
    }

    /// Write `parts`, back to back, at `pos` in `file` (and empty `parts`).
    fn write_run(
        &self,
        file: usize,
        pos: u64,
        parts: &mut Vec<io::IoSlice<'_>>,
    ) -> Result<(), Error> {
        if !self.writable {
            let e = io::Error::new(io::ErrorKind::PermissionDenied, "storage opened read-only");
            return Err(self.io_err(file, Op::Write, e));
        }
        let h = self.handle(file)?;
        let mut at = pos + self.slots[file].base;
        let mut rest: &mut [io::IoSlice<'_>] = parts;
        while !rest.is_empty() {
            match pwritev(&h, rest, at) {
                Ok(0) => {
                    let e = io::Error::new(io::ErrorKind::WriteZero, "wrote nothing");
                    return Err(self.io_err(file, Op::Write, e));
                }
                Ok(k) => {
                    at += k as u64;
                    io::IoSlice::advance_slices(&mut rest, k);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_err(file, Op::Write, e)),
            }
        }
        parts.clear();
        self.slots[file].dirty.store(true, Ordering::Release);
        Ok(())
    }

    /// Write a whole piece (`data` must be exactly the piece's length).
    pub fn write_piece(&self, piece: usize, data: &[u8]) -> Result<(), Error> {
        let len = self.geo.piece_len(piece);
        if data.len() as u64 != len {
            return Err(geometry::Error::OutsidePiece {
                piece,
                offset: 0,
                len: data.len() as u64,
                piece_len: len,
            }
            .into());
        }
        self.write_block(piece, 0, data)
    }

    /// Flush written data to the device (`fdatasync` of every file written since the last
    /// flush). Data written before a `kill -9` survives without it (it is in the page cache);
    /// this protects against power loss.
    pub fn flush(&self) -> Result<(), Error> {
        for (i, s) in self.slots.iter().enumerate() {
            if s.dirty.swap(false, Ordering::AcqRel) {
                let h = self.handle(i)?;
                if let Err(e) = h.sync_data() {
                    s.dirty.store(true, Ordering::Release);
                    return Err(self.io_err(i, Op::Sync, e));
                }
            }
        }
        Ok(())
    }
}

/// Slices per vectored write (far under the kernel's IOV_MAX of 1024).
const MAX_SLICES: usize = 256;

/// `pwritev(2)`: write `bufs` back to back at `offset` in `f`; the count of bytes written.
fn pwritev(f: &File, bufs: &[io::IoSlice<'_>], offset: u64) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let off = libc::off_t::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset out of range"))?;
    let n = bufs.len().min(MAX_SLICES) as libc::c_int;
    // SAFETY: std documents `IoSlice` as ABI-compatible with `iovec` on Unix; the slices are
    // borrowed for the length of the call and the kernel only reads them.
    let r = unsafe { libc::pwritev(f.as_raw_fd(), bufs.as_ptr().cast::<libc::iovec>(), n, off) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::metainfo::{FileEntry, Torrent, Version};

    /// A hand-built multi-file torrent (hashes left empty: storage does not look at them).
    pub(crate) fn torrent(name: &str, piece_length: u64, files: &[(&str, u64, bool)]) -> Torrent {
        let mut offset = 0;
        let files: Vec<FileEntry> = files
            .iter()
            .map(|&(p, length, pad)| {
                let e = FileEntry {
                    path: p.split('/').map(|c| c.as_bytes().to_vec()).collect(),
                    length,
                    offset,
                    pad,
                    pieces_root: None,
                    symlink: None,
                };
                offset += length;
                e
            })
            .collect();
        let count = offset.div_ceil(piece_length) as usize;
        Torrent {
            name: name.as_bytes().to_vec(),
            piece_length,
            pieces: vec![[0; 20]; count],
            files,
            single_file: false,
            total_length: offset,
            private: false,
            version: Version::V1,
            info_hash: None,
            info_hash_v2: None,
            announce: None,
            announce_list: vec![],
            url_list: vec![],
            comment: None,
            created_by: None,
            creation_date: None,
            source: None,
            warnings: vec![],
            info_bytes: vec![],
            piece_layers: Default::default(),
        }
    }

    /// Write `data` to `f` in 16 KiB writes (as a download does), sync it and drop it from
    /// the page cache where the file system allows, so the next read comes from the disk.
    pub(crate) fn write_small_and_drop(f: &File, data: &[u8]) {
        for block in data.chunks(16384) {
            std::io::Write::write_all(&mut &*f, block).unwrap();
        }
        f.sync_data().unwrap();
        // SAFETY: plain advice on an open descriptor.
        unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    }

    fn bytes(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    fn sample() -> Torrent {
        torrent(
            "t",
            32768,
            &[
                ("a", 40000, false),
                ("empty", 0, false),
                ("pad", 25536, true),
                ("d/b", 16385, false),
                ("d/e/c", 70000, false),
            ],
        )
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Storage>();
    }

    #[test]
    fn create_write_read_back_in_both_modes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("t/d")).unwrap();
        std::fs::write(dir.path().join("t/d/other"), b"keep me").unwrap();
        let t = sample();
        let s = Storage::create(&t, dir.path(), Io::Mmap).unwrap();
        let g = s.geometry().clone();
        // Sparse files at their final length, the empty file exists, no pad file.
        assert_eq!(
            std::fs::metadata(dir.path().join("t/d/e/c")).unwrap().len(),
            70000
        );
        assert_eq!(
            std::fs::metadata(dir.path().join("t/empty")).unwrap().len(),
            0
        );
        assert!(!dir.path().join("t/pad").exists());
        let stream = bytes(g.total_length() as usize, 7);
        let mut stream = stream;
        // Pad bytes are zeros in a real torrent.
        let pad = g.file_start(2) as usize;
        stream[pad..pad + 25536].fill(0);
        for p in 0..g.piece_count() {
            let o = g.piece_offset(p) as usize;
            let data = &stream[o..o + g.piece_len(p) as usize];
            if p % 2 == 0 {
                s.write_piece(p, data).unwrap();
            } else {
                for b in 0..g.block_count(p) {
                    let bo = b * BLOCK_USIZE;
                    let len = g.block_len(p, b) as usize;
                    s.write_block(p, bo as u64, &data[bo..bo + len]).unwrap();
                }
            }
        }
        s.flush().unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("t/d/other")).unwrap(),
            b"keep me"
        );
        assert_eq!(
            std::fs::read(dir.path().join("t/a")).unwrap(),
            &stream[..40000]
        );
        for io in [Io::Mmap, Io::Plain] {
            let r = Storage::open(&t, dir.path(), io);
            for p in 0..g.piece_count() {
                let o = g.piece_offset(p) as usize;
                assert_eq!(
                    r.read_piece(p).unwrap(),
                    &stream[o..o + g.piece_len(p) as usize]
                );
            }
            // A block across the boundary of file a, the pad file and file b.
            let mut buf = vec![0; 30000];
            r.read_block(1, 1000, &mut buf).unwrap();
            assert_eq!(buf, &stream[33768..63768]);
            let mut seen = Vec::new();
            r.visit(0, g.total_length(), &mut Vec::new(), &mut |c| {
                seen.extend_from_slice(c)
            })
            .unwrap();
            assert_eq!(seen, stream);
            assert!(matches!(
                r.read_block(0, 32000, &mut buf),
                Err(Error::Geometry(geometry::Error::OutsidePiece { .. }))
            ));
            // Read-only storage refuses writes.
            assert!(r.write_block(0, 0, b"x").is_err());
        }
    }

    const BLOCK_USIZE: usize = crate::geometry::BLOCK as usize;

    #[test]
    fn prefetch_reads_ahead_and_is_only_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let t = torrent(
            "p",
            1 << 20,
            &[("a", 3 << 20, false), ("gone", 1 << 20, false)],
        );
        let s = Storage::create(&t, dir.path(), Io::Mmap).unwrap();
        s.write_block(2, 0, &bytes(1 << 20, 3)).unwrap();
        s.flush().unwrap();
        drop(s);
        std::fs::remove_file(dir.path().join("p/gone")).unwrap();
        let a = File::options()
            .read(true)
            .write(true)
            .open(dir.path().join("p/a"))
            .unwrap();
        write_small_and_drop(&a, &[]);
        let s = Storage::open(&t, dir.path(), Io::Mmap);
        // Past the end, across a missing file: nothing happens, nothing fails.
        s.prefetch(0, u64::MAX);
        s.prefetch(t.total_length + 5, 10);
        // The kernel reads the range in the background: its last byte arrives in the cache.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !cached(&a, (3 << 20) - 1) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(cached(&a, (3 << 20) - 1));
        let mut got = Vec::new();
        for io in [Io::Mmap, Io::Plain] {
            let s = Storage::open(&t, dir.path(), io);
            got.clear();
            s.visit(2 << 20, 1 << 20, &mut Vec::new(), &mut |c| {
                got.extend_from_slice(c)
            })
            .unwrap();
            assert_eq!(got, bytes(1 << 20, 3), "{io:?}");
        }
    }

    #[test]
    fn missing_and_short_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let t = sample();
        for io in [Io::Mmap, Io::Plain] {
            let s = Storage::open(&t, dir.path(), io);
            let e = s.read_piece(0).unwrap_err();
            assert!(matches!(e, Error::Missing { file: 0, .. }), "{e}");
            assert!(matches!(s.stat(0), FileState::Missing));
        }
        std::fs::create_dir_all(dir.path().join("t/d/e")).unwrap();
        std::fs::write(dir.path().join("t/a"), bytes(40000, 1)).unwrap();
        std::fs::write(dir.path().join("t/d/b"), bytes(16385, 1)).unwrap();
        std::fs::write(dir.path().join("t/d/e/c"), bytes(100, 1)).unwrap();
        for io in [Io::Mmap, Io::Plain] {
            let s = Storage::open(&t, dir.path(), io);
            assert!(s.read_piece(0).is_ok());
            let e = s.read_piece(3).unwrap_err();
            assert_eq!(e.file(), Some(4));
            assert!(matches!(e, Error::Short { len: 100, .. }), "{e}");
            assert!(e.to_string().contains("t/d/e/c is 100 bytes"), "{e}");
        }
    }

    #[test]
    fn write_blocks_gathers_runs_across_files_pieces_and_pads() {
        let dir = tempfile::tempdir().unwrap();
        let t = sample();
        let data = bytes(t.total_length as usize, 9);
        let s = Storage::create(&t, dir.path(), Io::Plain).unwrap();
        let geo = s.geometry();
        // `(piece, offset, len)` blocks, cut at `step` bytes.
        let cut = |piece: usize, step: u64| -> Vec<(usize, u64, &[u8])> {
            let len = geo.piece_len(piece);
            (0..len.div_ceil(step))
                .map(|i| {
                    let off = i * step;
                    let at = (geo.piece_offset(piece) + off) as usize;
                    let n = step.min(len - off) as usize;
                    (piece, off, &data[at..at + n])
                })
                .collect()
        };
        // Pieces 0-2 in one call: blocks that cross from `a` into the pad file and from the
        // pad into `d/b`, two pieces back to back.
        let mut first: Vec<_> = (0..3).flat_map(|p| cut(p, 16384)).collect();
        s.write_blocks(&first).unwrap();
        // Piece 3 backwards (no run longer than a block), piece 4 in more slices than one
        // vectored write takes.
        let mut rest = cut(3, 16384);
        rest.reverse();
        rest.extend(cut(4, 64));
        assert!(rest.len() > MAX_SLICES);
        s.write_blocks(&rest).unwrap();
        let file = |p: &str| std::fs::read(dir.path().join("t").join(p)).unwrap();
        assert!(file("a") == data[..40000]);
        assert!(file("d/b") == data[65536..81921]);
        assert!(file("d/e/c") == data[81921..]);
        let mut want = data.clone();
        want[40000..65536].fill(0);
        for p in 0..t.pieces.len() {
            let at = geo.piece_offset(p) as usize;
            assert!(s.read_piece(p).unwrap() == want[at..at + geo.piece_len(p) as usize]);
        }
        // A block outside its piece is an error; so is writing to read-only storage.
        first.truncate(1);
        first.push((4, 20000, &data[..16384]));
        assert!(s.write_blocks(&first).is_err());
        let ro = Storage::open(&t, dir.path(), Io::Plain);
        assert!(ro.write_blocks(&cut(0, 16384)).is_err());
    }

    #[test]
    fn symlinks_inside_the_target_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let t = sample();
        std::fs::create_dir_all(dir.path().join("t")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("t/d")).unwrap();
        let e = Storage::create(&t, dir.path(), Io::Plain).err().unwrap();
        assert!(matches!(e, Error::Unsafe { file: 3, .. }), "{e}");
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
        let s = Storage::open(&t, dir.path(), Io::Mmap);
        assert!(matches!(
            s.stat(3),
            FileState::Unusable(Error::Unsafe { .. })
        ));
        assert!(matches!(s.read_piece(2), Err(Error::Unsafe { .. })));
        // A symlinked file.
        std::fs::remove_file(dir.path().join("t/d")).unwrap();
        assert!(
            !dir.path().join("t/a").exists(),
            "nothing is created when a path is unsafe"
        );
        std::fs::write(outside.path().join("secret"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("t/a")).unwrap();
        let s = Storage::open(&t, dir.path(), Io::Plain);
        assert!(matches!(
            s.read_piece(0),
            Err(Error::Unsafe { file: 0, .. })
        ));
        assert!(Storage::create(&t, dir.path(), Io::Plain).is_err());
        assert_eq!(std::fs::read(outside.path().join("secret")).unwrap(), b"x");
    }

    #[test]
    fn truncation_while_mapped_is_an_error_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let t = torrent("t", 1 << 20, &[("big", 4 << 20, false)]);
        std::fs::create_dir(dir.path().join("t")).unwrap();
        let path = dir.path().join("t/big");
        std::fs::write(&path, bytes(4 << 20, 3)).unwrap();
        let s = Storage::open(&t, dir.path(), Io::Mmap);
        let mut sum = 0u64;
        let e = s
            .visit(0, 4 << 20, &mut Vec::new(), &mut |c| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_len(4096)
                    .unwrap();
                sum += c.iter().map(|&b| b as u64).sum::<u64>();
            })
            .unwrap_err();
        assert!(matches!(e, Error::Changed { file: 0, .. }), "{e}");
        assert!(sum > 0);
    }

    #[test]
    fn disk_errors_read_clearly() {
        let e = Error::Io {
            file: 2,
            path: PathBuf::from("dl/t/x"),
            op: Op::Write,
            source: io::Error::from_raw_os_error(libc::ENOSPC),
        };
        assert_eq!(e.to_string(), "no space left on device writing dl/t/x");
        assert_eq!(e.file(), Some(2));
    }

    /// Runs itself in a child process under `ulimit -f 64` (tens of KiB): growing a file past the
    /// limit must be an error naming the file, not a SIGXFSZ death.
    #[test]
    fn file_size_limit_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let t = torrent(
            "t",
            16384,
            &[("small", 20000, false), ("big", 1 << 20, false)],
        );
        if std::env::var_os("BT_STORAGE_FSIZE_CHILD").is_some() {
            // As the tools do at start (the process, not storage, owns signal dispositions).
            // SAFETY: setting a signal disposition to SIG_IGN.
            unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
            let e = Storage::create(&t, dir.path(), Io::Plain).err().unwrap();
            assert_eq!(e.file(), Some(1));
            assert!(
                e.to_string()
                    .starts_with("file size limit exceeded writing "),
                "{e}"
            );
            // The file below the limit was made and can be written.
            let s = Storage::open(&t, dir.path(), Io::Plain);
            assert_eq!(std::fs::metadata(s.path(0)).unwrap().len(), 20000);
            return;
        }
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("ulimit -f 64 && exec \"$0\" \"$@\"")
            .arg(&exe)
            .args([
                "storage::tests::file_size_limit_is_an_error",
                "--exact",
                "--test-threads=1",
            ])
            .env("BT_STORAGE_FSIZE_CHILD", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("1 passed"), "{text}");
    }

    #[test]
    fn many_files_keep_few_handles_open() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..600).map(|i| format!("f{i}")).collect();
        let spec: Vec<(&str, u64, bool)> = names.iter().map(|n| (n.as_str(), 100, false)).collect();
        let t = torrent("t", 16384, &spec);
        let s = Storage::create(&t, dir.path(), Io::Plain).unwrap();
        let data = bytes(t.total_length as usize, 9);
        for p in 0..s.geometry().piece_count() {
            let o = p * 16384;
            let len = s.geometry().piece_len(p) as usize;
            s.write_piece(p, &data[o..o + len]).unwrap();
        }
        assert!(s.open.load(Ordering::Relaxed) <= MAX_OPEN);
        let r = Storage::open(&t, dir.path(), Io::Mmap);
        let mut all = Vec::new();
        r.visit(0, t.total_length, &mut Vec::new(), &mut |c| {
            all.extend_from_slice(c)
        })
        .unwrap();
        assert_eq!(all, data);
    }
}
