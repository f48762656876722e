//! UDP trackers (BEP 15): connect, announce (IPv4 and IPv6 peers), scrape, error.
//!
//! Packets are built and parsed by pure functions. [`announce`] and [`scrape`] do the exchange
//! on a connected std `UdpSocket`: a request is retransmitted after 15 * 2^n seconds (n = 0..8),
//! but never past the caller's overall timeout. Answers whose transaction id is not ours, or
//! too short to carry one, are ignored (and counted in the timeout message); an answer with our
//! transaction id that is malformed is an error at once. Connection ids are reused for one
//! minute per (local address, tracker address), from a small process-wide cache.

use super::{cap_peers, AnnounceRequest, AnnounceResponse, Error, Event, Options, ScrapeStats};
use crate::metainfo::InfoHash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The magic constant of a connect request.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;
/// How long a connection id may be used.
pub const CONNECTION_ID_LIFETIME: Duration = Duration::from_secs(60);
/// Most info hashes in one scrape packet.
pub const MAX_SCRAPE: usize = 74;

const CONNECT: u32 = 0;
const ANNOUNCE: u32 = 1;
const SCRAPE: u32 = 2;
const ERROR: u32 = 3;

/// Why a received packet was not an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bad {
    /// Not for this request (another transaction id, or too short to tell): keep waiting.
    Ignore(String),
    /// The tracker's error message (action 3).
    TrackerError(String),
    /// Our transaction id but not a valid answer.
    Invalid(String),
}

