// The plugin ABI as the host sees it: a wrong ABI version, a missing
// symbol, a missing file or a file that is no plugin are clear errors; a
// plugin's bad results, unterminated buffers, invalid UTF-8, exceptions and
// personal data in its logs never crash the host or leak; late reports
// arrive; and the four built-in plugins load side by side in one process.
#include <gtest/gtest.h>

#include "cli/sample.h"
#include "common/log.h"
#include "host/plugin_instance.h"
#include "host/plugin_library.h"
#include "testing/process.h"
#include "yilian/v1/event.pb.h"

namespace yilian::host {
namespace {

using adapter::AgencyAnswer;
using adapter::AnswerKind;

std::string TestPlugin(const std::string& name) {
  return std::string(YILIAN_TEST_PLUGIN_DIR) + "/yilian_plugin_" + name + ".so";
}

std::unique_ptr<PluginLibrary> MustLoad(const std::string& path) {
  auto lib = PluginLibrary::Load(path);
  EXPECT_TRUE(lib.ok()) << lib.status().ToString();
  return lib.ok() ? std::move(lib.value()) : nullptr;
}

adapter::DeliveryInfo Delivery(const std::string& id, std::string bytes = "") {
  return adapter::DeliveryInfo{EventId(id), AgencyId("tax"), Uscc("91350206000000007X"), 1, 9, std::move(bytes)};
}

TEST(PluginLoad, WrongAbiVersionIsRefused) {
  auto lib = PluginLibrary::Load(TestPlugin("wrong_abi"));
  ASSERT_FALSE(lib.ok());
  EXPECT_EQ(lib.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(lib.status().message().find("plugin ABI version 99, this host speaks version 1"), std::string::npos)
      << lib.status().message();
}

TEST(PluginLoad, MissingEntrySymbolIsRefused) {
  auto lib = PluginLibrary::Load(TestPlugin("no_entry"));
  ASSERT_FALSE(lib.ok());
  EXPECT_NE(lib.status().message().find("missing symbol yilian_plugin_entry"), std::string::npos)
      << lib.status().message();
}

TEST(PluginLoad, LibraryWithoutTheAbiIsRefused) {
  // A real shared object that is no plugin at all.
  auto lib = PluginLibrary::Load("libz.so.1");
  ASSERT_FALSE(lib.ok());
  EXPECT_NE(lib.status().message().find("missing symbol yilian_plugin_abi_version"), std::string::npos);
}

TEST(PluginLoad, FileThatIsNoSharedObjectIsRefused) {
  std::string dir = testing::MakeTempDir("yilian-abi-test");
  testing::WriteFile(dir + "/yilian_plugin_fake.so", "not an ELF file");
  auto lib = PluginLibrary::Load(dir + "/yilian_plugin_fake.so");
  ASSERT_FALSE(lib.ok());
  EXPECT_NE(lib.status().message().find("cannot be loaded"), std::string::npos);
  testing::RemoveTree(dir);
}

TEST(PluginResolve, NameIsSearchedInOrderPathIsTakenAsIs) {
  auto found = ResolvePlugin("misbehaving", {"/nonexistent", YILIAN_TEST_PLUGIN_DIR});
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found.value(), TestPlugin("misbehaving"));
  auto missing = ResolvePlugin("nope", {"/a", "/b"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("no yilian_plugin_nope.so in /a, /b"), std::string::npos);
  EXPECT_EQ(ResolvePlugin("/no/such/file.so", {}).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(ResolvePlugin(TestPlugin("wrong_abi"), {}).ok());
}

class MisbehavingPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("yilian-abi-test");
    std::string error;
    ASSERT_TRUE(SetupLogging(LogOptions{"debug", dir_ + "/host.log"}, &error)) << error;
    lib_ = MustLoad(TestPlugin("misbehaving"));
    auto instance = PluginInstance::Create(*lib_, "tax", {});
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    plugin_ = std::move(instance.value());
  }
  void TearDown() override {
    plugin_.reset();
    SetupLogging(LogOptions{}, nullptr);
    testing::RemoveTree(dir_);
  }
  std::string dir_;
  std::unique_ptr<PluginLibrary> lib_;
  std::unique_ptr<PluginInstance> plugin_;
};

TEST_F(MisbehavingPluginTest, InvalidOutcomesBecomeRetry) {
  AgencyAnswer a = plugin_->Submit(Delivery("bad-outcome"));
  EXPECT_EQ(a.kind, AnswerKind::kRetry);
  EXPECT_NE(a.reason.find("invalid outcome (42)"), std::string::npos);
  EXPECT_EQ(plugin_->Submit(Delivery("zero")).kind, AnswerKind::kRetry);
  EXPECT_NE(testing::ReadFile(dir_ + "/host.log").find("returned outcome 42 from submit of event bad-outcome"),
            std::string::npos);
}

TEST_F(MisbehavingPluginTest, UnterminatedBuffersAreCutAtTheirCapacity) {
  AgencyAnswer a = plugin_->Submit(Delivery("unterminated"));
  EXPECT_EQ(a.kind, AnswerKind::kProcessed);
  EXPECT_EQ(a.reference, std::string(YILIAN_REFERENCE_CAPACITY - 1, 'A'));
  EXPECT_TRUE(a.reason.empty());  // a PROCESSED result carries no reason
}

TEST_F(MisbehavingPluginTest, InvalidUtf8IsReplaced) {
  AgencyAnswer a = plugin_->Submit(Delivery("bad-utf8"));
  EXPECT_EQ(a.reference, "\xEF\xBF\xBD\xEF\xBF\xBDOK\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ValidUtf8("中文ok"), "中文ok");
  EXPECT_EQ(ValidUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  EXPECT_EQ(ValidUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
}

TEST_F(MisbehavingPluginTest, RejectionWithoutAReasonGetsOne) {
  AgencyAnswer a = plugin_->Submit(Delivery("rejected-empty"));
  EXPECT_EQ(a.kind, AnswerKind::kRejected);
  EXPECT_FALSE(a.reason.empty());
}

TEST_F(MisbehavingPluginTest, PendingThenReportedAndChecked) {
  AgencyAnswer a = plugin_->Submit(Delivery("pending"));
  EXPECT_EQ(a.kind, AnswerKind::kPending);
  EXPECT_TRUE(a.reference.empty());
  auto reports = plugin_->TakeReports();
  ASSERT_EQ(reports.size(), 1u);  // the second report had a bad outcome
  EXPECT_EQ(reports[0].first.str(), "pending");
  EXPECT_EQ(reports[0].second.kind, AnswerKind::kProcessed);
  EXPECT_EQ(reports[0].second.reference, "LATE-1");
  EXPECT_TRUE(plugin_->TakeReports().empty());
  AgencyAnswer checked = plugin_->Check(Delivery("pending"));
  EXPECT_EQ(checked.kind, AnswerKind::kProcessed);
  EXPECT_EQ(checked.reference, "LATE-1");
  EXPECT_EQ(plugin_->Check(Delivery("other")).kind, AnswerKind::kPending);
}

TEST_F(MisbehavingPluginTest, PersonalDataInPluginLogsIsMasked) {
  std::string log = testing::ReadFile(dir_ + "/host.log");
  EXPECT_NE(log.find("[plugin] misbehaving: started"), std::string::npos) << log;
  EXPECT_EQ(log.find("11010519491231002X"), std::string::npos);
  EXPECT_EQ(log.find("13812345678"), std::string::npos);
  EXPECT_NE(log.find("1101**********002X"), std::string::npos);
}

TEST_F(MisbehavingPluginTest, PluginLogLinesAreEscapedToOneLine) {
  std::string log = testing::ReadFile(dir_ + "/host.log");
  EXPECT_NE(log.find("[plugin] misbehaving: agency says\\n2026-12-06T10:00:00.000+0800 info [plugin] "
                     "forged\\r\\x1b[31m\\u202e\\xff"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("\n2026-12-06T10:00:00.000"), std::string::npos) << "a forged line in the log";
  for (std::string raw : {"\r", "\x1b", "\xe2\x80\xae", "\xff"}) EXPECT_EQ(log.find(raw), std::string::npos);
}

TEST(PluginCreate, RefusalCarriesThePluginsMessageMasked) {
  auto lib = MustLoad(TestPlugin("misbehaving"));
  auto instance = PluginInstance::Create(*lib, "tax", {{"fail", "1"}});
  ASSERT_FALSE(instance.ok());
  EXPECT_NE(instance.status().message().find("plugin misbehaving refused to start for agency tax: 配置错误"),
            std::string::npos)
      << instance.status().message();
  EXPECT_EQ(instance.status().message().find("11010519491231002X"), std::string::npos);
}

TEST(PluginExceptions, NeverCrossTheAbi) {
  auto lib = MustLoad(TestPlugin("throwing"));
  auto thrown = PluginInstance::Create(*lib, "tax", {{"throw", "1"}});
  ASSERT_FALSE(thrown.ok());
  EXPECT_NE(thrown.status().message().find("boom in create"), std::string::npos);
  auto refused = PluginInstance::Create(*lib, "tax", {{"refuse", "1"}});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("plugin.refuse: refused on purpose"), std::string::npos);

  auto instance = PluginInstance::Create(*lib, "tax", {});
  ASSERT_TRUE(instance.ok());
  sample::SampleOptions o;
  o.enterprises = 1;
  o.events_per_enterprise = 1;
  v1::EnterpriseEvent e = sample::Generate(o)[0];
  std::string bytes = e.SerializeAsString();
  AgencyAnswer a = instance.value()->Submit(Delivery("throw-std", bytes));
  EXPECT_EQ(a.kind, AnswerKind::kRetry);
  EXPECT_NE(a.reason.find("agency client exploded"), std::string::npos);
  EXPECT_EQ(instance.value()->Submit(Delivery("throw-int", bytes)).kind, AnswerKind::kRetry);
  EXPECT_EQ(instance.value()->Check(Delivery("any")).kind, AnswerKind::kRetry);
  // Bytes that are not an event: refused by the glue, before the plugin.
  AgencyAnswer undecodable = instance.value()->Submit(Delivery("e-1", std::string("\xff\xff\xff", 3)));
  EXPECT_EQ(undecodable.kind, AnswerKind::kRejected);
  EXPECT_NE(undecodable.reason.find("ADAPTER_BAD_EVENT"), std::string::npos);
  // A real event decodes (in the plugins' own copy of the schema).
  AgencyAnswer ok = instance.value()->Submit(Delivery(e.event_id(), bytes));
  EXPECT_EQ(ok.kind, AnswerKind::kProcessed);
  EXPECT_EQ(ok.reference, "OK " + e.enterprise().name());
}

// The four built-in plugins in one process, each through the C ABI with an
// exchange database: their protobuf classes are shared, not duplicated.
TEST(BuiltInPlugins, LoadSideBySideAndSubmitThroughTheAbi) {
  std::string dir = testing::MakeTempDir("yilian-abi-test");
  sample::SampleOptions o;
  o.enterprises = 1;
  o.events_per_enterprise = 1;
  o.banks = {"ICBC"};
  v1::EnterpriseEvent e = sample::Generate(o)[0];
  std::string bytes = e.SerializeAsString();
  std::vector<std::unique_ptr<PluginLibrary>> libs;
  for (std::string name : {"tax", "social_insurance", "housing_fund", "bank"}) {
    auto path = ResolvePlugin(name, {YILIAN_PLUGIN_DIR});
    ASSERT_TRUE(path.ok()) << path.status().ToString();
    libs.push_back(MustLoad(path.value()));
    ASSERT_TRUE(libs.back());
    EXPECT_EQ(std::string(libs.back()->api().name), name);
    std::string agency = name == "bank" ? "bank:ICBC" : name;
    std::string db = dir + "/" + name + ".db";
    auto instance = PluginInstance::Create(*libs.back(), agency, {{"sink.type", "exchange-db"}, {"sink.path", db}});
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    adapter::DeliveryInfo d{EventId(e.event_id()), AgencyId(agency), Uscc(e.uscc()), 1, 1, bytes};
    EXPECT_EQ(instance.value()->Submit(d).kind, AnswerKind::kPending) << name;
    EXPECT_EQ(instance.value()->Submit(d).kind, AnswerKind::kPending) << name;  // idempotent
    d.event_bytes.clear();
    EXPECT_EQ(instance.value()->Check(d).kind, AnswerKind::kPending) << name;
  }
  // The wrong plugin for an agency, or an unknown key, is refused at create.
  auto wrong =
      PluginInstance::Create(*libs[0], "housing_fund", {{"sink.type", "exchange-db"}, {"sink.path", dir + "/x.db"}});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("plugin tax serves agency tax, not 'housing_fund'"), std::string::npos);
  auto unknown = PluginInstance::Create(*libs[0], "tax", {{"sink.type", "exchange-db"}, {"sink.pth", "x"}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("plugin.sink.pth: unknown key"), std::string::npos);
  auto bank = PluginInstance::Create(
      *libs[3], "bank:ICBC", {{"sink.type", "http"}, {"sink.url", "http://127.0.0.1:1/x"}, {"bank_code", "CCB"}});
  ASSERT_FALSE(bank.ok());
  EXPECT_NE(bank.status().message().find("does not match agency 'bank:ICBC'"), std::string::npos);
  testing::RemoveTree(dir);
}

}  // namespace
}  // namespace yilian::host
