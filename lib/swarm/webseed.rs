//! Web seeds (BEP 19): HTTP(S) mirrors of the torrent's content, a piece source beside peers.
//!
//! A mirror takes a key in the swarm as a connection does and talks to the same picker: it has
//! every piece (the picker counts it as a seed), it is handed as many blocks as a piece holds
//! (a new piece, or open blocks of started pieces, or endgame duplicates, as for a peer), and it
//! fetches each run of consecutive blocks with ranged GETs, one per file the run touches, at the
//! file's URL as BEP 19 builds it (pad files are zeros and never asked for). Every block goes
//! through `Swarm::deliver`, the path of a peer's blocks, so verifying, blame and bans are
//! shared: a mirror whose data fails two pieces it sent alone is banned.
//!
//! [`WORKERS`] requests per mirror are in flight at once and each waits for its answer, so a slow
//! mirror is handed fewer pieces. A failed request (an HTTP error, a refused connection, a timeout,
//! a short body, a server that ignores `Range`) is reported with its reason, its blocks go back
//! to the picker, the piece is left to other sources for a while, and the mirror waits (doubling
//! from [`BACKOFF`]); after [`MAX_FAILURES`] failures in a row it is given up.
//!
//! Invariants: every block a worker was handed is delivered or released before the worker asks
//! for more; the mirror leaves the picker when its last worker ends; no response is read past the
//! bytes asked for; every request has connect and read timeouts and every loop checks the stop
//! flag.

use super::picker::{PeerKey, PeerPieces, Pieces};
use super::{Event, Swarm};
use crate::geometry::Geometry;
use crate::metainfo::{percent_encode, Torrent};
use crate::peer::Block;
use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Requests in flight at once per mirror.
pub const WORKERS: usize = 2;
/// Failures in a row after which a mirror is given up.
pub const MAX_FAILURES: u32 = 5;
/// The first wait after a failure (doubled for each failure in a row).
pub const BACKOFF: Duration = Duration::from_millis(500);
/// Redirects followed per request.
pub const MAX_REDIRECTS: u32 = 5;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(15);
/// Pieces a mirror must have sent that passed their hash before it is trusted: until then (and
/// again after a bad piece) each worker waits for the verdict on its piece before it asks for the
/// next, so a mirror that sends bad data sends at most [`WORKERS`] bad pieces before each strike.
pub const TRUST_AFTER: u32 = 4;
/// Longest wait for a verdict.
const VERDICT_WAIT: Duration = Duration::from_secs(10);
/// How long a mirror waits with nothing to do before it retries pieces that failed on it.
const RETRY_FAILED_AFTER: Duration = Duration::from_secs(5);

/// What happened with a web seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebSeedEvent {
    /// Its workers started.
    Started,
    /// It answered with a redirect (reported once per mirror).
    Redirected {
        /// Where to.
        to: String,
    },
    /// A request failed.
    Error {
        /// Why, naming the URL.
        reason: String,
        /// The HTTP status, when the server answered with one.
        status: Option<u16>,
    },
    /// It sent data that failed two pieces it sent alone: dropped for the rest of the run.
    Banned,
    /// Its workers ended.
    Stopped {
        /// Why.
        reason: String,
        /// Bytes received from it.
        downloaded: u64,
    },
}

/// A URL that cannot be a web seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError {
    /// The URL.
    pub url: String,
    /// Why not.
    pub reason: String,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "web seed {:?}: {}", self.url, self.reason)
    }
}

impl std::error::Error for UrlError {}

/// Check that `url` can be a web seed: an absolute `http` or `https` URL with a host.
pub fn check_url(url: &str) -> Result<(), UrlError> {
    let err = |reason: String| UrlError {
        url: url.to_string(),
        reason,
    };
    let u = url::Url::parse(url).map_err(|e| err(e.to_string()))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(err(format!("scheme {:?} is not http or https", u.scheme())));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(err("no host".to_string()));
    }
    Ok(())
}

/// One mirror of a torrent: its URL and the URL of each file under it.
#[derive(Debug, Clone)]
pub struct WebSeed {
    url: String,
    /// The URL of each file, None for pad files (zeros, never fetched).
    files: Vec<Option<String>>,
    geo: Geometry,
}