/// A connect request.
pub fn connect_request(tid: u32) -> [u8; 16] {
    let mut p = [0u8; 16];
    p[..8].copy_from_slice(&PROTOCOL_ID.to_be_bytes());
    p[8..12].copy_from_slice(&CONNECT.to_be_bytes());
    p[12..].copy_from_slice(&tid.to_be_bytes());
    p
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Check the header of an answer: transaction id, error action, expected action and length.
fn header(buf: &[u8], tid: u32, action: u32, min_len: usize, what: &str) -> Result<(), Bad> {
    if buf.len() < 8 {
        return Err(Bad::Ignore(format!("a {}-byte packet", buf.len())));
    }
    if be32(buf, 4) != tid {
        return Err(Bad::Ignore("a packet with another transaction id".into()));
    }
    let got = be32(buf, 0);
    if got == ERROR {
        let msg = String::from_utf8_lossy(&buf[8..]).into_owned();
        return Err(Bad::TrackerError(msg));
    }
    if got != action {
        return Err(Bad::Invalid(format!(
            "action {got} in answer to a {what} request"
        )));
    }
    if buf.len() < min_len {
        return Err(Bad::Invalid(format!(
            "{what} answer of {} bytes is shorter than {min_len}",
            buf.len()
        )));
    }
    Ok(())
}

/// Parse a connect answer into the connection id.
pub fn parse_connect(buf: &[u8], tid: u32) -> Result<u64, Bad> {
    header(buf, tid, CONNECT, 16, "connect")?;
    Ok(u64::from_be_bytes(buf[8..16].try_into().expect("8 bytes")))
}

/// An announce request (98 bytes).
pub fn announce_request(conn: u64, tid: u32, req: &AnnounceRequest) -> Vec<u8> {
    let mut p = Vec::with_capacity(98);
    p.extend_from_slice(&conn.to_be_bytes());
    p.extend_from_slice(&ANNOUNCE.to_be_bytes());
    p.extend_from_slice(&tid.to_be_bytes());
    p.extend_from_slice(&req.info_hash.0);
    p.extend_from_slice(&req.peer_id);
    p.extend_from_slice(&req.downloaded.to_be_bytes());
    p.extend_from_slice(&req.left.to_be_bytes());
    p.extend_from_slice(&req.uploaded.to_be_bytes());
    let event: u32 = match req.event {
        Event::None => 0,
        Event::Completed => 1,
        Event::Started => 2,
        Event::Stopped => 3,
    };
    p.extend_from_slice(&event.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes()); // IP: the sender's
    p.extend_from_slice(&req.key.to_be_bytes());
    let numwant: i32 = req.numwant.map_or(-1, |n| n.min(i32::MAX as u32) as i32);
    p.extend_from_slice(&numwant.to_be_bytes());
    p.extend_from_slice(&req.port.to_be_bytes());
    p
}

/// Parse an announce answer; peers are 18-byte IPv6 entries when we talk over IPv6. BEP 15's
/// interval, leechers and seeders are signed 32-bit: a negative interval is an invalid answer,
/// a negative count is unknown (with a note).
pub fn parse_announce(buf: &[u8], tid: u32, v6: bool) -> Result<AnnounceResponse, Bad> {
    header(buf, tid, ANNOUNCE, 20, "announce")?;
    let interval = be32(buf, 8) as i32;
    if interval < 0 {
        return Err(Bad::Invalid(format!("negative interval {interval}")));
    }
    let mut notes = Vec::new();
    let mut count = |at: usize, what: &str| {
        let n = be32(buf, at) as i32;
        if n < 0 {
            notes.push(format!("ignored a negative {what} count {n}"));
        }
        u64::try_from(n).ok()
    };
    let mut r = AnnounceResponse {
        interval: Some(interval as u32),
        incomplete: count(12, "leecher"),
        complete: count(16, "seeder"),
        notes,
        ..Default::default()
    };
    r.peers = super::http::compact_peers(&buf[20..], v6, &mut r.notes);
    cap_peers(&mut r.peers, &mut r.notes);
    Ok(r)
}

/// A scrape request for at most [`MAX_SCRAPE`] torrents.
pub fn scrape_request(conn: u64, tid: u32, hashes: &[InfoHash]) -> Vec<u8> {
    let mut p = Vec::with_capacity(16 + 20 * hashes.len());
    p.extend_from_slice(&conn.to_be_bytes());
    p.extend_from_slice(&SCRAPE.to_be_bytes());
    p.extend_from_slice(&tid.to_be_bytes());
    for h in hashes.iter().take(MAX_SCRAPE) {
        p.extend_from_slice(&h.0);
    }
    p
}

/// Parse a scrape answer: seeders, completed, leechers for each hash, in request order.
pub fn parse_scrape(buf: &[u8], tid: u32, hashes: &[InfoHash]) -> Result<Vec<ScrapeStats>, Bad> {
    let n = hashes.len().min(MAX_SCRAPE);
    header(buf, tid, SCRAPE, 8 + 12 * n, "scrape")?;
    Ok(hashes[..n]
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let at = 8 + 12 * i;
            ScrapeStats {
                info_hash: *h,
                complete: be32(buf, at) as u64,
                downloaded: be32(buf, at + 4) as u64,
                incomplete: be32(buf, at + 8) as u64,
            }
        })
        .collect())
}

/// `host:port` of a `udp://host:port/...` URL.
pub fn host_port(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("udp://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let hp = &rest[..end];
    let port = hp.rsplit_once(':')?.1;
    (!port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())).then_some(hp)
}

type CacheKey = (Option<IpAddr>, SocketAddr);
static CONNECTIONS: Mutex<Vec<(CacheKey, u64, Instant)>> = Mutex::new(Vec::new());

fn cached(key: CacheKey) -> Option<u64> {
    let mut c = CONNECTIONS.lock().unwrap_or_else(|e| e.into_inner());
    c.retain(|(_, _, t)| t.elapsed() < CONNECTION_ID_LIFETIME);
    c.iter().find(|(k, _, _)| *k == key).map(|(_, id, _)| *id)
}

fn remember(key: CacheKey, id: Option<u64>) {
    let mut c = CONNECTIONS.lock().unwrap_or_else(|e| e.into_inner());
    c.retain(|(k, _, _)| *k != key);
    if let Some(id) = id {
        if c.len() >= 64 {
            c.remove(0);
        }
        c.push((key, id, Instant::now()));
    }
}

/// One tracker conversation: a connected socket, the deadline, and the cache key.
struct Session<'a> {
    tracker: &'a str,
    sock: UdpSocket,
    key: CacheKey,
    deadline: Instant,
    timeout: Duration,
    v6: bool,
}

