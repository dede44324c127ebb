#include "server/rekey.h"

#include <spdlog/logger.h>

#include <utility>
#include <vector>

#include "wire/wire.h"
#include "yilian/v1/event.pb.h"

namespace yilian::server {
namespace {

std::string Join(const std::set<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ",") + id;
  return out;
}

std::set<std::string> Split(const std::string& text) {
  std::set<std::string> ids;
  std::size_t at = 0;
  while (at <= text.size()) {
    std::size_t comma = text.find(',', at);
    if (comma == std::string::npos) comma = text.size();
    if (comma > at) ids.insert(text.substr(at, comma - at));
    at = comma + 1;
  }
  return ids;
}

Result<std::uint64_t> ReadNumber(store::Store* store, const char* key) {
  auto v = store->GetMeta(key);
  if (!v.ok()) return v.status();
  if (!v.value()) return std::uint64_t{0};
  try {
    std::size_t used = 0;
    const std::uint64_t n = std::stoull(*v.value(), &used);
    if (used == v.value()->size()) return n;
  } catch (...) {
  }
  return Status::Corruption(std::string("meta.") + key + " is not a number");
}

}  // namespace

const char* ToString(RekeyState state) {
  switch (state) {
    case RekeyState::kIdle: return "idle";
    case RekeyState::kRunning: return "running";
    case RekeyState::kDone: return "done";
  }
  return "idle";
}

Rekey::Rekey(store::Store* store, const security::FieldCipher& cipher, AuditTrail& audit, TurnContext& turn,
             RekeyProgress& progress, std::shared_ptr<spdlog::logger> log)
    : store_(store), cipher_(cipher), audit_(audit), turn_(turn), progress_(progress), log_(std::move(log)) {}

Status Rekey::CheckKeys(const std::set<std::string>& ids) const {
  for (const auto& id : ids) {
    if (cipher_.HasKey(id)) continue;
    std::string configured;
    for (const auto& k : cipher_.key_ids()) configured += (configured.empty() ? "" : ", ") + k;
    return Status::FailedPrecondition(
        "the store holds personal data encrypted with data key " + id +
        ", which is neither security.data_key_file nor one of security.retired_data_key_files (configured keys: " +
        configured + "); list that key's file under security.retired_data_key_files and start again, and remove it "
                     "only once the broker has logged that the rotation is complete (docs/security.md section 2)");
  }
  return Status::Ok();
}

Status Rekey::LegacyKeys(std::set<std::string>* ids) {
  // Values without key ids were all written with the one key the store
  // had: the first encrypted value found says which key of the ring that
  // is (or that none is).
  constexpr std::size_t kBatch = 256;
  for (Sequence after = 0;;) {
    auto batch = store_->ReadPayloads(after, ~Sequence{0} >> 1, kBatch);
    if (!batch.ok()) return batch.status();
    for (const auto& row : batch.value()) {
      v1::EnterpriseEvent event;
      if (!event.ParseFromString(row.payload)) continue;
      std::set<std::string> found;
      Status s = cipher_.KeyIdsOf(event, &found);
      if (!s.ok()) {
        return Status::FailedPrecondition(
            "stored event seq " + std::to_string(row.seq) + ", written before data keys had ids, cannot be read with " +
            "any configured data key: " + s.message() +
            "; configure the key that wrote the store as security.data_key_file or under "
            "security.retired_data_key_files (docs/security.md section 2)");
      }
      if (!found.empty()) {
        ids->insert(found.begin(), found.end());
        return Status::Ok();
      }
    }
    if (batch.value().size() < kBatch) return Status::Ok();
    after = batch.value().back().seq;
  }
}

