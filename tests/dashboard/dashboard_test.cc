// The dashboard in a real browser: a broker with test agencies (`yilian
// consume`, the tax bureau rejecting one case, no adapter for bank:CCB),
// events published and settled, then Debian's headless chromium loads the
// page from the broker and the test reads the DOM it rendered (by the
// data-event-id / data-agency / data-state attributes and the visible text)
// and keeps a screenshot (tests/dashboard/dashboard.png in the build tree).
//
// Needs /usr/bin/chromium (scripts/setup installs it); YILIAN_CHROMIUM names
// another binary.
#include <httplib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <regex>

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "cli/sample.h"
#include "client/publisher.h"
#include "testing/broker_fixture.h"
#include "yilian/v1/tracking.pb.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::PollUntil;
using testing::Process;

constexpr char kScreenshot[] = YILIAN_BINARY_DIR "/tests/dashboard/dashboard.png";

std::string Chromium() {
  const char* env = std::getenv("YILIAN_CHROMIUM");
  return env && *env ? env : "/usr/bin/chromium";
}

// One element of the dumped DOM: its start tag and its inner HTML. The
// dashboard never nests a tag inside the same tag (no table in a cell), so
// the first closing tag ends the element.
struct Element {
  std::string start_tag;
  std::string inner;
  bool Has(const std::string& attribute) const { return start_tag.find(attribute) != std::string::npos; }
  // The inner HTML without tags: what the user sees.
  std::string Text() const { return std::regex_replace(inner, std::regex("<[^>]*>"), " "); }
};