impl<'a> Session<'a> {
    fn open(tracker: &'a str, opts: &Options) -> Result<Self, Error> {
        let deadline = Instant::now() + opts.timeout;
        let bad = |reason: &str| Error::BadUrl {
            tracker: tracker.to_string(),
            reason: reason.to_string(),
        };
        let net = |reason: String| Error::Network {
            tracker: tracker.to_string(),
            reason,
        };
        let hp = host_port(tracker).ok_or_else(|| bad("expected udp://host:port"))?;
        let addrs: Vec<SocketAddr> = hp
            .to_socket_addrs()
            .map_err(|e| net(format!("cannot resolve {hp}: {e}")))?
            .collect();
        let want_v6 = opts.bind.map(|b| b.is_ipv6());
        let target = addrs
            .iter()
            .find(|a| want_v6.is_none_or(|v6| a.is_ipv6() == v6))
            .or(addrs.first())
            .copied()
            .ok_or_else(|| net(format!("{hp} has no address")))?;
        let local = opts.bind.unwrap_or(if target.is_ipv6() {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        });
        let sock = UdpSocket::bind((local, 0))
            .map_err(|e| net(format!("cannot bind a udp socket to {local}: {e}")))?;
        sock.connect(target)
            .map_err(|e| net(format!("cannot reach {target}: {e}")))?;
        Ok(Session {
            tracker,
            sock,
            key: (opts.bind, target),
            deadline,
            timeout: opts.timeout,
            v6: target.is_ipv6(),
        })
    }

    /// Send `packet` and wait for an answer that `parse` accepts, retransmitting on the BEP 15
    /// schedule until the deadline.
    fn transact<T>(
        &self,
        packet: &[u8],
        parse: impl Fn(&[u8]) -> Result<T, Bad>,
    ) -> Result<T, Error> {
        let mut buf = vec![0u8; 65536];
        let mut ignored = 0usize;
        let mut last_ignored = String::new();
        for n in 0..=8u32 {
            let now = Instant::now();
            if now >= self.deadline {
                break;
            }
            self.sock.send(packet).map_err(|e| self.io_error(e))?;
            let wait_until = (now + Duration::from_secs(15 << n)).min(self.deadline);
            loop {
                let left = wait_until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                self.sock
                    .set_read_timeout(Some(left))
                    .map_err(|e| self.io_error(e))?;
                match self.sock.recv(&mut buf) {
                    Ok(len) => match parse(&buf[..len]) {
                        Ok(t) => return Ok(t),
                        Err(Bad::Ignore(why)) => {
                            ignored += 1;
                            last_ignored = why;
                        }
                        Err(Bad::TrackerError(reason)) => {
                            return Err(Error::Failure {
                                tracker: self.tracker.to_string(),
                                reason,
                            })
                        }
                        Err(Bad::Invalid(reason)) => {
                            return Err(Error::Invalid {
                                tracker: self.tracker.to_string(),
                                reason,
                            })
                        }
                    },
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        break
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(self.io_error(e)),
                }
            }
        }
        Err(Error::Timeout {
            tracker: self.tracker.to_string(),
            after: self.timeout,
            ignored: (ignored > 0).then(|| format!("{ignored} packets, the last {last_ignored}")),
        })
    }

    fn io_error(&self, e: std::io::Error) -> Error {
        let reason = if e.kind() == std::io::ErrorKind::ConnectionRefused {
            "connection refused (nothing listens on that udp port)".to_string()
        } else {
            e.to_string()
        };
        Error::Network {
            tracker: self.tracker.to_string(),
            reason,
        }
    }

    /// A connection id: cached if fresh, else from a connect exchange.
    fn connection(&self) -> Result<(u64, bool), Error> {
        if let Some(id) = cached(self.key) {
            return Ok((id, true));
        }
        let tid = self.transaction_id()?;
        let id = self.transact(&connect_request(tid), |b| parse_connect(b, tid))?;
        remember(self.key, Some(id));
        Ok((id, false))
    }

