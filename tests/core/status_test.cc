#include "core/status.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "testing/testing.h"

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

// The captured log's lines without their time stamp and logger name: "[level] message".
std::vector<std::string> LogLines(const testing::LogCapture& log) {
  std::vector<std::string> out;
  std::istringstream in(log.text());
  for (std::string line; std::getline(in, line);) {
    const std::string tag = "[capture] ";
    size_t at = line.find(tag);
    out.push_back(at == std::string::npos ? line : line.substr(at + tag.size()));
  }
  return out;
}

TEST(StatusTest, IgnoreErrorLogsWhyAnErrorWasDropped) {
  testing::LogCapture log;
  IgnoreError(Status::Ok(), "nothing to say");
  IgnoreError(StatusOr<int>(3), "nothing to say");
  EXPECT_EQ(LogLines(log), std::vector<std::string>{});
  IgnoreError(IOError("cannot remove /x: Permission denied"), "best-effort cleanup");
  IgnoreError(StatusOr<int>(NotFound("no y")), "optional file");
  EXPECT_EQ(LogLines(log),
            (std::vector<std::string>{
                "[warning] ignored error (best-effort cleanup): IOError: cannot remove /x: "
                "Permission denied",
                "[warning] ignored error (optional file): NotFound: no y"}));
}

}  // namespace
}  // namespace cryptolake
