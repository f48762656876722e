//! Accepting incoming connections for one or more torrents.
//!
//! One accept thread; each accepted connection gets a short-lived thread that reads the
//! handshake before a deadline and hands the connection to the swarm of its info hash. At most
//! `max_handshakes` handshakes run at once; when a new connection arrives and all are taken, the
//! oldest pending one is closed to make room. So a flood of idle connections costs bounded
//! threads and memory, and a newcomer that speaks promptly always gets its turn. Working
//! connections are counted separately, by each swarm's `max_peers`.

use super::{conn, Swarm};
use std::collections::VecDeque;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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
        let pending: Arc<Mutex<VecDeque<(u64, TcpStream)>>> = Arc::default();
        std::thread::Builder::new()
            .name("bt-listen".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                let mut next_id = 0u64;
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
                    let Ok(clone) = stream.try_clone() else {
                        continue;
                    };
                    next_id += 1;
                    let id = next_id;
                    {
                        let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
                        while p.len() >= max_handshakes.max(1) {
                            if let Some((_, old)) = p.pop_front() {
                                let _ = old.shutdown(Shutdown::Both);
                            }
                        }
                        p.push_back((id, clone));
                    }
                    let swarms = swarms.clone();
                    let pending2 = pending.clone();
                    let done = move || {
                        let mut p = pending2.lock().unwrap_or_else(|e| e.into_inner());
                        p.retain(|(i, _)| *i != id);
                    };
                    let _ = std::thread::Builder::new()
                        .name("bt-accept".into())
                        .stack_size(256 * 1024)
                        .spawn(move || {
                            let mut stream = stream;
                            let _ = stream.set_nonblocking(false);
                            let deadline = Instant::now() + handshake_timeout;
                            let h = conn::read_handshake(&mut stream, deadline);
                            done();
                            if let Ok(h) = h {
                                if let Some(s) = swarms.iter().find(|s| s.info_hash == h.info_hash)
                                {
                                    if !s.stopped() {
                                        s.accept(stream, h);
                                    }
                                }
                            }
                        });
                }
            })?;
        Ok(())
    }
}
