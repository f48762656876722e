//! Everything that knows about processes: common flags, the output mode, progress bars,
//! exit codes and the one-line error report.
//!
//! Every binary flattens the flag groups that mean something for it: [`Output`] (`--json`,
//! `--human`, `--color`) everywhere, [`Quiet`] (`-q`) where something is written to stderr,
//! [`Common`] (both, and `-j`) where data is hashed; so each flag is spelled and explained the
//! same everywhere. It calls [`completions_or_continue`] first (`--completions`, `--man`, and
//! clap's errors as one line with exit 2) and hands its body to [`run`], which turns the result
//! into an exit code: 0 ok, 1 a clean negative answer, 2 an error. A broken pipe on stdout ends
//! the program quietly with 0.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

pub mod ctl;
pub mod dht;
pub mod human;
pub mod top;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: a clean negative answer (verify found bad data, no tracker answered, ...).
pub const EXIT_NEGATIVE: u8 = 1;
/// Exit code: an error (usage, input, I/O, protocol).
pub const EXIT_ERROR: u8 = 2;

/// The exit code of a run that ended without error: [`EXIT_OK`] when the answer is yes,
/// [`EXIT_NEGATIVE`] when it is a clean no.
pub fn exit_code(ok: bool) -> u8 {
    if ok {
        EXIT_OK
    } else {
        EXIT_NEGATIVE
    }
}

/// The exit-code table shown at the end of every `--help`.
pub const EXIT_CODES_HELP: &str = "Exit codes: 0 ok, 1 a clean negative answer, 2 error \
(usage, input, I/O, protocol).\nOutput: JSON (one object per line) when stdout is not a \
terminal, human-readable when it is; --json and --human force either.\nShell completions: \
--completions bash|zsh|fish|elvish|powershell. Man page: --man (or man/<tool>.1 in the \
source: man -l man/<tool>.1).";

/// When to color human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Color {
    /// Color when the stream is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`.
    #[default]
    Auto,
    /// Always color (even with `NO_COLOR`).
    Always,
    /// Never color.
    Never,
}

impl Color {
    /// Whether to color a stream that is (`tty`) or is not a terminal.
    pub fn enabled(self, tty: bool) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
            }
        }
    }

    /// The `--color` choice read straight from the command line (the last one given), for
    /// messages written before or without a successful parse (error prefixes).
    pub fn from_args() -> Color {
        use clap::ValueEnum;
        let args: Vec<String> = std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let mut choice = Color::Auto;
        for (i, a) in args.iter().enumerate() {
            let v = match a.strip_prefix("--color") {
                Some("") => args.get(i + 1).map(String::as_str),
                Some(rest) => rest.strip_prefix('='),
                None => None,
            };
            if let Some(c) = v.and_then(|v| Color::from_str(v, true).ok()) {
                choice = c;
            }
        }
        choice
    }
}

/// ANSI styles for human output, or plain text when color is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paint {
    on: bool,
}

