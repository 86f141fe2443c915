// Checking a RateGovernor's event log in tests (header only: the tests that use it link
// cl_exchange).
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include "exchange/governor.h"

namespace cryptolake::testing {

// Every send logged after a 429/418 lies at or after its `until`; every send logged before it
// lies at or before its `at` (it went out before the response arrived). Together: no request went
// out inside a Retry-After or ban.
inline void ExpectNoSendWhileBlocked(const std::vector<exchange::GovernorEvent>& ev) {
  using exchange::GovernorEvent;
  for (size_t i = 0; i < ev.size(); ++i) {
    if (ev[i].kind == GovernorEvent::kSend) continue;
    for (size_t j = 0; j < ev.size(); ++j) {
      if (ev[j].kind != GovernorEvent::kSend) continue;
      if (j > i) {
        EXPECT_GE(ev[j].at, ev[i].until) << "send #" << j << " inside block #" << i;
      } else {
        EXPECT_LE(ev[j].at, ev[i].at) << "send #" << j << " logged before block #" << i;
      }
    }
  }
}

}  // namespace cryptolake::testing
