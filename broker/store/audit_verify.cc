#include "store/audit_verify.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/digest.h"
#include "store/cases.h"
#include "store/records.h"
#include "store/sql_rows.h"

namespace yilian::store {
namespace {

using sql::StepResult;
using sql::Use;

constexpr int kMaxProblems = 100;

bool IsDeliveryStateName(std::string_view name) {
  for (int s = 0; s <= 5; ++s)
    if (ToString(static_cast<DeliveryState>(s)) == name) return true;
  return false;
}

std::string DeliveryStateName(int state) {
  if (state >= 0 && state <= 5) return std::string(ToString(static_cast<DeliveryState>(state)));
  return "state " + std::to_string(state);
}

// yilian.v1.CaseState names, as the trail writes them.
std::string CaseStateName(int state) {
  switch (state) {
    case 1:
      return "IN_PROGRESS";
    case 2:
      return "COMPLETED";
    case 3:
      return "ATTENTION";
  }
  return "state " + std::to_string(state);
}

bool IsCaseStateName(std::string_view name) {
  return name == "IN_PROGRESS" || name == "COMPLETED" || name == "ATTENTION";
}

// The word at the start of `*rest` up to the next space; `*rest` moves past
// it and the space.
std::string_view TakeWord(std::string_view* rest) {
  std::size_t space = rest->find(' ');
  std::string_view word = rest->substr(0, space);
  rest->remove_prefix(space == std::string_view::npos ? rest->size() : space + 1);
  return word;
}

// The value of `name` ("seq=") if the next word is `name` and a value.
std::optional<std::string_view> TakeField(std::string_view* rest, std::string_view name) {
  if (rest->substr(0, name.size()) != name) return std::nullopt;
  std::string_view word = TakeWord(rest);
  return word.substr(name.size());
}

std::optional<std::int64_t> ParseNumber(std::optional<std::string_view> text) {
  if (!text || text->empty() || text->size() > 18) return std::nullopt;
  std::int64_t v = 0;
  for (char c : *text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string Shorten(std::string_view text, std::size_t max) {
  return text.size() <= max ? std::string(text) : std::string(text.substr(0, max)) + "…";
}

using Anchors = std::multimap<std::uint64_t, const AuditAnchorPoint*>;

// What the trail says a row reached: the state and the record that said so.
struct Audited {
  std::string state;
  std::uint64_t record = 0;
};

class TrailCheck {
 public:
  TrailCheck(sql::ReadConnection* conn, const ArchiveSources* archives, v1::AuditVerifyReport* report)
      : conn_(conn), archives_(archives), report_(report) {}

  Status Prepare() {
    auto seq_of = conn_->Prepare("SELECT seq FROM events WHERE event_id = ?1");
    if (!seq_of.ok()) return seq_of.status();
    seq_of_ = std::move(seq_of).value();
    auto archived_seq_of = conn_->Prepare("SELECT seq FROM archived_events WHERE event_id = ?1");
    if (!archived_seq_of.ok()) return archived_seq_of.status();
    archived_seq_of_ = std::move(archived_seq_of).value();
    auto event_of = conn_->Prepare("SELECT event_id, published_at FROM events WHERE seq = ?1");
    if (!event_of.ok()) return event_of.status();
    event_of_ = std::move(event_of).value();
    return LoadArchived();
  }

  Status CheckChain(const std::vector<AuditAnchorPoint>& anchors);
  Status CheckRows();

 private:
  void Problem(std::string p) {
    if (report_->problems_size() < kMaxProblems) report_->add_problems(std::move(p));
  }
  Status ApplyRecord(std::uint64_t id, const std::string& kind, const std::string& body);
  void ApplyLine(std::uint64_t id, std::string_view line);
  // The sequence of `event_id`; nullopt (with a problem) if no event has it.
  Result<std::optional<Sequence>> SequenceOf(std::uint64_t record, std::string_view event_id);
  // The event id and publish time of `seq`; nullopt if it has no events row.
  Result<std::optional<std::pair<std::string, Millis>>> EventOf(Sequence seq);
  Status DeriveReplay(std::uint64_t id, std::string_view agency, Millis since);
  void AddMismatch(const char* kind, Sequence seq, const std::string& event_id, const std::string& agency,
                   const std::string& stored, const Audited& audited);

  // What the live store says was archived: the audit head moved out, and
  // which archive holds each archived event.
  Status LoadArchived();
  // Checks one source's audit records (`stmt`, ordered by id) as the next
  // part of the chain.
  Status ChainPart(sql::Statement* stmt, const std::string& where, const Anchors& by_id,
                   std::map<const AuditAnchorPoint*, bool>* seen);
  // Compares the rows of one source with the trail; `authority` (for an
  // archive) keeps only the events that archive holds for the store.
  Status CheckSourceRows(sql::ReadConnection* conn, const std::string& where, std::uint64_t archive);

  sql::ReadConnection* conn_;
  const ArchiveSources* archives_;  // nullptr: archive files not checked
  v1::AuditVerifyReport* report_;
  std::unique_ptr<sql::Statement> seq_of_, archived_seq_of_, event_of_;
  std::uint64_t archived_through_ = 0;  // audit records 1..this are in archive files
  std::string archived_hash_;
  std::map<Sequence, std::uint64_t> archived_seqs_;  // archived event -> its archive
  std::uint64_t expected_id_ = 1;
  std::string prev_;
  std::map<std::pair<Sequence, std::string>, Audited> deliveries_;
  std::map<Sequence, Audited> cases_;
};

Status TrailCheck::LoadArchived() {
  auto head = conn_->Prepare("SELECT value FROM meta WHERE key = 'audit_archived'");
  if (!head.ok()) return head.status();
  {
    Use u(*head.value());
    StepResult rc = u->Step();
    if (rc == StepResult::kError) return u->Error("read archived audit head");
    if (rc == StepResult::kRow) {
      const std::string value = u->Text(0);
      const std::size_t colon = value.find(':');
      auto id = ParseNumber(std::string_view(value).substr(0, colon));
      if (!id || colon == std::string::npos) {
        Problem("meta audit_archived is '" + Shorten(value, 80) + "', not ID:HASH");
      } else {
        archived_through_ = static_cast<std::uint64_t>(*id);
        archived_hash_ = value.substr(colon + 1);
      }
    }
  }
  auto seqs = conn_->Prepare("SELECT seq, archive FROM archived_events", sql::Rows::kMany);
  if (!seqs.ok()) return seqs.status();
  Use u(*seqs.value());
  for (;;) {
    StepResult rc = u->Step();
    if (rc == StepResult::kDone) break;
    if (rc == StepResult::kError) return u->Error("read archived events");
    archived_seqs_[static_cast<Sequence>(u->Int(0))] = static_cast<std::uint64_t>(u->Int(1));
  }
  report_->set_archived_events(archived_seqs_.size());
  report_->set_archives_checked(archives_ != nullptr);
  if (!archives_) report_->set_archived_records(archived_through_);
  return Status::Ok();
}

Status TrailCheck::ChainPart(sql::Statement* stmt, const std::string& where, const Anchors& by_id,
                             std::map<const AuditAnchorPoint*, bool>* seen) {
  Use u(*stmt);
  if (where.empty()) u->Bind(1, static_cast<std::int64_t>(archived_through_));
  const std::string in = where.empty() ? "" : " (" + where + ")";
  for (;;) {
    StepResult rc = u->Step();
    if (rc == StepResult::kDone) return Status::Ok();
    if (rc == StepResult::kError) return u->Error("read audit" + in);
    auto id = static_cast<std::uint64_t>(u->Int(0));
    Millis at = u->Int(1);
    std::string actor = u->Text(2), kind = u->Text(3), body = u->Text(4);
    std::string prev_hash = u->Text(5), hash = u->Text(6);
    const std::string record = "record " + std::to_string(id) + in;
    if (id != expected_id_)
      Problem(record + ": expected id " + std::to_string(expected_id_) + " (records removed or reordered)");
    if (prev_hash != prev_) Problem(record + ": prev_hash does not match the hash of the record before it");
    if (Sm3Hex(AuditHashInput(prev_hash, id, at, actor, kind, body)) != hash)
      Problem(record + ": content does not match its hash (edited)");
    for (auto [it, end] = by_id.equal_range(id); it != end; ++it) {
      (*seen)[it->second] = true;
      if (it->second->hash != hash)
        Problem(it->second->where + ": " + record + " was anchored with hash " + Shorten(it->second->hash, 16) +
                " but has hash " + Shorten(hash, 16) +
                " (the chain up to this record was rewritten: records edited, removed or replaced and the "
                "hashes recomputed)");
    }
    if (Status s = ApplyRecord(id, kind, body); !s.ok()) return s;
    prev_ = hash;
    expected_id_ = id + 1;
    report_->set_records(report_->records() + 1);
  }
}

Status TrailCheck::CheckChain(const std::vector<AuditAnchorPoint>& anchors) {
  Anchors by_id;
  for (const auto& a : anchors) by_id.emplace(a.id, &a);
  std::map<const AuditAnchorPoint*, bool> seen;

  if (archives_) {
    for (const ArchiveSource& a : *archives_) {
      auto stmt = a.conn->Prepare("SELECT id, at, actor, kind, body, prev_hash, hash FROM audit ORDER BY id",
                                  sql::Rows::kMany);
      if (!stmt.ok()) return stmt.status();
      if (Status s = ChainPart(stmt.value().get(), "archive " + a.file, by_id, &seen); !s.ok()) return s;
      report_->set_archive_files(report_->archive_files() + 1);
    }
    if (archived_through_ > 0 && expected_id_ != archived_through_ + 1)
      Problem("the archive files hold audit records up to " + std::to_string(expected_id_ - 1) +
              " but the store says records up to " + std::to_string(archived_through_) + " were archived");
    if (archived_through_ > 0 && prev_ != archived_hash_)
      Problem("the last archived audit record's hash does not match the one the store recorded (meta "
              "audit_archived)");
  } else {
    // The archived part of the chain is not read: the live part goes on
    // from the head the store recorded when it was archived.
    expected_id_ = archived_through_ + 1;
    prev_ = archived_hash_;
  }
  auto stmt = conn_->Prepare("SELECT id, at, actor, kind, body, prev_hash, hash FROM audit WHERE id > ?1 ORDER BY id",
                             sql::Rows::kMany);
  if (!stmt.ok()) return stmt.status();
  if (Status s = ChainPart(stmt.value().get(), "", by_id, &seen); !s.ok()) return s;

  const std::uint64_t last_id = expected_id_ - 1;
  report_->set_head_hash(prev_);
  for (const auto& a : anchors) {
    if (seen.count(&a)) continue;
    if (!archives_ && a.id <= archived_through_) continue;  // in an archive file, not read
    if (a.id > last_id) {
      Problem(a.where + ": record " + std::to_string(a.id) + " was anchored but the chain ends at record " +
              std::to_string(last_id) + " (records removed from the end)");
    } else {
      Problem(a.where + ": record " + std::to_string(a.id) + " was anchored but is not in the chain (removed)");
    }
  }
  if (!anchors.empty()) {
    std::uint64_t anchored = 0;
    for (const auto& a : anchors) anchored = std::max(anchored, a.id);
    report_->set_anchored_id(anchored);
    report_->set_unanchored_records(last_id > anchored ? last_id - anchored : 0);
  }

  auto head = conn_->Prepare("SELECT value FROM meta WHERE key = 'audit_head'");
  if (!head.ok()) return head.status();
  Use u(*head.value());
  StepResult rc = u->Step();
  if (rc == StepResult::kError) return u->Error("read audit head");
  std::string stored_head = rc == StepResult::kRow ? u->Text(0) : std::string();
  std::string actual_head = last_id > 0 ? std::to_string(last_id) + ":" + prev_ : std::string();
  if (stored_head != actual_head)
    Problem("chain head is '" + actual_head + "' but the store recorded '" + stored_head +
            "' (records removed from the end, or added)");
  return Status::Ok();
}

Status TrailCheck::ApplyRecord(std::uint64_t id, const std::string& kind, const std::string& body) {
  std::string_view all = body;
  std::size_t eol = all.find('\n');
  std::string_view first = all.substr(0, eol);
  std::string_view others = eol == std::string_view::npos ? std::string_view() : all.substr(eol + 1);
  auto each_line = [&](std::string_view text) {
    while (!text.empty()) {
      std::size_t end = text.find('\n');
      std::string_view line = text.substr(0, end);
      if (!line.empty()) ApplyLine(id, line);
      text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    }
  };
  const std::string record = "record " + std::to_string(id);
  if (kind == "transitions" || kind == "recovery") {
    each_line(all);
  } else if (kind == "retry") {
    // "event=E agency=A from=S reason=R": the delivery is PENDING again.
    std::string_view rest = first;
    auto event = TakeField(&rest, "event=");
    auto agency = TakeField(&rest, "agency=");
    if (!event || !agency || agency->empty()) {
      Problem(record + ": a retry record that names no event and agency");
      return Status::Ok();
    }
    auto seq = SequenceOf(id, *event);
    if (!seq.ok()) return seq.status();
    if (seq.value()) deliveries_[{*seq.value(), std::string(*agency)}] = {"PENDING", id};
  } else if (kind == "replay") {
    // "agency=A since=MS deliveries=N reason=R", then one line per delivery
    // re-opened ("delivery seq=S agency=A PROCESSED->PENDING replay").
    std::string_view rest = first;
    auto agency = TakeField(&rest, "agency=");
    auto since = ParseNumber(TakeField(&rest, "since="));
    auto count = ParseNumber(TakeField(&rest, "deliveries="));
    if (!agency || agency->empty() || !since || !count) {
      Problem(record + ": a replay record that names no agency, time and count");
      return Status::Ok();
    }
    if (!others.empty()) {
      each_line(others);
    } else if (*count > 0) {
      // Written before replay records listed their deliveries.
      if (Status s = DeriveReplay(id, *agency, *since); !s.ok()) return s;
    }
  } else if (kind == "rekey") {
    // "key=K from=IDS events=N rewritten=N sealed=N skipped=N": a data-key
    // rotation finished; no delivery or case changed state.
  } else if (kind == "resolve") {
    // "event=E reason=R": the case is COMPLETED by hand.
    std::string_view rest = first;
    auto event = TakeField(&rest, "event=");
    if (!event) {
      Problem(record + ": a resolve record that names no event");
      return Status::Ok();
    }
    auto seq = SequenceOf(id, *event);
    if (!seq.ok()) return seq.status();
    if (seq.value()) cases_[*seq.value()] = {"COMPLETED", id};
  }
  return Status::Ok();
}

void TrailCheck::ApplyLine(std::uint64_t id, std::string_view line) {
  auto unknown = [&] {
    Problem("record " + std::to_string(id) + ": line '" + Shorten(line, 80) +
            "' is not a state change this verifier knows");
  };
  std::string_view rest = line;
  const bool delivery = TakeWord(&rest) == "delivery";
  if (!delivery && line.substr(0, 5) != "case ") return unknown();
  auto seq = ParseNumber(TakeField(&rest, "seq="));
  if (!seq) return unknown();
  std::string_view agency;
  if (delivery) {
    auto a = TakeField(&rest, "agency=");
    if (!a || a->empty()) return unknown();
    agency = *a;
  }
  std::string_view change = TakeWord(&rest);
  if (change == "OVERDUE") return;  // a flag, not a state
  std::size_t arrow = change.find("->");
  if (arrow == std::string_view::npos) return unknown();
  std::string_view to = change.substr(arrow + 2);
  if (delivery ? !IsDeliveryStateName(to) : !IsCaseStateName(to)) return unknown();
  Audited audited{std::string(to), id};
  if (delivery) {
    deliveries_[{static_cast<Sequence>(*seq), std::string(agency)}] = std::move(audited);
  } else {
    cases_[static_cast<Sequence>(*seq)] = std::move(audited);
  }
}

Result<std::optional<Sequence>> TrailCheck::SequenceOf(std::uint64_t record, std::string_view event_id) {
  Use u(*seq_of_);
  u->Bind(1, event_id);
  StepResult rc = u->Step();
  if (rc == StepResult::kRow) return std::optional<Sequence>(static_cast<Sequence>(u->Int(0)));
  if (rc == StepResult::kError) return u->Error("read events");
  Use a(*archived_seq_of_);
  a->Bind(1, event_id);
  rc = a->Step();
  if (rc == StepResult::kRow) return std::optional<Sequence>(static_cast<Sequence>(a->Int(0)));
  if (rc == StepResult::kError) return a->Error("read archived events");
  Problem("record " + std::to_string(record) + ": names event '" + Shorten(event_id, 128) +
          "', which is not in the store (removed)");
  return std::optional<Sequence>();
}

Result<std::optional<std::pair<std::string, Millis>>> TrailCheck::EventOf(Sequence seq) {
  Use u(*event_of_);
  u->Bind(1, static_cast<std::int64_t>(seq));
  StepResult rc = u->Step();
  if (rc == StepResult::kDone) return std::optional<std::pair<std::string, Millis>>();
  if (rc == StepResult::kError) return u->Error("read events");
  return std::optional<std::pair<std::string, Millis>>(std::make_pair(u->Text(0), u->Int(1)));
}

Status TrailCheck::DeriveReplay(std::uint64_t id, std::string_view agency, Millis since) {
  // The broker re-opened every settled delivery of the agency whose event
  // was published at or after `since` (ForEachSettledSince): settled by
  // what the trail said so far.
  for (auto& [key, audited] : deliveries_) {
    if (key.second != agency) continue;
    if (audited.state != "PROCESSED" && audited.state != "REJECTED" && audited.state != "DEAD") continue;
    auto event = EventOf(key.first);
    if (!event.ok()) return event.status();
    if (event.value() && event.value()->second >= since) audited = {"PENDING", id};
  }
  return Status::Ok();
}

void TrailCheck::AddMismatch(const char* kind, Sequence seq, const std::string& event_id, const std::string& agency,
                             const std::string& stored, const Audited& audited) {
  v1::AuditStateMismatch* m = report_->add_mismatches();
  m->set_kind(kind);
  m->set_sequence(seq);
  m->set_event_id(event_id);
  m->set_agency(agency);
  m->set_stored(stored);
  m->set_audited(audited.state);
  m->set_audit_id(audited.record);
  std::string what = std::string(kind) + " seq=" + std::to_string(seq) + (agency.empty() ? "" : " agency=" + agency);
  std::string said =
      audited.record ? "record " + std::to_string(audited.record) : "no record names it since it was inserted";
  if (stored.empty()) {
    Problem(what + ": the audit trail says " + audited.state + " (" + said + "), but the store has no such " + kind);
  } else {
    Problem(what + " (event " + event_id + ") is " + stored + " in the store, but the audit trail says " +
            audited.state + " (" + said + ")");
  }
}

Status TrailCheck::CheckSourceRows(sql::ReadConnection* conn, const std::string& where, std::uint64_t archive) {
  const bool live = archive == 0;
  const std::string in = live ? "" : " (" + where + ")";
  // Whether this source holds the row of `seq` for the store: the live
  // store its own; an archive the events archived_events assigns it (a copy
  // of an event that changed before it could be moved is not).
  auto holds = [&](Sequence seq) {
    if (live) return true;
    auto it = archived_seqs_.find(seq);
    return it != archived_seqs_.end() && it->second == archive;
  };
  // Rows no record in the checked part of the chain names are compared
  // only when the whole chain was read.
  const bool whole_chain = archives_ != nullptr || archived_through_ == 0;
  auto rows = conn->Prepare(
      "SELECT d.seq, d.agency, d.state, COALESCE(e.event_id, ''), CASE WHEN e.seq IS NULL THEN 1 ELSE 0 END "
      "FROM deliveries d LEFT JOIN events e ON e.seq = d.seq ORDER BY d.id",
      sql::Rows::kMany);
  if (!rows.ok()) return rows.status();
  {
    Use u(*rows.value());
    for (;;) {
      StepResult rc = u->Step();
      if (rc == StepResult::kDone) break;
      if (rc == StepResult::kError) return u->Error("read deliveries" + in);
      auto seq = static_cast<Sequence>(u->Int(0));
      if (!holds(seq)) continue;
      std::string agency = u->Text(1);
      std::string stored = DeliveryStateName(static_cast<int>(u->Int(2)));
      report_->set_deliveries_checked(report_->deliveries_checked() + 1);
      if (u->Int(4) != 0)
        Problem("delivery seq=" + std::to_string(seq) + " agency=" + agency + in + " has no events row (removed)");
      Audited expected{"PENDING", 0};  // what an accepted publish inserts
      auto it = deliveries_.find({seq, agency});
      if (it != deliveries_.end()) {
        expected = std::move(it->second);
        deliveries_.erase(it);
      } else if (!whole_chain) {
        continue;
      }
      if (stored != expected.state) AddMismatch("delivery", seq, u->Text(3), agency, stored, expected);
    }
  }
  auto events = conn->Prepare("SELECT seq, event_id, case_state, agencies FROM events ORDER BY seq", sql::Rows::kMany);
  if (!events.ok()) return events.status();
  Use u(*events.value());
  for (;;) {
    StepResult rc = u->Step();
    if (rc == StepResult::kDone) break;
    if (rc == StepResult::kError) return u->Error("read events" + in);
    auto seq = static_cast<Sequence>(u->Int(0));
    if (!holds(seq)) continue;
    std::string stored = CaseStateName(static_cast<int>(u->Int(2)));
    report_->set_cases_checked(report_->cases_checked() + 1);
    // A case is inserted IN_PROGRESS, or COMPLETED when no agency must act.
    Audited expected{u->Text(3).empty() ? "COMPLETED" : "IN_PROGRESS", 0};
    auto it = cases_.find(seq);
    if (it != cases_.end()) {
      expected = std::move(it->second);
      cases_.erase(it);
    } else if (!whole_chain) {
      continue;
    }
    if (stored != expected.state) AddMismatch("case", seq, u->Text(1), "", stored, expected);
  }
  return Status::Ok();
}

Status TrailCheck::CheckRows() {
  if (Status s = CheckSourceRows(conn_, "", 0); !s.ok()) return s;
  if (archives_) {
    for (const ArchiveSource& a : *archives_)
      if (Status s = CheckSourceRows(a.conn, "archive " + a.file, a.id); !s.ok()) return s;
  }
  // Rows the trail names that no source holds; an archived event's rows
  // are not looked for when the archive files were not read.
  for (const auto& [key, audited] : deliveries_) {
    if (!archives_ && archived_seqs_.count(key.first)) continue;
    auto event = EventOf(key.first);
    if (!event.ok()) return event.status();
    AddMismatch("delivery", key.first, event.value() ? event.value()->first : "", key.second, "", audited);
  }
  for (const auto& [seq, audited] : cases_) {
    if (!archives_ && archived_seqs_.count(seq)) continue;
    AddMismatch("case", seq, "", "", "", audited);
  }
  return Status::Ok();
}

}  // namespace

Result<v1::AuditVerifyReport> VerifyAuditTrail(sql::ReadConnection* conn,
                                               const std::vector<AuditAnchorPoint>& anchors,
                                               const ArchiveSources* archives) {
  v1::AuditVerifyReport report;
  TrailCheck check(conn, archives, &report);
  if (Status s = check.Prepare(); !s.ok()) return s;
  if (Status s = check.CheckChain(anchors); !s.ok()) return s;
  if (Status s = check.CheckRows(); !s.ok()) return s;
  report.set_intact(report.problems_size() == 0 && report.mismatches_size() == 0);
  return report;
}

}  // namespace yilian::store
