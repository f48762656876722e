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
    read_piece(store, limits, piece, &mut |c| h.update(c))?;
    Ok(h.finalize().into())
}

/// Read a whole piece from the store in order, in chunks of at most 1 MiB.
pub fn read_piece(
    store: &dyn PieceStore,
    limits: &Limits,
    piece: u32,
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
        let mut off = 0usize;
        while off < size {
            let n = (size - off).min(buf.len());
            store.read(piece, off as u32, &mut buf[..n])?;
            f(&buf[..n]);
            off += n;
        }
        Ok(())
    })
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
}
