#include "harness/report.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace yilian::bench {
namespace {

// A flat JSON object built field by field.
class JsonLine {
 public:
  JsonLine& Add(const std::string& key, const std::string& v) {
    Key(key);
    out_ << '"';
    for (char c : v) {
      if (c == '"' || c == '\\') {
        out_ << '\\' << c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out_ << buf;
      } else {
        out_ << c;
      }
    }
    out_ << '"';
    return *this;
  }
  JsonLine& Add(const std::string& key, double v) {
    Key(key);
    if (!std::isfinite(v)) {
      out_ << "null";
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.10g", v);
      out_ << buf;
    }
    return *this;
  }
  JsonLine& Add(const std::string& key, bool v) {
    Key(key);
    out_ << (v ? "true" : "false");
    return *this;
  }
  JsonLine& Add(const std::string& key, const Latency& l) {
    Add(key + "_p50_ms", l.p50_ms).Add(key + "_p99_ms", l.p99_ms).Add(key + "_p999_ms", l.p999_ms);
    return Add(key + "_max_ms", l.max_ms);
  }
  std::string str() const { return "{" + out_.str() + "}"; }

 private:
  void Key(const std::string& k) {
    if (!first_) out_ << ',';
    first_ = false;
    out_ << '"' << k << "\":";
  }
  std::ostringstream out_;
  bool first_ = true;
};

JsonLine Common(const RunInfo& i) {
  JsonLine j;
  j.Add("system", i.system).Add("durability_class", i.durability_class).Add("durability", i.durability);
  j.Add("versions", i.versions).Add("mode", i.mode).Add("label", i.label).Add("run", double(i.run));
  if (!i.deployment.empty()) j.Add("deployment", i.deployment);
  if (!i.publish_path.over.empty()) {
    j.Add("publish_over", i.publish_path.over).Add("publish_batch", double(i.publish_path.batch));
    j.Add("publish_connections", double(i.publish_path.connections));
  }
  j.Add("agencies", double(i.agencies)).Add("consumer_window", double(i.consumer_window));
  j.Add("publish_window", double(i.publish_window))
      .Add("max_unsettled", double(i.max_unsettled))
      .Add("offered_rate", i.offered_rate);
  j.Add("events", double(i.events)).Add("mean_event_bytes", i.mean_event_bytes);
  return j;
}

Status Append(const std::string& path, const std::string& line) {
  std::ofstream out(path, std::ios::app);
  out << line << "\n";
  out.flush();
  if (!out) return Status::IoError("cannot append to " + path);
  return Status::Ok();
}

void PrintLatency(const char* what, const Latency& l) {
  std::printf("  %-22s p50 %8.2f ms  p99 %8.2f ms  p99.9 %8.2f ms  max %8.2f ms\n", what, l.p50_ms, l.p99_ms, l.p999_ms,
              l.max_ms);
}

void PrintHeader(const RunInfo& i) {
  std::printf("%s [%s] mode=%s events=%zu agencies=%d avg_event_bytes=%.0f offered_rate=%s\n", i.system.c_str(),
              i.durability_class.c_str(), i.mode.c_str(), i.events, i.agencies, i.mean_event_bytes,
              i.offered_rate > 0 ? std::to_string(static_cast<long>(i.offered_rate)).c_str() : "max");
  if (!i.deployment.empty()) std::printf("  deployment: %s\n", i.deployment.c_str());
  if (!i.publish_path.over.empty())
    std::printf("  publishing over %s: %d event%s per request, %d connection%s\n", i.publish_path.over.c_str(),
                i.publish_path.batch, i.publish_path.batch == 1 ? "" : "s", i.publish_path.connections,
                i.publish_path.connections == 1 ? "" : "s");
  std::printf("  durability: %s\n", i.durability.c_str());
}

}  // namespace