impl Paint {
    /// Color on or off.
    pub fn new(on: bool) -> Self {
        Paint { on }
    }
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    /// Good news (`complete`, `OK`).
    pub fn good(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    /// Bad news (`missing`, `FAILED`, `error:`).
    pub fn bad(&self, s: &str) -> String {
        self.wrap("1;31", s)
    }
    /// Something to look at (`incomplete` that only shares a bad piece, warnings).
    pub fn warn(&self, s: &str) -> String {
        self.wrap("33", s)
    }
    /// A heading or a key.
    pub fn heading(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    /// Secondary text (pad files, indices).
    pub fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
}

/// Output flags every tool has: `--json`, `--human`, `--color`.
#[derive(Debug, Clone, clap::Args)]
pub struct Output {
    /// Write JSON records (one object per line), even on a terminal.
    #[arg(long, global = true, conflicts_with = "human")]
    pub json: bool,
    /// Write human-readable output, even on a pipe.
    #[arg(long, global = true)]
    pub human: bool,
    /// Color human output and error messages: auto (a terminal, unless NO_COLOR is set or
    /// TERM=dumb), always or never.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    pub color: Color,
}

impl Output {
    /// The output mode: the flags decide, else JSON unless stdout is a terminal.
    pub fn mode(&self) -> Mode {
        if self.json {
            Mode::Json
        } else if self.human || io::stdout().is_terminal() {
            Mode::Human
        } else {
            Mode::Json
        }
    }

    /// Styles for human output on stdout.
    pub fn paint(&self) -> Paint {
        Paint::new(self.color.enabled(io::stdout().is_terminal()))
    }
}

/// `-q`, for tools that write progress bars or diagnostics on stderr.
#[derive(Debug, Clone, clap::Args)]
pub struct Quiet {
    /// No progress bars and no diagnostics on stderr except errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

impl Quiet {
    /// Whether progress bars may be drawn (stderr is a terminal and not `-q`).
    pub fn progress_allowed(&self) -> bool {
        !self.quiet && io::stderr().is_terminal()
    }

    /// Print a diagnostic on stderr unless `-q`.
    pub fn note(&self, tool: &str, msg: &str) {
        if !self.quiet {
            eprintln!("{tool}: {msg}");
        }
    }
}

/// bt-fetch's flags for a magnet link.
#[derive(Debug, Clone, clap::Args)]
pub struct MagnetArgs {
    /// With a magnet link: write the complete .torrent to FILE once the metadata arrived.
    #[arg(long, value_name = "FILE")]
    pub torrent_out: Option<std::path::PathBuf>,
    /// Let --torrent-out replace an existing file.
    #[arg(long)]
    pub force: bool,
    /// With a magnet link: stop (exit 0) once the metadata is fetched (and written).
    #[arg(long)]
    pub metadata_only: bool,
}

impl MagnetArgs {
    /// An error when a flag that needs a magnet link is given with a .torrent.
    pub fn torrent_only(&self) -> anyhow::Result<()> {
        if self.torrent_out.is_some() || self.metadata_only {
            anyhow::bail!("--torrent-out and --metadata-only need a magnet link");
        }
        Ok(())
    }
}

/// bt-seed's flags that make it the daemon (`bt-ctl` and `bt-top` control it).
#[derive(Debug, Clone, clap::Args)]
pub struct DaemonArgs {
    /// Run as a daemon controlled through the Unix socket SOCKET (created mode 0600, only its
    /// owner may use it; default $XDG_RUNTIME_DIR/bt-seed.sock): torrents are added, paused,
    /// limited and listed with bt-ctl or bt-top. The torrents on the command line are served.
    #[arg(long, value_name = "SOCKET", num_args = 0..=1, default_missing_value = "")]
    pub control: Option<std::path::PathBuf>,
    /// With --control: keep the torrents added, their directories, pauses and limits in FILE
    /// (rewritten atomically) and add them again on start (resuming by verification).
    #[arg(long, value_name = "FILE", requires = "control")]
    pub state: Option<std::path::PathBuf>,
    /// With --control: add each .torrent dropped in DIR (fetched into --dir, then seeded), and
    /// remove it when its file is removed.
    #[arg(long, value_name = "DIR", requires = "control")]
    pub watch_dir: Option<std::path::PathBuf>,
    /// Seconds between two looks at --watch-dir.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub watch_interval: f64,
    /// With --control: also take commands on TCP at ADDR:PORT (or PORT, on 127.0.0.1); each
    /// client must send the token of --control-token first (bt-ctl --connect --token-file).
    #[arg(long, value_name = "ADDR:PORT", requires_all = ["control", "control_token"], value_parser = parse_control_tcp)]
    pub control_tcp: Option<std::net::SocketAddr>,
    /// The file holding the TCP control token; refused unless only its owner may read it
    /// (mode 0600).
    #[arg(long, value_name = "FILE", requires = "control_tcp")]
    pub control_token: Option<std::path::PathBuf>,
}

/// `--control-tcp`: `ADDR:PORT`, or a port on loopback.
fn parse_control_tcp(s: &str) -> Result<std::net::SocketAddr, String> {
    match s.parse::<u16>() {
        Ok(port) => Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port))),
        Err(_) => s
            .parse()
            .map_err(|_| format!("{s:?} is not ADDR:PORT or a port")),
    }
}

impl DaemonArgs {
    /// The control socket, when `--control` is given.
    pub fn socket(&self) -> Option<std::path::PathBuf> {
        let given = self.control.clone()?;
        Some(match given.as_os_str().is_empty() {
            true => crate::daemon::client::default_socket(),
            false => given,
        })
    }

    /// Run the daemon on `socket` until SIGINT/SIGTERM (`stop`); notes go to stderr unless
    /// `quiet`.
    pub fn run(
        &self,
        socket: std::path::PathBuf,
        mut opts: crate::daemon::DaemonOptions,
        quiet: bool,
    ) -> anyhow::Result<u8> {
        opts.socket = socket;
        opts.state.clone_from(&self.state);
        opts.watch_dir.clone_from(&self.watch_dir);
        // clap requires both flags together.
        opts.tcp = self.control_tcp.zip(self.control_token.clone());
        opts.watch_interval =
            std::time::Duration::from_secs_f64(self.watch_interval.clamp(0.1, 3600.0));
        let note = Box::new(move |m: &str| Quiet { quiet }.note("bt-seed", m));
        crate::daemon::run(opts, note, &mut |p| {
            Quiet { quiet }.note("bt-seed", &format!("control socket {}", p.display()))
        })?;
        Ok(EXIT_OK)
    }
}

/// The upload cap flag (bt-fetch, bt-seed).
#[derive(Debug, Clone, clap::Args)]
pub struct UploadRate {
    /// Upload cap in bytes per second over all peers (and all torrents), e.g. 500K or 10M
    /// (K = 1024).
    #[arg(long, value_parser = parse_size, value_name = "RATE")]
    pub max_upload_rate: Option<u64>,
}

