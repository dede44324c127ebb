#include "common/digest.h"

#include <openssl/evp.h>

namespace yilian {
namespace {

// SM3 is in OpenSSL 3's default provider; fetched once.
const EVP_MD* Sm3Md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SM3", nullptr);
  return md;
}

std::string Hex(const unsigned char* data, unsigned int len) {
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[data[i] >> 4]);
    hex.push_back(kHex[data[i] & 15]);
  }
  return hex;
}

}  // namespace

std::string Sm3Hex(std::string_view data) {
  Sm3 sm3;
  sm3.Update(data);
  return sm3.HexDigest();
}

struct Sm3::Impl {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sm3::Sm3() : impl_(std::make_unique<Impl>()) {
  failed_ = !Sm3Md() || !impl_->ctx || EVP_DigestInit_ex(impl_->ctx, Sm3Md(), nullptr) != 1;
}

Sm3::~Sm3() = default;

void Sm3::Update(std::string_view data) {
  if (!failed_ && EVP_DigestUpdate(impl_->ctx, data.data(), data.size()) != 1) failed_ = true;
}

std::string Sm3::HexDigest() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  bool ok = !failed_ && EVP_DigestFinal_ex(impl_->ctx, out, &len) == 1;
  failed_ = !impl_->ctx || EVP_DigestInit_ex(impl_->ctx, Sm3Md(), nullptr) != 1;
  return ok ? Hex(out, len) : std::string();
}

BackgroundSm3::BackgroundSm3() : thread_([this] { Run(); }) {}

BackgroundSm3::~BackgroundSm3() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_.notify_all();
  thread_.join();
}

void BackgroundSm3::Start(std::string first) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++generation_;
    started_ = true;
    pieces_.clear();
    pieces_.push_back(std::move(first));
  }
  work_.notify_one();
}

void BackgroundSm3::Add(std::string piece) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_) return;
    pieces_.push_back(std::move(piece));
  }
  work_.notify_one();
}

std::string BackgroundSm3::Finish() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!started_) return std::string();
  done_.wait(lock, [this] { return pieces_.empty() && !busy_; });
  started_ = false;
  // The worker is idle and has hashed every piece of this digest (Start()
  // queued at least one, and the worker takes it before the queue empties).
  return sm3_.HexDigest();
}

void BackgroundSm3::Abandon() {
  std::unique_lock<std::mutex> lock(mu_);
  pieces_.clear();
  started_ = false;
  ++generation_;
}

void BackgroundSm3::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_.wait(lock, [this] { return stop_ || !pieces_.empty(); });
    if (stop_) return;
    std::string piece = std::move(pieces_.front());
    pieces_.pop_front();
    if (hashing_ != generation_) {
      sm3_.HexDigest();  // drop the state of an earlier digest
      hashing_ = generation_;
    }
    busy_ = true;
    lock.unlock();
    sm3_.Update(piece);
    lock.lock();
    busy_ = false;
    if (pieces_.empty()) done_.notify_all();
  }
}

}  // namespace yilian
