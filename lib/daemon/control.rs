//! The control socket: a Unix socket created mode 0600, its peers checked with `SO_PEERCRED`
//! (a process of another user gets an `error` record with code `refused` and the connection is
//! closed), one thread per connection (at most [`MAX_CONNECTIONS`]), lines of at most
//! [`MAX_LINE`] bytes. A line that is not a command gets an `error` record and the connection
//! stays usable.
//!
//! With `--control-tcp` the same commands are also taken on a TCP socket (loopback unless
//! another address is given): the client's first line must be `{"token":"…"}` with the token
//! of `--control-token` (a file no one but its owner may read); a missing or wrong token gets
//! an `error` record with code `refused` and the connection is closed.

use super::{error_record, proto::Command, Daemon, DaemonError};
use crate::record::Record;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Most connections served at once.
pub const MAX_CONNECTIONS: usize = 64;
/// Longest command line, in bytes.
pub const MAX_LINE: usize = 64 << 10;

/// Create the socket (mode 0600). A socket file left by a daemon that is gone is replaced; one
/// where a daemon answers is an error.
pub(crate) fn bind(path: &Path) -> Result<UnixListener, DaemonError> {
    let err = |e| DaemonError::Socket(path.to_path_buf(), e);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(err)?;
        }
    }
    if let Ok(m) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if !m.file_type().is_socket() {
            let e = std::io::Error::other("exists and is not a socket");
            return Err(err(e));
        }
        if UnixStream::connect(path).is_ok() {
            return Err(DaemonError::InUse(path.to_path_buf()));
        }
        std::fs::remove_file(path).map_err(err)?;
    }
    // The socket is created with the umask's mode: no window where others may connect.
    // SAFETY: umask only swaps the process's file creation mask.
    let old = unsafe { libc::umask(0o177) };
    let listener = UnixListener::bind(path);
    unsafe { libc::umask(old) };
    let listener = listener.map_err(err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    listener.set_nonblocking(true).map_err(err)?;
    Ok(listener)
}

