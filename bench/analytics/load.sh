#!/usr/bin/env bash
# load.sh: loads gen.py's COPY files into a migrated postino database (used by
# run.sh and handy by hand): one list and template, CAMPAIGNS finished
# campaigns named c01, c02, … (the newest last, still running), then
# subscribers, deliveries and delivery_events with COPY, the reason keys of
# failed rows, sequences, VACUUM ANALYZE.
# usage: load.sh DB_URL GENDIR RECIPIENTS CAMPAIGNS [DAYS]
set -euo pipefail
url=$1; gen=$2; n=$3; ncamp=$4; days=${5:-30}
psqlc() { psql -X -q -v ON_ERROR_STOP=1 "$url" "$@"; }
psqlc <<SQL
INSERT INTO lists (id, name) VALUES (1, 'bench');
INSERT INTO templates (id, name, subject, html_body, text_body) VALUES (1, 'bench', 's', '<p>x</p>', 'x');
INSERT INTO campaigns (id, name, list_id, template_id, from_address, status, created_at, launched_at,
                       started_at, finished_at)
SELECT k, 'c' || lpad(k::text, 2, '0'), 1, 1, 'news@example.net',
       CASE WHEN k = $ncamp THEN 'running' ELSE 'finished' END,
       t, t, t, CASE WHEN k = $ncamp THEN NULL ELSE t + interval '1 day' END
  FROM generate_series(1, $ncamp) k,
       LATERAL (SELECT now() - make_interval(secs => $days * 86400.0 * ($ncamp - k) / $ncamp + 10800)) x(t);
SQL
psqlc -c "\\copy subscribers (id, email, email_key, domain) FROM '$gen/subscribers.copy'"
psqlc -c "INSERT INTO list_members (list_id, subscriber_id) SELECT 1, id FROM subscribers"
for k in $(seq 1 "$ncamp"); do
  psqlc -c "\\copy deliveries (id, campaign_id, subscriber_id, email, domain, status, attempts, next_attempt_at, last_code, last_enhanced, last_reply, source_ip, mx_host, message_id, created_at, first_attempt_at, last_attempt_at, finished_at) FROM '$gen/deliveries-$k.copy'"
  psqlc -c "\\copy delivery_events (delivery_id, campaign_id, attempt, status, smtp_code, enhanced_code, reply, phase, source_ip, mx_host, tls_version, tls_cipher, message_id, node, at, site) FROM '$gen/events-$k.copy'"
done
psqlc <<SQL
UPDATE deliveries SET last_reply_key = postino_reply_key(last_reply)
 WHERE status IN ('bounced', 'expired', 'failed');
SELECT setval('subscribers_id_seq', (SELECT max(id) FROM subscribers));
SELECT setval('deliveries_id_seq', (SELECT max(id) FROM deliveries));
SELECT setval('lists_id_seq', 1); SELECT setval('templates_id_seq', 1);
SELECT setval('campaigns_id_seq', $ncamp);
VACUUM ANALYZE;
SQL
