// The browser UI's files (web/), embedded into the binary at build time by embed_web.cmake.
//
// Served by `retention serve` at "/" and "/<file>"; the body is the file's exact bytes. Immutable,
// static storage: safe to use from any thread for the life of the process.
#pragma once

#include <cstddef>
#include <string_view>

namespace retention {

struct WebAsset {
  std::string_view path;          // "/index.html", "/app.js", ...
  std::string_view content_type;  // for the Content-Type header, e.g. "text/html; charset=utf-8"
  std::string_view body;
};

// Returns the asset served at `path` ("/" is "/index.html"; a query string is ignored), or nullptr
// when there is none.
const WebAsset* FindWebAsset(std::string_view path);

// All embedded assets, in the order listed in src/web/CMakeLists.txt.
std::size_t WebAssetCount();
const WebAsset& WebAssetAt(std::size_t index);

namespace internal {
// Filled in by the generated source.
struct EmbeddedFile {
  const char* path;
  const char* content_type;
  const unsigned char* data;
  std::size_t size;
};
extern const EmbeddedFile kWebAssetTable[];
extern const std::size_t kWebAssetTableSize;
}  // namespace internal

}  // namespace retention
