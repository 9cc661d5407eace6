#!/usr/bin/python3
"""smtp_load.py: concurrent SMTP submission clients with Python's smtplib
(STARTTLS + AUTH, as mail clients do), for the kill -9 durability test.
Usage: smtp_load.py PORT USER PASSWORD CLIENTS MESSAGES ACKED_FILE
Each client opens one session and sends MESSAGES messages, each with a
unique Message-ID <cC.mI@example.com>; every message that got its 250 is
appended (and flushed) to ACKED_FILE at once. A client stops at the first
error (the server was killed). Prints "acked N errors E"."""
import smtplib
import ssl
import sys
import threading

port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
clients, messages, acked_path = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
lock = threading.Lock()
acked_file = open(acked_path, 'a')
counts = {'acked': 0, 'errors': 0}


def client(c):
    try:
        s = smtplib.SMTP('127.0.0.1', port, timeout=60)
        s.ehlo('load%d.test' % c)
        s.starttls(context=ctx)
        s.ehlo('load%d.test' % c)
        s.login(user, password)
        for i in range(messages):
            mid = 'c%d.m%d@example.com' % (c, i)
            body = ('From: sender%d@example.com\r\nTo: r%d.%d@dest%d.test\r\n'
                    'Subject: load %d %d\r\nMessage-ID: <%s>\r\n\r\nmessage %d %d\r\n'
                    % (c, c, i, i % 4, c, i, mid, c, i))
            s.sendmail('sender%d@example.com' % c, ['r%d.%d@dest%d.test' % (c, i, i % 4)],
                       body.encode())
            with lock:
                acked_file.write(mid + '\n')
                acked_file.flush()
                counts['acked'] += 1
        s.quit()
    except Exception:  # the server went away: stop this client
        with lock:
            counts['errors'] += 1


threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print('acked %d errors %d' % (counts['acked'], counts['errors']))
