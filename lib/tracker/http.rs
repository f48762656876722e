//! HTTP(S) trackers: the BEP 3 announce query, the scrape URL rule, and response parsing
//! (compact peers of BEP 23, dictionary peers, `peers6` of BEP 7, BEP 48 scrape).
//!
//! The query is built here byte by byte, never by a URL library that might re-encode it: the raw
//! 20-byte `info_hash` and `peer_id` are percent-encoded, every byte except the RFC 3986
//! unreserved characters (`A-Z a-z 0-9 - . _ ~`) becomes `%XX`. The network is touched only in
//! [`fetch`]: ureq with the caller's timeout, at most [`MAX_REDIRECTS`] redirects and a body capped
//! at [`MAX_RESPONSE`] bytes (or, to send from a chosen local address, a minimal HTTP/1.0 client
//! with the same bounds).
//!
//! A `peers` string whose length is not a multiple of 6 (or `peers6` not a multiple of 18) is a
//! partial answer: the whole entries are kept and the remainder is dropped with a note in
//! [`AnnounceResponse::notes`]. So are dictionary peers without a usable address.

use super::{
    cap_peers, AnnounceRequest, AnnounceResponse, Error, Event, Options, ScrapeStats, MAX_RESPONSE,
};
use crate::bencode::{self, Dict, Limits, Node};
pub use crate::metainfo::percent_encode;
use crate::metainfo::InfoHash;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Most redirects followed before giving up (a loop becomes a clear error).
pub const MAX_REDIRECTS: u32 = 5;

/// Decoding limits for tracker responses: small and shallow.
pub fn limits() -> Limits {
    Limits {
        max_depth: 16,
        max_size: MAX_RESPONSE,
        max_tokens: 500_000,
    }
}

/// Append query parameters to a URL that may already have a query (a passkey); a fragment is
/// dropped.
fn with_query(base: &str, query: &str) -> String {
    let base = base.split('#').next().unwrap_or(base);
    let sep = if !base.contains('?') {
        "?"
    } else if base.ends_with('?') || base.ends_with('&') {
        ""
    } else {
        "&"
    };
    format!("{base}{sep}{query}")
}

/// The full announce URL for a request.
pub fn announce_url(base: &str, req: &AnnounceRequest) -> String {
    let mut q = format!(
        "info_hash={}&peer_id={}&port={}&uploaded={}&downloaded={}&left={}&compact=1",
        percent_encode(&req.info_hash.0),
        percent_encode(&req.peer_id),
        req.port,
        req.uploaded,
        req.downloaded,
        req.left
    );
    if req.event != Event::None {
        q.push_str("&event=");
        q.push_str(req.event.as_str());
    }
    if let Some(n) = req.numwant {
        q.push_str(&format!("&numwant={n}"));
    }
    q.push_str(&format!("&key={:08x}", req.key));
    if let Some(id) = &req.tracker_id {
        q.push_str("&trackerid=");
        q.push_str(&percent_encode(id));
    }
    with_query(base, &q)
}

/// The scrape URL of an announce URL: the last path segment must start with `announce`, which
/// becomes `scrape` (`/x/announce.php?k=1` -> `/x/scrape.php?k=1`); otherwise `None`.
pub fn scrape_url(announce: &str) -> Option<String> {
    let (path, query) = match announce.find(['?', '#']) {
        Some(i) => announce.split_at(i),
        None => (announce, ""),
    };
    let authority_start = path.find("://")? + 3;
    let slash = path.rfind('/').filter(|&i| i >= authority_start)?;
    let last = &path[slash + 1..];
    let rest = last.strip_prefix("announce")?;
    Some(format!("{}scrape{rest}{query}", &path[..slash + 1]))
}

/// The scrape URL with one `info_hash` parameter per torrent.
pub fn scrape_query(scrape: &str, hashes: &[InfoHash]) -> String {
    let q: Vec<String> = hashes
        .iter()
        .map(|h| format!("info_hash={}", percent_encode(&h.0)))
        .collect();
    if q.is_empty() {
        return scrape.to_string();
    }
    with_query(scrape, &q.join("&"))
}

