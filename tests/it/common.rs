//! Shared test harness: run the real binaries with a deadline, temp dirs, background
//! processes killed by PID when dropped, the torrent corpus.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use bt::record::{
    AnnounceRecord, PeerRecord, Record, ScrapeRecord, SummaryRecord, TorrentRecord, VerifyExtra,
    VerifyFile,
};

/// Path of one of our binaries. The first call sets `BT_NO_DHT=1` for every process this test
/// binary starts: only the DHT tests (which run in a network namespace and name loopback
/// bootstrap nodes) turn the DHT on, by removing it from their commands.
pub fn bin(name: &str) -> PathBuf {
    static NO_DHT: std::sync::Once = std::sync::Once::new();
    NO_DHT.call_once(|| std::env::set_var("BT_NO_DHT", "1"));
    let p = match name {
        "bt-info" => env!("CARGO_BIN_EXE_bt-info"),
        "bt-make" => env!("CARGO_BIN_EXE_bt-make"),
        "bt-verify" => env!("CARGO_BIN_EXE_bt-verify"),
        "bt-announce" => env!("CARGO_BIN_EXE_bt-announce"),
        "bt-fetch" => env!("CARGO_BIN_EXE_bt-fetch"),
        "bt-seed" => env!("CARGO_BIN_EXE_bt-seed"),
        "bt-ctl" => env!("CARGO_BIN_EXE_bt-ctl"),
        "bt-top" => env!("CARGO_BIN_EXE_bt-top"),
        other => panic!("unknown binary {other}"),
    };
    PathBuf::from(p)
}

/// The torrent corpus directory, inside the repository (`tests/corpus/torrents`).
pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/torrents")
}

/// A fresh temporary directory, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("bt-test-")
        .tempdir()
        .unwrap()
}

/// The records of one variant of [`Record`] in a run's stdout.
macro_rules! pick {
    ($run:expr, $variant:ident) => {
        $run.typed()
            .into_iter()
            .filter_map(|r| match r {
                Record::$variant(x) => Some(x),
                _ => None,
            })
            .collect()
    };
}

/// The result of a finished command.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    /// stdout parsed as JSON Lines.
    pub fn records(&self) -> Vec<serde_json::Value> {
        self.stdout_str()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
            .collect()
    }
    /// stdout parsed as one JSON value.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout_str()))
    }
    /// Records of one type.
    pub fn of_type(&self, t: &str) -> Vec<serde_json::Value> {
        self.records()
            .into_iter()
            .filter(|r| r["type"] == t)
            .collect()
    }
    /// stdout read into the library's typed records (see [`records`]).
    pub fn typed(&self) -> Vec<Record> {
        records(&self.stdout)
    }
    /// The one `torrent` record on stdout.
    pub fn torrent(&self) -> TorrentRecord {
        let all = self.typed();
        match &all[..] {
            [Record::Torrent(t)] => t.clone(),
            _ => panic!("want one torrent record, got {all:?}"),
        }
    }
    /// The `file` records.
    pub fn files(&self) -> Vec<VerifyFile> {
        pick!(self, File)
    }
    /// The `extra` records.
    pub fn extras(&self) -> Vec<VerifyExtra> {
        pick!(self, Extra)
    }
    /// The `peer` records.
    pub fn peers(&self) -> Vec<PeerRecord> {
        pick!(self, Peer)
    }
    /// The `announce` records.
    pub fn announces(&self) -> Vec<AnnounceRecord> {
        pick!(self, Announce)
    }
    /// The `scrape` records.
    pub fn scrapes(&self) -> Vec<ScrapeRecord> {
        pick!(self, Scrape)
    }
    /// The `summary` record, which must be the last line.
    pub fn summary(&self) -> SummaryRecord {
        match self.typed().pop() {
            Some(Record::Summary(s)) => s,
            other => panic!(
                "last record is not a summary: {other:?}\n{}",
                self.stdout_str()
            ),
        }
    }
}

/// JSON Lines read into the library's typed records. Each line must be a known record type
/// carrying exactly the fields its type documents (none missing, none extra): the format's
/// "every field always present" promise, checked on every record a test reads.
pub fn records(stdout: &[u8]) -> Vec<Record> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let raw: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}"));
            let rec: Record = serde_json::from_value(raw.clone())
                .unwrap_or_else(|e| panic!("line {l:?} is not a record: {e}"));
            assert!(rec != Record::Unknown, "unknown record type: {l}");
            let back = serde_json::to_value(&rec).unwrap();
            let keys = |v: &serde_json::Value| -> Vec<String> {
                let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
                k.sort();
                k
            };
            assert_eq!(keys(&raw), keys(&back), "fields of {l}");
            rec
        })
        .collect()
}

