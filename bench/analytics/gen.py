#!/usr/bin/env python3
# gen.py: synthetic postino results for bench/analytics/run.sh (issue 15),
# written as COPY text files: subscribers, and per campaign its deliveries and
# delivery_events. Shaped like real results: 500 recipient domains with a
# Zipf-like skew (the top domain ~25% of recipients), MX sites shared by the
# big providers, 4 source IPs, final statuses (delivered, bounced, expired,
# suppressed, failed, a few deferred/pending in the newest campaign), retries
# as deferred events before the final one, reply texts with ids, addresses
# and numbers in them, and after-delivery events (async bounces that turn
# the row `bounced`, complaints, unsubscribes). Deterministic (seeded).
#
# usage: gen.py OUTDIR RECIPIENTS CAMPAIGNS DOMAINS [DAYS]
#   writes OUTDIR/subscribers.copy and OUTDIR/deliveries-K.copy,
#   OUTDIR/events-K.copy for K = 1..CAMPAIGNS; campaign K is launched
#   DAYS*(CAMPAIGNS-K)/CAMPAIGNS days ago (the newest one now).
import bisect
import datetime as dt
import os
import random
import sys

out, n, ncamp, ndom = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
days = float(sys.argv[5]) if len(sys.argv) > 5 else 30.0
rnd = random.Random(15)

domains = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "libero.it", "icloud.com",
           "gmx.de", "web.de", "orange.fr", "aol.com"]
domains += [f"d{i}.example" for i in range(len(domains), ndom)]
domains = domains[:ndom]
weights = [1.0 / (i + 1) ** 1.2 for i in range(ndom)]
cum, acc = [], 0.0
for w in weights:
    acc += w
    cum.append(acc)


def site_of(i):
    # Big providers share MX sites; the rest have their own (some share a
    # hosting provider's MX).
    if i in (0,):
        return "alt1.gmail-smtp-in.l.google.com gmail-smtp-in.l.google.com"
    if i in (2, 3):
        return "outlook-com.olc.protection.outlook.com"
    if i == 1:
        return "mta5.am0.yahoodns.net mta6.am0.yahoodns.net"
    if i >= 10 and i % 7 == 0:
        return "mx1.hostingco.example mx2.hostingco.example"
    return f"mx.{domains[i]}"


sites = [site_of(i) for i in range(ndom)]
sources = ["192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13"]
# Per-domain behaviour: most are clean, some bounce or defer a lot.
bounce_p = [0.01 + (0.15 if i % 37 == 5 else 0) + (0.04 if i % 11 == 3 else 0) for i in range(ndom)]
defer_p = [0.05 + (0.30 if i % 23 == 7 else 0) for i in range(ndom)]
bounce_texts = [
    (550, "5.1.1", "The email account that you tried to reach does not exist. {addr} {hex} - gsmtp"),
    (550, "5.1.1", "<{addr}>: Recipient address rejected: User unknown in virtual mailbox table"),
    (552, "5.2.2", "Mailbox full: {addr} quota exceeded ({num} bytes)"),
    (554, "5.7.1", "Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org"),
    (550, "5.7.1", "Message rejected as spam by Content Filtering. id={hex}"),
]
defer_texts = [
    (421, "4.7.0", "[{ip}] Our system has detected an unusual rate of unsolicited mail {hex} - gsmtp"),
    (451, "4.7.1", "Greylisted, please try again in {num} seconds"),
    (450, "4.2.1", "The user you are trying to contact is receiving mail too quickly {hex}"),
]