// The first <tag ...> in html[from, to) whose start tag contains `attribute`.
std::optional<Element> Find(const std::string& html, const std::string& tag, const std::string& attribute,
                            std::size_t from = 0, std::size_t to = std::string::npos) {
  to = std::min(to, html.size());
  for (std::size_t at = html.find("<" + tag + " ", from); at != std::string::npos && at < to;
       at = html.find("<" + tag + " ", at + 1)) {
    std::size_t end = html.find('>', at);
    if (end == std::string::npos) return std::nullopt;
    Element e;
    e.start_tag = html.substr(at, end + 1 - at);
    if (!e.Has(attribute)) continue;
    std::size_t close = html.find("</" + tag + ">", end);
    if (close == std::string::npos) return std::nullopt;
    e.inner = html.substr(end + 1, close - end - 1);
    return e;
  }
  return std::nullopt;
}

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access(Chromium().c_str(), X_OK), 0)
        << Chromium() << " is missing: run scripts/setup (Debian package chromium) or set YILIAN_CHROMIUM";
    // Only ESTABLISHED events here; banks have a short deadline so that the
    // case nobody answers for bank:CCB becomes overdue.
    broker_ = std::make_unique<BrokerProcess>(
        "agencies:\n"
        "  - id: tax\n    events: [ESTABLISHED]\n"
        "  - id: social_insurance\n    events: [ESTABLISHED]\n"
        "  - id: housing_fund\n    events: [ESTABLISHED]\n"
        "  - id: bank:*\n    events: [ESTABLISHED]\n    deadline_ms: 1500\n");
    broker_->Start();
    ASSERT_TRUE(PollUntil([&] { return Get("/readyz").first == 200; }, 10000));
  }

  std::pair<int, std::string> Get(const std::string& path) {
    httplib::Client c("127.0.0.1", broker_->http_port());
    auto r = c.Get(path.c_str());
    if (!r) return {0, ""};
    return {r->status, r->body};
  }

  std::optional<v1::Case> LoadCase(const std::string& event_id) {
    auto [status, body] = Get("/api/v1/cases/" + event_id);
    if (status != 200) return std::nullopt;
    v1::Case c;
    if (!google::protobuf::util::JsonStringToMessage(body, &c).ok()) return std::nullopt;
    return c;
  }

  static std::string AgencyState(const v1::Case& c, const std::string& agency) {
    for (const auto& a : c.agencies())
      if (a.agency() == agency) return v1::AgencyState_Name(a.state());
    return "";
  }
  static bool AgencyOverdue(const v1::Case& c, const std::string& agency) {
    for (const auto& a : c.agencies())
      if (a.agency() == agency) return a.overdue();
    return false;
  }

  // Publishes three establishments and runs the agencies; returns once the
  // cases have settled: completed_ COMPLETED, rejected_ ATTENTION (tax
  // REJECTED), waiting_ still waiting for bank:CCB and overdue.
  void PublishAndSettle() {
    sample::SampleOptions o;
    o.seed = 2026;
    o.enterprises = 3;
    o.events_per_enterprise = 1;
    o.deregister_fraction = 0;
    o.banks = {"ICBC", "ICBC", "CCB"};
    events_ = sample::Generate(o);
    ASSERT_EQ(events_.size(), 3u);

    zmq::context_t context(1);
    client::ClientOptions options;
    options.endpoint = broker_->endpoint();
    client::Publisher publisher(context, options);
    for (const auto& e : events_) publisher.Publish(e);
    std::size_t confirmed = 0;
    ASSERT_TRUE(PollUntil(
        [&] {
          publisher.Poll(20, [&](std::uint64_t, const v1::PublishAck& a) {
            EXPECT_NE(a.status(), v1::REFUSED) << a.message();
            ++confirmed;
          });
          return confirmed == events_.size();
        },
        20000));

    // Which case goes to which bank decides its role in the test.
    std::vector<std::string> icbc;
    for (const auto& e : events_) {
      auto c = LoadCase(e.event_id());
      ASSERT_TRUE(c) << e.event_id();
      if (!AgencyState(*c, "bank:CCB").empty()) waiting_ = e.event_id();
      if (!AgencyState(*c, "bank:ICBC").empty()) icbc.push_back(e.event_id());
    }
    ASSERT_EQ(icbc.size(), 2u);
    ASSERT_FALSE(waiting_.empty());
    completed_ = icbc[0];
    rejected_ = icbc[1];

    for (std::string agency : {"tax", "social_insurance", "housing_fund", "bank:ICBC"}) {
      std::vector<std::string> argv = {testing::CliBinary(), "consume", "--broker", broker_->endpoint(), "--agency",
                                       agency, "--log", broker_->dir() + "/consume-" + agency + ".log"};
      if (agency == "tax") argv.insert(argv.end(), {"--reject-pattern", "^" + rejected_ + "$"});
      consumers_.push_back(Process::Start(argv, "", broker_->dir() + "/consume-" + agency + ".err"));
    }
    ASSERT_TRUE(PollUntil(
        [&] {
          auto done = LoadCase(completed_), refused = LoadCase(rejected_), open = LoadCase(waiting_);
          return done && refused && open && done->state() == v1::COMPLETED && refused->state() == v1::ATTENTION &&
                 AgencyState(*refused, "tax") == "REJECTED" && open->state() == v1::IN_PROGRESS &&
                 AgencyState(*open, "tax") == "PROCESSED" && AgencyOverdue(*open, "bank:CCB");
        },
        30000))
        << "cases did not settle; see " << broker_->log_path();
  }

  // Runs headless chromium on the dashboard with `extra` arguments and
  // returns its standard output. Virtual time lets the page poll the API a
  // few times before the DOM is dumped.
  std::string RunChromium(const std::vector<std::string>& extra, const std::string& fragment = "") {
    std::string profile = testing::MakeTempDir("yilian-dashboard-chromium");
    std::vector<std::string> argv = {Chromium(),
                                     "--headless",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--disable-quic",
                                     "--no-first-run",
                                     "--disable-background-networking",
                                     "--disable-component-update",
                                     "--disable-sync",
                                     "--user-data-dir=" + profile,
                                     "--virtual-time-budget=10000"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("http://127.0.0.1:" + std::to_string(broker_->http_port()) + "/" + fragment);
    std::string out = broker_->dir() + "/chromium.out", err = broker_->dir() + "/chromium.err";
    auto chromium = Process::Start(argv, out, err);
    int code = -1;
    bool exited = chromium->WaitExit(120000, &code);
    testing::RemoveTree(profile);
    EXPECT_TRUE(exited) << "chromium did not finish within 120 s";
    EXPECT_EQ(code, 0) << testing::ReadFile(err);
    return testing::ReadFile(out);
  }

  std::unique_ptr<BrokerProcess> broker_;
  std::vector<std::unique_ptr<Process>> consumers_;
  std::vector<v1::EnterpriseEvent> events_;
  std::string completed_, rejected_, waiting_;
};