/// Run a command to completion with a deadline; kill it and panic if the deadline passes.
pub fn run_cmd(cmd: &mut Command, stdin: Option<&[u8]>, deadline: Duration) -> Run {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    if let Some(input) = stdin {
        let mut w = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = w.write_all(&input);
        });
    }
    let out = wait_deadline(child, deadline, &format!("{cmd:?}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn wait_deadline(mut child: Child, deadline: Duration, what: &str) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    std::thread::spawn(move || {
        let mut o = Vec::new();
        let mut e = Vec::new();
        let h = std::thread::spawn(move || {
            let mut e2 = Vec::new();
            if let Some(mut s) = stderr {
                let _ = std::io::Read::read_to_end(&mut s, &mut e2);
            }
            e2
        });
        if let Some(mut s) = stdout {
            let _ = std::io::Read::read_to_end(&mut s, &mut o);
        }
        e = h.join().unwrap_or(e);
        let _ = tx.send((o, e));
    });
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let (stdout, stderr) = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
            return Output {
                status,
                stdout,
                stderr,
            };
        }
        if start.elapsed() > deadline {
            unsafe { libc_kill(pid as i32, 9) };
            let _ = child.wait();
            panic!("{what} did not finish within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// Send a signal to a PID.
pub fn signal(pid: u32, sig: i32) {
    unsafe {
        libc_kill(pid as i32, sig);
    }
}

/// Run one of our binaries with a 60 s deadline.
pub fn bt(name: &str, args: &[&str]) -> Run {
    run_cmd(
        Command::new(bin(name)).args(args),
        None,
        Duration::from_secs(60),
    )
}

/// Run one of our binaries in a directory with stdin bytes.
pub fn bt_in(name: &str, dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    run_cmd(
        Command::new(bin(name)).args(args).current_dir(dir),
        stdin,
        Duration::from_secs(60),
    )
}

/// A background process, killed (SIGKILL, by PID) and reaped when dropped.
pub struct Bg {
    pub child: Child,
    pub name: String,
}

impl Bg {
    pub fn spawn(cmd: &mut Command, name: &str) -> Bg {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e} (is it installed? see README)"));
        Bg {
            child,
            name: name.to_string(),
        }
    }
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    /// Wait for exit with a deadline; None if still running.
    pub fn wait_timeout(&mut self, d: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < d {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            signal(self.child.id(), 9);
        }
        let _ = self.child.wait();
    }
}

/// Whether a program is on PATH.
pub fn have(prog: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Deterministic pseudo-random bytes (xorshift), for sample data.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Write files (relative path, length) of deterministic content under `root`.
pub fn write_tree(root: &Path, files: &[(&str, usize)]) {
    for (i, (p, len)) in files.iter().enumerate() {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, data(*len, i as u64 + 1)).unwrap();
    }
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// opentracker on 127.0.0.1, HTTP and UDP on one port, whitelisting the given info hashes
/// (lowercase hex). Killed by PID when dropped.
pub struct Opentracker {
    _proc: Bg,
    _dir: tempfile::TempDir,
    /// The port it serves HTTP and UDP on.
    pub port: u16,
}

impl Opentracker {
    /// Start on a free port and wait until it accepts announces for every hash.
    pub fn start(hashes: &[String]) -> Opentracker {
        Self::start_on(hashes, free_port())
    }

    /// Start on `port` and wait until it accepts announces for every hash.
    pub fn start_on(hashes: &[String], port: u16) -> Opentracker {
        use std::io::Read;
        use std::net::TcpStream;
        use std::os::unix::fs::PermissionsExt;
        assert!(
            have("opentracker"),
            "opentracker is not installed (run ./scripts/test, see README)"
        );
        // It drops privileges to `nobody` and changes to `/`: the whitelist must be an
        // absolute path that `nobody` can read.
        let dir = tempdir();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let wl = dir.path().join("whitelist");
        std::fs::write(&wl, hashes.join("\n") + "\n").unwrap();
        std::fs::set_permissions(&wl, std::fs::Permissions::from_mode(0o644)).unwrap();
        let p = port.to_string();
        let proc = Bg::spawn(
            Command::new("opentracker")
                .args(["-i", "127.0.0.1", "-p", &p, "-P", &p, "-w"])
                .arg(&wl)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "opentracker",
        );
        // It listens before it has read the whitelist, and it answers a `stopped` announce
        // even for a hash it does not know: wait until a `started` announce of each hash is
        // accepted, then take that probe peer out again with `stopped`.
        let start = Instant::now();
        let ask = |hash: &str, event: &str| -> String {
            let ih: String = (0..hash.len())
                .step_by(2)
                .map(|i| format!("%{}", &hash[i..i + 2]))
                .collect();
            let req = format!(
                "GET /announce?info_hash={ih}&peer_id=-BT0100-readyreadyre&port=1&uploaded=0\
                 &downloaded=0&left=1&event={event}&compact=1 HTTP/1.0\r\n\r\n"
            );
            let mut answer = Vec::new();
            if let Ok(mut s) =
                TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2))
            {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
                let _ = s.write_all(req.as_bytes());
                let _ = s.read_to_end(&mut answer);
            }
            String::from_utf8_lossy(&answer).into_owned()
        };
        for h in hashes {
            loop {
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "opentracker on port {port} did not accept announces"
                );
                let text = ask(h, "started");
                if text.contains("5:peers") && !text.contains("failure reason") {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let text = ask(h, "stopped");
            assert!(!text.contains("failure reason"), "opentracker: {text}");
        }
        Opentracker {
            _proc: proc,
            _dir: dir,
            port,
        }
    }

    /// The HTTP announce URL.
    pub fn http(&self) -> String {
        format!("http://127.0.0.1:{}/announce", self.port)
    }

    /// The UDP announce URL.
    pub fn udp(&self) -> String {
        format!("udp://127.0.0.1:{}", self.port)
    }
}

/// Run a shell command line on a pseudo-terminal (`script` from bsdutils), so that stdout and
/// stderr are terminals; `env` is added to the environment (`TERM` defaults to `xterm`). Returns
/// the exit code and what the terminal showed (`\r\n` turned into `\n`).
pub fn on_terminal(command: &str, env: &[(&str, &str)]) -> (i32, String) {
    assert!(
        have("script"),
        "script (bsdutils) is not installed (run ./scripts/test)"
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", command, "/dev/null"])
        .env("TERM", "xterm");
    cmd.env_remove("NO_COLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = run_cmd(&mut cmd, None, Duration::from_secs(60));
    (r.code, r.stdout_str().replace("\r\n", "\n"))
}
