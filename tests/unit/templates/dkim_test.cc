// dkim_test.cc: DKIM signing verified by python3-dkim (dkimpy), an
// implementation nobody here wrote, for RSA-SHA256 and Ed25519-SHA256, both
// canonicalizations and awkward bodies; tampering must fail; key loading
// rules; key generation (file mode, no overwrite, DNS record format).
#include "templates/dkim.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "templates/message_builder.h"
#include "tests/unit/templates/test_util.h"

namespace postino::templates {
namespace {

using nlohmann::json;
using testing::TempDir;

WallTime Noon() { return WallTime(std::chrono::seconds(1709640000)); }

// Keys generated once for the whole suite (RSA generation is slow).
struct Keys {
  TempDir dir;
  std::string rsa_path, ed_path, rsa_record, ed_record;
};

Keys* SuiteKeys() {
  static Keys* keys = [] {
    auto* k = new Keys();
    k->rsa_path = k->dir.File("rsa.pem");
    k->ed_path = k->dir.File("ed.pem");
    auto rsa = GenerateDkimKey("example.com", "rsa1", DkimAlgorithm::kRsaSha256, k->rsa_path);
    auto ed = GenerateDkimKey("example.com", "ed1", DkimAlgorithm::kEd25519Sha256, k->ed_path);
    if (rsa.ok()) k->rsa_record = *rsa;
    if (ed.ok()) k->ed_record = *ed;
    return k;
  }();
  return keys;
}

std::unique_ptr<DkimSigner> BothKeysSigner(DkimCanonicalization header, DkimCanonicalization body) {
  Keys* k = SuiteKeys();
  DkimOptions options;
  options.header_canonicalization = header;
  options.body_canonicalization = body;
  auto signer = DkimSigner::Create({{.domain = "example.com",
                                     .selector = "rsa1",
                                     .algorithm = DkimAlgorithm::kRsaSha256,
                                     .private_key_path = k->rsa_path},
                                    {.domain = "example.com",
                                     .selector = "ed1",
                                     .algorithm = DkimAlgorithm::kEd25519Sha256,
                                     .private_key_path = k->ed_path}},
                                   options);
  EXPECT_TRUE(signer.ok()) << signer.status().ToString();
  return signer.ok() ? std::move(signer).value() : nullptr;
}

struct Verification {
  int exit_code;
  json report;
  std::string output;
};

Verification Verify(const std::string& message) {
  Keys* k = SuiteKeys();
  TempDir dir;
  testing::WriteFile(dir.File("m.eml"), message);
  testing::WriteFile(dir.File("dns.txt"), k->rsa_record + "\n" + k->ed_record + "\n");
  auto r = testing::RunPython(testing::ScriptPath("dkim_verify.py"),
                              {dir.File("m.eml"), dir.File("dns.txt")});
  Verification v{r.exit_code, json(), r.output};
  v.report = json::parse(r.output, nullptr, false);
  return v;
}

// Bodies that stress canonicalization.
std::string AwkwardText() {
  return "Ciao {{first_name}},\n" + std::string(180, 'x') + " fine riga lunga\n" +
         ".una riga che inizia con un punto\n..due punti\n.\n" +
         "spazi  doppi\te\ttab   e fine con spazi   \n" + "\n\n\n";  // trailing blank lines
}

std::string BuildMessage(bool multipart, bool clean = false) {
  CampaignSpec spec;
  spec.name = "Prova";
  spec.from = {"Négozio", "news@example.com"};
  spec.subject_template = "Novità per te, {{first_name}} — «offerte» 😀 e molto altro ancora";
  // A clean body (no tab, no run of spaces, no trailing space) takes the
  // relaxed canonicalizer's no-copy path.
  spec.text_template =
      clean ? "Ciao {{first_name}}, una riga.\n.punto\n" + std::string(150, 'y') + "\n\n"
            : AwkwardText();
  if (multipart) {
    spec.html_template = "<p>Ciao {{first_name}}</p>" + std::string(300, 'h') + "\n\n\n";
  }
  spec.list_id = "news.example.com";
  spec.unsubscribe_url_base = "https://example.com/u";
  spec.unsubscribe_mailto = "unsub@example.com";
  spec.feedback_id = "1:2:3:postino";
  auto prepared = PreparedCampaign::Prepare(spec);
  EXPECT_TRUE(prepared.ok()) << prepared.status().ToString();
  json attrs{{"first_name", "Élodie"}};
  auto m = (*prepared)->Render(
      {.email = "rcpt@example.org", .attributes = &attrs, .unsubscribe_token = "tok"}, Noon());
  EXPECT_TRUE(m.ok());
  return m->bytes;
}

class DkimVerifyTest : public ::testing::TestWithParam<
                           std::tuple<DkimCanonicalization, DkimCanonicalization, bool>> {
 protected:
  void SetUp() override {
    if (std::string why = testing::PythonMissing("dkim"); !why.empty()) GTEST_SKIP() << why;
    if (std::string why = testing::PythonMissing("nacl"); !why.empty()) GTEST_SKIP() << why;
    ASSERT_FALSE(SuiteKeys()->rsa_record.empty());
    ASSERT_FALSE(SuiteKeys()->ed_record.empty());
  }
};

TEST_P(DkimVerifyTest, BothSignaturesVerifyAndTamperingFails) {
  auto [header_canon, body_canon, multipart] = GetParam();
  auto signer = BothKeysSigner(header_canon, body_canon);
  ASSERT_NE(signer, nullptr);
  std::string message = BuildMessage(multipart);
  ASSERT_NE(message.find("\r\n.una riga"), std::string::npos);
  ASSERT_TRUE(signer->SignInPlace(&message, Noon()).ok());
  ASSERT_EQ(message.rfind("DKIM-Signature: v=1; a=rsa-sha256;", 0), 0u);
  ASSERT_NE(message.find("\r\nDKIM-Signature: v=1; a=ed25519-sha256;"), std::string::npos);

  Verification ok = Verify(message);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(ok.report, (json{{"count", 2}, {"results", {true, true}}})) << ok.output;

  // One changed body byte breaks both signatures.
  std::string tampered = message;
  size_t pos = tampered.find("una riga");
  tampered[pos] = 'U';
  Verification body_bad = Verify(tampered);
  EXPECT_EQ(body_bad.exit_code, 1) << body_bad.output;
  ASSERT_TRUE(body_bad.report.is_object()) << body_bad.output;
  EXPECT_EQ(body_bad.report["results"], (json{false, false})) << body_bad.output;

  // So does a changed signed header.
  tampered = message;
  pos = tampered.find("\r\nTo: ");
  tampered.replace(pos, 6, "\r\nTo: x");
  Verification header_bad = Verify(tampered);
  EXPECT_EQ(header_bad.exit_code, 1) << header_bad.output;
}

INSTANTIATE_TEST_SUITE_P(
    Canonicalizations, DkimVerifyTest,
    ::testing::Values(
        std::make_tuple(DkimCanonicalization::kRelaxed, DkimCanonicalization::kRelaxed, true),
        std::make_tuple(DkimCanonicalization::kSimple, DkimCanonicalization::kSimple, true),
        std::make_tuple(DkimCanonicalization::kRelaxed, DkimCanonicalization::kRelaxed, false),
        std::make_tuple(DkimCanonicalization::kSimple, DkimCanonicalization::kSimple, false),
        std::make_tuple(DkimCanonicalization::kRelaxed, DkimCanonicalization::kSimple, false),
        std::make_tuple(DkimCanonicalization::kSimple, DkimCanonicalization::kRelaxed, false)));

TEST(DkimSignerTest, RelaxedBodyToleratesWhitespaceChangesSimpleDoesNot) {
  if (std::string why = testing::PythonMissing("dkim"); !why.empty()) GTEST_SKIP() << why;
  for (auto canon : {DkimCanonicalization::kRelaxed, DkimCanonicalization::kSimple}) {
    auto signer = BothKeysSigner(DkimCanonicalization::kRelaxed, canon);
    ASSERT_NE(signer, nullptr);
    std::string message = BuildMessage(false);
    ASSERT_TRUE(signer->SignInPlace(&message, Noon()).ok());
    size_t pos = message.find("spazi  doppi");
    ASSERT_NE(pos, std::string::npos);
    message.replace(pos, 12, "spazi \t doppi");  // a whitespace run changes shape
    Verification v = Verify(message);
    EXPECT_EQ(v.exit_code, canon == DkimCanonicalization::kRelaxed ? 0 : 1) << v.output;
  }
}

TEST(DkimSignerTest, CleanBodyFastPathVerifies) {
  if (std::string why = testing::PythonMissing("dkim"); !why.empty()) GTEST_SKIP() << why;
  for (auto canon : {DkimCanonicalization::kRelaxed, DkimCanonicalization::kSimple}) {
    auto signer = BothKeysSigner(canon, canon);
    ASSERT_NE(signer, nullptr);
    std::string message = BuildMessage(true, true);
    ASSERT_EQ(message.find('\t'), std::string::npos);
    ASSERT_TRUE(signer->SignInPlace(&message, Noon()).ok());
    Verification v = Verify(message);
    EXPECT_EQ(v.exit_code, 0) << v.output;
    EXPECT_EQ(v.report["results"], (json{true, true})) << v.output;
    message[message.size() - 20] ^= 1;  // tamper
    EXPECT_EQ(Verify(message).exit_code, 1);
  }
}

TEST(DkimSignerTest, SignedHeaderListOverSignsFrom) {
  auto signer = BothKeysSigner(DkimCanonicalization::kRelaxed, DkimCanonicalization::kRelaxed);
  ASSERT_NE(signer, nullptr);
  auto fields = signer->Sign(BuildMessage(true), Noon());
  ASSERT_TRUE(fields.ok()) << fields.status().ToString();
  std::string unfolded = *fields;
  for (size_t p; (p = unfolded.find("\r\n\t")) != std::string::npos;) unfolded.erase(p, 3);
  EXPECT_NE(unfolded.find("h=from:from:to:subject:date:message-id:mime-version:content-type:"
                          "list-unsubscribe:list-unsubscribe-post:list-id:feedback-id;"),
            std::string::npos)
      << unfolded;
  EXPECT_NE(unfolded.find("t=1709640000;"), std::string::npos);
  EXPECT_NE(unfolded.find("c=relaxed/relaxed;d=example.com; s=rsa1;"), std::string::npos);
  for (size_t start = 0; start < fields->size();) {
    size_t eol = fields->find("\r\n", start);
    EXPECT_LE(eol - start, 78u) << fields->substr(start, eol - start);
    start = eol + 2;
  }
}

TEST(DkimSignerTest, KeysAreChosenByFromDomain) {
  Keys* k = SuiteKeys();
  auto other = DkimSigner::Create({{.domain = "other.org",
                                    .selector = "s",
                                    .algorithm = DkimAlgorithm::kEd25519Sha256,
                                    .private_key_path = k->ed_path}});
  ASSERT_TRUE(other.ok());
  auto r = (*other)->Sign(BuildMessage(false), Noon());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_FALSE((*other)->HasKeyFor("example.com"));
  EXPECT_TRUE((*other)->HasKeyFor("news.Other.org"));

  // A subdomain From is signed by the parent domain's key.
  CampaignSpec spec;
  spec.from = {"", "n@news.example.com"};
  spec.subject_template = "s";
  spec.text_template = "t";
  auto prepared = PreparedCampaign::Prepare(spec);
  ASSERT_TRUE(prepared.ok());
  auto m = (*prepared)->Render({.email = "a@b.org"}, Noon());
  ASSERT_TRUE(m.ok());
  auto signer = BothKeysSigner(DkimCanonicalization::kRelaxed, DkimCanonicalization::kRelaxed);
  auto fields = signer->Sign(m->bytes, Noon());
  ASSERT_TRUE(fields.ok());
  EXPECT_NE(fields->find("d=example.com;"), std::string::npos);
}

TEST(DkimSignerTest, RefusesShortRsaAndMismatchedKeys) {
  TempDir dir;
  EVP_PKEY* small = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024));
  ASSERT_NE(small, nullptr);
  std::string path = dir.File("short.pem");
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  PEM_write_PrivateKey(f, small, nullptr, nullptr, 0, nullptr, nullptr);
  fclose(f);
  EVP_PKEY_free(small);
  auto r = DkimSigner::Create({{.domain = "example.com",
                                .selector = "s",
                                .algorithm = DkimAlgorithm::kRsaSha256,
                                .private_key_path = path}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("1024 bits"), std::string::npos);

  r = DkimSigner::Create({{.domain = "example.com",
                           .selector = "s",
                           .algorithm = DkimAlgorithm::kRsaSha256,
                           .private_key_path = SuiteKeys()->ed_path}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not RSA"), std::string::npos);
  r = DkimSigner::Create({{.domain = "example.com",
                           .selector = "s",
                           .algorithm = DkimAlgorithm::kEd25519Sha256,
                           .private_key_path = dir.File("absent.pem")}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("absent.pem"), std::string::npos);
  r = DkimSigner::Create({{.domain = "example.com",
                           .selector = "s",
                           .algorithm = DkimAlgorithm::kEd25519Sha256,
                           .private_key_pem = "-----BEGIN PRIVATE KEY-----\nnope\n"}});
  EXPECT_FALSE(r.ok());
}

TEST(DkimSignerTest, InlinePemAndConcurrentSigningGiveIdenticalSignatures) {
  std::string pem = testing::ReadFile(SuiteKeys()->ed_path);
  auto signer = DkimSigner::Create({{.domain = "example.com",
                                     .selector = "ed1",
                                     .algorithm = DkimAlgorithm::kEd25519Sha256,
                                     .private_key_pem = pem}});
  ASSERT_TRUE(signer.ok()) << signer.status().ToString();
  std::string message = BuildMessage(true);
  auto expected = (*signer)->Sign(message, Noon());
  ASSERT_TRUE(expected.ok());
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto got = (*signer)->Sign(message, Noon());
        if (!got.ok() || *got != *expected) ++mismatches[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST(DkimKeygenTest, WritesPrivateKeyMode0600AndRefusesOverwrite) {
  TempDir dir;
  std::string path = dir.File("k.pem");
  auto record = GenerateDkimKey("bücher.example", "sel", DkimAlgorithm::kEd25519Sha256, path);
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(
      record->rfind("sel._domainkey.xn--bcher-kva.example. IN TXT \"v=DKIM1; k=ed25519; p=", 0), 0u)
      << *record;
  // p= is the base64 of the raw 32-byte key: 44 characters.
  size_t p = record->find("p=") + 2;
  EXPECT_EQ(record->size() - p - 1, 44u) << *record;
  auto again = GenerateDkimKey("example.com", "sel", DkimAlgorithm::kEd25519Sha256, path);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Status::Code::kAlreadyExists);
  // The record derived from the key file matches.
  auto derived = DkimDnsRecordForKey("bücher.example", "sel", testing::ReadFile(path));
  ASSERT_TRUE(derived.ok());
  EXPECT_EQ(*derived, *record);
}

TEST(DkimKeygenTest, RsaRecordIsSplitIn255CharacterStrings) {
  const std::string& record = SuiteKeys()->rsa_record;
  ASSERT_EQ(record.rfind("rsa1._domainkey.example.com. IN TXT \"v=DKIM1; k=rsa; p=MII", 0), 0u)
      << record;
  size_t strings = 0;
  for (size_t q = record.find('"'); q != std::string::npos; q = record.find('"', q + 1)) {
    size_t end = record.find('"', q + 1);
    ASSERT_NE(end, std::string::npos);
    EXPECT_LE(end - q - 1, 255u);
    ++strings;
    q = end;
  }
  EXPECT_GE(strings, 2u);  // a 2048-bit key's p= is ~392 characters
  EXPECT_FALSE(GenerateDkimKey("example.com", "s", DkimAlgorithm::kRsaSha256,
                               testing::TempDir().File("x.pem"), 1024)
                   .ok());
}

}  // namespace
}  // namespace postino::templates
