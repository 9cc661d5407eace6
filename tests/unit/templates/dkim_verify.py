#!/usr/bin/python3
# dkim_verify.py: verifies every DKIM-Signature of a message with python3-dkim
# (dkimpy, an independent implementation), serving the public keys from the
# DNS TXT record lines that postino printed (no network).
#   usage: dkim_verify.py MESSAGE_FILE RECORDS_FILE
# RECORDS_FILE holds one record per line:
#   sel._domainkey.example.com. IN TXT "v=DKIM1; k=rsa; p=..." "..."
# Prints {"count": N, "results": [true, ...]} and exits 0 iff N > 0 and all
# signatures verify, 1 otherwise.
import json
import re
import sys

import dkim

with open(sys.argv[1], 'rb') as f:
    message = f.read()
records = {}
with open(sys.argv[2]) as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        name = line.split()[0].rstrip('.').lower()
        records[name] = ''.join(re.findall(r'"([^"]*)"', line)).encode()


def dnsfunc(name, timeout=5):
    if isinstance(name, bytes):
        name = name.decode()
    return records.get(name.rstrip('.').lower())


def verify(d, i):
    try:
        return bool(d.verify(idx=i, dnsfunc=dnsfunc))
    except dkim.DKIMException as e:  # e.g. body hash mismatch
        sys.stderr.write('signature %d: %s\n' % (i, e))
        return False


d = dkim.DKIM(message, minkey=2048)
count = sum(1 for k, _ in d.headers if k.lower() == b'dkim-signature')
results = [verify(d, i) for i in range(count)]
print(json.dumps({'count': count, 'results': results}))
sys.exit(0 if count > 0 and all(results) else 1)
