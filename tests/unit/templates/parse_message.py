#!/usr/bin/python3
# parse_message.py: parses a message file with Python's email package (an
# independent MIME/RFC 2047 implementation) and prints what a mail reader
# would see, as JSON: decoded headers and decoded text/html bodies.
import email
import email.policy
import json
import sys

with open(sys.argv[1], 'rb') as f:
    raw = f.read()
msg = email.message_from_bytes(raw, policy=email.policy.default)
out = {'headers': [[k, str(v)] for k, v in msg.items()], 'defects': [str(d) for d in msg.defects],
       'parts': []}
for part in msg.walk():
    if part.is_multipart():
        out['defects'] += [str(d) for d in part.defects]
        continue
    out['parts'].append({'type': part.get_content_type(),
                         'cte': part.get('Content-Transfer-Encoding', ''),
                         'body': part.get_content(),
                         'defects': [str(d) for d in part.defects]})
print(json.dumps(out))
