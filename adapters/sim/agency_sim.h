// AgencySim: a simulated agency system working on its exchange database
// (the same tables the exchange-db sink writes, sink/exchange_layout.h):
// it takes new rows from the push table (setting taken_at), decides each
// with Decide (sim/decision.h), and writes the receipt row once the
// simulated processing delay has passed. It can also stand behind an HTTP
// front (sim/http_front.h), which stores submissions in the same tables.
//
// Down time: outage windows (seconds after start) and a hold file (while
// it exists) stop all processing; rows wait, HTTP answers 503 in an outage.
// Restart-safe: all state is in the database (a row taken before a restart
// is answered at taken_at + delay).
//
// Threads: every method may be called from any thread (one mutex; the HTTP
// front calls from its pool while the main loop calls Step).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "sim/decision.h"
#include "sink/exchange_layout.h"
#include "sqlite/db.h"

namespace yilian::sim {

struct SimOptions {
  std::string agency;  // for logs, e.g. "tax"
  std::string db_path;
  sink::ExchangeTables tables;
  SimSpec spec;
  // [start, end) in seconds after the simulator started.
  std::vector<std::pair<int, int>> outages;
  // While this file exists the agency processes nothing ("" = never).
  std::string hold_file;
  // HTTP: decide at once and answer the POST with the final result.
  bool http_sync = false;
};

class AgencySim {
 public:
  static Result<std::unique_ptr<AgencySim>> Open(const SimOptions& options, const Clock* clock);

  // Takes new rows and writes the receipts that are due. Returns how many
  // receipts it wrote.
  Result<int> Step();

  // True during an outage window.
  bool InOutage() const;
  // True during an outage or while the hold file exists.
  bool Down() const;

  // The HTTP front's two operations: an HTTP status and the answer body.
  struct Reply {
    int http_status = 200;
    std::string body;  // AgencyAnswer as JSON
    int retry_after_s = 0;
  };
  Reply Submit(const std::string& json_body, const std::string& idempotency_key);
  Reply Poll(const std::string& event_id);

  const SimOptions& options() const { return options_; }

 private:
  AgencySim(SimOptions options, std::unique_ptr<sqlite::Db> db, const Clock* clock)
      : options_(std::move(options)), db_(std::move(db)), clock_(clock), started_(clock->NowMillis()) {}
  Status TakeNewRows(Millis now);
  Status WriteReceipt(const std::string& event_id, const Decision& d, Millis now);
  // The answer on file for an event: PROCESSED/REJECTED, PENDING, or none.
  Result<bool> AnswerOf(const std::string& event_id, std::string* json);

  SimOptions options_;
  std::mutex mu_;
  std::unique_ptr<sqlite::Db> db_;
  const Clock* clock_;
  Millis started_;
};

// RFC 3339 UTC with milliseconds (as FormatRfc3339Utc writes it) back to
// milliseconds; -1 if unreadable.
Millis ParseMillis(const std::string& text);

}  // namespace yilian::sim
