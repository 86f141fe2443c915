// The serving layer's names for gzip, which lives in net/gzip.h (cl_net): the contract is there;
// these are the same functions and types.
#pragma once

#include "net/gzip.h"

namespace cryptolake::serve {

using net::Gunzip;
using net::Gzip;
using net::GzipPrefix;
using net::kGzipLevel;

}  // namespace cryptolake::serve
