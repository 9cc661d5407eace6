-- queries.sql: what bench/analytics/run.sh times on the schema of migration
-- 7 and later: each documented view filtered on one campaign (:'campaign',
-- the newest), then the 30-day questions of docs/analytics.md. Blocks start
-- with "-- name: <label>".
-- name: campaign_summary
SELECT * FROM campaign_summary WHERE campaign = :'campaign';
-- name: domain_summary
SELECT * FROM domain_summary WHERE campaign = :'campaign';
-- name: bounce_reasons
SELECT * FROM bounce_reasons WHERE campaign = :'campaign';
-- name: source_summary
SELECT * FROM source_summary WHERE campaign = :'campaign';
-- name: per_minute_campaign
SELECT minute, sum(events) FROM deliveries_per_minute
 WHERE campaign = :'campaign' AND status = 'delivered' GROUP BY 1 ORDER BY 1;
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
SELECT domain, sum(complained) AS complained, sum(unsubscribed) AS unsubscribed,
       sum(async_bounced) AS async_bounced
  FROM domain_summary
 WHERE campaign_id IN (SELECT id FROM campaigns WHERE launched_at > now() - interval '30 days')
 GROUP BY domain ORDER BY complained DESC LIMIT 20;
-- name: 30d_daily_by_source
SELECT * FROM delivery_series(now() - interval '30 days', now(), 'source', interval '1 day');
