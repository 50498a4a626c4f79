// Parse speed of the real vLLM V1 page (45 KB): parses per second and MB/s, with the scrape
// loop's pattern (one reused TextParser, a handler that looks at every sample).
//   bazel run -c opt //scripts/bench:text_parser_bench [-- FILE [SECONDS]]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "lib/prom/text_parser.h"

namespace {

struct Sum : ib::prom::SampleHandler {
  void OnSample(const ib::prom::SampleView& s) override {
    total += s.value == s.value ? s.value : 0;
    labels += s.labels.size();
  }
  double total = 0;
  std::size_t labels = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::string path = argc > 1 ? argv[1] : "lib/prom/testdata/vllm-v1-idle-qwen1.5-0.5b-chat.txt";
  double seconds = argc > 2 ? std::atof(argv[2]) : 2.0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "text_parser_bench: error: cannot read %s\n", path.c_str());
    return 2;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string page = ss.str();
  ib::prom::TextParser parser;
  Sum sum;
  int64_t parses = 0, samples = 0;
  auto start = std::chrono::steady_clock::now();
  std::chrono::duration<double> elapsed{};
  do {
    for (int i = 0; i < 100; ++i) {
      ib::prom::ParseReport report = parser.Parse(page, sum);
      samples += report.samples;
      if (!report.ok()) {
        std::fprintf(stderr, "text_parser_bench: error (at %s:%lld): %s\n", path.c_str(),
                     static_cast<long long>(report.errors[0].line), report.errors[0].message.c_str());
        return 1;
      }
    }
    parses += 100;
    elapsed = std::chrono::steady_clock::now() - start;
  } while (elapsed.count() < seconds);
  double per_s = parses / elapsed.count();
  std::printf("file %s (%zu bytes, %lld samples per page)\n", path.c_str(), page.size(),
              static_cast<long long>(samples / parses));
  std::printf("%.0f parses/s, %.1f MB/s, %.1f us per page (checksum %g)\n", per_s,
              per_s * page.size() / 1e6, 1e6 / per_s, sum.total + sum.labels);
  return 0;
}