/// Longest token file read.
const MAX_TOKEN: u64 = 4096;
/// Time a TCP client has to send its token.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Read the token of `--control-token`: refused when the file is readable or writable by its
/// group or others, or holds no token (surrounding white space is not part of it).
pub fn read_token(path: &Path) -> Result<String, DaemonError> {
    let err = |e: String| DaemonError::Token(path.to_path_buf(), e);
    let f = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
    let mode = f
        .metadata()
        .map_err(|e| err(e.to_string()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        let e = format!(
            "mode {:04o} lets its group or others read it (chmod 600 it)",
            mode & 0o7777
        );
        return Err(err(e));
    }
    let mut text = String::new();
    f.take(MAX_TOKEN)
        .read_to_string(&mut text)
        .map_err(|e| err(e.to_string()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(err("holds no token".into()));
    }
    Ok(token.to_string())
}

/// Bind the TCP control socket.
pub(crate) fn bind_tcp(addr: SocketAddr) -> Result<TcpListener, DaemonError> {
    let l = TcpListener::bind(addr).map_err(|e| DaemonError::Tcp(addr, e))?;
    l.set_nonblocking(true)
        .map_err(|e| DaemonError::Tcp(addr, e))?;
    Ok(l)
}

/// A connection the control loop can serve (a Unix or a TCP stream).
pub(crate) trait Stream: Read + Send + Sized + 'static
where
    for<'a> &'a Self: Write,
{
    fn clone_stream(&self) -> std::io::Result<Self>;
    fn set_timeouts(&self, read: Option<Duration>) -> std::io::Result<()>;
}

/// Both stream types have the same inherent methods under the same names.
macro_rules! stream_impl {
    ($($t:ty),*) => {$(
        impl Stream for $t {
            fn clone_stream(&self) -> std::io::Result<Self> {
                self.try_clone()
            }
            fn set_timeouts(&self, read: Option<Duration>) -> std::io::Result<()> {
                self.set_nonblocking(false)?;
                self.set_write_timeout(Some(Duration::from_secs(10)))?;
                self.set_read_timeout(read)
            }
        }
    )*};
}
stream_impl!(UnixStream, TcpStream);

/// Accept connections on the Unix socket until the daemon stops.
pub(crate) fn spawn(d: Arc<Daemon>, listener: UnixListener) -> JoinHandle<()> {
    spawn_loop(d, move || listener.accept().map(|(s, _)| s), serve_unix)
}

/// Accept connections on the TCP socket until the daemon stops; each must give `token` first.
pub(crate) fn spawn_tcp(d: Arc<Daemon>, listener: TcpListener, token: String) -> JoinHandle<()> {
    let token = Arc::new(token);
    spawn_loop(
        d,
        move || listener.accept().map(|(s, _)| s),
        move |d, s| serve_tcp(d, s, &token),
    )
}

fn spawn_loop<S: Stream>(
    d: Arc<Daemon>,
    accept: impl Fn() -> std::io::Result<S> + Send + 'static,
    serve: impl Fn(&Daemon, S) + Send + Sync + Clone + 'static,
) -> JoinHandle<()>
where
    for<'a> &'a S: Write,
{
    std::thread::spawn(move || {
        let open = Arc::new(AtomicUsize::new(0));
        while !d.stopping() {
            let stream = match accept() {
                Ok(s) => s,
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            let _ = stream.set_timeouts(None);
            if open.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
                let e = format!("too many connections (at most {MAX_CONNECTIONS})");
                let _ = write(&stream, &error_record(None, "failed", e));
                continue;
            }
            open.fetch_add(1, Ordering::Relaxed);
            let (d, done, serve) = (d.clone(), open.clone(), serve.clone());
            let spawned = std::thread::Builder::new()
                .name("bt-control".into())
                .spawn(move || {
                    serve(&d, stream);
                    done.fetch_sub(1, Ordering::Relaxed);
                });
            if spawned.is_err() {
                open.fetch_sub(1, Ordering::Relaxed);
            }
        }
    })
}

/// The uid of the process at the other end.
fn peer_uid(s: &UnixStream) -> std::io::Result<u32> {
    use std::os::fd::AsRawFd;
    // SAFETY: getsockopt fills at most `len` bytes of a zeroed ucred.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    let r = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut cred as *mut libc::ucred as *mut libc::c_void,
            &mut len,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(cred.uid)
}

fn write<S>(mut s: &S, r: &Record) -> std::io::Result<()>
where
    for<'a> &'a S: Write,
{
    let mut line = serde_json::to_vec(r).map_err(std::io::Error::from)?;
    line.push(b'\n');
    s.write_all(&line)
}

fn is_timeout(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{Interrupted, TimedOut, WouldBlock};
    matches!(e.kind(), WouldBlock | TimedOut | Interrupted)
}

/// Compare two byte strings in time that depends on their lengths only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn serve_tcp(d: &Daemon, stream: TcpStream, token: &str) {
    let _ = stream.set_timeouts(Some(TOKEN_TIMEOUT));
    // Read byte by byte: the commands after the token line stay in the socket for `serve`.
    let mut line = Vec::new();
    let mut byte = [0u8];
    while line.len() < MAX_TOKEN as usize && !line.ends_with(b"\n") {
        match (&stream).read(&mut byte) {
            Ok(1) => line.push(byte[0]),
            _ => break,
        }
    }
    let got = serde_json::from_slice::<serde_json::Value>(&line)
        .ok()
        .and_then(|v| v.get("token")?.as_str().map(str::to_string));
    let e = match got {
        Some(t) if same(t.as_bytes(), token.as_bytes()) => return serve(d, stream),
        Some(_) => "wrong token",
        None => "the first line must be {\"token\":\"...\"} with the token of --control-token",
    };
    let _ = write(&stream, &error_record(None, "refused", e.into()));
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn serve_unix(d: &Daemon, stream: UnixStream) {
    // SAFETY: geteuid cannot fail.
    let owner = unsafe { libc::geteuid() };
    match peer_uid(&stream) {
        Ok(uid) if uid == owner => {}
        Ok(uid) => {
            let e = format!("uid {uid} may not use this socket (only its owner, uid {owner})");
            let _ = write(&stream, &error_record(None, "refused", e));
            return;
        }
        Err(e) => {
            let e = format!("cannot tell who connected: {e}");
            let _ = write(&stream, &error_record(None, "refused", e));
            return;
        }
    }
    serve(d, stream)
}

fn serve<S: Stream>(d: &Daemon, stream: S)
where
    for<'a> &'a S: Write,
{
    let _ = stream.set_timeouts(Some(Duration::from_millis(200)));
    let Ok(out) = stream.clone_stream() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    let mut eof = false;
    while !d.stopping() && !eof {
        let room = (MAX_LINE + 1).saturating_sub(line.len()) as u64;
        match (&mut reader).take(room).read_until(b'\n', &mut line) {
            // End of input: a last line without a newline still counts.
            Ok(0) => eof = true,
            Ok(_) if line.ends_with(b"\n") => {}
            Ok(_) if line.len() > MAX_LINE => {
                let e = format!("line longer than {MAX_LINE} bytes");
                let _ = write(&out, &error_record(None, "bad_command", e));
                return;
            }
            Ok(_) => continue,
            Err(e) if is_timeout(&e) => continue,
            Err(_) => return,
        }
        let text = String::from_utf8_lossy(&line).trim().to_string();
        line.clear();
        if text.is_empty() {
            continue;
        }
        let sent = match Command::parse(&text) {
            Ok(cmd) => d.handle(cmd, &mut |r| write(&out, &r)),
            Err((cmd, e)) => write(&out, &error_record(cmd.as_deref(), "bad_command", e)),
        };
        if sent.is_err() {
            return;
        }
    }
}
