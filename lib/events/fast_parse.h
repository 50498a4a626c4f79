// A fast path for the hottest line of every stream: stream-version-2 `request_complete`.
//
//   ParseResult r = ParseEventFast(line);   // same result as ParseEvent(line), ~10x faster
//
// TryParseRequestCompleteFast scans the line directly into a RequestComplete without building a
// JSON tree. It accepts only what it can decode exactly as ParseEvent would (known keys, each
// once, plain types, ASCII strings with simple escapes); for anything else it returns nullopt
// and the caller falls back to ParseEvent, so results never differ (events_test checks this over
// many generated and hand-made lines).
#pragma once

#include <optional>
#include <string_view>

#include "lib/events/events.h"

namespace ib::events {

std::optional<RequestComplete> TryParseRequestCompleteFast(std::string_view line);

// TryParseRequestCompleteFast, else ParseEvent.
ParseResult ParseEventFast(std::string_view line);

}  // namespace ib::events
