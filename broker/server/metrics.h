// BrokerMetrics: the broker's Prometheus metrics (prometheus-cpp), served as
// text at /metrics. Labels carry agency ids and outcomes only, never
// enterprise or personal data.
// Concurrency: counters, gauges and histograms are updated by the broker
// loop and read by HTTP threads; prometheus-cpp makes both safe.
#pragma once

#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace yilian::server {

class BrokerMetrics {
 public:
  BrokerMetrics();

  void Published(const std::string& result) { publishes_.Add({{"result", result}}).Increment(); }
  void Delivered(const std::string& agency) { deliveries_.Add({{"agency", agency}}).Increment(); }
  void Result(const std::string& agency, const std::string& outcome) {
    results_.Add({{"agency", agency}, {"outcome", outcome}}).Increment();
  }
  void Retry(const std::string& agency) { retries_.Add({{"agency", agency}}).Increment(); }
  void DeadLetter(const std::string& agency) { dead_letters_.Add({{"agency", agency}}).Increment(); }
  void Overdue(const std::string& agency) { overdue_.Add({{"agency", agency.empty() ? "case" : agency}}).Increment(); }
  void QueueDepth(const std::string& agency, double n) { queue_depth_.Add({{"agency", agency}}).Set(n); }
  void OldestWaiting(const std::string& agency, double seconds) {
    oldest_waiting_.Add({{"agency", agency}}).Set(seconds);
  }
  void Sessions(const std::string& role, double n) { sessions_.Add({{"role", role}}).Set(n); }
  void CaseCompleted(double seconds) { case_completion_->Observe(seconds); }
  void Commit(double seconds) { commit_->Observe(seconds); }

  // Prometheus text exposition format (version 0.0.4).
  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& publishes_;
  prometheus::Family<prometheus::Counter>& deliveries_;
  prometheus::Family<prometheus::Counter>& results_;
  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Family<prometheus::Counter>& dead_letters_;
  prometheus::Family<prometheus::Counter>& overdue_;
  prometheus::Family<prometheus::Gauge>& queue_depth_;
  prometheus::Family<prometheus::Gauge>& oldest_waiting_;
  prometheus::Family<prometheus::Gauge>& sessions_;
  prometheus::Histogram* case_completion_;
  prometheus::Histogram* commit_;
};

}  // namespace yilian::server
