//! The client side of the control socket, for `bt-ctl` and `bt-top`: where the socket is by
//! default, sending a command, reading the answer's records (up to the `ok` or `error` that
//! ends it). Reads are bounded in length and time.

use super::Command;
use crate::record::Record;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    out: UnixStream,
    input: BufReader<UnixStream>,
}

impl Client {
    /// Connect to the socket at `path`; `timeout` bounds each read of an answer (`None`: wait,
    /// as `watch` does).
    pub fn connect(path: &Path, timeout: Option<Duration>) -> std::io::Result<Client> {
        let s = UnixStream::connect(path)?;
        s.set_read_timeout(timeout)?;
        s.set_write_timeout(Some(Duration::from_secs(10)))?;
        Ok(Client {
            out: s.try_clone()?,
            input: BufReader::new(s),
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