Status Rekey::Start(Millis now) {
  (void)now;
  running_ = false;
  if (Status s = store_->Begin(); !s.ok()) return s;
  auto fail = [&](Status s) {
    store_->Rollback();
    return s;
  };
  auto recorded = store_->GetMeta(kKeyIdsMeta);
  if (!recorded.ok()) return fail(recorded.status());
  auto sealed = store_->MetaWithPrefix(kSealedPrefix);
  if (!sealed.ok()) return fail(sealed.status());
  std::set<std::string> ids;
  if (recorded.value()) {
    ids = Split(*recorded.value());
  } else {
    // A new store, or one written before key ids.
    if (Status s = LegacyKeys(&ids); !s.ok()) return fail(s);
    for (const auto& [key, value] : sealed.value()) {
      auto opened = cipher_.DecryptValue(key, value);
      if (!opened.ok()) return fail(Status::FailedPrecondition("meta." + key + ": " + opened.status().message()));
      auto id = security::FieldCipher::KeyIdOf(value);
      if (id && !id->empty()) ids.insert(*id);
    }
  }
  if (Status s = CheckKeys(ids); !s.ok()) return fail(s);
  const std::string current = cipher_.key_id();
  ids.erase(current);
  auto target = store_->GetMeta(kTargetMeta);
  if (!target.ok()) return fail(target.status());
  const bool resume = target.value() && *target.value() == current;
  bool needed = resume || !ids.empty();
  if (!recorded.value()) {
    // Written before key ids: every value lacks its id, also those the
    // current key wrote.
    auto last = store_->LastSequence();
    if (!last.ok()) return fail(last.status());
    needed = last.value() > 0 || !sealed.value().empty();
  }
  if (!needed) {
    if (!recorded.value() || *recorded.value() != current) {
      if (Status s = store_->SetMeta(kKeyIdsMeta, current); !s.ok()) return fail(s);
    }
    if (Status s = store_->Commit(); !s.ok()) return fail(s);
    progress_.state = static_cast<int>(RekeyState::kIdle);
    if (cipher_.key_ids().size() > 1)
      log_->info("data key {}: nothing in the store is under a retired key; the retired keys are not needed and may "
                 "be removed from security.retired_data_key_files",
                 current);
    return Status::Ok();
  }
  retired_ = ids.empty() ? "(values without a key id)" : Join(ids);
  if (target.value() && *target.value() == current) {
    auto cursor = ReadNumber(store_, kCursorMeta);
    auto last = ReadNumber(store_, kLastMeta);
    auto rewritten = ReadNumber(store_, kRewrittenMeta);
    auto skipped = ReadNumber(store_, kSkippedMeta);
    for (const auto* r : {&cursor, &last, &rewritten, &skipped})
      if (!r->ok()) return fail(r->status());
    cursor_ = cursor.value();
    last_ = last.value();
    rewritten_ = rewritten.value();
    skipped_ = skipped.value();
  } else {
    auto last = store_->LastSequence();
    if (!last.ok()) return fail(last.status());
    cursor_ = 0;
    last_ = last.value();
    rewritten_ = skipped_ = 0;
    for (const auto& [key, value] :
         {std::pair<const char*, std::string>{kTargetMeta, current}, {kCursorMeta, "0"},
          {kLastMeta, std::to_string(last_)}, {kRewrittenMeta, "0"}, {kSkippedMeta, "0"}}) {
      if (Status s = store_->SetMeta(key, value); !s.ok()) return fail(s);
    }
  }
  // From now on values may be under the current key too: recorded before
  // anything is written with it.
  std::set<std::string> all = ids;
  all.insert(current);
  if (Status s = store_->SetMeta(kKeyIdsMeta, Join(all)); !s.ok()) return fail(s);
  auto total = store_->CountEventsBetween(0, last_);
  auto done = store_->CountEventsBetween(0, cursor_);
  if (!total.ok()) return fail(total.status());
  if (!done.ok()) return fail(done.status());
  if (Status s = store_->Commit(); !s.ok()) return fail(s);
  progress_.total = static_cast<std::uint64_t>(total.value());
  progress_.done = static_cast<std::uint64_t>(done.value());
  progress_.state = static_cast<int>(RekeyState::kRunning);
  running_ = true;
  log_->info("data key rotation to key {}: re-encrypting what keys {} wrote, {} of {} stored events done{}", current,
             retired_, done.value(), total.value(), cursor_ > 0 ? " (resumed)" : "");
  return Status::Ok();
}

