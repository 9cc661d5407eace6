-- queries-v6.sql: the same questions as queries.sql on the schema before
-- migration 7 (the baseline): views read deliveries; complaints and the
-- time series come from raw delivery_events.
-- name: campaign_summary
SELECT * FROM campaign_summary WHERE campaign = :'campaign';
-- name: domain_summary
SELECT * FROM domain_summary WHERE campaign = :'campaign';
-- name: bounce_reasons
SELECT * FROM bounce_reasons WHERE campaign = :'campaign';
-- name: source_summary
SELECT * FROM source_summary WHERE campaign = :'campaign';
-- name: per_minute_campaign
SELECT date_trunc('minute', at) AS minute, count(*) FROM delivery_events
 WHERE campaign_id = (SELECT id FROM campaigns WHERE name = :'campaign') AND status = 'delivered'
 GROUP BY 1 ORDER BY 1;
-- name: 30d_campaigns
SELECT campaign, total, delivered, bounced, expired, suppressed, delivery_rate, finished_at
  FROM campaign_summary WHERE launched_at > now() - interval '30 days'
 ORDER BY launched_at DESC;
-- name: 30d_worst_domains
SELECT domain, sum(total) AS total, sum(bounced) AS bounced,
       round(100.0 * sum(bounced) / sum(total), 2) AS bounce_pct
  FROM domain_summary
 WHERE campaign_id IN (SELECT id FROM campaigns WHERE launched_at > now() - interval '30 days')
 GROUP BY domain ORDER BY bounced DESC LIMIT 20;
-- name: 30d_sources
SELECT source_ip,
       sum(recipients) FILTER (WHERE status = 'delivered') AS delivered,
       sum(recipients) FILTER (WHERE status IN ('bounced', 'deferred')) AS failing
  FROM source_summary
 WHERE campaign_id IN (SELECT id FROM campaigns WHERE launched_at > now() - interval '30 days')
 GROUP BY source_ip;
-- name: 30d_bounce_reasons
SELECT enhanced_code, reason, sum(recipients) AS recipients
  FROM bounce_reasons
 WHERE campaign_id IN (SELECT id FROM campaigns WHERE launched_at > now() - interval '30 days')
 GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 20;
-- name: 30d_complaints_by_domain
SELECT d.domain, count(*) FILTER (WHERE e.status = 'complained') AS complained,
       count(*) FILTER (WHERE e.status = 'unsubscribed') AS unsubscribed,
       count(*) FILTER (WHERE e.status = 'bounced') AS async_bounced
  FROM delivery_events e JOIN deliveries d ON d.id = e.delivery_id
 WHERE e.campaign_id IN (SELECT id FROM campaigns WHERE launched_at > now() - interval '30 days')
   AND (e.status IN ('complained', 'unsubscribed') OR (e.status = 'bounced' AND e.phase = 'async'))
 GROUP BY 1 ORDER BY 2 DESC LIMIT 20;
-- name: 30d_daily_by_source
SELECT date_trunc('day', at) AS time, source_ip AS metric, count(*) AS value
  FROM delivery_events
 WHERE at >= now() - interval '30 days' AND at < now() AND status = 'delivered'
 GROUP BY 1, 2 ORDER BY 1, 2;
