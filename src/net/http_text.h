// The HTTP server core's text part (internal to cl_net; http_server.h is the contract
// users see): parsing what a request says (its target, its headers, Authorization and
// Accept-Encoding) and formatting a response's head. Pure functions, no state, no sockets; the
// public helpers of http_server.h (Request, JsonError, WantsCsv, EventSink, Router, ...) are
// defined beside them in http_text.cc.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "net/http_server.h"

namespace cryptolake::net::internal {

// The reason phrase of a status ("Not Found"); "Unknown" for one not listed.
const char* Reason(int status);

// Splits req.target (origin-form) into req.path (percent-decoded) and req.query (decoded, '+'
// as a space); false if it is not origin-form "/..." or has a malformed %-escape.
bool ParseTarget(Request& req);

// ASCII case-insensitive equality.
bool IEquals(std::string_view a, std::string_view b);

// The first header of that name (case-insensitive), or null.
const std::string* FindHeader(const Request& req, std::string_view name);

// Whether the request carries "Authorization: Bearer <token>" (scheme case-insensitive), compared
// in time that depends only on the token's length.
bool Authorized(const Request& req, const std::string& token);

// Whether the request's Accept-Encoding accepts gzip: an explicit "gzip" or "x-gzip" with q > 0,
// else "*" with q > 0 (RFC 9110 12.5.3); a bad q counts as 0. No Accept-Encoding: false.
bool AcceptsGzip(const Request& req);

// Appends `s` without CR and LF (no header injection through a handler's header values).
void AppendHeaderText(std::string& out, std::string_view s);

// The Content-Type of a static file, by its extension (http_server.h lists them).
const char* ContentTypeFor(const std::filesystem::path& p);

// Appends the status line and headers of `r` (a body of `length` bytes) to `out`: Content-Type,
// Content-Length, r.headers (CR/LF stripped), X-Request-Id, and Connection: close (when not
// `keep_alive`) or keep-alive (when `keep_alive` and `say_keep_alive`: an HTTP/1.0 request kept
// alive, or ServerOptions::keep_alive_header); then the blank line.
void AppendHead(std::string& out, const Response& r, size_t length, bool keep_alive,
                bool say_keep_alive, std::string_view request_id);

// The head of an event stream (and of a HEAD on a stream route).
std::string StreamHead(std::string_view request_id);

}  // namespace cryptolake::net::internal
