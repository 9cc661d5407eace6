// templates_bench.cc: per-message cost of the render path — a ~5 KB
// personalized template (subject + text + HTML, ~10 attributes, a section
// loop) rendered into MIME; DKIM signing with RSA-2048 and with Ed25519
// (canonicalization and hashing included); and the raw sign operations of
// the same keys for comparison. bench/templates/run.sh runs it.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "templates/dkim.h"
#include "templates/message_builder.h"

namespace {

using namespace postino::templates;
using nlohmann::json;

postino::WallTime Now() { return postino::WallTime(std::chrono::seconds(1709640000)); }

CampaignSpec Campaign() {
  CampaignSpec spec;
  spec.name = "Primavera 2024";
  spec.from = {"Négozio Àrte", "news@example.com"};
  spec.reply_to = {"Assistenza", "help@example.com"};
  spec.subject_template = "{{first_name | default: \"Ciao\"}}, le novità di {{city.name}} per te";
  std::string text =
      "Ciao {{first_name | default: \"amico\"}} {{last_name}},\n\n"
      "ecco le offerte scelte per te a {{city.name}} ({{city.zip}}), valide fino al "
      "{{expires | date: \"%d/%m/%Y\"}}.\n\n"
      "{{#items}}- {{name}}: {{price}} EUR (codice {{sku}})\n{{/items}}\n"
      "Il tuo livello: {{tier | upper}}. Punti: {{points}}.\n";
  for (int i = 0; i < 12; ++i) {
    text +=
        "Questo è un paragrafo di testo che descrive la campagna e le sue condizioni, "
        "riga " +
        std::to_string(i) + ".\n";
  }
  text += "\nPer non ricevere più email: {{unsubscribe_url}}\n";
  spec.text_template = text;
  std::string html =
      "<!doctype html><html><body><h1>Ciao {{first_name | default: \"amico\"}} "
      "{{last_name}}</h1>\n<p>Offerte per <b>{{city.name}}</b> ({{city.zip}}), fino al "
      "{{expires | date: \"%d %B %Y\"}}.</p>\n<table>\n"
      "{{#items}}<tr><td>{{name}}</td><td>{{price}} &euro;</td><td>{{sku}}</td></tr>\n"
      "{{/items}}</table>\n<p>Livello {{tier | capitalize}} &middot; {{points}} punti &middot; "
      "{{email}}</p>\n";
  for (int i = 0; i < 14; ++i) {
    html +=
        "<p style=\"margin:0 0 12px 0;font-family:Arial,sans-serif;color:#333\">Paragrafo "
        "descrittivo della campagna numero " +
        std::to_string(i) + ", con qualche dettaglio.</p>\n";
  }
  html += "<p><a href=\"{{unsubscribe_url}}\">Disiscriviti</a></p></body></html>\n";
  spec.html_template = html;
  spec.list_id = "Notizie <news.example.com>";
  spec.unsubscribe_url_base = "https://example.com/u";
  spec.unsubscribe_mailto = "unsub@example.com";
  spec.feedback_id = "c42:customer1:newsletter:postino";
  spec.verp_domain = "bounces.example.com";
  return spec;
}

std::vector<json> Recipients() {
  std::vector<json> out;
  const char* names[] = {"Élodie", "Marco", "Zoë", "", "Łukasz"};
  for (int i = 0; i < 100; ++i) {
    json items = json::array();
    for (int k = 0; k < 4; ++k) {
      items.push_back({{"name", "Articolo " + std::to_string(k)},
                       {"price", 10 + k + i % 7},
                       {"sku", "SKU-" + std::to_string(i * 10 + k)}});
    }
    out.push_back({{"first_name", names[i % 5]},
                   {"last_name", "Rossi"},
                   {"email", "user" + std::to_string(i) + "@example.org"},
                   {"city", {{"name", "Torino"}, {"zip", "10100"}}},
                   {"expires", "2024-04-30"},
                   {"tier", "gold"},
                   {"points", 1200 + i},
                   {"items", items}});
  }
  return out;
}

struct Fixture {
  std::shared_ptr<const PreparedCampaign> campaign;
  std::vector<json> recipients;
  std::string message;
  std::string dir;
  std::unique_ptr<DkimSigner> rsa, ed;
  EVP_PKEY* rsa_key = nullptr;
  EVP_PKEY* ed_key = nullptr;
};

EVP_PKEY* LoadKey(const std::string& path) {
  FILE* f = fopen(path.c_str(), "r");
  if (!f) return nullptr;
  EVP_PKEY* k = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  fclose(f);
  return k;
}

Fixture& Get() {
  static Fixture* fx = [] {
    auto* f = new Fixture();
    auto prepared = PreparedCampaign::Prepare(Campaign());
    if (!prepared.ok()) {
      std::fprintf(stderr, "prepare: %s\n", prepared.status().ToString().c_str());
      std::abort();
    }
    f->campaign = *prepared;
    f->recipients = Recipients();
    auto m = f->campaign->Render(
        {.email = "user1@example.org", .attributes = &f->recipients[1], .unsubscribe_token = "t1"},
        Now());
    f->message = m->bytes;
    char tmpl[] = "/tmp/postino-bench-XXXXXX";
    f->dir = mkdtemp(tmpl);
    auto rsa_record =
        GenerateDkimKey("example.com", "rsa", DkimAlgorithm::kRsaSha256, f->dir + "/rsa.pem");
    auto ed_record =
        GenerateDkimKey("example.com", "ed", DkimAlgorithm::kEd25519Sha256, f->dir + "/ed.pem");
    if (!rsa_record.ok() || !ed_record.ok()) std::abort();
    f->rsa = std::move(DkimSigner::Create({{.domain = "example.com",
                                            .selector = "rsa",
                                            .algorithm = DkimAlgorithm::kRsaSha256,
                                            .private_key_path = f->dir + "/rsa.pem"}})
                           .value());
    f->ed = std::move(DkimSigner::Create({{.domain = "example.com",
                                           .selector = "ed",
                                           .algorithm = DkimAlgorithm::kEd25519Sha256,
                                           .private_key_path = f->dir + "/ed.pem"}})
                          .value());
    f->rsa_key = LoadKey(f->dir + "/rsa.pem");
    f->ed_key = LoadKey(f->dir + "/ed.pem");
    std::filesystem::remove_all(f->dir);
    return f;
  }();
  return *fx;
}

void BM_RenderMime(benchmark::State& state) {
  Fixture& f = Get();
  RenderedMessage out;
  size_t i = 0;
  size_t bytes = 0;
  std::string email = "user@example.org";
  for (auto _ : state) {
    const json& attrs = f.recipients[i++ % f.recipients.size()];
    RecipientData r{.email = email, .attributes = &attrs, .unsubscribe_token = "tok123abc"};
    if (!f.campaign->Render(r, Now(), &out).ok()) state.SkipWithError("render failed");
    bytes += out.bytes.size();
    benchmark::DoNotOptimize(out.bytes.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["msg_bytes"] =
      static_cast<double>(bytes) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_RenderMime);

void BM_DkimSign(benchmark::State& state, bool ed25519) {
  Fixture& f = Get();
  const DkimSigner& signer = ed25519 ? *f.ed : *f.rsa;
  for (auto _ : state) {
    auto fields = signer.Sign(f.message, Now());
    if (!fields.ok()) state.SkipWithError("sign failed");
    benchmark::DoNotOptimize(fields->data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["msg_bytes"] = static_cast<double>(f.message.size());
}
BENCHMARK_CAPTURE(BM_DkimSign, rsa2048, false);
BENCHMARK_CAPTURE(BM_DkimSign, ed25519, true);

// The bare sign operation of the same keys (a 32-byte input), in-process.
void BM_RawSign(benchmark::State& state, bool ed25519) {
  Fixture& f = Get();
  unsigned char tbs[32] = {1, 2, 3};
  unsigned char sig[512];
  for (auto _ : state) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = sizeof sig;
    if (EVP_DigestSignInit(ctx, nullptr, ed25519 ? nullptr : EVP_sha256(), nullptr,
                           ed25519 ? f.ed_key : f.rsa_key) != 1 ||
        EVP_DigestSign(ctx, sig, &len, tbs, sizeof tbs) != 1) {
      state.SkipWithError("raw sign failed");
    }
    EVP_MD_CTX_free(ctx);
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK_CAPTURE(BM_RawSign, rsa2048, false);
BENCHMARK_CAPTURE(BM_RawSign, ed25519, true);

}  // namespace
