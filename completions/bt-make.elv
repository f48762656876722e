
use builtin;
use str;

set edit:completion:arg-completer[bt-make] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'bt-make'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'bt-make'= {
            cand -o 'Where to write the torrent (default: `<NAME>.torrent` here; `-` for stdout, then no summary)'
            cand --output 'Where to write the torrent (default: `<NAME>.torrent` here; `-` for stdout, then no summary)'
            cand -a 'Tracker URL; each use is one tier, comma-separated URLs in one use share a tier'
            cand --announce 'Tracker URL; each use is one tier, comma-separated URLs in one use share a tier'
            cand -w 'Web seed URL (BEP 19); repeatable, or comma-separated'
            cand --web-seed 'Web seed URL (BEP 19); repeatable, or comma-separated'
            cand -s 'Source tag inside the info dictionary (changes the info hash)'
            cand --source 'Source tag inside the info dictionary (changes the info hash)'
            cand -c 'Comment'
            cand --comment 'Comment'
            cand -n 'Torrent name (default: the file or directory name)'
            cand --name 'Torrent name (default: the file or directory name)'
            cand -l 'Piece length: bytes or 256K, 1M, 4MiB; a power of two from 16 KiB to 64 MiB. A piece length larger than the data (one piece) is taken with a warning'
            cand --piece-length 'Piece length: bytes or 256K, 1M, 4MiB; a power of two from 16 KiB to 64 MiB. A piece length larger than the data (one piece) is taken with a warning'
            cand --created-by 'The `created by` field (default: `bt/<version>`)'
            cand --exclude 'Leave out files and directories that GLOB matches; repeatable. Globs are gitignore-like: `*` and `?` never match `/`; `**` as a path component matches any number of directories (`**/*.bin`, `cache/**`); a glob without `/` matches a name at any depth, one with a `/` matches the path from the input''s root; a trailing `/` matches directories only; `[a-z]` sets, `\*` a literal `*`. A file given as PATH is checked by its name too'
            cand --include 'Take only the files that GLOB matches (same rules as --exclude, which wins); repeatable'
            cand --color 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never'
            cand -j 'Worker threads for hashing (default: one per core)'
            cand --jobs 'Worker threads for hashing (default: one per core)'
            cand -p 'Set the private flag (BEP 27)'
            cand --private 'Set the private flag (BEP 27)'
            cand --no-creation-date 'Write no creation date'
            cand --no-created-by 'Write no `created by` field'
            cand --include-hidden 'Include files and directories whose name starts with a dot'
            cand --follow-symlinks 'Follow symlinks (loops are skipped)'
            cand --v2 'Make a BitTorrent v2-only torrent (BEP 52: per-file SHA-256 merkle trees, files on piece boundaries). Transmission, aria2 and rqbit cannot download these'
            cand --hybrid 'Make a hybrid v1 + v2 torrent (BEP 52 with BEP 47 pad files): every client can use it'
            cand -f 'Overwrite an existing output file'
            cand --force 'Overwrite an existing output file'
            cand --json 'Write JSON records (one object per line), even on a terminal'
            cand --human 'Write human-readable output, even on a pipe'
            cand -q 'No progress bars and no diagnostics on stderr except errors'
            cand --quiet 'No progress bars and no diagnostics on stderr except errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
