// ExchangeDbSink: the front-end exchange database pattern (前置库). Submit
// inserts one row per event into the agency's push table (the event id is
// the primary key, so a redelivery finds its row instead of adding one);
// Check reads the agency's receipt row. Layout: exchange_layout.h and
// docs/plugins.md. This implementation opens a SQLite file; the SQL is
// plain enough to run unchanged on a server database through another driver.
//
// Durability: the push row is committed (WAL, synchronous=FULL) before
// Submit returns Pending. Threads: one at a time (see Sink).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "sink/exchange_layout.h"
#include "sink/sink.h"
#include "sqlite/db.h"

namespace yilian::sink {

struct ExchangeDbOptions {
  std::string path;
  ExchangeTables tables;
  bool create_tables = true;
  int busy_timeout_ms = 5000;
  // Delay asked of the broker when the database is locked or failing.
  std::uint32_t retry_after_ms = 5000;
};

class ExchangeDbSink final : public Sink {
 public:
  static Result<std::unique_ptr<ExchangeDbSink>> Open(const ExchangeDbOptions& options, const plugin::Host* host);

  plugin::Answer Submit(const agency::v1::AgencySubmission& submission) override;
  plugin::Answer Check(const std::string& event_id) override;

 private:
  ExchangeDbSink(ExchangeDbOptions options, std::unique_ptr<sqlite::Db> db, const plugin::Host* host)
      : options_(std::move(options)), db_(std::move(db)), host_(host) {}
  // The receipt row as an answer; nullopt-like Pending when there is none.
  Result<bool> ReadReceipt(const std::string& event_id, plugin::Answer* answer);
  Result<bool> HasPushRow(const std::string& event_id);
  plugin::Answer DbTrouble(const std::string& event_id, const Status& status);

  ExchangeDbOptions options_;
  std::unique_ptr<sqlite::Db> db_;
  const plugin::Host* host_;
};

}  // namespace yilian::sink
