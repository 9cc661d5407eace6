#!/usr/bin/python3
"""check_dsn.py: parses a delivery status notification with Python's `email`
package (a parser nobody here wrote) and prints what a mail client sees, as
JSON: the report structure (RFC 6522) and the delivery-status fields (RFC 3464).
Usage: check_dsn.py FILE   (exit 1 with a message when it is no DSN)."""
import email
import email.policy
import json
import sys


def main():
    raw = open(sys.argv[1], 'rb').read()
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    out = {'content_type': msg.get_content_type(),
           'report_type': msg.get_param('report-type'),
           'from': msg.get('From', ''), 'to': msg.get('To', ''),
           'subject': msg.get('Subject', ''), 'auto_submitted': msg.get('Auto-Submitted', ''),
           'defects': [type(d).__name__ for d in msg.defects]}
    if not msg.is_multipart():
        print(json.dumps(out))
        return 1
    parts = msg.get_payload()
    out['parts'] = [p.get_content_type() for p in parts]
    for p in msg.walk():
        out['defects'] += [type(d).__name__ for d in p.defects]
    text = parts[0].get_payload(decode=True).decode(parts[0].get_content_charset() or 'ascii')
    out['text'] = text
    status = parts[1]
    blocks = status.get_payload()  # per-message fields, then one block per recipient
    out['per_message'] = {k: v for k, v in blocks[0].items()}
    out['recipients'] = [{k: v for k, v in b.items()} for b in blocks[1:]]
    third = parts[2]
    if third.get_content_type() == 'message/rfc822':
        inner = third.get_payload()[0]
        out['returned'] = {'kind': 'full', 'subject': inner.get('Subject', ''),
                           'body': inner.get_payload()}
    else:
        hdr = email.message_from_string(third.get_payload(), policy=email.policy.compat32)
        out['returned'] = {'kind': 'headers', 'subject': hdr.get('Subject', ''),
                           'message_id': hdr.get('Message-ID', '')}
    print(json.dumps(out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
