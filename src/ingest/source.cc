#include "ingest/source.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <new>
#include <set>

#include "core/fsutil.h"

namespace cryptolake::ingest {

namespace fs = std::filesystem;

namespace {

bool EndsWithNoCase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  s = s.substr(s.size() - suffix.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(suffix[i]))) {
      return false;
    }
  }
  return true;
}

bool IsChecksumName(std::string_view file_name) { return EndsWithNoCase(file_name, ".CHECKSUM"); }

bool HasGlobChars(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

// A lake's root (it holds _manifest.json or _staging) or its staging folder: never an input.
bool IsLakeFolder(const fs::path& dir) {
  std::error_code ec;
  return dir.filename() == "_staging" || fs::exists(dir / "_manifest.json", ec) ||
         fs::is_directory(dir / "_staging", ec);
}

// Appends the input files under `dir` (recursively), skipping lakes (IsLakeFolder) and
// everything below them. Errors are IOError naming the directory.
Status CollectDir(const fs::path& dir, std::vector<fs::path>* out) {
  if (IsLakeFolder(dir)) return Status::Ok();
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code fec;
    if (it->is_directory(fec) && IsLakeFolder(it->path())) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(fec) && IsInputFileName(it->path().filename().string())) {
      out->push_back(it->path());
    }
  }
  if (ec) return IOError("listing {}: {}", dir.string(), ec.message());
  return Status::Ok();
}

}  // namespace

bool IsInputFileName(std::string_view file_name) {
  return EndsWithNoCase(file_name, ".csv") || EndsWithNoCase(file_name, ".csv.gz") ||
         EndsWithNoCase(file_name, ".zip");
}

StatusOr<std::vector<fs::path>> ExpandInputs(const std::vector<std::string>& args) {
  std::vector<fs::path> found;
  for (const std::string& arg : args) {
    std::error_code ec;
    fs::path p(arg);
    fs::file_status st = fs::status(p, ec);
    if (fs::exists(st)) {
      if (fs::is_directory(st)) {
        size_t before = found.size();
        RETURN_IF_ERROR(CollectDir(p, &found));
        if (found.size() == before) {
          return NotFound("no input files (*.csv, *.csv.gz, *.zip) under '{}'", arg);
        }
      } else if (!IsChecksumName(p.filename().string())) {
        found.push_back(p);
      }
      continue;
    }
    if (!HasGlobChars(arg)) return NotFound("no such file or directory: '{}'", arg);
    glob_t g{};
    int rc = ::glob(arg.c_str(), 0, nullptr, &g);
    if (rc != 0 && rc != GLOB_NOMATCH) {
      ::globfree(&g);
      return IOError("glob '{}' failed", arg);
    }
    size_t before = found.size();
    Status st2 = Status::Ok();
    for (size_t i = 0; i < g.gl_pathc && st2.ok(); ++i) {
      fs::path m(g.gl_pathv[i]);
      if (fs::is_directory(m, ec)) {
        st2 = CollectDir(m, &found);
      } else if (IsInputFileName(m.filename().string())) {
        found.push_back(m);
      }
    }
    ::globfree(&g);
    RETURN_IF_ERROR(st2);
    if (found.size() == before) return NotFound("no input files match '{}'", arg);
  }
  // Sort by the normalized spelling; drop repeats of one file however it was spelled.
  std::map<std::string, fs::path> by_name;
  for (const fs::path& p : found) {
    fs::path n = p.lexically_normal();
    by_name.emplace(n.string(), n);
  }
  std::vector<fs::path> out;
  std::set<std::string> seen;
  for (auto& [name, p] : by_name) {
    std::error_code ec;
    fs::path key = fs::weakly_canonical(p, ec);
    if (!seen.insert(ec ? name : key.string()).second) continue;
    out.push_back(p);
  }
  if (out.empty()) return NotFound("no input files given");
  return out;
}

