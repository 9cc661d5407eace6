#!/usr/bin/env python3
"""compare_labels.py: `postino bounces parse` output vs the corpus labels.

usage: compare_labels.py POSTINO [CORPUS_DIR] [-v]
Runs `POSTINO bounces parse` over CORPUS_DIR/eml (default ../shared/testdata/bounces)
and prints agreement per reason (by address, else by order), for a quick look
while working on the rules; the gtest ReturnsCorpus* tests assert the floors.
"""
import collections, json, os, subprocess, sys

def main():
    postino = sys.argv[1]
    corpus = sys.argv[2] if len(sys.argv) > 2 and not sys.argv[2].startswith('-') else \
        os.path.join(os.path.dirname(__file__), '../../../shared/testdata/bounces')
    verbose = '-v' in sys.argv
    labels = json.load(open(os.path.join(corpus, 'labels.json')))
    files = [os.path.join(corpus, 'eml', l['file']) for l in labels]
    out = subprocess.run([postino, 'bounces', 'parse'] + files, capture_output=True, text=True)
    got = collections.defaultdict(list)
    for line in out.stdout.splitlines():
        j = json.loads(line)
        got[os.path.basename(j['file'])].append(j)
    per = collections.defaultdict(lambda: [0, 0])
    tot = collections.Counter()
    for l in labels:
        mine = got.get(l['file'], [])
        for i, r in enumerate(l['recipients']):
            m = next((x for x in mine if x['address'].lower() == r['address'].lower()), None)
            if m is None and i < len(mine): m = mine[i]
            tot['n'] += 1
            if m is None:
                per[r['reason']][1] += 1
                if verbose: print(f"MISSING {l['file']} {r}")
                continue
            ok = m['reason'] == r['reason']
            per[r['reason']][1] += 1
            per[r['reason']][0] += ok
            tot['reason'] += ok
            tot['hard'] += m['hard_bounce'] == r['hard_bounce']
            tot['status'] += (m['status'] == r['status'])
            # sisimai's own 5.0.9xx / 4.0.9xx pseudo-codes (made up from the
            # reason when the mail shows none) are not printed in the mail.
            if not (r['status'] or '').split('.')[-1].startswith('9') or len((r['status'] or '').split('.')[-1]) < 3:
                tot['status_n'] += 1
                tot['status_real'] += (m['status'] == r['status'])
            tot['code'] += (m['reply_code'] == r['reply_code'])
            tot['addr'] += m['address'].lower() == r['address'].lower()
            tot['fbt'] += m['feedback_type'] == r['feedback_type']
            if verbose and not ok:
                print(f"{l['file']}: want {r['reason']} got {m['reason']} st={m['status']}/{r['status']} "
                      f"code={m['reply_code']}/{r['reply_code']} diag={m['diagnostic'][:160]!r}")
    n = tot['n']
    for k in ('reason', 'hard', 'status', 'code', 'addr', 'fbt'):
        print(f"{k:8s} {tot[k]}/{n} = {100.0*tot[k]/n:.1f}%")
    if tot['status_n']:
        print(f"status (no pseudo-codes) {tot['status_real']}/{tot['status_n']} = "
              f"{100.0*tot['status_real']/tot['status_n']:.1f}%")
    for reason, (a, b) in sorted(per.items(), key=lambda x: -x[1][1]):
        print(f"  {reason:16s} {a:3d}/{b:3d}")

if __name__ == '__main__':
    main()
