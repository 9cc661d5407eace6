// migration_7.cc: the SQL of schema migration 7 (issue 15, analytics at
// scale), listed in migrations.cc: delivery_events partitioned by month,
// the counts kept by statement triggers (delivery_counts, event_counts),
// the time series (delivery_minutes, delivery_hours, deliveries_per_minute,
// delivery_series) and the views reading them. docs/analytics.md and
// docs/schema.md describe it. Never edit once shipped: add a migration.
namespace postino::db {

extern const char* const kMigration7Sql;
const char* const kMigration7Sql = R"SQL(
-- delivery_events becomes partitioned by month of `at` (UTC months). The
-- rows of the old table are copied into the new one (one transaction), its
-- indexes and constraints are re-created on the partitioned table, and the
-- old table is dropped. The primary key becomes (id, at).
ALTER TABLE delivery_events RENAME TO delivery_events_unpartitioned;
ALTER TABLE delivery_events_unpartitioned
  RENAME CONSTRAINT delivery_events_pkey TO delivery_events_unpartitioned_pkey;
ALTER TABLE delivery_events_unpartitioned
  RENAME CONSTRAINT delivery_events_delivery_id_fkey TO delivery_events_unpartitioned_fkey;
DROP INDEX delivery_events_delivery;
DROP INDEX delivery_events_campaign_at;
DROP INDEX delivery_events_at;

CREATE TABLE delivery_events (
  id            bigint NOT NULL DEFAULT nextval('delivery_events_id_seq'),
  delivery_id   bigint NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  campaign_id   bigint,          -- NULL for submitted (non-campaign) mail
  attempt       integer NOT NULL,
  status        text NOT NULL,
  smtp_code     integer,
  enhanced_code text,
  reply         text,
  phase         text,
  source_ip     text,
  mx_host       text,
  tls_version   text,
  tls_cipher    text,
  message_id    text,
  node          text NOT NULL,
  at            timestamptz NOT NULL DEFAULT now(),
  site          text,
  PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
ALTER SEQUENCE delivery_events_id_seq OWNED BY delivery_events.id;
-- Safety net: a row whose month has no partition (a clock far off, an
-- import of old events) lands here instead of failing the insert. Creating
-- a month's partition moves such rows out of it.
CREATE TABLE delivery_events_default PARTITION OF delivery_events DEFAULT;
CREATE INDEX delivery_events_delivery ON delivery_events (delivery_id);
CREATE INDEX delivery_events_campaign_at ON delivery_events (campaign_id, at);
CREATE INDEX delivery_events_at ON delivery_events (at);

-- The partition of the UTC month containing `t` (delivery_events_YYYY_MM),
-- created when missing; returns its name when it was created, else NULL.
CREATE FUNCTION postino_event_partition(t timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  lo timestamptz := date_trunc('month', t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  hi timestamptz := (date_trunc('month', t AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
  part text := 'delivery_events_' || to_char(t AT TIME ZONE 'UTC', 'YYYY_MM');
BEGIN
  IF to_regclass(part) IS NOT NULL THEN
    RETURN NULL;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE delivery_events INCLUDING DEFAULTS)', part);
  EXECUTE format('WITH moved AS (DELETE FROM delivery_events_default WHERE at >= %L AND at < %L'
                 ' RETURNING *) INSERT INTO %I SELECT * FROM moved', lo, hi, part);
  EXECUTE format('ALTER TABLE delivery_events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                 part, lo, hi);
  RETURN part;
END $$;

-- The current UTC month's partition and the next `months_ahead` ones; one
-- caller at a time. Returns the names of the partitions it created.
CREATE FUNCTION postino_ensure_event_partitions(months_ahead integer) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  part text;
BEGIN
  PERFORM pg_advisory_xact_lock(7254115);
  FOR i IN 0 .. greatest(months_ahead, 0) LOOP
    part := postino_event_partition(now() + make_interval(months => i));
    IF part IS NOT NULL THEN
      RETURN NEXT part;
    END IF;
  END LOOP;
END $$;

SELECT postino_event_partition(m)
  FROM generate_series(
         date_trunc('month', (SELECT min(at) FROM delivery_events_unpartitioned) AT TIME ZONE 'UTC'),
         (SELECT max(at) FROM delivery_events_unpartitioned) AT TIME ZONE 'UTC',
         interval '1 month') AS g(ts),
       LATERAL (SELECT g.ts AT TIME ZONE 'UTC') AS x(m);
SELECT postino_ensure_event_partitions(3);
INSERT INTO delivery_events (id, delivery_id, campaign_id, attempt, status, smtp_code,
    enhanced_code, reply, phase, source_ip, mx_host, tls_version, tls_cipher, message_id, node,
    at, site)
  SELECT id, delivery_id, campaign_id, attempt, status, smtp_code, enhanced_code, reply, phase,
         source_ip, mx_host, tls_version, tls_cipher, message_id, node, at, site
    FROM delivery_events_unpartitioned;
DROP TABLE delivery_events_unpartitioned;

-- Counts kept when results are written (statement-level triggers with
-- transition tables: one grouped upsert per statement, whoever writes).
-- deliveries: recipients per (campaign, domain, source IP, current status).
CREATE TABLE delivery_counts (
  campaign_id bigint,            -- NULL: submitted mail
  domain      text NOT NULL,
  source_ip   text NOT NULL,     -- '' before the first attempt
  status      text NOT NULL,
  n           bigint NOT NULL,
  UNIQUE NULLS NOT DISTINCT (campaign_id, domain, source_ip, status)
);
-- After-delivery events per (campaign, recipient domain, kind): kind is
-- async_bounced (status bounced, phase async), soft_bounced, complained,
-- unsubscribed.
CREATE TABLE event_counts (
  campaign_id bigint,
  domain      text NOT NULL,
  kind        text NOT NULL,
  n           bigint NOT NULL,
  UNIQUE NULLS NOT DISTINCT (campaign_id, domain, kind)
);
-- Attempts and events per minute (UTC) x campaign x MX site x source IP x
-- status: the time series for reports and dashboards.
CREATE TABLE delivery_minutes (
  minute      timestamptz NOT NULL,
  campaign_id bigint,
  site        text NOT NULL,     -- '' when no connection was made
  source_ip   text NOT NULL,
  status      text NOT NULL,
  events      bigint NOT NULL,
  UNIQUE NULLS NOT DISTINCT (minute, campaign_id, site, source_ip, status)
);
CREATE INDEX delivery_minutes_campaign ON delivery_minutes (campaign_id, minute);
-- The same per UTC hour: what series over days and months read (60 times
-- fewer rows than the minutes when a campaign sends for hours).
CREATE TABLE delivery_hours (
  hour        timestamptz NOT NULL,
  campaign_id bigint,
  site        text NOT NULL,
  source_ip   text NOT NULL,
  status      text NOT NULL,
  events      bigint NOT NULL,
  UNIQUE NULLS NOT DISTINCT (hour, campaign_id, site, source_ip, status)
);
CREATE INDEX delivery_hours_campaign ON delivery_hours (campaign_id, hour);

INSERT INTO delivery_counts (campaign_id, domain, source_ip, status, n)
  SELECT campaign_id, domain, coalesce(source_ip, ''), status, count(*)
    FROM deliveries GROUP BY 1, 2, 3, 4;
INSERT INTO event_counts (campaign_id, domain, kind, n)
  SELECT e.campaign_id, d.domain,
         CASE WHEN e.status = 'bounced' THEN 'async_bounced' ELSE e.status END, count(*)
    FROM delivery_events e JOIN deliveries d ON d.id = e.delivery_id
   WHERE e.status IN ('complained', 'unsubscribed', 'soft_bounced')
      OR (e.status = 'bounced' AND e.phase = 'async')
   GROUP BY 1, 2, 3;
INSERT INTO delivery_minutes (minute, campaign_id, site, source_ip, status, events)
  SELECT date_trunc('minute', at), campaign_id, coalesce(site, ''), coalesce(source_ip, ''),
         status, count(*)
    FROM delivery_events GROUP BY 1, 2, 3, 4, 5;
INSERT INTO delivery_hours (hour, campaign_id, site, source_ip, status, events)
  SELECT date_bin('1 hour', minute, timestamptz '2000-01-01 00:00:00+00'), campaign_id, site,
         source_ip, status, sum(events)
    FROM delivery_minutes GROUP BY 1, 2, 3, 4, 5;

CREATE FUNCTION postino_count_deliveries() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO delivery_counts AS k (campaign_id, domain, source_ip, status, n)
      SELECT campaign_id, domain, coalesce(source_ip, ''), status, count(*)
        FROM new_rows GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
      ON CONFLICT (campaign_id, domain, source_ip, status) DO UPDATE SET n = k.n + excluded.n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO delivery_counts AS k (campaign_id, domain, source_ip, status, n)
      SELECT campaign_id, domain, coalesce(source_ip, ''), status, -count(*)
        FROM old_rows GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
      ON CONFLICT (campaign_id, domain, source_ip, status) DO UPDATE SET n = k.n + excluded.n;
    -- A campaign deleted whole takes its event counts and time series
    -- along (its events went by ON DELETE CASCADE).
    DELETE FROM event_counts v USING (SELECT DISTINCT campaign_id FROM old_rows) o
     WHERE v.campaign_id = o.campaign_id
       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.campaign_id = o.campaign_id);
    DELETE FROM delivery_minutes m USING (SELECT DISTINCT campaign_id FROM old_rows) o
     WHERE m.campaign_id = o.campaign_id
       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.campaign_id = o.campaign_id);
    DELETE FROM delivery_hours m USING (SELECT DISTINCT campaign_id FROM old_rows) o
     WHERE m.campaign_id = o.campaign_id
       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.campaign_id = o.campaign_id);
  ELSE
    -- Only rows whose key changed (a lease renewal changes none).
    WITH ch AS MATERIALIZED (
      SELECT o.campaign_id AS oc, o.domain AS od, coalesce(o.source_ip, '') AS os,
             o.status AS ost, n.campaign_id AS nc, n.domain AS nd,
             coalesce(n.source_ip, '') AS ns, n.status AS nst
        FROM old_rows o JOIN new_rows n ON n.id = o.id
       WHERE (o.status, o.source_ip, o.campaign_id, o.domain)
             IS DISTINCT FROM (n.status, n.source_ip, n.campaign_id, n.domain))
    INSERT INTO delivery_counts AS k (campaign_id, domain, source_ip, status, n)
      SELECT c, d, s, st, sum(delta) FROM (
        SELECT oc, od, os, ost, -1 FROM ch UNION ALL SELECT nc, nd, ns, nst, 1 FROM ch
      ) x (c, d, s, st, delta)
       GROUP BY 1, 2, 3, 4 HAVING sum(delta) <> 0 ORDER BY 1, 2, 3, 4
      ON CONFLICT (campaign_id, domain, source_ip, status) DO UPDATE SET n = k.n + excluded.n;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER deliveries_count_insert AFTER INSERT ON deliveries
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION postino_count_deliveries();
CREATE TRIGGER deliveries_count_update AFTER UPDATE ON deliveries
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION postino_count_deliveries();
CREATE TRIGGER deliveries_count_delete AFTER DELETE ON deliveries
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION postino_count_deliveries();

CREATE FUNCTION postino_count_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO delivery_minutes AS m (minute, campaign_id, site, source_ip, status, events)
    SELECT date_trunc('minute', at), campaign_id, coalesce(site, ''), coalesce(source_ip, ''),
           status, count(*)
      FROM new_rows GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (minute, campaign_id, site, source_ip, status)
    DO UPDATE SET events = m.events + excluded.events;
  INSERT INTO delivery_hours AS m (hour, campaign_id, site, source_ip, status, events)
    SELECT date_bin('1 hour', at, timestamptz '2000-01-01 00:00:00+00'), campaign_id,
           coalesce(site, ''), coalesce(source_ip, ''), status, count(*)
      FROM new_rows GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (hour, campaign_id, site, source_ip, status)
    DO UPDATE SET events = m.events + excluded.events;
  INSERT INTO event_counts AS k (campaign_id, domain, kind, n)
    SELECT e.campaign_id, d.domain,
           CASE WHEN e.status = 'bounced' THEN 'async_bounced' ELSE e.status END, count(*)
      FROM new_rows e JOIN deliveries d ON d.id = e.delivery_id
     WHERE e.status IN ('complained', 'unsubscribed', 'soft_bounced')
        OR (e.status = 'bounced' AND e.phase = 'async')
     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (campaign_id, domain, kind) DO UPDATE SET n = k.n + excluded.n;
  RETURN NULL;
END $$;
CREATE TRIGGER delivery_events_count AFTER INSERT ON delivery_events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION postino_count_events();

-- The views read the counts: their cost no longer grows with recipients.
DROP VIEW campaign_summary;
CREATE VIEW campaign_summary AS
SELECT c.id AS campaign_id, c.name AS campaign, c.status AS campaign_status,
       s.total, s.delivered, s.deferred, s.bounced, s.expired, s.suppressed, s.cancelled,
       s.failed, s.pending,
       round(s.delivered::numeric / NULLIF(s.total - s.suppressed - s.cancelled, 0), 4)
         AS delivery_rate,
       c.created_at, c.launched_at, c.started_at, c.finished_at,
       e.async_bounced, e.complained, e.unsubscribed
  FROM campaigns c CROSS JOIN LATERAL (
    SELECT coalesce(sum(k.n), 0)::bigint AS total,
           coalesce(sum(k.n) FILTER (WHERE k.status = 'delivered'), 0)::bigint AS delivered,
           coalesce(sum(k.n) FILTER (WHERE k.status = 'deferred'), 0)::bigint AS deferred,
           coalesce(sum(k.n) FILTER (WHERE k.status = 'bounced'), 0)::bigint AS bounced,
           coalesce(sum(k.n) FILTER (WHERE k.status = 'expired'), 0)::bigint AS expired,
           coalesce(sum(k.n) FILTER (WHERE k.status = 'suppressed'), 0)::bigint AS suppressed,
           coalesce(sum(k.n) FILTER (WHERE k.status = 'cancelled'), 0)::bigint AS cancelled,
           coalesce(sum(k.n) FILTER (WHERE k.status = 'failed'), 0)::bigint AS failed,
           coalesce(sum(k.n) FILTER (WHERE k.status = 'pending'), 0)::bigint AS pending
      FROM delivery_counts k WHERE k.campaign_id = c.id) s
  CROSS JOIN LATERAL (
    SELECT coalesce(sum(v.n) FILTER (WHERE v.kind = 'async_bounced'), 0)::bigint AS async_bounced,
           coalesce(sum(v.n) FILTER (WHERE v.kind = 'complained'), 0)::bigint AS complained,
           coalesce(sum(v.n) FILTER (WHERE v.kind = 'unsubscribed'), 0)::bigint AS unsubscribed
      FROM event_counts v WHERE v.campaign_id = c.id) e;

DROP VIEW domain_summary;
CREATE VIEW domain_summary AS
SELECT c.id AS campaign_id, c.name AS campaign, x.domain, x.total, x.delivered, x.deferred,
       x.bounced, x.expired, x.suppressed, x.cancelled, x.failed, x.pending,
       coalesce(e.async_bounced, 0)::bigint AS async_bounced,
       coalesce(e.complained, 0)::bigint AS complained,
       coalesce(e.unsubscribed, 0)::bigint AS unsubscribed
  FROM campaigns c CROSS JOIN LATERAL (
    SELECT k.domain, sum(k.n)::bigint AS total,
           coalesce(sum(k.n) FILTER (WHERE k.status = 'delivered'), 0)::bigint AS delivered,
           coalesce(sum(k.n) FILTER (WHERE k.status = 'deferred'), 0)::bigint AS deferred,
           coalesce(sum(k.n) FILTER (WHERE k.status = 'bounced'), 0)::bigint AS bounced,
           coalesce(sum(k.n) FILTER (WHERE k.status = 'expired'), 0)::bigint AS expired,
           coalesce(sum(k.n) FILTER (WHERE k.status = 'suppressed'), 0)::bigint AS suppressed,
           coalesce(sum(k.n) FILTER (WHERE k.status = 'cancelled'), 0)::bigint AS cancelled,
           coalesce(sum(k.n) FILTER (WHERE k.status = 'failed'), 0)::bigint AS failed,
           coalesce(sum(k.n) FILTER (WHERE k.status = 'pending'), 0)::bigint AS pending
      FROM delivery_counts k WHERE k.campaign_id = c.id
     GROUP BY k.domain HAVING sum(k.n) > 0) x
  LEFT JOIN LATERAL (
    SELECT sum(v.n) FILTER (WHERE v.kind = 'async_bounced') AS async_bounced,
           sum(v.n) FILTER (WHERE v.kind = 'complained') AS complained,
           sum(v.n) FILTER (WHERE v.kind = 'unsubscribed') AS unsubscribed
      FROM event_counts v WHERE v.campaign_id = c.id AND v.domain = x.domain) e ON true;

DROP VIEW source_summary;
CREATE VIEW source_summary AS
SELECT c.id AS campaign_id, c.name AS campaign, x.source_ip, x.status, x.recipients
  FROM campaigns c CROSS JOIN LATERAL (
    SELECT k.source_ip, k.status, sum(k.n)::bigint AS recipients
      FROM delivery_counts k WHERE k.campaign_id = c.id
     GROUP BY 1, 2 HAVING sum(k.n) > 0) x;

-- The time series with campaign names.
CREATE VIEW deliveries_per_minute AS
SELECT m.minute, m.campaign_id, c.name AS campaign, m.site, m.source_ip, m.status, m.events
  FROM delivery_minutes m LEFT JOIN campaigns c ON c.id = m.campaign_id;

-- Dashboard series: (time, metric, value) rows in buckets of `bucket`, one
-- metric per campaign, site or source IP (or 'all'), counting events of
-- `only_status` (NULL: every status). Buckets of whole hours read the
-- whole hours of the range from delivery_hours and only its partial hours
-- from delivery_minutes; other buckets read delivery_minutes.
CREATE FUNCTION delivery_series(from_time timestamptz, to_time timestamptz,
                                by_what text DEFAULT 'campaign',
                                bucket interval DEFAULT interval '1 minute',
                                only_status text DEFAULT 'delivered')
RETURNS TABLE ("time" timestamptz, metric text, value bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  origin constant timestamptz := timestamptz '2000-01-01 00:00:00+00';
  h_from timestamptz := date_bin('1 hour', from_time, origin);
  h_to timestamptz := date_bin('1 hour', to_time, origin);
BEGIN
  IF by_what NOT IN ('campaign', 'site', 'source', 'all') THEN
    RAISE EXCEPTION 'delivery_series: by_what must be campaign, site, source or all, not %', by_what;
  END IF;
  IF bucket < interval '1 minute' THEN
    RAISE EXCEPTION 'delivery_series: bucket must be at least 1 minute';
  END IF;
  IF h_from < from_time THEN
    h_from := h_from + interval '1 hour';
  END IF;
  IF bucket < interval '1 hour' OR extract(epoch FROM bucket)::bigint % 3600 <> 0
     OR h_from >= h_to THEN
    h_from := to_time;  -- minutes only
    h_to := to_time;
  END IF;
  RETURN QUERY
    SELECT date_bin(bucket, m.t, origin) AS t,
           CASE by_what WHEN 'campaign' THEN coalesce(c.name, '(no campaign)')
                        WHEN 'site' THEN m.site WHEN 'source' THEN m.source_ip
                        ELSE 'all' END AS k,
           sum(m.events)::bigint
      FROM (SELECT h.hour AS t, h.campaign_id, h.site, h.source_ip, h.status, h.events
              FROM delivery_hours h WHERE h.hour >= h_from AND h.hour < h_to
            UNION ALL
            SELECT n.minute, n.campaign_id, n.site, n.source_ip, n.status, n.events
              FROM delivery_minutes n
             WHERE n.minute >= from_time AND n.minute < to_time
               AND (n.minute < h_from OR n.minute >= h_to)) m
      LEFT JOIN campaigns c ON c.id = m.campaign_id
     WHERE only_status IS NULL OR m.status = only_status
     GROUP BY 1, 2 ORDER BY 1, 2;
END $$;
)SQL";

}  // namespace postino::db
