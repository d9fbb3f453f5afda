#include "api/http_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace retention {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};
const CurlGlobal kCurlGlobal;

struct CurlResponse {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-cased names
  long new_connections = 0;
};

// A libcurl easy handle; requests made with one client reuse its connection when they can.
class CurlClient {
 public:
  CurlClient() : curl_(curl_easy_init()) {}
  ~CurlClient() { curl_easy_cleanup(curl_); }
  CurlClient(const CurlClient&) = delete;
  CurlClient& operator=(const CurlClient&) = delete;

  CurlResponse Request(const std::string& method, const std::string& url,
                       const std::string& body = "", const std::vector<std::string>& headers = {}) {
    CurlResponse response;
    curl_easy_reset(curl_);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, 10000L);
    if (!body.empty()) {
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    curl_slist* list = nullptr;
    for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &CurlClient::OnBody);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &CurlClient::OnHeader);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &response);
    response.code = curl_easy_perform(curl_);
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &response.status);
    curl_easy_getinfo(curl_, CURLINFO_NUM_CONNECTS, &response.new_connections);
    curl_slist_free_all(list);
    return response;
  }

 private:
  static size_t OnBody(char* data, size_t size, size_t n, void* user) {
    static_cast<CurlResponse*>(user)->body.append(data, size * n);
    return size * n;
  }
  static size_t OnHeader(char* data, size_t size, size_t n, void* user) {
    std::string line(data, size * n);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      value.erase(value.find_last_not_of("\r\n") + 1);
      static_cast<CurlResponse*>(user)->headers[name] = value;
    }
    return size * n;
  }

  CURL* curl_;
};

// A raw loopback TCP client, for what curl will not send. Reads time out after 5 s so that a
// server bug fails the test instead of hanging it.
class RawClient {
 public:
  explicit RawClient(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ =
        ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;  // NOLINT
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads until `marker` has arrived (or the connection ends). Returns what was read.
  std::string ReadUntil(std::string_view marker) {
    std::string out;
    char buffer[4096];
    while (out.find(marker) == std::string::npos) {
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      out.append(buffer, static_cast<size_t>(n));
    }
    return out;
  }

  // Reads until the server closes the connection. Returns what was read and sets `closed` to
  // whether the server closed (false on a read timeout).
  std::string ReadUntilClosed(bool& closed) {
    std::string out;
    char buffer[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n > 0) {
        out.append(buffer, static_cast<size_t>(n));
        continue;
      }
      closed = n == 0 || errno == ECONNRESET;
      return out;
    }
  }

 private:
  int fd_;
  bool connected_ = false;
};

HttpServerOptions TestOptions() {
  HttpServerOptions options;
  options.port = 0;
  options.access_log = false;
  return options;
}

std::unique_ptr<HttpServer> StartOrDie(const HttpServerOptions& options, HttpHandler handler) {
  auto server = HttpServer::Start(options, std::move(handler));
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  if (!server.ok()) throw std::runtime_error("server did not start");
  return std::move(server).value();
}

std::string Url(const HttpServer& server, const std::string& target) {
  return "http://127.0.0.1:" + std::to_string(server.port()) + target;
}

HttpResponse Text(std::string body) {
  HttpResponse response;
  response.content_type = "text/plain";
  response.body = std::move(body);
  return response;
}

TEST(HttpServerTest, GetReturnsHandlersStatusBodyAndHeaders) {
  auto server = StartOrDie(TestOptions(), [](const HttpRequest& request) {
    HttpResponse response;
    response.status = 201;
    response.body = R"({"method":")" + request.method + R"("})";
    response.headers = {{"X-Test", "yes"}, {"Content-Length", "999"}, {"X-Bad", "a\r\nX-Evil: 1"}};
    return response;
  });
  CurlClient client;
  const auto response = client.Request("GET", Url(*server, "/hello"));
  ASSERT_EQ(response.code, CURLE_OK) << curl_easy_strerror(response.code);
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.body, R"({"method":"GET"})");
  EXPECT_EQ(response.headers.at("x-test"), "yes");
  EXPECT_EQ(response.headers.at("server"), "retention");
  EXPECT_EQ(response.headers.at("content-type"), "application/json");
  EXPECT_EQ(response.headers.at("content-length"), std::to_string(response.body.size()));
  EXPECT_EQ(response.headers.count("x-bad"), 0u);
  EXPECT_EQ(response.headers.count("x-evil"), 0u);
}