StatusOr<MappedFile> MappedFile::Open(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return NotFound("cannot open {}: {}", path.string(), std::strerror(err));
    return IOError("cannot open {}: {}", path.string(), std::strerror(err));
  }
  struct stat sb;
  if (::fstat(fd, &sb) != 0) {
    int err = errno;
    ::close(fd);
    return IOError("stat {}: {}", path.string(), std::strerror(err));
  }
  if (!S_ISREG(sb.st_mode)) {
    ::close(fd);
    return IOError("{} is not a regular file", path.string());
  }
  size_t size = static_cast<size_t>(sb.st_size);
  if (size == 0) {
    ::close(fd);
    return MappedFile(nullptr, 0);
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) return IOError("mmap {}: {}", path.string(), std::strerror(err));
  ::madvise(p, size, MADV_SEQUENTIAL);
  return MappedFile(p, size);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

namespace {

std::string BombMessage(std::string_view name, uint64_t produced, uint64_t consumed,
                        const InflateLimits& lim) {
  if (produced > lim.max_bytes) {
    return fmt::format("'{}': decompresses to more than {} bytes (the cap); refusing it", name,
                       lim.max_bytes);
  }
  return fmt::format("'{}': decompresses to more than {} bytes from {} (ratio > {}:1); refusing it",
                     name, produced, consumed, lim.max_ratio);
}

// Whether `produced` bytes from `consumed` compressed ones break the limits.
bool OverLimits(uint64_t produced, uint64_t consumed, const InflateLimits& lim) {
  return produced > lim.max_bytes || produced > lim.max_ratio * consumed + lim.ratio_slack;
}

// Grows `buf` towards `want` bytes (doubling), never beyond `limit`; false if out of memory.
bool Grow(std::string& buf, size_t want, size_t limit) {
  size_t n = std::min(std::max(want, buf.size() * 2), limit);
  try {
    buf.resize(n);
  } catch (const std::bad_alloc&) {
    return false;
  }
  return true;
}

}  // namespace

StatusOr<std::string> Gunzip(std::string_view name, std::string_view compressed,
                             const InflateLimits& lim) {
  std::string out;
  // One byte over the cap is room enough to see that a stream breaks it.
  const size_t limit = static_cast<size_t>(std::min<uint64_t>(
      lim.max_bytes + 1, lim.max_ratio * compressed.size() + lim.ratio_slack + 1));
  // ISIZE (the last 4 bytes of a gzip member) is the uncompressed size mod 2^32: a hint only,
  // trusted within a ratio of 64 (a cut-off stream ends in arbitrary bytes, a hostile one lies).
  size_t hint = compressed.size() * 4;
  if (compressed.size() >= 18) {
    const auto* b =
        reinterpret_cast<const unsigned char*>(compressed.data() + compressed.size() - 4);
    size_t isize = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<size_t>(b[3]) << 24);
    if (isize >= compressed.size() && isize / 64 <= compressed.size()) hint = isize;
  }
  if (!Grow(out, std::max<size_t>(hint, 4096), limit)) {
    return FailedPrecondition("'{}': out of memory decompressing it", name);
  }

  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return Internal("{}: inflateInit failed", name);
  const auto* in = reinterpret_cast<const Bytef*>(compressed.data());
  size_t in_left = compressed.size();
  size_t produced = 0;
  bool ended = false;  // the last member ended cleanly
  Status st = Status::Ok();
  while (true) {
    if (zs.avail_in == 0 && in_left > 0) {
      zs.next_in = const_cast<Bytef*>(in);
      zs.avail_in = static_cast<uInt>(std::min<size_t>(in_left, UINT_MAX));
      in += zs.avail_in;
      in_left -= zs.avail_in;
    }
    const uint64_t consumed = compressed.size() - in_left - zs.avail_in;
    if (OverLimits(produced, consumed, lim)) {
      st = FailedPrecondition("{}", BombMessage(name, produced, consumed, lim));
      break;
    }
    if (produced == out.size() && out.size() >= limit) {
      // As much as the whole input may give, and more to come.
      st = FailedPrecondition("{}", BombMessage(name, produced, compressed.size(), lim));
      break;
    }
    if (produced == out.size() && !Grow(out, out.size() * 2, limit)) {
      st = FailedPrecondition("'{}': out of memory decompressing it ({} bytes so far)", name,
                              produced);
      break;
    }
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - produced, 1u << 20));
    uInt before_out = zs.avail_out;
    int rc = inflate(&zs, Z_NO_FLUSH);
    produced += before_out - zs.avail_out;
    if (rc == Z_STREAM_END) {
      ended = true;
      if (zs.avail_in == 0 && in_left == 0) break;
      // Another gzip member follows (or trailing garbage, which inflate then rejects).
      inflateReset(&zs);
      ended = false;
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR) {
      if (zs.avail_in == 0 && in_left == 0) break;  // no more input: truncated
      continue;                                     // out of output space: grown above
    }
    st = DataLoss("{}: corrupt gzip data ({})", name, zs.msg ? zs.msg : zError(rc));
    break;
  }
  inflateEnd(&zs);
  if (st.ok() && OverLimits(produced, compressed.size(), lim)) {
    st = FailedPrecondition("{}", BombMessage(name, produced, compressed.size(), lim));
  }
  if (!st.ok()) return st;
  if (!ended) return DataLoss("{}: truncated gzip stream", name);
  out.resize(produced);
  return out;
}

