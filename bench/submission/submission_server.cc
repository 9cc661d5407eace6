// submission_server.cc: the submission listener for bench/submission/run.sh:
// the production Listener, SubmissionHandler and PostgreSQL store (group
// commit, 250 only after commit), with AUTH switched off because
// smtp-source cannot authenticate. With CERT KEY, STARTTLS is offered
// (bench/submission/run_tls.sh); with `auth` after them, AUTH is required
// as in production (users from `postino user add`). Never built into
// postino itself.
//
// usage: submission_server DATABASE_URL PORT [STORE_THREADS] [CERT KEY [auth]]
#include <signal.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "inbound/pg_submission_store.h"
#include "inbound/submission_service.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: submission_server DATABASE_URL PORT [STORE_THREADS] [CERT KEY [auth]]\n");
    return 2;
  }
  postino::inbound::SubmissionServiceOptions o;
  o.database_url = argv[1];
  o.listen = {std::string("127.0.0.1:") + argv[2]};
  o.store_threads = argc > 3 ? std::atoi(argv[3]) : 2;
  o.cert_file = argc > 5 ? argv[4] : "";
  o.key_file = argc > 5 ? argv[5] : "";
  o.hostname = "bench.postino.test";
  o.require_auth = argc > 6 && std::string(argv[6]) == "auth";
  o.anonymous_user = o.require_auth ? "" : "bench";
  o.max_connections_per_ip = 1000;
  o.limits.max_recipients = 1000;
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto service = postino::inbound::SubmissionService::Start(&loop, o,
                                                            postino::inbound::MakePgSubmissionStore());
  if (!service.ok()) {
    std::fprintf(stderr, "submission_server: %s\n", service.status().message().c_str());
    return 1;
  }
  uv_signal_t term;
  uv_signal_init(&loop, &term);
  term.data = service->get();
  uv_signal_start(
      &term,
      [](uv_signal_t* h, int) {
        static_cast<postino::inbound::SubmissionService*>(h->data)->Stop(
            [h] { uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr); });
      },
      SIGTERM);
  std::fprintf(stderr, "submission_server: listening on 127.0.0.1:%s\n", argv[2]);
  uv_run(&loop, UV_RUN_DEFAULT);
  std::fprintf(stderr, "submission_server: accepted %llu, store failures %llu\n",
               static_cast<unsigned long long>((*service)->stats().accepted),
               static_cast<unsigned long long>((*service)->stats().store_failed));
  service->reset();
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return 0;
}