impl UploadRate {
    /// The token bucket for the flag.
    pub fn limit(&self) -> std::sync::Arc<crate::swarm::rate::RateLimit> {
        crate::swarm::rate::RateLimit::new(self.max_upload_rate)
    }
}

/// bt-fetch's rate caps.
#[derive(Debug, Clone, clap::Args)]
pub struct RateArgs {
    /// Download cap in bytes per second over all peers and web seeds, e.g. 500K or 10M
    /// (K = 1024).
    #[arg(long, value_parser = parse_size, value_name = "RATE")]
    pub max_download_rate: Option<u64>,
    /// `--max-upload-rate`.
    #[command(flatten)]
    pub upload: UploadRate,
}

impl RateArgs {
    /// The token bucket for `--max-download-rate`.
    pub fn download_limit(&self) -> std::sync::Arc<crate::swarm::rate::RateLimit> {
        crate::swarm::rate::RateLimit::new(self.max_download_rate)
    }
}

/// bt-fetch's web seed flag.
#[derive(Debug, Clone, clap::Args)]
pub struct WebSeedArgs {
    /// An HTTP(S) mirror of the content (BEP 19; repeatable), fetched from besides the
    /// torrent's own `url-list`: a file URL, or a directory URL ending in `/`.
    #[arg(long = "web-seed", value_name = "URL", value_parser = parse_web_seed)]
    pub web_seeds: Vec<String>,
}

fn parse_web_seed(s: &str) -> Result<String, String> {
    crate::swarm::webseed::check_url(s)
        .map(|()| s.to_string())
        .map_err(|e| e.to_string())
}

/// A duration in seconds (fractions allowed; negative is 0, at most 10^9).
pub fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if !x.is_nan() => Ok(std::time::Duration::from_secs_f64(x.clamp(0.0, 1e9))),
        _ => Err(format!("{s:?} is not a number of seconds")),
    }
}

/// A peer address for `--peer`: `ip:port`, `[ipv6]:port`, or `host:port` (its first address).
pub fn parse_peer(s: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let first = || s.to_socket_addrs().ok().and_then(|mut a| a.next());
    s.parse()
        .ok()
        .or_else(first)
        .ok_or(format!("{s:?} is not ADDR:PORT"))
}

/// What bt-announce asks about: the target of a torrent (`-`: on stdin) or of a magnet link,
/// and whether the torrent is private.
pub fn announce_target(input: &str) -> anyhow::Result<(crate::tracker::Target, bool)> {
    use crate::tracker::Target;
    use anyhow::Context;
    if input.starts_with("magnet:") {
        let m = crate::metainfo::Magnet::parse(input).context("magnet link")?;
        let target = Target::from_magnet(&m).context("magnet link has no info hash")?;
        return Ok((target, false));
    }
    let t = read_torrent(input)?;
    let target = Target::from_torrent(&t).context("torrent has no info hash")?;
    Ok((target, t.private))
}

/// Standard input as a source of peer lines, when `wanted` and it is a pipe (not a terminal).
pub fn stdin_peer_lines(wanted: bool) -> Option<Box<dyn io::BufRead + Send>> {
    (wanted && !io::stdin().is_terminal()).then(|| Box::new(io::BufReader::new(io::stdin())) as _)
}

/// The flags of tools that hash data and show progress: [`Output`], `-q` and `-j`.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// `--json`, `--human`, `--color`.
    #[command(flatten)]
    pub output: Output,
    /// No progress bars and no diagnostics on stderr except errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Worker threads for hashing (default: one per core).
    #[arg(short = 'j', long, global = true, value_name = "N")]
    pub jobs: Option<usize>,
}

/// How records are written to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One JSON object per line.
    Json,
    /// Aligned text for people.
    Human,
}

impl Common {
    /// The output mode (see [`Output::mode`]).
    pub fn mode(&self) -> Mode {
        self.output.mode()
    }

    /// Styles for human output on stdout.
    pub fn paint(&self) -> Paint {
        self.output.paint()
    }

    fn q(&self) -> Quiet {
        Quiet { quiet: self.quiet }
    }

    /// Whether progress bars may be drawn (stderr is a terminal and not `-q`).
    pub fn progress_allowed(&self) -> bool {
        self.q().progress_allowed()
    }

    /// Size the global rayon pool from `-j` (call once, early).
    pub fn init_jobs(&self) {
        if let Some(n) = self.jobs {
            let _ = rayon::ThreadPoolBuilder::new()
                .num_threads(n.max(1))
                .build_global();
        }
    }

    /// Print a diagnostic on stderr unless `-q`.
    pub fn note(&self, tool: &str, msg: &str) {
        self.q().note(tool, msg)
    }
}

