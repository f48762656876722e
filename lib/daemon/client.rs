//! The client side of the control socket, for `bt-ctl` and `bt-top`: where the socket is by
//! default, sending a command, reading the answer's records (up to the `ok` or `error` that
//! ends it). Reads are bounded in length and time.

use super::Command;
use crate::record::Record;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the daemon is: its Unix socket, or a TCP address with the file of its token.
#[derive(Debug, Clone)]
pub enum Target {
    /// The control socket.
    Socket(PathBuf),
    /// `--control-tcp` address and the token file.
    Tcp(SocketAddr, PathBuf),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Socket(p) => write!(f, "{}", p.display()),
            Target::Tcp(a, _) => write!(f, "{a}"),
        }
    }
}

impl Target {
    /// The target of `--connect ADDR --token-file FILE` when given, else of `--control SOCKET`
    /// (else the default socket).
    pub fn choose(
        socket: Option<PathBuf>,
        connect: Option<SocketAddr>,
        token: Option<PathBuf>,
    ) -> Result<Target, String> {
        match (connect, token) {
            (Some(a), Some(t)) => Ok(Target::Tcp(a, t)),
            (Some(_), None) => Err("--connect needs --token-file".into()),
            (None, Some(_)) => Err("--token-file goes with --connect".into()),
            (None, None) => Ok(Target::Socket(socket.unwrap_or_else(default_socket))),
        }
    }

    /// Connect; `timeout` bounds each read of an answer (`None`: wait, as `watch` does). Over
    /// TCP the token is sent first.
    pub fn connect(&self, timeout: Option<Duration>) -> std::io::Result<Client> {
        match self {
            Target::Socket(p) => Client::connect(p, timeout),
            Target::Tcp(addr, token) => {
                let token = read_token_file(token)?;
                let s = TcpStream::connect_timeout(addr, Duration::from_secs(10))?;
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(Some(Duration::from_secs(10)))?;
                let mut c = Client {
                    out: Box::new(s.try_clone()?),
                    input: BufReader::new(Box::new(s)),
                };
                let line = serde_json::json!({ "token": token }).to_string();
                c.send_line(&line)?;
                Ok(c)
            }
        }
    }
}

/// The token in `path` (white space around it dropped), at most 4 KiB read.
fn read_token_file(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_string(&mut text))
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    Ok(text.trim().to_string())
}

/// Longest answer line read (a `status` with every file of a large torrent fits).
const MAX_LINE: u64 = 64 << 20;

/// The default control socket: `$XDG_RUNTIME_DIR/bt-seed.sock`, else `/tmp/bt-<uid>/bt-seed.sock`.
pub fn default_socket() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => Path::new(&dir).join("bt-seed.sock"),
        // SAFETY: geteuid cannot fail.
        None => PathBuf::from(format!("/tmp/bt-{}/bt-seed.sock", unsafe {
            libc::geteuid()
        })),
    }
}

/// A connection to the daemon.
pub struct Client {
    out: Box<dyn Write + Send>,
    input: BufReader<Box<dyn Read + Send>>,
}

impl Client {
    /// Connect to the socket at `path`; `timeout` bounds each read of an answer (`None`: wait,
    /// as `watch` does).
    pub fn connect(path: &Path, timeout: Option<Duration>) -> std::io::Result<Client> {
        let s = UnixStream::connect(path)?;
        s.set_read_timeout(timeout)?;
        s.set_write_timeout(Some(Duration::from_secs(10)))?;
        Ok(Client {
            out: Box::new(s.try_clone()?),
            input: BufReader::new(Box::new(s)),
        })
    }

    /// Send one command.
    pub fn send(&mut self, cmd: &Command) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(cmd).map_err(std::io::Error::from)?;
        line.push(b'\n');
        self.out.write_all(&line)
    }

    /// Send a raw line (tests of malformed commands use it).
    pub fn send_line(&mut self, line: &str) -> std::io::Result<()> {
        self.out.write_all(format!("{line}\n").as_bytes())
    }

    /// The next record (`None` at the end of the connection); lines that are not records are
    /// an error naming them.
    pub fn read(&mut self) -> std::io::Result<Option<Record>> {
        let mut line = Vec::new();
        (&mut self.input)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)?;
        if line.is_empty() {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&line);
        serde_json::from_str(&text).map(Some).map_err(|e| {
            let e = format!("the daemon sent {:?}: {e}", text.trim());
            std::io::Error::new(std::io::ErrorKind::InvalidData, e)
        })
    }

    /// Send `cmd` and read its answer: the records, the last being `ok` or `error`.
    pub fn call(&mut self, cmd: &Command) -> std::io::Result<Vec<Record>> {
        self.send(cmd)?;
        let mut answer = Vec::new();
        while let Some(r) = self.read()? {
            let last = matches!(r, Record::Ok(_) | Record::Error(_));
            answer.push(r);
            if last {
                return Ok(answer);
            }
        }
        let e = "the daemon closed the connection without an answer";
        Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, e))
    }
}
