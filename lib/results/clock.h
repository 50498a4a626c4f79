// UTC ISO-8601 wall-clock strings as ib writes them ("2026-11-28T03:00:00.001Z"), to and from
// milliseconds since the epoch. Also reads the original tool's "+00:00" form.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ib::results {

std::optional<int64_t> ParseIsoMs(std::string_view text);
std::string FormatIsoMs(int64_t ms_since_epoch);

}  // namespace ib::results