TEST(HttpServerTest, DecodesPathQueryAndHeadersAndPassesBody) {
  std::mutex mu;
  HttpRequest seen;
  auto server = StartOrDie(TestOptions(), [&](const HttpRequest& request) {
    std::lock_guard<std::mutex> lock(mu);
    seen = request;
    return Text("ok");
  });
  CurlClient client;
  const auto response =
      client.Request("POST", Url(*server, "/api/a%20b/c%2Fd?x=1%202&y=a+b&flag&empty=&x=3"),
                     "payload", {"X-Custom-Header: Value One", "Content-Type: text/plain"});
  ASSERT_EQ(response.code, CURLE_OK) << curl_easy_strerror(response.code);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.headers.at("content-type"), "text/plain");
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/api/a%20b/c%2Fd?x=1%202&y=a+b&flag&empty=&x=3");
  EXPECT_EQ(seen.path, "/api/a b/c/d");
  const std::map<std::string, std::string> expected_query = {
      {"x", "3"}, {"y", "a b"}, {"flag", ""}, {"empty", ""}};
  EXPECT_EQ(seen.query, expected_query);
  EXPECT_EQ(seen.Header("x-custom-header"), "Value One");
  EXPECT_EQ(seen.Header("content-type"), "text/plain");
  EXPECT_EQ(seen.Header("absent"), "");
  EXPECT_EQ(seen.body, "payload");
  EXPECT_THAT(seen.remote, StartsWith("127.0.0.1:"));
}

TEST(HttpServerTest, MalformedPercentEscapeGets400) {
  auto server = StartOrDie(TestOptions(), [](const HttpRequest&) { return Text("ok"); });
  CurlClient client;
  const auto response = client.Request("GET", Url(*server, "/a%zz"));
  ASSERT_EQ(response.code, CURLE_OK);
  EXPECT_EQ(response.status, 400);
  EXPECT_THAT(response.body, HasSubstr(R"("error")"));
}

TEST(HttpServerTest, KeepAliveReusesTheConnection) {
  std::mutex mu;
  std::vector<std::string> remotes;
  auto server = StartOrDie(TestOptions(), [&](const HttpRequest& request) {
    std::lock_guard<std::mutex> lock(mu);
    remotes.push_back(request.remote);
    return Text("ok");
  });
  CurlClient client;
  const auto first = client.Request("GET", Url(*server, "/1"));
  const auto second = client.Request("GET", Url(*server, "/2"));
  ASSERT_EQ(first.code, CURLE_OK);
  ASSERT_EQ(second.code, CURLE_OK);
  EXPECT_EQ(first.new_connections, 1);
  EXPECT_EQ(second.new_connections, 0);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(remotes.size(), 2u);
  EXPECT_EQ(remotes[0], remotes[1]);
}