    /// Run one request that needs a connection id; a failure with a cached id forgets it and
    /// tries once more with a fresh one.
    fn with_connection<T>(
        &self,
        mut once: impl FnMut(u64) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let (id, was_cached) = self.connection()?;
        match once(id) {
            Ok(t) => Ok(t),
            Err(e) => {
                remember(self.key, None);
                if was_cached && Instant::now() < self.deadline {
                    let (id, _) = self.connection()?;
                    let r = once(id);
                    if r.is_err() {
                        remember(self.key, None);
                    }
                    r
                } else {
                    Err(e)
                }
            }
        }
    }
}

impl Session<'_> {
    /// A random transaction id (BEP 15: unpredictable, so that forged answers are unlikely).
    fn transaction_id(&self) -> Result<u32, Error> {
        super::random_bytes::<4>()
            .map(u32::from_be_bytes)
            .map_err(|e| Error::Network {
                tracker: self.tracker.to_string(),
                reason: format!("no random transaction id: {e}"),
            })
    }
}

/// Announce to a UDP tracker.
pub fn announce(
    url: &str,
    req: &AnnounceRequest,
    opts: &Options,
) -> Result<AnnounceResponse, Error> {
    let s = Session::open(url, opts)?;
    s.with_connection(|conn| {
        let tid = s.transaction_id()?;
        s.transact(&announce_request(conn, tid, req), |b| {
            parse_announce(b, tid, s.v6)
        })
    })
}

