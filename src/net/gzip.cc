#include "net/gzip.h"

#include <zlib.h>

namespace cryptolake::net {

namespace {

constexpr size_t kWindow = 32 * 1024;

// Deflates all of `in` into `out` (appended) with `flush` (Z_SYNC_FLUSH or Z_FINISH).
bool DeflateAll(z_stream& z, std::string_view in, int flush, std::string& out) {
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  const size_t start = out.size();
  out.resize(start + deflateBound(&z, static_cast<uLong>(in.size())) + 64);
  size_t used = start;
  for (;;) {
    if (used == out.size()) out.resize(out.size() * 2);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    z.avail_out = static_cast<uInt>(out.size() - used);
    const int rc = deflate(&z, flush);
    used = out.size() - z.avail_out;
    if (rc == Z_STREAM_ERROR) return false;
    if (flush == Z_FINISH ? rc == Z_STREAM_END : (z.avail_in == 0 && z.avail_out > 0)) break;
  }
  out.resize(used);
  return true;
}

void PutLe32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

}  // namespace

std::optional<std::string> Gzip(std::string_view in, int level) {
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return std::nullopt;
  }
  std::string out;
  const bool ok = DeflateAll(z, in, Z_FINISH, out);
  deflateEnd(&z);
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::string> Gunzip(std::string_view gz) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return std::nullopt;
  std::string out;
  char buf[1 << 16];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  }
  const bool whole = rc == Z_STREAM_END && z.avail_in == 0;
  inflateEnd(&z);
  if (!whole) return std::nullopt;
  return out;
}

std::optional<GzipPrefix> GzipPrefix::Of(std::string_view prefix, int level) {
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return std::nullopt;
  }
  GzipPrefix p;
  const bool ok = DeflateAll(z, prefix, Z_SYNC_FLUSH, p.deflated_);
  deflateEnd(&z);
  if (!ok) return std::nullopt;
  p.window_ = std::string(prefix.substr(prefix.size() > kWindow ? prefix.size() - kWindow : 0));
  p.crc_ = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(prefix.data()), static_cast<uInt>(prefix.size())));
  p.size_ = prefix.size();
  p.level_ = level;
  return p;
}

std::optional<std::string> GzipPrefix::Finish(std::string_view tail) const {
  z_stream z{};
  if (deflateInit2(&z, level_, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return std::nullopt;
  }
  if (!window_.empty() && deflateSetDictionary(&z, reinterpret_cast<const Bytef*>(window_.data()),
                                               static_cast<uInt>(window_.size())) != Z_OK) {
    deflateEnd(&z);
    return std::nullopt;
  }
  // The header: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
  std::string out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10);
  out.reserve(10 + deflated_.size() + tail.size() / 2 + 64);
  out += deflated_;
  const bool ok = DeflateAll(z, tail, Z_FINISH, out);
  deflateEnd(&z);
  if (!ok) return std::nullopt;
  const uLong tail_crc =
      crc32(0, reinterpret_cast<const Bytef*>(tail.data()), static_cast<uInt>(tail.size()));
  PutLe32(out,
          static_cast<uint32_t>(crc32_combine(crc_, tail_crc, static_cast<z_off_t>(tail.size()))));
  PutLe32(out, static_cast<uint32_t>((size_ + tail.size()) & 0xffffffffu));
  return out;
}

}  // namespace cryptolake::net
