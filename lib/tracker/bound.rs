//! Plain-HTTP GET from a chosen local address, for `http://` trackers when [`Options::bind`] is
//! set (trackers such as opentracker identify peers by the announce's source address, and ureq 2
//! cannot bind a local address).
//!
//! HTTP/1.0 with `Connection: close`: the body ends at `Content-Length` or at the end of the
//! stream; a chunked body is decoded. Same bounds as the ureq path: one overall deadline for
//! connect, redirects and body, at most [`MAX_REDIRECTS`] redirects (to `http://` URLs or
//! absolute paths), headers up to 16 KiB, a body up to [`MAX_RESPONSE`] bytes.

use super::http::MAX_REDIRECTS;
use super::{Error, Options, MAX_RESPONSE};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

const MAX_HEADER: usize = 16 << 10;

/// One HTTP answer: status, `Location`, body.
struct Answer {
    status: u16,
    location: Option<String>,
    body: Vec<u8>,
}

/// GET `url` from `opts.bind`, following redirects; the body of a 200 answer.
pub fn fetch(tracker: &str, url: &str, opts: &Options, bind: IpAddr) -> Result<Vec<u8>, Error> {
    let deadline = Instant::now() + opts.timeout;
    let net = |reason: String| Error::Network {
        tracker: tracker.to_string(),
        reason,
    };
    let mut url = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let (host, port, path) = split_url(&url).ok_or_else(|| Error::BadUrl {
            tracker: tracker.to_string(),
            reason: format!("cannot bind {bind} for {url:?}: only plain http://host[:port]/path"),
        })?;
        let target = (host.trim_matches(['[', ']']), port)
            .to_socket_addrs()
            .map_err(|e| net(format!("cannot resolve {host}: {e}")))?
            .find(|a| a.is_ipv6() == bind.is_ipv6())
            .ok_or_else(|| net(format!("{host} has no address of the family of {bind}")))?;
        let a = exchange(tracker, target, bind, &host, &path, deadline, opts.timeout)?;
        match (a.status, a.location) {
            (200, _) => return Ok(a.body),
            (300..=399, Some(loc)) => {
                url = if loc.starts_with('/') {
                    format!("http://{host}:{port}{loc}")
                } else {
                    loc
                };
            }
            (status, _) => {
                if let Err(e @ Error::Failure { .. }) =
                    super::http::parse_announce(tracker, &a.body)
                {
                    return Err(e);
                }
                return Err(Error::Status {
                    tracker: tracker.to_string(),
                    status,
                });
            }
        }
    }
    Err(Error::TooManyRedirects {
        tracker: tracker.to_string(),
        limit: MAX_REDIRECTS,
    })
}

/// `http://host[:port]/path?query` -> (host, port, path and query).
fn split_url(url: &str) -> Option<(String, u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let rest = rest.split('#').next()?;
    let slash = rest.find(['/', '?']).unwrap_or(rest.len());
    let (hp, path) = rest.split_at(slash);
    let path = if path.starts_with('?') || path.is_empty() {
        format!("/{path}")
    } else {
        path.to_string()
    };
    let (host, port) = match hp.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && (!h.contains(':') || h.ends_with(']')) => {
            (h, p.parse().ok()?)
        }
        _ => (hp, 80),
    };
    (!host.is_empty()).then(|| (host.to_string(), port, path))
}

fn timed_out(tracker: &str, after: Duration) -> Error {
    Error::Timeout {
        tracker: tracker.to_string(),
        after,
        ignored: None,
    }
}

fn exchange(
    tracker: &str,
    target: SocketAddr,
    bind: IpAddr,
    host: &str,
    path: &str,
    deadline: Instant,
    timeout: Duration,
) -> Result<Answer, Error> {
    let net = |reason: String| Error::Network {
        tracker: tracker.to_string(),
        reason,
    };
    let left = || {
        let d = deadline.saturating_duration_since(Instant::now());
        (!d.is_zero()).then_some(d)
    };
    let mut s = crate::net::connect_from(
        bind,
        target,
        left().ok_or_else(|| timed_out(tracker, timeout))?,
    )
    .map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            timed_out(tracker, timeout)
        }
        _ => net(format!("connecting from {bind} to {target}: {e}")),
    })?;
    let req = format!(
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: bt/{}\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    s.set_write_timeout(left())
        .map_err(|e| net(e.to_string()))?;
    s.write_all(req.as_bytes())
        .map_err(|e| net(format!("sending the request: {e}")))?;
    let mut resp = Response::default();
    let mut chunk = vec![0u8; 65536];
    let cap = MAX_HEADER + MAX_RESPONSE + 1;
    loop {
        let Some(l) = left() else {
            return Err(timed_out(tracker, timeout));
        };
        s.set_read_timeout(Some(l))
            .map_err(|e| net(e.to_string()))?;
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                if let Some(a) = resp.push(&chunk[..n]) {
                    return a.map_err(|r| invalid(tracker, r));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(timed_out(tracker, timeout))
            }
            Err(e) => return Err(net(format!("reading the response: {e}"))),
        }
        if resp.buf.len() > cap {
            return Err(Error::TooLarge {
                tracker: tracker.to_string(),
            });
        }
    }
    resp.finish().map_err(|r| invalid(tracker, r))
}

