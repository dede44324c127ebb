// bench-workload: turns the JSON Lines of `yilian gen-sample` into a workload
// file (format in harness/workload.h), so that every benchmark driver
// publishes the same bytes without parsing JSON while it is measured. Events
// yilian's validation would refuse are left out (see AcceptedByYilian):
//
//   yilian gen-sample --enterprises 5000 --events-per-enterprise 20 --banks ''
//       --deregister-fraction 0 --target-bytes 1500 | bench-workload --out events.bin
#include <google/protobuf/util/json_util.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "harness/workload.h"
#include "yilian/v1/event.pb.h"

int main(int argc, char** argv) {
  std::string in_path = "-", out_path;
  std::size_t limit = 0;
  CLI::App app{"bench-workload: JSON Lines events (yilian gen-sample) -> benchmark workload file"};
  app.add_option("--in", in_path, "JSON Lines input, - for stdin")->capture_default_str();
  app.add_option("--out", out_path, "workload file to write")->required();
  app.add_option("--limit", limit, "keep at most this many events (0: all)");
  CLI11_PARSE(app, argc, argv);

  std::ifstream file;
  if (in_path != "-") {
    file.open(in_path);
    if (!file) {
      std::cerr << "cannot open " << in_path << "\n";
      return 2;
    }
  }
  std::istream& in = in_path == "-" ? std::cin : file;
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  out << yilian::bench::FileHeader(0);  // the count is written at the end
  std::string line, record, payload;
  std::uint64_t count = 0, line_no = 0, invalid = 0;
  yilian::v1::EnterpriseEvent event;
  while (std::getline(in, line)) {
    ++line_no;
    // Past the limit the rest is read and dropped, so that the generator
    // feeding the pipe finishes normally instead of dying of SIGPIPE.
    if (line.empty() || (limit != 0 && count >= limit)) continue;
    event.Clear();
    auto status = google::protobuf::util::JsonStringToMessage(line, &event);
    if (!status.ok()) {
      std::cerr << "line " << line_no << ": " << status.ToString() << "\n";
      return 1;
    }
    if (!yilian::bench::AcceptedByYilian(event)) {
      ++invalid;
      continue;
    }
    payload.clear();
    event.SerializeToString(&payload);
    record.clear();
    yilian::bench::AppendRecord(record, event.event_id(), event.uscc(), payload);
    out << record;
    ++count;
  }
  out.seekp(0);
  out << yilian::bench::FileHeader(count);
  out.close();
  if (!out) {
    std::cerr << "cannot write " << out_path << "\n";
    return 2;
  }
  std::fprintf(stderr, "bench-workload: %llu events -> %s (%llu invalid sample events left out)\n",
               static_cast<unsigned long long>(count), out_path.c_str(), static_cast<unsigned long long>(invalid));
  return 0;
}
