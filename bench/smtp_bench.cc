// smtp_bench.cc: the SMTP client's per-message costs: parsing a multi-line
// EHLO reply, dot-stuffing a 5 KB message, and one whole pipelined
// transaction through ClientSession (strings in, actions out).
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "engine/smtp/client_session.h"
#include "engine/smtp/data_encoder.h"
#include "engine/smtp/reply_parser.h"

namespace {

using namespace postino::smtp;

constexpr std::string_view kEhlo =
    "250-mx.google.com at your service, [203.0.113.7]\r\n250-SIZE 157286400\r\n"
    "250-8BITMIME\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n"
    "250-CHUNKING\r\n250 SMTPUTF8\r\n";

void BM_ParseEhloReply(benchmark::State& state) {
  for (auto _ : state) {
    ReplyParser parser;
    parser.Feed(kEhlo);
    auto reply = parser.Next();
    benchmark::DoNotOptimize(reply);
  }
  state.SetBytesProcessed(state.iterations() * kEhlo.size());
}
BENCHMARK(BM_ParseEhloReply);

std::string Message5k() {
  std::string m =
      "From: News <news@sender.example>\r\nTo: someone@x.example\r\nSubject: Weekly\r\n"
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n";
  int i = 0;
  while (m.size() < 5000) {
    m += (i % 10 == 0) ? ".a line that starts with a dot, to be stuffed\r\n"
                       : "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do.\r\n";
    ++i;
  }
  return m;
}

void BM_DotStuff5k(benchmark::State& state) {
  std::string message = Message5k();
  std::string out;
  for (auto _ : state) {
    out.clear();
    DotStuff(message, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * message.size());
}
BENCHMARK(BM_DotStuff5k);

// One session set up once; each iteration is one pipelined transaction with
// two recipients: Submit, the server's replies, the end-of-data reply.
void BM_PipelinedTransaction(benchmark::State& state) {
  SessionParams params;
  params.helo_name = "bench.example";
  params.tls = TlsMode::kNone;
  params.max_transactions = 1 << 30;
  ClientSession session(params);
  session.OnConnected();
  session.OnBytes("220 mx ESMTP\r\n");
  session.OnBytes(kEhlo);
  session.TakeActions();
  auto body = std::make_shared<const std::string>(Message5k());
  uint64_t id = 0;
  size_t results = 0;
  for (auto _ : state) {
    Transaction t;
    t.id = ++id;
    t.mail_from = "bounce-123@sender.example";
    t.rcpts = {"alice@x.example", "bob@x.example"};
    t.data = body;
    session.Submit(std::move(t));
    session.OnBytes("250 2.1.0 OK\r\n250 2.1.5 OK\r\n250 2.1.5 OK\r\n354 Go ahead\r\n");
    session.OnBytes("250 2.0.0 OK 1700000000 queued\r\n");
    for (const Action& a : session.TakeActions()) {
      results += a.kind == Action::Kind::kRecipientResult;
    }
  }
  if (results != 2 * id) state.SkipWithError("missing recipient results");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PipelinedTransaction);

}  // namespace