TEST(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  auto server =
      StartOrDie(TestOptions(), [](const HttpRequest& request) { return Text(request.path); });
  RawClient client(server->port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(
      client.Send("GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\nConnection: "
                  "close\r\n\r\n"));
  bool closed = false;
  const std::string reply = client.ReadUntilClosed(closed);
  EXPECT_TRUE(closed);
  const auto one = reply.find("\r\n\r\n/one");
  const auto two = reply.find("\r\n\r\n/two");
  ASSERT_NE(one, std::string::npos) << reply;
  ASSERT_NE(two, std::string::npos) << reply;
  EXPECT_LT(one, two);
}

TEST(HttpServerTest, Http10GetsAnAnswerAndTheConnectionIsClosed) {
  auto server = StartOrDie(TestOptions(), [](const HttpRequest&) { return Text("old"); });
  RawClient client(server->port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send("GET / HTTP/1.0\r\n\r\n"));
  bool closed = false;
  const std::string reply = client.ReadUntilClosed(closed);
  EXPECT_TRUE(closed);
  EXPECT_THAT(reply, StartsWith("HTTP/1.0 200 OK\r\n"));
  EXPECT_THAT(reply, HasSubstr("\r\n\r\nold"));
}

TEST(HttpServerTest, OversizedBodyGets413WithJsonError) {
  std::atomic<int> calls{0};
  auto server = StartOrDie(TestOptions(), [&](const HttpRequest&) {
    ++calls;
    return Text("ok");
  });
  const std::string body(2 << 20, 'x');
  // Once as curl sends it by default, once without "Expect: 100-continue" (body sent at once).
  for (const std::vector<std::string>& headers :
       {std::vector<std::string>{}, std::vector<std::string>{"Expect:"}}) {
    CurlClient client;
    const auto response = client.Request("POST", Url(*server, "/upload"), body, headers);
    ASSERT_EQ(response.code, CURLE_OK) << curl_easy_strerror(response.code);
    EXPECT_EQ(response.status, 413);
    EXPECT_EQ(response.body, R"({"error":"request body exceeds 1048576 bytes"})");
    EXPECT_EQ(response.headers.at("content-type"), "application/json");
  }
  EXPECT_EQ(calls.load(), 0);
  CurlClient client;
  EXPECT_EQ(client.Request("POST", Url(*server, "/small"), "tiny").status, 200);
}

TEST(HttpServerTest, ChunkedBodyOverTheLimitGets413) {
  HttpServerOptions options = TestOptions();
  options.body_limit = 10;
  auto server = StartOrDie(options, [](const HttpRequest&) { return Text("ok"); });
  RawClient client(server->port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(
      client.Send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n"));
  bool closed = false;
  const std::string reply = client.ReadUntilClosed(closed);
  EXPECT_TRUE(closed);
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 413 "));
}

TEST(HttpServerTest, MalformedRequestGets400AndTheConnectionIsClosed) {
  auto server = StartOrDie(TestOptions(), [](const HttpRequest&) { return Text("ok"); });
  RawClient client(server->port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send("THIS IS NOT HTTP\r\n\r\n"));
  bool closed = false;
  const std::string reply = client.ReadUntilClosed(closed);
  EXPECT_TRUE(closed);
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_THAT(reply, HasSubstr(R"({"error":"malformed request"})"));
}

TEST(HttpServerTest, SlowHeaderClientIsDisconnectedWhileOthersAreServed) {
  HttpServerOptions options = TestOptions();
  options.header_timeout = std::chrono::milliseconds(300);
  auto server = StartOrDie(options, [](const HttpRequest&) { return Text("ok"); });
  RawClient slow(server->port());
  ASSERT_TRUE(slow.connected());
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(slow.Send("GET / HTTP/1.1\r\nHost: x\r\n"));

  CurlClient client;
  const auto response = client.Request("GET", Url(*server, "/"));
  EXPECT_EQ(response.status, 200);

  bool closed = false;
  const std::string reply = slow.ReadUntilClosed(closed);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(closed);
  EXPECT_EQ(reply, "");
  EXPECT_GE(elapsed, std::chrono::milliseconds(250));
  EXPECT_LT(elapsed, std::chrono::milliseconds(3000));
}

TEST(HttpServerTest, IdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
  HttpServerOptions options = TestOptions();
  options.idle_timeout = std::chrono::milliseconds(300);
  auto server = StartOrDie(options, [](const HttpRequest&) { return Text("ok"); });
  RawClient client(server->port());
  ASSERT_TRUE(client.connected());
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(client.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  bool closed = false;
  const std::string reply = client.ReadUntilClosed(closed);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(closed);
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_GE(elapsed, std::chrono::milliseconds(250));
  EXPECT_LT(elapsed, std::chrono::milliseconds(3000));
}

TEST(HttpServerTest, ThrowingHandlerYields500AndTheServerKeepsServing) {
  auto server = StartOrDie(TestOptions(), [](const HttpRequest& request) -> HttpResponse {
    if (request.path == "/throw") throw std::runtime_error("boom");
    if (request.path == "/throw-int") throw 42;
    return Text("fine");
  });
  CurlClient client;
  for (const char* target : {"/throw", "/throw-int"}) {
    ::testing::internal::CaptureStderr();
    const auto failed = client.Request("GET", Url(*server, target));
    const std::string log = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(failed.status, 500);
    EXPECT_EQ(failed.body, R"({"error":"internal error"})");
    EXPECT_THAT(log, HasSubstr(target));
  }
  const auto ok = client.Request("GET", Url(*server, "/"));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "fine");
  EXPECT_EQ(ok.new_connections, 0);  // The 500s did not close the connection.
}

TEST(HttpServerTest, SlowHandlerDoesNotBlockOtherConnections) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> entered;
  auto server = StartOrDie(TestOptions(), [&](const HttpRequest& request) {
    if (request.path == "/slow") {
      entered.set_value();
      released.wait();
    }
    return Text(request.path);
  });
  auto slow = std::async(std::launch::async, [&] {
    CurlClient client;
    return client.Request("GET", Url(*server, "/slow"));
  });
  entered.get_future().wait();
  CurlClient client;
  const auto fast = client.Request("GET", Url(*server, "/fast"));
  release.set_value();
  EXPECT_EQ(fast.status, 200);
  EXPECT_EQ(fast.body, "/fast");
  EXPECT_EQ(slow.get().body, "/slow");
}

TEST(HttpServerTest, StopLetsAnInFlightRequestComplete) {
  std::promise<void> entered;
  auto server = StartOrDie(TestOptions(), [&](const HttpRequest&) {
    entered.set_value();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return Text("done");
  });
  const std::string url = Url(*server, "/slow");
  auto in_flight = std::async(std::launch::async, [&] {
    CurlClient client;
    return client.Request("GET", url);
  });
  entered.get_future().wait();
  server->Stop();
  const auto response = in_flight.get();
  ASSERT_EQ(response.code, CURLE_OK) << curl_easy_strerror(response.code);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "done");
  EXPECT_EQ(response.headers.at("connection"), "close");

  CurlClient after;
  EXPECT_EQ(after.Request("GET", url).code, CURLE_COULDNT_CONNECT);
  server->Stop();  // Idempotent.
}

TEST(HttpServerTest, StopClosesIdleKeepAliveConnectionsPromptly) {
  auto server = StartOrDie(TestOptions(), [](const HttpRequest&) { return Text("ok"); });
  RawClient client(server->port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_THAT(client.ReadUntil("\r\n\r\nok"), StartsWith("HTTP/1.1 200 OK\r\n"));
  const auto start = std::chrono::steady_clock::now();
  server->Stop();  // The connection waits for a next request (idle timeout 60 s).
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2000));
  bool closed = false;
  EXPECT_EQ(client.ReadUntilClosed(closed), "");
  EXPECT_TRUE(closed);
}