fn invalid(tracker: &str, reason: impl Into<String>) -> Error {
    Error::Invalid {
        tracker: tracker.to_string(),
        reason: reason.into(),
    }
}

/// Decode a body into its top-level dictionary; a `failure reason` becomes [`Error::Failure`].
fn top_dict<'a>(tracker: &str, body: &'a [u8]) -> Result<bencode::Decoded<'a>, Error> {
    let decoded = bencode::decode(body, &limits()).map_err(|e| match e {
        bencode::Error::TooLarge { .. } => Error::TooLarge {
            tracker: tracker.to_string(),
        },
        e => invalid(tracker, format!("not bencode: {e}")),
    })?;
    let Some(d) = decoded.root.as_dict() else {
        return Err(invalid(
            tracker,
            format!("expected a dictionary, got {}", decoded.root.kind()),
        ));
    };
    if let Some(f) = d.get("failure reason") {
        let reason = f
            .as_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_else(|| format!("(failure reason is {})", f.kind()));
        return Err(Error::Failure {
            tracker: tracker.to_string(),
            reason,
        });
    }
    Ok(decoded)
}

fn uint(tracker: &str, d: &Dict, key: &str) -> Result<Option<u64>, Error> {
    match d.get(key) {
        None => Ok(None),
        Some(n) => match n.as_int() {
            Some(i) if i >= 0 => Ok(Some(i as u64)),
            _ => Err(invalid(
                tracker,
                format!("{key:?} is not a non-negative integer"),
            )),
        },
    }
}

fn secs(tracker: &str, d: &Dict, key: &str) -> Result<Option<u32>, Error> {
    Ok(uint(tracker, d, key)?.map(|v| v.min(u32::MAX as u64) as u32))
}

/// Whether a peer address can be dialed: port 0 (BEP 3's `port` is the one the peer listens
/// on) and the unspecified address name nobody.
fn dialable(a: &SocketAddr) -> bool {
    a.port() != 0 && !a.ip().is_unspecified()
}

/// Drop the peers nobody can dial, with a note.
fn drop_undialable(peers: &mut Vec<SocketAddr>, notes: &mut Vec<String>) {
    let before = peers.len();
    peers.retain(dialable);
    let n = before - peers.len();
    if n > 0 {
        notes.push(format!(
            "ignored {n} peer{} with port 0 or an unspecified address",
            if n == 1 { "" } else { "s" }
        ));
    }
}

/// Peers packed as 4- or 16-byte addresses followed by a 2-byte port, network order (those
/// with port 0 or an unspecified address are dropped, with a note).
pub fn compact_peers(bytes: &[u8], v6: bool, notes: &mut Vec<String>) -> Vec<SocketAddr> {
    let size = if v6 { 18 } else { 6 };
    let chunks = bytes.chunks_exact(size);
    if !chunks.remainder().is_empty() {
        notes.push(format!(
            "{} string of {} bytes is not a multiple of {size}; ignored the last {} bytes",
            if v6 { "peers6" } else { "peers" },
            bytes.len(),
            chunks.remainder().len()
        ));
    }
    let mut peers = chunks
        .map(|c| {
            let port = u16::from_be_bytes([c[size - 2], c[size - 1]]);
            let ip = if v6 {
                let mut a = [0u8; 16];
                a.copy_from_slice(&c[..16]);
                IpAddr::V6(Ipv6Addr::from(a))
            } else {
                IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3]))
            };
            SocketAddr::new(ip, port)
        })
        .collect();
    drop_undialable(&mut peers, notes);
    peers
}

fn dict_peers(list: &[Node], notes: &mut Vec<String>) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    let mut bad = 0usize;
    for n in list {
        let addr = n.as_dict().and_then(|d| {
            let ip: IpAddr = d.get("ip")?.as_str()?.trim().parse().ok()?;
            let port = u16::try_from(d.get("port")?.as_int()?).ok()?;
            Some(SocketAddr::new(ip, port))
        });
        match addr {
            Some(a) => out.push(a),
            None => bad += 1,
        }
    }
    if bad > 0 {
        notes.push(format!(
            "ignored {bad} peer entr{} without a numeric ip and a valid port",
            if bad == 1 { "y" } else { "ies" }
        ));
    }
    drop_undialable(&mut out, notes);
    out
}

