complete -c bt-make -s o -l output -d 'Where to write the torrent (default: `<NAME>.torrent` here; `-` for stdout, then no summary)' -r -F
complete -c bt-make -s a -l announce -d 'Tracker URL; each use is one tier, comma-separated URLs in one use share a tier' -r
complete -c bt-make -s w -l web-seed -d 'Web seed URL (BEP 19); repeatable, or comma-separated' -r
complete -c bt-make -s s -l source -d 'Source tag inside the info dictionary (changes the info hash)' -r
complete -c bt-make -s c -l comment -d 'Comment' -r
complete -c bt-make -s n -l name -d 'Torrent name (default: the file or directory name)' -r
complete -c bt-make -s l -l piece-length -d 'Piece length: bytes or 256K, 1M, 4MiB; a power of two from 16 KiB to 64 MiB. A piece length larger than the data (one piece) is taken with a warning' -r
complete -c bt-make -l created-by -d 'The `created by` field (default: `bt/<version>`)' -r
complete -c bt-make -l exclude -d 'Leave out files and directories that GLOB matches; repeatable. Globs are gitignore-like: `*` and `?` never match `/`; `**` as a path component matches any number of directories (`**/*.bin`, `cache/**`); a glob without `/` matches a name at any depth, one with a `/` matches the path from the input\'s root; a trailing `/` matches directories only; `[a-z]` sets, `\\*` a literal `*`. A file given as PATH is checked by its name too' -r
complete -c bt-make -l include -d 'Take only the files that GLOB matches (same rules as --exclude, which wins); repeatable' -r
complete -c bt-make -l color -d 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never' -r -f -a "auto\t'Color when the stream is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`'
always\t'Always color (even with `NO_COLOR`)'
never\t'Never color'"
complete -c bt-make -s j -l jobs -d 'Worker threads for hashing (default: one per core)' -r
complete -c bt-make -s p -l private -d 'Set the private flag (BEP 27)'
complete -c bt-make -l no-creation-date -d 'Write no creation date'
complete -c bt-make -l no-created-by -d 'Write no `created by` field'
complete -c bt-make -l include-hidden -d 'Include files and directories whose name starts with a dot'
complete -c bt-make -l follow-symlinks -d 'Follow symlinks (loops are skipped)'
complete -c bt-make -l v2 -d 'Make a BitTorrent v2-only torrent (BEP 52: per-file SHA-256 merkle trees, files on piece boundaries). Transmission, aria2 and rqbit cannot download these'
complete -c bt-make -l hybrid -d 'Make a hybrid v1 + v2 torrent (BEP 52 with BEP 47 pad files): every client can use it'
complete -c bt-make -s f -l force -d 'Overwrite an existing output file'
complete -c bt-make -l json -d 'Write JSON records (one object per line), even on a terminal'
complete -c bt-make -l human -d 'Write human-readable output, even on a pipe'
complete -c bt-make -s q -l quiet -d 'No progress bars and no diagnostics on stderr except errors'
complete -c bt-make -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bt-make -s V -l version -d 'Print version'