void PrintSettle(const RunInfo& i, const SettleResult& r) {
  PrintHeader(i);
  std::printf("  published+confirmed in %.2f s (%.0f events/s)\n", r.publish_s, r.events / r.publish_s);
  std::printf("  settled at all %d agencies: %.0f events/s sustained (%.0f overall, %.0f deliveries/s)\n", i.agencies,
              r.settled_per_s, r.settled_overall_per_s, r.settled_per_s * i.agencies);
  PrintLatency("confirm latency", r.confirm);
  if (r.request.count > 0) PrintLatency("request round trip", r.request);
  PrintLatency("settle latency (acked)", r.settle);
  if (r.acks_recorded) PrintLatency("settle (ack recorded)", r.recorded);
  std::printf("  server CPU %.2f s (%.3f s per 1000 events%s), client CPU %.2f s, server peak RSS %.1f MB\n",
              r.server_cpu_s, r.server_cpu_s * 1000 / r.events,
              r.server_processes > 1 ? (", " + std::to_string(r.server_processes) + " server processes").c_str() : "",
              r.client_cpu_s, r.peak_rss_mb);
  if (r.refused || r.duplicates) std::printf("  refused %zu, duplicate deliveries %zu\n", r.refused, r.duplicates);
  std::fflush(stdout);
}

void PrintBacklog(const RunInfo& i, const BacklogResult& r) {
  PrintHeader(i);
  std::printf("  filled %zu events waiting for %d offline agenc%s in %.1f s (%.0f events/s)\n", r.events, i.agencies,
              i.agencies == 1 ? "y" : "ies", r.fill_s, r.fill_per_s);
  std::printf("  server RSS with the backlog %.1f MB (peak %.1f MB)\n", r.rss_mb, r.peak_rss_fill_mb);
  if (r.restart_ready_s >= 0)
    std::printf("  restart: first delivery %.2f s after start, RSS then %.1f MB\n", r.restart_ready_s,
                r.rss_after_restart_mb);
  std::printf("  drained in %.1f s (%.0f events/s), peak RSS while draining %.1f MB\n", r.drain_s, r.drain_per_s,
              r.peak_rss_drain_mb);
  std::printf("  server CPU: fill %.2f s, drain %.2f s\n", r.server_cpu_fill_s, r.server_cpu_drain_s);
  if (r.refused) std::printf("  refused %zu\n", r.refused);
  std::fflush(stdout);
}

Status AppendJson(const std::string& path, const RunInfo& i, const SettleResult& r) {
  JsonLine j = Common(i);
  j.Add("ok", true).Add("publish_s", r.publish_s).Add("settled_per_s", r.settled_per_s);
  j.Add("settled_overall_per_s", r.settled_overall_per_s);
  j.Add("confirm", r.confirm).Add("settle", r.settle);
  if (r.request.count > 0) j.Add("request", r.request).Add("requests", double(r.request.count));
  j.Add("acks_recorded", r.acks_recorded);
  if (r.acks_recorded) j.Add("recorded", r.recorded);
  j.Add("server_cpu_s", r.server_cpu_s).Add("cpu_s_per_1000", r.server_cpu_s * 1000 / r.events);
  if (r.server_processes > 1) j.Add("server_processes", double(r.server_processes));
  j.Add("client_cpu_s", r.client_cpu_s).Add("peak_rss_mb", r.peak_rss_mb);
  j.Add("refused", double(r.refused)).Add("duplicates", double(r.duplicates));
  return Append(path, j.str());
}

Status AppendJson(const std::string& path, const RunInfo& i, const BacklogResult& r) {
  JsonLine j = Common(i);
  j.Add("ok", true).Add("fill_s", r.fill_s).Add("fill_per_s", r.fill_per_s).Add("rss_mb", r.rss_mb);
  j.Add("peak_rss_fill_mb", r.peak_rss_fill_mb).Add("restart_ready_s", r.restart_ready_s);
  j.Add("rss_after_restart_mb", r.rss_after_restart_mb).Add("drain_s", r.drain_s);
  j.Add("drain_per_s", r.drain_per_s).Add("peak_rss_drain_mb", r.peak_rss_drain_mb);
  j.Add("server_cpu_fill_s", r.server_cpu_fill_s).Add("server_cpu_drain_s", r.server_cpu_drain_s);
  j.Add("refused", double(r.refused));
  return Append(path, j.str());
}

Status AppendJsonError(const std::string& path, const RunInfo& i, const Status& error) {
  JsonLine j = Common(i);
  j.Add("ok", false).Add("error", error.ToString());
  return Append(path, j.str());
}

}  // namespace yilian::bench
