//! bt-top: a live terminal view of the bt-seed daemon, or of one download piped into it.
use bt::cli;
use clap::Parser;
use std::path::PathBuf;

/// Show the daemon's torrents live (progress, state, rates, peers, ETA; the selected one's
/// files and peers) and control them with keys: ↑/↓ select, p pause, r resume, d remove, a
/// add (prompts for a .torrent or magnet link and a directory), l limit the selected torrent, L the global
/// limits, q quit.
///
/// `bt-top -` reads a record stream on stdin instead and shows that one download:
/// `bt-fetch x.torrent --progress-json | bt-top -`.
#[derive(Parser, Debug)]
#[command(name = "bt-top", version, after_help = cli::EXIT_CODES_HELP)]
struct Args {
    /// `-`: read records from stdin instead of attaching to the daemon.
    #[arg(value_name = "-")]
    input: Option<String>,
    /// The daemon's control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else
    /// /tmp/bt-UID/bt-seed.sock).
    #[arg(short = 'c', long, value_name = "SOCKET")]
    control: Option<PathBuf>,
    /// Attach to the daemon's TCP control address instead (bt-seed --control-tcp).
    #[arg(long, value_name = "ADDR:PORT", requires = "token_file")]
    connect: Option<std::net::SocketAddr>,
    /// The file holding the daemon's token (with --connect).
    #[arg(long, value_name = "FILE", requires = "connect")]
    token_file: Option<PathBuf>,
    /// Color error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or
    /// never.
    #[arg(long, value_enum, default_value_t = cli::Color::Auto, value_name = "WHEN")]
    color: cli::Color,
}

fn main() -> std::process::ExitCode {
    cli::completions_or_continue::<Args>("bt-top");
    cli::run("bt-top", || {
        let args = Args::parse();
        let source = match args.input.as_deref() {
            Some("-") => cli::top::Source::Stdin,
            Some(other) => anyhow::bail!("unexpected argument {other:?} (only `-`, for stdin)"),
            None => cli::top::Source::Socket(
                bt::daemon::client::Target::choose(args.control, args.connect, args.token_file)
                    .map_err(anyhow::Error::msg)?,
            ),
        };
        cli::top::run(source)
    })
}
