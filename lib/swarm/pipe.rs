//! Streaming a byte range of the torrent (a single file) to a writer, in order, while the
//! download goes on: `bt-fetch --stdout`.
//!
//! Invariants: a byte is written only after its piece verified (the picker counts a piece as
//! had only then); bytes leave in order, each once. The reader keeps the picker's in-order
//! window on the [`WINDOW_BYTES`] just ahead of its position, so those pieces are requested
//! first and the rest rarest-first. Without storage ([`MemWindow`]) the window is exclusive:
//! nothing outside it is requested, and a piece's memory is freed once written out, so at most
//! the window's pieces are ever held: `max(WINDOW_BYTES, 2 pieces)` of piece data.

use super::store::PieceStore;
use super::Swarm;
use std::collections::HashMap;
use std::io::{self, Write};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Bytes of pieces ahead of the reading position that are fetched first (and, without
/// storage, the only ones fetched at all).
pub const WINDOW_BYTES: u64 = 32 << 20;

/// The window in pieces for a piece length: at least two pieces.
pub fn window_pieces(piece_length: u64) -> u32 {
    (WINDOW_BYTES / piece_length.max(1)).clamp(2, u32::MAX as u64) as u32
}

/// Piece data kept in memory only while it is inside the window (`--no-store`): a buffer is
/// made at a piece's first block and dropped by [`MemWindow::free`] once the piece is written
/// out. A piece freed (or never held) reads as an error, so it cannot be served to peers.
pub struct MemWindow {
    pieces: Mutex<HashMap<u32, Vec<u8>>>,
    piece_length: u64,
    total: u64,
}

impl MemWindow {
    /// A window over a torrent of `total` bytes in pieces of `piece_length`.
    pub fn new(piece_length: u64, total: u64) -> MemWindow {
        MemWindow {
            pieces: Mutex::default(),
            piece_length,
            total,
        }
    }

    fn size(&self, piece: u32) -> usize {
        crate::geometry::piece_len(self.piece_length, self.total, piece as u64) as usize
    }

    /// Drop the data of `piece`.
    pub fn free(&self, piece: u32) {
        self.lock().remove(&piece);
    }

    /// Pieces held now.
    pub fn held(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Vec<u8>>> {
        self.pieces.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn outside() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "outside the piece")
}

impl PieceStore for MemWindow {
    fn read(&self, piece: u32, offset: u32, buf: &mut [u8]) -> io::Result<()> {
        let map = self.lock();
        let p = map
            .get(&piece)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "piece not held"))?;
        let at = offset as usize;
        let src = p.get(at..at + buf.len()).ok_or_else(outside)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write(&self, piece: u32, offset: u32, data: &[u8]) -> io::Result<()> {
        let size = self.size(piece);
        if offset as usize + data.len() > size {
            return Err(outside());
        }
        let mut map = self.lock();
        let p = map.entry(piece).or_insert_with(|| vec![0; size]);
        let at = offset as usize;
        p.get_mut(at..at + data.len())
            .ok_or_else(outside)?
            .copy_from_slice(data);
        Ok(())
    }

    fn flush(&self) -> io::Result<()> {
        Ok(())
    }
}

/// How a stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Every byte of the range was written.
    Done,
    /// The reader went away (a broken pipe).
    Closed,
    /// The swarm stopped first.
    Stopped,
    /// Writing failed otherwise, or reading a verified piece back failed.
    Error(String),
}

/// What [`run`] streams and how.
pub struct Pipe {
    /// The byte range of the torrent's piece stream to write.
    pub range: Range<u64>,
    /// Where the bytes go.
    pub out: Box<dyn Write + Send>,
    /// The memory store (`--no-store`), whose pieces are freed once written.
    pub mem: Option<Arc<MemWindow>>,
    /// A closed reader does not stop the download.
    pub keep_going: bool,
    /// Raised once the reader is gone.
    pub closed: Arc<AtomicBool>,
}

