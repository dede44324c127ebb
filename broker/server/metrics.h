// BrokerMetrics: the broker's Prometheus metrics (prometheus-cpp), served as
// text at /metrics. Labels carry agency ids and outcomes only, never
// enterprise or personal data.
// Concurrency: counters, gauges and histograms are updated by the broker
// loop and read by HTTP threads; prometheus-cpp makes both safe.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <string>
#include <unordered_map>

namespace yilian::server {

class BrokerMetrics {
 public:
  BrokerMetrics();

  void Published(const std::string& result) { Get(publishes_, result, "result").Increment(); }
  void Delivered(const std::string& agency) { Get(deliveries_, agency, "agency").Increment(); }
  void Result(const std::string& agency, const std::string& outcome) {
    std::string key = agency;
    key += '\n';
    key += outcome;
    auto it = results_.members.find(key);
    if (it != results_.members.end()) return it->second->Increment();
    Add(results_, key, {{"agency", agency}, {"outcome", outcome}}).Increment();
  }
  void Retry(const std::string& agency) { Get(retries_, agency, "agency").Increment(); }
  void DeadLetter(const std::string& agency) { Get(dead_letters_, agency, "agency").Increment(); }
  void Overdue(const std::string& agency) {
    const std::string label = agency.empty() ? "case" : agency;
    Get(overdue_, label, "agency").Increment();
  }
  void QueueDepth(const std::string& agency, double n) { Get(queue_depth_, agency, "agency").Set(n); }
  void OldestWaiting(const std::string& agency, double seconds) {
    Get(oldest_waiting_, agency, "agency").Set(seconds);
  }
  void Sessions(const std::string& role, double n) { Get(sessions_, role, "role").Set(n); }
  void Leader(bool leading) { leader_->Set(leading ? 1 : 0); }
  // The webhook's case updates not yet taken by the receiver; POSTs that
  // failed since the last call.
  void Webhook(double backlog, double new_failures) {
    webhook_backlog_->Set(backlog);
    if (new_failures > 0) webhook_failures_->Increment(new_failures);
  }
  // Events the archive job moved out of the live store, and its failed
  // runs, since the last call.
  void Archive(double new_events, double new_failures) {
    if (new_events > 0) archived_events_->Increment(new_events);
    if (new_failures > 0) archive_failures_->Increment(new_failures);
  }
  void StoreFreeSpace(double free_bytes, double warn_bytes) {
    store_free_->Set(free_bytes);
    store_free_warn_->Set(warn_bytes);
  }
  void RekeyRemaining(double events) { rekey_remaining_->Set(events); }
  void SessionRefused(const std::string& reason) { Get(sessions_refused_, reason, "reason").Increment(); }
  // From the HTTP server's thread: the members exist from the start, so
  // this only reads the map (thread-safe beside the loop's updates of
  // other families).
  void HttpEarlyClose(const std::string& reason) {
    auto it = http_early_closes_.members.find(reason);
    if (it != http_early_closes_.members.end()) it->second->Increment();
  }
  void CaseCompleted(double seconds) { case_completion_->Observe(seconds); }
  void Commit(double seconds) { commit_->Observe(seconds); }
  void TurnMessages(std::size_t n) { turn_messages_->Observe(static_cast<double>(n)); }

  // Prometheus text exposition format (version 0.0.4).
  std::string Serialize() const;

 private:
  // A family member by its label values, looked up in the family (a map of
  // label maps) only the first time: updates happen per delivery. Members
  // are never removed, so the pointers stay valid.
  template <typename T>
  struct Cached {
    prometheus::Family<T>& family;
    std::unordered_map<std::string, T*> members;
  };
  // The member whose one label `name` has the value `value`; the label map
  // is built only the first time.
  template <typename T>
  static T& Get(Cached<T>& c, const std::string& value, const char* name) {
    auto it = c.members.find(value);
    if (it != c.members.end()) return *it->second;
    return Add(c, value, {{name, value}});
  }
  template <typename T>
  static T& Add(Cached<T>& c, const std::string& key, const std::map<std::string, std::string>& labels) {
    T& member = c.family.Add(labels);
    c.members.emplace(key, &member);
    return member;
  }

  std::shared_ptr<prometheus::Registry> registry_;
  Cached<prometheus::Counter> publishes_;
  Cached<prometheus::Counter> deliveries_;
  Cached<prometheus::Counter> results_;
  Cached<prometheus::Counter> retries_;
  Cached<prometheus::Counter> dead_letters_;
  Cached<prometheus::Counter> overdue_;
  Cached<prometheus::Gauge> queue_depth_;
  Cached<prometheus::Gauge> oldest_waiting_;
  Cached<prometheus::Gauge> sessions_;
  Cached<prometheus::Counter> sessions_refused_;
  Cached<prometheus::Counter> http_early_closes_;
  prometheus::Gauge* leader_;
  prometheus::Gauge* webhook_backlog_;
  prometheus::Counter* webhook_failures_;
  prometheus::Counter* archived_events_;
  prometheus::Counter* archive_failures_;
  prometheus::Gauge* rekey_remaining_;
  prometheus::Gauge* store_free_;
  prometheus::Gauge* store_free_warn_;
  prometheus::Histogram* case_completion_;
  prometheus::Histogram* commit_;
  prometheus::Histogram* turn_messages_;
};

}  // namespace yilian::server
