// The HTML report's stylesheet and chart script (forecast/report.h), kept as files in web/ and
// embedded into the library at build time (cmake/embed.cmake, rule in src/forecast/CMakeLists.txt),
// so that every report.html / <SYMBOL>.html stays one self-contained file:
//   kReportCss     web/report.css, inside <style>
//   kReportScript  web/report.js, inside <script> after `const DATA = {...};` (the chart: drawn
//                  on a <canvas> from DATA, days since 1970-01-01 and values; no external code)
// Each is the file's exact text (NUL-terminated).
#pragma once

namespace cryptolake::forecast {

extern const char* const kReportCss;
extern const char* const kReportScript;

}  // namespace cryptolake::forecast
