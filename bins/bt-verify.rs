//! bt-verify: check data on disk against a torrent, piece by piece, with a per-file report.

use std::path::PathBuf;

use clap::Parser;

use bt::cli::{self, human, Common, Out};
use bt::record::VerifyRecords;
use bt::storage::Io;
use bt::verify::{Content, Place};

/// Check that the data in `DIR/<name>` (or at `--content`) is exactly what a torrent describes:
/// every piece is hashed in parallel and each file gets a verdict (complete, incomplete,
/// missing, wrong_size, unreadable). Exit 0 only when every piece matches and every file has
/// its exact length. --file, --only and --skip judge only the files they choose. A DIR or PATH that does not exist, or is of the wrong kind (a file for a
/// multi-file torrent), is an error (exit 2).
#[derive(Debug, Parser)]
#[command(name = "bt-verify", version, after_help = cli::EXIT_CODES_HELP)]
struct Args {
    /// The torrent file, or `-` for standard input.
    #[arg(value_name = "TORRENT|-")]
    torrent: String,
    /// Directory holding the torrent's content as `DIR/<name>`.
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// The content itself (the file of a single-file torrent, or the directory of a
    /// multi-file one), instead of `DIR/<name>`.
    #[arg(long, value_name = "PATH", conflicts_with = "dir")]
    content: Option<PathBuf>,
    /// List the bad piece indices (in file records and the summary).
    #[arg(long)]
    bad_pieces: bool,
    /// Also report files in the content directory that the torrent does not list.
    #[arg(long)]
    extra: bool,
    /// Read with pread instead of memory maps (same results).
    #[arg(long)]
    no_mmap: bool,
    /// Human view: exact byte counts instead of 1.2 GiB.
    #[arg(long)]
    bytes: bool,
    #[command(flatten)]
    select: cli::SelectArgs,
    #[command(flatten)]
    common: Common,
}

fn main() -> std::process::ExitCode {
    cli::completions_or_continue::<Args>("bt-verify");
    cli::run("bt-verify", || {
        let args = Args::parse();
        args.common.init_jobs();
        let t = cli::read_torrent(&args.torrent)?;
        let place = match &args.content {
            Some(c) => Place::Content(c.clone()),
            None => Place::Dir(args.dir.clone()),
        };
        let io = if args.no_mmap { Io::Plain } else { Io::Mmap };
        let content = Content::open(&t, &place, io)?;
        if let Some(note) = &content.note {
            args.common.note("bt-verify", &cli::escape_controls(note));
        }
        let bar = cli::Progress::bytes(
            args.common.progress_allowed(),
            t.total_length,
            &format!("verifying {}", cli::escape_controls(&t.name_lossy())),
        );
        let chosen = args.select.resolve(&t)?;
        let (report, seconds) = content.verify_chosen(&t, chosen.as_deref(), &bar.callback())?;
        bar.finish();
        let extras = args.extra.then(|| content.extra_files(&t, 100_000));
        let r = VerifyRecords::new(&t, &report, seconds, extras.as_deref(), args.bad_pieces);
        let view = human::View {
            bytes: args.bytes,
            pad: false,
            paint: args.common.paint(),
        };
        Out::new(args.common.mode()).records(r.records(), || {
            human::verify(&r.files, &r.shared, &r.extras, &r.summary, &view)
        })?;
        Ok(cli::exit_code(r.summary.ok))
    })
}
