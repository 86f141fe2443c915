#include "core/pacer.h"

#include <algorithm>
#include <cmath>

namespace cryptolake {

Pacer::Pacer(const Clock& clock, double duty)
    : clock_(&clock), duty_(std::isnan(duty) ? 1.0 : std::clamp(duty, 0.01, 1.0)) {}

Micros Pacer::Done(Micros started) {
  const Micros worked = std::max<Micros>(0, clock_->Now() - started);
  const Micros pause =
      released_
          ? 0
          : static_cast<Micros>(std::llround(static_cast<double>(worked) * (1.0 - duty_) / duty_));
  ++stats_.units;
  stats_.worked += worked;
  if (pause > 0) {
    clock_->SleepFor(pause);
    stats_.slept += pause;
  }
  return pause;
}

}  // namespace cryptolake
