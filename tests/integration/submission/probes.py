#!/usr/bin/env python3
"""probes.py: SMTP probes against the submission listener with Python's
smtplib (a client nobody here wrote). Usage: probes.py PORT TLS_PORT USER
PASSWORD. Prints one line per probe, "name code enhanced", for the C++ test
to compare. Never prints the password."""
import smtplib
import socket
import ssl
import sys

port, tls_port, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def out(name, code, msg):
    text = msg.decode() if isinstance(msg, bytes) else str(msg)
    print(name, code, text.split(" ")[0] if text else "-", flush=True)


def session(login=True, tls=True):
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    s.ehlo("probe.test")
    if tls:
        s.starttls(context=ctx)
        s.ehlo("probe.test")
    if login:
        s.login(user, password)
    return s


# Open relay probe: no AUTH at all.
s = session(login=False, tls=False)
out("relay_plain", *s.docmd("MAIL FROM:<someone@example.com>"))
s.quit()
s = session(login=False, tls=True)
out("relay_tls", *s.docmd("MAIL FROM:<someone@example.com>"))
s.quit()

# AUTH before TLS: not advertised, refused when tried.
s = session(login=False, tls=False)
out("auth_advertised_plain", 1 if s.has_extn("auth") else 0, "-")
out("auth_before_tls", *s.docmd("AUTH PLAIN AGFsaWNlAHg="))
s.quit()

# Wrong password.
s = session(login=False)
try:
    s.login(user, password + "-wrong")
    out("wrong_password", 235, "2.7.0")
except smtplib.SMTPAuthenticationError as e:
    out("wrong_password", e.smtp_code, e.smtp_error)
s.quit()

# The normal path: starttls() + login().
s = session()
refused = s.sendmail("news@example.com", ["r1@dest.test"],
                     b"Subject: smtplib\r\n\r\nhello from smtplib\r\n")
out("smtplib_send", 250 if not refused else 550, "2.0.0")

# A sender the user does not own.
out("foreign_sender", *s.docmd("MAIL FROM:<boss@other.test>"))
s.docmd("RSET")

# Too many recipients (max_recipients = 3).
s.docmd("MAIL FROM:<news@example.com>")
codes = [s.docmd("RCPT TO:<r%d@dest.test>" % i) for i in range(4)]
out("too_many_rcpts", *codes[3])
s.docmd("RSET")

# Oversize (max_message_size = 20000).
s.docmd("MAIL FROM:<news@example.com>")
s.docmd("RCPT TO:<big@dest.test>")
s.putcmd("DATA")
s.getreply()
s.send(b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 400 + b".\r\n")
out("oversize", *s.getreply())

# SIZE declared too big.
out("size_param", *s.docmd("MAIL FROM:<news@example.com> SIZE=999999"))
s.docmd("RSET")

# Bare LF and the SMTP smuggling shapes: refused, nothing stored.
for name, shape in [("bare_lf", b"\n"), ("smuggle_lf_dot_lf", b"\n.\n"),
                    ("smuggle_lf_dot_crlf", b"\n.\r\n"), ("smuggle_cr_dot_cr", b"\r.\r"),
                    ("smuggle_crlf_dot_lf", b"\r\n.\n")]:
    s.docmd("MAIL FROM:<news@example.com>")
    s.docmd("RCPT TO:<victim@dest.test>")
    s.putcmd("DATA")
    s.getreply()
    s.send(b"Subject: x\r\n\r\nbody" + shape +
           b"MAIL FROM:<news@example.com>\r\nRCPT TO:<smuggled@dest.test>\r\nDATA\r\n"
           b"Subject: smuggled\r\n\r\nevil\r\n.\r\n")
    out(name, *s.getreply())
s.quit()

# Implicit TLS (465 style) with smtplib.SMTP_SSL.
s = smtplib.SMTP_SSL("127.0.0.1", tls_port, context=ctx, timeout=30)
s.ehlo("probe.test")
out("implicit_auth_advertised", 1 if s.has_extn("auth") else 0, "-")
s.login(user, password)
refused = s.sendmail("news@example.com", ["r2@dest.test"], b"Subject: ssl\r\n\r\nhi\r\n")
out("smtps_send", 250 if not refused else 550, "2.0.0")
s.quit()
