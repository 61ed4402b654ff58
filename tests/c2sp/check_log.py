#!/usr/bin/env python3
"""Independent verifier for Mamori's transparency log, written from the public specs only.

Specs implemented here (no code shared with the Rust implementation):
  * RFC 6962 s2.1   Merkle Tree Hash (MTH), audit paths (PATH)
  * RFC 9162 s2.1.3.2  inclusion proof verification
  * RFC 8032 s5.1.7 Ed25519 verification (s5.1.6 signing is used by `selftest` only).
    Verification uses the COFACTORLESS equation [S]B == R + [k]A, which RFC 8032 calls
    "sufficient" (Go's crypto/ed25519 does the same). It rejects S >= L, and, following the
    RFC 8032 reference code, point encodings with y >= p (Go accepts those for A and R).
  * c2sp.org/signed-note, c2sp.org/tlog-checkpoint, c2sp.org/tlog-tiles, c2sp.org/tlog-proof

`log` checks: checkpoint signature and origin == key name; when size <= 100000 (or --all) every
level-0 hash against SHA-256(0x00||entry) of the entry bundles, the root against the checkpoint,
and every level >= 1 tile against the level below; then, for each index (default: first, middle,
last), an inclusion proof built from the tiles, verified per RFC 9162. Content-Type deviations
are reported as warnings only.

Usage:
  check_log.py log --url PREFIX --key VKEY [--indices 0,5,1000] [--all]
  check_log.py proof --key VKEY --origin ORIGIN --entry-file FILE PROOF.tlog-proof
  check_log.py selftest
"""
import argparse
import base64
import gzip
import hashlib
import sys
import urllib.error
import urllib.request


class CheckFailed(Exception):
    pass


def sha256(*parts):
    return hashlib.sha256(b"".join(parts)).digest()


def b64decode_strict(s, what):
    try:
        raw = base64.b64decode(s, validate=True)
    except ValueError as e:
        raise CheckFailed(f"{what}: not valid base64: {s!r}") from e
    if base64.b64encode(raw).decode() != s:
        raise CheckFailed(f"{what}: non-canonical base64: {s!r}")
    return raw


# ---------------------------------------------------------------- RFC 8032 Ed25519
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493  # group order (called q / L in RFC 8032)
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def point_add(p1, p2):  # extended coordinates (X, Y, Z, T), RFC 8032 s5.1.4
    a = (p1[1] - p1[0]) * (p2[1] - p2[0]) % P
    b = (p1[1] + p1[0]) * (p2[1] + p2[0]) % P
    c = 2 * p1[3] * p2[3] * D % P
    d = 2 * p1[2] * p2[2] % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def scalar_mult(s, point):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = point_add(q, point)
        point = point_add(point, point)
        s >>= 1
    return q


def points_equal(p1, p2):
    return (p1[0] * p2[2] - p2[0] * p1[2]) % P == 0 and (p1[1] * p2[2] - p2[1] * p1[2]) % P == 0


def recover_x(y, sign):
    if y >= P:
        return None  # non-canonical encoding
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    if x2 % P == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    return P - x if (x & 1) != sign else x


def point_decompress(s):  # RFC 8032 s5.1.3
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % P)


def point_compress(pt):
    zinv = pow(pt[2], P - 2, P)
    x, y = pt[0] * zinv % P, pt[1] * zinv % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


BASE_Y = 4 * pow(5, P - 2, P) % P
BASE = (recover_x(BASE_Y, 0), BASE_Y, 1, recover_x(BASE_Y, 0) * BASE_Y % P)


