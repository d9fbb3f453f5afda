#include "web/web_assets.h"

#include <vector>

namespace retention {
namespace {

// Built once from the generated table (thread-safe static initialisation).
const std::vector<WebAsset>& Assets() {
  static const std::vector<WebAsset> assets = [] {
    std::vector<WebAsset> out;
    out.reserve(internal::kWebAssetTableSize);
    for (std::size_t i = 0; i < internal::kWebAssetTableSize; ++i) {
      const internal::EmbeddedFile& f = internal::kWebAssetTable[i];
      out.push_back(
          WebAsset{f.path, f.content_type,
                   std::string_view(reinterpret_cast<const char*>(f.data), f.size)});  // NOLINT
    }
    return out;
  }();
  return assets;
}

}  // namespace

const WebAsset* FindWebAsset(std::string_view path) {
  if (auto q = path.find_first_of("?#"); q != std::string_view::npos) {
    path = path.substr(0, q);
  }
  if (path.empty() || path == "/") {
    path = "/index.html";
  }
  for (const WebAsset& asset : Assets()) {
    if (asset.path == path) {
      return &asset;
    }
  }
  return nullptr;
}

std::size_t WebAssetCount() { return Assets().size(); }

const WebAsset& WebAssetAt(std::size_t index) { return Assets().at(index); }

}  // namespace retention
