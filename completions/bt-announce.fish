complete -c bt-announce -l port -d 'The port we report to the trackers' -r
complete -c bt-announce -l event -d 'The announce event: started, completed, stopped or none' -r -f -a "started\t''
completed\t''
stopped\t''
none\t''"
complete -c bt-announce -l numwant -d 'How many peers to ask for (default: the tracker\'s choice)' -r
complete -c bt-announce -l peer-id -d 'Our peer id as 40 hex digits (default: -BT0100- and 12 random bytes)' -r
complete -c bt-announce -l left -d 'Bytes we still miss (default: the whole torrent; 16384 for a magnet link)' -r
complete -c bt-announce -l uploaded -d 'Bytes uploaded so far' -r
complete -c bt-announce -l downloaded -d 'Bytes downloaded so far' -r
complete -c bt-announce -l tracker -d 'Ask this tracker instead of the torrent\'s (repeatable; asked in the order given). An http://, https:// or udp://host:port URL; anything else is a usage error' -r
complete -c bt-announce -l timeout -d 'Seconds allowed for each tracker: more than 0 and at most 3600 (fractions allowed)' -r
complete -c bt-announce -l bind -d 'Local address to announce from (udp:// and http:// trackers; https:// uses the system\'s choice). Trackers record this address as ours' -r
complete -c bt-announce -s j -l jobs -d 'Worker threads for hashing (default: one per core)' -r
complete -c bt-announce -l color -d 'When to use color in human output' -r -f -a "auto\t'Color when stdout is a terminal'
always\t'Always color'
never\t'Never color'"
complete -c bt-announce -l all -d 'Ask every tracker at once instead of stopping at the first that answers'
complete -c bt-announce -l scrape -d 'Ask for swarm counts (scrape) instead of announcing'
complete -c bt-announce -l json -d 'Write JSON records (one object per line), even on a terminal'
complete -c bt-announce -l human -d 'Write human-readable output, even on a pipe'
complete -c bt-announce -s q -l quiet -d 'No progress bars and no diagnostics on stderr except errors'
complete -c bt-announce -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bt-announce -s V -l version -d 'Print version'
