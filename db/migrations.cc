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
  };
  return kMigrations;
}

}  // namespace postino::db