/// A clap error on one line: its first paragraph without the `error: ` prefix, plus clap's tip
/// when it names a similar flag or value.
fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut paragraphs = text.split("\n\n").map(|p| {
        p.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    });
    let first = paragraphs.next().unwrap_or_default();
    let mut msg = first.strip_prefix("error: ").unwrap_or(&first).to_string();
    if msg.ends_with(':') {
        msg.pop();
    }
    for p in paragraphs {
        if let Some(tip) = p.strip_prefix("tip: ").filter(|t| t.contains("similar")) {
            msg = format!("{msg}; {tip}");
        }
    }
    escape_controls(&msg)
}

/// `tool: error: msg`, the prefix colored as `--color` and the terminal allow.
pub fn error_line(tool: &str, msg: &str) -> String {
    let paint = Paint::new(Color::from_args().enabled(io::stderr().is_terminal()));
    format!("{tool}: {} {msg}", paint.bad("error:"))
}

/// Answer what must be answered before the tool's own parse, and exit: `--completions SHELL`
/// (the completions, 0), `--man` (the man page in roff, 0), `--help` / `--version` (0), and
/// any clap error as one line, `tool: error: <what> (see --help)`, exit 2. Otherwise return,
/// and the tool's own `Args::parse()` then cannot fail.
///
/// Call this first in `main`: completions and the man page must work even though the tool's
/// required arguments are absent.
pub fn completions_or_continue<C: clap::Parser>(tool: &str) {
    // args_os: a non-UTF-8 argument (a file name) must not panic here.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if args.len() == 2 && args[0] == "--completions" {
        use clap::ValueEnum;
        match clap_complete::Shell::from_str(&args[1], true) {
            Ok(shell) => std::process::exit(print_completions::<C>(shell, tool) as i32),
            Err(_) => {
                eprintln!(
                    "{}",
                    error_line(
                        tool,
                        &format!(
                            "unknown shell {:?} (bash, zsh, fish, elvish, powershell)",
                            args[1]
                        )
                    )
                );
                std::process::exit(EXIT_ERROR as i32);
            }
        }
    }
    if args.len() == 1 && args[0] == "--man" {
        let man = clap_mangen::Man::new(C::command());
        let code = match man.render(&mut io::stdout()) {
            Ok(()) => EXIT_OK,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => EXIT_OK,
            Err(e) => {
                eprintln!(
                    "{}",
                    error_line(tool, &format!("writing the man page: {e}"))
                );
                EXIT_ERROR
            }
        };
        std::process::exit(code as i32);
    }
    if let Err(e) = C::try_parse() {
        use clap::error::ErrorKind;
        let code = match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => EXIT_OK,
            _ => EXIT_ERROR,
        };
        if code == EXIT_OK {
            let _ = e.print();
        } else {
            eprintln!("{} (see --help)", error_line(tool, &clap_message(&e)));
        }
        std::process::exit(code as i32);
    }
}

/// Write the completions of the clap command `C` for `shell` to stdout.
pub fn print_completions<C: clap::CommandFactory>(shell: clap_complete::Shell, tool: &str) -> u8 {
    let mut cmd = C::command();
    clap_complete::generate(shell, &mut cmd, tool, &mut io::stdout());
    EXIT_OK
}

/// Buffered stdout that writes JSON lines or text, and is flushed at every record so pipes
/// see records as they happen.
pub struct Out {
    out: io::BufWriter<Box<dyn Write + Send>>,
    /// The output mode.
    pub mode: Mode,
}

impl Out {
    /// A writer in the given mode.
    pub fn new(mode: Mode) -> Self {
        Out {
            out: io::BufWriter::new(Box::new(io::stdout())),
            mode,
        }
    }

    /// A writer on stderr (records of `bt-fetch --stdout`, whose stdout carries data).
    pub fn stderr(mode: Mode) -> Self {
        Out {
            out: io::BufWriter::new(Box::new(io::stderr())),
            mode,
        }
    }

    /// Write one record (any record struct, or a [`Record`](crate::record::Record)) as a JSON
    /// line in its `"type"` envelope, and flush.
    pub fn json(&mut self, record: impl Into<crate::record::Record>) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &record.into()).map_err(io::Error::from)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    /// Write a line of text and flush.
    pub fn line(&mut self, text: &str) -> io::Result<()> {
        self.out.write_all(text.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    /// Write `records` as JSON lines, or in human mode the lines that `human` makes instead.
    pub fn records<R: Into<crate::record::Record>>(
        &mut self,
        records: impl IntoIterator<Item = R>,
        human: impl FnOnce() -> Vec<String>,
    ) -> io::Result<()> {
        match self.mode {
            Mode::Json => records.into_iter().try_for_each(|r| self.json(r)),
            Mode::Human => human().iter().try_for_each(|l| self.line(l)),
        }
    }

    /// Write raw bytes (a torrent to stdout) and flush.
    pub fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.out.flush()
    }
}

