// Gzip (RFC 1952) for the HTTP server core's and the serving layer's cached bodies.
//
// Gzip(): one body, compressed whole; Gunzip() its inverse.
//
// GzipPrefix: a body that is a stable prefix plus a tail that changes (the merged daily series:
// thousands of batch days that change only with the lake's version, then the few speed days that
// change with every event). The prefix is compressed once; each Finish(tail) compresses the tail
// alone and joins the two into one gzip member, as pigz joins its blocks:
//   10-byte header | prefix as raw deflate, ended by a sync flush (byte-aligned, not final) |
//   tail as raw deflate, final, with the prefix's last 32 KiB as its dictionary |
//   CRC-32 of prefix + tail (crc32_combine) | length of prefix + tail mod 2^32.
// Any gzip decoder inflates it to prefix + tail. The tail's back-references may reach into the
// prefix (the dictionary), so the ratio is about the whole body's.
//
// Thread-safety: a GzipPrefix is immutable once made; Finish() may be called from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cryptolake::net {

constexpr int kGzipLevel = 6;

// `in` gzip-compressed; nullopt if zlib fails.
std::optional<std::string> Gzip(std::string_view in, int level = kGzipLevel);

// `gz` inflated (zlib); nullopt unless it is exactly one whole gzip member. For checks of the
// bodies above (tests, benchmarks).
std::optional<std::string> Gunzip(std::string_view gz);

class GzipPrefix {
 public:
  // nullopt if zlib fails.
  static std::optional<GzipPrefix> Of(std::string_view prefix, int level = kGzipLevel);

  // The gzip member of prefix + tail; nullopt if zlib fails.
  std::optional<std::string> Finish(std::string_view tail) const;

  size_t prefix_size() const { return size_; }

 private:
  std::string deflated_;  // the prefix, raw deflate, sync-flushed
  std::string window_;    // the prefix's last 32 KiB (the tail's dictionary)
  uint32_t crc_ = 0;
  size_t size_ = 0;
  int level_ = kGzipLevel;
};

}  // namespace cryptolake::net