impl WebSeed {
    /// The mirror `url` of `t`. BEP 19: for a single-file torrent a URL ending in `/` names a
    /// directory holding the file `<name>`, any other URL the file itself; for a multi-file
    /// torrent the URL names a directory holding `<name>/<path>`. Names and path components are
    /// percent-encoded byte by byte.
    pub fn new(t: &Torrent, url: &str) -> Result<WebSeed, UrlError> {
        check_url(url)?;
        let files = t
            .files
            .iter()
            .map(|f| {
                if f.pad {
                    return None;
                }
                if t.single_file {
                    return Some(if url.ends_with('/') {
                        format!("{url}{}", percent_encode(&t.name))
                    } else {
                        url.to_string()
                    });
                }
                let mut u = url.to_string();
                if !u.ends_with('/') {
                    u.push('/');
                }
                u.push_str(&percent_encode(&t.name));
                for c in &f.path {
                    u.push('/');
                    u.push_str(&percent_encode(c));
                }
                Some(u)
            })
            .collect();
        Ok(WebSeed {
            url: url.to_string(),
            files,
            geo: Geometry::new(t),
        })
    }

    /// The mirror's URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of file `i` of the torrent (None for a pad file).
    pub fn file_url(&self, i: usize) -> Option<&str> {
        self.files.get(i)?.as_deref()
    }

    /// The requests that fetch the stream range `start..start + len`: (file URL, offset in the
    /// file, length), or (None, 0, length) for pad bytes.
    pub fn requests(&self, start: u64, len: u64) -> Vec<(Option<&str>, u64, u64)> {
        self.geo
            .segments(start, len)
            .map(|s| match self.file_url(s.file) {
                Some(u) if !s.pad => (Some(u), s.file_offset, s.len),
                _ => (None, 0, s.len),
            })
            .collect()
    }
}

/// A mirror at work, as the swarm's state holds it.
pub(super) struct Mirror {
    ws: WebSeed,
    key: PeerKey,
    pieces: PeerPieces,
    agent: ureq::Agent,
    strikes: AtomicU32,
    /// Pieces it sent that passed their hash (counted while on probation).
    good: AtomicU32,
    banned: AtomicBool,
    gave_up: AtomicBool,
    failures: AtomicU32,
    downloaded: AtomicU64,
    workers: AtomicUsize,
    redirected: AtomicBool,
    /// Pieces that failed on this mirror: left to other sources for a while.
    failed: Mutex<HashSet<u32>>,
}

impl Mirror {
    /// The mirror's URL as given.
    pub(super) fn url(&self) -> &str {
        self.ws.url()
    }

    /// A piece it sent alone failed its hash: true when that makes it banned (the second time).
    pub(super) fn strike(&self) -> bool {
        self.strikes.fetch_add(1, Ordering::Relaxed) + 1 >= 2
            && !self.banned.swap(true, Ordering::Relaxed)
    }

    /// Whether its workers wait for the verdict on each piece: until it is trusted, and after
    /// a bad piece.
    fn on_probation(&self) -> bool {
        self.good.load(Ordering::Relaxed) < TRUST_AFTER || self.strikes.load(Ordering::Relaxed) > 0
    }