/// Run a tool's body and turn its outcome into the process exit code.
///
/// `Ok(code)` exits with `code`; an error prints `tool: error: chain` on one line and exits 2,
/// except a broken pipe, which exits 0 quietly. A panic, should one ever happen, is reported on
/// one line without a backtrace and exits 2.
pub fn run(tool: &'static str, body: impl FnOnce() -> anyhow::Result<u8>) -> ExitCode {
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!("{tool}: internal error: {msg} (please report this)");
    }));
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(e)) => {
            if is_broken_pipe(&e) {
                return ExitCode::from(EXIT_OK);
            }
            eprintln!("{}", error_line(tool, &one_line(&error_chain(&e))));
            ExitCode::from(EXIT_ERROR)
        }
        Err(_) => ExitCode::from(EXIT_ERROR),
    }
}

/// The causes of an error joined with `: `, leaving out a cause whose text the previous one
/// already ends with (library errors often print their source too).
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for c in e.chain().map(|c| c.to_string()) {
        if out.ends_with(&c) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&c);
    }
    out
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Collapse newlines and escape control characters so a message stays on one line.
pub fn one_line(s: &str) -> String {
    escape_controls(s)
}

pub use crate::record::escape_controls;

/// Read a whole input named on the command line: a path, or `-` for stdin. With `-` and a
/// terminal on stdin, fail with a usage hint instead of waiting. Never reads more than the
/// bencode size limit plus one byte, so an oversized input (`/dev/zero` included) is refused by
/// the decoder instead of filling memory.
pub fn read_input(path: &str, what: &str) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context;
    use std::io::Read;
    let limit = crate::bencode::Limits::default().max_size as u64 + 1;
    let mut buf = Vec::new();
    if path == "-" {
        if io::stdin().is_terminal() {
            anyhow::bail!("no {what} given: pass a path, or pipe one into stdin");
        }
        io::stdin()
            .lock()
            .take(limit)
            .read_to_end(&mut buf)
            .context("<stdin>")?;
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(limit).read_to_end(&mut buf))
            .with_context(|| path.to_string())?;
    }
    Ok(buf)
}

/// Read and validate a torrent named on the command line (a path or `-`); errors name it.
pub fn read_torrent(path: &str) -> anyhow::Result<crate::metainfo::Torrent> {
    use anyhow::Context;
    let bytes = read_input(path, "torrent")?;
    let label = if path == "-" { "<stdin>" } else { path };
    if bytes.is_empty() {
        anyhow::bail!("{label}: the file is empty, not a torrent");
    }
    crate::metainfo::Torrent::from_bytes(&bytes).with_context(|| label.to_string())
}

/// A progress bar on stderr, or nothing when bars are not allowed. Library code sees only the
/// plain callback from [`Progress::callback`].
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// A byte-counting bar of `total` bytes, drawn only if `allowed`.
    pub fn bytes(allowed: bool, total: u64, message: &str) -> Self {
        let bar = allowed.then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            bar.set_message(message.to_string());
            bar
        });
        Progress { bar }
    }

    /// Add `n` bytes done.
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    /// Set the message shown before the bar.
    pub fn message(&self, msg: String) {
        if let Some(b) = &self.bar {
            b.set_message(msg);
        }
    }

    /// A plain callback for library code: called with bytes done since the last call.
    pub fn callback(&self) -> impl Fn(u64) + Sync + '_ {
        move |n| self.inc(n)
    }

    /// Remove the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// The creation date to write in a torrent: `SOURCE_DATE_EPOCH` when set (reproducible
/// builds), else the clock; seconds since the epoch.
pub fn creation_date() -> anyhow::Result<i64> {
    use anyhow::Context;
    let Some(v) = std::env::var_os("SOURCE_DATE_EPOCH") else {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        return Ok(now.map(|d| d.as_secs() as i64).unwrap_or(0));
    };
    let s = v.to_string_lossy();
    (s.trim().parse::<i64>().ok().filter(|&d| d >= 0))
        .with_context(|| format!("SOURCE_DATE_EPOCH {s:?} is not a non-negative integer"))
}

/// Parse a size such as `16384`, `256K`, `1M`, `4MiB`, `1G` (binary multiples).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("size {s:?} is not a number with an optional K/M/G suffix"))?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(format!("size {s:?} has an unknown unit {unit:?}")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

// ---- Signals and process limits ----

