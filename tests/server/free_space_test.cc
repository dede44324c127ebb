// Free space of the data directory against a real broker: reported as a
// metric beside the configured warning threshold, and warned about (one
// line a minute) when below it. A threshold of 1 TiB stands in for a disk
// that is filling up.
#include <sys/statvfs.h>

#include <httplib.h>

#include <gtest/gtest.h>

#include "testing/broker_fixture.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::PollUntil;

double Metric(const std::string& body, const std::string& name) {
  auto at = body.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(body.substr(at + name.size() + 2));
}

TEST(FreeSpace, IsAMetricAndBelowTheThresholdAWarning) {
  BrokerProcess broker("store:\n  free_space_warn_mib: 1048576\n");
  broker.Start();
  httplib::Client http("127.0.0.1", broker.http_port());
  std::string body;
  ASSERT_TRUE(PollUntil(
      [&] {
        auto res = http.Get("/metrics");
        if (res && res->status == 200) body = res->body;
        return Metric(body, "yilian_store_free_bytes") > 0;
      },
      10000));
  struct statvfs fs {};
  ASSERT_EQ(statvfs(broker.data_dir().c_str(), &fs), 0);
  const double free_now = static_cast<double>(fs.f_bavail) * static_cast<double>(fs.f_frsize);
  EXPECT_NEAR(Metric(body, "yilian_store_free_bytes"), free_now, free_now * 0.05 + 64e6);
  EXPECT_EQ(Metric(body, "yilian_store_free_warn_bytes"), 1048576.0 * 1024 * 1024);
  std::string log;
  ASSERT_TRUE(PollUntil(
      [&] {
        log = testing::ReadFile(broker.log_path());
        return log.find("less than store.free_space_warn_mib (1048576)") != std::string::npos;
      },
      10000));
}

TEST(FreeSpace, NoWarningAboveTheThreshold) {
  BrokerProcess broker("store:\n  free_space_warn_mib: 1\n");
  broker.Start();
  httplib::Client http("127.0.0.1", broker.http_port());
  ASSERT_TRUE(PollUntil(
      [&] {
        auto res = http.Get("/metrics");
        return res && res->status == 200 && Metric(res->body, "yilian_store_free_warn_bytes") == 1024.0 * 1024;
      },
      10000));
  EXPECT_EQ(testing::ReadFile(broker.log_path()).find("store.free_space_warn_mib"), std::string::npos);
}

}  // namespace
}  // namespace yilian
