// service.h: what postino answers over HTTP — the routes, and the wiring of
// the server, the database pool, the health probe and the unsubscribe
// handler into one object that `postino run` and `postino serve --http`
// start and stop.
//
//   GET|POST /u/<token>, <unsubscribe path>?t=<token>   unsubscribe.h (batched
//                   database work: db_access.h, batch_lane.h)
//   GET /metrics    Prometheus text format 0.0.4 (docs/metrics.md)
//   GET /healthz    200 {"status":"ok",…} or 503 saying what is wrong
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"
#include "http/db_access.h"
#include "http/server.h"
#include "http/unsubscribe.h"
#include "http/worker_pool.h"

namespace postino::http {

struct HealthOptions {
  // `postino run`: /healthz also needs a fresh event-loop heartbeat
  // (metric postino_loop_heartbeat_timestamp_seconds).
  bool expect_loop = false;
  std::chrono::milliseconds max_loop_age{5000};
  std::chrono::milliseconds db_bound{2000};  // the trivial query's time bound
};

// Routes requests; usable without a socket (tests call Handle directly).
// Unsubscribes answer from the database lanes; /metrics and /healthz (which
// may wait for the database probe) run on two threads of their own.
class Router : public Handler {
 public:
  Router(UnsubscribeHandler& unsubscribe, HealthProbe* health, HealthOptions health_options);
  ~Router() override;
  void Handle(const Request& req, Reply reply) override;
  // Runs the queued /metrics and /healthz requests, then joins the threads.
  void Stop();

 private:
  Response Metrics(const Request& req);
  Response Healthz(const Request& req);

  UnsubscribeHandler& unsubscribe_;
  HealthProbe* health_;
  HealthOptions health_options_;
  WorkerPool slow_;
};

struct ServiceOptions {
  ServerOptions server;
  UnsubscribeOptions unsubscribe;
  HealthOptions health;
  std::string database_url;
  size_t max_batch = 256;  // unsubscribe lookups/records answered by one statement
};

class Service {
 public:
  // Starts listening; errors name the address that could not be bound.
  static Result<std::unique_ptr<Service>> Start(ServiceOptions options);
  ~Service();
  std::vector<uint16_t> ports() const { return server_->ports(); }
  void Stop();

 private:
  Service() = default;
  std::unique_ptr<DatabasePool> pool_;
  std::unique_ptr<BatchingUnsubscribeStore> store_;
  std::unique_ptr<UnsubscribeHandler> unsubscribe_;
  std::unique_ptr<HealthProbe> health_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<Server> server_;
};

}  // namespace postino::http
