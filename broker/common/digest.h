// SM3 (GB/T 32905-2016) digests via OpenSSL 3, for the audit trail's hash
// chain. Pure function; safe from any thread.
#pragma once

#include <string>
#include <string_view>

namespace yilian {

// Lower-case hex SM3 digest of `data` (64 characters).
std::string Sm3Hex(std::string_view data);

}  // namespace yilian
