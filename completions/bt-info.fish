complete -c bt-info -s j -l jobs -d 'Worker threads for hashing (default: one per core)' -r
complete -c bt-info -l color -d 'When to use color in human output' -r -f -a "auto\t'Color when stdout is a terminal'
always\t'Always color'
never\t'Never color'"
complete -c bt-info -l pieces -d 'Also list the v1 piece hashes (hex)'
complete -c bt-info -l json -d 'Write JSON records (one object per line), even on a terminal'
complete -c bt-info -l human -d 'Write human-readable output, even on a pipe'
complete -c bt-info -s q -l quiet -d 'No progress bars and no diagnostics on stderr except errors'
complete -c bt-info -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bt-info -s V -l version -d 'Print version'
