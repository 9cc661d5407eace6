// service.cc: routing, /metrics, /healthz and the service's start and stop.
#include "http/service.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/metric_families.h"

namespace postino::http {
namespace {

namespace fam = metrics::families;

double NowUnixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Router::Router(UnsubscribeHandler& unsubscribe, HealthProbe* health, HealthOptions health_options)
    : unsubscribe_(unsubscribe), health_(health), health_options_(health_options), slow_("http-slow", 2) {
  fam::RegisterAll();
}

Router::~Router() { Stop(); }

void Router::Stop() { slow_.Stop(); }

void Router::Handle(const Request& req, Reply reply) {
  auto start = std::chrono::steady_clock::now();
  std::optional<std::string> token = unsubscribe_.TokenOf(req);
  const char* name = token                     ? "unsubscribe"
                     : req.path == "/metrics" ? "metrics"
                     : req.path == "/healthz" ? "healthz"
                                              : "other";
  Reply counted = [name, start, reply = std::move(reply)](Response r) {
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fam::HttpRequests().With({name, std::to_string(r.status)}).Inc();
    fam::HttpRequestDuration().With({name}).Observe(seconds);
    reply(std::move(r));
  };
  if (token) {
    unsubscribe_.Handle(req, *token, std::move(counted));
  } else if (req.path == "/metrics") {
    slow_.Post([this, &req, counted = std::move(counted)] { counted(Metrics(req)); });
  } else if (req.path == "/healthz") {
    slow_.Post([this, &req, counted = std::move(counted)] { counted(Healthz(req)); });
  } else {
    counted(Response::Text(404, "not found\n"));
  }
}

Response Router::Metrics(const Request& req) {
  if (req.method != "GET" && req.method != "HEAD") {
    Response r = Response::Text(405, "method not allowed\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  Response r = Response::Text(200, metrics::Registry::Global().Expose());
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

Response Router::Healthz(const Request& req) {
  if (req.method != "GET" && req.method != "HEAD") {
    Response r = Response::Text(405, "method not allowed\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  nlohmann::json out;
  bool ok = true;
  std::vector<std::string> problems;
  if (health_ != nullptr) {
    HealthProbe::DbState db = health_->Check();
    out["database"] = {{"ok", db.ok}, {"seconds", db.seconds}};
    if (!db.ok) {
      out["database"]["error"] = db.error;
      problems.push_back("database: " + db.error);
      ok = false;
    }
  }
  double beat = fam::LoopHeartbeat().Get().Value();
  if (health_options_.expect_loop) {
    double age = beat > 0 ? NowUnixSeconds() - beat : -1;
    bool fresh = beat > 0 && age * 1000 <= static_cast<double>(health_options_.max_loop_age.count());
    out["loop"] = {{"ok", fresh}, {"running", true}};
    if (beat > 0) out["loop"]["age_seconds"] = age;
    if (!fresh) {
      std::string what = beat > 0 ? fmt::format("event loop heartbeat is {:.1f} s old (limit {:.1f} s)",
                                                age, health_options_.max_loop_age.count() / 1000.0)
                                  : "event loop has not started";
      out["loop"]["error"] = what;
      problems.push_back("loop: " + what);
      ok = false;
    }
  } else {
    out["loop"] = {{"ok", true}, {"running", false}};
  }
  out["status"] = ok ? "ok" : "unavailable";
  if (!problems.empty()) out["problems"] = problems;
  Response r = Response::Text(ok ? 200 : 503, out.dump(-1, ' ', true) + "\n");
  r.content_type = "application/json";
  r.headers.emplace_back("Cache-Control", "no-store");
  if (!ok) r.headers.emplace_back("Retry-After", "5");
  return r;
}

Result<std::unique_ptr<Service>> Service::Start(ServiceOptions options) {
  std::unique_ptr<Service> s(new Service());
  std::string url = options.database_url;
  ConnectFn connect = [url]() { return db::Database::Connect(url); };
  // One connection for the store's lane, running its two statements with
  // plans made once.
  ConnectFn connect_batches = [url]() -> Result<std::unique_ptr<db::Database>> {
    Result<std::unique_ptr<db::Database>> c = db::Database::Connect(url);
    if (!c.ok()) return c;
    if (Status st = c.value()->PreferGenericPlans(); !st.ok()) return st;
    return c;
  };
  s->pool_ = std::make_unique<DatabasePool>(connect_batches, 1, std::chrono::milliseconds(2000));
  s->store_ = std::make_unique<BatchingUnsubscribeStore>(*s->pool_, options.max_batch);
  s->unsubscribe_ = std::make_unique<UnsubscribeHandler>(options.unsubscribe, *s->store_);
  s->health_ = std::make_unique<HealthProbe>(connect, options.health.db_bound);
  s->router_ = std::make_unique<Router>(*s->unsubscribe_, s->health_.get(), options.health);
  Result<std::unique_ptr<Server>> server = Server::Start(options.server, *s->router_);
  if (!server.ok()) return server.status();
  s->server_ = std::move(server).value();
  std::vector<uint16_t> ports = s->server_->ports();
  for (size_t i = 0; i < ports.size(); ++i) {
    const ListenAddress& a = options.server.listen[i];
    log::Info("http: listening on {}:{} ({})",
              a.ip.find(':') != std::string::npos ? "[" + a.ip + "]" : a.ip, ports[i],
              options.server.cert_pem.empty() ? "http" : "https");
  }
  return s;
}

Service::~Service() { Stop(); }

void Service::Stop() {
  if (server_) server_->Stop();  // every request is answered after this
  if (router_) router_->Stop();
  if (store_) {
    store_->Stop();
    BatchingUnsubscribeStore::Counts c = store_->counts();
    if (c.finds > 0) {
      log::Info("http: {} unsubscribe lookups in {} statements, {} records in {} statements",
                c.finds, c.find_batches, c.records, c.record_batches);
    }
  }
}

}  // namespace postino::http
