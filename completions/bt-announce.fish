complete -c bt-announce -l port -d 'The port we report to the trackers (default 6881); with --dht, announce us at it' -r
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
complete -c bt-announce -l dht-bootstrap -d 'A DHT bootstrap node, HOST:PORT (repeatable); replaces the default routers (router.bittorrent.com, dht.transmissionbt.com, router.utorrent.com, port 6881)' -r
complete -c bt-announce -l dht-state -d 'The DHT routing table is loaded from FILE and saved there on exit, so the next run starts warm (default: $XDG_CACHE_HOME/bt/dht.json, else ~/.cache/bt/dht.json; dht6.json for IPv6)' -r -F
complete -c bt-announce -l color -d 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never' -r -f -a "auto\t'Color when the stream is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`'
always\t'Always color (even with `NO_COLOR`)'
never\t'Never color'"
complete -c bt-announce -l all -d 'Ask every tracker at once instead of stopping at the first that answers'
complete -c bt-announce -l scrape -d 'Ask for swarm counts (scrape) instead of announcing'
complete -c bt-announce -l dht -d 'Ask the DHT for peers instead of the trackers (`peer` records with `tracker` "dht"); with --port, announce us there too'
complete -c bt-announce -l json -d 'Write JSON records (one object per line), even on a terminal'
complete -c bt-announce -l human -d 'Write human-readable output, even on a pipe'
complete -c bt-announce -s q -l quiet -d 'No progress bars and no diagnostics on stderr except errors'
complete -c bt-announce -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bt-announce -s V -l version -d 'Print version'