/// Parse an announce response body.
pub fn parse_announce(tracker: &str, body: &[u8]) -> Result<AnnounceResponse, Error> {
    let decoded = top_dict(tracker, body)?;
    let d = decoded.root.as_dict().expect("checked by top_dict");
    let mut r = AnnounceResponse {
        interval: secs(tracker, d, "interval")?,
        min_interval: secs(tracker, d, "min interval")?,
        complete: uint(tracker, d, "complete")?,
        incomplete: uint(tracker, d, "incomplete")?,
        warning: d
            .get("warning message")
            .and_then(|w| w.as_bytes())
            .map(|b| String::from_utf8_lossy(b).into_owned()),
        tracker_id: d
            .get("tracker id")
            .and_then(|t| t.as_bytes())
            .map(|b| b.to_vec()),
        ..Default::default()
    };
    match d.get("peers") {
        None => {}
        Some(p) => match (p.as_bytes(), p.as_list()) {
            (Some(b), _) => r.peers = compact_peers(b, false, &mut r.notes),
            (_, Some(l)) => r.peers = dict_peers(l, &mut r.notes),
            _ => return Err(invalid(tracker, format!("\"peers\" is {}", p.kind()))),
        },
    }
    if let Some(p) = d.get("peers6") {
        match p.as_bytes() {
            Some(b) => {
                let more = compact_peers(b, true, &mut r.notes);
                r.peers.extend(more);
            }
            None => r
                .notes
                .push(format!("ignored \"peers6\": it is {}", p.kind())),
        }
    }
    cap_peers(&mut r.peers, &mut r.notes);
    Ok(r)
}

/// Parse a scrape response body (`files` keyed by raw 20-byte info hashes).
pub fn parse_scrape(tracker: &str, body: &[u8]) -> Result<Vec<ScrapeStats>, Error> {
    let decoded = top_dict(tracker, body)?;
    let d = decoded.root.as_dict().expect("checked by top_dict");
    let Some(files) = d.get("files").and_then(|f| f.as_dict()) else {
        return Err(invalid(tracker, "no \"files\" dictionary"));
    };
    let mut out = Vec::new();
    for (k, v) in &files.entries {
        let Ok(h) = <[u8; 20]>::try_from(*k) else {
            continue;
        };
        let Some(s) = v.as_dict() else {
            return Err(invalid(tracker, "a \"files\" entry is not a dictionary"));
        };
        out.push(ScrapeStats {
            info_hash: InfoHash(h),
            complete: uint(tracker, s, "complete")?.unwrap_or(0),
            incomplete: uint(tracker, s, "incomplete")?.unwrap_or(0),
            downloaded: uint(tracker, s, "downloaded")?.unwrap_or(0),
        });
    }
    Ok(out)
}

/// GET a URL and return the body (at most [`MAX_RESPONSE`] bytes). A non-200 status whose body
/// carries a `failure reason` becomes [`Error::Failure`]. This is the only network access of
/// the HTTP tracker code: ureq, or for an `http://` URL with [`Options::bind`] set, the small
/// bound client of `bound.rs`.
pub fn fetch(tracker: &str, url: &str, opts: &Options) -> Result<Vec<u8>, Error> {
    if let (Some(bind), true) = (opts.bind, url.starts_with("http://")) {
        return super::bound::fetch(tracker, url, opts, bind);
    }
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(opts.timeout)
        .timeout(opts.timeout)
        .redirects(MAX_REDIRECTS)
        .user_agent(concat!("bt/", env!("CARGO_PKG_VERSION")))
        .build();
    let net = |reason: String| Error::Network {
        tracker: tracker.to_string(),
        reason,
    };
    let resp = match agent.get(url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(status, resp)) => {
            let body = read_body(tracker, resp)?;
            if let Err(e @ Error::Failure { .. }) = top_dict(tracker, &body) {
                return Err(e);
            }
            return Err(Error::Status {
                tracker: tracker.to_string(),
                status,
            });
        }
        Err(ureq::Error::Transport(t)) => {
            return Err(match t.kind() {
                ureq::ErrorKind::TooManyRedirects => Error::TooManyRedirects {
                    tracker: tracker.to_string(),
                    limit: MAX_REDIRECTS,
                },
                ureq::ErrorKind::InvalidUrl | ureq::ErrorKind::UnknownScheme => Error::BadUrl {
                    tracker: tracker.to_string(),
                    reason: t.message().unwrap_or("invalid").to_string(),
                },
                _ if is_timeout(&t) => Error::Timeout {
                    tracker: tracker.to_string(),
                    after: opts.timeout,
                    ignored: None,
                },
                ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Dns => {
                    let what = if t.kind() == ureq::ErrorKind::Dns {
                        "cannot resolve the host"
                    } else {
                        "cannot connect"
                    };
                    match std::error::Error::source(&t) {
                        Some(src) => net(format!("{what}: {src}")),
                        None => net(format!("{what}: {}", t.message().unwrap_or("?"))),
                    }
                }
                _ => {
                    let mut s = t.kind().to_string().to_lowercase();
                    if let Some(m) = t.message() {
                        s.push_str(&format!(": {m}"));
                    }
                    if let Some(src) = std::error::Error::source(&t) {
                        s.push_str(&format!(": {src}"));
                    }
                    net(s)
                }
            });
        }
    };
    if resp.status() != 200 {
        return Err(Error::Status {
            tracker: tracker.to_string(),
            status: resp.status(),
        });
    }
    read_body(tracker, resp)
}