    /// Wait (bounded) until the pieces of `blocks` have their verdicts; count the good ones.
    fn await_verdicts(&self, s: &Swarm, blocks: &[Block]) {
        let until = Instant::now() + VERDICT_WAIT;
        let mut pieces: Vec<u32> = blocks.iter().map(|b| b.piece).collect();
        pieces.dedup();
        for p in pieces {
            loop {
                let (hashing, have) = {
                    let st = s.lock();
                    (st.picker.hashing(p), st.picker.have(p))
                };
                if !hashing || s.stopped() || Instant::now() >= until {
                    if have {
                        self.good.fetch_add(1, Ordering::Relaxed);
                    }
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }

    fn failed(&self) -> std::sync::MutexGuard<'_, HashSet<u32>> {
        self.failed.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Every piece but the ones that failed on the mirror.
struct Except<'a>(&'a HashSet<u32>);

impl Pieces for Except<'_> {
    fn has(&self, i: u32) -> bool {
        !self.0.contains(&i)
    }
}

/// Start fetching from `ws` into the swarm (its workers end when the swarm stops or completes,
/// or when the mirror is banned or given up).
pub fn start(s: &Arc<Swarm>, ws: WebSeed) {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(CONNECT_TIMEOUT)
        .timeout_read(READ_TIMEOUT)
        .timeout_write(READ_TIMEOUT)
        .redirects(MAX_REDIRECTS)
        .max_idle_connections_per_host(WORKERS)
        .user_agent(concat!("bt/", env!("CARGO_PKG_VERSION")))
        .build();
    let m = {
        let mut st = s.lock();
        let key = st.next_key;
        st.next_key += 1;
        let mut pieces = PeerPieces::new(s.limits().piece_count);
        st.picker.peer_have_all(&mut pieces);
        let m = Arc::new(Mirror {
            ws,
            key,
            pieces,
            agent,
            strikes: AtomicU32::new(0),
            good: AtomicU32::new(0),
            banned: AtomicBool::new(false),
            gave_up: AtomicBool::new(false),
            failures: AtomicU32::new(0),
            downloaded: AtomicU64::new(0),
            workers: AtomicUsize::new(WORKERS),
            redirected: AtomicBool::new(false),
            failed: Mutex::new(HashSet::new()),
        });
        st.mirrors.insert(key, m.clone());
        m
    };
    s.source_opened();
    s.emit(Event::WebSeed {
        url: m.url().to_string(),
        event: WebSeedEvent::Started,
    });
    for _ in 0..WORKERS {
        let (s, m) = (s.clone(), m.clone());
        super::spawn("bt-webseed", move || {
            let reason = work(&s, &m);
            if m.workers.fetch_sub(1, Ordering::Relaxed) == 1 {
                finish(&s, &m, reason);
            }
        });
    }
}

/// The last worker of `m` ended: take the mirror out of the swarm.
fn finish(s: &Swarm, m: &Mirror, reason: String) {
    {
        let mut st = s.lock();
        let mut pieces = m.pieces.clone();
        st.picker.peer_have_none(&mut pieces);
        st.picker.peer_gone(m.key);
        st.mirrors.remove(&m.key);
    }
    s.emit(Event::WebSeed {
        url: m.url().to_string(),
        event: WebSeedEvent::Stopped {
            reason,
            downloaded: m.downloaded.load(Ordering::Relaxed),
        },
    });
    s.source_closed();
}

/// One worker: pick, fetch, deliver, until there is nothing left to do; why it ended.
fn work(s: &Arc<Swarm>, m: &Mirror) -> String {
    let per_piece = (s.limits().piece_length as usize).div_ceil(crate::geometry::BLOCK as usize);
    let mut idle_since: Option<Instant> = None;
    loop {
        if s.stopped() {
            return if s.complete() { "complete" } else { "stopped" }.into();
        }
        if m.banned.load(Ordering::Relaxed) {
            return "banned: it sent bad data twice".into();
        }
        if m.gave_up.load(Ordering::Relaxed) {
            return format!("given up after {MAX_FAILURES} failures in a row");
        }
        let mut blocks = Vec::new();
        {
            let mut st = s.lock();
            if st.picker.complete() {
                return "complete".into();
            }
            let failed = m.failed();
            if failed.is_empty() {
                st.picker.pick(m.key, &m.pieces, per_piece, &mut blocks);
            } else {
                st.picker
                    .pick(m.key, &Except(&failed), per_piece, &mut blocks);
            }
        }
        if blocks.is_empty() {
            // Nothing to do now: other sources hold every wanted block. Pieces that failed
            // here are tried again once nobody else took them for a while.
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= RETRY_FAILED_AFTER {
                m.failed().clear();
                idle_since = None;
            }
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        idle_since = None;
        blocks.sort_by_key(|b| (b.piece, b.offset));
        let mut failure = None;
        for run in runs(&blocks) {
            if let Err(f) = fetch_run(s, m, run) {
                failure = Some((run[0].piece, f));
                break;
            }
        }
        let Some((piece, f)) = failure else {
            m.failures.store(0, Ordering::Relaxed);
            if m.on_probation() {
                m.await_verdicts(s, &blocks);
            }
            continue;
        };
        // Blocks not delivered go back to the picker (delivered ones are no longer requested).
        {
            let mut st = s.lock();
            for b in &blocks {
                st.picker.release(m.key, b);
            }
        }
        let (reason, status) = match f {
            Failure::Http { reason, status } => (reason, status),
            // The checks at the top of the loop say why.
            Failure::Stopped => continue,
            Failure::Storage(e) => return e,
        };
        m.failed().insert(piece);
        s.emit(Event::WebSeed {
            url: m.url().to_string(),
            event: WebSeedEvent::Error { reason, status },
        });
        let n = m.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= MAX_FAILURES {
            m.gave_up.store(true, Ordering::Relaxed);
            continue;
        }
        let until = Instant::now() + BACKOFF * (1 << (n - 1).min(6));
        while Instant::now() < until && !s.stopped() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Runs of consecutive blocks of one piece (`blocks` sorted).
fn runs(blocks: &[Block]) -> impl Iterator<Item = &[Block]> {
    blocks.chunk_by(|a, b| a.piece == b.piece && a.offset + a.length == b.offset)
}

/// Why a run was not fetched.
enum Failure {
    /// The request failed (reason naming the URL; HTTP status when there was one).
    Http { reason: String, status: Option<u16> },
    /// The swarm is stopping, or the mirror was banned.
    Stopped,
    /// Writing failed (the swarm is failing).
    Storage(String),
}

fn http(reason: String) -> Failure {
    Failure::Http {
        reason,
        status: None,
    }
}

/// The blocks of one run, filled in order and delivered one by one as they fill.
struct Filler<'a> {
    blocks: &'a [Block],
    next: usize,
    buf: Vec<u8>,
}

impl Filler<'_> {
    /// Room left in the current block.
    fn room(&self) -> usize {
        self.blocks
            .get(self.next)
            .map_or(0, |b| b.length as usize - self.buf.len())
    }

    /// Deliver the current block if it is full; false once no block of the run is still
    /// wanted from this mirror (another source won them in endgame).
    fn flush(&mut self, s: &Arc<Swarm>, m: &Mirror) -> Result<bool, Failure> {
        if self.room() > 0 || self.next >= self.blocks.len() {
            return Ok(true);
        }
        let b = self.blocks[self.next];
        s.deliver(m.key, None, &b, &self.buf)
            .map_err(Failure::Storage)?;
        self.buf.clear();
        self.next += 1;
        let st = s.lock();
        Ok(self.blocks[self.next..]
            .iter()
            .any(|b| st.picker.requested_by(m.key, b)))
    }
}

/// Fetch one run of consecutive blocks of a piece and deliver them.
fn fetch_run(s: &Arc<Swarm>, m: &Mirror, blocks: &[Block]) -> Result<(), Failure> {
    let first = blocks[0];
    let start = first.piece as u64 * s.limits().piece_length + first.offset as u64;
    let len: u64 = blocks.iter().map(|b| b.length as u64).sum();
    let mut fill = Filler {
        blocks,
        next: 0,
        buf: Vec::with_capacity(crate::geometry::BLOCK as usize),
    };
    let limit = s.download_limit();
    for (url, offset, n) in m.ws.requests(start, len) {
        let mut body: Box<dyn Read> = match url {
            Some(url) => get(s, m, url, offset, n)?,
            None => Box::new(std::io::repeat(0).take(n)),
        };
        let mut left = n;
        while left > 0 {
            if s.stopped() || m.banned.load(Ordering::Relaxed) {
                return Err(Failure::Stopped);
            }
            let want = (left as usize).min(fill.room()).min(limit.chunk());
            let at = fill.buf.len();
            fill.buf.resize(at + want, 0);
            let got = match body.read(&mut fill.buf[at..]) {
                Ok(0) => {
                    return Err(http(format!(
                        "{}: the body ended {left} bytes short",
                        url.unwrap_or("?")
                    )))
                }
                Ok(k) => k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => 0,
                Err(e) => {
                    return Err(http(format!(
                        "{}: reading the body: {e}",
                        url.unwrap_or("?")
                    )))
                }
            };
            fill.buf.truncate(at + got);
            left -= got as u64;
            if url.is_some() {
                limit.take(got as u64);
                m.downloaded.fetch_add(got as u64, Ordering::Relaxed);
            }
            if !fill.flush(s, m)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// GET `len` bytes at `offset` of `url`: the body, read no further than that.
fn get(s: &Swarm, m: &Mirror, url: &str, offset: u64, len: u64) -> Result<Box<dyn Read>, Failure> {
    let last = offset + len - 1;
    let resp = match m
        .agent
        .get(url)
        .set("Range", &format!("bytes={offset}-{last}"))
        .call()
    {
        Ok(r) => r,
        Err(ureq::Error::Status(status, r)) => {
            return Err(Failure::Http {
                reason: format!("{url}: HTTP {status} {}", r.status_text()),
                status: Some(status),
            })
        }
        Err(ureq::Error::Transport(t)) => return Err(http(transport(url, &t))),
    };
    if resp.get_url() != url && !m.redirected.swap(true, Ordering::Relaxed) {
        // Reported once per mirror; every later request follows its own redirects.
        s.emit(Event::WebSeed {
            url: m.url().to_string(),
            event: WebSeedEvent::Redirected {
                to: resp.get_url().to_string(),
            },
        });
    }
    let status = resp.status();
    let ok = match status {
        206 => resp.header("content-range").is_none_or(|cr| {
            cr.trim()
                .strip_prefix("bytes ")
                .and_then(|r| r.split('/').next())
                == Some(&format!("{offset}-{last}"))
        }),
        // A server that ignores Range sends the whole file: usable only from its start.
        200 => offset == 0,
        _ => false,
    };
    if !ok {
        let what = match status {
            200 => "ignored the Range header".to_string(),
            206 => format!(
                "sent Content-Range {:?} for bytes={offset}-{last}",
                resp.header("content-range").unwrap_or("")
            ),
            s => format!("answered HTTP {s} to a ranged GET"),
        };
        return Err(Failure::Http {
            reason: format!("{url}: {what}"),
            status: Some(status),
        });
    }
    Ok(Box::new(resp.into_reader().take(len)))
}

/// A transport error of ureq as one line naming the URL.
fn transport(url: &str, t: &ureq::Transport) -> String {
    let what = match t.kind() {
        ureq::ErrorKind::TooManyRedirects => format!("more than {MAX_REDIRECTS} redirects"),
        ureq::ErrorKind::ConnectionFailed => "cannot connect".to_string(),
        ureq::ErrorKind::Dns => "cannot resolve the host".to_string(),
        k => k.to_string().to_lowercase(),
    };
    let detail = std::error::Error::source(t)
        .map(|e| e.to_string())
        .or_else(|| t.message().map(str::to_string));
    match detail {
        Some(d) => format!("{url}: {what}: {d}"),
        None => format!("{url}: {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metainfo::FileEntry;

    fn torrent(name: &str, files: &[(&[&str], u64, bool)], single: bool) -> Torrent {
        let mut at = 0;
        let files = files
            .iter()
            .map(|(path, length, pad)| {
                let f = FileEntry {
                    path: path.iter().map(|c| c.as_bytes().to_vec()).collect(),
                    length: *length,
                    offset: at,
                    pad: *pad,
                    ..FileEntry::default()
                };
                at += length;
                f
            })
            .collect();
        Torrent {
            name: name.as_bytes().to_vec(),
            piece_length: 16384,
            files,
            single_file: single,
            total_length: at,
            ..Torrent::default()
        }
    }

    #[test]
    fn single_file_urls_follow_bep_19() {
        let t = torrent("a b.iso", &[(&["a b.iso"], 100, false)], true);
        let dir = WebSeed::new(&t, "http://m.example/pub/").unwrap();
        assert_eq!(dir.file_url(0), Some("http://m.example/pub/a%20b.iso"));
        let file = WebSeed::new(&t, "https://m.example/x/renamed.iso").unwrap();
        assert_eq!(file.file_url(0), Some("https://m.example/x/renamed.iso"));
    }

    #[test]
    fn multi_file_urls_name_the_torrent_and_the_path() {
        let t = torrent(
            "data",
            &[
                (&["a.bin"], 20000, false),
                (&[".pad", "12768"], 12768, true),
                (&["sub dir", "b#1.bin"], 5000, false),
            ],
            false,
        );
        for base in ["http://h:8080/m", "http://h:8080/m/"] {
            let w = WebSeed::new(&t, base).unwrap();
            assert_eq!(w.file_url(0), Some("http://h:8080/m/data/a.bin"));
            assert_eq!(w.file_url(1), None, "pad files are never fetched");
            assert_eq!(
                w.file_url(2),
                Some("http://h:8080/m/data/sub%20dir/b%231.bin")
            );
        }
        // Piece 1 (16384..32768) spans the end of a.bin and part of the pad; piece 2 the rest
        // of the pad and b.
        let w = WebSeed::new(&t, "http://h/").unwrap();
        assert_eq!(
            w.requests(16384, 16384),
            vec![(Some("http://h/data/a.bin"), 16384, 3616), (None, 0, 12768)]
        );
        assert_eq!(
            w.requests(32768, 5000),
            vec![(Some("http://h/data/sub%20dir/b%231.bin"), 0, 5000)]
        );
    }

    #[test]
    fn only_http_and_https_urls() {
        let t = torrent("a", &[(&["a"], 1, false)], true);
        for bad in [
            "ftp://h/a",
            "/relative",
            "http://",
            "file:///etc/passwd",
            "nonsense",
        ] {
            let e = WebSeed::new(&t, bad).unwrap_err();
            assert_eq!(e.url, bad);
            assert!(e.to_string().contains(bad), "{e}");
        }
        assert!(check_url("https://[::1]:8443/x/").is_ok());
    }

    #[test]
    fn runs_split_at_gaps_and_pieces() {
        let b = |piece, offset, length| Block {
            piece,
            offset,
            length,
        };
        let blocks = [
            b(0, 0, 16384),
            b(0, 16384, 16384),
            b(0, 65536, 16384),
            b(1, 0, 100),
        ];
        let r: Vec<usize> = runs(&blocks).map(|r| r.len()).collect();
        assert_eq!(r, vec![2, 1, 1]);
    }
}
