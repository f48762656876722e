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
    let mut buf = Vec::new();
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
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
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
        if let Some(a) = complete(&buf) {
            return a.map_err(|r| invalid(tracker, r));
        }
        if buf.len() > cap {
            return Err(Error::TooLarge {
                tracker: tracker.to_string(),
            });
        }
    }
    match complete(&buf) {
        Some(a) => a.map_err(|r| invalid(tracker, r)),
        None => parse(&buf, true).map_err(|r| invalid(tracker, r)),
    }
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

/// A finished answer if `Content-Length` says the body is all here.
fn complete(buf: &[u8]) -> Option<Result<Answer, String>> {
    parse(buf, false).ok().map(Ok)
}

/// Parse status line, headers and body; `eof`: the stream has ended.
fn parse(buf: &[u8], eof: bool) -> Result<Answer, String> {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .filter(|&e| e <= MAX_HEADER)
        .ok_or_else(|| "no complete http header".to_string())?;
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .filter(|_| status_line.starts_with("HTTP/"))
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut length = None;
    let mut chunked = false;
    let mut location = None;
    for l in lines {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                length = Some(v.parse::<usize>().map_err(|_| "bad content-length")?)
            }
            "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
            "location" => location = Some(v.to_string()),
            _ => {}
        }
    }
    let body = &buf[end + 4..];
    let body = if chunked {
        dechunk(body).ok_or("incomplete chunked body")?
    } else if let Some(n) = length {
        if n > MAX_RESPONSE {
            return Err("too large".into());
        }
        body.get(..n)
            .ok_or("body shorter than content-length")?
            .to_vec()
    } else if eof {
        body.to_vec()
    } else {
        return Err("body not finished".into());
    };
    if body.len() > MAX_RESPONSE {
        return Err("too large".into());
    }
    Ok(Answer {
        status,
        location,
        body,
    })
}

/// Decode a complete chunked body; `None` until the last chunk is there.
fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&b[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        if size > MAX_RESPONSE || b.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
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
