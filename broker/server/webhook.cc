#include "server/webhook.h"

#include <fcntl.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>

#include "common/client_text.h"
#include "common/file_modes.h"
#include "http/json.h"
#include "spdlog/spdlog.h"

namespace yilian::server {
namespace {

using Steady = std::chrono::steady_clock;

// A failing receiver is logged once per lane every this often.
constexpr std::chrono::seconds kFailureLogInterval{10};

std::string Hex(const unsigned char* data, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(digits[data[i] >> 4]);
    out.push_back(digits[data[i] & 15]);
  }
  return out;
}

}  // namespace

std::string WebhookSignature(const std::string& secret, const std::string& timestamp, const std::string& body) {
  const std::string signed_text = timestamp + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac, &n);
  return "v1=" + Hex(mac, n);
}

Result<std::string> ReadWebhookSecret(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open webhook.secret_file '" + path + "'");
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  if (Status s = files::CheckTrustedFile(fd, path, "webhook.secret_file", files::Trust::kSecret); !s.ok()) return s;
  std::string secret;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) return Status::IoError("cannot read webhook.secret_file '" + path + "'");
    if (n == 0) break;
    secret.append(buf, static_cast<std::size_t>(n));
    if (secret.size() > 65536) return Status::InvalidArgument("webhook.secret_file '" + path + "' is over 64 KiB");
  }
  if (!secret.empty() && secret.back() == '\n') secret.pop_back();
  if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  // The content is never echoed: it is a secret.
  if (secret.size() < 32)
    return Status::InvalidArgument("webhook.secret_file '" + path + "' holds " + std::to_string(secret.size()) +
                                   " bytes; at least 32 are needed (e.g. head -c 32 /dev/urandom | base64)");
  return secret;
}

WebhookSender::WebhookSender(WebhookOptions options, int wake_fd, std::shared_ptr<spdlog::logger> log)
    : options_(std::move(options)), wake_fd_(wake_fd), log_(std::move(log)) {}

WebhookSender::~WebhookSender() { Stop(); }

Status WebhookSender::Start() {
  const std::string& url = options_.url;
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return Status::InvalidArgument("webhook.url '" + url + "' has no scheme");
  const std::string scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https")
    return Status::InvalidArgument("webhook.url '" + url + "': the scheme must be http or https");
  const std::size_t path_start = url.find('/', scheme_end + 3);
  const std::string authority = url.substr(scheme_end + 3, path_start == std::string::npos ? std::string::npos
                                                                                           : path_start - scheme_end - 3);
  if (authority.empty()) return Status::InvalidArgument("webhook.url '" + url + "' has no host");
  origin_ = scheme + "://" + authority;
  path_ = path_start == std::string::npos ? "/" : url.substr(path_start);
  for (std::uint32_t i = 0; i < std::max<std::uint32_t>(1, options_.lanes); ++i) lanes_.push_back(std::make_unique<Lane>());
  for (auto& lane : lanes_) lane->thread = std::thread([this, l = lane.get()] { Run(*l); });
  log_->info("case updates go to the webhook {}{} ({} lanes)", origin_, path_, lanes_.size());
  return Status::Ok();
}

void WebhookSender::Stop() {
  stopping_ = true;
  for (auto& lane : lanes_) {
    {
      std::lock_guard<std::mutex> lock(lane->mu);
    }
    lane->cv.notify_all();
  }
  for (auto& lane : lanes_)
    if (lane->thread.joinable()) lane->thread.join();
}

void WebhookSender::Send(const v1::CaseUpdate& update) {
  if (lanes_.empty()) return;
  Lane& lane = *lanes_[std::hash<std::string>{}(update.case_().uscc()) % lanes_.size()];
  {
    std::lock_guard<std::mutex> lock(lane.mu);
    lane.queue.push_back(update);
  }
  ++in_flight_;
  lane.cv.notify_one();
}

std::vector<std::uint64_t> WebhookSender::TakeAcknowledged() {
  std::lock_guard<std::mutex> lock(acked_mu_);
  return std::exchange(acked_, {});
}

void WebhookSender::Clear() {
  for (auto& lane : lanes_) {
    std::lock_guard<std::mutex> lock(lane->mu);
    in_flight_ -= lane->queue.size();
    lane->queue.clear();
    ++lane->generation;
  }
  std::lock_guard<std::mutex> lock(acked_mu_);
  acked_.clear();
}

void WebhookSender::Acknowledge(std::uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(acked_mu_);
    acked_.push_back(id);
  }
  if (wake_fd_ >= 0) {
    std::uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }
}

bool WebhookSender::Post(const v1::CaseUpdate& update, std::string* why) {
  thread_local std::unique_ptr<httplib::Client> client;
  if (!client) {
    client = std::make_unique<httplib::Client>(origin_);
    client->set_keep_alive(true);
    const auto timeout = std::chrono::milliseconds(options_.timeout_ms);
    client->set_connection_timeout(timeout);
    client->set_read_timeout(timeout);
    client->set_write_timeout(timeout);
    if (origin_.rfind("https://", 0) == 0) {
      client->enable_server_certificate_verification(true);
      if (!options_.ca_file.empty()) client->set_ca_cert_path(options_.ca_file.c_str());
    }
  }
  const std::string body = http::ToJson(update);
  const std::string timestamp = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  httplib::Headers headers = {{"Yilian-Webhook-Id", std::to_string(update.update_id())},
                              {"Yilian-Webhook-Timestamp", timestamp},
                              {"Yilian-Webhook-Signature", WebhookSignature(options_.secret, timestamp, body)}};
  httplib::Result res = client->Post(path_, headers, body, "application/json");
  if (!res) {
    *why = "no answer (" + httplib::to_string(res.error()) + ")";
    client.reset();  // a new connection next time
    return false;
  }
  if (res->status >= 200 && res->status < 300) return true;
  *why = "answered " + std::to_string(res->status);
  return false;
}

void WebhookSender::Run(Lane& lane) {
  std::uint32_t backoff = options_.initial_backoff_ms;
  Steady::time_point last_log;
  std::uint64_t unlogged = 0;
  std::unique_lock<std::mutex> lock(lane.mu);
  while (!stopping_) {
    lane.cv.wait(lock, [&] { return stopping_ || !lane.queue.empty(); });
    if (stopping_) break;
    // The head stays queued until it is taken: Clear forgets it too.
    v1::CaseUpdate update = lane.queue.front();
    const std::uint64_t generation = lane.generation;
    lock.unlock();
    std::string why;
    const bool taken = Post(update, &why);
    lock.lock();
    if (taken) {
      backoff = options_.initial_backoff_ms;
      if (lane.generation != generation || lane.queue.empty()) continue;  // cleared meanwhile: not ours to ack
      lane.queue.pop_front();
      --in_flight_;
      Acknowledge(update.update_id());
      continue;
    }
    ++failures_;
    if (Steady::now() - last_log >= kFailureLogInterval) {
      log_->warn("webhook {}{}: case update {} not taken: {}; retrying in {} ms{}", origin_, path_,
                 update.update_id(), why, backoff,
                 unlogged ? " (" + std::to_string(unlogged) + " more failures not logged)" : std::string());
      last_log = Steady::now();
      unlogged = 0;
    } else {
      ++unlogged;
    }
    lane.cv.wait_for(lock, std::chrono::milliseconds(backoff), [&] { return stopping_.load(); });
    backoff = static_cast<std::uint32_t>(std::min<std::uint64_t>(std::uint64_t{backoff} * 2, options_.max_backoff_ms));
  }
}

}  // namespace yilian::server
