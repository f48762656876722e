#!/usr/bin/env python3
"""Write the seed inputs of the fuzz targets into fuzz/seeds/<target>/ (committed; rerun after
changing a target's input layout). The inputs are the ones the codec unit tests use, laid out
the way each target in fuzz/src/lib.rs reads its bytes. scripts/fuzz also feeds the real
torrents of tests/corpus/torrents to the bencode and torrent targets."""

import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")


def ben(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(ben(x) for x in v) + b"e"
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x) for k, x in v.items())
        return b"d" + b"".join(ben(k) + ben(x) for k, x in items) + b"e"
    raise TypeError(v)


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def u32le(v):
    return struct.pack("<I", v)


def msg(mid, payload=b""):
    return struct.pack(">IB", 1 + len(payload), mid) + payload


# bencode
for name, data in {
    "int": b"i42e",
    "negative": b"i-9223372036854775808e",
    "string": b"4:spam",
    "empty": b"0:",
    "list": b"l4:spami42ee",
    "dict": b"d3:bar4:spam3:fooi42ee",
    "nested": b"d1:ad1:bl1:cd1:di1eeeee",
    "unsorted": b"d1:bi1e1:ai2ee",
    "duplicate": b"d1:ai1e1:ai2ee",
    "leading-zero": b"i03e",
    "trailing-space": b"d1:ai1ee \n",
    "deep": b"l" * 40 + b"e" * 40,
}.items():
    write("bencode", name, data)

# torrent: a single-file and a multi-file torrent with a pad file
single = {
    "announce": "http://127.0.0.1:6969/announce",
    "info": {"length": 40000, "name": "a.bin", "piece length": 16384, "pieces": b"\x01" * 60},
}
multi = {
    "announce-list": [["http://t/a", "udp://t:1"], ["http://u/a"]],
    "info": {
        "files": [
            {"length": 10000, "path": ["d", "x"]},
            {"length": 6384, "path": [".pad", "6384"], "attr": "p"},
            {"length": 0, "path": ["empty"]},
            {"length": 20000, "path": ["y"]},
        ],
        "name": "dir",
        "piece length": 16384,
        "pieces": b"\x02" * 60,
    },
}
write("torrent", "single", ben(single))
write("torrent", "multi", ben(multi))

# magnet
h = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
for name, data in {
    "hex": "magnet:?xt=urn:btih:%s&dn=a+b%%20c&tr=http%%3A%%2F%%2Ft%%2Fa&tr=udp://t:1&ws=http://w/&x.pe=127.0.0.1:6881" % h,
    "base32": "magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK&dn=x",
    "btmh": "magnet:?xt=urn:btmh:1220" + "ab" * 32 + "&xt.1=urn:btih:" + h,
    "bad": "magnet:?xt=urn:btih:123&dn=%zz%4",
}.items():
    write("magnet", name, data.encode())

# peer: limits (piece length - 1, pieces - 1, last - 1; u32 little-endian), then messages
limits = u32le(32 * 1024 - 1) + u32le(9) + u32le(999)
stream = (
    b"\0\0\0\0"
    + msg(0)
    + msg(1)
    + msg(2)
    + msg(3)
    + msg(4, struct.pack(">I", 3))
    + msg(5, b"\xff\xc0")
    + msg(6, struct.pack(">III", 1, 16384, 16384))
    + msg(7, struct.pack(">II", 9, 0) + b"x" * 100)
    + msg(8, struct.pack(">III", 9, 0, 1000))
    + msg(9, struct.pack(">H", 6881))
    + msg(13, struct.pack(">I", 2))
    + msg(14)
    + msg(15)
    + msg(16, struct.pack(">III", 0, 0, 16384))
    + msg(17, struct.pack(">I", 5))
    + msg(20, b"\x00" + ben({"m": {"ut_pex": 1}}))
)
write("peer", "all-messages", limits + stream)
write("peer", "too-large", limits + struct.pack(">I", 1 << 20) + b"\x07")
write("peer", "partial", limits + msg(7, struct.pack(">II", 0, 0) + b"y" * 50)[:30])
# BEP 52: hash request, hashes (4 hashes and 2 uncles), hash reject
hreq = b"\x07" * 32 + struct.pack(">IIII", 1, 8, 4, 2)
write("peer", "hash-messages", limits + msg(21, hreq) + msg(22, hreq + b"\x09" * 32 * 6) + msg(23, hreq))

