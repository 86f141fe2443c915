#include "core/status.h"

#include <gtest/gtest.h>

namespace cryptolake {
namespace {

StatusOr<int> Half(int x) {
  if (x % 2) return InvalidArgument("{} is odd", x);
  return x / 2;
}

StatusOr<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

TEST(StatusTest, PropagatesErrorsWithContext) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().ToString(), "InvalidArgument: 3 is odd");
  EXPECT_EQ(r.status().WithContext("f.csv:12").message(), "f.csv:12: 3 is odd");
}

// A function that wrongly returns success where a value is due.
StatusOr<int> NoValue() { return Status::Ok(); }

#ifndef NDEBUG
TEST(StatusDeathTest, StatusOrFromAnOkStatusAssertsInDebug) {
  EXPECT_DEATH(
      {
        StatusOr<int> r = NoValue();
        EXPECT_FALSE(r.ok());
      },
      "StatusOr built from an OK status: no value");
}
#else
StatusOr<int> DoubleOfNoValue() {
  ASSIGN_OR_RETURN(int v, NoValue());
  return 2 * v;
}

// ASSIGN_OR_RETURN passes the error on: never a success without a value.
TEST(StatusTest, StatusOrFromAnOkStatusIsAnInternalErrorInRelease) {
  auto r = DoubleOfNoValue();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().ToString(), "Internal: StatusOr built from an OK status: no value");
  EXPECT_EQ(r.status().message(), kStatusOrFromOk);
}
#endif

}  // namespace
}  // namespace cryptolake
