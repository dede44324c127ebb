#include "server/metrics.h"

#include <prometheus/text_serializer.h>

namespace yilian::server {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

BrokerMetrics::BrokerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      publishes_{
          BuildCounter().Name("yilian_publishes_total").Help("Publishes answered, by result").Register(*registry_), {}},
      deliveries_{BuildCounter()
                      .Name("yilian_deliveries_total")
                      .Help("Deliveries handed to adapters, by agency")
                      .Register(*registry_),
                  {}},
      results_{BuildCounter()
                   .Name("yilian_results_total")
                   .Help("Results recorded, by agency and outcome")
                   .Register(*registry_),
               {}},
      retries_{BuildCounter()
                   .Name("yilian_retries_total")
                   .Help("Deliveries sent back for another attempt, by agency")
                   .Register(*registry_),
               {}},
      dead_letters_{BuildCounter()
                        .Name("yilian_dead_letters_total")
                        .Help("Deliveries dead-lettered, by agency")
                        .Register(*registry_),
                    {}},
      overdue_{BuildCounter()
                   .Name("yilian_overdue_total")
                   .Help("Deadlines missed, by agency (\"case\" for whole cases)")
                   .Register(*registry_),
               {}},
      queue_depth_{BuildGauge().Name("yilian_queue_depth").Help("Unsettled deliveries, by agency").Register(*registry_),
                   {}},
      oldest_waiting_{BuildGauge()
                          .Name("yilian_oldest_waiting_seconds")
                          .Help("Age of the oldest unsettled delivery, by agency")
                          .Register(*registry_),
                      {}},
      sessions_{BuildGauge().Name("yilian_sessions").Help("Open client sessions, by role").Register(*registry_), {}},
      sessions_refused_{BuildCounter()
                            .Name("yilian_sessions_refused_total")
                            .Help("Hellos refused for a session limit, by reason (identity_quota, reserved, "
                                  "max_connections)")
                            .Register(*registry_),
                        {}},
      http_early_closes_{BuildCounter()
                             .Name("yilian_http_connections_closed_early_total")
                             .Help("HTTP connections the broker closed before answering them, by reason (refused, "
                                   "evicted, handshake, timeout, too_large)")
                             .Register(*registry_),
                         {}} {
  for (const char* reason : {"refused", "evicted", "handshake", "timeout", "too_large"})
    Add(http_early_closes_, reason, {{"reason", reason}});
  leader_ = &BuildGauge()
                 .Name("yilian_leader")
                 .Help("1 while this broker is the active one (holds the lease; always with SQLite), 0 as a standby")
                 .Register(*registry_)
                 .Add({});
  webhook_backlog_ = &BuildGauge()
                          .Name("yilian_webhook_backlog")
                          .Help("Case updates stored and not yet taken by the webhook's receiver (0 without a webhook)")
                          .Register(*registry_)
                          .Add({});
  webhook_failures_ = &BuildCounter()
                           .Name("yilian_webhook_failures_total")
                           .Help("Webhook POSTs that got no 2xx answer (each is retried)")
                           .Register(*registry_)
                           .Add({});
  archived_events_ = &BuildCounter()
                         .Name("yilian_archived_events_total")
                         .Help("Settled events moved from the live store into archive files")
                         .Register(*registry_)
                         .Add({});
  archive_failures_ = &BuildCounter()
                          .Name("yilian_archive_failures_total")
                          .Help("Archive runs that failed (GET /api/v1/archive says why)")
                          .Register(*registry_)
                          .Add({});
  rekey_remaining_ = &BuildGauge()
                         .Name("yilian_rekey_remaining")
                         .Help("Stored events the data-key rotation has still to go through (0 when none runs)")
                         .Register(*registry_)
                         .Add({});
  store_free_ = &BuildGauge()
                     .Name("yilian_store_free_bytes")
                     .Help("Free space on the file system of the data directory (for the broker's user)")
                     .Register(*registry_)
                     .Add({});
  store_free_warn_ = &BuildGauge()
                          .Name("yilian_store_free_warn_bytes")
                          .Help("store.free_space_warn_mib in bytes: alert when yilian_store_free_bytes is below it")
                          .Register(*registry_)
                          .Add({});
  auto& completion = BuildHistogram()
                         .Name("yilian_case_completion_seconds")
                         .Help("Time from publish to case COMPLETED")
                         .Register(*registry_);
  case_completion_ =
      &completion.Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 900, 3600,
                                                                  4 * 3600, 8 * 3600, 86400});
  auto& commit = BuildHistogram()
                     .Name("yilian_store_commit_seconds")
                     .Help("Store commit (group commit) latency")
                     .Register(*registry_);
  commit_ = &commit.Add(
      {}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1});
  auto& turn = BuildHistogram()
                   .Name("yilian_turn_messages")
                   .Help("Messages received per loop turn (one store transaction each)")
                   .Register(*registry_);
  turn_messages_ =
      &turn.Add({}, prometheus::Histogram::BucketBoundaries{1, 3, 7, 15, 31, 63, 127, 255, 511, 1023, 2047});
}

std::string BrokerMetrics::Serialize() const {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry_->Collect());
}

}  // namespace yilian::server