fn invalid(tracker: &str, reason: String) -> Error {
    if reason == "too large" {
        return Error::TooLarge {
            tracker: tracker.to_string(),
        };
    }
    Error::Invalid {
        tracker: tracker.to_string(),
        reason,
    }
}

/// The response parser on its own, for the fuzz target and its regression replay: status,
/// `Location` and body of `buf` (`eof`: the stream has ended), or why it is not an answer yet.
#[doc(hidden)]
pub fn parse_response(buf: &[u8], eof: bool) -> Result<(u16, Option<String>, Vec<u8>), String> {
    parse(buf, eof).map(|a| (a.status, a.location, a.body))
}

/// The answer in `buf`, as read in one piece (`eof`: then the stream ended).
fn parse(buf: &[u8], eof: bool) -> Result<Answer, String> {
    let mut r = Response::default();
    match r.push(buf) {
        Some(a) => a,
        None if eof => r.finish(),
        None => Err("body not finished".into()),
    }
}

/// Longest chunk-size line (size, extensions) accepted.
const MAX_CHUNK_LINE: usize = 1024;

/// Head of an answer: status line and the headers that matter.
#[derive(Debug)]
struct Head {
    status: u16,
    location: Option<String>,
    length: Option<usize>,
    chunked: bool,
}

/// An answer read incrementally: every byte is looked at a bounded number of times however the
/// tracker splits its writes (re-parsing the whole answer after every read cost 4.3 s of CPU
/// for a 1.8 MB chunked body trickled over 5 s).
#[derive(Debug, Default)]
struct Response {
    buf: Vec<u8>,
    /// Where the search for the end of the header resumes.
    scanned: usize,
    head: Option<Head>,
    /// Start of the body in `buf`.
    body_at: usize,
    /// Chunked: the next chunk-size line in `buf`, and the body decoded so far.
    next_chunk: usize,
    body: Vec<u8>,
}

impl Response {
    /// Add bytes; `Some` once the answer is complete or certainly wrong.
    fn push(&mut self, data: &[u8]) -> Option<Result<Answer, String>> {
        self.buf.extend_from_slice(data);
        if self.head.is_none() {
            let from = self.scanned.saturating_sub(3);
            let Some(e) = self.buf[from..].windows(4).position(|w| w == b"\r\n\r\n") else {
                self.scanned = self.buf.len();
                return (self.buf.len() > MAX_HEADER + 4)
                    .then(|| Err("no complete http header".to_string()));
            };
            let end = from + e;
            if end > MAX_HEADER {
                return Some(Err("no complete http header".into()));
            }
            match head(&self.buf[..end]) {
                Ok(h) => self.head = Some(h),
                Err(e) => return Some(Err(e)),
            }
            self.body_at = end + 4;
            self.next_chunk = end + 4;
        }
        let head = self.head.as_ref()?;
        if head.chunked {
            return self.dechunk();
        }
        let n = head.length?;
        if n > MAX_RESPONSE {
            return Some(Err("too large".into()));
        }
        let body = self.buf.get(self.body_at..self.body_at + n)?.to_vec();
        Some(Ok(self.answer(body)))
    }

    /// Decode the chunks that are complete; `Some` after the last one.
    fn dechunk(&mut self) -> Option<Result<Answer, String>> {
        loop {
            let b = &self.buf[self.next_chunk..];
            let Some(eol) = b.iter().take(MAX_CHUNK_LINE).position(|&c| c == b'\n') else {
                return (b.len() >= MAX_CHUNK_LINE).then(|| Err("bad chunk size line".into()));
            };
            let size = std::str::from_utf8(&b[..eol])
                .ok()
                .and_then(|t| t.trim_end_matches('\r').split(';').next())
                .and_then(|t| usize::from_str_radix(t.trim(), 16).ok());
            let Some(size) = size else {
                return Some(Err("bad chunk size line".into()));
            };
            if size == 0 {
                let body = std::mem::take(&mut self.body);
                return Some(Ok(self.answer(body)));
            }
            if size > MAX_RESPONSE || self.body.len() + size > MAX_RESPONSE {
                return Some(Err("too large".into()));
            }
            let data = self.buf.get(self.next_chunk + eol + 1..)?.get(..size + 2)?;
            self.body.extend_from_slice(&data[..size]);
            self.next_chunk += eol + 1 + size + 2;
        }
    }

