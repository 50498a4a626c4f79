// Ctrl-C handling for the load generator: the first SIGINT/SIGTERM asks the run to stop
// (stop sending, drain or cancel what is in flight, report what was measured); the second
// exits at once with 130. The handler wakes the event loop through a registered fd.
//
//   ib::load::InstallInterruptHandlers();
//   ib::load::SetInterruptWakeFd(wake_fd);     // the event loop polls it
//   if (ib::load::Interrupts() > 0) { /* stop sending, drain */ }
#pragma once

namespace ib::load {

void InstallInterruptHandlers();
// How many SIGINT/SIGTERM arrived since InstallInterruptHandlers (0 before).
int Interrupts();
// The fd the handler writes one byte to (the stream client's wake_fd); -1: none.
void SetInterruptWakeFd(int fd);

}  // namespace ib::load