# handshake: the 68 bytes, one byte, then an extension handshake payload
hs = b"\x13BitTorrent protocol" + b"\0\0\0\0\0\x10\0\x04" + b"\x42" * 20 + b"-BT0100-" + b"7" * 12
ext = ben({"m": {"ut_metadata": 1, "ut_pex": 2}, "p": 6881, "reqq": 250, "v": "bt 0.1"})
write("handshake", "ours", hs + b"\x00" + ext)
write("handshake", "bad-protocol", b"\x13BitTorrent protocoX" + b"\0" * 48)
write("handshake", "ext-only", b"x" + b"d1:md6:ut_pexi300eee")


# mse: mode, u16 pad_b, u8 max_ia, u32 chunk seed, then (structured mode) u16 pad_a, u8 torrent
# and the plaintext the target encrypts: VC, crypto_provide, len(PadC), PadC, len(IA), IA
def mse_seed(mode, pad_b, max_ia, seed, pad_a, torrent, provide, pad_c, ia):
    head = bytes([mode]) + struct.pack("<H", pad_b) + bytes([max_ia]) + u32le(seed)
    if mode & 1 == 0:
        return head + ia
    plain = b"\0" * 8 + struct.pack(">IH", provide, pad_c) + b"\0" * pad_c
    plain += struct.pack(">H", len(ia)) + ia
    return head + struct.pack("<H", pad_a) + bytes([torrent]) + plain + b"TRAILING"


write("mse", "plain", mse_seed(1 | (2 << 1), 13, 1, 7, 0, 1, 3, 7, hs))
write("mse", "rc4", mse_seed(1 | (1 << 1), 0, 3, 9, 512, 0, 2, 0, b"hello"))
write("mse", "unknown-torrent", mse_seed(1, 5, 1, 1, 10, 2, 1, 0, b""))
write("mse", "raw", mse_seed(0, 0, 1, 3, 0, 0, 0, 0, bytes(range(256)) * 3))

# tracker_http: which (bit 0: scrape; bit 1: peers6 for the compact check), then the body
peers = bytes([127, 0, 0, 1, 0x1A, 0xE1, 10, 0, 0, 2, 0, 80])
peers6 = b"\0" * 15 + b"\x01" + b"\x1a\xe1"
write("tracker_http", "compact", b"\0" + ben({"interval": 1800, "complete": 3, "incomplete": 1, "peers": peers, "peers6": peers6}))
write("tracker_http", "dict-peers", b"\0" + ben({"interval": 60, "peers": [{"ip": "127.0.0.1", "port": 6881, "peer id": "x" * 20}, {"ip": "::1", "port": 1}]}))
write("tracker_http", "failure", b"\0" + ben({"failure reason": "unregistered torrent"}))
write("tracker_http", "warning", b"\0" + ben({"warning message": "slow down", "min interval": 30, "tracker id": "abc", "peers": ""}))
write("tracker_http", "scrape", b"\x01" + ben({"files": {b"\x42" * 20: {"complete": 1, "incomplete": 2, "downloaded": 3}}}))

# tracker_udp: which (0 connect, 1 announce v4, 2 announce v6, 3 scrape of which>>2 hashes)
tid = struct.pack(">I", 0x12345678)
write("tracker_udp", "connect", b"\0" + struct.pack(">I", 0) + tid + struct.pack(">Q", 0x41727101980))
write("tracker_udp", "announce4", b"\x01" + struct.pack(">I", 1) + tid + struct.pack(">III", 1800, 2, 5) + peers)
write("tracker_udp", "announce6", b"\x02" + struct.pack(">I", 1) + tid + struct.pack(">III", 900, 0, 1) + peers6)
write("tracker_udp", "scrape", bytes([3 | (2 << 2)]) + struct.pack(">I", 2) + tid + struct.pack(">6I", 1, 2, 3, 4, 5, 6))
write("tracker_udp", "error", b"\x01" + struct.pack(">I", 3) + tid + b"torrent not registered")

