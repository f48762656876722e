//! Load generator for `scripts/bench-scale` (issue 11, "Scale, measured"): N connections to one
//! seeder, each downloading at a fixed rate, for a bounded time.
//!
//! `cargo run --release --example load -- TORRENT --peer ADDR:PORT -n N [--rate BYTES]
//! [--seconds S] [--ramp S] [--from 127.20.0.1]`
//!
//! Connection `i` binds to its own loopback source address (`--from` plus `i`, so a seeder that
//! allows one connection per address still takes them all), handshakes for the torrent's info
//! hash with the library's codec, says `interested`, and once unchoked requests 16 KiB blocks
//! paced to `--rate` bytes per second (at most two requests outstanding), until `--seconds` have
//! passed since the start. Connects are spread over `--ramp` seconds so that the seeder's listen
//! backlog is not the thing measured. Every socket has read, write and connect timeouts.
//!
//! The generator itself runs one thread per connection with a small stack: its threads sleep
//! between requests, and its CPU is not what is measured (the script measures the seeder's).
//! At the end one JSON object goes to stdout: connections attempted, connected, that completed
//! the handshake, that were unchoked, that were served at least one block, bytes received,
//! errors by kind, and the seconds the run took.

use bt::metainfo::Torrent;
use bt::peer::{self, Block, Handshake, Limits, Message, PeerId};
use clap::Parser;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BLOCK: u64 = 16 * 1024;
const IN_FLIGHT: u32 = 2;

/// Open N paced downloading connections to one seeder.
#[derive(Parser, Debug)]
struct Args {
    /// The .torrent the seeder serves (its info hash and geometry are used).
    torrent: String,
    /// The seeder's address.
    #[arg(long)]
    peer: SocketAddr,
    /// Number of connections.
    #[arg(short, long, default_value_t = 100)]
    connections: u32,
    /// Download rate per connection, bytes per second.
    #[arg(long, default_value_t = 65536)]
    rate: u64,
    /// Seconds the whole run lasts (connect ramp included).
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// Seconds over which the connects are spread.
    #[arg(long, default_value_t = 2.0)]
    ramp: f64,
    /// First source address; connection i uses this plus i (skipping .0 and .255).
    #[arg(long, default_value = "127.20.0.1")]
    from: Ipv4Addr,
}

#[derive(Default)]
struct Stats {
    connected: AtomicU64,
    handshaked: AtomicU64,
    unchoked: AtomicU64,
    served: AtomicU64,
    bytes: AtomicU64,
    err_connect: AtomicU64,
    err_handshake: AtomicU64,
    err_closed: AtomicU64,
    err_io: AtomicU64,
    err_protocol: AtomicU64,
}

struct Plan {
    peer: SocketAddr,
    info_hash: [u8; 20],
    limits: Limits,
    interval: Duration,
    deadline: Instant,
}

enum Failure {
    Connect,
    Handshake,
    Closed,
    Io,
    Protocol,
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        match e.kind() {
            ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => {
                Failure::Closed
            }
            _ => Failure::Io,
        }
    }
}

/// The `i`-th source address after `base`, skipping host parts 0 and 255.
fn source(base: Ipv4Addr, i: u32) -> IpAddr {
    let b = u32::from(base);
    let (net, host) = (b & !0xff, (b & 0xff).clamp(1, 254) - 1);
    let k = host + i;
    IpAddr::V4(Ipv4Addr::from(net + ((k / 254) << 8) + k % 254 + 1))
}

