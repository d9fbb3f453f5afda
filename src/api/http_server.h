// An HTTP/1.1 server on loopback or any interface, independent of business logic: it parses
// requests, calls one HttpHandler for each, and writes the answers. Built on Boost.Beast, which
// stays inside http_server.cc.
//
// Behaviour: keep-alive for HTTP/1.1 (close for HTTP/1.0 or "Connection: close"), a header
// timeout (slowloris) and an idle timeout per connection, a body limit answered with 413, 400
// and close for a malformed request, 500 for a handler that throws, Expect: 100-continue, and
// an optional access log (one JSON line per request on stderr).
//
// Threads: `threads` worker threads run both the I/O and the handler; each connection is
// served by one thread at a time, so a handler that blocks holds one worker and delays only
// its own connection, until all workers are blocked. HttpServer's methods are thread-safe, but
// Stop() (and the destructor) must not be called from inside the handler.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "api/http_types.h"
#include "core/status.h"

namespace retention {

struct HttpServerOptions {
  // The address to listen on: an IPv4 or IPv6 literal, or a name that resolves to one.
  std::string host = "127.0.0.1";
  // The TCP port; 0 picks a free one (read it back with HttpServer::port()).
  int port = 8000;
  // Worker threads running the I/O and the handler (handlers may block on a database). >= 1.
  int threads = 2;
  // Largest accepted request body in bytes; a larger one gets 413 {"error": ...} and the
  // connection is closed.
  std::size_t body_limit = 1 << 20;
  // A client that has not sent a full request head this long after connecting (or after its
  // first byte on a reused connection) is disconnected (slowloris).
  std::chrono::milliseconds header_timeout{10000};
  // A keep-alive connection with no request for this long is closed. Also bounds reading one
  // request body and writing one response.
  std::chrono::milliseconds idle_timeout{60000};
  // How long Stop() waits for in-flight requests before abandoning the remaining connections.
  std::chrono::milliseconds stop_timeout{5000};
  // One JSON line per request on stderr: ts, remote, method, path, status, bytes (of the
  // response body), ms, user (from the response header X-Retention-User if the handler set one;
  // it is stripped from the response sent).
  bool access_log = true;
};

class HttpServer {
 public:
  // Binds host:port and starts serving on background threads. Returns Unavailable naming
  // host:port when the address cannot be resolved or bound (for example, the port is in use),
  // and InvalidArgument for bad options (threads < 1, port outside 0..65535).
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   HttpHandler handler);

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  // Calls Stop().
  ~HttpServer();

  // The bound port (useful with options.port == 0).
  int port() const;

  // Stops accepting, closes idle connections, lets in-flight requests finish and answers them
  // with "Connection: close", then joins the threads. Waits at most options.stop_timeout for
  // the connections; after that, pending I/O is abandoned, though a handler already running is
  // still waited for. Idempotent; concurrent callers all return after the server has stopped.
  void Stop();

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Blocks until SIGTERM or SIGINT arrives, or RequestShutdown() is called from another thread
// (also before this call: a request is remembered until a wait consumes it), then returns. The
// signal handlers are installed for the duration of the wait and the previous ones restored
// afterwards, so a second Ctrl-C during shutdown acts as it would without this function.
void WaitForShutdownSignal();

// Makes WaitForShutdownSignal() return. Thread-safe.
void RequestShutdown();

}  // namespace retention