/// Stream `p.range` from `s` as its pieces verify (see the module documentation); on a closed
/// reader, shut the swarm down unless `keep_going`.
pub fn run(s: &Arc<Swarm>, mut p: Pipe) -> End {
    let plen = s.limits().piece_length;
    let window = window_pieces(plen);
    let exclusive = p.mem.is_some();
    let mut buf = Vec::new();
    let mut pos = p.range.start;
    let mut gone = false;
    while pos < p.range.end {
        let piece = (pos / plen) as u32;
        s.lock().picker.set_window(piece, window, exclusive);
        loop {
            if s.lock().picker.have(piece) {
                break;
            }
            if s.stopped() {
                return End::Stopped;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let piece_end = (piece as u64 + 1) * plen;
        let end = piece_end.min(p.range.end);
        buf.resize((end - pos) as usize, 0);
        let off = (pos - piece as u64 * plen) as u32;
        if let Err(e) = s.read_block(piece, off, &mut buf) {
            return End::Error(format!("reading piece {piece} back: {e}"));
        }
        if !gone {
            if let Err(e) = p.out.write_all(&buf).and_then(|()| p.out.flush()) {
                if e.kind() != io::ErrorKind::BrokenPipe {
                    s.shutdown();
                    return End::Error(format!("writing the output: {e}"));
                }
                gone = true;
                p.closed.store(true, Ordering::Relaxed);
                if !p.keep_going {
                    s.shutdown();
                    return End::Closed;
                }
                if !exclusive {
                    // Nothing reads any more: fetch the rest rarest-first.
                    s.lock().picker.clear_window();
                    return End::Closed;
                }
            }
        }
        if let Some(m) = &p.mem {
            m.free(piece);
        }
        pos = end;
    }
    if gone {
        End::Closed
    } else {
        End::Done
    }
}

/// What `bt-fetch --stdout` streams (see [`crate::swarm::session::FetchOptions::stream`]).
pub struct StreamOptions {
    /// Where the bytes go.
    pub out: Box<dyn Write + Send>,
    /// The file to stream (its index in the file list); `None`: the whole piece stream (a
    /// single-file torrent).
    pub file: Option<usize>,
    /// Keep no data on disk: only the window, in memory.
    pub no_store: bool,
    /// A closed reader does not stop the download.
    pub keep_going: bool,
}

/// A stream running on its own thread.
pub struct Running {
    handle: std::thread::JoinHandle<End>,
    closed: Arc<AtomicBool>,
}

/// Start streaming what `o` says from `s`, a swarm of `t` (`mem`: its memory store).
pub fn start(
    s: &Arc<Swarm>,
    t: &crate::metainfo::Torrent,
    o: StreamOptions,
    mem: Option<Arc<MemWindow>>,
) -> Running {
    let range = match o.file {
        Some(f) => {
            let g = crate::geometry::Geometry::new(t);
            g.file_start(f)..g.file_start(f) + g.file_len(f)
        }
        None => 0..t.total_length,
    };
    let closed = Arc::new(AtomicBool::new(false));
    let pipe = Pipe {
        range,
        out: o.out,
        mem,
        keep_going: o.keep_going,
        closed: closed.clone(),
    };
    let s = s.clone();
    let handle = std::thread::spawn(move || run(&s, pipe));
    Running { handle, closed }
}

impl Running {
    /// The download ended with `outcome`: let a complete download's stream write its last
    /// bytes (raising `stop` still ends it), stop it otherwise, and give the final outcome (a
    /// stream that failed makes it an error) and whether the reader went away. `pump` delivers
    /// the session's events while this waits.
    pub fn finish(
        self,
        s: &Swarm,
        outcome: super::Outcome,
        stop: &AtomicBool,
        pump: &mut dyn FnMut(Duration),
    ) -> (super::Outcome, bool) {
        if outcome != super::Outcome::Complete {
            s.shutdown();
        }
        while !self.handle.is_finished() {
            if stop.load(Ordering::Relaxed) {
                s.shutdown();
            }
            pump(Duration::from_millis(50));
        }
        let end = self.handle.join().unwrap_or(End::Stopped);
        let closed = self.closed.load(Ordering::Relaxed);
        let outcome = match end {
            End::Error(e) => super::Outcome::Error(e),
            End::Stopped if outcome == super::Outcome::Complete => super::Outcome::Stopped,
            _ => outcome,
        };
        (outcome, closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_window_holds_only_what_it_was_given() {
        let m = MemWindow::new(32768, 100_000);
        m.write(2, 16384, &[7; 100]).unwrap();
        assert!(
            m.write(3, 1000, &[0; 1000]).is_err(),
            "the last piece is 1696 bytes"
        );
        let mut b = [0u8; 4];
        m.read(2, 16384, &mut b).unwrap();
        assert_eq!(b, [7; 4]);
        assert!(m.read(1, 0, &mut b).is_err());
        assert_eq!(m.held(), 1);
        m.free(2);
        assert_eq!(m.held(), 0);
        assert!(m.read(2, 0, &mut b).is_err());
        assert_eq!(window_pieces(1 << 20), 32);
        assert_eq!(window_pieces(64 << 20), 2);
    }
}
