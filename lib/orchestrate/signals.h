// Stop signals for a supervisor: SIGINT, SIGTERM and SIGHUP are counted (the first asks for a
// graceful stop, the second escalates) and wake a poll loop through a self-pipe. SIGPIPE is
// ignored so a closed stdout is a write error, not a death.
//   ib::orchestrate::StopSignals::Install();
//   poll({StopSignals::WakeFd(), ...}); if (StopSignals::Count() > 0) ...
#pragma once

namespace ib::orchestrate {

class StopSignals {
 public:
  // Idempotent. Children spawned through lib/proc reset these to their defaults.
  static void Install();
  // Number of stop signals received since Install() (or since the last Reset()).
  static int Count();
  // The last signal received (SIGINT, SIGTERM, SIGHUP), 0 if none.
  static int Last();
  // Readable after any stop signal; Drain() empties it.
  static int WakeFd();
  static void Drain();
  // Counts a stop request as if a signal had arrived (the dashboard's Stop, tests).
  static void Raise(int signal);
  static void Reset();
};

}  // namespace ib::orchestrate
