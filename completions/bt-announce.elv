
use builtin;
use str;

set edit:completion:arg-completer[bt-announce] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'bt-announce'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'bt-announce'= {
            cand --port 'The port we report to the trackers (default 6881); with --dht, announce us at it'
            cand --event 'The announce event: started, completed, stopped or none'
            cand --numwant 'How many peers to ask for (default: the tracker''s choice)'
            cand --peer-id 'Our peer id as 40 hex digits (default: -BT0100- and 12 random bytes)'
            cand --left 'Bytes we still miss (default: the whole torrent; 16384 for a magnet link)'
            cand --uploaded 'Bytes uploaded so far'
            cand --downloaded 'Bytes downloaded so far'
            cand --tracker 'Ask this tracker instead of the torrent''s (repeatable; asked in the order given). An http://, https:// or udp://host:port URL; anything else is a usage error'
            cand --timeout 'Seconds allowed for each tracker: more than 0 and at most 3600 (fractions allowed)'
            cand --bind 'Local address to announce from (udp:// and http:// trackers; https:// uses the system''s choice). Trackers record this address as ours'
            cand --dht-bootstrap 'A DHT bootstrap node, HOST:PORT (repeatable); replaces the default routers (router.bittorrent.com, dht.transmissionbt.com, router.utorrent.com, port 6881)'
            cand --dht-state 'The DHT routing table is loaded from FILE and saved there on exit, so the next run starts warm (default: $XDG_CACHE_HOME/bt/dht.json, else ~/.cache/bt/dht.json; dht6.json for IPv6)'
            cand --color 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never'
            cand --all 'Ask every tracker at once instead of stopping at the first that answers'
            cand --scrape 'Ask for swarm counts (scrape) instead of announcing'
            cand --dht 'Ask the DHT for peers instead of the trackers (`peer` records with `tracker` "dht"); with --port, announce us there too'
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
