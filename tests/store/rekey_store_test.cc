// The Store methods of the data-key rotation (docs/storage.md section 7.1),
// on both backends: payloads read in batches after a cursor and rewritten,
// meta rows read, written, listed by prefix and removed, all inside the
// turn's transaction: a rollback keeps nothing of them, a commit keeps
// everything, also across a reopen.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "store/store.h"
#include "testing/postgres.h"

namespace yilian::store {
namespace {

constexpr Millis kNow = 1'700'000'000'123;

class RekeyStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/yilian_rekey_store_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    store_.reset();
    postgres_.reset();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  void Open() {
    store_.reset();
    if (GetParam() == "postgresql") {
      if (!postgres_) {
        std::string error;
        postgres_ = yilian::testing::TestPostgres::Start({}, &error);
        ASSERT_TRUE(postgres_) << error;
      }
      PostgresOptions options;
      options.conninfo = postgres_->conninfo();
      auto r = Store::OpenPostgres(options);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      store_ = std::move(r).value();
      auto lead = store_->TryLead({"test-node", "tcp://127.0.0.1:1"});
      ASSERT_TRUE(lead.ok() && lead.value()) << lead.status().ToString();
      return;
    }
    auto r = Store::OpenSqlite(root_ + "/data", StoreOptions{});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    store_ = std::move(r).value();
  }
  // n events whose payloads hold NUL and high bytes, as encoded events do.
  std::vector<Sequence> InsertEvents(int n) {
    std::vector<Sequence> seqs;
    EXPECT_TRUE(store_->Begin().ok());
    for (int i = 0; i < n; ++i) {
      StoredEvent e;
      e.event_id = "evt-" + std::to_string(i);
      e.uscc = "91110000100000001A";
      e.revision = static_cast<std::uint64_t>(i + 1);
      e.type = 1;
      e.agencies = {"tax"};
      e.payload = Payload("old", i);
      e.published_at = kNow;
      auto seq = store_->InsertEvent(e, kNow);
      EXPECT_TRUE(seq.ok()) << seq.status().ToString();
      seqs.push_back(seq.ok() ? seq.value() : 0);
    }
    EXPECT_TRUE(store_->Commit().ok());
    return seqs;
  }
  static std::string Payload(const std::string& tag, int i) {
    return std::string("\0\x0a", 2) + tag + std::to_string(i) + std::string("\xff\0", 2);
  }

  std::string root_;
  std::unique_ptr<yilian::testing::TestPostgres> postgres_;
  std::unique_ptr<Store> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, RekeyStoreTest, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST_P(RekeyStoreTest, PayloadsAreReadInBatchesAfterACursorAndRewritten) {
  Open();
  ASSERT_TRUE(store_->Begin().ok());
  EXPECT_EQ(store_->LastSequence().value(), 0u);
  EXPECT_TRUE(store_->ReadPayloads(0, 100, 10).value().empty());
  ASSERT_TRUE(store_->Commit().ok());

  const std::vector<Sequence> seqs = InsertEvents(10);
  ASSERT_TRUE(store_->Begin().ok());
  EXPECT_EQ(store_->LastSequence().value(), seqs.back());
  EXPECT_EQ(store_->CountEventsBetween(0, seqs.back()).value(), 10);
  EXPECT_EQ(store_->CountEventsBetween(seqs[2], seqs[6]).value(), 4);
  // Batches of 4 up to the seventh event: 4, 3, then none.
  auto first = store_->ReadPayloads(0, seqs[6], 4);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first.value().size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(first.value()[i].seq, seqs[i]);
    EXPECT_EQ(first.value()[i].payload, Payload("old", i));
  }
  auto second = store_->ReadPayloads(first.value().back().seq, seqs[6], 4);
  ASSERT_EQ(second.value().size(), 3u);
  EXPECT_EQ(second.value().back().seq, seqs[6]);
  EXPECT_TRUE(store_->ReadPayloads(seqs[6], seqs[6], 4).value().empty());

  for (const auto& row : first.value()) {
    const int i = static_cast<int>(&row - first.value().data());
    ASSERT_TRUE(store_->RewritePayload(row.seq, Payload("new", i)).ok());
  }
  // Read back in the same transaction, then after the commit and a reopen.
  EXPECT_EQ(store_->LoadPayload(seqs[0]).value(), Payload("new", 0));
  EXPECT_EQ(store_->RewritePayload(seqs.back() + 100, "x").code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->Commit().ok());
  Open();
  ASSERT_TRUE(store_->Begin().ok());
  auto all = store_->ReadPayloads(0, seqs.back(), 100);
  ASSERT_EQ(all.value().size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(all.value()[i].payload, Payload(i < 4 ? "new" : "old", i)) << i;
  // The rest of the row is untouched.
  auto found = store_->FindEvent("evt-0");
  ASSERT_TRUE(found.ok() && found.value());
  EXPECT_EQ(found.value()->agencies, std::vector<std::string>{"tax"});
  ASSERT_TRUE(store_->Commit().ok());
}

TEST_P(RekeyStoreTest, MetaRowsAreWrittenWithTheTurnAndRolledBackWithIt) {
  Open();
  ASSERT_TRUE(store_->Begin().ok());
  EXPECT_EQ(store_->GetMeta("rekey_next_seq").value(), std::nullopt);
  ASSERT_TRUE(store_->SetMeta("rekey_next_seq", "42").ok());
  ASSERT_TRUE(store_->SetMeta("sealed.b", "sm4:x").ok());
  ASSERT_TRUE(store_->SetMeta("sealed.a", "sm4:y").ok());
  ASSERT_TRUE(store_->SetMeta("sealedX", "not in the prefix").ok());
  EXPECT_EQ(store_->GetMeta("rekey_next_seq").value(), std::optional<std::string>("42"));
  ASSERT_TRUE(store_->SetMeta("rekey_next_seq", "43").ok());  // replaced
  ASSERT_TRUE(store_->Commit().ok());

  // A rolled-back turn keeps none of its meta writes.
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(store_->SetMeta("rekey_next_seq", "99").ok());
  ASSERT_TRUE(store_->DeleteMeta("sealed.a").ok());
  store_->Rollback();

  Open();
  ASSERT_TRUE(store_->Begin().ok());
  EXPECT_EQ(store_->GetMeta("rekey_next_seq").value(), std::optional<std::string>("43"));
  auto sealed = store_->MetaWithPrefix("sealed.");
  ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
  EXPECT_EQ(sealed.value(), (std::vector<std::pair<std::string, std::string>>{{"sealed.a", "sm4:y"},
                                                                              {"sealed.b", "sm4:x"}}));
  // The store's own rows are there too, and not listed under another prefix.
  EXPECT_TRUE(store_->GetMeta("schema_version").value().has_value());
  EXPECT_EQ(store_->MetaWithPrefix("sealed_").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->MetaWithPrefix("sealed%").status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(store_->DeleteMeta("rekey_next_seq").ok());
  ASSERT_TRUE(store_->DeleteMeta("no_such_row").ok());
  ASSERT_TRUE(store_->Commit().ok());
  ASSERT_TRUE(store_->Begin().ok());
  EXPECT_EQ(store_->GetMeta("rekey_next_seq").value(), std::nullopt);
  ASSERT_TRUE(store_->Commit().ok());
}

}  // namespace
}  // namespace yilian::store
