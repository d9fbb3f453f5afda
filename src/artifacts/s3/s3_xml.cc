#include "artifacts/s3/s3_xml.h"

#include <expat.h>

#include <charconv>
#include <memory>

namespace retention::s3_internal {
namespace {

// A parsed element: its name, its own text and its child elements. Enough for S3's answers,
// which nest a few levels and carry their data in leaf elements.
struct Node {
  std::string name;
  std::string text;
  std::vector<std::unique_ptr<Node>> children;

  // The text of the first child named `child`, or "".
  std::string ChildText(std::string_view child) const {
    for (const auto& c : children) {
      if (c->name == child) return c->text;
    }
    return "";
  }
};

struct TreeBuilder {
  Node root;  // a synthetic parent of the document element
  std::vector<Node*> open{&root};
};

void OnStart(void* user, const XML_Char* name, const XML_Char** /*attributes*/) {
  auto* builder = static_cast<TreeBuilder*>(user);
  auto node = std::make_unique<Node>();
  node->name = name;
  Node* raw = node.get();
  builder->open.back()->children.push_back(std::move(node));
  builder->open.push_back(raw);
}

void OnEnd(void* user, const XML_Char* /*name*/) {
  auto* builder = static_cast<TreeBuilder*>(user);
  if (builder->open.size() > 1) builder->open.pop_back();
}

void OnText(void* user, const XML_Char* text, int length) {
  auto* builder = static_cast<TreeBuilder*>(user);
  builder->open.back()->text.append(text, static_cast<std::size_t>(length));
}

// The document element of `body`, or Internal naming what `expected` was.
Result<std::unique_ptr<Node>> Parse(std::string_view body, const char* expected) {
  TreeBuilder builder;
  XML_Parser parser = XML_ParserCreate("UTF-8");
  if (parser == nullptr) return Internal("cannot create an XML parser");
  XML_SetUserData(parser, &builder);
  XML_SetElementHandler(parser, OnStart, OnEnd);
  XML_SetCharacterDataHandler(parser, OnText);
  const bool ok = XML_Parse(parser, body.data(), static_cast<int>(body.size()), 1) == XML_STATUS_OK;
  std::string error = ok ? "" : XML_ErrorString(XML_GetErrorCode(parser));
  XML_ParserFree(parser);
  if (!ok) return Internal(std::string("S3 answered malformed XML (") + error + ")");
  if (builder.root.children.empty() || builder.root.children[0]->name != expected) {
    return Internal(std::string("S3 answered XML without <") + expected + ">");
  }
  return std::move(builder.root.children[0]);
}

}  // namespace

S3Error ParseS3Error(std::string_view body) {
  if (body.empty()) return {};
  auto error = Parse(body, "Error");
  if (!error.ok()) return {};
  return {(*error)->ChildText("Code"), (*error)->ChildText("Message")};
}

Result<std::vector<DeleteOutcome>> ParseDeleteResult(std::string_view body) {
  ASSIGN_OR_RETURN(auto result, Parse(body, "DeleteResult"));
  std::vector<DeleteOutcome> out;
  for (const auto& child : result->children) {
    if (child->name == "Deleted") {
      out.push_back({child->ChildText("Key"), true, "", ""});
    } else if (child->name == "Error") {
      out.push_back(
          {child->ChildText("Key"), false, child->ChildText("Code"), child->ChildText("Message")});
    }
  }
  return out;
}

Result<ListPage> ParseListPage(std::string_view body) {
  ASSIGN_OR_RETURN(auto result, Parse(body, "ListBucketResult"));
  ListPage page;
  for (const auto& child : result->children) {
    if (child->name != "Contents") continue;
    ListedObject object{child->ChildText("Key"), 0};
    const std::string size = child->ChildText("Size");
    const auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), object.size);
    if (ec != std::errc() || end != size.data() + size.size() || object.size < 0) {
      return Internal("S3 listed '" + object.key + "' with a bad Size '" + size + "'");
    }
    page.objects.push_back(std::move(object));
  }
  page.truncated = result->ChildText("IsTruncated") == "true";
  page.next_token = result->ChildText("NextContinuationToken");
  if (page.truncated && page.next_token.empty()) {
    return Internal("S3 listed a truncated page without NextContinuationToken");
  }
  return page;
}

}  // namespace retention::s3_internal
