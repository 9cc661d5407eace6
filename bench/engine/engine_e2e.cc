// engine_e2e.cc: end-to-end benchmark driver (not a test). Sends N
// pre-rendered messages of a given size, one recipient each, through the
// delivery Engine to an SMTP server on 127.0.0.1:<port> (smtp-sink in
// bench/engine/run.sh), keeping a bounded number in flight like the real
// pipeline, and prints messages/s.
//
// usage: engine_e2e <port> <recipients> <message_bytes> <connections> [sites] [shaping]
//                   [rcpts_per_message]
//   sites (default 1): recipient domains d0.test..d<sites-1>.test, each its own
//     MX site (a `*` static route to the sink with site_per_domain); messages
//     go round-robin over them. <connections> is then per site.
//   shaping (default off): "on" adds per-site limits, message and connection
//     rates, the built-in policy rules and a warm-up plan, all set high
//     enough not to bind, so the run measures the cost of the decisions.
//   rcpts_per_message (default 1): each message carries this many recipients
//     of one domain (one transaction each); messages/s is then recipients/s
//     divided by it.
//   POSTINO_BENCH_MAX_CONNECTIONS=n sets the total connection cap (default
//     1000, as [node] max_connections); POSTINO_BENCH_DEST_TTL_MS=n how long
//     an idle destination is kept (default 60000).
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "engine/delivery/engine.h"
#include "engine/policy/policy.h"
#include "common/rate.h"

int main(int argc, char** argv) {
  if (argc < 5 || argc > 8) {
    std::fprintf(stderr,
                 "usage: %s <port> <recipients> <message_bytes> <connections> [sites] [on|off] "
                 "[rcpts_per_message]\n",
                 argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const long total = std::atol(argv[2]);
  const size_t size = static_cast<size_t>(std::atol(argv[3]));
  const int connections = std::atoi(argv[4]);
  const long window = 5000;  // messages handed to the engine at a time
  const long sites = argc > 5 ? std::max(1L, std::atol(argv[5])) : 1;
  const bool shaping = argc > 6 && std::string(argv[6]) == "on";
  const long per_message = argc > 7 ? std::max(1L, std::atol(argv[7])) : 1;
  std::vector<std::string> domains;
  for (long d = 0; d < sites; ++d) domains.push_back("d" + std::to_string(d) + ".test");

  // Pre-rendered bodies (a small set of distinct ones, shared by pointer).
  std::vector<std::shared_ptr<const std::string>> bodies;
  for (int b = 0; b < 64; ++b) {
    std::string m = "From: bench@postino.test\r\nTo: rcpt@example.com\r\nSubject: bench " +
                    std::to_string(b) + "\r\nMessage-ID: <" + std::to_string(b) +
                    "@postino.test>\r\n\r\n";
    while (m.size() + 80 < size) {
      m += std::string(76, static_cast<char>('a' + (m.size() / 78 + b) % 26)) + "\r\n";
    }
    bodies.push_back(std::make_shared<const std::string>(std::move(m)));
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  postino::delivery::EngineConfig config;
  config.sources.push_back({"bench", "127.0.0.1", "bench.postino.test", 1, ""});
  postino::delivery::Route route;
  route.domain_pattern = "*";
  route.kind = postino::delivery::Route::Kind::kStatic;
  route.host = "127.0.0.1";
  route.port = static_cast<uint16_t>(port);
  route.tls = postino::smtp::TlsMode::kNone;
  route.site_per_domain = sites > 1;
  config.routes.push_back(route);
  config.max_connections_per_destination = connections;
  config.max_messages_per_connection = 1000000;
  // The total connection cap ([node] max_connections), default 1000.
  if (const char* cap = std::getenv("POSTINO_BENCH_MAX_CONNECTIONS")) {
    config.max_total_connections = std::atoi(cap);
  }
  // How long an idle destination is kept (EngineConfig::destination_idle_ttl).
  if (const char* ttl = std::getenv("POSTINO_BENCH_DEST_TTL_MS")) {
    config.destination_idle_ttl = std::chrono::milliseconds(std::atol(ttl));
  }
  if (shaping) {
    postino::delivery::PathLimits limits;
    limits.max_connections = connections;
    limits.max_site_connections = connections * 4;
    limits.max_messages_per_connection = 1000000;
    limits.max_message_rate = *postino::ParseRate("10000000/min");
    limits.max_connection_rate = *postino::ParseRate("100000/min");
    config.limits_for = [limits](const std::string&, const std::vector<std::string>&) {
      return limits;
    };
    config.rate_burst = 100;
    auto policy = postino::policy::Policy::Create({}, /*use_builtin=*/true);
    config.policy = *policy;
    auto today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
    config.warmup.push_back({"bench", today, {1000000000}, {{"*", {1000000000}}}});
  }

  long submitted = 0, delivered = 0, failed = 0;
  std::unique_ptr<postino::delivery::Engine> engine;
  auto submit_more = [&] {
    while (submitted < total && static_cast<long>(engine->in_flight()) < window) {
      postino::delivery::OutboundMessage m;
      m.mail_from = "bounces@postino.test";
      const long message = submitted / per_message;
      const std::string& domain = domains[static_cast<size_t>(message % sites)];
      for (long r = 0; r < per_message && submitted < total; ++r, ++submitted) {
        m.recipients.push_back({static_cast<uint64_t>(submitted),
                                "user" + std::to_string(submitted) + "@" + domain, domain});
      }
      m.data = bodies[static_cast<size_t>(message) % bodies.size()];
      engine->Submit(std::move(m));
    }
  };
  bool refill_pending = false;
  uv_idle_t refill;  // refill once per loop turn, not per outcome
  uv_idle_init(&loop, &refill);
  refill.data = &submit_more;
  engine = std::make_unique<postino::delivery::Engine>(
      &loop, config, [&](postino::delivery::Outcome o) {
        if (o.disposition == postino::delivery::Disposition::kDelivered) {
          ++delivered;
        } else if (++failed <= 5) {
          std::fprintf(stderr, "not delivered: %s\n", o.reply.ToString().c_str());
        }
        if (!refill_pending) {
          refill_pending = true;
          uv_idle_start(&refill, [](uv_idle_t* h) {
            uv_idle_stop(h);
            (*static_cast<std::function<void()>*>(h->data))();
          });
        }
        if (delivered + failed == total) {
          engine->Shutdown([&] { uv_close(reinterpret_cast<uv_handle_t*>(&refill), nullptr); });
        }
      });
  std::function<void()> refill_fn = [&] {
    refill_pending = false;
    submit_more();
  };
  refill.data = &refill_fn;
  auto start = std::chrono::steady_clock::now();
  submit_more();
  uv_run(&loop, UV_RUN_DEFAULT);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  engine.reset();
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  if (per_message > 1) {
    std::printf(
        "postino engine (%ld sites, shaping %s, %ld rcpts/msg): %ld delivered, %ld failed, "
        "%.3f s, %.0f rcpts/s, %.0f msgs/s\n",
        sites, shaping ? "on" : "off", per_message, delivered, failed, secs, delivered / secs,
        delivered / secs / static_cast<double>(per_message));
  } else {
    std::printf(
        "postino engine (%ld sites, shaping %s): %ld delivered, %ld failed, %.3f s, %.0f msgs/s\n",
        sites, shaping ? "on" : "off", delivered, failed, secs, delivered / secs);
  }
  return failed == 0 && delivered == total ? 0 : 1;
}
