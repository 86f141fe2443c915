// The serving layer's names for the Prometheus registry, which lives in net/metrics.h (cl_net):
// the contract is there; these are the same types.
#pragma once

#include "net/metrics.h"

namespace cryptolake::serve {

using net::Counter;
using net::Family;
using net::FamilyBase;
using net::Gauge;
using net::Histogram;
using net::kPrometheusContentType;
using net::Metrics;

}  // namespace cryptolake::serve
