#include "web/web_assets.h"

#include <gtest/gtest.h>

namespace retention {
namespace {

TEST(WebAssets, RootIsIndexHtml) {
  const WebAsset* root = FindWebAsset("/");
  const WebAsset* index = FindWebAsset("/index.html");
  ASSERT_NE(root, nullptr);
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(root, index);
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_NE(index->body.find("<!doctype html>"), std::string_view::npos);
  EXPECT_NE(index->body.find("app.js"), std::string_view::npos);
}

TEST(WebAssets, ScriptAndStyleHaveTheirTypes) {
  const WebAsset* js = FindWebAsset("/app.js");
  ASSERT_NE(js, nullptr);
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  EXPECT_FALSE(js->body.empty());
  const WebAsset* css = FindWebAsset("/style.css");
  ASSERT_NE(css, nullptr);
  EXPECT_EQ(css->content_type, "text/css; charset=utf-8");
}

TEST(WebAssets, QueryStringIsIgnored) {
  EXPECT_EQ(FindWebAsset("/app.js?v=2"), FindWebAsset("/app.js"));
  EXPECT_EQ(FindWebAsset("/?x=1"), FindWebAsset("/index.html"));
}

TEST(WebAssets, UnknownPathsAreNull) {
  EXPECT_EQ(FindWebAsset("/nope.js"), nullptr);
  EXPECT_EQ(FindWebAsset("/api/me"), nullptr);
  EXPECT_EQ(FindWebAsset("index.html"), nullptr);
  EXPECT_EQ(FindWebAsset("/../web/index.html"), nullptr);
  EXPECT_EQ(FindWebAsset("/INDEX.HTML"), nullptr);
}

TEST(WebAssets, BodiesAreExactBytes) {
  ASSERT_GE(WebAssetCount(), 3U);
  for (std::size_t i = 0; i < WebAssetCount(); ++i) {
    const WebAsset& a = WebAssetAt(i);
    EXPECT_EQ(a.path.front(), '/');
    EXPECT_EQ(FindWebAsset(a.path), &a);
    EXPECT_EQ(a.body.find('\0'), std::string_view::npos) << a.path;  // text files, no padding
  }
}

}  // namespace
}  // namespace retention