TEST_F(DashboardTest, LiveCasesShowCompletedRejectedAndOverdueAgencies) {
  PublishAndSettle();
  if (HasFatalFailure()) return;
  std::string dom = RunChromium({"--dump-dom"});
  ASSERT_NE(dom.find("</html>"), std::string::npos) << "no DOM dumped:\n" << dom.substr(0, 2000);

  auto conn = Find(dom, "span", "id=\"conn\"");
  ASSERT_TRUE(conn);
  EXPECT_TRUE(conn->Has("data-conn=\"live\"")) << conn->start_tag << conn->inner;

  // Only the live list, not the search panel.
  std::size_t list = dom.find("id=\"cases-body\"");
  ASSERT_NE(list, std::string::npos);
  std::size_t list_end = dom.find("</tbody>", list);

  auto completed = Find(dom, "tr", "data-event-id=\"" + completed_ + "\"", list, list_end);
  ASSERT_TRUE(completed) << "no row for " << completed_;
  EXPECT_TRUE(completed->Has("data-state=\"COMPLETED\"")) << completed->start_tag;
  EXPECT_NE(completed->Text().find("已办结"), std::string::npos);
  EXPECT_NE(completed->Text().find("(completed)"), std::string::npos);
  for (std::string agency : {"tax", "social_insurance", "housing_fund", "bank:ICBC"}) {
    auto cell = Find(completed->inner, "td", "data-agency=\"" + agency + "\"");
    ASSERT_TRUE(cell) << agency;
    EXPECT_TRUE(cell->Has("data-state=\"PROCESSED\"")) << cell->start_tag;
    EXPECT_TRUE(cell->Has("data-outcome=\"done\"")) << cell->start_tag;
    EXPECT_NE(cell->Text().find("(done)"), std::string::npos) << cell->inner;
  }
  // bank:CCB is not one of its agencies: no cell claims a state for it.
  EXPECT_FALSE(Find(completed->inner, "td", "data-agency=\"bank:CCB\""));

  auto rejected = Find(dom, "tr", "data-event-id=\"" + rejected_ + "\"", list, list_end);
  ASSERT_TRUE(rejected) << "no row for " << rejected_;
  EXPECT_TRUE(rejected->Has("data-state=\"ATTENTION\"")) << rejected->start_tag;
  EXPECT_NE(rejected->Text().find("需处理"), std::string::npos);
  EXPECT_NE(rejected->Text().find("(attention)"), std::string::npos);
  auto tax = Find(rejected->inner, "td", "data-agency=\"tax\"");
  ASSERT_TRUE(tax);
  EXPECT_TRUE(tax->Has("data-state=\"REJECTED\"")) << tax->start_tag;
  EXPECT_TRUE(tax->Has("data-outcome=\"rejected\"")) << tax->start_tag;
  EXPECT_NE(tax->Text().find("已退回"), std::string::npos) << tax->inner;
  EXPECT_NE(tax->Text().find("(rejected)"), std::string::npos) << tax->inner;
  EXPECT_NE(tax->Text().find("rejected by test agency tax"), std::string::npos) << tax->inner;
  auto social = Find(rejected->inner, "td", "data-agency=\"social_insurance\"");
  ASSERT_TRUE(social);
  EXPECT_TRUE(social->Has("data-state=\"PROCESSED\"")) << social->start_tag;

  auto waiting = Find(dom, "tr", "data-event-id=\"" + waiting_ + "\"", list, list_end);
  ASSERT_TRUE(waiting) << "no row for " << waiting_;
  EXPECT_TRUE(waiting->Has("data-state=\"IN_PROGRESS\"")) << waiting->start_tag;
  auto ccb = Find(waiting->inner, "td", "data-agency=\"bank:CCB\"");
  ASSERT_TRUE(ccb);
  EXPECT_TRUE(ccb->Has("data-outcome=\"overdue\"")) << ccb->start_tag;
  EXPECT_NE(ccb->Text().find("超期"), std::string::npos) << ccb->inner;

  // The statistics as the API counts them.
  auto stat = [&](const std::string& id) {
    auto e = Find(dom, "span", "id=\"" + id + "\"");
    return e ? e->Text() : std::string("<missing>");
  };
  EXPECT_EQ(stat("stat-cases"), "3");
  EXPECT_EQ(stat("stat-completed"), "1");
  EXPECT_EQ(stat("stat-attention"), "1");
  EXPECT_EQ(stat("stat-in-progress"), "1");
  EXPECT_EQ(stat("stat-rate"), "33.3%");
  auto tax_stats = Find(dom, "tr", "data-agency=\"tax\"", dom.find("id=\"agency-stats-body\""));
  ASSERT_TRUE(tax_stats);
  EXPECT_NE(tax_stats->Text().find("1 / 0"), std::string::npos) << tax_stats->inner;  // rejected / dead

  // The page shows no personal data, though the events carry some.
  std::regex personal("\"(id_number|phone)\":\"([^\"]+)\"");
  int checked = 0;
  for (const auto& e : events_) {
    std::string json;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(e, &json).ok());
    for (std::sregex_iterator it(json.begin(), json.end(), personal), end; it != end; ++it, ++checked)
      EXPECT_EQ(dom.find((*it)[2].str()), std::string::npos) << (*it)[1] << " shown on the dashboard";
  }
  EXPECT_GT(checked, 0) << "the sample events carry no personal data to look for";
}

