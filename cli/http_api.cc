#include "cli/http_api.h"

#include <httplib.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include <google/protobuf/util/json_util.h>

#include "yilian/v1/tracking.pb.h"

namespace yilian::cli {
namespace {

struct Target {
  bool https = false;
  std::string host;
  int port = 0;
};

// "HOST:PORT", also accepted with an http:// prefix or a trailing slash;
// "https://HOST:PORT" for a broker serving HTTPS.
bool ParseTarget(std::string text, Target* out, std::string* error) {
  if (text.rfind("http://", 0) == 0) text = text.substr(7);
  if (text.rfind("https://", 0) == 0) {
    out->https = true;
    text = text.substr(8);
  }
  while (!text.empty() && text.back() == '/') text.pop_back();
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    *error = "--http '" + text + "' is not HOST:PORT";
    return false;
  }
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string port = text.substr(colon + 1);
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 || std::stoi(port) < 1 ||
      std::stoi(port) > 65535) {
    *error = "--http '" + text + "': port must be 1..65535";
    return false;
  }
  out->host = host;
  out->port = std::stoi(port);
  return true;
}

// An IPv6 address goes into a URL in brackets.
std::string HostForUrl(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

bool ReadToken(const HttpFlags& flags, std::string* token, std::string* error) {
  if (flags.token_file.empty()) {
    const char* env = std::getenv("YILIAN_TOKEN");
    *token = env ? env : "";
    return true;
  }
  std::ifstream in(flags.token_file);
  if (!in || !std::getline(in, *token)) {
    *error = "cannot read a token from --token-file '" + flags.token_file + "'";
    return false;
  }
  while (!token->empty() && (token->back() == '\r' || token->back() == ' ')) token->pop_back();
  if (token->empty()) {
    *error = "--token-file '" + flags.token_file + "' starts with an empty line";
    return false;
  }
  return true;
}

}  // namespace

void AddHttpFlags(CLI::App* cmd, HttpFlags* flags) {
  cmd->add_option("--http", flags->http, "the broker's HTTP API, HOST:PORT (its http.listen)")
      ->envname("YILIAN_HTTP")
      ->capture_default_str();
  cmd->add_option("--token-file", flags->token_file,
                  "file holding a bearer token, when the broker requires one (or set YILIAN_TOKEN)");
  cmd->add_option("--http-ca", flags->ca_file,
                  "with --http https://HOST:PORT: PEM certificate(s) to verify the broker's certificate with "
                  "(default: the system's CAs)")
      ->envname("YILIAN_HTTP_CA");
  cmd->add_option("--http-cert", flags->cert_file,
                  "with --http https://HOST:PORT: this client's PEM certificate, for a broker that requires one "
                  "(http.tls_client_ca_file); with --http-key")
      ->envname("YILIAN_HTTP_CERT");
  cmd->add_option("--http-key", flags->key_file, "the PEM private key of --http-cert")->envname("YILIAN_HTTP_KEY");
}

std::string UrlEncode(const std::string& value) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

