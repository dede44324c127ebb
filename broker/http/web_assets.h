// The dashboard's static files (web/ in the source tree), compiled into the
// broker so it needs no files at run time. Immutable; any thread.
#pragma once

#include <string_view>
#include <vector>

namespace yilian::http {

struct WebAsset {
  std::string_view path;          // e.g. "/index.html"
  std::string_view content_type;  // e.g. "text/html; charset=utf-8"
  std::string_view content;
};

const std::vector<WebAsset>& WebAssets();

}  // namespace yilian::http