/// Catch SIGINT and SIGTERM for a long-running tool: the first prints
/// `<tool>: stopping (again to quit now)` on stderr (unless `quiet`) and raises the returned
/// flag, so that a seeder can announce `stopped` and a fetcher can write its summary; a second
/// ends the process at once with exit code 2.
pub fn stop_on_signals(
    tool: &'static str,
    quiet: bool,
) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // Runs inside the handler: with the flag already raised, exit at once.
        let _ =
            signal_hook::flag::register_conditional_shutdown(sig, EXIT_ERROR as i32, stop.clone());
    }
    match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
        Ok(mut signals) => {
            let stop = stop.clone();
            let _ = std::thread::Builder::new()
                .name("bt-signals".into())
                .spawn(move || {
                    for _ in signals.forever() {
                        if stop.swap(true, Ordering::SeqCst) {
                            std::process::exit(EXIT_ERROR as i32);
                        }
                        if !quiet {
                            eprintln!("{tool}: stopping (again to quit now)");
                        }
                    }
                });
        }
        Err(_) => {
            for sig in [SIGINT, SIGTERM] {
                let _ = signal_hook::flag::register(sig, stop.clone());
            }
        }
    }
    stop
}

/// Make a file-size limit (`ulimit -f`) an error instead of a kill: ignore SIGXFSZ, so a write
/// past the limit fails with EFBIG, which storage reports naming the file.
pub fn ignore_file_size_signal() {
    // SAFETY: setting a signal disposition to SIG_IGN.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
}

// ---- Live status lines (bt-seed) ----

/// Lines of status on stderr, one per item (a torrent), redrawn in place; nothing when not
/// `allowed` (stderr not a terminal, or `-q`).
pub struct StatusLines {
    multi: indicatif::MultiProgress,
    lines: Vec<indicatif::ProgressBar>,
}

impl StatusLines {
    /// `n` status lines, drawn only if `allowed`.
    pub fn new(allowed: bool, n: usize) -> Self {
        let target = if allowed {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        };
        let multi = indicatif::MultiProgress::with_draw_target(target);
        let style = indicatif::ProgressStyle::with_template("{msg}").expect("static template");
        let lines = (0..n)
            .map(|_| multi.add(indicatif::ProgressBar::new_spinner().with_style(style.clone())))
            .collect();
        StatusLines { multi, lines }
    }

    /// Replace line `i`.
    pub fn set(&self, i: usize, msg: String) {
        if let Some(l) = self.lines.get(i) {
            l.set_message(msg);
        }
    }

    /// Print a line on stderr above the status lines.
    pub fn println(&self, msg: &str) {
        if self.multi.is_hidden() {
            eprintln!("{msg}");
        } else {
            let _ = self.multi.println(msg);
        }
    }

    /// Remove the lines.
    pub fn finish(&self) {
        for l in &self.lines {
            l.finish_and_clear();
        }
    }
}

// ---- Choosing files (bt-fetch, bt-verify) and streaming (bt-fetch) ----

/// The file selection flags of bt-fetch and bt-verify (see [`crate::select`]).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SelectArgs {
    /// Only this file: its path as bt-info shows it (below the torrent's directory) or its
    /// index there (repeatable).
    #[arg(long = "file", value_name = "PATH|INDEX")]
    pub files: Vec<String>,
    /// Only the files this glob matches (repeatable; bt-make's glob rules: `*` never
    /// crosses `/`, a glob without `/` matches a file name at any depth).
    #[arg(long, value_name = "GLOB")]
    pub only: Vec<String>,
    /// Leave out the files this glob matches (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub skip: Vec<String>,
}

impl SelectArgs {
    /// The chosen files of `t` (`None`: every file, no flag given).
    pub fn resolve(&self, t: &crate::metainfo::Torrent) -> anyhow::Result<Option<Vec<bool>>> {
        let c = crate::select::Choice {
            files: self.files.clone(),
            only: self.only.clone(),
            skip: self.skip.clone(),
        };
        Ok(c.resolve(t)?)
    }
}

/// bt-fetch's file selection, streaming and record flags.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct StreamArgs {
    /// `--file`, `--only`, `--skip`.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Write the content (a single-file torrent, or the one --file) to stdout in order while
    /// it downloads, each byte once its piece is verified; records then go to stderr.
    #[arg(long)]
    pub stdout: bool,
    /// With --stdout: write nothing under DIR; keep only a window of 32 MiB (at least two
    /// pieces) of data in memory.
    #[arg(long, requires = "stdout")]
    pub no_store: bool,
    /// Request pieces in order (the streaming picker, without --stdout).
    #[arg(long)]
    pub sequential: bool,
    /// With --stdout: keep downloading after stdout is closed (exit 0 otherwise).
    #[arg(long, requires = "stdout")]
    pub keep_going: bool,
    /// Write a `progress` record about once per second (on stderr with --stdout).
    #[arg(long)]
    pub progress_json: bool,
}

impl StreamArgs {
    /// With --stdout, send `view`'s records to stderr (see [`EngineView::records_to_stderr`]).
    pub fn route(&self, view: &mut EngineView<'_>) {
        if self.stdout {
            view.records_to_stderr(self.progress_json);
        }
    }

