//! `bt-make`: create a v1, v2 or hybrid torrent of a file or a directory.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use bt::cli::{self, human};
use bt::{create, metainfo, record};
use clap::Parser;

/// Create a BitTorrent .torrent (v1 unless --v2 or --hybrid) of a file or a directory. Files are ordered by path bytes;
/// hidden files and symlinks are skipped unless asked for. The default piece length keeps the
/// piece count between 1000 and 2000 (a power of two, 16 KiB to 16 MiB; -l takes up to 64 MiB). The same input and
/// options give a byte-identical torrent; SOURCE_DATE_EPOCH sets the creation date.
#[derive(Debug, Parser)]
#[command(name = "bt-make", version, after_help = cli::EXIT_CODES_HELP)]
struct Args {
    /// The file or directory to make a torrent of.
    path: PathBuf,
    /// Where to write the torrent (default: `<NAME>.torrent` here; `-` for stdout, then no summary).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Tracker URL; each use is one tier, comma-separated URLs in one use share a tier.
    #[arg(short, long, value_name = "URL")]
    announce: Vec<String>,
    /// Web seed URL (BEP 19); repeatable, or comma-separated.
    #[arg(short, long, value_name = "URL")]
    web_seed: Vec<String>,
    /// Set the private flag (BEP 27).
    #[arg(short, long)]
    private: bool,
    /// Source tag inside the info dictionary (changes the info hash).
    #[arg(short, long, value_name = "TEXT")]
    source: Option<String>,
    /// Comment.
    #[arg(short, long, value_name = "TEXT")]
    comment: Option<String>,
    /// Torrent name (default: the file or directory name).
    #[arg(short, long, value_name = "NAME")]
    name: Option<OsString>,
    /// Piece length: bytes or 256K, 1M, 4MiB; a power of two from 16 KiB to 64 MiB. A piece
    /// length larger than the data (one piece) is taken with a warning.
    #[arg(short = 'l', long, value_name = "SIZE", value_parser = piece_length)]
    piece_length: Option<u64>,
    /// Write no creation date.
    #[arg(long)]
    no_creation_date: bool,
    /// The `created by` field (default: `bt/<version>`).
    #[arg(long, value_name = "TEXT", conflicts_with = "no_created_by")]
    created_by: Option<String>,
    /// Write no `created by` field.
    #[arg(long)]
    no_created_by: bool,
    /// Include files and directories whose name starts with a dot.
    #[arg(long)]
    include_hidden: bool,
    /// Leave out files and directories that GLOB matches; repeatable. Globs are gitignore-like:
    /// `*` and `?` never match `/`; `**` as a path component matches any number of directories
    /// (`**/*.bin`, `cache/**`); a glob without `/` matches a name at any depth, one with a `/`
    /// matches the path from the input's root; a trailing `/` matches directories only; `[a-z]`
    /// sets, `\*` a literal `*`. A file given as PATH is checked by its name too.
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Take only the files that GLOB matches (same rules as --exclude, which wins); repeatable.
    #[arg(long, value_name = "GLOB")]
    include: Vec<String>,
    /// Follow symlinks (loops are skipped).
    #[arg(long)]
    follow_symlinks: bool,
    /// Make a BitTorrent v2-only torrent (BEP 52: per-file SHA-256 merkle trees, files on
    /// piece boundaries). Transmission, aria2 and rqbit cannot download these.
    #[arg(long, conflicts_with = "hybrid")]
    v2: bool,
    /// Make a hybrid v1 + v2 torrent (BEP 52 with BEP 47 pad files): every client can use it.
    #[arg(long)]
    hybrid: bool,
    /// Overwrite an existing output file.
    #[arg(short, long)]
    force: bool,
    #[command(flatten)]
    common: cli::Common,
}

fn piece_length(s: &str) -> Result<u64, String> {
    let n = cli::parse_size(s)?;
    create::check_piece_length(n).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    cli::completions_or_continue::<Args>("bt-make");
    cli::run("bt-make", || run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<u8> {
    args.common.init_jobs();
    let mut opts = options(&args)?;
    let to_stdout = args.output.as_ref().is_some_and(|o| o.as_os_str() == "-");
    if to_stdout && std::io::stdout().is_terminal() {
        bail!("refusing to write a binary torrent to a terminal: redirect stdout");
    }
    let output = match to_stdout {
        true => None,
        false => Some(create::output_path(
            &args.path,
            args.output.as_deref(),
            args.force,
            &mut opts.walk,
        )?),
    };
    let plan = create::Plan::new(&args.path, &opts)?;
    for w in &plan.warnings {
        args.common.note("bt-make", &cli::escape_controls(w));
    }
    let total = plan.layout.total_length;
    let bar = cli::Progress::bytes(args.common.progress_allowed(), total, "hashing");
    let (made, torrent) = plan.make(&opts, &bar.callback())?;
    bar.finish();
    let Some(out) = output else {
        cli::Out::new(cli::Mode::Json).raw(&made.bytes)?;
        return Ok(cli::EXIT_OK);
    };
    create::write_torrent(&out, &made.bytes, args.force)?;
    let rec = record::TorrentRecord::made(&torrent, &out);
    cli::Out::new(args.common.mode()).records([&rec], || human::made(&rec, &made))?;
    Ok(cli::EXIT_OK)
}

/// The library options from the flags and the environment (`SOURCE_DATE_EPOCH`, the clock).
fn options(args: &Args) -> anyhow::Result<create::Options> {
    let created_by = args.created_by.as_deref().unwrap_or(create::CREATED_BY);
    Ok(create::Options {
        walk: create::WalkOptions {
            include_hidden: args.include_hidden,
            follow_symlinks: args.follow_symlinks,
            exclude: args.exclude.clone(),
            include: args.include.clone(),
            name: args.name.as_ref().map(|n| n.as_bytes().to_vec()),
            skip_files: Vec::new(),
        },
        announce: create::split_urls(&args.announce),
        web_seeds: create::split_urls(&args.web_seed).concat(),
        private: args.private,
        source: args.source.clone(),
        comment: args.comment.clone(),
        piece_length: args.piece_length,
        creation_date: (!args.no_creation_date)
            .then(cli::creation_date)
            .transpose()?,
        created_by: (!args.no_created_by).then(|| created_by.to_string()),
        version: match (args.v2, args.hybrid) {
            (true, _) => metainfo::Version::V2,
            (_, true) => metainfo::Version::Hybrid,
            _ => metainfo::Version::V1,
        },
    })
}