fn is_timeout(t: &ureq::Transport) -> bool {
    let mut src = std::error::Error::source(t);
    while let Some(e) = src {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ) {
                return true;
            }
        }
        src = e.source();
    }
    t.message().is_some_and(|m| m.contains("timed out"))
}

fn read_body(tracker: &str, resp: ureq::Response) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    resp.into_reader()
        .take(MAX_RESPONSE as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| {
            if matches!(
                e.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ) {
                Error::Network {
                    tracker: tracker.to_string(),
                    reason: "timed out while reading the response".to_string(),
                }
            } else {
                Error::Network {
                    tracker: tracker.to_string(),
                    reason: format!("reading the response: {e}"),
                }
            }
        })?;
    if body.len() > MAX_RESPONSE {
        return Err(Error::TooLarge {
            tracker: tracker.to_string(),
        });
    }
    Ok(body)
}

/// Announce to an HTTP(S) tracker.
pub fn announce(
    url: &str,
    req: &AnnounceRequest,
    opts: &Options,
) -> Result<AnnounceResponse, Error> {
    let body = fetch(url, &announce_url(url, req), opts)?;
    parse_announce(url, &body)
}

/// Scrape an HTTP(S) tracker.
pub fn scrape(url: &str, hashes: &[InfoHash], opts: &Options) -> Result<Vec<ScrapeStats>, Error> {
    let Some(s) = scrape_url(url) else {
        return Err(Error::NoScrape {
            tracker: url.to_string(),
        });
    };
    let body = fetch(url, &scrape_query(&s, hashes), opts)?;
    parse_scrape(url, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> AnnounceRequest {
        let mut h = [0u8; 20];
        for (i, b) in h.iter_mut().enumerate() {
            *b = (i as u8) * 13;
        }
        AnnounceRequest {
            info_hash: InfoHash(h),
            peer_id: *b"-BT0100-ab~._ \x00\xff/?&%",
            port: 6881,
            uploaded: 1,
            downloaded: 2,
            left: 3,
            event: Event::Started,
            numwant: Some(50),
            key: 0xdeadbeef,
            tracker_id: None,
        }
    }

    #[test]
    fn percent_encoding_is_byte_by_byte() {
        assert_eq!(percent_encode(b"aZ09-._~"), "aZ09-._~");
        assert_eq!(
            percent_encode(b" /?&%+=\x00\xff"),
            "%20%2F%3F%26%25%2B%3D%00%FF"
        );
        assert_eq!(percent_encode(&[0x12, 0x34, 0x56]), "%124V");
        // Every byte: unreserved characters as they are, the rest as upper-case %XX.
        for b in 0..=255u8 {
            let want = if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            };
            assert_eq!(percent_encode(&[b]), want, "byte {b:#04x}");
            let decoded = crate::metainfo::percent_decode(&want, false);
            assert_eq!(decoded, [b], "{want}");
        }
        let d = |s, plus| crate::metainfo::percent_decode(s, plus);
        assert_eq!(d("a+b%2B%zz%4", true), b"a b+%zz%4");
        assert_eq!(d("a+b%2b", false), b"a+b+");
    }

    #[test]
    fn announce_url_byte_for_byte() {
        let u = announce_url("http://t.example:6969/announce", &req());
        assert_eq!(
            u,
            "http://t.example:6969/announce?info_hash=%00%0D%1A%274AN%5Bhu%82%8F%9C%A9%B6%C3%D0%DD%EA%F7\
             &peer_id=-BT0100-ab~._%20%00%FF%2F%3F%26%25\
             &port=6881&uploaded=1&downloaded=2&left=3&compact=1&event=started&numwant=50&key=deadbeef"
        );
    }

    #[test]
    fn announce_url_keeps_an_existing_query_and_adds_trackerid() {
        let mut r = req();
        r.event = Event::None;
        r.numwant = None;
        r.tracker_id = Some(b"id 1".to_vec());
        let u = announce_url("https://t/a/announce.php?passkey=abc#frag", &r);
        assert!(
            u.starts_with("https://t/a/announce.php?passkey=abc&info_hash="),
            "{u}"
        );
        assert!(!u.contains("event="));
        assert!(!u.contains("numwant="));
        assert!(!u.contains('#'));
        assert!(u.ends_with("&key=deadbeef&trackerid=id%201"), "{u}");
        let u = announce_url("http://t/announce?", &r);
        assert!(u.starts_with("http://t/announce?info_hash="), "{u}");
    }

    #[test]
    fn scrape_url_rule() {
        let s = |u| scrape_url(u);
        assert_eq!(s("http://t/announce").as_deref(), Some("http://t/scrape"));
        assert_eq!(
            s("http://t/x/announce.php?k=1").as_deref(),
            Some("http://t/x/scrape.php?k=1")
        );
        assert_eq!(
            s("http://t/announce?x=/a").as_deref(),
            Some("http://t/scrape?x=/a")
        );
        assert_eq!(s("http://t/a"), None);
        assert_eq!(s("http://t/x/announce/y"), None);
        assert_eq!(s("http://announce"), None);
        assert_eq!(s("http://t/Announce"), None);
    }

    #[test]
    fn scrape_query_repeats_info_hash() {
        let u = scrape_query(
            "http://t/scrape?k=1",
            &[InfoHash([0x41; 20]), InfoHash([0; 20])],
        );
        assert_eq!(
            u,
            format!(
                "http://t/scrape?k=1&info_hash={}&info_hash={}",
                "A".repeat(20),
                "%00".repeat(20)
            )
        );
    }

    #[test]
    fn compact_response() {
        let mut body =
            b"d8:completei5e10:incompletei3e8:intervali1800e12:min intervali60e5:peers12:".to_vec();
        body.extend_from_slice(&[127, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0, 80]);
        body.extend_from_slice(b"6:peers618:");
        let mut v6 = [0u8; 18];
        v6[15] = 1;
        v6[16] = 0x1f;
        v6[17] = 0x90;
        body.extend_from_slice(&v6);
        body.extend_from_slice(b"10:tracker id3:xyze\r\n \n");
        let r = parse_announce("t", &body).unwrap();
        assert_eq!(r.interval, Some(1800));
        assert_eq!(r.min_interval, Some(60));
        assert_eq!(r.complete, Some(5));
        assert_eq!(r.incomplete, Some(3));
        assert_eq!(r.tracker_id.as_deref(), Some(&b"xyz"[..]));
        assert_eq!(
            r.peers,
            vec![
                "127.0.0.1:6881".parse().unwrap(),
                "10.0.0.2:80".parse().unwrap(),
                "[::1]:8080".parse().unwrap()
            ]
        );
        assert!(r.notes.is_empty());
    }

    #[test]
    fn dictionary_peers_and_warning() {
        let body = b"d8:intervali900e5:peersld2:ip9:127.0.0.17:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti1000eed2:ip3:::14:porti2000eed2:ip7:example4:porti1eed2:ip7:1.2.3.44:porti70000eee15:warning message4:slowe";
        let r = parse_announce("t", body).unwrap();
        assert_eq!(
            r.peers,
            vec![
                "127.0.0.1:1000".parse().unwrap(),
                "[::1]:2000".parse().unwrap()
            ]
        );
        assert_eq!(r.warning.as_deref(), Some("slow"));
        assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
    }

    #[test]
    fn peers_nobody_can_dial_are_dropped() {
        // Compact: port 0, 0.0.0.0, and one good peer; dictionary: port 0 and "::".
        let body = b"d8:intervali10e5:peers18:\x7f\x00\x00\x01\x00\x00\x00\x00\x00\x00\x1a\xe1\x7f\x00\x00\x02\x00\x51e";
        let r = parse_announce("t", body).unwrap();
        assert_eq!(r.peers, vec!["127.0.0.2:81".parse().unwrap()]);
        assert!(
            r.notes[0].contains("ignored 2 peers with port 0"),
            "{:?}",
            r.notes
        );
        let body = b"d8:intervali10e5:peersld2:ip9:127.0.0.14:porti0eed2:ip2:::4:porti1eed2:ip3:::14:porti2eeee";
        let r = parse_announce("t", body).unwrap();
        assert_eq!(r.peers, vec!["[::1]:2".parse().unwrap()]);
        assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
        let mut v6 = [0u8; 36];
        v6[15] = 1; // [::1]:0, then [::]:80
        v6[35] = 80;
        let mut notes = Vec::new();
        assert!(compact_peers(&v6, true, &mut notes).is_empty());
        assert_eq!(notes.len(), 1, "{notes:?}");
    }

    #[test]
    fn peers_not_a_multiple_of_six_is_a_partial_answer() {
        let body =
            b"d8:intervali10e5:peers13:\x7f\x00\x00\x01\x00\x50\x7f\x00\x00\x02\x00\x51\x01e";
        let r = parse_announce("t", body).unwrap();
        assert_eq!(r.peers.len(), 2);
        assert!(r.notes[0].contains("not a multiple of 6"), "{:?}", r.notes);
    }

    #[test]
    fn failure_reason_and_bad_bodies() {
        let e = parse_announce("T", b"d14:failure reason5:nope\x1be").unwrap_err();
        assert_eq!(
            e,
            Error::Failure {
                tracker: "T".into(),
                reason: "nope\u{1b}".into()
            }
        );
        for bad in [
            &b"d8:intervali10e5:peers"[..],
            b"",
            b"<html>",
            b"le",
            b"d8:intervali-5ee",
            b"d5:peersi3ee",
            b"d8:intervali10eexx",
        ] {
            let e = parse_announce("T", bad).unwrap_err();
            assert!(matches!(e, Error::Invalid { .. }), "{bad:?}: {e:?}");
            assert!(e.to_string().starts_with("tracker T: invalid response"));
        }
    }

    #[test]
    fn huge_peer_lists_are_capped() {
        let n = crate::tracker::MAX_PEERS + 100;
        let mut body = format!("d8:intervali10e5:peers{}:", n * 6).into_bytes();
        body.extend(std::iter::repeat_n(7u8, n * 6));
        body.push(b'e');
        let r = parse_announce("t", &body).unwrap();
        assert_eq!(r.peers.len(), crate::tracker::MAX_PEERS);
        assert!(r.notes.iter().any(|n| n.contains("kept the first")));
        let mut big = b"d5:peers".to_vec();
        big.extend(format!("{}:", MAX_RESPONSE).bytes());
        big.extend(std::iter::repeat_n(0u8, MAX_RESPONSE));
        big.push(b'e');
        assert!(matches!(
            parse_announce("t", &big),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn scrape_response() {
        let mut body = b"d5:filesd20:".to_vec();
        body.extend_from_slice(&[0x41; 20]);
        body.extend_from_slice(b"d8:completei1e10:downloadedi2e10:incompletei3eeee");
        let r = parse_scrape("t", &body).unwrap();
        assert_eq!(
            r,
            vec![ScrapeStats {
                info_hash: InfoHash([0x41; 20]),
                complete: 1,
                incomplete: 3,
                downloaded: 2
            }]
        );
        assert!(parse_scrape("t", b"de").is_err());
    }
}