    /// Set the selection and these flags on `opts` for `t`. The torrent to stream must be a
    /// single file or have exactly one file chosen.
    pub fn apply(
        &self,
        t: &crate::metainfo::Torrent,
        opts: &mut crate::swarm::session::FetchOptions,
    ) -> anyhow::Result<()> {
        opts.chosen = self.select.resolve(t)?;
        opts.sequential = self.sequential;
        if !self.stdout {
            return Ok(());
        }
        let chosen = opts.chosen.as_deref();
        let one: Vec<usize> = match chosen {
            Some(c) => (0..c.len()).filter(|&i| c[i]).collect(),
            None => (0..t.files.len()).filter(|&i| !t.files[i].pad).collect(),
        };
        let [file] = one[..] else {
            anyhow::bail!(
                "--stdout streams one file: this torrent has {} chosen files, choose one with --file",
                one.len()
            );
        };
        opts.stream = Some(crate::swarm::pipe::StreamOptions {
            out: Box::new(io::stdout()),
            file: Some(file),
            no_store: self.no_store,
            keep_going: self.keep_going,
        });
        Ok(())
    }
}

// ---- Engine events (bt-fetch, bt-seed) ----

/// What bt-fetch and bt-seed show of a session's events: records on stdout, bars, status lines
/// and diagnostics on stderr. [`EngineView::show`] handles the events both tools show the same
/// way and gives back the others.
pub struct EngineView<'a> {
    tool: &'static str,
    torrents: &'a [crate::metainfo::Torrent],
    names: Vec<String>,
    out: Out,
    json: bool,
    quiet: bool,
    bars: bool,
    /// Write `peer` records (JSON).
    pub peer_records: bool,
    /// Print a line on stderr per peer event (human output).
    pub peer_lines: bool,
    bar: Option<(Progress, u64)>,
    status: Option<StatusLines>,
    failed: Option<io::Error>,
}

impl<'a> EngineView<'a> {
    /// A view for `tool` of the session over `torrents`.
    pub fn new(
        tool: &'static str,
        common: &Common,
        torrents: &'a [crate::metainfo::Torrent],
    ) -> Self {
        EngineView {
            tool,
            torrents,
            names: torrents
                .iter()
                .map(|t| escape_controls(&t.name_lossy()))
                .collect(),
            out: Out::new(common.mode()),
            json: common.mode() == Mode::Json,
            quiet: common.quiet,
            bars: common.progress_allowed(),
            peer_records: true,
            peer_lines: false,
            bar: None,
            status: None,
            failed: None,
        }
    }

    /// Whether records are JSON.
    pub fn json(&self) -> bool {
        self.json
    }

    /// Records go to stderr (stdout carries data): JSON when stderr is not a terminal or
    /// `json` (`--progress-json`) asks for it, else the human view.
    pub fn records_to_stderr(&mut self, json: bool) {
        self.json = json || !io::stderr().is_terminal();
        let mode = if self.json { Mode::Json } else { Mode::Human };
        self.out = Out::stderr(mode);
    }