def ed25519_verify(public_key, message, signature):
    """RFC 8032 s5.1.7, cofactorless check [S]B == R + [k]A."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a_point, r_point = point_decompress(public_key), point_decompress(signature[:32])
    if a_point is None or r_point is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= L:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little") % L
    return points_equal(scalar_mult(s, BASE), point_add(r_point, scalar_mult(k, a_point)))


def ed25519_sign(seed, message):
    """RFC 8032 s5.1.6 (selftest only). Returns (public_key, signature)."""
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little") & ((1 << 254) - 8) | (1 << 254)
    public_key = point_compress(scalar_mult(a, BASE))
    r = int.from_bytes(hashlib.sha512(h[32:] + message).digest(), "little") % L
    r_enc = point_compress(scalar_mult(r, BASE))
    k = int.from_bytes(hashlib.sha512(r_enc + public_key + message).digest(), "little") % L
    return public_key, r_enc + ((r + k * a) % L).to_bytes(32, "little")


# ---------------------------------------------------------------- c2sp.org/signed-note
def key_id(name, sig_type, public_key):
    return sha256(name.encode(), b"\n", bytes([sig_type]), public_key)[:4]


def parse_verifier_key(vkey):
    """'<name>+<hex key id>+<base64(0x01 || pubkey)>' -> (name, key_id bytes, pubkey)."""
    parts = vkey.split("+", 2)
    if len(parts) != 3 or not parts[0] or any(c.isspace() for c in parts[0]):
        raise CheckFailed(f"malformed verifier key {vkey!r}")
    name, hex_id, material = parts
    raw = b64decode_strict(material, "verifier key")
    if len(hex_id) != 8 or len(raw) != 33 or raw[0] != 0x01:
        raise CheckFailed(f"verifier key {vkey!r}: want 8 hex digits and 0x01 || 32-byte Ed25519 key")
    if key_id(name, 0x01, raw[1:]).hex() != hex_id.lower():
        raise CheckFailed(f"verifier key {vkey!r}: key id does not match SHA-256(name||0x0A||0x01||key)[:4]")
    return name, bytes.fromhex(hex_id), raw[1:]


def open_signed_note(note_bytes, vkey):
    """Verify a signed note against one verifier key; return the note text (str)."""
    name, kid, pub = parse_verifier_key(vkey)
    try:
        note = note_bytes.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CheckFailed("signed note: not valid UTF-8") from e
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise CheckFailed("signed note: contains ASCII control characters")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise CheckFailed("signed note: no blank line before signatures / missing final newline")
    text, sig_block = note[: split + 1], note[split + 2:]
    verified = 0
    for line in sig_block[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise CheckFailed(f"signed note: malformed signature line {line!r}")
        sig_name, _, sig_b64 = line[2:].rpartition(" ")
        if not sig_name or " " in sig_name or "+" in sig_name:
            raise CheckFailed(f"signed note: bad key name in {line!r}")
        sig = b64decode_strict(sig_b64, "signature line")
        if len(sig) < 5:
            raise CheckFailed(f"signed note: signature too short in {line!r}")
        if sig_name != name or sig[:4] != kid:
            continue  # unknown key: MUST be ignored
        if not ed25519_verify(pub, text.encode("utf-8"), sig[4:]):
            raise CheckFailed(f"signed note: Ed25519 signature by {name}+{kid.hex()} does not verify")
        verified += 1
    if verified == 0:
        raise CheckFailed(f"signed note: no signature by {name}+{kid.hex()}")
    return text


# ---------------------------------------------------------------- c2sp.org/tlog-checkpoint
def parse_checkpoint(text):
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(not ln for ln in lines):
        raise CheckFailed(f"checkpoint: need >= 3 non-empty lines, got {lines!r}")
    origin, size_s, root_b64 = lines[:3]
    if not size_s.isdigit() or not size_s.isascii() or (size_s != "0" and size_s.startswith("0")):
        raise CheckFailed(f"checkpoint: bad tree size {size_s!r}")
    root = b64decode_strict(root_b64, "checkpoint root hash")
    if len(root) != 32:
        raise CheckFailed("checkpoint: root hash is not 32 bytes")
    return origin, int(size_s), root, lines[3:]


# ---------------------------------------------------------------- RFC 6962 / RFC 9162 Merkle trees
def leaf_hash(entry):
    return sha256(b"\x00", entry)


def node_hash(left, right):
    return sha256(b"\x01", left, right)


def largest_power_of_two_below(n):  # k < n <= 2k, n > 1
    return 1 << ((n - 1).bit_length() - 1)


def merkle_tree_hash(hashes):
    """MTH over already-hashed leaves (or over subtree hashes of equal height)."""
    n = len(hashes)
    if n == 0:
        return sha256()
    if n == 1:
        return hashes[0]
    k = largest_power_of_two_below(n)
    return node_hash(merkle_tree_hash(hashes[:k]), merkle_tree_hash(hashes[k:]))


def audit_path(m, n, range_hash, start=0):
    """RFC 6962 s2.1.1 PATH(m, D[start:start+n]); range_hash(a, b) returns MTH(D[a:b])."""
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        return audit_path(m, k, range_hash, start) + [range_hash(start + k, start + n)]
    return audit_path(m - k, n - k, range_hash, start + k) + [range_hash(start, start + k)]


def root_from_inclusion_proof(leaf_index, tree_size, leaf, proof):
    """RFC 9162 s2.1.3.2; returns the computed root or None if the proof is malformed."""
    if leaf_index >= tree_size:
        return None
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:  # LSB(fn) not set: shift until it is, or fn is 0
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def verify_inclusion(leaf_index, tree_size, leaf, proof, root):
    return root_from_inclusion_proof(leaf_index, tree_size, leaf, proof) == root


# ---------------------------------------------------------------- c2sp.org/tlog-tiles
def tile_index_path(n):
    s = f"{n % 1000:03d}"
    while n >= 1000:
        n //= 1000
        s = f"x{n % 1000:03d}/{s}"
    return s


def tiles_at_level(level, tree_size):
    """[(tile_number, width)] of the tiles a tree of tree_size has at `level` (last may be partial)."""
    count = tree_size // 256**level  # hashes of tree level 8*level
    tiles = [(n, 256) for n in range(count // 256)]
    return tiles + ([(count // 256, count % 256)] if count % 256 else [])


def tile_path(level, n, width):  # level may be "entries"
    return f"tile/{level}/{tile_index_path(n)}" + (f".p/{width}" if width < 256 else "")


def parse_entry_bundle(data, path):
    entries, i = [], 0
    while i < len(data):
        if i + 2 > len(data):
            raise CheckFailed(f"{path}: truncated length prefix at byte {i}")
        length = int.from_bytes(data[i:i + 2], "big")
        if i + 2 + length > len(data):
            raise CheckFailed(f"{path}: truncated entry at byte {i}")
        entries.append(data[i + 2:i + 2 + length])
        i += 2 + length
    return entries


class TileLog:
    """Fetches (and caches) the resources of a tiled log below a URL prefix."""

    def __init__(self, prefix, fetch=None):
        self.prefix, self.cache, self.warnings, self.used = prefix.rstrip("/"), {}, [], set()
        self.fetch = fetch or self.http_get

    def http_get(self, path, content_type):
        req = urllib.request.Request(f"{self.prefix}/{path}", headers={"Accept-Encoding": "gzip, identity"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                body, headers = resp.read(), resp.headers
        except (urllib.error.URLError, OSError) as e:
            raise CheckFailed(f"GET {self.prefix}/{path}: {e}") from e
        if headers.get("Content-Encoding", "identity") == "gzip":
            body = gzip.decompress(body)
        got = headers.get("Content-Type", "")
        if got.replace(" ", "").lower() != content_type.replace(" ", "").lower():
            self.warnings.append(f"{path}: Content-Type {got!r}, spec says {content_type!r}")
        return body

    def checkpoint(self):
        return self.fetch("checkpoint", "text/plain; charset=utf-8")

    def tile(self, level, n, width):
        path = tile_path(level, n, width)
        if path not in self.cache:
            data = self.fetch(path, "application/octet-stream")
            if level == "entries":
                value = parse_entry_bundle(data, path)
                if len(value) != width:
                    raise CheckFailed(f"{path}: {len(value)} entries, want {width}")
            else:
                if len(data) != 32 * width:
                    raise CheckFailed(f"{path}: {len(data)} bytes, want {32 * width}")
                value = [data[i:i + 32] for i in range(0, len(data), 32)]
            self.cache[path] = value
        return self.cache[path]

    def tile_holding(self, level, index, tree_size):
        """The tile at `level` holding hash number `index` of tree level 8*level; (tile, path)."""
        lvl, n = (0 if level == "entries" else level), index // 256
        full_tiles = tree_size // 256 ** (lvl + 1)
        width = 256 if n < full_tiles else (tree_size // 256**lvl) % 256
        if index % 256 >= width:
            raise CheckFailed(f"hash {index} at tile level {level} is beyond tree size {tree_size}")
        self.used.add(tile_path(level, n, width))
        return self.tile(level, n, width), tile_path(level, n, width)

    def subtree_hash(self, height, index, tree_size):
        """Hash of the perfect subtree of 2**height leaves starting at leaf index*2**height."""
        level, rest = divmod(height, 8)
        first = index << rest
        hashes = [self.tile_holding(level, first + i, tree_size)[0][(first + i) % 256] for i in range(1 << rest)]
        return merkle_tree_hash(hashes)

    def range_hash(self, start, end, tree_size):
        """MTH(D[start:end]) built from tiles; start is aligned as in RFC 6962 recursion."""
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            return self.subtree_hash(n.bit_length() - 1, start // n, tree_size)
        k = largest_power_of_two_below(n)
        return node_hash(self.range_hash(start, start + k, tree_size), self.range_hash(start + k, end, tree_size))

    def inclusion_proof(self, index, tree_size):
        return audit_path(index, tree_size, lambda a, b: self.range_hash(a, b, tree_size))


# ---------------------------------------------------------------- commands
def check_whole_tree(log, size, root):
    """Level-0 tiles vs entry bundles, root vs checkpoint, every higher-level tile vs level below."""
    level0 = []
    for n, width in tiles_at_level(0, size):
        hashes = log.tile(0, n, width)
        entries = log.tile("entries", n, width)
        for i, (h, entry) in enumerate(zip(hashes, entries)):
            if len(entry) != 32:
                raise CheckFailed(f"entry {n * 256 + i} ({tile_path('entries', n, width)}): "
                                  f"{len(entry)} bytes, Mamori entries are 32-byte digests")
            if leaf_hash(entry) != h:
                raise CheckFailed(f"entry {n * 256 + i}: SHA-256(0x00||entry) from {tile_path('entries', n, width)} "
                                  f"!= hash {i} of {tile_path(0, n, width)}")
        level0 += hashes
    if merkle_tree_hash(level0) != root:
        raise CheckFailed(f"root recomputed from level-0 tiles != checkpoint root (size {size})")
    below, level, checked = level0, 1, 0
    while size // 256**level > 0:
        expected = [merkle_tree_hash(below[j * 256:(j + 1) * 256]) for j in range(len(below) // 256)]
        for n, width in tiles_at_level(level, size):
            got = log.tile(level, n, width)
            for i in range(width):
                if got[i] != expected[n * 256 + i]:
                    raise CheckFailed(f"{tile_path(level, n, width)} hash {i} != MTH of full tile below")
            checked += 1
        below, level = expected, level + 1
    return checked


def cmd_log(args):
    log = TileLog(args.url)
    name, _, _ = parse_verifier_key(args.key)
    origin, size, root, _ = parse_checkpoint(open_signed_note(log.checkpoint(), args.key))
    if origin != name:
        raise CheckFailed(f"checkpoint origin {origin!r} != key name {name!r}")
    whole = args.all or size <= 100000
    upper = check_whole_tree(log, size, root) if whole else 0
    if args.indices:
        indices = sorted({int(x) for x in args.indices.split(",") if x.strip()})
    else:
        indices = sorted({0, size // 2, size - 1}) if size else []
    for index in indices:
        if index >= size:
            raise CheckFailed(f"index {index}: not below tree size {size}")
        log.used.clear()
        bundle, _ = log.tile_holding("entries", index, size)
        proof = log.inclusion_proof(index, size)
        if not verify_inclusion(index, size, leaf_hash(bundle[index % 256]), proof, root):
            raise CheckFailed(f"index {index}: inclusion proof built from tiles does not verify "
                              f"(tiles used: {', '.join(sorted(log.used))})")
    for w in log.warnings:
        print(f"warning: {w}", file=sys.stderr)
    scope = f"all {size} entries + {upper} upper-level tiles" if whole else "tiles not exhaustively checked (size > 100000, use --all)"
    print(f"OK {origin} size={size} root={base64.b64encode(root).decode()}: {scope}; "
          f"{len(indices)} inclusion proofs verified; {len(log.warnings)} warnings")


def parse_tlog_proof(data):
    """c2sp.org/tlog-proof@v1 -> (extra or None, index, [hashes], checkpoint bytes)."""
    head, sep, checkpoint = data.partition(b"\n\n")
    if not sep:
        raise CheckFailed("tlog-proof: no empty line before the checkpoint")
    lines = head.decode("utf-8").split("\n")
    if lines[0] != "c2sp.org/tlog-proof@v1":
        raise CheckFailed(f"tlog-proof: bad header line {lines[0]!r}")
    extra, rest = None, lines[1:]
    if rest and rest[0].startswith("extra "):
        extra, rest = b64decode_strict(rest[0][6:], "tlog-proof extra"), rest[1:]
    if not rest or not rest[0].startswith("index "):
        raise CheckFailed("tlog-proof: missing 'index N' line")
    idx = rest[0][6:]
    if not (idx.isascii() and idx.isdigit()) or (idx != "0" and idx.startswith("0")):
        raise CheckFailed(f"tlog-proof: bad index {idx!r}")
    hashes = [b64decode_strict(h, "tlog-proof hash") for h in rest[1:]]
    if any(len(h) != 32 for h in hashes):
        raise CheckFailed("tlog-proof: proof hash is not 32 bytes")
    return extra, int(idx), hashes, checkpoint


def verify_tlog_proof(data, vkey, origin, leaf):
    _, index, hashes, checkpoint = parse_tlog_proof(data)
    cp_origin, size, root, _ = parse_checkpoint(open_signed_note(checkpoint, vkey))
    if cp_origin != origin:
        raise CheckFailed(f"tlog-proof: checkpoint origin {cp_origin!r} != expected {origin!r}")
    if not verify_inclusion(index, size, leaf, hashes, root):
        raise CheckFailed(f"tlog-proof: inclusion proof for index {index} in tree of size {size} does not verify")
    return index, size


def cmd_proof(args):
    with open(args.entry_file, "rb") as f:
        entry = sha256(f.read())
    with open(args.proof_file, "rb") as f:
        index, size = verify_tlog_proof(f.read(), args.key, args.origin, leaf_hash(entry))
    print(f"OK entry {entry.hex()} is at index {index} of {args.origin} size {size}")


# ---------------------------------------------------------------- selftest (known answers)
# RFC 6962 test vectors of the certificate-transparency reference implementation, as published in
# transparency-dev/merkle testonly/constants.go (LeafInputs, RootHashes, NodeHashes).
CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
CT_ROOTS = [  # indexed by tree size
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]
CT_PATHS = [(0, 1, []), (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
            (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
            (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
            (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"])]
RFC8032_TESTS = [  # RFC 8032 s7.1 TEST 1-3: (secret key, public key, message, signature)
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a")]
# golang.org/x/mod/sumdb/note package documentation and note_test.go.
GO_NOTE_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY_B64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"  # from PRIVATE+KEY+PeterNeumann+c74f20a3+...
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
PETER_SIG = "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
ENOCH_SIG = "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"


def expect(cond, what):
    if not cond:
        raise CheckFailed(f"selftest: {what}")


def expect_failure(fn, what):
    try:
        fn()
    except CheckFailed:
        return
    raise CheckFailed(f"selftest: {what} was accepted")


def synthetic_tiles(size):
    """Serve a log of `size` entries straight from the tlog-tiles definition (no shortcuts)."""
    entries = [sha256(i.to_bytes(8, "big")) for i in range(size)]
    leaves = [leaf_hash(e) for e in entries]
    files = {}
    for n, w in tiles_at_level(0, size):
        files[tile_path("entries", n, w)] = b"".join(len(e).to_bytes(2, "big") + e for e in entries[n * 256:n * 256 + w])
    level = 0
    while size // 256**level:
        for n, w in tiles_at_level(level, size):
            span = 256**level
            files[tile_path(level, n, w)] = b"".join(
                merkle_tree_hash(leaves[(n * 256 + i) * span:(n * 256 + i + 1) * span]) for i in range(w))
        level += 1
    return leaves, files


def serve_from(files):
    def fetch(path, _content_type):
        if path not in files:
            raise CheckFailed(f"404 {path}")
        return files[path]
    return fetch


def selftest():
    leaves = [leaf_hash(bytes.fromhex(x)) for x in CT_LEAVES]
    for size in range(9):
        expect(merkle_tree_hash(leaves[:size]).hex() == CT_ROOTS[size], f"MTH of {size} CT leaves")
    in_memory = lambda hashes: (lambda a, b: merkle_tree_hash(hashes[a:b]))  # noqa: E731
    for index, size, path in CT_PATHS:
        proof = [bytes.fromhex(h) for h in path]
        root = bytes.fromhex(CT_ROOTS[size])
        expect(audit_path(index, size, in_memory(leaves)) == proof, f"PATH({index}, D[{size}])")
        expect(verify_inclusion(index, size, leaves[index], proof, root), f"inclusion {index}/{size}")
        flipped = [[p[:5] + bytes([p[5] ^ 1]) + p[6:]] + proof[1:] for p in proof[:1]]
        for bad in flipped + [proof + [root]]:
            expect(not verify_inclusion(index, size, leaves[index], bad, root), f"bad proof {index}/{size}")
        expect(not verify_inclusion(index ^ 1, size, leaves[index], proof, root), f"wrong index {index}/{size}")
    for size in range(1, 9):
        for index in range(size):
            proof = audit_path(index, size, in_memory(leaves))
            expect(verify_inclusion(index, size, leaves[index], proof, bytes.fromhex(CT_ROOTS[size])), "all CT")

    expect(tile_index_path(1234067) == "x001/x234/067" and tile_index_path(5) == "005", "tile index path")
    expect(tile_path(0, 1000, 7) == "tile/0/x001/000.p/7" and tile_path(2, 3, 256) == "tile/2/003", "tile path")
    counts = [(len(tiles_at_level(lv, 70000)), tiles_at_level(lv, 70000)[-1][1]) for lv in range(3)]
    expect(counts == [(274, 112), (2, 17), (1, 1)] and not tiles_at_level(3, 70000), "tlog-tiles 70,000 example")
    expect(tiles_at_level(1, 256) == [(0, 1)], "size 256 has a partial level 1 tile of width 1")
    for size in (1, 255, 256, 257, 513, 65536, 70000):
        hashes, files = synthetic_tiles(size)
        log = TileLog("synthetic", fetch=serve_from(files))
        check_whole_tree(log, size, merkle_tree_hash(hashes))
        for index in sorted({0, 1, size // 3, size - 2, size - 1} - {-1}):
            expect(log.inclusion_proof(index, size) == audit_path(index, size, in_memory(hashes)),
                   f"tile-built proof {index}/{size}")
        if size >= 65536:  # a corrupted upper-level tile must be caught
            path = tile_path(1, 0, 256)
            files[path] = files[path][:40] + bytes([files[path][40] ^ 1]) + files[path][41:]
            expect_failure(lambda: check_whole_tree(TileLog("s", fetch=serve_from(files)), size,
                                                    merkle_tree_hash(hashes)), f"corrupt {path}")

    for seed, pub, msg, sig in RFC8032_TESTS:
        pub, msg, sig = bytes.fromhex(pub), bytes.fromhex(msg), bytes.fromhex(sig)
        expect(ed25519_verify(pub, msg, sig), f"RFC 8032 verify {pub.hex()[:8]}")
        expect(ed25519_sign(bytes.fromhex(seed), msg) == (pub, sig), f"RFC 8032 sign {pub.hex()[:8]}")
        expect(not ed25519_verify(pub, msg + b"x", sig), "tampered message")
        s_plus_l = (int.from_bytes(sig[32:], "little") + L).to_bytes(32, "little")
        expect(not ed25519_verify(pub, msg, sig[:32] + s_plus_l), "non-canonical S")

    expect(parse_verifier_key(PETER_VKEY)[1].hex() == "c74f20a3", "PeterNeumann key id")
    peter_seed = base64.b64decode(PETER_SKEY_B64)[1:]
    _, peter_sig = ed25519_sign(peter_seed, GO_NOTE_TEXT.encode())
    expect(base64.b64encode(bytes.fromhex("c74f20a3") + peter_sig).decode() in PETER_SIG, "re-sign Go note")
    for vkey in (PETER_VKEY, ENOCH_VKEY):
        note = (GO_NOTE_TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode()
        expect(open_signed_note(note, vkey) == GO_NOTE_TEXT, f"Go signed note with {vkey[:12]}")
    expect(open_signed_note((GO_NOTE_TEXT + "\n" + PETER_SIG).encode(), PETER_VKEY) == GO_NOTE_TEXT, "Go note")
    expect_failure(lambda: open_signed_note((GO_NOTE_TEXT + "\n" + PETER_SIG).encode(), ENOCH_VKEY), "unknown key")
    expect_failure(lambda: open_signed_note((GO_NOTE_TEXT.replace("If", "if") + "\n" + PETER_SIG).encode(),
                                            PETER_VKEY), "altered note text")

    root8 = base64.b64encode(bytes.fromhex(CT_ROOTS[8])).decode()
    checkpoint_text = f"PeterNeumann\n8\n{root8}\n"
    cp_sig = base64.b64encode(bytes.fromhex("c74f20a3") + ed25519_sign(peter_seed, checkpoint_text.encode())[1])
    checkpoint = f"{checkpoint_text}\n\u2014 PeterNeumann {cp_sig.decode()}\n"
    path5 = "".join(base64.b64encode(bytes.fromhex(h)).decode() + "\n" for h in CT_PATHS[4][2])
    for extra in ("", "extra bWFtb3Jp\n"):
        proof = f"c2sp.org/tlog-proof@v1\n{extra}index 5\n{path5}\n{checkpoint}".encode()
        expect(verify_tlog_proof(proof, PETER_VKEY, "PeterNeumann", leaves[5]) == (5, 8), "tlog-proof")
    expect_failure(lambda: verify_tlog_proof(proof.replace(b"index 5", b"index 4"), PETER_VKEY, "PeterNeumann",
                                             leaves[5]), "tlog-proof with wrong index")
    expect_failure(lambda: verify_tlog_proof(proof, PETER_VKEY, "other", leaves[5]), "tlog-proof wrong origin")
    print("OK selftest: RFC 6962 roots/paths, tlog-tiles layout, RFC 8032 TEST 1-3, Go signed notes, tlog-proof")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    lg = sub.add_parser("log", help="verify a live tiled log")
    lg.add_argument("--url", required=True, help="tile prefix URL, e.g. http://127.0.0.1:8080/tlog/events")
    lg.add_argument("--key", required=True, help="note verifier key name+hexid+base64")
    lg.add_argument("--indices", help="comma-separated entry indices (default: first, middle, last)")
    lg.add_argument("--all", action="store_true", help="check every tile even if size > 100000")
    pr = sub.add_parser("proof", help="verify a .tlog-proof file")
    pr.add_argument("--key", required=True)
    pr.add_argument("--origin", required=True)
    pr.add_argument("--entry-file", required=True, help="the logged bytes; entry = SHA-256(file)")
    pr.add_argument("proof_file")
    sub.add_parser("selftest", help="known-answer tests")
    args = ap.parse_args()
    try:
        {"log": cmd_log, "proof": cmd_proof, "selftest": lambda _: selftest()}[args.command](args)
    except (CheckFailed, OSError, ValueError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
