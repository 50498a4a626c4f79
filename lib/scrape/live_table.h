// The compact live table ib-scrape prints instead of NDJSON when stdout is a terminal (or with
// --table): one row per second at most (every sample when the period is longer), a header every
// 20 rows, and log/error events as "! ..." lines between the rows. Missing values print as "-".
//
//   ib::scrape::LiveTable table(STDOUT_FILENO, /*min_row_interval_s=*/1.0);
//   ib::scrape::ScrapeLoop(options, table).Run();
#pragma once

#include <optional>
#include <string>

#include "lib/scrape/scrape_loop.h"

namespace ib::scrape {

class LiveTable : public SampleSink {
 public:
  LiveTable(int fd, double min_row_interval_s);
  bool OnSample(const events::GpuSample& sample) override;
  bool OnLog(const events::Log& log) override;
  bool OnError(const events::Error& error) override;

  static std::string Header();
  static std::string Row(const events::GpuSample& sample);

 private:
  int fd_;
  double min_row_interval_s_;
  std::optional<double> last_row_t_s_;
  int rows_ = 0;
};

}  // namespace ib::scrape
