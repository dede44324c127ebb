#include "sink/http_sink.h"

#include <httplib.h>

#include <cstdlib>

#include "common/mask.h"

namespace yilian::sink {
namespace {

// "Retry-After: <seconds>" in milliseconds, or `fallback`.
std::uint32_t RetryAfterMs(const httplib::Response& res, std::uint32_t fallback) {
  if (!res.has_header("Retry-After")) return fallback;
  std::string v = res.get_header_value("Retry-After");
  char* end = nullptr;
  long secs = std::strtol(v.c_str(), &end, 10);
  if (end == v.c_str() || secs < 0 || secs > 86400) return fallback;
  return static_cast<std::uint32_t>(secs * 1000);
}

std::string Snippet(const std::string& body) {
  std::string s = body.substr(0, 200);
  // Cut at a character boundary, then mask anything that looks personal.
  while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();
  if (!s.empty() && (static_cast<unsigned char>(s.back()) & 0x80)) s.pop_back();
  return ScrubPersonalData(s);
}

}  // namespace

std::string EncodePathSegment(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

HttpSink::HttpSink(HttpSinkOptions options, std::string base_path, std::unique_ptr<httplib::Client> client,
                   const plugin::Host* host)
    : options_(std::move(options)), base_path_(std::move(base_path)), client_(std::move(client)), host_(host) {}

HttpSink::~HttpSink() = default;

Result<std::unique_ptr<HttpSink>> HttpSink::Open(const HttpSinkOptions& options, const plugin::Host* host) {
  const std::string& url = options.url;
  std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos ||
      (url.compare(0, scheme_end, "http") != 0 && url.compare(0, scheme_end, "https") != 0))
    return Status::InvalidArgument("plugin.sink.url: '" + url + "' is not an http:// or https:// URL");
  std::size_t path_start = url.find('/', scheme_end + 3);
  std::string origin = path_start == std::string::npos ? url : url.substr(0, path_start);
  std::string base = path_start == std::string::npos ? "" : url.substr(path_start);
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (origin.size() <= scheme_end + 3) return Status::InvalidArgument("plugin.sink.url: '" + url + "' has no host");
  auto client = std::make_unique<httplib::Client>(origin);
  if (!client->is_valid()) return Status::InvalidArgument("plugin.sink.url: '" + url + "' cannot be used");
  time_t secs = options.timeout_ms / 1000;
  time_t usecs = (options.timeout_ms % 1000) * 1000;
  client->set_connection_timeout(secs, usecs);
  client->set_read_timeout(secs, usecs);
  client->set_write_timeout(secs, usecs);
  client->set_keep_alive(true);
  return std::unique_ptr<HttpSink>(new HttpSink(options, base, std::move(client), host));
}

template <typename Response>
plugin::Answer HttpSink::Interpret(const std::string& event_id, const std::string& what, const Response& res) {
  auto warn = [&](const std::string& text) {
    if (host_) host_->Log(plugin::LogLevel::kWarn, what + " of event " + event_id + ": " + text);
  };
  // While polling, a transient failure is not the agency losing the event:
  // stay Pending and let the host ask again later.
  bool polling = what == "poll";
  if (!res) {
    std::string err = httplib::to_string(res.error());
    warn("agency unreachable: " + err);
    if (polling) return plugin::Answer::Pending();
    return plugin::Answer::Retry("agency endpoint unreachable: " + err, options_.retry_after_ms);
  }
  int code = res->status;
  if (code == 429 || code >= 500) {
    warn("HTTP " + std::to_string(code));
    if (polling) return plugin::Answer::Pending();
    return plugin::Answer::Retry("agency endpoint answered HTTP " + std::to_string(code),
                                 RetryAfterMs(*res, options_.retry_after_ms));
  }
  if (code == 404 && polling) {
    warn("the agency does not know the event; sending it again");
    return plugin::Answer::Retry("the agency has no record of this event", options_.retry_after_ms);
  }
  if (code < 200 || code >= 300) {
    warn("HTTP " + std::to_string(code) + ": " + Snippet(res->body));
    return plugin::Answer::Rejected("AGENCY_HTTP_" + std::to_string(code) + ": " + Snippet(res->body));
  }
  agency::v1::AgencyAnswer answer;
  Status parsed = FromJson(res->body, &answer);
  auto converted = parsed.ok() ? FromAgencyAnswer(answer) : Result<plugin::Answer>(parsed);
  if (!converted.ok()) {
    warn("unreadable answer: " + converted.status().message());
    if (polling) return plugin::Answer::Pending();
    return plugin::Answer::Retry("agency answer could not be read: " + converted.status().message(),
                                 options_.retry_after_ms);
  }
  if (!answer.event_id().empty() && answer.event_id() != event_id) {
    warn("answer names event " + answer.event_id());
    if (polling) return plugin::Answer::Pending();
    return plugin::Answer::Retry("agency answered for another event", options_.retry_after_ms);
  }
  return std::move(converted.value());
}

plugin::Answer HttpSink::Submit(const agency::v1::AgencySubmission& submission) {
  httplib::Headers headers = {{"Idempotency-Key", submission.event_id()}, {"Accept", "application/json"}};
  auto res = client_->Post((base_path_ + "/records").c_str(), headers, ToJson(submission), "application/json");
  return Interpret(submission.event_id(), "submit", res);
}

plugin::Answer HttpSink::Check(const std::string& event_id) {
  httplib::Headers headers = {{"Accept", "application/json"}};
  auto res = client_->Get((base_path_ + "/records/" + EncodePathSegment(event_id)).c_str(), headers);
  return Interpret(event_id, "poll", res);
}

}  // namespace yilian::sink