Status VerifyChecksum(const fs::path& path, std::string_view name, std::string_view bytes) {
  fs::path sum_path = path;
  sum_path += ".CHECKSUM";
  std::error_code ec;
  if (!fs::exists(sum_path, ec)) return Status::Ok();
  ASSIGN_OR_RETURN(std::string sum, ReadFile(sum_path));
  size_t i = 0;
  while (i < sum.size() && std::isspace(static_cast<unsigned char>(sum[i]))) ++i;
  std::string expected;
  while (i < sum.size() && std::isxdigit(static_cast<unsigned char>(sum[i]))) {
    expected += static_cast<char>(std::tolower(static_cast<unsigned char>(sum[i++])));
  }
  if (expected.size() != 64 ||
      (i < sum.size() && !std::isspace(static_cast<unsigned char>(sum[i])))) {
    return DataLoss("{}: not a SHA-256 checksum file", sum_path.string());
  }
  std::string got = Sha256Hex(bytes);
  if (got != expected) {
    return DataLoss("checksum mismatch for {}: expected {}, got {}", name, expected, got);
  }
  return Status::Ok();
}

StatusOr<std::vector<ZipMember>> ReadZipCsvMembers(std::string_view name, std::string_view bytes,
                                                   const InflateLimits& lim) {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &ze);
  if (!src) {
    Status s = Internal("{}: {}", name, zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return s;
  }
  zip_t* za = zip_open_from_source(src, ZIP_RDONLY, &ze);
  if (!za) {
    Status s = DataLoss("{}: not a readable zip archive ({})", name, zip_error_strerror(&ze));
    zip_source_free(src);
    zip_error_fini(&ze);
    return s;
  }
  zip_error_fini(&ze);
  std::vector<ZipMember> out;
  Status st = Status::Ok();
  // The archive's members together stay within the limits, against the archive's size.
  const size_t limit = static_cast<size_t>(
      std::min<uint64_t>(lim.max_bytes + 1, lim.max_ratio * bytes.size() + lim.ratio_slack + 1));
  uint64_t total = 0;  // bytes inflated from earlier members
  zip_int64_t n = zip_get_num_entries(za, 0);
  for (zip_int64_t i = 0; i < n && st.ok(); ++i) {
    const char* mname = zip_get_name(za, static_cast<zip_uint64_t>(i), 0);
    if (!mname || !EndsWithNoCase(mname, ".csv")) continue;
    const std::string display = fmt::format("{}:{}", name, mname);
    zip_stat_t zst;
    zip_stat_init(&zst);
    size_t size_hint = 0;
    if (zip_stat_index(za, static_cast<zip_uint64_t>(i), 0, &zst) == 0 &&
        (zst.valid & ZIP_STAT_SIZE)) {
      // The size the archive claims: refused beyond the limits, never allocated beyond 64x the
      // archive (a hint, not a promise).
      if (OverLimits(total + zst.size, bytes.size(), lim)) {
        st = FailedPrecondition(
            "'{}': claims {} bytes uncompressed, more than {} (ratio > {}:1 to the {}-byte "
            "archive, or the cap); refusing it",
            display, zst.size, limit - 1, lim.max_ratio, bytes.size());
        break;
      }
      size_hint = static_cast<size_t>(std::min<uint64_t>(zst.size, 64 * bytes.size()));
    }
    zip_file_t* zf = zip_fopen_index(za, static_cast<zip_uint64_t>(i), 0);
    if (!zf) {
      st = DataLoss("{}:{}: cannot open member ({})", name, mname, zip_strerror(za));
      break;
    }
    ZipMember m;
    m.name = mname;
    const size_t member_limit = limit - static_cast<size_t>(total);
    size_t got = 0;
    if (!Grow(m.text, std::max<size_t>(size_hint, 4096), member_limit)) {
      st = FailedPrecondition("'{}': out of memory decompressing it", display);
    }
    while (st.ok()) {
      if (OverLimits(total + got, bytes.size(), lim)) {
        st = FailedPrecondition("{}", BombMessage(display, total + got, bytes.size(), lim));
        break;
      }
      if (got == m.text.size() && !Grow(m.text, m.text.size() * 2, member_limit)) {
        st = FailedPrecondition("'{}': out of memory decompressing it ({} bytes so far)", display,
                                got);
        break;
      }
      zip_int64_t r =
          zip_fread(zf, m.text.data() + got, std::min<size_t>(m.text.size() - got, 1u << 20));
      if (r < 0) {
        st = DataLoss("{}:{}: {}", name, mname, zip_file_strerror(zf));
        break;
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    zip_fclose(zf);
    total += got;
    m.text.resize(got);
    if (st.ok()) out.push_back(std::move(m));
  }
  zip_discard(za);
  if (!st.ok()) return st;
  return out;
}

StatusOr<std::vector<ParsedFile>> ParseInput(const fs::path& path, const ParseOptions& opt) {
  const std::string name = path.string();
  const std::string file_name = path.filename().string();
  ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  RETURN_IF_ERROR(VerifyChecksum(path, name, file.view()));

  std::vector<ParsedFile> out;
  if (EndsWithNoCase(file_name, ".zip")) {
    ASSIGN_OR_RETURN(std::vector<ZipMember> members, ReadZipCsvMembers(name, file.view()));
    if (members.empty()) return InvalidArgument("{}: zip archive has no .csv member", name);
    NameParts archive_parts = SplitFileName(file_name);
    for (ZipMember& m : members) {
      std::string display = name + ":" + m.name;
      ParseOptions o = opt;
      // A member named without symbol/interval inherits them from the archive's name.
      if (SplitFileName(m.name).symbol.empty() && !archive_parts.symbol.empty()) {
        if (!o.symbol) o.symbol = archive_parts.symbol;
        if (!o.interval) {
          auto iv = Interval::Parse(archive_parts.interval);
          if (!iv.ok()) {
            return InvalidArgument("cannot infer interval from file name '{}': {}; pass --interval",
                                   name, iv.status().message());
          }
          o.interval = *iv;
        }
      }
      ASSIGN_OR_RETURN(ParsedFile pf, ParseCsv(display, m.text, o));
      std::string().swap(m.text);  // free the text as soon as it is parsed
      out.push_back(std::move(pf));
    }
    return out;
  }
  if (EndsWithNoCase(file_name, ".gz")) {
    ASSIGN_OR_RETURN(std::string text, Gunzip(name, file.view()));
    ASSIGN_OR_RETURN(ParsedFile pf, ParseCsv(name, text, opt));
    out.push_back(std::move(pf));
    return out;
  }
  ASSIGN_OR_RETURN(ParsedFile pf, ParseCsv(name, file.view(), opt));
  out.push_back(std::move(pf));
  return out;
}

}  // namespace cryptolake::ingest
