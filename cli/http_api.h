// The read side of the broker's HTTP API for the CLI mirrors (`yilian case
// show`, `cases`, `enterprise show`, `stats`): the shared --http and
// --token-file flags, one GET, and the exit-code contract:
//   0  the API answered 2xx; its JSON body is printed on one line to stdout
//   1  the API answered an error; "CODE: message" goes to stderr
//   2  usage error, or the broker could not be reached
// Called from main() only (one request at a time, no shared state).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

namespace yilian::cli {

struct HttpFlags {
  std::string http = "127.0.0.1:7780";  // HOST:PORT of the broker's http.listen; https://HOST:PORT for HTTPS
  std::string token_file;               // file whose first line is a bearer token
  std::string ca_file;                  // HTTPS: PEM certificate(s) to verify the broker with (default: system CAs)
  std::string cert_file;                // HTTPS: this client's PEM certificate, for a broker that asks for one
  std::string key_file;                 // HTTPS: the PEM private key of cert_file
};

// Adds --http (also from YILIAN_HTTP), --token-file (the token may also
// come from YILIAN_TOKEN), --http-ca (also from YILIAN_HTTP_CA) and
// --http-cert/--http-key (also from YILIAN_HTTP_CERT/YILIAN_HTTP_KEY) to
// `cmd`.
void AddHttpFlags(CLI::App* cmd, HttpFlags* flags);

// Percent-encodes one path segment or query value (RFC 3986 unreserved
// characters stay as they are).
std::string UrlEncode(const std::string& value);

// GETs `path` with the query parameters, prints the outcome as described
// above (`command` names the command in messages) and returns the exit code.
int GetAndPrint(const std::string& command, const HttpFlags& flags, const std::string& path,
                const std::vector<std::pair<std::string, std::string>>& query = {});
// The same GET, with the 2xx body (one line) given to *body instead of
// printed; errors are printed and exit codes returned alike.
int GetJson(const std::string& command, const HttpFlags& flags, const std::string& path,
            const std::vector<std::pair<std::string, std::string>>& query, std::string* body);
// A POST of the JSON `body` (an operator action: the token must be an
// admin's), with the same outcomes as GetJson.
int PostJson(const std::string& command, const HttpFlags& flags, const std::string& path, const std::string& body,
             std::string* out);

}  // namespace yilian::cli
