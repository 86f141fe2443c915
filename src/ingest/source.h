// Input files for `import`: the readers behind ExpandInputs and ParseInput (declared in
// ingest/parser.h, the module's public header). Exposed for tests and tools.
//
// Contract: none of these throw; every function is thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "ingest/parser.h"

namespace cryptolake::ingest {

// True for "*.csv", "*.csv.gz" and "*.zip" (case-insensitive).
bool IsInputFileName(std::string_view file_name);

// A read-only memory map of a whole file (empty files map to an empty view).
class MappedFile {
 public:
  // NotFound if the file does not exist, IOError for any other failure.
  static StatusOr<MappedFile> Open(const std::filesystem::path& path);
  MappedFile(MappedFile&& o) noexcept : data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  MappedFile& operator=(MappedFile&&) = delete;
  MappedFile(const MappedFile&) = delete;
  ~MappedFile();
  std::string_view view() const { return {static_cast<const char*>(data_), size_}; }

 private:
  MappedFile(void* data, size_t size) : data_(data), size_(size) {}
  void* data_;
  size_t size_;
};

// Limits on decompression, against bombs: the output of one input (a .gz, or all members of a
// .zip together) stays within max_bytes and within max_ratio times the compressed bytes read so
// far, plus ratio_slack. Checked as the data inflates; no size an archive claims (gzip ISIZE, a
// zip's member sizes) is allocated beyond 64 times the compressed input.
struct InflateLimits {
  uint64_t max_bytes = uint64_t{4} << 30;  // 4 GiB
  uint64_t max_ratio = 1000;               // deflate's own maximum is ~1032:1
  uint64_t ratio_slack = 1 << 20;          // 1 MiB: tiny inputs are not held to the ratio
};

// Inflates a gzip (or zlib) stream; concatenated gzip members are joined. A corrupt stream is
// DataLoss "<name>: corrupt gzip data (<zlib message>)", a cut-off one DataLoss
// "<name>: truncated gzip stream". Beyond `lim`: FailedPrecondition
// "'<name>': decompresses to more than <n> bytes from <m> (ratio > 1000:1); refusing it" (or
// "... more than <max_bytes> bytes (the cap); refusing it"); memory running out first is
// FailedPrecondition "'<name>': out of memory decompressing it ...". Never throws.
StatusOr<std::string> Gunzip(std::string_view name, std::string_view compressed,
                             const InflateLimits& lim = {});

// If "<path>.CHECKSUM" exists, checks that SHA-256(bytes) equals the hex digest it starts with:
// DataLoss "checksum mismatch for <name>: expected <x>, got <y>"; a CHECKSUM file that does not
// start with 64 hex digits is DataLoss "<checksum path>: not a SHA-256 checksum file".
// OK when there is no CHECKSUM file.
Status VerifyChecksum(const std::filesystem::path& path, std::string_view name,
                      std::string_view bytes);

// One CSV member of a zip archive.
struct ZipMember {
  std::string name;  // member name inside the archive
  std::string text;  // uncompressed contents
};
// The *.csv members (case-insensitive) of the zip archive in `bytes`, in archive order.
// An unreadable archive or a member failing its CRC is DataLoss naming `name` (and the member).
// Decompression is held to `lim` against the archive's size (all members together): a member
// whose claimed size breaks it is refused before reading (FailedPrecondition "'<name>:<member>':
// claims <n> bytes uncompressed, more than the limit ...; refusing it"), one that inflates
// beyond it while read as for Gunzip.
StatusOr<std::vector<ZipMember>> ReadZipCsvMembers(std::string_view name, std::string_view bytes,
                                                   const InflateLimits& lim = {});

}  // namespace cryptolake::ingest
