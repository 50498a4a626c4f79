// UTC ISO-8601 wall-clock strings as ib writes them ("2026-11-28T03:00:00.001Z"), to and from
// milliseconds since the epoch. Also reads the original tool's "+00:00" form.
//
//   std::string t = ib::results::FormatIsoMs(1764900000001);   // "2025-12-05T02:00:00.001Z"
//   auto ms = ib::results::ParseIsoMs("2025-12-05T02:00:00+00:00");
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ib::results {

std::optional<int64_t> ParseIsoMs(std::string_view text);
std::string FormatIsoMs(int64_t ms_since_epoch);

}  // namespace ib::results