/// Read once into `buf` (bounded by the socket's read timeout); `Ok(false)` on a timeout.
fn fill(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<bool, Failure> {
    let mut chunk = [0u8; 32 * 1024];
    match s.read(&mut chunk) {
        Ok(0) => Err(Failure::Closed),
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(true)
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The `k`-th block connection `i` asks for: it walks the torrent from its own start piece.
fn block(limits: &Limits, i: u32, k: u64) -> Block {
    let per_piece = limits.piece_length.div_ceil(BLOCK);
    let piece = ((i as u64 * 37 + k / per_piece) % limits.piece_count as u64) as u32;
    let offset = (k % per_piece) * BLOCK;
    let size = limits.piece_size(piece);
    // A short last piece: ask for its first block instead of past its end.
    let offset = if offset >= size { 0 } else { offset };
    Block {
        piece,
        offset: offset as u32,
        length: BLOCK.min(size - offset) as u32,
    }
}

fn connection(i: u32, local: IpAddr, plan: &Plan, stats: &Stats) -> Result<(), Failure> {
    let mut s = bt::net::connect_from(local, plan.peer, Duration::from_secs(10))
        .map_err(|_| Failure::Connect)?;
    stats.connected.fetch_add(1, Relaxed);
    s.set_nodelay(true)?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    let id = PeerId::generate().map_err(|_| Failure::Io)?;
    s.write_all(&Handshake::new(plan.info_hash, id).encode())?;
    let mut buf = Vec::new();
    let theirs = loop {
        if Instant::now() >= plan.deadline {
            return Err(Failure::Handshake);
        }
        if let Some(h) = Handshake::decode(&buf).map_err(|_| Failure::Handshake)? {
            break h;
        }
        fill(&mut s, &mut buf).map_err(|_| Failure::Handshake)?;
    };
    if theirs.info_hash != plan.info_hash {
        return Err(Failure::Handshake);
    }
    buf.drain(..peer::HANDSHAKE_LEN);
    stats.handshaked.fetch_add(1, Relaxed);
    s.write_all(&Message::Interested.to_bytes())?;

    let (mut unchoked, mut ever_unchoked, mut ever_served) = (false, false, false);
    let (mut in_flight, mut k) = (0u32, 0u64);
    let mut next = Instant::now();
    let mut last_sent = Instant::now();
    loop {
        let now = Instant::now();
        if now >= plan.deadline {
            return Ok(());
        }
        if unchoked && in_flight < IN_FLIGHT && now >= next {
            let b = block(&plan.limits, i, k);
            k += 1;
            s.write_all(&Message::Request(b).to_bytes())?;
            in_flight += 1;
            last_sent = now;
            // Fixed pace; a connection that fell far behind does not burst to catch up.
            next = (next + plan.interval).max(now - plan.interval);
        } else if now.duration_since(last_sent) > Duration::from_secs(30) {
            s.write_all(&Message::KeepAlive.to_bytes())?;
            last_sent = now;
        }
        let wait = if unchoked && in_flight < IN_FLIGHT {
            next.saturating_duration_since(now)
        } else {
            Duration::from_millis(200)
        };
        let wait = wait
            .min(plan.deadline.saturating_duration_since(now))
            .max(Duration::from_millis(1));
        s.set_read_timeout(Some(wait))?;
        if !fill(&mut s, &mut buf)? {
            continue;
        }
        let mut used = 0;
        while let Some((msg, n)) =
            peer::decode(&buf[used..], &plan.limits).map_err(|_| Failure::Protocol)?
        {
            used += n;
            match msg {
                Message::Unchoke => {
                    unchoked = true;
                    if !ever_unchoked {
                        ever_unchoked = true;
                        stats.unchoked.fetch_add(1, Relaxed);
                    }
                }
                // Without the fast extension a choke drops our requests; with it, rejects follow.
                Message::Choke => {
                    unchoked = false;
                    if !theirs.supports_fast() {
                        in_flight = 0;
                    }
                }
                Message::Reject(_) => in_flight = in_flight.saturating_sub(1),
                Message::Piece { data, .. } => {
                    in_flight = in_flight.saturating_sub(1);
                    stats.bytes.fetch_add(data.len() as u64, Relaxed);
                    if !ever_served {
                        ever_served = true;
                        stats.served.fetch_add(1, Relaxed);
                    }
                }
                _ => {}
            }
        }
        buf.drain(..used);
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let torrent = match std::fs::read(&args.torrent)
        .map_err(|e| e.to_string())
        .and_then(|b| Torrent::from_bytes(&b).map_err(|e| e.to_string()))
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("load: {}: {e}", args.torrent);
            return std::process::ExitCode::from(2);
        }
    };
    let Some(info_hash) = torrent.info_hash else {
        eprintln!("load: {}: no v1 info hash", args.torrent);
        return std::process::ExitCode::from(2);
    };
    if args.rate == 0 || !(args.seconds > 0.0 && args.seconds < 86400.0) || args.ramp < 0.0 {
        eprintln!("load: --rate must be positive and --seconds within (0, 86400)");
        return std::process::ExitCode::from(2);
    }
    let start = Instant::now();
    let plan = Arc::new(Plan {
        peer: args.peer,
        info_hash: info_hash.0,
        limits: Limits::for_torrent(&torrent),
        interval: Duration::from_secs_f64(BLOCK as f64 / args.rate as f64),
        deadline: start + Duration::from_secs_f64(args.seconds),
    });
    let stats = Arc::new(Stats::default());
    let n = args.connections;
    let ramp = Duration::from_secs_f64(args.ramp.min(args.seconds));
    let mut threads = Vec::with_capacity(n as usize);
    let mut spawn_failed = 0u64;
    for i in 0..n {
        let (plan, stats) = (plan.clone(), stats.clone());
        let local = source(args.from, i);
        let at = start + ramp.mul_f64(i as f64 / n.max(1) as f64);
        let t = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                std::thread::sleep(at.saturating_duration_since(Instant::now()));
                let counter = match connection(i, local, &plan, &stats) {
                    Ok(()) => return,
                    Err(Failure::Connect) => &stats.err_connect,
                    Err(Failure::Handshake) => &stats.err_handshake,
                    Err(Failure::Closed) => &stats.err_closed,
                    Err(Failure::Io) => &stats.err_io,
                    Err(Failure::Protocol) => &stats.err_protocol,
                };
                counter.fetch_add(1, Relaxed);
            });
        match t {
            Ok(t) => threads.push(t),
            Err(_) => spawn_failed += 1,
        }
    }
    for t in threads {
        let _ = t.join();
    }
    let secs = start.elapsed().as_secs_f64();
    let g = |a: &AtomicU64| a.load(Relaxed);
    let report = serde_json::json!({
        "type": "load",
        "connections": n,
        "connected": g(&stats.connected),
        "handshaked": g(&stats.handshaked),
        "unchoked": g(&stats.unchoked),
        "served": g(&stats.served),
        "bytes": g(&stats.bytes),
        "seconds": (secs * 1000.0).round() / 1000.0,
        "rate_per_connection": args.rate,
        "errors": {
            "connect": g(&stats.err_connect),
            "handshake": g(&stats.err_handshake),
            "closed": g(&stats.err_closed),
            "io": g(&stats.err_io),
            "protocol": g(&stats.err_protocol),
            "spawn": spawn_failed,
        },
    });
    println!("{report}");
    std::process::ExitCode::SUCCESS
}
