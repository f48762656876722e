//! Accepting incoming connections for one or more torrents.
//!
//! One accept thread; each accepted connection gets a short-lived thread that reads the
//! handshake before a deadline and hands the connection to the swarm of its info hash. At most
//! `max_handshakes` handshakes run at once: further connections are closed at once, so a flood
//! of idle connections costs bounded threads and memory and cannot starve working peers, whose
//! connections are counted separately by each swarm's `max_peers`.

use super::{conn, Swarm};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
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
    pub fn spawn(
        self,
        swarms: Vec<Arc<Swarm>>,
        max_handshakes: usize,
        handshake_timeout: Duration,
        stop: Arc<AtomicBool>,
    ) -> io::Result<()> {
        self.inner.set_nonblocking(true)?;
        let pending = Arc::new(AtomicUsize::new(0));
        std::thread::Builder::new()
            .name("bt-listen".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let (stream, _) = match self.inner.accept() {
                        Ok(x) => x,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(10));
                            continue;
                        }
                        Err(_) => {
                            // Out of descriptors or similar: back off instead of spinning.
                            std::thread::sleep(Duration::from_millis(100));
                            continue;
                        }
                    };
                    if pending.load(Ordering::Relaxed) >= max_handshakes {
                        continue; // dropped: closed at once
                    }
                    pending.fetch_add(1, Ordering::Relaxed);
                    let swarms = swarms.clone();
                    let pending2 = pending.clone();
                    let spawned = std::thread::Builder::new()
                        .name("bt-accept".into())
                        .stack_size(256 * 1024)
                        .spawn(move || {
                            let mut stream = stream;
                            let _ = stream.set_nonblocking(false);
                            let deadline = Instant::now() + handshake_timeout;
                            let h = conn::read_handshake(&mut stream, deadline);
                            pending2.fetch_sub(1, Ordering::Relaxed);
                            if let Ok(h) = h {
                                if let Some(s) = swarms.iter().find(|s| s.info_hash == h.info_hash)
                                {
                                    if !s.stopped() {
                                        s.accept(stream, h);
                                    }
                                }
                            }
                        });
                    if spawned.is_err() {
                        pending.fetch_sub(1, Ordering::Relaxed);
                    }
                }
            })?;
        Ok(())
    }
}