namespace {

// One GET, or a POST of `post_body` (JSON) when `post` is set.
int Request(const std::string& command, const HttpFlags& flags, const std::string& path,
            const std::vector<std::pair<std::string, std::string>>& query, bool post, const std::string& post_body,
            std::string* out) {
  Target target;
  std::string error, token;
  if (!ParseTarget(flags.http, &target, &error) || !ReadToken(flags, &token, &error)) {
    std::cerr << "yilian " << command << ": " << error << "\n";
    return 2;
  }
  std::string url = path;
  for (std::size_t i = 0; i < query.size(); ++i)
    url += (i == 0 ? "?" : "&") + UrlEncode(query[i].first) + "=" + UrlEncode(query[i].second);

  if (!target.https && !flags.ca_file.empty()) {
    std::cerr << "yilian " << command << ": --http-ca needs --http https://HOST:PORT\n";
    return 2;
  }
  const bool client_certificate = !flags.cert_file.empty() || !flags.key_file.empty();
  if (client_certificate && !target.https) {
    std::cerr << "yilian " << command << ": --http-cert and --http-key need --http https://HOST:PORT\n";
    return 2;
  }
  if (flags.cert_file.empty() != flags.key_file.empty()) {
    std::cerr << "yilian " << command << ": " << (flags.cert_file.empty() ? "--http-key" : "--http-cert")
              << " needs " << (flags.cert_file.empty() ? "--http-cert" : "--http-key") << "\n";
    return 2;
  }
  for (const std::string* file : {&flags.cert_file, &flags.key_file}) {
    if (!file->empty() && !std::ifstream(*file)) {
      std::cerr << "yilian " << command << ": cannot read '" << *file << "'\n";
      return 2;
    }
  }
  // The broker's certificate is verified, host name included; a broker
  // with a self-signed certificate needs --http-ca.
  const std::string origin =
      (target.https ? "https://" : "http://") + HostForUrl(target.host) + ":" + std::to_string(target.port);
  httplib::Client client = client_certificate ? httplib::Client(origin, flags.cert_file, flags.key_file)
                                              : httplib::Client(origin);
  if (target.https) {
    client.enable_server_certificate_verification(true);
    if (!flags.ca_file.empty()) client.set_ca_cert_path(flags.ca_file.c_str());
  }
  client.set_connection_timeout(5);
  client.set_read_timeout(30);
  if (!token.empty()) client.set_bearer_token_auth(token);
  // A broker that refuses the TLS handshake closes the connection while
  // the client writes: that must be a write error here, not SIGPIPE.
  void (*previous)(int) = std::signal(SIGPIPE, SIG_IGN);
  httplib::Result res = post ? client.Post(url, httplib::Headers{{"Accept", "application/json"}}, post_body,
                                           "application/json")
                             : client.Get(url, httplib::Headers{{"Accept", "application/json"}});
  std::signal(SIGPIPE, previous);
  if (!res) {
    std::cerr << "yilian " << command << ": cannot reach the broker's HTTP API at "
              << (target.https ? "https://" : "") << target.host << ":" << target.port << " ("
              << httplib::to_string(res.error()) << " error";
    if (res.error() == httplib::Error::SSLServerVerification)
      std::cerr << ": the broker's certificate is not trusted; pass its CA with --http-ca";
    else if (target.https && (res.error() == httplib::Error::SSLConnection || res.error() == httplib::Error::Read ||
                              res.error() == httplib::Error::Write))
      std::cerr << (client_certificate ? ": the TLS handshake failed; is --http-cert signed by a CA the broker accepts?"
                                       : ": the TLS handshake failed; the broker may require a client certificate "
                                         "(--http-cert, --http-key)");
    std::cerr << ")\n";
    return 2;
  }
  std::string body = res->body;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  if (res->status >= 200 && res->status < 300) {
    *out = std::move(body);
    return 0;
  }
  v1::ApiError api_error;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (google::protobuf::util::JsonStringToMessage(body, &api_error, options).ok() && !api_error.code().empty()) {
    std::cerr << "yilian " << command << ": " << api_error.code() << ": " << api_error.message() << " (HTTP "
              << res->status << ")\n";
  } else {
    std::cerr << "yilian " << command << ": HTTP " << res->status << ": " << body.substr(0, 500) << "\n";
  }
  return 1;
}

}  // namespace

int GetJson(const std::string& command, const HttpFlags& flags, const std::string& path,
            const std::vector<std::pair<std::string, std::string>>& query, std::string* out) {
  return Request(command, flags, path, query, false, "", out);
}

int PostJson(const std::string& command, const HttpFlags& flags, const std::string& path, const std::string& body,
             std::string* out) {
  return Request(command, flags, path, {}, true, body, out);
}

int GetAndPrint(const std::string& command, const HttpFlags& flags, const std::string& path,
                const std::vector<std::pair<std::string, std::string>>& query) {
  std::string body;
  if (int code = GetJson(command, flags, path, query, &body); code != 0) return code;
  std::cout << body << "\n" << std::flush;
  return std::cout ? 0 : 2;
}

}  // namespace yilian::cli