# bound_http: u16 read-size seed, then the stream
for name, data in {
    "length": b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabcdef",
    "eof": b"HTTP/1.0 200 OK\r\n\r\nd8:intervali60ee",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x\r\nde\r\n0\r\n\r\n",
    "redirect": b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n",
    "too-large": b"HTTP/1.0 200 OK\r\nContent-Length: 99999999\r\n\r\n",
    "not-http": b"SSH-2.0\r\n\r\n",
}.items():
    write("bound_http", name, struct.pack("<H", len(name)) + data)

# peer_line
for name, data in {
    "json": b'{"type":"peer","ip":"127.0.0.1","port":6881,"tracker":"http://t/a"}',
    "json6": b'{"type":"peer","ip":"::1","port":1}',
    "other-record": b'{"type":"announce","ok":true}',
    "plain4": b"10.0.0.1:51413",
    "plain6": b"[2001:db8::1]:6881\n",
    "blank": b"   \n",
    "bad": b'{"type":"peer","ip":"example.org","port":1}',
}.items():
    write("peer_line", name, data)


# picker: u32 size, u8 exponent (under 230: up to 2^10 pieces, else up to 2^20), u8 piece-length exponent, u32 last, u32 rng seed, u8 have
# pattern, then operations (op, peer, [new peer's pattern], operands)
def picker_seed(count, exp, pl_exp, last, seed, have, ops):
    return u32le(count) + bytes([exp, pl_exp]) + u32le(last) + u32le(seed) + bytes([have]) + ops


ops = b""
for _ in range(30):
    ops += bytes([0, 0, 0, 63])  # peer 1 (all pieces) picks 64 blocks
    ops += bytes([2, 0, 1, 0])  # the first block it was asked for arrives
    ops += bytes([3, 0, 0, 1])  # a write finishes
    ops += bytes([4, 0, 1, 0, 1])  # a piece is hashed
write("picker", "one-peer", picker_seed(9, 4, 4, 20000, 1, 0, ops))
ops = bytes([0, 1, 2, 10, 0, 2, 3, 10, 7, 1, 5, 2, 0, 6, 2, 5, 0, 0, 0, 7, 0]) * 8
write("picker", "peers-come-and-go", picker_seed(100, 8, 6, 1, 2, 3, ops))
write("picker", "large", picker_seed((1 << 20) - 1, 239, 4, 5, 3, 1, bytes([0, 0, 0, 63, 2, 0, 1, 0])))

# krpc: one UDP payload (BEP 5 and BEP 32 messages)
nid = b"abcdefghij0123456789"
write("krpc", "ping", ben({"t": "aa", "y": "q", "q": "ping", "a": {"id": nid}}))
write("krpc", "find_node", ben({"t": "aa", "y": "q", "q": "find_node", "a": {"id": nid, "target": b"m" * 20}}))
write("krpc", "get_peers", ben({"t": "aa", "y": "q", "q": "get_peers", "a": {"id": nid, "info_hash": b"i" * 20, "want": ["n4", "n6"]}}))
write("krpc", "announce_peer", ben({"t": "aa", "y": "q", "q": "announce_peer", "a": {"id": nid, "implied_port": 1, "info_hash": b"i" * 20, "port": 6881, "token": "aoeusnth"}}))
node4 = nid + bytes([127, 0, 0, 1]) + struct.pack(">H", 6881)
node6 = nid + bytes(15) + b"\x01" + struct.pack(">H", 6881)
write("krpc", "nodes", ben({"t": "aa", "y": "r", "r": {"id": nid, "nodes": node4 * 8, "nodes6": node6 * 2}}))
write("krpc", "values", ben({"t": "aa", "y": "r", "r": {"id": nid, "token": "tok", "values": [bytes([10, 0, 0, 1, 0x1a, 0xe1]), bytes(16) + b"\x1a\xe1"]}}))
write("krpc", "error", ben({"t": "aa", "y": "e", "e": [203, "bad token"]}))
write("krpc", "partial-node", ben({"t": "aa", "y": "r", "r": {"id": nid, "nodes": node4[:25]}}))

print("seeds written to", ROOT)
