#include "sdk/agency_session.h"

#include "common/client_text.h"
#include "common/log.h"

namespace yilian::adapter {
namespace {

std::shared_ptr<spdlog::logger> Log() { return GetLogger("adapter"); }

constexpr Millis kPruneEveryMs = 10 * 60 * 1000;

}  // namespace

Result<std::unique_ptr<AgencySession>> AgencySession::Open(zmq::context_t& context, SessionOptions options,
                                                           AgencyHandler* handler, const Clock* clock) {
  if (!clock) clock = SystemClock::Default();
  auto journal = Journal::Open(options.journal_path, AgencyId(options.client.agency), clock);
  if (!journal.ok()) return journal.status();
  std::unique_ptr<AgencySession> session(
      new AgencySession(context, std::move(options), handler, clock, std::move(journal.value())));
  Status s = session->Resume();
  if (!s.ok()) return s;
  return session;
}

AgencySession::AgencySession(zmq::context_t& context, SessionOptions options, AgencyHandler* handler,
                             const Clock* clock, std::unique_ptr<Journal> journal)
    : options_(std::move(options)),
      handler_(handler),
      clock_(clock),
      journal_(std::move(journal)),
      consumer_(context, options_.client, options_.result_timeout_ms) {
  consumer_.SetOnResultAck([this](const v1::ResultAck& ack) {
    Status s = OnAck(ack);
    if (!s.ok() && ack_error_.ok()) ack_error_ = s;
  });
  worker_ = std::thread([this] { WorkerLoop(); });
}

AgencySession::~AgencySession() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void AgencySession::WorkerLoop() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !submits_.empty() || !checks_.empty(); });
      if (stopping_) return;
      // Submissions first: a new event must not wait behind routine checks.
      std::deque<Job>& q = submits_.empty() ? checks_ : submits_;
      job = std::move(q.front());
      q.pop_front();
    }
    Done done{job.kind, std::move(job.delivery), {}};
    done.answer = job.kind == JobKind::kSubmit ? handler_->Submit(done.delivery) : handler_->Check(done.delivery);
    std::lock_guard<std::mutex> lock(mu_);
    done_.push_back(std::move(done));
  }
}

void AgencySession::Enqueue(Job job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    (job.kind == JobKind::kSubmit ? submits_ : checks_).push_back(std::move(job));
  }
  cv_.notify_one();
}

// After a restart: resend what the broker has not acknowledged, and follow
// up every event still at the agency.
Status AgencySession::Resume() {
  int at_agency = 0, ready = 0;
  for (const auto& [id, e] : journal_->unfinished()) {
    if (e.state == EntryState::kAnswerReady) {
      ++ready;
      Send(e, e.answer);
    } else {
      ++at_agency;
      if (!e.accepted_recorded) Send(e, AgencyAnswer::Pending());
      ScheduleCheck(id, 0);
    }
  }
  if (at_agency + ready > 0)
    Log()->info("{}: resuming {} events at the agency and {} answers not yet reported", options_.client.agency,
                at_agency, ready);
  return Status::Ok();
}

void AgencySession::Send(const JournalEntry& e, const AgencyAnswer& answer) {
  const std::string& id = e.event_id.str();
  auto it = inflight_.find(id);
  if (it != inflight_.end() && it->second.outcome() == v1::OUTCOME_ACCEPTED && answer.kind != AnswerKind::kPending) {
    // One unacknowledged result per event: the answer is journaled and goes
    // out when ACCEPTED is acknowledged (OnAck).
    return;
  }
  v1::Result r;
  r.set_event_id(id);
  r.set_agency(e.agency.str());
  r.set_outcome(ToOutcome(answer.kind));
  r.set_reference(answer.reference);
  r.set_reason(answer.reason);
  r.set_retry_after_ms(answer.retry_after_ms);
  r.set_attempt(e.attempt);
  inflight_[id] = r;
  consumer_.Answer(std::move(r));
}

