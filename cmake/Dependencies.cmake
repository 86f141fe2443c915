# Third-party libraries: Debian packages, plus DuckDB from .deps/duckdb (scripts/setup.sh).
find_package(Threads REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(FastFloat REQUIRED)
find_package(ZLIB REQUIRED)
find_package(OpenSSL REQUIRED)
# libzip's CMake package in Debian 12 is broken (it references tools not shipped); use pkg-config.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBZIP REQUIRED IMPORTED_TARGET libzip)
find_package(toml11 REQUIRED)
find_package(CURL REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS system)
find_package(simdjson REQUIRED)

set(DUCKDB_PREFIX "${CMAKE_SOURCE_DIR}/.deps/duckdb" CACHE PATH "Where scripts/setup.sh put DuckDB")
if(NOT EXISTS "${DUCKDB_PREFIX}/lib/libduckdb.so" OR NOT EXISTS "${DUCKDB_PREFIX}/include/duckdb.h")
  message(FATAL_ERROR "DuckDB not found in ${DUCKDB_PREFIX}: run scripts/setup.sh first")
endif()
add_library(duckdb SHARED IMPORTED GLOBAL)
set_target_properties(duckdb PROPERTIES
  IMPORTED_LOCATION "${DUCKDB_PREFIX}/lib/libduckdb.so"
  IMPORTED_NO_SONAME ON
  INTERFACE_INCLUDE_DIRECTORIES "${DUCKDB_PREFIX}/include")
set(CMAKE_BUILD_RPATH "${DUCKDB_PREFIX}/lib")
