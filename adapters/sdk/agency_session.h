// AgencySession: one agency adapter's life with the broker, on top of the
// client library's Consumer. It receives deliveries under credit, hands
// each event to the AgencyHandler on a worker thread (so a slow agency
// never stops heartbeats), and answers the broker:
//   - an answer is written to the Journal before it is sent, and resent
//     until the broker acknowledges it, also after an adapter restart;
//   - an event the agency will answer later is journaled kAtAgency before
//     ACCEPTED is sent; the session then asks the handler (Check) with a
//     growing interval, and takes reports the handler receives on its own;
//   - redeliveries are deduped by event id: an event being submitted is
//     not submitted again, a journaled one is answered from the journal
//     (except an operator's replay, Deliver.replay, which is submitted
//     again once the agency has answered it);
//   - at most one result per event is unacknowledged at a time, so every
//     ResultAck matches the result it answers (a final answer that arrives
//     while ACCEPTED is unacknowledged waits for that ack).
//
// Operation: Run (or Turn, in tests) on one thread; the worker thread is
// internal. A journal write failure ends Run with the error: the adapter
// does not go on without durable state.
// Limitations: one worker, so agency calls are serialized per adapter.
// Ownership: the zmq context and the handler outlive the session.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "client/consumer.h"
#include "common/clock.h"
#include "sdk/agency_handler.h"
#include "sdk/journal.h"

namespace yilian::adapter {

struct SessionOptions {
  client::ClientOptions client;  // endpoint, agency, credit, name
  std::string journal_path;      // the state file (see Journal)
  // Wait before the first Check of a pending event; doubles up to the max.
  int check_interval_ms = 1000;
  int check_max_interval_ms = 30000;
  // Checks queued to the worker at once (submissions go first anyway).
  int max_queued_checks = 32;
  // How long reported entries are kept to answer redeliveries.
  int retain_hours = 168;
  // Resend an unacknowledged result after this long.
  int result_timeout_ms = 5000;
};

struct SessionCounters {
  std::uint64_t deliveries = 0;     // Deliver messages received
  std::uint64_t submits = 0;        // handler Submit calls
  std::uint64_t deduped = 0;        // redeliveries answered without a Submit
  std::uint64_t checks = 0;         // handler Check calls
  std::uint64_t results_acked = 0;  // ResultAcks received
};

class AgencySession {
 public:
  static Result<std::unique_ptr<AgencySession>> Open(zmq::context_t& context, SessionOptions options,
                                                     AgencyHandler* handler, const Clock* clock = nullptr);
  ~AgencySession();  // stops the worker (waits for a running handler call)
  AgencySession(const AgencySession&) = delete;
  AgencySession& operator=(const AgencySession&) = delete;

  // Turns until `stop` is set; then gives unacknowledged results up to 2 s
  // and says Bye. Returns the journal error that ended it, if any.
  Status Run(const std::atomic<bool>& stop);
  // One turn: I/O for up to timeout_ms, then completions, reports, checks.
  Status Turn(int timeout_ms);

  SessionCounters counters() const { return counters_; }
  // Results sent and not yet acknowledged by the broker.
  std::size_t unacknowledged() const { return inflight_.size(); }
  const Journal& journal() const { return *journal_; }

 private:
  enum class JobKind { kSubmit, kCheck };
  struct Job {
    JobKind kind;
    DeliveryInfo delivery;
  };
  struct Done {
    JobKind kind;
    DeliveryInfo delivery;
    AgencyAnswer answer;
  };

  AgencySession(zmq::context_t& context, SessionOptions options, AgencyHandler* handler, const Clock* clock,
                std::unique_ptr<Journal> journal);
  void WorkerLoop();
  void Enqueue(Job job);

  Status OnDeliver(const v1::Deliver& d);
  Status OnSubmitted(const Done& done);
  Status OnAnswerLater(const EventId& id, const AgencyAnswer& answer, const char* how);
  Status OnAck(const v1::ResultAck& ack);
  Status Resume();
  void ScheduleChecks();
  void ScheduleCheck(const std::string& id, int interval_ms);
  void Send(const JournalEntry& entry, const AgencyAnswer& answer);

  SessionOptions options_;
  AgencyHandler* handler_;
  const Clock* clock_;
  std::unique_ptr<Journal> journal_;
  client::Consumer consumer_;
  Status ack_error_;       // a journal error met inside the ack callback
  bool draining_ = false;  // stopping: new deliveries are left to the broker

  // Worker.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> submits_;
  std::deque<Job> checks_;
  std::deque<Done> done_;
  bool stopping_ = false;
  std::thread worker_;

  // Session thread only.
  std::set<std::string> submitting_;                          // submit queued or running
  std::set<std::string> checking_;                            // check queued or running
  std::map<std::string, v1::Result> inflight_;                // sent, not acknowledged
  std::set<std::pair<Millis, std::string>> due_;              // next check of kAtAgency entries
  std::map<std::string, std::pair<Millis, int>> check_slot_;  // id -> (due, interval)
  Millis next_prune_ = 0;
  SessionCounters counters_;
};

}  // namespace yilian::adapter
