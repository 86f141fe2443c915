// Input files for `import`: the readers behind ExpandInputs and ParseInput (declared in
// ingest/parser.h, the module's public header). Exposed for tests and tools.
//
// Contract: none of these throw; every function is thread-safe (no shared state).
#pragma once

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

// Inflates a gzip (or zlib) stream; concatenated gzip members are joined. A corrupt stream is
// DataLoss "<name>: corrupt gzip data (<zlib message>)", a cut-off one DataLoss
// "<name>: truncated gzip stream".
StatusOr<std::string> Gunzip(std::string_view name, std::string_view compressed);

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
StatusOr<std::vector<ZipMember>> ReadZipCsvMembers(std::string_view name, std::string_view bytes);

}  // namespace cryptolake::ingest