void Rekey::Step(std::size_t budget, Millis now) {
  turn_.AssertInLoopThread();
  if (!running_ || turn_.failed() || !turn_.in_transaction()) return;
  auto batch = store_->ReadPayloads(cursor_, last_, budget);
  if (!batch.ok()) return turn_.Fail(batch.status());
  std::uint64_t rewritten = 0, skipped = 0;
  for (const store::StoredPayload& row : batch.value()) {
    v1::EnterpriseEvent event;
    if (!event.ParseFromString(row.payload)) {
      ++skipped;
      log_->warn("data key rotation: stored event seq {} does not decode; left as it is", row.seq);
      continue;
    }
    auto changed = cipher_.RekeyPersonal(&event);
    if (!changed.ok()) {
      ++skipped;
      log_->warn("data key rotation: stored event seq {} left as it is: {}", row.seq, changed.status().message());
      continue;
    }
    if (!changed.value()) continue;
    if (Status s = store_->RewritePayload(row.seq, wire::EncodeDeterministic(event)); !s.ok()) return turn_.Fail(s);
    ++rewritten;
  }
  const bool finished = batch.value().size() < budget;
  const Sequence cursor = finished ? last_ : batch.value().back().seq;
  const std::uint64_t stepped = batch.value().size();
  if (Status s = store_->SetMeta(kCursorMeta, std::to_string(cursor)); !s.ok()) return turn_.Fail(s);
  if (rewritten > 0) {
    if (Status s = store_->SetMeta(kRewrittenMeta, std::to_string(rewritten_ + rewritten)); !s.ok())
      return turn_.Fail(s);
  }
  if (skipped > 0) {
    if (Status s = store_->SetMeta(kSkippedMeta, std::to_string(skipped_ + skipped)); !s.ok()) return turn_.Fail(s);
  }
  rewritten_ += rewritten;
  skipped_ += skipped;
  if (finished) {
    if (Status s = Finish(now); !s.ok()) return turn_.Fail(s);
  }
  // Published once the turn commits; a rollback undoes the counts.
  turn_.OnCommit([this, cursor, stepped, finished] {
    cursor_ = cursor;
    progress_.done = std::min<std::uint64_t>(progress_.done + stepped, progress_.total);
    if (!finished) return;
    progress_.done = progress_.total.load();
    progress_.state = static_cast<int>(RekeyState::kDone);
    running_ = false;
    log_->info("data key rotation to key {} complete: {} events rewritten, {} left as they were; the retired keys "
               "({}) are no longer needed by the live store and may be removed from "
               "security.retired_data_key_files (keep them offline for backups and archive files written before)",
               cipher_.key_id(), rewritten_, skipped_, retired_);
  });
  turn_.OnAbort([this, rewritten, skipped] {
    rewritten_ -= rewritten;
    skipped_ -= skipped;
  });
}

Status Rekey::Finish(Millis now) {
  // The single values kept in meta (sealed.<name>, the path bound into
  // their MAC being the meta key).
  auto sealed = store_->MetaWithPrefix(kSealedPrefix);
  if (!sealed.ok()) return sealed.status();
  std::uint64_t sealed_rewritten = 0;
  for (const auto& [key, value] : sealed.value()) {
    auto again = cipher_.RekeyValue(key, value);
    if (!again.ok()) {
      ++skipped_;
      log_->warn("data key rotation: meta.{} left as it is: {}", key, again.status().message());
      continue;
    }
    if (!again.value()) continue;
    if (Status s = store_->SetMeta(key, *again.value()); !s.ok()) return s;
    ++sealed_rewritten;
  }
  if (Status s = store_->SetMeta(kKeyIdsMeta, cipher_.key_id()); !s.ok()) return s;
  for (const char* key : {kTargetMeta, kCursorMeta, kLastMeta, kRewrittenMeta, kSkippedMeta}) {
    if (Status s = store_->DeleteMeta(key); !s.ok()) return s;
  }
  // The turn's transitions so far go first: the chain keeps the order.
  if (Status s = audit_.Flush(now, false); !s.ok()) return s;
  auto id = store_->AppendAudit(now, "broker", "rekey",
                                "key=" + cipher_.key_id() + " from=" + retired_ + " events=" +
                                    std::to_string(progress_.total.load()) + " rewritten=" +
                                    std::to_string(rewritten_) + " sealed=" + std::to_string(sealed_rewritten) +
                                    " skipped=" + std::to_string(skipped_));
  return id.status();
}

}  // namespace yilian::server
