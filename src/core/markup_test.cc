#include "core/markup.h"

#include <gtest/gtest.h>

namespace retention {
namespace {

TEST(MarkupEscapeTest, EscapesTheFiveMarkupCharactersAndNothingElse) {
  EXPECT_EQ(MarkupEscape("a<&>'\"b"), "a&lt;&amp;&gt;&#39;&quot;b");
  EXPECT_EQ(MarkupEscape("plain/key é.txt"), "plain/key é.txt");
  EXPECT_EQ(MarkupEscape(""), "");
  EXPECT_EQ(MarkupEscape("&amp;"), "&amp;amp;");  // escaped once more, never taken as an entity
}

}  // namespace
}  // namespace retention