TEST(HttpServerTest, StopGivesUpOnAStalledRequestAfterStopTimeout) {
  HttpServerOptions options = TestOptions();
  options.stop_timeout = std::chrono::milliseconds(200);
  auto server = StartOrDie(options, [](const HttpRequest&) { return Text("ok"); });
  RawClient client(server->port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n"));
  // The interim answer proves the server has read the head and now waits for the body.
  EXPECT_THAT(client.ReadUntil("\r\n\r\n"), StartsWith("HTTP/1.1 100 Continue\r\n"));
  ASSERT_TRUE(client.Send("12"));
  const auto start = std::chrono::steady_clock::now();
  server->Stop();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, std::chrono::milliseconds(150));
  EXPECT_LT(elapsed, std::chrono::milliseconds(2000));
  server.reset();
  bool closed = false;
  EXPECT_EQ(client.ReadUntilClosed(closed), "");
  EXPECT_TRUE(closed);
}

TEST(HttpServerTest, AccessLogNamesTheUserAndStripsTheHeader) {
  HttpServerOptions options = TestOptions();
  options.access_log = true;
  auto server = StartOrDie(options, [](const HttpRequest&) {
    HttpResponse response = Text("hello");
    response.status = 202;
    response.headers = {{"X-Retention-User", "alice"}};
    return response;
  });
  ::testing::internal::CaptureStderr();
  CurlClient client;
  const auto response = client.Request("GET", Url(*server, "/who%20am?i=1"));
  server->Stop();  // Joins the workers, so the line has been written.
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(response.status, 202);
  EXPECT_EQ(response.headers.count("x-retention-user"), 0u);
  EXPECT_THAT(log, HasSubstr(R"("user":"alice")"));
  EXPECT_THAT(log, HasSubstr(R"("path":"/who am")"));
  EXPECT_THAT(log, HasSubstr(R"("status":202)"));
  EXPECT_THAT(log, HasSubstr(R"("bytes":5)"));
  EXPECT_THAT(log, HasSubstr(R"("method":"GET")"));
  EXPECT_THAT(log, HasSubstr(R"("remote":"127.0.0.1:)"));
}

TEST(HttpServerTest, BindingAPortInUseReturnsUnavailable) {
  auto first = StartOrDie(TestOptions(), [](const HttpRequest&) { return Text("ok"); });
  HttpServerOptions options = TestOptions();
  options.port = first->port();
  auto second = HttpServer::Start(options, [](const HttpRequest&) { return Text("ok"); });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr("127.0.0.1:" + std::to_string(first->port())));
}

TEST(HttpServerTest, InvalidOptionsAreRejected) {
  HttpServerOptions options = TestOptions();
  options.threads = 0;
  auto server = HttpServer::Start(options, [](const HttpRequest&) { return Text("ok"); });
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument);
}

TEST(HttpServerTest, RequestShutdownWakesTheWaiter) {
  auto waiter = std::async(std::launch::async, [] { WaitForShutdownSignal(); });
  RequestShutdown();
  EXPECT_EQ(waiter.wait_for(std::chrono::seconds(5)), std::future_status::ready);
}

TEST(HttpJsonErrorTest, WrapsTheMessage) {
  const HttpResponse response = JsonError(404, "Challenge \"7\" does not exist");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(response.body, R"({"error":"Challenge \"7\" does not exist"})");
}

}  // namespace
}  // namespace retention