Status AgencySession::OnDeliver(const v1::Deliver& d) {
  ++counters_.deliveries;
  const std::string& id = d.event_id();
  if (draining_) return Status::Ok();  // back to the queue when the session closes
  if (submitting_.count(id)) {
    ++counters_.deduped;
    Log()->info("{}: event {} ({}) delivered again (attempt {}) while being submitted; its answer follows", d.agency(),
                id, d.uscc(), d.attempt());
    return Status::Ok();
  }
  auto in = inflight_.find(id);
  if (in != inflight_.end()) {
    ++counters_.deduped;
    consumer_.Answer(in->second);  // the same result again, still one per event
    return Status::Ok();
  }
  auto found = journal_->Find(EventId(id));
  if (!found.ok()) return found.status();
  if (found.value()) {
    const JournalEntry& e = *found.value();
    bool fresh_retry = e.state != EntryState::kAtAgency && e.answer.kind == AnswerKind::kRetry;
    // An operator's replay means "hand it to the agency again" (say, after
    // the agency restored a backup); the sink's idempotency decides whether
    // the agency still has it.
    bool replay = d.replay() && e.state == EntryState::kReported;
    if (!fresh_retry && !replay) {
      ++counters_.deduped;
      Log()->info("{}: event {} ({}) delivered again (attempt {}); answering from the journal ({})", d.agency(), id,
                  d.uscc(), d.attempt(), ToString(e.state));
      Send(e, e.state == EntryState::kAtAgency ? AgencyAnswer::Pending() : e.answer);
      return Status::Ok();
    }
    // Answered RETRY before (this delivery is the retry), or replayed:
    // submit afresh.
    Status s = journal_->Forget(e.event_id);
    if (!s.ok()) return s;
  }
  submitting_.insert(id);
  DeliveryInfo info{EventId(id), AgencyId(d.agency()), Uscc(d.uscc()),
                    d.attempt(), d.sequence(),         d.event().SerializeAsString()};
  Enqueue(Job{JobKind::kSubmit, std::move(info)});
  return Status::Ok();
}

Status AgencySession::OnSubmitted(const Done& done) {
  ++counters_.submits;
  const DeliveryInfo& d = done.delivery;
  submitting_.erase(d.event_id.str());
  JournalEntry e;
  e.event_id = d.event_id;
  e.agency = d.agency;
  e.uscc = d.uscc;
  e.sequence = d.sequence;
  e.attempt = d.attempt;
  const AgencyAnswer& a = done.answer;
  Log()->info("{}: event {} ({}) attempt {}: agency says {}{}{}", d.agency.str(), d.event_id.str(), d.uscc.str(),
              d.attempt, ToString(a.kind), a.reference.empty() ? "" : " " + ClientText(a.reference, 256),
              a.reason.empty() ? "" : " (" + ClientText(a.reason, 1024) + ")");
  if (a.kind == AnswerKind::kRetry) {
    Send(e, a);  // nothing to remember: the broker delivers it again
    return Status::Ok();
  }
  e.state = a.kind == AnswerKind::kPending ? EntryState::kAtAgency : EntryState::kAnswerReady;
  if (a.final()) e.answer = a;
  Status s = journal_->Record(e);
  if (!s.ok()) return s;
  Send(e, a);
  if (a.kind == AnswerKind::kPending) ScheduleCheck(d.event_id.str(), options_.check_interval_ms);
  return Status::Ok();
}

// An answer for an event at the agency, from Check or from a report.
Status AgencySession::OnAnswerLater(const EventId& id, const AgencyAnswer& answer, const char* how) {
  auto it = journal_->unfinished().find(id.str());
  if (it == journal_->unfinished().end() || it->second.state != EntryState::kAtAgency) return Status::Ok();
  if (answer.kind == AnswerKind::kPending) {
    auto slot = check_slot_.find(id.str());
    int interval = slot == check_slot_.end() ? options_.check_interval_ms : slot->second.second * 2;
    ScheduleCheck(id.str(), std::min(std::max(interval, options_.check_interval_ms), options_.check_max_interval_ms));
    return Status::Ok();
  }
  JournalEntry e = it->second;
  e.state = EntryState::kAnswerReady;
  e.answer = answer;
  Log()->info("{}: event {} ({}): agency answered {}{}{} ({})", e.agency.str(), id.str(), e.uscc.str(),
              ToString(answer.kind), answer.reference.empty() ? "" : " " + ClientText(answer.reference, 256),
              answer.reason.empty() ? "" : " (" + ClientText(answer.reason, 1024) + ")", how);
  Status s = journal_->Record(e);
  if (!s.ok()) return s;
  if (auto slot = check_slot_.find(id.str()); slot != check_slot_.end()) {
    due_.erase({slot->second.first, id.str()});
    check_slot_.erase(slot);
  }
  Send(e, answer);
  return Status::Ok();
}