    /// The display name of torrent `i`.
    pub fn name(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// The output, to write a record or a line (errors are kept for [`EngineView::finish`]).
    pub fn write(&mut self, f: impl FnOnce(&mut Out) -> io::Result<()>) {
        if let Err(e) = f(&mut self.out) {
            self.failed.get_or_insert(e);
        }
    }

    /// A diagnostic on stderr (unless `-q`), above any status lines.
    pub fn note(&self, msg: &str) {
        if self.quiet {
            return;
        }
        match &self.status {
            Some(s) => s.println(&format!("{}: {msg}", self.tool)),
            None => eprintln!("{}: {msg}", self.tool),
        }
    }

    /// Show `done` of `total` bytes on the progress bar (made on first use) with `msg`.
    pub fn bar(&mut self, done: u64, total: u64, msg: String) {
        let bars = self.bars;
        let (bar, shown) = self
            .bar
            .get_or_insert_with(|| (Progress::bytes(bars, total, &msg), 0));
        bar.inc(done.saturating_sub(*shown));
        *shown = done.max(*shown);
        bar.message(msg);
    }

    /// Remove the progress bar (the next [`EngineView::bar`] makes a new one).
    pub fn end_bar(&mut self) {
        if let Some((b, _)) = self.bar.take() {
            b.finish();
        }
    }

    /// Set the live status line of torrent `i` (drawn only on a terminal).
    pub fn status(&mut self, i: usize, msg: String) {
        let (bars, n) = (self.bars, self.torrents.len());
        self.status
            .get_or_insert_with(|| StatusLines::new(bars, n))
            .set(i, msg);
    }

    /// Show `e` if both tools show it alike; otherwise give it back.
    pub fn show(
        &mut self,
        e: crate::swarm::session::Event,
    ) -> Option<crate::swarm::session::Event> {
        use crate::record::{ListeningRecord, PeerEventRecord, StatsRecord, WebSeedRecord};
        use crate::swarm::session::Event;
        match e {
            Event::Verifying {
                torrent,
                done,
                total,
            } => {
                let msg = format!("verifying {}", self.names[torrent]);
                self.bar(done, total, msg);
            }
            Event::Verified { .. } | Event::Seeding => {
                self.end_bar();
                return Some(e);
            }
            Event::Listening { torrent, addr } if self.json => {
                let r = ListeningRecord::new(addr, &self.torrents[torrent]);
                self.write(|o| o.json(&r));
            }
            Event::Peer { torrent, event } => {
                if let crate::swarm::Event::Banned { addr } = &event {
                    self.note(&format!("banned {addr}: it sent bad data twice"));
                }
                let hash = self.torrents[torrent].swarm_hash();
                if let Some(r) = WebSeedRecord::from_event(&event, hash) {
                    self.web_seed(r);
                    return None;
                }
                let r = PeerEventRecord::from_event(&event, hash)?;
                if self.json && self.peer_records {
                    self.write(|o| o.json(&r));
                } else if !self.json && self.peer_lines {
                    let why = r
                        .reason
                        .as_ref()
                        .map(|w| format!(" ({w})"))
                        .unwrap_or_default();
                    let name = &self.names[torrent];
                    self.note(&format!("{name}: {} {}:{}{why}", r.event, r.ip, r.port));
                }
            }
            Event::Announced { torrent, result } => {
                if let Some(e) = &result.error {
                    let name = &self.names[torrent];
                    self.note(&format!("{name}: announce {}: {e}", result.event));
                }
            }
            Event::BadPeerLine(e) => self.note(&format!("skipping input: {e}")),
            Event::Stats {
                torrent,
                stats,
                elapsed,
            } => {
                let t = &self.torrents[torrent];
                match self.json {
                    true => {
                        let r = StatsRecord::new(t.swarm_hash(), &stats, elapsed);
                        self.write(|o| o.json(&r));
                    }
                    false => {
                        let line = format!(
                            "{}: {} peers, {} bytes uploaded",
                            self.names[torrent], stats.peers, stats.uploaded
                        );
                        self.write(|o| o.line(&line));
                    }
                }
            }
            e => return Some(e),
        }
        None
    }

    /// A web seed event: a `web_seed` record (JSON), or on stderr its errors, bans and
    /// redirects (human).
    fn web_seed(&mut self, r: crate::record::WebSeedRecord) {
        if self.json {
            return self.write(|o| o.json(&r));
        }
        let url = escape_controls(&r.url);
        let detail = r.reason.as_deref().or(r.location.as_deref()).unwrap_or("");
        match r.event.as_str() {
            "error" | "redirected" => {
                self.note(&format!("web seed {url}: {}", escape_controls(detail)))
            }
            "banned" => self.note(&format!("web seed {url} banned: it sent bad data twice")),
            _ => {}
        }
    }

    /// Remove bars and status lines; the output for the last records, or the first error that
    /// writing met.
    pub fn finish(mut self) -> io::Result<Out> {
        self.end_bar();
        if let Some(s) = self.status.take() {
            s.finish();
        }
        match self.failed {
            Some(e) => Err(e),
            None => Ok(self.out),
        }
    }
}

/// bt-fetch's last words: the `summary` record (or its human line for the torrent `name`) on
/// `out`, a "gave up" line on stderr unless `quiet`, and the exit code (0 complete, 1 gave up;
/// an engine error is an error).
pub fn finish_fetch(
    out: &mut Out,
    report: &crate::swarm::session::FetchReport,
    name: &str,
    quiet: bool,
) -> anyhow::Result<u8> {
    use crate::swarm::Outcome;
    let summary = crate::record::FetchSummaryRecord::new(report);
    match out.mode {
        Mode::Json => out.json(&summary)?,
        Mode::Human => out.line(&summary.human(&escape_controls(name)))?,
    }
    let (have, n) = (report.stats.have, report.stats.pieces);
    let reason = summary.reason.unwrap_or_default();
    match &report.outcome {
        Outcome::Complete => return Ok(EXIT_OK),
        Outcome::Stopped if report.output_closed => return Ok(EXIT_OK),
        Outcome::Error(e) => anyhow::bail!("{e}"),
        _ if quiet => {}
        _ => eprintln!("bt-fetch: gave up with {have} of {n} pieces: {reason}"),
    }
    Ok(EXIT_NEGATIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16384"), Ok(16384));
        assert_eq!(parse_size("256K"), Ok(256 << 10));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert!(parse_size("x").is_err());
        assert!(parse_size("1Q").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn error_chain_skips_repeated_causes() {
        let io = io::Error::new(io::ErrorKind::NotFound, "no such file");
        let e = anyhow::Error::new(io)
            .context("x.torrent: no such file")
            .context("reading");
        assert_eq!(error_chain(&e), "reading: x.torrent: no such file");
    }

    #[test]
    fn controls_are_escaped() {
        assert_eq!(escape_controls("a\u{1b}[2Jb\nc"), "a\\x1b[2Jb\\nc");
        assert_eq!(escape_controls("héllo"), "héllo");
    }
}
