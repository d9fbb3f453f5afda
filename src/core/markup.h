// Escaping text for HTML and XML (the notices' HTML part, S3's request bodies).
#pragma once

#include <string>
#include <string_view>

namespace retention {

// `text` with & < > " ' written as entities (&amp; &lt; &gt; &quot; &#39;), valid in HTML and XML
// element text and attribute values alike. Other bytes are copied as they are.
std::string MarkupEscape(std::string_view text);

}  // namespace retention