/// Scrape a UDP tracker (in packets of at most [`MAX_SCRAPE`] torrents).
pub fn scrape(url: &str, hashes: &[InfoHash], opts: &Options) -> Result<Vec<ScrapeStats>, Error> {
    let s = Session::open(url, opts)?;
    let mut out = Vec::with_capacity(hashes.len());
    for chunk in hashes.chunks(MAX_SCRAPE) {
        let part = s.with_connection(|conn| {
            let tid = s.transaction_id()?;
            s.transact(&scrape_request(conn, tid, chunk), |b| {
                parse_scrape(b, tid, chunk)
            })
        })?;
        out.extend(part);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_round_trip() {
        let p = connect_request(0x01020304);
        assert_eq!(
            p,
            [0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 1, 2, 3, 4]
        );
        let mut ans = vec![0, 0, 0, 0, 1, 2, 3, 4];
        ans.extend_from_slice(&0xaabbccdd_eeff0011u64.to_be_bytes());
        assert_eq!(parse_connect(&ans, 0x01020304), Ok(0xaabbccdd_eeff0011));
        assert!(matches!(parse_connect(&ans, 9), Err(Bad::Ignore(_))));
        assert!(matches!(parse_connect(&ans[..5], 9), Err(Bad::Ignore(_))));
        assert!(matches!(
            parse_connect(&ans[..12], 0x01020304),
            Err(Bad::Invalid(_))
        ));
    }

    #[test]
    fn announce_packet_layout() {
        let req = AnnounceRequest {
            info_hash: InfoHash([0x11; 20]),
            peer_id: [0x22; 20],
            port: 0x1ae1,
            uploaded: 3,
            downloaded: 1,
            left: 2,
            event: Event::Stopped,
            numwant: None,
            key: 0x0a0b0c0d,
            tracker_id: None,
        };
        let p = announce_request(7, 9, &req);
        assert_eq!(p.len(), 98);
        assert_eq!(&p[..8], &7u64.to_be_bytes());
        assert_eq!(&p[8..16], &[0, 0, 0, 1, 0, 0, 0, 9]);
        assert_eq!(&p[16..36], &[0x11; 20]);
        assert_eq!(&p[36..56], &[0x22; 20]);
        assert_eq!(&p[56..64], &1u64.to_be_bytes());
        assert_eq!(&p[64..72], &2u64.to_be_bytes());
        assert_eq!(&p[72..80], &3u64.to_be_bytes());
        assert_eq!(&p[80..84], &[0, 0, 0, 3]);
        assert_eq!(&p[84..88], &[0, 0, 0, 0]);
        assert_eq!(&p[88..92], &[0x0a, 0x0b, 0x0c, 0x0d]);
        assert_eq!(&p[92..96], &[0xff; 4]);
        assert_eq!(&p[96..], &[0x1a, 0xe1]);
    }

    #[test]
    fn announce_answers_v4_v6_and_errors() {
        let mut a = vec![0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 7, 8, 0, 0, 0, 2, 0, 0, 0, 1];
        a.extend_from_slice(&[127, 0, 0, 1, 0, 80, 10, 0, 0, 1, 1, 0]);
        let r = parse_announce(&a, 5, false).unwrap();
        assert_eq!(r.interval, Some(0x708));
        assert_eq!(r.incomplete, Some(2));
        assert_eq!(r.complete, Some(1));
        assert_eq!(
            r.peers,
            vec![
                "127.0.0.1:80".parse().unwrap(),
                "10.0.0.1:256".parse().unwrap()
            ]
        );
        let mut b = a[..20].to_vec();
        let mut v6 = [0u8; 18];
        v6[15] = 1;
        v6[17] = 81;
        b.extend_from_slice(&v6);
        b.push(9); // a stray byte: partial answer
        let r = parse_announce(&b, 5, true).unwrap();
        assert_eq!(r.peers, vec!["[::1]:81".parse().unwrap()]);
        assert_eq!(r.notes.len(), 1);
        let mut e = vec![0, 0, 0, 3, 0, 0, 0, 5];
        e.extend_from_slice(b"bad hash");
        assert_eq!(
            parse_announce(&e, 5, false),
            Err(Bad::TrackerError("bad hash".into()))
        );
        assert!(matches!(
            parse_announce(&a[..19], 5, false),
            Err(Bad::Invalid(_))
        ));
        assert!(matches!(parse_announce(&a, 6, false), Err(Bad::Ignore(_))));
    }

    #[test]
    fn negative_int32_fields_are_refused_or_unknown() {
        let mut a = vec![
            0, 0, 0, 1, 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xf6, 0, 0, 0, 2, 0, 0, 0, 1,
        ];
        assert!(matches!(
            parse_announce(&a, 5, false),
            Err(Bad::Invalid(m)) if m.contains("negative interval -10")
        ));
        a[8..12].copy_from_slice(&1800u32.to_be_bytes());
        a[16..20].copy_from_slice(&(-1i32).to_be_bytes());
        let r = parse_announce(&a, 5, false).unwrap();
        assert_eq!(
            (r.interval, r.incomplete, r.complete),
            (Some(1800), Some(2), None)
        );
        assert!(
            r.notes[0].contains("negative seeder count -1"),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn scrape_round_trip() {
        let hs = [InfoHash([1; 20]), InfoHash([2; 20])];
        let p = scrape_request(1, 2, &hs);
        assert_eq!(p.len(), 56);
        assert_eq!(&p[8..12], &[0, 0, 0, 2]);
        let mut a = vec![0, 0, 0, 2, 0, 0, 0, 2];
        for v in [1u32, 2, 3, 4, 5, 6] {
            a.extend_from_slice(&v.to_be_bytes());
        }
        let r = parse_scrape(&a, 2, &hs).unwrap();
        assert_eq!(
            r[1],
            ScrapeStats {
                info_hash: hs[1],
                complete: 4,
                downloaded: 5,
                incomplete: 6
            }
        );
        assert!(matches!(
            parse_scrape(&a[..20], 2, &hs),
            Err(Bad::Invalid(_))
        ));
    }

    #[test]
    fn udp_urls() {
        assert_eq!(
            host_port("udp://t.example:6969/announce"),
            Some("t.example:6969")
        );
        assert_eq!(host_port("udp://[::1]:80"), Some("[::1]:80"));
        assert_eq!(host_port("udp://t.example/announce"), None);
        assert_eq!(host_port("udp://t:x"), None);
    }

    #[test]
    fn silent_tracker_times_out_and_refused_port_fails_fast() {
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let url = format!("udp://{}/announce", silent.local_addr().unwrap());
        let req = AnnounceRequest::new(InfoHash([1; 20]), 1, 0).unwrap();
        let opts = Options {
            timeout: Duration::from_millis(300),
            bind: None,
        };
        let t = Instant::now();
        let e = announce(&url, &req, &opts).unwrap_err();
        assert!(matches!(e, Error::Timeout { .. }), "{e}");
        assert!(t.elapsed() < Duration::from_secs(2));
        let port = silent.local_addr().unwrap().port();
        drop(silent);
        let e = announce(&format!("udp://127.0.0.1:{port}"), &req, &opts).unwrap_err();
        assert!(
            matches!(e, Error::Network { .. } | Error::Timeout { .. }),
            "{e}"
        );
    }

    #[test]
    fn connection_ids_are_cached_per_tracker() {
        let key = (None, "127.0.0.1:9".parse().unwrap());
        remember(key, Some(42));
        assert_eq!(cached(key), Some(42));
        assert_eq!(cached((None, "127.0.0.1:10".parse().unwrap())), None);
        remember(key, None);
        assert_eq!(cached(key), None);
    }

    /// A fake tracker on `local` that answers connects and `announces` announces with `peers`;
    /// returns (connects, announces) seen.
    fn fake_tracker(
        local: &str,
        announces: usize,
        peers: Vec<u8>,
    ) -> (String, std::thread::JoinHandle<(usize, usize)>) {
        let srv = UdpSocket::bind(local).unwrap();
        srv.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let url = format!("udp://{}", srv.local_addr().unwrap());
        let h = std::thread::spawn(move || {
            let (mut connects, mut seen) = (0, 0);
            let mut buf = [0u8; 200];
            let start = Instant::now();
            while seen < announces && start.elapsed() < Duration::from_secs(5) {
                let Ok((n, from)) = srv.recv_from(&mut buf) else {
                    continue;
                };
                let tid = &buf[12..16];
                let mut a = Vec::new();
                if n == 16 {
                    connects += 1;
                    a.extend_from_slice(&[0, 0, 0, 0]);
                    a.extend_from_slice(tid);
                    a.extend_from_slice(&77u64.to_be_bytes());
                } else {
                    assert_eq!(&buf[..8], &77u64.to_be_bytes());
                    seen += 1;
                    a.extend_from_slice(&[0, 0, 0, 1]);
                    a.extend_from_slice(tid);
                    a.extend_from_slice(&[0, 0, 0, 60, 0, 0, 0, 1, 0, 0, 0, 2]);
                    a.extend_from_slice(&peers);
                }
                srv.send_to(&a, from).unwrap();
            }
            (connects, seen)
        });
        (url, h)
    }

    #[test]
    fn ipv6_trackers_answer_with_18_byte_peers() {
        let mut peer = [0u8; 18];
        peer[15] = 1;
        peer[17] = 9;
        let (url, h) = fake_tracker("[::1]:0", 1, peer.to_vec());
        let req = AnnounceRequest::new(InfoHash([9; 20]), 1, 0).unwrap();
        let opts = Options {
            timeout: Duration::from_secs(3),
            bind: None,
        };
        let r = announce(&url, &req, &opts).unwrap();
        assert_eq!(r.peers, vec!["[::1]:9".parse().unwrap()]);
        assert_eq!(h.join().unwrap(), (1, 1));
    }

    #[test]
    fn a_connection_id_is_reused_within_a_minute() {
        let (url, fake) = fake_tracker("127.0.0.1:0", 2, vec![127, 0, 0, 7, 0, 9]);
        let req = AnnounceRequest::new(InfoHash([8; 20]), 1, 0).unwrap();
        let opts = Options {
            timeout: Duration::from_secs(3),
            bind: Some("127.0.0.1".parse().unwrap()),
        };
        for _ in 0..2 {
            let r = announce(&url, &req, &opts).unwrap();
            assert_eq!(r.peers, vec!["127.0.0.7:9".parse().unwrap()]);
            assert_eq!(
                (r.interval, r.incomplete, r.complete),
                (Some(60), Some(1), Some(2))
            );
        }
        assert_eq!(fake.join().unwrap(), (1, 2));
    }
}
