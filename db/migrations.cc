// migrations.cc: the versioned schema. Each migration runs once, in order,
// inside one transaction, and is recorded in schema_migrations. Never edit a
// migration that has shipped: add a new one.
#include "db/migrations.h"

namespace postino::db {

const std::vector<Migration>& AllMigrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "initial schema", R"SQL(
CREATE TABLE lists (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE subscribers (
  id          bigserial PRIMARY KEY,
  email       text NOT NULL,             -- local part as imported, domain lowercase A-label
  email_key   text NOT NULL UNIQUE,      -- lower(email): the deduplication key
  domain      text NOT NULL,
  attributes  jsonb NOT NULL DEFAULT '{}'::jsonb,
  status      text NOT NULL DEFAULT 'active'
              CHECK (status IN ('active', 'unsubscribed', 'bounced')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscribers_domain ON subscribers (domain);

CREATE TABLE list_members (
  list_id        bigint NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
  subscriber_id  bigint NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
  added_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (list_id, subscriber_id)
);

CREATE TABLE templates (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  subject     text NOT NULL,
  html_body   text NOT NULL,
  text_body   text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE campaigns (
  id            bigserial PRIMARY KEY,
  name          text NOT NULL UNIQUE,
  list_id       bigint NOT NULL REFERENCES lists (id),
  template_id   bigint NOT NULL REFERENCES templates (id),
  from_name     text NOT NULL DEFAULT '',
  from_address  text NOT NULL,
  reply_to      text,
  pool          text NOT NULL DEFAULT '',
  max_age       interval NOT NULL DEFAULT interval '3 days',
  settings      jsonb NOT NULL DEFAULT '{}'::jsonb,
  status        text NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'finished', 'cancelled')),
  scheduled_at  timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  launched_at   timestamptz,
  started_at    timestamptz,
  paused_at     timestamptz,
  finished_at   timestamptz,
  cancelled_at  timestamptz,
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaigns_status ON campaigns (status);

CREATE TABLE deliveries (
  id                bigserial PRIMARY KEY,
  campaign_id       bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  subscriber_id     bigint NOT NULL REFERENCES subscribers (id),
  email             text NOT NULL,
  domain            text NOT NULL,
  status            text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'deferred', 'delivered', 'bounced', 'expired',
                                      'suppressed', 'cancelled', 'failed')),
  attempts          integer NOT NULL DEFAULT 0,
  next_attempt_at   timestamptz NOT NULL DEFAULT now(),
  lease_owner       text,
  lease_until       timestamptz,
  last_code         integer,
  last_enhanced     text,
  last_reply        text,
  source_ip         text,
  mx_host           text,
  message_id        text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  first_attempt_at  timestamptz,
  last_attempt_at   timestamptz,
  finished_at       timestamptz,
  UNIQUE (campaign_id, subscriber_id)
);
-- The work-claiming query: due rows that are still to be sent.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at)
  WHERE status IN ('pending', 'deferred');
-- Reporting by campaign, status and domain; finishing campaigns.
CREATE INDEX deliveries_campaign_status ON deliveries (campaign_id, status);
CREATE INDEX deliveries_campaign_domain ON deliveries (campaign_id, domain);
CREATE INDEX deliveries_lease_owner ON deliveries (lease_owner) WHERE lease_owner IS NOT NULL;

CREATE TABLE delivery_events (
  id            bigserial PRIMARY KEY,
  delivery_id   bigint NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  campaign_id   bigint NOT NULL,
  attempt       integer NOT NULL,
  status        text NOT NULL,     -- delivered, deferred, bounced, expired, failed
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
  at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX delivery_events_delivery ON delivery_events (delivery_id);
CREATE INDEX delivery_events_campaign_at ON delivery_events (campaign_id, at);

CREATE TABLE suppressions (
  email_key   text PRIMARY KEY,          -- lower(address)
  reason      text NOT NULL CHECK (reason IN ('hard_bounce', 'unsubscribe', 'complaint', 'manual')),
  detail      text,
  campaign_id bigint,
  created_at  timestamptz NOT NULL DEFAULT now()
);
)SQL"},
      {2, "views for analysts", R"SQL(
-- Per campaign: one row with the count of every status.
CREATE VIEW campaign_summary AS
SELECT c.id AS campaign_id, c.name AS campaign, c.status AS campaign_status,
       count(d.id) AS total,
       count(d.id) FILTER (WHERE d.status = 'delivered') AS delivered,
       count(d.id) FILTER (WHERE d.status = 'deferred') AS deferred,
       count(d.id) FILTER (WHERE d.status = 'bounced') AS bounced,
       count(d.id) FILTER (WHERE d.status = 'expired') AS expired,
       count(d.id) FILTER (WHERE d.status = 'suppressed') AS suppressed,
       count(d.id) FILTER (WHERE d.status = 'cancelled') AS cancelled,
       count(d.id) FILTER (WHERE d.status = 'failed') AS failed,
       count(d.id) FILTER (WHERE d.status = 'pending') AS pending,
       round(count(d.id) FILTER (WHERE d.status = 'delivered')::numeric
             / NULLIF(count(d.id) FILTER (WHERE d.status NOT IN ('suppressed', 'cancelled')), 0), 4)
         AS delivery_rate,
       c.created_at, c.launched_at, c.started_at, c.finished_at
  FROM campaigns c LEFT JOIN deliveries d ON d.campaign_id = c.id
 GROUP BY c.id, c.name, c.status, c.created_at, c.launched_at, c.started_at, c.finished_at;

-- Campaign x recipient domain.
CREATE VIEW domain_summary AS
SELECT d.campaign_id, c.name AS campaign, d.domain,
       count(*) AS total,
       count(*) FILTER (WHERE d.status = 'delivered') AS delivered,
       count(*) FILTER (WHERE d.status = 'deferred') AS deferred,
       count(*) FILTER (WHERE d.status = 'bounced') AS bounced,
       count(*) FILTER (WHERE d.status = 'expired') AS expired,
       count(*) FILTER (WHERE d.status = 'suppressed') AS suppressed,
       count(*) FILTER (WHERE d.status = 'cancelled') AS cancelled,
       count(*) FILTER (WHERE d.status = 'pending') AS pending
  FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id
 GROUP BY d.campaign_id, c.name, d.domain;

-- Campaign x enhanced status code x normalized reply text, for every
-- recipient that ended bounced or expired (the last reply decided it).
-- Normalization lowercases and replaces addresses, IPs, numbers and
-- session ids so that the same reason groups together.
CREATE VIEW bounce_reasons AS
SELECT d.campaign_id, c.name AS campaign, d.status, d.last_code AS smtp_code,
       coalesce(d.last_enhanced, '') AS enhanced_code,
       regexp_replace(regexp_replace(regexp_replace(regexp_replace(lower(coalesce(d.last_reply, '')),
         '[^\s<>@]+@[^\s<>]+', '<address>', 'g'),
         '\m\d{1,3}(\.\d{1,3}){3}\M', '<ip>', 'g'),
         '\m[0-9a-f]*\d[0-9a-f]*\M', '<n>', 'g'),
         '\s+', ' ', 'g') AS reason,
       count(*) AS recipients
  FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id
 WHERE d.status IN ('bounced', 'expired')
 GROUP BY 1, 2, 3, 4, 5, 6;

-- Campaign x source IP x status.
CREATE VIEW source_summary AS
SELECT d.campaign_id, c.name AS campaign, coalesce(d.source_ip, '') AS source_ip, d.status,
       count(*) AS recipients
  FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id
 GROUP BY 1, 2, 3, 4;
)SQL"},
      {3, "egress path events and per-source daily counts", R"SQL(
-- Every suspension, slow-down and recovery of an egress path (source x MX
-- site), with the reply that caused it.
CREATE TABLE egress_events (
  id           bigserial PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT now(),
  node         text NOT NULL,
  source_name  text NOT NULL,
  source_ip    text NOT NULL,
  site         text NOT NULL,      -- the MX site key (sorted MX host names) or route host
  domain       text NOT NULL DEFAULT '',
  action       text NOT NULL,      -- suspend, slow, recover, resume, bounce
  reply        text,
  until        timestamptz,
  rate         text                -- slow: the reduced rate, e.g. "60/min"
);
CREATE INDEX egress_events_at ON egress_events (at);
CREATE INDEX egress_events_until ON egress_events (until) WHERE until IS NOT NULL;

-- Today's attempts per source (warm-up caps survive restarts).
CREATE INDEX delivery_events_at ON delivery_events (at);

-- Claiming per running campaign, and finishing campaigns, without scanning
-- the rows of paused or scheduled ones.
CREATE INDEX deliveries_claim ON deliveries (campaign_id, next_attempt_at)
  WHERE status IN ('pending', 'deferred');
)SQL"},
      {4, "faster analyst views", R"SQL(
-- Count per campaign inside a LATERAL subquery: a filter on the campaign
-- reaches the (campaign_id, ...) indexes, and no join of every delivery row
-- with its campaign has to be sorted.
CREATE INDEX deliveries_campaign_domain_status ON deliveries (campaign_id, domain, status);
CREATE INDEX deliveries_campaign_source_status ON deliveries (campaign_id, source_ip, status);
DROP INDEX deliveries_campaign_domain;

DROP VIEW campaign_summary;
CREATE VIEW campaign_summary AS
SELECT c.id AS campaign_id, c.name AS campaign, c.status AS campaign_status,
       s.total, s.delivered, s.deferred, s.bounced, s.expired, s.suppressed, s.cancelled,
       s.failed, s.pending,
       round(s.delivered::numeric / NULLIF(s.total - s.suppressed - s.cancelled, 0), 4)
         AS delivery_rate,
       c.created_at, c.launched_at, c.started_at, c.finished_at
  FROM campaigns c CROSS JOIN LATERAL (
    SELECT count(*) AS total,
           count(*) FILTER (WHERE d.status = 'delivered') AS delivered,
           count(*) FILTER (WHERE d.status = 'deferred') AS deferred,
           count(*) FILTER (WHERE d.status = 'bounced') AS bounced,
           count(*) FILTER (WHERE d.status = 'expired') AS expired,
           count(*) FILTER (WHERE d.status = 'suppressed') AS suppressed,
           count(*) FILTER (WHERE d.status = 'cancelled') AS cancelled,
           count(*) FILTER (WHERE d.status = 'failed') AS failed,
           count(*) FILTER (WHERE d.status = 'pending') AS pending
      FROM deliveries d WHERE d.campaign_id = c.id) s;

DROP VIEW domain_summary;
CREATE VIEW domain_summary AS
SELECT c.id AS campaign_id, c.name AS campaign, x.domain, x.total, x.delivered, x.deferred,
       x.bounced, x.expired, x.suppressed, x.cancelled, x.pending
  FROM campaigns c CROSS JOIN LATERAL (
    SELECT d.domain, count(*) AS total,
           count(*) FILTER (WHERE d.status = 'delivered') AS delivered,
           count(*) FILTER (WHERE d.status = 'deferred') AS deferred,
           count(*) FILTER (WHERE d.status = 'bounced') AS bounced,
           count(*) FILTER (WHERE d.status = 'expired') AS expired,
           count(*) FILTER (WHERE d.status = 'suppressed') AS suppressed,
           count(*) FILTER (WHERE d.status = 'cancelled') AS cancelled,
           count(*) FILTER (WHERE d.status = 'pending') AS pending
      FROM deliveries d WHERE d.campaign_id = c.id GROUP BY d.domain) x;

-- The normalized reply is computed once, when a result is written, instead
-- of by every bounce_reasons query: lowercased, with addresses, IPv4
-- addresses, numbers and hex ids replaced, spaces squeezed.
CREATE FUNCTION postino_reply_key(reply text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT regexp_replace(regexp_replace(regexp_replace(regexp_replace(lower(coalesce(reply, '')),
    '[^\s<>@]+@[^\s<>]+', '<address>', 'g'),
    '\m\d{1,3}(\.\d{1,3}){3}\M', '<ip>', 'g'),
    '\m[0-9a-f]*\d[0-9a-f]*\M', '<n>', 'g'),
    '\s+', ' ', 'g')
$$;
ALTER TABLE deliveries ADD COLUMN last_reply_key text;
UPDATE deliveries SET last_reply_key = postino_reply_key(last_reply)
 WHERE status IN ('bounced', 'expired');
CREATE INDEX deliveries_campaign_failed ON deliveries (campaign_id, status)
  INCLUDE (last_code, last_enhanced, last_reply_key) WHERE status IN ('bounced', 'expired');

DROP VIEW bounce_reasons;
CREATE VIEW bounce_reasons AS
SELECT c.id AS campaign_id, c.name AS campaign, x.status, x.smtp_code, x.enhanced_code,
       x.reason, x.recipients
  FROM campaigns c CROSS JOIN LATERAL (
    SELECT d.status, d.last_code AS smtp_code, coalesce(d.last_enhanced, '') AS enhanced_code,
           coalesce(d.last_reply_key, '') AS reason, count(*) AS recipients
      FROM deliveries d
     WHERE d.campaign_id = c.id AND d.status IN ('bounced', 'expired')
     GROUP BY 1, 2, 3, 4) x;

DROP VIEW source_summary;
CREATE VIEW source_summary AS
SELECT c.id AS campaign_id, c.name AS campaign, x.source_ip, x.status, x.recipients
  FROM campaigns c CROSS JOIN LATERAL (
    SELECT coalesce(d.source_ip, '') AS source_ip, d.status, count(*) AS recipients
      FROM deliveries d WHERE d.campaign_id = c.id GROUP BY 1, 2) x;
)SQL"},
      {5, "site on delivery events", R"SQL(
-- The MX site (sorted MX host set, or the route's site) an attempt went to:
-- today's per-site warm-up counts are read back from it after a restart,
-- and analysts can group by site rather than by single MX host.
ALTER TABLE delivery_events ADD COLUMN site text;
)SQL"},
      {6, "failed recipients in the per-domain and reason views", R"SQL(
-- `failed` (postino could not render or send the message: nothing reached
-- a server) gets its own column per domain, as in campaign_summary.
DROP VIEW domain_summary;
CREATE VIEW domain_summary AS
SELECT c.id AS campaign_id, c.name AS campaign, x.domain, x.total, x.delivered, x.deferred,
       x.bounced, x.expired, x.suppressed, x.cancelled, x.failed, x.pending
  FROM campaigns c CROSS JOIN LATERAL (
    SELECT d.domain, count(*) AS total,
           count(*) FILTER (WHERE d.status = 'delivered') AS delivered,
           count(*) FILTER (WHERE d.status = 'deferred') AS deferred,
           count(*) FILTER (WHERE d.status = 'bounced') AS bounced,
           count(*) FILTER (WHERE d.status = 'expired') AS expired,
           count(*) FILTER (WHERE d.status = 'suppressed') AS suppressed,
           count(*) FILTER (WHERE d.status = 'cancelled') AS cancelled,
           count(*) FILTER (WHERE d.status = 'failed') AS failed,
           count(*) FILTER (WHERE d.status = 'pending') AS pending
      FROM deliveries d WHERE d.campaign_id = c.id GROUP BY d.domain) x;

-- bounce_reasons also lists why recipients failed. Failed rows are few:
-- their reason key is computed when read, through the (campaign_id, status)
-- index, and the bounced/expired part keeps its index-only scan.
UPDATE deliveries SET last_reply_key = postino_reply_key(last_reply) WHERE status = 'failed';
DROP VIEW bounce_reasons;
CREATE VIEW bounce_reasons AS
SELECT c.id AS campaign_id, c.name AS campaign, x.status, x.smtp_code, x.enhanced_code,
       x.reason, x.recipients
  FROM campaigns c CROSS JOIN LATERAL (
    SELECT d.status, d.last_code AS smtp_code, coalesce(d.last_enhanced, '') AS enhanced_code,
           coalesce(d.last_reply_key, '') AS reason, count(*) AS recipients
      FROM deliveries d
     WHERE d.campaign_id = c.id AND d.status IN ('bounced', 'expired')
     GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT d.status, d.last_code, coalesce(d.last_enhanced, ''),
           coalesce(d.last_reply_key, postino_reply_key(d.last_reply)), count(*)
      FROM deliveries d
     WHERE d.campaign_id = c.id AND d.status = 'failed'
     GROUP BY 1, 2, 3, 4) x;
)SQL"},
      // Issue 15 (analytics at scale); docs/analytics.md, docs/schema.md.
      {7, "partitioned delivery events, counts and time series for analysts", R"SQL(
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

-- Dashboard series: (time, metric, value) rows in buckets of `bucket` from
-- the per-minute rollup, one metric per campaign, site or source IP (or
-- 'all'), counting events of `only_status` (NULL: every status).
CREATE FUNCTION delivery_series(from_time timestamptz, to_time timestamptz,
                                by_what text DEFAULT 'campaign',
                                bucket interval DEFAULT interval '1 minute',
                                only_status text DEFAULT 'delivered')
RETURNS TABLE ("time" timestamptz, metric text, value bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF by_what NOT IN ('campaign', 'site', 'source', 'all') THEN
    RAISE EXCEPTION 'delivery_series: by_what must be campaign, site, source or all, not %', by_what;
  END IF;
  IF bucket < interval '1 minute' THEN
    RAISE EXCEPTION 'delivery_series: bucket must be at least 1 minute';
  END IF;
  RETURN QUERY
    SELECT date_bin(bucket, m.minute, timestamptz '2000-01-01 00:00:00+00') AS t,
           CASE by_what WHEN 'campaign' THEN coalesce(c.name, '(no campaign)')
                        WHEN 'site' THEN m.site WHEN 'source' THEN m.source_ip
                        ELSE 'all' END AS k,
           sum(m.events)::bigint
      FROM delivery_minutes m LEFT JOIN campaigns c ON c.id = m.campaign_id
     WHERE m.minute >= from_time AND m.minute < to_time
       AND (only_status IS NULL OR m.status = only_status)
     GROUP BY 1, 2 ORDER BY 1, 2;
END $$;
)SQL"},
  };
  return kMigrations;
}

}  // namespace postino::db
