#!/usr/bin/env python3
"""send_many.py: CLIENTS concurrent smtplib sessions (STARTTLS + AUTH PLAIN)
each sending PER messages to r-<client>-<i>@dest.test, one recipient each.
Prints "OK r-<client>-<i>@dest.test" for every message answered 250 (and
only then), flushing each line; a session that loses its connection stops.
Usage: send_many.py PORT USER PASSWORD CLIENTS PER"""
import smtplib
import ssl
import sys
import threading

port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
clients, per = int(sys.argv[4]), int(sys.argv[5])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
lock = threading.Lock()


def client(c):
    try:
        s = smtplib.SMTP("127.0.0.1", port, timeout=60)
        s.ehlo("many.test")
        s.starttls(context=ctx)
        s.ehlo("many.test")
        s.login(user, password)
        for i in range(per):
            rcpt = "r-%d-%d@dest.test" % (c, i)
            s.sendmail("news@example.com", [rcpt],
                       ("Subject: %s\r\n\r\nmessage %d of client %d\r\n" % (rcpt, i, c)).encode())
            with lock:
                print("OK", rcpt, flush=True)
        s.quit()
    except Exception as e:  # connection lost when postino is killed
        with lock:
            print("STOP", c, type(e).__name__, flush=True)


threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
