#!/usr/bin/env python3
# Test helper for test-monitor.sh: append one ima-ng entry (binary format, PCR 10) for PATH with
# file digest sha256(CONTENT) to LOG, and print what the kernel would extend into PCR 10:
# "SHA1HEX SHA256HEX" (sha1 / sha256 of the template data) and the file digest.
#   ima-append.py LOG PATH CONTENT
import hashlib
import struct
import sys

log, path, content = sys.argv[1], sys.argv[2], sys.argv[3].encode()
fdigest = hashlib.sha256(content).digest()
d = b"sha256:\0" + fdigest
n = path.encode() + b"\0"
data = struct.pack("<I", len(d)) + d + struct.pack("<I", len(n)) + n
th = hashlib.sha1(data).digest()
name = b"ima-ng"
entry = struct.pack("<I", 10) + th + struct.pack("<I", len(name)) + name + struct.pack("<I", len(data)) + data
with open(log, "ab") as f:
    f.write(entry)
print(hashlib.sha1(data).hexdigest(), hashlib.sha256(data).hexdigest(), fdigest.hex())
