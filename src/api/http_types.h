// Plain HTTP request and response values exchanged between the HTTP server (http_server.h) and
// the application's routes. No Boost here: routes and their tests include only this header.
//
// Thread-compatible value types: one request is handled by one thread at a time.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace retention {

// One parsed HTTP request, as the server hands it to the handler.
struct HttpRequest {
  std::string method;                          // "GET", "POST", ... as sent (case preserved)
  std::string target;                          // raw request target, "/api/x?y=1"
  std::string path;                            // percent-decoded path without the query
  std::map<std::string, std::string> query;    // decoded query parameters ('+' means a space);
                                               // for a repeated name the last value wins
  std::map<std::string, std::string> headers;  // names lower-cased; repeated fields are joined
                                               // with ", "
  std::string body;
  std::string remote;  // peer address, "127.0.0.1:54321" or "[::1]:54321"

  // Returns the value of header `lower_name` (which must be lower case), or "" when absent.
  std::string Header(std::string_view lower_name) const;
};

// The handler's answer. The server adds the Server, Content-Length and
// Connection headers itself; handlers must not set Content-Length, Transfer-Encoding or
// Connection in `headers` (such entries, and any with CR or LF, are dropped).
struct HttpResponse {
  int status = 200;  // 100..999; anything else is sent as 500
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, sent in order
};

// Handles one request. Called on one of the server's worker threads, possibly concurrently
// with itself for other requests, so it must be thread-safe. It may block (for example on a
// database). An exception escaping it becomes a 500 {"error": "internal error"} and is logged.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// The response header a handler sets to name the authenticated user in the access log. The
// server removes it from the response before sending.
inline constexpr std::string_view kAccessLogUserHeader = "X-Retention-User";

// Returns a response with `status` and the JSON body {"error": message}. Invalid UTF-8 in
// `message` is replaced, never thrown on.
HttpResponse JsonError(int status, std::string_view message);

}  // namespace retention