Status AgencySession::OnAck(const v1::ResultAck& ack) {
  ++counters_.results_acked;
  auto it = inflight_.find(ack.event_id());
  if (it == inflight_.end()) return Status::Ok();
  v1::Outcome sent = it->second.outcome();
  inflight_.erase(it);
  EventId id(ack.event_id());
  if (ack.status() == v1::RESULT_REFUSED)
    Log()->error("{}: broker refused the {} result for event {}: {} {}", ack.agency(), v1::Outcome_Name(sent),
                 ack.event_id(), v1::ErrorCode_Name(ack.error()), ack.message());
  if (sent != v1::OUTCOME_ACCEPTED) return journal_->MarkReported(id);

  if (ack.status() != v1::RESULT_RECORDED) {
    // The broker already has a final result, or does not know the event:
    // nothing the agency says can be recorded any more.
    if (ack.status() == v1::RESULT_ALREADY_SETTLED)
      Log()->warn("{}: event {} was already settled at the broker; no longer following it up", ack.agency(),
                  ack.event_id());
    if (auto slot = check_slot_.find(id.str()); slot != check_slot_.end()) {
      due_.erase({slot->second.first, id.str()});
      check_slot_.erase(slot);
    }
    return journal_->Forget(id);
  }
  Status s = journal_->MarkAcceptedRecorded(id);
  if (!s.ok()) return s;
  auto entry = journal_->unfinished().find(id.str());
  if (entry != journal_->unfinished().end() && entry->second.state == EntryState::kAnswerReady)
    Send(entry->second, entry->second.answer);  // it waited for this ack
  return Status::Ok();
}

void AgencySession::ScheduleCheck(const std::string& id, int interval_ms) {
  if (auto slot = check_slot_.find(id); slot != check_slot_.end()) due_.erase({slot->second.first, id});
  Millis due = clock_->NowMillis() + interval_ms;
  check_slot_[id] = {due, std::max(interval_ms, 1)};
  due_.insert({due, id});
}

void AgencySession::ScheduleChecks() {
  Millis now = clock_->NowMillis();
  while (!due_.empty() && due_.begin()->first <= now &&
         static_cast<int>(checking_.size()) < options_.max_queued_checks) {
    std::string id = due_.begin()->second;
    due_.erase(due_.begin());
    auto it = journal_->unfinished().find(id);
    if (it == journal_->unfinished().end() || it->second.state != EntryState::kAtAgency || checking_.count(id)) {
      check_slot_.erase(id);
      continue;
    }
    const JournalEntry& e = it->second;
    checking_.insert(id);
    Enqueue(Job{JobKind::kCheck, DeliveryInfo{e.event_id, e.agency, e.uscc, e.attempt, e.sequence, {}}});
  }
}

Status AgencySession::Turn(int timeout_ms) {
  // Receive everything that is there; wait only for the first.
  for (int wait = timeout_ms;; wait = 0) {
    auto d = consumer_.Receive(wait);
    if (!ack_error_.ok()) return ack_error_;
    if (!d) break;
    Status s = OnDeliver(*d);
    if (!s.ok()) return s;
  }
  std::deque<Done> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done.swap(done_);
  }
  for (const Done& d : done) {
    Status s;
    if (d.kind == JobKind::kSubmit) {
      s = OnSubmitted(d);
    } else {
      ++counters_.checks;
      checking_.erase(d.delivery.event_id.str());
      s = OnAnswerLater(d.delivery.event_id, d.answer, "checked");
    }
    if (!s.ok()) return s;
  }
  for (auto& [id, answer] : handler_->TakeReports()) {
    Status s = OnAnswerLater(id, answer, "reported");
    if (!s.ok()) return s;
  }
  ScheduleChecks();
  Millis now = clock_->NowMillis();
  if (now >= next_prune_) {
    next_prune_ = now + kPruneEveryMs;
    auto pruned = journal_->Prune(now - static_cast<Millis>(options_.retain_hours) * 3600 * 1000);
    if (!pruned.ok()) return pruned.status();
    if (pruned.value() > 0) Log()->info("{}: pruned {} reported entries", options_.client.agency, pruned.value());
  }
  return Status::Ok();
}

Status AgencySession::Run(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    Status s = Turn(20);
    if (!s.ok()) {
      Log()->critical("{}: state journal failed, stopping: {}", options_.client.agency, s.ToString());
      return s;
    }
  }
  draining_ = true;
  Millis until = clock_->NowMillis() + 2000;
  while (!inflight_.empty() && clock_->NowMillis() < until) {
    Status s = Turn(20);
    if (!s.ok()) return s;
  }
  consumer_.connection().Close();
  return Status::Ok();
}

}  // namespace yilian::adapter