    fn answer(&self, body: Vec<u8>) -> Answer {
        let head = self.head.as_ref();
        Answer {
            status: head.map_or(0, |h| h.status),
            location: head.and_then(|h| h.location.clone()),
            body,
        }
    }

    /// The stream ended: the answer as it stands.
    fn finish(mut self) -> Result<Answer, String> {
        if let Some(a) = self.push(&[]) {
            return a;
        }
        match &self.head {
            None => Err("no complete http header".into()),
            Some(h) if h.chunked => Err("incomplete chunked body".into()),
            Some(h) if h.length.is_some() => Err("body shorter than content-length".into()),
            Some(_) => {
                let body = self.buf.split_off(self.body_at);
                if body.len() > MAX_RESPONSE {
                    return Err("too large".into());
                }
                Ok(self.answer(body))
            }
        }
    }
}

/// Status line and headers.
fn head(bytes: &[u8]) -> Result<Head, String> {
    let head = String::from_utf8_lossy(bytes);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .filter(|_| status_line.starts_with("HTTP/"))
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut h = Head {
        status,
        location: None,
        length: None,
        chunked: false,
    };
    for l in lines {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                h.length = Some(v.parse::<usize>().map_err(|_| "bad content-length")?)
            }
            "transfer-encoding" => h.chunked = v.eq_ignore_ascii_case("chunked"),
            "location" => h.location = Some(v.to_string()),
            _ => {}
        }
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split() {
        assert_eq!(
            split_url("http://t:81/a?b=1#f"),
            Some(("t".into(), 81, "/a?b=1".into()))
        );
        assert_eq!(
            split_url("http://t?x"),
            Some(("t".into(), 80, "/?x".into()))
        );
        assert_eq!(
            split_url("http://[::1]:7/announce"),
            Some(("[::1]".into(), 7, "/announce".into()))
        );
        assert_eq!(split_url("http://t:x/"), None);
        assert_eq!(split_url("https://t/"), None);
    }

    /// Issue 11 #6: a 1.8 MB chunked body trickled a few bytes per read is parsed in linear
    /// time (re-parsing after every read took minutes for this many reads).
    #[test]
    fn a_trickled_chunked_body_is_parsed_once() {
        let mut answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        let mut body: Vec<u8> = Vec::new();
        for k in 0..18_000u32 {
            let data = format!("{:0100}", k);
            answer.extend(format!("{:x};ext\r\n{data}\r\n", data.len()).as_bytes());
            body.extend_from_slice(data.as_bytes());
        }
        answer.extend(b"0\r\n\r\n");
        let start = std::time::Instant::now();
        let mut r = Response::default();
        let mut done = None;
        for piece in answer.chunks(7) {
            assert!(done.is_none(), "answered before the end");
            done = r.push(piece);
        }
        let a = done.expect("complete").unwrap();
        assert_eq!(a.body, body);
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        // Every split point of a small answer gives the same result.
        let small = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        for cut in 0..small.len() {
            let mut r = Response::default();
            // Complete once the last chunk's size line is there (trailers are not awaited).
            let a = r.push(&small[..cut]).or_else(|| r.push(&small[cut..]));
            assert_eq!(a.unwrap().unwrap().body, b"abc", "cut {cut}");
            assert_eq!(
                cut >= small.len() - 2,
                Response::default().push(&small[..cut]).is_some()
            );
        }
        // A chunk-size line that never ends, and a header that never ends, are refused.
        let mut r = Response::default();
        r.push(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert!(r.push(&[b'1'; 2000]).unwrap().is_err());
        let mut r = Response::default();
        assert!(r.push(&vec![b'x'; MAX_HEADER + 10]).unwrap().is_err());
    }

    #[test]
    fn answers_parse() {
        let a = parse(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabcdef", false).unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, &b"abc"[..]));
        assert!(parse(b"HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nab", false).is_err());
        let a = parse(b"HTTP/1.0 200 OK\r\n\r\nabc", true).unwrap();
        assert_eq!(a.body, b"abc");
        let a = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x\r\nde\r\n0\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(a.body, b"abcde");
        let a = parse(b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n", true).unwrap();
        assert_eq!((a.status, a.location.as_deref()), (302, Some("/x")));
        assert!(parse(b"SSH-2.0\r\n\r\n", true).is_err());
        assert!(parse(
            b"HTTP/1.0 200 OK\r\nContent-Length: 99999999\r\n\r\n",
            false
        )
        .is_err());
    }
}
