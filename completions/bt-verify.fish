complete -c bt-verify -s d -l dir -d 'Directory holding the torrent\'s content as `DIR/<name>`' -r -F
complete -c bt-verify -l content -d 'The content itself (the file of a single-file torrent, or the directory of a multi-file one), instead of `DIR/<name>`' -r -F
complete -c bt-verify -l file -d 'Only this file: its path as bt-info shows it (below the torrent\'s directory) or its index there (repeatable)' -r
complete -c bt-verify -l only -d 'Only the files this glob matches (repeatable; bt-make\'s glob rules: `*` never crosses `/`, a glob without `/` matches a file name at any depth)' -r
complete -c bt-verify -l skip -d 'Leave out the files this glob matches (repeatable)' -r
complete -c bt-verify -l color -d 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never' -r -f -a "auto\t'Color when the stream is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`'
always\t'Always color (even with `NO_COLOR`)'
never\t'Never color'"
complete -c bt-verify -s j -l jobs -d 'Worker threads for hashing (default: one per core)' -r
complete -c bt-verify -l bad-pieces -d 'List the bad piece indices (in file records and the summary)'
complete -c bt-verify -l extra -d 'Also report files in the content directory that the torrent does not list'
complete -c bt-verify -l no-mmap -d 'Read with pread instead of memory maps (same results)'
complete -c bt-verify -l bytes -d 'Human view: exact byte counts instead of 1.2 GiB'
complete -c bt-verify -l json -d 'Write JSON records (one object per line), even on a terminal'
complete -c bt-verify -l human -d 'Write human-readable output, even on a pipe'
complete -c bt-verify -s q -l quiet -d 'No progress bars and no diagnostics on stderr except errors'
complete -c bt-verify -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bt-verify -s V -l version -d 'Print version'
