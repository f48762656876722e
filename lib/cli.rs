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

pub mod human;

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
    out: io::BufWriter<io::Stdout>,
    /// The output mode.
    pub mode: Mode,
}

impl Out {
    /// A writer in the given mode.
    pub fn new(mode: Mode) -> Self {
        Out {
            out: io::BufWriter::new(io::stdout()),
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