TEST_F(DashboardTest, SearchByUsccShowsTheTimelineAndTheCaseWithItsRetryAction) {
  PublishAndSettle();
  if (HasFatalFailure()) return;
  std::string uscc;
  for (const auto& e : events_)
    if (e.event_id() == rejected_) uscc = e.uscc();
  std::string dom = RunChromium({"--dump-dom"}, "#q=" + uscc + "&case=" + rejected_);

  auto results = Find(dom, "section", "id=\"search-results\"");
  ASSERT_TRUE(results);
  EXPECT_FALSE(results->Has("hidden"));
  std::size_t search = dom.find("id=\"search-body\"");
  ASSERT_NE(search, std::string::npos);
  auto row = Find(dom, "tr", "data-event-id=\"" + rejected_ + "\"", search, dom.find("</tbody>", search));
  ASSERT_TRUE(row) << "the enterprise's case is not in the search result";
  EXPECT_TRUE(row->Has("data-state=\"ATTENTION\""));
  EXPECT_NE(dom.find(uscc), std::string::npos);

  // The case panel offers a retry for the rejected agency only.
  std::size_t detail = dom.find("id=\"detail-body\"");
  ASSERT_NE(detail, std::string::npos);
  auto tax = Find(dom, "tr", "data-agency=\"tax\"", detail);
  ASSERT_TRUE(tax);
  EXPECT_TRUE(tax->Has("data-state=\"REJECTED\""));
  EXPECT_NE(tax->inner.find("class=\"retry\""), std::string::npos) << tax->inner;
  auto bank = Find(dom, "tr", "data-agency=\"bank:ICBC\"", detail);
  ASSERT_TRUE(bank);
  EXPECT_EQ(bank->inner.find("class=\"retry\""), std::string::npos) << bank->inner;

  // An unknown id is reported as not found.
  dom = RunChromium({"--dump-dom"}, "#q=no-such-event");
  EXPECT_NE(dom.find("data-error-code=\"NOT_FOUND\""), std::string::npos);
}

TEST_F(DashboardTest, ScreenshotIsSavedAsATestArtifact) {
  PublishAndSettle();
  if (HasFatalFailure()) return;
  std::remove(kScreenshot);
  RunChromium({"--screenshot=" + std::string(kScreenshot), "--window-size=1400,900"});
  std::string png = testing::ReadFile(kScreenshot);
  ASSERT_GT(png.size(), 24u) << kScreenshot << " was not written";
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  auto be32 = [&](std::size_t at) {
    return (static_cast<unsigned char>(png[at]) << 24) | (static_cast<unsigned char>(png[at + 1]) << 16) |
           (static_cast<unsigned char>(png[at + 2]) << 8) | static_cast<unsigned char>(png[at + 3]);
  };
  EXPECT_EQ(be32(16), 1400);  // IHDR width
  EXPECT_EQ(be32(20), 900);   // IHDR height
  // A blank or unstyled page compresses to a few kilobytes; the rendered
  // dashboard with its tables is far larger.
  EXPECT_GT(png.size(), 40000u) << "the screenshot looks empty";
}

TEST_F(DashboardTest, AssetsAreServedFromTheBinaryAndNeedNoNetwork) {
  for (const auto& [path, type] : std::vector<std::pair<std::string, std::string>>{
           {"/", "text/html"}, {"/index.html", "text/html"}, {"/app.js", "text/javascript"},
           {"/style.css", "text/css"}}) {
    httplib::Client c("127.0.0.1", broker_->http_port());
    auto r = c.Get(path.c_str());
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->get_header_value("Content-Type").rfind(type, 0), 0u) << path;
    // Works offline: nothing is loaded from another site.
    EXPECT_EQ(r->body.find("http://"), std::string::npos) << path;
    EXPECT_EQ(r->body.find("https://"), std::string::npos) << path;
    EXPECT_EQ(r->body.find("//cdn"), std::string::npos) << path;
  }
}

}  // namespace
}  // namespace yilian
