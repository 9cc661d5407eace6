#!/usr/bin/env python3
"""hold_session.py: opens an authenticated STARTTLS session, writes READY_FILE,
waits (at most 60 s) for GO_FILE, then sends one message on the same session.
Used to show that a SIGHUP certificate reload does not drop running sessions.
Usage: hold_session.py PORT USER PASSWORD READY_FILE GO_FILE"""
import os
import smtplib
import ssl
import sys
import time

port, user, password, ready, go = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", port, timeout=60)
s.ehlo("hold.test")
s.starttls(context=ctx)
s.ehlo("hold.test")
s.login(user, password)
open(ready, "w").close()
deadline = time.time() + 60
while not os.path.exists(go):
    if time.time() > deadline:
        sys.exit("no go file")
    s.noop()
    time.sleep(0.2)
s.sendmail("news@example.com", ["held@dest.test"], b"Subject: held\r\n\r\nsent after SIGHUP\r\n")
s.quit()
print("sent")