def ts(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00")


def fill(text, email):
    return text.format(addr=email, hex="%x" % rnd.getrandbits(40),
                       num=rnd.randint(10, 99999), ip="198.51.100.%d" % rnd.randint(1, 254))


now = dt.datetime.now(dt.timezone.utc).timestamp()
sub_domain = []
with open(os.path.join(out, "subscribers.copy"), "w") as f:
    for s in range(1, n + 1):
        di = bisect.bisect_left(cum, rnd.random() * acc)
        sub_domain.append(di)
        email = f"user{s}@{domains[di]}"
        f.write(f"{s}\t{email}\t{email}\t{domains[di]}\n")

N = "\\N"
for k in range(1, ncamp + 1):
    start = now - days * 86400.0 * (ncamp - k) / ncamp - 3 * 3600.0
    newest = k == ncamp
    base_id = (k - 1) * n
    with open(os.path.join(out, f"deliveries-{k}.copy"), "w") as fd, \
            open(os.path.join(out, f"events-{k}.copy"), "w") as fe:
        for s in range(1, n + 1):
            did = base_id + s
            di = sub_domain[s - 1]
            dom, site = domains[di], sites[di]
            email = f"user{s}@{dom}"
            src = sources[(s * 7 + di) % 4]
            mx = site.split(" ")[0]
            msgid = f"<{k}.{did}@news.example.net>"
            t = start + rnd.random() * 7200.0
            r = rnd.random()
            if r < 0.03:  # suppressed at launch: no attempt
                fd.write(f"{did}\t{k}\t{s}\t{email}\t{dom}\tsuppressed\t0\t{ts(start)}\t{N}\t{N}\t{N}"
                         f"\t{N}\t{N}\t{N}\t{ts(start)}\t{N}\t{N}\t{ts(start)}\n")
                continue
            if r < 0.0305:  # could not render
                reply = "template: unknown attribute 'first_name' at line %d" % rnd.randint(1, 40)
                fe.write(f"{did}\t{k}\t1\tfailed\t{N}\t{N}\t{reply}\trender\t{N}\t{N}\t{N}\t{N}\t{N}"
                         f"\tbench\t{ts(t)}\t{N}\n")
                fd.write(f"{did}\t{k}\t{s}\t{email}\t{dom}\tfailed\t1\t{ts(t)}\t{N}\t{N}\t{reply}"
                         f"\t{N}\t{N}\t{N}\t{ts(start)}\t{ts(t)}\t{ts(t)}\t{ts(t)}\n")
                continue
            if newest and r < 0.035:
                final = "pending"
            elif rnd.random() < bounce_p[di]:
                final = "bounced"
            elif rnd.random() < defer_p[di] * 0.1:
                final = "expired"
            elif newest and rnd.random() < 0.01:
                final = "deferred"
            else:
                final = "delivered"
            if final == "pending":
                fd.write(f"{did}\t{k}\t{s}\t{email}\t{dom}\tpending\t0\t{ts(start)}\t{N}\t{N}\t{N}"
                         f"\t{N}\t{N}\t{N}\t{ts(start)}\t{N}\t{N}\t{N}\n")
                continue
            deferrals = 0
            if final == "expired":
                deferrals = rnd.randint(4, 7)
            elif final == "deferred":
                deferrals = rnd.randint(1, 3)
            elif rnd.random() < defer_p[di]:
                deferrals = rnd.randint(1, 3)
            first = t
            attempt = 0
            code, enh, reply = 0, "", ""
            for _ in range(deferrals):
                attempt += 1
                code, enh, text = rnd.choice(defer_texts)
                reply = fill(text, email)
                fe.write(f"{did}\t{k}\t{attempt}\tdeferred\t{code}\t{enh}\t{reply}\trcpt\t{src}\t{mx}"
                         f"\tTLSv1.3\tTLS_AES_256_GCM_SHA384\t{msgid}\tbench\t{ts(t)}\t{site}\n")
                t += 300.0 * (2 ** attempt)
            if final in ("delivered", "bounced", "expired"):
                attempt += 1
                if final == "delivered":
                    code, enh = 250, "2.0.0"
                    reply = "OK %x - gsmtp" % rnd.getrandbits(48)
                    phase = "end-of-data"
                elif final == "bounced":
                    code, enh, text = rnd.choice(bounce_texts)
                    reply = fill(text, email)
                    phase = "rcpt"
                else:
                    phase = "rcpt"
                fe.write(f"{did}\t{k}\t{attempt}\t{final}\t{code}\t{enh}\t{reply}\t{phase}\t{src}"
                         f"\t{mx}\tTLSv1.3\tTLS_AES_256_GCM_SHA384\t{msgid}\tbench\t{ts(t)}\t{site}\n")
            status = final
            # After delivery: async bounce (row becomes bounced), complaint, unsubscribe.
            if final == "delivered":
                a = rnd.random()
                ta = t + rnd.random() * 86400.0
                if ta > now:
                    ta = now
                if a < 0.003:
                    status = "bounced"
                    code, enh = 550, "5.1.1"
                    reply = fill("Delivery to {addr} failed: mailbox unavailable", email)
                    fe.write(f"{did}\t{k}\t{attempt}\tbounced\t{code}\t{enh}\t{reply}\tasync\t{N}\t{N}"
                             f"\t{N}\t{N}\t{msgid}\tbench\t{ts(ta)}\t{N}\n")
                elif a < 0.0035:
                    fe.write(f"{did}\t{k}\t{attempt}\tcomplained\t{N}\t{N}\tabuse\tarf\t{N}\t{N}"
                             f"\t{N}\t{N}\t{msgid}\tbench\t{ts(ta)}\t{N}\n")
                elif a < 0.0055:
                    fe.write(f"{did}\t{k}\t{attempt}\tunsubscribed\t{N}\t{N}\t{N}\thttp\t{N}\t{N}"
                             f"\t{N}\t{N}\t{msgid}\tbench\t{ts(ta)}\t{N}\n")
            nxt = ts(t + 1800.0) if status == "deferred" else ts(first)
            fin = N if status == "deferred" else ts(t)
            fd.write(f"{did}\t{k}\t{s}\t{email}\t{dom}\t{status}\t{attempt}\t{nxt}\t{code}\t{enh}"
                     f"\t{reply}\t{src}\t{mx}\t{msgid}\t{ts(start)}\t{ts(first)}\t{ts(t)}\t{fin}\n")
