// migrations.cc: the versioned schema. Each migration runs once, in order,
// inside one transaction, and is recorded in schema_migrations. Never edit a
// migration that has shipped: add a new one.
#include "db/migrations.h"

namespace postino::db {

// Migrations whose SQL lives in a file of its own (size).
extern const char* const kMigration7Sql;

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
      // Issue 15 (analytics at scale): the SQL is in migration_7.cc.
      {7, "partitioned delivery events, counts and time series for analysts", kMigration7Sql},
      {8, "submission users", R"SQL(
-- Accounts of the SMTP submission listener (587/465): an Argon2id hash, the
-- sender domains and addresses the account may use, an optional rate
-- ("100/min") and daily quota, and a disabled flag.
CREATE TABLE users (
  id            bigserial PRIMARY KEY,
  name          text NOT NULL UNIQUE,
  password_hash text NOT NULL,
  domains       text[] NOT NULL DEFAULT '{}',
  addresses     text[] NOT NULL DEFAULT '{}',
  rate          text,
  daily_quota   bigint CHECK (daily_quota IS NULL OR daily_quota > 0),
  disabled      boolean NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
)SQL"},
      {9, "submitted messages delivered through deliveries", R"SQL(
-- Mail handed over by SMTP submission (issue 12): the message is stored once,
-- and each recipient is a deliveries row, so claims, leases, retries, expiry
-- and shaping are the campaigns'. A DSN postino generates is a submitted
-- message too (null sender, dsn_for = the message it reports on).
CREATE TABLE submitted_messages (
  id             bigserial PRIMARY KEY,
  user_name      text NOT NULL DEFAULT '',   -- the authenticated user ('' for DSNs of none)
  mail_from      text NOT NULL DEFAULT '',   -- envelope sender; '' = null sender <>
  envid          text,                       -- RFC 3461 ENVID, xtext-decoded
  ret            text CHECK (ret IN ('FULL', 'HDRS')),  -- RFC 3461 RET; NULL = not given (HDRS)
  body           bytea NOT NULL,             -- the message as accepted (CRLF lines)
  size           bigint NOT NULL,
  message_id     text,                       -- without <>
  received_at    timestamptz NOT NULL DEFAULT now(),
  client_ip      text,
  body_8bitmime  boolean NOT NULL DEFAULT false,
  smtputf8       boolean NOT NULL DEFAULT false,
  dsn_for        bigint REFERENCES submitted_messages (id) ON DELETE SET NULL,
  dsn_action     text                        -- for a DSN: failed, delayed, delivered/relayed
);
CREATE INDEX submitted_messages_received ON submitted_messages (received_at);
CREATE INDEX submitted_messages_user_received ON submitted_messages (user_name, received_at);
CREATE INDEX submitted_messages_dsn_for ON submitted_messages (dsn_for) WHERE dsn_for IS NOT NULL;

-- A delivery is a campaign's (campaign_id, subscriber_id) or a submitted
-- message's (submission_id), never both.
ALTER TABLE deliveries ALTER COLUMN campaign_id DROP NOT NULL;
ALTER TABLE deliveries ALTER COLUMN subscriber_id DROP NOT NULL;
ALTER TABLE deliveries ADD COLUMN submission_id bigint
  REFERENCES submitted_messages (id) ON DELETE CASCADE;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_one_origin
  CHECK ((campaign_id IS NULL) <> (submission_id IS NULL));
-- RFC 3461 per recipient: NOTIFY (NULL = not given: FAILURE,DELAY; else
-- 'NEVER' or a comma list of SUCCESS, FAILURE, DELAY) and ORCPT
-- ("addr-type;address", xtext-decoded).
ALTER TABLE deliveries ADD COLUMN dsn_notify text;
ALTER TABLE deliveries ADD COLUMN dsn_orcpt text;
-- A DSN owed for the final outcome ('failed' or 'delivered'), cleared in the
-- transaction that stores the DSN (or decides none is sent).
ALTER TABLE deliveries ADD COLUMN dsn_pending text CHECK (dsn_pending IN ('failed', 'delivered'));
-- The delay warning went out (at most one per recipient).
ALTER TABLE deliveries ADD COLUMN dsn_delay_sent boolean NOT NULL DEFAULT false;
CREATE INDEX deliveries_submission ON deliveries (submission_id) WHERE submission_id IS NOT NULL;
CREATE INDEX deliveries_submitted_due ON deliveries (next_attempt_at)
  WHERE submission_id IS NOT NULL AND status IN ('pending', 'deferred');
CREATE INDEX deliveries_dsn_pending ON deliveries (submission_id) WHERE dsn_pending IS NOT NULL;

-- Events of submitted recipients carry no campaign (works on the plain and
-- on the partitioned table alike).
ALTER TABLE delivery_events ALTER COLUMN campaign_id DROP NOT NULL;

-- Per submitting user and recipient domain (DSNs postino generated, which
-- have a dsn_action, left out).
CREATE VIEW submission_summary AS
SELECT m.user_name, d.domain,
       count(DISTINCT m.id) AS messages,
       count(*) AS recipients,
       count(*) FILTER (WHERE d.status = 'delivered') AS delivered,
       count(*) FILTER (WHERE d.status = 'pending') AS pending,
       count(*) FILTER (WHERE d.status = 'deferred') AS deferred,
       count(*) FILTER (WHERE d.status = 'bounced') AS bounced,
       count(*) FILTER (WHERE d.status = 'expired') AS expired,
       count(*) FILTER (WHERE d.status = 'failed') AS failed,
       round(count(*) FILTER (WHERE d.status = 'delivered')::numeric / count(*), 4)
         AS delivery_rate,
       sum(m.size) AS bytes,
       min(m.received_at) AS first_received_at,
       max(m.received_at) AS last_received_at
  FROM submitted_messages m JOIN deliveries d ON d.submission_id = m.id
 WHERE m.dsn_action IS NULL
 GROUP BY m.user_name, d.domain;
)SQL"},
      {10, "returned mail: reports, complaints, Message-ID lookups", R"SQL(
-- Bounces and complaints that arrive by mail (issue 13). Every processed
-- report is kept by the SHA-256 of its bytes: the same report imported or
-- received twice is recorded once.
CREATE TABLE returned_reports (
  id          bigserial PRIMARY KEY,
  sha256      text NOT NULL UNIQUE,
  received_at timestamptz NOT NULL DEFAULT now(),
  kind        text NOT NULL,   -- bounce, delay, success, complaint, autoreply, unknown
  format      text NOT NULL,   -- rfc3464, arf, ses-json, text, rfc3834, ...
  mail_from   text,
  rcpt_to     text,
  reasons     text,            -- "userunknown,mailboxfull" (per recipient, in order)
  recipients  integer NOT NULL DEFAULT 0,
  unmatched   integer NOT NULL DEFAULT 0
);
CREATE INDEX returned_reports_received_at ON returned_reports (received_at);

-- Complaints (ARF, provider feedback loops), counted per campaign, domain
-- and source (the reporting provider).
CREATE TABLE complaints (
  id            bigserial PRIMARY KEY,
  at            timestamptz NOT NULL DEFAULT now(),
  report_id     bigint REFERENCES returned_reports (id) ON DELETE SET NULL,
  delivery_id   bigint,
  campaign_id   bigint,
  email         text NOT NULL,
  domain        text NOT NULL,
  feedback_type text NOT NULL,
  source        text NOT NULL DEFAULT '',
  source_ip     text
);
CREATE INDEX complaints_campaign ON complaints (campaign_id);
CREATE VIEW complaint_summary AS
SELECT c.campaign_id, cp.name AS campaign, c.domain, c.source, c.feedback_type,
       count(*) AS complaints
  FROM complaints c LEFT JOIN campaigns cp ON cp.id = c.campaign_id
 GROUP BY 1, 2, 3, 4, 5;

-- Matching a report to its delivery by the returned message's Message-ID,
-- and by address when a report carries nothing else.
CREATE INDEX deliveries_message_id ON deliveries (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX deliveries_email ON deliveries (lower(email));
)SQL"},
  };
  return kMigrations;
}

}  // namespace postino::db
